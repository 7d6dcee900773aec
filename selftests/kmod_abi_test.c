// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI of /dev/smem against bad input (include/uapi/linux/smem.h):
 * flags, padding and reserved fields rejected with EINVAL, bad pointers
 * with EFAULT and no side effect, a zero size (EINVAL) and sizes the pool
 * cannot hold (ENOSPC, counted), calls in the wrong order, unknown
 * commands (ENOTTY, without side effect), random garbage, the query's
 * fields, and RLIMIT_MEMLOCK (EAGAIN, never SIGBUS).  Who is charged, and
 * the per-user share of the pool, are kmod_account_test's.
 */
#include "kmod_util.h"
#include "kselftest_harness.h"

#define NPAGES 4

/*
 * @cmd with pointers the kernel must refuse, each with EFAULT: NULL, a
 * low address, a PROT_NONE page, a structure straddling the end of a
 * readable page into a PROT_NONE one, a kernel address; and for output
 * structures, a read-only page.
 */
static void expect_efault(struct __test_metadata *_metadata, int fd,
			  unsigned long cmd, size_t arg_size)
{
	size_t ps = pagesz();
	char *area = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *bad[] = {
		NULL, (void *)1, area + ps, area + ps - arg_size / 2,
		(void *)0xffff888000000000ULL, area,
	};
	size_t n = sizeof(bad) / sizeof(bad[0]);

	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, mprotect(area + ps, ps, PROT_NONE));
	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		n--;	/* the readable page is fine input */
	} else {
		ASSERT_EQ(0, mprotect(area, ps, PROT_READ));
	}
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(-EFAULT, smem_ioctl(fd, cmd, bad[i])) TH_LOG("cmd %#lx, pointer %p", cmd, bad[i]);
	}
	munmap(area, 2 * ps);
}

FIXTURE(obj) {
	int fd;		/* a fresh object, no pages */
	int afd;	/* an object with NPAGES pages, READWRITE */
	size_t size;
	unsigned char *map;	/* afd mapped read-write, patterned */
};

FIXTURE_SETUP(obj)
{
	self->size = NPAGES * pagesz();
	self->fd = smem_open();
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", SMEM_DEV, strerror(-self->fd));
	self->afd = smem_new(self->size);
	ASSERT_LE(0, self->afd) TH_LOG("allocate %zu bytes: %s", self->size, strerror(-self->afd));
	self->map = smem_map(self->afd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	fill_pattern(self->map, self->size, 1);
}

FIXTURE_TEARDOWN(obj)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->size);
	close(self->fd);
	close(self->afd);
}

/* The object is as the fixture made it: the failed calls changed nothing. */
static void expect_untouched(struct __test_metadata *_metadata,
			     FIXTURE_DATA(obj) *self)
{
	struct smem_object_info info;

	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(0, info.size);
	ASSERT_EQ(0, smem_obj_info(self->afd, &info));
	EXPECT_EQ(self->size, info.size);
	EXPECT_EQ(SMEM_PROT_READWRITE, info.prot);
	EXPECT_EQ(0, info.seals);
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, 1));
	/* Still allocatable, still protectable. */
	EXPECT_EQ(0, smem_protect(self->afd, SMEM_PROT_READ));
	EXPECT_EQ(0, smem_protect(self->afd, SMEM_PROT_READWRITE));
}

/* ---------------------------------------------------------------- ALLOC */

TEST_F(obj, alloc_flags_and_pad_rejected)
{
	for (int bit = 0; bit < 32; bit++) {
		struct smem_alloc a = { .size = pagesz(), .flags = 1U << bit };

		EXPECT_EQ(-EINVAL, smem_ioctl(self->fd, SMEM_IOC_ALLOC, &a)) TH_LOG("flags bit %d", bit);
		a.flags = 0;
		a.pad = 1U << bit;
		EXPECT_EQ(-EINVAL, smem_ioctl(self->fd, SMEM_IOC_ALLOC, &a)) TH_LOG("pad bit %d", bit);
	}
	expect_untouched(_metadata, self);
	EXPECT_EQ(0, smem_alloc(self->fd, pagesz()));
}

