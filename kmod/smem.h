/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smem internals shared between the device (smem_main.c), the secret
 * objects (smem_object.c), who pays for them (smem_account.c), the page
 * pool (smem_pool.c), the memory blocks it is made of (smem_carve.c) and
 * the wipe at panic (smem_panic.c).
 *
 * Lock order, outermost first; no path takes them in another order:
 *
 *   smem_carve.lock (mutex: resizing the pool, giving blocks back)
 *     -> device_hotplug_lock, mem_hotplug_lock (inside offline_and_remove_memory()
 *        and add_memory(); never with smem_pool.lock held)
 *     -> smem_pool.lock (mutex: the blocks of the pool and their bitmaps)
 *   smem_objects_lock (mutex: the list of objects, for the wipes)
 *     -> obj->lock (rwsem: an object's pages, protection and seals)
 *   mmap_lock -> obj->lock      (mmap() and the fault handlers)
 *   smem_users_lock (spinlock: per-user page counts) is a leaf.
 *
 * obj->lock is never held while smem_pool.lock is taken: pages go to and
 * come from the pool outside it.
 */
#ifndef _SMEM_H
#define _SMEM_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/types.h>

#include <uapi/linux/smem.h>

/* smem_pool.c */

/*
 * One run of physical pages of the pool: a carved memory block, or the
 * reserved range.  While a carved block is in the pool or pending (see
 * smem_carve.c), @res is an exclusive iomem resource over it, which keeps
 * /dev/mem out.
 */
struct smem_block {
	struct list_head node;		/* smem_pool.blocks or smem_carve.pending */
	phys_addr_t start;
	unsigned long npages;
	unsigned long nfree;		/* smem_pool.lock */
	unsigned long *used;		/* smem_pool.lock; one bit per page */
	struct resource *res;
	int nid;
};

struct smem_pool_stats {
	unsigned long pool_pages;
	unsigned long pool_blocks;
	unsigned long pages_in_use;
	unsigned long objects;
	unsigned long alloc_failures;
};

int smem_pool_init(void);
void smem_pool_exit(void);
int smem_pool_can_hold(unsigned long npages);
int smem_pool_alloc(unsigned long npages, unsigned long *pfns);
void smem_pool_free(unsigned long npages, const unsigned long *pfns, bool zeroed);
int smem_pool_zero(const unsigned long *pfns, unsigned long offset,
		   unsigned long length);
void smem_pool_stats(struct smem_pool_stats *stats);
unsigned long smem_pool_pages(void);
u32 smem_pool_source(void);
bool smem_pool_outside_direct_map(void);
const char *smem_pool_source_name(void);
struct smem_block *smem_block_new(phys_addr_t start, unsigned long npages, int nid);
void smem_block_free(struct smem_block *b);
int smem_block_claim(struct smem_block *b);
void smem_block_unclaim(struct smem_block *b);
void smem_block_abandon(struct smem_block *b, const char *why);
void smem_pool_add_block(struct smem_block *b);
struct smem_block *smem_pool_take_empty_block(void);

/* smem_carve.c */
struct smem_carve_stats {
	unsigned long block_pages;
	unsigned long carvable_pages;
	unsigned long refused_blocks;
	unsigned long pending_blocks;
	bool below_block;		/* pool_mb asked for less than a block */
};

int smem_carve_init(unsigned long pool_bytes);
void smem_carve_exit(void);
int smem_carve_resize(u64 size, u64 *pool_size);
void smem_carve_stats(struct smem_carve_stats *stats);

/* smem_account.c */
struct smem_user;

/* What an object's pages are charged to; all empty when nothing is. */
struct smem_charge {
	struct user_struct *user;	/* locked_vm charged, NULL if exempt */
	struct smem_user *owner;	/* the user's entry in the table */
	unsigned long npages;
	bool in_share;			/* counted against the share (not exempt) */
};

int smem_account_charge(struct smem_charge *charge, unsigned long npages);
void smem_account_uncharge(struct smem_charge *charge);
unsigned long smem_account_user_max_pages(void);
ssize_t smem_account_users_show(char *buf);

/* smem_object.c */
int smem_object_open(struct inode *inode, struct file *file);
int smem_object_release(struct inode *inode, struct file *file);
int smem_object_mmap(struct file *file, struct vm_area_struct *vma);
long smem_object_ioctl(struct file *file, unsigned int cmd, void __user *arg);
void smem_object_wipe_all(void);
void smem_object_wipe_atomic(void);
int smem_object_fs_init(void);
void smem_object_fs_exit(void);

/* smem_panic.c */
int smem_panic_init(void);
void smem_panic_exit(void);
void smem_panic_zero(const unsigned long *pfns, unsigned long npages);

#endif /* _SMEM_H */
