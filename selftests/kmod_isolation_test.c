// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation of /dev/smem pages: no other process and no kernel path that
 * pins user pages can reach them.  process_vm_readv/writev, ptrace,
 * /proc/PID/mem, vmsplice, O_DIRECT to a loop device and io_uring buffer
 * registration all fail on a mapped, readable secret, while the same calls
 * on an ordinary buffer holding the same bytes succeed (the controls, so
 * that each test can fail).  A forked child has no mapping, a core dump
 * does not contain the secret, and smaps shows the VMA flags behind it.
 */
#include <linux/io_uring.h>
#include <linux/loop.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

#define SEED		0x5ec7e7
#define CTRL_SEED	0xc0417
#define PLEN		64

/* An ordinary page, locked, with the same bytes as the secret. */
static unsigned char *plain_page(uint32_t seed)
{
	unsigned char *p = mmap(NULL, pagesz(), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	fill_pattern(p, pagesz(), seed);
	mlock(p, pagesz());
	return p;
}

/* --------------------------------------------- another process's secret */

/*
 * A child that holds a one-page secret (READ) and an ordinary page with
 * the same pattern, tells us both addresses and waits to be killed.
 */
FIXTURE(holder) {
	pid_t pid;
	unsigned char *secret, *plain;
	unsigned char expect[PLEN];
};

FIXTURE_SETUP(holder)
{
	unsigned char *addrs[2];
	int pfd[2];

	ASSERT_EQ(0, pipe(pfd));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (self->pid == 0) {
		int fd = smem_new(pagesz());
		unsigned char *s;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0)
			_exit(10);
		s = smem_map(fd, pagesz(), PROT_READ | PROT_WRITE, 0);
		if (s == MAP_FAILED)
			_exit(11);
		fill_pattern(s, pagesz(), SEED);
		if (smem_protect(fd, SMEM_PROT_READ))
			_exit(12);
		/* Readable, and its page table entry present. */
		if (check_pattern(s, pagesz(), SEED) != pagesz())
			_exit(13);
		addrs[0] = s;
		addrs[1] = plain_page(SEED);
		if (write(pfd[1], addrs, sizeof(addrs)) != sizeof(addrs))
			_exit(14);
		for (;;)
			pause();
	}
	close(pfd[1]);
	ASSERT_EQ(sizeof(addrs), read(pfd[0], addrs, sizeof(addrs)))
		TH_LOG("the holder died: status %d", wait_child(self->pid));
	close(pfd[0]);
	self->secret = addrs[0];
	self->plain = addrs[1];
	ASSERT_NE(NULL, self->plain);
	fill_pattern(self->expect, PLEN, SEED);
}

FIXTURE_TEARDOWN(holder)
{
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
}

TEST_F(holder, process_vm_readv)
{
	unsigned char buf[PLEN];
	struct iovec local = { buf, PLEN }, remote = { self->plain, PLEN };

	/* Control: the ordinary page is readable that way. */
	ASSERT_EQ(PLEN, process_vm_readv(self->pid, &local, 1, &remote, 1, 0))
		TH_LOG("control: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, self->expect, PLEN));

	memset(buf, 0, PLEN);
	remote.iov_base = self->secret;
	EXPECT_EQ(-1, process_vm_readv(self->pid, &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(PLEN, check_zero(buf, PLEN));
}

TEST_F(holder, process_vm_writev)
{
	unsigned char buf[PLEN] = { 0 };
	struct iovec local = { buf, PLEN }, remote = { self->secret, PLEN };

	EXPECT_EQ(-1, process_vm_writev(self->pid, &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	remote.iov_base = self->plain;
	EXPECT_EQ(PLEN, process_vm_writev(self->pid, &local, 1, &remote, 1, 0));
}

TEST_F(holder, proc_pid_mem)
{
	unsigned char buf[PLEN] = { 0 };
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", self->pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(PLEN, pread(fd, buf, PLEN, (off_t)(uintptr_t)self->plain))
		TH_LOG("control: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, self->expect, PLEN));

	memset(buf, 0, PLEN);
	EXPECT_EQ(-1, pread(fd, buf, PLEN, (off_t)(uintptr_t)self->secret));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(PLEN, check_zero(buf, PLEN));
	/* Nor a forced write (FOLL_FORCE would write a read-only page). */
	EXPECT_EQ(-1, pwrite(fd, buf, PLEN, (off_t)(uintptr_t)self->secret));
	EXPECT_EQ(EIO, errno);
	close(fd);
}

TEST_F(holder, ptrace_peek_and_poke)
{
	long word, expect;
	int status;

	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->pid, 0, 0)) TH_LOG("seize: %s", strerror(errno));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, self->pid, 0, 0));
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));

	/* Control: the ordinary page can be peeked. */
	memcpy(&expect, self->expect, sizeof(expect));
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, self->pid, self->plain, 0);
	EXPECT_EQ(0, errno);
	EXPECT_EQ(expect, word);

	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, self->pid, self->secret, 0);
	EXPECT_EQ(-1, word);
	EXPECT_TRUE(errno == EIO || errno == EFAULT) TH_LOG("errno %d (%s)", errno, strerror(errno));
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, self->pid, self->secret + pagesz() - sizeof(long), 0);
	EXPECT_EQ(-1, word);
	EXPECT_TRUE(errno == EIO || errno == EFAULT) TH_LOG("errno %d (%s)", errno, strerror(errno));
	EXPECT_EQ(-1, ptrace(PTRACE_POKEDATA, self->pid, self->secret, 0L));
	EXPECT_TRUE(errno == EIO || errno == EFAULT) TH_LOG("errno %d (%s)", errno, strerror(errno));
	ptrace(PTRACE_DETACH, self->pid, 0, 0);
}

