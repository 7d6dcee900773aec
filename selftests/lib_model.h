/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The model of libsmem's API that lib_model_test.c (seeded random call
 * sequences) and fuzz/lib/api_fuzz.c (sequences decoded from libFuzzer's
 * input) check the library against.
 *
 * A secret is a plain byte array with a closed flag, a frozen flag and a
 * reference count; every call's result and its effect on the bytes are
 * computed from that, including the error a bad argument, a closed or a
 * frozen secret gives, and where the order of two windows makes either of
 * two errors right (smem_secret_copy() opens the secret at the lower
 * address first) both are accepted.
 *
 * A run draws every choice (which handle, which call, offsets, lengths,
 * flags) from model_below(): from a seeded xorshift in the test, from the
 * fuzzer's input in the harness, so that the random test and the
 * fuzzer's decoder are one piece of code.  The bytes of new secrets come
 * from the xorshift in both (the fuzzer gains nothing from choosing them).
 *
 * Enclaves are modelled as their bytes and a reference count, and the
 * last sealed form a run exported as the bytes it holds and whether a
 * rekey came after it (an import is then -ESTALE).  A rekey seals again
 * every live enclave of the process: the model knows how many only when
 * its run is the only one using enclaves; runs that share the process
 * key with other threads (key_shared) never rekey, so that no form of
 * theirs goes stale behind their back.
 *
 * Invariants: the handles of a run belong to one thread; the one shared
 * slot (MODEL_SHARED, optional) is a secret that other threads use too,
 * frozen for good and never closed by a run, so that every call on it
 * has one right answer whatever the other threads do.  A divergence is
 * written to run->failure, naming the call and what differed; the caller
 * stops at the first.  No kselftest macro is used here: the harness runs
 * this in threads and in forked children.
 */
#ifndef SMEM_LIB_MODEL_H
#define SMEM_LIB_MODEL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "test_util.h"

#define MODEL_HANDLES	6		/* a run's own secrets */
#define MODEL_SHARED	MODEL_HANDLES	/* slot of the shared secret */
#define MODEL_SLOTS	(MODEL_HANDLES + 1)
#define MODEL_MAX_LEN	6000
#define MODEL_ENCLAVES	4		/* a run's own enclaves */
/* A sealed form of MODEL_MAX_LEN bytes fits (export says how much it needs). */
#define MODEL_FORM_MAX	(MODEL_MAX_LEN + 256)

struct model_secret {
	struct smem_secret *s;		/* NULL: the slot is free */
	unsigned char bytes[MODEL_MAX_LEN];
	size_t len;
	bool closed;
	bool frozen;
	bool forever;			/* frozen for good: melting is -EPERM */
	bool shared;			/* other threads' too: never closed here */
	unsigned int refs;		/* references this run holds */
};

struct model_enclave {
	struct smem_enclave *e;		/* NULL: the slot is free */
	unsigned char bytes[MODEL_MAX_LEN];
	size_t len;
	unsigned int refs;		/* references this run holds */
};

/* The last sealed form the run exported. */
struct model_form {
	unsigned char buf[MODEL_FORM_MAX];
	size_t len;			/* 0: none yet */
	unsigned char bytes[MODEL_MAX_LEN];	/* what it seals */
	size_t bytes_len;
	bool stale;			/* a rekey replaced its key */
};

struct model_run {
	uint64_t rng;			/* xorshift64* state */
	const uint8_t *input;		/* choices come from here when not NULL */
	size_t input_left;
	bool exhausted;			/* the input ran out */
	unsigned int guarantees;	/* smem_info()'s, for SMEM_REQUIRE() */
	unsigned int forks_left;	/* fork() is slow: a budget */
	struct model_secret m[MODEL_SLOTS];
	struct model_enclave en[MODEL_ENCLAVES];
	struct model_form form;
	bool key_shared;		/* other threads use enclaves too: no rekey */
	unsigned long step;
	unsigned long enclave_steps;	/* steps on an enclave slot */
	char failure[240];
};

static inline void model_fail(struct model_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record the first divergence of the run. */
static inline void model_fail(struct model_run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->failure, sizeof(r->failure), fmt, ap);
	va_end(ap);
}

#define MODEL_CHECK(r, cond, ...) do { \
	if (!(cond)) \
		model_fail(r, __VA_ARGS__); \
} while (0)

/* @call returned @got where the model says @want. */
#define MODEL_EXPECT(r, call, got, want) do { \
	long long model_got_ = (long long)(got), model_want_ = (long long)(want); \
	if (model_got_ != model_want_) \
		model_fail(r, "%s: %lld, the model says %lld", call, model_got_, model_want_); \
} while (0)

/* @r for seed @seed of the test: every choice from the xorshift. */
static inline void model_init(struct model_run *r, uint64_t seed, unsigned int guarantees)
{
	memset(r, 0, sizeof(*r));
	r->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	r->guarantees = guarantees;
	r->forks_left = ~0U;
}

/* @r for a fuzzer's input: the choices are @size bytes at @data. */
static inline void model_init_input(struct model_run *r, uint64_t seed, unsigned int guarantees,
				    const uint8_t *data, size_t size, unsigned int forks)
{
	model_init(r, seed, guarantees);
	r->input = data;
	r->input_left = size;
	r->forks_left = forks;
}

/* Slots to choose from: the shared one only when there is one. */
static inline size_t model_slots(const struct model_run *r)
{
	return r->m[MODEL_SHARED].s ? MODEL_SLOTS : MODEL_HANDLES;
}

static inline uint64_t model_next(struct model_run *r)
{
	/* xorshift64*: the same sequence everywhere */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545f4914f6cdd1dULL;
}

/* A choice in 0 .. @n - 1 (0 when @n is 0 or the input ran out). */
static inline size_t model_below(struct model_run *r, size_t n)
{
	uint32_t v = 0;
	size_t bytes;

	if (n <= 1)
		return 0;
	if (!r->input)
		return (size_t)(model_next(r) % n);
	/* As few input bytes as the choice needs: mutations stay local. */
	bytes = n <= 0x100 ? 1 : n <= 0x10000 ? 2 : 4;
	if (r->input_left < bytes) {
		r->exhausted = true;
		r->input_left = 0;
		return 0;
	}
	while (bytes--) {
		v = v << 8 | *r->input++;
		r->input_left--;
	}
	return v % n;
}

static inline void model_fill(struct model_run *r, unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)model_next(r);
}

