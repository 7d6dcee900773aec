// SPDX-License-Identifier: GPL-2.0
/*
 * The page pool of /dev/smem: counters, zeroed pages, no fragmentation,
 * exhaustion (ENOSPC, counted) without the pool ever growing by itself;
 * the administrator's sizing: pool_mb at load, SMEM_IOC_POOL_RESIZE by
 * whole memory blocks (root only), blocks given back when empty and
 * onlined as the kernel's policy says (auto_online_blocks), EBUSY while
 * in use, EINTR on a signal, EOPNOTSUPP for the other sources; and the
 * page sources (carveout by default, fallback only when allowed and then
 * reported, reserved only for a reserved range).  Tests that reload the
 * module restore the default load at the end.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

/* The counters, from sysfs; -1 where one cannot be read. */
struct counters {
	long long objects, pages_in_use, pool_pages, pool_blocks, alloc_failures;
	long long carvable_pages, memtotal_kb;
};

static void read_counters(struct counters *c)
{
	c->objects = smem_counter("objects");
	c->pages_in_use = smem_counter("pages_in_use");
	c->pool_pages = smem_counter("pool_pages");
	c->pool_blocks = smem_counter("pool_blocks");
	c->alloc_failures = smem_counter("alloc_failures");
	c->carvable_pages = smem_counter("carvable_pages");
	c->memtotal_kb = meminfo_kb("MemTotal");
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
	EXPECT_EQ(c->carvable_pages, q.carvable_pages);
	EXPECT_EQ(c->pool_blocks * q.block_pages, q.pool_pages);
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

/* Bytes of one memory block (the query's block_pages), or 0. */
static uint64_t block_bytes(void)
{
	struct smem_query q;

	return smem_query(&q) ? 0 : q.block_pages * q.page_size;
}

/*
 * The "smem" ranges of /proc/iomem: how many bytes they cover, and
 * whether each is whole memory blocks (of @bs bytes).
 */
static uint64_t smem_iomem_bytes(uint64_t bs, bool *whole_blocks)
{
	struct iomem_entry *r;
	int n = iomem_read(&r);
	uint64_t total = 0;

	*whole_blocks = n >= 0;
	for (int i = 0; i < n; i++) {
		uint64_t len = r[i].end + 1 - r[i].start;

		if (strcmp(r[i].name, "smem"))
			continue;
		total += len;
		*whole_blocks &= !(r[i].start % bs) && !(len % bs);
	}
	if (n >= 0)
		free(r);
	return total;
}

/*
 * The pool holds @blocks memory blocks of @bs bytes: the counters, the
 * query and /proc/iomem (an exclusive "smem" range over each carved
 * block, which keeps /dev/mem out) all say so.
 */
static void expect_pool_blocks(struct __test_metadata *_metadata, uint64_t bs, long long blocks)
{
	struct counters c;
	bool whole;

	read_counters(&c);
	EXPECT_EQ(blocks, c.pool_blocks);
	EXPECT_EQ(blocks * bs, c.pool_pages * pagesz());
	EXPECT_EQ(blocks * bs, smem_iomem_bytes(bs, &whole));
	EXPECT_TRUE(whole) TH_LOG("an smem range of /proc/iomem is not whole blocks");
	expect_query_agrees(_metadata, &c);
}

/* The start of each "smem" range of /proc/iomem (at most @max): their number. */
static int smem_iomem_starts(__u64 *starts, int max)
{
	struct iomem_entry *r;
	int n = iomem_read(&r), found = 0;

	for (int i = 0; i < n && found < max; i++)
		if (!strcmp(r[i].name, "smem"))
			starts[found++] = r[i].start;
	if (n >= 0)
		free(r);
	return found;
}

/*
 * Whether the kernel onlines memory given back to it: auto_online_blocks
 * other than "offline" (memhp_default_state=online, as in the test VMs).
 */
static bool kernel_onlines_memory(void)
{
	char policy[32];

	return !read_text("/sys/devices/system/memory/auto_online_blocks", policy, sizeof(policy)) &&
	       strcmp(policy, "offline");
}

/*
 * MemTotal is @want_kb, give or take the memmaps of @blocks blocks of @bs
 * bytes, where the kernel onlines memory given back to it (the test VMs):
 * then every block was online before it was carved.  Elsewhere a block
 * given back earlier may have been offline, out of MemTotal already.
 */
static void expect_memtotal(struct __test_metadata *_metadata, long long want_kb,
			    long long blocks, uint64_t bs)
{
	long long now = meminfo_kb("MemTotal");

	if (!kernel_onlines_memory())
		return;
	EXPECT_TRUE(memtotal_near(now, want_kb, blocks, bs))
		TH_LOG("MemTotal %lld kB, want %lld kB give or take %lld memmaps", now, want_kb, blocks);
}

/*
 * Blocks given back follow the kernel's onlining policy: the memory block
 * that starts at @phys is System RAM in /proc/iomem again, online if the
 * kernel onlines hot-added memory, offline if not.
 */
static void expect_given_back(struct __test_metadata *_metadata, uint64_t phys, uint64_t bs)
{
	char path[128], state[32];

	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%llu/state",
		 (unsigned long long)(phys / bs));
	ASSERT_EQ(0, read_text(path, state, sizeof(state))) TH_LOG("%s: block not given back", path);
	EXPECT_STREQ(kernel_onlines_memory() ? "online" : "offline", state)
		TH_LOG("block at %#llx", (unsigned long long)phys);
	EXPECT_EQ(1, iomem_count("System RAM", phys, phys + bs - 1))
		TH_LOG("block at %#llx", (unsigned long long)phys);
	EXPECT_EQ(0, iomem_count("smem", phys, phys + bs - 1))
		TH_LOG("block at %#llx still claimed", (unsigned long long)phys);
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
		uint64_t bs;		/* bytes of a memory block */	\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		ASSERT_EQ(0, smem_reload(params)) TH_LOG("modprobe " SMEM_MODULE " %s", params); \
		ASSERT_EQ(0, smem_query(&self->q));			\
		self->bs = self->q.block_pages * self->q.page_size;	\
	}								\
	FIXTURE_TEARDOWN_PARENT(name)					\
	{								\
		EXPECT_EQ(0, smem_reload_default()) TH_LOG("default load not restored"); \
	}

