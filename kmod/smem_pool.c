// SPDX-License-Identifier: GPL-2.0
/*
 * The page pool: where secret pages come from.
 *
 * carveout (default): whole memory blocks taken out of the kernel with
 *	offline_and_remove_memory(), the way virtio-mem unplugs memory.  A
 *	removed block is out of the page allocator, out of the direct map (no
 *	4 KiB split of it: the block goes whole), out of /proc/kcore and of
 *	hibernation images.  The pool grows one block at a time, from the top
 *	of memory down, up to pool_max_mb; a block that stays empty for
 *	release_delay_ms is given back with add_memory().
 * reserved: a physical range that the firmware map reserved at boot
 *	(memmap=SIZE$ADDR on x86), claimed exclusively.
 * fallback: ordinary pages from the page allocator.  They stay in the
 *	direct map, so this source must be asked for (allow_fallback=1) and
 *	is reported as such.
 *
 * Carved and reserved pages have no struct page.  They are tracked by frame
 * number, one bitmap per block, and the kernel only touches them through
 * short-lived memremap() mappings, to zero them.  Every free page of the
 * pool is zero: a block is zeroed when it joins the pool and a page when
 * its object frees it, so a page is never handed out with old contents.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/range.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "smem.h"

static char *page_source = "carveout";
module_param(page_source, charp, 0444);
MODULE_PARM_DESC(page_source,
		 "Where secret pages come from: carveout (default), reserved or fallback");

static char *reserved_range;
module_param(reserved_range, charp, 0444);
MODULE_PARM_DESC(reserved_range,
		 "SIZE@ADDR of a range reserved at boot with memmap=SIZE$ADDR, for page_source=reserved");

static bool allow_fallback;
module_param(allow_fallback, bool, 0444);
MODULE_PARM_DESC(allow_fallback,
		 "Allow page_source=fallback: ordinary pages that stay in the kernel direct map");

static unsigned long pool_max_mb = 256;
module_param(pool_max_mb, ulong, 0644);
MODULE_PARM_DESC(pool_max_mb, "Most memory the pool may hold, in MiB (default 256)");

static unsigned int release_delay_ms = 10000;
module_param(release_delay_ms, uint, 0644);
MODULE_PARM_DESC(release_delay_ms,
		 "How long an empty carved block stays in the pool before it goes back, in ms");

struct smem_block {
	struct list_head node;
	phys_addr_t start;
	unsigned long npages;
	unsigned long nfree;
	unsigned long *used;		/* one bit per page */
	unsigned long empty_since;	/* jiffies; valid while nfree == npages */
	int nid;
};

static struct {
	struct mutex lock;		/* protects everything below */
	u32 source;			/* SMEM_SOURCE_* */
	bool outside_direct_map;
	struct list_head blocks;
	unsigned long pool_pages;
	unsigned long pool_blocks;
	unsigned long pages_in_use;
	unsigned long objects;
	unsigned long alloc_failures;
	struct resource *reserved_res;
	struct delayed_work release_work;
} smem_pool;

static const char * const smem_source_names[] = {
	[SMEM_SOURCE_NONE]	= "none",
	[SMEM_SOURCE_CARVEOUT]	= "carveout",
	[SMEM_SOURCE_RESERVED]	= "reserved",
	[SMEM_SOURCE_FALLBACK]	= "fallback",
};

static unsigned long smem_block_pages(void)
{
	return memory_block_size_bytes() >> PAGE_SHIFT;
}

/*
 * Whether no page of the range can be reached through the direct map:
 * the proof that hot-remove (or the firmware reservation) did its job,
 * checked rather than assumed.
 */
static bool smem_range_outside_direct_map(phys_addr_t start, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		unsigned int level;
		pte_t *pte = lookup_address((unsigned long)__va(start + i * PAGE_SIZE),
					    &level);

		if (pte && pte_present(*pte))
			return false;
		cond_resched();
	}
	return true;
}

