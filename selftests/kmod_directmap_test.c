// SPDX-License-Identifier: GPL-2.0
/*
 * The pages behind a /dev/smem mapping are outside the kernel direct map.
 *
 * smem_dmtest.ko (selftests/module) reads physical memory through the
 * direct map with copy_from_kernel_nofault(): an ordinary page read that
 * way shows its bytes (the control), a secret page gives EFAULT.  Also:
 * the secret pages are no longer System RAM, the device and the object
 * say so, and no 4 KiB direct-map split happens however many secret pages
 * come and go.  With page_source=fallback the same probe does read the
 * pages: the test can tell the difference.
 */
#include <elf.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

#define SEED		0xd13ec7

FIXTURE(dm) {
	bool loaded_here;	/* smem_dmtest loaded by the setup */
	bool reloaded;		/* smem reloaded with other parameters */
	int dmfd;
};

FIXTURE_SETUP(dm)
{
	self->dmfd = dmtest_open(&self->loaded_here);
	ASSERT_LE(0, self->dmfd) TH_LOG("smem_dmtest: %s", strerror(-self->dmfd));
}

/* In the parent, once the test's process and all it held are gone. */
FIXTURE_TEARDOWN_PARENT(dm)
{
	/*
	 * The harness may run this in the test's own process after a failed
	 * ASSERT: smem_reload() drops its references first.
	 */
	if (self->reloaded) {
		EXPECT_EQ(0, smem_reload_default());
	}
	dmtest_release(self->loaded_here);
}

/* Read @len bytes at physical address @phys through the direct map. */
static ssize_t dm_read(int dmfd, void *buf, size_t len, uint64_t phys)
{
	return pread(dmfd, buf, len, (off_t)phys);
}

/*
 * The PFN behind @addr from /proc/self/pagemap (root only), or 0.  smem
 * mappings are VM_MIXEDMAP, not VM_PFNMAP, so the page walker reports
 * their frames like any other.
 */
static uint64_t pagemap_pfn(const void *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (uintptr_t)addr / pagesz() * sizeof(entry);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry), off) != sizeof(entry))
		entry = 0;
	close(fd);
	if (!(entry & (1ULL << 63)))
		return 0;
	return entry & ((1ULL << 55) - 1);
}

/* Each page of @p, @npages long, patterned with @seed and present. */
static void expect_direct_map(struct __test_metadata *_metadata, int dmfd,
			      unsigned char *p, size_t npages, uint32_t seed,
			      bool readable)
{
	size_t ps = pagesz();
	unsigned char *buf = malloc(ps);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < npages; i++) {
		uint64_t pfn = dmtest_pfn(dmfd, p + i * ps);
		ssize_t n;

		ASSERT_NE(0, pfn) TH_LOG("page %zu: not present", i);
		memset(buf, 0, ps);
		n = dm_read(dmfd, buf, ps, pfn * ps);
		if (readable) {
			EXPECT_EQ(ps, n) TH_LOG("page %zu, pfn %#llx: %s", i,
						(unsigned long long)pfn, strerror(errno));
			EXPECT_EQ(ps, check_pattern(buf, ps, seed + i)) TH_LOG("page %zu", i);
		} else {
			EXPECT_EQ(-1, n) TH_LOG("page %zu, pfn %#llx is readable in the direct map", i,
						(unsigned long long)pfn);
			EXPECT_EQ(EFAULT, errno);
			EXPECT_EQ(ps, check_zero(buf, ps));
		}
	}
	free(buf);
}

static void fill_pages(unsigned char *p, size_t npages, uint32_t seed)
{
	for (size_t i = 0; i < npages; i++)
		fill_pattern(p + i * pagesz(), pagesz(), seed + i);
}

/* A new object of @npages, mapped read-write, pages patterned by fill_pages(). */
static unsigned char *new_secret(size_t npages, int *fd)
{
	unsigned char *p;

	*fd = smem_new(npages * pagesz());
	if (*fd < 0)
		return MAP_FAILED;
	p = smem_map(*fd, npages * pagesz(), PROT_READ | PROT_WRITE, 0);
	if (p != MAP_FAILED)
		fill_pages(p, npages, SEED);
	return p;
}

