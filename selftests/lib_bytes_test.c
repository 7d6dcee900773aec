// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem's byte primitives (libsmem/bytes.c) on their own: the erase of
 * a callback's stack and registers (smem_scrub), the constant-time
 * compare and the overlap-safe move; and the erase once more through the
 * public API, where the library calls it as a thread's outermost window
 * closes.  They are internal (hidden in the
 * shared library), so this program compiles bytes.c itself, found through
 * the include path (-I$(SMEM_TOP)/include/../libsmem): the same source,
 * no other build rule.
 *
 * The stack checks look at memory below the stack pointer, which no C
 * code owns: the functions that fill and inspect it are noinline, use
 * volatile accesses and call nothing between the erase and the check.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "../libsmem/bytes.c"

#include "kselftest_harness.h"
#include "lib_util.h"

#define FILL 0xa5

/* Where the last fill_frames() put its pattern. */
static volatile unsigned char *volatile filled;
static volatile size_t filled_len;

/* A frame of @len bytes of pattern below the caller, as a callback leaves. */
static __attribute__((noinline)) void fill_frames(size_t len)
{
	volatile unsigned char buf[len];

	for (size_t i = 0; i < len; i++)
		buf[i] = FILL;
	filled = buf;
	filled_len = len;
}

/*
 * Fill @len bytes, erase @depth, and count what is left of the pattern in
 * the deepest @deep bytes and in the top @top bytes of the fill.  Nothing
 * is called between smem_scrub() and the counting, which is inline code.
 */
static __attribute__((noinline)) void fill_and_scrub(size_t len, size_t depth, size_t deep,
						     size_t top, size_t *left_deep,
						     size_t *left_top)
{
	size_t nd = 0, nt = 0;

	fill_frames(len);
	smem_scrub(depth);
	for (size_t i = 0; i < deep; i++)
		nd += filled[i] == FILL;
	for (size_t i = filled_len - top; i < filled_len; i++)
		nt += filled[i] == FILL;
	*left_deep = nd;
	*left_top = nt;
}

TEST(scrub_erases_what_callbacks_left)
{
	size_t deep, top;

	/* 1 KiB of callback frames, 2 KiB erased: nothing left. */
	fill_and_scrub(1024, 2048, 1024, 1024, &deep, &top);
	EXPECT_EQ(0, deep);
	EXPECT_EQ(0, top);
	fill_and_scrub(8192, 8192 + 1024, 8192, 8192, &deep, &top);
	EXPECT_EQ(0, deep);
	EXPECT_EQ(0, top);
}

TEST(scrub_stops_at_depth)
{
	size_t deep, top;

	/*
	 * 4 KiB filled, 1 KiB erased: the top (next to the caller) is gone,
	 * the deepest 2 KiB are not.  Also shows that the check above can
	 * see a pattern that was left.  The first call of a thread may
	 * use the stack itself (pthread_getattr_np()): not this one.
	 */
	smem_scrub(64);
	fill_and_scrub(4096, 1024, 2048, 512, &deep, &top);
	EXPECT_EQ(2048, deep);
	EXPECT_EQ(0, top);
}

/* ------------------------------------------------------------ registers */

/* Store ymm0-15 at (%rbx), 512 bytes. */
#define STORE_YMM_AT_RBX \
	"vmovdqu	%ymm0, 0(%rbx)\n\t" \
	"vmovdqu	%ymm1, 32(%rbx)\n\t" \
	"vmovdqu	%ymm2, 64(%rbx)\n\t" \
	"vmovdqu	%ymm3, 96(%rbx)\n\t" \
	"vmovdqu	%ymm4, 128(%rbx)\n\t" \
	"vmovdqu	%ymm5, 160(%rbx)\n\t" \
	"vmovdqu	%ymm6, 192(%rbx)\n\t" \
	"vmovdqu	%ymm7, 224(%rbx)\n\t" \
	"vmovdqu	%ymm8, 256(%rbx)\n\t" \
	"vmovdqu	%ymm9, 288(%rbx)\n\t" \
	"vmovdqu	%ymm10, 320(%rbx)\n\t" \
	"vmovdqu	%ymm11, 352(%rbx)\n\t" \
	"vmovdqu	%ymm12, 384(%rbx)\n\t" \
	"vmovdqu	%ymm13, 416(%rbx)\n\t" \
	"vmovdqu	%ymm14, 448(%rbx)\n\t" \
	"vmovdqu	%ymm15, 480(%rbx)\n\t"