/* ------------------------------------------------- this process's secret */

FIXTURE(own) {
	int fd;
	unsigned char *secret;	/* one page, READ, patterned */
	unsigned char *plain;	/* ordinary page, same pattern */
};

FIXTURE_SETUP(own)
{
	self->fd = smem_new(pagesz());
	ASSERT_LE(0, self->fd) TH_LOG("new object: %s", strerror(-self->fd));
	self->secret = smem_map(self->fd, pagesz(), PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, self->secret);
	fill_pattern(self->secret, pagesz(), SEED);
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	ASSERT_EQ(pagesz(), check_pattern(self->secret, pagesz(), SEED));
	self->plain = plain_page(SEED);
	ASSERT_NE(NULL, self->plain);
}

FIXTURE_TEARDOWN(own)
{
	munmap(self->secret, pagesz());
	munmap(self->plain, pagesz());
	close(self->fd);
}

TEST_F(own, proc_self_mem)
{
	unsigned char buf[PLEN];
	int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(PLEN, pread(fd, buf, PLEN, (off_t)(uintptr_t)self->plain));
	EXPECT_EQ(PLEN, check_pattern(buf, PLEN, SEED));
	EXPECT_EQ(-1, pread(fd, buf, PLEN, (off_t)(uintptr_t)self->secret));
	EXPECT_EQ(EIO, errno);
	close(fd);
}

TEST_F(own, vmsplice)
{
	struct iovec iov = { self->plain, pagesz() };
	int pfd[2];

	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(pagesz(), vmsplice(pfd[1], &iov, 1, 0)) TH_LOG("control: %s", strerror(errno));
	iov.iov_base = self->secret;
	EXPECT_EQ(-1, vmsplice(pfd[1], &iov, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	iov.iov_len = PLEN;
	EXPECT_EQ(-1, vmsplice(pfd[1], &iov, 1, SPLICE_F_GIFT));
	EXPECT_EQ(EFAULT, errno);
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(own, io_uring_register_buffers)
{
	struct io_uring_params params = { 0 };
	struct iovec iov = { self->plain, pagesz() };
	int ring = syscall(__NR_io_uring_setup, 4, &params);

	ASSERT_LE(0, ring) TH_LOG("io_uring_setup: %s", strerror(errno));
	ASSERT_EQ(0, syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1))
		TH_LOG("control: %s", strerror(errno));
	ASSERT_EQ(0, syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0));
	iov.iov_base = self->secret;
	EXPECT_EQ(-1, syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1));
	EXPECT_EQ(EFAULT, errno);
	close(ring);
}

/* O_DIRECT on a loop device over a file in /tmp. */
FIXTURE(loopdev) {
	int ctl, nr, dfd;
	char backing[64];
	int fd;
	unsigned char *secret, *plain;
};

