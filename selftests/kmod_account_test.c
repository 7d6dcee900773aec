// SPDX-License-Identifier: GPL-2.0
/*
 * Who pays for secret pages (issue 8, items 3 and 5).
 *
 * The pages of an object are charged to the user who allocated them, not
 * to the allocating process: against that process's RLIMIT_MEMLOCK when
 * it allocates, for as long as the object lives, whatever happens to the
 * process afterwards (exec, fork, exit, the fd passed on).  An mm charge
 * would vanish at exec or exit while an inherited or passed fd keeps the
 * pages, and let a user with a 1.5 MiB limit hold any amount.  CAP_IPC_LOCK
 * is exempt from the limit (and is not charged).  The VmLck of the
 * allocating process does not change: the charge is not the mm's, and
 * mlock() keeps its whole budget.
 *
 * On top of that, no user without CAP_SYS_RESOURCE may hold more than
 * user_max_percent of the pool (-EDQUOT), so one user cannot starve the
 * others.
 *
 * The test runs as root.  Each case forks children that become uid 65534
 * or 65533 with no capability (setgroups, setgid, setuid, capset), after
 * the fixture gave /dev/smem to a test group with mode 0660, as the udev
 * rule gives it to group "smem"; the fixture restores the node and the
 * parameters afterwards.  A child that finds something wrong says what
 * (child_fail) and exits 1.
 */
#include <sys/stat.h>

#include "kmod_util.h"
#include "kselftest_harness.h"

#define USER_A		65534
#define USER_B		65533
#define USER_C		65532	/* not in the device's group */
#define DEV_GID		65530	/* the group the udev rule would give /dev/smem */
#define MIB		(1ULL << 20)
#define LIMIT		(MIB + MIB / 2)	/* RLIMIT_MEMLOCK of the unprivileged users */
#define EXEC_ARG	"--account-exec-child"

/* ------------------------------------------------------------- children */

static const char *result_name(int ret)
{
	return ret >= 0 ? "success" : strerror(-ret);
}

/*
 * In a child: a new object of @bytes, whose allocation must answer @want
 * (0 or -errno), else child_fail() says @what went wrong.  The fd, or the
 * (expected) error.
 */
static int child_new(__u64 bytes, int want, const char *what)
{
	int fd = smem_new(bytes);

	if ((fd >= 0 ? 0 : fd) != want)
		child_fail("%s: %llu KiB: %s, want %s", what, (unsigned long long)bytes >> 10,
			   result_name(fd), result_name(want));
	return fd;
}

/*
 * In a child of @uid: the whole RLIMIT_MEMLOCK (LIMIT) is there, no more:
 * 1 MiB, then half a MiB, then not one page.  Everything is closed again.
 */
static void child_whole_limit(const char *what)
{
	char msg[128];
	int a, b;

	snprintf(msg, sizeof(msg), "%s, first MiB", what);
	a = child_new(MIB, 0, msg);
	snprintf(msg, sizeof(msg), "%s, half a MiB more (exactly the limit)", what);
	b = child_new(MIB / 2, 0, msg);
	snprintf(msg, sizeof(msg), "%s, one page over the limit", what);
	child_new(pagesz(), -EAGAIN, msg);
	close(a);
	close(b);
}

/*
 * Fork a child that takes RLIMIT_MEMLOCK @memlock, becomes @uid (in group
 * @group only) with only the capabilities @caps, or stays root with all
 * of them when @uid is 0, runs @fn(@arg) and exits 0 when it returns: its
 * pid, or -1.
 */
static pid_t spawn_in(uid_t uid, gid_t group, uint64_t caps, rlim_t memlock,
		      void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		int ret = set_memlock(memlock);

		if (!ret && uid)
			ret = become_user(uid, group, caps);
		if (ret)
			child_fail("becoming uid %d with capabilities %#llx: %s", (int)uid,
				   (unsigned long long)caps, strerror(-ret));
		fn(arg);
		_exit(0);
	}
	return pid;
}

/* The same in the device's group. */
static pid_t spawn_as(uid_t uid, uint64_t caps, rlim_t memlock, void (*fn)(void *), void *arg)
{
	return spawn_in(uid, DEV_GID, caps, memlock, fn, arg);
}

/* spawn_as(), waiting for the child: 0 when all went well. */
static int run_as(uid_t uid, uint64_t caps, rlim_t memlock, void (*fn)(void *), void *arg)
{
	pid_t pid = spawn_as(uid, caps, memlock, fn, arg);

	return pid < 0 ? -1 : wait_child(pid);
}

