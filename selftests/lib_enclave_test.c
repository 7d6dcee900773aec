// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem enclaves: bytes sealed in ordinary memory under the process key.
 * Round trips of every size through smem_enclave_read() and
 * smem_enclave_open(), sealing a secret (also from inside its own
 * callback), every error, sealed forms that were changed, cut, swapped or
 * made in another process, fork() (also while another thread rekeys) and
 * smem_purge(), smem_rekey() (its count, stale forms, refusal inside a
 * window, what waits for it), 16 threads reading while the key is
 * replaced and enclaves come and go, an unref while another thread reads,
 * nested reads and the nesting limit, and what enclaves cost: no
 * descriptor, at most 128 bytes of ordinary memory each, no secret memory.
 *
 * A pattern enclave holds lib_pattern(seed) (lib_util.h); lib_check_fn()
 * says 0 when a callback sees exactly that.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

static const size_t sizes[] = { 1, 31, 32, 33, 4000, 4096, 65536, 1 << 20 };

/*
 * The sealed form (libsmem/enclave.c): a header of 24 bytes, little
 * endian, "SMEN", version 1, three zero bytes, epoch, size, identity;
 * then the nonce (24 bytes), the tag (16) and the ciphertext.  The tests
 * that change it check this layout first.
 */
#define FORM_VERSION	4
#define FORM_PAD	5
#define FORM_EPOCH	8
#define FORM_SIZE	12
#define FORM_ID		16
#define FORM_NONCE	24
#define FORM_TAG	48
#define FORM_CIPHER	64

/* A new enclave of @len bytes holding pattern @seed, or NULL. */
static struct smem_enclave *enclave_pattern(size_t len, unsigned int seed)
{
	struct smem_enclave *e = NULL;
	unsigned char *buf = malloc(len);

	if (!buf)
		return NULL;
	lib_fill(buf, len, seed);
	if (smem_enclave_new(buf, len, 0, &e))
		e = NULL;
	free(buf);
	return e;
}

/* 0 when enclave @e holds pattern @seed, 1 when other bytes, or the error. */
static int enclave_check(struct smem_enclave *e, unsigned int seed)
{
	return smem_enclave_read(e, lib_check_fn, &seed);
}

/* Write callback: pattern *(unsigned int *)arg. */
static int fill_fn(void *buf, size_t len, void *arg)
{
	lib_fill(buf, len, *(unsigned int *)arg);
	return 0;
}

/* What a read callback saw, and what it returns. */
struct seen {
	const unsigned char *want;
	size_t want_len;
	size_t len;
	bool equal;
	int calls;
	int ret;
};

static int seen_fn(const void *buf, size_t len, void *arg)
{
	struct seen *sn = arg;

	sn->calls++;
	sn->len = len;
	sn->equal = len == sn->want_len && !memcmp(buf, sn->want, len);
	return sn->ret;
}

/* ---------------------------------------------------------- round trips */

/*
 * new -> read: the callback sees exactly the bytes and the length, and its
 * value comes back; the source is wiped.  1 MiB is more than the room of
 * the thread's scratch secret.
 */
TEST(new_then_read)
{
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t len = sizes[i];
		unsigned char *src = malloc(len), *want = malloc(len);
		struct seen sn = { .want = want, .want_len = len, .ret = 1 + (int)i };
		struct smem_enclave *e = NULL;

		ASSERT_NE(NULL, src);
		ASSERT_NE(NULL, want);
		lib_fill(want, len, (unsigned int)i);
		memcpy(src, want, len);
		ASSERT_EQ(0, smem_enclave_new(src, len, 0, &e)) TH_LOG("size %zu", len);
		ASSERT_NE(NULL, e);
		EXPECT_TRUE(lib_equal_novec(src, NULL, len)) TH_LOG("size %zu: the source is kept",
								    len);
		EXPECT_EQ(len, smem_enclave_size(e));
		EXPECT_EQ(1 + (int)i, smem_enclave_read(e, seen_fn, &sn)) TH_LOG("size %zu", len);
		EXPECT_EQ(1, sn.calls);
		EXPECT_EQ(len, sn.len);
		EXPECT_TRUE(sn.equal) TH_LOG("size %zu: other bytes", len);
		/* Unchanged by a read: a second one sees the same. */
		sn.equal = false;
		EXPECT_EQ(1 + (int)i, smem_enclave_read(e, seen_fn, &sn));
		EXPECT_TRUE(sn.equal);
		EXPECT_EQ(NULL, smem_enclave_unref(e));
		free(src);
		free(want);
	}
}

TEST(read_returns_callback_value)
{
	static const int values[] = { 0, 1, 12345, INT_MAX };
	static const int negative[] = { -1, -EIO, -ECANCELED, INT_MIN };
	unsigned char want[48];
	struct seen sn = { .want = want, .want_len = sizeof(want) };
	struct smem_enclave *e = enclave_pattern(sizeof(want), 3);

	ASSERT_NE(NULL, e);
	lib_fill(want, sizeof(want), 3);
	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		sn.ret = values[i];
		EXPECT_EQ(values[i], smem_enclave_read(e, seen_fn, &sn));
	}
	/* A callback's failure is its own: -ECANCELED, whatever it returned. */
	for (size_t i = 0; i < ARRAY_SIZE(negative); i++) {
		sn.ret = negative[i];
		sn.equal = false;
		EXPECT_EQ(-ECANCELED, smem_enclave_read(e, seen_fn, &sn)) TH_LOG("fn returned %d",
										  negative[i]);
		EXPECT_TRUE(sn.equal);
	}
	/* And the enclave is as it was. */
	EXPECT_EQ(0, enclave_check(e, 3));
	smem_enclave_unref(e);
}

/*
 * new (SMEM_KEEP_SOURCE) -> open -> smem_secret_read: the same bytes, the
 * source kept; the secret is independent of the enclave.
 */
TEST(new_then_open)
{
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t len = sizes[i];
		unsigned char *src = malloc(len), *out = malloc(len);
		struct smem_enclave *e = NULL;
		struct smem_secret *s = NULL;
		unsigned int seed = 10 + (unsigned int)i;

		ASSERT_NE(NULL, src);
		ASSERT_NE(NULL, out);
		lib_fill(src, len, seed);
		ASSERT_EQ(0, smem_enclave_new(src, len, SMEM_KEEP_SOURCE, &e)) TH_LOG("size %zu",
										       len);
		EXPECT_EQ(0, lib_check_fn(src, len, &seed)) TH_LOG("size %zu: the source changed",
								   len);
		ASSERT_EQ(0, smem_enclave_open(e, 0, &s)) TH_LOG("size %zu", len);
		ASSERT_NE(NULL, s);
		EXPECT_EQ(len, smem_secret_size(s));
		memset(out, 0, len);
		EXPECT_EQ((int)len, smem_secret_read(s, lib_copy_fn, out));
		EXPECT_EQ(0, memcmp(src, out, len)) TH_LOG("size %zu: other bytes", len);
		/* Writable, and its own: the enclave keeps its bytes. */
		EXPECT_EQ(0, smem_secret_write(s, fill_fn, &(unsigned int){ seed + 100 }));
		EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &(unsigned int){ seed + 100 }));
		/* Closing the secret leaves the enclave, and the other way round. */
		EXPECT_EQ(0, smem_secret_close(s));
		smem_secret_unref(s);
		EXPECT_EQ(0, enclave_check(e, seed));
		ASSERT_EQ(0, smem_enclave_open(e, 0, &s));
		smem_enclave_unref(e);
		EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
		smem_secret_unref(s);
		free(src);
		free(out);
	}
}

/* A failed call leaves the source as it was and makes no enclave. */
TEST(new_failure_keeps_source)
{
	static const unsigned int bad_flags[] = { SMEM_CLOSE, 1U << 2, 1U << 31,
						  SMEM_REQUIRE(SMEM_G_LOCKED) };
	unsigned char src[64];
	struct smem_enclave *e = NULL;
	unsigned int seed = 4;

	lib_fill(src, sizeof(src), seed);
	for (size_t i = 0; i < ARRAY_SIZE(bad_flags); i++) {
		EXPECT_EQ(-EINVAL, smem_enclave_new(src, sizeof(src), bad_flags[i], &e))
			TH_LOG("flags %#x", bad_flags[i]);
		EXPECT_EQ(-EINVAL, smem_enclave_new(src, sizeof(src),
						    bad_flags[i] | SMEM_KEEP_SOURCE, &e));
	}
	EXPECT_EQ(-EINVAL, smem_enclave_new(src, sizeof(src), 0, NULL));
	EXPECT_EQ(-EINVAL, smem_enclave_new(src, SMEM_SECRET_MAX_SIZE + 1, 0, &e));
	EXPECT_EQ(NULL, e);
	EXPECT_EQ(0, lib_check_fn(src, sizeof(src), &seed));
}

/* ------------------------------------------------------ sealing secrets */

TEST(seal_keeps_secret_usable)
{
	static const size_t seal_sizes[] = { 1, 32, 4000, 65536, 1 << 20 };

	for (size_t i = 0; i < ARRAY_SIZE(seal_sizes); i++) {
		unsigned int seed = 20 + (unsigned int)i;
		struct smem_secret *s = lib_new_pattern(seal_sizes[i], seed);
		struct smem_enclave *e = NULL;

		ASSERT_NE(NULL, s);
		ASSERT_EQ(0, smem_secret_seal(s, 0, &e)) TH_LOG("size %zu", seal_sizes[i]);
		ASSERT_NE(NULL, e);
		EXPECT_EQ(seal_sizes[i], smem_enclave_size(e));
		EXPECT_EQ(0, enclave_check(e, seed)) TH_LOG("size %zu", seal_sizes[i]);
		EXPECT_FALSE(smem_secret_is_closed(s));
		EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
		/* A copy: the secret's later bytes do not reach it, nor its close. */
		EXPECT_EQ(0, smem_secret_write(s, fill_fn, &(unsigned int){ seed + 100 }));
		EXPECT_EQ(0, smem_secret_close(s));
		smem_secret_unref(s);
		EXPECT_EQ(0, enclave_check(e, seed));
		smem_enclave_unref(e);
	}
}

