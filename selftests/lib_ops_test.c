// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem: the operations on secret bytes beside the windows, through the
 * public API on whatever backend this process gets: copy in at an offset,
 * secret-to-secret copy (overlap within one secret too), constant-time
 * comparison with a buffer and with another secret, freeze and melt, the
 * canary check; their errors, and errno left alone.  Timing is not tested.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

/* Sizes: an arena slot (with keys), a page of its own, several pages. */
static const size_t sizes[] = { 32, 100, 2048, 5000 };

/* The bytes of @s into @buf (smem_secret_size(s) bytes): true when all came. */
static bool contents(struct smem_secret *s, unsigned char *buf)
{
	size_t len = smem_secret_size(s);

	return smem_secret_copy_out(s, 0, buf, len) == (ssize_t)len;
}

/* ---------------------------------------------------------------- copy_in */

TEST(copy_in_at_offset)
{
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = sizes[k], off = len / 3, n = len / 2;
		unsigned char *ref = malloc(len), *got = malloc(len), *src = malloc(n);
		struct smem_secret *s = lib_new_pattern(len, 1);

		ASSERT_NE(NULL, s);
		ASSERT_NE(NULL, ref);
		lib_fill(ref, len, 1);
		lib_fill(src, n, 2);
		memcpy(ref + off, src, n);
		errno = 4321;
		ASSERT_EQ(0, smem_secret_copy_in(s, off, src, n, SMEM_KEEP_SOURCE));
		EXPECT_EQ(4321, errno);
		ASSERT_TRUE(contents(s, got));
		EXPECT_EQ(0, memcmp(ref, got, len)) TH_LOG("size %zu", len);
		/* Kept: the source is as it was. */
		EXPECT_EQ(lib_pattern(2, 0), src[0]);

		/* Not kept: wiped, after it went in. */
		lib_fill(src, n, 3);
		lib_fill(ref + off, n, 3);
		ASSERT_EQ(0, smem_secret_copy_in(s, off, src, n, 0));
		EXPECT_TRUE(lib_equal_novec(src, NULL, n));
		ASSERT_TRUE(contents(s, got));
		EXPECT_EQ(0, memcmp(ref, got, len));

		/* Up to the last byte, and nothing at the end. */
		src[0] = 0x77;
		ASSERT_EQ(0, smem_secret_copy_in(s, len - 1, src, 1, 0));
		ASSERT_EQ(0, smem_secret_copy_in(s, len, src, 0, 0));
		ASSERT_TRUE(contents(s, got));
		EXPECT_EQ(0x77, got[len - 1]);
		EXPECT_EQ(0, smem_secret_close(s));
		smem_secret_unref(s);
		free(ref);
		free(got);
		free(src);
	}
}

TEST(copy_in_errors_copy_nothing)
{
	unsigned char src[64], got[64], ref[64];
	struct smem_secret *s = lib_new_pattern(64, 4);

	ASSERT_NE(NULL, s);
	lib_fill(ref, 64, 4);
	memset(src, 0x11, sizeof(src));
	errno = 99;
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(NULL, 0, src, 1, 0));
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(s, 0, NULL, 1, 0));
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(s, 0, src, 1, 0x80));
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(s, 65, src, 0, 0));
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(s, 60, src, 5, 0));
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(s, 0, src, 65, 0));
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(s, SIZE_MAX, src, 2, 0));
	EXPECT_EQ(-EINVAL, smem_secret_copy_in(s, 2, src, SIZE_MAX, 0));
	EXPECT_EQ(99, errno);
	/* Nothing went in, and the source was not wiped. */
	ASSERT_TRUE(contents(s, got));
	EXPECT_EQ(0, memcmp(ref, got, 64));
	EXPECT_EQ(0x11, src[0]);
	EXPECT_EQ(0x11, src[63]);

	ASSERT_EQ(0, smem_secret_freeze(s, 0));
	EXPECT_EQ(-EPERM, smem_secret_copy_in(s, 0, src, 8, 0));
	EXPECT_EQ(0x11, src[0]);
	ASSERT_EQ(0, smem_secret_melt(s));

	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_EQ(-EBADF, smem_secret_copy_in(s, 0, src, 8, 0));
	EXPECT_EQ(0x11, src[0]);
	smem_secret_unref(s);
}

/* ------------------------------------------------------------------ copy */

