// SPDX-License-Identifier: GPL-2.0
/*
 * Secret objects: one per open() of /dev/smem.
 *
 * Each object gets an inode of its own on a private pseudo file system and
 * makes it the file's address space, so that unmap_mapping_range() on it
 * reaches every mapping of this object, in every process that has the file,
 * and no other object's.
 *
 * Page table entries are only ever inserted by the fault handler, which
 * reads the protection under the object's lock.  Tightening the protection
 * takes the lock for writing, changes the state and zaps every entry
 * before the ioctl returns; loosening needs no zap, the next access faults
 * and sees the new state.  Writes always go through ->pfn_mkwrite (the
 * mapping is write-notified), so a read-only object never gets a writable
 * entry.
 *
 * The mappings are VM_MIXEDMAP | VM_IO without ->access: get_user_pages()
 * refuses VM_IO, and with it ptrace, /proc/PID/mem, process_vm_readv(),
 * vmsplice(), O_DIRECT, io_uring and RDMA buffer registration.  Not
 * VM_PFNMAP: VFIO's type1 IOMMU driver follows the page tables of
 * VM_PFNMAP areas and maps their frames for device DMA, with no way for
 * us to revoke that when the object is freed; the entries of a
 * VM_MIXEDMAP area are "special" and it refuses them.  VM_DONTCOPY keeps
 * the mappings out of forked children (VM_IO forbids MADV_DOFORK), and
 * VM_DONTDUMP out of core dumps.
 *
 * An object's pages are published with smp_store_release() on @npages
 * and the object list is an RCU list, because the panic path reads both
 * without any lock.  A freed object is zeroed before it leaves the list,
 * so a panic at any point finds every secret page either on the list or
 * already zero.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/rculist.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "smem.h"
#include "smem_compat.h"

#define SMEM_FS_MAGIC	0x736d656d	/* "smem" */

/*
 * @inode and @node are set at open.  @lock protects @npages, @pfns,
 * @charge, @prot and @seals; @npages and @pfns are set once, by
 * SMEM_IOC_ALLOC, and from then on read without it by the panic path.
 * @seals is also read without it by ->mprotect (mmap_lock held).
 */
struct smem_object {
	struct rw_semaphore lock;
	struct inode *inode;		/* private address space: every mapping */
	struct list_head node;		/* in smem_objects */
	unsigned long npages;		/* 0 until SMEM_IOC_ALLOC */
	unsigned long *pfns;
	struct smem_charge charge;
	u32 prot;
	u32 seals;
	struct rcu_head rcu;
};

static struct vfsmount *smem_mnt;

/*
 * Every object, for the wipe at reboot, kexec and panic.  Changed under
 * smem_objects_lock with the RCU list primitives: the panic path walks it
 * without the lock.
 */
static LIST_HEAD(smem_objects);
static DEFINE_MUTEX(smem_objects_lock);

static struct smem_object *smem_vma_object(struct vm_area_struct *vma)
{
	return vma->vm_file->private_data;
}

static vm_fault_t smem_vm_fault(struct vm_fault *vmf)
{
	struct smem_object *obj = smem_vma_object(vmf->vma);
	vm_fault_t ret;

	down_read(&obj->lock);
	if (vmf->pgoff >= obj->npages)
		ret = VM_FAULT_SIGBUS;
	else if (obj->prot == SMEM_PROT_NONE)
		ret = VM_FAULT_SIGSEGV;
	else if ((vmf->flags & FAULT_FLAG_WRITE) && obj->prot != SMEM_PROT_READWRITE)
		ret = VM_FAULT_SIGSEGV;
	else
		/* Read-only entry: a write comes back through ->pfn_mkwrite. */
		ret = smem_vmf_insert_mixed(vmf->vma, vmf->address, obj->pfns[vmf->pgoff]);
	up_read(&obj->lock);
	return ret;
}

/*
 * A write to a present, read-only entry.  If the object is tightened right
 * after this returns, the core fault code notices that the entry it was
 * about to make writable has been zapped, and the access faults again.
 */
static vm_fault_t smem_vm_pfn_mkwrite(struct vm_fault *vmf)
{
	struct smem_object *obj = smem_vma_object(vmf->vma);
	vm_fault_t ret;

	down_read(&obj->lock);
	ret = obj->prot == SMEM_PROT_READWRITE ? 0 : VM_FAULT_SIGSEGV;
	up_read(&obj->lock);
	return ret;
}

static int smem_vm_mprotect(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, unsigned long newflags)
{
	struct smem_object *obj = smem_vma_object(vma);

	if ((newflags & VM_WRITE) && (READ_ONCE(obj->seals) & SMEM_SEAL_WRITE))
		return -EACCES;
	return 0;
}

static const struct vm_operations_struct smem_vm_ops = {
	.fault		= smem_vm_fault,
	.pfn_mkwrite	= smem_vm_pfn_mkwrite,
	.mprotect	= smem_vm_mprotect,
	/* No .access: ptrace and /proc/PID/mem must not read secrets. */
};

