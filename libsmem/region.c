// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Regions: page ranges from a backend between two guard pages.
 *
 * Every live region is in a registry so that the child handler of
 * pthread_atfork() can unmap and close what the child inherited: with
 * MADV_WIPEONFORK the child still has (zeroed) anonymous pages, the guard
 * pages are ordinary mappings, and a /dev/smem descriptor would let the
 * child map the parent's object again.  Dropping them right after fork,
 * before the child runs any code of its own, is the only moment when the
 * addresses and descriptor numbers are known to be still ours.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smem_region registry = { .prev = &registry, .next = &registry };

static size_t guard_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int smem_region_reserve(struct smem_region *r, size_t size)
{
	size_t guard = guard_size();
	unsigned char *map;

	map = mmap(NULL, size + 2 * guard, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	r->prev = r->next = NULL;
	r->base = map + guard;
	r->size = size;
	r->fd = -1;
	r->protect = NULL;
	return 0;
}

void smem_region_unmap(struct smem_region *r)
{
	size_t guard = guard_size();

	munmap(r->base - guard, r->size + 2 * guard);
	if (r->fd >= 0)
		close(r->fd);
}

void smem_region_register(struct smem_region *r)
{
	pthread_mutex_lock(&registry_lock);
	r->next = &registry;
	r->prev = registry.prev;
	registry.prev->next = r;
	registry.prev = r;
	pthread_mutex_unlock(&registry_lock);
}

int smem_region_tag(struct smem_region *r, int pkey, int prot)
{
	return pkey_mprotect(r->base, r->size, prot, pkey) ? -errno : 0;
}

int smem_region_create(struct smem_region *r, size_t size,
		       const struct smem_backend_desc *backend, int pkey)
{
	int err;

	err = smem_region_reserve(r, size);
	if (err)
		return err;
	r->protect = backend->protect;
	err = backend->map(r);
	if (!err && pkey >= 0) {
		err = smem_region_tag(r, pkey, PROT_READ | PROT_WRITE);
		/* With a key the protection never changes again. */
		if (!err && r->fd >= 0) {
			close(r->fd);
			r->fd = -1;
		}
	}
	if (err) {
		smem_region_unmap(r);
		return err;
	}
	smem_region_register(r);
	return 0;
}

void smem_region_destroy(struct smem_region *r)
{
	pthread_mutex_lock(&registry_lock);
	r->prev->next = r->next;
	r->next->prev = r->prev;
	pthread_mutex_unlock(&registry_lock);
	smem_region_unmap(r);
}

int smem_region_mprotect(struct smem_region *r, unsigned int prot)
{
	static const int page_prot[] = {
		[SMEM_PROT_NONE] = PROT_NONE,
		[SMEM_PROT_READ] = PROT_READ,
		[SMEM_PROT_READWRITE] = PROT_READ | PROT_WRITE,
	};

	return mprotect(r->base, r->size, page_prot[prot]) ? -errno : 0;
}

void smem_region_fork_prepare(void)
{
	pthread_mutex_lock(&registry_lock);
}

void smem_region_fork_parent(void)
{
	pthread_mutex_unlock(&registry_lock);
}

void smem_region_fork_child(void)
{
	struct smem_region *r, *next;

	for (r = registry.next; r != &registry; r = next) {
		next = r->next;
		smem_region_unmap(r);
	}
	registry.prev = registry.next = &registry;
	pthread_mutex_unlock(&registry_lock);
}
