/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libsmem internals: shared by the files of the library, never installed.
 *
 * Layers, bottom up:
 *   region.c         guarded page ranges from a backend, and the registry
 *                    that lets a forked child drop what it inherited
 *   backend_*.c      where the pages come from and how their protection
 *                    changes (/dev/smem ioctls, or mprotect)
 *   pkey.c           protection keys: the per-thread access windows
 *   arena.c          slots for small secrets, only where keys isolate them
 *   context.c        the process-wide choice of backend, made once
 *   secret.c         the secret object: references, access, close
 *   share.c          export and import of sealed read-only copies
 *   bytes.c          copies of secret bytes that leave none in registers
 *   memlock.c        RLIMIT_MEMLOCK errors in the library's terms
 */
#ifndef SMEM_INTERNAL_H
#define SMEM_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/smem.h>

#include "smem.h"

#define SMEM_EXPORT __attribute__((visibility("default")))

/*
 * First in every public call that makes system calls: errno is as the
 * caller left it when the call returns, success or not.
 */
static inline void smem_restore_errno(const int *saved)
{
	errno = *saved;
}

/* "unused": clang counts a variable read only by its cleanup as unused. */
#define SMEM_KEEP_ERRNO \
	int smem_saved_errno __attribute__((cleanup(smem_restore_errno), unused)) = errno

/* Canary before and after the bytes of every secret; also their alignment. */
#define SMEM_CANARY_SIZE	16

#define SMEM_ALL_GUARANTEES \
	(SMEM_G_LOCKED | SMEM_G_NO_DUMP | SMEM_G_NO_FORK | SMEM_G_NO_DIRECT_MAP | \
	 SMEM_G_NO_GUP | SMEM_G_THREAD_WINDOW | SMEM_G_SHAREABLE)
/* What every backend gives. */
#define SMEM_BASE_GUARANTEES	(SMEM_G_LOCKED | SMEM_G_NO_DUMP | SMEM_G_NO_FORK)

/* --------------------------------------------------------------- bytes */

/*
 * Every copy of secret bytes (and of the canary) the library makes: no
 * piece of them is left in a register, vector registers included
 * (bytes.c says why).  Never memcpy() or memcmp() for those.
 */
void smem_bytes_copy(void *dst, const void *src, size_t len);
/* The same, for ranges that may overlap (memmove()). */
void smem_bytes_move(void *dst, const void *src, size_t len);
/* Not constant-time: for canaries and headers. */
bool smem_bytes_equal(const void *a, const void *b, size_t len);
/* Constant time, no early exit; for secret bytes. */
bool smem_bytes_ct_equal(const void *a, const void *b, size_t len);
/*
 * Erase @depth bytes (a multiple of 64) of the stack below the caller's
 * frame, within the thread's stack, then the vector and scratch registers.
 */
void smem_scrub(size_t depth);
/* Learn this thread's stack for smem_scrub(): before its first callback. */
void smem_scrub_prepare(void);

/* ------------------------------------------------------------- regions */

struct smem_region;

/*
 * Pages of one secret or one arena chunk, with a PROT_NONE guard page on
 * each side so that a linear overrun faults instead of reaching a
 * neighbour.
 */
struct smem_region {
	struct smem_region *prev, *next;	/* in the registry */
	unsigned char *base;			/* first usable byte */
	size_t size;				/* usable bytes, whole pages */
	int fd;					/* -1 unless kept to be exported */
};

struct smem_backend_desc;

/*
 * No fork() while held (shared; the fork handler takes it exclusive): from
 * before a region is reserved until it is registered, and from its
 * unregistering until it is unmapped and its descriptor closed, so that a
 * child never inherits a mapping or a descriptor its fork handler does
 * not know about.  Never taken twice by a thread, never held while
 * allocating memory or waiting for a secret.  Cancellation is off while
 * it is held; smem_fork_block() returns what to give smem_fork_unblock().
 */
int smem_fork_block(void);
void smem_fork_unblock(int block);

/* Reserve @size bytes between two guard pages: r->base, r->size. */
int smem_region_reserve(struct smem_region *r, size_t size);
/*
 * Enter a mapped import in the registry, so that a forked child drops it
 * (smem_purge() leaves imports alone: they are sealed read-only); under
 * the smem_fork_block() taken before it was reserved.
 */