int smem_object_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct smem_object *obj = file->private_data;
	bool sealed;
	int ret = 0;

	/* VM_MAYSHARE, not VM_SHARED: the latter is clear for O_RDONLY files. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;

	down_read(&obj->lock);
	sealed = obj->seals & SMEM_SEAL_WRITE;
	if (!obj->npages)
		ret = -ENODEV;
	else if (vma->vm_pgoff >= obj->npages ||
		 vma_pages(vma) > obj->npages - vma->vm_pgoff)
		ret = -EINVAL;
	else if (sealed && (vma->vm_flags & VM_WRITE))
		ret = -EPERM;
	up_read(&obj->lock);
	if (ret)
		return ret;

	vm_flags_set(vma, VM_MIXEDMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY);
	vm_flags_clear(vma, VM_MAYEXEC | (sealed ? VM_MAYWRITE : 0));
	vma->vm_ops = &smem_vm_ops;
	return 0;
}

/* Revoke every page table entry of every mapping of @obj. */
static void smem_object_revoke(struct smem_object *obj)
{
	unmap_mapping_range(obj->inode->i_mapping, 0, 0, 1);
}

static long smem_ioctl_alloc(struct smem_object *obj, void __user *arg)
{
	struct smem_charge charge = {};
	struct smem_alloc req;
	unsigned long npages, *pfns;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.pad || !req.size)
		return -EINVAL;
	/* Rounded up without overflow, whatever the size. */
	npages = (req.size >> PAGE_SHIFT) + !!offset_in_page(req.size);
	if (READ_ONCE(obj->npages))
		return -EBUSY;
	/* Before the array of frame numbers: it could be huge. */
	ret = smem_pool_can_hold(npages);
	if (ret)
		return ret;

	/*
	 * Charged here, never at fault time, so no fault can fail later.
	 * Not under obj->lock: nothing here needs it until the pages are in.
	 */
	ret = smem_account_charge(&charge, npages);
	if (ret)
		return ret;
	pfns = kvmalloc_array(npages, sizeof(*pfns), GFP_KERNEL_ACCOUNT);
	if (!pfns) {
		ret = -ENOMEM;
		goto err_uncharge;
	}
	ret = smem_pool_alloc(npages, pfns);
	if (ret)
		goto err_free_pfns;

	down_write(&obj->lock);
	if (obj->npages) {
		/* Another thread allocated meanwhile. */
		up_write(&obj->lock);
		ret = -EBUSY;
		goto err_free_pages;
	}
	obj->pfns = pfns;
	obj->charge = charge;
	/* Pairs with smp_load_acquire() in smem_object_wipe_atomic(). */
	smp_store_release(&obj->npages, npages);
	up_write(&obj->lock);
	return 0;

err_free_pages:
	/* Never mapped, still zero. */
	smem_pool_free(npages, pfns, true);
err_free_pfns:
	kvfree(pfns);
err_uncharge:
	smem_account_uncharge(&charge);
	return ret;
}

static long smem_ioctl_protect(struct smem_object *obj, void __user *arg)
{
	struct smem_protect req;
	long ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags)
		return -EINVAL;
	if (req.prot != SMEM_PROT_NONE && req.prot != SMEM_PROT_READ &&
	    req.prot != SMEM_PROT_READWRITE)
		return -EINVAL;

	down_write(&obj->lock);
	if (!obj->npages) {
		ret = -ENODEV;
	} else if (obj->seals & SMEM_SEAL_PROTECT) {
		ret = -EPERM;
	} else if (req.prot == SMEM_PROT_READWRITE && (obj->seals & SMEM_SEAL_WRITE)) {
		ret = -EPERM;
	} else {
		/* A permission taken away: no entry may keep it. */
		bool tighter = obj->prot & ~req.prot;

		obj->prot = req.prot;
		if (tighter)
			smem_object_revoke(obj);
	}
	up_write(&obj->lock);
	return ret;
}

static long smem_ioctl_seal(struct smem_object *obj, void __user *arg)
{
	struct smem_seal req;
	long ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || !req.seals || (req.seals & ~SMEM_SEAL_ALL))
		return -EINVAL;

	down_write(&obj->lock);
	if (!obj->npages)
		ret = -ENODEV;
	else if ((req.seals & SMEM_SEAL_WRITE) && obj->prot == SMEM_PROT_READWRITE)
		ret = -EBUSY;
	else
		WRITE_ONCE(obj->seals, obj->seals | req.seals);
	up_write(&obj->lock);
	return ret;
}

static long smem_ioctl_wipe(struct smem_object *obj, void __user *arg)
{
	struct smem_wipe req;
	u64 size;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.pad || !req.length)
		return -EINVAL;

	down_read(&obj->lock);
	size = (u64)obj->npages << PAGE_SHIFT;
	if (!obj->npages)
		ret = -ENODEV;
	else if (req.offset >= size || req.length > size - req.offset)
		ret = -EINVAL;
	else if (obj->seals & SMEM_SEAL_WRITE)
		ret = -EPERM;
	else
		ret = smem_pool_zero(obj->pfns, req.offset, req.length);
	up_read(&obj->lock);
	return ret;
}

