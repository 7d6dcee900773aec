// SPDX-License-Identifier: GPL-2.0
/*
 * What libsmem leaves of a secret outside the secret's pages:
 *
 *   registers     after smem_secret_new() of a 32, 64 and 256-byte key,
 *                 after smem_secret_copy_out() and after
 *                 smem_secret_close(), no 16-byte piece of the key is in
 *                 the vector and x87 registers of the thread
 *                 (PTRACE_GETREGSET NT_X86_XSTATE and NT_PRFPREG: what a
 *                 core dump's notes hold) and no 8-byte piece in its
 *                 general registers (NT_PRSTATUS).  Control: a plain
 *                 memcpy() of the key leaves pieces there, or the probe
 *                 proves nothing and the test is skipped;
 *   stack         after the same calls, the first call of each library
 *                 function included (lazy binding saves the vector
 *                 registers on the stack), no 16-byte piece on the stack
 *                 of the main thread (/proc/PID/mem over [stack]), or of
 *                 a thread that made the calls.  Control: the key copied
 *                 onto the stack is found;
 *   callback      after a read window whose callback copies the key into
 *                 its stack locals and computes with it (pieces in xmm14,
 *                 xmm15 and r9, as a cipher's key schedule would leave
 *                 them), and after the copy_out and close that follow,
 *                 nothing in the registers and on the stack, as above:
 *                 the library erases what the callback used when the
 *                 window closes.  Control: the same window with
 *                 SMEM_WINDOW_NO_SCRUB leaves pieces on the stack, or the
 *                 probe proves nothing and the test is skipped;
 *   core dump     the same steps again (library calls, callback), but the
 *                 child dumps core (abort()) at the step instead of
 *                 stopping, and the test reads the ELF core: its
 *                 NT_PRSTATUS, NT_PRFPREG and NT_X86_XSTATE notes and the
 *                 PT_LOAD segments of the stacks.  The same controls.
 *                 core_pattern must name a file (a relative one: the core
 *                 lands in the child's working directory, a directory of
 *                 the test's); when it does not, root sets it to "core"
 *                 for the test and restores it, anyone else skips;
 *   enclaves      the same three judges (registers, stacks, core dump)
 *                 after smem_enclave_new(), smem_enclave_read() with a
 *                 callback that copies the bytes (key_fn, below),
 *                 smem_enclave_open() (the secret checked with copy_out),
 *                 smem_secret_seal() of that secret (SMEM_CLOSE) and a
 *                 read of the new enclave, smem_rekey() and the last
 *                 unrefs, in the main thread and in a thread that exits:
 *                 no piece of the enclave's bytes.  The process key is
 *                 the library's own and cannot be looked for: the
 *                 bytes, which it unseals, stand for it.  A core dump
 *                 holds no piece of them anywhere in its memory (the
 *                 page shared with the test aside), but the enclave's
 *                 ciphertext, which it must hold;
 *   memory        64 enclaves read and opened by 16 threads while a
 *                 forked child scans every readable mapping of the
 *                 process through /proc/PID/mem: no 16-byte piece of
 *                 their bytes anywhere in ordinary memory.  Control: a
 *                 pattern kept in a heap buffer is found in every scan;
 *   linking       libsmem is linked with -z now and -z relro;
 *   fork          a thread forks in a loop for SMEM_STRESS_SECONDS (5)
 *                 while another makes, exports, imports and closes
 *                 secrets: no child has a mapping or a descriptor of a
 *                 secret (but for the sealed copy an export gave the
 *                 maker), or reaches one by its address.
 *
 * The key comes from getrandom() (the kernel writes it: no register of
 * the process holds it) into a page shared with the traced child, and the
 * child moves it only with lib_copy_novec() and byte loops that nothing
 * vectorizes, so that only the library's own copies are judged.  The
 * child stops itself (SIGSTOP) after each step and the test, its tracer,
 * reads its registers and stacks; or, for a core dump, runs to one step
 * and aborts there.  A failing child says why and exits.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/prctl.h>
#include <sys/procfs.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <linux/smem.h>
#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

#define MAX_KEY		256
#define VEC_PIECE	16	/* what the vector registers are searched for */
#define GPR_PIECE	8	/* what the general registers are searched for */

static const size_t key_sizes[] = { 32, 64, 256 };

/* What the traced child has just done, at each of its stops. */
enum step {
	STEP_READY,		/* traced, nothing done yet */
	STEP_NEW,		/* smem_secret_new(): the source wiped by the library */
	STEP_WINDOW,		/* a read window whose callback copies the key (key_fn) */
	STEP_COPY_OUT,		/* smem_secret_copy_out(), checked and wiped by the child */
	STEP_CLOSE,		/* smem_secret_close() and the last unref */
	STEP_THREAD,		/* a thread did the steps and was joined */
	STEP_ENCLAVE_NEW,	/* smem_enclave_new(): the source wiped by the library */
	STEP_ENCLAVE_READ,	/* smem_enclave_read() with key_fn() */
	STEP_ENCLAVE_OPEN,	/* smem_enclave_open(), checked by copy_out and wiped */
	STEP_ENCLAVE_SEAL,	/* smem_secret_seal(SMEM_CLOSE), read with key_fn() */
	STEP_ENCLAVE_REKEY,	/* smem_rekey() of the two enclaves */
	STEP_ENCLAVE_UNREF,	/* both enclaves unreferenced */
	STEP_WINDOW_CONTROL,	/* control: the same window, SMEM_WINDOW_NO_SCRUB */
	STEP_STACK_CONTROL,	/* the key copied onto the stack of the child */
	STEP_MEMCPY_CONTROL,	/* the key copied by glibc's memcpy() */
};

static const char *const step_name[] = {
	[STEP_READY] = "start",
	[STEP_NEW] = "smem_secret_new",
	[STEP_WINDOW] = "a read window whose callback copies the key to its stack",
	[STEP_COPY_OUT] = "smem_secret_copy_out",
	[STEP_CLOSE] = "smem_secret_close",
	[STEP_THREAD] = "the steps in a thread, joined",
	[STEP_ENCLAVE_NEW] = "smem_enclave_new",
	[STEP_ENCLAVE_READ] = "smem_enclave_read whose callback copies the bytes to its stack",
	[STEP_ENCLAVE_OPEN] = "smem_enclave_open and copy_out",
	[STEP_ENCLAVE_SEAL] = "smem_secret_seal(SMEM_CLOSE) and a read of the new enclave",
	[STEP_ENCLAVE_REKEY] = "smem_rekey",
	[STEP_ENCLAVE_UNREF] = "smem_enclave_unref of both enclaves",
	[STEP_WINDOW_CONTROL] = "control: that window with SMEM_WINDOW_NO_SCRUB",
	[STEP_STACK_CONTROL] = "control: the key on the stack",
	[STEP_MEMCPY_CONTROL] = "control: memcpy() of the key",
};

/* What a child runs (new_key()): by default the secret steps, in its main thread. */
#define RUN_THREAD	(1U << 0)	/* the steps in a thread instead (STEP_THREAD) */
#define RUN_WINDOW	(1U << 1)	/* STEP_WINDOW and STEP_WINDOW_CONTROL too */
#define RUN_ENCLAVE	(1U << 2)	/* the enclave steps instead of the secret ones */

/* The page the test shares with its traced child. */
struct shared {
	unsigned char key[MAX_KEY];
	size_t len;
	enum step step;
	uintptr_t thread_stack[2];	/* [start, end) of the thread of STEP_THREAD */
	bool in_thread, window, enclave;	/* RUN_THREAD, RUN_WINDOW, RUN_ENCLAVE */
	/* The last VEC_PIECE bytes of the enclave's sealed form: its ciphertext. */
	unsigned char sealed_tail[VEC_PIECE];
	bool dump;			/* not traced: abort() at @dump_at, dumping core */
	enum step dump_at;
	uintptr_t stack[2];		/* [stack] of the child, before its first step */
	size_t depth;			/* how far below its caller key_fn's copy lay */
	uint64_t mix;			/* what key_fn computed */
};

/* --------------------------------------------------------- the child */

#define CHILD_NO_PTRACE	99

static void __attribute__((noreturn, format(printf, 2, 3)))
traced_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "# traced child: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	_exit(code);
}

/*
 * Through a volatile pointer, bound when the test is loaded: the first
 * call through a lazily bound PLT entry would save the vector registers
 * on the stack, where a callback's locals were (raise() is bound by the
 * first stop, before any step).
 */
static void (*volatile dump_core)(void) = abort;

/*
 * The end of a step: a stop for the tracer, or in a dumping child the
 * core dump when this is its step.  raise() and abort() run in the frames
 * below the caller's, where a callback's locals were: key_fn() keeps its
 * copy deeper than either reaches.
 */
static void child_stop(struct shared *sh, enum step step)
{
	sh->step = step;
	if (!sh->dump)
		raise(SIGSTOP);
	else if (step == sh->dump_at)
		dump_core();
}

/* Not on the stack: the stack is what the test searches. */
static unsigned char src_buf[MAX_KEY], out_buf[MAX_KEY], memcpy_buf[MAX_KEY];
/* An enclave's sealed form: more than its bytes. */
static unsigned char form_buf[MAX_KEY + 256];

/* Through a volatile pointer: a call to glibc's memcpy() that stays a call. */
static void *(*volatile glibc_memcpy)(void *, const void *, size_t) = memcpy;

/*
 * Until the library exports smem_secret_read_flags() (LIBSMEM_2), a weak
 * reference keeps this test linking: a library without it erases nothing
 * after a window, and smem_secret_read() is then both kinds of window.
 */
#pragma weak smem_secret_read_flags

static int read_window(struct smem_secret *s, smem_read_fn fn, void *arg, unsigned int flags)
{
	if (!smem_secret_read_flags)
		return smem_secret_read(s, fn, arg);
	return smem_secret_read_flags(s, fn, arg, flags);
}

/*
 * What an application's callback does with a key: copies it into its
 * locals and computes with it, holding 16-byte pieces in xmm14 and xmm15
 * and an 8-byte one in r9 as a cipher's key schedule would (registers
 * that nothing between the window and the stop after it touches).  The
 * copy lies KEY_FN_DEPTH bytes below the callback's frame: under the
 * frames of raise() and abort() at that stop, so that what a window
 * leaves is still there to be found, and well inside the
 * SMEM_SCRUB_DEFAULT bytes the library erases below the window.  Not on
 * ASan's fake stack.  0, or a positive value when the bytes are not the
 * key.
 */
