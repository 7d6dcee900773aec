// SPDX-License-Identifier: GPL-2.0
/*
 * Carving: the memory blocks of a carveout pool.
 *
 * A block is taken out of the kernel with offline_and_remove_memory(), the
 * way virtio-mem unplugs memory: out of the page allocator, out of the
 * direct map (the block goes whole, no 4 KiB split), out of /proc/kcore
 * and of hibernation images.  Only the administrator does this: at load
 * (pool_mb) and with SMEM_IOC_POOL_RESIZE (CAP_SYS_ADMIN).  An allocation
 * never carves, so no unprivileged request drives memory hot-remove.
 *
 * A block is eligible only if
 *  - it lies in one "System RAM" resource that no driver manages
 *    (virtio-mem, dax/kmem and CXL memory belong to their drivers), above
 *    the kernel image and the crash kernel reservation (removing a block
 *    below a child resource of its "System RAM" fails to split it, with a
 *    WARN in release_mem_region_adjustable());
 *  - no page of it is mapped by a direct-map leaf larger than 2 MiB: x86
 *    maps boot memory with 1 GiB pages, and removing 128 MiB of such a
 *    leaf tears down the whole GiB while the rest of it is online
 *    (remove_pud_table()), which corrupts memory.  nogbpages on the kernel
 *    command line makes every block eligible again;
 *  - it has not refused before: a block whose offlining failed (unmovable
 *    pages) is remembered and not tried again while the module is loaded,
 *    so a resize does not drain and dump the same pages over and over.
 * Blocks are tried from the top of memory down.
 *
 * A block leaves the pool only when it is empty; it goes back with
 * add_memory(), and the kernel's onlining policy (memhp_default_state,
 * auto_online_blocks, udev rules) decides whether it comes up online: no
 * module may online memory behind the administrator's back.  A block that
 * add_memory() refuses is kept, claimed, on the pending list, and tried
 * again every SMEM_RETRY_MS and on every resize.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ioport.h>
#include <linux/kexec.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/range.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <asm/pgtable_types.h>

#include "smem.h"

#define SMEM_RETRY_MS	10000

/*
 * @lock serializes every change of the pool's size: carving, giving back,
 * retrying the pending blocks, and the figures below.  It is held across
 * memory hotplug, which can take seconds, so allocations never wait on it
 * (they take smem_pool.lock only).
 */
static struct {
	struct mutex lock;
	struct xarray refused;		/* block index -> xa_mk_value(1) */
	unsigned long refused_blocks;
	struct list_head pending;	/* blocks add_memory() refused */
	unsigned long pending_blocks;
	unsigned long carvable_blocks;	/* as of the last resize */
	bool below_block;
	struct delayed_work retry_work;
} smem_carve;

static u64 smem_block_bytes(void)
{
	return memory_block_size_bytes();
}

/* Kernel-owned ranges inside System RAM that a removal must stay above. */
#define SMEM_MAX_PINNED	4

struct smem_walk {
	u64 ceiling;			/* only blocks below this */
	unsigned int npinned;
	struct range pinned[SMEM_MAX_PINNED];
	u64 best;			/* highest eligible block */
	bool found;
	unsigned long eligible;		/* eligible blocks below @ceiling */
};

static void smem_add_pinned(struct smem_walk *w, u64 start, u64 end)
{
	if (w->npinned < SMEM_MAX_PINNED)
		w->pinned[w->npinned++] = (struct range){ .start = start, .end = end };
}

/*
 * The kernel image's physical range, from its high mapping: after boot,
 * only the image (and holes freed inside it) is mapped in that window.
 */
static void smem_add_kernel_image(struct smem_walk *w)
{
	unsigned long v, lo = 0, hi = 0;

	for (v = __START_KERNEL_map; v < __START_KERNEL_map + KERNEL_IMAGE_SIZE; v += PMD_SIZE) {
		unsigned int level;
		pte_t *pte = lookup_address(v, &level);

		if (!pte || !pte_present(*pte))
			continue;
		if (!lo)
			lo = v;
		hi = v + PMD_SIZE;
	}
	if (lo)
		smem_add_pinned(w, __pa_symbol(lo), __pa_symbol(hi) - 1);
}

