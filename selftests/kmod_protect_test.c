// SPDX-License-Identifier: GPL-2.0
/*
 * Protection of /dev/smem objects: every transition between NONE, READ
 * and READWRITE, taking effect for every mapping in every process before
 * SMEM_IOC_PROTECT returns; SIGSEGV on a forbidden access and EFAULT for
 * read(2)/write(2); seals; wipe; SMEM_IOC_INFO.
 */
#include "kmod_util.h"
#include "kselftest_harness.h"

#define NPAGES	3
#define SEED	11

static const char *prot_name(__u32 prot)
{
	switch (prot) {
	case SMEM_PROT_NONE: return "NONE";
	case SMEM_PROT_READ: return "READ";
	case SMEM_PROT_READWRITE: return "READWRITE";
	default: return "?";
	}
}

FIXTURE(obj) {
	int fd;
	size_t ps, size;
	unsigned char *map;	/* mapped read-write, patterned, all pages touched */
};

FIXTURE_SETUP(obj)
{
	self->ps = pagesz();
	self->size = NPAGES * self->ps;
	self->fd = smem_new(self->size);
	ASSERT_LE(0, self->fd) TH_LOG("new object: %s", strerror(-self->fd));
	self->map = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	fill_pattern(self->map, self->size, SEED);
}

FIXTURE_TEARDOWN(obj)
{
	munmap(self->map, self->size);
	close(self->fd);
}

/*
 * Each page of @p (a read-write mapping) can be read iff @prot allows it
 * and then shows the pattern, and can be written iff @prot is READWRITE.
 * Writes put back the byte that is there, so the pattern survives.
 */
static void expect_access(struct __test_metadata *_metadata, unsigned char *p,
			  size_t size, __u32 prot, const char *what)
{
	size_t ps = pagesz();

	for (size_t off = 0; off < size; off += ps) {
		size_t i = off + (off / ps) * 17 % ps;
		unsigned char c = 0;
		int rsig = probe_read(p + i, &c);
		int wsig = probe_write(p + i, pattern_byte(SEED, i));

		EXPECT_EQ(prot == SMEM_PROT_NONE ? SIGSEGV : 0, rsig)
			TH_LOG("%s: read at %zu in %s", what, i, prot_name(prot));
		if (!rsig) {
			EXPECT_EQ(pattern_byte(SEED, i), c) TH_LOG("%s: byte %zu", what, i);
		}
		EXPECT_EQ(prot == SMEM_PROT_READWRITE ? 0 : SIGSEGV, wsig)
			TH_LOG("%s: write at %zu in %s", what, i, prot_name(prot));
	}
}

/* ---------------------------------------------------------- transitions */

FIXTURE(transition) {
	int fd;
	size_t size;
	unsigned char *map;
};

FIXTURE_VARIANT(transition) {
	__u32 from, to;
};

#define TRANSITION(a, b) \
	FIXTURE_VARIANT_ADD(transition, a##_to_##b) { \
		.from = SMEM_PROT_##a, .to = SMEM_PROT_##b, \
	}
TRANSITION(NONE, NONE);
TRANSITION(NONE, READ);
TRANSITION(NONE, READWRITE);
TRANSITION(READ, NONE);
TRANSITION(READ, READ);
TRANSITION(READ, READWRITE);
TRANSITION(READWRITE, NONE);
TRANSITION(READWRITE, READ);
TRANSITION(READWRITE, READWRITE);

FIXTURE_SETUP(transition)
{
	self->size = NPAGES * pagesz();
	self->fd = smem_new(self->size);
	ASSERT_LE(0, self->fd) TH_LOG("new object: %s", strerror(-self->fd));
	self->map = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	fill_pattern(self->map, self->size, SEED);
}

FIXTURE_TEARDOWN(transition)
{
	munmap(self->map, self->size);
	close(self->fd);
}

