// SPDX-License-Identifier: GPL-2.0
/*
 * Root reads all of physical memory through /dev/mem and finds no copy of
 * a live secret (issue 8, item 2).
 *
 * A carved block is no longer System RAM, and /dev/mem (even with
 * STRICT_DEVMEM) reads physical memory that is neither System RAM nor
 * claimed by an exclusive resource.  smem therefore holds an exclusive
 * iomem resource named "smem" over every carved block for as long as it
 * is out of the kernel: /dev/mem refuses it (EPERM), as it refuses
 * ordinary RAM.
 *
 * The secret is a xorshift64 stream written straight into the smem
 * mapping (no copy of it in ordinary memory); a scan recognises any run
 * of RUN consecutive words of such a stream, at any byte offset, without
 * knowing the seed.  The scan preads /dev/mem page by page over every
 * page that is System RAM, smem, or in no top-level range of /proc/iomem
 * up to the end of memory (device ranges are skipped: reading MMIO has
 * side effects); pages that give EPERM, EFAULT or EINVAL are counted and
 * skipped.
 *
 * The controls use another stream (an LCG):
 *  - in ordinary mlocked memory, whose frame /dev/mem must refuse (EPERM:
 *    the kernel's STRICT_DEVMEM, the same protection the secret gets);
 *  - in a page of low memory that no iomem range covers and that takes a
 *    write through /dev/mem (the legacy BIOS area has some in QEMU): RAM
 *    without a resource, exactly what a carved block without its "smem"
 *    resource would be.  The scan must find it there, which shows that it
 *    reads such pages and recognises a stream in them.  Its bytes are put
 *    back afterwards.
 * The secret's frames come from the page tables (smem_dmtest.ko), so the
 * test runs the same on a module that does not claim its blocks: there
 * the scan finds the secret.
 */
#include <sys/random.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

#define NPAGES		4
#define RUN		5	/* consecutive words of a stream that make a find */
#define LOW_MEM		(1ULL << 20)

/* The secret's stream: xorshift64 (13, 7, 17); never 0 after a non-zero seed. */
static uint64_t secret_next(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* The controls' stream: a 64-bit LCG (Knuth's MMIX constants). */
static uint64_t control_next(uint64_t x)
{
	return x * 6364136223846793005ULL + 1442695040888963407ULL;
}

/* Write the @n words of @next's stream after @x at @p, in place. */
static void fill_stream(volatile uint64_t *p, size_t n, uint64_t x, uint64_t (*next)(uint64_t))
{
	for (size_t i = 0; i < n; i++) {
		x = next(x);
		p[i] = x;
	}
}

/* Whether @buf holds RUN consecutive words of @next's stream, at any byte offset. */
static bool has_stream(const unsigned char *buf, size_t len, uint64_t (*next)(uint64_t))
{
	for (size_t shift = 0; shift < 8 && shift + 8 <= len; shift++) {
		uint64_t prev, w;
		int run = 1;

		memcpy(&prev, buf + shift, 8);
		for (size_t off = shift + 8; off + 8 <= len; off += 8) {
			memcpy(&w, buf + off, 8);
			run = w && w != prev && w == next(prev) ? run + 1 : 1;
			if (run >= RUN)
				return true;
			prev = w;
		}
	}
	return false;
}

static uint64_t random_seed(void)
{
	uint64_t x = 0;

	while (!x)
		if (getrandom(&x, sizeof(x), 0) != sizeof(x))
			x = (uint64_t)now_s() * 0x9e3779b97f4a7c15ULL;
	return x;
}

/* What /proc/iomem says about a page: whether the scan reads it. */
static bool page_scanned(const struct iomem_entry *r, int n, uint64_t phys, uint64_t ps)
{
	bool in_top = false;

	for (int i = 0; i < n; i++) {
		if (!iomem_meets(&r[i], phys, phys + ps - 1))
			continue;
		if (!strncmp(r[i].name, "System RAM", 10) || !strcmp(r[i].name, "smem"))
			return true;
		in_top |= r[i].depth == 0;
	}
	return !in_top;
}

/*
 * The end of memory for the scan: past the highest System RAM or smem
 * range, and through the gap after it up to the next top-level range (a
 * carved block at the very top leaves such a gap), or one memory block
 * when nothing follows.
 */
static uint64_t scan_end(const struct iomem_entry *r, int n, uint64_t block)
{
	uint64_t end = 0, next = ~0ULL;

	for (int i = 0; i < n; i++)
		if ((!strncmp(r[i].name, "System RAM", 10) || !strcmp(r[i].name, "smem")) &&
		    r[i].end + 1 > end)
			end = r[i].end + 1;
	for (int i = 0; i < n; i++)
		if (r[i].depth == 0 && r[i].start >= end && r[i].start < next)
			next = r[i].start;
	return next != ~0ULL ? next : end + block;
}

