/* Error kinds: each maps to one exit status and one message (errors.c).
 * The same table feeds the EXIT STATUS section of the man pages. */
#ifndef ERRORS_H
#define ERRORS_H

enum error_kind {
  E_OK = 0,
  E_INTERNAL,          /* a bug or an unexpected system failure */
  E_NO_PROCESS,        /* no such process */
  E_NOT_PYTHON,        /* the process is not running a CPython we can find */
  E_PERMISSION,        /* ptrace / process_vm_readv refused */
  E_UNSUPPORTED,       /* a CPython version we do not know */
  E_COMMAND_NOT_FOUND, /* the command to launch does not exist */
  E_BAD_OPTION,        /* a malformed option value */
  E_OUTPUT,            /* the output cannot be written */
  E_MALFORMED_INPUT,   /* an input file that is not what it should be */
  E_INPUT,             /* an input file that cannot be opened or read */
  E_KIND_COUNT
};

/* Exit status of the program for an error kind. */
int error_status(enum error_kind kind);

/* A short description of the error kind, for messages and the man pages. */
const char *error_title(enum error_kind kind);

/* Print "<prog>: <message>" on stderr, once, and return the exit status. */
int error_report(enum error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The program name used in messages (set once by main). */
extern const char *error_progname;

#endif
