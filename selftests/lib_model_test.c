// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem against a model: random sequences of API calls (make, read,
 * write a range, copy out, nested accesses, close inside and outside
 * callbacks, references, bad arguments) on a handful of secrets, each
 * result compared with what a plain byte array with a closed flag and a
 * reference count says it must be.
 *
 * Reproducible: the sequence is a function of the seed.  The test runs
 * seeds 1..SMEM_MODEL_SEEDS (default 30) of SMEM_MODEL_STEPS (default 3000)
 * calls each, or only SMEM_MODEL_SEED when that is set; a failure names
 * the seed and the step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

#define HANDLES		6
#define MAX_LEN		6000

struct model {
	struct smem_secret *s;		/* NULL: the handle is free */
	unsigned char bytes[MAX_LEN];
	size_t len;
	bool closed;
	unsigned int refs;
};

struct run {
	uint64_t rng;
	struct model m[HANDLES];
	unsigned long step;
	char failure[200];
};

static uint64_t next(struct run *r)
{
	/* xorshift64*: the same sequence everywhere */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545f4914f6cdd1dULL;
}

static size_t below(struct run *r, size_t n)
{
	return n ? (size_t)(next(r) % n) : 0;
}

#define CHECK(r, cond, ...) do { \
	if (!(cond) && !(r)->failure[0]) \
		snprintf((r)->failure, sizeof((r)->failure), __VA_ARGS__); \
} while (0)

struct range {
	size_t offset, len;
	const unsigned char *src;
};

static int write_range_fn(void *buf, size_t len, void *arg)
{
	struct range *rg = arg;

	(void)len;
	memcpy((unsigned char *)buf + rg->offset, rg->src, rg->len);
	return (int)rg->len;
}

/* Read callback: 1 when the bytes are the model's, 0 when not. */
static int compare_fn(const void *buf, size_t len, void *arg)
{
	const struct model *m = arg;

	return len == m->len && !memcmp(buf, m->bytes, len);
}

struct inner {
	struct run *r;
	struct model *m;
	unsigned int what;
	int result;
};

/* Read callback doing one more call on the same secret from inside. */
static int inner_fn(const void *buf, size_t len, void *arg)
{
	struct inner *in = arg;
	unsigned char byte;

	switch (in->what) {
	case 0:
		in->result = smem_secret_read(in->m->s, compare_fn, in->m);
		break;
	case 1:
		in->result = smem_secret_write(in->m->s, write_range_fn, NULL);
		break;
	case 2:
		in->result = (int)smem_secret_copy_out(in->m->s, 0, &byte, 1);
		break;
	default:
		in->result = smem_secret_close(in->m->s);
		break;
	}
	return compare_fn(buf, len, in->m);
}

static void op_new(struct run *r, struct model *m)
{
	size_t len = 1 + below(r, next(r) % 4 ? 64 : MAX_LEN);
	unsigned char *src = malloc(len);
	int err;

	for (size_t i = 0; i < len; i++)
		src[i] = (unsigned char)next(r);
	if (next(r) % 4) {
		memcpy(m->bytes, src, len);
		err = smem_secret_new(src, len, 0, &m->s);
		CHECK(r, !err, "new(%zu): %d", len, err);
		CHECK(r, !err || src[0], "source wiped on failure");
	} else {
		err = smem_secret_new_random(len, 0, &m->s);
		CHECK(r, !err, "new_random(%zu): %d", len, err);
		/* The model learns random bytes by reading them once. */
		if (!err)
			CHECK(r, smem_secret_copy_out(m->s, 0, m->bytes, len) == (ssize_t)len,
			      "copy_out of a new random secret");
	}
	free(src);
	if (err) {
		m->s = NULL;
		return;
	}
	m->len = len;
	m->closed = false;
	m->refs = 1;
}