TEST(copy_between_secrets)
{
	struct smem_secret *s[4];
	unsigned char ref[5000], got[5000];

	/* Each pair both ways round: the window order follows the addresses. */
	for (int i = 0; i < 4; i++) {
		s[i] = lib_new_pattern(sizes[i], 10 + i);
		ASSERT_NE(NULL, s[i]);
	}
	for (int d = 0; d < 4; d++) {
		for (int from = 0; from < 4; from++) {
			size_t dl = sizes[d], sl = sizes[from];
			size_t n = (dl < sl ? dl : sl) / 2, doff = dl - n, soff = sl / 4;
			unsigned char *src_ref = malloc(sl);

			if (d == from) {
				free(src_ref);
				continue;
			}
			ASSERT_TRUE(contents(s[d], ref));
			ASSERT_TRUE(contents(s[from], src_ref));
			memcpy(ref + doff, src_ref + soff, n);
			errno = 7;
			ASSERT_EQ(0, smem_secret_copy(s[d], doff, s[from], soff, n))
				TH_LOG("%zu -> %zu", sl, dl);
			EXPECT_EQ(7, errno);
			ASSERT_TRUE(contents(s[d], got));
			EXPECT_EQ(0, memcmp(ref, got, dl)) TH_LOG("%zu -> %zu", sl, dl);
			/* The source is unchanged. */
			ASSERT_TRUE(contents(s[from], got));
			EXPECT_EQ(0, memcmp(src_ref, got, sl));
			free(src_ref);
		}
	}
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(0, smem_secret_close(s[i]));
		smem_secret_unref(s[i]);
	}
}

TEST(copy_within_one_secret_overlapping)
{
	const size_t len = 300;
	unsigned char ref[300], got[300];
	struct smem_secret *s = lib_new_pattern(len, 20);
	static const size_t moves[][3] = {	/* dst, src, len */
		{ 10, 0, 200 }, { 0, 10, 200 }, { 1, 0, 299 }, { 0, 1, 299 },
		{ 50, 50, 100 }, { 0, 150, 150 }, { 150, 0, 150 }, { 299, 0, 1 },
	};

	ASSERT_NE(NULL, s);
	lib_fill(ref, len, 20);
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		memmove(ref + moves[i][0], ref + moves[i][1], moves[i][2]);
		ASSERT_EQ(0, smem_secret_copy(s, moves[i][0], s, moves[i][1], moves[i][2]));
		ASSERT_TRUE(contents(s, got));
		EXPECT_EQ(0, memcmp(ref, got, len)) TH_LOG("move %zu", i);
	}
	EXPECT_EQ(-EINVAL, smem_secret_copy(s, 1, s, 0, 300));
	EXPECT_EQ(0, smem_secret_close(s));
	smem_secret_unref(s);
}

TEST(copy_errors)
{
	struct smem_secret *a = lib_new_pattern(64, 30), *b = lib_new_pattern(32, 31);
	unsigned char ref[64], got[64];

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	lib_fill(ref, 64, 30);
	errno = 5;
	EXPECT_EQ(-EINVAL, smem_secret_copy(NULL, 0, b, 0, 1));
	EXPECT_EQ(-EINVAL, smem_secret_copy(a, 0, NULL, 0, 1));
	EXPECT_EQ(-EINVAL, smem_secret_copy(a, 0, b, 0, 33));	/* past the source */
	EXPECT_EQ(-EINVAL, smem_secret_copy(a, 40, b, 0, 32));	/* past the destination */
	EXPECT_EQ(-EINVAL, smem_secret_copy(a, SIZE_MAX, b, 0, 2));
	EXPECT_EQ(-EINVAL, smem_secret_copy(a, 0, b, SIZE_MAX, 2));
	EXPECT_EQ(5, errno);
	ASSERT_TRUE(contents(a, got));
	EXPECT_EQ(0, memcmp(ref, got, 64));

	ASSERT_EQ(0, smem_secret_freeze(a, 0));
	EXPECT_EQ(-EPERM, smem_secret_copy(a, 0, b, 0, 8));
	/* Frozen as a source is fine. */
	EXPECT_EQ(0, smem_secret_copy(b, 0, a, 0, 8));
	ASSERT_EQ(0, smem_secret_melt(a));

	EXPECT_EQ(0, smem_secret_close(b));
	EXPECT_EQ(-EBADF, smem_secret_copy(a, 0, b, 0, 8));
	EXPECT_EQ(-EBADF, smem_secret_copy(b, 0, a, 0, 8));
	ASSERT_TRUE(contents(a, got));
	EXPECT_EQ(0, memcmp(ref, got, 64));
	EXPECT_EQ(0, smem_secret_close(a));
	smem_secret_unref(a);
	smem_secret_unref(b);
}

/* Copies both ways between two secrets at once: they must not deadlock. */
struct crosscopy {
	struct smem_secret *dst, *src;
	int failures;
};

