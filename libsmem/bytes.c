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
 */
#include <string.h>

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

/* Stubs until part B lands. */
void smem_bytes_move(void *dst, const void *src, size_t len)
{
	memmove(dst, src, len);
}

bool smem_bytes_ct_equal(const void *a, const void *b, size_t len)
{
	return smem_bytes_equal(a, b, len);
}

void smem_scrub(size_t depth)
{
	(void)depth;
}
