// SPDX-License-Identifier: GPL-2.0
/*
 * Carving the pool on machines that look like real ones: which memory
 * blocks the pool may take, and what happens to them when it gives them
 * back.
 *
 * Every test grows or shrinks the pool with SMEM_IOC_POOL_RESIZE and
 * checks the result against /proc/iomem, the memory block devices and the
 * kernel direct map as smem_dmtest.ko (selftests/module) reads it:
 *  - a carved block is one whole memory block, out of the direct map, and
 *    no 1 GiB direct-map leaf maps any part of its GiB: removing part of
 *    such a leaf tears the whole GiB down while the rest of it is in use;
 *  - it never lies in memory a driver manages (virtio-mem, dax/kmem), in
 *    the kernel image or in the crash kernel reservation;
 *  - the pool grows under memory pressure and shrinks while it lasts;
 *  - a block given back is online or offline as the kernel's policy says
 *    (auto_online_blocks), so smem did not online it itself;
 *  - a block that add_memory() refuses is pending, and goes back once it
 *    can (on the next resize, or by the retry timer).
 * Some cases need a guest that has what they are about (1 GiB direct-map
 * pages, a virtio-mem device, ZONE_MOVABLE) and SKIP elsewhere; the "real"
 * lane of tools/check.sh boots those guests and fails if they skip.
 *
 * Each test leaves the pool as it found it, and reloads the module when
 * blocks were refused (only an unload forgets them).
 */
#include <dirent.h>
#include <poll.h>
#include <sys/mount.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

#define MEMORY_SYSFS	"/sys/devices/system/memory/"
#define AUTO_ONLINE	MEMORY_SYSFS "auto_online_blocks"
#define SZ_2M		(2ULL << 20)
#define SZ_1G		(1ULL << 30)
/* More than any guest has: grow until no eligible block is left. */
#define POOL_HUGE	(1ULL << 46)
#define MAX_BLOCKS	2048
#define SEED		0xca7e

/* ---------------------------------------------------------- /proc/iomem */

/* The ranges of /proc/iomem now (iomem_read()); free them with free(). */
static int read_iomem(struct __test_metadata *_metadata, struct iomem_entry **r)
{
	int n = iomem_read(r);

	ASSERT_LT(0, n) TH_LOG("/proc/iomem: %s", strerror(-n));
	return n;
}

/* The range named @name that starts at @start, or NULL. */
static const struct iomem_entry *find_range(const struct iomem_entry *r, int n,
					    const char *name, unsigned long long start)
{
	for (int i = 0; i < n; i++)
		if (r[i].start == start && !strcmp(r[i].name, name))
			return &r[i];
	return NULL;
}

/*
 * Memory a driver manages: "System RAM (virtio_mem)", "System RAM (kmem)",
 * and the container the driver keeps over it (virtio-mem's "virtioN").
 */
static bool driver_managed(const struct iomem_entry *r, int n, int i)
{
	for (int j = i; j < n && (j == i || r[j].depth > r[i].depth); j++)
		if (!strncmp(r[j].name, "System RAM (", 12))
			return true;
	return false;
}

/* The kernel's own ranges, which no carved block may touch. */
static bool kernel_owned(const struct iomem_entry *r)
{
	return !strncmp(r->name, "Kernel ", 7) || !strcmp(r->name, "Crash kernel");
}

/* ------------------------------------------------------- memory blocks */

struct block {
	bool present;		/* memoryN exists */
	bool online;
	bool movable;		/* online in ZONE_MOVABLE */
	unsigned long long leaf;	/* largest direct-map leaf over it */
};

/* The memory blocks, the direct map and /proc/iomem at one moment. */
struct layout {
	unsigned long long bs;	/* bytes per memory block */
	unsigned long n;	/* memoryN for N < n may exist */
	struct block b[MAX_BLOCKS];
	int nio;
	struct iomem_entry *io;	/* malloc()ed by the test's process */
};

/* The size of the direct-map leaf that maps @phys, 0 when none does. */
static unsigned long long leaf_size(struct __test_metadata *_metadata, int dmfd,
				    unsigned long long phys)
{
	__u64 v = phys;

	ASSERT_EQ(0, ioctl(dmfd, SMEM_DMTEST_DIRECTMAP_SIZE, &v))
		TH_LOG("direct-map leaf of %llx: %s", phys, strerror(errno));
	return v;
}

