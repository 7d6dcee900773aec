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
 *             state next wakes them;
 *   FROZEN    writers get -EPERM (smem_secret_freeze()); FOREVER: and
 *             melting too (imports are born so);
 *   LINGER    no reader is inside, but the pages are still open for
 *             reading, until the closer (linger.c) or the next writer
 *             closes them; the next reader comes in without a system
 *             call.  Set only without keys, only with the secret queued
 *             (under the linger lock), never with readers or a writer.
 *
 * With protection keys the pages stay mapped read-write and the window is
 * this thread's PKRU, opened around the callback.  Without keys the first
 * reader opens the pages (SMEM_PROT_READ) and the last closes them, under
 * BUSY, while readers in between pay nothing; a writer opens them
 * read-write.  With a linger (smem_secret_linger()) the last reader
 * leaves them open and the closer closes them when its time is up.  Whoever leaves a closing secret empty finishes the close, so
 * a close never has to wait for itself (called inside a callback) and a
 * close that timed out still completes.
 *
 * Accesses of the calling thread are records in thread-local storage: a
 * nested access to a secret the thread already holds does not wait for
 * itself; a window opens and closes only its own key's PKRU bits, and the
 * outermost window of a thread closes every key of the library whatever
 * the thread inherited, then erases the stack below it and the registers
 * (smem_scrub()).  A window is ended by its cleanup when a C++ exception
 * or a thread's cancellation unwinds through it, and found dead by the
 * next call (end_stale()) when its callback was left by longjmp().
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define ST_READERS	0x007fffffU
#define ST_LINGER	(1U << 23)
#define ST_WRITER	(1U << 24)
#define ST_BUSY		(1U << 25)
#define ST_CLOSING	(1U << 26)
#define ST_RELEASED	(1U << 27)
#define ST_DOOMED	(1U << 28)
#define ST_WAITERS	(1U << 29)
#define ST_FROZEN	(1U << 30)
#define ST_FOREVER	(1U << 31)


#define VALID_FLAGS	(SMEM_KEEP_SOURCE | SMEM_REQUIRE(SMEM_ALL_GUARANTEES))

struct smem_secret {
	_Atomic uint32_t state;
	_Atomic uint32_t refs;
	unsigned int generation;	/* smem_fork_generation at creation */
	unsigned int epoch;		/* smem_purge_epoch at creation */
	uint32_t key_bits;		/* PKRU bits of the key on the bytes; 0: no key */
	size_t size;
	unsigned char *data;
	unsigned char *end;		/* of the canary after the bytes */
	int close_result;		/* what close returns, once RELEASED */
	bool readonly;			/* imported: sealed, wiped by the kernel */
	struct smem_linger *_Atomic linger;	/* smem_secret_linger(), or NULL */
	struct smem_chunk *chunk;	/* the arena chunk of the slot, or NULL */
	struct smem_region region;	/* the secret's own pages, without chunk */
};

/*
 * The accesses of this thread, outermost first, in thread-local storage
 * rather than on the stack: a callback left by longjmp() leaves its
 * frames behind, and they must still be readable to be ended.
 */
struct access_frame {
	struct smem_secret *secret;
	uintptr_t anchor;		/* the window's frame: the callback runs below it */
	volatile const uint64_t *cookie; /* on the window's stack frame while it lives */
	uint64_t cookie_value;
	uint32_t saved_bits;		/* the key's PKRU bits before the window */
	bool write;			/* this thread holds the secret for writing */
	bool held;			/* nested in an access to the same secret: not counted */
};

struct thread_windows {
	unsigned int depth;
	bool registered;		/* with the thread-exit destructor */
	size_t scrub;			/* bytes of stack to erase when the nest closes */
	uint64_t next_cookie;
	struct access_frame frame[SMEM_MAX_NESTING];
};

/* Too large for the static TLS that dlopen() can count on: general dynamic, cached. */
static __thread struct thread_windows windows_of_thread;
static __thread struct thread_windows *thread_windows_cache
	__attribute__((tls_model("initial-exec")));

static pthread_once_t windows_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t windows_key;
static bool windows_key_ok;

static void end_stale(struct thread_windows *tw, uintptr_t entry);

/* A thread that left a callback by longjmp() and exited: end what it held. */
static void windows_exit(void *arg)
{
	end_stale(arg, UINTPTR_MAX);
}

