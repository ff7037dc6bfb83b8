/* The pure parts of the privilege policy: the Uid:/Gid: lines of a status
 * file and the rule applied to them (the privileged runs themselves are
 * tested in test/functional/test_privilege.py). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "privilege.h"
#include "remote_priv.h"

static void ids_of_a_status_file(void **state) {
  (void)state;
  unsigned long ids[4] = {0};
  const char *text = "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\n"
                     "Uid:\t1001\t0\t1001\t0\nGid:\t100\t100\t100\t100\nFDSize:\t64\n";
  assert_int_equal(privilege_parse_ids(text, "Uid", ids), 0);
  assert_int_equal(ids[0], 1001);
  assert_int_equal(ids[1], 0);
  assert_int_equal(ids[2], 1001);
  assert_int_equal(ids[3], 0);
  assert_int_equal(privilege_parse_ids(text, "Gid", ids), 0);
  assert_int_equal(ids[0], 100);
  assert_int_equal(ids[3], 100);
  /* The largest id the kernel has (the 32-bit "no id" included). */
  assert_int_equal(privilege_parse_ids("Uid:\t4294967295\t1\t2\t3\n", "Uid", ids), 0);
  assert_int_equal(ids[0], 4294967295UL);
}

static void ids_refused_when_unsure(void **state) {
  (void)state;
  unsigned long ids[4];
  /* A name (the one text a task chooses) cannot spell the key. */
  assert_int_equal(privilege_parse_ids("Name:\tUid:\t0\t0\t0\t0\n", "Uid", ids), -1);
  /* Twice: one of them is not the kernel's. */
  assert_int_equal(privilege_parse_ids("Uid:\t0\t0\t0\t0\nUid:\t5\t5\t5\t5\n", "Uid", ids), -1);
  /* Three numbers, a fifth, a letter, beyond 32 bits, too many digits, no
   * separator, another key that starts alike. */
  assert_int_equal(privilege_parse_ids("Uid:\t1\t2\t3\n", "Uid", ids), -1);
  assert_int_equal(privilege_parse_ids("Uid:\t1\t2\t3\t4\t5\n", "Uid", ids), -1);
  assert_int_equal(privilege_parse_ids("Uid:\t1\t2\tx\t4\n", "Uid", ids), -1);
  assert_int_equal(privilege_parse_ids("Uid:\t4294967296\t1\t2\t3\n", "Uid", ids), -1);
  assert_int_equal(privilege_parse_ids("Uid:\t00000000001\t1\t2\t3\n", "Uid", ids), -1);
  assert_int_equal(privilege_parse_ids("Uid:1\t2\t3\t4\n", "Uid", ids), -1);
  assert_int_equal(privilege_parse_ids("Uids:\t1\t2\t3\t4\n", "Uid", ids), -1);
  assert_int_equal(privilege_parse_ids("", "Uid", ids), -1);
}

