/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API drift between the supported kernels.  Kbuild probes the
 * kernel headers (see SMEM_HAVE_* in Kbuild) instead of comparing version
 * numbers, so distribution backports are handled too.
 */
#ifndef _SMEM_COMPAT_H
#define _SMEM_COMPAT_H

#include <linux/mm.h>

#ifndef SMEM_HAVE_VM_FLAGS_SET
/* Before 6.3, vm_flags was written directly under mmap_lock. */
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/* pfn_t (gone in 6.17) wrapped the frame number of vmf_insert_mixed(). */
#ifdef SMEM_HAVE_PFN_T
#include <linux/pfn_t.h>

static inline vm_fault_t smem_vmf_insert_mixed(struct vm_area_struct *vma,
					       unsigned long addr, unsigned long pfn)
{
	return vmf_insert_mixed(vma, addr, pfn_to_pfn_t(pfn));
}
#else
static inline vm_fault_t smem_vmf_insert_mixed(struct vm_area_struct *vma,
					       unsigned long addr, unsigned long pfn)
{
	return vmf_insert_mixed(vma, addr, pfn);
}
#endif

#endif /* _SMEM_COMPAT_H */