static void windows_key_create(void)
{
	windows_key_ok = !pthread_key_create(&windows_key, windows_exit);
}

static struct thread_windows *this_thread(void)
{
	struct thread_windows *tw = thread_windows_cache;

	if (__builtin_expect(!tw, 0)) {
		tw = &windows_of_thread;
		thread_windows_cache = tw;
	}
	return tw;
}

static struct access_frame *find_access(struct thread_windows *tw,
					const struct smem_secret *s)
{
	unsigned int i;

	for (i = tw->depth; i--;)
		if (tw->frame[i].secret == s)
			return &tw->frame[i];
	return NULL;
}

static bool inherited(const struct smem_secret *s)
{
	return s->generation != smem_generation();
}

static bool purged(const struct smem_secret *s)
{
	return s->epoch != atomic_load_explicit(&smem_purge_epoch, memory_order_acquire);
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
		/* Still open from the last reader: nothing to do but count in. */
		if (old & ST_LINGER) {
			if (cas_state(s, &old, (old & ~ST_LINGER) + 1))
				return 0;
			continue;
		}
		if (!(old & ST_READERS) && !s->key_bits) {
			/* The first reader opens the pages before it counts as inside. */
			if (!cas_state(s, &old, old | ST_BUSY))
				continue;
			err = smem_region_mprotect(&s->region, SMEM_PROT_READ);
			settle(s, err ? 0 : 1, ST_BUSY, 0);
			return err;
		}
		if (cas_state(s, &old, old + 1))
			return 0;
	}
}

/*
 * The last reader leaves the pages open and hands them to the closer: true,
 * or false when it cannot (a writer or a close came, no closer thread) and
 * the caller closes them.  The state changes under the linger lock, so the
 * closer never sees a lingering secret that is not queued.
 */
static bool start_linger(struct smem_secret *s, struct smem_linger *l, unsigned int linger_us)
{
	uint64_t deadline = smem_linger_now() + (uint64_t)linger_us * 1000U;
	uint32_t old;
	bool lingering = false;

	smem_linger_lock();
	if (!smem_linger_arm_locked(l, deadline)) {
		old = load_state(s);
		while ((old & (ST_READERS | ST_WRITER | ST_CLOSING)) == 1) {
			if (cas_state(s, &old, ((old - 1) & ~ST_WAITERS) | ST_LINGER)) {
				lingering = true;
				break;
			}
		}
	}
	smem_linger_unlock();
	if (lingering && (old & ST_WAITERS))
		wake_all(s);
	return lingering;
}

static int release_read(struct smem_secret *s)
{
	uint32_t old = atomic_load_explicit(&s->state, memory_order_relaxed);
	struct smem_linger *l;
	unsigned int linger_us;
	int err;

	while ((old & ST_READERS) == 1 && !s->key_bits && !(old & ST_CLOSING)) {
		l = atomic_load_explicit(&s->linger, memory_order_acquire);
		linger_us = l ? atomic_load_explicit(&l->usec, memory_order_relaxed) : 0;
		if (linger_us && !(old & ST_WRITER)) {
			if (start_linger(s, l, linger_us))
				return 0;
			old = load_state(s);
			if ((old & ST_READERS) != 1 || (old & ST_CLOSING))
				break;
		}
		/*
		 * The last reader closes the pages; BUSY keeps the next first
		 * reader out until they are closed.
		 */
		if (!cas_state(s, &old, (old - 1) | ST_BUSY))
			continue;
		err = smem_region_mprotect(&s->region, SMEM_PROT_NONE);
		settle(s, 0, ST_BUSY, 0);
		return err;
	}
	settle(s, (uint32_t)-1, 0, 0);
	return 0;
}

/*
 * A writer (or a freeze) has the secret to itself while its pages linger:
 * close them now.  The closer cannot take them meanwhile: it leaves a
 * secret with a writer alone.
 */
static int end_linger(struct smem_secret *s, uint32_t old)
{
	int err;

	while (!cas_state(s, &old, old & ~ST_LINGER))
		;
	err = smem_region_mprotect(&s->region, SMEM_PROT_NONE);
	if (err)
		settle(s, 0, ST_WRITER, 0);
	return err;
}

