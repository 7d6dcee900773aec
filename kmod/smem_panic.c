// SPDX-License-Identifier: GPL-2.0
/*
 * Wiping secrets when the kernel panics.
 *
 * A panic may be followed by a kdump kernel or a warm reset that keeps
 * memory, so secret pages are zeroed from a panic notifier.  Carved pages
 * have no kernel mapping, and a panic notifier may neither sleep nor
 * allocate, so memremap() is out.  Instead a small window of kernel
 * virtual address space is set up at load time with vmap(), which also
 * builds its page tables; at panic its entries are pointed at the pages to
 * wipe, a window at a time, flushing this CPU's TLB in between.  The other
 * CPUs have been stopped by then.  At rest the window maps one zeroed page
 * of our own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/notifier.h>
#include <linux/panic_notifier.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <asm/tlbflush.h>

#include "smem.h"

#define SMEM_PANIC_WINDOW	64	/* pages mapped at a time */

static void *smem_panic_va;
static struct page *smem_panic_page;

/* Point slot @i of the window at @pfn. */
static void smem_panic_map(unsigned int i, unsigned long pfn)
{
	unsigned int level;
	pte_t *pte = lookup_address((unsigned long)smem_panic_va + i * PAGE_SIZE, &level);

	set_pte(pte, pfn_pte(pfn, PAGE_KERNEL));
}

/* Zero the pages @pfns without sleeping; only for the panic path. */
void smem_panic_zero(const unsigned long *pfns, unsigned long npages)
{
	unsigned long done, i;

	for (done = 0; done < npages; done += SMEM_PANIC_WINDOW) {
		unsigned long n = min_t(unsigned long, npages - done, SMEM_PANIC_WINDOW);

		for (i = 0; i < n; i++)
			smem_panic_map(i, pfns[done + i]);
		__flush_tlb_all();
		memset(smem_panic_va, 0, n * PAGE_SIZE);
	}
	for (i = 0; i < SMEM_PANIC_WINDOW; i++)
		smem_panic_map(i, page_to_pfn(smem_panic_page));
	__flush_tlb_all();
}

static int smem_panic_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	smem_object_wipe_atomic();
	return NOTIFY_DONE;
}

static struct notifier_block smem_panic_nb = {
	.notifier_call = smem_panic_notify,
};

int smem_panic_init(void)
{
	struct page **pages;
	unsigned int i;

	smem_panic_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!smem_panic_page)
		return -ENOMEM;
	pages = kmalloc_array(SMEM_PANIC_WINDOW, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		goto err_free_page;
	for (i = 0; i < SMEM_PANIC_WINDOW; i++)
		pages[i] = smem_panic_page;
	smem_panic_va = vmap(pages, SMEM_PANIC_WINDOW, VM_MAP, PAGE_KERNEL);
	kfree(pages);
	if (!smem_panic_va)
		goto err_free_page;

	atomic_notifier_chain_register(&panic_notifier_list, &smem_panic_nb);
	return 0;

err_free_page:
	__free_page(smem_panic_page);
	return -ENOMEM;
}

void smem_panic_exit(void)
{
	atomic_notifier_chain_unregister(&panic_notifier_list, &smem_panic_nb);
	vunmap(smem_panic_va);
	__free_page(smem_panic_page);
}