#define KEY_FN_DEPTH	512

struct key_fn_frame {
	unsigned char copy[MAX_KEY];	/* the lower addresses: the deeper end */
	unsigned char above[KEY_FN_DEPTH];
};

static int __attribute__((noinline, no_sanitize_address))
key_fn(const void *buf, size_t len, void *arg)
{
	struct shared *sh = arg;
	struct key_fn_frame f;
	uint64_t mix = 0;

	if (len != sh->len)
		return 1;
	lib_copy_novec(f.copy, buf, len);
	if (!lib_equal_novec(f.copy, sh->key, len))
		return 2;
	for (size_t i = 0; i < len; i++)
		mix = mix * 31 + f.copy[i];
#if defined(__x86_64__)
	__asm__ volatile("movdqu (%1), %%xmm15\n\t"
			 "movdqu 16(%1), %%xmm14\n\t"
			 "movq (%1), %%r9\n\t"
			 "movdqa %%xmm15, %%xmm13\n\t"
			 "pxor %%xmm14, %%xmm13\n\t"
			 "movq %%xmm13, %%rax\n\t"
			 "xor %%r9, %%rax\n\t"
			 "add %%rax, %0"
			 : "+r"(mix)
			 : "r"(f.copy)
			 : "rax", "r9", "xmm13", "xmm14", "xmm15", "memory");
#endif
	sh->mix = mix;
	/* sh->depth held the address of a local of the window's caller. */
	sh->depth -= (uintptr_t)f.copy;
	return 0;
}

/*
 * A read window with key_fn() on @s, or on the enclave @e when not NULL:
 * a child that cannot make one fails.
 */
static void key_window(struct shared *sh, struct smem_secret *s, struct smem_enclave *e,
		       unsigned int flags)
{
	volatile unsigned char mark = 0;
	int err;

	sh->depth = (uintptr_t)&mark;
	err = e ? smem_enclave_read(e, key_fn, sh) : read_window(s, key_fn, sh, flags);
	if (err)
		traced_fail(8, "the %s window with flags %#x: %d", e ? "enclave" : "read", flags,
			   err);
}

/*
 * The library's copies of the key, with a stop after each when @stop;
 * with sh->window, a read window with key_fn() after smem_secret_new().
 */
static void library_steps(struct shared *sh, bool stop)
{
	struct smem_secret *s = NULL;
	ssize_t n;
	int err;

	lib_copy_novec(src_buf, sh->key, sh->len);
	err = smem_secret_new(src_buf, sh->len, 0, &s);
	if (err)
		traced_fail(1, "smem_secret_new: %s", strerror(-err));
	if (!lib_equal_novec(src_buf, NULL, sh->len))
		traced_fail(2, "smem_secret_new left the source as it was");
	if (stop)
		child_stop(sh, STEP_NEW);
	if (sh->window) {
		key_window(sh, s, NULL, 0);
		if (stop)
			child_stop(sh, STEP_WINDOW);
	}
	n = smem_secret_copy_out(s, 0, out_buf, sh->len);
	if (n != (ssize_t)sh->len)
		traced_fail(3, "smem_secret_copy_out: %zd", n);
	if (!lib_equal_novec(out_buf, sh->key, sh->len))
		traced_fail(4, "smem_secret_copy_out gave other bytes");
	lib_wipe_novec(out_buf, sh->len);
	if (stop)
		child_stop(sh, STEP_COPY_OUT);
	err = smem_secret_close(s);
	if (err)
		traced_fail(5, "smem_secret_close: %s", strerror(-err));
	smem_secret_unref(s);
	if (stop)
		child_stop(sh, STEP_CLOSE);
}

/*
 * The library's copies of the bytes of an enclave, with a stop after each
 * when @stop: sealing them from ordinary memory, unsealing them into the
 * thread's scratch for key_fn() and into a new secret, sealing that
 * secret's bytes, sealing both enclaves again under a new key.
 */
static void enclave_steps(struct shared *sh, bool stop)
{
	struct smem_enclave *e = NULL, *sealed = NULL;
	struct smem_secret *s = NULL;
	ssize_t n;
	int err;

	lib_copy_novec(src_buf, sh->key, sh->len);
	err = smem_enclave_new(src_buf, sh->len, 0, &e);
	if (err)
		traced_fail(20, "smem_enclave_new: %s", strerror(-err));
	if (!lib_equal_novec(src_buf, NULL, sh->len))
		traced_fail(21, "smem_enclave_new left the source as it was");
	/*
	 * Nothing secret: the sealed form ends with the ciphertext the
	 * enclave holds, which the test looks for in a core dump, and then
	 * finds there only in the enclave's own memory.
	 */
	n = smem_enclave_export(e, form_buf, sizeof(form_buf));
	if (n < (ssize_t)(sh->len + VEC_PIECE))
		traced_fail(22, "smem_enclave_export: %zd", n);
	lib_copy_novec(sh->sealed_tail, form_buf + n - VEC_PIECE, VEC_PIECE);
	lib_wipe_novec(form_buf, sizeof(form_buf));
	if (stop)
		child_stop(sh, STEP_ENCLAVE_NEW);
	key_window(sh, NULL, e, 0);
	if (stop)
		child_stop(sh, STEP_ENCLAVE_READ);
	err = smem_enclave_open(e, 0, &s);
	if (err)
		traced_fail(23, "smem_enclave_open: %s", strerror(-err));
	n = smem_secret_copy_out(s, 0, out_buf, sh->len);
	if (n != (ssize_t)sh->len || !lib_equal_novec(out_buf, sh->key, sh->len))
		traced_fail(24, "the opened enclave: copy_out %zd, or other bytes", n);
	lib_wipe_novec(out_buf, sh->len);
	if (stop)
		child_stop(sh, STEP_ENCLAVE_OPEN);
	err = smem_secret_seal(s, SMEM_CLOSE, &sealed);
	if (err)
		traced_fail(25, "smem_secret_seal: %s", strerror(-err));
	smem_secret_unref(s);
	key_window(sh, NULL, sealed, 0);
	if (stop)
		child_stop(sh, STEP_ENCLAVE_SEAL);
	err = smem_rekey();
	if (err != 2)
		traced_fail(26, "smem_rekey of two enclaves: %d", err);
	if (stop)
		child_stop(sh, STEP_ENCLAVE_REKEY);
	smem_enclave_unref(e);
	smem_enclave_unref(sealed);
	if (stop)
		child_stop(sh, STEP_ENCLAVE_UNREF);
}

/* The steps of the child: the enclave ones, or the secret ones. */
static void steps(struct shared *sh, bool stop)
{
	if (sh->enclave)
		enclave_steps(sh, stop);
	else
		library_steps(sh, stop);
}

static void *thread_steps(void *arg)
{
	struct shared *sh = arg;
	pthread_attr_t attr;
	size_t size;
	void *addr;

	if (pthread_getattr_np(pthread_self(), &attr) ||
	    pthread_attr_getstack(&attr, &addr, &size))
		traced_fail(6, "pthread_getattr_np");
	pthread_attr_destroy(&attr);
	sh->thread_stack[0] = (uintptr_t)addr;
	sh->thread_stack[1] = (uintptr_t)addr + size;
	steps(sh, false);
	return NULL;
}

/* The key on this function's stack (not on ASan's fake stack) at the stop. */
static void __attribute__((noinline, no_sanitize_address)) stack_control(struct shared *sh)
{
	unsigned char copy[MAX_KEY];

	lib_copy_novec(copy, sh->key, sh->len);
	child_stop(sh, STEP_STACK_CONTROL);
	lib_wipe_novec(copy, sizeof(copy));
}

/* The same window with SMEM_WINDOW_NO_SCRUB, on a secret of its own. */
static void window_control(struct shared *sh)
{
	struct smem_secret *s = NULL;
	int err;

	lib_copy_novec(src_buf, sh->key, sh->len);
	err = smem_secret_new(src_buf, sh->len, 0, &s);
	if (err)
		traced_fail(9, "smem_secret_new: %s", strerror(-err));
	key_window(sh, s, NULL, SMEM_WINDOW_NO_SCRUB);
	child_stop(sh, STEP_WINDOW_CONTROL);
	smem_secret_close(s);
	smem_secret_unref(s);
}

static int stack_range(pid_t pid, uintptr_t *start, uintptr_t *end);

/* Traced, or (sh->dump) dumping core at sh->dump_at. */
static void __attribute__((noreturn)) traced_child(struct shared *sh)
{
	pthread_t t;

	if (sh->dump) {
		/* Now: reading /proc at the step would overwrite the stack below. */
		if (stack_range(getpid(), &sh->stack[0], &sh->stack[1]))
			traced_fail(10, "no [stack] in /proc/self/maps");
	} else if (ptrace(PTRACE_TRACEME, 0, NULL, NULL)) {
		traced_fail(CHILD_NO_PTRACE, "PTRACE_TRACEME: %s", strerror(errno));
	}
	child_stop(sh, STEP_READY);
	if (sh->in_thread) {
		if (pthread_create(&t, NULL, thread_steps, sh) || pthread_join(t, NULL))
			traced_fail(7, "pthread_create");
		child_stop(sh, STEP_THREAD);
	} else {
		steps(sh, true);
	}
	if (sh->window)
		window_control(sh);
	stack_control(sh);
	glibc_memcpy(memcpy_buf, sh->key, sh->len);
	child_stop(sh, STEP_MEMCPY_CONTROL);
	_exit(0);
}

/* ------------------------------------------------------- the tracer */

struct tracee {
	pid_t pid;
	struct shared *sh;
	int result;		/* how the child ended, once it did: child_result() */
};

/*
 * The next SIGSTOP of the child (other signals are passed on): 0, or -1
 * when it ended (t->result) or did not stop within 30 s (killed).
 */