static void *crosscopy_thread(void *p)
{
	struct crosscopy *c = p;

	for (int i = 0; i < 20000; i++)
		c->failures += smem_secret_copy(c->dst, 0, c->src, 0, 16) != 0;
	return NULL;
}

TEST(copy_both_ways_at_once)
{
	pid_t pid;

	/* In a child, which a deadlock cannot hang. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct smem_secret *a = lib_new_pattern(64, 40), *b = lib_new_pattern(64, 41);
		struct crosscopy ab = { a, b }, ba = { b, a };
		pthread_t t1, t2;

		if (!a || !b)
			_exit(2);
		pthread_create(&t1, NULL, crosscopy_thread, &ab);
		pthread_create(&t2, NULL, crosscopy_thread, &ba);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		if (ab.failures || ba.failures)
			fprintf(stderr, "copies failed: %d, %d\n", ab.failures, ba.failures);
		_exit(ab.failures || ba.failures);
	}
	EXPECT_EQ(0, wait_child_timeout(pid, 20)) TH_LOG("deadlock (-1), or copies failed");
}

/* ----------------------------------------------------------------- equal */

TEST(equal_with_buffer)
{
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = sizes[k];
		unsigned char *buf = malloc(len + 1);
		struct smem_secret *s = lib_new_pattern(len, 50);

		ASSERT_NE(NULL, buf);
		ASSERT_NE(NULL, s);
		lib_fill(buf, len + 1, 50);
		errno = 3;
		EXPECT_EQ(1, smem_secret_equal(s, buf, len));
		EXPECT_EQ(3, errno);
		/* Any byte, any bit. */
		for (size_t i = 0; i < len; i += len / 16 + 1) {
			buf[i] ^= 0x80;
			EXPECT_EQ(0, smem_secret_equal(s, buf, len)) TH_LOG("byte %zu", i);
			buf[i] ^= 0x81;
			EXPECT_EQ(0, smem_secret_equal(s, buf, len));
			buf[i] ^= 0x01;
		}
		buf[len - 1] ^= 1;
		EXPECT_EQ(0, smem_secret_equal(s, buf, len));
		buf[len - 1] ^= 1;
		/* A prefix or a longer buffer is different. */
		EXPECT_EQ(0, smem_secret_equal(s, buf, len - 1));
		EXPECT_EQ(0, smem_secret_equal(s, buf, len + 1));
		EXPECT_EQ(0, smem_secret_equal(s, buf, 0));
		EXPECT_EQ(1, smem_secret_equal(s, buf, len));
		EXPECT_EQ(0, smem_secret_close(s));
		EXPECT_EQ(-EBADF, smem_secret_equal(s, buf, len));
		smem_secret_unref(s);
		free(buf);
	}
	EXPECT_EQ(-EINVAL, smem_secret_equal(NULL, "x", 1));
}

TEST(equal_secret)
{
	struct smem_secret *a = lib_new_pattern(100, 60), *b = lib_new_pattern(100, 60);
	struct smem_secret *c = lib_new_pattern(101, 60), *d = lib_new_pattern(5000, 61);
	struct smem_secret *e = lib_new_pattern(5000, 61);
	unsigned char byte;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, c);
	ASSERT_NE(NULL, d);
	ASSERT_NE(NULL, e);
	errno = 8;
	EXPECT_EQ(1, smem_secret_equal_secret(a, b));
	EXPECT_EQ(1, smem_secret_equal_secret(b, a));
	EXPECT_EQ(1, smem_secret_equal_secret(a, a));
	EXPECT_EQ(1, smem_secret_equal_secret(d, e));
	EXPECT_EQ(8, errno);
	/* Same first 100 bytes, one more: different lengths differ. */
	EXPECT_EQ(0, smem_secret_equal_secret(a, c));
	EXPECT_EQ(0, smem_secret_equal_secret(c, a));
	EXPECT_EQ(0, smem_secret_equal_secret(a, d));
	/* The last byte. */
	ASSERT_EQ(1, smem_secret_copy_out(e, 4999, &byte, 1));
	byte ^= 4;
	ASSERT_EQ(0, smem_secret_copy_in(e, 4999, &byte, 1, 0));
	EXPECT_EQ(0, smem_secret_equal_secret(d, e));
	EXPECT_EQ(0, smem_secret_equal_secret(e, d));
	EXPECT_EQ(-EINVAL, smem_secret_equal_secret(NULL, a));
	EXPECT_EQ(-EINVAL, smem_secret_equal_secret(a, NULL));
	EXPECT_EQ(0, smem_secret_close(b));
	EXPECT_EQ(-EBADF, smem_secret_equal_secret(a, b));
	EXPECT_EQ(-EBADF, smem_secret_equal_secret(b, a));
	EXPECT_EQ(-EBADF, smem_secret_equal_secret(b, b));
	smem_secret_unref(a);
	smem_secret_unref(b);
	smem_secret_unref(c);
	smem_secret_unref(d);
	smem_secret_unref(e);
}

