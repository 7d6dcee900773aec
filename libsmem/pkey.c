// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Protection keys.  libsmem takes one key for all its pages.  Every thread
 * starts with the key closed: pkey_alloc() closes it for the calling
 * thread, and the kernel gives every other thread the restrictive default
 * PKRU, which denies every key but 0.  An access window opens the key in
 * the PKRU of the calling thread only (smem_pkru_open()); the pages
 * themselves stay mapped read-write, so opening and closing a window is a
 * register write, not a system call, and other threads keep faulting.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int smem_pkey_setup(const struct smem_backend_desc *backend)
{
#if defined(__x86_64__)
	struct smem_region probe;
	int key, err;

	key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
	if (key < 0)
		return -errno;
	/*
	 * The backend's mappings must take the key: try on one page (a
	 * /dev/smem mapping is VM_PFNMAP, mprotect may be refused on it).
	 */
	err = smem_region_create(&probe, (size_t)sysconf(_SC_PAGESIZE), backend, key);
	if (err) {
		pkey_free(key);
		return err;
	}
	smem_region_destroy(&probe);
	return key;
#else
	(void)backend;
	return -ENOTSUP;
#endif
}

/* Stub until keys per secret: the one key of the context. */
int smem_pkey_pick(void)
{
	const struct smem_context *ctx;

	return smem_context_get(&ctx) ? -1 : ctx->pkey;
}

uint32_t smem_pkey_lib_bits(void)
{
	const struct smem_context *ctx;

	if (smem_context_get(&ctx) || ctx->pkey < 0)
		return 0;
	return 3U << (2 * ctx->pkey);
}
