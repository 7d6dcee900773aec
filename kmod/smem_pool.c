// SPDX-License-Identifier: GPL-2.0
/*
 * The page pool: where secret pages come from.
 *
 * carveout (default): whole memory blocks taken out of the kernel (see
 *	smem_carve.c).  The administrator sizes the pool; an allocation only
 *	takes pages from what is there, and fails with -ENOSPC when it is
 *	full.  No user's request ever takes memory out of the kernel.
 * reserved: a physical range that the firmware map reserved at boot
 *	(memmap=SIZE$ADDR on x86), claimed exclusively.
 * fallback: ordinary pages from the page allocator.  They stay in the
 *	direct map, so this source must be asked for (allow_fallback=1) and
 *	is reported as such.
 *
 * Carved and reserved pages have no struct page.  They are tracked by frame
 * number, one bitmap per block, and the kernel only touches them through
 * short-lived memremap() mappings, to zero them.  Every free page of the
 * pool is zero: a block is zeroed when it joins the pool and a page before
 * its object gives it back, so a page is never handed out with old
 * contents, and an empty block can leave the pool as it is.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#ifdef CONFIG_X86
#include <asm/e820/api.h>
#endif

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

static unsigned long pool_mb = 128;
module_param(pool_mb, ulong, 0444);
MODULE_PARM_DESC(pool_mb,
		 "MiB of memory the carved pool takes at load, rounded down to whole memory blocks (default 128)");

/*
 * @source and @outside_direct_map are set once at init and read without
 * the lock.  @lock protects the block list, every block's bitmap and free
 * count, and the counters; it is only ever held for bookkeeping, never
 * across memory hotplug or zeroing.
 */
static struct {
	u32 source;			/* SMEM_SOURCE_*; set at init */
	bool outside_direct_map;	/* set at init */
	struct mutex lock;
	struct list_head blocks;
	unsigned long pool_pages;
	unsigned long pool_blocks;
	unsigned long pages_in_use;
	unsigned long objects;
	unsigned long alloc_failures;
} smem_pool;

static const char * const smem_source_names[] = {
	[SMEM_SOURCE_NONE]	= "none",
	[SMEM_SOURCE_CARVEOUT]	= "carveout",
	[SMEM_SOURCE_RESERVED]	= "reserved",
	[SMEM_SOURCE_FALLBACK]	= "fallback",
};

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
static int smem_range_claim_memtype(phys_addr_t start, size_t size)
{
	void __iomem *va = ioremap_cache(start, size);

	if (!va)
		return -ENOMEM;
	memset_io(va, 0, size);
	vunmap((void __force *)va);
	return 0;
}

static void smem_range_release_memtype(phys_addr_t start, size_t size)
{
	arch_io_free_memtype_wc(start, size);
}

static int smem_resource_found_cb(struct resource *res, void *arg)
{
	return 1;
}

/*
 * Why request_mem_region() refused the range: it says NULL both when a
 * busy resource holds part of it and when it could not allocate its own.
 */
static int smem_region_refusal(phys_addr_t start, size_t size)
{
	return walk_iomem_res_desc(IORES_DESC_NONE, IORESOURCE_MEM | IORESOURCE_BUSY, start,
				   start + size - 1, NULL, smem_resource_found_cb) == 1 ?
		-EBUSY : -ENOMEM;
}

/**
 * smem_block_claim() - make a range that left the kernel ours
 * @b: the block; its range is no System RAM any more (removed, or
 *     reserved by the firmware)
 *
 * Takes an exclusive iomem resource over the range, so that /dev/mem
 * refuses it (devmem_is_allowed() only refuses System RAM and exclusive
 * resources), and a write-back memory type; zeroes it.
 *
 * Return: 0, -EBUSY when another resource holds part of the range, or
 * -ENOMEM.
 */
int smem_block_claim(struct smem_block *b)
{
	size_t size = PFN_PHYS(b->npages);
	int ret;

	b->res = request_mem_region_exclusive(b->start, size, "smem");
	if (!b->res)
		return smem_region_refusal(b->start, size);
	ret = smem_range_claim_memtype(b->start, size);
	if (ret) {
		release_mem_region(b->start, size);
		b->res = NULL;
	}
	return ret;
}

/**
 * smem_block_unclaim() - undo smem_block_claim()
 * @b: the block; the range may go back to the kernel afterwards
 */
void smem_block_unclaim(struct smem_block *b)
{
	size_t size = PFN_PHYS(b->npages);

	if (!b->res)
		return;
	smem_range_release_memtype(b->start, size);
	release_mem_region(b->start, size);
	b->res = NULL;
}

/**
 * smem_block_abandon() - leave a block out of the kernel until reboot
 * @b: the block, claimed, no longer on any list
 * @why: the name its resource keeps in /proc/iomem
 *
 * Its resource stays, so /dev/mem stays out of it after the module is
 * gone; the name must outlive the module too, hence the copy.
 */