/* A zero size is EINVAL; one the pool cannot hold is ENOSPC, however absurd. */
TEST_F(obj, alloc_zero_and_absurd_sizes)
{
	struct smem_query q;
	__u64 sizes[] = { ~0ULL, ~0ULL - pagesz() + 2, 1ULL << 63, 1ULL << 50, 0, 0, };
	int n = sizeof(sizes) / sizeof(sizes[0]);
	long long failures = smem_counter("alloc_failures");

	ASSERT_EQ(0, smem_query(&q));
	ASSERT_NE(0, q.pool_pages);
	/* One byte more than the whole pool; one page more than is free. */
	sizes[n - 2] = q.pool_pages * q.page_size + 1;
	sizes[n - 1] = (q.pool_pages - q.pages_in_use + 1) * q.page_size;

	EXPECT_EQ(-EINVAL, smem_alloc(self->fd, 0));
	/* A bad size is not "no pages in the pool". */
	EXPECT_EQ(failures, smem_counter("alloc_failures"));
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(-ENOSPC, smem_alloc(self->fd, sizes[i]))
			TH_LOG("size %#llx", (unsigned long long)sizes[i]);
	}
	/* Each is, and counts as such. */
	EXPECT_EQ(failures + n, smem_counter("alloc_failures"));
	expect_untouched(_metadata, self);
}

TEST_F(obj, alloc_rounds_up_to_pages)
{
	struct smem_object_info info;
	int fd2 = smem_open();

	ASSERT_EQ(0, smem_alloc(self->fd, 1));
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(pagesz(), info.size);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, smem_alloc(fd2, pagesz() + 1));
	ASSERT_EQ(0, smem_obj_info(fd2, &info));
	EXPECT_EQ(2 * pagesz(), info.size);
	close(fd2);
}

TEST_F(obj, alloc_twice_busy)
{
	struct smem_object_info info;

	EXPECT_EQ(-EBUSY, smem_alloc(self->afd, self->size));
	EXPECT_EQ(-EBUSY, smem_alloc(self->afd, pagesz()));
	EXPECT_EQ(-EBUSY, smem_alloc(self->afd, 64 * pagesz()));
	ASSERT_EQ(0, smem_obj_info(self->afd, &info));
	EXPECT_EQ(self->size, info.size);
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, 1));
	EXPECT_EQ(0, smem_alloc(self->fd, pagesz()));
	EXPECT_EQ(-EBUSY, smem_alloc(self->fd, pagesz()));
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(pagesz(), info.size);
}

TEST_F(obj, alloc_bad_pointer)
{
	expect_efault(_metadata, self->fd, SMEM_IOC_ALLOC, sizeof(struct smem_alloc));
	expect_untouched(_metadata, self);
}

/* -------------------------------------------------------------- PROTECT */

TEST_F(obj, protect_bad_values)
{
	__u32 bad[] = { 2, 4, 5, 6, 7, 8, 0x10, 0x80000000U, 0xffffffffU };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, smem_protect(self->afd, bad[i])) TH_LOG("prot %#x", bad[i]);
	}
	for (int bit = 0; bit < 32; bit++) {
		struct smem_protect p = { .prot = SMEM_PROT_READ, .flags = 1U << bit };

		EXPECT_EQ(-EINVAL, smem_ioctl(self->afd, SMEM_IOC_PROTECT, &p)) TH_LOG("flags bit %d", bit);
	}
	expect_untouched(_metadata, self);
}

TEST_F(obj, protect_bad_pointer)
{
	expect_efault(_metadata, self->afd, SMEM_IOC_PROTECT, sizeof(struct smem_protect));
	expect_untouched(_metadata, self);
}

/* ----------------------------------------------------------------- SEAL */

TEST_F(obj, seal_bad_values)
{
	struct smem_seal s = { 0 };

	EXPECT_EQ(-EINVAL, smem_ioctl(self->afd, SMEM_IOC_SEAL, &s)) TH_LOG("zero seals");
	for (int bit = 2; bit < 32; bit++) {
		s.seals = 1U << bit;
		EXPECT_EQ(-EINVAL, smem_seal(self->afd, s.seals)) TH_LOG("seal bit %d", bit);
		/* A known seal beside an unknown one is not half applied. */
		EXPECT_EQ(-EINVAL, smem_seal(self->afd, SMEM_SEAL_PROTECT | s.seals)) TH_LOG("seal bit %d", bit);
	}
	for (int bit = 0; bit < 32; bit++) {
		s.seals = SMEM_SEAL_PROTECT;
		s.flags = 1U << bit;
		EXPECT_EQ(-EINVAL, smem_ioctl(self->afd, SMEM_IOC_SEAL, &s)) TH_LOG("flags bit %d", bit);
	}
	expect_untouched(_metadata, self);
}