/*
 * Claim the secret for this thread alone: wait for the readers and the
 * writer inside to leave.  Unless @frozen_too, a frozen secret is -EPERM.
 */
static int claim_exclusive(struct smem_secret *s, bool frozen_too)
{
	uint32_t old = atomic_load_explicit(&s->state, memory_order_relaxed);
	bool claimed = false;

	for (;;) {
		if (old & ST_CLOSING || (!frozen_too && old & ST_FROZEN)) {
			if (claimed)
				settle(s, 0, ST_WRITER, 0);
			return old & ST_CLOSING ? -EBADF : -EPERM;
		}
		if (!claimed && !(old & ST_WRITER)) {
			if (!cas_state(s, &old, old | ST_WRITER))
				continue;
			claimed = true;
			old |= ST_WRITER;
		}
		if (claimed && !(old & (ST_READERS | ST_BUSY)))
			return old & ST_LINGER ? end_linger(s, old) : 0;
		wait_for_change(s, old, NULL);
		old = load_state(s);
	}
}

static int acquire_write(struct smem_secret *s)
{
	int err;

	err = claim_exclusive(s, false);
	if (err || s->key_bits)
		return err;
	err = smem_region_mprotect(&s->region, SMEM_PROT_READWRITE);
	if (err)
		settle(s, 0, ST_WRITER, 0);
	return err;
}

static int release_write(struct smem_secret *s)
{
	int err = 0;

	/* A closing secret is wiped next: no need to close the pages. */
	if (!s->key_bits && !(load_state(s) & ST_CLOSING))
		err = smem_region_mprotect(&s->region, SMEM_PROT_NONE);
	settle(s, 0, ST_WRITER, 0);
	return err;
}

/* ----------------------------------------------------------- the closer */

bool smem_secret_linger_pending(struct smem_linger *l)
{
	return load_state(l->secret) & ST_LINGER;
}

/*
 * Under the linger lock.  BUSY keeps readers out, and the close from
 * finishing (so from freeing the pages and the object) until the closer
 * has closed them.
 */
bool smem_secret_linger_take(struct smem_linger *l)
{
	struct smem_secret *s = l->secret;
	uint32_t old = load_state(s);

	while ((old & (ST_LINGER | ST_READERS | ST_WRITER | ST_BUSY | ST_CLOSING)) == ST_LINGER)
		if (cas_state(s, &old, (old & ~ST_LINGER) | ST_BUSY))
			return true;
	return false;
}

/*
 * Closing pages that are open for reading changes no mapping's bounds
 * (the guard pages beside them are mappings of their own), so it does not
 * fail for want of memory; if it ever did, the pages would stay readable
 * until the next window closes them, as a failed window close leaves them.
 */
void smem_secret_linger_close(struct smem_linger *l)
{
	struct smem_secret *s = l->secret;

	smem_region_mprotect(&s->region, SMEM_PROT_NONE);
	settle(s, 0, ST_BUSY, 0);
}

/* ---------------------------------------------------------------- canary */

/* Every secret exists because the context does. */
static const unsigned char *context_canary(void)
{
	const struct smem_context *ctx;

	smem_context_get(&ctx);
	return ctx->canary;
}

/* The canary sits right before the bytes and fills the slack after them. */
static size_t tail_size(const struct smem_secret *s)
{
	return (size_t)(s->end - (s->data + s->size));
}

static void canary_write(const struct smem_secret *s, const unsigned char *canary)
{
	smem_bytes_copy(s->data - SMEM_CANARY_SIZE, canary, SMEM_CANARY_SIZE);
	smem_bytes_copy(s->data + s->size, canary, tail_size(s));
}

/* The whole canary: at close and in smem_secret_check(). */
static bool canary_intact(const struct smem_secret *s, const unsigned char *canary)
{
	return smem_bytes_equal(s->data - SMEM_CANARY_SIZE, canary, SMEM_CANARY_SIZE) &&
	       smem_bytes_equal(s->data + s->size, canary, tail_size(s));
}

static bool canary_word_ok(const unsigned char *p, const unsigned char *canary)
{
	uint64_t a[2], b[2];

	memcpy(a, p, sizeof(a));
	memcpy(b, canary, sizeof(b));
	return !((a[0] ^ b[0]) | (a[1] ^ b[1]));
}