/* The largest leaf over [@start, @start + @len), probed every 2 MiB. */
static unsigned long long largest_leaf(struct __test_metadata *_metadata, int dmfd,
				       unsigned long long start, unsigned long long len)
{
	unsigned long long max = 0;

	for (unsigned long long a = start; a < start + len; a += SZ_2M) {
		unsigned long long l = leaf_size(_metadata, dmfd, a);

		if (l > max)
			max = l;
	}
	return max;
}

/* memoryN/@attr into @buf: 0, or -errno (-ENOENT: no such block). */
static int block_attr(unsigned long i, const char *attr, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), MEMORY_SYSFS "memory%lu/%s", i, attr);
	return read_text(path, buf, len);
}

static void read_layout(struct __test_metadata *_metadata, int dmfd, struct layout *l)
{
	char buf[64];
	struct dirent *e;
	DIR *d;

	memset(l, 0, sizeof(*l));
	ASSERT_EQ(0, read_text(MEMORY_SYSFS "block_size_bytes", buf, sizeof(buf)));
	l->bs = strtoull(buf, NULL, 16);
	ASSERT_NE(0, l->bs);
	ASSERT_EQ(l->bs, smem_counter("block_pages") * pagesz());
	d = opendir(MEMORY_SYSFS);
	ASSERT_NE(NULL, d);
	while ((e = readdir(d))) {
		struct block *b;
		unsigned long i;

		if (sscanf(e->d_name, "memory%lu", &i) != 1)
			continue;
		ASSERT_GT(MAX_BLOCKS, i) TH_LOG("more memory blocks than the test knows");
		b = &l->b[i];
		b->present = true;
		b->online = !block_attr(i, "state", buf, sizeof(buf)) && !strcmp(buf, "online");
		b->movable = b->online && !block_attr(i, "valid_zones", buf, sizeof(buf)) &&
			     !strcmp(buf, "Movable");
		b->leaf = largest_leaf(_metadata, dmfd, i * l->bs, l->bs);
		if (i >= l->n)
			l->n = i + 1;
	}
	closedir(d);
	l->nio = read_iomem(_metadata, &l->io);
}

/*
 * Whether the pool may carve block @i, by the rules of the spec: wholly
 * inside one plain "System RAM" range, above the kernel image and the
 * crash kernel when they lie in that range, no leaf larger than 2 MiB.
 */
static bool block_eligible(const struct layout *l, unsigned long i)
{
	unsigned long long start = i * l->bs, end = start + l->bs - 1;
	const struct iomem_entry *r = l->io;

	if (!l->b[i].present || l->b[i].leaf > SZ_2M)
		return false;
	for (int j = 0; j < l->nio; j++) {
		if (r[j].depth || strcmp(r[j].name, "System RAM") || r[j].start > start ||
		    r[j].end < end)
			continue;
		for (int k = j + 1; k < l->nio && r[k].depth; k++)
			if (kernel_owned(&r[k]) && start <= r[k].end)
				return false;
		return true;
	}
	return false;
}

static bool block_gib_mapped(const struct layout *l, unsigned long i)
{
	return l->b[i].present && l->b[i].leaf >= SZ_1G;
}

static bool block_driver_managed(const struct layout *l, unsigned long i)
{
	unsigned long long start = i * l->bs, end = start + l->bs - 1;

	for (int j = 0; j < l->nio; j++)
		if (iomem_meets(&l->io[j], start, end) && driver_managed(l->io, l->nio, j))
			return l->b[i].present;
	return false;
}

static bool block_movable_eligible(const struct layout *l, unsigned long i)
{
	return l->b[i].movable && block_eligible(l, i);
}

/* How many blocks of @l pass @want. */
static unsigned long count_blocks(const struct layout *l,
				  bool (*want)(const struct layout *, unsigned long))
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < l->n; i++)
		n += want(l, i);
	return n;
}

/* ---------------------------------------------------------------- pool */

/* The pool's figures agree with each other and with a resize's answer. */
static void expect_pool_consistent(struct __test_metadata *_metadata, __u64 pool_size)
{
	long long pages = smem_counter("pool_pages");

	EXPECT_EQ(pool_size, pages * pagesz());
	EXPECT_EQ(pages, smem_counter("pool_blocks") * smem_counter("block_pages"));
	EXPECT_LE(smem_counter("pages_in_use"), pages);
}