static inline bool model_all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Window flags: valid ones mostly, an unknown bit now and then. */
static inline unsigned int model_window_flags(struct model_run *r, bool *valid)
{
	static const unsigned int flags[] = {
		0, 0, 0, SMEM_WINDOW_NO_SCRUB, SMEM_WINDOW_SCRUB_KIB(1),
		SMEM_WINDOW_SCRUB_KIB(255), SMEM_WINDOW_NO_SCRUB | SMEM_WINDOW_SCRUB_KIB(4),
		1U << 1, 1U << 16, 1U << 31,
	};
	unsigned int i = (unsigned int)model_below(r, sizeof(flags) / sizeof(flags[0]));

	*valid = i < 7;
	return flags[i];
}

/* ------------------------------------------------------------ callbacks */

struct model_range {
	size_t offset, len;
	const unsigned char *src;
	int result;			/* what the callback returns */
};

static inline int model_write_range_fn(void *buf, size_t len, void *arg)
{
	struct model_range *rg = arg;

	(void)len;
	memcpy((unsigned char *)buf + rg->offset, rg->src, rg->len);
	return rg->result;
}

/* Read callback: 1 when the bytes are the model's, 0 when not. */
static inline int model_compare_fn(const void *buf, size_t len, void *arg)
{
	const struct model_secret *m = arg;

	return len == m->len && !memcmp(buf, m->bytes, len);
}

struct model_inner {
	struct model_secret *m;
	unsigned int what;
	int result;
};

/* Read callback doing one more call on the same secret from inside. */
static inline int model_inner_fn(const void *buf, size_t len, void *arg)
{
	struct model_inner *in = arg;
	unsigned char byte;

	switch (in->what) {
	case 0:
		in->result = smem_secret_read(in->m->s, model_compare_fn, in->m);
		break;
	case 1:
		in->result = smem_secret_write(in->m->s, model_write_range_fn, NULL);
		break;
	case 2:
		in->result = (int)smem_secret_copy_out(in->m->s, 0, &byte, 1);
		break;
	case 3:
		in->result = smem_secret_close(in->m->s);
		break;
	default:	/* inside a window */
		in->result = smem_rekey();
		break;
	}
	return model_compare_fn(buf, len, in->m);
}

/* Windows inside windows, on secrets of the run chosen at each level. */
struct model_deep {
	struct model_run *r;
	unsigned int depth, levels;	/* windows open; to open */
};

static inline int model_deep_fn(const void *buf, size_t len, void *arg);

/* One more level: the window's result against the model's. */
static inline void model_deep_open(struct model_deep *d)
{
	struct model_run *r = d->r;
	struct model_secret *m = &r->m[model_below(r, model_slots(r))];
	bool valid;
	unsigned int flags = model_window_flags(r, &valid);
	int err, want;

	if (!m->s)
		return;
	if (!valid)
		want = -EINVAL;
	else if (d->depth == SMEM_MAX_NESTING)
		want = -ELOOP;
	else if (m->closed)
		want = -EBADF;
	else
		want = 1;
	err = smem_secret_read_flags(m->s, model_deep_fn, m, flags);
	if (err != want)
		model_fail(r, "read at nesting depth %u (flags %#x): %d, the model says %d",
			   d->depth, flags, err, want);
}

static __thread struct model_deep *model_deep_current;

static inline int model_deep_fn(const void *buf, size_t len, void *arg)
{
	struct model_deep *d = model_deep_current;
	int same = model_compare_fn(buf, len, arg);

	d->depth++;
	if (d->depth < d->levels)
		model_deep_open(d);
	d->depth--;
	return same;
}

/* ------------------------------------------------------------- new */

/* What SMEM_REQUIRE() of a new secret asks for: mostly nothing. */
static inline unsigned int model_required(struct model_run *r)
{
	return model_below(r, 4) ? 0 : (unsigned int)model_below(r, SMEM_G_SHAREABLE << 1);
}

/* Calls that make nothing: -EINVAL, the source untouched. */
static inline void model_new_invalid(struct model_run *r)
{
	struct smem_secret *s = NULL;
	unsigned char src[32];
	int err = 0;

	memset(src, 0x5a, sizeof(src));
	switch (model_below(r, 7)) {
	case 0:
		err = smem_secret_new(src, 0, 0, &s);
		break;
	case 1:
		err = smem_secret_new(src, SMEM_SECRET_MAX_SIZE + 1, 0, &s);
		break;
	case 2:
		err = smem_secret_new(src, sizeof(src), 1U << (1 + model_below(r, 7)), &s);
		break;
	case 3:
		err = smem_secret_new(src, sizeof(src), 0, NULL);
		break;
	case 4:
		err = smem_secret_new(NULL, sizeof(src), 0, &s);
		break;
	case 5:
		err = smem_secret_new_random(sizeof(src), SMEM_KEEP_SOURCE, &s);
		break;
	default:
		err = smem_secret_new_random(SIZE_MAX, 0, &s);
		break;
	}
	MODEL_EXPECT(r, "new with a bad argument", err, -EINVAL);
	MODEL_CHECK(r, !s, "new with a bad argument made a secret");
	MODEL_CHECK(r, src[0] == 0x5a && !memcmp(src, src + 1, sizeof(src) - 1),
		    "new with a bad argument changed the source");
}

static inline void model_new(struct model_run *r, struct model_secret *m)
{
	unsigned int kind = (unsigned int)model_below(r, 8);
	size_t len = 1 + model_below(r, model_below(r, 4) ? 64 : MODEL_MAX_LEN);
	unsigned int required = model_required(r), flags = SMEM_REQUIRE(required);
	int want = required & ~r->guarantees ? -ENOTSUP : 0, err;
	unsigned char *src;

	if (kind == 7) {
		model_new_invalid(r);
		return;
	}
	src = malloc(len);
	if (!src) {
		model_fail(r, "out of memory");
		return;
	}
	model_fill(r, src, len);
	memcpy(m->bytes, src, len);
	if (kind < 5) {
		if (kind & 1)
			flags |= SMEM_KEEP_SOURCE;
		err = smem_secret_new(src, len, flags, &m->s);
		if (err != want)
			model_fail(r, "new(%zu, %#x): %d, the model says %d", len, flags, err, want);
		else if (!err && !(flags & SMEM_KEEP_SOURCE))
			MODEL_CHECK(r, model_all_zero(src, len), "new(%zu): source not wiped", len);
		else
			MODEL_CHECK(r, !memcmp(src, m->bytes, len),
				    "new(%zu, %#x): source changed", len, flags);
	} else {
		err = smem_secret_new_random(len, flags, &m->s);
		if (err != want)
			model_fail(r, "new_random(%zu, %#x): %d, the model says %d", len, flags,
				   err, want);
		/* The model learns random bytes by reading them once. */
		else if (!err)
			MODEL_EXPECT(r, "copy_out of a new random secret",
				     smem_secret_copy_out(m->s, 0, m->bytes, len), len);
	}
	free(src);
	if (err) {
		m->s = NULL;
		return;
	}
	m->len = len;
	m->closed = m->frozen = m->forever = m->shared = false;
	m->refs = 1;
}