TEST_F(transition, follows_every_mapping)
{
	struct smem_object_info info;
	unsigned char *late;

	ASSERT_EQ(0, smem_protect(self->fd, variant->from));
	/* Page table entries made under the first state... */
	expect_access(_metadata, self->map, self->size, variant->from, "first state");
	ASSERT_EQ(0, smem_protect(self->fd, variant->to));
	/* ...never outlive it, and a mapping made afterwards agrees. */
	expect_access(_metadata, self->map, self->size, variant->to, "old mapping");
	late = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, late);
	expect_access(_metadata, late, self->size, variant->to, "new mapping");
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(variant->to, info.prot);
	/* Whatever the path, the bytes are intact. */
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(self->size, check_pattern(late, self->size, SEED));
	munmap(late, self->size);
}

/* ------------------------------------------------------------ revocation */

TEST_F(obj, new_object_is_readwrite)
{
	struct smem_object_info info;

	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(SMEM_PROT_READWRITE, info.prot);
	expect_access(_metadata, self->map, self->size, SMEM_PROT_READWRITE, "new object");
}

TEST_F(obj, revoke_second_mapping)
{
	unsigned char *ro = smem_map(self->fd, self->size, PROT_READ, 0);
	unsigned char *part = smem_map(self->fd, self->ps, PROT_READ | PROT_WRITE, self->ps);
	unsigned char c;

	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, part);
	EXPECT_EQ(self->size, check_pattern(ro, self->size, SEED));
	EXPECT_EQ(0, probe_write(part, part[0]));

	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(SIGSEGV, probe_write(part, 0));
	EXPECT_EQ(SIGSEGV, probe_write(self->map + self->ps, 0));
	EXPECT_EQ(0, probe_read(ro, &c));

	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	for (size_t off = 0; off < self->size; off += self->ps) {
		EXPECT_EQ(SIGSEGV, probe_read(ro + off, &c)) TH_LOG("offset %zu", off);
		EXPECT_EQ(SIGSEGV, probe_read(self->map + off, &c)) TH_LOG("offset %zu", off);
	}
	EXPECT_EQ(SIGSEGV, probe_read(part, &c));
	munmap(ro, self->size);
	munmap(part, self->ps);
}

/*
 * A second process maps the object and reads it in a tight loop,
 * counting successful reads in shared memory.  Once PROTECT(@prot)
 * returns in this process, at most the read already in flight may still
 * complete there: every later one must fault.
 */
struct spinner {
	volatile unsigned long reads;
	volatile int ready, faulted, bad_bytes;
};

static void spin_reader(int fd, size_t size, struct spinner *sh, bool write)
{
	unsigned char *p = smem_map(fd, size, PROT_READ | PROT_WRITE, 0);
	size_t ps = pagesz();

	if (p == MAP_FAILED)
		_exit(10);
	for (unsigned long n = 0;; n++) {
		size_t i = (n % (size / ps)) * ps + n % 61;
		unsigned char c;
		int sig = write ? probe_write(p + i, pattern_byte(SEED, i)) : probe_read(p + i, &c);

		if (sig) {
			sh->faulted = sig;
			_exit(0);
		}
		if (!write && c != pattern_byte(SEED, i))
			sh->bad_bytes++;
		sh->reads++;
		if (n == 1000)
			sh->ready = 1;
	}
}

static void revoke_other_process(struct __test_metadata *_metadata,
				 FIXTURE_DATA(obj) *self, __u32 prot, bool write)
{
	struct spinner *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long at_return;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, sh);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		spin_reader(self->fd, self->size, sh, write);
	for (int i = 0; i < 5000 && !sh->ready; i++)
		sleep_ms(1);
	ASSERT_TRUE(sh->ready) TH_LOG("the other process never got going");
	ASSERT_EQ(0, smem_protect(self->fd, prot));
	at_return = sh->reads;
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(SIGSEGV, sh->faulted);
	EXPECT_GE(at_return + 1, sh->reads)
		TH_LOG("%lu accesses succeeded after PROTECT returned", sh->reads - at_return);
	EXPECT_EQ(0, sh->bad_bytes);
	munmap(sh, sizeof(*sh));
}

TEST_F(obj, revoke_read_in_other_process)
{
	revoke_other_process(_metadata, self, SMEM_PROT_NONE, false);
}

TEST_F(obj, revoke_write_in_other_process)
{
	revoke_other_process(_metadata, self, SMEM_PROT_READ, true);
}