static __u64 pool_bytes(void)
{
	return smem_counter("pool_pages") * pagesz();
}

/* Grow the pool until no eligible block is left. */
static void grow_to_the_end(struct __test_metadata *_metadata)
{
	double t = now_s();
	__u64 got;
	int ret = smem_pool_resize(POOL_HUGE, &got);

	EXPECT_EQ(-ENOSPC, ret) TH_LOG("growing as far as it goes: %s", strerror(-ret));
	expect_pool_consistent(_metadata, got);
	EXPECT_EQ(0, smem_counter("carvable_pages")) TH_LOG("eligible blocks left after ENOSPC");
	ksft_print_msg("carve: grew to %lld blocks (%lld refused) in %.1f s\n",
		       smem_counter("pool_blocks"), smem_counter("refused_blocks"), now_s() - t);
}

/*
 * Every "smem" range is one whole block, carved and out of the direct map,
 * that no 1 GiB leaf covered before (@before) and none covers now around
 * it, outside driver-managed memory and the kernel's ranges; there are as
 * many as the pool has blocks and pending blocks.
 */
static void check_carved(struct __test_metadata *_metadata, int dmfd,
			 const struct layout *before)
{
	unsigned long long bs = before->bs;
	struct iomem_entry *r;
	int n = read_iomem(_metadata, &r), carved = 0;

	for (int i = 0; i < n; i++) {
		unsigned long long gib = r[i].start & ~(SZ_1G - 1);
		unsigned long blk = r[i].start / bs;
		char state[32];

		if (strcmp(r[i].name, "smem"))
			continue;
		carved++;
		EXPECT_EQ(0, r[i].start % bs) TH_LOG("smem range at %llx: not a block's start",
						      r[i].start);
		EXPECT_EQ(bs, r[i].end - r[i].start + 1) TH_LOG("smem range at %llx: not one block",
								 r[i].start);
		EXPECT_EQ(-ENOENT, block_attr(blk, "state", state, sizeof(state)))
			TH_LOG("block %lu is carved and still a memory block device", blk);
		EXPECT_EQ(0, largest_leaf(_metadata, dmfd, r[i].start, bs))
			TH_LOG("block %lu is carved and still in the direct map", blk);
		if (blk < MAX_BLOCKS) {
			EXPECT_GE(SZ_2M, before->b[blk].leaf)
				TH_LOG("block %lu was mapped by a %llu MiB leaf", blk,
				       before->b[blk].leaf >> 20);
		}
		EXPECT_GT(SZ_1G, largest_leaf(_metadata, dmfd, gib, SZ_1G))
			TH_LOG("block %lu is carved and its GiB is still 1 GiB-mapped", blk);
		for (int j = 0; j < n; j++) {
			if (!iomem_meets(&r[j], r[i].start, r[i].end))
				continue;
			EXPECT_FALSE(driver_managed(r, n, j))
				TH_LOG("block %lu is in %s (%llx-%llx)", blk, r[j].name,
				       r[j].start, r[j].end);
			EXPECT_FALSE(kernel_owned(&r[j]))
				TH_LOG("block %lu is in %s", blk, r[j].name);
		}
	}
	EXPECT_EQ(smem_counter("pool_blocks") + smem_counter("pending_blocks"), carved);
	free(r);
}

/* Every block of @l that @which picks is still there, and online. */
static void expect_still_online(struct __test_metadata *_metadata, const struct layout *l,
				bool (*which)(const struct layout *, unsigned long))
{
	for (unsigned long i = 0; i < l->n; i++) {
		char state[32] = "";

		if (!which(l, i))
			continue;
		EXPECT_EQ(0, block_attr(i, "state", state, sizeof(state)))
			TH_LOG("block %lu is gone", i);
		EXPECT_STREQ("online", state) TH_LOG("block %lu", i);
	}
}

/* ------------------------------------------------------------- fixture */

FIXTURE(carve) {
	bool dm_loaded;		/* smem_dmtest loaded by the setup */
	int dmfd;
	char policy[32];	/* auto_online_blocks at the start */
	__u64 pool;		/* the pool's size at the start */
	long long refused;	/* refused_blocks at the start */
	struct layout before;	/* at the start */
};

