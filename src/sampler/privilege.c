/* The privilege policy (privilege.h): detection, reduction, the check of a
 * target and the attach that may use CAP_SYS_PTRACE.
 *
 * Why the capability is kept at all: on a machine with Yama's ptrace_scope
 * at 1, a user may read only its own descendants, at 2 nobody without
 * CAP_SYS_PTRACE; installing the profiler with the capability is how an
 * administrator lets users attach to their own running programs. Why it is
 * kept out of the effective set: an attach made with it holds (an open
 * /proc/PID/mem, a ptrace relation), while a check of ours is only true
 * when made; everything not raised explicitly is checked by the kernel
 * against the real user at the moment it happens, so a target that runs a
 * setuid program later is refused by the kernel, not by us.
 *
 * Capabilities are read and set with the raw system calls: libcap would
 * be a dependency for two calls. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privilege.h"
#include "proc_stat.h"

static bool active;     /* started with privilege, now reduced */
static bool ptrace_cap; /* CAP_SYS_PTRACE kept in the permitted set */
static uid_t real_uid;
static gid_t real_gid;

/* ---- capabilities --------------------------------------------------------- */

struct caps {
  struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
};

static int caps_get(struct caps *c) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  return (int)syscall(SYS_capget, &h, c->d);
}

static int caps_set(const struct caps *c) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  return (int)syscall(SYS_capset, &h, c->d);
}

static bool caps_has(const struct caps *c, int cap, bool effective) {
  const struct __user_cap_data_struct *d = &c->d[CAP_TO_INDEX(cap)];
  return ((effective ? d->effective : d->permitted) & CAP_TO_MASK(cap)) != 0;
}

/* Nothing effective or inheritable, and nothing permitted but
 * CAP_SYS_PTRACE when `ptrace`. */
static bool caps_reduced(const struct caps *c, bool ptrace) {
  const int k = CAP_TO_INDEX(CAP_SYS_PTRACE);
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
    uint32_t allowed = ptrace && i == k ? CAP_TO_MASK(CAP_SYS_PTRACE) : 0;
    if (c->d[i].effective != 0 || c->d[i].inheritable != 0 || c->d[i].permitted != allowed)
      return false;
  }
  return true;
}

/* Exactly `permitted` (no capability, or CAP_SYS_PTRACE), effective only
 * when `effective`; inheritable always empty. */
static int caps_only_ptrace(bool permitted, bool effective) {
  struct caps c;
  memset(&c, 0, sizeof c);
  const int i = CAP_TO_INDEX(CAP_SYS_PTRACE);
  if (permitted) c.d[i].permitted = CAP_TO_MASK(CAP_SYS_PTRACE);
  if (permitted && effective) c.d[i].effective = CAP_TO_MASK(CAP_SYS_PTRACE);
  return caps_set(&c);
}

/* ---- detection and reduction ---------------------------------------------- */

/* Was this exec one that raised our rights? AT_SECURE is the kernel's
 * answer (setuid, setgid, or file capabilities gained); differing ids
 * cover a start that AT_SECURE would not name. Capabilities the caller
 * already held (ambient ones) are the caller's own rights, not ours to
 * police; and a caller whose real uid is root may trace anything anyway. */
static bool started_privileged(uid_t r, uid_t e, uid_t s, gid_t gr, gid_t ge, gid_t gs) {
  if (r == 0) return false;
  return getauxval(AT_SECURE) != 0 || r != e || r != s || gr != ge || gr != gs;
}

/* Become the real user: every uid and gid, keeping CAP_SYS_PTRACE in the
 * permitted set when keep_ptrace and we had it. 0, or -1 with why set. */