FIXTURE(devmem) {
	bool dm_loaded;
	int dmfd, memfd;
	uint64_t hole_pfn;	/* the readable control page, 0 when none */
	unsigned char hole_saved[4096];	/* its bytes before (self is shared with the parent) */
};

FIXTURE_SETUP(devmem)
{
	self->memfd = open("/dev/mem", O_RDWR | O_CLOEXEC);
	if (self->memfd < 0 && errno == ENOENT)
		SKIP(return, "no /dev/mem on this kernel (CONFIG_DEVMEM=n): nothing can read it");
	ASSERT_LE(0, self->memfd) TH_LOG("/dev/mem: %s", strerror(errno));
	self->dmfd = dmtest_open(&self->dm_loaded);
	ASSERT_LE(0, self->dmfd) TH_LOG("smem_dmtest: %s", strerror(-self->dmfd));
	ASSERT_EQ(sizeof(self->hole_saved), pagesz());
}

FIXTURE_TEARDOWN_PARENT(devmem)
{
	size_t ps = pagesz();
	int fd;

	if (self->hole_pfn) {
		fd = open("/dev/mem", O_RDWR | O_CLOEXEC);
		EXPECT_EQ(ps, pwrite(fd, self->hole_saved, ps, self->hole_pfn * ps))
			TH_LOG("the control page %#llx not restored", (unsigned long long)self->hole_pfn);
		close(fd);
	}
	dmtest_release(self->dm_loaded);
}

/*
 * Put @next's stream into a page below 1 MiB that no iomem range covers
 * and that keeps what /dev/mem writes there: its pfn (its old bytes in
 * @saved), or 0 when there is none.
 */
static uint64_t plant_low_control(int memfd, const struct iomem_entry *r, int n,
				  unsigned char *saved)
{
	size_t ps = pagesz();
	unsigned char *buf = malloc(ps), *back = malloc(ps);
	uint64_t found = 0;

	for (uint64_t pfn = 1; buf && back && !found && pfn < LOW_MEM / ps; pfn++) {
		bool covered = false;

		for (int i = 0; i < n; i++)
			covered |= r[i].depth == 0 && iomem_meets(&r[i], pfn * ps, pfn * ps + ps - 1);
		if (covered || pread(memfd, saved, ps, pfn * ps) != (ssize_t)ps)
			continue;
		fill_stream((uint64_t *)buf, ps / 8, random_seed(), control_next);
		if (pwrite(memfd, buf, ps, pfn * ps) != (ssize_t)ps)
			continue;
		if (pread(memfd, back, ps, pfn * ps) == (ssize_t)ps && !memcmp(buf, back, ps))
			found = pfn;
		else if (pwrite(memfd, saved, ps, pfn * ps) != (ssize_t)ps)
			break;
	}
	free(buf);
	free(back);
	return found;
}

struct scan_result {
	long long pages, read, eperm, efault, einval;
	long long secret_hits, control_hits;
	uint64_t secret_pfn, control_pfn;	/* where the first find was */
	int other_errno;
	uint64_t other_pfn;
};

/* Read every page the scan covers, up to @end, and look for both streams. */
static void scan_devmem(int memfd, const struct iomem_entry *r, int n, uint64_t end,
			struct scan_result *res)
{
	size_t ps = pagesz();
	unsigned char *buf = malloc(ps);

	memset(res, 0, sizeof(*res));
	for (uint64_t phys = 0; buf && phys < end; phys += ps) {
		if (!page_scanned(r, n, phys, ps))
			continue;
		res->pages++;
		if (pread(memfd, buf, ps, phys) != (ssize_t)ps) {
			if (errno == EPERM) {
				res->eperm++;
			} else if (errno == EFAULT) {
				res->efault++;
			} else if (errno == EINVAL) {
				res->einval++;
			} else if (!res->other_errno) {
				res->other_errno = errno;
				res->other_pfn = phys / ps;
			}
			continue;
		}
		res->read++;
		if (has_stream(buf, ps, secret_next) && !res->secret_hits++)
			res->secret_pfn = phys / ps;
		if (has_stream(buf, ps, control_next) && !res->control_hits++)
			res->control_pfn = phys / ps;
	}
	free(buf);
}

