// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"

TEST(info)
{
	struct smem_info info;

	ASSERT_EQ(0, smem_info(&info));
	EXPECT_EQ((size_t)sysconf(_SC_PAGESIZE), info.page_size);
	EXPECT_NE(NULL, info.backend_name);
}

TEST(info_null)
{
	EXPECT_EQ(-EINVAL, smem_info(NULL));
}

/* The version macros are integer constants that #if can test. */
#if !SMEM_VERSION_CHECK(SMEM_VERSION_MAJOR, SMEM_VERSION_MINOR)
#error "SMEM_VERSION_CHECK refuses the version of the headers themselves"
#endif

/*
 * The library under test is the tree's, built with the same headers: its
 * version is theirs, and the string is exactly MAJOR.MINOR.PATCH.
 */
TEST(version_string)
{
	const char *v = smem_version();
	unsigned int major, minor, patch;
	int end = -1;

	ASSERT_NE(NULL, v);
	EXPECT_STREQ(SMEM_VERSION, v);
	ASSERT_EQ(3, sscanf(v, "%u.%u.%u%n", &major, &minor, &patch, &end));
	EXPECT_EQ(strlen(v), (size_t)end);
	EXPECT_EQ(SMEM_VERSION_MAJOR, major);
	EXPECT_EQ(SMEM_VERSION_MINOR, minor);
	EXPECT_EQ(SMEM_VERSION_PATCH, patch);
}

/*
 * The same major and at most the library's minor are provided; a newer
 * minor, and another major, either way, are not.  The headers' macro
 * gives the same answers.
 */
TEST(version_check)
{
	const unsigned int major = SMEM_VERSION_MAJOR, minor = SMEM_VERSION_MINOR;

	EXPECT_EQ(0, smem_version_check(major, minor));
	EXPECT_TRUE(SMEM_VERSION_CHECK(major, minor));
	EXPECT_EQ(0, smem_version_check(major, 0));
	EXPECT_TRUE(SMEM_VERSION_CHECK(major, 0));
	EXPECT_EQ(-ENOTSUP, smem_version_check(major, minor + 1));
	EXPECT_FALSE(SMEM_VERSION_CHECK(major, minor + 1));
	EXPECT_EQ(-ENOTSUP, smem_version_check(major + 1, 0));
	EXPECT_FALSE(SMEM_VERSION_CHECK(major + 1, 0));
	if (major > 0) {
		EXPECT_EQ(-ENOTSUP, smem_version_check(major - 1, minor));
		EXPECT_FALSE(SMEM_VERSION_CHECK(major - 1, minor));
	}
}

/* Errors are return values: errno is left as it was. */
TEST(version_check_errno)
{
	errno = EIO;
	EXPECT_EQ(-ENOTSUP, smem_version_check(SMEM_VERSION_MAJOR + 1, 0));
	EXPECT_EQ(EIO, errno);
}

TEST_HARNESS_MAIN
