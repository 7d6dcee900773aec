/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by every test program of the suite, kmod_* and lib_*:
 * time, sleeping, children whose end is a value, and fault probes that
 * turn a SIGSEGV or SIGBUS into a return value.  Nothing here knows about
 * /dev/smem or libsmem; kmod_util.h and lib_util.h build on it.
 *
 * Everything is static: each test program is one translation unit.  No
 * helper uses the harness's ASSERT macros, so they are safe in threads
 * and forked children.
 */
#ifndef SMEM_TEST_UTIL_H
#define SMEM_TEST_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ time */

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- children */

/* How a child ended: its exit code, or 128 + the signal that killed it. */
static inline int child_result(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Wait for @pid: child_result(), or -1 when waitpid() fails. */
static inline int wait_child(pid_t pid)
{
	int status;
	pid_t r;

	/* A timer's signal without SA_RESTART (a fuzzer's) may interrupt it. */
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != pid)
		return -1;
	return child_result(status);
}

/*
 * The same, waiting at most @timeout_s seconds: -1 when the child did not
 * end by then (it is killed).
 */
static inline int wait_child_timeout(pid_t pid, int timeout_s)
{
	int status, n;

	for (n = 0; n < timeout_s * 100; n++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return child_result(status);
		if (r < 0)
			return -1;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* --------------------------------------------------------- fault probes */

/*
 * probe_access() touches one byte and returns 0, or the signal (SIGSEGV,
 * SIGBUS) the access raised, with its si_code in *@code when @code is not
 * NULL.  Per thread, so several threads can probe at once.  A fault
 * outside a probe kills the process as usual.
 */
static __thread sigjmp_buf probe_env;
static __thread volatile sig_atomic_t probe_armed, probe_code;

static inline void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!probe_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	probe_armed = 0;
	probe_code = si->si_code;
	siglongjmp(probe_env, sig);
}

static inline void probe_install(void)
{
	static pid_t installed_in;
	struct sigaction sa = { .sa_sigaction = probe_handler, .sa_flags = SA_SIGINFO | SA_NODEFER };

	if (installed_in == getpid())
		return;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	installed_in = getpid();
}

/* Write *@val to @p, or read @p into *@val. */
static inline int probe_access(volatile unsigned char *p, bool write, unsigned char *val,
			       int *code)
{
	int sig;

	probe_install();
	sig = sigsetjmp(probe_env, 1);
	if (!sig) {
		probe_armed = 1;
		if (write)
			*p = *val;
		else
			*val = *p;
		probe_armed = 0;
	}
	if (code)
		*code = sig ? probe_code : 0;
	return sig;
}

static inline int probe_read(const volatile unsigned char *p, unsigned char *out)
{
	return probe_access((volatile unsigned char *)p, false, out, NULL);
}

static inline int probe_write(volatile unsigned char *p, unsigned char v)
{
	return probe_access(p, true, &v, NULL);
}

/* ------------------------------------------------------------- children */

/*
 * End a forked child (or an exec'd helper image) that found something
 * wrong: say what on stderr, which the test's output shows, then exit 1.
 */
static inline void __attribute__((noreturn, format(printf, 1, 2)))
child_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# child %d (uid %d): ", (int)getpid(), (int)getuid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

#endif /* SMEM_TEST_UTIL_H */
