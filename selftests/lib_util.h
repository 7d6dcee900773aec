/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the lib_*_test programs (libsmem through its public
 * API): what the library in use gives, fault probes that report the
 * signal and its si_code instead of dying (and put back the PKRU the
 * kernel reset for the handler), protection keys as /proc shows them,
 * and children whose end is a value.
 *
 * Everything is static: each test program is one translation unit.  No
 * helper uses the harness's ASSERT macros, so they are safe in threads
 * and forked children.
 */
#ifndef SMEM_LIB_UTIL_H
#define SMEM_LIB_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <smem.h>

static inline unsigned int lib_guarantees(void)
{
	struct smem_info info;

	return smem_info(&info) ? 0 : info.guarantees;
}

static inline bool lib_has_windows(void)
{
	return lib_guarantees() & SMEM_G_THREAD_WINDOW;
}

static inline const char *lib_backend(void)
{
	struct smem_info info;

	return smem_info(&info) ? "none" : info.backend_name;
}

/* --------------------------------------------------------------- PKRU */

#if defined(__x86_64__)
static inline uint32_t lib_rdpkru(void)
{
	uint32_t eax, edx;

	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static inline void lib_wrpkru(uint32_t pkru)
{
	__asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(pkru), "c"(0), "d"(0) : "memory");
}
#else
static inline uint32_t lib_rdpkru(void)
{
	return 0;
}

static inline void lib_wrpkru(uint32_t pkru)
{
	(void)pkru;
}
#endif

/*
 * The protection key of the page holding @addr, from /proc/self/smaps
 * ("ProtectionKey:"), or -1; its permissions ("rw-s") into @perms when
 * not NULL.
 */
static inline int lib_page_pkey(const void *addr, char perms[5])
{
	unsigned long start, end, a = (unsigned long)addr;
	char line[256], p[5] = "";
	bool in = false;
	int key = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s ", &start, &end, p) == 3) {
			in = a >= start && a < end;
			if (in && perms)
				memcpy(perms, p, 5);
			continue;
		}
		if (in && sscanf(line, "ProtectionKey: %d", &key) == 1)
			break;
	}
	fclose(f);
	return in ? key : -1;
}

/* ------------------------------------------------------- fault probes */

/*
 * lib_probe_read()/lib_probe_write() touch one byte and return 0, or the
 * signal the access raised, with its si_code in *code.  Per thread.  The
 * kernel runs a handler with the default PKRU, and siglongjmp() does not
 * restore it: a probe puts back the PKRU it started with when the library
 * uses keys, so that a probe inside an access window leaves it open.
 */
static __thread sigjmp_buf lib_probe_env;
static __thread volatile sig_atomic_t lib_probe_armed, lib_probe_code;

static inline void lib_probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!lib_probe_armed) {
		/* A fault outside a probe: die of it as usual. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	lib_probe_armed = 0;
	lib_probe_code = si->si_code;
	siglongjmp(lib_probe_env, sig);
}

static inline void lib_probe_install(void)
{
	struct sigaction sa = { .sa_sigaction = lib_probe_handler, .sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static inline int lib_probe(volatile unsigned char *p, bool write, int *code)
{
	bool keys = lib_has_windows();
	uint32_t pkru = keys ? lib_rdpkru() : 0;
	volatile unsigned char sink;
	int sig;

	lib_probe_install();
	sig = sigsetjmp(lib_probe_env, 1);
	if (!sig) {
		lib_probe_armed = 1;
		if (write)
			*p = 0x5a;
		else
			sink = *p;
		(void)sink;
		lib_probe_armed = 0;
	}
	if (keys)
		lib_wrpkru(pkru);
	if (code)
		*code = sig ? lib_probe_code : 0;
	return sig;
}

static inline int lib_probe_read(const volatile unsigned char *p, int *code)
{
	return lib_probe((volatile unsigned char *)p, false, code);
}

static inline int lib_probe_write(volatile unsigned char *p, int *code)
{
	return lib_probe(p, true, code);
}

/* ------------------------------------------------------------ callbacks */

/* Read callback: copy the bytes into the buffer at @arg (large enough). */
static inline int lib_copy_fn(const void *buf, size_t len, void *arg)
{
	memcpy(arg, buf, len);
	return (int)len;
}

/* Write callback: copy in the bytes at @arg. */
static inline int lib_store_fn(void *buf, size_t len, void *arg)
{
	memcpy(buf, arg, len);
	return 0;
}

/* Read callback: the address of the bytes into *(const void **)arg. */
static inline int lib_address_fn(const void *buf, size_t len, void *arg)
{
	(void)len;
	*(const void **)arg = buf;
	return 0;
}

/* The address of the bytes of @s (inaccessible once this returns), or NULL. */
static inline const unsigned char *lib_address(struct smem_secret *s)
{
	const void *addr = NULL;

	return smem_secret_read(s, lib_address_fn, &addr) ? NULL : addr;
}

/* Byte @i of the pattern @seed: never zero, no short period. */
static inline unsigned char lib_pattern(unsigned int seed, size_t i)
{
	uint32_t x = (uint32_t)(i * 2654435761U) ^ (seed * 40503U + 1);

	x ^= x >> 15;
	x *= 0x2c1b3c6dU;
	x ^= x >> 12;
	return (unsigned char)(x | 1);
}

static inline void lib_fill(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = lib_pattern(seed, i);
}

/* A new secret of @len bytes holding pattern @seed, or NULL. */
static inline struct smem_secret *lib_new_pattern(size_t len, unsigned int seed)
{
	struct smem_secret *s = NULL;
	unsigned char *buf = malloc(len);

	if (!buf)
		return NULL;
	lib_fill(buf, len, seed);
	if (smem_secret_new(buf, len, 0, &s))
		s = NULL;
	free(buf);
	return s;
}

/* Read callback: 0 when the bytes are pattern *(unsigned int *)arg, else 1. */
static inline int lib_check_fn(const void *buf, size_t len, void *arg)
{
	const unsigned char *p = buf;
	unsigned int seed = *(unsigned int *)arg;

	for (size_t i = 0; i < len; i++)
		if (p[i] != lib_pattern(seed, i))
			return 1;
	return 0;
}

/* -------------------------------------------------------------- gates */

/* Flags one thread raises and another waits for. */
struct lib_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

#define LIB_GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER }

static inline void lib_gate_set(struct lib_gate *g, bool *flag)
{
	pthread_mutex_lock(&g->lock);
	*flag = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static inline void lib_gate_wait(struct lib_gate *g, bool *flag)
{
	pthread_mutex_lock(&g->lock);
	while (!*flag)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/* ---------------------------------------------------------- processes */

/*
 * How a child ended: its exit code, or 128 + the signal that killed it,
 * or -1 when it did not end within @timeout_s (it is killed then).
 */
static inline int lib_wait_child(pid_t pid, int timeout_s)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	int status, n;

	for (n = 0; n < timeout_s * 100; n++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0)
			return -1;
		nanosleep(&nap, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static inline double lib_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds from the environment variable @name, or @fallback. */
static inline double lib_env_seconds(const char *name, double fallback)
{
	const char *v = getenv(name);
	char *end;
	double d;

	if (!v || !*v)
		return fallback;
	d = strtod(v, &end);
	return *end || d < 0 ? fallback : d;
}

#endif /* SMEM_LIB_UTIL_H */
