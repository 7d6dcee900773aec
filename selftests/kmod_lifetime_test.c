// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime of /dev/smem objects and of the module: pages go back to the
 * pool when the last fd and the last mapping are gone (and not before),
 * the module cannot be unloaded while an object lives, load and unload
 * leave MemTotal as it was (the VMs online given-back memory:
 * memhp_default_state=online), and the pool keeps its blocks, used or
 * not, until the administrator shrinks it or unloads the module.
 */
#include "kmod_util.h"
#include "kselftest_harness.h"

#define NPAGES 16

/* smem's "in use" answer to delete_module(2): EWOULDBLOCK, or EBUSY. */
static bool unload_refused(void)
{
	int ret = unload_module(SMEM_MODULE);

	return (ret == -EWOULDBLOCK || ret == -EBUSY) && is_module_loaded(SMEM_MODULE);
}

/* -------------------------------------------------- pages and objects */

TEST(pages_back_after_last_fd_and_mapping)
{
	long long base = smem_counter("pages_in_use"), objs = smem_counter("objects");
	size_t size = NPAGES * pagesz();
	unsigned char *p;
	int fd;

	ASSERT_LE(0, base);
	fd = smem_new(size);
	ASSERT_LE(0, fd);
	p = smem_map(fd, size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, size, 3);
	EXPECT_EQ(base + NPAGES, smem_counter("pages_in_use"));

	/* The fd goes, the mapping holds the object. */
	ASSERT_EQ(0, close(fd));
	sleep_ms(200);
	EXPECT_EQ(base + NPAGES, smem_counter("pages_in_use"));
	EXPECT_EQ(objs + 1, smem_counter("objects"));
	EXPECT_EQ(size, check_pattern(p, size, 3));

	ASSERT_EQ(0, munmap(p, size));
	EXPECT_EQ(base, wait_counter("pages_in_use", base, 2000));
	EXPECT_EQ(objs, smem_counter("objects"));
}

TEST(pages_back_after_close_without_mapping)
{
	long long base = smem_counter("pages_in_use");
	int fd = smem_new(NPAGES * pagesz()), dup_fd;

	ASSERT_LE(0, fd);
	dup_fd = dup(fd);
	ASSERT_LE(0, dup_fd);
	close(fd);
	sleep_ms(100);
	/* Another reference to the file still holds it. */
	EXPECT_EQ(base + NPAGES, smem_counter("pages_in_use"));
	close(dup_fd);
	EXPECT_EQ(base, wait_counter("pages_in_use", base, 2000));
}

/* A mapping in another process keeps the object after we let go. */
TEST(mapping_in_other_process_keeps_object)
{
	long long base = smem_counter("pages_in_use");
	size_t size = NPAGES * pagesz();
	int go[2], ready[2];
	unsigned char *p;
	char c;
	pid_t pid;
	int fd;

	fd = smem_new(size);
	ASSERT_LE(0, fd);
	p = smem_map(fd, size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, size, 4);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned char *q = smem_map(fd, size, PROT_READ, 0);

		close(fd);
		if (q == MAP_FAILED || write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(10);
		_exit(check_pattern(q, size, 4) == size ? 0 : 11);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	munmap(p, size);
	close(fd);
	sleep_ms(100);
	EXPECT_EQ(base + NPAGES, smem_counter("pages_in_use"));
	ASSERT_EQ(1, write(go[1], "g", 1));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(base, wait_counter("pages_in_use", base, 2000));
}

/* ------------------------------------------------------------- rmmod */

FIXTURE(module) {
};

FIXTURE_SETUP(module)
{
}

/* Whatever happened, the default load (and parameters) are back at the end. */
FIXTURE_TEARDOWN_PARENT(module)
{
	EXPECT_EQ(0, smem_reload_default());
}

TEST_F(module, rmmod_refused_while_open)
{
	int fd = smem_open();

	ASSERT_LE(0, fd);
	EXPECT_TRUE(unload_refused()) TH_LOG("empty object");
	ASSERT_EQ(0, smem_alloc(fd, pagesz()));
	EXPECT_TRUE(unload_refused()) TH_LOG("object with pages");
	/* Refused means untouched. */
	EXPECT_EQ(0, smem_protect(fd, SMEM_PROT_READ));
	close(fd);
}

TEST_F(module, rmmod_refused_while_mapped)
{
	size_t size = NPAGES * pagesz();
	unsigned char *p;
	int fd = smem_new(size);

	ASSERT_LE(0, fd);
	p = smem_map(fd, size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, size, 5);
	close(fd);
	EXPECT_TRUE(unload_refused());
	EXPECT_EQ(size, check_pattern(p, size, 5));
	munmap(p, size);
	/* The last reference gone, nothing holds the module any more. */
	EXPECT_EQ(0, smem_reload(NULL));
	EXPECT_FALSE(is_module_loaded(SMEM_MODULE));
	EXPECT_EQ(0, smem_reload_default());
}

/*
 * Twenty times: load (the pool is carved: MemTotal drops), use and free an
 * object, unload: MemTotal is back where it was before the first load.
 */
TEST_F_TIMEOUT(module, load_unload_memtotal, 300)
{
	long long before, during, after;
	unsigned char *p;
	int fd;

	ASSERT_EQ(0, smem_reload(NULL));
	before = meminfo_kb("MemTotal");
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(0, smem_reload("")) TH_LOG("load %d", i);
		during = meminfo_kb("MemTotal");
		fd = smem_new(NPAGES * pagesz());
		ASSERT_LE(0, fd) TH_LOG("load %d: %s", i, strerror(-fd));
		p = smem_map(fd, NPAGES * pagesz(), PROT_READ | PROT_WRITE, 0);
		ASSERT_NE(MAP_FAILED, p);
		memset(p, i, NPAGES * pagesz());
		munmap(p, NPAGES * pagesz());
		close(fd);
		/* The test means something only if memory really left the kernel. */
		EXPECT_LT(during, before) TH_LOG("load %d: MemTotal %lld kB with a block carved", i, during);
		ASSERT_EQ(0, smem_reload(NULL)) TH_LOG("unload %d", i);
		after = wait_memtotal(before, 5000);
		ASSERT_EQ(before, after) TH_LOG("after unload %d: MemTotal %lld kB, was %lld kB", i, after, before);
	}
}