static int smem_pinned_cb(struct resource *res, void *arg)
{
	smem_add_pinned(arg, res->start, res->end);
	return 0;
}

/* Whether a direct-map leaf larger than 2 MiB maps part of the block. */
static bool smem_block_in_huge_leaf(u64 start)
{
	u64 addr;

	for (addr = start; addr < start + smem_block_bytes(); addr += PMD_SIZE) {
		unsigned int level;
		pte_t *pte = lookup_address((unsigned long)__va(addr), &level);

		if (pte && level > PG_LEVEL_2M)
			return true;
	}
	return false;
}

static bool smem_block_refused(u64 start)
{
	return xa_load(&smem_carve.refused, start / smem_block_bytes());
}

/* Count the eligible blocks of one System RAM range; note the highest. */
static int smem_walk_cb(struct resource *res, void *arg)
{
	struct smem_walk *w = arg;
	u64 bs = smem_block_bytes();
	u64 lowest = res->start, start;
	unsigned int i;

	/*
	 * Memory a driver manages is the driver's; an exclusive System RAM
	 * range is the container such a driver keeps over it.
	 */
	if (res->flags & (IORESOURCE_SYSRAM_DRIVER_MANAGED | IORESOURCE_EXCLUSIVE))
		return 0;
	for (i = 0; i < w->npinned; i++)
		if (w->pinned[i].start >= res->start && w->pinned[i].start <= res->end)
			lowest = max_t(u64, lowest, w->pinned[i].end + 1);
	lowest = ALIGN(lowest, bs);

	start = ALIGN_DOWN(min_t(u64, res->end + 1, w->ceiling), bs);
	while (start >= lowest + bs) {
		start -= bs;
		if (smem_block_refused(start) || smem_block_in_huge_leaf(start))
			continue;
		w->eligible++;
		if (!w->found || start > w->best) {
			w->best = start;
			w->found = true;
		}
		cond_resched();
	}
	return 0;
}

/* Walk the System RAM below @ceiling for eligible blocks. */
static void smem_walk_blocks(struct smem_walk *w, u64 ceiling)
{
	*w = (struct smem_walk){ .ceiling = ceiling };
	smem_add_kernel_image(w);
	walk_iomem_res_desc(IORES_DESC_CRASH_KERNEL, IORESOURCE_MEM | IORESOURCE_BUSY,
			    0, U64_MAX, w, smem_pinned_cb);
	walk_iomem_res_desc(IORES_DESC_NONE, IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
			    0, U64_MAX, w, smem_walk_cb);
}

static void smem_carve_update_carvable(void)
{
	struct smem_walk w;

	lockdep_assert_held(&smem_carve.lock);
	smem_walk_blocks(&w, U64_MAX);
	WRITE_ONCE(smem_carve.carvable_blocks, w.eligible);
}

/*
 * Give an empty block back to the kernel, or keep it pending.  The
 * block's resource and memory type go first: add_memory() claims the
 * range as System RAM.  If add_memory() fails, the block is claimed
 * again, so /dev/mem stays out of it meanwhile.
 */
static int smem_block_give_back(struct smem_block *b)
{
	int ret;

	lockdep_assert_held(&smem_carve.lock);
	smem_block_unclaim(b);
	ret = add_memory(b->nid, b->start, PFN_PHYS(b->npages), MHP_NONE);
	if (!ret) {
		smem_block_free(b);
		return 0;
	}
	if (smem_block_claim(b))
		pr_warn("pending block at %pa could not be claimed again: /dev/mem may read it (it is all zero)\n",
			&b->start);
	return ret;
}

static void smem_carve_add_pending(struct smem_block *b, int err)
{
	lockdep_assert_held(&smem_carve.lock);
	pr_warn("cannot give block at %pa back (%d): pending, tried again every %u s\n",
		&b->start, err, SMEM_RETRY_MS / 1000);
	list_add_tail(&b->node, &smem_carve.pending);
	WRITE_ONCE(smem_carve.pending_blocks, smem_carve.pending_blocks + 1);
	schedule_delayed_work(&smem_carve.retry_work, msecs_to_jiffies(SMEM_RETRY_MS));
}