static int tracee_wait(struct tracee *t)
{
	double deadline = now_s() + 30;
	int status;

	for (;;) {
		pid_t r = waitpid(t->pid, &status, WNOHANG);

		if (r < 0) {
			t->result = -1;
			return -1;
		}
		if (r == 0) {
			if (now_s() > deadline) {
				kill(t->pid, SIGKILL);
				waitpid(t->pid, &status, 0);
				t->result = -1;
				return -1;
			}
			sleep_ms(1);
			continue;
		}
		if (!WIFSTOPPED(status)) {
			t->result = child_result(status);
			return -1;
		}
		if (WSTOPSIG(status) == SIGSTOP)
			return 0;
		ptrace(PTRACE_CONT, t->pid, NULL, (void *)(long)WSTOPSIG(status));
	}
}

/* A new key of @len bytes in @sh for a child that runs @run (RUN_*): 0, or -1. */
static int new_key(struct shared *sh, size_t len, unsigned int run)
{
	memset(sh, 0, sizeof(*sh));
	/* The kernel writes the key: no register of this process holds it. */
	if (getrandom(sh->key, len, 0) != (ssize_t)len)
		return -1;
	sh->len = len;
	sh->in_thread = run & RUN_THREAD;
	sh->window = run & RUN_WINDOW;
	sh->enclave = run & RUN_ENCLAVE;
	return 0;
}

/*
 * A traced child with a new key of @len bytes, stopped at STEP_READY: 0
 * or -1.  @run: what it runs (RUN_*).
 */
static int tracee_start(struct tracee *t, struct shared *sh, size_t len, unsigned int run)
{
	t->result = 0;
	if (new_key(sh, len, run))
		return -1;
	t->sh = sh;
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (t->pid == 0)
		traced_child(sh);
	if (tracee_wait(t))
		return -1;
	/* An ASSERT that ends the test ends the child too. */
	ptrace(PTRACE_SETOPTIONS, t->pid, NULL, (void *)(long)PTRACE_O_EXITKILL);
	return 0;
}

/* Let the child run to its next stop: its step, or -1 when it ended. */
static int tracee_next(struct tracee *t)
{
	if (ptrace(PTRACE_CONT, t->pid, NULL, NULL) || tracee_wait(t))
		return -1;
	return (int)t->sh->step;
}

static void tracee_end(struct tracee *t)
{
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
}

/*
 * How many of the @piece-byte pieces of the key (at multiples of @piece)
 * occur in @buf; the offset of the first one found in *@where.
 */
static unsigned int pieces_in(const void *buf, size_t size, const struct shared *sh,
			      size_t piece, size_t *where)
{
	unsigned int n = 0;

	for (size_t i = 0; i + piece <= sh->len; i += piece) {
		const unsigned char *hit = memmem(buf, size, sh->key + i, piece);

		if (hit && !n++)
			*where = (size_t)(hit - (const unsigned char *)buf);
	}
	return n;
}

/* The name of the register at offset @off of the (standard format) XSAVE area. */
static void xstate_place(size_t off, char *name, size_t size)
{
	snprintf(name, size, "XSAVE area offset %zu", off);
#if defined(__x86_64__) || defined(__i386__)
	if (off >= 160 && off < 416) {
		snprintf(name, size, "xmm%zu", (off - 160) / 16);
		return;
	}
	for (unsigned int c = 2; c < 32; c++) {
		unsigned int eax, ebx, ecx, edx;

		if (!__get_cpuid_count(0xd, c, &eax, &ebx, &ecx, &edx) || !eax ||
		    off < ebx || off >= (size_t)ebx + eax)
			continue;
		off -= ebx;
		if (c == 2)
			snprintf(name, size, "ymm%zu (upper half)", off / 16);
		else if (c == 5)
			snprintf(name, size, "k%zu", off / 8);
		else if (c == 6)
			snprintf(name, size, "zmm%zu (upper half)", off / 32);
		else if (c == 7)
			snprintf(name, size, "zmm%zu", 16 + off / 64);
		else
			snprintf(name, size, "XSAVE component %u offset %zu", c, off);
		return;
	}
#endif
}

/* The name of the general register at offset @off of the registers (NT_PRSTATUS). */
static void gpr_place(size_t off, char *name, size_t size)
{
#if defined(__x86_64__)
	static const char *const names[] = {
		"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
		"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp",
	};

	if (off / 8 < sizeof(names) / sizeof(names[0])) {
		snprintf(name, size, "%s%s", names[off / 8], off % 8 ? " (unaligned)" : "");
		return;
	}
#endif
	snprintf(name, size, "general register at offset %zu", off);
}

/* A register set of the stopped child into @buf: its size, or 0. */
static size_t regset(pid_t pid, int type, void *buf, size_t size)
{
	struct iovec iov = { .iov_base = buf, .iov_len = size };

	if (ptrace(PTRACE_GETREGSET, pid, (void *)(long)type, &iov))
		return 0;
	return iov.iov_len;
}

struct regs_seen {
	bool vector;		/* NT_X86_XSTATE or NT_PRFPREG could be read */
	unsigned int pieces;	/* pieces of the key found */
	char place[96];		/* where the first was */
};

static void key_in_registers(const struct tracee *t, struct regs_seen *seen)
{
	static unsigned char buf[64 * 1024];
	static const struct {
		int type;
		const char *name;
		size_t piece;
	} sets[] = {
#ifdef NT_X86_XSTATE
		{ NT_X86_XSTATE, "NT_X86_XSTATE", VEC_PIECE },
#endif
		{ NT_PRFPREG, "NT_PRFPREG", VEC_PIECE },
		{ NT_PRSTATUS, "NT_PRSTATUS", GPR_PIECE },
	};
	char reg[64];

	memset(seen, 0, sizeof(*seen));
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		size_t size = regset(t->pid, sets[i].type, buf, sizeof(buf)), where = 0;
		unsigned int n;

		if (!size)
			continue;
		if (sets[i].type != NT_PRSTATUS)
			seen->vector = true;
		n = pieces_in(buf, size, t->sh, sets[i].piece, &where);
		if (n && !seen->pieces) {
			if (sets[i].type == NT_PRSTATUS)
				gpr_place(where, reg, sizeof(reg));
			else
				xstate_place(where, reg, sizeof(reg));
			snprintf(seen->place, sizeof(seen->place), "%s: %s", sets[i].name, reg);
		}
		seen->pieces += n;
	}
}

/* Pieces of the key in [@start, @end) of the child's memory (/proc/PID/mem). */
static unsigned int key_in_memory(const struct tracee *t, uintptr_t start, uintptr_t end)
{
	size_t size = end - start, where = 0, page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *buf = calloc(1, size);
	unsigned int n = 0;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && buf) {
		/* Page by page: a guard page reads as zeros. */
		for (size_t off = 0; off < size; off += page)
			if (pread(fd, buf + off, page, (off_t)(start + off)) != (ssize_t)page)
				memset(buf + off, 0, page);
		n = pieces_in(buf, size, t->sh, VEC_PIECE, &where);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return n;
}

/* The [stack] mapping of process @pid: 0, or -1. */
static int stack_range(pid_t pid, uintptr_t *start, uintptr_t *end)
{
	char path[64], line[512];
	unsigned long s, e;
	int found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (found && fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &s, &e) == 2) {
			*start = s;
			*end = e;
			found = 0;
		}
	fclose(f);
	return found;
}

/* Pieces of the key on the stacks of the child: [stack], and the thread's. */
static unsigned int key_on_stacks(const struct tracee *t, const char **where)
{
	uintptr_t start, end;
	unsigned int n;

	*where = "no stack";
	if (stack_range(t->pid, &start, &end))
		return 0;
	n = key_in_memory(t, start, end);
	*where = "[stack]";
	if (!n && t->sh->thread_stack[1]) {
		n = key_in_memory(t, t->sh->thread_stack[0], t->sh->thread_stack[1]);
		*where = "the thread's stack";
	}
	return n;
}

/*
 * tracee_start() in a test: false when there is no child, and the test
 * is then skipped (ptrace refused here) or failed.
 */
static bool traced(struct __test_metadata *_metadata, struct tracee *t, struct shared *sh,
		   size_t len, unsigned int run)
{
	if (!tracee_start(t, sh, len, run))
		return true;
	if (t->result == CHILD_NO_PTRACE)
		SKIP(return false, "PTRACE_TRACEME is refused here");
	EXPECT_TRUE(false) TH_LOG("no traced child (%d)", t->result);
	return false;
}

/* --------------------------------------------------------- registers */

/* Every step of a child that runs @run (RUN_*) judged by the registers. */
static void registers_hold_no_key(struct __test_metadata *_metadata, unsigned int run)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bool control = true, vector = true;
	unsigned int control_pieces = 0;

	ASSERT_NE(MAP_FAILED, sh);
	for (size_t k = 0; k < sizeof(key_sizes) / sizeof(key_sizes[0]); k++) {
		struct tracee t;
		struct regs_seen seen;
		int step;

		if (!traced(_metadata, &t, sh, key_sizes[k], run))
			return;
		while ((step = tracee_next(&t)) >= 0) {
			key_in_registers(&t, &seen);
			vector &= seen.vector;
			if (step == STEP_MEMCPY_CONTROL) {
				control &= seen.pieces > 0;
				control_pieces += seen.pieces;
				TH_LOG("%zu-byte key, %s: %u pieces, the first in %s", sh->len,
				       step_name[step], seen.pieces, seen.place);
				continue;
			}
			if (step == STEP_STACK_CONTROL)
				continue;
			EXPECT_EQ(0, seen.pieces)
				TH_LOG("%zu-byte key, after %s: %u pieces of it in the registers, the first in %s",
				       sh->len, step_name[step], seen.pieces, seen.place);
		}
		EXPECT_EQ(0, t.result) TH_LOG("the child failed (%d)", t.result);
		tracee_end(&t);
	}
	munmap(sh, sizeof(*sh));
	/* A leak found is a failure, whatever the control says. */
	if (_metadata->exit_code != KSFT_PASS)
		return;
	if (!vector)
		SKIP(return, "no vector register set through PTRACE_GETREGSET here");
	if (!control)
		SKIP(return, "glibc's memcpy() left %u pieces of the keys in the registers, not in "
		     "each: no AVX-512 or AVX2 here? The probe would prove nothing", control_pieces);
}

TEST(registers)
{
	registers_hold_no_key(_metadata, 0);
}

