// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: look at physical memory the way the kernel does.
 *
 * pread(fd, buf, len, phys) on /dev/smem_dmtest copies @len bytes (at most
 * a page, not crossing one) from the direct-map address of physical
 * address @phys with copy_from_kernel_nofault(), so a page that is not in
 * the direct map gives -EFAULT instead of an oops.  The suite uses it to
 * show that smem's pages cannot be read that way while ordinary pages can.
 *
 * ioctl(fd, SMEM_DMTEST_VIRT_TO_PFN, &u64) replaces the user address in
 * the u64 with the frame number its page table entry in the calling
 * process maps (-ENOENT when none is present); SMEM_DMTEST_VIRT_TO_CACHE
 * with the entry's caching bits (_PAGE_PWT | _PAGE_PCD | _PAGE_PAT), so a
 * test can tell a write-back mapping from an uncached one.
 *
 * SMEM_DMTEST_DIRECTMAP_SIZE replaces a physical address with the size of
 * the direct-map leaf that maps it (4 KiB, 2 MiB, 1 GiB), or 0 when the
 * direct map does not map it: which blocks boot memory put under 1 GiB
 * pages, and that a carved block left none behind.
 *
 * SMEM_DMTEST_CLAIM_AT_ADD makes the next add_memory() of a range that
 * overlaps [start, start + size) fail: a kprobe on add_memory() inserts a
 * busy "smem_dmtest" resource over the range right before add_memory()
 * requests it, as a driver that took the range would.  smem holds its own
 * exclusive resource over a carved block until just before it calls
 * add_memory(), so no claim made earlier could go in, and none made later
 * would be in time.  SMEM_DMTEST_RELEASE gives the range up (0), or only
 * disarms a claim that never fired (-ENOENT).  One claim at a time.
 *
 * Root only; never installed.
 */
#include <linux/fs.h>
#include <linux/ioport.h>
#include <linux/kprobes.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pgtable.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "smem_dmtest.h"

static ssize_t smem_dmtest_read(struct file *file, char __user *buf,
				size_t len, loff_t *ppos)
{
	u64 phys = *ppos;
	u8 *bounce;
	ssize_t ret;

	if (len == 0 || len > PAGE_SIZE - offset_in_page(phys))
		return -EINVAL;
	/* Beyond what the direct map can cover: not an address to probe. */
	if (phys >= (1ULL << MAX_PHYSMEM_BITS))
		return -EINVAL;

	bounce = kmalloc(len, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;
	ret = copy_from_kernel_nofault(bounce, __va(phys), len);
	if (!ret)
		ret = copy_to_user(buf, bounce, len) ? -EFAULT : len;
	kfree_sensitive(bounce);
	return ret;
}

/*
 * Walk the calling process's page tables down to the PTE of @addr.
 * Large (PUD/PMD) entries count as absent: smem maps 4 KiB entries.
 * The mmap lock keeps the tables in place while the process does not
 * unmap the address concurrently, which the tests never do.
 */
static long smem_dmtest_virt_to_pte(unsigned long addr, pte_t *ptep)
{
	struct mm_struct *mm = current->mm;
	long ret = -ENOENT;
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;
	pte_t pte;

	mmap_read_lock(mm);
	pgd = pgd_offset(mm, addr);
	if (pgd_none(*pgd) || pgd_bad(*pgd))
		goto out;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		goto out;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_bad(*pud))
		goto out;
	pmd = pmd_offset(pud, addr);
	if (pmd_none(*pmd) || pmd_bad(*pmd))
		goto out;
	pte = READ_ONCE(*pte_offset_kernel(pmd, addr));
	if (pte_present(pte)) {
		*ptep = pte;
		ret = 0;
	}
out:
	mmap_read_unlock(mm);
	return ret;
}

static long smem_dmtest_pte_ioctl(unsigned int cmd, u64 __user *uarg)
{
	u64 addr;
	pte_t pte;
	long ret;

	if (get_user(addr, uarg))
		return -EFAULT;
	if (addr >= TASK_SIZE)
		return -EINVAL;
	ret = smem_dmtest_virt_to_pte(addr, &pte);
	if (ret)
		return ret;
	if (cmd == SMEM_DMTEST_VIRT_TO_PFN)
		return put_user((u64)pte_pfn(pte), uarg);
	return put_user((u64)(pte_flags(pte) & _PAGE_CACHE_MASK), uarg);
}

/* The size of the direct-map leaf that maps a physical address, or 0. */
static long smem_dmtest_directmap_size(u64 __user *uarg)
{
	unsigned int level;
	u64 phys, size = 0;
	pte_t *pte;

	if (get_user(phys, uarg))
		return -EFAULT;
	if (phys >= (1ULL << MAX_PHYSMEM_BITS))
		return -EINVAL;
	pte = lookup_address((unsigned long)__va(phys), &level);
	if (pte && pte_present(*pte))
		size = page_level_size(level);
	return put_user(size, uarg);
}

/*
 * The claim: set up before its kprobe is registered and read-only until
 * it is unregistered, except @fired, which the probe sets once.
 */