static void op_on(struct run *r, struct model *m)
{
	unsigned char buf[MAX_LEN + 16];
	unsigned int op = (unsigned int)below(r, 13);
	size_t off, len;
	ssize_t n;
	int err;

	switch (op) {
	case 0:		/* read it all */
		err = smem_secret_read(m->s, compare_fn, m);
		CHECK(r, err == (m->closed ? -EBADF : 1), "read: %d", err);
		break;
	case 1: {	/* write a range */
		struct range rg;

		off = below(r, m->len);
		len = 1 + below(r, m->len - off);
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)next(r);
		rg = (struct range){ off, len, buf };
		err = smem_secret_write(m->s, write_range_fn, &rg);
		CHECK(r, err == (m->closed ? -EBADF : (int)len), "write: %d", err);
		if (!m->closed)
			memcpy(m->bytes + off, buf, len);
		break;
	}
	case 2:		/* copy out a range, maybe past the end */
		off = below(r, m->len + 3);
		len = below(r, m->len + 8);
		n = smem_secret_copy_out(m->s, off, buf, len);
		if (off > m->len)
			CHECK(r, n == -EINVAL, "copy_out past the end: %zd", n);
		else if (m->closed)
			CHECK(r, n == -EBADF, "copy_out closed: %zd", n);
		else
			CHECK(r, n == (ssize_t)(len < m->len - off ? len : m->len - off) &&
			      !memcmp(buf, m->bytes + off, (size_t)n), "copy_out: %zd", n);
		break;
	case 3: case 4:	/* an access from inside an access */
	case 5: case 6: {
		struct inner in = { r, m, op - 3, 12345 };
		static const int open_result[] = { 1, -EDEADLK, 1, -EINPROGRESS };

		err = smem_secret_read(m->s, inner_fn, &in);
		if (m->closed) {
			CHECK(r, err == -EBADF && in.result == 12345, "nested on closed: %d", err);
			break;
		}
		CHECK(r, err == 1, "outer read: %d", err);
		CHECK(r, in.result == open_result[in.what], "inner %u: %d", in.what, in.result);
		if (in.what == 3)
			m->closed = true;
		break;
	}
	case 7:		/* close */
		err = smem_secret_close(m->s);
		CHECK(r, err == 0, "close: %d", err);
		m->closed = true;
		break;
	case 8:		/* close with a deadline: nobody is inside */
		err = smem_secret_close_timeout(m->s, (int)below(r, 3) - 1);
		CHECK(r, err == 0, "close_timeout: %d", err);
		m->closed = true;
		break;
	case 9:		/* references */
		CHECK(r, smem_secret_ref(m->s) == m->s, "ref");
		m->refs++;
		break;
	case 10:
		CHECK(r, smem_secret_unref(m->s) == NULL, "unref");
		if (!--m->refs)
			m->s = NULL;
		break;
	case 11:	/* what it says of itself */
		CHECK(r, smem_secret_is_closed(m->s) == m->closed, "is_closed");
		CHECK(r, smem_secret_size(m->s) == m->len, "size");
		break;
	default:	/* bad arguments change nothing */
		CHECK(r, smem_secret_read(m->s, NULL, NULL) == -EINVAL, "read NULL fn");
		CHECK(r, smem_secret_write(m->s, NULL, NULL) == -EINVAL, "write NULL fn");
		CHECK(r, smem_secret_copy_out(m->s, 0, NULL, 1) == -EINVAL, "copy_out NULL");
		CHECK(r, smem_secret_copy_out(m->s, m->len + 1, buf, 1) == -EINVAL, "copy_out off");
		break;
	}
}

/* One seeded run; the failure, or "" */
static void run_seed(struct run *r, uint64_t seed, unsigned long steps)
{
	memset(r, 0, sizeof(*r));
	r->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (r->step = 0; r->step < steps && !r->failure[0]; r->step++) {
		struct model *m = &r->m[below(r, HANDLES)];

		if (!m->s)
			op_new(r, m);
		else
			op_on(r, m);
	}
	for (int i = 0; i < HANDLES; i++)
		while (r->m[i].s && r->m[i].refs--)
			smem_secret_unref(r->m[i].s);
}

LIB_EMPTY_FIXTURE(model)

TEST_F_TIMEOUT(model, random_calls, 600)
{
	unsigned long steps = (unsigned long)lib_env_seconds("SMEM_MODEL_STEPS", 3000);
	unsigned long seeds = (unsigned long)lib_env_seconds("SMEM_MODEL_SEEDS", 30);
	const char *only = getenv("SMEM_MODEL_SEED");
	struct run *r = calloc(1, sizeof(*r));
	uint64_t first = 1, last = seeds;

	ASSERT_NE(NULL, r);
	if (only && *only)
		first = last = strtoull(only, NULL, 0);
	for (uint64_t seed = first; seed <= last; seed++) {
		run_seed(r, seed, steps);
		EXPECT_EQ(0, r->failure[0])
			TH_LOG("SMEM_MODEL_SEED=%llu, step %lu: %s",
			       (unsigned long long)seed, r->step - 1, r->failure);
		if (r->failure[0])
			break;
	}
	TH_LOG("seeds %llu..%llu, %lu steps each, on %s", (unsigned long long)first,
	       (unsigned long long)last, steps, lib_backend());
	free(r);
}

TEST_HARNESS_MAIN