TEST_F(dm, control_ordinary_page_readable)
{
	size_t n = 4;
	unsigned char *p = mmap(NULL, n * pagesz(), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, mlock(p, n * pagesz()));
	fill_pages(p, n, SEED);
	/* The page-table lookup agrees with pagemap where pagemap can tell. */
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(pagemap_pfn(p + i * pagesz()), dmtest_pfn(self->dmfd, p + i * pagesz()));
	}
	expect_direct_map(_metadata, self->dmfd, p, n, SEED, true);
	munmap(p, n * pagesz());
}

/* A secret in each state: never in the direct map. */
TEST_F(dm, secret_pages_not_readable)
{
	size_t n = 8, size = n * pagesz();
	int fd;
	unsigned char *p = new_secret(n, &fd);

	ASSERT_NE(MAP_FAILED, p) TH_LOG("new secret: fd %d, %s", fd, strerror(errno));
	expect_direct_map(_metadata, self->dmfd, p, n, SEED, false);
	/* The frames are the ones pagemap shows root. */
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(dmtest_pfn(self->dmfd, p + i * pagesz()), pagemap_pfn(p + i * pagesz()))
			TH_LOG("page %zu", i);
	}
	/* READ: the entries are back after a read, still not in the direct map. */
	ASSERT_EQ(0, smem_protect(fd, SMEM_PROT_READ));
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(pagesz(), check_pattern(p + i * pagesz(), pagesz(), SEED + i));
	}
	expect_direct_map(_metadata, self->dmfd, p, n, SEED, false);
	munmap(p, size);
	close(fd);
}

/* Whether [phys, phys + len) meets a "System RAM" range of /proc/iomem (or it cannot tell). */
static bool in_system_ram(uint64_t phys, uint64_t len)
{
	return iomem_count("System RAM", phys, phys + len - 1) != 0;
}

/*
 * Carved pages are no longer RAM to the kernel, and x86 PAT maps frames it
 * knows nothing about uncached: secret mappings must still be write-back,
 * with the same caching bits as an ordinary page.
 */