/*
 * void probe_scrub_regs(const void *pattern32, uint64_t out[64 + 9], size_t depth):
 * ymm0-15 and the scratch registers loaded with nonzero values, then
 * smem_scrub(depth), then ymm0-15 and rax rcx rdx rsi rdi r8-r11 stored.
 */
__asm__(".text\n\t"
	".p2align 4\n\t"
	".type	probe_scrub_regs, @function\n"
	"probe_scrub_regs:\n\t"
	"pushq	%rbx\n\t"
	"movq	%rsi, %rbx\n\t"
	"vmovdqu	(%rdi), %ymm0\n\t"
	"vmovdqu	(%rdi), %ymm1\n\t"
	"vmovdqu	(%rdi), %ymm2\n\t"
	"vmovdqu	(%rdi), %ymm3\n\t"
	"vmovdqu	(%rdi), %ymm4\n\t"
	"vmovdqu	(%rdi), %ymm5\n\t"
	"vmovdqu	(%rdi), %ymm6\n\t"
	"vmovdqu	(%rdi), %ymm7\n\t"
	"vmovdqu	(%rdi), %ymm8\n\t"
	"vmovdqu	(%rdi), %ymm9\n\t"
	"vmovdqu	(%rdi), %ymm10\n\t"
	"vmovdqu	(%rdi), %ymm11\n\t"
	"vmovdqu	(%rdi), %ymm12\n\t"
	"vmovdqu	(%rdi), %ymm13\n\t"
	"vmovdqu	(%rdi), %ymm14\n\t"
	"vmovdqu	(%rdi), %ymm15\n\t"
	"movq	%rdx, %rdi\n\t"
	"movq	$-1, %rax\n\t"
	"movq	$-1, %rcx\n\t"
	"movq	$-1, %rdx\n\t"
	"movq	$-1, %rsi\n\t"
	"movq	$-1, %r8\n\t"
	"movq	$-1, %r9\n\t"
	"movq	$-1, %r10\n\t"
	"movq	$-1, %r11\n\t"
	"call	smem_scrub\n\t"
	STORE_YMM_AT_RBX
	"movq	%rax, 512(%rbx)\n\t"
	"movq	%rcx, 520(%rbx)\n\t"
	"movq	%rdx, 528(%rbx)\n\t"
	"movq	%rsi, 536(%rbx)\n\t"
	"movq	%rdi, 544(%rbx)\n\t"
	"movq	%r8, 552(%rbx)\n\t"
	"movq	%r9, 560(%rbx)\n\t"
	"movq	%r10, 568(%rbx)\n\t"
	"movq	%r11, 576(%rbx)\n\t"
	"vzeroupper\n\t"
	"popq	%rbx\n\t"
	"ret\n\t"
	".size	probe_scrub_regs, .-probe_scrub_regs");

void probe_scrub_regs(const void *pattern, uint64_t *out, size_t depth);

static const char *const gpr_names[] = {
	"rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
};

