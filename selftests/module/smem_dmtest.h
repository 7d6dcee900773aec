/* SPDX-License-Identifier: GPL-2.0 */
/* Interface of the test-only module smem_dmtest (see smem_dmtest.c). */
#ifndef _SMEM_DMTEST_H
#define _SMEM_DMTEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SMEM_DMTEST_PATH	"/usr/lib/smem/selftests/smem_dmtest.ko"
#define SMEM_DMTEST_VIRT_TO_PFN	_IOWR('d', 1, __u64)
#define SMEM_DMTEST_VIRT_TO_CACHE	_IOWR('d', 2, __u64)

#endif /* _SMEM_DMTEST_H */
