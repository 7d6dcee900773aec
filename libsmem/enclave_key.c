// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The key of the enclaves: one per process, in secret memory only.
 *
 * The process key is a secret holding a key block: the current key and,
 * while smem_rekey() runs, the previous one, each with its epoch (a number
 * given out once, never 0: 0 marks an empty slot).  Each thread that uses
 * enclaves has a scratch secret: a copy of the key block, then room for
 * the bytes an enclave is unsealed into.  Sealing and unsealing thus open
 * one window, on the thread's own scratch; the process key is read only
 * when the copy lacks the epoch asked for (a thread's first use, after a
 * rekey).  Both are secrets of the process's backend: on kmod outside the
 * direct map and wiped at panic, never in a forked child or a core dump.
 *
 * Epochs tell an enclave what became of its key.  Below fork_floor: the
 * parent's (-ECHILD).  Below purge_floor: wiped by smem_purge() (-EBADF).
 * Above the last one given out: never this process's (-EBADMSG).
 * Otherwise, when absent, replaced by a rekey that has finished (-ESTALE;
 * only a sealed form exported before can be under it: a rekey seals every
 * live enclave again before it wipes the previous key).
 *
 * Locks, never held while waiting for a window, nor one inside the other
 * (the fork handlers take both, scratch_lock first):
 *   master_lock   the process key's pointer and epochs; held while one is
 *                 made;
 *   scratch_lock  the list of scratches.
 * A thread's scratch is its own: only smem_key_retire() enters another's,
 * through the secret's own locking, holding a reference and no lock.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The bytes of the process key, and the start of every scratch. */
struct smem_key_block {
	uint32_t epoch[2];		/* of key[0] (current), key[1] (previous); 0: none */
	uint32_t pad[2];		/* the room after the block is 16-byte aligned */
	unsigned char key[2][SMEM_ENCLAVE_KEY_SIZE];
};

#define ROOM_OFFSET	sizeof(struct smem_key_block)

/* Windows that unseal may run libsodium: erase this deep below them. */
#define KEY_SCRUB	SMEM_WINDOW_SCRUB_KIB(4)

static pthread_mutex_t master_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smem_secret *master;	/* under master_lock */
static uint32_t last_epoch;		/* the last epoch given out, under master_lock */
static uint32_t fork_floor = 1;		/* under master_lock */
static uint32_t purge_floor;		/* under master_lock */
/*
 * Published without the lock for the fast path of smem_key_ensure():
 * the epoch new enclaves take, and when the process key was made.
 */
static _Atomic uint32_t current_epoch;
static _Atomic unsigned int master_generation;
static _Atomic unsigned int master_purge_epoch;

/*
 * A thread's scratch: linked from its thread-local pointer and from the
 * list, which smem_key_retire() walks.  @dirty: room that a callback
 * left by longjmp() did not get wiped, done at the next window.
 */
struct scratch {
	struct scratch *prev, *next;	/* under scratch_lock; NULL: not in the list */
	struct smem_secret *secret;	/* replaced under scratch_lock */
	size_t dirty;
};

static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scratch scratches = { &scratches, &scratches, NULL, 0 };
static __thread struct scratch *thread_scratch;
static pthread_once_t scratch_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;
static bool scratch_key_ok;

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_error = -ENOSYS;

static void sodium_setup(void)
{
	sodium_error = sodium_init() < 0 ? -ENOSYS : 0;
}

int smem_sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_setup);
	return sodium_error;
}

/* --------------------------------------------------------- process key */

static bool master_usable(void)
{
	return master && !smem_secret_is_closed(master);
}

static int key_fill(void *buf, size_t len, void *arg)
{
	struct smem_key_block *b = buf;

	(void)len;
	b->epoch[0] = *(uint32_t *)arg;
	/* getrandom(2) writes straight into the secret. */
	return smem_fill_random(b->key[0], sizeof(b->key[0])) ? 1 : 0;
}