RELOAD_FIXTURE(one_block, "pool_mb=128")
RELOAD_FIXTURE(empty, "pool_mb=0")
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

/* The default load carves pool_mb (128 MiB, one block in the test VMs) at once. */
TEST(default_pool_carved_at_load)
{
	uint64_t bs = block_bytes();
	char mb[32];

	ASSERT_NE(0, bs);
	ASSERT_EQ(0, smem_param_get("pool_mb", mb, sizeof(mb)));
	EXPECT_STREQ("128", mb);
	ASSERT_EQ(0, (128ULL << 20) % bs) TH_LOG("block of %llu MiB", (unsigned long long)bs >> 20);
	expect_pool_blocks(_metadata, bs, (128ULL << 20) / bs);
}

/*
 * Many objects of mixed sizes, freed in random order while others come,
 * leave the pool full of holes; an object as large as all the free pages
 * of the one-block pool together still fits.
 */
TEST_F_TIMEOUT(one_block, fill_fragmented_pool, 120)
{
	size_t max = self->q.pool_pages, ps = pagesz();
	unsigned int seed = 42;
	int fds[400], n = 0;
	long long in_use;
	int big;

	ASSERT_EQ(self->q.block_pages, max);
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
	EXPECT_EQ(-ENOSPC, smem_new(ps));
	close(big);
	while (n--)
		close(fds[n]);
	EXPECT_EQ(0, smem_counter("pages_in_use"));
}

/*
 * Every page of the one-block pool is written and freed, then every page
 * is handed out again: each reads zero.
 */