void smem_region_register(struct smem_region *r);
/*
 * Call @fn on every registered region the library writes (imports are
 * left out), without taking a lock: async-signal-safe.  A region being
 * dropped meanwhile is either not visited or not unmapped before the walk
 * ends.  Returns how many calls said true.
 */
int smem_region_purge_walk(bool (*fn)(struct smem_region *r, void *arg), void *arg);
/*
 * Reserve, map from @backend and, when @pkey >= 0, tag with that key (the
 * pages then stay mapped read-write and only PKRU guards them), register;
 * takes smem_fork_block() for all of it.  The backend's descriptor is
 * closed once the pages are mapped, unless @keep_fd: then r->fd is the
 * caller's (an export seals it).
 */
int smem_region_create(struct smem_region *r, size_t size,
		       const struct smem_backend_desc *backend, int pkey, bool keep_fd);
/* Tag with @pkey, keeping the access @prot (PROT_*). */
int smem_region_tag(struct smem_region *r, int pkey, int prot);
/*
 * Unregister, unmap, close, under smem_fork_block().  Wiping is the
 * caller's business.
 */
void smem_region_destroy(struct smem_region *r);
/* The same, but the descriptor is handed to the caller instead: it, or -1. */
int smem_region_release(struct smem_region *r);
/* Unmap and close a region that was never registered. */
void smem_region_unmap(struct smem_region *r);
/*
 * Change the protection: SMEM_PROT_NONE, _READ or _READWRITE.  Every
 * backend's pages, and imports, have one mapping, this process's: its
 * page tables are the protection (on kmod the module refuses only what a
 * seal forbids).
 */
int smem_region_mprotect(struct smem_region *r, unsigned int prot);

/* ------------------------------------------------------------ backends */

struct smem_backend_desc {
	enum smem_backend id;
	const char *name;
	/* 0 and the guarantees when the backend is usable here, or -errno */
	int (*probe)(unsigned int *guarantees);
	/*
	 * Put r->size bytes of the backend's pages, readable and writable,
	 * over the reservation at r->base; may leave their descriptor in
	 * r->fd.  Their protection then changes with smem_region_mprotect().
	 */
	int (*map)(struct smem_region *r);
};

/*
 * An errno of mlock(2) or of faulting secret pages in, as -errno (-EAGAIN
 * for the limit); @capability_exempts: CAP_IPC_LOCK lifts the limit there.
 */
int smem_memlock_error(int err, bool capability_exempts);

extern const struct smem_backend_desc smem_backend_kmod;
extern const struct smem_backend_desc smem_backend_memfd_secret;
extern const struct smem_backend_desc smem_backend_mlock;

/* Open /dev/smem and give the new object @size bytes (kmod backend). */
int smem_kmod_object_new(size_t size);

/* -------------------------------------------------------------- context */

struct smem_context {
	const struct smem_backend_desc *backend;
	unsigned int guarantees;
	int pkey;			/* -1: no protection keys */
	size_t page_size;
	unsigned char canary[16];	/* around each secret in its own pages */
};

/* The process-wide context, set up at first use; -errno when unusable. */
int smem_context_get(const struct smem_context **ret);
/* Guarantees asked for with smem_require(), for every secret */
unsigned int smem_context_required(void);
/* Fill @buf from getrandom(2). */
int smem_fill_random(void *buf, size_t len);

/*
 * Bumped in every forked child (pthread_atfork), so that a secret made
 * before the fork sees that it is not in its process any more without a
 * system call.
 */
extern _Atomic unsigned int smem_fork_generation;

static inline unsigned int smem_generation(void)
{
	return atomic_load_explicit(&smem_fork_generation, memory_order_relaxed);
}

/* ---------------------------------------------------------------- pkeys */

/* Keys the library takes at most, one per secret while they last. */
#define SMEM_PKEYS_MAX	15

/*
 * Allocate the first key of the library and check that the pages of
 * @backend can be tagged with it: the key, -ENOTSUP when there are no
 * keys here, or another -errno when the check failed (and may work later).
 */