static void whole_limit(void *what)
{
	child_whole_limit(what);
}

/* Half a MiB fits next to an object of 1 MiB that lives elsewhere, 1 MiB does not. */
static void limit_holds_one_mib(void *arg)
{
	const char *what = arg;
	char msg[128];
	int fd;

	snprintf(msg, sizeof(msg), "%s: a second MiB", what);
	child_new(MIB, -EAGAIN, msg);
	snprintf(msg, sizeof(msg), "%s: half a MiB", what);
	fd = child_new(MIB / 2, 0, msg);
	close(fd);
}

/* ---------------------------------------------------------- the fixture */

/* /dev/smem as udev would set it up for a group; restored afterwards. */
FIXTURE(acct) {
	struct stat dev;	/* the node as found */
	char exe[256];		/* this program, for exec */
};

FIXTURE_SETUP(acct)
{
	ssize_t n;

	ASSERT_EQ(0, stat(SMEM_DEV, &self->dev)) TH_LOG("%s: %s", SMEM_DEV, strerror(errno));
	ASSERT_EQ(0, chown(SMEM_DEV, -1, DEV_GID));
	ASSERT_EQ(0, chmod(SMEM_DEV, 0660));
	n = readlink("/proc/self/exe", self->exe, sizeof(self->exe) - 1);
	ASSERT_LT(0, n);
	self->exe[n] = 0;
}

FIXTURE_TEARDOWN_PARENT(acct)
{
	EXPECT_EQ(0, chown(SMEM_DEV, -1, self->dev.st_gid));
	EXPECT_EQ(0, chmod(SMEM_DEV, self->dev.st_mode & 07777));
}

/* --------------------------------------------------- the device's group */

static void open_refused(void *arg)
{
	int fd = smem_open();

	(void)arg;
	if (fd != -EACCES)
		child_fail("open %s outside its group: %s, want EACCES", SMEM_DEV, result_name(fd));
}

static void open_allowed(void *arg)
{
	int fd = smem_new(pagesz());

	(void)arg;
	if (fd < 0)
		child_fail("a page through %s in its group: %s", SMEM_DEV, strerror(-fd));
	close(fd);
}

/*
 * Mode 0660 and a group, as the udev rule sets it: a member allocates, a
 * user outside the group cannot open the device at all.
 */
TEST_F(acct, device_group)
{
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, open_allowed, NULL));
	EXPECT_EQ(0, wait_child(spawn_in(USER_C, USER_C, 0, LIMIT, open_refused, NULL)));
}

/* ------------------------------------------------------- RLIMIT_MEMLOCK */

/*
 * The image that exec replaces allocated 1 MiB and kept the fd; this one
 * (EXEC_ARG FD) must find the object alive and the MiB still charged.
 */
static int exec_child(int fd)
{
	struct smem_object_info info;

	if (smem_obj_info(fd, &info) || info.size != MIB)
		child_fail("after exec, fd %d is not the object of 1 MiB", fd);
	if (getuid() != USER_A || caps_effective())
		child_fail("after exec: uid %d, capabilities %#llx", (int)getuid(),
			   (unsigned long long)caps_effective());
	limit_holds_one_mib("after exec, the first MiB alive");
	close(fd);
	/* The object is gone with the last fd: the whole limit is back. */
	child_whole_limit("after exec, the first MiB closed");
	return 0;
}

static void alloc_then_exec(void *exe)
{
	char arg[16];
	int fd = child_new(MIB, 0, "before exec");

	if (fcntl(fd, F_SETFD, 0))
		child_fail("clearing FD_CLOEXEC: %s", strerror(errno));
	snprintf(arg, sizeof(arg), "%d", fd);
	execl(exe, exe, EXEC_ARG, arg, (char *)NULL);
	child_fail("exec %s: %s", (char *)exe, strerror(errno));
}

/* RLIMIT_MEMLOCK of 1.5 MiB: a MiB allocated before exec is still charged after it. */
TEST_F(acct, memlock_charge_survives_exec)
{
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, alloc_then_exec, self->exe));
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, whole_limit, "after the exec'd image exited"));
}

static void alloc_then_fork(void *arg)
{
	int fd = child_new(MIB, 0, "in the parent"), status;
	pid_t pid;

	(void)arg;
	pid = fork();
	if (pid < 0)
		child_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		limit_holds_one_mib("in a forked child, the parent holding 1 MiB");
		/* The child's copy of the fd goes; the parent's keeps the object. */
		close(fd);
		limit_holds_one_mib("in a forked child that closed its fd");
		_exit(0);
	}
	status = wait_child(pid);
	if (status)
		child_fail("the forked child ended with %d", status);
	close(fd);
	child_whole_limit("in the parent, its MiB closed");
}