FIXTURE_SETUP(loopdev)
{
	char path[32];
	int bfd, lfd;

	self->nr = -1;
	self->dfd = -1;
	self->fd = smem_new(pagesz());
	ASSERT_LE(0, self->fd);
	self->secret = smem_map(self->fd, pagesz(), PROT_READ | PROT_WRITE, 0);
	ASSERT_NE(MAP_FAILED, self->secret);
	fill_pattern(self->secret, pagesz(), SEED);
	self->plain = plain_page(SEED);
	ASSERT_NE(NULL, self->plain);

	strcpy(self->backing, "/tmp/smem-loop-XXXXXX");
	bfd = mkstemp(self->backing);
	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, ftruncate(bfd, 1 << 20));
	self->ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl) TH_LOG("/dev/loop-control: %s", strerror(errno));
	self->nr = ioctl(self->ctl, LOOP_CTL_GET_FREE);
	ASSERT_LE(0, self->nr) TH_LOG("LOOP_CTL_GET_FREE: %s", strerror(errno));
	snprintf(path, sizeof(path), "/dev/loop%d", self->nr);
	lfd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, lfd) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(0, ioctl(lfd, LOOP_SET_FD, bfd)) TH_LOG("LOOP_SET_FD: %s", strerror(errno));
	close(lfd);
	close(bfd);
	self->dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->dfd) TH_LOG("%s O_DIRECT: %s", path, strerror(errno));
}

FIXTURE_TEARDOWN(loopdev)
{
	char path[32];
	int lfd;

	if (self->dfd >= 0)
		close(self->dfd);
	if (self->nr >= 0) {
		snprintf(path, sizeof(path), "/dev/loop%d", self->nr);
		lfd = open(path, O_RDWR | O_CLOEXEC);
		if (lfd >= 0) {
			ioctl(lfd, LOOP_CLR_FD, 0);
			close(lfd);
		}
		ioctl(self->ctl, LOOP_CTL_REMOVE, self->nr);
	}
	unlink(self->backing);
	close(self->ctl);
}

TEST_F(loopdev, o_direct_write_from_secret)
{
	ASSERT_EQ(pagesz(), pwrite(self->dfd, self->plain, pagesz(), 0))
		TH_LOG("control: %s", strerror(errno));
	ASSERT_EQ(0, smem_protect(self->fd, SMEM_PROT_READ));
	EXPECT_EQ(-1, pwrite(self->dfd, self->secret, pagesz(), pagesz()));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, pwrite(self->dfd, self->secret, 512, 2 * pagesz()));
	EXPECT_EQ(EFAULT, errno);
}