TEST(seal_frozen_secret)
{
	struct smem_secret *s = lib_new_pattern(300, 29);
	struct smem_enclave *e = NULL;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, smem_secret_freeze(s, SMEM_FREEZE_FOREVER));
	ASSERT_EQ(0, smem_secret_seal(s, SMEM_CLOSE, &e));
	EXPECT_TRUE(smem_secret_is_closed(s));
	EXPECT_EQ(0, enclave_check(e, 29));
	smem_secret_unref(s);
	smem_enclave_unref(e);
}

TEST(seal_and_close)
{
	struct smem_secret *s = lib_new_pattern(100, 30);
	struct smem_enclave *e = NULL;
	unsigned int seed = 30;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, smem_secret_seal(s, SMEM_CLOSE, &e));
	ASSERT_NE(NULL, e);
	EXPECT_TRUE(smem_secret_is_closed(s));
	EXPECT_EQ(-EBADF, smem_secret_read(s, lib_check_fn, &seed));
	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_EQ(0, enclave_check(e, seed));
	smem_secret_unref(s);
	smem_enclave_unref(e);
}

TEST(seal_closed_secret)
{
	struct smem_secret *s = lib_new_pattern(64, 31);
	struct smem_enclave *e = NULL;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, smem_secret_close(s));
	EXPECT_EQ(-EBADF, smem_secret_seal(s, 0, &e));
	EXPECT_EQ(-EBADF, smem_secret_seal(s, SMEM_CLOSE, &e));
	EXPECT_EQ(NULL, e);
	smem_secret_unref(s);
}

struct seal_inside {
	struct smem_secret *s;
	unsigned int flags;
	struct smem_enclave *e;
	int err;
	bool closed_inside;
	int bytes_after;	/* lib_check_fn() on the callback's bytes after the seal */
	unsigned int seed;
};

static int seal_inside_fn(const void *buf, size_t len, void *arg)
{
	struct seal_inside *si = arg;

	si->err = smem_secret_seal(si->s, si->flags, &si->e);
	si->closed_inside = smem_secret_is_closed(si->s);
	si->bytes_after = lib_check_fn(buf, len, &si->seed);
	return 9;
}

/* Inside a read callback on the same secret: the seal works, the secret stays. */
TEST(seal_inside_own_callback)
{
	struct seal_inside si = { .seed = 32 };

	si.s = lib_new_pattern(200, si.seed);
	ASSERT_NE(NULL, si.s);
	EXPECT_EQ(9, smem_secret_read(si.s, seal_inside_fn, &si));
	EXPECT_EQ(0, si.err);
	ASSERT_NE(NULL, si.e);
	EXPECT_FALSE(si.closed_inside);
	EXPECT_EQ(0, si.bytes_after);
	EXPECT_FALSE(smem_secret_is_closed(si.s));
	EXPECT_EQ(0, smem_secret_read(si.s, lib_check_fn, &si.seed));
	EXPECT_EQ(0, enclave_check(si.e, si.seed));
	EXPECT_EQ(0, smem_secret_close(si.s));
	smem_secret_unref(si.s);
	smem_enclave_unref(si.e);
}

/*
 * With SMEM_CLOSE inside the callback the close cannot wait for the
 * callback: the seal returns 0 and an enclave, the callback keeps its
 * bytes, and the secret is closed once the callback has ended.
 */
TEST(seal_and_close_inside_own_callback)
{
	struct seal_inside si = { .flags = SMEM_CLOSE, .seed = 33 };

	si.s = lib_new_pattern(5000, si.seed);
	ASSERT_NE(NULL, si.s);
	EXPECT_EQ(9, smem_secret_read(si.s, seal_inside_fn, &si));
	EXPECT_EQ(0, si.err);
	ASSERT_NE(NULL, si.e);
	EXPECT_TRUE(si.closed_inside);
	EXPECT_EQ(0, si.bytes_after);
	EXPECT_TRUE(smem_secret_is_closed(si.s));
	EXPECT_EQ(-EBADF, smem_secret_read(si.s, lib_check_fn, &si.seed));
	EXPECT_EQ(0, smem_secret_close(si.s));
	EXPECT_EQ(0, enclave_check(si.e, si.seed));
	smem_secret_unref(si.s);
	smem_enclave_unref(si.e);
}

/* --------------------------------------------------------------- errors */

static int errno_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	(void)arg;
	errno = ENOENT;
	return 0;
}

/* Read callback: counts its calls in *(int *)arg. */
static int count_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

TEST(new_errors)
{
	unsigned char src[16] = { 1 };
	struct smem_enclave *e = NULL;

	errno = 77;
	EXPECT_EQ(-EINVAL, smem_enclave_new(NULL, 16, 0, &e));
	EXPECT_EQ(-EINVAL, smem_enclave_new(src, 16, 0, NULL));
	EXPECT_EQ(-EINVAL, smem_enclave_new(src, 0, 0, &e));
	EXPECT_EQ(-EINVAL, smem_enclave_new(src, SMEM_SECRET_MAX_SIZE + 1, 0, &e));
	EXPECT_EQ(-EINVAL, smem_enclave_new(src, SIZE_MAX, 0, &e));
	EXPECT_EQ(-EINVAL, smem_enclave_new(src, 16, 1U << 7, &e));
	EXPECT_EQ(77, errno);
	EXPECT_EQ(NULL, e);
	EXPECT_EQ(1, src[0]);
}