TEST(scrub_clears_registers)
{
	unsigned char pattern[32];
	uint64_t out[64 + 9];

	if (!__builtin_cpu_supports("avx"))
		SKIP(return, "no AVX: the probe loads ymm registers");
	memset(pattern, 0x5a, sizeof(pattern));
	memset(out, 0xee, sizeof(out));
	probe_scrub_regs(pattern, out, 1024);
	for (int r = 0; r < 16; r++) {
		EXPECT_TRUE(lib_equal_novec(&out[4 * r], NULL, 32)) {
			TH_LOG("ymm%d not cleared", r);
		}
	}
	for (int r = 0; r < 9; r++) {
		EXPECT_EQ(0, out[64 + r]) {
			TH_LOG("%s not cleared", gpr_names[r]);
		}
	}
}

/* --------------------------------------------------------------- bounds */

struct deep_arg {
	size_t fill, scrub;
	size_t left;
};

static void *deep_thread(void *p)
{
	struct deep_arg *a = p;
	size_t deep, top;

	/*
	 * Most of a 64 KiB stack used, then 255 KiB erased: without the
	 * clamp to the stack's low end the erase runs into the guard page.
	 */
	fill_and_scrub(a->fill, a->scrub, a->fill, 64, &deep, &top);
	a->left = deep + top;
	return NULL;
}

TEST(scrub_stays_inside_a_small_thread_stack)
{
	struct deep_arg a = { .fill = 40 * 1024, .scrub = 255 * 1024 };
	pthread_attr_t attr;
	pthread_t t;

	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstacksize(&attr, 64 * 1024));
	ASSERT_EQ(0, pthread_create(&t, &attr, deep_thread, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	pthread_attr_destroy(&attr);
	EXPECT_EQ(0, a.left) TH_LOG("%zu bytes of the thread's frames left", a.left);
}

/*
 * A coroutine stack in the middle of a heap block: below it lies memory
 * the erase must not touch, since the stack pointer is not on the
 * thread's stack and smem_scrub() cannot know where this one ends.
 */
#define CO_BELOW	(256 * 1024)
#define CO_STACK	(32 * 1024)

static ucontext_t co_main, co_ctx;
static size_t co_left;

static void co_body(void)
{
	size_t deep, top;

	fill_and_scrub(4096, 255 * 1024, 4096, 64, &deep, &top);
	co_left = deep + top;
}

TEST(scrub_leaves_foreign_stacks_alone)
{
	unsigned char *block = malloc(CO_BELOW + CO_STACK);
	size_t changed = 0;

	ASSERT_NE(NULL, block);
	memset(block, 0x3c, CO_BELOW);
	ASSERT_EQ(0, getcontext(&co_ctx));
	co_ctx.uc_stack.ss_sp = block + CO_BELOW;
	co_ctx.uc_stack.ss_size = CO_STACK;
	co_ctx.uc_link = &co_main;
	makecontext(&co_ctx, co_body, 0);
	ASSERT_EQ(0, swapcontext(&co_main, &co_ctx));
	for (size_t i = 0; i < CO_BELOW; i++)
		changed += block[i] != 0x3c;
	EXPECT_EQ(0, changed) TH_LOG("%zu bytes below the coroutine's stack were written", changed);
	/* Nothing erased there: the pattern of the coroutine's frames is left. */
	EXPECT_NE(0, co_left);
	free(block);
}

static volatile size_t sig_left;

static void altstack_handler(int sig)
{
	size_t deep, top;

	(void)sig;
	fill_and_scrub(2048, 255 * 1024, 2048, 64, &deep, &top);
	sig_left = deep + top;
}

TEST(scrub_on_a_sigaltstack_erases_nothing)
{
	struct sigaction sa = { .sa_handler = altstack_handler, .sa_flags = SA_ONSTACK };
	unsigned char *block = malloc(CO_BELOW + SIGSTKSZ * 4);
	stack_t ss = { 0 };
	size_t changed = 0;

	ASSERT_NE(NULL, block);
	/* The thread's bounds are cached first, on its own stack. */
	smem_scrub(64);
	memset(block, 0x3c, CO_BELOW);
	ss.ss_sp = block + CO_BELOW;
	ss.ss_size = SIGSTKSZ * 4;
	ASSERT_EQ(0, sigaltstack(&ss, NULL));
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, raise(SIGUSR1));
	for (size_t i = 0; i < CO_BELOW; i++)
		changed += block[i] != 0x3c;
	EXPECT_EQ(0, changed);
	EXPECT_NE(0, sig_left);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	free(block);
}

