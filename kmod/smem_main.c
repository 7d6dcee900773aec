// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/smem: secret memory outside the kernel direct map.
 *
 * The misc device, its statistics in sysfs, and the system events that
 * must not see a secret: hibernation is vetoed while any secret page is
 * in use, and reboot and kexec wipe every page first (panic: smem_panic.c).
 *
 * The device is root's (mode 0600) unless udev says otherwise: the shipped
 * rule gives it to the group "smem".  The pool is one resource for the
 * whole machine, so who may use it is the administrator's choice.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cc_platform.h>
#include <linux/fs.h>
#include <linux/kexec.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/reboot.h>
#include <linux/suspend.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include "smem.h"

static u64 smem_status(void)
{
	struct smem_carve_stats carve = {};
	u64 status = 0;

	if (kexec_crash_loaded())
		status |= SMEM_STATUS_CRASH_KERNEL;
	if (smem_pool_source() == SMEM_SOURCE_CARVEOUT) {
		smem_carve_stats(&carve);
		if (carve.below_block)
			status |= SMEM_STATUS_POOL_BELOW_BLOCK;
	}
	return status;
}

static long smem_ioctl_query(void __user *arg)
{
	struct smem_carve_stats carve = {};
	struct smem_pool_stats stats;
	struct smem_query q = {
		.abi_version	= SMEM_ABI_VERSION,
		.page_source	= smem_pool_source(),
		.features	= SMEM_FEAT_PROTECT | SMEM_FEAT_SEAL |
				  SMEM_FEAT_WIPE | SMEM_FEAT_INFO,
		.page_size	= PAGE_SIZE,
		.user_max_pages	= smem_account_user_max_pages(),
		.status		= smem_status(),
	};

	smem_pool_stats(&stats);
	q.pool_pages = stats.pool_pages;
	q.pages_in_use = stats.pages_in_use;
	q.objects = stats.objects;
	q.alloc_failures = stats.alloc_failures;
	if (smem_pool_source() == SMEM_SOURCE_CARVEOUT) {
		smem_carve_stats(&carve);
		q.block_pages = carve.block_pages;
		q.carvable_pages = carve.carvable_pages;
		q.refused_blocks = carve.refused_blocks;
		q.pending_pages = carve.pending_blocks * carve.block_pages;
	}
	if (smem_pool_outside_direct_map())
		q.features |= SMEM_FEAT_NO_DIRECT_MAP;

	return copy_to_user(arg, &q, sizeof(q)) ? -EFAULT : 0;
}

static long smem_ioctl_pool_resize(void __user *arg)
{
	struct smem_pool_resize req;
	long ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.pad)
		return -EINVAL;
	if (smem_pool_source() == SMEM_SOURCE_CARVEOUT) {
		ret = smem_carve_resize(req.size, &req.pool_size);
	} else {
		req.pool_size = PFN_PHYS(smem_pool_pages());
		ret = -EOPNOTSUPP;
	}
	if (copy_to_user(arg, &req, sizeof(req)))
		return -EFAULT;
	return ret;
}

static long smem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SMEM_IOC_QUERY:
		return smem_ioctl_query(uarg);
	case SMEM_IOC_POOL_RESIZE:
		return smem_ioctl_pool_resize(uarg);
	default:
		return smem_object_ioctl(file, cmd, uarg);
	}
}

static const struct file_operations smem_fops = {
	.owner		= THIS_MODULE,
	.open		= smem_object_open,
	.release	= smem_object_release,
	.mmap		= smem_object_mmap,
	.unlocked_ioctl	= smem_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/* Statistics: /sys/class/misc/smem/<name> */
#define SMEM_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct smem_pool_stats stats;					\
									\
	smem_pool_stats(&stats);					\
	return sysfs_emit(buf, "%lu\n", stats.name);			\
}									\
static DEVICE_ATTR_RO(name)

SMEM_STAT_ATTR(pool_pages);
SMEM_STAT_ATTR(pool_blocks);
SMEM_STAT_ATTR(pages_in_use);
SMEM_STAT_ATTR(objects);
SMEM_STAT_ATTR(alloc_failures);

/* Carve figures: /sys/class/misc/smem/<name>, 0 for other page sources. */
#define SMEM_CARVE_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct smem_carve_stats stats = {};				\
									\
	if (smem_pool_source() == SMEM_SOURCE_CARVEOUT)			\
		smem_carve_stats(&stats);				\
	return sysfs_emit(buf, "%lu\n", stats.name);			\
}									\
static DEVICE_ATTR_RO(name)

SMEM_CARVE_ATTR(block_pages);
SMEM_CARVE_ATTR(carvable_pages);
SMEM_CARVE_ATTR(refused_blocks);
SMEM_CARVE_ATTR(pending_blocks);