/*
 * The enclave steps: what sealing and unsealing (libsodium's vector code)
 * and key_fn() in the enclave's window leave in the registers.
 */
TEST(enclave_registers)
{
	registers_hold_no_key(_metadata, RUN_ENCLAVE);
}

/* ------------------------------------------------------------- stack */

/* Every step of a child that runs @run (RUN_*) judged by the stacks. */
static void stacks_hold_no_key(struct __test_metadata *_metadata, unsigned int run)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, sh);
	for (size_t k = 0; k < sizeof(key_sizes) / sizeof(key_sizes[0]); k++) {
		bool control_found = false;
		struct tracee t;
		const char *where;
		unsigned int n;
		int step;

		if (!traced(_metadata, &t, sh, key_sizes[k], run))
			return;
		while ((step = tracee_next(&t)) >= 0) {
			if (step == STEP_MEMCPY_CONTROL)
				continue;
			n = key_on_stacks(&t, &where);
			if (step == STEP_STACK_CONTROL) {
				control_found = n > 0;
				continue;
			}
			EXPECT_EQ(0, n)
				TH_LOG("%zu-byte key, after %s: %u of its %zu pieces on %s",
				       sh->len, step_name[step], n, sh->len / VEC_PIECE, where);
		}
		EXPECT_EQ(0, t.result) TH_LOG("the child failed (%d)", t.result);
		EXPECT_TRUE(control_found)
			TH_LOG("%zu-byte key: the control copy on the stack was not found", sh->len);
		tracee_end(&t);
	}
	munmap(sh, sizeof(*sh));
}

TEST(stack)
{
	stacks_hold_no_key(_metadata, 0);
}

TEST(thread_stack)
{
	stacks_hold_no_key(_metadata, RUN_THREAD);
}

TEST(enclave_stack)
{
	stacks_hold_no_key(_metadata, RUN_ENCLAVE);
}

/* The thread's scratch is wiped when the thread ends: nothing on its stack either. */
TEST(enclave_thread_stack)
{
	stacks_hold_no_key(_metadata, RUN_ENCLAVE | RUN_THREAD);
}

/* ---------------------------------------------------------- callback */

/*
 * The steps with a read window whose callback copies the key to its stack
 * and computes with it (key_fn) between new and copy_out: after the
 * window and after each later step, no piece of the key in the registers
 * or on the stack.  Control: the same window with SMEM_WINDOW_NO_SCRUB
 * leaves pieces on the stack (in the registers too, most often: logged).
 */
TEST(window_callback)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bool control = true;

	ASSERT_NE(MAP_FAILED, sh);
	for (size_t k = 0; k < sizeof(key_sizes) / sizeof(key_sizes[0]); k++) {
		struct regs_seen seen;
		struct tracee t;
		const char *where;
		unsigned int n;
		int step;

		if (!traced(_metadata, &t, sh, key_sizes[k], RUN_WINDOW))
			return;
		while ((step = tracee_next(&t)) >= 0) {
			if (step == STEP_STACK_CONTROL || step == STEP_MEMCPY_CONTROL)
				continue;
			key_in_registers(&t, &seen);
			n = key_on_stacks(&t, &where);
			if (step == STEP_WINDOW_CONTROL) {
				control &= n > 0;
				TH_LOG("%zu-byte key, %s: %u pieces on %s, %u in the registers (%s); "
				       "the callback's copy %zu bytes below the window's caller",
				       sh->len, step_name[step], n, where, seen.pieces,
				       seen.pieces ? seen.place : "none", sh->depth);
				continue;
			}
			EXPECT_EQ(0, seen.pieces)
				TH_LOG("%zu-byte key, after %s: %u pieces of it in the registers, the first in %s",
				       sh->len, step_name[step], seen.pieces, seen.place);
			EXPECT_EQ(0, n)
				TH_LOG("%zu-byte key, after %s: %u of its %zu pieces on %s",
				       sh->len, step_name[step], n, sh->len / VEC_PIECE, where);
		}
		EXPECT_EQ(0, t.result) TH_LOG("the child failed (%d)", t.result);
		tracee_end(&t);
	}
	munmap(sh, sizeof(*sh));
	if (_metadata->exit_code != KSFT_PASS)
		return;
	if (!control)
		SKIP(return, "the window with SMEM_WINDOW_NO_SCRUB left no piece of the key on "
		     "the stack: the probe would prove nothing");
}

/* -------------------------------------------------------- core dumps */

#define CORE_PATTERN	"/proc/sys/kernel/core_pattern"

/*
 * What a core dump holds of the key: pieces in the register notes of its
 * threads (NT_PRSTATUS: 8-byte pieces; NT_PRFPREG, NT_X86_XSTATE: 16-byte
 * ones) and in the PT_LOAD segments of the stacks (16-byte pieces).
 */
struct core_seen {
	bool vector;		/* a NT_PRFPREG or NT_X86_XSTATE note was there */
	bool stack;		/* a segment of [stack] was there */
	unsigned int regs;	/* pieces in the notes */
	unsigned int stack_pieces;
	unsigned int memory_pieces;	/* in any segment, the page shared with the test aside */
	uint64_t memory_at;	/* the address of the first */
	bool ciphertext;	/* the tail of the enclave's sealed form was there */
	char place[96];		/* where the first piece in the notes was */
};

#define NOTE_ALIGN(x)	(((size_t)(x) + 3) & ~(size_t)3)

static void core_notes(const unsigned char *p, size_t size, const struct shared *sh,
		       struct core_seen *seen)
{
	size_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= size) {
		const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(p + off);
		const char *name = (const char *)(nh + 1), *set = NULL;
		size_t desc = off + sizeof(*nh) + NOTE_ALIGN(nh->n_namesz), where = 0;
		size_t piece = VEC_PIECE;
		unsigned int n;
		char reg[64];

		if (desc > size || nh->n_descsz > size - desc)
			return;
		off = desc + NOTE_ALIGN(nh->n_descsz);
		if (nh->n_namesz == 5 && !memcmp(name, "CORE", 5) && nh->n_type == NT_PRSTATUS) {
			set = "NT_PRSTATUS";
			piece = GPR_PIECE;
		} else if (nh->n_namesz == 5 && !memcmp(name, "CORE", 5) &&
			   nh->n_type == NT_PRFPREG) {
			set = "NT_PRFPREG";
#ifdef NT_X86_XSTATE
		} else if (nh->n_namesz == 6 && !memcmp(name, "LINUX", 6) &&
			   nh->n_type == NT_X86_XSTATE) {
			set = "NT_X86_XSTATE";
#endif
		}
		if (!set)
			continue;
		if (piece == VEC_PIECE)
			seen->vector = true;
		n = pieces_in(p + desc, nh->n_descsz, sh, piece, &where);
		if (n && !seen->regs) {
			if (piece == GPR_PIECE && where >= offsetof(struct elf_prstatus, pr_reg))
				gpr_place(where - offsetof(struct elf_prstatus, pr_reg), reg,
					  sizeof(reg));
			else if (piece == GPR_PIECE)
				snprintf(reg, sizeof(reg), "prstatus offset %zu", where);
			else
				xstate_place(where, reg, sizeof(reg));
			snprintf(seen->place, sizeof(seen->place), "%s: %s", set, reg);
		}
		seen->regs += n;
	}
}

/*
 * The stacks in the segments of the core: the whole segment that holds
 * the top of the child's [stack] (it may have grown down since the child
 * read its range), and the part of any segment in the thread's stack.
 */
static void core_stacks(const unsigned char *core, size_t size, const Elf64_Phdr *ph,
			const struct shared *sh, struct core_seen *seen)
{
	uint64_t lo = ph->p_vaddr, hi = ph->p_vaddr + ph->p_filesz;
	size_t where = 0;

	if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		return;
	if (sh->stack[1] > lo && sh->stack[1] <= hi) {
		seen->stack = true;
		seen->stack_pieces += pieces_in(core + ph->p_offset, ph->p_filesz, sh, VEC_PIECE,
						&where);
		return;
	}
	if (sh->thread_stack[0] > lo)
		lo = sh->thread_stack[0];
	if (sh->thread_stack[1] < hi)
		hi = sh->thread_stack[1];
	if (lo < hi)
		seen->stack_pieces += pieces_in(core + ph->p_offset + (lo - ph->p_vaddr), hi - lo, sh,
						VEC_PIECE, &where);
}

/* Pieces of the key in [@lo, @hi) of the segment @ph at @seg, for core_memory(). */
static void core_range(const unsigned char *seg, const Elf64_Phdr *ph, uint64_t lo, uint64_t hi,
		       const struct shared *sh, struct core_seen *seen)
{
	size_t where = 0;
	unsigned int n;

	if (lo >= hi)
		return;
	n = pieces_in(seg + (lo - ph->p_vaddr), hi - lo, sh, VEC_PIECE, &where);
	if (n && !seen->memory_pieces)
		seen->memory_at = lo + where;
	seen->memory_pieces += n;
	if (sh->enclave && memmem(seg + (lo - ph->p_vaddr), hi - lo, sh->sealed_tail, VEC_PIECE))
		seen->ciphertext = true;
}

/*
 * The whole memory in the core, every segment but the page shared with
 * the test (which holds the key): pieces of the key, and the enclave's
 * ciphertext.
 */
static void core_memory(const unsigned char *core, size_t size, const Elf64_Phdr *ph,
			const struct shared *sh, struct core_seen *seen)
{
	uint64_t lo = ph->p_vaddr, hi = ph->p_vaddr + ph->p_filesz;
	uint64_t sh_lo = (uintptr_t)sh, sh_hi = sh_lo + sizeof(*sh);

	if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
		return;
	if (sh_hi <= lo || sh_lo >= hi) {
		core_range(core + ph->p_offset, ph, lo, hi, sh, seen);
		return;
	}
	core_range(core + ph->p_offset, ph, lo, sh_lo > lo ? sh_lo : lo, sh, seen);
	core_range(core + ph->p_offset, ph, sh_hi < hi ? sh_hi : hi, hi, sh, seen);
}

