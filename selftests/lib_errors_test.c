// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem's errors: a transient failure at first use is returned and
 * tried again, never turned into a weaker backend or a process without
 * protection keys for good; going over RLIMIT_MEMLOCK is -EAGAIN on every
 * backend; every public call leaves errno as it found it.
 *
 * "As strong as it can be" is what a process that met no failure gets:
 * each test first asks a child forked before anything is limited, and
 * compares.  Each test runs in a process of its own (the harness forks),
 * so the library's context is set up inside the test, under its limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

/*
 * Calls of the second half of the API, weak so that this program links
 * against a library that does not export them yet: a missing one fails
 * the test that needs it.
 */
#pragma weak smem_secret_read_flags
#pragma weak smem_secret_write_flags
#pragma weak smem_secret_copy_in
#pragma weak smem_secret_copy
#pragma weak smem_secret_equal
#pragma weak smem_secret_equal_secret
#pragma weak smem_secret_freeze
#pragma weak smem_secret_melt
#pragma weak smem_secret_check
#pragma weak smem_purge

struct strength {
	int err;			/* of smem_info() */
	enum smem_backend backend;
	unsigned int guarantees;
};

/* What smem_info() says in a child that meets no limit. */
static struct strength unlimited_strength(void)
{
	struct strength st = { .err = -ECHILD };
	struct smem_info info;
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return st;
	pid = fork();
	if (!pid) {
		st.err = smem_info(&info);
		st.backend = info.backend;
		st.guarantees = info.guarantees;
		_exit(write(fds[1], &st, sizeof(st)) != sizeof(st));
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &st, sizeof(st)) != sizeof(st))
		st.err = -ECHILD;
	close(fds[0]);
	if (pid > 0)
		wait_child(pid);
	return st;
}

/* @err is 0 and the context is as strong as @want, or @err is @transient. */
static bool strong_or(int err, int transient, const struct strength *want)
{
	struct smem_info info;

	if (err)
		return err == transient;
	if (smem_info(&info))
		return false;
	return info.backend == want->backend && info.guarantees == want->guarantees;
}

/* ---------------------------------------------- failures at first use */

/*
 * No descriptor left at the first call: the backend that is there
 * (memfd_secret, or /dev/smem) cannot be opened.  That is an error for
 * this call (-EMFILE), not a reason to settle on mlock for good: once
 * descriptors are back, the next call gets the backend, and the keys, a
 * process without the limit gets.  (Where the backend needs no
 * descriptor, mlock, the first call simply works.)
 */
TEST(emfile_at_first_use_is_returned)
{
	struct strength want = unlimited_strength();
	struct smem_secret *s = NULL;
	int dups[64], nr_dups = 0, err, fd, null_fd;
	rlim_t old_limit;

	ASSERT_EQ(0, want.err);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, null_fd);
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_NOFILE, 64, &old_limit));
	/* Fill every descriptor below the limit. */
	while (nr_dups < 64 && (fd = dup(null_fd)) >= 0)
		dups[nr_dups++] = fd;
	ASSERT_EQ(EMFILE, errno);
	err = smem_secret_new_random(32, 0, &s);
	while (nr_dups)
		close(dups[--nr_dups]);
	close(null_fd);
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_NOFILE, old_limit, NULL));

	EXPECT_TRUE(strong_or(err, -EMFILE, &want))
		TH_LOG("first call under EMFILE: %d (%s); a process without the limit has backend %d, guarantees %#x",
		       err, strerror(-err), want.backend, want.guarantees);
	if (err)
		ASSERT_EQ(0, smem_secret_new_random(32, 0, &s));
	EXPECT_TRUE(strong_or(0, 0, &want)) TH_LOG("after the limit is lifted: weaker than %s",
						  lib_backend());
	EXPECT_EQ(0, smem_secret_close(s));
	smem_secret_unref(s);
}

/*
 * Secrets hold no descriptor: under RLIMIT_NOFILE 64 a process makes many
 * times more secrets than it could open files (on kmod each secret is a
 * /dev/smem object of its own; without protection keys, pages of its own
 * too), and the count of its descriptors does not move.
 */
#define MANY_SECRETS	1500

static bool any_fd(int fd, const char *target, void *arg)
{
	(void)fd;
	(void)target;
	(void)arg;
	return true;
}

TEST(secrets_hold_no_descriptor)
{
	struct smem_secret **s;
	int fds, made = 0, err = 0;
	rlim_t old_limit;

	s = calloc(MANY_SECRETS, sizeof(*s));
	ASSERT_NE(NULL, s);
	/* The context (and its one look at the backend) before the count. */
	ASSERT_EQ(0, smem_secret_new_random(32, 0, &s[made++]));
	fds = lib_count_fds(any_fd, NULL);
	ASSERT_LE(0, fds);
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_NOFILE, 64, &old_limit));
	while (made < MANY_SECRETS) {
		err = smem_secret_new_random(made % 2 ? 32 : 3000, 0, &s[made]);
		if (err)
			break;
		made++;
	}
	EXPECT_EQ(fds, lib_count_fds(any_fd, NULL));
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_NOFILE, old_limit, NULL));
	EXPECT_EQ(0, err) TH_LOG("secret %d of %d under RLIMIT_NOFILE 64, backend %s: %d (%s)",
				 made + 1, MANY_SECRETS, lib_backend(), err, strerror(-err));
	EXPECT_EQ(MANY_SECRETS, made);
	while (made)
		smem_secret_unref(s[--made]);
	free(s);
}