void smem_block_abandon(struct smem_block *b, const char *why)
{
	pr_err("block at %pa: %s; it stays out of use until reboot\n", &b->start, why);
	if (b->res)
		b->res->name = kstrdup(why, GFP_KERNEL | __GFP_NOFAIL);
	smem_block_free(b);
}

/**
 * smem_pool_zero() - zero part of an object's pages
 * @pfns: the object's frame numbers
 * @offset: first byte, counted across the pages
 * @length: bytes
 *
 * One short-lived mapping per run of physically contiguous pages.  May
 * sleep.
 *
 * Return: 0, or -ENOMEM when a run could not be mapped (the rest is
 * zeroed all the same).
 */
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

/**
 * smem_block_new() - bookkeeping for a range of pool pages, all free
 * @start: physical address
 * @npages: pages
 * @nid: NUMA node, for giving it back
 *
 * Return: the block, not claimed and on no list, or NULL.
 */
struct smem_block *smem_block_new(phys_addr_t start, unsigned long npages, int nid)
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
	return b;
}

void smem_block_free(struct smem_block *b)
{
	bitmap_free(b->used);
	kfree(b);
}

/**
 * smem_pool_add_block() - put a claimed, zeroed block in the pool
 * @b: the block, from smem_block_new() and smem_block_claim()
 */
void smem_pool_add_block(struct smem_block *b)
{
	mutex_lock(&smem_pool.lock);
	list_add(&b->node, &smem_pool.blocks);
	smem_pool.pool_pages += b->npages;
	smem_pool.pool_blocks++;
	mutex_unlock(&smem_pool.lock);
}

/**
 * smem_pool_take_empty_block() - take a block with no page in use out
 * @return: the block, no longer in the pool, still claimed and all zero;
 *          NULL when every block has pages in use
 */
struct smem_block *smem_pool_take_empty_block(void)
{
	struct smem_block *b, *found = NULL;

	mutex_lock(&smem_pool.lock);
	list_for_each_entry(b, &smem_pool.blocks, node) {
		if (b->nfree == b->npages) {
			found = b;
			break;
		}
	}
	if (found) {
		list_del(&found->node);
		smem_pool.pool_pages -= found->npages;
		smem_pool.pool_blocks--;
	}
	mutex_unlock(&smem_pool.lock);
	return found;
}

/* The pool's size in pages, read without the lock (it may change). */
unsigned long smem_pool_pages(void)
{
	return READ_ONCE(smem_pool.pool_pages);
}

static int smem_pool_alloc_fallback(unsigned long npages, unsigned long *pfns)
{
	unsigned long i;

	lockdep_assert_held(&smem_pool.lock);
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
	return -ENOSPC;
}