/* ---------------------------------------------------------- operations */

enum model_op {
	MODEL_READ, MODEL_WRITE, MODEL_COPY_OUT, MODEL_NESTED, MODEL_DEEP, MODEL_CLOSE,
	MODEL_CLOSE_TIMEOUT, MODEL_REF, MODEL_UNREF, MODEL_SELF, MODEL_BAD_ARGS,
	MODEL_COPY_IN, MODEL_COPY, MODEL_EQUAL, MODEL_EQUAL_SECRET, MODEL_FREEZE,
	MODEL_MELT, MODEL_CHECK_CANARY, MODEL_EXPORT, MODEL_LINGER, MODEL_FORK, MODEL_OPS
};

/* A slot in use, maybe @m itself; NULL when the choice falls on a free one. */
static inline struct model_secret *model_other(struct model_run *r)
{
	struct model_secret *o = &r->m[model_below(r, model_slots(r))];

	return o->s ? o : NULL;
}

/* A range of @len bytes: mostly inside, now and then past the end. */
static inline void model_pick_range(struct model_run *r, size_t len, size_t *off, size_t *n)
{
	*off = model_below(r, len + 3);
	*n = model_below(r, len + 8);
}

static inline bool model_range_fits(size_t size, size_t off, size_t len)
{
	return off <= size && len <= size - off;
}

/* Error of a write window on @m (0: it opens). */
static inline int model_write_error(const struct model_secret *m)
{
	return m->closed ? -EBADF : m->frozen ? -EPERM : 0;
}

static inline void model_op_read(struct model_run *r, struct model_secret *m)
{
	bool valid;
	unsigned int flags = model_window_flags(r, &valid);
	int err = smem_secret_read_flags(m->s, model_compare_fn, m, flags);

	MODEL_EXPECT(r, "read", err, !valid ? -EINVAL : m->closed ? -EBADF : 1);
}

static inline void model_op_write(struct model_run *r, struct model_secret *m)
{
	unsigned char buf[MODEL_MAX_LEN];
	struct model_range rg;
	bool valid;
	unsigned int flags = model_window_flags(r, &valid);
	int err, want;

	rg.offset = model_below(r, m->len);
	rg.len = 1 + model_below(r, m->len - rg.offset);
	rg.src = buf;
	/* A callback's negative result is -ECANCELED; what it wrote stays. */
	rg.result = model_below(r, 8) ? (int)rg.len : -1;
	model_fill(r, buf, rg.len);
	err = smem_secret_write_flags(m->s, model_write_range_fn, &rg, flags);
	want = !valid ? -EINVAL : model_write_error(m);
	if (!want) {
		want = rg.result < 0 ? -ECANCELED : rg.result;
		memcpy(m->bytes + rg.offset, buf, rg.len);
	}
	MODEL_EXPECT(r, "write", err, want);
}

static inline void model_op_copy_out(struct model_run *r, struct model_secret *m)
{
	unsigned char buf[MODEL_MAX_LEN + 16];
	size_t off, len;
	ssize_t n;

	model_pick_range(r, m->len, &off, &len);
	n = smem_secret_copy_out(m->s, off, buf, len);
	if (off > m->len)
		MODEL_EXPECT(r, "copy_out past the end", n, -EINVAL);
	else if (m->closed)
		MODEL_EXPECT(r, "copy_out of a closed secret", n, -EBADF);
	else if (n != (ssize_t)(len < m->len - off ? len : m->len - off) ||
		 memcmp(buf, m->bytes + off, (size_t)n))
		model_fail(r, "copy_out(%zu, %zu) of %zu bytes: %zd, or other bytes", off, len,
			   m->len, n);
}

static inline void model_op_nested(struct model_run *r, struct model_secret *m)
{
	static const int open_result[] = { 1, -EDEADLK, 1, -EINPROGRESS, -EDEADLK };
	struct model_inner in = { m, (unsigned int)model_below(r, 5), 12345 };
	int err;

	/* The shared secret is never closed by a run. */
	if (m->shared && in.what == 3)
		in.what = 0;
	err = smem_secret_read(m->s, model_inner_fn, &in);
	if (m->closed) {
		MODEL_CHECK(r, err == -EBADF && in.result == 12345,
			    "nested %u on a closed secret: %d", in.what, err);
		return;
	}
	MODEL_EXPECT(r, "read around a nested call", err, 1);
	if (in.result != open_result[in.what])
		model_fail(r, "nested call %u: %d, the model says %d", in.what, in.result,
			   open_result[in.what]);
	if (in.what == 3)
		m->closed = true;
}

static inline void model_op_deep(struct model_run *r)
{
	struct model_deep d = { r, 0, 1 + (unsigned int)model_below(r, SMEM_MAX_NESTING + 3) };
	struct model_deep *saved = model_deep_current;

	model_deep_current = &d;
	model_deep_open(&d);
	model_deep_current = saved;
}

static inline void model_op_close(struct model_run *r, struct model_secret *m, bool timeout)
{
	int err;

	if (m->shared) {
		MODEL_EXPECT(r, "is_closed of the shared secret", smem_secret_is_closed(m->s), false);
		return;
	}
	if (timeout)
		err = smem_secret_close_timeout(m->s, (int)model_below(r, 3) - 1);
	else
		err = smem_secret_close(m->s);
	/* Idempotent: a second close says what the first said. */
	MODEL_EXPECT(r, timeout ? "close_timeout" : "close", err, 0);
	m->closed = true;
}

static inline void model_op_unref(struct model_run *r, struct model_secret *m)
{
	/* The shared secret's last reference is not this run's. */
	if (m->shared && m->refs == 1)
		return;
	MODEL_CHECK(r, smem_secret_unref(m->s) == NULL, "unref did not return NULL");
	if (!--m->refs)
		m->s = NULL;
}