/* A new process key, replacing one that is gone; under master_lock. */
static int key_make(void)
{
	uint32_t epoch = last_epoch + 1;
	struct smem_secret *s;
	int err;

	err = smem_secret_new_zeroed(sizeof(struct smem_key_block), 0, &s);
	if (err)
		return err;
	err = smem_secret_write_flags(s, key_fill, &epoch, SMEM_WINDOW_NO_SCRUB);
	if (err) {
		smem_secret_unref(s);
		return err > 0 ? -EIO : err;
	}
	/* Gone in this process, not inherited: smem_purge() wiped it. */
	if (master && atomic_load(&master_generation) == smem_generation())
		purge_floor = epoch;
	smem_secret_unref(master);
	master = s;
	last_epoch = epoch;
	atomic_store(&master_generation, smem_generation());
	atomic_store(&master_purge_epoch, atomic_load(&smem_purge_epoch));
	atomic_store_explicit(&current_epoch, epoch, memory_order_release);
	return 0;
}

int smem_key_ensure(void)
{
	int err = 0;

	if (atomic_load_explicit(&current_epoch, memory_order_acquire) &&
	    atomic_load(&master_generation) == smem_generation() &&
	    atomic_load(&master_purge_epoch) == atomic_load(&smem_purge_epoch))
		return 0;
	pthread_mutex_lock(&master_lock);
	if (!master_usable())
		err = key_make();
	pthread_mutex_unlock(&master_lock);
	return err;
}

uint32_t smem_key_current(void)
{
	return atomic_load_explicit(&current_epoch, memory_order_acquire);
}

int smem_key_missing(uint32_t epoch)
{
	int err = -ESTALE;

	pthread_mutex_lock(&master_lock);
	if (epoch < fork_floor)
		err = -ECHILD;
	else if (epoch > last_epoch)
		err = -EBADMSG;		/* never this process's: forged, or another's */
	else if (epoch < purge_floor || !master_usable())
		err = -EBADF;
	pthread_mutex_unlock(&master_lock);
	return err;
}

/* A reference to the process key, or NULL when there is none usable. */
static struct smem_secret *master_get(void)
{
	struct smem_secret *m = NULL;

	pthread_mutex_lock(&master_lock);
	if (master_usable())
		m = smem_secret_ref(master);
	pthread_mutex_unlock(&master_lock);
	return m;
}

static int block_copy(const void *buf, size_t len, void *arg)
{
	smem_bytes_copy(arg, buf, len);
	return 0;
}

/* From secret to secret: no byte of the keys passes through ordinary memory. */
static bool block_refresh(struct smem_key_block *copy)
{
	struct smem_secret *m = master_get();
	int err;

	if (!m)
		return false;
	err = smem_secret_read_flags(m, block_copy, copy, SMEM_WINDOW_NO_SCRUB);
	smem_secret_unref(m);
	return !err;
}

static const unsigned char *block_find(struct smem_key_block *b, uint32_t epoch)
{
	for (int i = 0; i < 2; i++)
		if (epoch && b->epoch[i] == epoch)
			return b->key[i];
	return NULL;
}

const unsigned char *smem_key_find(struct smem_key_use *k, uint32_t *epoch)
{
	uint32_t want = *epoch ? *epoch : smem_key_current();
	const unsigned char *key = block_find(k->block, want);

	if (key || !block_refresh(k->block))
		goto out;
	key = block_find(k->block, want);
	/*
	 * The current key moved on meanwhile: seal under the newest; the
	 * enclave's insertion checks that it is still the current one.
	 */
	if (!key && !*epoch && k->block->epoch[0]) {
		want = k->block->epoch[0];
		key = k->block->key[0];
	}
out:
	if (key)
		*epoch = want;
	return key;
}

/* ------------------------------------------------------------- rekeying */

struct key_shift {
	uint32_t old, new;
};

static int key_shift(void *buf, size_t len, void *arg)
{
	struct smem_key_block *b = buf;
	struct key_shift *shift = arg;

	(void)len;
	smem_bytes_copy(b->key[1], b->key[0], sizeof(b->key[0]));
	shift->old = b->epoch[1] = b->epoch[0];
	b->epoch[0] = shift->new;
	return smem_fill_random(b->key[0], sizeof(b->key[0])) ? 1 : 0;
}