/*
 * Zero physical memory through a temporary mapping.  memremap() gives the
 * direct-map address of ordinary RAM and a short-lived ioremap_cache()
 * mapping of carved memory, which has no other kernel mapping.
 */
static int smem_zero_phys(phys_addr_t start, size_t len)
{
	void *va = memremap(start, len, MEMREMAP_WB);

	if (!va)
		return -ENOMEM;
	memset(va, 0, len);
	memunmap(va);
	return 0;
}

/*
 * x86 PAT maps a frame that is not System RAM with the cache mode its
 * memtype tree records for it, and uncached when it records none: carved
 * and reserved pages mapped to user space as they are would be uncached.
 * So while a range is in the pool it carries a write-back reservation,
 * taken with ioremap_cache() and kept when that mapping (used once, to
 * zero the range) is dropped with vunmap() instead of iounmap().  The
 * reservation is given up by its exact range when the range leaves the
 * pool; arch_io_free_memtype_wc() frees a reservation of any type.  No
 * exported function reserves a memory type without mapping the range.
 */
static int smem_range_claim(phys_addr_t start, size_t size)
{
	void __iomem *va = ioremap_cache(start, size);

	if (!va)
		return -ENOMEM;
	memset_io(va, 0, size);
	vunmap((void __force *)va);
	return 0;
}

static void smem_range_release(phys_addr_t start, size_t size)
{
	arch_io_free_memtype_wc(start, size);
}

/* Zero bytes [offset, offset + length) of the pages @pfns, run by run. */
int smem_pool_zero(const unsigned long *pfns, unsigned long offset,
		   unsigned long length)
{
	unsigned long i = offset >> PAGE_SHIFT;
	unsigned long end = offset + length;
	int ret = 0;

	while (offset < end) {
		phys_addr_t start = PFN_PHYS(pfns[i]) + offset_in_page(offset);
		size_t len = min(end - offset, PAGE_SIZE - offset_in_page(offset));

		/* Extend over physically contiguous pages: one mapping per run. */
		while (offset + len < end && pfns[i + 1] == pfns[i] + 1) {
			len += min_t(unsigned long, end - offset - len, PAGE_SIZE);
			i++;
		}
		if (smem_zero_phys(start, len))
			ret = -ENOMEM;
		offset += len;
		i++;
		cond_resched();
	}
	return ret;
}

/*
 * Removing a block from the middle of a "System RAM" resource splits it,
 * and the split fails with a WARN (release_mem_region_adjustable()) when
 * a child resource of it lies above the block: the kernel image ("Kernel
 * code" ... "Kernel bss", anywhere in memory under physical KASLR) and
 * the crash kernel.  Those ranges are found here so that only blocks above
 * them are tried.
 */
#define SMEM_MAX_PINNED	4

struct smem_candidate {
	u64 block_size;
	u64 ceiling;
	u64 best;
	bool found;
	unsigned int npinned;
	struct range pinned[SMEM_MAX_PINNED];
};

static void smem_add_pinned(struct smem_candidate *c, u64 start, u64 end)
{
	if (c->npinned < SMEM_MAX_PINNED)
		c->pinned[c->npinned++] = (struct range){ .start = start, .end = end };
}

/*
 * The kernel image's physical range, from its high mapping: after boot,
 * only the image (and holes freed inside it) is mapped in that window.
 */
static void smem_add_kernel_image(struct smem_candidate *c)
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
		smem_add_pinned(c, __pa_symbol(lo), __pa_symbol(hi) - 1);
}

static int smem_pinned_cb(struct resource *res, void *arg)
{
	smem_add_pinned(arg, res->start, res->end);
	return 0;
}

