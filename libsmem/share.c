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
 * Only the kmod backend can seal, so only it exports.  memfd_secret(2)
 * descriptors could be passed too, but the receiver could write to them
 * and nothing would keep them read-only, so that backend says -ENOTSUP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define EXPORT_MAGIC	"smemsec1"

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

SMEM_EXPORT int smem_secret_export_fd(struct smem_secret *s)
{
	const struct smem_context *ctx;
	struct export_copy copy = { 0 };
	struct smem_region r;
	size_t bytes;
	int fd, err;

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
	err = smem_region_create(&r, bytes, &smem_backend_kmod, -1);
	if (err)
		return err;
	copy.map = r.base;
	/* Other threads must not see the copy while it is being made. */
	if (ctx->pkey >= 0) {
		err = smem_region_tag(&r, ctx->pkey, PROT_READ | PROT_WRITE);
		copy.pkey_ad = smem_pkey_ad_bit(ctx->pkey);
	}
	if (!err)
		err = smem_secret_read(s, export_copy, &copy);
	/* Sealing takes write access from every mapping, ours included. */
	if (!err)
		err = seal_read_only(r.fd);
	fd = smem_region_release(&r);
	if (!err)
		return fd;
	close(fd);
	return err;
}

/* Map an exported object read-only and read the length from its header. */
static int import_map(int fd, const struct smem_object_info *info, struct smem_region *r,
		      size_t *len)
{
	const struct export_header *hdr;
	int err;

	err = smem_region_reserve(r, info->size);
	if (err)
		return err;
	r->protect = smem_region_mprotect;
	hdr = (const struct export_header *)r->base;
	if (mmap(r->base, r->size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		err = -errno;
	else if (!smem_bytes_equal(hdr->magic, EXPORT_MAGIC, sizeof(hdr->magic)) || !hdr->size ||
		 hdr->size > r->size - sizeof(*hdr))
		err = -EINVAL;
	else
		*len = hdr->size;
	if (err)
		smem_region_unmap(r);
	return err;
}

SMEM_EXPORT int smem_secret_import_fd(int fd, unsigned int flags, struct smem_secret **ret)
{
	const struct smem_context *ctx;
	struct smem_object_info info;
	struct smem_region r;
	struct smem_secret *s;
	unsigned int given;
	size_t len = 0;
	int block, err;

	if (fd < 0)
		return -EBADF;
	if (!ret || (flags & ~SMEM_REQUIRE(SMEM_ALL_GUARANTEES)))
		return -EINVAL;
	err = smem_context_get(&ctx);
	if (err)
		return err;
	if (ioctl(fd, SMEM_IOC_INFO, &info))
		return errno == EBADF ? -EBADF : -EINVAL;	/* not /dev/smem */
	if (info.prot != SMEM_PROT_READ || (info.seals & SMEM_SEAL_ALL) != SMEM_SEAL_ALL ||
	    info.size < sizeof(struct export_header) || info.size > SMEM_SECRET_MAX_SIZE)
		return -EINVAL;
	given = SMEM_BASE_GUARANTEES | SMEM_G_NO_GUP | SMEM_G_SHAREABLE |
		(info.flags & SMEM_INFO_NO_DIRECT_MAP ? SMEM_G_NO_DIRECT_MAP : 0) |
		(ctx->pkey >= 0 ? SMEM_G_THREAD_WINDOW : 0);
	if ((flags >> SMEM_REQUIRE_SHIFT | smem_context_required()) & ~given)
		return -ENOTSUP;

	s = smem_secret_alloc_imported();
	if (!s)
		return -ENOMEM;
	/* Mapped and registered with no fork in between (region.c). */
	block = smem_fork_block();
	err = import_map(fd, &info, &r, &len);
	if (!err) {
		/* Closed between accesses, like every secret. */
		if (ctx->pkey >= 0)
			err = smem_region_tag(&r, ctx->pkey, PROT_READ);
		else
			err = smem_region_mprotect(&r, SMEM_PROT_NONE);
		if (err)
			smem_region_unmap(&r);
		else
			smem_secret_set_imported(s, &r, r.base + sizeof(struct export_header),
						 len, ctx->pkey);
	}
	smem_fork_unblock(block);
	if (err) {
		free(s);
		return err;
	}
	*ret = s;
	return 0;
}
