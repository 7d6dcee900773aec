// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Sharing a secret with another process: a sealed, read-only copy in a
 * /dev/smem object of its own, passed as a file descriptor.
 *
 * The exported object holds a header (magic, length) and the bytes; it is
 * switched to SMEM_PROT_READ and sealed with SMEM_SEAL_WRITE and
 * SMEM_SEAL_PROTECT, so nobody can change it or its protection any more:
 * one importer closing it would otherwise fault the others.  An importer
 * maps it read-only and keeps its own mapping closed between accesses, by
 * its protection key or, without keys, by mprotect() on its own mapping,
 * which touches no other process.
 *
 * An importer trusts nothing about the descriptor it is given until the
 * kernel has said what it is: the file must be the /dev/smem character
 * device (st_rdev) before any ioctl() is issued on it, since an ioctl
 * number means something else to every other driver.  The object is
 * mapped PROT_NONE and tagged with its key before anything is read, and
 * the header is read inside a window (the key opened for this thread
 * only, or without keys the mapping made readable and closed again), so
 * that no other thread can read the bytes at any moment of the import.
 *
 * Only the kmod backend can seal, so only it exports.  memfd_secret(2)
 * descriptors could be passed too, but the receiver could write to them
 * and nothing would keep them read-only, so that backend says -ENOTSUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define EXPORT_MAGIC	"smemsec1"
#define SMEM_DEVICE	"/dev/smem"
#define SMEM_SYSFS_DEV	"/sys/class/misc/smem/dev"

struct export_header {
	char magic[8];
	uint64_t size;
};

struct export_copy {
	unsigned char *map;
	uint32_t pkey_ad;
};

static int export_copy(const void *buf, size_t len, void *arg)
{
	struct export_copy *c = arg;
	struct export_header hdr = { .size = len };
	uint32_t saved_pkru = 0;

	memcpy(hdr.magic, EXPORT_MAGIC, sizeof(hdr.magic));
	/* The copy is under the same key: open it for writing, for us only. */
	if (c->pkey_ad)
		saved_pkru = smem_pkru_open(c->pkey_ad, true);
	memcpy(c->map, &hdr, sizeof(hdr));
	smem_bytes_copy(c->map + sizeof(hdr), buf, len);
	if (c->pkey_ad)
		smem_wrpkru(saved_pkru);
	return 0;
}

static int seal_read_only(int fd)
{
	struct smem_protect protect = { .prot = SMEM_PROT_READ };
	struct smem_seal seal = { .seals = SMEM_SEAL_WRITE | SMEM_SEAL_PROTECT };

	if (ioctl(fd, SMEM_IOC_PROTECT, &protect) || ioctl(fd, SMEM_IOC_SEAL, &seal))
		return -errno;
	return 0;
}

static int export_fd(struct smem_secret *s)
{
	const struct smem_context *ctx;
	struct export_copy copy = { 0 };
	struct smem_region r;
	size_t bytes;
	int fd, err, pkey;

	if (!s)
		return -EINVAL;
	err = smem_context_get(&ctx);
	if (err)
		return err;
	if (!(ctx->guarantees & SMEM_G_SHAREABLE))
		return -ENOTSUP;
	bytes = (sizeof(struct export_header) + smem_secret_size(s) + ctx->page_size - 1) &
		~(ctx->page_size - 1);
	/*
	 * The new object is a region of the registry until it is sealed: a
	 * child forked meanwhile gets neither its writable mapping nor its
	 * descriptor.  No key yet, which would close the descriptor.
	 */
	err = smem_region_create(&r, bytes, &smem_backend_kmod, -1, true);
	if (err)
		return err;
	copy.map = r.base;
	/* Other threads must not see the copy while it is being made. */
	if (ctx->pkey >= 0) {
		pkey = smem_pkey_pick();
		err = pkey < 0 ? pkey : smem_region_tag(&r, pkey, PROT_READ | PROT_WRITE);
		copy.pkey_ad = smem_pkey_ad_bit(pkey);
	}
	/* export_copy() copies with smem_bytes_copy(): nothing to scrub. */
	if (!err)
		err = smem_secret_read_flags(s, export_copy, &copy, SMEM_WINDOW_NO_SCRUB);
	/* Sealing takes write access from every mapping, ours included. */
	if (!err)
		err = seal_read_only(r.fd);
	fd = smem_region_release(&r);
	if (!err)
		return fd;
	close(fd);
	return err;
}

/* errno is the caller's: every public call leaves it as it was. */
SMEM_EXPORT int smem_secret_export_fd(struct smem_secret *s)
{
	int saved_errno = errno, ret;

	ret = export_fd(s);
	errno = saved_errno;
	return ret;
}

/*
 * The device number of /dev/smem, as the kernel tells it (the misc
 * device's "MAJ:MIN" in sysfs), or as the device node has it; 0 when
 * there is no module, and then no descriptor can be one of its objects.
 */