/* The highest block of this System RAM range that is safe to remove. */
static int smem_candidate_cb(struct resource *res, void *arg)
{
	struct smem_candidate *c = arg;
	u64 lowest = res->start;
	u64 top = ALIGN_DOWN(min_t(u64, res->end + 1, c->ceiling), c->block_size);
	unsigned int i;

	for (i = 0; i < c->npinned; i++)
		if (c->pinned[i].start >= res->start && c->pinned[i].start <= res->end)
			lowest = max_t(u64, lowest, c->pinned[i].end + 1);
	lowest = ALIGN(lowest, c->block_size);
	if (top >= lowest + c->block_size && (!c->found || top - c->block_size > c->best)) {
		c->best = top - c->block_size;
		c->found = true;
	}
	return 0;
}

static struct smem_block *smem_block_new(phys_addr_t start, unsigned long npages, int nid)
{
	struct smem_block *b = kzalloc(sizeof(*b), GFP_KERNEL);

	if (!b)
		return NULL;
	b->used = bitmap_zalloc(npages, GFP_KERNEL);
	if (!b->used) {
		kfree(b);
		return NULL;
	}
	b->start = start;
	b->npages = npages;
	b->nfree = npages;
	b->nid = nid;
	b->empty_since = jiffies;
	return b;
}

static void smem_block_free(struct smem_block *b)
{
	bitmap_free(b->used);
	kfree(b);
}

/*
 * Bring a block given back with add_memory() online again.  Whether
 * hot-added memory comes up online is the system's policy
 * (memhp_default_state, auto_online_blocks), and no kernel function that
 * onlines a memory block is exported to modules; the block's own sysfs
 * state file is the interface the kernel offers for it.
 */
static void smem_block_online(phys_addr_t start)
{
	char path[64], state[16] = "";
	struct file *f;
	loff_t pos = 0;
	ssize_t ret;

	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%llu/state",
		 (u64)start / memory_block_size_bytes());
	f = filp_open(path, O_RDWR, 0);
	if (IS_ERR(f)) {
		pr_warn("block at %pa is back but cannot be onlined: %ld\n", &start, PTR_ERR(f));
		return;
	}
	ret = kernel_read(f, state, sizeof(state) - 1, &pos);
	if (ret > 0 && !strncmp(state, "offline", 7)) {
		pos = 0;
		ret = kernel_write(f, "online", 6, &pos);
		if (ret < 0)
			pr_warn("block at %pa is back but offline: %zd\n", &start, ret);
	}
	filp_close(f, NULL);
}

/* Give a carved block back to the system. */
static void smem_block_return(struct smem_block *b)
{
	int ret;

	smem_range_release(b->start, PFN_PHYS(b->npages));
	ret = add_memory(b->nid, b->start, PFN_PHYS(b->npages), MHP_NONE);

	if (ret)
		pr_err("cannot give back block at %pa: %d; it stays unused until reboot\n",
		       &b->start, ret);
	else
		smem_block_online(b->start);
	smem_block_free(b);
}

/* Take one more memory block out of the kernel.  Called with the lock held. */
static int smem_pool_carve(void)
{
	struct smem_candidate c = {
		.block_size = memory_block_size_bytes(),
		.ceiling = U64_MAX,
	};
	struct smem_block *b;
	unsigned long npages = smem_block_pages();
	int ret;

	smem_add_kernel_image(&c);
	walk_iomem_res_desc(IORES_DESC_CRASH_KERNEL, IORESOURCE_MEM | IORESOURCE_BUSY,
			    0, U64_MAX, &c, smem_pinned_cb);
	for (;;) {
		c.found = false;
		walk_iomem_res_desc(IORES_DESC_NONE, IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
				    0, U64_MAX, &c, smem_candidate_cb);
		if (!c.found)
			return -ENOMEM;
		/* Unmovable pages (-EBUSY) or holes (-EINVAL): try lower. */
		ret = offline_and_remove_memory(c.best, c.block_size);
		if (!ret)
			break;
		c.ceiling = c.best;
	}

	b = smem_block_new(c.best, npages, memory_add_physaddr_to_nid(c.best));
	if (!b) {
		ret = -ENOMEM;
		goto err_give_back;
	}
	if (!smem_range_outside_direct_map(b->start, npages)) {
		pr_err("block at %pa is still in the direct map after removal\n", &b->start);
		ret = -EIO;
		goto err_free_block;
	}
	ret = smem_range_claim(b->start, PFN_PHYS(npages));
	if (ret)
		goto err_free_block;

	list_add(&b->node, &smem_pool.blocks);
	smem_pool.pool_pages += npages;
	smem_pool.pool_blocks++;
	return 0;

err_free_block:
	smem_block_free(b);
err_give_back:
	if (add_memory(memory_add_physaddr_to_nid(c.best), c.best, c.block_size, MHP_NONE))
		pr_err("cannot give back block at %llx\n", c.best);
	else
		smem_block_online(c.best);
	return ret;
}

