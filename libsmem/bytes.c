// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Moving a secret's bytes without leaving them in registers.
 *
 * Every copy the library makes of secret bytes (into a new secret, out to
 * the caller, into an export) and of the canary goes through here, never
 * through memcpy() or memcmp(): glibc's AVX2 and AVX-512 versions load
 * the bytes into ymm/zmm16 and up and leave them there, where ptrace, a
 * core dump's NT_X86_XSTATE note and the kernel's copy of the registers
 * at the next preemption find them, and where the next lazily bound call
 * (_dl_runtime_resolve_xsavec) saves them on the stack.
 *
 * On x86 the bytes move by "rep movsb" and are compared by "repe cmpsb":
 * the processor moves them without any architectural register holding
 * them, so there is nothing to clear afterwards, and the compiler cannot
 * turn either into a vectorized loop or a call to memcpy().  Elsewhere a
 * loop of volatile byte accesses, which the compiler may neither
 * vectorize nor replace with a call; the last byte it moved can stay in a
 * general register.
 *
 * smem_scrub() erases what a callback may have left of the bytes once its
 * window is closed: the stack below the caller of smem_scrub() (where the
 * callback's frames were) and the registers.  On x86-64 it is written in
 * assembly, so the compiler can neither drop the stores to memory it
 * considers dead nor leave anything of its own in a register afterwards.
 * Invariants:
 *  - it writes only [entry sp - depth, entry sp), and only inside the
 *    bounds of the calling thread's stack as pthread_getattr_np() gives
 *    them (cached per thread at the first call); when the stack pointer
 *    is outside them (a sigaltstack, a coroutine's stack) it erases no
 *    stack at all, since it cannot know how deep that stack goes;
 *  - it reads every 64 bytes first and writes only blocks that are not
 *    zero already: most of the depth usually is, and a load is cheaper
 *    than a store that dirties the line;
 *  - then it clears every vector register the process has (XCR0, read
 *    once for the process) and the scratch general registers; the
 *    callee-saved ones hold the caller's values, not the callback's.
 * A signal delivered while it runs puts its frame (the registers at that
 * moment) below the stack pointer, where part of it may survive: the
 * erase narrows the exposure, it cannot close it without blocking signals.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "internal.h"

void smem_bytes_copy(void *dst, const void *src, size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(len) : : "memory");
#else
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;

	while (len--)
		*d++ = *s++;
#endif
}

bool smem_bytes_equal(const void *a, const void *b, size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
	bool equal;

	if (!len)
		return true;
	/* Stops at the first difference: for canaries and headers, not for keys. */
	__asm__ volatile("repe cmpsb"
			 : "+D"(a), "+S"(b), "+c"(len), "=@ccz"(equal)
			 :
			 : "memory");
	return equal;
#else
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	while (len--)
		diff |= *x++ ^ *y++;
	return !diff;
#endif
}


void smem_bytes_move(void *dst, const void *src, size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
	/* Overlapping with the destination above: backwards, from the last byte. */
	if ((uintptr_t)dst > (uintptr_t)src && (uintptr_t)dst - (uintptr_t)src < len) {
		dst = (unsigned char *)dst + len - 1;
		src = (const unsigned char *)src + len - 1;
		__asm__ volatile("std\n\trep movsb\n\tcld"
				 : "+D"(dst), "+S"(src), "+c"(len) : : "memory");
		return;
	}
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(len) : : "memory");
#else
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;

	if ((uintptr_t)dst > (uintptr_t)src && (uintptr_t)dst - (uintptr_t)src < len) {
		while (len--)
			d[len] = s[len];
		return;
	}
	while (len--)
		*d++ = *s++;
#endif
}