/*
 * At every window, inside it: the canary right before the bytes and the
 * first 16 bytes after them (an overrun starts there).  The canary is no
 * secret of the caller's: ordinary loads are fine.
 */
static bool canary_edges_ok(const struct smem_secret *s)
{
	const unsigned char *canary = context_canary();

	if (s->readonly)
		return true;
	return canary_word_ok(s->data - SMEM_CANARY_SIZE, canary) &&
	       (tail_size(s) < SMEM_CANARY_SIZE || canary_word_ok(s->data + s->size, canary));
}

/* ---------------------------------------------------------------- access */

struct access_fn {
	smem_read_fn read;	/* one of the two */
	smem_write_fn write;
	void *arg;
	unsigned int flags;	/* SMEM_WINDOW_* */
};

#define WINDOW_VALID_FLAGS	(SMEM_WINDOW_NO_SCRUB | SMEM_WINDOW_SCRUB_KIB(0xff))

static size_t scrub_bytes(unsigned int flags)
{
	unsigned int kib = (flags >> 8) & 0xff;

	if (flags & SMEM_WINDOW_NO_SCRUB)
		return 0;
	return kib ? (size_t)kib * 1024 : SMEM_SCRUB_DEFAULT;
}

static uint32_t key_ad_bits(uint32_t bits)
{
	return bits & 0x55555555U;
}

/*
 * Open the secret's key in this thread's PKRU; only its two bits change.
 * A read keeps a write access the thread already has on the key (a copy
 * into the buffer of an outer write window must still work).
 */
static uint32_t key_open(uint32_t key_bits, bool write)
{
	uint32_t pkru = smem_rdpkru(), saved = pkru & key_bits;
	uint32_t wd = key_bits & ~key_ad_bits(key_bits);

	smem_wrpkru((pkru & ~key_bits) | (write || !saved ? 0 : wd));
	return saved;
}

/*
 * Close it again: an inner window puts back the key's two bits as they
 * were; the outermost window of the thread closes every key of the
 * library, whatever the thread inherited (a thread created inside a
 * window starts with the key open).  The application's own keys keep
 * what its callback did with them.
 */
static void key_close(uint32_t key_bits, uint32_t saved, bool outermost)
{
	uint32_t pkru = smem_rdpkru();

	if (outermost) {
		uint32_t lib = smem_pkey_lib_bits() | key_bits;

		smem_wrpkru((pkru & ~lib) | key_ad_bits(lib));
	} else {
		smem_wrpkru((pkru & ~key_bits) | saved);
	}
}

/*
 * End the innermost access of @tw: close the key, count it out.  The
 * secret may be gone on return.
 */
static int end_access(struct thread_windows *tw)
{
	struct access_frame *f = &tw->frame[tw->depth - 1];
	struct smem_secret *s = f->secret;
	bool outermost = tw->depth == 1;

	if (s->key_bits)
		key_close(s->key_bits, f->saved_bits, outermost);
	tw->depth--;
	/* Forked inside the callback: this is the child, nothing here is ours. */
	if (f->held || inherited(s))
		return 0;
	return f->write ? release_write(s) : release_read(s);
}

/*
 * Accesses whose window is gone without having ended: the callback was
 * left by longjmp().  A window lives in a frame of a public call that
 * encloses every later call this thread makes until the window ends, so
 * a window whose frame lies below @entry (the frame of the public call
 * being made) is dead; so is one whose cookie on its frame was
 * overwritten.  One that survives both checks is ended later: by a call
 * made from higher up the stack, or when the thread exits.
 */
static void end_stale(struct thread_windows *tw, uintptr_t entry)
{
	size_t scrub = tw->scrub;

	if (!tw->depth)
		return;
	while (tw->depth) {
		struct access_frame *f = &tw->frame[tw->depth - 1];

		if (f->anchor > entry && *f->cookie == f->cookie_value)
			return;
		end_access(tw);
	}
	/*
	 * The dead callback's frames were below the window's, and a call
	 * that finds it dead is made from at most as deep: they are below
	 * this one too, and within reach of the erase (at thread exit too).
	 */
	tw->scrub = 0;
	if (scrub)
		smem_scrub(scrub);
}

/* The unwinding of a C++ exception or of a cancelled thread through a window. */
struct window_guard {
	struct thread_windows *tw;
	unsigned int depth;		/* ours; 0 once ended the ordinary way */
};