static int reduce(bool keep_ptrace, char *why, size_t whylen) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  struct caps c;
  if (getresuid(&r, &e, &s) != 0 || getresgid(&gr, &ge, &gs) != 0 || caps_get(&c) != 0) {
    snprintf(why, whylen, "cannot read our credentials: %s", strerror(errno));
    return -1;
  }
  bool keep = keep_ptrace && caps_has(&c, CAP_SYS_PTRACE, false);
  /* Leaving uid 0 empties the permitted set unless asked to keep it. The
   * supplementary groups are left as they are: an exec never changes
   * them, so they are the caller's already. */
  if (prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0) != 0 || setresgid(gr, gr, gr) != 0 ||
      setresuid(r, r, r) != 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0 ||
      caps_only_ptrace(keep, false) != 0) {
    snprintf(why, whylen, "cannot give up the privilege it was started with: %s",
             strerror(errno));
    return -1;
  }
  /* No ambient capability may reach what we launch (EINVAL: a kernel
   * older than 4.3 has none). */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    snprintf(why, whylen, "cannot clear the ambient capabilities: %s", strerror(errno));
    return -1;
  }
  /* Our memory holds what we read of targets, and the user must not be
   * able to drive us with a debugger while we hold the capability; the
   * kernel made us undumpable at the exec already: make sure. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Check rather than trust: the file-system ids follow the effective
   * ones, and setfsuid with an invalid id only reports the current one. */
  if (getresuid(&r, &e, &s) != 0 || getresgid(&gr, &ge, &gs) != 0 || caps_get(&c) != 0 ||
      e != r || s != r || ge != gr || gs != gr || (uid_t)setfsuid((uid_t)-1) != r ||
      (gid_t)setfsgid((gid_t)-1) != gr || !caps_reduced(&c, keep)) {
    snprintf(why, whylen, "the privilege it was started with could not be given up");
    return -1;
  }
  real_uid = r;
  real_gid = gr;
  ptrace_cap = keep;
  return 0;
}

static enum error_kind reduce_if_privileged(bool keep_ptrace) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  if (getresuid(&r, &e, &s) != 0 || getresgid(&gr, &ge, &gs) != 0) {
    error_report(E_INTERNAL, "cannot read our credentials: %s", strerror(errno));
    return E_INTERNAL;
  }
  if (!started_privileged(r, e, s, gr, ge, gs)) return E_OK;
  char why[256];
  if (reduce(keep_ptrace, why, sizeof why) != 0) {
    error_report(E_INTERNAL, "%s", why);
    return E_INTERNAL;
  }
  active = true;
  return E_OK;
}

enum error_kind privilege_init(void) { return reduce_if_privileged(true); }

enum error_kind privilege_drop_all(void) { return reduce_if_privileged(false); }

bool privilege_active(void) { return active; }

/* ---- the target ------------------------------------------------------------ */

int privilege_parse_ids(const char *status, const char *key, unsigned long ids[4]) {
  size_t klen = strlen(key);
  const char *found = NULL;
  for (const char *line = status; line != NULL && *line;) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      if (found != NULL) return -1; /* twice */
      found = line + klen + 1;
    }
    line = strchr(line, '\n');
    if (line != NULL) line++;
  }
  if (found == NULL) return -1;
  const char *p = found;
  for (int i = 0; i < 4; i++) {
    if (*p != '\t' && *p != ' ') return -1;
    while (*p == '\t' || *p == ' ') p++;
    unsigned long v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
      if (digits == 10) return -1; /* ids are 32-bit */
      v = v * 10 + (unsigned long)(*p - '0');
    }
    if (digits == 0 || v > 0xffffffffUL) return -1;
    ids[i] = v;
  }
  while (*p == '\t' || *p == ' ') p++;
  return *p == '\n' || *p == '\0' ? 0 : -1;
}

/* Are the real, effective and saved ids (uid or gid, as `kind` says) of
 * process pid all `want`? When not, why says which. */
static bool ids_are(pid_t pid, const char *kind, const unsigned long ids[4], unsigned long want,
                    char *why, size_t whylen) {
  for (int i = 0; i < 3; i++)
    if (ids[i] != want) {
      snprintf(why, whylen,
               "process %d runs as %s %lu/%lu/%lu (real/effective/saved), not as %s %lu: "
               "%s has privilege and reads only the processes of the user who runs it",
               (int)pid, kind, ids[0], ids[1], ids[2], kind, want, error_progname);
      return false;
    }
  return true;
}

