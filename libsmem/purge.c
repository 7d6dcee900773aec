// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * smem_purge(): wipe the bytes of every secret of the process now, for a
 * crash handler.
 *
 * It must work from a signal handler that interrupted any code, the
 * library's included: it takes no lock, allocates nothing and never
 * waits, and calls nothing but system calls (open(), read(), close(),
 * mprotect()) and the PKRU instructions.  What it relies on:
 *  - the epoch is bumped first, so every secret made before sees that it
 *    was purged (secret.c: its calls fail with -EBADF) even if the wipe
 *    that follows is cut short;
 *  - the registry can be walked without its lock (region.c), and a region
 *    is not unmapped while a walk may be on it;
 *  - with protection keys every region is mapped read-write and only PKRU
 *    closes it: opening all the library's keys for this thread makes every
 *    region writable here, and nowhere else;
 *  - without keys (or for a region that still has a descriptor, an export
 *    being made) the region's protection is switched to read-write with
 *    mprotect(); a region that refuses (sealed) is skipped;
 *  - the zeros come from read() on /dev/zero, not from stores of ours:
 *    without keys another thread may close the pages again under us (its
 *    window ends: mprotect() to PROT_NONE), and a store
 *    would then fault, killing the process in its crash handler; the
 *    kernel's copy fails with EFAULT instead, and we open the pages again
 *    and go on (a window cannot open again: the epoch turns it away).
 *    Without a descriptor (RLIMIT_NOFILE, no /dev), explicit_bzero().
 * Regions are wiped whole: secret bytes, canaries and free arena slots.
 * Their protection is left open (they hold zeros), so that a callback
 * running in another thread meanwhile does not fault.  What escapes: a
 * secret being made in another thread, not registered yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

_Atomic unsigned int smem_purge_epoch;

/* Giving up on a region that keeps closing under us. */
#define REOPEN_TRIES	8

struct purge {
	bool keys;
	uint32_t saved_pkru;	/* with keys: this thread's, to put back */
	int zero_fd;		/* /dev/zero, or -1 */
};

static bool purge_region(struct smem_region *r, void *arg)
{
	const struct purge *p = arg;
	bool reopen = r->fd >= 0 || !p->keys;
	size_t done = 0;
	int tries = 0;
	ssize_t n;

	/*
	 * Every key the library holds now: a key is published before any
	 * region is tagged with it, and the region was linked in after that.
	 */
	if (p->keys)
		smem_wrpkru(p->saved_pkru & ~smem_pkey_lib_bits());
	if (reopen && smem_region_mprotect(r, SMEM_PROT_READWRITE))
		return false;
	if (p->zero_fd < 0) {
		explicit_bzero(r->base, r->size);
		return true;
	}
	while (done < r->size) {
		n = read(p->zero_fd, r->base + done, r->size - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* EFAULT: closed again meanwhile. */
		if (!reopen || ++tries > REOPEN_TRIES ||
		    smem_region_mprotect(r, SMEM_PROT_READWRITE))
			return false;
	}
	return true;
}

SMEM_EXPORT int smem_purge(void)
{
	SMEM_KEEP_ERRNO;
	struct purge p = { .keys = smem_pkey_lib_bits() != 0 };
	int n;

	atomic_fetch_add_explicit(&smem_purge_epoch, 1, memory_order_seq_cst);
	p.zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (p.keys)
		p.saved_pkru = smem_rdpkru();
	n = smem_region_purge_walk(purge_region, &p);
	if (p.keys)
		smem_wrpkru(p.saved_pkru);
	if (p.zero_fd >= 0)
		close(p.zero_fd);
	return n;
}