TEST_F_TIMEOUT(one_block, reused_pages_are_zero, 120)
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

/*
 * A full pool answers ENOSPC, counted in alloc_failures, and does not
 * grow: no block is carved, MemTotal stays, and the object that failed is
 * left empty and usable.
 */
TEST_F(one_block, exhausted_enospc)
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
	ASSERT_LT(0, before.carvable_pages) TH_LOG("nothing to carve: the test would prove nothing");
	EXPECT_EQ(-ENOSPC, smem_alloc(b, 11 * ps));
	EXPECT_EQ(-ENOSPC, smem_alloc(b, (max + 1) * ps));
	read_counters(&after);
	EXPECT_EQ(before.alloc_failures + 2, after.alloc_failures);
	EXPECT_EQ(before.pages_in_use, after.pages_in_use);
	EXPECT_EQ(before.objects, after.objects);
	EXPECT_EQ(before.pool_blocks, after.pool_blocks);
	EXPECT_EQ(before.carvable_pages, after.carvable_pages);
	EXPECT_EQ(before.memtotal_kb, after.memtotal_kb);
	expect_query_agrees(_metadata, &after);
	ASSERT_EQ(0, smem_obj_info(b, &info));
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(0, smem_alloc(b, 10 * ps));
	EXPECT_EQ(max, smem_counter("pages_in_use"));
	close(a);
	close(b);
}

/*
 * pool_mb=0: an empty pool, and it stays empty whatever is asked of it:
 * ALLOC never carves (ENOSPC, counted), although blocks could be carved.
 */
TEST_F(empty, alloc_never_carves)
{
	struct counters before, after;
	int fd;

	read_counters(&before);
	EXPECT_EQ(0, before.pool_pages);
	EXPECT_EQ(0, before.pool_blocks);
	EXPECT_EQ(0, iomem_count("smem", 0, ~0ULL));
	EXPECT_EQ(0, self->q.status & SMEM_STATUS_POOL_BELOW_BLOCK);
	ASSERT_LE(self->q.block_pages, before.carvable_pages) TH_LOG("nothing to carve here");
	for (int i = 0; i < 3; i++) {
		fd = smem_new(pagesz() << i);
		EXPECT_EQ(-ENOSPC, fd) TH_LOG("%zu bytes", pagesz() << i);
		if (fd >= 0)
			close(fd);
	}
	read_counters(&after);
	EXPECT_EQ(before.alloc_failures + 3, after.alloc_failures);
	EXPECT_EQ(0, after.pool_pages);
	EXPECT_EQ(0, after.pool_blocks);
	EXPECT_EQ(before.carvable_pages, after.carvable_pages);
	EXPECT_EQ(before.memtotal_kb, after.memtotal_kb);
}

/*
 * SMEM_IOC_POOL_RESIZE grows by whole blocks (a size is rounded down to
 * them), answers with the pool's new size, takes each block out of
 * MemTotal and claims it in /proc/iomem; the same size again changes
 * nothing; the pages are there for objects; shrinking below one block
 * gives every block back to the kernel, which onlines it by its own
 * policy.
 */