/*
 * The pool never shrinks by itself: its blocks stay, MemTotal with them,
 * well past the old grace period (10 s) and past the retry timer of
 * pending blocks, whether they were used or not.
 */
TEST_F_TIMEOUT(module, pool_keeps_its_blocks, 60)
{
	long long blocks, pages, memtotal;
	int fd;

	ASSERT_EQ(0, smem_reload(""));
	blocks = smem_counter("pool_blocks");
	pages = smem_counter("pool_pages");
	memtotal = meminfo_kb("MemTotal");
	ASSERT_LE(1, blocks);
	fd = smem_new(NPAGES * pagesz());
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(0, wait_counter("pages_in_use", 0, 2000));
	sleep_ms(12000);
	EXPECT_EQ(blocks, smem_counter("pool_blocks"));
	EXPECT_EQ(pages, smem_counter("pool_pages"));
	EXPECT_EQ(memtotal, meminfo_kb("MemTotal"));
}

/* Unloading gives every block of a larger pool back, MemTotal with it. */
TEST_F_TIMEOUT(module, unload_gives_all_back, 120)
{
	__u64 bs = smem_counter("block_pages") * pagesz(), out;
	long long before, now;
	int fd;

	ASSERT_EQ(0, smem_reload(NULL));
	before = meminfo_kb("MemTotal");
	ASSERT_EQ(0, smem_reload("pool_mb=0"));
	ASSERT_EQ(0, smem_pool_resize(3 * bs, &out));
	EXPECT_EQ(3, smem_counter("pool_blocks"));
	now = meminfo_kb("MemTotal");
	EXPECT_TRUE(memtotal_near(now, before - (long long)(out >> 10), 3, bs))
		TH_LOG("MemTotal %lld kB with 3 blocks out, %lld kB before", now, before);
	fd = smem_new(NPAGES * pagesz());
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, smem_reload(NULL));
	now = meminfo_kb("MemTotal");
	EXPECT_TRUE(memtotal_near(now, before, 3, bs))
		TH_LOG("MemTotal %lld kB after unload, %lld kB before", now, before);
	EXPECT_EQ(0, iomem_count("smem", 0, ~0ULL));
}

/* ------------------------------------------------------- hibernation */

#define PM_TEST		"/sys/power/pm_test"
#define PM_STATE	"/sys/power/state"

FIXTURE(hibernation) {
	bool pm_test;	/* a freezer test instead of a real hibernation */
};

FIXTURE_SETUP(hibernation)
{
	char state[128];

	ASSERT_EQ(0, read_text(PM_STATE, state, sizeof(state)));
	ASSERT_NE(NULL, strstr(state, "disk")) TH_LOG("no hibernation here: %s", state);
	/*
	 * With CONFIG_PM_DEBUG, only ever a freezer test: if the veto fails,
	 * the system freezes and thaws its tasks instead of hibernating.
	 * Without it, a failed veto means a real attempt, which fails for
	 * want of swap (and the test fails with it).
	 */
	self->pm_test = !write_text(PM_TEST, "freezer");
}

FIXTURE_TEARDOWN(hibernation)
{
	if (self->pm_test)
		write_text(PM_TEST, "none");
}

/* A hibernation image would carry the secrets to disk: vetoed while they exist. */
TEST_F_TIMEOUT(hibernation, vetoed_while_secrets_exist, 60)
{
	int fd = smem_new(pagesz());

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBUSY, write_text(PM_STATE, "disk"));
	close(fd);
	/* The control: without secrets the (test) hibernation goes through. */
	if (self->pm_test) {
		EXPECT_EQ(0, write_text(PM_STATE, "disk"));
	} else {
		TH_LOG("no " PM_TEST " (CONFIG_PM_DEBUG): no control run");
	}
}

TEST_HARNESS_MAIN