/* The ELF core file at @path, judged: 0, or -1 when it is no ELF64 core. */
static int core_judge(const char *path, const struct shared *sh, struct core_seen *seen)
{
	const unsigned char *core;
	const Elf64_Ehdr *eh;
	struct stat st;
	int fd, ret = -1;

	memset(seen, 0, sizeof(*seen));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || (size_t)st.st_size < sizeof(*eh)) {
		close(fd);
		return -1;
	}
	core = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (core == MAP_FAILED)
		return -1;
	eh = (const Elf64_Ehdr *)core;
	if (!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
	    eh->e_type == ET_CORE && eh->e_phentsize == sizeof(Elf64_Phdr) &&
	    eh->e_phoff <= (size_t)st.st_size &&
	    eh->e_phnum <= ((size_t)st.st_size - eh->e_phoff) / sizeof(Elf64_Phdr)) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(core + eh->e_phoff);

		for (int i = 0; i < eh->e_phnum; i++, ph++) {
			if (ph->p_type == PT_LOAD) {
				core_stacks(core, st.st_size, ph, sh, seen);
				core_memory(core, st.st_size, ph, sh, seen);
			} else if (ph->p_type == PT_NOTE && ph->p_offset <= (size_t)st.st_size &&
				   ph->p_filesz <= st.st_size - ph->p_offset) {
				core_notes(core + ph->p_offset, ph->p_filesz, sh, seen);
			}
		}
		ret = 0;
	}
	munmap((void *)core, st.st_size);
	return ret;
}

enum { CORE_JUDGED, CORE_FAILED, CORE_NONE };

/*
 * A child, not traced, with the key in @sh runs to step @at and dumps core
 * there, in @dir (its working directory); the core, judged into @seen,
 * is removed.  CORE_JUDGED; CORE_FAILED, or CORE_NONE when no core was
 * written, with why in @why.
 */
static int dump_at(struct shared *sh, enum step at, const char *dir,
		   struct core_seen *seen, char *why, size_t size)
{
	char path[64 + sizeof(((struct dirent *)0)->d_name)] = "";
	double deadline = now_s() + 30;
	struct dirent *d;
	int status, ret;
	pid_t pid, r;
	DIR *dirp;

	sh->dump = true;
	sh->dump_at = at;
	pid = fork();
	if (pid < 0) {
		snprintf(why, size, "fork: %s", strerror(errno));
		return CORE_FAILED;
	}
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		if (setrlimit(RLIMIT_CORE, &rl) && !getrlimit(RLIMIT_CORE, &rl)) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_CORE, &rl);
		}
		if (chdir(dir))
			traced_fail(11, "chdir %s: %s", dir, strerror(errno));
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		traced_child(sh);
	}
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_s() < deadline)
		sleep_ms(5);
	if (r != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(why, size, "the child did not end within 30 s");
		return CORE_FAILED;
	}
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		snprintf(why, size, "the child ended (%d) before it could dump core",
			 child_result(status));
		return CORE_FAILED;
	}
	/* Whatever core_pattern named it (core, core.PID, ...): the only file there. */
	dirp = opendir(dir);
	while (dirp && (d = readdir(dirp)))
		if (d->d_name[0] != '.' && !path[0])
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
	if (dirp)
		closedir(dirp);
	if (!WCOREDUMP(status) || !path[0]) {
		snprintf(why, size, "SIGABRT dumped no core (RLIMIT_CORE's hard limit? %s?)",
			 CORE_PATTERN);
		if (path[0])
			unlink(path);
		return CORE_NONE;
	}
	ret = core_judge(path, sh, seen) ? CORE_FAILED : CORE_JUDGED;
	if (ret == CORE_FAILED)
		snprintf(why, size, "%.100s is no ELF64 core", path);
	unlink(path);
	return ret;
}

static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (f && fgets(buf, (int)size, f)) {
		buf[strcspn(buf, "\n")] = 0;
		ret = 0;
	}
	if (f)
		fclose(f);
	return ret;
}

static int write_line(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = -1;

	if (fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text))
		ret = 0;
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * A directory of the test's for the cores, and a core_pattern that puts
 * them there: a relative file name.  A pipe or a path elsewhere is
 * replaced with "core" for the test, by root only, and restored.
 */
FIXTURE(core) {
	char dir[64];
	char pattern[256];	/* the core_pattern to restore, or "" */
};

FIXTURE_SETUP(core)
{
	char pattern[256];

	self->pattern[0] = 0;
	snprintf(self->dir, sizeof(self->dir), "/tmp/smem_core.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	if (read_line(CORE_PATTERN, pattern, sizeof(pattern))) {
		rmdir(self->dir);
		SKIP(return, "%s cannot be read", CORE_PATTERN);
	}
	if (pattern[0] != '|' && !strchr(pattern, '/'))
		return;
	if (geteuid()) {
		rmdir(self->dir);
		SKIP(return, "core_pattern is \"%s\", not a file in the working directory, "
		     "and only root may change it", pattern);
	}
	if (write_line(CORE_PATTERN, "core")) {
		rmdir(self->dir);
		SKIP(return, "core_pattern is \"%s\" and cannot be set to \"core\": %s",
		     pattern, strerror(errno));
	}
	snprintf(self->pattern, sizeof(self->pattern), "%s", pattern);
}

FIXTURE_TEARDOWN(core)
{
	if (self->pattern[0])
		write_line(CORE_PATTERN, self->pattern);
	rmdir(self->dir);
}

/* The enclave of the steps is alive there: its ciphertext must be in the core. */
static bool enclave_alive(enum step step)
{
	return step == STEP_ENCLAVE_NEW || step == STEP_ENCLAVE_READ ||
	       step == STEP_ENCLAVE_OPEN || step == STEP_ENCLAVE_SEAL;
}

/*
 * A core dump at each of @steps of a child that runs @run (RUN_*), for
 * each key size: no piece of the key in the notes, the stacks or anywhere
 * in the memory (the page shared with the test aside) but for the
 * controls.  Controls: STEP_STACK_CONTROL must be found on the stack and
 * STEP_MEMCPY_CONTROL's copy in the memory (the segments are read right),
 * the enclave's ciphertext in the memory while it lives;
 * STEP_MEMCPY_CONTROL in the notes and STEP_WINDOW_CONTROL on the stack,
 * or the test proves nothing and is skipped.
 */
static void core_steps(struct __test_metadata *_metadata, const char *dir, unsigned int run,
		       const enum step *steps, size_t nsteps)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bool vector = true, memcpy_control = true, window_control = true;
	unsigned int cores = 0;

	ASSERT_NE(MAP_FAILED, sh);
	for (size_t k = 0; k < sizeof(key_sizes) / sizeof(key_sizes[0]); k++) {
		for (size_t i = 0; i < nsteps; i++) {
			enum step step = steps[i];
			struct core_seen seen;
			char why[160];
			int r;

			ASSERT_EQ(0, new_key(sh, key_sizes[k], run));
			r = dump_at(sh, step, dir, &seen, why, sizeof(why));
			if (r == CORE_NONE) {
				munmap(sh, sizeof(*sh));
				SKIP(return, "%s", why);
			}
			EXPECT_EQ(CORE_JUDGED, r) TH_LOG("%zu-byte key, at %s: %s", sh->len,
							 step_name[step], why);
			if (r != CORE_JUDGED)
				continue;
			cores++;
			vector &= seen.vector;
			EXPECT_TRUE(seen.stack)
				TH_LOG("%zu-byte key, at %s: no segment of [stack] %#lx-%#lx in the core",
				       sh->len, step_name[step], (unsigned long)sh->stack[0],
				       (unsigned long)sh->stack[1]);
			if (enclave_alive(step))
				EXPECT_TRUE(seen.ciphertext)
					TH_LOG("%zu-byte key, at %s: the enclave's ciphertext is not in the core",
					       sh->len, step_name[step]);
			switch (step) {
			case STEP_STACK_CONTROL:
				EXPECT_LT(0, seen.stack_pieces)
					TH_LOG("%zu-byte key: the control copy on the stack is not in the core",
					       sh->len);
				break;
			case STEP_MEMCPY_CONTROL:
				EXPECT_LT(0, seen.memory_pieces)
					TH_LOG("%zu-byte key: the copy memcpy() made is not in the core",
					       sh->len);
				memcpy_control &= seen.regs > 0;
				TH_LOG("%zu-byte key, %s: %u pieces in the notes, the first in %s",
				       sh->len, step_name[step], seen.regs, seen.place);
				break;
			case STEP_WINDOW_CONTROL:
				window_control &= seen.stack_pieces > 0;
				TH_LOG("%zu-byte key, %s: %u pieces in the stacks, %u in the notes (%s); "
				       "the callback's copy %zu bytes below the window's caller",
				       sh->len, step_name[step], seen.stack_pieces, seen.regs,
				       seen.regs ? seen.place : "none", sh->depth);
				break;
			default:
				EXPECT_EQ(0, seen.regs)
					TH_LOG("%zu-byte key, core dumped after %s: %u pieces of it in the notes, the first in %s",
					       sh->len, step_name[step], seen.regs, seen.place);
				EXPECT_EQ(0, seen.stack_pieces)
					TH_LOG("%zu-byte key, core dumped after %s: %u of its %zu pieces in the stacks",
					       sh->len, step_name[step], seen.stack_pieces,
					       sh->len / VEC_PIECE);
				EXPECT_EQ(0, seen.memory_pieces)
					TH_LOG("%zu-byte key, core dumped after %s: %u of its %zu pieces in the memory, the first at %#llx",
					       sh->len, step_name[step], seen.memory_pieces,
					       sh->len / VEC_PIECE,
					       (unsigned long long)seen.memory_at);
			}
		}
	}
	munmap(sh, sizeof(*sh));
	TH_LOG("%u cores read (%s)", cores, lib_backend());
	if (_metadata->exit_code != KSFT_PASS)
		return;
	if (!vector)
		SKIP(return, "no NT_PRFPREG or NT_X86_XSTATE note in the cores");
	if (!memcpy_control)
		SKIP(return, "glibc's memcpy() left no piece of some key in the notes: the probe "
		     "would prove nothing");
	if (!window_control)
		SKIP(return, "the window with SMEM_WINDOW_NO_SCRUB left no piece of some key on "
		     "the stack: the probe would prove nothing");
}