static dev_t smem_device(void)
{
	unsigned int major, minor;
	char buf[32];
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(SMEM_SYSFS_DEV, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			if (sscanf(buf, "%u:%u", &major, &minor) == 2)
				return makedev(major, minor);
		}
	}
	if (!stat(SMEM_DEVICE, &st) && S_ISCHR(st.st_mode))
		return st.st_rdev;
	return 0;
}

/* Whether @fd is a /dev/smem descriptor: 0, -EBADF, or -EINVAL. */
static int check_device(int fd)
{
	struct stat st;
	dev_t dev;

	if (fstat(fd, &st))
		return errno == EBADF ? -EBADF : -EINVAL;
	if (!S_ISCHR(st.st_mode))
		return -EINVAL;
	dev = smem_device();
	return dev && st.st_rdev == dev ? 0 : -EINVAL;
}

/*
 * Copy the header out of the closed mapping @r inside a window: with
 * @pkey, the key opened for reading for this thread only; without, the
 * mapping made readable and closed again.
 */
static int header_read(struct smem_region *r, int pkey, struct export_header *hdr)
{
	uint32_t saved_pkru;
	int err;

	if (pkey >= 0) {
		saved_pkru = smem_pkru_open(smem_pkey_ad_bit(pkey), false);
		smem_bytes_copy(hdr, r->base, sizeof(*hdr));
		smem_wrpkru(saved_pkru);
		return 0;
	}
	err = smem_region_mprotect(r, SMEM_PROT_READ);
	if (err)
		return err;
	smem_bytes_copy(hdr, r->base, sizeof(*hdr));
	return smem_region_mprotect(r, SMEM_PROT_NONE);
}

/*
 * Map an exported object closed (PROT_NONE; with @pkey then readable
 * through PKRU only) and read the length from its header.
 */
static int import_map(int fd, const struct smem_object_info *info, int pkey,
		      struct smem_region *r, size_t *len)
{
	struct export_header hdr;
	int err;

	err = smem_region_reserve(r, info->size);
	if (err)
		return err;
	if (mmap(r->base, r->size, PROT_NONE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		err = -errno;
	else if (pkey >= 0)
		err = smem_region_tag(r, pkey, PROT_READ);
	if (!err)
		err = header_read(r, pkey, &hdr);
	if (!err && (!smem_bytes_equal(hdr.magic, EXPORT_MAGIC, sizeof(hdr.magic)) ||
		     !hdr.size || hdr.size > r->size - sizeof(hdr)))
		err = -EINVAL;
	if (!err)
		*len = hdr.size;
	else
		smem_region_unmap(r);
	return err;
}

static int import_fd(int fd, unsigned int flags, struct smem_secret **ret)
{
	const struct smem_context *ctx;
	struct smem_object_info info;
	struct smem_region r;
	struct smem_secret *s;
	unsigned int given;
	size_t len = 0;
	int block, err, pkey = -1;

	if (fd < 0)
		return -EBADF;
	if (!ret || (flags & ~SMEM_REQUIRE(SMEM_ALL_GUARANTEES)))
		return -EINVAL;
	err = smem_context_get(&ctx);
	if (err)
		return err;
	err = check_device(fd);
	if (err)
		return err;
	if (ioctl(fd, SMEM_IOC_INFO, &info))
		return errno == EBADF ? -EBADF : -EINVAL;
	if (info.prot != SMEM_PROT_READ || (info.seals & SMEM_SEAL_ALL) != SMEM_SEAL_ALL ||
	    info.size < sizeof(struct export_header) || info.size > SMEM_SECRET_MAX_SIZE)
		return -EINVAL;
	given = SMEM_BASE_GUARANTEES | SMEM_G_NO_GUP | SMEM_G_SHAREABLE |
		(info.flags & SMEM_INFO_NO_DIRECT_MAP ? SMEM_G_NO_DIRECT_MAP : 0) |
		(ctx->pkey >= 0 ? SMEM_G_THREAD_WINDOW : 0);
	if ((flags >> SMEM_REQUIRE_SHIFT | smem_context_required()) & ~given)
		return -ENOTSUP;
	if (ctx->pkey >= 0) {
		pkey = smem_pkey_pick();
		if (pkey < 0)
			return pkey;
	}

	s = smem_secret_alloc_imported();
	if (!s)
		return -ENOMEM;
	/*
	 * Mapped and registered with no fork in between (region.c); closed
	 * between accesses like every secret, which it is from the start.
	 */
	block = smem_fork_block();
	err = import_map(fd, &info, pkey, &r, &len);
	if (!err)
		smem_secret_set_imported(s, &r, r.base + sizeof(struct export_header), len, pkey);
	smem_fork_unblock(block);
	if (err) {
		free(s);
		return err;
	}
	*ret = s;
	return 0;
}

SMEM_EXPORT int smem_secret_import_fd(int fd, unsigned int flags, struct smem_secret **ret)
{
	int saved_errno = errno, err;

	err = import_fd(fd, flags, ret);
	errno = saved_errno;
	return err;
}