static inline void model_op_bad_args(struct model_run *r, struct model_secret *m)
{
	struct smem_secret *s = NULL;
	unsigned char buf[16] = { 1 };

	MODEL_EXPECT(r, "read with no callback", smem_secret_read(m->s, NULL, NULL), -EINVAL);
	MODEL_EXPECT(r, "write with no callback", smem_secret_write(m->s, NULL, NULL), -EINVAL);
	MODEL_EXPECT(r, "read of NULL", smem_secret_read(NULL, model_compare_fn, m), -EINVAL);
	MODEL_EXPECT(r, "copy_out to NULL", smem_secret_copy_out(m->s, 0, NULL, 1), -EINVAL);
	MODEL_EXPECT(r, "copy_out past the end", smem_secret_copy_out(m->s, m->len + 1, buf, 1),
		     -EINVAL);
	MODEL_EXPECT(r, "copy_in from NULL", smem_secret_copy_in(m->s, 0, NULL, 1, 0), -EINVAL);
	MODEL_EXPECT(r, "copy_in with unknown flags",
		     smem_secret_copy_in(m->s, 0, buf, 1, 1U << 1), -EINVAL);
	MODEL_EXPECT(r, "copy_in past the end",
		     smem_secret_copy_in(m->s, m->len, buf, 1, SMEM_KEEP_SOURCE), -EINVAL);
	MODEL_EXPECT(r, "copy to NULL", smem_secret_copy(NULL, 0, m->s, 0, 1), -EINVAL);
	MODEL_EXPECT(r, "copy past the end", smem_secret_copy(m->s, 1, m->s, 0, m->len), -EINVAL);
	MODEL_EXPECT(r, "equal with NULL", smem_secret_equal(m->s, NULL, 1), -EINVAL);
	MODEL_EXPECT(r, "equal_secret with NULL", smem_secret_equal_secret(m->s, NULL), -EINVAL);
	MODEL_EXPECT(r, "freeze with unknown flags", smem_secret_freeze(m->s, 1U << 1), -EINVAL);
	MODEL_EXPECT(r, "close of NULL", smem_secret_close(NULL), -EINVAL);
	MODEL_EXPECT(r, "export of NULL", smem_secret_export_fd(NULL), -EINVAL);
	MODEL_EXPECT(r, "import of -1", smem_secret_import_fd(-1, 0, &s), -EBADF);
	MODEL_EXPECT(r, "import with unknown flags", smem_secret_import_fd(0, 1U << 0, &s),
		     -EINVAL);
	MODEL_CHECK(r, !s, "a failed import made a secret");
	MODEL_CHECK(r, buf[0] == 1, "a failed copy_in wiped its source");
	MODEL_CHECK(r, smem_secret_size(NULL) == 0 && smem_secret_is_closed(NULL) &&
		    !smem_secret_ref(NULL) && !smem_secret_unref(NULL), "calls on NULL");
}

static inline void model_op_copy_in(struct model_run *r, struct model_secret *m)
{
	static const unsigned int flag_choice[] = { 0, SMEM_KEEP_SOURCE, 1U << 1 };
	unsigned char src[MODEL_MAX_LEN + 8], copy[MODEL_MAX_LEN + 8];
	unsigned int flags = flag_choice[model_below(r, 3)];
	size_t off, len;
	int err, want;

	model_pick_range(r, m->len, &off, &len);
	model_fill(r, src, len);
	memcpy(copy, src, len);
	err = smem_secret_copy_in(m->s, off, src, len, flags);
	if (flags & ~SMEM_KEEP_SOURCE || !model_range_fits(m->len, off, len))
		want = -EINVAL;
	else
		want = model_write_error(m);
	if (err != want) {
		model_fail(r, "copy_in(%zu, %zu, %#x) into %zu bytes: %d, the model says %d",
			   off, len, flags, m->len, err, want);
		return;
	}
	if (!err)
		memcpy(m->bytes + off, copy, len);
	if (!err && !(flags & SMEM_KEEP_SOURCE))
		MODEL_CHECK(r, model_all_zero(src, len), "copy_in: source not wiped");
	else
		MODEL_CHECK(r, !memcmp(src, copy, len), "copy_in: source changed");
}

static inline void model_op_copy(struct model_run *r, struct model_secret *dst)
{
	struct model_secret *src = model_other(r);
	size_t doff, soff, len;
	int err, derr, serr;

	if (!src)
		return;
	doff = model_below(r, dst->len + 2);
	soff = model_below(r, src->len + 2);
	len = model_below(r, (dst->len < src->len ? dst->len : src->len) + 2);
	err = smem_secret_copy(dst->s, doff, src->s, soff, len);
	if (!model_range_fits(dst->len, doff, len) || !model_range_fits(src->len, soff, len)) {
		MODEL_EXPECT(r, "copy of a range that does not fit", err, -EINVAL);
		return;
	}
	derr = model_write_error(dst);
	serr = src == dst ? derr : src->closed ? -EBADF : 0;
	/* The window at the lower address opens first: its error comes back. */
	if (derr || serr) {
		MODEL_CHECK(r, err && (err == derr || err == serr),
			    "copy: %d, the model says %d or %d", err, derr, serr);
		return;
	}
	MODEL_EXPECT(r, "copy", err, 0);
	memmove(dst->bytes + doff, src->bytes + soff, len);
}

static inline void model_op_equal(struct model_run *r, struct model_secret *m)
{
	unsigned char buf[MODEL_MAX_LEN + 1];
	unsigned int kind = (unsigned int)model_below(r, 4);
	size_t len = m->len;
	int want = 1, err;

	memcpy(buf, m->bytes, m->len);
	if (kind == 1) {
		buf[model_below(r, m->len)] ^= (unsigned char)(1 + model_below(r, 255));
		want = 0;
	} else if (kind == 2) {
		len = model_below(r, 2) ? m->len - 1 : m->len + 1;
		buf[m->len] = 0;
		want = 0;
	}
	err = kind == 3 ? smem_secret_equal(m->s, NULL, 0) : smem_secret_equal(m->s, buf, len);
	if (kind == 3)
		want = 0;
	MODEL_EXPECT(r, "equal", err, m->closed ? -EBADF : want);
}

static inline void model_op_equal_secret(struct model_run *r, struct model_secret *m)
{
	struct model_secret *o = model_other(r);
	int want;

	if (!o)
		return;
	if (m->closed || o->closed)
		want = -EBADF;
	else
		want = m->len == o->len && !memcmp(m->bytes, o->bytes, m->len);
	MODEL_EXPECT(r, "equal_secret", smem_secret_equal_secret(m->s, o->s), want);
}

static inline void model_op_freeze(struct model_run *r, struct model_secret *m)
{
	static const unsigned int flag_choice[] = { 0, SMEM_FREEZE_FOREVER, 1U << 1 };
	unsigned int flags = flag_choice[model_below(r, model_below(r, 8) ? 2 : 3)];
	int err = smem_secret_freeze(m->s, flags);

	if (flags & ~SMEM_FREEZE_FOREVER) {
		MODEL_EXPECT(r, "freeze with unknown flags", err, -EINVAL);
		return;
	}
	MODEL_EXPECT(r, "freeze", err, m->closed ? -EBADF : 0);
	if (!err) {
		m->frozen = true;
		m->forever |= flags & SMEM_FREEZE_FOREVER;
	}
}

/*
 * A linger changes no result, only when the pages close: short ones keep
 * the closer thread busy among the other calls.
 */
