/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smem internals shared between the device (smem_main.c), the secret
 * objects (smem_object.c) and the page pool (smem_pool.c).
 */
#ifndef _SMEM_H
#define _SMEM_H

#include <linux/fs.h>
#include <linux/types.h>

#include <uapi/linux/smem.h>

/* smem_pool.c */
struct smem_pool_stats {
	unsigned long pool_pages;
	unsigned long pool_blocks;
	unsigned long pages_in_use;
	unsigned long objects;
	unsigned long alloc_failures;
};

int smem_pool_init(void);
void smem_pool_exit(void);
int smem_pool_alloc(unsigned long npages, unsigned long *pfns);
void smem_pool_free(unsigned long npages, const unsigned long *pfns);
int smem_pool_zero(const unsigned long *pfns, unsigned long offset,
		   unsigned long length);
void smem_pool_stats(struct smem_pool_stats *stats);
u32 smem_pool_source(void);
bool smem_pool_outside_direct_map(void);
unsigned long smem_pool_max_pages(void);
const char *smem_pool_source_name(void);

/* smem_object.c */
int smem_object_open(struct inode *inode, struct file *file);
int smem_object_release(struct inode *inode, struct file *file);
int smem_object_mmap(struct file *file, struct vm_area_struct *vma);
long smem_object_ioctl(struct file *file, unsigned int cmd, void __user *arg);
void smem_object_wipe_all(void);
void smem_object_wipe_atomic(void);

/* smem_panic.c */
int smem_panic_init(void);
void smem_panic_exit(void);
void smem_panic_zero(const unsigned long *pfns, unsigned long npages);
int smem_object_fs_init(void);
void smem_object_fs_exit(void);

#endif /* _SMEM_H */