TEST_F(obj, seal_bad_pointer)
{
	expect_efault(_metadata, self->afd, SMEM_IOC_SEAL, sizeof(struct smem_seal));
	expect_untouched(_metadata, self);
}

/* ----------------------------------------------------------------- WIPE */

TEST_F(obj, wipe_bad_ranges)
{
	struct { __u64 off, len; } bad[] = {
		{ 0, 0 },
		{ self->size, 1 },
		{ self->size - 1, 2 },
		{ 0, self->size + 1 },
		{ 1, self->size },
		{ ~0ULL, 2 },			/* wraps around */
		{ 2, ~0ULL },
		{ ~0ULL - pagesz() + 1, pagesz() },
		{ 1ULL << 40, 1 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, smem_wipe(self->afd, bad[i].off, bad[i].len))
			TH_LOG("offset %#llx length %#llx", (unsigned long long)bad[i].off,
			       (unsigned long long)bad[i].len);
	}
	expect_untouched(_metadata, self);
}

TEST_F(obj, wipe_flags_and_pad_rejected)
{
	for (int bit = 0; bit < 32; bit++) {
		struct smem_wipe w = { .offset = 0, .length = 1, .flags = 1U << bit };

		EXPECT_EQ(-EINVAL, smem_ioctl(self->afd, SMEM_IOC_WIPE, &w)) TH_LOG("flags bit %d", bit);
		w.flags = 0;
		w.pad = 1U << bit;
		EXPECT_EQ(-EINVAL, smem_ioctl(self->afd, SMEM_IOC_WIPE, &w)) TH_LOG("pad bit %d", bit);
	}
	expect_untouched(_metadata, self);
}

TEST_F(obj, wipe_bad_pointer)
{
	expect_efault(_metadata, self->afd, SMEM_IOC_WIPE, sizeof(struct smem_wipe));
	expect_untouched(_metadata, self);
}

/* ---------------------------------------------------------- INFO, QUERY */

TEST_F(obj, info_before_alloc)
{
	struct smem_object_info info;

	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(SMEM_SOURCE_NONE, info.page_source);
	EXPECT_EQ(0, info.seals);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(0, info.reserved[i]);
	}
}

TEST_F(obj, info_and_query_bad_pointer)
{
	expect_efault(_metadata, self->afd, SMEM_IOC_INFO, sizeof(struct smem_object_info));
	expect_efault(_metadata, self->fd, SMEM_IOC_INFO, sizeof(struct smem_object_info));
	expect_efault(_metadata, self->afd, SMEM_IOC_QUERY, sizeof(struct smem_query));
	expect_untouched(_metadata, self);
}

/* A number from /sys/devices/system/memory/@name (hexadecimal there), or -1. */
static long long memory_sysfs(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/devices/system/memory/%s", name);
	return read_text(path, buf, sizeof(buf)) ? -1 : strtoll(buf, NULL, 16);
}

TEST_F(obj, query_fields)
{
	long long pct = -1;
	struct smem_query q;
	char buf[32];

	ASSERT_EQ(0, smem_ioctl(self->afd, SMEM_IOC_QUERY, memset(&q, 0xa5, sizeof(q))));
	EXPECT_EQ(SMEM_ABI_VERSION, q.abi_version);
	EXPECT_EQ(pagesz(), q.page_size);
	EXPECT_EQ(SMEM_FEAT_PROTECT | SMEM_FEAT_SEAL | SMEM_FEAT_WIPE | SMEM_FEAT_INFO,
		  q.features & (SMEM_FEAT_PROTECT | SMEM_FEAT_SEAL | SMEM_FEAT_WIPE | SMEM_FEAT_INFO));
	EXPECT_EQ(0, q.features & ~((SMEM_FEAT_NO_DIRECT_MAP << 1) - 1)) TH_LOG("features %#llx",
										 (unsigned long long)q.features);
	EXPECT_LE(NPAGES, q.pages_in_use);
	EXPECT_LE(q.pages_in_use, q.pool_pages);
	EXPECT_LE(1, q.objects);
	/* The default load carves: the pool is whole memory blocks. */
	ASSERT_EQ(SMEM_SOURCE_CARVEOUT, q.page_source);
	EXPECT_EQ(memory_sysfs("block_size_bytes"), q.block_pages * q.page_size);
	ASSERT_NE(0, q.block_pages);
	EXPECT_EQ(0, q.pool_pages % q.block_pages);
	EXPECT_EQ(0, q.carvable_pages % q.block_pages);
	EXPECT_EQ(0, q.pending_pages % q.block_pages);
	/* The share of one user follows user_max_percent of the pool. */
	ASSERT_EQ(0, smem_param_get("user_max_percent", buf, sizeof(buf)));
	pct = strtoll(buf, NULL, 10);
	EXPECT_TRUE(q.user_max_pages == q.pool_pages * pct / 100 ||
		    q.user_max_pages == (q.pool_pages * pct + 99) / 100)
		TH_LOG("user_max_pages %llu for %lld%% of %llu pages",
		       (unsigned long long)q.user_max_pages, pct, (unsigned long long)q.pool_pages);
	EXPECT_EQ(0, q.status & ~(SMEM_STATUS_CRASH_KERNEL | SMEM_STATUS_POOL_BELOW_BLOCK));
	EXPECT_EQ(smem_counter("crash_kernel_loaded"), !!(q.status & SMEM_STATUS_CRASH_KERNEL));
	/* The same figures as sysfs. */
	EXPECT_EQ(smem_counter("block_pages"), q.block_pages);
	EXPECT_EQ(smem_counter("carvable_pages"), q.carvable_pages);
	EXPECT_EQ(smem_counter("refused_blocks"), q.refused_blocks);
	EXPECT_EQ(smem_counter("pending_blocks") * q.block_pages, q.pending_pages);
	EXPECT_EQ(smem_counter("user_max_pages"), q.user_max_pages);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(0, q.reserved[i]);
	}
}