bool smem_bytes_ct_equal(const void *a, const void *b, size_t len)
{
#if defined(__x86_64__)
	unsigned long diff;
	unsigned int equal;

	/*
	 * Eight bytes at a time, then one: the branches depend on @len only.
	 * %rdx held bytes of @a and %rax what differs: both end up 0 or 1.
	 */
	__asm__ volatile("xorl	%%eax, %%eax\n\t"
			 "cmpq	$8, %%rcx\n\t"
			 "jb	2f\n"
			 "1:\n\t"
			 "movq	(%%rdi), %%rdx\n\t"
			 "xorq	(%%rsi), %%rdx\n\t"
			 "orq	%%rdx, %%rax\n\t"
			 "addq	$8, %%rdi\n\t"
			 "addq	$8, %%rsi\n\t"
			 "subq	$8, %%rcx\n\t"
			 "cmpq	$8, %%rcx\n\t"
			 "jae	1b\n"
			 "2:\n\t"
			 "testq	%%rcx, %%rcx\n\t"
			 "jz	4f\n"
			 "3:\n\t"
			 "movzbl	(%%rdi), %%edx\n\t"
			 "xorb	(%%rsi), %%dl\n\t"
			 "orq	%%rdx, %%rax\n\t"
			 "incq	%%rdi\n\t"
			 "incq	%%rsi\n\t"
			 "decq	%%rcx\n\t"
			 "jnz	3b\n"
			 "4:\n\t"
			 "xorl	%%edx, %%edx\n\t"
			 "testq	%%rax, %%rax\n\t"
			 "sete	%%dl\n\t"
			 "xorl	%%eax, %%eax"
			 : "+D"(a), "+S"(b), "+c"(len), "=&d"(equal), "=&a"(diff)
			 :
			 : "cc", "memory");
	(void)diff;
	return equal;
#else
	const volatile unsigned char *x = a, *y = b;
	volatile unsigned char diff = 0;

	while (len--)
		diff |= *x++ ^ *y++;
	return !diff;
#endif
}

/* ---------------------------------------------------------------- scrub */

/*
 * This thread's stack, [lo, hi): lo 0 until the first smem_scrub() of the
 * thread asks pthread_getattr_np(), lo == hi when that failed (nothing is
 * ever erased then).  Initial-exec: two words in the static TLS block,
 * read without a call.
 */
static __thread uintptr_t scrub_stack[2]
	__attribute__((tls_model("initial-exec"), used));

static void scrub_stack_setup(uintptr_t *bounds)
{
	uintptr_t lo = 1, hi = 1, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	pthread_attr_t attr;
	size_t size;
	void *addr;

	/*
	 * The main thread's low end is its RLIMIT_STACK below the top of the
	 * stack mapping, or the end of the mapping below it (glibc reads
	 * /proc/self/maps): the stack can grow down to it.  Another thread's
	 * stack stops above its guard.
	 */
	if (!pthread_getattr_np(pthread_self(), &attr)) {
		if (!pthread_attr_getstack(&attr, &addr, &size) && size >= page) {
			lo = ((uintptr_t)addr + page - 1) & ~(page - 1);
			hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&attr);
	}
	bounds[1] = hi;
	bounds[0] = lo;
}

/*
 * Before a thread's first callback, while no register holds secret
 * bytes: on a Debian 6.12 guest something under pthread_getattr_np(),
 * run at the first smem_scrub() instead, saved xmm14-15 with a
 * callback's key in them 9 KiB below the window, out of the erase's reach.
 */
#if defined(__x86_64__)
/*
 * What smem_scrub() clears, for the whole process: 0 not known yet,
 * 1 xmm0-15 (SSE), 2 ymm0-15 (AVX: vzeroall), 3 also zmm16-31 and k0-7
 * (AVX-512).  From XCR0, which says what the kernel saves for a thread.
 */
static _Atomic int scrub_level __attribute__((used));

static int xsave_level(void)
{
	unsigned int a, b, c, d, xcr0, xcr0_hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
		return 1;
	__asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_hi) : "c"(0));
	if ((xcr0 & 0x06) != 0x06)		/* SSE and AVX state */
		return 1;
	if ((xcr0 & 0xe0) == 0xe0 &&		/* opmask, ZMM_Hi256, Hi16_ZMM */
	    __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F))
		return 3;
	return 2;
}

/* Called by smem_scrub() the first time in a thread; may be slow. */
static void __attribute__((used)) scrub_setup(void)
{
	uintptr_t *bounds = scrub_stack;

	if (!atomic_load_explicit(&scrub_level, memory_order_relaxed))
		atomic_store_explicit(&scrub_level, xsave_level(), memory_order_relaxed);
	scrub_stack_setup(bounds);
}

/*
 * Before a thread's first callback, while no register holds secret
 * bytes: on a Debian 6.12 guest something under pthread_getattr_np(),
 * run at the first smem_scrub() instead, saved xmm14-15 with a
 * callback's key in them 9 KiB below the window, out of the erase's reach.
 */
