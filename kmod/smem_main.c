// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/smem: secret memory outside the kernel direct map.
 *
 * The misc device and its ioctl entry point.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include <uapi/linux/smem.h>

static int smem_open(struct inode *inode, struct file *file)
{
	/* Neither seekable nor readable: only ioctl and mmap. */
	return stream_open(inode, file);
}

static long smem_ioctl_query(void __user *arg)
{
	struct smem_query q = {
		.abi_version = SMEM_ABI_VERSION,
		.page_source = SMEM_SOURCE_NONE,
		.page_size = PAGE_SIZE,
	};

	return copy_to_user(arg, &q, sizeof(q)) ? -EFAULT : 0;
}

static long smem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SMEM_IOC_QUERY:
		return smem_ioctl_query(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations smem_fops = {
	.owner		= THIS_MODULE,
	.open		= smem_open,
	.unlocked_ioctl	= smem_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice smem_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "smem",
	.fops	= &smem_fops,
	.mode	= 0666,
};

static int __init smem_init(void)
{
	int ret;

	ret = misc_register(&smem_misc);
	if (ret)
		return ret;
	pr_info("version %s loaded\n", SMEM_VERSION);
	return 0;
}

static void __exit smem_exit(void)
{
	misc_deregister(&smem_misc);
}

module_init(smem_init);
module_exit(smem_exit);

MODULE_DESCRIPTION("Secret memory outside the kernel direct map");
MODULE_LICENSE("GPL");
MODULE_VERSION(SMEM_VERSION);