/* ---------------------------------------------------------- POOL_RESIZE */

/*
 * Flags and padding of a resize are checked before anything is done: a
 * request to empty the pool, with one bit set there, leaves it as it is.
 */
TEST_F(obj, pool_resize_flags_and_pad_rejected)
{
	long long pool_pages = smem_counter("pool_pages");

	ASSERT_LT(0, pool_pages);
	for (int bit = 0; bit < 32; bit++) {
		struct smem_pool_resize r = { .size = 0, .flags = 1U << bit };

		EXPECT_EQ(-EINVAL, smem_ioctl(self->fd, SMEM_IOC_POOL_RESIZE, &r)) TH_LOG("flags bit %d", bit);
		r.flags = 0;
		r.pad = 1U << bit;
		EXPECT_EQ(-EINVAL, smem_ioctl(self->fd, SMEM_IOC_POOL_RESIZE, &r)) TH_LOG("pad bit %d", bit);
	}
	EXPECT_EQ(pool_pages, smem_counter("pool_pages"));
	expect_untouched(_metadata, self);
}

TEST_F(obj, pool_resize_bad_pointer)
{
	long long pool_pages = smem_counter("pool_pages");

	expect_efault(_metadata, self->fd, SMEM_IOC_POOL_RESIZE, sizeof(struct smem_pool_resize));
	EXPECT_EQ(pool_pages, smem_counter("pool_pages"));
	expect_untouched(_metadata, self);
}

/* ---------------------------------------------------------- wrong order */