static inline void model_op_linger(struct model_run *r, struct model_secret *m)
{
	static const unsigned int usec_choice[] = {
		0, 1, 100, 1000, SMEM_LINGER_MAX_US, SMEM_LINGER_MAX_US + 1
	};
	unsigned int usec = usec_choice[model_below(r, 6)];
	int err = smem_secret_linger(m->s, usec);

	MODEL_EXPECT(r, "linger", err,
		     usec > SMEM_LINGER_MAX_US ? -EINVAL : m->closed ? -EBADF : 0);
}

static inline void model_op_melt(struct model_run *r, struct model_secret *m)
{
	int err = smem_secret_melt(m->s);

	MODEL_EXPECT(r, "melt", err, m->closed ? -EBADF : m->forever ? -EPERM : 0);
	if (!err)
		m->frozen = false;
}

/* A free slot of the run, or NULL. */
static inline struct model_secret *model_free_slot(struct model_run *r)
{
	for (unsigned int i = 0; i < MODEL_HANDLES; i++)
		if (!r->m[i].s)
			return &r->m[i];
	return NULL;
}

/* Export, and import the copy into a free slot: a secret frozen for good. */
static inline void model_op_export(struct model_run *r, struct model_secret *m)
{
	struct model_secret *to;
	int fd, err;

	fd = smem_secret_export_fd(m->s);
	if (!(r->guarantees & SMEM_G_SHAREABLE)) {
		MODEL_EXPECT(r, "export without SMEM_G_SHAREABLE", fd, -ENOTSUP);
		return;
	}
	if (m->closed) {
		MODEL_EXPECT(r, "export of a closed secret", fd, -EBADF);
		return;
	}
	if (fd < 0) {
		model_fail(r, "export: %d", fd);
		return;
	}
	to = model_free_slot(r);
	if (to) {
		err = smem_secret_import_fd(fd, 0, &to->s);
		MODEL_EXPECT(r, "import of an export", err, 0);
		if (err) {
			to->s = NULL;
		} else {
			memcpy(to->bytes, m->bytes, m->len);
			to->len = m->len;
			to->closed = to->shared = false;
			to->frozen = to->forever = true;
			to->refs = 1;
		}
	}
	close(fd);
}

/* ------------------------------------------------------------ enclaves */

/* Read callback: 1 when the bytes are the model enclave's at @arg, 0 when not. */
static inline int model_enclave_fn(const void *buf, size_t len, void *arg)
{
	const struct model_enclave *me = arg;

	return len == me->len && !memcmp(buf, me->bytes, len);
}

/* The same, failing (-1) when they are: the read says -ECANCELED. */
static inline int model_enclave_cancel_fn(const void *buf, size_t len, void *arg)
{
	return model_enclave_fn(buf, len, arg) ? -1 : 0;
}

/* An enclave slot in use, maybe @me itself; NULL when the choice falls on a free one. */
static inline struct model_enclave *model_other_enclave(struct model_run *r)
{
	struct model_enclave *o = &r->en[model_below(r, MODEL_ENCLAVES)];

	return o->e ? o : NULL;
}

/*
 * The enclave a call made in @me, which returned @err where the model
 * says @want: holding @len @bytes when both are 0.  A failed call makes
 * nothing; what a call that should have failed made is dropped.
 */
static inline void model_enclave_made(struct model_run *r, struct model_enclave *me, int err,
				      int want, const unsigned char *bytes, size_t len)
{
	if (err) {
		MODEL_CHECK(r, !me->e, "a call that failed (%d) made an enclave", err);
		me->e = NULL;
		return;
	}
	if (want) {
		smem_enclave_unref(me->e);
		me->e = NULL;
		return;
	}
	memcpy(me->bytes, bytes, len);
	me->len = len;
	me->refs = 1;
}

/* Calls that make no enclave: -EINVAL, the source untouched. */
static inline void model_enclave_new_invalid(struct model_run *r)
{
	struct smem_enclave *e = NULL;
	unsigned char src[32];
	int err;

	memset(src, 0x5a, sizeof(src));
	switch (model_below(r, 6)) {
	case 0:
		err = smem_enclave_new(src, 0, 0, &e);
		break;
	case 1:
		err = smem_enclave_new(src, SMEM_SECRET_MAX_SIZE + 1, 0, &e);
		break;
	case 2:
		err = smem_enclave_new(src, sizeof(src), 1U << (1 + model_below(r, 7)), &e);
		break;
	case 3:
		err = smem_enclave_new(src, sizeof(src), 0, NULL);
		break;
	case 4:
		err = smem_enclave_new(NULL, sizeof(src), 0, &e);
		break;
	default:
		err = smem_secret_seal(NULL, 0, &e);
		break;
	}
	MODEL_EXPECT(r, "enclave_new with a bad argument", err, -EINVAL);
	MODEL_CHECK(r, !e, "enclave_new with a bad argument made an enclave");
	MODEL_CHECK(r, src[0] == 0x5a && !memcmp(src, src + 1, sizeof(src) - 1),
		    "enclave_new with a bad argument changed the source");
}

static inline void model_enclave_new(struct model_run *r, struct model_enclave *me)
{
	size_t len = 1 + model_below(r, model_below(r, 4) ? 64 : MODEL_MAX_LEN);
	unsigned int flags = model_below(r, 2) ? SMEM_KEEP_SOURCE : 0;
	unsigned char *src = malloc(len);
	int err;

	if (!src) {
		model_fail(r, "out of memory");
		return;
	}
	model_fill(r, src, len);
	memcpy(me->bytes, src, len);
	err = smem_enclave_new(src, len, flags, &me->e);
	MODEL_EXPECT(r, "enclave_new", err, 0);
	if (!err && !(flags & SMEM_KEEP_SOURCE))
		MODEL_CHECK(r, model_all_zero(src, len), "enclave_new(%zu): source not wiped", len);
	else
		MODEL_CHECK(r, !memcmp(src, me->bytes, len),
			    "enclave_new(%zu, %#x): source changed", len, flags);
	free(src);
	if (err) {
		me->e = NULL;
		return;
	}
	me->len = len;
	me->refs = 1;
}

struct model_seal_inner {
	struct model_secret *m;
	unsigned int flags;
	struct smem_enclave **ret;
	int result;
};

/* Read callback sealing the secret it reads. */
static inline int model_seal_inner_fn(const void *buf, size_t len, void *arg)
{
	struct model_seal_inner *in = arg;

	in->result = smem_secret_seal(in->m->s, in->flags, in->ret);
	return model_compare_fn(buf, len, in->m);
}

/*
 * Seal a secret of the run into @me: with SMEM_CLOSE or not, from inside
 * a read callback on it or not (the close is then left to the read's
 * end, and the enclave returned all the same).
 */