/*
 * The most pages the pool can give, as a caller can really get them: a
 * carved pool grows by whole memory blocks, so pool_max_mb is rounded down
 * to blocks (a cap below one block allows nothing).
 */
unsigned long smem_pool_max_pages(void)
{
	unsigned long max = READ_ONCE(pool_max_mb) << (20 - PAGE_SHIFT);

	switch (smem_pool.source) {
	case SMEM_SOURCE_RESERVED:
		return smem_pool.pool_pages;
	case SMEM_SOURCE_CARVEOUT:
		return rounddown(max, smem_block_pages());
	default:
		return max;
	}
}

static int smem_pool_alloc_fallback(unsigned long npages, unsigned long *pfns)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);

		if (!page)
			goto err_free_pages;
		pfns[i] = page_to_pfn(page);
	}
	smem_pool.pool_pages += npages;
	return 0;

err_free_pages:
	while (i--)
		__free_page(pfn_to_page(pfns[i]));
	return -ENOMEM;
}

static void smem_pool_take(unsigned long npages, unsigned long *pfns)
{
	struct smem_block *b;
	unsigned long n = 0;

	list_for_each_entry(b, &smem_pool.blocks, node) {
		unsigned long bit = 0;

		while (n < npages && b->nfree) {
			bit = find_next_zero_bit(b->used, b->npages, bit);
			__set_bit(bit, b->used);
			pfns[n++] = PHYS_PFN(b->start) + bit;
			b->nfree--;
		}
		if (n == npages)
			return;
	}
}

/*
 * Fill @pfns with @npages zeroed pages.  All or nothing: on failure the
 * pool is as it was.
 */
int smem_pool_alloc(unsigned long npages, unsigned long *pfns)
{
	int ret = 0;

	mutex_lock(&smem_pool.lock);
	if (npages > smem_pool_max_pages() - min(smem_pool.pages_in_use,
						  smem_pool_max_pages())) {
		ret = -ENOMEM;
		goto out;
	}
	if (smem_pool.source == SMEM_SOURCE_FALLBACK) {
		ret = smem_pool_alloc_fallback(npages, pfns);
		goto out;
	}
	while (smem_pool.pool_pages - smem_pool.pages_in_use < npages) {
		if (smem_pool.source != SMEM_SOURCE_CARVEOUT ||
		    smem_pool.pool_pages + smem_block_pages() > smem_pool_max_pages()) {
			ret = -ENOMEM;
			goto out;
		}
		ret = smem_pool_carve();
		if (ret)
			goto out;
	}
	smem_pool_take(npages, pfns);
out:
	if (ret) {
		smem_pool.alloc_failures++;
	} else {
		smem_pool.pages_in_use += npages;
		smem_pool.objects++;
	}
	mutex_unlock(&smem_pool.lock);
	return ret;
}

static struct smem_block *smem_pool_find_block(unsigned long pfn, struct smem_block *hint)
{
	struct smem_block *b;

