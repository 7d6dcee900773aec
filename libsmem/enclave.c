// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Enclaves: bytes sealed with XChaCha20-Poly1305 (libsodium) in ordinary
 * memory, under the process key of enclave_key.c.
 *
 * An enclave is one allocation: this header, then its sealed part, the
 * nonce (random per seal), the tag and the ciphertext.  The associated
 * data is the enclave's identity (a number given out once per process)
 * and its size, so that sealed bytes moved to another enclave, or cut
 * short, fail to authenticate.
 *
 * Enclaves never change but for smem_rekey(), which seals each live one
 * again in place.  Its sealed part and epoch are therefore read as under
 * a sequence lock: @seq is odd while the rekey rewrites them, and a reader
 * copies them out and tries again when @seq moved.  The copy is needed
 * anyway: libsodium reads the ciphertext twice (tag, then decryption),
 * and both must see the same bytes.
 *
 * Every live enclave is on a list, under list_lock, for the rekey to
 * find.  A rekey puts a cursor at the head of the list at the moment it
 * makes the new key current (under list_lock): every enclave behind the
 * cursor was sealed before, under the old key, and the cursor walks them
 * in batches, letting go of the lock in between.  New enclaves go in at
 * the head, before the cursor, and only after checking under list_lock
 * that their key is still the current one (they are sealed again when
 * not): none is left under the old key when the rekey wipes it.
 */
#include <endian.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "internal.h"

#define NONCE_SIZE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES	/* 24 */
#define TAG_SIZE	crypto_aead_xchacha20poly1305_ietf_ABYTES	/* 16 */
#define SEALED_SIZE(n)	(NONCE_SIZE + TAG_SIZE + (size_t)(n))

_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == SMEM_ENCLAVE_KEY_SIZE,
	       "the key block holds XChaCha20-Poly1305 keys");

struct smem_enclave {
	struct smem_enclave *prev, *next;	/* in the list, under list_lock */
	uint64_t id;				/* 0: a rekey's cursor */
	_Atomic uint32_t refs;
	_Atomic uint32_t seq;			/* odd while a rekey rewrites @epoch, @sealed */
	uint32_t size;
	_Atomic uint32_t epoch;			/* of the key @sealed is under */
	unsigned char sealed[];			/* nonce, tag, ciphertext */
};

_Static_assert(sizeof(struct smem_enclave) == 40, "ordinary memory per enclave");
_Static_assert(SMEM_SECRET_MAX_SIZE <= UINT32_MAX, "sizes fit @size");

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smem_enclave list = { .prev = &list, .next = &list };
static _Atomic uint64_t last_id;

/* One rekey at a time; its cursor on the list while it runs. */
static pthread_mutex_t rekey_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smem_enclave cursor;

/* Enclaves the rekey seals again per hold of list_lock. */
#define REKEY_BATCH	32

/* ---------------------------------------------------------------- list */

static void list_link_head(struct smem_enclave *e)
{
	e->next = list.next;
	e->prev = &list;
	list.next->prev = e;
	list.next = e;
}

static void list_unlink(struct smem_enclave *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = NULL;
}

/* A reference, unless the last one is already gone (it is being freed). */
static bool enclave_get(struct smem_enclave *e)
{
	uint32_t refs = atomic_load_explicit(&e->refs, memory_order_relaxed);

	do {
		if (!refs)
			return false;
	} while (!atomic_compare_exchange_weak(&e->refs, &refs, refs + 1));
	return true;
}

/* ------------------------------------------------------- sealed bytes */

static void sealed_ad(const struct smem_enclave *e, unsigned char ad[16])
{
	uint64_t id = htole64(e->id), size = htole64(e->size);

	memcpy(ad, &id, 8);
	memcpy(ad + 8, &size, 8);
}

/*
 * Word by word with relaxed atomics: a rekey may be rewriting them (the
 * sequence count tells).  The sealed part starts 8-byte aligned.
 */
static void sealed_load(unsigned char *dst, const unsigned char *src, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w = __atomic_load_n((const uint64_t *)(src + i), __ATOMIC_RELAXED);

		memcpy(dst + i, &w, 8);
	}
	for (; i < len; i++)
		dst[i] = __atomic_load_n(src + i, __ATOMIC_RELAXED);
}