/* new, copy_out, close; the same in a thread. */
TEST_F_TIMEOUT(core, library_calls, 120)
{
	static const enum step steps[] = {
		STEP_NEW, STEP_COPY_OUT, STEP_CLOSE, STEP_STACK_CONTROL, STEP_MEMCPY_CONTROL,
	}, in_thread[] = { STEP_THREAD };

	core_steps(_metadata, self->dir, 0, steps, sizeof(steps) / sizeof(steps[0]));
	if (_metadata->exit_code == KSFT_PASS)
		core_steps(_metadata, self->dir, RUN_THREAD, in_thread, 1);
}

/* new, a read window with key_fn(), copy_out, close; control: SMEM_WINDOW_NO_SCRUB. */
TEST_F_TIMEOUT(core, window_callback, 120)
{
	static const enum step steps[] = {
		STEP_NEW, STEP_WINDOW, STEP_COPY_OUT, STEP_CLOSE, STEP_WINDOW_CONTROL,
	};

	core_steps(_metadata, self->dir, RUN_WINDOW, steps, sizeof(steps) / sizeof(steps[0]));
}

/*
 * The enclave steps, and the same in a thread; controls: those of
 * library_calls, and the window with SMEM_WINDOW_NO_SCRUB (key_fn(), which
 * the enclave's read window runs, leaves the bytes when not erased).
 */
TEST_F_TIMEOUT(core, enclave_calls, 180)
{
	static const enum step steps[] = {
		STEP_ENCLAVE_NEW, STEP_ENCLAVE_READ, STEP_ENCLAVE_OPEN, STEP_ENCLAVE_SEAL,
		STEP_ENCLAVE_REKEY, STEP_ENCLAVE_UNREF, STEP_WINDOW_CONTROL, STEP_STACK_CONTROL,
		STEP_MEMCPY_CONTROL,
	}, in_thread[] = { STEP_THREAD };

	core_steps(_metadata, self->dir, RUN_ENCLAVE | RUN_WINDOW, steps,
		   sizeof(steps) / sizeof(steps[0]));
	if (_metadata->exit_code == KSFT_PASS)
		core_steps(_metadata, self->dir, RUN_ENCLAVE | RUN_THREAD, in_thread, 1);
}

/* ------------------------------------------------------------ memory */

/*
 * SCAN_ENCLAVES enclaves of SCAN_LEN random bytes, read and opened by
 * SCAN_THREADS threads in a loop, while a forked child reads every
 * mapping of the test's process through /proc/PID/mem, again and again
 * (SCAN_PASSES times and SCAN_SECONDS at least): no SCAN_PIECE-byte piece
 * of any of them (at any offset) anywhere in ordinary memory.  The child
 * makes the bytes (getrandom(2)) and hands them over a pipe, which read(2)
 * empties into the buffer that smem_enclave_new() seals and wipes: the
 * test's own code never holds them in a register or on its stack, and its
 * threads check what they read against a hash.  Control: one more
 * pattern, kept in a heap buffer, is found whole in every pass.
 *
 * Secret memory is the library's: mappings left out of core dumps and
 * locked or wiped in a forked child (VmFlags "dd", and "lo" or "wf": ASan
 * makes mlock() a no-op); no other mapping of the test's is both.  Where
 * the backend makes them unreadable (SMEM_G_NO_GUP) they are judged as
 * the rest, and the threads run on while a pass reads.
 * Elsewhere (mlock) what they hold is only counted; a secret's mapping
 * has no such flags for a moment while it is made, so each pass then
 * stops the process (SIGSTOP) and reads a still picture, every thread
 * wherever it was, and the threads run SCAN_RUN_MS between passes.
 * /proc/PID/mem reads PROT_NONE mappings too (FOLL_FORCE): the library's
 * are read, a secret's pages between windows; the others are guard pages
 * and reserved ranges, never written, and are not.  Nor are pages neither
 * present nor swapped (/proc/PID/pagemap: nothing was written there, they
 * read as zeros or as their file), and a mapping larger than
 * SCAN_MAX_MAP, which is a sanitizer's shadow and holds none of the
 * program's data.
 */
#define SCAN_ENCLAVES	64
#define SCAN_PATTERNS	(SCAN_ENCLAVES + 1)	/* the last is the control */
#define SCAN_LEN	32
#define SCAN_PIECE	16
#define SCAN_THREADS	16
#define SCAN_PASSES	5	/* at least, and for SCAN_SECONDS at least */
#define SCAN_SECONDS	3
#define SCAN_RUN_MS	10
#define SCAN_CHUNK	((size_t)1 << 20)
#define SCAN_MAX_MAP	((uint64_t)64 << 30)
#define SCAN_SLOT_BITS	12

_Static_assert((1 << SCAN_SLOT_BITS) >= 2 * SCAN_PATTERNS * (SCAN_LEN - SCAN_PIECE + 1),
	       "the open addressing of scan_index has room to spare");

/* Every SCAN_PIECE-byte piece of the patterns, by its first 8 bytes. */
struct scan_index {
	unsigned char pattern[SCAN_PATTERNS][SCAN_LEN];
	uint8_t filter[(1 << 16) / 8];	/* the first 2 bytes of some piece */
	struct {
		uint64_t head;
		uint8_t used, pattern, offset;
	} slot[1 << SCAN_SLOT_BITS];
};

/* What the child found, for the test: its pipe carries this at the end. */
struct scan_count {
	int error;			/* errno of /proc/PID/mem, pagemap, smaps, or 0 */
	unsigned int passes, control_passes;	/* passes made; that found the control */
	uint64_t pieces, whole;		/* offsets of pieces, whole patterns in ordinary memory */
	uint64_t secret_pieces, secret_whole;	/* the same in secret memory */
	uint64_t control_pieces, control_whole;
	uint64_t bytes, unreadable, skipped;	/* read; pages that were not; mappings left */
	uint64_t first_at;		/* the first piece in ordinary memory */
	char first_map[160];		/* its mapping, as smaps names it */
};

/* FNV-1a: one byte at a time, which nothing vectorizes. */
static uint64_t scan_hash(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static size_t scan_slot(uint64_t head)
{
	return (size_t)((head * 0x9e3779b97f4a7c15ULL) >> (64 - SCAN_SLOT_BITS));
}

static void scan_index_build(struct scan_index *ix)
{
	for (unsigned int p = 0; p < SCAN_PATTERNS; p++) {
		for (unsigned int off = 0; off + SCAN_PIECE <= SCAN_LEN; off++) {
			const unsigned char *piece = ix->pattern[p] + off;
			uint16_t first = (uint16_t)(piece[0] | piece[1] << 8);
			uint64_t head;
			size_t i;

			memcpy(&head, piece, 8);
			i = scan_slot(head);
			while (ix->slot[i].used)
				i = (i + 1) % (1 << SCAN_SLOT_BITS);
			ix->slot[i].head = head;
			ix->slot[i].used = 1;
			ix->slot[i].pattern = (uint8_t)p;
			ix->slot[i].offset = (uint8_t)off;
			ix->filter[first / 8] |= (uint8_t)(1 << first % 8);
		}
	}
}

/*
 * The pieces in @buf (@n bytes read at @addr), of a mapping @secret or
 * not.  Only offsets that SCAN_LEN bytes follow are looked at, so that a
 * whole pattern is seen whole, but for the end of a run of pages (@last):
 * the caller reads the rest of a run after the last SCAN_LEN - 1 bytes.
 */
static void scan_buf(const struct scan_index *ix, const unsigned char *buf, size_t n,
		     uint64_t addr, bool secret, bool last, struct scan_count *c,
		     const char *map)
{
	size_t end = last ? n : n - (SCAN_LEN - 1);

	for (size_t o = 0; o < end && o + SCAN_PIECE <= n; o++) {
		uint16_t first = (uint16_t)(buf[o] | buf[o + 1] << 8);
		uint64_t head;

		if (!(ix->filter[first / 8] & (1 << first % 8)))
			continue;
		memcpy(&head, buf + o, 8);
		for (size_t i = scan_slot(head); ix->slot[i].used;
		     i = (i + 1) % (1 << SCAN_SLOT_BITS)) {
			unsigned int p = ix->slot[i].pattern, off = ix->slot[i].offset;
			bool whole;

			if (ix->slot[i].head != head ||
			    memcmp(buf + o, ix->pattern[p] + off, SCAN_PIECE))
				continue;
			whole = !off && o + SCAN_LEN <= n &&
				!memcmp(buf + o, ix->pattern[p], SCAN_LEN);
			if (p == SCAN_ENCLAVES) {
				c->control_pieces++;
				c->control_whole += whole;
			} else if (secret) {
				c->secret_pieces++;
				c->secret_whole += whole;
			} else {
				if (!c->pieces++) {
					c->first_at = addr + o;
					snprintf(c->first_map, sizeof(c->first_map), "%s", map);
				}
				c->whole += whole;
			}
		}
	}
}

/* A mapping of the process, from its smaps. */
struct scan_map {
	uint64_t start, end;
	bool none, secret;		/* PROT_NONE; the library's */
	char line[160];
};

/* Every mapping of @pid, into *@maps: how many, or -1. */
static int scan_maps(pid_t pid, struct scan_map **maps)
{
	struct scan_map *m = NULL, *cur = NULL;
	char path[64], line[512], perms[5];
	unsigned long start, end;
	int n = 0, size = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's line; the others start "Name:". */
		if (sscanf(line, "%lx-%lx %4s ", &start, &end, perms) == 3) {
			if (n == size) {
				struct scan_map *more = realloc(m, (size + 256) * sizeof(*m));

				if (!more) {
					n = -1;
					break;
				}
				m = more;
				size += 256;
			}
			cur = &m[n++];
			memset(cur, 0, sizeof(*cur));
			cur->start = start;
			cur->end = end;
			cur->none = !strncmp(perms, "---", 3);
			line[strcspn(line, "\n")] = 0;
			snprintf(cur->line, sizeof(cur->line), "%.*s", (int)sizeof(cur->line) - 1,
				 line);
		} else if (cur && !strncmp(line, "VmFlags:", 8)) {
			cur->secret = strstr(line, " dd") &&
				      (strstr(line, " lo") || strstr(line, " wf"));
		}
	}
	fclose(f);
	if (n < 0)
		free(m);
	*maps = n < 0 ? NULL : m;
	return n;
}