TEST_F_TIMEOUT(empty, resize_grows_by_whole_blocks, 120)
{
	__u64 bs = self->bs, out, starts[2];
	long long memtotal = meminfo_kb("MemTotal"), carvable = smem_counter("carvable_pages");
	long long refused = smem_counter("refused_blocks");
	int fd;

	ASSERT_NE(0, bs);
	EXPECT_EQ(0, smem_pool_resize(bs - 1, &out)) TH_LOG("a byte less than a block");
	EXPECT_EQ(0, out);
	expect_pool_blocks(_metadata, bs, 0);
	EXPECT_EQ(0, smem_pool_resize(bs, &out));
	EXPECT_EQ(bs, out);
	expect_pool_blocks(_metadata, bs, 1);
	expect_memtotal(_metadata, memtotal - (long long)(bs >> 10), 1, bs);
	/* Less to carve: the block taken, and any that refused on the way. */
	EXPECT_EQ(carvable - (1 + smem_counter("refused_blocks") - refused) * self->q.block_pages,
		  smem_counter("carvable_pages"));

	EXPECT_EQ(0, smem_pool_resize(bs, &out)) TH_LOG("the same size again");
	EXPECT_EQ(bs, out);
	EXPECT_EQ(0, smem_pool_resize(2 * bs - 1, &out)) TH_LOG("a byte less than two blocks");
	EXPECT_EQ(bs, out);
	expect_pool_blocks(_metadata, bs, 1);

	EXPECT_EQ(0, smem_pool_resize(2 * bs, &out));
	EXPECT_EQ(2 * bs, out);
	expect_pool_blocks(_metadata, bs, 2);
	expect_memtotal(_metadata, memtotal - 2 * (long long)(bs >> 10), 2, bs);

	/* Every page of both blocks, in one object. */
	fd = smem_new(2 * bs);
	ASSERT_LE(0, fd) TH_LOG("the whole pool: %s", strerror(-fd));
	EXPECT_TRUE(object_is_zero(fd, 2 * self->q.block_pages));
	EXPECT_EQ(-ENOSPC, smem_new(pagesz()));
	close(fd);

	ASSERT_EQ(2, smem_iomem_starts(starts, 2));
	EXPECT_EQ(0, smem_pool_resize(bs - 1, &out)) TH_LOG("less than a block: empty");
	EXPECT_EQ(0, out);
	expect_pool_blocks(_metadata, bs, 0);
	for (int i = 0; i < 2; i++)
		expect_given_back(_metadata, starts[i], bs);
	EXPECT_EQ(carvable - (smem_counter("refused_blocks") - refused) * self->q.block_pages,
		  smem_counter("carvable_pages"));
	EXPECT_EQ(0, smem_counter("pending_blocks"));
	expect_memtotal(_metadata, memtotal, 2, bs);
}

/*
 * Shrinking gives back the empty blocks and stops with EBUSY at the ones
 * in use, saying how large the pool still is; the object in use is not
 * disturbed; once it is gone the pool can be emptied.
 */