/* Loosening needs no new mapping, in this process or another. */
TEST_F(obj, loosen_in_other_process)
{
	int to_child[2], to_parent[2];
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned char *p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
		unsigned char v;

		if (p == MAP_FAILED)
			_exit(10);
		if (probe_read(p, &v) != SIGSEGV)
			_exit(11);
		if (write(to_parent[1], "r", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(12);
		/* Now READ. */
		if (probe_read(p, &v) || v != pattern_byte(SEED, 0))
			_exit(13);
		if (probe_write(p, v) != SIGSEGV)
			_exit(14);
		if (write(to_parent[1], "r", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(15);
		/* Now READWRITE. */
		if (probe_write(p, 0x99))
			_exit(16);
		_exit(0);
	}
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	ASSERT_EQ(1, write(to_child[1], "g", 1));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READWRITE));
	ASSERT_EQ(1, write(to_child[1], "g", 1));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(0x99, self->map[0]);
}

/* ---------------------------------------------------- signals, EFAULT */

/*
 * The plain signal, as a process without a handler sees it: a child maps
 * the object (fork does not copy our mappings) and touches byte @off.
 */
static int touch_in_child(int fd, size_t size, size_t off, bool write)
{
	pid_t pid = fork();

	if (pid == 0) {
		volatile unsigned char *p = smem_map(fd, size, PROT_READ | PROT_WRITE, 0);

		if (p == MAP_FAILED)
			_exit(10);
		if (write)
			p[off] = 1;
		else
			(void)p[off];
		_exit(0);
	}
	return wait_child(pid);
}

TEST_F(obj, write_in_read_is_sigsegv)
{
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(0, touch_in_child(self->fd, self->size, 0, false));
	EXPECT_EQ(128 + SIGSEGV, touch_in_child(self->fd, self->size, 0, true));
	EXPECT_EQ(128 + SIGSEGV, touch_in_child(self->fd, self->size, self->size - 1, true));
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, SEED));
}

TEST_F(obj, any_access_in_none_is_sigsegv)
{
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	EXPECT_EQ(128 + SIGSEGV, touch_in_child(self->fd, self->size, 0, false));
	EXPECT_EQ(128 + SIGSEGV, touch_in_child(self->fd, self->size, self->ps, true));
	/* The control: the same child succeeds once the object is readable. */
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READWRITE));
	EXPECT_EQ(0, touch_in_child(self->fd, self->size, self->ps, true));
}

/* read(2) into and write(2) from the buffer, through a pipe. */
static void expect_syscall_access(struct __test_metadata *_metadata,
				  FIXTURE_DATA(obj) *self, bool can_read, bool can_write)
{
	unsigned char buf[64];
	int pfd[2];

	ASSERT_EQ(0, pipe(pfd));
	/* write(2) reads the buffer. */
	if (can_read) {
		ASSERT_EQ(64, write(pfd[1], self->map + self->ps, 64));
		ASSERT_EQ(64, read(pfd[0], buf, 64));
		EXPECT_EQ(0, memcmp(buf, (void *)(self->map + self->ps), 64));
	} else {
		EXPECT_EQ(-1, write(pfd[1], self->map + self->ps, 64));
		EXPECT_EQ(EFAULT, errno);
	}
	/* read(2) writes into it. */
	memset(buf, 0x3c, sizeof(buf));
	ASSERT_EQ(64, write(pfd[1], buf, 64));
	if (can_write) {
		EXPECT_EQ(64, read(pfd[0], self->map + 2 * self->ps, 64));
		EXPECT_EQ(0x3c, self->map[2 * self->ps + 63]);
	} else {
		EXPECT_EQ(-1, read(pfd[0], self->map + 2 * self->ps, 64));
		EXPECT_EQ(EFAULT, errno);
	}
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(obj, syscalls_efault_in_none)
{
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	expect_syscall_access(_metadata, self, false, false);
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, SEED));
}

TEST_F(obj, syscalls_efault_on_write_in_read)
{
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	expect_syscall_access(_metadata, self, true, false);
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, SEED));
}

TEST_F(obj, syscalls_work_in_readwrite)
{
	expect_syscall_access(_metadata, self, true, true);
}