TEST_F(obj, before_alloc_nodev)
{
	void *p;

	EXPECT_EQ(-ENODEV, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(-ENODEV, smem_protect(self->fd, SMEM_PROT_READWRITE));
	EXPECT_EQ(-ENODEV, smem_seal(self->fd, SMEM_SEAL_PROTECT));
	EXPECT_EQ(-ENODEV, smem_wipe(self->fd, 0, 1));
	p = smem_map(self->fd, pagesz(), PROT_READ, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);
	expect_untouched(_metadata, self);
	/* The failures did not spoil the object. */
	ASSERT_EQ(0, smem_alloc(self->fd, pagesz()));
	EXPECT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
}

/* ------------------------------------------------------ unknown ioctls */

TEST_F(obj, unknown_commands_enotty)
{
	/* A valid allocation request, in a buffer larger than any struct. */
	union {
		struct smem_alloc a;
		unsigned char big[512];
	} u = { .a.size = 4096 };
	struct smem_object_info info;
	unsigned long cmds[] = {
		/* The known numbers with another direction or size. */
		_IOW(SMEM_IOC_MAGIC, 0x00, struct smem_query),
		_IOWR(SMEM_IOC_MAGIC, 0x00, struct smem_query),
		_IO(SMEM_IOC_MAGIC, 0x01),
		_IOWR(SMEM_IOC_MAGIC, 0x01, struct smem_alloc),
		_IOR(SMEM_IOC_MAGIC, 0x01, struct smem_alloc),
		_IOW(SMEM_IOC_MAGIC, 0x01, __u64),
		_IOW(SMEM_IOC_MAGIC, 0x01, struct smem_wipe),
		_IOW(SMEM_IOC_MAGIC, 0x02, __u32),
		_IOW(SMEM_IOC_MAGIC, 0x02, struct smem_alloc),
		_IOW(SMEM_IOC_MAGIC, 0x03, __u64[2]),
		_IOW(SMEM_IOC_MAGIC, 0x04, struct smem_alloc),
		_IOR(SMEM_IOC_MAGIC, 0x05, struct smem_query),
		_IOW(SMEM_IOC_MAGIC, 0x05, struct smem_object_info),
		_IOW(SMEM_IOC_MAGIC, 0x06, struct smem_pool_resize),
		_IOR(SMEM_IOC_MAGIC, 0x06, struct smem_pool_resize),
		_IOWR(SMEM_IOC_MAGIC, 0x06, struct smem_alloc),
		_IOWR(SMEM_IOC_MAGIC, 0x06, struct smem_query),
		_IOWR(SMEM_IOC_MAGIC + 1, 0x06, struct smem_pool_resize),
		/* The known structures under another magic. */
		_IOW(SMEM_IOC_MAGIC + 1, 0x01, struct smem_alloc),
		_IOW('x', 0x01, struct smem_alloc),
		0, ~0UL, 0xffffffffUL,
	};
	long long pool_pages = smem_counter("pool_pages");

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(-ENOTTY, smem_ioctl(self->fd, cmds[i], &u)) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(-ENOTTY, smem_ioctl(self->afd, cmds[i], &u)) TH_LOG("cmd %#lx", cmds[i]);
	}
	for (unsigned int nr = 0x07; nr <= 0xff; nr++) {
		EXPECT_EQ(-ENOTTY, smem_ioctl(self->fd, _IO(SMEM_IOC_MAGIC, nr), &u)) TH_LOG("nr %#x", nr);
		EXPECT_EQ(-ENOTTY, smem_ioctl(self->fd, _IOW(SMEM_IOC_MAGIC, nr, struct smem_alloc), &u))
			TH_LOG("nr %#x", nr);
		EXPECT_EQ(-ENOTTY, smem_ioctl(self->afd, _IOR(SMEM_IOC_MAGIC, nr, struct smem_query), &u))
			TH_LOG("nr %#x", nr);
	}
	/* None of them allocated anything, nor resized the pool. */
	EXPECT_EQ(pool_pages, smem_counter("pool_pages"));
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(0, info.size);
	expect_untouched(_metadata, self);
}

/* --------------------------------------------------------------- garbage */

/*
 * Random bytes for every command, with at least one bit set in a field
 * that must be zero: each call fails with EINVAL and nothing changes.
 * Random command numbers in the smem magic fail with ENOTTY.
 */
TEST_F(obj, random_garbage)
{
	static const unsigned long known[] = {
		SMEM_IOC_QUERY, SMEM_IOC_ALLOC, SMEM_IOC_PROTECT, SMEM_IOC_SEAL,
		SMEM_IOC_WIPE, SMEM_IOC_INFO, SMEM_IOC_POOL_RESIZE,
	};
	long long pool_pages = smem_counter("pool_pages");
	unsigned char buf[128];
	unsigned int seed = 12345;

	for (int iter = 0; iter < 3000; iter++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = rand_r(&seed);
		int fd = (iter & 1) ? self->afd : self->fd;
		int bit = rand_r(&seed) % 32;
		int ret = 0;

		switch (iter % 6) {
		case 0: {
			struct smem_alloc *a = (void *)buf;

			a->flags |= 1U << bit;
			ret = smem_ioctl(fd, SMEM_IOC_ALLOC, a);
			break;
		}
		case 1: {
			struct smem_protect *p = (void *)buf;

			p->flags |= 1U << bit;
			ret = smem_ioctl(fd, SMEM_IOC_PROTECT, p);
			break;
		}
		case 2: {
			struct smem_seal *s = (void *)buf;

			s->flags |= 1U << bit;
			ret = smem_ioctl(fd, SMEM_IOC_SEAL, s);
			break;
		}
		case 3: {
			struct smem_wipe *w = (void *)buf;

			w->pad |= 1U << bit;
			ret = smem_ioctl(fd, SMEM_IOC_WIPE, w);
			break;
		}
		case 5: {
			struct smem_pool_resize *r = (void *)buf;

			if (iter & 1)
				r->flags |= 1U << bit;
			else
				r->pad |= 1U << bit;
			ret = smem_ioctl(fd, SMEM_IOC_POOL_RESIZE, r);
			break;
		}
		case 4: {
			unsigned long cmd = _IOC((unsigned int)rand_r(&seed) % 4, SMEM_IOC_MAGIC,
						 rand_r(&seed) % 256, rand_r(&seed) % 128);
			bool is_known = false;

			for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
				is_known |= cmd == known[k];
			ret = is_known ? -EINVAL : smem_ioctl(fd, cmd, buf);
			EXPECT_EQ(is_known ? -EINVAL : -ENOTTY, ret) TH_LOG("cmd %#lx", cmd);
			break;
		}
		}
		/*
		 * EINVAL for the bad field; on the empty object ENODEV may
		 * come first, on the allocated one EBUSY (for ALLOC).
		 */
		if (ret != -EINVAL && ret != -ENOTTY &&
		    !(fd == self->fd && ret == -ENODEV) &&
		    !(fd == self->afd && ret == -EBUSY && iter % 6 == 0)) {
			EXPECT_EQ(-EINVAL, ret) TH_LOG("iteration %d: command %d answered %d", iter, iter % 6, ret);
			break;
		}
	}
	EXPECT_EQ(pool_pages, smem_counter("pool_pages"));
	expect_untouched(_metadata, self);
}