FIXTURE_SETUP(carve)
{
	self->dmfd = dmtest_open(&self->dm_loaded);
	ASSERT_LE(0, self->dmfd) TH_LOG("smem_dmtest: %s", strerror(-self->dmfd));
	ASSERT_EQ(0, read_text(AUTO_ONLINE, self->policy, sizeof(self->policy)));
	ASSERT_EQ(0, smem_counter("pending_blocks"));
	self->pool = pool_bytes();
	self->refused = smem_counter("refused_blocks");
	read_layout(_metadata, self->dmfd, &self->before);
}

/*
 * In the parent, once the test's process and all it held are gone: the
 * pool as it was, or the default load again when blocks were refused
 * (only an unload forgets them) or stay pending.
 */
FIXTURE_TEARDOWN_PARENT(carve)
{
	int dmfd = open(DMTEST_DEV, O_RDONLY | O_CLOEXEC);
	__u64 got;

	/* A claim left armed or held would keep a block out for good. */
	if (dmfd >= 0) {
		ioctl(dmfd, SMEM_DMTEST_RELEASE);
		close(dmfd);
	}
	EXPECT_EQ(0, write_text(AUTO_ONLINE, self->policy));
	if (smem_counter("refused_blocks") != self->refused ||
	    smem_pool_resize(self->pool, &got) || smem_counter("pending_blocks")) {
		EXPECT_EQ(0, smem_reload_default()) TH_LOG("default load not restored");
	}
	dmtest_release(self->dm_loaded);
}

/* ------------------------------------------------- as far as it goes */

/*
 * The pool grows until no eligible block is left: as many blocks as the
 * rules allow (every eligible block carved or refused), and every one of
 * them safe to have carved.  The line "carve: eligible_blocks=..." is
 * what the real lane compares between guests with and without nogbpages.
 */
TEST_F_TIMEOUT(carve, grow_as_far_as_it_goes, 600)
{
	unsigned long eligible = count_blocks(&self->before, block_eligible);
	long long pool = smem_counter("pool_blocks"), refused = smem_counter("refused_blocks");
	long long carvable = smem_counter("carvable_pages") / smem_counter("block_pages");

	/* What the module counts as carvable is what the rules say. */
	EXPECT_EQ(eligible, carvable + refused);
	grow_to_the_end(_metadata);
	EXPECT_EQ(eligible + pool, smem_counter("pool_blocks") + smem_counter("refused_blocks"));
	check_carved(_metadata, self->dmfd, &self->before);
	ksft_print_msg("carve: eligible_blocks=%llu carved_blocks=%lld refused_blocks=%lld block_mib=%llu directmap_1g_kb=%lld\n",
		       eligible + pool, smem_counter("pool_blocks"),
		       smem_counter("refused_blocks"), self->before.bs >> 20,
		       /* No such line without gbpages. */
		       meminfo_kb("DirectMap1G") > 0 ? meminfo_kb("DirectMap1G") : 0);
}

/*
 * Boot memory under 1 GiB direct-map pages (a guest of 4 GiB or more
 * without nogbpages): growing as far as it goes takes none of it, and
 * every such leaf is still there afterwards.
 */
TEST_F_TIMEOUT(carve, gib_mapped_memory_stays, 600)
{
	unsigned long n = count_blocks(&self->before, block_gib_mapped);

	if (!n)
		SKIP(return, "no memory block under a 1 GiB direct-map leaf (needs >= 4 GiB, no nogbpages)");
	EXPECT_LT(0, meminfo_kb("DirectMap1G"));
	grow_to_the_end(_metadata);
	check_carved(_metadata, self->dmfd, &self->before);
	expect_still_online(_metadata, &self->before, block_gib_mapped);
	for (unsigned long i = 0; i < self->before.n; i++) {
		if (block_gib_mapped(&self->before, i)) {
			EXPECT_EQ(SZ_1G, largest_leaf(_metadata, self->dmfd, i * self->before.bs,
						      self->before.bs))
				TH_LOG("block %lu lost its 1 GiB leaf", i);
		}
	}
	ksft_print_msg("carve: %lu blocks under 1 GiB leaves, none carved\n", n);
}

/*
 * Memory that a driver manages (virtio-mem here) is online System RAM,
 * above boot memory, where carving from the top would start: growing as
 * far as it goes leaves all of it to its driver.
 */