TEST_F(dm, secret_pages_cached_like_ram)
{
	size_t ps = pagesz();
	volatile char *anon = mmap(NULL, ps, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char *p;
	uint64_t want, got;
	int fd = smem_new(4 * ps);

	ASSERT_NE(MAP_FAILED, anon);
	ASSERT_LE(0, fd);
	p = smem_map(fd, 4 * ps, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	anon[0] = 1;
	want = (uintptr_t)anon;
	ASSERT_EQ(0, ioctl(self->dmfd, SMEM_DMTEST_VIRT_TO_CACHE, &want));
	for (int i = 0; i < 4; i++) {
		p[i * ps] = 1;
		got = (uintptr_t)(p + i * ps);
		ASSERT_EQ(0, ioctl(self->dmfd, SMEM_DMTEST_VIRT_TO_CACHE, &got));
		EXPECT_EQ(want, got) TH_LOG("page %d: caching bits %#llx, ordinary memory %#llx",
					   i, (unsigned long long)got, (unsigned long long)want);
	}
	/* Still write-back after a revocation and a new fault. */
	ASSERT_EQ(0, smem_protect(fd, SMEM_PROT_NONE));
	ASSERT_EQ(0, smem_protect(fd, SMEM_PROT_READ));
	(void)p[0];
	got = (uintptr_t)p;
	ASSERT_EQ(0, ioctl(self->dmfd, SMEM_DMTEST_VIRT_TO_CACHE, &got));
	EXPECT_EQ(want, got);
	munmap((void *)p, 4 * ps);
	munmap((void *)anon, ps);
	close(fd);
}

TEST_F(dm, secret_pages_not_system_ram)
{
	size_t n = 8, size = n * pagesz();
	int fd;
	unsigned char *p = new_secret(n, &fd);

	ASSERT_NE(MAP_FAILED, p) TH_LOG("new secret: fd %d, %s", fd, strerror(errno));
	/* The control: an ordinary page is System RAM (and /proc/iomem shows addresses). */
	ASSERT_TRUE(in_system_ram(dmtest_pfn(self->dmfd, &n) * pagesz(), 1));
	for (size_t i = 0; i < n; i++) {
		uint64_t pfn = dmtest_pfn(self->dmfd, p + i * pagesz());

		ASSERT_NE(0, pfn);
		EXPECT_FALSE(in_system_ram(pfn * pagesz(), pagesz()))
			TH_LOG("page %zu (pfn %#llx) is System RAM", i, (unsigned long long)pfn);
	}
	munmap(p, size);
	close(fd);
}

TEST_F(dm, reported_outside_direct_map)
{
	struct smem_object_info info;
	struct smem_query q;
	char src[32];
	int fd;

	ASSERT_EQ(0, smem_query(&q));
	EXPECT_EQ(SMEM_SOURCE_CARVEOUT, q.page_source);
	EXPECT_TRUE(q.features & SMEM_FEAT_NO_DIRECT_MAP);
	ASSERT_EQ(0, read_text(SMEM_SYSFS "page_source", src, sizeof(src)));
	EXPECT_STREQ("carveout", src);
	fd = smem_new(pagesz());
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(SMEM_SOURCE_CARVEOUT, info.page_source);
	EXPECT_EQ(SMEM_INFO_NO_DIRECT_MAP, info.flags);
	close(fd);
}

/*
 * Where /proc/kcore offers physical address @phys: the file offset of its
 * byte in a PT_LOAD segment, 0 when no segment has it, -1 on error.
 */
static off_t kcore_offset(int kfd, uint64_t phys)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(kfd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return -1;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (pread(kfd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) != sizeof(ph))
			return -1;
		if (ph.p_type == PT_LOAD && ph.p_paddr != (Elf64_Addr)-1 &&
		    phys >= ph.p_paddr && phys - ph.p_paddr < ph.p_memsz)
			return ph.p_offset + (phys - ph.p_paddr);
	}
	return 0;
}

/* Out of /proc/kcore, which offers all the RAM the kernel maps. */
TEST_F(dm, secret_pages_not_in_kcore)
{
	size_t n = 8, ps = pagesz();
	unsigned char *plain, *p, *buf = malloc(ps);
	int kfd, fd;
	off_t off;

	ASSERT_NE(NULL, buf);
	p = new_secret(n, &fd);
	ASSERT_NE(MAP_FAILED, p);
	kfd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, kfd) TH_LOG("/proc/kcore: %s", strerror(errno));

	/* The control: an ordinary page can be read there. */
	plain = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, plain);
	ASSERT_EQ(0, mlock(plain, ps));
	fill_pattern(plain, ps, SEED);
	off = kcore_offset(kfd, dmtest_pfn(self->dmfd, plain) * ps);
	ASSERT_LT(0, off) TH_LOG("control page not in /proc/kcore");
	ASSERT_EQ(ps, pread(kfd, buf, ps, off));
	EXPECT_EQ(ps, check_pattern(buf, ps, SEED));

	for (size_t i = 0; i < n; i++) {
		uint64_t pfn = dmtest_pfn(self->dmfd, p + i * ps);

		ASSERT_NE(0, pfn);
		EXPECT_EQ(0, kcore_offset(kfd, pfn * ps)) TH_LOG("page %zu is in /proc/kcore", i);
	}
	close(kfd);
	munmap(plain, ps);
	munmap(p, n * ps);
	close(fd);
	free(buf);
}

/*
 * 10,000 pages in objects of mixed sizes, mapped, touched and freed:
 * DirectMap4k never grows, since nothing splits the direct map.
 */