static void sealed_store(unsigned char *dst, const unsigned char *src, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, src + i, 8);
		__atomic_store_n((uint64_t *)(dst + i), w, __ATOMIC_RELAXED);
	}
	for (; i < len; i++)
		__atomic_store_n(dst + i, src[i], __ATOMIC_RELAXED);
}

/* A consistent copy of the sealed part into @dst: its epoch, and the count to check. */
static uint32_t sealed_snapshot(const struct smem_enclave *e, unsigned char *dst,
				uint32_t *epoch)
{
	uint32_t seq;

	for (;;) {
		seq = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (seq & 1) {
			sched_yield();
			continue;
		}
		*epoch = atomic_load_explicit(&e->epoch, memory_order_relaxed);
		sealed_load(dst, e->sealed, SEALED_SIZE(e->size));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) == seq)
			return seq;
	}
}

static bool sealed_moved(const struct smem_enclave *e, uint32_t seq)
{
	return atomic_load_explicit(&e->seq, memory_order_acquire) != seq;
}

/* Only smem_rekey() writes a live enclave. */
static void sealed_replace(struct smem_enclave *e, const unsigned char *src, uint32_t epoch)
{
	uint32_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed);

	atomic_store_explicit(&e->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&e->epoch, epoch, memory_order_relaxed);
	sealed_store(e->sealed, src, SEALED_SIZE(e->size));
	atomic_store_explicit(&e->seq, seq + 2, memory_order_release);
}

/*
 * Seal @len bytes at @src into @dst (nonce, tag, ciphertext) under @key.
 * @src may be secret memory: libsodium reads it once.
 */
static void seal_bytes(const struct smem_enclave *e, unsigned char *dst, const void *src,
		       const unsigned char *key)
{
	unsigned char ad[16];

	sealed_ad(e, ad);
	randombytes_buf(dst, NONCE_SIZE);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst + NONCE_SIZE + TAG_SIZE,
							    dst + NONCE_SIZE, NULL, src, e->size,
							    ad, sizeof(ad), NULL, dst, key);
}

/* Unseal a copy of the sealed part into @dst: 0, or -EBADMSG. */
static int open_bytes(const struct smem_enclave *e, void *dst, const unsigned char *sealed,
		      const unsigned char *key)
{
	unsigned char ad[16];

	sealed_ad(e, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(dst, NULL,
								sealed + NONCE_SIZE + TAG_SIZE,
								e->size, sealed + NONCE_SIZE,
								ad, sizeof(ad), sealed, key))
		return -EBADMSG;
	return 0;
}

/* ---------------------------------------------------------------- seal */

struct seal {
	struct smem_enclave *e;
	const void *src;
	uint32_t epoch;
};

static int seal_window(struct smem_key_use *k, void *arg)
{
	struct seal *sl = arg;
	const unsigned char *key;

	sl->epoch = 0;
	key = smem_key_find(k, &sl->epoch);
	if (!key)
		return -EBADF;
	seal_bytes(sl->e, sl->e->sealed, sl->src, key);
	atomic_store_explicit(&sl->e->epoch, sl->epoch, memory_order_relaxed);
	return 0;
}

static int seal_from_secret(const void *buf, size_t len, void *arg)
{
	struct seal *sl = arg;
	int err;

	(void)len;
	sl->src = buf;
	err = smem_key_run(0, seal_window, sl);
	/* Positive: the library's own errors go through a callback's result. */
	return err < 0 ? -err : 0;
}

static struct smem_enclave *enclave_alloc(size_t len)
{
	struct smem_enclave *e = malloc(sizeof(*e) + SEALED_SIZE(len));

	if (!e)
		return NULL;
	e->prev = e->next = NULL;
	atomic_init(&e->refs, 1);
	atomic_init(&e->seq, 0);
	atomic_init(&e->epoch, 0);
	e->size = (uint32_t)len;
	e->id = atomic_fetch_add(&last_id, 1) + 1;
	return e;
}