TEST(seal_errors)
{
	struct smem_secret *s = lib_new_pattern(16, 40);
	struct smem_enclave *e = NULL;
	unsigned int seed = 40;

	ASSERT_NE(NULL, s);
	errno = 77;
	EXPECT_EQ(-EINVAL, smem_secret_seal(NULL, 0, &e));
	EXPECT_EQ(-EINVAL, smem_secret_seal(s, 0, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_seal(s, SMEM_CLOSE, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_seal(s, SMEM_KEEP_SOURCE, &e));
	EXPECT_EQ(-EINVAL, smem_secret_seal(s, SMEM_CLOSE | (1U << 2), &e));
	EXPECT_EQ(-EINVAL, smem_secret_seal(s, 1U << 31, &e));
	EXPECT_EQ(-EINVAL, smem_secret_seal(s, SMEM_REQUIRE(SMEM_G_LOCKED), &e));
	EXPECT_EQ(77, errno);
	EXPECT_EQ(NULL, e);
	/* A refused SMEM_CLOSE did not close. */
	EXPECT_FALSE(smem_secret_is_closed(s));
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
	smem_secret_unref(s);
}

TEST(open_errors)
{
	struct smem_enclave *e = enclave_pattern(16, 41);
	unsigned int g = lib_guarantees(), missing;
	struct smem_secret *s = NULL;
	unsigned int seed = 41;

	ASSERT_NE(NULL, e);
	errno = 77;
	EXPECT_EQ(-EINVAL, smem_enclave_open(NULL, 0, &s));
	EXPECT_EQ(-EINVAL, smem_enclave_open(e, 0, NULL));
	EXPECT_EQ(-EINVAL, smem_enclave_open(e, SMEM_KEEP_SOURCE, &s));
	EXPECT_EQ(-EINVAL, smem_enclave_open(e, SMEM_CLOSE, &s));
	EXPECT_EQ(-EINVAL, smem_enclave_open(e, 1U << 31, &s));
	EXPECT_EQ(-EINVAL, smem_enclave_open(e, SMEM_REQUIRE(1U << 7), &s));
	EXPECT_EQ(77, errno);
	EXPECT_EQ(NULL, s);
	/* SMEM_REQUIRE() as for a new secret. */
	missing = ~g & (SMEM_G_NO_DIRECT_MAP | SMEM_G_NO_GUP | SMEM_G_THREAD_WINDOW |
			SMEM_G_SHAREABLE);
	if (missing) {
		EXPECT_EQ(-ENOTSUP, smem_enclave_open(e, SMEM_REQUIRE(missing), &s))
			TH_LOG("backend %s lacks %#x", lib_backend(), missing);
		EXPECT_EQ(NULL, s);
	}
	ASSERT_EQ(0, smem_enclave_open(e, SMEM_REQUIRE(g), &s));
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
	smem_secret_unref(s);
	smem_enclave_unref(e);
}

TEST(read_errors)
{
	struct smem_enclave *e = enclave_pattern(16, 42);
	int calls = 0;

	ASSERT_NE(NULL, e);
	errno = 77;
	EXPECT_EQ(-EINVAL, smem_enclave_read(NULL, count_fn, &calls));
	EXPECT_EQ(-EINVAL, smem_enclave_read(e, NULL, &calls));
	EXPECT_EQ(77, errno);
	EXPECT_EQ(0, calls);
	/* Also when the callback changed it. */
	EXPECT_EQ(0, smem_enclave_read(e, errno_fn, NULL));
	EXPECT_EQ(77, errno);
	EXPECT_EQ(0, enclave_check(e, 42));
	smem_enclave_unref(e);
}

TEST(size_ref_unref)
{
	struct smem_enclave *e = enclave_pattern(77, 43);

	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, smem_enclave_size(NULL));
	EXPECT_EQ(NULL, smem_enclave_ref(NULL));
	EXPECT_EQ(NULL, smem_enclave_unref(NULL));
	EXPECT_EQ(77, smem_enclave_size(e));
	/* Two more references: the enclave lives until the third unref (ASan sees it). */
	EXPECT_EQ(e, smem_enclave_ref(e));
	EXPECT_EQ(e, smem_enclave_ref(e));
	EXPECT_EQ(NULL, smem_enclave_unref(e));
	EXPECT_EQ(NULL, smem_enclave_unref(e));
	EXPECT_EQ(0, enclave_check(e, 43));
	EXPECT_EQ(77, smem_enclave_size(e));
	EXPECT_EQ(NULL, smem_enclave_unref(e));
}

/* The sealed form of @e in a new buffer, its length in *@len; NULL on failure. */
static unsigned char *export_form(struct smem_enclave *e, size_t *len)
{
	ssize_t need = smem_enclave_export(e, NULL, 0);
	unsigned char *buf;

	if (need <= 0)
		return NULL;
	buf = malloc((size_t)need);
	if (buf && smem_enclave_export(e, buf, (size_t)need) != need) {
		free(buf);
		buf = NULL;
	}
	*len = (size_t)need;
	return buf;
}

/* smem_enclave_import()'s result; an enclave it made is dropped. */
static int import_result(const void *form, size_t len)
{
	struct smem_enclave *e = NULL;
	int err = smem_enclave_import(form, len, 0, &e);

	smem_enclave_unref(e);
	return err;
}

static uint32_t form_get32(const unsigned char *form, size_t offset)
{
	uint32_t v;

	memcpy(&v, form + offset, sizeof(v));
	return le32toh(v);
}

static void form_put32(unsigned char *form, size_t offset, uint32_t v)
{
	v = htole32(v);
	memcpy(form + offset, &v, sizeof(v));
}

static uint64_t form_get64(const unsigned char *form, size_t offset)
{
	uint64_t v;

	memcpy(&v, form + offset, sizeof(v));
	return le64toh(v);
}

static void form_put64(unsigned char *form, size_t offset, uint64_t v)
{
	v = htole64(v);
	memcpy(form + offset, &v, sizeof(v));
}

TEST(export_errors)
{
	struct smem_enclave *e = enclave_pattern(50, 44);
	unsigned char buf[FORM_CIPHER + 50];
	ssize_t need;

	ASSERT_NE(NULL, e);
	errno = 77;
	need = smem_enclave_export(e, NULL, 0);
	EXPECT_EQ((ssize_t)sizeof(buf), need);
	EXPECT_EQ(-EINVAL, smem_enclave_export(NULL, buf, sizeof(buf)));
	EXPECT_EQ(-EINVAL, smem_enclave_export(NULL, NULL, 0));
	EXPECT_EQ(-EINVAL, smem_enclave_export(e, NULL, sizeof(buf)));
	EXPECT_EQ(-ERANGE, smem_enclave_export(e, buf, sizeof(buf) - 1));
	EXPECT_EQ(-ERANGE, smem_enclave_export(e, buf, 1));
	EXPECT_EQ((ssize_t)sizeof(buf), smem_enclave_export(e, buf, sizeof(buf) + 100));
	EXPECT_EQ(77, errno);
	smem_enclave_unref(e);
}

/*
 * Forms that are not one: -EINVAL, before anything is authenticated.  The
 * layout is checked first, on a form that imports.
 */
TEST(import_malformed)
{
	struct smem_enclave *e = enclave_pattern(40, 45), *got = NULL;
	unsigned char *form, *bad;
	size_t len;

	ASSERT_NE(NULL, e);
	form = export_form(e, &len);
	ASSERT_NE(NULL, form);
	bad = malloc(len + 1);
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(FORM_CIPHER + 40, len);
	ASSERT_EQ(0, memcmp(form, "SMEN", 4));
	ASSERT_EQ(1, form[FORM_VERSION]);
	ASSERT_EQ(40, form_get32(form, FORM_SIZE));
	ASSERT_NE(0, form_get32(form, FORM_EPOCH));
	ASSERT_NE(0, form_get64(form, FORM_ID));
	ASSERT_EQ(0, import_result(form, len));

	errno = 77;
	EXPECT_EQ(-EINVAL, smem_enclave_import(NULL, len, 0, &got));
	EXPECT_EQ(-EINVAL, smem_enclave_import(form, len, 0, NULL));
	EXPECT_EQ(-EINVAL, smem_enclave_import(form, len, 1, &got));
	EXPECT_EQ(-EINVAL, smem_enclave_import(form, len, SMEM_KEEP_SOURCE, &got));
	/* Short: no header, a header alone, one byte less than its size says. */
	EXPECT_EQ(-EINVAL, import_result(form, 0));
	EXPECT_EQ(-EINVAL, import_result(form, FORM_NONCE - 1));
	EXPECT_EQ(-EINVAL, import_result(form, FORM_NONCE));
	EXPECT_EQ(-EINVAL, import_result(form, FORM_CIPHER));
	EXPECT_EQ(-EINVAL, import_result(form, len - 1));
	/* One byte more. */
	memcpy(bad, form, len);
	bad[len] = 0;
	EXPECT_EQ(-EINVAL, import_result(bad, len + 1));

#define EXPECT_BAD(what, stmt) do { \
		memcpy(bad, form, len); \
		stmt; \
		EXPECT_EQ(-EINVAL, import_result(bad, len)) TH_LOG("%s", what); \
	} while (0)
	EXPECT_BAD("magic", bad[0] = 's');
	EXPECT_BAD("magic", bad[3] ^= 0x01);
	EXPECT_BAD("version 0", bad[FORM_VERSION] = 0);
	EXPECT_BAD("version 2", bad[FORM_VERSION] = 2);
	EXPECT_BAD("version 255", bad[FORM_VERSION] = 255);
	for (int i = 0; i < 3; i++)
		EXPECT_BAD("pad", bad[FORM_PAD + i] = 1);
	EXPECT_BAD("size + 1", form_put32(bad, FORM_SIZE, 41));
	EXPECT_BAD("size - 1", form_put32(bad, FORM_SIZE, 39));
	EXPECT_BAD("size 0", form_put32(bad, FORM_SIZE, 0));
	EXPECT_BAD("size over the maximum",
		   form_put32(bad, FORM_SIZE, (uint32_t)SMEM_SECRET_MAX_SIZE + 1));
	EXPECT_BAD("size UINT32_MAX", form_put32(bad, FORM_SIZE, UINT32_MAX));
	EXPECT_BAD("id 0", form_put64(bad, FORM_ID, 0));
	EXPECT_BAD("epoch 0", form_put32(bad, FORM_EPOCH, 0));
#undef EXPECT_BAD
	EXPECT_EQ(77, errno);
	EXPECT_EQ(NULL, got);
	free(bad);
	free(form);
	smem_enclave_unref(e);
}

/* ------------------------------------------------------------ tampering */

/* An untampered form imports into an enclave that reads the same; nothing in it is plain. */
TEST(export_import_round_trip)
{
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t len = sizes[i], form_len;
		unsigned int seed = 50 + (unsigned int)i;
		struct smem_enclave *e = enclave_pattern(len, seed), *copy = NULL;
		unsigned char *form, *plain = malloc(len);

		ASSERT_NE(NULL, e);
		ASSERT_NE(NULL, plain);
		form = export_form(e, &form_len);
		ASSERT_NE(NULL, form);
		EXPECT_EQ(FORM_CIPHER + len, form_len);
		lib_fill(plain, len, seed);
		if (len >= 16) {
			EXPECT_EQ(NULL, memmem(form, form_len, plain, 16)) TH_LOG("size %zu", len);
		}
		ASSERT_EQ(0, smem_enclave_import(form, form_len, 0, &copy)) TH_LOG("size %zu",
										     len);
		ASSERT_NE(NULL, copy);
		EXPECT_EQ(len, smem_enclave_size(copy));
		/* The copy outlives the original. */
		smem_enclave_unref(e);
		EXPECT_EQ(0, enclave_check(copy, seed)) TH_LOG("size %zu", len);
		/* Imported enclaves export and import again. */
		free(form);
		form = export_form(copy, &form_len);
		ASSERT_NE(NULL, form);
		smem_enclave_unref(copy);
		copy = NULL;
		ASSERT_EQ(0, smem_enclave_import(form, form_len, 0, &copy));
		EXPECT_EQ(0, enclave_check(copy, seed));
		smem_enclave_unref(copy);
		free(form);
		free(plain);
	}
}

/* Every byte of the nonce, the tag and the ciphertext, flipped in turn: -EBADMSG. */
TEST(tampered_sealed_part)
{
	struct smem_enclave *e = enclave_pattern(33, 60);
	unsigned char *form;
	size_t len;

	ASSERT_NE(NULL, e);
	form = export_form(e, &len);
	ASSERT_NE(NULL, form);
	ASSERT_EQ(FORM_CIPHER + 33, len);
	for (size_t i = FORM_NONCE; i < len; i++) {
		for (unsigned int bit = 0x01; bit <= 0x80; bit <<= 7) {
			int err;

			form[i] ^= bit;
			err = import_result(form, len);
			form[i] ^= bit;
			EXPECT_EQ(-EBADMSG, err) TH_LOG("byte %zu (%s) ^ %#x", i, i < FORM_TAG ?
							 "nonce" : i < FORM_CIPHER ? "tag" :
							 "ciphertext", bit);
		}
	}
	/* Put back, it is good again: the failures were the flips'. */
	EXPECT_EQ(0, import_result(form, len));
	EXPECT_EQ(0, enclave_check(e, 60));
	free(form);
	smem_enclave_unref(e);
}

/*
 * The identity and the size are bound to the sealed bytes: changed (with
 * a length that agrees with the size), -EBADMSG; an identity of 0 is no
 * form (-EINVAL).  A key number the process never gave out: -EBADMSG.
 */
TEST(tampered_header)
{
	static const uint32_t other_sizes[] = { 299, 301, 1, 300 ^ 0x100, 300 ^ 0x10000 };
	struct smem_enclave *e = enclave_pattern(300, 61);
	unsigned char *form, *bad;
	uint64_t id;
	uint32_t size;
	size_t len;

	ASSERT_NE(NULL, e);
	form = export_form(e, &len);
	ASSERT_NE(NULL, form);
	ASSERT_EQ(FORM_CIPHER + 300, len);
	id = form_get64(form, FORM_ID);
	size = form_get32(form, FORM_SIZE);
	ASSERT_EQ(300, size);
	bad = malloc(len + 0x20000);
	ASSERT_NE(NULL, bad);

	for (int byte = 0; byte < 8; byte++) {
		uint64_t other = id ^ ((uint64_t)1 << (8 * byte));

		memcpy(bad, form, len);
		form_put64(bad, FORM_ID, other);
		EXPECT_EQ(other ? -EBADMSG : -EINVAL, import_result(bad, len))
			TH_LOG("id %#llx for %#llx", (unsigned long long)other,
			       (unsigned long long)id);
	}
	memcpy(bad, form, len);
	form_put64(bad, FORM_ID, id + 1);
	EXPECT_EQ(-EBADMSG, import_result(bad, len));

	/* Other sizes, the length made to agree: cut, or zeros appended. */
	for (size_t i = 0; i < ARRAY_SIZE(other_sizes); i++) {
		uint32_t n = other_sizes[i];
		size_t bad_len = FORM_CIPHER + n;

		memset(bad, 0, bad_len);
		memcpy(bad, form, bad_len < len ? bad_len : len);
		form_put32(bad, FORM_SIZE, n);
		EXPECT_EQ(-EBADMSG, import_result(bad, bad_len)) TH_LOG("size %u for %u", n, size);
	}

	/* A key number not given out yet: made up. */
	memcpy(bad, form, len);
	form_put32(bad, FORM_EPOCH, form_get32(form, FORM_EPOCH) + 1);
	EXPECT_EQ(-EBADMSG, import_result(bad, len));

	EXPECT_EQ(0, import_result(form, len));
	free(bad);
	free(form);
	smem_enclave_unref(e);
}