/* -------------------------------------------------------- RLIMIT_MEMLOCK */

/*
 * Run @fn in a child, still root, that has RLIMIT_MEMLOCK = 16 pages and
 * no CAP_IPC_LOCK: the limit follows the capability, not the uid.  The
 * child's exit code is 0 when all went well; otherwise it said why.
 */
static int run_limited(void (*fn)(void))
{
	pid_t pid = fork();
	int ret;

	if (pid == 0) {
		ret = set_memlock(16 * pagesz());
		if (!ret)
			ret = caps_drop(CAP_MASK(CAP_IPC_LOCK));
		if (ret)
			child_fail("RLIMIT_MEMLOCK of 16 pages without CAP_IPC_LOCK: %s", strerror(-ret));
		fn();
		_exit(0);
	}
	return wait_child(pid);
}

#define CHILD_CHECK(step, cond) do { \
	if (!(cond)) \
		child_fail("step %d: %s failed (errno %s)", step, #cond, strerror(errno)); \
} while (0)

static void memlock_over_limit(void)
{
	int fd = smem_open();

	CHILD_CHECK(1, fd >= 0);
	CHILD_CHECK(2, smem_alloc(fd, 17 * pagesz()) == -EAGAIN);
	CHILD_CHECK(3, smem_alloc(fd, 32 * pagesz()) == -EAGAIN);
	/* The refusal took nothing: the whole limit is still there. */
	CHILD_CHECK(4, smem_alloc(fd, 16 * pagesz()) == 0);
}

/* Charged at allocation, per object, given back when the object goes. */
static void memlock_cumulative(void)
{
	size_t ps = pagesz();
	int a = smem_new(8 * ps), b, c;
	unsigned char *m1, *m2;

	CHILD_CHECK(1, a >= 0);
	b = smem_new(8 * ps);
	CHILD_CHECK(2, b >= 0);
	c = smem_open();
	CHILD_CHECK(3, c >= 0);
	CHILD_CHECK(4, smem_alloc(c, ps) == -EAGAIN);
	/* Mapping is not charged again: two mappings of a full limit. */
	m1 = smem_map(a, 8 * ps, PROT_READ | PROT_WRITE, 0);
	m2 = smem_map(a, 8 * ps, PROT_READ | PROT_WRITE, 0);
	CHILD_CHECK(5, m1 != MAP_FAILED && m2 != MAP_FAILED);
	/* Every page is there: no SIGBUS when touched (a fault would kill us). */
	memset(m1, 0x5a, 8 * ps);
	CHILD_CHECK(6, m2[8 * ps - 1] == 0x5a);
	munmap(m1, 8 * ps);
	munmap(m2, 8 * ps);
	close(b);
	CHILD_CHECK(7, smem_alloc(c, 8 * ps) == 0);
	close(a);
	close(c);
}

TEST(memlock_over_limit_eagain)
{
	long long failures = smem_counter("alloc_failures");

	EXPECT_EQ(0, run_limited(memlock_over_limit));
	/* Over the limit is not "no pages in the pool". */
	EXPECT_EQ(failures, smem_counter("alloc_failures"));
}

TEST(memlock_cumulative_and_returned)
{
	EXPECT_EQ(0, run_limited(memlock_cumulative));
}

TEST_HARNESS_MAIN