/* ----------------------------------------------------------------- seals */

TEST_F(obj, seal_write_busy_while_readwrite)
{
	struct smem_object_info info;

	EXPECT_EQ(-EBUSY, smem_seal(self->fd, SMEM_SEAL_WRITE));
	EXPECT_EQ(-EBUSY, smem_seal(self->fd, SMEM_SEAL_ALL));
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(0, info.seals);
	EXPECT_EQ(0, probe_write(self->map, self->map[0]));
}

TEST_F(obj, seal_write)
{
	struct smem_object_info info;
	unsigned char *p, c;

	/* Sealable from NONE and READ: seal from NONE here. */
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	ASSERT_EQ(0, smem_seal(self->fd, SMEM_SEAL_WRITE));
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(SMEM_SEAL_WRITE, info.seals);

	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_READWRITE));
	EXPECT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	EXPECT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(-EPERM, smem_wipe(self->fd, 0, self->size));
	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_READWRITE));

	/* No writable mapping, new or upgraded. */
	p = smem_map(self->fd, self->size, PROT_READ | PROT_WRITE, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = smem_map(self->fd, self->size, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(self->size, check_pattern(p, self->size, SEED));
	EXPECT_EQ(-1, mprotect(p, self->size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* The mapping made before the seal cannot write, nor be upgraded again. */
	EXPECT_EQ(SIGSEGV, probe_write(self->map, 0));
	ASSERT_EQ(0, mprotect(self->map, self->size, PROT_READ));
	EXPECT_EQ(-1, mprotect(self->map, self->size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, probe_read(self->map, &c));
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, SEED));
	munmap(p, self->size);
}

TEST_F(obj, seal_protect)
{
	struct smem_object_info info;

	ASSERT_EQ(0, smem_seal(self->fd, SMEM_SEAL_PROTECT));
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(SMEM_SEAL_PROTECT, info.seals);
	EXPECT_EQ(SMEM_PROT_READWRITE, info.prot);
	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_NONE));
	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_READWRITE));
	/* Frozen as it was: still read-write, still wipeable. */
	expect_access(_metadata, self->map, self->size, SMEM_PROT_READWRITE, "sealed READWRITE");
	EXPECT_EQ(0, smem_wipe(self->fd, 0, 16));
	EXPECT_EQ(16, check_zero(self->map, 16));
	/* A write seal cannot come while it is READWRITE, and never will. */
	EXPECT_EQ(-EBUSY, smem_seal(self->fd, SMEM_SEAL_WRITE));
}

TEST_F(obj, seals_accumulate)
{
	struct smem_object_info info;

	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	ASSERT_EQ(0, smem_seal(self->fd, SMEM_SEAL_WRITE));
	ASSERT_EQ(0, smem_seal(self->fd, SMEM_SEAL_PROTECT));
	ASSERT_EQ(0, smem_obj_info(self->fd, &info));
	EXPECT_EQ(SMEM_SEAL_ALL, info.seals);
	EXPECT_EQ(SMEM_PROT_READ, info.prot);
	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_NONE));
	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(-EPERM, smem_protect(self->fd, SMEM_PROT_READWRITE));
	expect_access(_metadata, self->map, self->size, SMEM_PROT_READ, "sealed READ");
}

/* Read-only sharing: a sealed object given to another process. */
TEST_F(obj, sealed_object_shared_read_only)
{
	int sv[2];
	pid_t pid;

	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	ASSERT_EQ(0, smem_seal(self->fd, SMEM_SEAL_ALL));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = recv_fd(sv[1]);
		unsigned char *p;

		if (fd < 0)
			_exit(10);
		if (smem_map(fd, self->size, PROT_READ | PROT_WRITE, 0) != MAP_FAILED || errno != EPERM)
			_exit(11);
		p = smem_map(fd, self->size, PROT_READ, 0);
		if (p == MAP_FAILED)
			_exit(12);
		if (check_pattern(p, self->size, SEED) != self->size)
			_exit(13);
		if (mprotect(p, self->size, PROT_READ | PROT_WRITE) != -1 || errno != EACCES)
			_exit(14);
		if (smem_protect(fd, SMEM_PROT_READWRITE) != -EPERM ||
		    smem_protect(fd, SMEM_PROT_NONE) != -EPERM)
			_exit(15);
		if (smem_wipe(fd, 0, self->size) != -EPERM)
			_exit(16);
		_exit(0);
	}
	ASSERT_EQ(0, send_fd(sv[0], self->fd));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, SEED));
	close(sv[0]);
	close(sv[1]);
}