static struct {
	struct mutex lock;		/* serializes claim and release */
	struct kprobe probe;
	struct resource *res;		/* NULL when no claim is armed */
	atomic_t fired;			/* @res is in the iomem tree */
} smem_dmtest_claim;

/*
 * On entry to add_memory(nid, start, size, flags): put the claimed range
 * in the iomem tree as busy, so that add_memory() finds it taken (-EEXIST).
 * insert_resource() takes a spinning lock and allocates nothing.
 */
static int smem_dmtest_add_memory_pre(struct kprobe *p, struct pt_regs *regs)
{
	u64 start = regs_get_kernel_argument(regs, 1);
	u64 size = regs_get_kernel_argument(regs, 2);
	struct resource *res = smem_dmtest_claim.res;

	if (start > res->end || start + size <= res->start)
		return 0;
	if (atomic_cmpxchg(&smem_dmtest_claim.fired, 0, 1))
		return 0;
	if (insert_resource(&iomem_resource, res)) {
		pr_warn("smem_dmtest: %pR is taken; add_memory() of it goes ahead\n", res);
		atomic_set(&smem_dmtest_claim.fired, 0);
	}
	return 0;
}

static long smem_dmtest_claim_at_add(struct smem_dmtest_range __user *uarg)
{
	struct smem_dmtest_range r;
	struct resource *res;
	long ret;

	/*
	 * Only a kprobe placed through ftrace runs its handler in ordinary
	 * task context; an int3 one runs it in exception context, where
	 * taking resource_lock is unsafe (lockdep says so).
	 */
	if (!IS_ENABLED(CONFIG_KPROBES_ON_FTRACE))
		return -EOPNOTSUPP;
	if (copy_from_user(&r, uarg, sizeof(r)))
		return -EFAULT;
	if (!r.size || r.start + r.size < r.start || r.start + r.size > (1ULL << MAX_PHYSMEM_BITS))
		return -EINVAL;
	res = kzalloc(sizeof(*res), GFP_KERNEL);
	if (!res)
		return -ENOMEM;
	res->name = "smem_dmtest";
	res->start = r.start;
	res->end = r.start + r.size - 1;
	res->flags = IORESOURCE_MEM | IORESOURCE_BUSY;

	mutex_lock(&smem_dmtest_claim.lock);
	if (smem_dmtest_claim.res) {
		ret = -EBUSY;
		goto out_free;
	}
	smem_dmtest_claim.res = res;
	atomic_set(&smem_dmtest_claim.fired, 0);
	smem_dmtest_claim.probe = (struct kprobe){
		.symbol_name	= "add_memory",
		.pre_handler	= smem_dmtest_add_memory_pre,
	};
	ret = register_kprobe(&smem_dmtest_claim.probe);
	if (!ret)
		goto out_unlock;
	smem_dmtest_claim.res = NULL;
out_free:
	kfree(res);
out_unlock:
	mutex_unlock(&smem_dmtest_claim.lock);
	return ret;
}

/* Disarm the claim and give its range up: 0, or -ENOENT if it never fired. */
static long smem_dmtest_release(void)
{
	long ret = -ENOENT;

	mutex_lock(&smem_dmtest_claim.lock);
	if (smem_dmtest_claim.res) {
		/* Waits for a probe handler that is running. */
		unregister_kprobe(&smem_dmtest_claim.probe);
		if (atomic_read(&smem_dmtest_claim.fired)) {
			release_resource(smem_dmtest_claim.res);
			ret = 0;
		}
		kfree(smem_dmtest_claim.res);
		smem_dmtest_claim.res = NULL;
	}
	mutex_unlock(&smem_dmtest_claim.lock);
	return ret;
}

static long smem_dmtest_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SMEM_DMTEST_VIRT_TO_PFN:
	case SMEM_DMTEST_VIRT_TO_CACHE:
		return smem_dmtest_pte_ioctl(cmd, uarg);
	case SMEM_DMTEST_DIRECTMAP_SIZE:
		return smem_dmtest_directmap_size(uarg);
	case SMEM_DMTEST_CLAIM_AT_ADD:
		return smem_dmtest_claim_at_add(uarg);
	case SMEM_DMTEST_RELEASE:
		return smem_dmtest_release();
	default:
		return -ENOTTY;
	}
}

static const struct file_operations smem_dmtest_fops = {
	.owner		= THIS_MODULE,
	.read		= smem_dmtest_read,
	.unlocked_ioctl	= smem_dmtest_ioctl,
	.llseek		= default_llseek,
};

static struct miscdevice smem_dmtest_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "smem_dmtest",
	.fops	= &smem_dmtest_fops,
	.mode	= 0600,
};

static int __init smem_dmtest_init(void)
{
	mutex_init(&smem_dmtest_claim.lock);
	return misc_register(&smem_dmtest_misc);
}

static void __exit smem_dmtest_exit(void)
{
	misc_deregister(&smem_dmtest_misc);
	smem_dmtest_release();
}

module_init(smem_dmtest_init);
module_exit(smem_dmtest_exit);

MODULE_DESCRIPTION("smem test helper: physical memory as the kernel sees it");
MODULE_LICENSE("GPL");