static void window_unwound(struct window_guard *g)
{
	if (!g->depth)
		return;
	while (g->tw->depth >= g->depth)
		end_access(g->tw);
	if (!g->tw->depth) {
		size_t scrub = g->tw->scrub;

		g->tw->scrub = 0;
		if (scrub)
			smem_scrub(scrub);
	}
}

static int __attribute__((noinline))
secret_access(struct smem_secret *s, const struct access_fn *fn, uintptr_t entry)
{
	struct thread_windows *tw = this_thread();
	volatile uint64_t cookie;
	struct window_guard guard __attribute__((cleanup(window_unwound))) = { .tw = tw };
	bool write = fn->write;
	struct access_frame *f, *held;
	size_t scrub;
	int ret, err;

	if (!s || !(fn->read || fn->write) || (fn->flags & ~WINDOW_VALID_FLAGS))
		return -EINVAL;
	if (inherited(s))
		return -ECHILD;
	end_stale(tw, entry);
	if (purged(s))
		return -EBADF;
	if (tw->depth == SMEM_MAX_NESTING)
		return -ELOOP;
	held = find_access(tw, s);
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
	/* The key exists: the secret was made after windows_key_once ran. */
	if (!tw->registered) {
		tw->registered = windows_key_ok && !pthread_setspecific(windows_key, tw);
		smem_scrub_prepare();
	}

	f = &tw->frame[tw->depth];
	f->secret = s;
	f->anchor = (uintptr_t)__builtin_frame_address(0);
	cookie = ++tw->next_cookie ^ (uintptr_t)&cookie;
	f->cookie = &cookie;
	f->cookie_value = cookie;
	f->held = held;
	f->write = held ? held->write : write;
	f->saved_bits = s->key_bits ? key_open(s->key_bits, write) : 0;
	scrub = scrub_bytes(fn->flags);
	if (scrub > tw->scrub)
		tw->scrub = scrub;
	guard.depth = ++tw->depth;

	if (!canary_edges_ok(s)) {
		ret = -EFAULT;
	} else {
		ret = write ? fn->write(s->data, s->size, fn->arg) :
			      fn->read(s->data, s->size, fn->arg);
		/* Negative results are the library's: the callback's own are positive. */
		if (ret < 0)
			ret = -ECANCELED;
	}

	guard.depth = 0;
	err = end_access(tw);
	if (!tw->depth && tw->scrub) {
		scrub = tw->scrub;
		tw->scrub = 0;
		smem_scrub(scrub);
	}
	return err ? err : ret;
}

SMEM_EXPORT int smem_secret_read_flags(struct smem_secret *s, smem_read_fn fn, void *arg,
				       unsigned int flags)
{
	SMEM_KEEP_ERRNO;
	struct access_fn afn = { .read = fn, .arg = arg, .flags = flags };

	return secret_access(s, &afn, (uintptr_t)__builtin_frame_address(0));
}

SMEM_EXPORT int smem_secret_write_flags(struct smem_secret *s, smem_write_fn fn, void *arg,
					unsigned int flags)
{
	SMEM_KEEP_ERRNO;
	struct access_fn afn = { .write = fn, .arg = arg, .flags = flags };

	return secret_access(s, &afn, (uintptr_t)__builtin_frame_address(0));
}

SMEM_EXPORT int smem_secret_read(struct smem_secret *s, smem_read_fn fn, void *arg)
{
	SMEM_KEEP_ERRNO;
	struct access_fn afn = { .read = fn, .arg = arg };

	return secret_access(s, &afn, (uintptr_t)__builtin_frame_address(0));
}

SMEM_EXPORT int smem_secret_write(struct smem_secret *s, smem_write_fn fn, void *arg)
{
	SMEM_KEEP_ERRNO;
	struct access_fn afn = { .write = fn, .arg = arg };

	return secret_access(s, &afn, (uintptr_t)__builtin_frame_address(0));
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
	/* The library's copy leaves nothing behind: no stack to erase. */
	err = smem_secret_read_flags(s, copy_range, &range, SMEM_WINDOW_NO_SCRUB);
	return err < 0 ? err : (ssize_t)range.len;
}

/* ----------------------------------------------------------------- close */

/*
 * Wipe and give back the bytes, canaries included: -EFAULT when a canary
 * was overwritten, -EBADF when smem_purge() wiped them first.
 */