void smem_scrub_prepare(void)
{
	if (!scrub_stack[0])
		scrub_setup();
}

#ifdef __CET__
#define SCRUB_ENDBR "endbr64\n\t"
#else
#define SCRUB_ENDBR ""
#endif

/*
 * void smem_scrub(size_t depth): %rdi depth, %rsp the entry stack pointer
 * (the return address is at (%rsp) and stays).  Erases
 * [(sp - depth) & ~63, sp) clamped to [lo, sp): 64-byte blocks, checked
 * before being written, up to sp & ~63, then the last 0-56 bytes.
 */
__asm__(".text\n\t"
	".p2align 4\n\t"
	".globl	smem_scrub\n\t"
	".hidden	smem_scrub\n\t"
	".type	smem_scrub, @function\n"
	"smem_scrub:\n\t"
	".cfi_startproc\n\t"
	SCRUB_ENDBR
	"movq	scrub_stack@gottpoff(%rip), %rax\n\t"
	"movq	%fs:(%rax), %rdx\n\t"		/* lo */
	"testq	%rdx, %rdx\n\t"
	"jnz	1f\n\t"
	"pushq	%rdi\n\t"			/* and the stack is 16-byte aligned */
	".cfi_adjust_cfa_offset 8\n\t"
	"call	scrub_setup\n\t"
	"popq	%rdi\n\t"
	".cfi_adjust_cfa_offset -8\n\t"
	"movq	scrub_stack@gottpoff(%rip), %rax\n\t"
	"movq	%fs:(%rax), %rdx\n"
	"1:\n\t"
	"movq	%fs:8(%rax), %rcx\n\t"		/* hi */
	"movq	%rsp, %rsi\n\t"			/* sp */
	"cmpq	%rdx, %rsi\n\t"
	"jb	.Lscrub_regs\n\t"		/* not on this thread's stack */
	"cmpq	%rcx, %rsi\n\t"
	"jae	.Lscrub_regs\n\t"
	"testq	%rdi, %rdi\n\t"
	"jz	.Lscrub_regs\n\t"
	"movq	%rsi, %r8\n\t"
	"subq	%rdx, %r8\n\t"			/* room: sp - lo */
	"cmpq	%r8, %rdi\n\t"
	"cmovaq	%r8, %rdi\n\t"			/* depth = min(depth, room) */
	"negq	%rdi\n\t"
	"addq	%rsi, %rdi\n\t"
	"andq	$-64, %rdi\n\t"			/* bottom, >= lo: lo is page-aligned */
	"movq	%rsi, %r8\n\t"
	"andq	$-64, %r8\n\t"			/* top of the blocks */
	"cmpl	$2, scrub_level(%rip)\n\t"
	"jb	4f\n\t"
	"vxorps	%ymm1, %ymm1, %ymm1\n\t"
	"jmp	3f\n"
	"2:\n\t"
	"vmovdqa	(%rdi), %ymm0\n\t"
	"vorps	32(%rdi), %ymm0, %ymm0\n\t"
	"vptest	%ymm0, %ymm0\n\t"
	"jz	.Lscrub_zero\n\t"
	"vmovdqa	%ymm1, (%rdi)\n\t"
	"vmovdqa	%ymm1, 32(%rdi)\n"
	".Lscrub_zero:\n\t"
	"addq	$64, %rdi\n"
	"3:\n\t"
	"cmpq	%r8, %rdi\n\t"
	"jb	2b\n\t"
	"jmp	6f\n"
	"4:\n\t"				/* no AVX: just write */
	"movq	%r8, %rcx\n\t"
	"subq	%rdi, %rcx\n\t"
	"shrq	$3, %rcx\n\t"
	"xorl	%eax, %eax\n\t"
	"rep stosq\n\t"
	"jmp	6f\n"
	"5:\n\t"				/* [sp & ~63, sp), 8 bytes at a time */
	"movq	$0, (%r8)\n\t"
	"addq	$8, %r8\n"
	"6:\n\t"
	"cmpq	%rsi, %r8\n\t"
	"jb	5b\n"
	".Lscrub_regs:\n\t"
	"movl	scrub_level(%rip), %eax\n\t"
	"cmpl	$2, %eax\n\t"
	"jb	8f\n\t"
	"vzeroall\n\t"				/* ymm0-15, zmm0-15 whole with AVX-512 */
	"cmpl	$3, %eax\n\t"
	"jb	9f\n\t"
	"vpxord	%zmm16, %zmm16, %zmm16\n\t"
	"vpxord	%zmm17, %zmm17, %zmm17\n\t"
	"vpxord	%zmm18, %zmm18, %zmm18\n\t"
	"vpxord	%zmm19, %zmm19, %zmm19\n\t"
	"vpxord	%zmm20, %zmm20, %zmm20\n\t"
	"vpxord	%zmm21, %zmm21, %zmm21\n\t"
	"vpxord	%zmm22, %zmm22, %zmm22\n\t"
	"vpxord	%zmm23, %zmm23, %zmm23\n\t"
	"vpxord	%zmm24, %zmm24, %zmm24\n\t"
	"vpxord	%zmm25, %zmm25, %zmm25\n\t"
	"vpxord	%zmm26, %zmm26, %zmm26\n\t"
	"vpxord	%zmm27, %zmm27, %zmm27\n\t"
	"vpxord	%zmm28, %zmm28, %zmm28\n\t"
	"vpxord	%zmm29, %zmm29, %zmm29\n\t"
	"vpxord	%zmm30, %zmm30, %zmm30\n\t"
	"vpxord	%zmm31, %zmm31, %zmm31\n\t"
	"kxorw	%k0, %k0, %k0\n\t"
	"kxorw	%k1, %k1, %k1\n\t"
	"kxorw	%k2, %k2, %k2\n\t"
	"kxorw	%k3, %k3, %k3\n\t"
	"kxorw	%k4, %k4, %k4\n\t"
	"kxorw	%k5, %k5, %k5\n\t"
	"kxorw	%k6, %k6, %k6\n\t"
	"kxorw	%k7, %k7, %k7\n\t"
	"jmp	9f\n"
	"8:\n\t"
	"pxor	%xmm0, %xmm0\n\t"
	"pxor	%xmm1, %xmm1\n\t"
	"pxor	%xmm2, %xmm2\n\t"
	"pxor	%xmm3, %xmm3\n\t"
	"pxor	%xmm4, %xmm4\n\t"
	"pxor	%xmm5, %xmm5\n\t"
	"pxor	%xmm6, %xmm6\n\t"
	"pxor	%xmm7, %xmm7\n\t"
	"pxor	%xmm8, %xmm8\n\t"
	"pxor	%xmm9, %xmm9\n\t"
	"pxor	%xmm10, %xmm10\n\t"
	"pxor	%xmm11, %xmm11\n\t"
	"pxor	%xmm12, %xmm12\n\t"
	"pxor	%xmm13, %xmm13\n\t"
	"pxor	%xmm14, %xmm14\n\t"
	"pxor	%xmm15, %xmm15\n"
	"9:\n\t"
	"xorl	%eax, %eax\n\t"
	"xorl	%ecx, %ecx\n\t"
	"xorl	%edx, %edx\n\t"
	"xorl	%esi, %esi\n\t"
	"xorl	%edi, %edi\n\t"
	"xorl	%r8d, %r8d\n\t"
	"xorl	%r9d, %r9d\n\t"
	"xorl	%r10d, %r10d\n\t"
	"xorl	%r11d, %r11d\n\t"
	"ret\n\t"
	".cfi_endproc\n\t"
	".size	smem_scrub, .-smem_scrub");

#else /* !__x86_64__ */

/* Before a thread's first callback (see the x86-64 version). */
void smem_scrub_prepare(void)
{
	if (!scrub_stack[0])
		scrub_stack_setup(scrub_stack);
}

static __attribute__((noinline)) void burn_stack(size_t depth)
{
	volatile unsigned char buf[depth];

	explicit_bzero((void *)buf, depth);
	__asm__ volatile("" : : "r"(buf) : "memory");
}

/*
 * Generic: a zeroed array as deep as the callback's frames went, within
 * the stack's bounds; registers are not cleared.
 */
void smem_scrub(size_t depth)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t *bounds = scrub_stack;
	size_t room;

	if (!bounds[0])
		scrub_stack_setup(bounds);
	if (sp < bounds[0] || sp >= bounds[1] || !depth)
		return;
	/* burn_stack()'s own frame and explicit_bzero()'s go below the array. */
	room = sp - bounds[0];
	if (room < 4096)
		return;
	burn_stack(depth < room - 4096 ? depth : room - 4096);
}
#endif
