// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The kmod backend: one /dev/smem object per secret (or per arena chunk).
 * The module hands out pages outside the direct map (when its pool could
 * carve them) and refuses get_user_pages().  A secret's object has one
 * mapping, this process's, so its protection changes with mprotect()
 * rather than SMEM_IOC_PROTECT (which switches every mapping of an
 * object): the descriptor is closed once the pages are mapped, and the
 * secrets of a process are not capped at RLIMIT_NOFILE.  The module still
 * refuses a writable mapping of a sealed object (imports), and makes its
 * own faults fail where its protection forbids.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define SMEM_DEVICE "/dev/smem"

/*
 * -ENODEV when there is no module: no device node (ENOENT), or a node
 * with no driver behind it (ENXIO, ENODEV).  Any other error (EACCES,
 * EMFILE, ENFILE, ENOMEM ...) is a module that is there but could not be
 * opened this time: the context returns it rather than settle on a
 * weaker backend (context.c).
 */
static int kmod_open(void)
{
	int fd = open(SMEM_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	return errno == ENOENT || errno == ENXIO || errno == ENODEV ? -ENODEV : -errno;
}

static int kmod_probe(unsigned int *guarantees)
{
	struct smem_query q;
	int fd, err = 0;

	fd = kmod_open();
	if (fd < 0)
		return fd;
	if (ioctl(fd, SMEM_IOC_QUERY, &q))
		err = errno == ENOTTY ? -ENODEV : -errno;	/* not our driver */
	close(fd);
	if (err)
		return err;
	/* The library needs the transitions; a module without them is no use. */
	if (q.abi_version != SMEM_ABI_VERSION || !(q.features & SMEM_FEAT_PROTECT))
		return -ENODEV;
	*guarantees = SMEM_BASE_GUARANTEES | SMEM_G_NO_GUP;
	if (q.features & SMEM_FEAT_NO_DIRECT_MAP)
		*guarantees |= SMEM_G_NO_DIRECT_MAP;
	if (q.features & SMEM_FEAT_SEAL)
		*guarantees |= SMEM_G_SHAREABLE;
	return 0;
}

/*
 * The module's allocation errors in the library's terms: the public API
 * (include/smem.h) has -ENOMEM for pages that are not there and -EAGAIN
 * for a caller over its allowance of locked memory.
 *  -ENOSPC  the pool, which only the administrator sizes and no allocation
 *           grows, has too few free pages: -ENOMEM;
 *  -EDQUOT  this user already holds its share of the pool
 *           (user_max_percent), an allowance per user like RLIMIT_MEMLOCK
 *           (itself -EAGAIN from the module): -EAGAIN.
 * Either way the secret is not made: the backend was chosen once for the
 * process (context.c), and a failed allocation is never retried on
 * another backend, forced or not, which would give the secret weaker
 * memory than smem_info() reports.
 */
static int kmod_alloc_error(int err)
{
	switch (err) {
	case -ENOSPC:
		return -ENOMEM;
	case -EDQUOT:
		return -EAGAIN;
	default:
		return err;
	}
}

int smem_kmod_object_new(size_t size)
{
	struct smem_alloc alloc = { .size = size };
	int fd;

	fd = kmod_open();
	if (fd < 0)
		return fd;
	if (ioctl(fd, SMEM_IOC_ALLOC, &alloc)) {
		int err = kmod_alloc_error(-errno);

		close(fd);
		return err;
	}
	return fd;
}

static int kmod_map(struct smem_region *r)
{
	int fd;

	fd = smem_kmod_object_new(r->size);
	if (fd < 0)
		return fd;
	r->fd = fd;
	if (mmap(r->base, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

const struct smem_backend_desc smem_backend_kmod = {
	.id = SMEM_BACKEND_KMOD,
	.name = "kmod",
	.probe = kmod_probe,
	.map = kmod_map,
};