TEST_F_TIMEOUT(devmem, no_copy_of_a_live_secret, 600)
{
	size_t ps = pagesz(), len = NPAGES * ps;
	uint64_t secret_pfn[NPAGES], plain_pfn, end;
	unsigned char *buf = malloc(ps);
	struct iomem_entry *r;
	struct scan_result res;
	volatile uint64_t *secret, *plain;
	double t;
	int fd, n;

	ASSERT_NE(NULL, buf);
	/* The secret, made in its own pages. */
	fd = smem_new(len);
	ASSERT_LE(0, fd) TH_LOG("new secret: %s", strerror(-fd));
	secret = smem_map(fd, len, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, secret);
	fill_stream(secret, len / 8, random_seed(), secret_next);
	/* The detector knows it when it sees it, and tells the streams apart. */
	ASSERT_TRUE(has_stream((const unsigned char *)secret, len, secret_next));
	ASSERT_FALSE(has_stream((const unsigned char *)secret, len, control_next));

	/* The control in ordinary locked memory. */
	plain = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, plain);
	ASSERT_EQ(0, mlock((void *)plain, ps));
	fill_stream(plain, ps / 8, random_seed(), control_next);
	ASSERT_TRUE(has_stream((const unsigned char *)plain, ps, control_next));
	plain_pfn = dmtest_pfn(self->dmfd, plain);
	ASSERT_NE(0, plain_pfn);

	n = iomem_read(&r);
	ASSERT_LT(0, n) TH_LOG("/proc/iomem: %s", strerror(-n));

	/* Every frame of the secret is inside an "smem" range, and /dev/mem refuses it. */
	for (int i = 0; i < NPAGES; i++) {
		uint64_t phys;

		secret_pfn[i] = dmtest_pfn(self->dmfd, (const char *)secret + i * ps);
		ASSERT_NE(0, secret_pfn[i]);
		phys = secret_pfn[i] * ps;
		EXPECT_EQ(1, iomem_count("smem", phys, phys + ps - 1))
			TH_LOG("secret page %d (pfn %#llx) in no smem range", i,
			       (unsigned long long)secret_pfn[i]);
		EXPECT_EQ(-1, pread(self->memfd, buf, ps, phys))
			TH_LOG("secret page %d (pfn %#llx) readable through /dev/mem%s", i,
			       (unsigned long long)secret_pfn[i],
			       has_stream(buf, ps, secret_next) ? ", with the secret in it" : "");
		EXPECT_EQ(EPERM, errno);
	}
	/* So is ordinary RAM (STRICT_DEVMEM): the same protection. */
	EXPECT_EQ(-1, pread(self->memfd, buf, ps, plain_pfn * ps))
		TH_LOG("ordinary RAM (pfn %#llx) is readable through /dev/mem: no STRICT_DEVMEM here",
		       (unsigned long long)plain_pfn);
	EXPECT_EQ(EPERM, errno);

	/* RAM that no resource covers is readable: the control the scan must find. */
	self->hole_pfn = plant_low_control(self->memfd, r, n, self->hole_saved);
	ASSERT_NE(0, self->hole_pfn) TH_LOG("no page below 1 MiB outside /proc/iomem takes a write");

	end = scan_end(r, n, smem_counter("block_pages") * ps);
	t = now_s();
	scan_devmem(self->memfd, r, n, end, &res);
	t = now_s() - t;
	TH_LOG("scanned %lld pages up to %#llx in %.1f s: %lld read, %lld EPERM, %lld EFAULT, %lld EINVAL",
	       res.pages, (unsigned long long)end, t, res.read, res.eperm, res.efault, res.einval);
	TH_LOG("control in ordinary memory at pfn %#llx, in unclaimed RAM at pfn %#llx; secret at pfn %#llx",
	       (unsigned long long)plain_pfn, (unsigned long long)self->hole_pfn,
	       (unsigned long long)secret_pfn[0]);
	EXPECT_EQ(0, res.other_errno) TH_LOG("pfn %#llx: %s", (unsigned long long)res.other_pfn,
					     strerror(res.other_errno));
	/* The scan covered the secret's frames and the control's. */
	for (int i = 0; i < NPAGES; i++) {
		EXPECT_TRUE(page_scanned(r, n, secret_pfn[i] * ps, ps));
		EXPECT_LT(secret_pfn[i] * ps, end);
	}
	EXPECT_EQ(1, res.control_hits) TH_LOG("first at pfn %#llx", (unsigned long long)res.control_pfn);
	EXPECT_EQ(self->hole_pfn, res.control_pfn);
	EXPECT_EQ(0, res.secret_hits) TH_LOG("the secret is readable at pfn %#llx",
					     (unsigned long long)res.secret_pfn);

	EXPECT_EQ(ps, pwrite(self->memfd, self->hole_saved, ps, self->hole_pfn * ps));
	self->hole_pfn = 0;
	free(r);
	munmap((void *)plain, ps);
	munmap((void *)secret, len);
	close(fd);
	free(buf);
}

TEST_HARNESS_MAIN