/*
 * Seal @src (ordinary memory) or @s's bytes into @e and put it on the
 * list: again, as long as a rekey made another key current meanwhile.
 */
static int enclave_seal(struct smem_enclave *e, const void *src, struct smem_secret *s)
{
	struct seal sl = { .e = e, .src = src };
	int err;

	err = smem_sodium_ready();
	if (err)
		return err;
	for (;;) {
		err = smem_key_ensure();
		if (err)
			return err;
		if (s)
			err = smem_secret_read_flags(s, seal_from_secret, &sl,
						     SMEM_WINDOW_SCRUB_KIB(4));
		else
			err = smem_key_run(0, seal_window, &sl);
		if (err > 0)
			err = -err;
		if (err)
			return err;
		pthread_mutex_lock(&list_lock);
		if (sl.epoch == smem_key_current()) {
			list_link_head(e);
			pthread_mutex_unlock(&list_lock);
			return 0;
		}
		pthread_mutex_unlock(&list_lock);
	}
}

#define NEW_VALID_FLAGS		SMEM_KEEP_SOURCE

static int enclave_new(void *data, size_t len, unsigned int flags, struct smem_enclave **ret)
{
	struct smem_enclave *e;
	int err;

	if (!data || !ret || !len || len > SMEM_SECRET_MAX_SIZE || (flags & ~NEW_VALID_FLAGS))
		return -EINVAL;
	e = enclave_alloc(len);
	if (!e)
		return -ENOMEM;
	err = enclave_seal(e, data, NULL);
	if (err) {
		free(e);
		return err;
	}
	if (!(flags & SMEM_KEEP_SOURCE))
		explicit_bzero(data, len);
	*ret = e;
	return 0;
}

SMEM_EXPORT int smem_enclave_new(void *data, size_t len, unsigned int flags,
				 struct smem_enclave **ret)
{
	SMEM_KEEP_ERRNO;

	return enclave_new(data, len, flags, ret);
}

static int secret_seal(struct smem_secret *s, unsigned int flags, struct smem_enclave **ret)
{
	struct smem_enclave *e;
	int err;

	if (!s || !ret || (flags & ~SMEM_CLOSE))
		return -EINVAL;
	/* Before any key is made: -ECHILD, -EBADF (the check's window says why). */
	if (smem_secret_is_closed(s)) {
		err = smem_secret_check(s);
		return err ? err : -EBADF;
	}
	e = enclave_alloc(smem_secret_size(s));
	if (!e)
		return -ENOMEM;
	err = enclave_seal(e, NULL, s);
	if (!err && (flags & SMEM_CLOSE)) {
		err = smem_secret_close(s);
		if (err == -EINPROGRESS)
			err = 0;
		if (err)
			smem_enclave_unref(e);
	} else if (err) {
		free(e);
	}
	if (!err)
		*ret = e;
	return err;
}

SMEM_EXPORT int smem_secret_seal(struct smem_secret *s, unsigned int flags,
				 struct smem_enclave **ret)
{
	SMEM_KEEP_ERRNO;

	return secret_seal(s, flags, ret);
}

/* ---------------------------------------------------------------- open */

/* Sealed parts up to this size are copied to the stack, larger to the heap. */
#define SNAPSHOT_STACK	1024

struct unseal {
	struct smem_enclave *e;
	const unsigned char *sealed;	/* the snapshot */
	uint32_t epoch;
	void *dst;			/* NULL: into the room, then call @fn */
	smem_read_fn fn;
	void *arg;
	bool key_missing;
};

static int unseal_window(struct smem_key_use *k, void *arg)
{
	struct unseal *u = arg;
	uint32_t epoch = u->epoch;
	const unsigned char *key;
	void *dst = u->dst ? u->dst : k->room;
	int err, ret;

	key = smem_key_find(k, &epoch);
	if (!key) {
		u->key_missing = true;
		return -EBADF;
	}
	err = open_bytes(u->e, dst, u->sealed, key);
	if (err || u->dst)
		return err;
	ret = u->fn(k->room, u->e->size, u->arg);
	return ret < 0 ? -ECANCELED : ret;
}

