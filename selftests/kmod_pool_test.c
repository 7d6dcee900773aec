// SPDX-License-Identifier: GPL-2.0
/*
 * The page pool of /dev/smem: counters, zeroed pages, no fragmentation,
 * exhaustion (ENOMEM, counted), and the page sources (carveout by default,
 * fallback only when allowed and then reported, reserved only for a
 * reserved range).  Tests that reload the module restore the default load
 * at the end.
 */
#include "kmod_util.h"
#include "kselftest_harness.h"

/* The counters, from sysfs; -1 where one cannot be read. */
struct counters {
	long long objects, pages_in_use, pool_pages, pool_blocks, alloc_failures;
};

static void read_counters(struct counters *c)
{
	c->objects = smem_counter("objects");
	c->pages_in_use = smem_counter("pages_in_use");
	c->pool_pages = smem_counter("pool_pages");
	c->pool_blocks = smem_counter("pool_blocks");
	c->alloc_failures = smem_counter("alloc_failures");
}

/* The query agrees with sysfs (nothing else changes them meanwhile). */
static void expect_query_agrees(struct __test_metadata *_metadata, const struct counters *c)
{
	struct smem_query q;

	ASSERT_EQ(0, smem_query(&q));
	EXPECT_EQ(c->objects, q.objects);
	EXPECT_EQ(c->pages_in_use, q.pages_in_use);
	EXPECT_EQ(c->pool_pages, q.pool_pages);
	EXPECT_EQ(c->alloc_failures, q.alloc_failures);
}

/* Whether a mapping of @fd's first @npages reads all zero. */
static bool object_is_zero(int fd, size_t npages)
{
	size_t ps = pagesz(), len = npages * ps;
	const uint64_t *p = smem_map(fd, len, PROT_READ, 0);
	bool zero = true;

	if (p == MAP_FAILED)
		return false;
	for (size_t i = 0; zero && i < len / sizeof(*p); i++)
		zero = !p[i];
	munmap((void *)p, len);
	return zero;
}

static int fill_object(int fd, size_t npages, int byte)
{
	size_t len = npages * pagesz();
	void *p = smem_map(fd, len, PROT_READ | PROT_WRITE, 0);

	if (p == MAP_FAILED)
		return -errno;
	memset(p, byte, len);
	munmap(p, len);
	return 0;
}

/* ------------------------------------------------------ default load */

TEST(counters_follow_objects)
{
	struct counters base, c;
	int empty, a, b;

	read_counters(&base);
	ASSERT_LE(0, base.objects);
	ASSERT_LE(0, base.pages_in_use);
	ASSERT_LE(0, base.alloc_failures);
	expect_query_agrees(_metadata, &base);

	/* An object without pages is not counted. */
	empty = smem_open();
	ASSERT_LE(0, empty);
	read_counters(&c);
	EXPECT_EQ(base.objects, c.objects);
	EXPECT_EQ(base.pages_in_use, c.pages_in_use);

	a = smem_new(3 * pagesz());
	ASSERT_LE(0, a);
	read_counters(&c);
	EXPECT_EQ(base.objects + 1, c.objects);
	EXPECT_EQ(base.pages_in_use + 3, c.pages_in_use);
	EXPECT_LE(c.pages_in_use, c.pool_pages);
	EXPECT_LE(1, c.pool_blocks);
	expect_query_agrees(_metadata, &c);

	b = smem_new(5 * pagesz() - 100);
	ASSERT_LE(0, b);
	read_counters(&c);
	EXPECT_EQ(base.objects + 2, c.objects);
	EXPECT_EQ(base.pages_in_use + 8, c.pages_in_use);

	close(a);
	read_counters(&c);
	EXPECT_EQ(base.objects + 1, c.objects);
	EXPECT_EQ(base.pages_in_use + 5, c.pages_in_use);
	close(b);
	close(empty);
	read_counters(&c);
	EXPECT_EQ(base.objects, c.objects);
	EXPECT_EQ(base.pages_in_use, c.pages_in_use);
	EXPECT_EQ(base.alloc_failures, c.alloc_failures);
	expect_query_agrees(_metadata, &c);
}

