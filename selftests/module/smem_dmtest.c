// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: read physical memory through the kernel direct map.
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
 * test can tell a write-back mapping from an uncached one.  /proc/self/pagemap cannot
 * say it for smem's mappings: the page walker skips VM_PFNMAP areas.
 *
 * Root only; never installed.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pgtable.h>
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

static long smem_dmtest_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	u64 __user *uarg = (u64 __user *)arg;
	u64 addr;
	pte_t pte;
	long ret;

	if (cmd != SMEM_DMTEST_VIRT_TO_PFN && cmd != SMEM_DMTEST_VIRT_TO_CACHE)
		return -ENOTTY;
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

module_misc_device(smem_dmtest_misc);

MODULE_DESCRIPTION("smem test helper: read physical memory through the direct map");
MODULE_LICENSE("GPL");