TEST(truncated_form)
{
	struct smem_enclave *e = enclave_pattern(4096, 62);
	unsigned char *form;
	size_t len;

	ASSERT_NE(NULL, e);
	form = export_form(e, &len);
	ASSERT_NE(NULL, form);
	EXPECT_EQ(-EINVAL, import_result(form, len - 1));
	/* Cut by one, the size said one less: the length agrees, the bytes do not. */
	form_put32(form, FORM_SIZE, 4095);
	EXPECT_EQ(-EBADMSG, import_result(form, len - 1));
	free(form);
	smem_enclave_unref(e);
}

/* The sealed part of A behind the header of B, of the same size: -EBADMSG, both ways. */
TEST(swapped_sealed_parts)
{
	struct smem_enclave *a = enclave_pattern(64, 63), *b = enclave_pattern(64, 64);
	unsigned char *fa, *fb, *mix;
	size_t la, lb;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	fa = export_form(a, &la);
	fb = export_form(b, &lb);
	ASSERT_NE(NULL, fa);
	ASSERT_NE(NULL, fb);
	ASSERT_EQ(la, lb);
	ASSERT_NE(form_get64(fa, FORM_ID), form_get64(fb, FORM_ID));
	mix = malloc(la);
	ASSERT_NE(NULL, mix);
	memcpy(mix, fb, FORM_NONCE);
	memcpy(mix + FORM_NONCE, fa + FORM_NONCE, la - FORM_NONCE);
	EXPECT_EQ(-EBADMSG, import_result(mix, la));
	memcpy(mix, fa, FORM_NONCE);
	memcpy(mix + FORM_NONCE, fb + FORM_NONCE, la - FORM_NONCE);
	EXPECT_EQ(-EBADMSG, import_result(mix, la));
	/* Only the ciphertexts swapped, nonce and tag kept. */
	memcpy(mix, fa, FORM_CIPHER);
	memcpy(mix + FORM_CIPHER, fb + FORM_CIPHER, la - FORM_CIPHER);
	EXPECT_EQ(-EBADMSG, import_result(mix, la));
	EXPECT_EQ(0, import_result(fa, la));
	EXPECT_EQ(0, import_result(fb, lb));
	free(mix);
	free(fa);
	free(fb);
	smem_enclave_unref(a);
	smem_enclave_unref(b);
}

/* ----------------------------------------------------------------- fork */

#define NR_PARENT 3
static const size_t parent_sizes[NR_PARENT] = { 32, 4000, 70000 };

/*
 * In the child every enclave of the parent's, its sealed form and a seal
 * of its secret fail with -ECHILD; the child has no key until it makes an
 * enclave, then one of its own that rekeys only its enclaves.
 */
static void fork_child(struct smem_enclave *const *pe, struct smem_secret *ps,
		       const unsigned char *form, size_t form_len)
{
	struct smem_enclave *mine[2], *e = NULL;
	struct smem_secret *s = NULL;
	unsigned char *my_form;
	size_t my_len;
	int err;

	for (int i = 0; i < NR_PARENT; i++) {
		err = enclave_check(pe[i], (unsigned int)i);
		if (err != -ECHILD)
			child_fail("read of the parent's enclave %d: %d, want -ECHILD", i, err);
		err = smem_enclave_open(pe[i], 0, &s);
		if (err != -ECHILD || s)
			child_fail("open of the parent's enclave %d: %d, want -ECHILD", i, err);
		if (smem_enclave_size(pe[i]) != parent_sizes[i])
			child_fail("size of the parent's enclave %d: %zu", i,
				   smem_enclave_size(pe[i]));
	}
	err = smem_secret_seal(ps, 0, &e);
	if (err != -ECHILD || e)
		child_fail("seal of the parent's secret: %d, want -ECHILD", err);
	err = smem_secret_seal(ps, SMEM_CLOSE, &e);
	if (err != -ECHILD || e)
		child_fail("seal and close of the parent's secret: %d, want -ECHILD", err);
	err = import_result(form, form_len);
	if (err != -ECHILD)
		child_fail("import of the parent's form: %d, want -ECHILD", err);
	/* Exporting needs no key: the form the parent made. */
	my_form = export_form(pe[1], &my_len);
	if (!my_form || my_len != form_len || memcmp(my_form, form, form_len))
		child_fail("export of the parent's enclave differs from the parent's");
	free(my_form);
	err = smem_rekey();
	if (err != 0)
		child_fail("rekey before the child's first enclave: %d, want 0", err);

	for (int i = 0; i < 2; i++) {
		mine[i] = enclave_pattern(i ? 5000 : 48, 100 + i);
		if (!mine[i])
			child_fail("the child's enclave %d was not made", i);
	}
	err = smem_rekey();
	if (err != 2)
		child_fail("the child's rekey: %d, want 2 (its own enclaves only)", err);
	for (int i = 0; i < 2; i++) {
		err = enclave_check(mine[i], 100 + i);
		if (err)
			child_fail("the child's enclave %d after its rekey: %d", i, err);
		err = smem_enclave_open(mine[i], 0, &s);
		if (err)
			child_fail("open of the child's enclave %d: %d", i, err);
		err = smem_secret_read(s, lib_check_fn, &(unsigned int){ 100 + i });
		if (err)
			child_fail("the child's enclave %d opened: %d", i, err);
		smem_secret_unref(s);
	}
	my_form = export_form(mine[0], &my_len);
	if (!my_form)
		child_fail("export of the child's own enclave failed");
	err = import_result(my_form, my_len);
	if (err)
		child_fail("import of the child's own enclave: %d", err);
	free(my_form);
	/* Still the parent's, after the child has a key. */
	err = enclave_check(pe[0], 0);
	if (err != -ECHILD)
		child_fail("read of the parent's enclave after the child's rekey: %d", err);
	for (int i = 0; i < NR_PARENT; i++)
		smem_enclave_unref(pe[i]);
	for (int i = 0; i < 2; i++)
		smem_enclave_unref(mine[i]);
	_exit(0);
}

TEST(fork_child_has_no_access)
{
	struct smem_enclave *pe[NR_PARENT];
	struct smem_secret *ps = lib_new_pattern(64, 90);
	unsigned char *form;
	size_t form_len;
	pid_t pid;

	ASSERT_NE(NULL, ps);
	for (int i = 0; i < NR_PARENT; i++) {
		pe[i] = enclave_pattern(parent_sizes[i], (unsigned int)i);
		ASSERT_NE(NULL, pe[i]);
	}
	form = export_form(pe[1], &form_len);
	ASSERT_NE(NULL, form);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		fork_child(pe, ps, form, form_len);
	EXPECT_EQ(0, wait_child_timeout(pid, 60));
	/* The parent's enclaves, secret and form work as before. */
	for (int i = 0; i < NR_PARENT; i++)
		EXPECT_EQ(0, enclave_check(pe[i], (unsigned int)i));
	EXPECT_EQ(0, import_result(form, form_len));
	EXPECT_EQ(NR_PARENT, smem_rekey());
	for (int i = 0; i < NR_PARENT; i++)
		EXPECT_EQ(0, enclave_check(pe[i], (unsigned int)i));
	EXPECT_EQ(0, smem_secret_read(ps, lib_check_fn, &(unsigned int){ 90 }));
	for (int i = 0; i < NR_PARENT; i++)
		smem_enclave_unref(pe[i]);
	smem_secret_unref(ps);
	free(form);
}

/* A rekey in a loop in another thread, every one of them counting @n enclaves. */
struct rekey_loop {
	pthread_t thread;
	int n;
	atomic_bool stop;
	atomic_int rekeys, wrong;
	int last_wrong;
};

static void *rekey_loop_fn(void *arg)
{
	struct rekey_loop *rl = arg;

	while (!atomic_load(&rl->stop)) {
		int n = smem_rekey();

		if (n != rl->n) {
			rl->last_wrong = n;
			atomic_fetch_add(&rl->wrong, 1);
		}
		atomic_fetch_add(&rl->rekeys, 1);
	}
	return NULL;
}

/* The child of a process that was rekeying: the parent's enclaves and its rekey are not its own. */
static void fork_rekeying_child(struct smem_enclave *const *pe, int n, int k)
{
	struct smem_enclave *mine[3];
	int err;

	err = enclave_check(pe[k % n], (unsigned int)(k % n));
	if (err != -ECHILD)
		child_fail("read of the parent's enclave %d: %d, want -ECHILD", k % n, err);
	for (int i = 0; i < 3; i++) {
		mine[i] = enclave_pattern(64, 500 + i);
		if (!mine[i])
			child_fail("the child's enclave %d was not made", i);
	}
	for (int round = 0; round < 2; round++) {
		err = smem_rekey();
		if (err != 3)
			child_fail("the child's rekey %d: %d, want 3", round, err);
	}
	for (int i = 0; i < 3; i++) {
		err = enclave_check(mine[i], 500 + i);
		if (err)
			child_fail("the child's enclave %d: %d", i, err);
	}
	/* The parent's handles dropped: the child's list is its own. */
	for (int i = 0; i < n; i++)
		smem_enclave_unref(pe[i]);
	err = smem_rekey();
	if (err != 3)
		child_fail("rekey after dropping the parent's enclaves: %d, want 3", err);
	_exit(0);
}

LIB_EMPTY_FIXTURE(rekeying)

/*
 * Forks while another thread rekeys 500 enclaves (16 batches, the rekey's
 * cursor among them): each child gets -ECHILD on the parent's enclaves and
 * rekeys its own alone; the parent's rekeys go on, counting all of them.
 * About a second on the host; a debug kernel under TCG takes many more.
 */
