// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module: read physical memory through the kernel direct map.
 *
 * pread(fd, buf, len, phys) on /dev/smem_dmtest copies @len bytes (at most
 * a page, not crossing one) from the direct-map address of physical
 * address @phys with copy_from_kernel_nofault(), so a page that is not in
 * the direct map gives -EFAULT instead of an oops.  The suite uses it to
 * show that smem's pages cannot be read that way while ordinary pages can.
 * Root only; never installed.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

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

static const struct file_operations smem_dmtest_fops = {
	.owner	= THIS_MODULE,
	.read	= smem_dmtest_read,
	.llseek	= default_llseek,
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
