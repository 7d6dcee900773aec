/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * /dev/smem: secret memory outside the kernel direct map.
 *
 * Every open() of /dev/smem creates one secret object.  The object is
 * empty until SMEM_IOC_ALLOC gives it its pages; it can then be mapped
 * (MAP_SHARED, never executable) by any process holding the file
 * descriptor, and its protection is switched for every mapping at once
 * with SMEM_IOC_PROTECT.  The pages are freed, after being zeroed, when
 * the last file reference and the last mapping are gone.
 *
 * Rules common to every ioctl, following
 * Documentation/process/botching-up-ioctls.rst:
 *  - every argument is a fixed-size structure with explicit padding;
 *  - flags, padding and reserved fields must be zero, otherwise -EINVAL;
 *  - unknown commands fail with -ENOTTY;
 *  - a bad user pointer fails with -EFAULT and changes nothing.
 *
 * read(2), write(2) and lseek(2) on the file descriptor fail.
 */
#ifndef _UAPI_LINUX_SMEM_H
#define _UAPI_LINUX_SMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SMEM_ABI_VERSION	2

/* Where the pages of the pool come from (smem_query, smem_object_info). */
#define SMEM_SOURCE_NONE	0	/* no page taken yet */
#define SMEM_SOURCE_CARVEOUT	1	/* memory blocks removed from the kernel */
#define SMEM_SOURCE_RESERVED	2	/* a range reserved at boot (memmap=) */
#define SMEM_SOURCE_FALLBACK	3	/* ordinary pages, still in the direct map */

/* Protection of an object, for every mapping of it (SMEM_IOC_PROTECT). */
#define SMEM_PROT_NONE		0	/* any access is SIGSEGV / -EFAULT */
#define SMEM_PROT_READ		1	/* read only; a write is SIGSEGV */
#define SMEM_PROT_READWRITE	3	/* read and write */

/* Seals (SMEM_IOC_SEAL); a seal can never be removed. */
#define SMEM_SEAL_WRITE		(1U << 0)	/* never READWRITE again, no wipe */
#define SMEM_SEAL_PROTECT	(1U << 1)	/* protection frozen as it is */
#define SMEM_SEAL_ALL		(SMEM_SEAL_WRITE | SMEM_SEAL_PROTECT)

/* smem_query.features */
#define SMEM_FEAT_PROTECT	(1ULL << 0)	/* SMEM_IOC_PROTECT */
#define SMEM_FEAT_SEAL		(1ULL << 1)	/* SMEM_IOC_SEAL */
#define SMEM_FEAT_WIPE		(1ULL << 2)	/* SMEM_IOC_WIPE */
#define SMEM_FEAT_INFO		(1ULL << 3)	/* SMEM_IOC_INFO */
/* Pages now handed out are outside the kernel direct map. */
#define SMEM_FEAT_NO_DIRECT_MAP	(1ULL << 4)

/* smem_query.status: what the administrator should know */
/* A crash (kdump) kernel is loaded: see "Crash dumps" in smem(7). */
#define SMEM_STATUS_CRASH_KERNEL	(1ULL << 0)
/* The pool is smaller than one memory block: nothing can be carved. */
#define SMEM_STATUS_POOL_BELOW_BLOCK	(1ULL << 1)

/**
 * struct smem_query - what the device offers (SMEM_IOC_QUERY)
 * @abi_version:	SMEM_ABI_VERSION of the module
 * @page_source:	SMEM_SOURCE_* the pool takes pages from
 * @features:		SMEM_FEAT_* bits
 * @page_size:		granule of allocation, in bytes
 * @pool_pages:		pages the pool holds now (free and in use)
 * @pages_in_use:	pages given to objects
 * @objects:		objects with pages
 * @alloc_failures:	SMEM_IOC_ALLOC calls that failed for lack of pages
 *			in the pool (-ENOSPC)
 * @block_pages:	pages in one memory block, the unit by which a
 *			carved pool grows and shrinks; 0 for other sources
 * @carvable_pages:	pages of the memory blocks that the pool could still
 *			try to carve (eligible, not yet refused)
 * @refused_blocks:	blocks that refused to go offline; never tried again
 *			while the module is loaded
 * @pending_pages:	pages of blocks that left the pool but could not be
 *			given back to the kernel yet; retried
 * @user_max_pages:	most pages one user may hold (0: no per-user cap);
 *			CAP_SYS_RESOURCE is exempt
 * @status:		SMEM_STATUS_* bits
 * @reserved:		zero
 *
 * Output only: the kernel fills the whole structure.
 */
struct smem_query {
	__u32 abi_version;
	__u32 page_source;
	__u64 features;
	__u64 page_size;
	__u64 pool_pages;
	__u64 pages_in_use;
	__u64 objects;
	__u64 alloc_failures;
	__u64 block_pages;
	__u64 carvable_pages;
	__u64 refused_blocks;
	__u64 pending_pages;
	__u64 user_max_pages;
	__u64 status;
	__u64 reserved[4];
};