	if (hint && pfn - PHYS_PFN(hint->start) < hint->npages)
		return hint;
	list_for_each_entry(b, &smem_pool.blocks, node)
		if (pfn - PHYS_PFN(b->start) < b->npages)
			return b;
	return NULL;
}

/* Zero and free pages that smem_pool_alloc() gave. */
void smem_pool_free(unsigned long npages, const unsigned long *pfns)
{
	struct smem_block *b = NULL;
	unsigned long i;
	bool leak = false;

	/*
	 * Pages that could not be zeroed (no address space left to map them)
	 * are never handed out again, nor given back: they stay counted in
	 * use, so the free counts still match the bitmaps.  Losing pages
	 * beats leaking a secret.
	 */
	if (smem_pool_zero(pfns, 0, PFN_PHYS(npages))) {
		pr_err("could not zero %lu freed pages; keeping them out of use\n", npages);
		leak = true;
	}

	mutex_lock(&smem_pool.lock);
	smem_pool.objects--;
	if (leak) {
		mutex_unlock(&smem_pool.lock);
		return;
	}
	smem_pool.pages_in_use -= npages;
	if (smem_pool.source == SMEM_SOURCE_FALLBACK) {
		for (i = 0; i < npages; i++)
			__free_page(pfn_to_page(pfns[i]));
		smem_pool.pool_pages -= npages;
		mutex_unlock(&smem_pool.lock);
		return;
	}
	for (i = 0; i < npages; i++) {
		b = smem_pool_find_block(pfns[i], b);
		if (WARN_ON_ONCE(!b))
			continue;
		__clear_bit(pfns[i] - PHYS_PFN(b->start), b->used);
		if (++b->nfree == b->npages && smem_pool.source == SMEM_SOURCE_CARVEOUT) {
			b->empty_since = jiffies;
			queue_delayed_work(system_wq, &smem_pool.release_work,
					   msecs_to_jiffies(READ_ONCE(release_delay_ms)));
		}
	}
	mutex_unlock(&smem_pool.lock);
}

/*
 * Give back carved blocks that have been empty for release_delay_ms, and
 * come back for those whose grace period has not run out yet.
 */
static void smem_pool_release_work(struct work_struct *work)
{
	unsigned long delay = msecs_to_jiffies(READ_ONCE(release_delay_ms));
	unsigned long next = 0;
	struct smem_block *b, *tmp;
	LIST_HEAD(release);

	mutex_lock(&smem_pool.lock);
	list_for_each_entry_safe(b, tmp, &smem_pool.blocks, node) {
		if (b->nfree != b->npages)
			continue;
		if (time_before(jiffies, b->empty_since + delay)) {
			unsigned long left = b->empty_since + delay - jiffies;

			next = next ? min(next, left) : left;
			continue;
		}
		list_move(&b->node, &release);
		smem_pool.pool_pages -= b->npages;
		smem_pool.pool_blocks--;
	}
	if (next)
		queue_delayed_work(system_wq, &smem_pool.release_work, next);
	mutex_unlock(&smem_pool.lock);

	list_for_each_entry_safe(b, tmp, &release, node)
		smem_block_return(b);
}

void smem_pool_stats(struct smem_pool_stats *stats)
{
	mutex_lock(&smem_pool.lock);
	stats->pool_pages = smem_pool.pool_pages;
	stats->pool_blocks = smem_pool.pool_blocks;
	stats->pages_in_use = smem_pool.pages_in_use;
	stats->objects = smem_pool.objects;
	stats->alloc_failures = smem_pool.alloc_failures;
	mutex_unlock(&smem_pool.lock);
}

u32 smem_pool_source(void)
{
	return smem_pool.source;
}

const char *smem_pool_source_name(void)
{
	return smem_source_names[smem_pool.source];
}

bool smem_pool_outside_direct_map(void)
{
	return smem_pool.outside_direct_map;
}