static void smem_pool_take(unsigned long npages, unsigned long *pfns)
{
	struct smem_block *b;
	unsigned long n = 0;

	lockdep_assert_held(&smem_pool.lock);
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

static void smem_pool_count_failure(void)
{
	mutex_lock(&smem_pool.lock);
	smem_pool.alloc_failures++;
	mutex_unlock(&smem_pool.lock);
}

/**
 * smem_pool_can_hold() - whether an allocation of @npages could ever fit
 * @npages: its size
 *
 * Return: 0, or -ENOSPC (counted as a failed allocation) when the pool
 * holds fewer pages than that, free or not.
 */
int smem_pool_can_hold(unsigned long npages)
{
	unsigned long cap = smem_pool.source == SMEM_SOURCE_FALLBACK ?
			    totalram_pages() : smem_pool_pages();

	if (npages <= cap)
		return 0;
	smem_pool_count_failure();
	return -ENOSPC;
}

/**
 * smem_pool_alloc() - take zeroed pages from the pool
 * @npages: how many
 * @pfns: where their frame numbers go
 *
 * All or nothing: on failure the pool is as it was.  Never grows the pool.
 *
 * Return: 0, or -ENOSPC when the pool has fewer than @npages free pages
 * (counted in alloc_failures).
 */
int smem_pool_alloc(unsigned long npages, unsigned long *pfns)
{
	int ret = 0;

	mutex_lock(&smem_pool.lock);
	if (smem_pool.source == SMEM_SOURCE_FALLBACK)
		ret = smem_pool_alloc_fallback(npages, pfns);
	else if (smem_pool.pool_pages - smem_pool.pages_in_use < npages)
		ret = -ENOSPC;
	else
		smem_pool_take(npages, pfns);
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

	lockdep_assert_held(&smem_pool.lock);
	if (hint && pfn - PHYS_PFN(hint->start) < hint->npages)
		return hint;
	list_for_each_entry(b, &smem_pool.blocks, node)
		if (pfn - PHYS_PFN(b->start) < b->npages)
			return b;
	return NULL;
}

/**
 * smem_pool_free() - give pages that smem_pool_alloc() gave back
 * @npages: how many
 * @pfns: their frame numbers
 * @zeroed: whether the caller zeroed them (smem_pool_zero())
 *
 * Pages that could not be zeroed (no address space left to map them) are
 * never handed out again, nor given back: they stay counted in use, so
 * the free counts still match the bitmaps.  Losing pages beats leaking a
 * secret.
 */
void smem_pool_free(unsigned long npages, const unsigned long *pfns, bool zeroed)
{
	struct smem_block *b = NULL;
	unsigned long i;

	if (!zeroed)
		pr_err("could not zero %lu freed pages; keeping them out of use\n", npages);

	mutex_lock(&smem_pool.lock);
	smem_pool.objects--;
	if (!zeroed)
		goto out_unlock;
	smem_pool.pages_in_use -= npages;
	if (smem_pool.source == SMEM_SOURCE_FALLBACK) {
		for (i = 0; i < npages; i++)
			__free_page(pfn_to_page(pfns[i]));
		smem_pool.pool_pages -= npages;
		goto out_unlock;
	}
	for (i = 0; i < npages; i++) {
		b = smem_pool_find_block(pfns[i], b);
		if (WARN_ON_ONCE(!b))
			continue;
		__clear_bit(pfns[i] - PHYS_PFN(b->start), b->used);
		b->nfree++;
	}
out_unlock:
	mutex_unlock(&smem_pool.lock);
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

#ifdef CONFIG_X86
/*
 * Where the reserved ranges seen so far, in address order, stop covering.
 * Only the x86 test below walks them: elsewhere it would be an unused
 * function, an error under SMEM_WERROR.
 */
static int smem_reserved_cover_cb(struct resource *res, void *arg)
{
	u64 *covered_to = arg;

	if (res->start > *covered_to)
		return 1;	/* a gap: stop the walk */
	*covered_to = max_t(u64, *covered_to, res->end + 1);
	return 0;
}
#endif

/*
 * RAM that memmap=SIZE$ADDR took from the kernel: reserved now, every page
 * of it, where the firmware's own map (which memmap= does not change) said
 * RAM and nothing else.  Not a hole that a hot-added device may claim
 * later, not free MMIO such as the VGA window, not a range the firmware
 * reserved for itself (QEMU's HyperTransport hole at 1012 GiB is one),
 * none of which is memory to keep secrets in.  Other architectures need
 * their own test (reserved-memory nodes): until then, none is accepted.
 */
static bool smem_range_reserved_ram(u64 start, u64 size)
{
#ifdef CONFIG_X86
	u64 covered_to = start;

	if (start < SZ_1M)
		return false;
	walk_iomem_res_desc(IORES_DESC_RESERVED, IORESOURCE_MEM, start, start + size - 1,
			    &covered_to, smem_reserved_cover_cb);
	return covered_to >= start + size &&
	       e820__mapped_raw_any(start, start + size, E820_TYPE_RAM) &&
	       !e820__mapped_raw_any(start, start + size, E820_TYPE_RESERVED);
#else
	return false;
#endif
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
	if (!smem_range_reserved_ram(start, size)) {
		pr_err("reserved_range %s is not RAM that memmap=SIZE$ADDR reserved, above 1M\n",
		       reserved_range);
		return -EINVAL;
	}

	b = smem_block_new(start, size >> PAGE_SHIFT, NUMA_NO_NODE);
	if (!b)
		return -ENOMEM;
	ret = smem_block_claim(b);
	if (ret) {
		if (ret == -EBUSY)
			pr_err("reserved_range %s is in use\n", reserved_range);
		smem_block_free(b);
		return ret;
	}
	smem_pool.outside_direct_map = smem_range_outside_direct_map(start, b->npages);
	smem_pool_add_block(b);
	return 0;
}

int smem_pool_init(void)
{
	mutex_init(&smem_pool.lock);
	INIT_LIST_HEAD(&smem_pool.blocks);

	if (sysfs_streq(page_source, "carveout")) {
		smem_pool.source = SMEM_SOURCE_CARVEOUT;
		smem_pool.outside_direct_map = true;
		return smem_carve_init(pool_mb << 20);
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
 * Module unload: no object is left.  Carved blocks go back to the kernel
 * (smem_carve_exit()); a block that still has pages in use holds pages
 * that could not be zeroed, and stays out of the system.
 */
void smem_pool_exit(void)
{
	struct smem_block *b, *tmp;

	if (smem_pool.source == SMEM_SOURCE_CARVEOUT)
		smem_carve_exit();
	list_for_each_entry_safe(b, tmp, &smem_pool.blocks, node) {
		list_del(&b->node);
		if (b->nfree != b->npages) {
			smem_block_abandon(b, "smem (not zeroed)");
			continue;
		}
		smem_block_unclaim(b);
		smem_block_free(b);
	}
}