/*
 * No locked memory allowed at the first call: the check that the
 * backend's pages take a protection key maps one page, which fails
 * (-EAGAIN).  That must not leave the process without keys for good.
 */
TEST(memlock_at_first_use_is_returned)
{
	struct strength want = unlimited_strength();
	struct smem_info info;
	rlim_t old_limit;
	int err;

	ASSERT_EQ(0, want.err);
	err = lib_ipc_lock_effective(false);
	if (err)
		SKIP(return, "cannot drop CAP_IPC_LOCK: %s", strerror(-err));
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_MEMLOCK, 0, &old_limit));
	err = smem_info(&info);
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_MEMLOCK, old_limit, NULL));

	EXPECT_TRUE(strong_or(err, -EAGAIN, &want))
		TH_LOG("first call with RLIMIT_MEMLOCK 0: %d (%s), guarantees %#x; a process without the limit: %#x",
		       err, strerror(-err), err ? 0 : info.guarantees, want.guarantees);
	ASSERT_EQ(0, smem_info(&info));
	EXPECT_EQ(want.backend, info.backend);
	EXPECT_EQ(want.guarantees, info.guarantees);
}

/* An unusable forced backend is an error, tried again at every call. */
TEST(forced_backend_unknown)
{
	struct smem_info info;

	ASSERT_EQ(0, setenv("SMEM_BACKEND", "no-such-backend", 1));
	EXPECT_EQ(-EINVAL, smem_info(&info));
	EXPECT_EQ(-EINVAL, smem_info(&info));
	ASSERT_EQ(0, unsetenv("SMEM_BACKEND"));
	EXPECT_EQ(0, smem_info(&info));
}

/* -------------------------------------------------- RLIMIT_MEMLOCK */

/*
 * Over RLIMIT_MEMLOCK, without CAP_IPC_LOCK: -EAGAIN from every backend
 * (smem.h), for a secret with pages of its own and for the first slot of
 * a new arena chunk.  mlock(2) itself says ENOMEM.
 */
TEST(memlock_limit_is_eagain)
{
	struct smem_secret *s = NULL;
	struct smem_info info;
	rlim_t old_limit;
	int err;

	ASSERT_EQ(0, smem_info(&info));
	err = lib_ipc_lock_effective(false);
	if (err)
		SKIP(return, "cannot drop CAP_IPC_LOCK: %s", strerror(-err));
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_MEMLOCK, 64 * 1024, &old_limit));
	err = smem_secret_new_random(1 << 20, 0, &s);
	EXPECT_EQ(-EAGAIN, err) TH_LOG("%s: 1 MiB over a 64 KiB limit: %s", info.backend_name,
				       strerror(-err));
	if (!err)
		smem_secret_unref(s);
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_MEMLOCK, 0, NULL));
	err = smem_secret_new_random(32, 0, &s);
	EXPECT_EQ(-EAGAIN, err) TH_LOG("%s: 32 bytes under a limit of 0: %s", info.backend_name,
				       strerror(-err));
	if (!err)
		smem_secret_unref(s);
	ASSERT_EQ(0, lib_set_soft_limit(RLIMIT_MEMLOCK, old_limit, NULL));
	ASSERT_EQ(0, smem_secret_new_random(1 << 20, 0, &s));
	smem_secret_unref(s);
}

/* ------------------------------------------------------------- errno */

#define ERRNO_MARK	EOWNERDEAD	/* no call of the library sets this one */

/*
 * Run @call with errno set to a mark, and check that it is still the mark
 * afterwards, whatever @call returned.
 */
#define KEEPS_ERRNO(call) do { \
	errno = ERRNO_MARK; \
	(void)(call); \
	EXPECT_EQ(ERRNO_MARK, errno) TH_LOG("%s changed errno to %d (%s)", #call, errno, \
					    strerror(errno)); \
} while (0)

/* The weak calls: fail the test when one is missing. */
#define HAVE(fn) ({ \
	bool have_ = fn != NULL; \
	EXPECT_TRUE(have_) TH_LOG("%s is not in the library", #fn); \
	have_; \
})

static int nop_read(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	(void)arg;
	return 0;
}

static int nop_write(void *buf, size_t len, void *arg)
{
	(void)arg;
	memset(buf, 0x11, len);
	return 0;
}

/*
 * The first call of a process sets the context up: it probes /dev/smem
 * (absent: ENOENT) and memfd_secret(2), which set errno on the way even
 * when the call succeeds.
 */
TEST(errno_kept_at_first_use)
{
	struct smem_info info;

	KEEPS_ERRNO(smem_info(&info));
}