TEST_F_TIMEOUT(rekeying, fork_while_rekeying, 300)
{
	enum { N = 500, FORKS = 40 };
	struct smem_enclave **pe = calloc(N, sizeof(*pe));
	struct rekey_loop rl = { .n = N };
	int failed = 0;

	ASSERT_NE(NULL, pe);
	for (int i = 0; i < N; i++) {
		pe[i] = enclave_pattern(64, (unsigned int)i);
		ASSERT_NE(NULL, pe[i]);
	}
	ASSERT_EQ(0, pthread_create(&rl.thread, NULL, rekey_loop_fn, &rl));
	for (int k = 0; k < FORKS; k++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			fork_rekeying_child(pe, N, k);
		failed += wait_child_timeout(pid, 30) != 0;
	}
	atomic_store(&rl.stop, true);
	ASSERT_EQ(0, pthread_join(rl.thread, NULL));
	TH_LOG("%d rekeys during %d forks", atomic_load(&rl.rekeys), FORKS);
	EXPECT_EQ(0, failed);
	EXPECT_LT(0, atomic_load(&rl.rekeys));
	EXPECT_EQ(0, atomic_load(&rl.wrong)) TH_LOG("a rekey counted %d", rl.last_wrong);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, enclave_check(pe[i], (unsigned int)i));
		smem_enclave_unref(pe[i]);
	}
	free(pe);
}

/*
 * A form made in another process, a child under its own key: -EBADMSG,
 * also once this process has a key of the same number.
 */
TEST(form_from_another_process)
{
	struct smem_enclave *mine = enclave_pattern(48, 95);
	unsigned char form[FORM_CIPHER + 48];
	int fds[2];
	pid_t pid;

	ASSERT_NE(NULL, mine);
	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct smem_enclave *e = enclave_pattern(48, 96);

		if (!e)
			child_fail("no enclave in the child");
		if (smem_enclave_export(e, form, sizeof(form)) != (ssize_t)sizeof(form))
			child_fail("export in the child failed");
		if (write(fds[1], form, sizeof(form)) != (ssize_t)sizeof(form))
			child_fail("writing the form: %s", strerror(errno));
		_exit(0);
	}
	close(fds[1]);
	EXPECT_EQ((ssize_t)sizeof(form), read(fds[0], form, sizeof(form)));
	close(fds[0]);
	EXPECT_EQ(0, wait_child_timeout(pid, 30));
	EXPECT_EQ(-EBADMSG, import_result(form, sizeof(form)));
	/* The child's key number is this process's next one. */
	ASSERT_EQ(1, smem_rekey());
	EXPECT_EQ(-EBADMSG, import_result(form, sizeof(form)));
	EXPECT_EQ(0, enclave_check(mine, 95));
	smem_enclave_unref(mine);
}

/* ---------------------------------------------------------------- purge */

TEST(purge_closes_enclaves)
{
	static const size_t purge_sizes[] = { 32, 4000, 70000 };
	struct smem_enclave *old[3], *fresh;
	struct smem_secret *s = lib_new_pattern(64, 70), *opened = NULL;
	struct smem_enclave *e = NULL;
	unsigned char *form, *after;
	size_t form_len, after_len;

	ASSERT_NE(NULL, s);
	for (int i = 0; i < 3; i++) {
		old[i] = enclave_pattern(purge_sizes[i], 71 + i);
		ASSERT_NE(NULL, old[i]);
	}
	form = export_form(old[0], &form_len);
	ASSERT_NE(NULL, form);
	ASSERT_LE(1, smem_purge());
	for (int i = 0; i < 3; i++) {
		int calls = 0;

		EXPECT_EQ(-EBADF, smem_enclave_read(old[i], count_fn, &calls))
			TH_LOG("size %zu", purge_sizes[i]);
		EXPECT_EQ(0, calls);
		EXPECT_EQ(-EBADF, smem_enclave_open(old[i], 0, &opened));
		EXPECT_EQ(purge_sizes[i], smem_enclave_size(old[i]));
	}
	EXPECT_EQ(NULL, opened);
	/* Exporting needs no key: the same form as before. */
	after = export_form(old[0], &after_len);
	ASSERT_NE(NULL, after);
	EXPECT_EQ(form_len, after_len);
	EXPECT_EQ(0, memcmp(form, after, form_len));
	free(after);
	EXPECT_EQ(-EBADF, import_result(form, form_len));
	EXPECT_EQ(-EBADF, smem_secret_seal(s, 0, &e));
	EXPECT_EQ(NULL, e);
	/* No key: nothing to seal again. */
	EXPECT_EQ(0, smem_rekey());

	/* New enclaves work, under a new key; the old ones stay closed. */
	fresh = enclave_pattern(100, 75);
	ASSERT_NE(NULL, fresh);
	EXPECT_EQ(0, enclave_check(fresh, 75));
	ASSERT_EQ(0, smem_enclave_open(fresh, 0, &opened));
	EXPECT_EQ(0, smem_secret_read(opened, lib_check_fn, &(unsigned int){ 75 }));
	smem_secret_unref(opened);
	EXPECT_EQ(1, smem_rekey());
	EXPECT_EQ(0, enclave_check(fresh, 75));
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(-EBADF, enclave_check(old[i], 71 + i));
	EXPECT_EQ(-EBADF, import_result(form, form_len));
	for (int i = 0; i < 3; i++)
		smem_enclave_unref(old[i]);
	smem_enclave_unref(fresh);
	smem_secret_unref(s);
	free(form);
}

/* ---------------------------------------------------------------- rekey */

TEST(rekey_counts_live_enclaves)
{
	enum { N = 60 };
	struct smem_enclave *e[N], *copy = NULL;
	unsigned char *form;
	size_t form_len;
	int live = 0;

	for (int i = 0; i < N; i++) {
		e[i] = enclave_pattern(i % 5 == 4 ? 5000 + i : 1 + 7 * i, 200 + i);
		ASSERT_NE(NULL, e[i]);
	}
	for (int i = 0; i < N; i++) {
		if (i % 3 == 1)
			e[i] = smem_enclave_unref(e[i]);
		else
			live++;
	}
	EXPECT_EQ(live, smem_rekey());
	for (int i = 0; i < N; i++) {
		if (e[i]) {
			EXPECT_EQ(0, enclave_check(e[i], 200 + i)) TH_LOG("enclave %d", i);
		}
	}
	/* An imported one is live too. */
	form = export_form(e[0], &form_len);
	ASSERT_NE(NULL, form);
	ASSERT_EQ(0, smem_enclave_import(form, form_len, 0, &copy));
	EXPECT_EQ(live + 1, smem_rekey());
	smem_enclave_unref(copy);
	EXPECT_EQ(live, smem_rekey());
	for (int i = 0; i < N; i++) {
		if (e[i]) {
			EXPECT_EQ(0, enclave_check(e[i], 200 + i)) TH_LOG("enclave %d", i);
		}
		smem_enclave_unref(e[i]);
	}
	EXPECT_EQ(0, smem_rekey());
	free(form);
}

TEST(rekey_makes_old_forms_stale)
{
	struct smem_enclave *e = enclave_pattern(128, 210), *copy = NULL;
	unsigned char *before, *after;
	size_t len;

	ASSERT_NE(NULL, e);
	before = export_form(e, &len);
	ASSERT_NE(NULL, before);
	ASSERT_EQ(0, import_result(before, len));
	ASSERT_EQ(1, smem_rekey());
	EXPECT_EQ(-ESTALE, import_result(before, len));
	after = export_form(e, &len);
	ASSERT_NE(NULL, after);
	EXPECT_NE(form_get32(before, FORM_EPOCH), form_get32(after, FORM_EPOCH));
	ASSERT_EQ(0, smem_enclave_import(after, len, 0, &copy));
	EXPECT_EQ(0, enclave_check(copy, 210));
	smem_enclave_unref(copy);
	/* Two rekeys later, still stale. */
	ASSERT_EQ(1, smem_rekey());
	EXPECT_EQ(-ESTALE, import_result(before, len));
	EXPECT_EQ(-ESTALE, import_result(after, len));
	EXPECT_EQ(0, enclave_check(e, 210));
	free(before);
	free(after);
	smem_enclave_unref(e);
}

/* Locked memory (VmLck, kB): what every backend's secret pages are charged to; -1 unknown. */
static long vmlck_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * A rekey that cannot get the secret memory to unseal an enclave into
 * (one of 1 MiB, over RLIMIT_MEMLOCK) returns the error and keeps the
 * previous key: every enclave reads as before.  The next rekey finishes
 * that one, counting the enclaves still under the previous key (not one
 * made meanwhile, under the new key), rather than make another key.
 */
TEST(rekey_without_memory_keeps_previous_key)
{
	struct smem_enclave *small[3], *big, *meanwhile;
	struct smem_secret *probe = NULL;
	unsigned char *form;
	size_t form_len;
	rlim_t old_limit;
	int err;

	big = enclave_pattern(1 << 20, 310);
	ASSERT_NE(NULL, big);
	for (int i = 0; i < 3; i++) {
		small[i] = enclave_pattern(32, 311 + i);
		ASSERT_NE(NULL, small[i]);
	}
	form = export_form(small[0], &form_len);
	ASSERT_NE(NULL, form);
	/* Room for what is locked now, and 256 KiB more. */
	ASSERT_EQ(0, lib_ipc_lock_effective(false));
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_MEMLOCK, (rlim_t)(vmlck_kb() + 256) << 10, &old_limit));
	err = smem_secret_new_random(1 << 20, 0, &probe);
	smem_secret_unref(probe);
	if (!err) {
		lib_set_soft_limit(RLIMIT_MEMLOCK, old_limit, NULL);
		lib_ipc_lock_effective(true);
		SKIP(return, "RLIMIT_MEMLOCK is not enforced here (backend %s)", lib_backend());
	}
	EXPECT_EQ(-EAGAIN, err);

	err = smem_rekey();
	EXPECT_EQ(-EAGAIN, err) TH_LOG("rekey short of locked memory: %d (%s)", err,
				       strerror(-err));
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(0, enclave_check(small[i], 311 + i));
	meanwhile = enclave_pattern(32, 314);
	ASSERT_NE(NULL, meanwhile);
	/* Reading 1 MiB takes a secret of 1 MiB: with the limit back. */
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_MEMLOCK, old_limit, NULL));
	ASSERT_EQ(0, lib_ipc_lock_effective(true));
	EXPECT_EQ(0, enclave_check(big, 310));

	EXPECT_EQ(4, smem_rekey());
	EXPECT_EQ(-ESTALE, import_result(form, form_len));
	EXPECT_EQ(0, enclave_check(big, 310));
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(0, enclave_check(small[i], 311 + i));
	EXPECT_EQ(0, enclave_check(meanwhile, 314));
	/* And a rekey of its own again. */
	EXPECT_EQ(5, smem_rekey());
	EXPECT_EQ(0, enclave_check(big, 310));
	smem_enclave_unref(big);
	for (int i = 0; i < 3; i++)
		smem_enclave_unref(small[i]);
	smem_enclave_unref(meanwhile);
	free(form);
}

