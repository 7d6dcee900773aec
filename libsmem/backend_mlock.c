// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The mlock backend: anonymous memory, locked, left out of core dumps and
 * zeroed in forked children.  It is in the kernel direct map and open to
 * ptrace and /proc/PID/mem: the weakest backend, available everywhere.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/*
 * Whether RLIMIT_MEMLOCK applies to this process: a finite limit, and no
 * CAP_IPC_LOCK in the effective set (which lifts it).
 */
static bool memlock_limited(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return false;
	if (syscall(SYS_capget, &hdr, data))
		return true;
	return !(data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK));
}

/*
 * mlock(2) says ENOMEM both for a shortage and for going over
 * RLIMIT_MEMLOCK, and EPERM for a limit of 0: the public API has -EAGAIN
 * for the limit (smem.h), as memfd_secret(2) and /dev/smem say it.  The
 * range is ours and mapped, so under a limit that applies ENOMEM is the
 * limit; a process the limit does not bind gets -ENOMEM for a shortage.
 */
static int mlock_error(int err)
{
	if (err == EPERM || (err == ENOMEM && memlock_limited()))
		return -EAGAIN;
	return -err;
}

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
		return mlock_error(errno);
	return 0;
}

const struct smem_backend_desc smem_backend_mlock = {
	.id = SMEM_BACKEND_MLOCK,
	.name = "mlock",
	.probe = mlock_probe,
	.map = mlock_map,
	.protect = smem_region_mprotect,
};