TEST(new_pages_are_zero)
{
	int fd = smem_new(64 * pagesz());

	ASSERT_LE(0, fd);
	EXPECT_TRUE(object_is_zero(fd, 64));
	close(fd);
}

/* ------------------------------------------------ reloaded module */

/*
 * Fixtures that reload the module: FIXTURE_TEARDOWN_PARENT runs in the
 * parent once the test's process is gone (or, after a failed ASSERT, in
 * that process: smem_reload() drops its references first) and brings the
 * default load back.
 */
#define RELOAD_FIXTURE(name, params)					\
	FIXTURE(name) {							\
		struct smem_query q;	/* right after the reload */	\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		ASSERT_EQ(0, smem_reload(params)) TH_LOG("modprobe smem %s", params); \
		ASSERT_EQ(0, smem_query(&self->q));			\
	}								\
	FIXTURE_TEARDOWN_PARENT(name)					\
	{								\
		EXPECT_EQ(0, smem_reload_default()) TH_LOG("default load not restored"); \
	}

RELOAD_FIXTURE(capped, "pool_max_mb=128")
RELOAD_FIXTURE(fallback, "page_source=fallback allow_fallback=1")

/* Tests that load the module themselves, and must not leave it unloaded. */
FIXTURE(loads) {
};

FIXTURE_SETUP(loads)
{
}

FIXTURE_TEARDOWN_PARENT(loads)
{
	EXPECT_EQ(0, smem_reload_default()) TH_LOG("default load not restored");
}

/*
 * Many objects of mixed sizes, freed in random order while others come,
 * leave the pool full of holes; an object as large as all the free pages
 * of the capped pool together still fits.
 */
TEST_F_TIMEOUT(capped, fill_fragmented_pool, 120)
{
	size_t max = self->q.pool_pages, ps = pagesz();
	unsigned int seed = 42;
	int fds[400], n = 0;
	long long in_use;
	int big;

	ASSERT_EQ(128ULL << 20, max * ps);
	for (int round = 0; round < 1000; round++) {
		int i;

		if (n < 400 && (n < 50 || rand_r(&seed) % 3)) {
			size_t pages = 1 + rand_r(&seed) % 97;

			fds[n] = smem_new(pages * ps);
			ASSERT_LE(0, fds[n]) TH_LOG("round %d, %zu pages: %s", round, pages,
						    strerror(-fds[n]));
			n++;
		} else {
			i = rand_r(&seed) % n;
			close(fds[i]);
			fds[i] = fds[--n];
		}
	}
	in_use = smem_counter("pages_in_use");
	ASSERT_LT(0, in_use);
	TH_LOG("%d objects hold %lld pages", n, in_use);
	big = smem_new((max - in_use) * ps);
	ASSERT_LE(0, big) TH_LOG("%lld free pages in one object: %s", max - in_use, strerror(-big));
	EXPECT_EQ(max, smem_counter("pages_in_use"));
	EXPECT_EQ(-ENOMEM, smem_new(ps));
	close(big);
	while (n--)
		close(fds[n]);
	EXPECT_EQ(0, smem_counter("pages_in_use"));
}

/*
 * Every page of the capped pool is written and freed, then every page is
 * handed out again: each reads zero.
 */
TEST_F_TIMEOUT(capped, reused_pages_are_zero, 120)
{
	size_t max = self->q.pool_pages;
	int fd;

	for (int round = 0; round < 2; round++) {
		fd = smem_new(max * pagesz());
		ASSERT_LE(0, fd) TH_LOG("round %d, the whole pool: %s", round, strerror(-fd));
		EXPECT_TRUE(object_is_zero(fd, max)) TH_LOG("round %d", round);
		ASSERT_EQ(0, fill_object(fd, max, 0xa5));
		close(fd);
	}
}

