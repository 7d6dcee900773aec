// SPDX-License-Identifier: GPL-2.0
/*
 * The device itself: the module is loaded, /dev/smem is a world-usable
 * character device, each open() is an object, it answers the query ioctl,
 * and its statistics and parameters are in sysfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/smem.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

TEST(module_loaded)
{
	ASSERT_TRUE(is_module_loaded(SMEM_MODULE)) TH_LOG(SMEM_MODULE " is not in /proc/modules");
}

TEST(device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/smem", &st)) TH_LOG("/dev/smem: %s", strerror(errno));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	/* Root's until udev gives it to the group smem (dist/udev). */
	ASSERT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, st.st_uid);
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
	for (size_t i = 0; i < sizeof(q.reserved) / sizeof(q.reserved[0]); i++) {
		EXPECT_EQ(0, q.reserved[i]);
	}
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

/* Neither before nor after SMEM_IOC_ALLOC can the bytes be read or written through the fd. */
TEST(no_read_write_seek)
{
	char buf[16] = { 0 };
	int fd = smem_open();

	ASSERT_LE(0, fd);
	for (int allocated = 0; allocated < 2; allocated++) {
		EXPECT_EQ(-1, read(fd, buf, sizeof(buf))) TH_LOG("allocated %d", allocated);
		EXPECT_EQ(-1, write(fd, buf, sizeof(buf))) TH_LOG("allocated %d", allocated);
		EXPECT_EQ(-1, pread(fd, buf, sizeof(buf), 0));
		EXPECT_EQ(ESPIPE, errno);
		EXPECT_EQ(-1, pwrite(fd, buf, sizeof(buf), 0));
		EXPECT_EQ(ESPIPE, errno);
		EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
		EXPECT_EQ(ESPIPE, errno);
		if (!allocated) {
			ASSERT_EQ(0, smem_alloc(fd, pagesz()));
		}
	}
	close(fd);
}

/* The statistics in sysfs: read-only numbers, and the page source by name. */
TEST(sysfs_statistics)
{
	static const char * const numbers[] = {
		"objects", "pages_in_use", "pool_pages", "pool_blocks", "alloc_failures",
		"block_pages", "carvable_pages", "refused_blocks", "pending_blocks",
		"user_max_pages", "crash_kernel_loaded",
	};
	char path[128], buf[64], *end;
	struct stat st;
	int fd;

	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		snprintf(path, sizeof(path), SMEM_SYSFS "%s", numbers[i]);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
		EXPECT_EQ(0444, st.st_mode & 0777) TH_LOG("%s", path);
		ASSERT_EQ(0, read_text(path, buf, sizeof(buf)));
		EXPECT_TRUE(buf[0] >= '0' && buf[0] <= '9') TH_LOG("%s: \"%s\"", path, buf);
		strtoull(buf, &end, 10);
		EXPECT_EQ(0, *end) TH_LOG("%s: \"%s\"", path, buf);
		fd = open(path, O_WRONLY);
		EXPECT_EQ(-1, fd) TH_LOG("%s is writable", path);
		if (fd >= 0)
			close(fd);
	}
	/* Which users hold secrets, "UID PAGES" lines: for root only. */
	ASSERT_EQ(0, stat(SMEM_SYSFS "users", &st));
	EXPECT_EQ(0400, st.st_mode & 0777);
	ASSERT_EQ(0, read_text(SMEM_SYSFS "page_source", buf, sizeof(buf)));
	EXPECT_TRUE(!strcmp(buf, "carveout") || !strcmp(buf, "reserved") || !strcmp(buf, "fallback"))
		TH_LOG("page_source \"%s\"", buf);
}