TEST_F_TIMEOUT(empty, resize_shrink_busy_while_in_use, 120)
{
	size_t ps = pagesz();
	__u64 bs = self->bs, out;
	unsigned char *p;
	int fd;

	ASSERT_EQ(0, smem_pool_resize(2 * bs, &out));
	ASSERT_EQ(2 * bs, out);
	fd = smem_new(4 * ps);
	ASSERT_LE(0, fd);
	p = smem_map(fd, 4 * ps, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, 4 * ps, 8);

	EXPECT_EQ(-EBUSY, smem_pool_resize(0, &out));
	EXPECT_EQ(bs, out) TH_LOG("the empty block should have gone back");
	expect_pool_blocks(_metadata, bs, 1);
	EXPECT_EQ(-EBUSY, smem_pool_resize(0, &out)) TH_LOG("again");
	EXPECT_EQ(bs, out);
	EXPECT_EQ(4 * ps, check_pattern(p, 4 * ps, 8));
	EXPECT_EQ(0, smem_protect(fd, SMEM_PROT_READ));
	EXPECT_EQ(4 * ps, check_pattern(p, 4 * ps, 8));

	/* The mapping alone keeps the object, and its block. */
	close(fd);
	EXPECT_EQ(-EBUSY, smem_pool_resize(0, &out));
	munmap(p, 4 * ps);
	EXPECT_EQ(0, wait_counter("objects", 0, 2000));
	EXPECT_EQ(0, smem_pool_resize(0, &out));
	EXPECT_EQ(0, out);
	expect_pool_blocks(_metadata, bs, 0);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * A signal stops a long resize between two blocks: EINTR (the handler has
 * no SA_RESTART), with the blocks carved so far in the pool and in the
 * answer.  The first signal comes halfway through the time one block
 * takes here (taking a block offline does not stop for it), then one
 * every 10 ms, so a signal is pending when the resize looks again.
 */
TEST_F_TIMEOUT(empty, resize_interrupted_by_signal, 120)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_interval = { 0, 10000 } };
	struct itimerval off = { 0 };
	__u64 bs = self->bs, out;
	int fd = smem_open(), ret;
	double one;

	ASSERT_LE(0, fd);
	ASSERT_LE(4 * self->q.block_pages, self->q.carvable_pages) TH_LOG("fewer than 4 blocks to carve");
	one = now_s();
	ASSERT_EQ(0, smem_pool_resize_fd(fd, bs, &out));
	one = now_s() - one;
	ASSERT_EQ(0, smem_pool_resize_fd(fd, 0, &out));
	it.it_value.tv_sec = (time_t)(one / 2);
	it.it_value.tv_usec = (suseconds_t)((one / 2 - (double)it.it_value.tv_sec) * 1e6) + 1;
	TH_LOG("one block takes %.0f ms", one * 1e3);

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = smem_pool_resize_fd(fd, 4 * bs, &out);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	close(fd);
	signal(SIGALRM, SIG_DFL);
	TH_LOG("%llu of 4 blocks carved before the signal", (unsigned long long)(out / bs));
	EXPECT_EQ(-EINTR, ret);
	EXPECT_LE(bs, out) TH_LOG("the block being carved when the signal came is kept");
	EXPECT_GT(4 * bs, out);
	EXPECT_EQ(out, smem_counter("pool_pages") * pagesz());
	expect_pool_blocks(_metadata, bs, out / bs);
	EXPECT_EQ(0, smem_pool_resize(0, &out));
	EXPECT_EQ(0, out);
}

/* Only CAP_SYS_ADMIN resizes: root without it, and any other user, get EPERM. */
TEST_F(empty, resize_needs_cap_sys_admin)
{
	pid_t pid;

	for (int as_nobody = 0; as_nobody < 2; as_nobody++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			int fd = smem_open(), ret;
			__u64 out;

			if (fd < 0)
				child_fail("open %s: %s", SMEM_DEV, strerror(-fd));
			ret = as_nobody ? become_user(65534, 65534, 0) : caps_drop(CAP_MASK(CAP_SYS_ADMIN));
			if (ret)
				child_fail("dropping privileges: %s", strerror(-ret));
			ret = smem_pool_resize_fd(fd, self->bs, &out);
			if (ret != -EPERM)
				child_fail("resize without CAP_SYS_ADMIN: %s, want EPERM", strerror(-ret));
			_exit(0);
		}
		EXPECT_EQ(0, wait_child(pid)) TH_LOG("as_nobody %d", as_nobody);
	}
	expect_pool_blocks(_metadata, self->bs, 0);
}

/*
 * Asked for more than can be carved, the pool takes every eligible block,
 * then says ENOSPC with its size; nothing is left to carve; blocks that
 * refused are remembered, so asking again tries none of them.  Everything
 * goes back.
 */
TEST_F_TIMEOUT(empty, resize_enospc_when_nothing_left, 300)
{
	__u64 bs = self->bs, out, again;
	long long memtotal = meminfo_kb("MemTotal"), refused;
	double t;

	EXPECT_EQ(-ENOSPC, smem_pool_resize(1ULL << 50, &out));
	refused = smem_counter("refused_blocks");
	TH_LOG("carved %llu MiB of %lld MiB, %lld blocks refused", (unsigned long long)out >> 20,
	       memtotal >> 10, refused);
	EXPECT_LE(bs, out);
	EXPECT_EQ(out, smem_counter("pool_pages") * pagesz());
	EXPECT_EQ(0, smem_counter("carvable_pages"));
	expect_memtotal(_metadata, memtotal - (long long)(out >> 10), out / bs, bs);
	t = now_s();
	EXPECT_EQ(-ENOSPC, smem_pool_resize(1ULL << 50, &again));
	TH_LOG("asked again: %.2f s", now_s() - t);
	EXPECT_EQ(out, again);
	EXPECT_EQ(refused, smem_counter("refused_blocks"));
	EXPECT_EQ(0, smem_pool_resize(0, &out));
	EXPECT_EQ(0, out);
}

