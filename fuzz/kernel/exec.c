// SPDX-License-Identifier: GPL-2.0
/*
 * smem-fuzz: running a program's operations against /dev/smem.
 *
 * One process per program (the fuzzer forks it; a reproducer is it).  Its
 * threads start together and each runs its own operations in order, so
 * the threads race on the shared slots and objects.  fork and exec move
 * the next operations of their thread into a child process, which runs
 * them beside its parent.
 *
 * The executor must survive anything a program does to its own memory:
 *  - each mapping slot owns a reserved, PROT_NONE window of address space
 *    at the same place in every process; mmap places the mapping at the
 *    start of its window, and munmap, mprotect, madvise, mremap and the
 *    buffers of io are clamped into the window, so no operation reaches
 *    the executor's heap or stacks, and a hole a program makes is reserved
 *    again before anything else can land in it;
 *  - a touch, and the copy of an ioctl's structure into a mapping, runs
 *    under a SIGSEGV/SIGBUS guard, and a write stores back the byte it
 *    read: harmless even if the page were not the object's.
 * Any other fatal signal, or an abort() from an oracle below, kills the
 * process: the fuzzer reports it as a crash.
 *
 * Oracles checked here (each one an abort()): the ABI rules of
 * include/uapi/linux/smem.h that hold whatever the other threads do —
 * nonzero flags or padding never succeed, an unknown smem command is
 * -ENOTTY, QUERY and INFO leave their reserved fields zero.
 *
 * This file and exec.h are pasted verbatim into every C reproducer
 * (repro.c): they include system headers only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include <linux/smem.h>

#define FUZZ_PAGE		4096UL
/* Each mapping slot's window, at FUZZ_WINDOW_BASE + slot * FUZZ_WINDOW. */
#define FUZZ_WINDOW_BASE	0x100000000000UL
#define FUZZ_WINDOW		(64UL << 20)
/* mremap with MREMAP_FIXED moves into the second half of the window. */
#define FUZZ_HALF_WINDOW	(FUZZ_WINDOW / 2)
#define FUZZ_IO_MAX		(64UL << 10)
/* fail-nth beyond this wraps: deep enough for a memory hot-remove. */
#define FUZZ_FAIL_MAX		65536
/* The largest pool a program may ask for: three 128 MiB blocks of a 1 GiB guest. */
#define FUZZ_POOL_MAX		(384ULL << 20)

void (*fuzz_thread_hook)(unsigned int thread, int start);
void (*fuzz_fork_hook)(void);
struct fuzz_env fuzz_env = { .exec_kcov_fd = -1 };

struct fuzz_map {
	char *addr;		/* NULL: empty slot */
	size_t len;
};

/*
 * The process's slots and helpers.  Threads read and write the slots
 * without a lock (a race between them is part of the program); the
 * helpers are created once, under fuzz_helpers_lock.  @tid: each
 * program thread's id, for signal.
 */
static struct {
	int fd[FUZZ_SLOTS];
	struct fuzz_map map[FUZZ_SLOTS];
	pid_t tid[FUZZ_THREADS];
	pthread_mutex_t helpers_lock;
	int helpers_ready;
	int pipe[2];
	int data_fd;
	int block_fd;
	int procmem_fd;
	int ring_fd;
	struct io_uring_sqe *sqes;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail;
} fuzz_proc = { .helpers_lock = PTHREAD_MUTEX_INITIALIZER };

/* Per thread: the guard of touch, and pages for the ioctl arguments. */
static __thread sigjmp_buf fuzz_guard_jmp;
static __thread volatile int fuzz_guard_on;
static __thread char *fuzz_scratch;	/* rw page, read-only page, PROT_NONE page */

static void fuzz_oracle_fail(const char *what, const struct fuzz_op *op, long ret)
{
	fprintf(stderr, "smem-fuzz: oracle: %s (kind %u, result %ld)\n", what, op->kind, ret);
	abort();
}

static char *fuzz_window(unsigned int slot)
{
	return (char *)(FUZZ_WINDOW_BASE + (unsigned long)slot * FUZZ_WINDOW);
}