static int wipe_and_free(struct smem_secret *s)
{
	uint32_t saved_pkru = 0;
	int err = 0;

	if (s->readonly) {
		/* Sealed: the kernel wipes the pages when the last user is gone. */
		smem_region_destroy(&s->region);
		return 0;
	}
	if (s->key_bits)
		saved_pkru = smem_pkru_open(key_ad_bits(s->key_bits), true);
	else if (!s->chunk)
		err = smem_region_mprotect(&s->region, SMEM_PROT_READWRITE);
	if (!err) {
		if (purged(s))
			err = -EBADF;
		else if (!canary_intact(s, context_canary()))
			err = -EFAULT;
		explicit_bzero(s->data - SMEM_CANARY_SIZE,
			       (size_t)(s->end - (s->data - SMEM_CANARY_SIZE)));
	}
	if (s->key_bits)
		smem_wrpkru(saved_pkru);
	if (s->chunk)
		smem_arena_free(s->chunk, s->data - SMEM_CANARY_SIZE);
	else
		smem_region_destroy(&s->region);
	return err;
}

/* The object and its linger, once nothing refers to them. */
static void secret_free(struct smem_secret *s)
{
	free(atomic_load_explicit(&s->linger, memory_order_relaxed));
	free(s);
}

/* Under BUSY, with nobody inside: wipe, free, tell the closers. */
static void finish_close(struct smem_secret *s)
{
	struct smem_linger *l = atomic_load_explicit(&s->linger, memory_order_acquire);
	uint32_t old, new;

	if (l)
		smem_linger_disarm(l);
	s->close_result = wipe_and_free(s);
	old = atomic_load_explicit(&s->state, memory_order_relaxed);
	do
		new = (old | ST_RELEASED) & ~(ST_BUSY | ST_WAITERS);
	while (!cas_state(s, &old, new));
	if (old & ST_WAITERS)
		wake_all(s);
	if (old & ST_DOOMED)
		secret_free(s);
}

/*
 * Close @s, waiting until @deadline (NULL: for ever).  @last_ref: the
 * caller drops the last reference, and frees the object unless this
 * returns -EINPROGRESS.  @entry: the frame of the public call.
 */
static int close_secret(struct smem_secret *s, const struct timespec *deadline, bool last_ref,
			uintptr_t entry)
{
	struct thread_windows *tw = this_thread();
	uint32_t old;
	int err;

	end_stale(tw, entry);
	if (find_access(tw, s)) {
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
		/*
		 * The deadline is for accesses, which run callbacks.  BUSY
		 * alone is a protection change that runs none: a reader's
		 * first open or last close, the closer's (linger.c), or the
		 * close being finished by another thread.  Wait it out.
		 */
		err = wait_for_change(s, old, old & (ST_READERS | ST_WRITER) ? deadline : NULL);
		if (err)
			return err;
	}
}

static int close_timeout(struct smem_secret *s, int timeout_ms, uintptr_t entry)
{
	struct timespec deadline;

	if (!s)
		return -EINVAL;
	if (inherited(s))
		return -ECHILD;
	if (timeout_ms < 0)
		return close_secret(s, NULL, false, entry);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	return close_secret(s, &deadline, false, entry);
}

SMEM_EXPORT int smem_secret_close(struct smem_secret *s)
{
	SMEM_KEEP_ERRNO;

	return close_timeout(s, -1, (uintptr_t)__builtin_frame_address(0));
}

SMEM_EXPORT int smem_secret_close_timeout(struct smem_secret *s, int timeout_ms)
{
	SMEM_KEEP_ERRNO;

	return close_timeout(s, timeout_ms, (uintptr_t)__builtin_frame_address(0));
}

SMEM_EXPORT int smem_secret_linger(struct smem_secret *s, unsigned int usec)
{
	SMEM_KEEP_ERRNO;
	struct smem_linger *l, *none = NULL;

	if (!s || usec > SMEM_LINGER_MAX_US)
		return -EINVAL;
	if (inherited(s))
		return -ECHILD;
	if (purged(s) || load_state(s) & ST_CLOSING)
		return -EBADF;
	l = atomic_load_explicit(&s->linger, memory_order_acquire);
	if (!l) {
		/* Nothing to turn off; with keys, nothing a linger would change. */
		if (!usec || s->key_bits)
			return 0;
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		l->secret = s;
		/* Another thread's may have come first: it is the one. */
		if (!atomic_compare_exchange_strong_explicit(&s->linger, &none, l,
							     memory_order_acq_rel,
							     memory_order_acquire)) {
			free(l);
			l = none;
		}
	}
	atomic_store_explicit(&l->usec, usec, memory_order_relaxed);
	return 0;
}