/* pool_mb is set at load only: the pool is the administrator's, sized by resize. */
TEST_F(loads, pool_mb_whole_blocks)
{
	uint64_t bs = block_bytes();
	char params[64];
	struct stat st;

	ASSERT_NE(0, bs);
	ASSERT_EQ(0, stat(SMEM_PARAMS "pool_mb", &st));
	EXPECT_EQ(0444, st.st_mode & 0777);
	snprintf(params, sizeof(params), "pool_mb=%llu", (unsigned long long)(2 * bs) >> 20);
	ASSERT_EQ(0, smem_reload(params)) TH_LOG("modprobe " SMEM_MODULE " %s", params);
	expect_pool_blocks(_metadata, bs, 2);
}

TEST_F(fallback, reported)
{
	struct smem_object_info info;
	struct smem_query q;
	char src[32];
	__u64 out;
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
	/* Nothing to carve or give back. */
	EXPECT_EQ(-EOPNOTSUPP, smem_pool_resize(256ULL << 20, &out));
	ASSERT_EQ(0, smem_query(&q));
	EXPECT_EQ(q.pool_pages * q.page_size, out);
	EXPECT_EQ(-EOPNOTSUPP, smem_pool_resize(0, &out));
}

/* A load that must fail: modprobe fails and no module stays. */
static void expect_load_refused(struct __test_metadata *_metadata, const char *params)
{
	EXPECT_EQ(-ENOEXEC, smem_reload(params)) TH_LOG("modprobe " SMEM_MODULE " %s", params);
	EXPECT_FALSE(is_module_loaded(SMEM_MODULE)) TH_LOG("modprobe " SMEM_MODULE " %s", params);
}

TEST_F(loads, bad_sources_refused)
{
	expect_load_refused(_metadata, "page_source=fallback");
	expect_load_refused(_metadata, "page_source=fallback allow_fallback=0");
	expect_load_refused(_metadata, "page_source=bogus");
	expect_load_refused(_metadata, "page_source=reserved");
	expect_load_refused(_metadata, "page_source=reserved reserved_range=junk");
}

