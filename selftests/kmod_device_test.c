// SPDX-License-Identifier: GPL-2.0
/*
 * The device itself: the module is loaded, /dev/smem is a world-usable
 * character device, and it answers the query ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/smem.h>

#include "kselftest_harness.h"

TEST(module_loaded)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/modules", "r");

	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "smem ", 5))
			found = true;
	fclose(f);
	ASSERT_TRUE(found) TH_LOG("smem is not in /proc/modules");
}

TEST(device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/smem", &st)) TH_LOG("/dev/smem: %s", strerror(errno));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0666, st.st_mode & 07777);
}

TEST(query_version)
{
	struct smem_query q;
	int fd = open("/dev/smem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("open /dev/smem: %s", strerror(errno));
	memset(&q, 0xa5, sizeof(q));
	ASSERT_EQ(0, ioctl(fd, SMEM_IOC_QUERY, &q));
	EXPECT_EQ(SMEM_ABI_VERSION, q.abi_version);
	EXPECT_EQ((__u64)sysconf(_SC_PAGESIZE), q.page_size);
	for (size_t i = 0; i < sizeof(q.reserved) / sizeof(q.reserved[0]); i++)
		EXPECT_EQ(0, q.reserved[i]);
	close(fd);
}

TEST(unknown_ioctl)
{
	int fd = open("/dev/smem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, _IO(SMEM_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOR('x', 0x00, struct smem_query), NULL));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST(query_bad_pointer)
{
	int fd = open("/dev/smem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, SMEM_IOC_QUERY, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST(no_read_write_seek)
{
	char buf[16] = { 0 };
	int fd = open("/dev/smem", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, write(fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST_HARNESS_MAIN