TEST_F_TIMEOUT(carve, driver_managed_memory_stays, 600)
{
	unsigned long n = count_blocks(&self->before, block_driver_managed);

	if (!n)
		SKIP(return, "no driver-managed memory (needs a virtio-mem device)");
	for (unsigned long i = 0; i < self->before.n; i++) {
		if (block_driver_managed(&self->before, i)) {
			EXPECT_TRUE(self->before.b[i].online)
				TH_LOG("virtio-mem block %lu is not online: nothing to prove", i);
		}
	}
	grow_to_the_end(_metadata);
	check_carved(_metadata, self->dmfd, &self->before);
	expect_still_online(_metadata, &self->before, block_driver_managed);
	ksft_print_msg("carve: %lu driver-managed blocks, none carved\n", n);
}

/*
 * ZONE_MOVABLE (movablecore=) holds no unmovable page: every eligible
 * block of it goes offline, none is refused.
 */
TEST_F_TIMEOUT(carve, movable_blocks_carve, 600)
{
	unsigned long n = count_blocks(&self->before, block_movable_eligible);
	struct iomem_entry *r;
	int nr;

	if (!n)
		SKIP(return, "no eligible ZONE_MOVABLE block (boot with movablecore=)");
	grow_to_the_end(_metadata);
	check_carved(_metadata, self->dmfd, &self->before);
	nr = read_iomem(_metadata, &r);
	for (unsigned long i = 0; i < self->before.n; i++) {
		if (block_movable_eligible(&self->before, i)) {
			EXPECT_NE(NULL, find_range(r, nr, "smem", i * self->before.bs))
				TH_LOG("movable block %lu was not carved", i);
		}
	}
	free(r);
	ksft_print_msg("carve: %lu movable blocks, all carved\n", n);
}

/* ------------------------------------------------------------ pressure */

/*
 * A child that keeps @bytes of anonymous memory in use, and keeps freeing
 * and faulting in an eighth of it, until it is killed (or its parent
 * dies).  It writes one byte to @ready once all of it was touched.
 */
static pid_t start_pressure(size_t bytes, int ready)
{
	size_t ps = pagesz(), n = bytes / ps, eighth = n / 8;
	unsigned char *p;
	pid_t pid = fork();

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		child_fail("pressure: mmap of %zu bytes: %s", bytes, strerror(errno));
	for (size_t i = 0; i < n; i++)
		p[i * ps] = 1;
	if (write(ready, "r", 1) != 1)
		child_fail("pressure: ready: %s", strerror(errno));
	for (unsigned int round = 1;; round++) {
		madvise(p + (round % 8) * eighth * ps, eighth * ps, MADV_DONTNEED);
		for (size_t i = 0; i < n; i++)
			p[i * ps] = (unsigned char)round;
		/* Leave the vCPUs some time for the resize. */
		sleep_ms(100);
	}
}

/* Wait for @n children to be ready on @rd: 0, or -1 if one died first. */
static int wait_ready(int rd, int n, int timeout_s)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	char c;

	for (; n > 0; n--)
		if (poll(&pfd, 1, timeout_s * 1000) != 1 || read(rd, &c, 1) != 1)
			return -1;
	return 0;
}

/* An object of @size filled and read back: the pool serves under pressure. */
static void use_pool(struct __test_metadata *_metadata, size_t size)
{
	int fd = smem_new(size);
	unsigned char *p;

	ASSERT_LE(0, fd) TH_LOG("alloc of %zu bytes: %s", size, strerror(-fd));
	p = smem_map(fd, size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, size, SEED);
	EXPECT_EQ(size, check_pattern(p, size, SEED));
	munmap(p, size);
	close(fd);
}

/*
 * With the pool as large as it goes, two children take and keep touching
 * about 70% of what is left (MemAvailable); the pool is used, shrunk to
 * nothing and grown as far as it goes again while they do.  No warning
 * (vm-run fails the run on one), no child killed, figures consistent.
 */