/* The highest System RAM range of /proc/iomem that holds 64 MiB, aligned. */
static uint64_t system_ram_64m(void)
{
	struct iomem_entry *r;
	int n = iomem_read(&r);
	uint64_t best = 0;

	for (int i = 0; i < n; i++) {
		uint64_t start = (r[i].start + (64ULL << 20) - 1) & ~((64ULL << 20) - 1);

		if (!strcmp(r[i].name, "System RAM") && start + (64ULL << 20) <= r[i].end + 1 &&
		    start > best)
			best = start;
	}
	if (n >= 0)
		free(r);
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
 * The module was called smem before 0.1.0: on x86 "modprobe smem" (and a
 * "smem" line in modules-load.d) still loads it, with its options.
 * "options smem" lines do not apply (modprobe matches options by module
 * name): smemctl status warns about them (smemctl_test.sh).
 */
TEST_F(loads, old_name_loads_the_module)
{
#ifdef __x86_64__
	static const char conf[] = "/etc/modprobe.d/smem-old-name-test.conf";
	char val[32];
	FILE *f;
	int ret;

	ASSERT_EQ(0, smem_reload(NULL));
	ASSERT_EQ(0, system("mkdir -p /etc/modprobe.d"));
	f = fopen(conf, "w");
	ASSERT_NE(NULL, f);
	fputs("options " SMEM_MODULE " user_max_percent=37\n", f);
	ASSERT_EQ(0, fclose(f));
	ret = system("modprobe smem");
	unlink(conf);
	ASSERT_EQ(0, ret) TH_LOG("modprobe smem: the alias of " SMEM_MODULE);
	EXPECT_TRUE(is_module_loaded(SMEM_MODULE));
	EXPECT_FALSE(is_module_loaded("smem"));
	ASSERT_EQ(0, smem_param_get("user_max_percent", val, sizeof(val)));
	EXPECT_STREQ("37", val) TH_LOG("options " SMEM_MODULE " did not apply");
#else
	SKIP(return, "the old name is an alias on x86 only");
#endif
}

/*
 * A reserved range is RAM that memmap=SIZE$ADDR reserved, nothing else:
 * not the legacy VGA window (free in /proc/iomem, but MMIO below 1 MiB),
 * not a hole no resource covers (a device hot-added later could claim
 * it), not what the firmware reserved for itself (QEMU reserves the
 * HyperTransport hole below 1 TiB on x86 guests).
 */
TEST_F(loads, reserved_range_not_reserved_refused)
{
	expect_load_refused(_metadata, "page_source=reserved reserved_range=64K@0xa0000");
	expect_load_refused(_metadata, "page_source=reserved reserved_range=4K@0x8000000000");
	expect_load_refused(_metadata, "page_source=reserved reserved_range=4K@0xfd00000000");
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
	__u64 out;
	int fd;

	ASSERT_EQ(0, read_text("/proc/cmdline", cmdline, sizeof(cmdline)));
	m = strstr(cmdline, "memmap=");
	if (!m || !memchr(m, '$', strcspn(m, " ")))
		SKIP(return, "no memmap=SIZE$ADDR on the kernel command line");
	/* SIZE$ADDR as the kernel took it, as SIZE@ADDR for the module. */
	snprintf(params, sizeof(params), "page_source=reserved reserved_range=%.*s",
		 (int)strcspn(m + 7, " "), m + 7);
	*strchr(params, '$') = '@';
	ASSERT_EQ(0, smem_reload(params)) TH_LOG("modprobe " SMEM_MODULE " %s", params);
	ASSERT_EQ(0, smem_query(&q));
	EXPECT_EQ(SMEM_SOURCE_RESERVED, q.page_source);
	EXPECT_TRUE(q.features & SMEM_FEAT_NO_DIRECT_MAP);
	EXPECT_EQ(0, q.block_pages);
	EXPECT_LT(0, q.pool_pages);
	/* The range is the pool: no resize. */
	EXPECT_EQ(-EOPNOTSUPP, smem_pool_resize(0, &out));
	EXPECT_EQ(q.pool_pages * q.page_size, out);
	EXPECT_EQ(q.pool_pages, smem_counter("pool_pages"));
	fd = smem_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOSPC, smem_alloc(fd, (q.pool_pages + 1) * pagesz()));
	ASSERT_EQ(0, smem_alloc(fd, q.pool_pages * pagesz()));
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(SMEM_SOURCE_RESERVED, info.page_source);
	EXPECT_EQ(SMEM_INFO_NO_DIRECT_MAP, info.flags);
	EXPECT_TRUE(object_is_zero(fd, q.pool_pages));
	ASSERT_EQ(0, fill_object(fd, q.pool_pages, 0x11));
	/* Full: no page left for anyone. */
	EXPECT_EQ(-ENOSPC, smem_new(pagesz()));
	close(fd);
	EXPECT_EQ(0, smem_counter("pages_in_use"));
	/* Claimed in /proc/iomem while loaded, released at unload: it loads again. */
	EXPECT_LE(1, iomem_count("smem", 0, ~0ULL));
	ASSERT_EQ(0, smem_reload(params)) TH_LOG("second modprobe " SMEM_MODULE " %s", params);
	fd = smem_new(q.pool_pages * pagesz());
	ASSERT_LE(0, fd);
	EXPECT_TRUE(object_is_zero(fd, q.pool_pages));
	close(fd);
}

TEST_HARNESS_MAIN