/* A forked child of the same user does not get a fresh limit. */
TEST_F(acct, memlock_charge_shared_with_forked_children)
{
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, alloc_then_fork, NULL));
}

static void alloc_send_exit(void *sock)
{
	int fd = child_new(MIB, 0, "before passing the fd on"), ret;

	ret = send_fd(*(int *)sock, fd);
	if (ret)
		child_fail("send_fd: %s", strerror(-ret));
	/* Exit with the object alive in the receiver. */
}

/*
 * The allocating process exits after passing its fd on (SCM_RIGHTS) to a
 * process of another user (root, here): the MiB stays charged to the
 * allocating user while the fd, and then a mapping alone, keep the object.
 */
TEST_F(acct, memlock_charge_survives_exit)
{
	size_t len = MIB;
	long long in_use;
	int sock[2], fd;
	void *p;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock));
	ASSERT_EQ(0, run_as(USER_A, 0, LIMIT, alloc_send_exit, &sock[1]));
	fd = recv_fd(sock[0]);
	ASSERT_LE(0, fd) TH_LOG("recv_fd: %s", strerror(-fd));
	close(sock[0]);
	close(sock[1]);
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, limit_holds_one_mib, "the allocator exited, its fd passed on"));

	p = smem_map(fd, len, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, limit_holds_one_mib, "only a mapping keeps the object"));
	in_use = smem_counter("pages_in_use");
	munmap(p, len);
	in_use -= len / pagesz();
	EXPECT_EQ(in_use, wait_counter("pages_in_use", in_use, 2000));
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, whole_limit, "every reference gone"));
}

/* ------------------------------------------------------- CAP_IPC_LOCK */

/* A soft RLIMIT_MEMLOCK of @bytes, below the hard one. */
static void soft_memlock(rlim_t bytes)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		child_fail("getrlimit: %s", strerror(errno));
	rl.rlim_cur = bytes;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		child_fail("soft RLIMIT_MEMLOCK of %llu: %s", (unsigned long long)bytes, strerror(errno));
}

static void exempt_then_limited(void *arg)
{
	int big, ret;

	(void)arg;
	soft_memlock(pagesz());
	big = child_new(4 * MIB, 0, "with CAP_IPC_LOCK and a limit of one page");
	/* Without the capability, and with the usual limit: the 4 MiB were not charged. */
	ret = caps_drop(~0ULL);
	if (ret)
		child_fail("dropping CAP_IPC_LOCK: %s", strerror(-ret));
	soft_memlock(LIMIT);
	child_whole_limit("CAP_IPC_LOCK dropped, its 4 MiB alive");
	close(big);
}

static void no_cap_tiny_limit(void *arg)
{
	(void)arg;
	child_new(4 * MIB, -EAGAIN, "without CAP_IPC_LOCK, with a limit of one page");
}

static void root_tiny_limit(void *arg)
{
	int fd = child_new(4 * MIB, 0, "root, with a limit of one page");

	(void)arg;
	close(fd);
}

/*
 * CAP_IPC_LOCK is exempt from the limit, and its pages are not charged:
 * root with a limit of one page allocates 4 MiB, and so does any user
 * with just that capability, whose own limit is then still whole.
 * Without the capability the same request is EAGAIN.
 */
TEST_F(acct, cap_ipc_lock_exempt)
{
	EXPECT_EQ(0, run_as(0, ~0ULL, pagesz(), root_tiny_limit, NULL));
	EXPECT_EQ(0, run_as(USER_A, CAP_MASK(CAP_IPC_LOCK), LIMIT, exempt_then_limited, NULL));
	EXPECT_EQ(0, run_as(USER_A, 0, pagesz(), no_cap_tiny_limit, NULL));
}

/* ------------------------------------------------------------- VmLck */

