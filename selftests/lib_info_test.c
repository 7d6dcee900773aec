// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
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

TEST_HARNESS_MAIN