SMEM_EXPORT bool smem_secret_is_closed(const struct smem_secret *s)
{
	if (!s || inherited(s) || purged(s))
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
	SMEM_KEEP_ERRNO;

	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	/* Inherited: the pages were the parent's, only the handle is ours. */
	if (inherited(s) ||
	    close_secret(s, NULL, true, (uintptr_t)__builtin_frame_address(0)) != -EINPROGRESS)
		secret_free(s);
	return NULL;
}

/* ---------------------------------------------------------- freeze, check */

/*
 * Set or clear ST_FROZEN with the secret to ourselves, like a writer, so
 * that no write window is open when it changes.
 */
static int set_frozen(struct smem_secret *s, bool frozen, bool forever, uintptr_t entry)
{
	struct thread_windows *tw = this_thread();
	uint32_t state;
	int err;

	if (!s)
		return -EINVAL;
	if (inherited(s))
		return -ECHILD;
	if (purged(s))
		return -EBADF;
	end_stale(tw, entry);
	/* Our own window on it would never let us have it to ourselves. */
	if (find_access(tw, s))
		return -EDEADLK;
	err = claim_exclusive(s, true);
	if (err)
		return err;
	state = load_state(s);
	if (!frozen && state & ST_FOREVER) {
		settle(s, 0, ST_WRITER, 0);
		return -EPERM;
	}
	if (frozen)
		settle(s, 0, ST_WRITER, ST_FROZEN | (forever ? ST_FOREVER : 0));
	else
		settle(s, 0, ST_WRITER | ST_FROZEN, 0);
	return 0;
}

SMEM_EXPORT int smem_secret_freeze(struct smem_secret *s, unsigned int flags)
{
	SMEM_KEEP_ERRNO;

	if (flags & ~SMEM_FREEZE_FOREVER)
		return -EINVAL;
	return set_frozen(s, true, flags & SMEM_FREEZE_FOREVER,
			  (uintptr_t)__builtin_frame_address(0));
}

SMEM_EXPORT int smem_secret_melt(struct smem_secret *s)
{
	SMEM_KEEP_ERRNO;

	return set_frozen(s, false, false, (uintptr_t)__builtin_frame_address(0));
}

static int check_canary(const void *buf, size_t len, void *arg)
{
	const struct smem_secret *s = arg;

	(void)buf;
	(void)len;
	return s->readonly || canary_intact(s, context_canary()) ? 0 : 1;
}

SMEM_EXPORT int smem_secret_check(struct smem_secret *s)
{
	SMEM_KEEP_ERRNO;
	int err;

	err = smem_secret_read_flags(s, check_canary, s, SMEM_WINDOW_NO_SCRUB);
	return err > 0 ? -EFAULT : err;
}

/* ---------------------------------------------------------------- create */

/* An empty secret of @len bytes, held for writing by the caller. */
static int secret_alloc(const struct smem_context *ctx, size_t len, struct smem_secret **ret)
{
	size_t span = len + 2 * SMEM_CANARY_SIZE;
	struct smem_secret *s;
	unsigned char *slot;
	int pkey = -1, err;

	/*
	 * Here, not at a thread's first window, which should not need a
	 * system call for it (its first erase does, once, for the stack's
	 * bounds).
	 */
	pthread_once(&windows_key_once, windows_key_create);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->state, ST_WRITER);
	atomic_init(&s->refs, 1);
	s->generation = smem_generation();
	s->epoch = atomic_load_explicit(&smem_purge_epoch, memory_order_relaxed);
	s->size = len;
	if (ctx->pkey >= 0) {
		pkey = smem_pkey_pick();
		s->key_bits = 3U << (2 * pkey);
	}
	if (pkey >= 0 && span <= SMEM_ARENA_MAX_SLOT) {
		/* Canary, bytes, canary: the slot's neighbours are other secrets. */
		err = smem_arena_alloc(ctx, pkey, span, &s->chunk, &slot);
		if (!err) {
			s->data = slot + SMEM_CANARY_SIZE;
			s->end = slot + span;
		}
	} else {
		/* At the end of its pages: an overrun hits the guard page. */
		span = (len + SMEM_CANARY_SIZE - 1) & ~(size_t)(SMEM_CANARY_SIZE - 1);
		err = smem_region_create(&s->region,
					 (span + SMEM_CANARY_SIZE + ctx->page_size - 1) &
					 ~(ctx->page_size - 1),
					 ctx->backend, pkey, false);
		if (!err) {
			s->end = s->region.base + s->region.size;
			s->data = s->end - span;
		}
	}
	if (err) {
		free(s);
		return err;
	}
	*ret = s;
	return 0;
}