TEST_F(capped, exhausted_enomem)
{
	size_t max = self->q.pool_pages, ps = pagesz();
	struct counters before, after;
	struct smem_object_info info;
	int a, b;

	a = smem_new((max - 10) * ps);
	ASSERT_LE(0, a) TH_LOG("%zu pages: %s", max - 10, strerror(-a));
	b = smem_open();
	ASSERT_LE(0, b);
	read_counters(&before);
	EXPECT_EQ(-ENOMEM, smem_alloc(b, 11 * ps));
	read_counters(&after);
	EXPECT_EQ(before.alloc_failures + 1, after.alloc_failures);
	EXPECT_EQ(before.pages_in_use, after.pages_in_use);
	EXPECT_EQ(before.objects, after.objects);
	expect_query_agrees(_metadata, &after);
	/* The failure left the object empty and usable. */
	ASSERT_EQ(0, smem_obj_info(b, &info));
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(0, smem_alloc(b, 10 * ps));
	EXPECT_EQ(max, smem_counter("pages_in_use"));
	close(a);
	close(b);
}

/*
 * pool_max_mb is writable at run time: the query follows it, a larger
 * allocation than it allows is EINVAL, and the size the query reports is
 * one an empty pool can really give.
 */
TEST_F(capped, pool_max_mb_at_run_time)
{
	struct smem_query q;
	int fd;

	ASSERT_EQ(0, smem_param_set("pool_max_mb", "64"));
	ASSERT_EQ(0, smem_query(&q));
	EXPECT_GE((64ULL << 20) / pagesz(), q.pool_pages);
	fd = smem_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, smem_alloc(fd, (64ULL << 20) + 1));
	EXPECT_EQ(-EINVAL, smem_alloc(fd, (q.pool_pages + 1) * pagesz()));
	if (q.pool_pages) {
		EXPECT_EQ(0, smem_alloc(fd, q.pool_pages * pagesz()))
			TH_LOG("the query promises %llu pages", (unsigned long long)q.pool_pages);
	}
	close(fd);
}

TEST_F(fallback, reported)
{
	struct smem_object_info info;
	char src[32];
	int fd;

	EXPECT_EQ(SMEM_SOURCE_FALLBACK, self->q.page_source);
	EXPECT_EQ(0, self->q.features & SMEM_FEAT_NO_DIRECT_MAP);
	ASSERT_EQ(0, read_text(SMEM_SYSFS "page_source", src, sizeof(src)));
	EXPECT_STREQ("fallback", src);
	fd = smem_new(4 * pagesz());
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(SMEM_SOURCE_FALLBACK, info.page_source);
	EXPECT_EQ(0, info.flags & SMEM_INFO_NO_DIRECT_MAP);
	EXPECT_EQ(4, smem_counter("pages_in_use"));
	/* It works like any other source. */
	EXPECT_TRUE(object_is_zero(fd, 4));
	ASSERT_EQ(0, fill_object(fd, 4, 0x5a));
	close(fd);
	EXPECT_EQ(0, smem_counter("pages_in_use"));
}

/* A load that must fail: modprobe fails and no module stays. */
static void expect_load_refused(struct __test_metadata *_metadata, const char *params)
{
	EXPECT_EQ(-ENOEXEC, smem_reload(params)) TH_LOG("modprobe smem %s", params);
	EXPECT_FALSE(is_module_loaded("smem")) TH_LOG("modprobe smem %s", params);
}

TEST_F(loads, bad_sources_refused)
{
	expect_load_refused(_metadata, "page_source=fallback");
	expect_load_refused(_metadata, "page_source=fallback allow_fallback=0");
	expect_load_refused(_metadata, "page_source=bogus");
	expect_load_refused(_metadata, "page_source=reserved");
	expect_load_refused(_metadata, "page_source=reserved reserved_range=junk");
}

