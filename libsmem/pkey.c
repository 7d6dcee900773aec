// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Protection keys.  libsmem takes up to SMEM_PKEYS_MAX keys and gives each
 * new secret one of them: a window on one secret opens only that secret's
 * key, so the other secrets stay closed to the thread in the window.
 *
 * The first key is taken at setup, with the check that the backend's pages
 * take a key at all.  Each later secret takes one more key (pkey_alloc())
 * while the library holds fewer than SMEM_PKEYS_MAX and the kernel has
 * keys left; once it says ENOSPC (the application holds the others) the
 * library stops asking for the life of the process, and from then on, as
 * from the SMEM_PKEYS_MAX-th secret, new secrets share the keys held, round
 * robin.  So with more secrets than keys, secret N shares its key with
 * secrets N - k, N - 2k, ... (k the number of keys held): a window on one
 * of them opens the others to the thread in the window, and to no other
 * thread.  The keys are never given back: a key freed and taken again
 * would keep stale PKRU values in threads that had it open.
 *
 * Every thread starts with a new key closed: pkey_alloc() closes it for
 * the calling thread, and the kernel gives every other thread the
 * restrictive default PKRU, which denies every key but 0.  A window opens
 * a key in the PKRU of the calling thread only (smem_pkru_open()); the
 * pages themselves stay mapped read-write, so opening and closing a window
 * is a register write, not a system call, and other threads keep faulting.
 *
 * Invariants: keys[0 .. nr_keys) are held and never change once published
 * (release store of nr_keys after the key is written); lib_bits has the
 * AD and WD bits of exactly those keys; smem_pkey_pick() takes no lock
 * (only one thread at a time tries pkey_alloc(), the others share a key
 * meanwhile rather than wait).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static int keys[SMEM_PKEYS_MAX];
static _Atomic unsigned int nr_keys;
static _Atomic unsigned int next_key;		/* round robin */
static _Atomic uint32_t lib_bits;
static atomic_flag growing = ATOMIC_FLAG_INIT;	/* a thread is in pkey_alloc() */
static _Atomic bool keys_exhausted;		/* ENOSPC once: never ask again */

/* Before publishing: @key goes into keys[nr_keys]. */
static void key_publish(int key)
{
	unsigned int n = atomic_load_explicit(&nr_keys, memory_order_relaxed);

	keys[n] = key;
	atomic_fetch_or_explicit(&lib_bits, 3U << (2 * key), memory_order_relaxed);
	atomic_store_explicit(&nr_keys, n + 1, memory_order_release);
}

/*
 * pkey_alloc()'s errors: EINVAL (no pku, or the kernel turned it off),
 * ENOSYS (no system call), ENOSPC (every key taken), and EPERM, which
 * the system call itself never says: a seccomp filter refused it (Docker
 * 20.10's default profile does).  All but ENOSPC mean there are no keys
 * for this process at all.
 */
static bool key_absent(int err)
{
	return err == -ENOSYS || err == -EINVAL || err == -ENOSPC || err == -EOPNOTSUPP ||
	       err == -EPERM;
}

int smem_pkey_setup(const struct smem_backend_desc *backend)
{
#if defined(__x86_64__)
	struct smem_region probe;
	int key, err;

	/* Set up once; the context asks again only after a failure. */
	if (atomic_load_explicit(&nr_keys, memory_order_acquire))
		return keys[0];
	key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
	if (key < 0)
		return key_absent(-errno) ? -ENOTSUP : -errno;
	/*
	 * The backend's mappings must take the key: try on one page (a
	 * /dev/smem mapping is VM_PFNMAP, mprotect may be refused on it).
	 * The mapping is made without the key first, so that a failure of
	 * the backend itself (no memory, no descriptor, over RLIMIT_MEMLOCK:
	 * worth trying again later) is told apart from a refusal of the key
	 * (EINVAL, EOPNOTSUPP: no keys with this backend, for good).
	 */
	err = smem_region_create(&probe, (size_t)sysconf(_SC_PAGESIZE), backend, -1, false);
	if (err) {
		pkey_free(key);
		return err;
	}
	err = smem_region_tag(&probe, key, PROT_READ | PROT_WRITE);
	smem_region_destroy(&probe);
	if (err) {
		pkey_free(key);
		return err == -EINVAL || err == -EOPNOTSUPP ? -ENOTSUP : err;
	}
	key_publish(key);
	return key;
#else
	(void)backend;
	return -ENOTSUP;
#endif
}

/* One more key, or -errno; only while nobody else is trying. */
static int key_grow(void)
{
	int key = -EBUSY;

	if (atomic_flag_test_and_set_explicit(&growing, memory_order_acquire))
		return key;
	if (atomic_load_explicit(&nr_keys, memory_order_relaxed) < SMEM_PKEYS_MAX &&
	    !atomic_load_explicit(&keys_exhausted, memory_order_relaxed)) {
		key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
		if (key >= 0) {
			key_publish(key);
		} else {
			key = -errno;
			/* Anything else may pass: try again at the next secret. */
			if (key_absent(key))
				atomic_store_explicit(&keys_exhausted, true, memory_order_relaxed);
		}
	}
	atomic_flag_clear_explicit(&growing, memory_order_release);
	return key;
}

int smem_pkey_pick(void)
{
	unsigned int i = atomic_fetch_add_explicit(&next_key, 1, memory_order_relaxed);
	unsigned int n = atomic_load_explicit(&nr_keys, memory_order_acquire);
	int key;

	if (!n)
		return -ENOTSUP;
	/* The setup's key first, then a new key per secret while they last. */
	if (i < n)
		return keys[i];
	if (n < SMEM_PKEYS_MAX && !atomic_load_explicit(&keys_exhausted, memory_order_relaxed)) {
		key = key_grow();
		if (key >= 0)
			return key;
		n = atomic_load_explicit(&nr_keys, memory_order_acquire);
	}
	return keys[i % n];
}

uint32_t smem_pkey_lib_bits(void)
{
	return atomic_load_explicit(&lib_bits, memory_order_relaxed);
}

/*
 * A fork while another thread was in pkey_alloc(): that thread is not in
 * the child, which may try again.
 */
void smem_pkey_fork_child(void)
{
	atomic_flag_clear_explicit(&growing, memory_order_relaxed);
}