/* The module parameters and their defaults (vm-run loads smem plainly). */
TEST(module_parameters)
{
	static const struct {
		const char *name, *value;
		unsigned int mode;
	} params[] = {
		{ "page_source", "carveout", 0444 },
		{ "allow_fallback", "N", 0444 },
		{ "pool_mb", "128", 0444 },
		{ "user_max_percent", "50", 0644 },
		{ "reserved_range", NULL, 0444 },
	};
	char path[128], buf[64];
	struct stat st;

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		snprintf(path, sizeof(path), SMEM_PARAMS "%s", params[i].name);
		ASSERT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", path, strerror(errno));
		EXPECT_EQ(params[i].mode, st.st_mode & 0777) TH_LOG("%s", path);
		ASSERT_EQ(0, smem_param_get(params[i].name, buf, sizeof(buf)));
		if (params[i].value) {
			EXPECT_STREQ(params[i].value, buf) TH_LOG("%s", path);
		}
	}
	/* What the pool no longer has: it never grows or shrinks by itself. */
	EXPECT_NE(0, access(SMEM_PARAMS "pool_max_mb", F_OK));
	EXPECT_NE(0, access(SMEM_PARAMS "release_delay_ms", F_OK));
	/* A share above the whole pool is refused, and changes nothing. */
	EXPECT_NE(0, smem_param_set("user_max_percent", "101"));
	ASSERT_EQ(0, smem_param_get("user_max_percent", buf, sizeof(buf)));
	EXPECT_STREQ("50", buf);
}

/* Each open() is an object of its own. */
TEST(each_open_is_an_object)
{
	struct smem_object_info info;
	int a = smem_open(), b = smem_open();

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, smem_alloc(a, 2 * pagesz()));
	ASSERT_EQ(0, smem_obj_info(b, &info));
	EXPECT_EQ(0, info.size);
	ASSERT_EQ(0, smem_alloc(b, pagesz()));
	ASSERT_EQ(0, smem_protect(a, SMEM_PROT_NONE));
	ASSERT_EQ(0, smem_obj_info(b, &info));
	EXPECT_EQ(SMEM_PROT_READWRITE, info.prot);
	EXPECT_EQ(pagesz(), info.size);
	close(a);
	close(b);
}

/* Whether the kernel log has a line that contains @text. */
static bool dmesg_has(const char *text)
{
	char line[1024];
	bool found = false;
	FILE *f = popen("dmesg", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, text) != NULL;
	pclose(f);
	return found;
}

/*
 * A pool_mb smaller than one memory block (the default on machines with
 * 2 GiB blocks) carves nothing, and says what to set: an allocation gets
 * ENOSPC, counted, not EINVAL; the query flags it; dmesg names the value.
 * Growing the pool by one block clears it.
 */
TEST(pool_below_one_block)
{
	long long block_pages = smem_counter("block_pages");
	unsigned long long block_mb = block_pages * pagesz() >> 20;
	char params[64], advice[64];
	struct smem_query q;
	__u64 pool_size = 0;
	long long failures;
	int fd;

	ASSERT_LT(0, block_pages);
	snprintf(params, sizeof(params), "pool_mb=%llu", block_mb / 2);
	ASSERT_EQ(0, smem_reload(params));
	EXPECT_EQ(0, smem_counter("pool_pages"));
	ASSERT_EQ(0, smem_query(&q));
	EXPECT_TRUE(q.status & SMEM_STATUS_POOL_BELOW_BLOCK) TH_LOG("status %#llx",
								 (unsigned long long)q.status);
	snprintf(advice, sizeof(advice), "set pool_mb=%llu", block_mb);
	EXPECT_TRUE(dmesg_has(advice)) TH_LOG("no \"%s\" in dmesg", advice);

	failures = smem_counter("alloc_failures");
	fd = smem_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOSPC, smem_alloc(fd, pagesz()));
	EXPECT_EQ(failures + 1, smem_counter("alloc_failures"));

	EXPECT_EQ(0, smem_pool_resize(block_pages * pagesz(), &pool_size));
	EXPECT_EQ(block_pages * pagesz(), pool_size);
	ASSERT_EQ(0, smem_query(&q));
	EXPECT_FALSE(q.status & SMEM_STATUS_POOL_BELOW_BLOCK);
	EXPECT_EQ(0, smem_alloc(fd, pagesz()));
	close(fd);
	ASSERT_EQ(0, smem_reload_default());
}

TEST_HARNESS_MAIN