static inline void model_enclave_seal(struct model_run *r, struct model_enclave *me)
{
	struct model_secret *m = model_other(r);
	unsigned int how = (unsigned int)model_below(r, 4);
	struct model_seal_inner in;
	int err, want;

	if (!m)
		return;
	/* The shared secret is never closed by a run. */
	if (m->shared)
		how %= 2;
	in = (struct model_seal_inner){ m, how >= 2 ? SMEM_CLOSE : 0, &me->e, 12345 };
	want = m->closed ? -EBADF : 0;
	if (how % 2) {
		err = smem_secret_read(m->s, model_seal_inner_fn, &in);
		if (m->closed) {
			MODEL_CHECK(r, err == -EBADF && in.result == 12345,
				    "seal inside a read of a closed secret: %d", err);
			return;
		}
		MODEL_EXPECT(r, "read around a seal", err, 1);
		err = in.result;
	} else {
		err = smem_secret_seal(m->s, in.flags, &me->e);
	}
	if (err != want)
		model_fail(r, "seal(%#x)%s of %zu bytes: %d, the model says %d", in.flags,
			   how % 2 ? " inside a read" : "", m->len, err, want);
	model_enclave_made(r, me, err, want, m->bytes, m->len);
	if (!err && (in.flags & SMEM_CLOSE))
		m->closed = true;
}

/*
 * Import the run's last sealed form into @me: whole (-ESTALE after a
 * rekey), cut short, with a byte of its ciphertext changed, or with flags.
 */
static inline void model_enclave_import(struct model_run *r, struct model_enclave *me)
{
	struct model_form *f = &r->form;
	unsigned int kind = (unsigned int)model_below(r, 8);
	size_t len = f->len;
	int err, want;

	if (!f->len)
		return;
	want = f->stale ? -ESTALE : 0;
	if (kind == 5) {
		len--;
		want = -EINVAL;
	} else if (kind == 6) {
		/* Authenticated once the key is found: a stale form fails before. */
		f->buf[len - 1] ^= 0x80;
		want = f->stale ? -ESTALE : -EBADMSG;
	}
	err = smem_enclave_import(f->buf, len, kind == 7 ? 1U << model_below(r, 32) : 0,
				  &me->e);
	if (kind == 7)
		want = -EINVAL;
	if (kind == 6)
		f->buf[len - 1] ^= 0x80;
	if (err != want)
		model_fail(r, "import (kind %u) of a %zu-byte form: %d, the model says %d", kind,
			   f->len, err, want);
	model_enclave_made(r, me, err, want, f->bytes, f->bytes_len);
}

/* A new enclave in the free slot @me: from bytes, a secret or a sealed form. */
static inline void model_enclave_make(struct model_run *r, struct model_enclave *me)
{
	unsigned int kind = (unsigned int)model_below(r, 8);

	if (kind < 3)
		model_enclave_new(r, me);
	else if (kind < 5)
		model_enclave_seal(r, me);
	else if (kind < 7)
		model_enclave_import(r, me);
	else
		model_enclave_new_invalid(r);
}

static inline void model_enclave_read(struct model_run *r, struct model_enclave *me)
{
	bool cancel = !model_below(r, 8);
	int err;

	err = smem_enclave_read(me->e, cancel ? model_enclave_cancel_fn : model_enclave_fn, me);
	MODEL_EXPECT(r, cancel ? "enclave_read failing in its callback" : "enclave_read", err,
		     cancel ? -ECANCELED : 1);
}

/* A new secret of @len bytes, checked against @bytes, into a free slot or dropped. */
static inline void model_keep_opened(struct model_run *r, struct smem_secret *s,
				     const unsigned char *bytes, size_t len)
{
	unsigned char buf[MODEL_MAX_LEN];
	struct model_secret *to = model_free_slot(r);

	if (smem_secret_copy_out(s, 0, buf, len) != (ssize_t)len || memcmp(buf, bytes, len) ||
	    smem_secret_size(s) != len)
		model_fail(r, "the secret an enclave of %zu bytes opened into has other bytes",
			   len);
	if (!to) {
		smem_secret_unref(s);
		return;
	}
	to->s = s;
	memcpy(to->bytes, bytes, len);
	to->len = len;
	to->closed = to->frozen = to->forever = to->shared = false;
	to->refs = 1;
}

static inline void model_enclave_open(struct model_run *r, struct model_enclave *me)
{
	unsigned int required = model_required(r), flags = SMEM_REQUIRE(required);
	bool bad = !model_below(r, 10);
	struct smem_secret *s = NULL;
	int err, want;

	/* Only SMEM_REQUIRE() bits are flags of an open. */
	if (bad)
		flags = 1U << model_below(r, SMEM_REQUIRE_SHIFT);
	want = bad ? -EINVAL : required & ~r->guarantees ? -ENOTSUP : 0;
	err = smem_enclave_open(me->e, flags, &s);
	if (err != want)
		model_fail(r, "enclave_open(%#x) of %zu bytes: %d, the model says %d", flags,
			   me->len, err, want);
	if (err) {
		MODEL_CHECK(r, !s, "a failed enclave_open made a secret");
		return;
	}
	model_keep_opened(r, s, me->bytes, me->len);
}

struct model_enclave_inner {
	struct model_run *r;
	struct model_enclave *me;
	unsigned int what;
};

/* Enclave read callback: one more call from inside, judged here. */
static inline int model_enclave_inner_fn(const void *buf, size_t len, void *arg)
{
	struct model_enclave_inner *in = arg;
	struct model_run *r = in->r;
	struct model_enclave *o = model_other_enclave(r);
	struct model_secret *m = model_other(r);
	struct smem_enclave *e = NULL;
	struct smem_secret *s = NULL;
	int err;

	switch (in->what) {
	case 0:		/* another enclave, or the same */
		if (o)
			MODEL_EXPECT(r, "enclave_read inside an enclave_read",
				     smem_enclave_read(o->e, model_enclave_fn, o), 1);
		break;
	case 1:
		if (!o)
			break;
		err = smem_enclave_open(o->e, 0, &s);
		MODEL_EXPECT(r, "enclave_open inside an enclave_read", err, 0);
		if (!err)
			model_keep_opened(r, s, o->bytes, o->len);
		break;
	case 2:		/* inside a window */
		MODEL_EXPECT(r, "rekey inside an enclave_read", smem_rekey(), -EDEADLK);
		break;
	default:
		if (!m)
			break;
		err = smem_secret_seal(m->s, 0, &e);
		MODEL_EXPECT(r, "seal inside an enclave_read", err, m->closed ? -EBADF : 0);
		if (!err)
			MODEL_EXPECT(r, "enclave_read of what was sealed inside",
				     smem_enclave_read(e, model_compare_fn, m), 1);
		smem_enclave_unref(e);
		break;
	}
	return model_enclave_fn(buf, len, in->me);
}

