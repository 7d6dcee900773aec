// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The mlock backend: anonymous memory, locked, left out of core dumps and
 * zeroed in forked children.  It is in the kernel direct map and open to
 * ptrace and /proc/PID/mem: the weakest backend, available everywhere.
 */
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

static int mlock_probe(unsigned int *guarantees)
{
	*guarantees = SMEM_BASE_GUARANTEES;
	return 0;
}

static int mlock_map(struct smem_region *r)
{
	if (mmap(r->base, r->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	if (madvise(r->base, r->size, MADV_DONTDUMP) ||
	    madvise(r->base, r->size, MADV_WIPEONFORK))
		return -errno;
	/* Locking faults every page in now: no later access can fail. */
	if (mlock(r->base, r->size))
		return smem_memlock_error(errno, true);
	return 0;
}

const struct smem_backend_desc smem_backend_mlock = {
	.id = SMEM_BACKEND_MLOCK,
	.name = "mlock",
	.probe = mlock_probe,
	.map = mlock_map,
};
