// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/smem under concurrency: threads switching the protection, mapping,
 * unmapping, duplicating and closing fds, forking and reading the same
 * object at once.  Readers tolerate SIGSEGV (the object may be NONE) but
 * a byte they do read is never wrong; the kernel logs no warning (vm-run
 * checks); the counters come back to where they were.
 *
 * Each test runs SMEM_STRESS_SECONDS seconds (default 3).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

#define NPAGES	8
#define SEED	0xc0c0

static double stress_seconds(void)
{
	const char *s = getenv("SMEM_STRESS_SECONDS");
	double v = s ? atof(s) : 0;

	return v > 0 ? v : 3;
}

struct shared {
	int fd;
	size_t size;
	double until;
	atomic_bool stop;
	atomic_long reads, faults, bad, writes, protects, errors;
	unsigned char *rw;	/* a read-write mapping that stays */
};

static bool running(struct shared *sh)
{
	if (atomic_load(&sh->stop))
		return false;
	if (now_s() >= sh->until) {
		atomic_store(&sh->stop, true);
		return false;
	}
	return true;
}

/* Read a byte: a fault is fine, a wrong byte is not. */
static void read_one(struct shared *sh, const unsigned char *p, size_t base, size_t i)
{
	unsigned char c;

	if (probe_read(p + i, &c)) {
		atomic_fetch_add(&sh->faults, 1);
		return;
	}
	atomic_fetch_add(&sh->reads, 1);
	if (c != pattern_byte(SEED, base + i))
		atomic_fetch_add(&sh->bad, 1);
}

/* Maps its own window of the object, reads it, unmaps it, again. */
static void *reader(void *arg)
{
	struct shared *sh = arg;
	size_t ps = pagesz();
	unsigned int seed = (unsigned int)(uintptr_t)pthread_self();

	while (running(sh)) {
		size_t first = rand_r(&seed) % NPAGES, n = 1 + rand_r(&seed) % (NPAGES - first);
		unsigned char *p = smem_map(sh->fd, n * ps, PROT_READ, first * ps);

		if (p == MAP_FAILED) {
			atomic_fetch_add(&sh->errors, 1);
			continue;
		}
		for (int k = 0; k < 200; k++)
			read_one(sh, p, first * ps, rand_r(&seed) % (n * ps));
		munmap(p, n * ps);
	}
	return NULL;
}

/* Writes the bytes that are already there, through the lasting mapping. */
static void *writer(void *arg)
{
	struct shared *sh = arg;
	unsigned int seed = 7;

	while (running(sh)) {
		size_t i = rand_r(&seed) % sh->size;

		if (!probe_write(sh->rw + i, pattern_byte(SEED, i)))
			atomic_fetch_add(&sh->writes, 1);
	}
	return NULL;
}

static void *protector(void *arg)
{
	static const __u32 cycle[] = {
		SMEM_PROT_NONE, SMEM_PROT_READ, SMEM_PROT_READWRITE, SMEM_PROT_READ,
		SMEM_PROT_READWRITE, SMEM_PROT_NONE, SMEM_PROT_READWRITE,
	};
	struct shared *sh = arg;

	for (unsigned int i = 0; running(sh); i++) {
		if (smem_protect(sh->fd, cycle[i % 7]))
			atomic_fetch_add(&sh->errors, 1);
		atomic_fetch_add(&sh->protects, 1);
		if (i % 16 == 0)
			sleep_ms(1);
	}
	return NULL;
}

/* Duplicates the fd, maps through the copy, closes the copy, reads. */
static void *dup_closer(void *arg)
{
	struct shared *sh = arg;
	size_t ps = pagesz();
	unsigned int seed = 99;

	while (running(sh)) {
		int fd = dup(sh->fd);
		unsigned char *p;

		if (fd < 0) {
			atomic_fetch_add(&sh->errors, 1);
			continue;
		}
		p = smem_map(fd, sh->size, PROT_READ, 0);
		close(fd);
		if (p == MAP_FAILED) {
			atomic_fetch_add(&sh->errors, 1);
			continue;
		}
		for (int k = 0; k < 50; k++)
			read_one(sh, p, 0, rand_r(&seed) % (NPAGES * ps));
		munmap(p, sh->size);
	}
	return NULL;
}

