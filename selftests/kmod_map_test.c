// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping rules of /dev/smem: MAP_SHARED only, never executable, offset and
 * length inside the object, no growing by mremap, partial munmap, the
 * mapping outliving its fd, several mappings and several processes (fd
 * passing, fork before mmap) seeing the same bytes.
 */
#include <sys/socket.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

#define NPAGES 4

FIXTURE(map) {
	int fd;
	size_t ps, size;
	long long base_in_use;	/* pages_in_use before the fixture's object */
};

FIXTURE_SETUP(map)
{
	unsigned char *p;

	self->ps = pagesz();
	self->size = NPAGES * self->ps;
	self->base_in_use = smem_counter("pages_in_use");
	self->fd = smem_new(self->size);
	ASSERT_LE(0, self->fd) TH_LOG("new object: %s", strerror(-self->fd));
	/* A known pattern in the whole object. */
	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	fill_pattern(p, self->size, 7);
	ASSERT_EQ(0, munmap(p, self->size));
}

FIXTURE_TEARDOWN(map)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(map, shared_only)
{
	void *p;

	p = mmap(NULL, self->size, PROT_READ, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, self->size, PROT_READ, MAP_SHARED_VALIDATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("MAP_SHARED_VALIDATE: %s", strerror(errno));
	EXPECT_EQ(self->size, check_pattern(p, self->size, 7));
	munmap(p, self->size);
}

TEST_F(map, exec_refused)
{
	unsigned char *p, c;

	p = mmap(NULL, self->size, PROT_READ | PROT_EXEC, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, self->size, PROT_EXEC, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, self->size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);

	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->size, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, self->ps, PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p + self->ps, self->ps, PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	/* Refused means untouched: the mapping still reads and writes. */
	EXPECT_EQ(self->size, check_pattern(p, self->size, 7));
	EXPECT_EQ(0, probe_write(p + self->ps, p[self->ps]));
	/* Other mprotect changes are fine. */
	EXPECT_EQ(0, mprotect(p, self->size, PROT_READ));
	EXPECT_EQ(SIGSEGV, probe_write(p, 0));
	EXPECT_EQ(0, probe_read(p, &c));
	munmap(p, self->size);
}

TEST_F(map, offsets_and_lengths)
{
	size_t ps = self->ps;
	unsigned char *p;
	struct { off_t off; size_t len; } bad[] = {
		{ NPAGES * ps, ps },		/* at the end */
		{ (NPAGES + 1) * ps, ps },	/* past it */
		{ (NPAGES - 1) * ps, 2 * ps },	/* straddles the end */
		{ 0, (NPAGES + 1) * ps },	/* longer than the object */
		{ ps, NPAGES * ps },
		{ (off_t)1 << 40, ps },		/* far away */
		{ 100, ps },			/* unaligned */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = smem_map(self->fd, bad[i].len, PROT_READ, bad[i].off);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("offset %#llx length %#zx", (long long)bad[i].off, bad[i].len);
		EXPECT_EQ(EINVAL, errno) TH_LOG("offset %#llx length %#zx", (long long)bad[i].off, bad[i].len);
		if (p != MAP_FAILED)
			munmap(p, bad[i].len);
	}

	/* Inside the object: the bytes at that offset. */
	for (int first = 0; first < NPAGES; first++) {
		for (int n = 1; first + n <= NPAGES; n++) {
			p = smem_map(self->fd, n * ps, PROT_READ, first * ps);
			ASSERT_NE(MAP_FAILED, p) TH_LOG("pages %d+%d: %s", first, n, strerror(errno));
			EXPECT_EQ(n * ps, check_pattern_from(p, n * ps, 7, first * ps))
				TH_LOG("pages %d+%d", first, n);
			munmap(p, n * ps);
		}
	}
	/* A length that is not a page multiple is rounded up. */
	p = smem_map(self->fd, 100, PROT_READ, (NPAGES - 1) * ps);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("100 bytes at the last page: %s", strerror(errno));
	EXPECT_EQ(ps, check_pattern_from(p, ps, 7, (NPAGES - 1) * ps));
	munmap(p, 100);
}

TEST_F(map, mremap_cannot_grow)
{
	size_t ps = self->ps;
	unsigned char *p, *q;

	p = smem_map(self->fd, 2 * ps, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Not even inside the object, in place or moving. */
	q = mremap(p, 2 * ps, 3 * ps, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	q = mremap(p, 2 * ps, 3 * ps, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	q = mremap(p, 2 * ps, 64 * ps, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(2 * ps, check_pattern(p, 2 * ps, 7));

	/* Shrinking is allowed, and what is left still works. */
	q = mremap(p, 2 * ps, ps, 0);
	ASSERT_EQ(p, q) TH_LOG("shrink: %s", strerror(errno));
	EXPECT_EQ(ps, check_pattern(p, ps, 7));
	EXPECT_EQ(SIGSEGV, probe_read(p + ps, &p[0]));
	munmap(p, ps);
}

/*
 * Moving a mapping (same size) may be refused; when it is allowed, the
 * moved mapping still shows the object and still follows its protection.
 */
TEST_F(map, mremap_move_follows_object)
{
	size_t ps = self->ps;
	unsigned char *p, *dst, *q, c;

	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	dst = mmap(NULL, self->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	q = mremap(p, self->size, self->size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (q == MAP_FAILED) {
		TH_LOG("mremap move refused: %s", strerror(errno));
		munmap(dst, self->size);
		munmap(p, self->size);
		return;
	}
	ASSERT_EQ(dst, q);
	EXPECT_EQ(self->size, check_pattern(q, self->size, 7));
	EXPECT_EQ(SIGSEGV, probe_read(p, &c));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	for (int i = 0; i < NPAGES; i++) {
		EXPECT_EQ(SIGSEGV, probe_read(q + i * ps, &c)) TH_LOG("page %d", i);
	}
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READWRITE));
	EXPECT_EQ(self->size, check_pattern(q, self->size, 7));
	munmap(q, self->size);
}

TEST_F(map, partial_munmap)
{
	size_t ps = self->ps;
	unsigned char *p, c;

	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + ps, ps));
	EXPECT_EQ(SIGSEGV, probe_read(p + ps, &c));
	EXPECT_EQ(ps, check_pattern(p, ps, 7));
	EXPECT_EQ(2 * ps, check_pattern_from(p + 2 * ps, 2 * ps, 7, 2 * ps));
	/* Both pieces still follow the object. */
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	EXPECT_EQ(SIGSEGV, probe_read(p, &c));
	EXPECT_EQ(SIGSEGV, probe_read(p + 2 * ps, &c));
	EXPECT_EQ(SIGSEGV, probe_read(p + 3 * ps, &c));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READWRITE));
	EXPECT_EQ(0, probe_write(p + 3 * ps, 0x42));
	EXPECT_EQ(0x42, p[3 * ps]);

	/* Unmapping the pieces one by one and closing frees the object. */
	close(self->fd);
	self->fd = -1;
	munmap(p, ps);
	EXPECT_EQ(0x42, p[3 * ps]);
	munmap(p + 2 * ps, 2 * ps);
	EXPECT_EQ(self->base_in_use, wait_counter("pages_in_use", self->base_in_use, 1000));
}

TEST_F(map, mapping_outlives_fd)
{
	unsigned char *p;

	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(self->size, check_pattern(p, self->size, 7));
	fill_pattern(p, self->size, 8);
	EXPECT_EQ(self->size, check_pattern(p, self->size, 8));
	munmap(p, self->size);
	EXPECT_EQ(self->base_in_use, wait_counter("pages_in_use", self->base_in_use, 1000));
}

TEST_F(map, several_mappings_same_bytes)
{
	size_t ps = self->ps;
	unsigned char *a, *b, *c;

	a = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	b = smem_map(self->fd, self->size, PROT_READ, 0);
	c = smem_map(self->fd, 2 * ps, PROT_READ | PROT_WRITE, 2 * ps);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_NE(MAP_FAILED, c);
	EXPECT_EQ(self->size, check_pattern(b, self->size, 7));
	fill_pattern(a, self->size, 9);
	EXPECT_EQ(self->size, check_pattern(b, self->size, 9));
	EXPECT_EQ(2 * ps, check_pattern_from(c, 2 * ps, 9, 2 * ps));
	c[5] = 0x77;
	EXPECT_EQ(0x77, a[2 * ps + 5]);
	EXPECT_EQ(0x77, b[2 * ps + 5]);
	munmap(a, self->size);
	munmap(b, self->size);
	munmap(c, 2 * ps);
}

/*
 * Another process gets the object and maps it: it reads what we wrote,
 * and we read what it writes.  Exit codes of the child name the step.
 */
static int peer_check_and_write(int fd, size_t size)
{
	unsigned char *p = smem_map(fd, size, PROT_READ | PROT_WRITE, 0);

	if (p == MAP_FAILED)
		return 10;
	if (check_pattern(p, size, 7) != size)
		return 11;
	fill_pattern(p + size / 2, size / 2, 21);
	munmap(p, size);
	return 0;
}

TEST_F(map, fd_passed_over_socket)
{
	unsigned char *p;
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	/* The child exists before the object: it can only get it by passing. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		close(sv[0]);
		fd = recv_fd(sv[1]);
		if (fd < 0)
			_exit(9);
		_exit(peer_check_and_write(fd, self->size));
	}
	close(sv[1]);
	ASSERT_EQ(0, send_fd(sv[0], self->fd));
	close(sv[0]);
	ASSERT_EQ(0, wait_child(pid));
	p = smem_map(self->fd, self->size, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(self->size / 2, check_pattern(p, self->size / 2, 7));
	EXPECT_EQ(self->size / 2, check_pattern(p + self->size / 2, self->size / 2, 21));
	munmap(p, self->size);
}

TEST_F(map, fork_before_mmap)
{
	unsigned char *p;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(peer_check_and_write(self->fd, self->size));
	ASSERT_EQ(0, wait_child(pid));
	p = smem_map(self->fd, self->size, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(self->size / 2, check_pattern(p + self->size / 2, self->size / 2, 21));
	munmap(p, self->size);
}

/*
 * A mapping can be made in any unsealed state, and it follows the state
 * of the object rather than what mmap() asked for.
 */
TEST_F(map, map_in_any_state)
{
	unsigned char *p, c;

	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap while NONE: %s", strerror(errno));
	EXPECT_EQ(SIGSEGV, probe_read(p, &c));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	ASSERT_EQ(0, probe_read(p, &c));	/* c is only set by a read that succeeded */
	EXPECT_EQ(pattern_byte(7, 0), c);
	EXPECT_EQ(SIGSEGV, probe_write(p, 1));
	munmap(p, self->size);

	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap while READ: %s", strerror(errno));
	EXPECT_EQ(SIGSEGV, probe_write(p, 1));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READWRITE));
	EXPECT_EQ(0, probe_write(p, 1));
	munmap(p, self->size);
}

TEST_HARNESS_MAIN