static void ids_of_our_own_status(void **state) {
  (void)state;
  char buf[8192];
  FILE *f = fopen("/proc/self/status", "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  unsigned long ids[4];
  uid_t r, e, s;
  gid_t gr, ge, gs;
  assert_int_equal(getresuid(&r, &e, &s), 0);
  assert_int_equal(getresgid(&gr, &ge, &gs), 0);
  assert_int_equal(privilege_parse_ids(buf, "Uid", ids), 0);
  assert_int_equal(ids[0], r);
  assert_int_equal(ids[1], e);
  assert_int_equal(ids[2], s);
  assert_int_equal(privilege_parse_ids(buf, "Gid", ids), 0);
  assert_int_equal(ids[0], gr);
  assert_int_equal(ids[1], ge);
  assert_int_equal(ids[2], gs);
}

static struct task_ids user_task(unsigned long uid, unsigned long gid) {
  struct task_ids t = {{uid, uid, uid, uid}, {gid, gid, gid, gid}, uid};
  return t;
}

static void judge_the_kernel_rule(void **state) {
  (void)state;
  char why[512];
  struct task_ids t = user_task(1001, 100);
  assert_int_equal(privilege_judge(&t, 42, 1001, 100, why, sizeof why), E_OK);
  /* The file-system ids are not part of the kernel's rule. */
  t.uid[3] = 0;
  t.gid[3] = 0;
  assert_int_equal(privilege_judge(&t, 42, 1001, 100, why, sizeof why), E_OK);
  /* Another user's process. */
  t = user_task(0, 0);
  assert_int_equal(privilege_judge(&t, 42, 1001, 100, why, sizeof why), E_PERMISSION);
  assert_non_null(strstr(why, "process 42 runs as uid 0/0/0"));
  assert_non_null(strstr(why, "not as uid 1001"));
  assert_null(strchr(why, '\n'));
  /* A setuid program run by the user: each of the three uids counts. */
  for (int i = 0; i < 3; i++) {
    t = user_task(1001, 100);
    t.uid[i] = 0;
    assert_int_equal(privilege_judge(&t, 42, 1001, 100, why, sizeof why), E_PERMISSION);
  }
  /* The same for the gids (a setgid program, newgrp). */
  for (int i = 0; i < 3; i++) {
    t = user_task(1001, 100);
    t.gid[i] = 42;
    assert_int_equal(privilege_judge(&t, 42, 1001, 100, why, sizeof why), E_PERMISSION);
    assert_non_null(strstr(why, "gid"));
  }
}

static void judge_dumpable(void **state) {
  (void)state;
  char why[512];
  /* Back to the user's ids after a setuid program, but not dumpable: its
   * /proc files belong to root. */
  struct task_ids t = user_task(1001, 100);
  t.owner = 0;
  assert_int_equal(privilege_judge(&t, 7, 1001, 100, why, sizeof why), E_PERMISSION);
  assert_non_null(strstr(why, "process 7 is not dumpable"));
}

/* Not started with privilege (the test runs as whoever runs it, never
 * setuid): nothing changes. */
static int attached;
static int count_attach(void *arg) {
  (void)arg;
  attached++;
  return 0;
}
static void never_detach(void *arg) {
  (void)arg;
  fail_msg("detached without privilege");
}

static void unprivileged_changes_nothing(void **state) {
  (void)state;
  assert_int_equal(privilege_init(), E_OK);
  assert_false(privilege_active());
  char why[64] = "";
  /* Even pid 1, which is not ours unless we are root: the kernel decides. */
  assert_int_equal(privilege_check(1, 0, why, sizeof why), E_OK);
  assert_int_equal(privilege_attach(1, 0, count_attach, never_detach, NULL), 0);
  assert_int_equal(attached, 1);
  assert_int_equal(privilege_drop_for_exec(), 0);
}

/* The reader of a privileged run, through /proc/PID/mem (forced, as the
 * functional tests do on a machine without Yama), on a child that shares
 * our address space as a vfork child does: it reads our memory until the
 * child runs exec, and nothing after (the open file would go on reading
 * ours: the address-space fields of /proc/PID/stat tell). */
static char marker[] = "pyaustin: read through /proc/PID/mem";

static int exec_on_signal(void *arg) {
  int *fds = arg;
  char c;
  if (read(fds[0], &c, 1) == 1) execl("/bin/sleep", "sleep", "10", (char *)NULL);
  _exit(127);
}

static void nap_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static void mem_reader_sees_exec_of_vfork_child(void **state) {
  (void)state;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  size_t stack_size = 1 << 16;
  char *stack = malloc(stack_size);
  assert_non_null(stack);
  pid_t pid = clone(exec_on_signal, stack + stack_size, CLONE_VM | SIGCHLD, fds);
  assert_true(pid > 0);
  char buf[sizeof marker];

  /* Without the variable: process_vm_readv. */
  struct remote *r = remote_open_privileged(pid);
  assert_non_null(r);
  assert_int_equal(remote_read(r, (uintptr_t)marker, buf, sizeof buf), 0);
  remote_close(r);

  setenv("PYAUSTIN_PRIVILEGED_MEM", "1", 1);
  r = remote_open_privileged(pid);
  unsetenv("PYAUSTIN_PRIVILEGED_MEM");
  assert_non_null(r);
  memset(buf, 0, sizeof buf);
  assert_int_equal(remote_read(r, (uintptr_t)marker, buf, sizeof buf), 0);
  assert_memory_equal(buf, marker, sizeof marker);
  struct remote_iov iov[2] = {{(uintptr_t)marker, buf, 8}, {1ull << 46, buf, 8}};
  assert_int_equal(remote_readv(r, iov, 2), 1); /* the second range is a hole */

  assert_int_equal(write(fds[1], "x", 1), 1);
  char exe[64] = "";
  char link[64];
  snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
  /* Up to 30 s (a hang guard): the exec's time is the machine's load. */
  for (int i = 0; i < 3000 && strstr(exe, "sleep") == NULL; i++) {
    ssize_t n = readlink(link, exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    nap_ms(10);
  }
  assert_non_null(strstr(exe, "sleep"));
  nap_ms(20); /* longer than MEM_SAME_US */
  errno = 0;
  assert_int_equal(remote_read(r, (uintptr_t)marker, buf, sizeof buf), -1);
  assert_int_equal(errno, ESRCH);
  remote_close(r);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  free(stack);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ids_of_a_status_file),
      cmocka_unit_test(ids_refused_when_unsure),
      cmocka_unit_test(ids_of_our_own_status),
      cmocka_unit_test(judge_the_kernel_rule),
      cmocka_unit_test(judge_dumpable),
      cmocka_unit_test(unprivileged_changes_nothing),
      cmocka_unit_test(mem_reader_sees_exec_of_vfork_child),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