static inline void model_enclave_nested(struct model_run *r, struct model_enclave *me)
{
	struct model_enclave_inner in = { r, me, (unsigned int)model_below(r, 4) };

	MODEL_EXPECT(r, "enclave_read around a nested call",
		     smem_enclave_read(me->e, model_enclave_inner_fn, &in), 1);
}

/* Export @me: the length asked, too short a buffer, then the run's form. */
static inline void model_enclave_export(struct model_run *r, struct model_enclave *me)
{
	struct model_form *f = &r->form;
	ssize_t need = smem_enclave_export(me->e, NULL, 0);

	if (need <= (ssize_t)me->len || need > (ssize_t)MODEL_FORM_MAX) {
		model_fail(r, "export of %zu bytes needs %zd", me->len, need);
		return;
	}
	MODEL_EXPECT(r, "export into too short a buffer",
		     smem_enclave_export(me->e, f->buf, (size_t)need - 1), -ERANGE);
	MODEL_EXPECT(r, "export to NULL with a length", smem_enclave_export(me->e, NULL, 1),
		     -EINVAL);
	MODEL_EXPECT(r, "export", smem_enclave_export(me->e, f->buf, sizeof(f->buf)), need);
	f->len = (size_t)need;
	memcpy(f->bytes, me->bytes, me->len);
	f->bytes_len = me->len;
	f->stale = false;
}

/* Every live enclave is sealed again: the run's, when they are the process's. */
static inline void model_enclave_rekey(struct model_run *r)
{
	unsigned int live = 0;
	int err;

	if (r->key_shared)
		return;
	for (unsigned int i = 0; i < MODEL_ENCLAVES; i++)
		live += !!r->en[i].e;
	err = smem_rekey();
	MODEL_EXPECT(r, "rekey", err, live);
	if (err >= 0 && r->form.len)
		r->form.stale = true;
}

static inline void model_enclave_bad_args(struct model_run *r, struct model_enclave *me)
{
	struct smem_enclave *e = NULL;
	struct smem_secret *s = NULL;
	unsigned char form[8] = { 0 };

	MODEL_EXPECT(r, "enclave_read with no callback", smem_enclave_read(me->e, NULL, NULL),
		     -EINVAL);
	MODEL_EXPECT(r, "enclave_read of NULL", smem_enclave_read(NULL, model_enclave_fn, me),
		     -EINVAL);
	MODEL_EXPECT(r, "enclave_open to NULL", smem_enclave_open(me->e, 0, NULL), -EINVAL);
	MODEL_EXPECT(r, "enclave_open of NULL", smem_enclave_open(NULL, 0, &s), -EINVAL);
	MODEL_EXPECT(r, "enclave_export of NULL", smem_enclave_export(NULL, NULL, 0), -EINVAL);
	MODEL_EXPECT(r, "enclave_import of NULL", smem_enclave_import(NULL, 8, 0, &e), -EINVAL);
	MODEL_EXPECT(r, "enclave_import of 8 bytes", smem_enclave_import(form, 8, 0, &e),
		     -EINVAL);
	MODEL_CHECK(r, !e && !s, "a call with a bad argument made something");
	MODEL_CHECK(r, smem_enclave_size(NULL) == 0 && !smem_enclave_ref(NULL) &&
		    !smem_enclave_unref(NULL), "enclave calls on NULL");
}

enum model_enclave_op {
	MODEL_E_READ, MODEL_E_NESTED, MODEL_E_OPEN, MODEL_E_EXPORT, MODEL_E_REKEY, MODEL_E_REF,
	MODEL_E_UNREF, MODEL_E_SIZE, MODEL_E_BAD_ARGS, MODEL_E_OPS
};

static inline void model_enclave_on(struct model_run *r, struct model_enclave *me)
{
	switch (model_below(r, MODEL_E_OPS)) {
	case MODEL_E_READ:
		model_enclave_read(r, me);
		break;
	case MODEL_E_NESTED:
		model_enclave_nested(r, me);
		break;
	case MODEL_E_OPEN:
		model_enclave_open(r, me);
		break;
	case MODEL_E_EXPORT:
		model_enclave_export(r, me);
		break;
	case MODEL_E_REKEY:
		model_enclave_rekey(r);
		break;
	case MODEL_E_REF:
		MODEL_CHECK(r, smem_enclave_ref(me->e) == me->e, "enclave_ref did not return it");
		me->refs++;
		break;
	case MODEL_E_UNREF:
		MODEL_CHECK(r, !smem_enclave_unref(me->e), "enclave_unref did not return NULL");
		if (!--me->refs)
			me->e = NULL;
		break;
	case MODEL_E_SIZE:
		MODEL_EXPECT(r, "enclave_size", smem_enclave_size(me->e), me->len);
		break;
	default:
		model_enclave_bad_args(r, me);
		break;
	}
}

/* One step on an enclave slot: a call on its enclave, or a new one there. */
static inline void model_enclave_step(struct model_run *r)
{
	struct model_enclave *me = &r->en[model_below(r, MODEL_ENCLAVES)];

	r->enclave_steps++;
	if (me->e)
		model_enclave_on(r, me);
	else
		model_enclave_make(r, me);
}

/*
 * In a forked child the enclaves of the parent and its sealed forms say
 * -ECHILD (what needs no key works: size, export), and a new enclave
 * works under a key of the child's, which a rekey replaces: the child's
 * one enclave is sealed again, the parent's are not.
 */
static inline void model_enclave_child(struct model_run *r)
{
	struct smem_enclave *e = NULL;
	struct smem_secret *s = NULL;
	unsigned char src[32];

	for (unsigned int i = 0; i < MODEL_ENCLAVES; i++) {
		struct model_enclave *me = &r->en[i];

		if (!me->e)
			continue;
		MODEL_EXPECT(r, "child: enclave_read",
			     smem_enclave_read(me->e, model_enclave_fn, me), -ECHILD);
		MODEL_EXPECT(r, "child: enclave_open", smem_enclave_open(me->e, 0, &s), -ECHILD);
		MODEL_EXPECT(r, "child: enclave_size", smem_enclave_size(me->e), me->len);
		MODEL_CHECK(r, smem_enclave_export(me->e, NULL, 0) > (ssize_t)me->len,
			    "child: export");
	}
	if (r->form.len)
		MODEL_EXPECT(r, "child: import of the parent's form",
			     smem_enclave_import(r->form.buf, r->form.len, 0, &e), -ECHILD);
	MODEL_CHECK(r, !e && !s, "child: a call on the parent's enclaves made something");
	memset(src, 0x33, sizeof(src));
	MODEL_EXPECT(r, "child: enclave_new", smem_enclave_new(src, sizeof(src), 0, &e), 0);
	if (!e)
		return;
	memset(src, 0x33, sizeof(src));
	MODEL_EXPECT(r, "child: rekey", smem_rekey(), 1);
	MODEL_EXPECT(r, "child: enclave_open after the rekey", smem_enclave_open(e, 0, &s), 0);
	if (s)
		MODEL_EXPECT(r, "child: the opened enclave's bytes",
			     smem_secret_equal(s, src, sizeof(src)), 1);
	smem_secret_unref(s);
	smem_enclave_unref(e);
}