TEST_F_TIMEOUT(carve, pressure_while_resizing, 600)
{
	long long avail_kb;
	pid_t pids[2];
	int pfd[2], ret;
	size_t each;
	__u64 got;

	grow_to_the_end(_metadata);
	ASSERT_LT(0, smem_counter("pool_blocks")) TH_LOG("nothing could be carved");
	avail_kb = meminfo_kb("MemAvailable");
	ASSERT_LT(0, avail_kb);
	each = (size_t)avail_kb * 1024 * 7 / 10 / 2;
	ksft_print_msg("carve: pressure of 2 x %zu MiB (MemAvailable %lld MiB)\n",
		       each >> 20, avail_kb >> 10);
	ASSERT_EQ(0, pipe(pfd));
	for (int i = 0; i < 2; i++) {
		pids[i] = start_pressure(each, pfd[1]);
		ASSERT_LE(0, pids[i]);
	}
	close(pfd[1]);
	ASSERT_EQ(0, wait_ready(pfd[0], 2, 300)) TH_LOG("a pressure child died before it was ready");

	use_pool(_metadata, 2 << 20);
	ret = smem_pool_resize(0, &got);
	EXPECT_EQ(0, ret) TH_LOG("shrinking to nothing under pressure: %s", strerror(-ret));
	EXPECT_EQ(0, got);
	expect_pool_consistent(_metadata, got);
	grow_to_the_end(_metadata);
	check_carved(_metadata, self->dmfd, &self->before);
	if (smem_counter("pool_pages"))
		use_pool(_metadata, 2 << 20);

	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(0, waitpid(pids[i], NULL, WNOHANG))
			TH_LOG("pressure child %d ended while the pool was resized", i);
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	close(pfd[0]);
	EXPECT_EQ(0, smem_counter("pages_in_use"));
	EXPECT_EQ(0, smem_counter("objects"));
	expect_pool_consistent(_metadata, pool_bytes());
}

/* --------------------------------------------------------- giving back */

/* The block at @start is System RAM again, and a memory block device. */
static void expect_given_back(struct __test_metadata *_metadata, unsigned long long start,
			      unsigned long long bs)
{
	char state[32];

	EXPECT_EQ(1, iomem_count("System RAM", start, start + bs - 1))
		TH_LOG("block at %llx is not System RAM", start);
	EXPECT_EQ(0, block_attr(start / bs, "state", state, sizeof(state)))
		TH_LOG("block at %llx is not a memory block device", start);
}

/* The start of the only "smem" range, or 0 (block 0 is never eligible). */
static unsigned long long only_carved_block(struct __test_metadata *_metadata)
{
	struct iomem_entry *r;
	int n = read_iomem(_metadata, &r);
	unsigned long long start = 0;

	for (int i = 0; i < n; i++) {
		if (!strcmp(r[i].name, "smem")) {
			EXPECT_EQ(0, start) TH_LOG("more than one smem range");
			start = r[i].start;
		}
	}
	free(r);
	return start;
}

/* The value of @key= on the kernel command line into @val; false if absent. */
static bool cmdline_value(const char *key, char *val, size_t len)
{
	char buf[4096], *p;
	size_t n = strlen(key);

	val[0] = 0;
	if (read_text("/proc/cmdline", buf, sizeof(buf)))
		return false;
	/* The last one wins, as in the kernel. */
	for (p = buf; (p = strstr(p, key)); p += n)
		if ((p == buf || p[-1] == ' ') && p[n] == '=')
			snprintf(val, len, "%.*s", (int)strcspn(p + n + 1, " "), p + n + 1);
	return val[0];
}

/*
 * A block given back comes up as the kernel's policy says: offline when
 * auto_online_blocks (memhp_default_state=) is "offline", online when it
 * is "online".  The offline case shows that smem does not online blocks
 * itself (it used to write "online" to the block's sysfs state).
 */
TEST_F_TIMEOUT(carve, give_back_follows_policy, 300)
{
	static const char *const policies[] = { "offline", "online" };
	unsigned long long bs = self->before.bs, start;
	char val[32], state[32], path[128];
	__u64 got;

	if (cmdline_value("memhp_default_state", val, sizeof(val))) {
		EXPECT_STREQ(val, self->policy)
			TH_LOG("auto_online_blocks is not what the command line says");
	}
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, write_text(AUTO_ONLINE, policies[i]));
		/* One block in the pool, then none. */
		ASSERT_EQ(0, smem_pool_resize(bs, &got));
		start = only_carved_block(_metadata);
		ASSERT_NE(0, start);
		ASSERT_EQ(0, smem_pool_resize(0, &got));
		EXPECT_EQ(0, smem_counter("pending_blocks"));
		expect_given_back(_metadata, start, bs);
		ASSERT_EQ(0, block_attr(start / bs, "state", state, sizeof(state)));
		EXPECT_STREQ(policies[i], state) TH_LOG("policy %s", policies[i]);
		/* The administrator onlines it, to leave the machine as it was. */
		if (strcmp(state, "online")) {
			snprintf(path, sizeof(path), MEMORY_SYSFS "memory%llu/state", start / bs);
			EXPECT_EQ(0, write_text(path, "online"));
		}
	}
}