/* ---------------------------------------------------- through the API */

/*
 * The library calls smem_scrub() when a thread's outermost window closes:
 * what a callback copied to its stack and registers is gone afterwards,
 * unless the window said SMEM_WINDOW_NO_SCRUB (the control).
 */
#define KEY_LEN 64

static volatile unsigned char *volatile stash_at;

/* Read callback: the key into a local @arg bytes deep, as a careless callback does. */
static __attribute__((noinline)) int stash_fn(const void *buf, size_t len, void *arg)
{
	size_t depth = (size_t)arg;
	volatile unsigned char local[depth];

	for (size_t i = 0; i < KEY_LEN; i++)
		local[i] = ((const unsigned char *)buf)[i % len];
	stash_at = local;
	return 0;
}

/* Key bytes left where the callback put them, or -1 when the read failed. */
static __attribute__((noinline)) long window_leftover(struct smem_secret *s, size_t depth,
						      unsigned int flags)
{
	long n = 0;

	if (smem_secret_read_flags(s, stash_fn, (void *)depth, flags))
		return -1;
	for (size_t i = 0; i < KEY_LEN; i++)
		n += stash_at[i] == lib_pattern(90, i);
	return n;
}

TEST(window_erases_callback_stack)
{
	struct smem_secret *s = lib_new_pattern(KEY_LEN, 90);

	ASSERT_NE(NULL, s);
	/*
	 * 1 KiB deep: within the default, and below the frames the library
	 * runs after the callback (at 256 bytes, those of an ASan build
	 * overwrote half the key in the control).
	 */
	EXPECT_EQ(0, window_leftover(s, 1024, 0));
	EXPECT_EQ(0, window_leftover(s, 1024, 0));
	EXPECT_EQ(KEY_LEN, window_leftover(s, 1024, SMEM_WINDOW_NO_SCRUB));
	/* 12 KiB deep: beyond the default, within SMEM_WINDOW_SCRUB_KIB(16). */
	EXPECT_EQ(KEY_LEN, window_leftover(s, 12 * 1024, 0));
	EXPECT_EQ(0, window_leftover(s, 12 * 1024, SMEM_WINDOW_SCRUB_KIB(16)));
	EXPECT_EQ(0, smem_secret_close(s));
	smem_secret_unref(s);
}

/* Read callback: the key into ymm0-15 (the caller checked for AVX). */
static __attribute__((used)) int key_to_ymm_fn(const void *buf, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	__asm__ volatile("vmovdqu (%0), %%ymm0\n\tvmovdqu 32(%0), %%ymm1\n\t"
			 "vmovdqa %%ymm0, %%ymm2\n\tvmovdqa %%ymm1, %%ymm3\n\t"
			 "vmovdqa %%ymm0, %%ymm4\n\tvmovdqa %%ymm1, %%ymm5\n\t"
			 "vmovdqa %%ymm0, %%ymm6\n\tvmovdqa %%ymm1, %%ymm7\n\t"
			 "vmovdqa %%ymm0, %%ymm8\n\tvmovdqa %%ymm1, %%ymm9\n\t"
			 "vmovdqa %%ymm0, %%ymm10\n\tvmovdqa %%ymm1, %%ymm11\n\t"
			 "vmovdqa %%ymm0, %%ymm12\n\tvmovdqa %%ymm1, %%ymm13\n\t"
			 "vmovdqa %%ymm0, %%ymm14\n\tvmovdqa %%ymm1, %%ymm15"
			 : : "r"(buf) : "memory");
	return 0;
}