int smem_pkey_setup(const struct smem_backend_desc *backend);
/* The key for a new secret (the context has keys). */
int smem_pkey_pick(void);
/* The PKRU bits (access- and write-disable) of every key the library holds. */
uint32_t smem_pkey_lib_bits(void);
/* In a forked child (pthread_atfork). */
void smem_pkey_fork_child(void);

/* PKRU bits of a key: access-disable; write-disable is the next bit. */
static inline uint32_t smem_pkey_ad_bit(int pkey)
{
	return pkey >= 0 ? 1U << (2 * pkey) : 0;
}

#if defined(__x86_64__)
static inline uint32_t smem_rdpkru(void)
{
	uint32_t eax, edx;

	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static inline void smem_wrpkru(uint32_t pkru)
{
	/* "memory": no access to secret bytes may move across the switch */
	__asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(pkru), "c"(0), "d"(0) : "memory");
}
#else
/* Never called: smem_pkey_alloc() fails on other architectures. */
static inline uint32_t smem_rdpkru(void)
{
	return 0;
}

static inline void smem_wrpkru(uint32_t pkru)
{
	(void)pkru;
}
#endif

/*
 * Open the key whose access-disable bit is @ad for this thread, read-only
 * or read-write; returns the PKRU to restore.
 */
static inline uint32_t smem_pkru_open(uint32_t ad, bool write)
{
	uint32_t saved = smem_rdpkru();

	smem_wrpkru((saved & ~(ad | ad << 1)) | (write ? 0 : ad << 1));
	return saved;
}

/* ---------------------------------------------------------------- arena */

/* Largest secret that gets a slot rather than pages of its own. */
#define SMEM_ARENA_MAX_SLOT	2048

struct smem_chunk;

/* A zeroed slot of at least @len bytes, in pages tagged with @pkey. */
int smem_arena_alloc(const struct smem_context *ctx, int pkey, size_t len,
		     struct smem_chunk **chunk, unsigned char **slot);
/* Give back a slot the caller has wiped. */
void smem_arena_free(struct smem_chunk *chunk, unsigned char *slot);

/* ----------------------------------------------------------------- fork */

/*
 * pthread_atfork handlers, in lock order: the arena's locks are taken
 * before the fork block (an arena allocation creates regions).
 */
void smem_arena_fork_prepare(void);
void smem_arena_fork_parent(void);
void smem_arena_fork_child(void);
void smem_region_fork_prepare(void);
void smem_region_fork_parent(void);
void smem_region_fork_child(void);

/* ---------------------------------------------------------------- purge */

/* Bumped by smem_purge(): a secret made before is closed. */
extern _Atomic unsigned int smem_purge_epoch;

/* ------------------------------------------------------------- secrets */

/*
 * Imports: the object, allocated before smem_fork_block(); then, under it,
 * a read-only secret of @len bytes at @data in the mapped but not yet
 * registered region @r, which the secret takes over and registers; @pkey
 * (or -1) is the key @r is tagged with.  An object never set up is given
 * back with free().
 */
struct smem_secret *smem_secret_alloc_imported(void);
void smem_secret_set_imported(struct smem_secret *s, const struct smem_region *r,
			      unsigned char *data, size_t len, int pkey);

/* A secret of @len zero bytes; @flags: SMEM_REQUIRE() only. */
int smem_secret_new_zeroed(size_t len, unsigned int flags, struct smem_secret **ret);
/*
 * Whether this thread is inside a window on @s (a window left by
 * longjmp() and not found dead yet counts).
 */
bool smem_secret_held(const struct smem_secret *s);
/*
 * Whether this thread is inside any window, once the dead ones below
 * @entry, the frame of the public call asking, are ended.
 */
bool smem_thread_in_window(uintptr_t entry);

/* -------------------------------------------------------------- linger */

/*
 * A secret's linger and its place in the closer's queue (linger.c), made
 * by the first smem_secret_linger() on it and freed with the secret: a
 * secret without one pays a pointer.  The links and the deadline are
 * under the linger lock; @armed is set there, once, before the secret is
 * first seen lingering, and never cleared.
 */
struct smem_linger {
	struct smem_linger *next;
	struct smem_linger **pprev;	/* NULL: not queued */
	uint64_t deadline;		/* CLOCK_MONOTONIC, ns */
	struct smem_secret *secret;
	_Atomic unsigned int usec;	/* smem_secret_linger(); 0: none */
	bool armed;
};