static long smem_ioctl_info(struct smem_object *obj, void __user *arg)
{
	struct smem_object_info info = {};

	down_read(&obj->lock);
	if (obj->npages) {
		info.size = (u64)obj->npages << PAGE_SHIFT;
		info.page_source = smem_pool_source();
		if (smem_pool_outside_direct_map())
			info.flags |= SMEM_INFO_NO_DIRECT_MAP;
	}
	info.prot = obj->prot;
	info.seals = obj->seals;
	up_read(&obj->lock);

	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

long smem_object_ioctl(struct file *file, unsigned int cmd, void __user *arg)
{
	struct smem_object *obj = file->private_data;

	switch (cmd) {
	case SMEM_IOC_ALLOC:
		return smem_ioctl_alloc(obj, arg);
	case SMEM_IOC_PROTECT:
		return smem_ioctl_protect(obj, arg);
	case SMEM_IOC_SEAL:
		return smem_ioctl_seal(obj, arg);
	case SMEM_IOC_WIPE:
		return smem_ioctl_wipe(obj, arg);
	case SMEM_IOC_INFO:
		return smem_ioctl_info(obj, arg);
	default:
		return -ENOTTY;
	}
}

int smem_object_open(struct inode *inode, struct file *file)
{
	struct smem_object *obj;
	int ret;

	obj = kzalloc(sizeof(*obj), GFP_KERNEL_ACCOUNT);
	if (!obj)
		return -ENOMEM;
	obj->inode = alloc_anon_inode(smem_mnt->mnt_sb);
	if (IS_ERR(obj->inode)) {
		ret = PTR_ERR(obj->inode);
		goto err_free_obj;
	}
	init_rwsem(&obj->lock);
	obj->prot = SMEM_PROT_READWRITE;

	file->f_mapping = obj->inode->i_mapping;
	file->private_data = obj;
	mutex_lock(&smem_objects_lock);
	list_add_rcu(&obj->node, &smem_objects);
	mutex_unlock(&smem_objects_lock);

	/* Neither seekable nor readable: only ioctl and mmap. */
	return stream_open(inode, file);

err_free_obj:
	kfree(obj);
	return ret;
}

static void smem_object_free_rcu(struct rcu_head *rcu)
{
	struct smem_object *obj = container_of(rcu, struct smem_object, rcu);

	kvfree(obj->pfns);
	kfree(obj);
}

/*
 * The last file reference is gone, and with it the last mapping.  The
 * pages are zeroed while the object is still on the list, so that a panic
 * meanwhile wipes them too; then it leaves the list; then the pages go
 * back to the pool.  The object itself is freed after a grace period: a
 * panicking CPU may be walking the list.
 */
int smem_object_release(struct inode *inode, struct file *file)
{
	struct smem_object *obj = file->private_data;
	bool zeroed = true;

	if (obj->npages)
		zeroed = !smem_pool_zero(obj->pfns, 0, PFN_PHYS(obj->npages));

	mutex_lock(&smem_objects_lock);
	list_del_rcu(&obj->node);
	mutex_unlock(&smem_objects_lock);

	if (obj->npages) {
		smem_pool_free(obj->npages, obj->pfns, zeroed);
		smem_account_uncharge(&obj->charge);
	}
	iput(obj->inode);
	call_rcu(&obj->rcu, smem_object_free_rcu);
	return 0;
}

/* Reboot and kexec: no secret may survive in memory. */
void smem_object_wipe_all(void)
{
	struct smem_object *obj;

	mutex_lock(&smem_objects_lock);
	list_for_each_entry(obj, &smem_objects, node) {
		down_read(&obj->lock);
		if (obj->npages)
			smem_pool_zero(obj->pfns, 0, obj->npages << PAGE_SHIFT);
		up_read(&obj->lock);
	}
	mutex_unlock(&smem_objects_lock);
}

/*
 * Panic: no lock can be taken (its holder may be a stopped CPU), so the
 * list is walked under RCU alone; an object's pages are seen only once
 * they are published (smem_ioctl_alloc()).
 */
void smem_object_wipe_atomic(void)
{
	struct smem_object *obj;

	rcu_read_lock();
	list_for_each_entry_rcu(obj, &smem_objects, node) {
		/* Pairs with smp_store_release() in smem_ioctl_alloc(). */
		unsigned long npages = smp_load_acquire(&obj->npages);

		if (npages)
			smem_panic_zero(obj->pfns, npages);
	}
	rcu_read_unlock();
}

static int smem_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, SMEM_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * No .owner: the internal mount would pin the module forever.  Open files
 * pin it instead, through the device's file operations.
 */
static struct file_system_type smem_fs_type = {
	.name			= "smem",
	.init_fs_context	= smem_init_fs_context,
	.kill_sb		= kill_anon_super,
};

int smem_object_fs_init(void)
{
	smem_mnt = kern_mount(&smem_fs_type);
	return PTR_ERR_OR_ZERO(smem_mnt);
}

void smem_object_fs_exit(void)
{
	/* Objects released just before unload are freed by RCU callbacks. */
	rcu_barrier();
	kern_unmount(smem_mnt);
}