/*
 * int read_and_dump(struct smem_secret *s, unsigned int flags, uint64_t out[64]):
 * smem_secret_read_flags(s, key_to_ymm_fn, NULL, flags), then ymm0-15
 * stored as the library left them.
 */
__asm__(".text\n\t"
	".p2align 4\n\t"
	".type	read_and_dump, @function\n"
	"read_and_dump:\n\t"
	"pushq	%rbx\n\t"
	"movq	%rdx, %rbx\n\t"
	"movl	%esi, %ecx\n\t"
	"xorl	%edx, %edx\n\t"
	"leaq	key_to_ymm_fn(%rip), %rsi\n\t"
	"call	smem_secret_read_flags@PLT\n\t"
	STORE_YMM_AT_RBX
	"vzeroupper\n\t"
	"popq	%rbx\n\t"
	"ret\n\t"
	".size	read_and_dump, .-read_and_dump");

int read_and_dump(struct smem_secret *s, unsigned int flags, uint64_t *out);

/* How many of ymm0-15 hold a 16-byte piece of pattern 91. */
static int key_pieces(const uint64_t *out)
{
	unsigned char key[KEY_LEN];
	int n = 0;

	lib_fill(key, KEY_LEN, 91);
	for (int r = 0; r < 32; r++)
		for (int k = 0; k < KEY_LEN; k += 16)
			n += !memcmp((const unsigned char *)out + 16 * r, key + k, 16);
	return n;
}

TEST(window_clears_vector_registers)
{
	struct smem_secret *s = lib_new_pattern(KEY_LEN, 91);
	uint64_t out[64];

	if (!__builtin_cpu_supports("avx"))
		SKIP(return, "no AVX: the callback loads ymm registers");
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, read_and_dump(s, 0, out));
	EXPECT_EQ(0, key_pieces(out));
	/* The control: without the scrub the key is still there. */
	ASSERT_EQ(0, read_and_dump(s, SMEM_WINDOW_NO_SCRUB, out));
	EXPECT_LT(0, key_pieces(out));
	EXPECT_EQ(0, smem_secret_close(s));
	smem_secret_unref(s);
}

/* ------------------------------------------------------------- compare */

TEST(ct_equal)
{
	unsigned char a[80], b[80];

	lib_fill(a, sizeof(a), 7);
	for (size_t len = 0; len <= sizeof(a); len++) {
		memcpy(b, a, sizeof(b));
		ASSERT_TRUE(smem_bytes_ct_equal(a, b, len)) TH_LOG("len %zu", len);
		for (size_t i = 0; i < len; i++) {
			for (unsigned int bit = 0; bit < 8; bit += 7) {
				b[i] ^= 1U << bit;
				ASSERT_FALSE(smem_bytes_ct_equal(a, b, len))
					TH_LOG("len %zu, byte %zu bit %u", len, i, bit);
				/* Unaligned starts too. */
				if (i)
					ASSERT_FALSE(smem_bytes_ct_equal(a + 1, b + 1, len - 1));
				b[i] ^= 1U << bit;
			}
		}
	}
}

/* ---------------------------------------------------------------- move */

TEST(move_overlapping)
{
	unsigned char buf[256], ref[256];

	for (size_t len = 0; len <= 64; len += 7) {
		for (size_t from = 0; from < 80; from += 5) {
			for (size_t to = 0; to < 80; to += 3) {
				lib_fill(buf, sizeof(buf), 3);
				memcpy(ref, buf, sizeof(ref));
				memmove(ref + to, ref + from, len);
				smem_bytes_move(buf + to, buf + from, len);
				ASSERT_EQ(0, memcmp(buf, ref, sizeof(buf)))
					TH_LOG("len %zu from %zu to %zu", len, from, to);
			}
		}
	}
	/* The direction flag is clear again: a string copy goes forwards. */
	memset(ref, 1, 64);
	memcpy(buf, ref, 64);
	EXPECT_EQ(0, memcmp(buf, ref, 64));
}

TEST_HARNESS_MAIN