/* ------------------------------------------------------------- pending */

/*
 * Shrink a pool of one block to nothing while smem_dmtest claims the
 * block's range at the moment add_memory() asks for it: the block is
 * pending (counted, its range not System RAM, held by the claim), and a
 * resize while the claim holds leaves it pending.  The start of the block.
 */
static unsigned long long make_pending(struct __test_metadata *_metadata, int dmfd,
				       unsigned long long bs)
{
	struct smem_dmtest_range claim = { .size = bs };
	struct smem_query q;
	__u64 got;

	ASSERT_EQ(0, smem_pool_resize(bs, &got));
	ASSERT_EQ(bs, got);
	claim.start = only_carved_block(_metadata);
	ASSERT_NE(0, claim.start);
	ASSERT_EQ(0, ioctl(dmfd, SMEM_DMTEST_CLAIM_AT_ADD, &claim))
		TH_LOG("claim: %s", strerror(errno));

	ASSERT_EQ(0, smem_pool_resize(0, &got));
	EXPECT_EQ(0, got);
	EXPECT_EQ(1, smem_counter("pending_blocks"));
	ASSERT_EQ(0, smem_query(&q));
	EXPECT_EQ(bs / pagesz(), q.pending_pages);
	EXPECT_EQ(0, q.pool_pages);
	EXPECT_EQ(1, iomem_count("smem_dmtest", claim.start, claim.start + bs - 1))
		TH_LOG("the claim did not fire: no add_memory() of %llx", claim.start);
	EXPECT_EQ(0, iomem_count("System RAM", claim.start, claim.start + bs - 1));

	/* Retried on a resize, refused again. */
	EXPECT_EQ(0, smem_pool_resize(0, &got));
	EXPECT_EQ(1, smem_counter("pending_blocks"));
	return claim.start;
}

/*
 * A block that add_memory() refuses is pending until it can go back: on
 * the next resize, or by itself within the retry period (10 s).
 */
TEST_F_TIMEOUT(carve, pending_block_goes_back, 300)
{
	unsigned long long bs = self->before.bs, start;
	struct smem_dmtest_range probe = { .start = 0, .size = bs };
	double t;
	__u64 got;

	/* smem_dmtest claims with a kprobe: the debug kernel has none. */
	if (ioctl(self->dmfd, SMEM_DMTEST_CLAIM_AT_ADD, &probe) && errno == EOPNOTSUPP)
		SKIP(return, "no ftrace-based kprobes in this kernel: smem_dmtest cannot make add_memory() fail");
	EXPECT_EQ(-1, ioctl(self->dmfd, SMEM_DMTEST_RELEASE));

	/* Once the claim is gone, the next resize gives the block back. */
	start = make_pending(_metadata, self->dmfd, bs);
	ASSERT_EQ(0, ioctl(self->dmfd, SMEM_DMTEST_RELEASE));
	EXPECT_EQ(0, smem_pool_resize(0, &got));
	EXPECT_EQ(0, smem_counter("pending_blocks"));
	expect_given_back(_metadata, start, bs);

	/* Without a resize, the retry timer does. */
	start = make_pending(_metadata, self->dmfd, bs);
	ASSERT_EQ(0, ioctl(self->dmfd, SMEM_DMTEST_RELEASE));
	t = now_s();
	EXPECT_EQ(0, wait_counter("pending_blocks", 0, 15000));
	ksft_print_msg("carve: the pending block went back after %.1f s\n", now_s() - t);
	expect_given_back(_metadata, start, bs);
	expect_pool_consistent(_metadata, 0);
}

/* ---------------------------------------------- allocations failing */

#define DEBUGFS		"/sys/kernel/debug/"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
/* More allocations than a carve of one block makes. */
#define FAIL_NTH_MAX	65536