static int rekey_read_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	*(int *)arg = smem_rekey();
	return 0;
}

static int rekey_write_fn(void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	*(int *)arg = smem_rekey();
	return 0;
}

TEST(rekey_inside_window)
{
	struct smem_enclave *e = enclave_pattern(40, 220);
	struct smem_secret *s = lib_new_pattern(40, 221);
	int inner = 0;

	ASSERT_NE(NULL, e);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, smem_secret_read(s, rekey_read_fn, &inner));
	EXPECT_EQ(-EDEADLK, inner);
	inner = 0;
	EXPECT_EQ(0, smem_secret_write(s, rekey_write_fn, &inner));
	EXPECT_EQ(-EDEADLK, inner);
	inner = 0;
	EXPECT_EQ(0, smem_enclave_read(e, rekey_read_fn, &inner));
	EXPECT_EQ(-EDEADLK, inner);
	/* Outside any window it works, and everything still reads. */
	EXPECT_EQ(1, smem_rekey());
	EXPECT_EQ(0, enclave_check(e, 220));
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &(unsigned int){ 221 }));
	smem_enclave_unref(e);
	smem_secret_unref(s);
}

/* A process that never made an enclave has no key: a rekey seals nothing. */
TEST(rekey_without_enclaves)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct smem_enclave *e;
		int n;

		n = smem_rekey();
		if (n != 0)
			child_fail("rekey with no enclave ever made: %d, want 0", n);
		n = smem_rekey();
		if (n != 0)
			child_fail("second rekey with no enclave: %d, want 0", n);
		e = enclave_pattern(16, 230);
		if (!e)
			child_fail("no enclave after the rekeys");
		n = smem_rekey();
		if (n != 1)
			child_fail("rekey with one enclave: %d, want 1", n);
		n = enclave_check(e, 230);
		if (n)
			child_fail("the enclave after the rekey: %d", n);
		smem_enclave_unref(e);
		n = smem_rekey();
		if (n != 0)
			child_fail("rekey after the last unref: %d, want 0", n);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child_timeout(pid, 30));
}

/* ---------------------------------------------------------- concurrency */

#define SHARED 8
static const size_t shared_sizes[SHARED] = { 1, 32, 100, 1000, 3000, 4000, 8192, 20000 };

struct busy {
	struct smem_enclave *e[SHARED];
	atomic_bool stop;
	atomic_long reads, opens, rekeys, made;
	atomic_int failures;
	char why[200];		/* the first failure, written once (1: wrong bytes) */
};

struct busy_thread {
	struct busy *b;
	unsigned int id;
	pthread_t thread;
};

static void __attribute__((format(printf, 2, 3))) busy_fail(struct busy *b, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&b->failures, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
}

/* Reads and opens of the shared enclaves, checking the bytes every time. */
static void *busy_reader(void *arg)
{
	struct busy_thread *t = arg;
	struct busy *b = t->b;

	for (unsigned int k = t->id; !atomic_load(&b->stop); k++) {
		unsigned int i = k % SHARED;
		struct smem_secret *s = NULL;
		int err;

		if (k / SHARED % 2) {
			err = enclave_check(b->e[i], i);
			if (err)
				busy_fail(b, "read of shared enclave %u: %d", i, err);
			atomic_fetch_add(&b->reads, 1);
		} else {
			err = smem_enclave_open(b->e[i], 0, &s);
			if (!err)
				err = smem_secret_read(s, lib_check_fn, &i);
			if (err)
				busy_fail(b, "open of shared enclave %u: %d", i, err);
			smem_secret_unref(s);
			atomic_fetch_add(&b->opens, 1);
		}
	}
	return NULL;
}

/* Every rekey seals at least the shared enclaves again. */
static void *busy_rekeyer(void *arg)
{
	struct busy *b = ((struct busy_thread *)arg)->b;

	while (!atomic_load(&b->stop)) {
		int n = smem_rekey();

		if (n < SHARED)
			busy_fail(b, "rekey %ld: %d, want at least %d", atomic_load(&b->rekeys), n,
				  SHARED);
		atomic_fetch_add(&b->rekeys, 1);
	}
	return NULL;
}

/* A thread's whole life: one read (its scratch is made, then goes with it). */
static void *busy_one_read(void *arg)
{
	struct busy_thread *t = arg;
	int err = enclave_check(t->b->e[t->id], t->id);

	if (err)
		busy_fail(t->b, "read of shared enclave %u by a new thread: %d", t->id, err);
	return NULL;
}

/* The made enclaves each live through the next BUSY_RING ones, and rekeys. */
#define BUSY_RING 32

static void busy_drop(struct busy *b, struct smem_enclave *e, unsigned int seed)
{
	int err;

	if (!e)
		return;
	err = enclave_check(e, seed);
	if (err)
		busy_fail(b, "made enclave %u, read again later: %d", seed, err);
	smem_enclave_unref(e);
}

/*
 * Enclaves made (sealed while the key changes), read, opened, kept for a
 * while and read again, then dropped; now and then a thread that reads
 * once and ends.
 */
static void *busy_maker(void *arg)
{
	struct busy *b = ((struct busy_thread *)arg)->b;
	unsigned int id = ((struct busy_thread *)arg)->id;
	struct smem_enclave *ring[BUSY_RING] = { NULL };
	unsigned int ring_seed[BUSY_RING] = { 0 };
	unsigned char buf[5000];

	for (unsigned int k = 0; !atomic_load(&b->stop); k++) {
		unsigned int slot = k % BUSY_RING, seed = 1000 + (id << 20) + k;
		size_t len = 1 + k * 37 % sizeof(buf);
		struct smem_enclave *e = NULL;
		struct smem_secret *s = NULL;
		int err;

		busy_drop(b, ring[slot], ring_seed[slot]);
		lib_fill(buf, len, seed);
		err = smem_enclave_new(buf, len, 0, &e);
		if (!err)
			err = enclave_check(e, seed);
		if (!err && k % 4 == 0) {
			err = smem_enclave_open(e, 0, &s);
			if (!err)
				err = smem_secret_read(s, lib_check_fn, &seed);
			smem_secret_unref(s);
		}
		if (err)
			busy_fail(b, "made enclave %u (%zu bytes): %d", seed, len, err);
		ring[slot] = e;
		ring_seed[slot] = seed;
		atomic_fetch_add(&b->made, 1);
		if (k % 16 == 0) {
			struct busy_thread once = { .b = b, .id = k / 16 % SHARED };

			if (pthread_create(&once.thread, NULL, busy_one_read, &once))
				busy_fail(b, "no thread for a single read");
			else
				pthread_join(once.thread, NULL);
		}
	}
	for (unsigned int slot = 0; slot < BUSY_RING; slot++)
		busy_drop(b, ring[slot], ring_seed[slot]);
	return NULL;
}

/*
 * @readers readers, the rekeyer and @makers makers for @seconds: 0, or
 * -errno (the threads started are stopped and joined).
 */
static int busy_run(struct busy *b, unsigned int readers, unsigned int makers, double seconds)
{
	unsigned int n = readers + 1 + makers, i;
	struct busy_thread *t = calloc(n, sizeof(*t));
	int err = 0;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		void *(*fn)(void *) = i < readers ? busy_reader :
				      i == readers ? busy_rekeyer : busy_maker;

		t[i].b = b;
		t[i].id = i < readers ? i : i - readers - 1;
		err = -pthread_create(&t[i].thread, NULL, fn, &t[i]);
		if (err)
			break;
	}
	if (!err)
		sleep_ms((long)(seconds * 1000));
	atomic_store(&b->stop, true);
	while (i--)
		pthread_join(t[i].thread, NULL);
	free(t);
	return err;
}

FIXTURE(busy) {
	struct busy *b;
};

FIXTURE_SETUP(busy)
{
	self->b = calloc(1, sizeof(*self->b));
	ASSERT_NE(NULL, self->b);
	for (unsigned int i = 0; i < SHARED; i++) {
		self->b->e[i] = enclave_pattern(shared_sizes[i], i);
		ASSERT_NE(NULL, self->b->e[i]);
	}
}

/* Quiet now: exactly the shared enclaves are live, and they read right. */
FIXTURE_TEARDOWN(busy)
{
	EXPECT_EQ(SHARED, smem_rekey());
	for (unsigned int i = 0; i < SHARED; i++) {
		EXPECT_EQ(0, enclave_check(self->b->e[i], i));
		smem_enclave_unref(self->b->e[i]);
	}
	free(self->b);
}

/*
 * 16 threads read and open the same enclaves while one replaces the key
 * without pause and another makes and drops enclaves, for
 * SMEM_ENCLAVE_SECONDS (default 2) seconds: every read succeeds with the
 * right bytes, every rekey counts at least the shared enclaves.
 */
TEST_F_TIMEOUT(busy, readers_rekey_and_churn, 300)
{
	struct busy *b = self->b;

	ASSERT_EQ(0, busy_run(b, 16, 1, lib_env_seconds("SMEM_ENCLAVE_SECONDS", 2)));
	TH_LOG("%ld reads, %ld opens, %ld rekeys, %ld enclaves made", atomic_load(&b->reads),
	       atomic_load(&b->opens), atomic_load(&b->rekeys), atomic_load(&b->made));
	EXPECT_EQ(0, atomic_load(&b->failures)) TH_LOG("first: %s", b->why);
	EXPECT_LT(0, atomic_load(&b->reads));
	EXPECT_LT(0, atomic_load(&b->opens));
	EXPECT_LT(0, atomic_load(&b->rekeys));
	EXPECT_LT(0, atomic_load(&b->made));
}

/*
 * Without readers, many more enclaves are sealed while a rekey runs: each
 * must be sealed again by it or be under its new key, never left under
 * the key it wipes (read again later: -ESTALE).
 */
