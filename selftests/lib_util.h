/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the lib_*_test programs (libsmem through its public
 * API): what the library in use gives, fault probes that put back the
 * PKRU the kernel reset for the handler, protection keys as /proc shows
 * them, patterns and gates.  Time, children and the probes themselves
 * come from test_util.h, shared with the kmod_*_test programs.
 *
 * Everything is static: each test program is one translation unit.  No
 * helper uses the harness's ASSERT macros, so they are safe in threads
 * and forked children.
 */
#ifndef SMEM_LIB_UTIL_H
#define SMEM_LIB_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include <smem.h>

#include "test_util.h"

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
 * lib_probe_read()/lib_probe_write(): probe_access() (test_util.h), which
 * gives the signal and its si_code.  The kernel runs a handler with the
 * default PKRU, and siglongjmp() does not restore it: a probe puts back
 * the PKRU it started with when the library uses keys, so that a probe
 * inside an access window leaves it open.
 */
static inline int lib_probe(volatile unsigned char *p, bool write, int *code)
{
	bool keys = lib_has_windows();
	uint32_t pkru = keys ? lib_rdpkru() : 0;
	unsigned char val = 0x5a;
	int sig;

	sig = probe_access(p, write, &val, code);
	if (keys)
		lib_wrpkru(pkru);
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

/* ------------------------------------------------- another process's memory */

/* Read @len bytes at @addr of @pid through /proc/PID/mem: bytes read or -errno. */
static inline ssize_t lib_proc_mem_read(pid_t pid, const void *addr, void *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)(uintptr_t)addr);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/* The same through process_vm_readv(2). */
static inline ssize_t lib_vm_read(pid_t pid, const void *addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	return n < 0 ? -errno : n;
}

/* ------------------------------------------------------------ callbacks */

/*
 * A read callback that holds its window open for another process to try:
 * it writes the address of the bytes to @report, then waits until @gate,
 * a pipe, is closed at its other end.
 */
struct lib_holder {
	int report, gate;
};

static inline int lib_hold_open_fn(const void *buf, size_t len, void *arg)
{
	struct lib_holder *h = arg;
	char c;

	(void)len;
	if (write(h->report, &buf, sizeof(buf)) != sizeof(buf))
		return -1;
	while (read(h->gate, &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}

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

/* --------------------------------------------------------- descriptors */

/*
 * How many descriptors of this process @match says yes to, given the
 * descriptor and where its /proc/self/fd link points; -1 when the
 * directory cannot be read.
 */
static inline int lib_count_fds(bool (*match)(int fd, const char *target, void *arg),
				void *arg)
{
	char path[300], target[256];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		n += match(atoi(d->d_name), target, arg);
	}
	closedir(dir);
	return n;
}

/* -------------------------------------------- bytes outside registers */

/*
 * Copy, compare and wipe without vector registers, for the tests that
 * judge what libsmem leaves in registers and on the stack: glibc's
 * memcpy() and memcmp(), and any loop the compiler vectorizes, would
 * leave pieces of the key there themselves.  On x86 the copy is
 * "rep movsb", which holds the bytes in no register at all; the compare
 * and the wipe go one volatile byte at a time.
 */
static inline void lib_copy_novec(void *dst, const void *src, size_t len)
{
/* clang's analyzer does not see what the asm writes: it is shown the loop. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__clang_analyzer__)
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(len) : : "memory");
#else
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;

	while (len--)
		*d++ = *s++;
#endif
}

/* @a and @b hold the same @len bytes; @b NULL: @a is all zeros. */
static inline bool lib_equal_novec(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ (y ? y[i] : 0);
	return !diff;
}

static inline void lib_wipe_novec(void *p, size_t len)
{
	volatile unsigned char *b = p;

	while (len--)
		*b++ = 0;
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

/* ------------------------------------------------------------ settings */

/*
 * A fixture with nothing in it, for a test that needs a longer time-out
 * than the harness's default: only TEST_F_TIMEOUT() takes one.  Without
 * variants, the test runs once.  (After kselftest_harness.h.)
 */
#define LIB_EMPTY_FIXTURE(name) \
	FIXTURE(name) { \
		int unused; \
	}; \
	FIXTURE_SETUP(name) \
	{ \
		self->unused = 0; \
	} \
	FIXTURE_TEARDOWN(name) \
	{ \
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


/*
 * CAP_IPC_LOCK (which lifts RLIMIT_MEMLOCK) in or out of the effective
 * set: 0, or -errno.  Out, it stays permitted: the process can take it back.
 */
static inline int lib_ipc_lock_effective(bool on)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	if (on)
		data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective |= CAP_TO_MASK(CAP_IPC_LOCK);
	else
		data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* Set the soft limit of @resource, the old one in *@old: 0, or -errno. */
static inline int lib_set_soft_limit(int resource, rlim_t soft, rlim_t *old)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl)) {
		int err = -errno;

		return err < 0 ? err : -EIO;	/* never 0: *old is not set */
	}
	if (old)
		*old = rl.rlim_cur;
	rl.rlim_cur = soft;
	return setrlimit(resource, &rl) ? -errno : 0;
}

#endif /* SMEM_LIB_UTIL_H */