int smem_key_rotate(uint32_t *old, uint32_t *new)
{
	struct key_shift shift = { 0 };
	struct smem_secret *m;
	int err;

	*old = *new = 0;
	pthread_mutex_lock(&master_lock);
	m = master_usable() ? smem_secret_ref(master) : NULL;
	shift.new = ++last_epoch;
	pthread_mutex_unlock(&master_lock);
	if (!m)
		return 0;
	err = smem_secret_write_flags(m, key_shift, &shift, SMEM_WINDOW_NO_SCRUB);
	smem_secret_unref(m);
	if (err)
		return err > 0 ? -EIO : err;
	*old = shift.old;
	*new = shift.new;
	return 0;
}

void smem_key_publish(uint32_t epoch)
{
	atomic_store_explicit(&current_epoch, epoch, memory_order_release);
}

static int key_drop(void *buf, size_t len, void *arg)
{
	struct smem_key_block *b = buf;

	(void)len;
	for (int i = 0; i < 2; i++) {
		if (b->epoch[i] == *(uint32_t *)arg) {
			explicit_bzero(b->key[i], sizeof(b->key[i]));
			b->epoch[i] = 0;
		}
	}
	return 0;
}

/*
 * The scratches of this moment, each with a reference: their copies are
 * wiped without scratch_lock, since each wipe waits for its thread's
 * window, and a thread's exit and a fork must not wait for that.  A
 * scratch made afterwards copied a block the old key had already left.
 */
static struct smem_secret **scratches_get(size_t *n)
{
	struct smem_secret **all;
	struct scratch *sc;
	size_t count = 0;

	pthread_mutex_lock(&scratch_lock);
	for (sc = scratches.next; sc != &scratches; sc = sc->next)
		count++;
	all = malloc((count ? count : 1) * sizeof(*all));
	if (all)
		for (sc = scratches.next, count = 0; sc != &scratches; sc = sc->next)
			all[count++] = smem_secret_ref(sc->secret);
	pthread_mutex_unlock(&scratch_lock);
	*n = count;
	return all;
}

int smem_key_retire(uint32_t old)
{
	struct smem_secret *m = master_get(), **all;
	int err = -EBADF;
	size_t n;

	if (m) {
		err = smem_secret_write_flags(m, key_drop, &old, SMEM_WINDOW_NO_SCRUB);
		smem_secret_unref(m);
	}
	if (err)
		return err;
	all = scratches_get(&n);
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		/* Closed (its thread gone, purged): wiped already. */
		if (!smem_secret_is_closed(all[i]))
			smem_secret_write_flags(all[i], key_drop, &old, SMEM_WINDOW_NO_SCRUB);
		/* A thread gone meanwhile left its last reference to us. */
		smem_secret_unref(all[i]);
	}
	free(all);
	return 0;
}

/* ------------------------------------------------------------ scratches */

static void scratch_unlink(struct scratch *sc)
{
	sc->prev->next = sc->next;
	sc->next->prev = sc->prev;
	sc->prev = sc->next = NULL;
}

/* Thread exit: the scratch is closed (wiped) with its thread. */
static void scratch_exit(void *arg)
{
	struct scratch *sc = arg;

	pthread_mutex_lock(&scratch_lock);
	if (sc->next)
		scratch_unlink(sc);
	pthread_mutex_unlock(&scratch_lock);
	smem_secret_unref(sc->secret);
	free(sc);
}

static void scratch_key_create(void)
{
	scratch_key_ok = !pthread_key_create(&scratch_key, scratch_exit);
}

/* A secret of one page: the key block, then the room. */
static size_t scratch_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE) - 2 * SMEM_CANARY_SIZE;
}