/* Put back the PROT_NONE reservation over [addr, addr + len) of a window. */
static void fuzz_reserve(char *addr, size_t len)
{
	if (!len)
		return;
	mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

static void fuzz_proc_init(void)
{
	unsigned int i;

	memset(fuzz_proc.tid, 0, sizeof(fuzz_proc.tid));
	for (i = 0; i < FUZZ_SLOTS; i++) {
		fuzz_proc.fd[i] = -1;
		fuzz_proc.map[i] = (struct fuzz_map){ 0 };
		if (mmap(fuzz_window(i), FUZZ_WINDOW, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
			 -1, 0) == MAP_FAILED && errno != EEXIST) {
			perror("smem-fuzz: reserving the mapping windows");
			exit(2);
		}
	}
}

/*
 * Clamp [off, off + len) of slot @slot to what the executor may touch:
 * its window, or the mapping itself when it lives outside (mremap moved
 * it).  Returns the start, NULL when the slot is empty.
 */
static char *fuzz_clamp(unsigned int slot, uint64_t off, uint64_t *len)
{
	struct fuzz_map m = fuzz_proc.map[slot % FUZZ_SLOTS];
	char *lo, *hi;

	if (!m.addr)
		return NULL;
	lo = fuzz_window(slot % FUZZ_SLOTS);
	hi = lo + FUZZ_WINDOW;
	if (m.addr < lo || m.addr >= hi) {
		lo = m.addr;
		hi = m.addr + m.len;
	}
	if (off > (uint64_t)(hi - m.addr))
		off = off % ((uint64_t)(hi - m.addr) + 1);
	if (*len > (uint64_t)(hi - m.addr) - off)
		*len = (uint64_t)(hi - m.addr) - off;
	return m.addr + off;
}

static int fuzz_in_window(unsigned int slot, const char *addr)
{
	const char *w = fuzz_window(slot % FUZZ_SLOTS);

	return addr >= w && addr < w + FUZZ_WINDOW;
}

static void fuzz_signal(int sig, siginfo_t *info, void *uc)
{
	(void)info;
	(void)uc;
	if (fuzz_guard_on) {
		fuzz_guard_on = 0;
		siglongjmp(fuzz_guard_jmp, sig);
	}
	/* Not ours to catch: die of it when the access is retried. */
	signal(sig, SIG_DFL);
}

/* signal's SIGUSR1: only there to interrupt what its thread is doing. */
static void fuzz_interrupt(int sig)
{
	(void)sig;
}

static void fuzz_signals_init(void)
{
	struct sigaction sa = { .sa_sigaction = fuzz_signal, .sa_flags = SA_SIGINFO | SA_NODEFER };
	/* No SA_RESTART: the interrupted call returns -EINTR, as it would to a program. */
	struct sigaction usr = { .sa_handler = fuzz_interrupt };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGUSR1, &usr, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Copy under the guard; returns 0 or the signal that stopped it. */
static int fuzz_guarded_copy(void *dst, const void *src, size_t len)
{
	int sig = sigsetjmp(fuzz_guard_jmp, 1);

	if (sig)
		return sig;
	fuzz_guard_on = 1;
	memcpy(dst, src, len);
	fuzz_guard_on = 0;
	return 0;
}

static int fuzz_scratch_init(void)
{
	if (fuzz_scratch)
		return 0;
	fuzz_scratch = mmap(NULL, 3 * FUZZ_PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fuzz_scratch == MAP_FAILED) {
		fuzz_scratch = NULL;
		return -ENOMEM;
	}
	mprotect(fuzz_scratch + FUZZ_PAGE, FUZZ_PAGE, PROT_READ);
	mprotect(fuzz_scratch + 2 * FUZZ_PAGE, FUZZ_PAGE, PROT_NONE);
	return 0;
}

/* The io_uring ring of the process: raw system calls, no liburing. */
static int fuzz_ring_init(void)
{
	struct io_uring_params p = { 0 };
	char *sq, *cq;
	int fd = syscall(__NR_io_uring_setup, 4, &p);

	if (fd < 0)
		return -1;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	fuzz_proc.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
			      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
			      IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || fuzz_proc.sqes == MAP_FAILED) {
		close(fd);
		return -1;
	}
	fuzz_proc.sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	fuzz_proc.sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	fuzz_proc.sq_array = (unsigned int *)(sq + p.sq_off.array);
	fuzz_proc.cq_head = (unsigned int *)(cq + p.cq_off.head);
	fuzz_proc.cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	return fd;
}

/* Pipes, files and the ring that io needs, once per process. */
static void fuzz_helpers_init(void)
{
	pthread_mutex_lock(&fuzz_proc.helpers_lock);
	if (!fuzz_proc.helpers_ready) {
		if (pipe2(fuzz_proc.pipe, O_NONBLOCK))
			fuzz_proc.pipe[0] = fuzz_proc.pipe[1] = -1;
		fuzz_proc.data_fd = fuzz_env.data_file ?
				    open(fuzz_env.data_file, O_RDWR | O_CREAT, 0666) : -1;
		/* Short of its size, the file still serves: reads end early. */
		if (fuzz_proc.data_fd >= 0 && ftruncate(fuzz_proc.data_fd, 1 << 20))
			perror("smem-fuzz: sizing the data file");
		fuzz_proc.block_fd = fuzz_env.block_dev ?
				     open(fuzz_env.block_dev, O_RDWR | O_DIRECT) : -1;
		fuzz_proc.procmem_fd = open("/proc/self/mem", O_RDWR);
		fuzz_proc.ring_fd = fuzz_ring_init();
		fuzz_proc.helpers_ready = 1;
	}
	pthread_mutex_unlock(&fuzz_proc.helpers_lock);
}

int fuzz_fail_arm(unsigned int nth)
{
	char buf[24];
	int fd;

	if (!nth)
		return -1;
	fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fd < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%u", nth);
	if (write(fd, buf, strlen(buf)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* An operation's fail=: any value, wrapped to a count that makes sense. */
static int fuzz_op_fail_arm(const struct fuzz_op *op)
{
	return fuzz_fail_arm((unsigned int)(op->val[FUZZ_V_FAIL] % FUZZ_FAIL_MAX));
}

long fuzz_fail_disarm(int fd)
{
	char buf[24] = "";
	long left;

	if (fd < 0)
		return -1;
	/* What is left of the count: 0 once the failure was injected. */
	left = pread(fd, buf, sizeof(buf) - 1, 0) > 0 ? strtol(buf, NULL, 10) : -1;
	if (write(fd, "0", 1) < 0)
		perror("smem-fuzz: fail-nth");
	close(fd);
	return left;
}

static long fuzz_ret(long r)
{
	return r < 0 ? -errno : r;
}

static int fuzz_fd(const struct fuzz_op *op, unsigned int i)
{
	return __atomic_load_n(&fuzz_proc.fd[op->res[i] % FUZZ_SLOTS], __ATOMIC_RELAXED);
}

static void fuzz_set_fd(unsigned int slot, int fd)
{
	__atomic_store_n(&fuzz_proc.fd[slot % FUZZ_SLOTS], fd, __ATOMIC_RELAXED);
}

static long fuzz_do_open(const struct fuzz_op *op)
{
	int flags = (int)(op->val[FUZZ_V_OPEN_MODE] & O_ACCMODE) |
		    (int)(op->val[FUZZ_V_OPEN_FLAGS] & ~(uint64_t)(O_ACCMODE | O_CREAT));
	int fail = fuzz_op_fail_arm(op);
	int fd = open("/dev/smem", flags);
	long r = fuzz_ret(fd);

	fuzz_fail_disarm(fail);
	if (fd >= 0)
		fuzz_set_fd(op->res[0], fd);
	return r;
}

/* The command and argument structure an ioctl operation stands for. */
static unsigned long fuzz_ioctl_build(const struct fuzz_op *op, void *arg, size_t *size)
{
	const uint64_t *v = op->val;

	switch (op->kind) {
	case FUZZ_IOC_QUERY:
		*size = sizeof(struct smem_query);
		return SMEM_IOC_QUERY;
	case FUZZ_IOC_ALLOC:
		*(struct smem_alloc *)arg = (struct smem_alloc){
			.size = v[FUZZ_V_A], .flags = v[FUZZ_V_B], .pad = v[FUZZ_V_C] };
		*size = sizeof(struct smem_alloc);
		return SMEM_IOC_ALLOC;
	case FUZZ_IOC_PROTECT:
		*(struct smem_protect *)arg = (struct smem_protect){
			.prot = v[FUZZ_V_A], .flags = v[FUZZ_V_B] };
		*size = sizeof(struct smem_protect);
		return SMEM_IOC_PROTECT;
	case FUZZ_IOC_SEAL:
		*(struct smem_seal *)arg = (struct smem_seal){
			.seals = v[FUZZ_V_A], .flags = v[FUZZ_V_B] };
		*size = sizeof(struct smem_seal);
		return SMEM_IOC_SEAL;
	case FUZZ_IOC_WIPE:
		*(struct smem_wipe *)arg = (struct smem_wipe){
			.offset = v[FUZZ_V_A], .length = v[FUZZ_V_B],
			.flags = v[FUZZ_V_C], .pad = v[FUZZ_V_D] };
		*size = sizeof(struct smem_wipe);
		return SMEM_IOC_WIPE;
	case FUZZ_IOC_INFO:
		*size = sizeof(struct smem_object_info);
		return SMEM_IOC_INFO;
	case FUZZ_IOC_POOL_RESIZE:
		/*
		 * Capped: a pool grown to all the guest's memory gets the
		 * fuzzer killed by the OOM killer, which would be no finding.
		 */
		*(struct smem_pool_resize *)arg = (struct smem_pool_resize){
			.size = v[FUZZ_V_A] < FUZZ_POOL_MAX ? v[FUZZ_V_A] : FUZZ_POOL_MAX,
			.flags = v[FUZZ_V_B], .pad = v[FUZZ_V_C] };
		*size = sizeof(struct smem_pool_resize);
		return SMEM_IOC_POOL_RESIZE;
	default:
		/* RAW: any command; the structure is the byte v[B] repeated. */
		*size = _IOC_SIZE(v[FUZZ_V_A]) < FUZZ_PAGE / 2 ? _IOC_SIZE(v[FUZZ_V_A]) : FUZZ_PAGE / 2;
		memset(arg, (int)v[FUZZ_V_B], *size);
		return (unsigned long)v[FUZZ_V_A];
	}
}

/* Place the structure where the operation says; returns the pointer. */
static void *fuzz_ioctl_place(uint64_t where, const void *arg, size_t size)
{
	char *rw = fuzz_scratch, *ro = fuzz_scratch + FUZZ_PAGE;

	switch (where) {
	case FUZZ_PTR_GOOD:
		memcpy(rw, arg, size);
		return rw;
	case FUZZ_PTR_NULL:
		return NULL;
	case FUZZ_PTR_UNMAPPED:
		return fuzz_scratch + 2 * FUZZ_PAGE;
	case FUZZ_PTR_READONLY:
		mprotect(ro, FUZZ_PAGE, PROT_READ | PROT_WRITE);
		memcpy(ro, arg, size);
		mprotect(ro, FUZZ_PAGE, PROT_READ);
		return ro;
	case FUZZ_PTR_KERNEL:
		return (void *)0xffff888000000000UL;
	case FUZZ_PTR_STRADDLE:
		memcpy(ro - size / 2, arg, size / 2);
		return fuzz_scratch + 3 * FUZZ_PAGE - size / 2;
	default: {
		unsigned int slot = (where - FUZZ_PTR_MAP0) % FUZZ_SLOTS;
		uint64_t len = size;
		char *p = fuzz_clamp(slot, 0, &len);

		if (p && len == size)
			fuzz_guarded_copy(p, arg, size);
		return p ? p : fuzz_window(slot);
	}
	}
}

static int fuzz_known_cmd(unsigned long cmd)
{
	return cmd == SMEM_IOC_QUERY || cmd == SMEM_IOC_ALLOC || cmd == SMEM_IOC_PROTECT ||
	       cmd == SMEM_IOC_SEAL || cmd == SMEM_IOC_WIPE || cmd == SMEM_IOC_INFO ||
	       cmd == SMEM_IOC_POOL_RESIZE;
}

/* The ABI rules that hold whatever else runs (see the top of the file). */
static void fuzz_ioctl_check(const struct fuzz_op *op, unsigned long cmd, const void *p, long r)
{
	int nonzero = 0;

	if (op->kind == FUZZ_IOC_RAW) {
		/* -EBADF: the slot holds no descriptor (yet, or any more). */
		if (_IOC_TYPE(cmd) == SMEM_IOC_MAGIC && !fuzz_known_cmd(cmd) &&
		    r != -ENOTTY && r != -EBADF)
			fuzz_oracle_fail("unknown smem command not -ENOTTY", op, r);
		return;
	}
	/* Only a buffer of ours is known to hold what the operation says. */
	if (op->val[FUZZ_V_PTR] != FUZZ_PTR_GOOD && op->val[FUZZ_V_PTR] != FUZZ_PTR_READONLY)
		return;
	/* The fields as the kernel read them: a value may be wider than its field. */
	switch (op->kind) {
	case FUZZ_IOC_ALLOC: {
		const struct smem_alloc *a = p;

		nonzero = a->flags || a->pad;
		break;
	}
	case FUZZ_IOC_POOL_RESIZE: {
		const struct smem_pool_resize *a = p;

		nonzero = a->flags || a->pad;
		break;
	}
	case FUZZ_IOC_PROTECT:
		nonzero = ((const struct smem_protect *)p)->flags != 0;
		break;
	case FUZZ_IOC_SEAL:
		nonzero = ((const struct smem_seal *)p)->flags != 0;
		break;
	case FUZZ_IOC_WIPE: {
		const struct smem_wipe *a = p;

		nonzero = a->flags || a->pad;
		break;
	}
	default:
		break;
	}
	if (nonzero && !r)
		fuzz_oracle_fail("nonzero flags or padding accepted", op, r);
	if (r || op->val[FUZZ_V_PTR] != FUZZ_PTR_GOOD)
		return;
	if (op->kind == FUZZ_IOC_QUERY) {
		const struct smem_query *q = p;

		if (q->abi_version != SMEM_ABI_VERSION || q->page_size != FUZZ_PAGE ||
		    q->reserved[0] || q->reserved[1] || q->reserved[2] || q->reserved[3] ||
		    q->pages_in_use > q->pool_pages)
			fuzz_oracle_fail("SMEM_IOC_QUERY output inconsistent", op, r);
	} else if (op->kind == FUZZ_IOC_INFO) {
		const struct smem_object_info *info = p;

		if (info->reserved[0] || info->reserved[1] || info->reserved[2] ||
		    info->reserved[3] || (info->size & (FUZZ_PAGE - 1)) ||
		    (info->seals & ~SMEM_SEAL_ALL))
			fuzz_oracle_fail("SMEM_IOC_INFO output inconsistent", op, r);
	}
}

static long fuzz_do_ioctl(const struct fuzz_op *op)
{
	union {
		struct smem_query q;
		struct smem_pool_resize resize;
		char raw[FUZZ_PAGE / 2];
	} arg;
	size_t size = 0;
	unsigned long cmd = fuzz_ioctl_build(op, &arg, &size);
	void *p = fuzz_ioctl_place(op->val[FUZZ_V_PTR] % FUZZ_PTR_NKINDS, &arg, size);
	int fail = fuzz_op_fail_arm(op);
	long r = fuzz_ret(ioctl(fuzz_fd(op, 0), cmd, p));

	fuzz_fail_disarm(fail);
	fuzz_ioctl_check(op, cmd, p, r);
	return r;
}

static long fuzz_do_mmap(const struct fuzz_op *op)
{
	unsigned int slot = op->res[0] % FUZZ_SLOTS;
	uint64_t len = op->val[FUZZ_V_LEN];
	int flags = (int)(op->val[FUZZ_V_FLAGS] & ~(uint64_t)(MAP_FIXED | MAP_FIXED_NOREPLACE |
							   MAP_ANONYMOUS | MAP_GROWSDOWN));
	char *hint = NULL;
	int fail;
	void *p;

	/* In the window when it fits; else wherever the kernel likes. */
	if (len <= FUZZ_HALF_WINDOW && !fuzz_proc.map[slot].addr) {
		hint = fuzz_window(slot);
		flags |= MAP_FIXED;
	}
	fail = fuzz_op_fail_arm(op);
	p = mmap(hint, len, (int)op->val[FUZZ_V_PROT], flags, fuzz_fd(op, 1),
		 (off_t)op->val[FUZZ_V_OFF]);
	fuzz_fail_disarm(fail);
	if (p == MAP_FAILED) {
		long r = -errno;

		if (hint)
			fuzz_reserve(hint, FUZZ_WINDOW);
		return r;
	}
	if (!hint && (char *)p >= fuzz_window(0) &&
	    (char *)p < fuzz_window(FUZZ_SLOTS - 1) + FUZZ_WINDOW) {
		/* A window we keep for another slot: not a place to keep it. */
		munmap(p, len);
		fuzz_reserve(fuzz_window(0), FUZZ_SLOTS * FUZZ_WINDOW);
		return -EEXIST;
	}
	if (!hint && fuzz_proc.map[slot].addr)
		return 0;	/* an extra mapping, only the first is the slot's */
	fuzz_proc.map[slot] = (struct fuzz_map){ .addr = p, .len = len };
	return 0;
}

static long fuzz_do_munmap(const struct fuzz_op *op)
{
	uint64_t len = op->val[FUZZ_V_LEN];
	char *p = fuzz_clamp(op->res[0], op->val[FUZZ_V_OFF], &len);
	long r;

	if (!p)
		return -EBADF;
	r = fuzz_ret(munmap(p, len));
	if (!r && fuzz_in_window(op->res[0], p))
		fuzz_reserve((char *)((unsigned long)p & ~(FUZZ_PAGE - 1)),
			     (len + ((unsigned long)p & (FUZZ_PAGE - 1)) + FUZZ_PAGE - 1) &
			     ~(FUZZ_PAGE - 1));
	return r;
}

static long fuzz_do_mprotect(const struct fuzz_op *op)
{
	uint64_t len = op->val[FUZZ_V_LEN];
	char *p = fuzz_clamp(op->res[0], op->val[FUZZ_V_OFF], &len);

	if (!p)
		return -EBADF;
	return fuzz_ret(mprotect(p, len, (int)op->val[FUZZ_V_PROT] & ~PROT_GROWSDOWN & ~PROT_GROWSUP));
}

static long fuzz_do_madvise(const struct fuzz_op *op)
{
	uint64_t len = op->val[FUZZ_V_LEN];
	char *p = fuzz_clamp(op->res[0], op->val[FUZZ_V_OFF], &len);

	if (!p)
		return -EBADF;
	return fuzz_ret(madvise(p, len, (int)op->val[FUZZ_V_ADVICE]));
}

static long fuzz_do_mremap(const struct fuzz_op *op)
{
	unsigned int slot = op->res[0] % FUZZ_SLOTS;
	uint64_t len = op->val[FUZZ_V_LEN], newlen = op->val[FUZZ_V_NEWLEN];
	int flags = (int)op->val[FUZZ_V_FLAGS] & (MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP);
	char *p = fuzz_clamp(slot, op->val[FUZZ_V_OFF], &len);
	char *target = fuzz_window(slot) + FUZZ_HALF_WINDOW;
	void *q;

	if (!p)
		return -EBADF;
	if (flags & MREMAP_FIXED) {
		if (newlen > FUZZ_HALF_WINDOW || (p >= target && p < target + FUZZ_HALF_WINDOW))
			return -EINVAL;
		q = mremap(p, len, newlen, flags, target);
	} else {
		/* Growing in place could run over the next window. */
		if (fuzz_in_window(slot, p) &&
		    newlen > (uint64_t)(fuzz_window(slot) + FUZZ_WINDOW - p))
			flags &= ~MREMAP_DONTUNMAP;
		if (fuzz_in_window(slot, p) &&
		    newlen > (uint64_t)(fuzz_window(slot) + FUZZ_WINDOW - p) &&
		    !(flags & MREMAP_MAYMOVE))
			return -EINVAL;
		q = mremap(p, len, newlen, flags);
	}
	if (q == MAP_FAILED)
		return -errno;
	if (q != p && !(flags & MREMAP_DONTUNMAP) && fuzz_in_window(slot, p))
		fuzz_reserve(p, len);
	if (!fuzz_in_window(slot, q) && (char *)q >= fuzz_window(0) &&
	    (char *)q < fuzz_window(FUZZ_SLOTS - 1) + FUZZ_WINDOW) {
		munmap(q, newlen);
		fuzz_reserve(fuzz_window(0), FUZZ_SLOTS * FUZZ_WINDOW);
		return -EEXIST;
	}
	fuzz_proc.map[slot] = (struct fuzz_map){ .addr = q, .len = newlen };
	return 0;
}

/* Read a byte of the mapping, and store it back for a write. */
static long fuzz_do_touch(const struct fuzz_op *op)
{
	uint64_t len = 1;
	volatile char *p = fuzz_clamp(op->res[0], op->val[FUZZ_V_OFF], &len);
	int sig;

	if (!p || !len)
		return -EBADF;
	sig = sigsetjmp(fuzz_guard_jmp, 1);
	if (sig)
		return 1000 + sig;
	fuzz_guard_on = 1;
	if (op->val[FUZZ_V_WRITE])
		*p = *p;
	else
		(void)*p;
	fuzz_guard_on = 0;
	return 0;
}

static long fuzz_do_passfd(const struct fuzz_op *op)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int sv[2], fd = fuzz_fd(op, 1);
	long r;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
		return -errno;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	r = fuzz_ret(sendmsg(sv[0], &msg, 0));
	if (!r || r == 1) {
		if (op->val[FUZZ_V_INFLIGHT]) {
			r = 0;	/* the copy dies with the socket */
		} else {
			r = fuzz_ret(recvmsg(sv[1], &msg, 0));
			c = CMSG_FIRSTHDR(&msg);
			if (r >= 0 && c && c->cmsg_type == SCM_RIGHTS) {
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
				fuzz_set_fd(op->res[0], fd);
				r = fd;
			}
		}
	}
	close(sv[0]);
	close(sv[1]);
	return r;
}

static long fuzz_do_ring(int fd, void *buf, uint64_t len)
{
	struct io_uring_sqe *sqe;
	unsigned int tail;
	long r;

	if (fuzz_proc.ring_fd < 0)
		return -ENOSYS;
	/* One request at a time in the process: the ring is shared. */
	pthread_mutex_lock(&fuzz_proc.helpers_lock);
	tail = *fuzz_proc.sq_tail;
	sqe = &fuzz_proc.sqes[tail & *fuzz_proc.sq_mask];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (unsigned long)buf;
	sqe->len = (unsigned int)len;
	fuzz_proc.sq_array[tail & *fuzz_proc.sq_mask] = tail & *fuzz_proc.sq_mask;
	__atomic_store_n(fuzz_proc.sq_tail, tail + 1, __ATOMIC_RELEASE);
	r = fuzz_ret(syscall(__NR_io_uring_enter, fuzz_proc.ring_fd, 1, 1,
			     IORING_ENTER_GETEVENTS, NULL, 0));
	/* The completion's result is not the interest here: consume it. */
	__atomic_store_n(fuzz_proc.cq_head, __atomic_load_n(fuzz_proc.cq_tail, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fuzz_proc.helpers_lock);
	return r;
}

static void fuzz_drain_pipe(void)
{
	char buf[4096];

	while (read(fuzz_proc.pipe[0], buf, sizeof(buf)) > 0)
		;
}

static long fuzz_do_io(const struct fuzz_op *op)
{
	uint64_t len = op->val[FUZZ_V_LEN] < FUZZ_IO_MAX ? op->val[FUZZ_V_LEN] : FUZZ_IO_MAX;
	char *p = fuzz_clamp(op->res[0], op->val[FUZZ_V_OFF], &len);
	uint64_t small = len < FUZZ_PAGE ? len : FUZZ_PAGE;
	struct iovec mine = { .iov_base = fuzz_scratch, .iov_len = small };
	struct iovec theirs = { .iov_base = p, .iov_len = small };
	long r;

	if (!p)
		return -EBADF;
	fuzz_helpers_init();
	switch (op->val[FUZZ_V_VIA] % FUZZ_VIA_NKINDS) {
	case FUZZ_VIA_PIPE_WRITE:
		r = fuzz_ret(write(fuzz_proc.pipe[1], p, len));
		fuzz_drain_pipe();
		return r;
	case FUZZ_VIA_PIPE_READ:
		if (write(fuzz_proc.pipe[1], fuzz_scratch, small) < 0)
			return -errno;
		r = fuzz_ret(read(fuzz_proc.pipe[0], p, len));
		fuzz_drain_pipe();
		return r;
	case FUZZ_VIA_FILE_PWRITE:
		return fuzz_ret(pwrite(fuzz_proc.data_fd, p, len, 0));
	case FUZZ_VIA_FILE_PREAD:
		return fuzz_ret(pread(fuzz_proc.data_fd, p, len, 0));
	case FUZZ_VIA_VMSPLICE:
		theirs.iov_len = len;
		r = fuzz_ret(vmsplice(fuzz_proc.pipe[1], &theirs, 1, SPLICE_F_NONBLOCK));
		fuzz_drain_pipe();
		return r;
	case FUZZ_VIA_ODIRECT:
		return fuzz_ret(pread(fuzz_proc.block_fd, p, len, 0));
	case FUZZ_VIA_URING_READ:
		return fuzz_do_ring(fuzz_proc.data_fd, p, len);
	case FUZZ_VIA_URING_FIXED:
		theirs.iov_len = len;
		if (fuzz_proc.ring_fd < 0)
			return -ENOSYS;
		r = fuzz_ret(syscall(__NR_io_uring_register, fuzz_proc.ring_fd,
				     IORING_REGISTER_BUFFERS, &theirs, 1));
		if (!r)
			syscall(__NR_io_uring_register, fuzz_proc.ring_fd,
				IORING_UNREGISTER_BUFFERS, NULL, 0);
		return r;
	case FUZZ_VIA_PVM_READ:
		return fuzz_ret(process_vm_readv(getpid(), &mine, 1, &theirs, 1, 0));
	case FUZZ_VIA_PVM_WRITE:
		return fuzz_ret(process_vm_writev(getpid(), &mine, 1, &theirs, 1, 0));
	case FUZZ_VIA_PROCMEM_READ:
		return fuzz_ret(pread(fuzz_proc.procmem_fd, fuzz_scratch, small, (off_t)(unsigned long)p));
	default:
		return fuzz_ret(pwrite(fuzz_proc.procmem_fd, fuzz_scratch, small, (off_t)(unsigned long)p));
	}
}

/* One read (@mode O_RDONLY) or write (O_WRONLY) of a sysfs or proc file. */
static long fuzz_file_io(const char *path, int mode, void *buf, size_t len)
{
	int fd = open(path, mode);
	long r;

	if (fd < 0)
		return -errno;
	r = fuzz_ret(mode == O_RDONLY ? read(fd, buf, len) : write(fd, buf, len));
	close(fd);
	return r;
}

static long fuzz_write_text(const char *path, const char *text)
{
	return fuzz_file_io(path, O_WRONLY, (void *)text, strlen(text));
}

static long fuzz_write_param(const char *name, uint64_t value)
{
	char path[96], buf[24];

	snprintf(path, sizeof(path), "/sys/module/smemdev/parameters/%s", name);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)value);
	return fuzz_write_text(path, buf);
}

/* Read one of the module's sysfs files (enum fuzz_attr), as monitoring does. */
static long fuzz_do_sysfs(uint64_t attr)
{
	static const char *const paths[FUZZ_ATTR_NKINDS] = {
		[FUZZ_ATTR_POOL_PAGES] = "/sys/class/misc/smem/pool_pages",
		[FUZZ_ATTR_POOL_BLOCKS] = "/sys/class/misc/smem/pool_blocks",
		[FUZZ_ATTR_PAGES_IN_USE] = "/sys/class/misc/smem/pages_in_use",
		[FUZZ_ATTR_OBJECTS] = "/sys/class/misc/smem/objects",
		[FUZZ_ATTR_ALLOC_FAILURES] = "/sys/class/misc/smem/alloc_failures",
		[FUZZ_ATTR_PAGE_SOURCE] = "/sys/class/misc/smem/page_source",
		[FUZZ_ATTR_BLOCK_PAGES] = "/sys/class/misc/smem/block_pages",
		[FUZZ_ATTR_CARVABLE_PAGES] = "/sys/class/misc/smem/carvable_pages",
		[FUZZ_ATTR_REFUSED_BLOCKS] = "/sys/class/misc/smem/refused_blocks",
		[FUZZ_ATTR_PENDING_BLOCKS] = "/sys/class/misc/smem/pending_blocks",
		[FUZZ_ATTR_USER_MAX_PAGES] = "/sys/class/misc/smem/user_max_pages",
		[FUZZ_ATTR_CRASH_KERNEL_LOADED] = "/sys/class/misc/smem/crash_kernel_loaded",
		[FUZZ_ATTR_USERS] = "/sys/class/misc/smem/users",
		[FUZZ_ATTR_PARAM_USER_MAX_PERCENT] = "/sys/module/smemdev/parameters/user_max_percent",
		[FUZZ_ATTR_PARAM_PAGE_SOURCE] = "/sys/module/smemdev/parameters/page_source",
		[FUZZ_ATTR_PARAM_POOL_MB] = "/sys/module/smemdev/parameters/pool_mb",
	};
	char buf[64];

	return fuzz_file_io(paths[attr % FUZZ_ATTR_NKINDS], O_RDONLY, buf, sizeof(buf));
}

/* Interrupt program thread @thread with SIGUSR1 (a resize: -EINTR). */
static long fuzz_do_signal(uint64_t thread)
{
	pid_t tid = __atomic_load_n(&fuzz_proc.tid[thread % FUZZ_THREADS], __ATOMIC_RELAXED);

	if (!tid)
		return -ESRCH;
	return fuzz_ret(syscall(__NR_tgkill, getpid(), tid, SIGUSR1));
}

/*
 * Take capabilities (FUZZ_CAP_*) away from this thread only (credentials
 * are per thread): a root program that runs without the exemptions.
 */
static long fuzz_do_caps(uint64_t drop)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	uint32_t mask = 0;

	if (drop & FUZZ_CAP_IPC_LOCK)
		mask |= 1U << CAP_IPC_LOCK;
	if (drop & FUZZ_CAP_SYS_RESOURCE)
		mask |= 1U << CAP_SYS_RESOURCE;
	if (drop & FUZZ_CAP_SYS_ADMIN)
		mask |= 1U << CAP_SYS_ADMIN;
	if (syscall(__NR_capget, &hdr, data))
		return -errno;
	/* All three are below 32: the first word holds them. */
	data[0].effective &= ~mask;
	data[0].permitted &= ~mask;
	data[0].inheritable &= ~mask;
	return fuzz_ret(syscall(__NR_capset, &hdr, data));
}

/*
 * Try to hibernate: the module must veto it while secret pages exist.
 * Only ever a freezer test (CONFIG_PM_DEBUG's /sys/power/pm_test): where
 * that cannot be set, nothing is tried, so that a reproducer never
 * hibernates the machine it runs on.  Unless @empty is 1, only while
 * pages are in use: the veto is quick, a freezer test that goes through
 * takes seconds (it preallocates the image, then waits 5 s with every
 * task frozen).
 */
static long fuzz_do_hibernate(uint64_t empty)
{
	char buf[32] = "";
	long r;

	if (empty != 1) {
		r = fuzz_file_io("/sys/class/misc/smem/pages_in_use", O_RDONLY, buf, sizeof(buf) - 1);
		if (r < 0)
			return r;
		if (!strtoul(buf, NULL, 10))
			return -EAGAIN;
	}
	r = fuzz_write_text("/sys/power/pm_test", "freezer");
	if (r < 0)
		return r;
	return fuzz_write_text("/sys/power/state", "disk");
}

/* Become the unprivileged user @uid, keeping /proc/thread-self writable. */
static long fuzz_do_user(uint64_t uid)
{
	if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return -errno;
	prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

/*
 * The same for the calling thread only (the raw system calls: libc's
 * change every thread), so that one process holds pages of two users.
 */
static long fuzz_do_thread_user(uint64_t uid)
{
	if (syscall(__NR_setresgid, uid, uid, uid) || syscall(__NR_setresuid, uid, uid, uid))
		return -errno;
	prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

/* Hand those of @ops[0..n) that are @thread's to an exec'd copy of ourselves. */
static long fuzz_do_exec(const struct fuzz_op *ops, unsigned int n, unsigned int thread)
{
	struct fuzz_prog child = { 0 };
	char memfd_arg[16], kcov_arg[16];
	unsigned int i;
	int memfd;
	pid_t pid;

	for (i = 0; i < n; i++) {
		if (ops[i].thread != thread)
			continue;
		child.ops[child.nops] = ops[i];
		child.ops[child.nops++].thread = 0;
	}
	pid = fork();
	if (pid)
		return pid < 0 ? -errno : 0;
	memfd = memfd_create("smem-fuzz-exec", 0);
	if (memfd < 0 ||
	    write(memfd, fuzz_proc.fd, sizeof(fuzz_proc.fd)) != sizeof(fuzz_proc.fd) ||
	    write(memfd, &child, sizeof(child)) != sizeof(child))
		_exit(2);
	snprintf(memfd_arg, sizeof(memfd_arg), "%d", memfd);
	snprintf(kcov_arg, sizeof(kcov_arg), "%d", fuzz_env.exec_kcov_fd);
	if (fuzz_env.exec_kcov_fd >= 0)
		fcntl(fuzz_env.exec_kcov_fd, F_SETFD, 0);
	execl(fuzz_env.self, fuzz_env.self, "--exec-child", memfd_arg, kcov_arg, (char *)NULL);
	_exit(2);
}

static long fuzz_do_op(const struct fuzz_op *op)
{
	switch (op->kind) {
	case FUZZ_OPEN:
		return fuzz_do_open(op);
	case FUZZ_MMAP:
		return fuzz_do_mmap(op);
	case FUZZ_MUNMAP:
		return fuzz_do_munmap(op);
	case FUZZ_MPROTECT:
		return fuzz_do_mprotect(op);
	case FUZZ_MREMAP:
		return fuzz_do_mremap(op);
	case FUZZ_MADVISE:
		return fuzz_do_madvise(op);
	case FUZZ_TOUCH:
		return fuzz_do_touch(op);
	case FUZZ_PASSFD:
		return fuzz_do_passfd(op);
	case FUZZ_DUP: {
		int fd = dup(fuzz_fd(op, 1));

		if (fd >= 0)
			fuzz_set_fd(op->res[0], fd);
		return fuzz_ret(fd);
	}
	case FUZZ_CLOSE: {
		long r = fuzz_ret(close(fuzz_fd(op, 0)));

		if (!r)
			fuzz_set_fd(op->res[0], -1);
		return r;
	}
	case FUZZ_IO:
		return fuzz_do_io(op);
	case FUZZ_PARAM:
		return fuzz_write_param("user_max_percent", op->val[FUZZ_V_VALUE]);
	case FUZZ_RLIMIT: {
		struct rlimit rl = { op->val[FUZZ_V_VALUE], op->val[FUZZ_V_VALUE] };

		return fuzz_ret(setrlimit(RLIMIT_MEMLOCK, &rl));
	}
	case FUZZ_USER:
		return fuzz_do_thread_user(op->val[FUZZ_V_VALUE]);
	case FUZZ_SLEEP:
		return fuzz_ret(usleep(op->val[FUZZ_V_VALUE] % 100000));
	case FUZZ_SYSFS:
		return fuzz_do_sysfs(op->val[FUZZ_V_VALUE]);
	case FUZZ_SIGNAL:
		return fuzz_do_signal(op->val[FUZZ_V_VALUE]);
	case FUZZ_CAPS:
		return fuzz_do_caps(op->val[FUZZ_V_VALUE]);
	case FUZZ_HIBERNATE:
		return fuzz_do_hibernate(op->val[FUZZ_V_VALUE]);
	default:
		if (op->kind >= FUZZ_IOC_QUERY && op->kind <= FUZZ_IOC_RAW)
			return fuzz_do_ioctl(op);
		return -ENOSYS;
	}
}

/* How many entries from @from on hold the next @n operations of @thread. */
static unsigned int fuzz_span(const struct fuzz_op *ops, unsigned int nops, unsigned int from,
			      unsigned int n, unsigned int thread)
{
	unsigned int i;

	for (i = from; i < nops && n; i++)
		if (ops[i].thread == thread)
			n--;
	return i - from;
}

static int fuzz_reap(void);

/* Run the operations of @thread among @ops, in order. */
static void fuzz_run_ops(const struct fuzz_op *ops, unsigned int nops, unsigned int thread)
{
	unsigned int i, skip = 0;

	if (fuzz_scratch_init())
		return;
	for (i = 0; i < nops; i++) {
		const struct fuzz_op *op = &ops[i];
		unsigned int n = (unsigned int)(op->val[FUZZ_V_COUNT] % FUZZ_MAX_OPS);
		long r;

		if (op->thread != thread)
			continue;
		if (skip) {
			skip--;
			continue;
		}
		if (op->kind == FUZZ_FORK) {
			pid_t pid = fork();

			if (!pid) {
				fuzz_proc.tid[thread % FUZZ_THREADS] = gettid();
				if (fuzz_fork_hook)
					fuzz_fork_hook();
				/* The child: the thread's next n, then out. */
				fuzz_run_ops(ops + i + 1, fuzz_span(ops, nops, i + 1, n, thread), thread);
				_exit(fuzz_reap());
			}
			r = pid < 0 ? -errno : 0;
			skip = n;
		} else if (op->kind == FUZZ_EXEC) {
			r = fuzz_do_exec(ops + i + 1, fuzz_span(ops, nops, i + 1, n, thread), thread);
			skip = n;
		} else {
			r = fuzz_do_op(op);
		}
		if (fuzz_env.verbose)
			fprintf(stderr, "smem-fuzz: t%u #%u kind %u = %ld\n", thread, i, op->kind, r);
	}
}

struct fuzz_thread_arg {
	const struct fuzz_prog *prog;
	unsigned int thread;
	pthread_barrier_t *start;
};

static void *fuzz_thread(void *p)
{
	struct fuzz_thread_arg *a = p;

	__atomic_store_n(&fuzz_proc.tid[a->thread], gettid(), __ATOMIC_RELAXED);
	if (fuzz_thread_hook)
		fuzz_thread_hook(a->thread, 1);
	pthread_barrier_wait(a->start);
	fuzz_run_ops(a->prog->ops, a->prog->nops, a->thread);
	if (fuzz_thread_hook)
		fuzz_thread_hook(a->thread, 0);
	return NULL;
}

/* Wait for every child; a child killed by a signal fails the program. */
static int fuzz_reap(void)
{
	int status, bad = 0;

	while (wait(&status) > 0) {
		if (WIFSIGNALED(status) && !bad)
			bad = 128 + WTERMSIG(status);
		else if (WIFEXITED(status) && WEXITSTATUS(status) > 2 && !bad)
			bad = WEXITSTATUS(status);
	}
	return bad;
}

int fuzz_exec_prog(const struct fuzz_prog *prog)
{
	struct fuzz_thread_arg args[FUZZ_THREADS];
	pthread_t tids[FUZZ_THREADS];
	pthread_barrier_t start;
	unsigned int used = 0, i, n = 0;

	fuzz_proc_init();
	fuzz_signals_init();
	/* Before any thread starts, so that none runs with privileges. */
	if (fuzz_prog_drops_privileges(prog))
		fuzz_do_user(prog->ops[0].val[FUZZ_V_VALUE]);
	for (i = 0; i < prog->nops; i++)
		used |= 1U << (prog->ops[i].thread % FUZZ_THREADS);
	pthread_barrier_init(&start, NULL, __builtin_popcount(used));
	for (i = 0; i < FUZZ_THREADS; i++) {
		if (!(used & (1U << i)))
			continue;
		args[n] = (struct fuzz_thread_arg){ .prog = prog, .thread = i, .start = &start };
		if (pthread_create(&tids[n], NULL, fuzz_thread, &args[n])) {
			perror("smem-fuzz: pthread_create");
			exit(2);
		}
		n++;
	}
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	return fuzz_reap();
}

int fuzz_exec_child(int memfd)
{
	struct fuzz_prog prog;
	int fds[FUZZ_SLOTS];

	if (pread(memfd, fds, sizeof(fds), 0) != sizeof(fds) ||
	    pread(memfd, &prog, sizeof(prog), sizeof(fds)) != sizeof(prog))
		return 2;
	close(memfd);
	fuzz_proc_init();
	memcpy(fuzz_proc.fd, fds, sizeof(fds));
	fuzz_proc.tid[0] = gettid();
	fuzz_signals_init();
	if (fuzz_thread_hook)
		fuzz_thread_hook(0, 1);
	fuzz_run_ops(prog.ops, prog.nops, 0);
	if (fuzz_thread_hook)
		fuzz_thread_hook(0, 0);
	return fuzz_reap();
}
