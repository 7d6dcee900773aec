// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * RLIMIT_MEMLOCK in the library's terms, for the backends whose kernel
 * interfaces say ENOMEM for it.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/*
 * Whether this process is in the initial user namespace, whose uid_map
 * maps every uid to itself.  Without /proc it cannot tell, and says yes.
 */
static bool initial_user_ns(void)
{
	unsigned long inside, outside, count;
	FILE *f = fopen("/proc/self/uid_map", "re");
	bool initial = true;

	if (!f)
		return true;
	if (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		initial = !inside && !outside && count == 4294967295UL;
	fclose(f);
	return initial;
}

/*
 * Whether RLIMIT_MEMLOCK applies to this process: a finite limit and,
 * when @capability_exempts, no CAP_IPC_LOCK in the effective set (which
 * lifts it for mlock(2)).  The kernel asks for the capability in the
 * initial user namespace: in any other (a rootless container), having it
 * changes nothing.
 */
static bool memlock_limited(bool capability_exempts)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return false;
	if (!capability_exempts || syscall(SYS_capget, &hdr, data))
		return true;
	if (!(data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK)))
		return true;
	return !initial_user_ns();
}

/*
 * mlock(2) says ENOMEM both for a shortage and for going over
 * RLIMIT_MEMLOCK, and EPERM for a limit of 0, and memfd_secret(2) pages
 * over the limit fail with ENOMEM when they are faulted in on kernels
 * that do not check the limit at mmap() (Debian's 6.12 does not; 6.18
 * says EAGAIN there): the public API has -EAGAIN for the limit (smem.h),
 * as /dev/smem says it.  Under a limit that applies, ENOMEM is taken for
 * the limit; a process the limit does not bind gets -ENOMEM for a
 * shortage.  Debian's 6.1 and 6.12 charge faulted secret pages to the
 * user's locked memory with no exemption for CAP_IPC_LOCK (mm/secretmem.c,
 * __secretmem_account_pages()): there the capability exempts nothing.
 */
int smem_memlock_error(int err, bool capability_exempts)
{
	if (err == EPERM || (err == ENOMEM && memlock_limited(capability_exempts)))
		return -EAGAIN;
	return -err;
}