/* Splits and rejoins the lasting mapping's page tables with mprotect. */
static void *splitter(void *arg)
{
	struct shared *sh = arg;
	size_t ps = pagesz();

	for (unsigned int i = 0; running(sh); i++) {
		size_t page = i % NPAGES;

		mprotect(sh->rw + page * ps, ps, PROT_READ);
		mprotect(sh->rw + page * ps, ps, PROT_READ | PROT_WRITE);
	}
	return NULL;
}

FIXTURE(stress) {
	struct shared *sh;
	long long base_in_use, base_objects;
};

/* The object the threads share: NPAGES, patterned, mapped read-write. */
static struct shared *shared_new(struct __test_metadata *_metadata)
{
	struct shared *sh = calloc(1, sizeof(*sh));

	if (!sh)
		return NULL;
	sh->size = NPAGES * pagesz();
	sh->fd = smem_new(sh->size);
	EXPECT_LE(0, sh->fd) TH_LOG("new object: %s", strerror(-sh->fd));
	sh->rw = smem_map(sh->fd, sh->size, PROT_READ | PROT_WRITE, 0);
	if (sh->fd < 0 || sh->rw == MAP_FAILED) {
		free(sh);
		return NULL;
	}
	fill_pattern(sh->rw, sh->size, SEED);
	sh->until = now_s() + stress_seconds();
	return sh;
}

FIXTURE_SETUP(stress)
{
	self->base_in_use = smem_counter("pages_in_use");
	self->base_objects = smem_counter("objects");
	self->sh = shared_new(_metadata);
	ASSERT_NE(NULL, self->sh);
}

FIXTURE_TEARDOWN(stress)
{
	free(self->sh);
}

static void run_threads(struct __test_metadata *_metadata, struct shared *sh,
			void *(*const *fns)(void *), int n)
{
	pthread_t t[16];

	ASSERT_LE(n, 16);
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fns[i], sh));
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* Back to READWRITE: every byte is as written at the start. */
static void expect_intact(struct __test_metadata *_metadata, struct shared *sh)
{
	ASSERT_EQ(0, smem_protect(sh->fd, SMEM_PROT_READWRITE));
	EXPECT_EQ(sh->size, check_pattern(sh->rw, sh->size, SEED));
}

TEST_F_TIMEOUT(stress, protect_map_read_write, 300)
{
	static void *(*const fns[])(void *) = {
		reader, reader, reader, writer, protector, dup_closer, splitter,
	};
	struct shared *sh = self->sh;

	run_threads(_metadata, sh, fns, sizeof(fns) / sizeof(fns[0]));
	TH_LOG("%ld reads, %ld faults, %ld writes, %ld protects", atomic_load(&sh->reads),
	       atomic_load(&sh->faults), atomic_load(&sh->writes), atomic_load(&sh->protects));
	EXPECT_EQ(0, atomic_load(&sh->bad));
	EXPECT_EQ(0, atomic_load(&sh->errors));
	/* Both outcomes happened, or the test proved nothing. */
	EXPECT_LT(0, atomic_load(&sh->reads));
	EXPECT_LT(0, atomic_load(&sh->faults));
	EXPECT_LT(0, atomic_load(&sh->writes));
	expect_intact(_metadata, sh);
}

/*
 * The last fd goes while readers work through their own mappings: they
 * never fault (the object is READ throughout), the bytes stay right, and
 * the pages go back once the last mapping is gone.
 */
struct closer_reader {
	struct shared *sh;
	unsigned char *p;
};

static void *steady_reader(void *arg)
{
	struct closer_reader *r = arg;
	unsigned int seed = (unsigned int)(uintptr_t)r;

	while (running(r->sh))
		read_one(r->sh, r->p, 0, rand_r(&seed) % r->sh->size);
	munmap(r->p, r->sh->size);
	return NULL;
}