static void vmlck_unchanged(void *arg)
{
	long long before = vmlck_kb(), after;
	size_t len = LIMIT;
	unsigned char *p, *m;
	int fd;

	(void)arg;
	if (before < 0)
		child_fail("no VmLck in /proc/self/status");
	fd = child_new(MIB, 0, "1 MiB");
	after = vmlck_kb();
	if (after != before)
		child_fail("VmLck went from %lld kB to %lld kB with the allocation", before, after);
	p = smem_map(fd, MIB, PROT_READ | PROT_WRITE, 0);
	if (p == MAP_FAILED)
		child_fail("mmap: %s", strerror(errno));
	memset(p, 1, MIB);
	after = vmlck_kb();
	if (after != before)
		child_fail("VmLck went from %lld kB to %lld kB with the mapping", before, after);
	/* mlock() has its whole budget (RLIMIT_MEMLOCK against the mm) still. */
	if (!caps_effective()) {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED || mlock(m, len))
			child_fail("mlock of the whole limit beside the secret: %s", strerror(errno));
		munmap(m, len);
	}
	munmap(p, MIB);
	close(fd);
	if (vmlck_kb() != before)
		child_fail("VmLck %lld kB after everything was freed, was %lld kB", vmlck_kb(), before);
}

/*
 * The charge is the user's, not the mm's: the VmLck of the allocating
 * process does not move, for a user under a limit as for root.
 */
TEST_F(acct, vmlck_does_not_change)
{
	EXPECT_EQ(0, run_as(USER_A, 0, LIMIT, vmlck_unchanged, NULL));
	EXPECT_EQ(0, run_as(0, ~0ULL, LIMIT, vmlck_unchanged, NULL)) TH_LOG("as root");
}

/* ------------------------------------------------- the per-user share */

/*
 * user_max_percent set for the test; the fixture restores it, and the
 * device's group with the acct fixture's setup, which it shares.
 */
FIXTURE(share) {
	struct stat dev;
	char percent[16];	/* as found */
	long long user_max;	/* pages, at 25 % */
};

FIXTURE_SETUP(share)
{
	ASSERT_EQ(0, stat(SMEM_DEV, &self->dev));
	ASSERT_EQ(0, smem_param_get("user_max_percent", self->percent, sizeof(self->percent)))
		TH_LOG("no user_max_percent parameter");
	ASSERT_EQ(0, chown(SMEM_DEV, -1, DEV_GID));
	ASSERT_EQ(0, chmod(SMEM_DEV, 0660));
	ASSERT_EQ(0, smem_param_set("user_max_percent", "25"));
	self->user_max = smem_counter("user_max_pages");
}

FIXTURE_TEARDOWN_PARENT(share)
{
	EXPECT_EQ(0, chown(SMEM_DEV, -1, self->dev.st_gid));
	EXPECT_EQ(0, chmod(SMEM_DEV, self->dev.st_mode & 07777));
	EXPECT_EQ(0, smem_param_set("user_max_percent", self->percent));
}

struct holder {
	long long pages;	/* the share to fill */
	int ready[2], go[2];	/* "filled" to the parent; the parent's "let go" */
};

/* Fill the user's share exactly, check that not one page more fits, hold it until told. */
static void fill_share_and_hold(void *arg)
{
	struct holder *h = arg;
	size_t ps = pagesz();
	int a, b;
	char c;

	close(h->ready[0]);
	close(h->go[1]);
	a = child_new((h->pages - 1) * ps, 0, "the share but one page");
	b = child_new(ps, 0, "the last page of the share");
	child_new(ps, -EDQUOT, "one page over the share");
	if (write(h->ready[1], "r", 1) != 1)
		child_fail("telling the parent: %s", strerror(errno));
	/* Until the parent lets go, or is gone. */
	if (read(h->go[0], &c, 1) < 0)
		child_fail("waiting: %s", strerror(errno));
	close(a);
	close(b);
}

/* User A's holder, once it filled its share: its pid. */
static pid_t start_holder(struct __test_metadata *_metadata, struct holder *h)
{
	pid_t holder;
	char c;

	ASSERT_EQ(0, pipe(h->ready));
	ASSERT_EQ(0, pipe(h->go));
	holder = spawn_as(USER_A, 0, RLIM_INFINITY, fill_share_and_hold, h);
	ASSERT_LE(0, holder);
	close(h->ready[1]);
	close(h->go[0]);
	ASSERT_EQ(1, read(h->ready[0], &c, 1)) TH_LOG("user A did not fill its share");
	return holder;
}

static void fill_share(void *pages)
{
	size_t ps = pagesz();
	long long n = *(long long *)pages;
	int fd = child_new(n * ps, 0, "a whole share");

	child_new(ps, -EDQUOT, "a page over the share");
	close(fd);
}

static void beyond_share(void *pages)
{
	int fd = child_new((*(long long *)pages + 1) * pagesz(), 0,
			   "a page more than a quarter of the pool");

	close(fd);
}

/*
 * user_max_percent=25: user A fills exactly its quarter of the pool, then
 * gets EDQUOT (not counted as a pool failure); user B still gets its own
 * whole quarter meanwhile; A with CAP_SYS_RESOURCE is not capped; once A
 * lets go, its share is whole again.
 */