uint64_t smem_linger_now(void);
void smem_linger_lock(void);
void smem_linger_unlock(void);
/*
 * Under the lock: queue @l (if it is not) to be looked at by @deadline,
 * starting the closer thread if there is none yet.  0, or the errno of
 * pthread_create() negated.
 */
int smem_linger_arm_locked(struct smem_linger *l, uint64_t deadline);
/* Take @l off the queue, if it ever was on it: before the secret goes. */
void smem_linger_disarm(struct smem_linger *l);
/* pthread_atfork handlers: taken after every other lock of the library. */
void smem_linger_fork_prepare(void);
void smem_linger_fork_parent(void);
void smem_linger_fork_child(void);

/*
 * The closer's side, in secret.c.  Under the lock: whether the secret of
 * @l still lingers; take its pages over for closing (false: it cannot be
 * now, someone else closes them).  Without the lock, after taking them:
 * close them.
 */
bool smem_secret_linger_pending(struct smem_linger *l);
bool smem_secret_linger_take(struct smem_linger *l);
void smem_secret_linger_close(struct smem_linger *l);

/* ------------------------------------------------------------- enclaves */

#define SMEM_ENCLAVE_KEY_SIZE	32	/* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */

/*
 * Inside a window on this thread's scratch secret (enclave_key.c): the
 * copy of the process key, and room for unsealed bytes.
 */
struct smem_key_use {
	struct smem_key_block *block;	/* the copy of the keys, in the scratch */
	unsigned char *room;		/* for unsealed bytes: wiped when the window ends */
	size_t room_size;
	struct key_run *run;		/* enclave_key.c's */
};

typedef int (*smem_key_fn)(struct smem_key_use *k, void *arg);

/* libsodium initialised: 0, or -ENOSYS when it could not be. */
int smem_sodium_ready(void);
/*
 * Make the process key if there is none usable (none yet, wiped by
 * smem_purge(), or the parent's): 0 or -errno.
 */
int smem_key_ensure(void);
/*
 * Call @fn with the keys and at least @room bytes of room, in a write
 * window on this thread's scratch (or, when that one is busy, in a
 * callback of this thread, or too small, on a scratch made for the call),
 * which erases the stack and registers when it ends, the @room bytes
 * wiped.  Returns @fn's result (any int), or -errno when the
 * window could not be had.
 */
int smem_key_run(size_t room, smem_key_fn fn, void *arg);
/*
 * The key of @epoch in k's copy, refreshed from the process key when it
 * lacks it (0: the current key, and *@epoch says which): NULL when the
 * process key does not have it either.  A refresh moves the keys: find
 * the one that may need it first.
 */
const unsigned char *smem_key_find(struct smem_key_use *k, uint32_t *epoch);
/* The epoch new enclaves are sealed under: 0 before the first key. */
uint32_t smem_key_current(void);
/*
 * Why an enclave sealed under @epoch cannot be opened, its key being
 * absent: -ECHILD (the parent's), -EBADF (wiped by smem_purge()),
 * -ESTALE (replaced by smem_rekey()) or -EBADMSG (never this process's).
 */
int smem_key_missing(uint32_t epoch);
/*
 * smem_rekey()'s steps on the key, under its lock.  Rotate: a new current
 * key, the old one kept as the previous (*old 0: there was no key, and
 * nothing is done); publish: new seals take @epoch, called under the
 * lock that orders them; retire: wipe the previous key in the process
 * key and in every thread's copy.
 */
int smem_key_rotate(uint32_t *old, uint32_t *new);
void smem_key_publish(uint32_t epoch);
int smem_key_retire(uint32_t old);
/*
 * pthread_atfork handlers, before the context's (an enclave's key is made
 * under master_lock): the scratches', the process key's, the enclaves'.
 */
void smem_key_fork_prepare(void);
void smem_key_fork_parent(void);
void smem_key_fork_child(void);
void smem_enclave_fork_prepare(void);
void smem_enclave_fork_parent(void);
void smem_enclave_fork_child(void);

#endif /* SMEM_INTERNAL_H */