/*
 * [@start, @end) of mapping @m through /proc/PID/mem (@fd), SCAN_CHUNK
 * bytes at a time into @buf (SCAN_CHUNK + SCAN_LEN bytes), each read
 * after the last SCAN_LEN - 1 bytes of the one before.  A read that
 * fails (a page of secret memory) ends the run there.
 */
static void scan_range(const struct scan_index *ix, int fd, const struct scan_map *m,
		       uint64_t start, uint64_t end, unsigned char *buf, struct scan_count *c)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), carry = 0, n;
	uint64_t addr = start;

	while (addr < end) {
		size_t want = end - addr < SCAN_CHUNK ? end - addr : SCAN_CHUNK;
		ssize_t r = pread(fd, buf + carry, want, (off_t)addr);

		if (r <= 0) {
			scan_buf(ix, buf, carry, addr - carry, m->secret, true, c, m->line);
			carry = 0;
			c->unreadable++;
			addr = (addr + page) & ~(uint64_t)(page - 1);
			continue;
		}
		n = carry + (size_t)r;
		c->bytes += (uint64_t)r;
		addr += (uint64_t)r;
		scan_buf(ix, buf, n, addr - n, m->secret, addr >= end, c, m->line);
		carry = n < SCAN_LEN - 1 ? n : SCAN_LEN - 1;
		memmove(buf, buf + n - carry, carry);
	}
}

#define PM_HELD		(3ULL << 62)	/* pagemap: present, or swapped */
#define PM_BATCH	512

/* The pages of mapping @m that hold something (/proc/PID/pagemap, @pm), in runs. */
static void scan_map(const struct scan_index *ix, int fd, int pm, const struct scan_map *m,
		     unsigned char *buf, struct scan_count *c)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t entry[PM_BATCH], addr = m->start, run = 0;
	bool in_run = false;

	while (addr < m->end) {
		size_t n = (m->end - addr) / page < PM_BATCH ? (m->end - addr) / page : PM_BATCH;
		ssize_t r = pread(pm, entry, n * sizeof(entry[0]),
				  (off_t)(addr / page * sizeof(entry[0])));

		/* It ends with the user address space: [vsyscall] lies above. */
		if (!r)
			break;
		if (r < 0) {
			c->error = errno;
			return;
		}
		for (size_t i = 0; i < (size_t)r / sizeof(entry[0]); i++, addr += page) {
			bool held = entry[i] & PM_HELD;

			if (held && !in_run)
				run = addr;
			else if (!held && in_run)
				scan_range(ix, fd, m, run, addr, buf, c);
			in_run = held;
		}
	}
	if (in_run)
		scan_range(ix, fd, m, run, m->end, buf, c);
}

/* Every thread of @pid stopped (state T): true, or false when one runs. */
static bool scan_stopped(pid_t pid)
{
	char path[300], stat[512], *state;
	bool stopped = true;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (stopped && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, d->d_name);
		/* The state follows the command, which may hold ") ". */
		stopped = !read_line(path, stat, sizeof(stat)) && (state = strrchr(stat, ')')) &&
			  (state[2] == 'T' || state[2] == 't');
	}
	closedir(dir);
	return stopped;
}

/*
 * Every mapping of @pid, once; with @still, the process stopped meanwhile
 * and let run SCAN_RUN_MS after.
 */
static void scan_pass(const struct scan_index *ix, pid_t pid, int fd, int pm, bool still,
		      unsigned char *buf, struct scan_count *c)
{
	uint64_t control = c->control_whole;
	double deadline = now_s() + 10;
	struct scan_map *maps;
	int n;

	if (still) {
		kill(pid, SIGSTOP);
		while (!scan_stopped(pid)) {
			if (now_s() > deadline) {
				kill(pid, SIGCONT);
				c->error = ETIMEDOUT;
				return;
			}
			sleep_ms(1);
		}
	}
	n = scan_maps(pid, &maps);
	if (n < 0)
		c->error = errno;
	for (int i = 0; i < n && !c->error; i++) {
		if (maps[i].none && !maps[i].secret)
			continue;
		if (maps[i].end - maps[i].start > SCAN_MAX_MAP) {
			c->skipped++;
			continue;
		}
		scan_map(ix, fd, pm, &maps[i], buf, c);
	}
	if (still) {
		kill(pid, SIGCONT);
		sleep_ms(SCAN_RUN_MS);
	}
	if (n >= 0)
		free(maps);
	c->passes++;
	c->control_passes += c->control_whole > control;
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = read(fd, (char *)buf + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/*
 * The scanning child of process @pid: the patterns and their hashes to
 * @out, then, once @in says go, the passes (of a process stopped, when
 * @still) and what they found to @out.
 */
static void __attribute__((noreturn)) scan_child(pid_t pid, int in, int out, bool still)
{
	struct scan_index *ix = calloc(1, sizeof(*ix));
	unsigned char *buf = malloc(SCAN_CHUNK + SCAN_LEN);
	struct scan_count c = { 0 };
	char path[64], go;
	int fd, pm = -1;

	if (!ix || !buf)
		traced_fail(30, "out of memory");
	if (getrandom(ix->pattern, sizeof(ix->pattern), 0) != sizeof(ix->pattern))
		traced_fail(31, "getrandom: %s", strerror(errno));
	scan_index_build(ix);
	for (unsigned int p = 0; p < SCAN_PATTERNS; p++) {
		uint64_t hash = scan_hash(ix->pattern[p], SCAN_LEN);

		if (write(out, ix->pattern[p], SCAN_LEN) != SCAN_LEN ||
		    write(out, &hash, sizeof(hash)) != sizeof(hash))
			traced_fail(32, "write to the test: %s", strerror(errno));
	}
	if (read_full(in, &go, 1) != 1)
		traced_fail(34, "the test ended before the scan");
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
		pm = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (pm < 0)
		c.error = errno;
	for (double end = now_s() + SCAN_SECONDS;
	     pm >= 0 && !c.error && (c.passes < SCAN_PASSES || now_s() < end);)
		scan_pass(ix, pid, fd, pm, still, buf, &c);
	if (write(out, &c, sizeof(c)) != sizeof(c))
		traced_fail(35, "write to the test: %s", strerror(errno));
	_exit(0);
}

struct scan_readers {
	struct smem_enclave *e[SCAN_ENCLAVES];
	uint64_t hash[SCAN_ENCLAVES];
	atomic_bool stop;
	atomic_long reads, opens, wrong;
	atomic_int last_error;
};

/* Read callback: 0 when the bytes have the hash at @arg, else 1. */
static int scan_check_fn(const void *buf, size_t len, void *arg)
{
	return len == SCAN_LEN && scan_hash(buf, len) == *(const uint64_t *)arg ? 0 : 1;
}

/*
 * Reads (3 in 4) and opens of random enclaves, each checked, until told
 * to stop.  Each call changes mappings (a window's mprotect() without
 * protection keys, an open's new secret): a yield between calls lets the
 * scanner's reads, which wait for mmap_lock behind them, make progress.
 */
static void *scan_reader(void *arg)
{
	struct scan_readers *rd = arg;
	unsigned int rnd = (unsigned int)(uintptr_t)pthread_self();

	while (!atomic_load(&rd->stop)) {
		unsigned int r = (unsigned int)rand_r(&rnd), i = r % SCAN_ENCLAVES;
		struct smem_secret *s = NULL;
		int err;

		if ((r >> 8) % 4) {
			err = smem_enclave_read(rd->e[i], scan_check_fn, &rd->hash[i]);
		} else {
			err = smem_enclave_open(rd->e[i], 0, &s);
			if (!err)
				err = smem_secret_read(s, scan_check_fn, &rd->hash[i]);
			smem_secret_unref(s);
			atomic_fetch_add(&rd->opens, 1);
		}
		if (err) {
			atomic_fetch_add(&rd->wrong, 1);
			atomic_store(&rd->last_error, err);
		}
		atomic_fetch_add(&rd->reads, 1);
		sched_yield();
	}
	return NULL;
}

LIB_EMPTY_FIXTURE(memory)

TEST_F_TIMEOUT(memory, enclave_plaintext_not_in_memory, 300)
{
	struct scan_readers *rd = calloc(1, sizeof(*rd));
	unsigned char *control = malloc(SCAN_LEN);
	bool unreadable = lib_guarantees() & SMEM_G_NO_GUP;
	int to_test[2], to_child[2], i;
	long reads_at_go, reads_during;
	pthread_t t[SCAN_THREADS];
	struct scan_count c;
	uint64_t hash;
	pid_t pid;

	ASSERT_NE(NULL, rd);
	ASSERT_NE(NULL, control);
	ASSERT_EQ(0, pipe2(to_test, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(to_child, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(to_test[0]);
		close(to_child[1]);
		scan_child(getppid(), to_child[0], to_test[1], !unreadable);
	}
	close(to_test[1]);
	close(to_child[0]);
	/* Under Yama's ptrace_scope 1 only a process named here may read our memory. */
	prctl(PR_SET_PTRACER, pid, 0, 0, 0);
	for (i = 0; i < SCAN_ENCLAVES; i++) {
		unsigned char *src = malloc(SCAN_LEN);

		ASSERT_NE(NULL, src);
		/* The kernel writes the bytes: no register of this process held them. */
		ASSERT_EQ(SCAN_LEN, read_full(to_test[0], src, SCAN_LEN));
		ASSERT_EQ(sizeof(rd->hash[i]), read_full(to_test[0], &rd->hash[i],
							 sizeof(rd->hash[i])));
		ASSERT_EQ(0, smem_enclave_new(src, SCAN_LEN, 0, &rd->e[i]));
		free(src);
	}
	ASSERT_EQ(SCAN_LEN, read_full(to_test[0], control, SCAN_LEN));
	ASSERT_EQ(sizeof(hash), read_full(to_test[0], &hash, sizeof(hash)));
	for (i = 0; i < SCAN_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, scan_reader, rd));
	while (atomic_load(&rd->reads) < 10 * SCAN_THREADS)
		sleep_ms(1);
	reads_at_go = atomic_load(&rd->reads);
	ASSERT_EQ(1, write(to_child[1], "g", 1));
	ASSERT_EQ(sizeof(c), read_full(to_test[0], &c, sizeof(c)))
		TH_LOG("the scanning child ended (%d)", wait_child(pid));
	reads_during = atomic_load(&rd->reads) - reads_at_go;
	atomic_store(&rd->stop, true);
	for (i = 0; i < SCAN_THREADS; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, wait_child(pid));
	/* The control stayed in ordinary memory until now. */
	EXPECT_EQ(hash, scan_hash(control, SCAN_LEN));
	explicit_bzero(control, SCAN_LEN);
	free(control);
	for (i = 0; i < SCAN_ENCLAVES; i++)
		smem_enclave_unref(rd->e[i]);
	close(to_test[0]);
	close(to_child[1]);
	TH_LOG("%ld reads (%ld opens) by %d threads, %ld during %u passes (%s, %s): "
	       "%llu MiB read, %llu pages unreadable, %llu mappings left out",
	       (long)atomic_load(&rd->reads), (long)atomic_load(&rd->opens), SCAN_THREADS,
	       reads_during, c.passes, lib_backend(),
	       unreadable ? "the threads running" : "the process stopped",
	       (unsigned long long)(c.bytes >> 20),
	       (unsigned long long)c.unreadable, (unsigned long long)c.skipped);
	TH_LOG("pieces of the enclaves' bytes: %llu in ordinary memory (%llu whole), %llu in "
	       "secret memory (%llu whole); of the control: %llu (%llu whole)",
	       (unsigned long long)c.pieces, (unsigned long long)c.whole,
	       (unsigned long long)c.secret_pieces, (unsigned long long)c.secret_whole,
	       (unsigned long long)c.control_pieces, (unsigned long long)c.control_whole);
	EXPECT_EQ(0, atomic_load(&rd->wrong))
		TH_LOG("a read or an open failed or gave other bytes: the last %d",
		       atomic_load(&rd->last_error));
	if (c.error == EACCES || c.error == EPERM)
		SKIP(goto out, "/proc/%d/mem cannot be read by a child here: %s", getpid(),
		     strerror(c.error));
	ASSERT_EQ(0, c.error) TH_LOG("/proc/%d/mem, pagemap or smaps: %s", getpid(),
				     strerror(c.error));
	EXPECT_LT(0, reads_during);
	EXPECT_LE(SCAN_PASSES, c.passes);
	EXPECT_EQ(c.passes, c.control_passes)
		TH_LOG("the control in a heap buffer was missed: the scan proves nothing");
	EXPECT_EQ(0, c.pieces)
		TH_LOG("the first at %#llx, in %s", (unsigned long long)c.first_at, c.first_map);
	if (unreadable)
		EXPECT_EQ(0, c.secret_pieces)
			TH_LOG("the backend says its pages are not readable through /proc/PID/mem");
out:
	free(rd);
}

/* ----------------------------------------------------------- linking */

struct link_seen {
	bool found, now, relro;
};

static int find_libsmem(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct link_seen *seen = arg;

	(void)size;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libsmem.so"))
		return 0;
	seen->found = true;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const ElfW(Dyn) *d;

		if (ph->p_type == PT_GNU_RELRO)
			seen->relro = true;
		if (ph->p_type != PT_DYNAMIC)
			continue;
		for (d = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr); d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_BIND_NOW ||
			    (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_BIND_NOW)) ||
			    (d->d_tag == DT_FLAGS_1 && (d->d_un.d_val & DF_1_NOW)))
				seen->now = true;
	}
	return 1;
}

