// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The secret object: references, access windows, close.
 *
 * One 32-bit state word per secret carries everything the access protocol
 * needs, so the common path is a compare-and-swap to come in and one to
 * go out, and threads that use different secrets share nothing:
 *
 *   readers   threads inside a read access (a thread's nested accesses to
 *             the same secret are not counted again);
 *   WRITER    a writer holds the secret, or has claimed it and waits for
 *             the readers to leave (newcomers wait behind it, so readers
 *             cannot starve it);
 *   BUSY      the protection is being changed (without keys) or the close
 *             is being finished: nobody comes in meanwhile;
 *   CLOSING   closed or being closed: every new access fails with -EBADF;
 *   RELEASED  the close is finished: bytes wiped, pages given back;
 *   DOOMED    the last reference went away during an access: whoever
 *             finishes the close frees the object;
 *   WAITERS   someone sleeps on the word (futex): whoever changes the
 *             state next wakes them.
 *
 * With protection keys the pages stay mapped read-write and the window is
 * this thread's PKRU, opened around the callback.  Without keys the first
 * reader opens the pages (SMEM_PROT_READ) and the last closes them, under
 * BUSY, while readers in between pay nothing; a writer opens them
 * read-write.  Whoever leaves a closing secret empty finishes the close, so
 * a close never has to wait for itself (called inside a callback) and a
 * close that timed out still completes.
 *
 * Accesses of the calling thread are kept in a stack of frames in
 * thread-local storage: a nested access to a secret the thread already
 * holds does not wait for itself, and the outermost window of a thread
 * closes the key whatever the thread inherited.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ST_READERS	0x00ffffffU
#define ST_WRITER	(1U << 24)
#define ST_BUSY		(1U << 25)
#define ST_CLOSING	(1U << 26)
#define ST_RELEASED	(1U << 27)
#define ST_DOOMED	(1U << 28)
#define ST_WAITERS	(1U << 29)

#define CANARY_SIZE	16	/* also the alignment of a secret in its own pages */

#define VALID_FLAGS	(SMEM_KEEP_SOURCE | SMEM_REQUIRE(SMEM_ALL_GUARANTEES))

struct smem_secret {
	_Atomic uint32_t state;
	_Atomic uint32_t refs;
	unsigned int generation;	/* smem_fork_generation at creation */
	uint32_t pkey_ad;		/* PKRU bit of the key on the bytes; 0: no key */
	size_t size;
	unsigned char *data;
	int close_result;		/* what close returns, once RELEASED */
	bool readonly;			/* imported */
	struct smem_chunk *chunk;	/* the arena chunk of the slot, or NULL */
	struct smem_region region;	/* the secret's own pages, without chunk */
};

/* One access of this thread, on its stack; innermost first. */
struct access_frame {
	const struct smem_secret *secret;
	struct access_frame *outer;
	bool write;			/* this thread holds the secret for writing */
};

static __thread struct access_frame *innermost_access
	__attribute__((tls_model("initial-exec")));

static struct access_frame *find_access(const struct smem_secret *s)
{
	struct access_frame *f;

	for (f = innermost_access; f; f = f->outer)
		if (f->secret == s)
			return f;
	return NULL;
}

static bool inherited(const struct smem_secret *s)
{
	return s->generation != smem_generation();
}

/* ------------------------------------------------------------ state word */

static uint32_t load_state(struct smem_secret *s)
{
	return atomic_load_explicit(&s->state, memory_order_acquire);
}

static bool cas_state(struct smem_secret *s, uint32_t *old, uint32_t new)
{
	return atomic_compare_exchange_weak_explicit(&s->state, old, new,
						     memory_order_acq_rel,
						     memory_order_acquire);
}