static int smem_pool_init_reserved(void)
{
	unsigned long long size, start;
	struct smem_block *b;
	char *p;
	int ret;

	if (!reserved_range) {
		pr_err("page_source=reserved needs reserved_range=SIZE@ADDR\n");
		return -EINVAL;
	}
	size = memparse(reserved_range, &p);
	if (*p != '@')
		return -EINVAL;
	start = memparse(p + 1, &p);
	if (*p || !size || !PAGE_ALIGNED(size) || !PAGE_ALIGNED(start) ||
	    start + size < start)
		return -EINVAL;
	if (region_intersects(start, size, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) !=
	    REGION_DISJOINT) {
		pr_err("reserved_range %s is System RAM, not a reserved range\n", reserved_range);
		return -EINVAL;
	}

	smem_pool.reserved_res = request_mem_region_exclusive(start, size, "smem");
	if (!smem_pool.reserved_res) {
		pr_err("reserved_range %s is in use\n", reserved_range);
		return -EBUSY;
	}
	b = smem_block_new(start, size >> PAGE_SHIFT, NUMA_NO_NODE);
	if (!b) {
		ret = -ENOMEM;
		goto err_release_region;
	}
	ret = smem_range_claim(start, size);
	if (ret)
		goto err_free_block;
	smem_pool.outside_direct_map = smem_range_outside_direct_map(start, b->npages);
	list_add(&b->node, &smem_pool.blocks);
	smem_pool.pool_pages = b->npages;
	smem_pool.pool_blocks = 1;
	return 0;

err_free_block:
	smem_block_free(b);
err_release_region:
	release_mem_region(start, size);
	return ret;
}

int smem_pool_init(void)
{
	mutex_init(&smem_pool.lock);
	INIT_LIST_HEAD(&smem_pool.blocks);
	INIT_DELAYED_WORK(&smem_pool.release_work, smem_pool_release_work);

	if (sysfs_streq(page_source, "carveout")) {
		smem_pool.source = SMEM_SOURCE_CARVEOUT;
		smem_pool.outside_direct_map = true;
		if (!smem_pool_max_pages())
			pr_warn("pool_max_mb=%lu is less than one memory block (%llu MiB): nothing can be allocated until it is raised\n",
				pool_max_mb, (u64)memory_block_size_bytes() >> 20);
		return 0;
	}
	if (sysfs_streq(page_source, "reserved")) {
		smem_pool.source = SMEM_SOURCE_RESERVED;
		return smem_pool_init_reserved();
	}
	if (sysfs_streq(page_source, "fallback")) {
		if (!allow_fallback) {
			pr_err("page_source=fallback keeps secrets in the direct map; set allow_fallback=1 to accept that\n");
			return -EPERM;
		}
		smem_pool.source = SMEM_SOURCE_FALLBACK;
		return 0;
	}
	pr_err("unknown page_source=%s\n", page_source);
	return -EINVAL;
}

/*
 * Module unload: no object is left, so every block is empty, unless pages
 * could not be zeroed when freed; such a block stays out of the system.
 */
void smem_pool_exit(void)
{
	struct smem_block *b, *tmp;

	cancel_delayed_work_sync(&smem_pool.release_work);
	list_for_each_entry_safe(b, tmp, &smem_pool.blocks, node) {
		list_del(&b->node);
		if (smem_pool.source == SMEM_SOURCE_CARVEOUT && b->nfree == b->npages) {
			smem_block_return(b);
			continue;
		}
		if (b->nfree != b->npages)
			pr_err("block at %pa holds pages that were not zeroed; it stays unused until reboot\n",
			       &b->start);
		smem_block_free(b);
	}
	if (smem_pool.reserved_res) {
		smem_range_release(smem_pool.reserved_res->start,
				   resource_size(smem_pool.reserved_res));
		release_mem_region(smem_pool.reserved_res->start,
				   resource_size(smem_pool.reserved_res));
	}
}