static ssize_t user_max_pages_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", smem_account_user_max_pages());
}
static DEVICE_ATTR_RO(user_max_pages);

/* Root only: which users hold secrets is nobody else's business. */
static ssize_t users_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return smem_account_users_show(buf);
}
static DEVICE_ATTR_ADMIN_RO(users);

static ssize_t crash_kernel_loaded_show(struct device *dev,
					struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", !!kexec_crash_loaded());
}
static DEVICE_ATTR_RO(crash_kernel_loaded);

static ssize_t page_source_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", smem_pool_source_name());
}
static DEVICE_ATTR_RO(page_source);

static struct attribute *smem_attrs[] = {
	&dev_attr_pool_pages.attr,
	&dev_attr_pool_blocks.attr,
	&dev_attr_pages_in_use.attr,
	&dev_attr_objects.attr,
	&dev_attr_alloc_failures.attr,
	&dev_attr_page_source.attr,
	&dev_attr_block_pages.attr,
	&dev_attr_carvable_pages.attr,
	&dev_attr_refused_blocks.attr,
	&dev_attr_pending_blocks.attr,
	&dev_attr_user_max_pages.attr,
	&dev_attr_users.attr,
	&dev_attr_crash_kernel_loaded.attr,
	NULL
};
ATTRIBUTE_GROUPS(smem);

static struct miscdevice smem_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "smem",
	.fops	= &smem_fops,
	.groups	= smem_groups,
	.mode	= 0600,
};

/* A hibernation image would carry the secrets to disk. */
static int smem_pm_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct smem_pool_stats stats;

	if (action != PM_HIBERNATION_PREPARE)
		return NOTIFY_DONE;
	smem_pool_stats(&stats);
	if (stats.pages_in_use) {
		pr_info("hibernation refused: %lu secret pages in use\n", stats.pages_in_use);
		return notifier_from_errno(-EBUSY);
	}
	return NOTIFY_OK;
}

static struct notifier_block smem_pm_nb = {
	.notifier_call = smem_pm_notify,
};

/* Reboot, halt, power-off and kexec: memory may outlive this kernel. */
static int smem_reboot_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	smem_object_wipe_all();
	return NOTIFY_DONE;
}

static struct notifier_block smem_reboot_nb = {
	.notifier_call = smem_reboot_notify,
};

static int __init smem_init(void)
{
	int ret;

	/*
	 * In an SEV or TDX guest, memory is private to the guest and
	 * encrypted; memremap() of a carved range, which zeroes it, would
	 * write through the shared (unencrypted) view instead.
	 */
	if (cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT)) {
		pr_err("refusing to load in a confidential-computing guest (SEV/TDX): carved memory cannot be zeroed there\n");
		return -ENODEV;
	}

	ret = smem_pool_init();
	if (ret)
		return ret;
	ret = smem_object_fs_init();
	if (ret)
		goto err_pool_exit;
	ret = register_pm_notifier(&smem_pm_nb);
	if (ret)
		goto err_fs_exit;
	ret = register_reboot_notifier(&smem_reboot_nb);
	if (ret)
		goto err_unregister_pm;
	ret = smem_panic_init();
	if (ret)
		goto err_unregister_reboot;
	ret = misc_register(&smem_misc);
	if (ret)
		goto err_panic_exit;

	pr_info("version %s, page source %s\n", SMEM_VERSION, smem_pool_source_name());
	return 0;

err_panic_exit:
	smem_panic_exit();
err_unregister_reboot:
	unregister_reboot_notifier(&smem_reboot_nb);
err_unregister_pm:
	unregister_pm_notifier(&smem_pm_nb);
err_fs_exit:
	smem_object_fs_exit();
err_pool_exit:
	smem_pool_exit();
	return ret;
}

static void __exit smem_exit(void)
{
	misc_deregister(&smem_misc);
	smem_panic_exit();
	unregister_reboot_notifier(&smem_reboot_nb);
	unregister_pm_notifier(&smem_pm_nb);
	smem_object_fs_exit();
	smem_pool_exit();
}

module_init(smem_init);
module_exit(smem_exit);

MODULE_DESCRIPTION("Secret memory outside the kernel direct map");
/*
 * The module was called smem.ko before 0.1.0: "modprobe smem" and a
 * "smem" line in modules-load.d keep working through this alias on x86,
 * where no in-tree module is called smem ("options smem" lines do not:
 * modprobe matches options by module name).  Elsewhere Qualcomm's smem.ko
 * owns the name, and the alias is never looked at anyway (a module name
 * wins).
 */
#ifdef CONFIG_X86
MODULE_ALIAS("smem");
#endif
MODULE_LICENSE("GPL");
MODULE_VERSION(SMEM_VERSION);