static const char *const fault_knobs[][2] = {
	/* GFP_KERNEL allocations fail too, and without a stack dump each. */
	{ DEBUGFS "failslab/ignore-gfp-wait", "N" },
	{ DEBUGFS "failslab/verbose", "0" },
	{ DEBUGFS "fail_page_alloc/ignore-gfp-wait", "N" },
	{ DEBUGFS "fail_page_alloc/verbose", "0" },
};
#define NR_FAULT_KNOBS	(sizeof(fault_knobs) / sizeof(fault_knobs[0]))

/*
 * Arm fail-nth for every allocation a resize makes, saving the knobs it
 * changes into @saved.  False when the kernel has no fault injection.
 */
static bool fault_injection_setup(struct __test_metadata *_metadata,
				  char saved[][16])
{
	if (access(FAIL_NTH, W_OK))
		return false;
	if (access(DEBUGFS "failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (size_t i = 0; i < NR_FAULT_KNOBS; i++) {
		ASSERT_EQ(0, read_text(fault_knobs[i][0], saved[i], 16))
			TH_LOG("%s: CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC go with fail-nth",
			       fault_knobs[i][0]);
		ASSERT_EQ(0, write_text(fault_knobs[i][0], fault_knobs[i][1]));
	}
	return true;
}

static void fault_injection_restore(char saved[][16])
{
	for (size_t i = 0; i < NR_FAULT_KNOBS; i++)
		write_text(fault_knobs[i][0], saved[i]);
}

/*
 * Grow by one block with the nth allocation of the call failing, for n
 * from 1 until the call makes fewer than n.  A failed allocation says
 * nothing about the block: the resize fails with -ENOMEM or succeeds,
 * and no block is ever refused for it (smem used to mark a block whose
 * offlining failed for any reason as refused until the next unload).
 */
TEST_F_TIMEOUT(carve, failed_allocation_refuses_no_block, 900)
{
	unsigned long long bs = self->before.bs, grown = self->pool + bs;
	int fd, nth_fd, tries = 0, failed = 0, n;
	char saved[NR_FAULT_KNOBS][16], buf[24];
	long left = 0;
	__u64 got;

	if (!fault_injection_setup(_metadata, saved))
		SKIP(return, "no fail-nth: the kernel has no CONFIG_FAULT_INJECTION");
	fd = smem_open();
	ASSERT_LE(0, fd);
	/* Opened before arming: opening allocates. */
	nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nth_fd);
	for (n = 1; n <= FAIL_NTH_MAX; n = n < 8 ? n + 1 : n * 3 / 2) {
		int len = snprintf(buf, sizeof(buf), "%d", n), ret;

		ASSERT_EQ(len, pwrite(nth_fd, buf, len, 0));
		ret = smem_pool_resize_fd(fd, grown, &got);
		memset(buf, 0, sizeof(buf));
		/* What is left of the count: 0 once the failure was injected. */
		ASSERT_LT(0, pread(nth_fd, buf, sizeof(buf) - 1, 0));
		left = strtol(buf, NULL, 10);
		ASSERT_EQ(1, pwrite(nth_fd, "0", 1, 0));

		EXPECT_TRUE(ret == 0 || ret == -ENOMEM)
			TH_LOG("allocation %d failing: %s", n, strerror(-ret));
		EXPECT_EQ(self->refused, smem_counter("refused_blocks"))
			TH_LOG("allocation %d failing refused a block (%s)", n, strerror(-ret));
		expect_pool_consistent(_metadata, got);
		tries++;
		failed += ret != 0;
		if (left)
			break;
		ASSERT_EQ(0, smem_pool_resize_fd(fd, self->pool, &got));
		EXPECT_EQ(0, smem_counter("pending_blocks"));
	}
	close(nth_fd);
	fault_injection_restore(saved);
	/* The last call made fewer than n allocations: it had to succeed. */
	EXPECT_NE(0, left) TH_LOG("a resize made more than %d allocations", FAIL_NTH_MAX);
	EXPECT_EQ(grown, got);
	EXPECT_EQ(0, smem_pool_resize_fd(fd, self->pool, &got));
	close(fd);
	ksft_print_msg("carve: %d resizes with one allocation failing, %d of them failed\n",
		       tries - 1, failed);
}

TEST_HARNESS_MAIN