/* How a new secret gets its bytes. */
enum secret_fill {
	FILL_COPY,		/* from the caller's buffer */
	FILL_RANDOM,		/* getrandom(2) */
	FILL_ZERO,		/* as the pages come: zero */
};

/* Fill a new secret from @src, randomly or not at all, and let others in. */
static int secret_fill(struct smem_secret *s, enum secret_fill fill, const void *src)
{
	uint32_t saved_pkru = 0;
	int err = 0, err2;

	if (s->key_bits)
		saved_pkru = smem_pkru_open(key_ad_bits(s->key_bits), true);
	canary_write(s, context_canary());
	if (fill == FILL_COPY)
		smem_bytes_copy(s->data, src, s->size);
	else if (fill == FILL_RANDOM)
		err = smem_fill_random(s->data, s->size);
	if (s->key_bits)
		smem_wrpkru(saved_pkru);
	err2 = release_write(s);
	return err ? err : err2;
}

static int secret_new(enum secret_fill fill, const void *src, size_t len, unsigned int flags,
		      struct smem_secret **ret)
{
	const struct smem_context *ctx;
	struct smem_secret *s = NULL;
	unsigned int required;
	int err;

	/* Zeroed secrets are the library's: an enclave's scratch may be a page more. */
	if (!ret || !len || len > SMEM_SECRET_MAX_SIZE + (fill == FILL_ZERO ? 4096 : 0) ||
	    (flags & ~VALID_FLAGS))
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
	err = secret_fill(s, fill, src);
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
	SMEM_KEEP_ERRNO;
	int err;

	if (!data)
		return -EINVAL;
	err = secret_new(FILL_COPY, data, len, flags, ret);
	if (!err && !(flags & SMEM_KEEP_SOURCE))
		explicit_bzero(data, len);
	return err;
}

SMEM_EXPORT int smem_secret_new_random(size_t len, unsigned int flags,
				       struct smem_secret **ret)
{
	SMEM_KEEP_ERRNO;

	if (flags & SMEM_KEEP_SOURCE)
		return -EINVAL;
	return secret_new(FILL_RANDOM, NULL, len, flags, ret);
}

int smem_secret_new_zeroed(size_t len, unsigned int flags, struct smem_secret **ret)
{
	if (flags & SMEM_KEEP_SOURCE)
		return -EINVAL;
	return secret_new(FILL_ZERO, NULL, len, flags, ret);
}

bool smem_secret_held(const struct smem_secret *s)
{
	return find_access(this_thread(), s);
}

bool smem_thread_in_window(uintptr_t entry)
{
	struct thread_windows *tw = this_thread();

	end_stale(tw, entry);
	return tw->depth;
}

struct smem_secret *smem_secret_alloc_imported(void)
{
	return calloc(1, sizeof(struct smem_secret));
}

void smem_secret_set_imported(struct smem_secret *s, const struct smem_region *r,
			      unsigned char *data, size_t len, int pkey)
{
	pthread_once(&windows_key_once, windows_key_create);
	/* Read-only for good: no write window ever opens on it. */
	atomic_init(&s->state, ST_FROZEN | ST_FOREVER);
	atomic_init(&s->refs, 1);
	s->generation = smem_generation();
	s->epoch = atomic_load_explicit(&smem_purge_epoch, memory_order_relaxed);
	s->key_bits = pkey >= 0 ? 3U << (2 * pkey) : 0;
	s->size = len;
	s->data = data;
	s->end = data + len;
	s->readonly = true;
	s->region = *r;
	smem_region_register(&s->region);
}