enum error_kind privilege_judge(const struct task_ids *t, pid_t pid, uid_t ruid, gid_t rgid,
                                char *why, size_t whylen) {
  /* The kernel's rule for a tracer without CAP_SYS_PTRACE (the file-system
   * ids are not part of it). */
  if (!ids_are(pid, "uid", t->uid, ruid, why, whylen) ||
      !ids_are(pid, "gid", t->gid, rgid, why, whylen))
    return E_PERMISSION;
  /* Its /proc files belong to root when it is not dumpable: it ran a
   * setuid or file-capability program (and may hold what that program
   * read), or it asked not to be traced. */
  if (t->owner != ruid) {
    snprintf(why, whylen,
             "process %d is not dumpable (it changed credentials or asked not to be "
             "traced): %s has privilege and does not read it",
             (int)pid, error_progname);
    return E_PERMISSION;
  }
  return E_OK;
}

/* The ids of task (pid, tid) from its status file, and the owner of that
 * file. E_OK, E_NO_PROCESS, or E_PERMISSION when it cannot be read. */
static enum error_kind read_task_ids(pid_t pid, pid_t tid, struct task_ids *t, char *why,
                                     size_t whylen) {
  char path[PROC_PATH_MAX], buf[8192];
  proc_task_path(path, pid, tid, "status");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    snprintf(why, whylen, "no such process: %d", (int)pid);
    return err == ENOENT || err == ESRCH ? E_NO_PROCESS : E_PERMISSION;
  }
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  struct stat st;
  int stat_rc = fstat(fd, &st);
  close(fd);
  if (len == 0) {
    snprintf(why, whylen, "no such process: %d", (int)pid);
    return E_NO_PROCESS;
  }
  if (stat_rc != 0 || privilege_parse_ids(buf, "Uid", t->uid) != 0 ||
      privilege_parse_ids(buf, "Gid", t->gid) != 0) {
    snprintf(why, whylen, "process %d: its credentials cannot be read", (int)pid);
    return E_PERMISSION;
  }
  t->owner = st.st_uid;
  return E_OK;
}

enum error_kind privilege_check(pid_t pid, pid_t tid, char *why, size_t whylen) {
  if (!active) return E_OK;
  struct task_ids t;
  enum error_kind kind = read_task_ids(pid, tid, &t, why, whylen);
  if (kind != E_OK) return kind;
  return privilege_judge(&t, pid, real_uid, real_gid, why, whylen);
}

/* ---- attaching -------------------------------------------------------------- */

static void lower(void) {
  /* Dropping a capability cannot be refused; if it ever were, going on
   * would mean running with it. */
  if (caps_only_ptrace(true, false) != 0) {
    static const char msg[] = "cannot lower CAP_SYS_PTRACE: stopping\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) abort();
    abort();
  }
}

int privilege_attach(pid_t pid, pid_t tid, int (*attach)(void *arg),
                     void (*detach)(void *arg), void *arg) {
  if (!active) return attach(arg);
  char why[256];
  enum error_kind kind = privilege_check(pid, tid, why, sizeof why);
  if (kind != E_OK) {
    errno = kind == E_NO_PROCESS ? ESRCH : EPERM;
    return -1;
  }
  int rc = attach(arg);
  if (rc != 0 && (errno == EPERM || errno == EACCES) && ptrace_cap &&
      caps_only_ptrace(true, true) == 0) {
    rc = attach(arg);
    int err = errno;
    lower();
    errno = err;
  }
  if (rc != 0) return rc;
  /* The check and the attach are two moments: if the task ran a setuid
   * program in between, we hold what it became. The kernel changes a
   * task's credentials and its address space together, under a lock that
   * attaching takes too, so a task that passes now was attached to as the
   * real user's (an exec after this point leaves an open /proc/PID/mem on
   * the old address space, and austinp detaches at the exec). */
  kind = privilege_check(pid, tid, why, sizeof why);
  if (kind != E_OK) {
    detach(arg);
    errno = kind == E_NO_PROCESS ? ESRCH : EPERM;
    return -1;
  }
  return 0;
}

int privilege_drop_for_exec(void) {
  if (!active) return 0;
  if (caps_only_ptrace(false, false) != 0) return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return -1;
  uid_t r, e, s;
  gid_t gr, ge, gs;
  if (getresuid(&r, &e, &s) != 0 || getresgid(&gr, &ge, &gs) != 0) return -1;
  if (r != real_uid || e != r || s != r || gr != real_gid || ge != gr || gs != gr) {
    errno = EPERM;
    return -1;
  }
  return 0;
}