/* Whether a resource of /proc/iomem is named @name. */
static bool iomem_has(const char *name)
{
	char line[256], *colon;
	bool found = false;
	FILE *f = fopen("/proc/iomem", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		colon = strstr(line, " : ");
		found = colon && !strncmp(colon + 3, name, strlen(name)) &&
			colon[3 + strlen(name)] == '\n';
	}
	fclose(f);
	return found;
}

/* The highest System RAM range of /proc/iomem that holds 64 MiB, aligned. */
static uint64_t system_ram_64m(void)
{
	unsigned long long lo, hi, best = 0;
	char line[256];
	FILE *f = fopen("/proc/iomem", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		uint64_t start;

		if (!strstr(line, ": System RAM") || sscanf(line, " %llx-%llx", &lo, &hi) != 2)
			continue;
		start = (lo + (64ULL << 20) - 1) & ~((64ULL << 20) - 1);
		if (start + (64ULL << 20) <= hi + 1 && start > best)
			best = start;
	}
	fclose(f);
	return best;
}

/* Ordinary RAM, in use by the kernel, is never taken as a reserved range. */
TEST_F(loads, reserved_range_of_ram_refused)
{
	uint64_t ram = system_ram_64m();
	char params[128];

	ASSERT_NE(0, ram);
	snprintf(params, sizeof(params), "page_source=reserved reserved_range=64M@%#llx",
		 (unsigned long long)ram);
	expect_load_refused(_metadata, params);
}

/*
 * With a range reserved at boot (vm-run -c 'memmap=64M$0x30000000'), the
 * pool is that range: every page of it can be handed out, none more, and
 * the pages are outside the direct map.
 */
TEST_F(loads, reserved_source)
{
	struct smem_object_info info;
	struct smem_query q;
	char cmdline[1024], params[128], *m;
	int fd;

	ASSERT_EQ(0, read_text("/proc/cmdline", cmdline, sizeof(cmdline)));
	m = strstr(cmdline, "memmap=");
	if (!m || !memchr(m, '$', strcspn(m, " ")))
		SKIP(return, "no memmap=SIZE$ADDR on the kernel command line");
	/* SIZE$ADDR as the kernel took it, as SIZE@ADDR for the module. */
	snprintf(params, sizeof(params), "page_source=reserved reserved_range=%.*s",
		 (int)strcspn(m + 7, " "), m + 7);
	*strchr(params, '$') = '@';
	ASSERT_EQ(0, smem_reload(params)) TH_LOG("modprobe smem %s", params);
	ASSERT_EQ(0, smem_query(&q));
	EXPECT_EQ(SMEM_SOURCE_RESERVED, q.page_source);
	EXPECT_TRUE(q.features & SMEM_FEAT_NO_DIRECT_MAP);
	EXPECT_EQ(q.pool_pages, q.pool_pages);
	EXPECT_LT(0, q.pool_pages);
	fd = smem_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, smem_alloc(fd, (q.pool_pages + 1) * pagesz()));
	ASSERT_EQ(0, smem_alloc(fd, q.pool_pages * pagesz()));
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(SMEM_SOURCE_RESERVED, info.page_source);
	EXPECT_EQ(SMEM_INFO_NO_DIRECT_MAP, info.flags);
	EXPECT_TRUE(object_is_zero(fd, q.pool_pages));
	ASSERT_EQ(0, fill_object(fd, q.pool_pages, 0x11));
	/* Full: no page left for anyone. */
	EXPECT_EQ(-ENOMEM, smem_new(pagesz()));
	close(fd);
	EXPECT_EQ(0, smem_counter("pages_in_use"));
	/* Claimed in /proc/iomem while loaded, released at unload: it loads again. */
	EXPECT_TRUE(iomem_has("smem"));
	ASSERT_EQ(0, smem_reload(params)) TH_LOG("second modprobe smem %s", params);
	fd = smem_new(q.pool_pages * pagesz());
	ASSERT_LE(0, fd);
	EXPECT_TRUE(object_is_zero(fd, q.pool_pages));
	close(fd);
}

TEST_HARNESS_MAIN