static void smem_carve_retry_pending(void)
{
	struct smem_block *b, *tmp;

	lockdep_assert_held(&smem_carve.lock);
	list_for_each_entry_safe(b, tmp, &smem_carve.pending, node) {
		list_del(&b->node);
		if (smem_block_give_back(b)) {
			list_add_tail(&b->node, &smem_carve.pending);
			continue;
		}
		WRITE_ONCE(smem_carve.pending_blocks, smem_carve.pending_blocks - 1);
		pr_info("pending block given back\n");
	}
	if (smem_carve.pending_blocks)
		schedule_delayed_work(&smem_carve.retry_work, msecs_to_jiffies(SMEM_RETRY_MS));
}

static void smem_carve_retry_work(struct work_struct *work)
{
	mutex_lock(&smem_carve.lock);
	smem_carve_retry_pending();
	mutex_unlock(&smem_carve.lock);
}

/*
 * Put a removed block into the pool: check that removal did its job,
 * claim it (exclusive resource, memory type, zeroed).
 */
static int smem_carve_adopt(u64 start, int nid)
{
	unsigned long npages = PHYS_PFN(smem_block_bytes());
	struct smem_block *b;
	unsigned long i;
	int ret;

	b = smem_block_new(start, npages, nid);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		unsigned int level;
		pte_t *pte = lookup_address((unsigned long)__va(start + PFN_PHYS(i)), &level);

		if (pte && pte_present(*pte)) {
			pr_err("block at %pa is still in the direct map after removal\n", &b->start);
			ret = -EIO;
			goto err_free_block;
		}
	}
	ret = smem_block_claim(b);
	if (ret)
		goto err_free_block;
	smem_pool_add_block(b);
	return 0;

err_free_block:
	smem_block_free(b);
	return ret;
}

/* Take one more block out of the kernel into the pool. */
static int smem_carve_one(void)
{
	u64 bs = smem_block_bytes();
	u64 ceiling = U64_MAX;
	struct smem_walk w;
	int nid, ret;

	lockdep_assert_held(&smem_carve.lock);
	for (;;) {
		smem_walk_blocks(&w, ceiling);
		if (!w.found)
			return -ENOSPC;
		if (signal_pending(current))
			return -EINTR;
		nid = memory_add_physaddr_to_nid(w.best);
		ret = offline_and_remove_memory(w.best, bs);
		if (!ret)
			break;
		/*
		 * Unmovable pages (-EBUSY) and holes or a wrong zone (-EINVAL)
		 * are properties of the block: not again. Anything else (a
		 * signal, no memory for the bookkeeping) says nothing
		 * about the block, so the next resize may try it again.
		 */
		if (ret != -EBUSY && ret != -EINVAL)
			return ret;
		if (xa_err(xa_store(&smem_carve.refused, w.best / bs, xa_mk_value(1),
				    GFP_KERNEL)))
			return -ENOMEM;
		WRITE_ONCE(smem_carve.refused_blocks, smem_carve.refused_blocks + 1);
		pr_info("block at %llx refused to go offline (%d); not tried again\n",
			w.best, ret);
		ceiling = w.best;
	}

	ret = smem_carve_adopt(w.best, nid);
	if (ret) {
		/* Never lose memory: give the block straight back. */
		if (add_memory(nid, w.best, bs, MHP_NONE))
			pr_err("cannot give back block at %llx\n", w.best);
	}
	return ret;
}

/* The body of smem_carve_resize(), with the lock held. */
static int smem_carve_resize_locked(u64 size, u64 *pool_size)
{
	u64 bs = smem_block_bytes();
	unsigned long target = size / bs;
	int ret = 0;

	lockdep_assert_held(&smem_carve.lock);
	smem_carve_retry_pending();
	while (!ret && PFN_PHYS(smem_pool_pages()) / bs < target)
		ret = smem_carve_one();
	while (!ret && PFN_PHYS(smem_pool_pages()) / bs > target) {
		struct smem_block *b = smem_pool_take_empty_block();

		if (!b) {
			ret = -EBUSY;
			break;
		}
		ret = smem_block_give_back(b);
		if (ret) {
			smem_carve_add_pending(b, ret);
			ret = 0;
		}
	}
	if (size && kexec_crash_loaded())
		pr_warn("a crash kernel is loaded: unless crash_kexec_post_notifiers is set it runs before secrets are wiped at panic, and it can read blocks carved after it was loaded: reload it now, or boot with crash_kexec_post_notifiers\n");
	smem_carve_update_carvable();
	*pool_size = PFN_PHYS(smem_pool_pages());
	return ret;
}

