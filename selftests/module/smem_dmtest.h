/* SPDX-License-Identifier: GPL-2.0 */
/* Interface of the test-only module smem_dmtest (see smem_dmtest.c). */
#ifndef _SMEM_DMTEST_H
#define _SMEM_DMTEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Where tools/vm-run's guest has it; dmtest_open_ko() looks beside the program first. */
#define SMEM_DMTEST_PATH	"/usr/lib/smem/selftests/smem_dmtest.ko"
#define SMEM_DMTEST_VIRT_TO_PFN	_IOWR('d', 1, __u64)
#define SMEM_DMTEST_VIRT_TO_CACHE	_IOWR('d', 2, __u64)
/* in: a physical address; out: bytes of the direct-map leaf mapping it, or 0 */
#define SMEM_DMTEST_DIRECTMAP_SIZE	_IOWR('d', 3, __u64)

/* A physical range, [start, start + size). */
struct smem_dmtest_range {
	__u64 start;
	__u64 size;
};

/* The next add_memory() overlapping the range finds it busy. */
#define SMEM_DMTEST_CLAIM_AT_ADD	_IOW('d', 4, struct smem_dmtest_range)
/* Give the claimed range up; -ENOENT when the claim never fired. */
#define SMEM_DMTEST_RELEASE		_IO('d', 5)

#endif /* _SMEM_DMTEST_H */