static void heap_free(unsigned char **heap)
{
	free(*heap);
}

/*
 * Unseal @e into @dst (secret memory), or into the scratch for @fn; the
 * copy is taken again when a rekey moved the sealed part meanwhile.  A
 * callback left by a C++ exception or a cancellation frees the copy on
 * the way out (the library is built with -fexceptions).
 */
static int enclave_unseal(struct smem_enclave *e, void *dst, smem_read_fn fn, void *arg)
{
	unsigned char stack[SNAPSHOT_STACK], *copy = stack;
	unsigned char *heap __attribute__((cleanup(heap_free))) = NULL;
	struct unseal u = { .e = e, .dst = dst, .fn = fn, .arg = arg };
	uint32_t seq;
	int err;

	err = smem_sodium_ready();
	if (err)
		return err;
	if (SEALED_SIZE(e->size) > sizeof(stack)) {
		heap = malloc(SEALED_SIZE(e->size));
		if (!heap)
			return -ENOMEM;
		copy = heap;
	}
	u.sealed = copy;
	for (;;) {
		seq = sealed_snapshot(e, copy, &u.epoch);
		u.key_missing = false;
		err = smem_key_run(dst ? 0 : e->size, unseal_window, &u);
		if (!u.key_missing)
			break;
		if (!sealed_moved(e, seq)) {
			err = smem_key_missing(u.epoch);
			break;
		}
	}
	return err;
}

struct open_into {
	struct smem_enclave *e;
	int err;
};

static int open_into_secret(void *buf, size_t len, void *arg)
{
	struct open_into *o = arg;

	(void)len;
	o->err = enclave_unseal(o->e, buf, NULL, NULL);
	return 0;
}

#define OPEN_VALID_FLAGS	SMEM_REQUIRE(SMEM_ALL_GUARANTEES)

SMEM_EXPORT int smem_enclave_open(struct smem_enclave *e, unsigned int flags,
				  struct smem_secret **ret)
{
	SMEM_KEEP_ERRNO;
	struct open_into o = { .e = e };
	struct smem_secret *s;
	int err;

	if (!e || !ret || (flags & ~OPEN_VALID_FLAGS))
		return -EINVAL;
	smem_enclave_ref(e);
	err = smem_secret_new_zeroed(e->size, flags, &s);
	if (!err) {
		err = smem_secret_write_flags(s, open_into_secret, &o, SMEM_WINDOW_SCRUB_KIB(4));
		if (!err)
			err = o.err;
		if (err)
			smem_secret_unref(s);
		else
			*ret = s;
	}
	smem_enclave_unref(e);
	return err;
}

static void enclave_drop(struct smem_enclave **e)
{
	smem_enclave_unref(*e);
}

SMEM_EXPORT int smem_enclave_read(struct smem_enclave *e, smem_read_fn fn, void *arg)
{
	SMEM_KEEP_ERRNO;
	/*
	 * Held: an unref meanwhile by another thread leaves the free to us,
	 * however the callback ends (a C++ exception, a cancellation).
	 */
	struct smem_enclave *held __attribute__((cleanup(enclave_drop))) = NULL;

	if (!e || !fn)
		return -EINVAL;
	held = smem_enclave_ref(e);
	return enclave_unseal(held, NULL, fn, arg);
}

/* ----------------------------------------------------- size, references */

SMEM_EXPORT size_t smem_enclave_size(const struct smem_enclave *e)
{
	return e ? e->size : 0;
}

SMEM_EXPORT struct smem_enclave *smem_enclave_ref(struct smem_enclave *e)
{
	if (e)
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	return e;
}