/**
 * smem_carve_resize() - grow or shrink the pool to @size
 * @size: bytes, rounded down to whole memory blocks
 * @pool_size: bytes the pool holds afterwards, whatever the result
 *
 * Return: 0; -ENOSPC when no eligible block is left to grow; -EBUSY when
 * blocks in use keep the pool above @size; -EINTR on any signal, even
 * while a block's pages migrate (offline_pages() stops on any signal);
 * -ENOMEM.
 */
int smem_carve_resize(u64 size, u64 *pool_size)
{
	int ret;

	if (mutex_lock_interruptible(&smem_carve.lock)) {
		*pool_size = PFN_PHYS(smem_pool_pages());
		return -EINTR;
	}
	ret = smem_carve_resize_locked(size, pool_size);
	mutex_unlock(&smem_carve.lock);
	return ret;
}

/*
 * Read without the lock, which a resize holds for seconds: each figure is
 * written under it as a whole, and a reader gets the old or the new one.
 */
void smem_carve_stats(struct smem_carve_stats *stats)
{
	u64 bs = smem_block_bytes();

	stats->block_pages = PHYS_PFN(bs);
	stats->carvable_pages = READ_ONCE(smem_carve.carvable_blocks) * PHYS_PFN(bs);
	stats->refused_blocks = READ_ONCE(smem_carve.refused_blocks);
	stats->pending_blocks = READ_ONCE(smem_carve.pending_blocks);
	stats->below_block = smem_carve.below_block && !smem_pool_pages();
}

/**
 * smem_carve_init() - carve the pool the administrator asked for at load
 * @pool_bytes: the size, rounded down to whole blocks
 *
 * Carving less than asked is not an error: the module still loads, and
 * says why (dmesg, smemctl status).
 */
int smem_carve_init(unsigned long pool_bytes)
{
	u64 bs = smem_block_bytes();
	u64 got;
	int ret;

	mutex_init(&smem_carve.lock);
	xa_init(&smem_carve.refused);
	INIT_LIST_HEAD(&smem_carve.pending);
	INIT_DELAYED_WORK(&smem_carve.retry_work, smem_carve_retry_work);

	if (pool_bytes && pool_bytes < bs) {
		smem_carve.below_block = true;
		pr_warn("pool_mb=%lu is less than one memory block (%llu MiB): nothing carved, every allocation fails with ENOSPC; set pool_mb=%llu or run smemctl pool set %lluM\n",
			pool_bytes >> 20, bs >> 20, bs >> 20, bs >> 20);
	}
	ret = smem_carve_resize(pool_bytes, &got);
	if (ret && ret != -ENOSPC) {
		smem_carve_exit();
		return ret;
	}
	if (got < ALIGN_DOWN(pool_bytes, bs))
		pr_warn("pool: %llu MiB carved of the %llu MiB asked for: no more eligible memory blocks (nogbpages or movablecore= on the kernel command line make more)\n",
			got >> 20, ALIGN_DOWN(pool_bytes, bs) >> 20);
	return 0;
}

/* Module unload: every block goes back, or stays out until reboot. */
void smem_carve_exit(void)
{
	struct smem_block *b, *tmp;
	u64 pool_size;

	cancel_delayed_work_sync(&smem_carve.retry_work);
	mutex_lock(&smem_carve.lock);
	smem_carve_resize_locked(0, &pool_size);
	mutex_unlock(&smem_carve.lock);
	cancel_delayed_work_sync(&smem_carve.retry_work);
	list_for_each_entry_safe(b, tmp, &smem_carve.pending, node) {
		list_del(&b->node);
		smem_block_abandon(b, "smem (not given back)");
	}
	xa_destroy(&smem_carve.refused);
}
