// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The memfd_secret backend: memfd_secret(2) pages, outside the kernel
 * direct map and refused to get_user_pages() (ptrace, /proc/PID/mem,
 * process_vm_readv), with protection changed by mprotect().
 *
 * The descriptor is closed once the pages are mapped: the mapping keeps
 * the file, and a descriptor would only be one more thing a forked child
 * inherits.  The mapping is shared, so MADV_DONTFORK keeps it out of
 * children.  Every page is faulted in at creation, by the kernel, so that
 * a shortage is an error from the call rather than a signal at first use
 * (MADV_POPULATE_WRITE would be the tool, but it goes through
 * get_user_pages(), which secret memory refuses).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifndef __NR_memfd_secret
# if defined(__x86_64__) || defined(__aarch64__) || defined(__riscv)
#  define __NR_memfd_secret 447
# endif
#endif

static int memfd_secret_open(void)
{
#ifdef __NR_memfd_secret
	int fd = syscall(__NR_memfd_secret, O_CLOEXEC);

	return fd < 0 ? -errno : fd;
#else
	return -ENOSYS;
#endif
}

/*
 * -ENODEV when the kernel has no memfd_secret(2) (ENOSYS: too old, or
 * built without it, or, before 6.5, booted without secretmem.enable=1),
 * or when a seccomp filter refuses it (EPERM, which the system call
 * itself never says; a container runtime's profile older than the call
 * says ENOSYS or EPERM).  Other errors (EMFILE, ENFILE, ENOMEM ...) are
 * failures that may pass: returned, not a reason to fall back to mlock
 * (context.c).
 */
static int memfd_probe(unsigned int *guarantees)
{
	int fd = memfd_secret_open();

	if (fd < 0)
		return fd == -ENOSYS || fd == -EPERM ? -ENODEV : fd;
	close(fd);
	*guarantees = SMEM_BASE_GUARANTEES | SMEM_G_NO_DIRECT_MAP | SMEM_G_NO_GUP;
	return 0;
}

/*
 * A fault taken by the kernel while it copies to user memory fails the
 * system call with EFAULT instead of raising a signal: have getrandom()
 * write the first byte of every page.
 */
static int prefault(struct smem_region *r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), off;

	for (off = 0; off < r->size; off += page) {
		while (getrandom(r->base + off, 1, 0) < 0)
			if (errno != EINTR)
				return smem_memlock_error(errno == EFAULT ? ENOMEM : errno, false);
		r->base[off] = 0;
	}
	return 0;
}

static int memfd_map(struct smem_region *r)
{
	void *map;
	int fd, err = 0;

	fd = memfd_secret_open();
	if (fd < 0)
		return fd;
	if (ftruncate(fd, r->size)) {
		err = -errno;
		goto out;
	}
	/*
	 * Secret memory counts against RLIMIT_MEMLOCK: the kernel says EAGAIN
	 * when the mapping would go over it, which is also the public API's
	 * error for it (smem.h).  ENOMEM stays a shortage of memory or of
	 * mappings (vm.max_map_count).
	 */
	map = mmap(r->base, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (map == MAP_FAILED)
		err = errno == ENOMEM ? smem_memlock_error(ENOMEM, true) : -errno;
	else if (madvise(r->base, r->size, MADV_DONTFORK) ||
		 madvise(r->base, r->size, MADV_DONTDUMP))
		err = -errno;
	else
		err = prefault(r);
out:
	close(fd);
	return err;
}

const struct smem_backend_desc smem_backend_memfd_secret = {
	.id = SMEM_BACKEND_MEMFD_SECRET,
	.name = "memfd_secret",
	.probe = memfd_probe,
	.map = memfd_map,
};