/* ------------------------------------------------------ freeze, melt, check */

static int store_byte_fn(void *buf, size_t len, void *arg)
{
	(void)len;
	((unsigned char *)buf)[0] = *(unsigned char *)arg;
	return 0;
}

TEST(freeze_and_melt)
{
	struct smem_secret *s = lib_new_pattern(64, 70);
	unsigned char v = 0x42, got[64];
	unsigned int seed = 70;

	ASSERT_NE(NULL, s);
	errno = 6;
	ASSERT_EQ(0, smem_secret_freeze(s, 0));
	EXPECT_EQ(6, errno);
	EXPECT_EQ(-EPERM, smem_secret_write(s, store_byte_fn, &v));
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
	/* Twice is fine, and melting makes it writable again. */
	EXPECT_EQ(0, smem_secret_freeze(s, 0));
	ASSERT_EQ(0, smem_secret_melt(s));
	EXPECT_EQ(0, smem_secret_melt(s));
	EXPECT_EQ(0, smem_secret_write(s, store_byte_fn, &v));
	ASSERT_TRUE(contents(s, got));
	EXPECT_EQ(0x42, got[0]);

	EXPECT_EQ(-EINVAL, smem_secret_freeze(s, 0x100));
	ASSERT_EQ(0, smem_secret_freeze(s, SMEM_FREEZE_FOREVER));
	EXPECT_EQ(-EPERM, smem_secret_melt(s));
	EXPECT_EQ(-EPERM, smem_secret_write(s, store_byte_fn, &v));
	EXPECT_EQ(-EINVAL, smem_secret_freeze(NULL, 0));
	EXPECT_EQ(-EINVAL, smem_secret_melt(NULL));
	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_EQ(-EBADF, smem_secret_freeze(s, 0));
	smem_secret_unref(s);
}

/* Write callback: one byte past the end, onto the canary. */
static int overrun_fn(void *buf, size_t len, void *arg)
{
	(void)arg;
	((volatile unsigned char *)buf)[len] ^= 0xff;
	return 0;
}

/* Write callback: one byte before the start. */
static int underrun_fn(void *buf, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	((volatile unsigned char *)buf)[-1] ^= 0xff;
	return 0;
}

static int called_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	*(bool *)arg = true;
	return 0;
}

/*
 * Sizes with room after the bytes in their own pages too (a multiple of
 * 16 ends at the guard page there, and an overrun faults instead).
 */
static const size_t odd_sizes[] = { 33, 100, 2047, 5000 };

TEST(check_finds_overruns)
{
	for (size_t k = 0; k < sizeof(odd_sizes) / sizeof(odd_sizes[0]); k++) {
		struct smem_secret *s = lib_new_pattern(odd_sizes[k], 80);
		struct smem_secret *t = lib_new_pattern(odd_sizes[k], 81);
		bool called = false;

		ASSERT_NE(NULL, s);
		ASSERT_NE(NULL, t);
		errno = 2;
		EXPECT_EQ(0, smem_secret_check(s));
		EXPECT_EQ(2, errno);
		ASSERT_EQ(0, smem_secret_write(s, overrun_fn, NULL));
		EXPECT_EQ(-EFAULT, smem_secret_check(s)) TH_LOG("size %zu", odd_sizes[k]);
		ASSERT_EQ(0, smem_secret_write(t, underrun_fn, NULL));
		EXPECT_EQ(-EFAULT, smem_secret_check(t));
		/*
		 * Every window checks first: the callback is not called.  (A
		 * window looks at the canary before the bytes and at the 16
		 * bytes after them, where there are 16.)
		 */
		EXPECT_EQ(-EFAULT, smem_secret_read(t, called_fn, &called));
		EXPECT_FALSE(called);
		EXPECT_EQ(-EFAULT, smem_secret_close(s));
		EXPECT_EQ(-EFAULT, smem_secret_close(t));
		EXPECT_EQ(-EBADF, smem_secret_check(s));
		smem_secret_unref(s);
		smem_secret_unref(t);
	}
	EXPECT_EQ(-EINVAL, smem_secret_check(NULL));
}

TEST_HARNESS_MAIN