static void wake_all(struct smem_secret *s)
{
	syscall(SYS_futex, &s->state, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * Sleep until the state is no longer @seen, or past @deadline
 * (CLOCK_MONOTONIC; NULL: no limit).  Returns -ETIMEDOUT or 0; the
 * caller looks at the state again either way.
 */
static int wait_for_change(struct smem_secret *s, uint32_t seen,
			   const struct timespec *deadline)
{
	if (!(seen & ST_WAITERS)) {
		if (!cas_state(s, &seen, seen | ST_WAITERS))
			return 0;
		seen |= ST_WAITERS;
	}
	if (syscall(SYS_futex, &s->state, FUTEX_WAIT_BITSET_PRIVATE, seen, deadline,
		    NULL, FUTEX_BITSET_MATCH_ANY) && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

static void finish_close(struct smem_secret *s);

/*
 * Add @delta to the readers, clear @clear and set @set, and wake the
 * sleepers.  When that leaves a closing secret with nobody inside, the
 * caller finishes the close; the object may be gone on return.
 */
static void settle(struct smem_secret *s, uint32_t delta, uint32_t clear, uint32_t set)
{
	uint32_t old = atomic_load_explicit(&s->state, memory_order_relaxed), new;
	bool finish;

	do {
		new = ((old + delta) & ~(clear | ST_WAITERS)) | set;
		finish = (new & ST_CLOSING) &&
			 !(new & (ST_READERS | ST_WRITER | ST_BUSY | ST_RELEASED));
		if (finish)
			new |= ST_BUSY;
	} while (!cas_state(s, &old, new));
	if (old & ST_WAITERS)
		wake_all(s);
	if (finish)
		finish_close(s);
}

/* ---------------------------------------------------------------- access */

static int acquire_read(struct smem_secret *s)
{
	uint32_t old = atomic_load_explicit(&s->state, memory_order_relaxed);
	int err;

	for (;;) {
		if (old & ST_CLOSING)
			return -EBADF;
		if (old & (ST_WRITER | ST_BUSY)) {
			wait_for_change(s, old, NULL);
			old = load_state(s);
			continue;
		}
		if ((old & ST_READERS) == ST_READERS)
			return -EAGAIN;
		if (!(old & ST_READERS) && !s->pkey_ad) {
			/* The first reader opens the pages before it counts as inside. */
			if (!cas_state(s, &old, old | ST_BUSY))
				continue;
			err = s->region.protect(&s->region, SMEM_PROT_READ);
			settle(s, err ? 0 : 1, ST_BUSY, 0);
			return err;
		}
		if (cas_state(s, &old, old + 1))
			return 0;
	}
}

static int release_read(struct smem_secret *s)
{
	uint32_t old = atomic_load_explicit(&s->state, memory_order_relaxed);
	int err;

	while ((old & ST_READERS) == 1 && !s->pkey_ad && !(old & ST_CLOSING)) {
		/*
		 * The last reader closes the pages; BUSY keeps the next first
		 * reader out until they are closed.
		 */
		if (!cas_state(s, &old, (old - 1) | ST_BUSY))
			continue;
		err = s->region.protect(&s->region, SMEM_PROT_NONE);
		settle(s, 0, ST_BUSY, 0);
		return err;
	}
	settle(s, (uint32_t)-1, 0, 0);
	return 0;
}

static int acquire_write(struct smem_secret *s)
{
	uint32_t old = atomic_load_explicit(&s->state, memory_order_relaxed);
	bool claimed = false;
	int err;

	for (;;) {
		if (old & ST_CLOSING) {
			if (claimed)
				settle(s, 0, ST_WRITER, 0);
			return -EBADF;
		}
		if (!claimed && !(old & ST_WRITER)) {
			if (!cas_state(s, &old, old | ST_WRITER))
				continue;
			claimed = true;
			old |= ST_WRITER;
		}
		if (claimed && !(old & (ST_READERS | ST_BUSY)))
			break;
		wait_for_change(s, old, NULL);
		old = load_state(s);
	}
	if (!s->pkey_ad) {
		err = s->region.protect(&s->region, SMEM_PROT_READWRITE);
		if (err) {
			settle(s, 0, ST_WRITER, 0);
			return err;
		}
	}
	return 0;
}

static int release_write(struct smem_secret *s)
{
	int err = 0;

	/* A closing secret is wiped next: no need to close the pages. */
	if (!s->pkey_ad && !(load_state(s) & ST_CLOSING))
		err = s->region.protect(&s->region, SMEM_PROT_NONE);
	settle(s, 0, ST_WRITER, 0);
	return err;
}

struct access_fn {
	smem_read_fn read;	/* one of the two */
	smem_write_fn write;
	void *arg;
};

static int secret_access(struct smem_secret *s, const struct access_fn *fn)
{
	bool write = fn->write;
	struct access_frame frame, *held;
	uint32_t saved_pkru = 0;
	int ret, err;

	if (!s || !(fn->read || fn->write))
		return -EINVAL;
	if (inherited(s))
		return -ECHILD;
	if (write && s->readonly)
		return -EPERM;
	held = find_access(s);
	if (held) {
		/* A reader cannot become a writer: the other readers may never leave. */
		if (write && !held->write)
			return -EDEADLK;
		if (load_state(s) & ST_CLOSING)
			return -EBADF;
	} else {
		err = write ? acquire_write(s) : acquire_read(s);
		if (err)
			return err;
	}

	frame.secret = s;
	frame.outer = innermost_access;
	frame.write = held ? held->write : write;
	innermost_access = &frame;
	if (s->pkey_ad)
		saved_pkru = smem_pkru_open(s->pkey_ad, write);

	ret = write ? fn->write(s->data, s->size, fn->arg) : fn->read(s->data, s->size, fn->arg);

	/*
	 * The outermost window of a thread closes the key whatever it was
	 * before: a thread created inside a window inherits it open.
	 */
	if (s->pkey_ad)
		smem_wrpkru(frame.outer ? saved_pkru : saved_pkru | s->pkey_ad);
	innermost_access = frame.outer;
	/* Forked inside the callback: this is the child, nothing here is ours. */
	if (held || inherited(s))
		return ret;
	err = write ? release_write(s) : release_read(s);
	return err ? err : ret;
}

SMEM_EXPORT int smem_secret_read(struct smem_secret *s, smem_read_fn fn, void *arg)
{
	struct access_fn afn = { .read = fn, .arg = arg };

	return secret_access(s, &afn);
}

SMEM_EXPORT int smem_secret_write(struct smem_secret *s, smem_write_fn fn, void *arg)
{
	struct access_fn afn = { .write = fn, .arg = arg };

	return secret_access(s, &afn);
}

struct copy_range {
	size_t offset;
	void *dst;
	size_t len;
};

static int copy_range(const void *buf, size_t len, void *arg)
{
	struct copy_range *r = arg;

	(void)len;
	smem_bytes_copy(r->dst, (const unsigned char *)buf + r->offset, r->len);
	return 0;
}

SMEM_EXPORT ssize_t smem_secret_copy_out(struct smem_secret *s, size_t offset, void *dst,
					 size_t len)
{
	struct copy_range range = { .offset = offset, .dst = dst };
	int err;

	if (!s || !dst || offset > s->size)
		return -EINVAL;
	range.len = len < s->size - offset ? len : s->size - offset;
	err = smem_secret_read(s, copy_range, &range);
	return err < 0 ? err : (ssize_t)range.len;
}

/* ----------------------------------------------------------------- close */

/* The canary sits right before the bytes and fills the slack after them. */
static size_t tail_size(const struct smem_secret *s)
{
	return (size_t)(s->region.base + s->region.size - (s->data + s->size));
}

static void canary_write(const struct smem_secret *s, const unsigned char *canary)
{
	smem_bytes_copy(s->data - CANARY_SIZE, canary, CANARY_SIZE);
	smem_bytes_copy(s->data + s->size, canary, tail_size(s));
}

static bool canary_intact(const struct smem_secret *s, const unsigned char *canary)
{
	return smem_bytes_equal(s->data - CANARY_SIZE, canary, CANARY_SIZE) &&
	       smem_bytes_equal(s->data + s->size, canary, tail_size(s));
}

/* Wipe and give back the bytes; -EFAULT when a canary was overwritten. */
static int wipe_and_free(struct smem_secret *s)
{
	const struct smem_context *ctx;
	uint32_t saved_pkru = 0;
	int err = 0;

	if (s->readonly) {
		/* Sealed: the kernel wipes the pages when the last user is gone. */
		smem_region_destroy(&s->region);
		return 0;
	}
	if (s->pkey_ad)
		saved_pkru = smem_pkru_open(s->pkey_ad, true);
	if (s->chunk) {
		explicit_bzero(s->data, s->size);
		smem_wrpkru(saved_pkru);
		smem_arena_free(s->chunk, s->data);
		return 0;
	}
	if (!s->pkey_ad)
		err = s->region.protect(&s->region, SMEM_PROT_READWRITE);
	if (!err) {
		/* The context exists: this secret was made with it. */
		smem_context_get(&ctx);
		if (!canary_intact(s, ctx->canary))
			err = -EFAULT;
		explicit_bzero(s->region.base, s->region.size);
	}
	if (s->pkey_ad)
		smem_wrpkru(saved_pkru);
	smem_region_destroy(&s->region);
	return err;
}

/* Under BUSY, with nobody inside: wipe, free, tell the closers. */
static void finish_close(struct smem_secret *s)
{
	uint32_t old, new;

	s->close_result = wipe_and_free(s);
	old = atomic_load_explicit(&s->state, memory_order_relaxed);
	do
		new = (old | ST_RELEASED) & ~(ST_BUSY | ST_WAITERS);
	while (!cas_state(s, &old, new));
	if (old & ST_WAITERS)
		wake_all(s);
	if (old & ST_DOOMED)
		free(s);
}

/*
 * Close @s, waiting until @deadline (NULL: for ever).  @last_ref: the
 * caller drops the last reference, and frees the object unless this
 * returns -EINPROGRESS.
 */
static int close_secret(struct smem_secret *s, const struct timespec *deadline, bool last_ref)
{
	uint32_t old;
	int err;

	if (find_access(s)) {
		/*
		 * Inside a callback on @s: waiting would be waiting for
		 * ourselves.  Refuse new accesses now; whoever leaves last,
		 * this thread's outermost access at the latest, finishes.
		 */
		settle(s, 0, 0, ST_CLOSING | (last_ref ? ST_DOOMED : 0));
		return -EINPROGRESS;
	}
	/* Wakes the waiting accessors so that they fail, or finishes at once. */
	settle(s, 0, 0, ST_CLOSING);
	for (;;) {
		old = load_state(s);
		if (old & ST_RELEASED)
			return s->close_result;
		err = wait_for_change(s, old, deadline);
		if (err)
			return err;
	}
}

SMEM_EXPORT int smem_secret_close(struct smem_secret *s)
{
	return smem_secret_close_timeout(s, -1);
}

SMEM_EXPORT int smem_secret_close_timeout(struct smem_secret *s, int timeout_ms)
{
	struct timespec deadline;

	if (!s)
		return -EINVAL;
	if (inherited(s))
		return -ECHILD;
	if (timeout_ms < 0)
		return close_secret(s, NULL, false);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	return close_secret(s, &deadline, false);
}

SMEM_EXPORT bool smem_secret_is_closed(const struct smem_secret *s)
{
	if (!s || inherited(s))
		return true;
	return atomic_load_explicit(&s->state, memory_order_acquire) & ST_CLOSING;
}

SMEM_EXPORT size_t smem_secret_size(const struct smem_secret *s)
{
	return s ? s->size : 0;
}

SMEM_EXPORT struct smem_secret *smem_secret_ref(struct smem_secret *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

SMEM_EXPORT struct smem_secret *smem_secret_unref(struct smem_secret *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	/* Inherited: the pages were the parent's, only the handle is ours. */
	if (inherited(s) || close_secret(s, NULL, true) != -EINPROGRESS)
		free(s);
	return NULL;
}

/* ---------------------------------------------------------------- create */

/* An empty secret of @len bytes, held for writing by the caller. */
static int secret_alloc(const struct smem_context *ctx, size_t len, struct smem_secret **ret)
{
	struct smem_secret *s;
	size_t span;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->state, ST_WRITER);
	atomic_init(&s->refs, 1);
	s->generation = smem_generation();
	s->pkey_ad = smem_pkey_ad_bit(ctx->pkey);
	s->size = len;
	if (ctx->pkey >= 0 && len <= SMEM_ARENA_MAX_SLOT) {
		err = smem_arena_alloc(ctx, ctx->pkey, len, &s->chunk, &s->data);
	} else {
		/* At the end of its pages: an overrun hits the guard page. */
		span = (len + CANARY_SIZE - 1) & ~(size_t)(CANARY_SIZE - 1);
		err = smem_region_create(&s->region,
					 (span + CANARY_SIZE + ctx->page_size - 1) &
					 ~(ctx->page_size - 1),
					 ctx->backend, ctx->pkey);
		if (!err)
			s->data = s->region.base + s->region.size - span;
	}
	if (err) {
		free(s);
		return err;
	}
	*ret = s;
	return 0;
}

/* Fill a new secret from @src, or with random bytes, and let others in. */
static int secret_fill(struct smem_secret *s, const void *src)
{
	const struct smem_context *ctx;
	uint32_t saved_pkru = 0;
	int err = 0, err2;

	if (s->pkey_ad)
		saved_pkru = smem_pkru_open(s->pkey_ad, true);
	if (!s->chunk) {
		smem_context_get(&ctx);
		canary_write(s, ctx->canary);
	}
	if (src)
		smem_bytes_copy(s->data, src, s->size);
	else
		err = smem_fill_random(s->data, s->size);
	if (s->pkey_ad)
		smem_wrpkru(saved_pkru);
	err2 = release_write(s);
	return err ? err : err2;
}

static int secret_new(const void *src, size_t len, unsigned int flags,
		      struct smem_secret **ret)
{
	const struct smem_context *ctx;
	struct smem_secret *s;
	unsigned int required;
	int err;

	if (!ret || !len || len > SMEM_SECRET_MAX_SIZE || (flags & ~VALID_FLAGS))
		return -EINVAL;
	err = smem_context_get(&ctx);
	if (err)
		return err;
	required = flags >> SMEM_REQUIRE_SHIFT | smem_context_required();
	if (required & ~ctx->guarantees)
		return -ENOTSUP;
	err = secret_alloc(ctx, len, &s);
	if (err)
		return err;
	err = secret_fill(s, src);
	if (err) {
		smem_secret_unref(s);
		return err;
	}
	*ret = s;
	return 0;
}

SMEM_EXPORT int smem_secret_new(void *data, size_t len, unsigned int flags,
				struct smem_secret **ret)
{
	int err;

	if (!data)
		return -EINVAL;
	err = secret_new(data, len, flags, ret);
	if (!err && !(flags & SMEM_KEEP_SOURCE))
		explicit_bzero(data, len);
	return err;
}

SMEM_EXPORT int smem_secret_new_random(size_t len, unsigned int flags,
				       struct smem_secret **ret)
{
	if (flags & SMEM_KEEP_SOURCE)
		return -EINVAL;
	return secret_new(NULL, len, flags, ret);
}

struct smem_secret *smem_secret_alloc_imported(void)
{
	return calloc(1, sizeof(struct smem_secret));
}

void smem_secret_set_imported(struct smem_secret *s, const struct smem_region *r,
			      unsigned char *data, size_t len, int pkey)
{
	atomic_init(&s->refs, 1);
	s->generation = smem_generation();
	s->pkey_ad = smem_pkey_ad_bit(pkey);
	s->size = len;
	s->data = data;
	s->readonly = true;
	s->region = *r;
	smem_region_register(&s->region);
}
