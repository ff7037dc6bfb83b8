/* Error kinds: each maps to one exit status and one message (errors.c).
 *
 * Where Austin 3.7 has the case, the status and the words are Austin's
 * (its src/error.h numbers, its messages); the cases Austin lacks have
 * statuses of their own outside Austin's (0-39, 64 and 255), taken from
 * sysexits.h. The EXIT STATUS sections of the man pages and the README
 * give the same table. */
#ifndef ERRORS_H
#define ERRORS_H

enum error_kind {
  E_OK = 0,
  /* Austin 3.7's cases */
  E_NO_VERSION,        /* 3: the Python version cannot be determined */
  E_NOT_PYTHON,        /* 32: the process is not running a CPython we can find */
  E_LAUNCH,            /* 33: the command cannot be launched or ends too quickly */
  E_ATTACH,            /* 36: no process to attach to (the PID is not valid) */
  E_PERMISSION,        /* 37: ptrace / process_vm_readv refused */
  E_NO_PROCESS,        /* 38: the process went away while being read */
  E_NO_CHILDREN,       /* 39: -C: neither the target nor its children are Python */
  E_BAD_OPTION,        /* 64: a malformed option (argp's status, as Austin's) */
  E_NO_TARGET,         /* 255: options but no command nor PID */
  E_OUTPUT_CREATE,     /* 255: the output file (-o) cannot be created */
  /* ours */
  E_MALFORMED_INPUT,   /* 65: an input file that is not what it should be */
  E_INPUT,             /* 66: an input file that cannot be opened or read */
  E_UNSUPPORTED,       /* 69: a CPython version we do not know */
  E_INTERNAL,          /* 70: a bug or an unexpected system failure */
  E_OUTPUT,            /* 74: the output cannot be written */
  E_KIND_COUNT
};

/* Exit status of the program for an error kind. */
int error_status(enum error_kind kind);

/* A short description of the error kind: Austin's words where it has
 * the case. */
const char *error_title(enum error_kind kind);

/* Print "<prog>: <message>" on stderr, once, and return the exit status.
 * For Austin's cases the message is preceded by Austin's words
 * ("<prog>: <title>: <message>") unless it already holds them. */
int error_report(enum error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The program name used in messages (set once by main). */
extern const char *error_progname;

#endif