/* Into the secret, even while it is writable: the pages cannot be pinned. */
TEST_F(loopdev, o_direct_read_into_secret)
{
	ASSERT_EQ(pagesz(), pwrite(self->dfd, self->plain, pagesz(), 0));
	ASSERT_EQ(pagesz(), pread(self->dfd, self->plain, pagesz(), 0))
		TH_LOG("control: %s", strerror(errno));
	EXPECT_EQ(-1, pread(self->dfd, self->secret, pagesz(), 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(pagesz(), check_pattern(self->secret, pagesz(), SEED));
}

/* ------------------------------------------------------------------ fork */

/* Whether any line of /proc/self/maps overlaps [start, start + len). */
static bool maps_overlap(const void *start, size_t len)
{
	unsigned long lo, hi, a = (uintptr_t)start, b = a + len;
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return true;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < b && a < hi)
			found = true;
	fclose(f);
	return found;
}

TEST_F(own, fork_child_has_no_mapping)
{
	pid_t pid;

	ASSERT_TRUE(maps_overlap(self->secret, pagesz()));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned char c;

		if (maps_overlap(self->secret, pagesz()))
			_exit(10);
		if (probe_read(self->secret, &c) != SIGSEGV)
			_exit(11);
		/* The control: the ordinary page came along. */
		if (check_pattern(self->plain, pagesz(), SEED) != pagesz())
			_exit(12);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("10: mapped in the child, 11: readable, 12: control");
	EXPECT_EQ(pagesz(), check_pattern(self->secret, pagesz(), SEED));
}

/* What keeps the secret out of children and dumps cannot be undone. */
TEST_F(own, madvise_cannot_undo)
{
	EXPECT_EQ(-1, madvise(self->secret, pagesz(), MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(self->secret, pagesz(), MADV_DODUMP));
	EXPECT_EQ(EINVAL, errno);
	/*
	 * Nor can the pages be paged out or dropped: on a VM_MIXEDMAP area
	 * these only zap the page table entries (there are no pages to
	 * reclaim), and the next access maps the same secret page again.
	 */
	EXPECT_EQ(0, madvise(self->secret, pagesz(), MADV_PAGEOUT));
	EXPECT_EQ(pagesz(), check_pattern(self->secret, pagesz(), SEED));
	EXPECT_EQ(0, madvise(self->secret, pagesz(), MADV_DONTNEED));
	EXPECT_EQ(pagesz(), check_pattern(self->secret, pagesz(), SEED));
	EXPECT_EQ(-1, madvise(self->secret, pagesz(), MADV_FREE));
	EXPECT_EQ(-1, madvise(self->secret, pagesz(), MADV_REMOVE));
	EXPECT_EQ(pagesz(), check_pattern(self->secret, pagesz(), SEED));
}

/* ---------------------------------------------------------------- smaps */

/* The VmFlags line of the VMA that starts at @addr, into @flags. */
static bool vma_flags(const void *addr, char *flags, size_t len)
{
	char line[512];
	unsigned long lo, hi;
	bool in = false, found = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = lo == (uintptr_t)addr;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%s", line + 8);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static bool has_flag(const char *flags, const char *flag)
{
	for (const char *p = flags; (p = strstr(p, flag)); p += 2)
		if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\n' || !p[2]))
			return true;
	return false;
}

TEST_F(own, smaps_vmflags)
{
	/* mm: VM_MIXEDMAP; not pf (VM_PFNMAP), which VFIO would DMA-map. */
	static const char * const want[] = { "dd", "io", "mm", "dc", "de" };
	char flags[512];

	ASSERT_TRUE(vma_flags(self->secret, flags, sizeof(flags)));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		EXPECT_TRUE(has_flag(flags, want[i])) TH_LOG("no %s in VmFlags:%s", want[i], flags);
	}
	EXPECT_FALSE(has_flag(flags, "ex")) TH_LOG("VmFlags:%s", flags);
	EXPECT_FALSE(has_flag(flags, "me")) TH_LOG("VmFlags:%s", flags);
	EXPECT_FALSE(has_flag(flags, "pf")) TH_LOG("VmFlags:%s", flags);
	/* The control: an ordinary page has none of them. */
	ASSERT_TRUE(vma_flags(self->plain, flags, sizeof(flags)));
	EXPECT_FALSE(has_flag(flags, "dd")) TH_LOG("VmFlags:%s", flags);
	EXPECT_FALSE(has_flag(flags, "pf")) TH_LOG("VmFlags:%s", flags);
}

/* ------------------------------------------------------------ core dump */

#define CORE_PATTERN	"/proc/sys/kernel/core_pattern"

FIXTURE(coredump) {
	char saved[256];
	char core[64];
};

FIXTURE_SETUP(coredump)
{
	self->core[0] = 0;
	ASSERT_EQ(0, read_text(CORE_PATTERN, self->saved, sizeof(self->saved)));
	ASSERT_EQ(0, write_text(CORE_PATTERN, "/tmp/smem-core.%p"));
}

FIXTURE_TEARDOWN(coredump)
{
	write_text(CORE_PATTERN, self->saved);
	if (self->core[0])
		unlink(self->core);
}

static bool memmem_pattern(const unsigned char *buf, size_t len, uint32_t seed)
{
	unsigned char pat[PLEN];

	fill_pattern(pat, PLEN, seed);
	return memmem(buf, len, pat, PLEN) != NULL;
}

/*
 * A child writes one pattern into a secret and another into malloc'd
 * memory, then aborts with an unlimited core size.  The dump holds the
 * second (the control) and not the first.  The patterns are made in the
 * child directly where they live, and by us only after the child died,
 * so no other copy of them can be in the dump.
 */
TEST_F(coredump, secret_not_in_core)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	unsigned char *dump;
	struct stat st;
	int status, cfd;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = smem_new(pagesz());
		unsigned char *s, *m;

		if (setrlimit(RLIMIT_CORE, &unlimited) || fd < 0)
			_exit(10);
		s = smem_map(fd, pagesz(), PROT_READ | PROT_WRITE, 0);
		m = malloc(4 * PLEN);
		if (s == MAP_FAILED || !m)
			_exit(11);
		fill_pattern(s + 256, PLEN, SEED);
		fill_pattern(m + PLEN, PLEN, CTRL_SEED);
		smem_protect(fd, SMEM_PROT_READ);
		abort();
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status)) TH_LOG("child exited with %d", WEXITSTATUS(status));
	ASSERT_TRUE(WCOREDUMP(status)) TH_LOG("no core dump");
	snprintf(self->core, sizeof(self->core), "/tmp/smem-core.%d", pid);
	cfd = open(self->core, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, cfd) TH_LOG("%s: %s", self->core, strerror(errno));
	ASSERT_EQ(0, fstat(cfd, &st));
	dump = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, cfd, 0);
	ASSERT_NE(MAP_FAILED, dump);
	EXPECT_TRUE(memmem_pattern(dump, st.st_size, CTRL_SEED))
		TH_LOG("control: the malloc'd pattern is not in the %lld-byte dump", (long long)st.st_size);
	EXPECT_FALSE(memmem_pattern(dump, st.st_size, SEED)) TH_LOG("the secret is in the core dump");
	munmap(dump, st.st_size);
	close(cfd);
}

TEST_HARNESS_MAIN