/*
 * In a forked child every call on a secret of the parent says -ECHILD
 * (or what needs no secret: the size), and a new secret works.
 */
static inline void model_child(struct model_run *r)
{
	struct smem_secret *s = NULL;
	unsigned char byte;

	for (unsigned int i = 0; i < MODEL_SLOTS; i++) {
		struct model_secret *m = &r->m[i];

		if (!m->s)
			continue;
		MODEL_EXPECT(r, "child: read", smem_secret_read(m->s, model_compare_fn, m), -ECHILD);
		MODEL_EXPECT(r, "child: write", smem_secret_write(m->s, model_write_range_fn, NULL),
			     -ECHILD);
		MODEL_EXPECT(r, "child: copy_out", smem_secret_copy_out(m->s, 0, &byte, 1), -ECHILD);
		MODEL_EXPECT(r, "child: freeze", smem_secret_freeze(m->s, 0), -ECHILD);
		MODEL_EXPECT(r, "child: check", smem_secret_check(m->s), -ECHILD);
		MODEL_EXPECT(r, "child: close", smem_secret_close(m->s), -ECHILD);
		MODEL_EXPECT(r, "child: is_closed", smem_secret_is_closed(m->s), true);
		MODEL_EXPECT(r, "child: size", smem_secret_size(m->s), m->len);
	}
	MODEL_EXPECT(r, "child: new_random", smem_secret_new_random(32, 0, &s), 0);
	if (s) {
		MODEL_EXPECT(r, "child: read a new secret", smem_secret_copy_out(s, 0, &byte, 1), 1);
		MODEL_EXPECT(r, "child: close a new secret", smem_secret_close(s), 0);
		smem_secret_unref(s);
	}
	model_enclave_child(r);
}

static inline void model_op_fork(struct model_run *r)
{
	pid_t pid;
	int result;

	if (!r->forks_left || model_below(r, 16))
		return;
	r->forks_left--;
	pid = fork();
	if (pid < 0) {
		model_fail(r, "fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		model_child(r);
		if (r->failure[0])
			fprintf(stderr, "forked child: %s\n", r->failure);
		_exit(r->failure[0] ? 1 : 0);
	}
	result = wait_child(pid);
	MODEL_CHECK(r, result == 0, "the forked child found a divergence (exit %d)", result);
}

/* One call on the secret in @m, chosen by the run. */
static inline void model_on(struct model_run *r, struct model_secret *m)
{
	switch (model_below(r, MODEL_OPS)) {
	case MODEL_READ:
		model_op_read(r, m);
		break;
	case MODEL_WRITE:
		model_op_write(r, m);
		break;
	case MODEL_COPY_OUT:
		model_op_copy_out(r, m);
		break;
	case MODEL_NESTED:
		model_op_nested(r, m);
		break;
	case MODEL_DEEP:
		model_op_deep(r);
		break;
	case MODEL_CLOSE:
		model_op_close(r, m, false);
		break;
	case MODEL_CLOSE_TIMEOUT:
		model_op_close(r, m, true);
		break;
	case MODEL_REF:
		MODEL_CHECK(r, smem_secret_ref(m->s) == m->s, "ref did not return the secret");
		m->refs++;
		break;
	case MODEL_UNREF:
		model_op_unref(r, m);
		break;
	case MODEL_SELF:
		MODEL_EXPECT(r, "is_closed", smem_secret_is_closed(m->s), m->closed);
		MODEL_EXPECT(r, "size", smem_secret_size(m->s), m->len);
		break;
	case MODEL_BAD_ARGS:
		model_op_bad_args(r, m);
		break;
	case MODEL_COPY_IN:
		model_op_copy_in(r, m);
		break;
	case MODEL_COPY:
		model_op_copy(r, m);
		break;
	case MODEL_EQUAL:
		model_op_equal(r, m);
		break;
	case MODEL_EQUAL_SECRET:
		model_op_equal_secret(r, m);
		break;
	case MODEL_FREEZE:
		model_op_freeze(r, m);
		break;
	case MODEL_MELT:
		model_op_melt(r, m);
		break;
	case MODEL_CHECK_CANARY:
		MODEL_EXPECT(r, "check", smem_secret_check(m->s), m->closed ? -EBADF : 0);
		break;
	case MODEL_EXPORT:
		model_op_export(r, m);
		break;
	case MODEL_LINGER:
		model_op_linger(r, m);
		break;
	default:
		model_op_fork(r);
		break;
	}
}

/*
 * One step: a call on a slot of the run, or a new secret in a free one;
 * one step in four on an enclave slot.  A closed secret is mostly let go:
 * left to the uniform choice of calls, the slots would fill with closed
 * secrets that only say -EBADF.
 */
static inline void model_step(struct model_run *r)
{
	struct model_secret *m;

	if (!model_below(r, 4)) {
		model_enclave_step(r);
		return;
	}
	m = &r->m[model_below(r, model_slots(r))];
	if (!m->s)
		model_new(r, m);
	else if (m->closed && model_below(r, 4))
		model_op_unref(r, m);
	else
		model_on(r, m);
}

/*
 * The end of a run: every secret of its own still open closes cleanly
 * (its canaries intact), and every reference it holds, to secrets and
 * enclaves, is dropped.
 */
static inline void model_finish(struct model_run *r)
{
	for (unsigned int i = 0; i < MODEL_SLOTS; i++) {
		struct model_secret *m = &r->m[i];

		if (!m->s)
			continue;
		if (!m->shared && !m->closed)
			MODEL_EXPECT(r, "close at the end", smem_secret_close(m->s), 0);
		while (m->refs > (m->shared ? 1U : 0U)) {
			smem_secret_unref(m->s);
			m->refs--;
		}
		m->s = NULL;
	}
	for (unsigned int i = 0; i < MODEL_ENCLAVES; i++) {
		for (; r->en[i].refs; r->en[i].refs--)
			smem_enclave_unref(r->en[i].e);
		r->en[i].e = NULL;
	}
}

#endif /* SMEM_LIB_MODEL_H */
