// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/smem.h>

#include "smem.h"

#define SMEM_EXPORT __attribute__((visibility("default")))

SMEM_EXPORT int smem_info(struct smem_info *ret)
{
	struct smem_query q;
	int fd, err = 0;

	if (!ret)
		return -EINVAL;
	fd = open("/dev/smem", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SMEM_IOC_QUERY, &q) < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	memset(ret, 0, sizeof(*ret));
	ret->backend = SMEM_BACKEND_KMOD;
	ret->backend_name = "kmod";
	ret->page_size = q.page_size;
	return 0;
}