TEST_F_TIMEOUT(busy, made_while_rekeying, 300)
{
	struct busy *b = self->b;

	ASSERT_EQ(0, busy_run(b, 0, 2, lib_env_seconds("SMEM_ENCLAVE_SECONDS", 2)));
	TH_LOG("%ld rekeys, %ld enclaves made", atomic_load(&b->rekeys), atomic_load(&b->made));
	EXPECT_EQ(0, atomic_load(&b->failures)) TH_LOG("first: %s", b->why);
	EXPECT_LT(0, atomic_load(&b->rekeys));
	EXPECT_LT(0, atomic_load(&b->made));
}

/* A read whose callback waits, inside, until told to go on. */
struct held_read {
	struct smem_enclave *e;
	unsigned int seed;
	bool unref_inside;	/* the callback drops the last reference itself */
	struct lib_gate gate;
	bool inside, go_on;
	int ret;
};

static int held_fn(const void *buf, size_t len, void *arg)
{
	struct held_read *h = arg;

	if (h->unref_inside) {
		smem_enclave_unref(h->e);
	} else {
		lib_gate_set(&h->gate, &h->inside);
		lib_gate_wait(&h->gate, &h->go_on);
	}
	return lib_check_fn(buf, len, &h->seed) ? -1 : 7;
}

static void *held_reader(void *arg)
{
	struct held_read *h = arg;

	h->ret = smem_enclave_read(h->e, held_fn, h);
	return NULL;
}

/*
 * The last reference dropped by another thread while a read is inside its
 * callback, or by the callback itself: the read sees the right bytes and
 * returns normally; the enclave goes when it ends (under ASan, a use after
 * the free would show).
 */
TEST(unref_while_reading)
{
	static const size_t held_sizes[] = { 32, 4000, 100000 };

	for (size_t i = 0; i < ARRAY_SIZE(held_sizes); i++) {
		for (int own = 0; own < 2; own++) {
			struct held_read h = { .seed = 240 + (unsigned int)i, .unref_inside = own,
					       .gate = LIB_GATE_INIT };
			pthread_t t;

			h.e = enclave_pattern(held_sizes[i], h.seed);
			ASSERT_NE(NULL, h.e);
			ASSERT_EQ(0, pthread_create(&t, NULL, held_reader, &h));
			if (!own) {
				lib_gate_wait(&h.gate, &h.inside);
				EXPECT_EQ(NULL, smem_enclave_unref(h.e));
				lib_gate_set(&h.gate, &h.go_on);
			}
			ASSERT_EQ(0, pthread_join(t, NULL));
			EXPECT_EQ(7, h.ret) TH_LOG("size %zu, unref %s", held_sizes[i],
				own ? "inside the callback" : "by another thread");
		}
	}
}

/*
 * A rekey waits for the windows of other threads (their callbacks) before
 * it wipes the old key in their scratch secrets.  Meanwhile the other
 * threads go on (smem_rekey(3): only a thread's first use of enclaves
 * waits): a thread that used enclaves ends, another thread forks, while
 * one thread stays inside a callback.  A callback that waits for either
 * (joins a worker, waits for a child process) must not deadlock; each is
 * given 3 s.
 */
struct stall {
	struct smem_enclave *held, *other;
	struct lib_gate gate;
	bool go_rekey, go_on, warm;
	pthread_t ender;
	atomic_bool fork_done;
	bool fork_inside, end_inside;
	int rekey_ret, warm_ret, fork_ret;
};

static void *stall_rekeyer(void *arg)
{
	struct stall *st = arg;

	lib_gate_wait(&st->gate, &st->go_rekey);
	st->rekey_ret = smem_rekey();
	return NULL;
}

/* Has a scratch, and ends. */
static void *stall_ender(void *arg)
{
	struct stall *st = arg;

	st->warm_ret = enclave_check(st->other, 2);
	lib_gate_set(&st->gate, &st->warm);
	lib_gate_wait(&st->gate, &st->go_on);
	return NULL;
}

static void *stall_forker(void *arg)
{
	struct stall *st = arg;
	pid_t pid;

	lib_gate_wait(&st->gate, &st->go_on);
	pid = fork();
	if (pid == 0)
		_exit(0);
	st->fork_ret = pid < 0 ? -1 : wait_child(pid);
	atomic_store(&st->fork_done, true);
	return NULL;
}

static int stall_fn(const void *buf, size_t len, void *arg)
{
	struct stall *st = arg;
	struct timespec ts;
	double deadline;

	(void)buf;
	(void)len;
	lib_gate_set(&st->gate, &st->go_rekey);
	/* The rekey seals two enclaves again, then waits for this window. */
	sleep_ms(300);
	lib_gate_set(&st->gate, &st->go_on);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	st->end_inside = !pthread_timedjoin_np(st->ender, NULL, &ts);
	deadline = now_s() + 1;
	while (!atomic_load(&st->fork_done) && now_s() < deadline)
		sleep_ms(10);
	st->fork_inside = atomic_load(&st->fork_done);
	return 0;
}

TEST(rekey_waiting_holds_up_no_exit_or_fork)
{
	struct stall st = { .gate = LIB_GATE_INIT, .rekey_ret = 1, .warm_ret = 1, .fork_ret = 1 };
	pthread_t rekeyer, forker;

	st.held = enclave_pattern(32, 1);
	st.other = enclave_pattern(32, 2);
	ASSERT_NE(NULL, st.held);
	ASSERT_NE(NULL, st.other);
	ASSERT_EQ(0, pthread_create(&rekeyer, NULL, stall_rekeyer, &st));
	ASSERT_EQ(0, pthread_create(&forker, NULL, stall_forker, &st));
	ASSERT_EQ(0, pthread_create(&st.ender, NULL, stall_ender, &st));
	lib_gate_wait(&st.gate, &st.warm);
	EXPECT_EQ(0, smem_enclave_read(st.held, stall_fn, &st));
	ASSERT_EQ(0, pthread_join(rekeyer, NULL));
	ASSERT_EQ(0, pthread_join(forker, NULL));
	if (!st.end_inside) {
		ASSERT_EQ(0, pthread_join(st.ender, NULL));
	}
	EXPECT_TRUE(st.end_inside) TH_LOG("a thread's end waited for another's callback");
	EXPECT_TRUE(st.fork_inside) TH_LOG("fork() in another thread waited for the callback");
	EXPECT_EQ(0, st.warm_ret);
	EXPECT_EQ(0, st.fork_ret);
	EXPECT_EQ(2, st.rekey_ret);
	EXPECT_EQ(0, enclave_check(st.held, 1));
	smem_enclave_unref(st.held);
	smem_enclave_unref(st.other);
}

/* --------------------------------------------------------------- nested */

struct nest {
	struct smem_enclave *inner;
	struct smem_secret *inner_secret;	/* or NULL: open @inner */
	unsigned int outer_seed, inner_seed;
	bool open;				/* open @inner rather than read it */
	int inner_ret;
};

static int nest_fn(const void *buf, size_t len, void *arg)
{
	struct nest *n = arg;
	struct smem_secret *s = NULL;

	if (n->open) {
		n->inner_ret = smem_enclave_open(n->inner, 0, &s);
		if (!n->inner_ret)
			n->inner_ret = smem_secret_read(s, lib_check_fn, &n->inner_seed);
		smem_secret_unref(s);
	} else {
		n->inner_ret = enclave_check(n->inner, n->inner_seed);
	}
	/* The outer bytes are still there after the inner access. */
	return lib_check_fn(buf, len, &n->outer_seed) ? 100 : 5;
}

/* Small and large in both places (large ones do not fit the scratch), and A inside A. */
TEST(nested_reads)
{
	static const size_t pairs[][2] = { { 32, 48 }, { 32, 70000 }, { 70000, 32 },
					   { 5000, 6000 }, { 64, 0 } };

	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		for (int open = 0; open < 2; open++) {
			struct nest n = { .outer_seed = 250 + (unsigned int)i, .open = open };
			struct smem_enclave *outer = enclave_pattern(pairs[i][0], n.outer_seed);

			ASSERT_NE(NULL, outer);
			n.inner_seed = pairs[i][1] ? 260 + (unsigned int)i : n.outer_seed;
			n.inner = pairs[i][1] ? enclave_pattern(pairs[i][1], n.inner_seed) :
						smem_enclave_ref(outer);
			ASSERT_NE(NULL, n.inner);
			EXPECT_EQ(5, smem_enclave_read(outer, nest_fn, &n))
				TH_LOG("outer %zu, inner %zu, %s", pairs[i][0], pairs[i][1],
				       open ? "opened" : "read");
			EXPECT_EQ(0, n.inner_ret) TH_LOG("outer %zu, inner %zu, %s", pairs[i][0],
							 pairs[i][1], open ? "opened" : "read");
			smem_enclave_unref(n.inner);
			smem_enclave_unref(outer);
		}
	}
}

/* Three deep: C inside B inside A. */
static int nest3_fn(const void *buf, size_t len, void *arg)
{
	struct nest *n = arg;

	n->inner_ret = smem_enclave_read(n->inner, nest_fn, n + 1);
	return lib_check_fn(buf, len, &n->outer_seed) ? 100 : 6;
}

TEST(nested_three_deep)
{
	struct nest n[2] = { { .outer_seed = 270, .inner_seed = 271 },
			     { .outer_seed = 271, .inner_seed = 272 } };
	struct smem_enclave *a = enclave_pattern(100, 270);

	ASSERT_NE(NULL, a);
	n[0].inner = enclave_pattern(200, 271);
	n[1].inner = enclave_pattern(300, 272);
	ASSERT_NE(NULL, n[0].inner);
	ASSERT_NE(NULL, n[1].inner);
	EXPECT_EQ(6, smem_enclave_read(a, nest3_fn, n));
	EXPECT_EQ(5, n[0].inner_ret);
	EXPECT_EQ(0, n[1].inner_ret);
	smem_enclave_unref(n[1].inner);
	smem_enclave_unref(n[0].inner);
	smem_enclave_unref(a);
}

/* Opens, new enclaves and seals inside a secret's read callback. */
struct in_secret {
	struct smem_secret *s;
	struct smem_enclave *e;
	struct smem_enclave *made, *sealed;
	int open_ret, new_ret, seal_ret;
};