SMEM_EXPORT struct smem_enclave *smem_enclave_unref(struct smem_enclave *e)
{
	if (!e || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	pthread_mutex_lock(&list_lock);
	if (e->next)
		list_unlink(e);
	pthread_mutex_unlock(&list_lock);
	free(e);
	return NULL;
}

/* -------------------------------------------------------- sealed forms */

/*
 * The sealed form: this header (little endian), then the sealed part.
 * Nothing in it is secret; only the process that sealed it, under the key
 * of @epoch, can open it.
 */
struct sealed_form {
	char magic[4];			/* "SMEN" */
	uint8_t version;		/* 1 */
	uint8_t pad[3];			/* zero */
	uint32_t epoch;
	uint32_t size;
	uint64_t id;
};

#define FORM_MAGIC	"SMEN"
#define FORM_VERSION	1

SMEM_EXPORT ssize_t smem_enclave_export(struct smem_enclave *e, void *buf, size_t len)
{
	struct sealed_form form = { .magic = FORM_MAGIC, .version = FORM_VERSION };
	unsigned char *out = buf;
	size_t need;
	uint32_t epoch;

	if (!e || (!buf && len))
		return -EINVAL;
	need = sizeof(form) + SEALED_SIZE(e->size);
	if (!buf)
		return (ssize_t)need;
	if (len < need)
		return -ERANGE;
	sealed_snapshot(e, out + sizeof(form), &epoch);
	form.epoch = htole32(epoch);
	form.size = htole32(e->size);
	form.id = htole64(e->id);
	memcpy(out, &form, sizeof(form));
	return (ssize_t)need;
}

static int enclave_import(const void *buf, size_t len, unsigned int flags,
			  struct smem_enclave **ret)
{
	struct smem_secret *probe;
	struct sealed_form form;
	struct open_into o;
	struct smem_enclave *e;
	size_t size;
	int err;

	if (!buf || !ret || flags || len < sizeof(form))
		return -EINVAL;
	memcpy(&form, buf, sizeof(form));
	size = le32toh(form.size);
	if (memcmp(form.magic, FORM_MAGIC, 4) || form.version != FORM_VERSION ||
	    form.pad[0] || form.pad[1] || form.pad[2] || !size ||
	    size > SMEM_SECRET_MAX_SIZE || len != sizeof(form) + SEALED_SIZE(size) ||
	    !le64toh(form.id) || !le32toh(form.epoch))
		return -EINVAL;
	e = enclave_alloc(size);
	if (!e)
		return -ENOMEM;
	e->id = le64toh(form.id);
	o.e = e;
	atomic_init(&e->epoch, le32toh(form.epoch));
	memcpy(e->sealed, (const unsigned char *)buf + sizeof(form), SEALED_SIZE(size));
	/* Authenticated now, into secret memory, rather than at first use. */
	err = smem_secret_new_zeroed(size, 0, &probe);
	if (!err) {
		err = smem_secret_write_flags(probe, open_into_secret, &o,
					      SMEM_WINDOW_SCRUB_KIB(4));
		err = err ? err : o.err;
		smem_secret_unref(probe);
	}
	if (!err) {
		/*
		 * Under the previous key, while a rekey runs: its cursor may
		 * have passed, and the key is about to go.
		 */
		err = -ESTALE;
		pthread_mutex_lock(&list_lock);
		if (le32toh(form.epoch) == smem_key_current()) {
			list_link_head(e);
			err = 0;
		}
		pthread_mutex_unlock(&list_lock);
	}
	if (err)
		free(e);
	else
		*ret = e;
	return err;
}

SMEM_EXPORT int smem_enclave_import(const void *buf, size_t len, unsigned int flags,
				    struct smem_enclave **ret)
{
	SMEM_KEEP_ERRNO;

	return enclave_import(buf, len, flags, ret);
}

/* ---------------------------------------------------------------- rekey */

struct reseal {
	struct smem_enclave *batch[REKEY_BATCH];
	unsigned int n;
	uint32_t old, new;
	int done;
	int err;		/* the first failure but a tampered enclave's */
};

/*
 * The previous key of a rekey that could not seal every enclave again
 * (no memory): kept, and the next rekey finishes that one first.
 */
static uint32_t unfinished_old;

static int reseal_window(struct smem_key_use *k, void *arg)
{
	struct reseal *r = arg;
	uint32_t old = r->old, new = r->new;
	const unsigned char *old_key, *new_key;

	/* The new key first: finding it may refresh the copy, moving the old. */
	new_key = smem_key_find(k, &new);
	old_key = smem_key_find(k, &old);
	if (!old_key || !new_key)
		return -EBADF;
	for (unsigned int i = 0; i < r->n; i++) {
		struct smem_enclave *e = r->batch[i];
		unsigned char *sealed = malloc(SEALED_SIZE(e->size));
		int err = -ENOMEM;

		/* Nobody else writes it: no snapshot needed. */
		if (sealed) {
			sealed_load(sealed, e->sealed, SEALED_SIZE(e->size));
			err = open_bytes(e, k->room, sealed, old_key);
		}
		if (!err) {
			seal_bytes(e, sealed, k->room, new_key);
			sealed_replace(e, sealed, r->new);
			r->done++;
		} else if (err != -EBADMSG && !r->err) {
			/* Tampered: it stays as it is, and fails for good. */
			r->err = err;
		}
		explicit_bzero(k->room, e->size);
		free(sealed);
	}
	return 0;
}

/* The next batch behind the cursor, held; false at the end of the list. */
static bool reseal_batch(struct reseal *r)
{
	struct smem_enclave *e;

	r->n = 0;
	pthread_mutex_lock(&list_lock);
	if (!cursor.next) {
		pthread_mutex_unlock(&list_lock);
		return false;
	}
	for (e = cursor.next; e != &list && r->n < REKEY_BATCH; e = e->next)
		if (atomic_load(&e->epoch) == r->old && enclave_get(e))
			r->batch[r->n++] = e;
	list_unlink(&cursor);
	if (e != &list) {
		cursor.next = e;
		cursor.prev = e->prev;
		e->prev->next = &cursor;
		e->prev = &cursor;
	}
	pthread_mutex_unlock(&list_lock);
	return true;
}

static size_t batch_room(const struct reseal *r)
{
	size_t room = 0;

	for (unsigned int i = 0; i < r->n; i++)
		if (r->batch[i]->size > room)
			room = r->batch[i]->size;
	return room;
}

/* Under rekey_lock. */
static int rekey(void)
{
	struct reseal r = { .done = 0 };
	int err;

	if (unfinished_old) {
		r.old = unfinished_old;
		r.new = smem_key_current();
		pthread_mutex_lock(&list_lock);
	} else {
		err = smem_key_rotate(&r.old, &r.new);
		if (err || !r.old)
			return err;
		pthread_mutex_lock(&list_lock);
		smem_key_publish(r.new);
	}
	list_link_head(&cursor);
	pthread_mutex_unlock(&list_lock);
	while (reseal_batch(&r)) {
		err = smem_key_run(batch_room(&r), reseal_window, &r);
		if (err && !r.err)
			r.err = err;
		for (unsigned int i = 0; i < r.n; i++)
			smem_enclave_unref(r.batch[i]);
	}
	/*
	 * Some are still under the old key (no memory): keep it, the next
	 * rekey finishes.  -EBADF: smem_purge() wiped the keys meanwhile,
	 * there is nothing left to finish.
	 */
	err = r.err ? r.err : smem_key_retire(r.old);
	unfinished_old = err && err != -EBADF ? r.old : 0;
	return err ? err : r.done;
}

SMEM_EXPORT int smem_rekey(void)
{
	SMEM_KEEP_ERRNO;
	int ret;

	if (smem_thread_in_window((uintptr_t)__builtin_frame_address(0)))
		return -EDEADLK;
	ret = smem_sodium_ready();
	if (ret)
		return ret;
	pthread_mutex_lock(&rekey_lock);
	ret = rekey();
	pthread_mutex_unlock(&rekey_lock);
	return ret;
}

/* ----------------------------------------------------------------- fork */

void smem_enclave_fork_prepare(void)
{
	pthread_mutex_lock(&list_lock);
}

void smem_enclave_fork_parent(void)
{
	pthread_mutex_unlock(&list_lock);
}

/*
 * A rekey of the parent's may have been under way: its cursor leaves the
 * list, and the child may rekey (its own key, when it has one).
 */
void smem_enclave_fork_child(void)
{
	if (cursor.next)
		list_unlink(&cursor);
	pthread_mutex_unlock(&list_lock);
	pthread_mutex_init(&rekey_lock, NULL);
	unfinished_old = 0;
}