/* This thread's scratch, made at its first use and after a purge or fork. */
static int scratch_get(struct scratch **ret)
{
	struct scratch *sc = thread_scratch;
	struct smem_secret *s, *old;
	int err;

	if (sc && !smem_secret_is_closed(sc->secret)) {
		*ret = sc;
		return 0;
	}
	pthread_once(&scratch_key_once, scratch_key_create);
	if (!scratch_key_ok)
		return -ENOMEM;
	err = smem_secret_new_zeroed(scratch_size(), 0, &s);
	if (err)
		return err;
	if (!sc) {
		sc = calloc(1, sizeof(*sc));
		if (!sc || pthread_setspecific(scratch_key, sc)) {
			free(sc);
			smem_secret_unref(s);
			return -ENOMEM;
		}
		thread_scratch = sc;
	}
	pthread_mutex_lock(&scratch_lock);
	old = sc->secret;
	sc->secret = s;
	sc->dirty = 0;
	if (!sc->next) {
		sc->next = &scratches;
		sc->prev = scratches.prev;
		scratches.prev->next = sc;
		scratches.prev = sc;
	}
	pthread_mutex_unlock(&scratch_lock);
	/* Purged, or the parent's: only the handle is left to free. */
	smem_secret_unref(old);
	*ret = sc;
	return 0;
}

struct key_run {
	struct scratch *sc;		/* NULL on a scratch made for the call */
	size_t room;
	smem_key_fn fn;
	void *arg;
	int ret;
};

/* Also when a C++ exception or a cancellation unwinds through the callback. */
static void room_wipe(struct smem_key_use *k)
{
	struct key_run *r = k->run;

	explicit_bzero(k->room, r->room);
	if (r->sc)
		r->sc->dirty = 0;
}

static int key_window(void *buf, size_t len, void *arg)
{
	struct key_run *r = arg;
	struct smem_key_use k __attribute__((cleanup(room_wipe))) = {
		.block = buf,
		.room = (unsigned char *)buf + ROOM_OFFSET,
		.room_size = len - ROOM_OFFSET,
		.run = r,
	};

	/* Left by longjmp() last time: its room is wiped now. */
	if (r->sc) {
		if (r->sc->dirty)
			explicit_bzero(k.room, r->sc->dirty);
		r->sc->dirty = r->room;
	}
	r->ret = r->fn(&k, r->arg);
	return 0;
}

static void secret_drop(struct smem_secret **s)
{
	smem_secret_unref(*s);
}

int smem_key_run(size_t room, smem_key_fn fn, void *arg)
{
	struct key_run r = { .room = room, .fn = fn, .arg = arg };
	/* Closed (wiped) however the call ends, unwinding included. */
	struct smem_secret *temp __attribute__((cleanup(secret_drop))) = NULL;
	int err, tries = 0;

	err = smem_sodium_ready();
	if (err)
		return err;
again:
	err = scratch_get(&r.sc);
	if (err)
		return err;
	if (room <= scratch_size() - ROOM_OFFSET && !smem_secret_held(r.sc->secret)) {
		err = smem_secret_write_flags(r.sc->secret, key_window, &r, KEY_SCRUB);
		/* Purged between the two: once more, on a new scratch. */
		if (err == -EBADF && !tries++)
			goto again;
		return err ? err : r.ret;
	}
	r.sc = NULL;
	err = smem_secret_new_zeroed(ROOM_OFFSET + room, 0, &temp);
	if (err)
		return err;
	err = smem_secret_write_flags(temp, key_window, &r, KEY_SCRUB);
	return err ? err : r.ret;
}

/* ----------------------------------------------------------------- fork */

void smem_key_fork_prepare(void)
{
	pthread_mutex_lock(&scratch_lock);
	pthread_mutex_lock(&master_lock);
}

void smem_key_fork_parent(void)
{
	pthread_mutex_unlock(&master_lock);
	pthread_mutex_unlock(&scratch_lock);
}

/*
 * The parent's key is not the child's: enclaves sealed under it fail
 * with -ECHILD, and the child's first seal makes a key of its own.  The
 * other threads' scratches stay behind (their threads are not here); this
 * thread's is replaced at its next use.
 */
void smem_key_fork_child(void)
{
	struct scratch *sc, *next;

	fork_floor = last_epoch + 1;
	atomic_store(&current_epoch, 0);
	for (sc = scratches.next; sc != &scratches; sc = next) {
		next = sc->next;
		sc->prev = sc->next = NULL;
	}
	scratches.prev = scratches.next = &scratches;
	pthread_mutex_unlock(&master_lock);
	pthread_mutex_unlock(&scratch_lock);
}