/*
 * Bound at load time: a lazily bound call saves every vector register on
 * the stack (_dl_runtime_resolve_xsavec) the first time it runs.
 */
TEST(linked_now)
{
	struct link_seen seen = { 0 };

	dl_iterate_phdr(find_libsmem, &seen);
	if (!seen.found)
		SKIP(return, "libsmem is linked statically");
	EXPECT_TRUE(seen.now) TH_LOG("libsmem.so is not linked with -z now");
	EXPECT_TRUE(seen.relro) TH_LOG("libsmem.so is not linked with -z relro");
}

/* -------------------------------------------------------------- fork */

/*
 * A maker thread makes secrets (and exports and imports them where the
 * backend shares) and closes them, as fast as it can; the test forks in
 * a loop meanwhile.  Whenever fork() happens, in the middle of a backend's
 * mmap(), madvise() or /dev/smem ioctl included, the child must hold no
 * mapping and no descriptor of a secret, and reach none by its address.
 */
#define KEPT 2

struct fork_stress {
	atomic_bool stop;
	/* The bytes of a secret alive and complete right now, or NULL. */
	_Atomic(const unsigned char *) live;
	atomic_long made;
	int maker_error;
	struct smem_secret *kept[KEPT];
	const unsigned char *kept_at[KEPT];
	atomic_int *reported;		/* shared with the children */
};

static void *maker(void *arg)
{
	static const size_t sizes[] = { 32, 3000, 20000 };
	struct fork_stress *st = arg;
	bool share = lib_guarantees() & SMEM_G_SHAREABLE;
	unsigned int i;

	for (i = 0; !atomic_load(&st->stop); i++) {
		struct smem_secret *s = lib_new_pattern(sizes[i % 3], i), *imported = NULL;
		int fd;

		if (!s) {
			st->maker_error = 1;
			break;
		}
		atomic_store(&st->live, lib_address(s));
		if (share) {
			fd = smem_secret_export_fd(s);
			if (fd < 0 || smem_secret_import_fd(fd, 0, &imported))
				st->maker_error = 2;
			if (fd >= 0)
				close(fd);
		}
		atomic_store(&st->live, NULL);
		if (imported) {
			smem_secret_close(imported);
			smem_secret_unref(imported);
		}
		if (smem_secret_close(s))
			st->maker_error = 3;
		smem_secret_unref(s);
		atomic_fetch_add(&st->made, 1);
	}
	return NULL;
}

/* "/dev/smem" or "secretmem" in @text (a line of /proc/self/maps, a link). */
static bool names_secret(const char *text)
{
	return strstr(text, "/dev/smem") || strstr(text, "secretmem");
}

/*
 * A descriptor of a secret, but for a sealed read-only object: what
 * smem_secret_export_fd() returned to the maker thread, which holds it for
 * a moment; the caller's, not the library's.  The first one's link in
 * @arg (FD_SEEN bytes).
 */
#define FD_SEEN 320

static bool secret_fd(int fd, const char *target, void *arg)
{
	struct smem_object_info info;

	if (!names_secret(target) ||
	    (!ioctl(fd, SMEM_IOC_INFO, &info) && info.prot == SMEM_PROT_READ &&
	     (info.seals & SMEM_SEAL_ALL) == SMEM_SEAL_ALL))
		return false;
	snprintf(arg, FD_SEEN, "descriptor %d, %s", fd, target);
	return true;
}

/* The first few failing children say why. */
static int __attribute__((format(printf, 3, 4)))
fork_child_fail(struct fork_stress *st, int code, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(st->reported, 1) < 5) {
		va_start(ap, fmt);
		fprintf(stderr, "# forked child: ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
	return code;
}

static int fork_child_checks(struct fork_stress *st)
{
	const unsigned char *live = atomic_load(&st->live);
	char line[512], fd_seen[FD_SEEN];
	unsigned char out[8];
	FILE *f;
	int i, n;

	for (i = 0; i < KEPT; i++) {
		if (smem_secret_copy_out(st->kept[i], 0, out, sizeof(out)) != -ECHILD)
			return fork_child_fail(st, 1, "copy_out of the parent's secret is not -ECHILD");
		if (lib_probe_read(st->kept_at[i], NULL) != SIGSEGV)
			return fork_child_fail(st, 2, "the parent's secret at %p is readable",
					       (const void *)st->kept_at[i]);
	}
	if (live && lib_probe_read(live, NULL) != SIGSEGV)
		return fork_child_fail(st, 3, "the secret made at fork time, at %p, is readable",
				       (const void *)live);
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return fork_child_fail(st, 4, "/proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (names_secret(line)) {
			fclose(f);
			return fork_child_fail(st, 5, "a mapping of the parent's: %s", line);
		}
	fclose(f);
	n = lib_count_fds(secret_fd, fd_seen);
	if (n < 0)
		return fork_child_fail(st, 6, "/proc/self/fd: %s", strerror(errno));
	if (n)
		return fork_child_fail(st, 7, "%d descriptors of the parent's, the first %s",
				       n, fd_seen);
	return 0;
}

LIB_EMPTY_FIXTURE(fork_stress)

TEST_F_TIMEOUT(fork_stress, while_secrets_come_and_go, 300)
{
	double seconds = lib_env_seconds("SMEM_STRESS_SECONDS", 5), deadline;
	struct fork_stress st = { .maker_error = 0 };
	long forks = 0, failed = 0, first = 0;
	pthread_t t;
	int i;

	st.reported = mmap(NULL, sizeof(*st.reported), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st.reported);
	for (i = 0; i < KEPT; i++) {
		st.kept[i] = lib_new_pattern(i ? 5000 : 40, i);
		ASSERT_NE(NULL, st.kept[i]);
		st.kept_at[i] = lib_address(st.kept[i]);
		ASSERT_NE(NULL, st.kept_at[i]);
	}
	ASSERT_EQ(0, pthread_create(&t, NULL, maker, &st));
	deadline = now_s() + seconds;
	while (now_s() < deadline) {
		pid_t pid = fork();
		int r;

		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(fork_child_checks(&st));
		r = wait_child(pid);
		forks++;
		if (r) {
			failed++;
			if (!first)
				first = r;
		}
	}
	atomic_store(&st.stop, true);
	pthread_join(t, NULL);
	TH_LOG("%ld forks while %ld secrets were made (%s): %ld children reached a secret",
	       forks, (long)atomic_load(&st.made), lib_backend(), failed);
	EXPECT_EQ(0, failed) TH_LOG("the first failed check: %ld", first);
	EXPECT_EQ(0, st.maker_error);
	EXPECT_LT(0, atomic_load(&st.made));
	for (i = 0; i < KEPT; i++) {
		EXPECT_EQ(0, smem_secret_read(st.kept[i], lib_check_fn, &i));
		smem_secret_unref(st.kept[i]);
	}
	munmap(st.reported, sizeof(*st.reported));
}

TEST_HARNESS_MAIN