static int in_secret_fn(const void *buf, size_t len, void *arg)
{
	struct in_secret *is = arg;
	unsigned char src[24];
	struct smem_secret *s = NULL;

	is->open_ret = smem_enclave_open(is->e, 0, &s);
	if (!is->open_ret)
		is->open_ret = smem_secret_read(s, lib_check_fn, &(unsigned int){ 281 });
	smem_secret_unref(s);
	lib_fill(src, sizeof(src), 282);
	is->new_ret = smem_enclave_new(src, sizeof(src), 0, &is->made);
	is->seal_ret = smem_secret_seal(is->s, 0, &is->sealed);
	return lib_check_fn(buf, len, &(unsigned int){ 280 }) ? 100 : 4;
}

TEST(calls_inside_secret_callback)
{
	struct in_secret is = { .s = lib_new_pattern(80, 280), .e = enclave_pattern(90, 281) };

	ASSERT_NE(NULL, is.s);
	ASSERT_NE(NULL, is.e);
	EXPECT_EQ(4, smem_secret_read(is.s, in_secret_fn, &is));
	EXPECT_EQ(0, is.open_ret);
	EXPECT_EQ(0, is.new_ret);
	EXPECT_EQ(0, is.seal_ret);
	ASSERT_NE(NULL, is.made);
	ASSERT_NE(NULL, is.sealed);
	EXPECT_EQ(0, enclave_check(is.made, 282));
	EXPECT_EQ(0, enclave_check(is.sealed, 280));
	EXPECT_EQ(3, smem_rekey());
	smem_enclave_unref(is.made);
	smem_enclave_unref(is.sealed);
	smem_enclave_unref(is.e);
	smem_secret_unref(is.s);
}

/*
 * Windows count against SMEM_MAX_NESTING: a read or a new enclave opens
 * one, an open, a seal or an import two.  Calls made with @open windows of
 * secret reads around them.
 */
struct depth {
	struct smem_secret *s[SMEM_MAX_NESTING], *extra;
	struct smem_enclave *e;
	unsigned char *form;
	size_t form_len;
	int open, depth;
	int read_ret, new_ret, open_ret, seal_ret, import_ret;
};

static int depth_fn(const void *buf, size_t len, void *arg)
{
	struct depth *d = arg;
	struct smem_enclave *made = NULL, *sealed = NULL, *imported = NULL;
	struct smem_secret *opened = NULL;
	unsigned char src[8] = { 1 };

	(void)buf;
	(void)len;
	if (++d->depth < d->open)
		return smem_secret_read(d->s[d->depth], depth_fn, d);
	d->read_ret = enclave_check(d->e, 300);
	d->new_ret = smem_enclave_new(src, sizeof(src), 0, &made);
	d->open_ret = smem_enclave_open(d->e, 0, &opened);
	d->seal_ret = smem_secret_seal(d->extra, 0, &sealed);
	d->import_ret = smem_enclave_import(d->form, d->form_len, 0, &imported);
	smem_enclave_unref(made);
	smem_enclave_unref(sealed);
	smem_enclave_unref(imported);
	smem_secret_unref(opened);
	return 0;
}

TEST(nesting_limit)
{
	struct depth d = { 0 };

	for (int i = 0; i < SMEM_MAX_NESTING; i++) {
		d.s[i] = lib_new_pattern(16, 301);
		ASSERT_NE(NULL, d.s[i]);
	}
	d.extra = lib_new_pattern(16, 302);
	d.e = enclave_pattern(16, 300);
	ASSERT_NE(NULL, d.extra);
	ASSERT_NE(NULL, d.e);
	d.form = export_form(d.e, &d.form_len);
	ASSERT_NE(NULL, d.form);

	d.open = SMEM_MAX_NESTING - 2;
	ASSERT_EQ(0, smem_secret_read(d.s[0], depth_fn, &d));
	EXPECT_EQ(0, d.read_ret);
	EXPECT_EQ(0, d.new_ret);
	EXPECT_EQ(0, d.open_ret);
	EXPECT_EQ(0, d.seal_ret);
	EXPECT_EQ(0, d.import_ret);

	d.depth = 0;
	d.open = SMEM_MAX_NESTING - 1;
	ASSERT_EQ(0, smem_secret_read(d.s[0], depth_fn, &d));
	EXPECT_EQ(0, d.read_ret);
	EXPECT_EQ(0, d.new_ret);
	EXPECT_EQ(-ELOOP, d.open_ret);
	EXPECT_EQ(-ELOOP, d.seal_ret);
	EXPECT_EQ(-ELOOP, d.import_ret);

	d.depth = 0;
	d.open = SMEM_MAX_NESTING;
	ASSERT_EQ(0, smem_secret_read(d.s[0], depth_fn, &d));
	EXPECT_EQ(-ELOOP, d.read_ret);
	EXPECT_EQ(-ELOOP, d.new_ret);

	EXPECT_EQ(0, enclave_check(d.e, 300));
	for (int i = 0; i < SMEM_MAX_NESTING; i++)
		smem_secret_unref(d.s[i]);
	smem_secret_unref(d.extra);
	smem_enclave_unref(d.e);
	free(d.form);
}

/* ------------------------------------------------------ what they cost */

static bool any_fd(int fd, const char *target, void *arg)
{
	(void)fd;
	(void)target;
	(void)arg;
	return true;
}

LIB_EMPTY_FIXTURE(many)

/* Enclaves hold no descriptor: 10,000 under RLIMIT_NOFILE 64. */
TEST_F_TIMEOUT(many, no_descriptors, 300)
{
	enum { N = 10000 };
	struct smem_enclave **e = calloc(N, sizeof(*e));
	int fds, made = 0, bad = 0, err = 0;
	rlim_t old_limit;

	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_NOFILE, 64, &old_limit));
	/* The first one makes the key and this thread's scratch. */
	e[made] = enclave_pattern(32, 0);
	ASSERT_NE(NULL, e[made]);
	made++;
	fds = lib_count_fds(any_fd, NULL);
	ASSERT_LT(0, fds);
	for (; made < N; made++) {
		unsigned char buf[32];

		lib_fill(buf, sizeof(buf), (unsigned int)made);
		err = smem_enclave_new(buf, sizeof(buf), 0, &e[made]);
		if (err)
			break;
	}
	EXPECT_EQ(0, err) TH_LOG("enclave %d: %s", made, strerror(-err));
	for (int i = 0; i < made; i++)
		bad += enclave_check(e[i], (unsigned int)i) != 0;
	EXPECT_EQ(N, made);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(fds, lib_count_fds(any_fd, NULL));
	EXPECT_EQ(made, smem_rekey());
	EXPECT_EQ(fds, lib_count_fds(any_fd, NULL));
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_NOFILE, old_limit, NULL));
	while (made)
		smem_enclave_unref(e[--made]);
	free(e);
}

#if defined(__SANITIZE_ADDRESS__)
/* ASan's allocator: mallinfo2() does not see it (libasan exports this, no header declares it). */
size_t __sanitizer_get_current_allocated_bytes(void);

static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}
#endif

static int count_maps(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strchr(line, '\n');
	fclose(f);
	return n;
}

/*
 * 100,000 enclaves of 32 bytes: ordinary memory grows by at most 128
 * bytes each (and at least the 72 they seal into), secret memory not at
 * all: no mapping more, no locked kB more.  A secret of 64 KiB shows that
 * these measures see secret memory.
 */
TEST_F_TIMEOUT(many, memory, 300)
{
	enum { N = 100000, SEALED = 32 + 40 };
	struct smem_enclave **e = calloc(N, sizeof(*e)), *first;
	size_t heap0, heap1, heap2;
	int maps0, maps1, maps2, bad = 0;
	long lck0, lck1, lck2;
	struct smem_info info0, info1;
	struct smem_secret *control;

	ASSERT_NE(NULL, e);
	first = enclave_pattern(32, 1);
	ASSERT_NE(NULL, first);
	ASSERT_EQ(0, enclave_check(first, 1));
	ASSERT_EQ(0, smem_info(&info0));
	heap0 = heap_in_use();
	maps0 = count_maps();
	lck0 = vmlck_kb();
	ASSERT_LT(0, maps0);
	ASSERT_LE(0, lck0);
	for (int i = 0; i < N; i++) {
		unsigned char buf[32];

		lib_fill(buf, sizeof(buf), (unsigned int)i);
		ASSERT_EQ(0, smem_enclave_new(buf, sizeof(buf), 0, &e[i])) TH_LOG("enclave %d", i);
	}
	heap1 = heap_in_use();
	maps1 = count_maps();
	lck1 = vmlck_kb();
	ASSERT_EQ(0, smem_info(&info1));
	TH_LOG("%d enclaves: %.1f bytes of heap each, %d mappings more, VmLck %ld -> %ld kB", N,
	       (double)(heap1 - heap0) / N, maps1 - maps0, lck0, lck1);
	EXPECT_GE((size_t)128 * N, heap1 - heap0);
	EXPECT_LE((size_t)SEALED * N, heap1 - heap0);
	EXPECT_GE(8, maps1 - maps0);
	EXPECT_EQ(lck0, lck1);
	EXPECT_EQ(info0.backend, info1.backend);
	EXPECT_EQ(info0.guarantees, info1.guarantees);
	for (int i = 0; i < N; i += 97)
		bad += enclave_check(e[i], (unsigned int)i) != 0;
	EXPECT_EQ(0, bad);
	EXPECT_EQ(N + 1, smem_rekey());
	EXPECT_EQ(0, enclave_check(e[N - 1], N - 1));

	/* VmLck stays 0 where mlock() does nothing (ASan's): then mappings tell. */
	control = lib_new_pattern(65536, 2);
	ASSERT_NE(NULL, control);
	lck2 = vmlck_kb();
	maps2 = count_maps();
	EXPECT_TRUE(lck2 >= lck1 + 64 || maps2 > maps1)
		TH_LOG("a secret of 64 KiB: VmLck %ld -> %ld kB, %d -> %d mappings", lck1, lck2,
		       maps1, maps2);
	smem_secret_unref(control);

	for (int i = 0; i < N; i++)
		smem_enclave_unref(e[i]);
	heap2 = heap_in_use();
	EXPECT_GE(heap0 + 4096, heap2) TH_LOG("heap %zu after the unrefs, %zu before", heap2,
					      heap0);
	smem_enclave_unref(first);
	free(e);
}

TEST_HARNESS_MAIN