/* ------------------------------------------------------------------ wipe */

TEST_F(obj, wipe_range)
{
	size_t off = 100, len = self->ps + 5000;

	ASSERT_EQ(0, smem_wipe(self->fd, off, len));
	EXPECT_EQ(off, check_pattern(self->map, off, SEED));
	EXPECT_EQ(len, check_zero(self->map + off, len));
	EXPECT_EQ(self->size - off - len,
		  check_pattern_from(self->map + off + len, self->size - off - len, SEED, off + len));
	ASSERT_EQ(0, smem_wipe(self->fd, 0, self->size));
	EXPECT_EQ(self->size, check_zero(self->map, self->size));
}

TEST_F(obj, wipe_single_bytes)
{
	ASSERT_EQ(0, smem_wipe(self->fd, self->size - 1, 1));
	EXPECT_EQ(0, self->map[self->size - 1]);
	EXPECT_EQ(self->size - 1, check_pattern(self->map, self->size - 1, SEED));
	ASSERT_EQ(0, smem_wipe(self->fd, self->ps - 1, 2));
	EXPECT_EQ(0, self->map[self->ps - 1]);
	EXPECT_EQ(0, self->map[self->ps]);
	EXPECT_EQ(pattern_byte(SEED, self->ps + 1), self->map[self->ps + 1]);
}

TEST_F(obj, wipe_whatever_the_protection)
{
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_NONE));
	ASSERT_EQ(0, smem_wipe(self->fd, 0, self->ps));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	ASSERT_EQ(0, smem_wipe(self->fd, self->ps, self->ps));
	EXPECT_EQ(2 * self->ps, check_zero(self->map, 2 * self->ps));
	EXPECT_EQ(self->size - 2 * self->ps,
		  check_pattern_from(self->map + 2 * self->ps, self->size - 2 * self->ps, SEED,
				     2 * self->ps));
}

TEST_F(obj, wipe_sealed_eperm)
{
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	ASSERT_EQ(0, smem_seal(self->fd, SMEM_SEAL_WRITE));
	EXPECT_EQ(-EPERM, smem_wipe(self->fd, 0, self->size));
	EXPECT_EQ(-EPERM, smem_wipe(self->fd, 0, 1));
	EXPECT_EQ(self->size, check_pattern(self->map, self->size, SEED));
}

/* ------------------------------------------------------------------ info */

TEST_F(obj, info_fields)
{
	struct smem_object_info info;
	struct smem_query q;
	int fd;

	ASSERT_EQ(0, smem_query(&q));
	fd = smem_new(self->ps + 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(2 * self->ps, info.size);
	EXPECT_EQ(SMEM_PROT_READWRITE, info.prot);
	EXPECT_EQ(0, info.seals);
	EXPECT_EQ(q.page_source, info.page_source);
	EXPECT_NE(SMEM_SOURCE_NONE, info.page_source);
	EXPECT_EQ(!!(q.features & SMEM_FEAT_NO_DIRECT_MAP), !!(info.flags & SMEM_INFO_NO_DIRECT_MAP));
	EXPECT_EQ(0, info.flags & ~SMEM_INFO_NO_DIRECT_MAP);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(0, info.reserved[i]);
	}

	ASSERT_EQ(0, smem_protect(fd, SMEM_PROT_NONE));
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(SMEM_PROT_NONE, info.prot);
	ASSERT_EQ(0, smem_seal(fd, SMEM_SEAL_WRITE));
	ASSERT_EQ(0, smem_obj_info(fd, &info));
	EXPECT_EQ(SMEM_PROT_NONE, info.prot);
	EXPECT_EQ(SMEM_SEAL_WRITE, info.seals);
	EXPECT_EQ(2 * self->ps, info.size);
	close(fd);
}

TEST_HARNESS_MAIN