TEST(errno_kept_by_require_at_first_use)
{
	KEEPS_ERRNO(smem_require(SMEM_G_LOCKED));
}

/* Success and failure of every public call. */
TEST(errno_kept_by_every_call)
{
	unsigned char buf[64], out[64];
	struct smem_secret *s = NULL, *t = NULL, *big = NULL, *imp = NULL;
	struct smem_info info;
	int fd;

	lib_fill(buf, sizeof(buf), 3);
	KEEPS_ERRNO(smem_secret_new(buf, sizeof(buf), 0, &s));
	ASSERT_NE(NULL, s);
	KEEPS_ERRNO(smem_secret_new_random(32, 0, &t));
	ASSERT_NE(NULL, t);
	KEEPS_ERRNO(smem_secret_new_random(100000, 0, &big));
	ASSERT_NE(NULL, big);
	KEEPS_ERRNO(smem_info(&info));
	KEEPS_ERRNO(smem_info(NULL));
	KEEPS_ERRNO(smem_require(SMEM_G_LOCKED));
	KEEPS_ERRNO(smem_require(1U << 31));
	KEEPS_ERRNO(smem_secret_new(NULL, 1, 0, &s));
	KEEPS_ERRNO(smem_secret_new_random(0, 0, &t));

	KEEPS_ERRNO(smem_secret_read(s, nop_read, NULL));
	KEEPS_ERRNO(smem_secret_write(s, nop_write, NULL));
	KEEPS_ERRNO(smem_secret_read(big, nop_read, NULL));
	KEEPS_ERRNO(smem_secret_write(big, nop_write, NULL));
	KEEPS_ERRNO(smem_secret_read(NULL, nop_read, NULL));
	KEEPS_ERRNO(smem_secret_copy_out(s, 0, out, sizeof(out)));
	KEEPS_ERRNO(smem_secret_copy_out(big, 100, out, sizeof(out)));
	KEEPS_ERRNO(smem_secret_copy_out(s, 1000, out, sizeof(out)));
	KEEPS_ERRNO(smem_secret_size(s));
	KEEPS_ERRNO(smem_secret_is_closed(s));
	KEEPS_ERRNO(smem_secret_unref(smem_secret_ref(s)));

	if (HAVE(smem_secret_read_flags))
		KEEPS_ERRNO(smem_secret_read_flags(big, nop_read, NULL, 0));
	if (HAVE(smem_secret_write_flags))
		KEEPS_ERRNO(smem_secret_write_flags(big, nop_write, NULL, SMEM_WINDOW_NO_SCRUB));
	if (HAVE(smem_secret_copy_in)) {
		KEEPS_ERRNO(smem_secret_copy_in(s, 1, buf, 8, SMEM_KEEP_SOURCE));
		KEEPS_ERRNO(smem_secret_copy_in(s, 60, buf, 8, SMEM_KEEP_SOURCE));
	}
	if (HAVE(smem_secret_copy))
		KEEPS_ERRNO(smem_secret_copy(big, 10, s, 0, 32));
	if (HAVE(smem_secret_equal))
		KEEPS_ERRNO(smem_secret_equal(s, buf, sizeof(buf)));
	if (HAVE(smem_secret_equal_secret))
		KEEPS_ERRNO(smem_secret_equal_secret(s, t));
	if (HAVE(smem_secret_check))
		KEEPS_ERRNO(smem_secret_check(big));
	if (HAVE(smem_secret_freeze) && HAVE(smem_secret_melt)) {
		KEEPS_ERRNO(smem_secret_freeze(big, 0));
		KEEPS_ERRNO(smem_secret_write(big, nop_write, NULL));
		KEEPS_ERRNO(smem_secret_melt(big));
	}

	errno = ERRNO_MARK;
	fd = smem_secret_export_fd(big);
	EXPECT_EQ(ERRNO_MARK, errno) TH_LOG("export changed errno to %d", errno);
	if (fd >= 0) {
		KEEPS_ERRNO(smem_secret_import_fd(fd, 0, &imp));
		KEEPS_ERRNO(smem_secret_read(imp, nop_read, NULL));
		KEEPS_ERRNO(smem_secret_close(imp));
		smem_secret_unref(imp);
		close(fd);
	}
	KEEPS_ERRNO(smem_secret_import_fd(0, 0, &imp));
	KEEPS_ERRNO(smem_secret_import_fd(-1, 0, &imp));
	KEEPS_ERRNO(smem_secret_import_fd(1000, 0, &imp));

	KEEPS_ERRNO(smem_secret_close_timeout(s, 100));
	KEEPS_ERRNO(smem_secret_close(s));
	KEEPS_ERRNO(smem_secret_read(s, nop_read, NULL));
	KEEPS_ERRNO(smem_secret_close(big));
	KEEPS_ERRNO(smem_secret_unref(s));
	KEEPS_ERRNO(smem_secret_unref(big));
	KEEPS_ERRNO(smem_secret_unref(t));
	if (HAVE(smem_purge))
		KEEPS_ERRNO(smem_purge());
}

TEST_HARNESS_MAIN