TEST_F_TIMEOUT(stress, close_while_reading, 300)
{
	struct shared *sh = self->sh;
	struct closer_reader r[4];
	pthread_t t[4];

	ASSERT_EQ(0, smem_protect(sh->fd, SMEM_PROT_READ));
	for (int i = 0; i < 4; i++) {
		r[i].sh = sh;
		r[i].p = smem_map(sh->fd, sh->size, PROT_READ, 0);
		ASSERT_NE(MAP_FAILED, r[i].p);
		ASSERT_EQ(0, pthread_create(&t[i], NULL, steady_reader, &r[i]));
	}
	sleep_ms(100);
	munmap(sh->rw, sh->size);
	close(sh->fd);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, atomic_load(&sh->faults));
	EXPECT_EQ(0, atomic_load(&sh->bad));
	EXPECT_LT(0, atomic_load(&sh->reads));
	EXPECT_EQ(self->base_in_use, smem_counter("pages_in_use"));
	EXPECT_EQ(self->base_objects, smem_counter("objects"));
}

/* Objects of random sizes made, used and freed by several threads at once. */
static void *churner(void *arg)
{
	struct shared *sh = arg;
	unsigned int seed = (unsigned int)(uintptr_t)pthread_self();
	size_t ps = pagesz();

	while (running(sh)) {
		size_t n = 1 + rand_r(&seed) % 64;
		uint32_t s = rand_r(&seed);
		unsigned char *p;
		int fd = smem_new(n * ps);

		if (fd < 0) {
			atomic_fetch_add(&sh->errors, 1);
			continue;
		}
		p = smem_map(fd, n * ps, PROT_READ | PROT_WRITE, 0);
		if (p == MAP_FAILED) {
			atomic_fetch_add(&sh->errors, 1);
			close(fd);
			continue;
		}
		if (check_zero(p, n * ps) != n * ps)
			atomic_fetch_add(&sh->bad, 1);
		fill_pattern(p, n * ps, s);
		if (rand_r(&seed) & 1)
			smem_protect(fd, SMEM_PROT_READ);
		if (check_pattern(p, n * ps, s) != n * ps)
			atomic_fetch_add(&sh->bad, 1);
		atomic_fetch_add(&sh->reads, 1);
		/* Half the time the mapping outlives the fd. */
		if (rand_r(&seed) & 1) {
			close(fd);
			munmap(p, n * ps);
		} else {
			munmap(p, n * ps);
			close(fd);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(stress, alloc_free_threads, 300)
{
	static void *(*const fns[])(void *) = { churner, churner, churner, churner };
	struct shared *sh = self->sh;

	run_threads(_metadata, sh, fns, 4);
	TH_LOG("%ld objects made and freed", atomic_load(&sh->reads));
	EXPECT_EQ(0, atomic_load(&sh->bad)) TH_LOG("a new object was not zero, or lost its bytes");
	EXPECT_EQ(0, atomic_load(&sh->errors));
	EXPECT_LT(0, atomic_load(&sh->reads));
	EXPECT_EQ(self->base_in_use + NPAGES, smem_counter("pages_in_use"));
	EXPECT_EQ(self->base_objects + 1, smem_counter("objects"));
	expect_intact(_metadata, sh);
}

/*
 * fork() while other threads switch the protection and fault the object
 * in: no child ever has the mapping.
 */
TEST_F_TIMEOUT(stress, fork_while_faulting, 300)
{
	static void *(*const fns[])(void *) = { reader, writer, protector };
	struct shared *sh = self->sh;
	pthread_t t[3];
	int forks = 0, leaks = 0;

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fns[i], sh));
	}
	while (running(sh)) {
		pid_t pid = fork();

		if (pid == 0) {
			unsigned char c;

			/* The mapping did not come along: any touch faults. */
			_exit(probe_read(sh->rw, &c) == SIGSEGV ? 0 : 1);
		}
		if (pid < 0 || wait_child(pid))
			leaks++;
		forks++;
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d forks", forks);
	EXPECT_EQ(0, leaks);
	EXPECT_EQ(0, atomic_load(&sh->bad));
	expect_intact(_metadata, sh);
}

/*
 * The administrator grows the pool by a block and shrinks it back, again
 * and again, while threads fault, write and protect an object whose pages
 * sit in the block that stays, and others make and free objects (which
 * may land in the block that comes and goes: the shrink then waits for
 * them with EBUSY).  Each round puts an object into the new block.
 */
FIXTURE(carve) {
	struct shared *sh;
	__u64 pool_bytes;	/* as loaded */
};

FIXTURE_SETUP(carve)
{
	self->pool_bytes = smem_counter("pool_pages") * pagesz();
	self->sh = shared_new(_metadata);
	ASSERT_NE(NULL, self->sh);
}

FIXTURE_TEARDOWN_PARENT(carve)
{
	__u64 out;

	EXPECT_EQ(0, smem_pool_resize(self->pool_bytes, &out));
	EXPECT_EQ(self->pool_bytes, out);
}

/* Shrink to @bytes, retrying while objects of the churners hold a block (10 s at most). */
static int shrink_to(__u64 bytes)
{
	__u64 out;
	int ret = smem_pool_resize(bytes, &out);

	for (int t = 0; ret == -EBUSY && t < 10000; t += 10) {
		sleep_ms(10);
		ret = smem_pool_resize(bytes, &out);
	}
	return ret;
}

TEST_F_TIMEOUT(carve, grow_and_shrink_while_faulting, 300)
{
	static void *(*const fns[])(void *) = { reader, reader, writer, protector, churner, churner };
	const int nthreads = sizeof(fns) / sizeof(fns[0]);
	struct shared *sh = self->sh;
	long long blocks = smem_counter("pool_blocks");
	__u64 bs = smem_counter("block_pages") * pagesz(), out;
	pthread_t t[6];
	int rounds = 0, ret;

	ASSERT_LE(1, blocks);
	ASSERT_EQ(blocks * bs, self->pool_bytes);
	for (int i = 0; i < nthreads; i++) {
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fns[i], sh));
	}
	/* At least two rounds, however slow the machine. */
	while (rounds < 2 || running(sh)) {
		long long spare = smem_counter("pool_pages") - smem_counter("pages_in_use");
		size_t n = spare + 1, ps = pagesz();
		unsigned char *p;
		int fd;

		ret = smem_pool_resize(self->pool_bytes + bs, &out);
		if (ret) {
			EXPECT_EQ(0, ret) TH_LOG("round %d: grow: %s", rounds, strerror(-ret));
			break;
		}
		EXPECT_EQ(self->pool_bytes + bs, out);
		EXPECT_EQ(blocks + 1, smem_counter("pool_blocks"));
		fd = smem_new(n * ps);
		if (fd < 0) {
			EXPECT_LE(0, fd) TH_LOG("round %d, %zu pages: %s", rounds, n, strerror(-fd));
			break;
		}
		p = smem_map(fd, n * ps, PROT_READ | PROT_WRITE, 0);
		EXPECT_NE(MAP_FAILED, p);
		if (p != MAP_FAILED) {
			p[0] = p[n * ps - 1] = 1;
			munmap(p, n * ps);
		}
		close(fd);
		ret = shrink_to(self->pool_bytes);
		EXPECT_EQ(0, ret) TH_LOG("round %d: shrink: %s", rounds, strerror(-ret));
		EXPECT_EQ(blocks, smem_counter("pool_blocks")) TH_LOG("round %d", rounds);
		rounds++;
		if (ret)
			break;
	}
	atomic_store(&sh->stop, true);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d rounds, %ld reads, %ld faults, %ld protects", rounds, atomic_load(&sh->reads),
	       atomic_load(&sh->faults), atomic_load(&sh->protects));
	EXPECT_EQ(0, atomic_load(&sh->bad));
	EXPECT_EQ(0, atomic_load(&sh->errors));
	expect_intact(_metadata, sh);
	free(sh);
}

TEST_HARNESS_MAIN
