// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Operations on secret bytes built on the access windows: copy in at an
 * offset, copy from secret to secret, constant-time comparison.
 *
 * Each is a window opened with SMEM_WINDOW_NO_SCRUB: the bytes move and
 * are compared only by bytes.c, which leaves none of them in a register or
 * on the stack, so there is nothing for a scrub to erase.  Ranges are
 * checked against the sizes (which stay known after close) before any
 * window opens, so a range that does not fit is -EINVAL and nothing is
 * copied.
 *
 * Two secrets at once means two windows, one inside the other's callback.
 * The outer one is always the secret at the lower address, whichever is
 * source or destination: two threads copying between the same two
 * secrets in opposite directions take them in the same order, and cannot
 * each hold one while waiting for the other.  A callback's own failure is
 * a positive value (a negative one would come back as -ECANCELED), so the
 * inner window's error travels in the argument.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Does [@offset, @offset + @len) fit in @size bytes? */
static bool range_fits(size_t size, size_t offset, size_t len)
{
	return offset <= size && len <= size - offset;
}

struct copy_in {
	size_t offset;
	const void *src;
	size_t len;
};

static int copy_in_fn(void *buf, size_t len, void *arg)
{
	const struct copy_in *c = arg;

	(void)len;
	/* @src may be in the secret itself, from a write callback on it. */
	smem_bytes_move((unsigned char *)buf + c->offset, c->src, c->len);
	return 0;
}

SMEM_EXPORT int smem_secret_copy_in(struct smem_secret *s, size_t offset, void *src,
				    size_t len, unsigned int flags)
{
	SMEM_KEEP_ERRNO;
	struct copy_in c = { .offset = offset, .src = src, .len = len };
	int err;

	if (!s || !src || (flags & ~SMEM_KEEP_SOURCE) ||
	    !range_fits(smem_secret_size(s), offset, len))
		return -EINVAL;
	err = smem_secret_write_flags(s, copy_in_fn, &c, SMEM_WINDOW_NO_SCRUB);
	if (!err && !(flags & SMEM_KEEP_SOURCE))
		explicit_bzero(src, len);
	return err;
}

/*
 * Two secrets, each in a window: the outer one at the lower address, the
 * other opened from its callback, then @fn with both open.
 */
struct pair {
	struct smem_secret *s[2];
	bool write[2];
	unsigned char *buf[2];
	size_t size[2];
	int outer;			/* index of the outer window */
	int opened;			/* windows open so far */
	void (*fn)(struct pair *p);
	size_t offset[2], len;		/* copies */
	int result;			/* what @fn found */
	int inner_err;			/* the inner window's error */
};

static int pair_open(struct pair *p, const void *buf, size_t len);

static int pair_read_fn(const void *buf, size_t len, void *arg)
{
	return pair_open(arg, buf, len);
}

static int pair_write_fn(void *buf, size_t len, void *arg)
{
	return pair_open(arg, buf, len);
}

static int pair_window(struct pair *p, int i)
{
	return p->write[i] ?
	       smem_secret_write_flags(p->s[i], pair_write_fn, p, SMEM_WINDOW_NO_SCRUB) :
	       smem_secret_read_flags(p->s[i], pair_read_fn, p, SMEM_WINDOW_NO_SCRUB);
}

static int pair_open(struct pair *p, const void *buf, size_t len)
{
	int i = p->opened++ ? 1 - p->outer : p->outer, err;

	p->buf[i] = (unsigned char *)buf;
	p->size[i] = len;
	if (i == p->outer) {
		err = pair_window(p, 1 - p->outer);
		if (err < 0) {
			p->inner_err = err;
			return 1;
		}
		return 0;
	}
	p->fn(p);
	return 0;
}

/* -errno, or what @fn found. */
static int pair_run(struct pair *p)
{
	int err;

	p->outer = (uintptr_t)p->s[0] < (uintptr_t)p->s[1] ? 0 : 1;
	err = pair_window(p, p->outer);
	if (err < 0)
		return err;
	return p->inner_err ? p->inner_err : p->result;
}

/* s[0] the destination, s[1] the source. */
static void pair_copy(struct pair *p)
{
	smem_bytes_copy(p->buf[0] + p->offset[0], p->buf[1] + p->offset[1], p->len);
}

static int move_within(void *buf, size_t len, void *arg)
{
	const struct pair *p = arg;

	(void)len;
	smem_bytes_move((unsigned char *)buf + p->offset[0],
			(const unsigned char *)buf + p->offset[1], p->len);
	return 0;
}

SMEM_EXPORT int smem_secret_copy(struct smem_secret *dst, size_t dst_offset,
				 struct smem_secret *src, size_t src_offset, size_t len)
{
	struct pair p = {
		.s = { dst, src }, .write = { true, false }, .fn = pair_copy,
		.offset = { dst_offset, src_offset }, .len = len,
	};
	SMEM_KEEP_ERRNO;

	if (!dst || !src || !range_fits(smem_secret_size(dst), dst_offset, len) ||
	    !range_fits(smem_secret_size(src), src_offset, len))
		return -EINVAL;
	if (dst == src)
		return smem_secret_write_flags(dst, move_within, &p, SMEM_WINDOW_NO_SCRUB);
	return pair_run(&p);
}

/* ------------------------------------------------------------- compare */

struct compare {
	const void *buf;
	size_t len;
};

/* 1 equal, 0 different: never negative (that would be -ECANCELED). */
static int compare_fn(const void *buf, size_t len, void *arg)
{
	const struct compare *c = arg;

	return len == c->len && smem_bytes_ct_equal(buf, c->buf, len);
}

SMEM_EXPORT int smem_secret_equal(struct smem_secret *s, const void *buf, size_t len)
{
	SMEM_KEEP_ERRNO;
	struct compare c = { .buf = buf, .len = len };

	if (!s || (!buf && len))
		return -EINVAL;
	return smem_secret_read_flags(s, compare_fn, &c, SMEM_WINDOW_NO_SCRUB);
}

static void pair_compare(struct pair *p)
{
	p->result = p->size[0] == p->size[1] &&
		    smem_bytes_ct_equal(p->buf[0], p->buf[1], p->size[0]);
}

static int same_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	(void)arg;
	return 1;
}

SMEM_EXPORT int smem_secret_equal_secret(struct smem_secret *a, struct smem_secret *b)
{
	SMEM_KEEP_ERRNO;
	struct pair p = { .s = { a, b }, .fn = pair_compare };

	if (!a || !b)
		return -EINVAL;
	/* Still a window: a closed secret says -EBADF, not "equal". */
	if (a == b)
		return smem_secret_read_flags(a, same_fn, NULL, SMEM_WINDOW_NO_SCRUB);
	return pair_run(&p);
}