TEST_F_TIMEOUT(share, per_user_cap, 120)
{
	struct holder h = { .pages = self->user_max };
	long long pool = smem_counter("pool_pages"), failures = smem_counter("alloc_failures");
	pid_t holder;

	ASSERT_LT(0, pool);
	EXPECT_TRUE(self->user_max == pool * 25 / 100 || self->user_max == (pool * 25 + 99) / 100)
		TH_LOG("user_max_pages %lld of %lld", self->user_max, pool);
	ASSERT_LT(1, self->user_max);
	holder = start_holder(_metadata, &h);

	EXPECT_EQ(0, run_as(USER_B, 0, RLIM_INFINITY, fill_share, &self->user_max)) TH_LOG("user B");
	EXPECT_EQ(0, run_as(USER_A, CAP_MASK(CAP_SYS_RESOURCE), RLIM_INFINITY, beyond_share,
			    &self->user_max)) TH_LOG("user A with CAP_SYS_RESOURCE");
	/* EDQUOT is the user's limit, not a pool without pages. */
	EXPECT_EQ(failures, smem_counter("alloc_failures"));

	close(h.go[1]);
	EXPECT_EQ(0, wait_child(holder));
	close(h.ready[0]);
	EXPECT_EQ(0, run_as(USER_A, 0, RLIM_INFINITY, fill_share, &self->user_max)) TH_LOG("user A again");
}

/* 0 means no cap; the parameter takes 0..100 and nothing else. */
TEST_F(share, user_max_percent_values)
{
	long long pool = smem_counter("pool_pages");
	char buf[16];

	EXPECT_EQ(-EINVAL, smem_param_set("user_max_percent", "101"));
	EXPECT_EQ(-EINVAL, smem_param_set("user_max_percent", "-1"));
	ASSERT_EQ(0, smem_param_get("user_max_percent", buf, sizeof(buf)));
	EXPECT_STREQ("25", buf);
	EXPECT_EQ(self->user_max, smem_counter("user_max_pages"));

	ASSERT_EQ(0, smem_param_set("user_max_percent", "100"));
	EXPECT_EQ(pool, smem_counter("user_max_pages"));
	ASSERT_EQ(0, smem_param_set("user_max_percent", "0"));
	EXPECT_EQ(0, smem_counter("user_max_pages"));
	EXPECT_EQ(0, run_as(USER_A, 0, RLIM_INFINITY, beyond_share, &self->user_max))
		TH_LOG("no cap, as 0 says");
}

/*
 * The pages @uid holds by /sys/class/misc/smem/users ("UID PAGES" lines):
 * 0 when it has no line, -1 when the file cannot be read.
 */
static long long users_pages(unsigned int uid)
{
	FILE *f = fopen(SMEM_SYSFS "users", "r");
	unsigned long long pages, found = 0;
	unsigned int u;

	if (!f)
		return -1;
	while (fscanf(f, "%u %llu\n", &u, &pages) == 2)
		if (u == uid)
			found = pages;
	fclose(f);
	return found;
}

static void users_unreadable(void *arg)
{
	int fd = open(SMEM_SYSFS "users", O_RDONLY);

	(void)arg;
	if (fd >= 0 || errno != EACCES)
		child_fail("users opened by a user: %s, want EACCES", result_name(fd));
}

/*
 * The "users" attribute says what each user holds, exempt users too, and
 * only to root: user A's whole share while it holds it, root's page (root
 * has CAP_SYS_RESOURCE: not counted against a share, but listed), nothing
 * once they let go.
 */
TEST_F_TIMEOUT(share, users_attribute, 120)
{
	struct holder h = { .pages = self->user_max };
	pid_t holder;
	int fd;

	ASSERT_EQ(0, users_pages(USER_A));
	holder = start_holder(_metadata, &h);
	EXPECT_EQ(self->user_max, users_pages(USER_A));
	fd = smem_new(pagesz());
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, users_pages(0));
	EXPECT_EQ(0, run_as(USER_B, 0, RLIM_INFINITY, users_unreadable, NULL));
	close(fd);
	EXPECT_EQ(0, users_pages(0));
	close(h.go[1]);
	EXPECT_EQ(0, wait_child(holder));
	close(h.ready[0]);
	EXPECT_EQ(0, users_pages(USER_A));
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], EXEC_ARG))
		return exec_child(atoi(argv[2]));
	return test_harness_run(argc, argv);
}