/**
 * struct smem_alloc - give the object its pages (SMEM_IOC_ALLOC)
 * @size:	bytes, rounded up to whole pages; not zero
 * @flags:	zero
 * @pad:	zero
 *
 * Once per object (-EBUSY the second time).  Every page is taken from
 * the pool, already zeroed, before the call returns, so no later fault can
 * fail for lack of memory.  The pool never grows here: only the
 * administrator sizes it (SMEM_IOC_POOL_RESIZE, the pool_mb parameter).
 *
 * The pages are charged to the calling user (not to the process: the
 * charge stays while the object lives, across exec and exit) against the
 * caller's RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK: -EAGAIN when over
 * it.  -EDQUOT when the user would hold more than user_max_pages of the
 * pool (unless CAP_SYS_RESOURCE); -ENOSPC when the pool has too few free
 * pages; -EINVAL for a zero size.  A new object starts in
 * SMEM_PROT_READWRITE.
 */
struct smem_alloc {
	__u64 size;
	__u32 flags;
	__u32 pad;
};

/**
 * struct smem_protect - switch the protection (SMEM_IOC_PROTECT)
 * @prot:	SMEM_PROT_NONE, SMEM_PROT_READ or SMEM_PROT_READWRITE
 * @flags:	zero
 *
 * Takes effect for every mapping in every process before the call
 * returns.  -EPERM when SMEM_SEAL_PROTECT is set, or when @prot is
 * READWRITE and SMEM_SEAL_WRITE is set; -ENODEV before SMEM_IOC_ALLOC.
 */
struct smem_protect {
	__u32 prot;
	__u32 flags;
};

/**
 * struct smem_seal - add seals (SMEM_IOC_SEAL)
 * @seals:	SMEM_SEAL_* bits to add; not zero
 * @flags:	zero
 *
 * SMEM_SEAL_WRITE needs the object not to be READWRITE (-EBUSY); after
 * it, mmap() with PROT_WRITE and mprotect() to PROT_WRITE fail.
 */
struct smem_seal {
	__u32 seals;
	__u32 flags;
};

/**
 * struct smem_wipe - zero a byte range of the object now (SMEM_IOC_WIPE)
 * @offset:	first byte
 * @length:	bytes; not zero; @offset + @length within the object
 * @flags:	zero
 * @pad:	zero
 *
 * Works whatever the protection; -EPERM when SMEM_SEAL_WRITE is set.
 */
struct smem_wipe {
	__u64 offset;
	__u64 length;
	__u32 flags;
	__u32 pad;
};

/**
 * struct smem_object_info - state of the object (SMEM_IOC_INFO)
 * @size:		bytes allocated (whole pages), 0 before SMEM_IOC_ALLOC
 * @prot:		current SMEM_PROT_*
 * @seals:		SMEM_SEAL_* set
 * @page_source:	SMEM_SOURCE_* of the object's pages
 * @flags:		SMEM_INFO_* bits
 * @reserved:		zero
 *
 * Output only.
 */
struct smem_object_info {
	__u64 size;
	__u32 prot;
	__u32 seals;
	__u32 page_source;
	__u32 flags;
	__u64 reserved[4];
};

/* smem_object_info.flags */
#define SMEM_INFO_NO_DIRECT_MAP	(1U << 0)	/* pages outside the direct map */

/**
 * struct smem_pool_resize - grow or shrink a carved pool (SMEM_IOC_POOL_RESIZE)
 * @size:	in: the size the pool should have, in bytes, rounded down
 *		to whole memory blocks (@block_pages of struct smem_query)
 * @flags:	zero
 * @pad:	zero
 * @pool_size:	out: bytes the pool holds when the call returns, whatever
 *		it returns (except -EFAULT, -EINVAL and -EPERM)
 *
 * Needs CAP_SYS_ADMIN (-EPERM).  Growing takes memory blocks out of the
 * kernel, from the top of memory down, skipping blocks that a larger
 * direct-map page covers, that another driver manages, or that refused
 * before; -ENOSPC when no eligible block is left before @size is reached.
 * Shrinking gives empty blocks back to the kernel, which onlines them
 * according to its own policy; -EBUSY when blocks in use keep the pool
 * above @size.  Taking a block out waits until every page on it has
 * migrated elsewhere, which can take minutes on a busy machine; any
 * signal stops the call with -EINTR (while it waits for another resize,
 * between two blocks, or during a block's migration, which then stays in
 * the kernel and may be tried again).  -ENOMEM when the kernel runs out
 * of memory on the way (again, the block may be tried again).
 * -EOPNOTSUPP unless the page source is carveout.
 */
struct smem_pool_resize {
	__u64 size;
	__u32 flags;
	__u32 pad;
	__u64 pool_size;
};

#define SMEM_IOC_MAGIC		0xB9

#define SMEM_IOC_QUERY		_IOR(SMEM_IOC_MAGIC, 0x00, struct smem_query)
#define SMEM_IOC_ALLOC		_IOW(SMEM_IOC_MAGIC, 0x01, struct smem_alloc)
#define SMEM_IOC_PROTECT	_IOW(SMEM_IOC_MAGIC, 0x02, struct smem_protect)
#define SMEM_IOC_SEAL		_IOW(SMEM_IOC_MAGIC, 0x03, struct smem_seal)
#define SMEM_IOC_WIPE		_IOW(SMEM_IOC_MAGIC, 0x04, struct smem_wipe)
#define SMEM_IOC_INFO		_IOR(SMEM_IOC_MAGIC, 0x05, struct smem_object_info)
#define SMEM_IOC_POOL_RESIZE	_IOWR(SMEM_IOC_MAGIC, 0x06, struct smem_pool_resize)

#endif /* _UAPI_LINUX_SMEM_H */
