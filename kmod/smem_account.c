// SPDX-License-Identifier: GPL-2.0
/*
 * Who pays for secret pages.
 *
 * RLIMIT_MEMLOCK: an object's pages can outlive the process that
 * allocated them (the fd is inherited, passed with SCM_RIGHTS, or kept
 * across exec), so they are charged to the user, not to the mm: to
 * user->locked_vm, as io_uring and RDMA charge memory that outlives a
 * process, against the allocating task's RLIMIT_MEMLOCK, and given back
 * when the object is freed.  CAP_IPC_LOCK is exempt, as for mlock().
 *
 * The pool: one user may hold at most user_max_percent of the pool's
 * pages, so that no user can take the whole pool from the others.
 * CAP_SYS_RESOURCE is exempt.  Users are counted by kuid in a small hash
 * table, the exempt ones too (the administrator sees every user's share
 * in the "users" attribute); an entry lives while the user holds pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/uidgid.h>

#include "smem.h"

static unsigned int user_max_percent = 50;

static int smem_param_set_percent(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	if (n > 100)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, n);
	return 0;
}

static const struct kernel_param_ops smem_percent_ops = {
	.set	= smem_param_set_percent,
	.get	= param_get_uint,
};

module_param_cb(user_max_percent, &smem_percent_ops, &user_max_percent, 0644);
MODULE_PARM_DESC(user_max_percent,
		 "Most of the pool one user may hold, in percent (default 50; 0: no limit)");

struct smem_user {
	struct hlist_node node;		/* in smem_users */
	kuid_t uid;
	unsigned long pages;		/* all the user holds; smem_users_lock */
	unsigned long share_pages;	/* of those, what counts against the share */
};

/* Protects the table and every entry's @pages; a leaf lock. */
static DEFINE_SPINLOCK(smem_users_lock);
static DEFINE_HASHTABLE(smem_users, 6);

/**
 * smem_account_user_max_pages() - the per-user share of the pool now
 *
 * Return: pages, or 0 when there is no per-user limit.
 */
unsigned long smem_account_user_max_pages(void)
{
	return mult_frac(smem_pool_pages(), READ_ONCE(user_max_percent), 100);
}

static struct smem_user *smem_user_find(kuid_t uid)
{
	struct smem_user *u;

	lockdep_assert_held(&smem_users_lock);
	hash_for_each_possible(smem_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* Count @npages against the current user's share of the pool. */
static int smem_charge_share(struct smem_charge *charge, unsigned long npages)
{
	struct smem_user *u, *new;
	unsigned long max = smem_account_user_max_pages();
	bool limited = READ_ONCE(user_max_percent) && !capable(CAP_SYS_RESOURCE);
	kuid_t uid = current_uid();
	int ret = 0;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return -ENOMEM;

	spin_lock(&smem_users_lock);
	u = smem_user_find(uid);
	if (!u) {
		u = new;
		new = NULL;
		u->uid = uid;
		hash_add(smem_users, &u->node, __kuid_val(uid));
	}
	if (limited && (npages > max || u->share_pages > max - npages)) {
		ret = -EDQUOT;
		if (!u->pages) {
			hash_del(&u->node);
			new = u;
		}
	} else {
		u->pages += npages;
		if (limited)
			u->share_pages += npages;
		charge->owner = u;
		charge->in_share = limited;
	}
	spin_unlock(&smem_users_lock);
	kfree(new);
	return ret;
}

static void smem_uncharge_share(struct smem_charge *charge)
{
	struct smem_user *u = charge->owner;

	if (!u)
		return;
	spin_lock(&smem_users_lock);
	u->pages -= charge->npages;
	if (charge->in_share)
		u->share_pages -= charge->npages;
	if (u->pages)
		u = NULL;
	else
		hash_del(&u->node);
	spin_unlock(&smem_users_lock);
	kfree(u);
	charge->owner = NULL;
}

/* One "UID PAGES" line, at @len of @buf, or 0 when it does not fit. */
static int smem_user_emit(char *buf, int len, unsigned int uid, unsigned long pages)
{
	char line[32];
	int n = scnprintf(line, sizeof(line), "%u %lu\n", uid, pages);

	/* Room for the closing "other" line, which is never longer. */
	if (len + n + (int)sizeof(line) > PAGE_SIZE)
		return 0;
	return sysfs_emit_at(buf, len, "%s", line);
}

/**
 * smem_account_users_show() - the pages each user holds, for sysfs
 * @buf: the attribute's page
 *
 * One "UID PAGES" line per user holding pages (UID in the initial user
 * namespace), in no order; users that do not fit in the page are summed
 * into a last line "other PAGES".
 *
 * Return: the length written.
 */
ssize_t smem_account_users_show(char *buf)
{
	unsigned long other = 0;
	struct smem_user *u;
	int bkt, len = 0, n;

	spin_lock(&smem_users_lock);
	hash_for_each(smem_users, bkt, u, node) {
		n = other ? 0 : smem_user_emit(buf, len, from_kuid_munged(&init_user_ns, u->uid),
					       u->pages);
		if (!n)
			other += u->pages;
		len += n;
	}
	spin_unlock(&smem_users_lock);
	if (other)
		len += sysfs_emit_at(buf, len, "other %lu\n", other);
	return len;
}

/* Charge @npages to the current user's locked_vm, as io_uring does. */
static int smem_charge_locked_vm(struct smem_charge *charge, unsigned long npages)
{
	struct user_struct *user = current_user();
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur, new;

	if (capable(CAP_IPC_LOCK))
		return 0;
	cur = atomic_long_read(&user->locked_vm);
	do {
		new = cur + npages;
		if (new < cur || new > limit)
			return -EAGAIN;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
	charge->user = get_uid(user);
	return 0;
}

static void smem_uncharge_locked_vm(struct smem_charge *charge)
{
	if (!charge->user)
		return;
	atomic_long_sub(charge->npages, &charge->user->locked_vm);
	free_uid(charge->user);
	charge->user = NULL;
}

/**
 * smem_account_charge() - charge an allocation to the current user
 * @charge: empty; filled with what was charged
 * @npages: the allocation's size
 *
 * Return: 0; -EAGAIN over RLIMIT_MEMLOCK; -EDQUOT over the user's share
 * of the pool; -ENOMEM.
 */
int smem_account_charge(struct smem_charge *charge, unsigned long npages)
{
	int ret;

	charge->npages = npages;
	ret = smem_charge_locked_vm(charge, npages);
	if (ret)
		return ret;
	ret = smem_charge_share(charge, npages);
	if (ret)
		smem_uncharge_locked_vm(charge);
	return ret;
}

/**
 * smem_account_uncharge() - give back what smem_account_charge() charged
 * @charge: the charge; empty afterwards
 *
 * From any task: the last reference to an object may be dropped by
 * another process than the one that allocated it.
 */
void smem_account_uncharge(struct smem_charge *charge)
{
	smem_uncharge_share(charge);
	smem_uncharge_locked_vm(charge);
	charge->npages = 0;
}