TEST_F_TIMEOUT(dm, no_direct_map_splits, 120)
{
	static const size_t sizes[] = { 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987 };
	long long before = meminfo_kb("DirectMap4k"), most, now, pending;
	size_t total = 0, ps = pagesz();
	int fds[64], nobj = 0;

	ASSERT_LE(0, before) TH_LOG("no DirectMap4k in /proc/meminfo");
	/*
	 * A block that an earlier test shrank the pool by, and that could
	 * not be given back yet, is added again by the module's retry work
	 * every 10 s; add_memory() maps it, which moved DirectMap4k by 2 MiB
	 * in the middle of this test once.  Only this test's allocations are
	 * measured: the baseline is taken with nothing pending.
	 */
	pending = wait_counter("pending_blocks", 0, 60000);
	if (pending)
		TH_LOG("%lld blocks still pending after 60 s", pending);
	before = most = meminfo_kb("DirectMap4k");
	for (size_t i = 0; total < 10000; i++) {
		size_t n = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		unsigned char *p;

		if (n > 10000 - total)
			n = 10000 - total;
		ASSERT_LT(nobj, 64);
		fds[nobj] = smem_new(n * ps);
		ASSERT_LE(0, fds[nobj]) TH_LOG("object %d of %zu pages: %s", nobj, n, strerror(-fds[nobj]));
		p = smem_map(fds[nobj], n * ps, PROT_READ | PROT_WRITE, 0);
		ASSERT_NE(MAP_FAILED, p);
		for (size_t j = 0; j < n; j++)
			p[j * ps] = (unsigned char)j;
		munmap(p, n * ps);
		total += n;
		nobj++;
		now = meminfo_kb("DirectMap4k");
		most = now > most ? now : most;
	}
	/* Free in an order unlike the allocation's. */
	for (int i = 0; i < nobj; i += 2)
		close(fds[i]);
	for (int i = 1; i < nobj; i += 2)
		close(fds[i]);
	now = meminfo_kb("DirectMap4k");
	most = now > most ? now : most;
	EXPECT_EQ(before, most) TH_LOG("DirectMap4k grew from %lld kB to %lld kB", before, most);
}

/*
 * The control for the whole file: pages that stay in the direct map
 * (page_source=fallback) are readable through it, and nothing claims
 * otherwise.
 */
TEST_F(dm, fallback_pages_readable)
{
	struct smem_object_info info;
	size_t n = 4, size = n * pagesz();
	unsigned char *p;
	int fd;

	self->reloaded = true;
	ASSERT_EQ(0, smem_reload("page_source=fallback allow_fallback=1"));
	p = new_secret(n, &fd);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("new secret: fd %d, %s", fd, strerror(errno));
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(SMEM_SOURCE_FALLBACK, info.page_source);
	EXPECT_EQ(0, info.flags & SMEM_INFO_NO_DIRECT_MAP);
	expect_direct_map(_metadata, self->dmfd, p, n, SEED, true);
	munmap(p, size);
	close(fd);
}

/*
 * Zeroed on free: fallback pages go back to the page allocator, where the
 * direct map still shows them; none may still hold its secret.
 */
TEST_F(dm, freed_fallback_pages_wiped)
{
	size_t n = 16, ps = pagesz();
	uint64_t pfn[16];
	unsigned char *p, *buf = malloc(ps);
	int fd, zero = 0;

	ASSERT_NE(NULL, buf);
	self->reloaded = true;
	ASSERT_EQ(0, smem_reload("page_source=fallback allow_fallback=1"));
	p = new_secret(n, &fd);
	ASSERT_NE(MAP_FAILED, p);
	/* The control: the secret is there to be found while in use. */
	expect_direct_map(_metadata, self->dmfd, p, n, SEED, true);
	for (size_t i = 0; i < n; i++)
		pfn[i] = dmtest_pfn(self->dmfd, p + i * ps);
	munmap(p, n * ps);
	close(fd);
	for (size_t i = 0; i < n; i++) {
		/* Unreadable (DEBUG_PAGEALLOC unmaps free pages) is fine too. */
		if (dm_read(self->dmfd, buf, ps, pfn[i] * ps) != (ssize_t)ps)
			continue;
		EXPECT_NE(64, check_pattern(buf, 64, SEED + i)) TH_LOG("page %zu kept its secret", i);
		EXPECT_NE(64, check_pattern_from(buf + ps - 64, 64, SEED + i, ps - 64))
			TH_LOG("page %zu kept its secret", i);
		zero += check_zero(buf, ps) == ps;
	}
	TH_LOG("%d of %zu freed pages read zero", zero, n);
	free(buf);
}

TEST_HARNESS_MAIN
