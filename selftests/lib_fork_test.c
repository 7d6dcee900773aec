// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem across fork(): in the child every call on an inherited secret
 * returns -ECHILD, never a signal; the child keeps neither the pages nor a
 * /dev/smem descriptor of the parent's secrets; it can make secrets of its
 * own; and the parent is not disturbed, also when it forks while other
 * threads read or from inside a callback.
 *
 * Children report through their exit code: 0, or the number of the check
 * that failed; a signal shows as 128 + its number.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

#define NR_SECRETS 3
static const size_t sizes[NR_SECRETS] = { 32, 3000, 20000 };

static int zero_fn(void *buf, size_t len, void *arg)
{
	(void)arg;
	memset(buf, 0, len);
	return 0;
}

static int count_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)arg;
	return (int)len;
}

static bool is_smem_fd(int fd, const char *target, void *arg)
{
	return strstr(target, "smem") && !strstr(target, "secretmem");
}

/* Descriptors of this process that are /dev/smem objects. */
static int smem_fds(void)
{
	return lib_count_fds(is_smem_fd, NULL);
}

static bool mapped(const void *addr)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec;

	return !mincore((void *)((uintptr_t)addr & ~(page - 1)), page, &vec);
}

FIXTURE(inherited) {
	struct smem_secret *s[NR_SECRETS];
	const unsigned char *addr[NR_SECRETS];
};

FIXTURE_SETUP(inherited)
{
	for (int i = 0; i < NR_SECRETS; i++) {
		self->s[i] = lib_new_pattern(sizes[i], i);
		ASSERT_NE(NULL, self->s[i]);
		self->addr[i] = lib_address(self->s[i]);
		ASSERT_NE(NULL, self->addr[i]);
	}
}

FIXTURE_TEARDOWN(inherited)
{
	for (int i = 0; i < NR_SECRETS; i++)
		smem_secret_unref(self->s[i]);
}

/* Every check of the child, numbered for its exit code. */
static int child_checks(struct smem_secret *const *s, const unsigned char *const *addr)
{
	unsigned char out[8];
	int i;

	for (i = 0; i < NR_SECRETS; i++) {
		if (smem_secret_read(s[i], count_fn, NULL) != -ECHILD)
			return 1;
		if (smem_secret_write(s[i], zero_fn, NULL) != -ECHILD)
			return 2;
		if (smem_secret_copy_out(s[i], 0, out, sizeof(out)) != -ECHILD)
			return 3;
		if (!smem_secret_is_closed(s[i]) || smem_secret_size(s[i]) != sizes[i])
			return 4;
		if (smem_secret_export_fd(s[i]) >= 0)
			return 5;
		if (smem_secret_close_timeout(s[i], 0) != -ECHILD ||
		    smem_secret_close(s[i]) != -ECHILD)
			return 6;
		/* The pages are gone from the child, not merely closed. */
		if (mapped(addr[i]))
			return 7;
		if (smem_secret_ref(s[i]) != s[i] || smem_secret_unref(s[i]))
			return 8;
	}
	if (smem_fds() != 0)
		return 9;
	return 0;
}

TEST_F(inherited, child_gets_echild)
{
	unsigned int seed = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(child_checks(self->s, self->addr));
	EXPECT_EQ(0, wait_child_timeout(pid, 30));
	/* The parent's secrets are untouched. */
	for (int i = 0; i < NR_SECRETS; i++) {
		seed = i;
		EXPECT_EQ(0, smem_secret_read(self->s[i], lib_check_fn, &seed));
	}
}

TEST_F(inherited, child_drops_and_makes_secrets)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct smem_secret *mine[200];
		unsigned int i;

		/* The last references to inherited secrets: only the handles go. */
		for (i = 0; i < NR_SECRETS; i++)
			smem_secret_unref(self->s[i]);
		/* Fresh secrets, small ones in a fresh arena. */
		for (i = 0; i < 200; i++) {
			mine[i] = lib_new_pattern(i % 2 ? 40 : 5000, i);
			if (!mine[i])
				_exit(1);
		}
		for (i = 0; i < 200; i++) {
			if (smem_secret_read(mine[i], lib_check_fn, &i))
				_exit(2);
			if (smem_secret_close(mine[i]))
				_exit(3);
			smem_secret_unref(mine[i]);
		}
		_exit(0);
	}
	EXPECT_EQ(0, wait_child_timeout(pid, 60));
	for (unsigned int i = 0; i < NR_SECRETS; i++)
		EXPECT_EQ(0, smem_secret_read(self->s[i], lib_check_fn, &i));
}

/* A child touching the parent's bytes by address: no mapping, so a fault of its own. */
TEST_F(inherited, child_cannot_reach_bytes)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int code, i;

		for (i = 0; i < NR_SECRETS; i++)
			if (lib_probe_read(self->addr[i], &code) != SIGSEGV || code != SEGV_MAPERR)
				_exit(1 + i);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child_timeout(pid, 30));
}

struct readers {
	struct smem_secret *s;
	atomic_bool stop;
	atomic_int reads, bad;
};

static void *read_loop(void *arg)
{
	struct readers *r = arg;
	unsigned int seed = 1;

	while (!atomic_load(&r->stop)) {
		if (smem_secret_read(r->s, lib_check_fn, &seed))
			atomic_fetch_add(&r->bad, 1);
		atomic_fetch_add(&r->reads, 1);
	}
	return NULL;
}

/*
 * 40 forks of a process whose 4 threads open and close windows without
 * pause: on the debug kernel (KASAN, lockdep, under TCG) that takes 20 to
 * 30 seconds, the harness's default limit.
 */
TEST_F_TIMEOUT(inherited, fork_while_reading, 180)
{
	enum { THREADS = 4, FORKS = 40 };
	struct readers r = { .s = self->s[1] };
	pthread_t t[THREADS];
	int i, failed = 0;

	for (i = 0; i < THREADS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, read_loop, &r));
	for (i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(child_checks(self->s, self->addr));
		failed += wait_child_timeout(pid, 30) != 0;
	}
	atomic_store(&r.stop, true);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, atomic_load(&r.bad));
	EXPECT_LT(0, atomic_load(&r.reads));
}

struct forker {
	pid_t pid;
	struct smem_secret *s;
};

static int fork_inside_fn(const void *buf, size_t len, void *arg)
{
	struct forker *f = arg;

	(void)buf;
	f->pid = fork();
	if (f->pid == 0) {
		/* The child's copy of the callback: the secret is not ours. */
		if (smem_secret_read(f->s, count_fn, NULL) != -ECHILD)
			_exit(20);
	}
	return (int)len;
}

TEST_F(inherited, fork_inside_callback)
{
	struct forker f = { .s = self->s[2] };
	unsigned int seed = 2;
	int ret;

	ret = smem_secret_read(f.s, fork_inside_fn, &f);
	if (f.pid == 0) {
		/* The access ended in the child without touching anything. */
		if (ret != (int)sizes[2])
			_exit(21);
		_exit(child_checks(self->s, self->addr));
	}
	ASSERT_LT(0, f.pid);
	EXPECT_EQ((int)sizes[2], ret);
	EXPECT_EQ(0, wait_child_timeout(f.pid, 30));
	/* In the parent the window closed and the secret works as before. */
	EXPECT_EQ(SIGSEGV, lib_probe_read(self->addr[2], NULL));
	EXPECT_EQ(0, smem_secret_read(f.s, lib_check_fn, &seed));
	EXPECT_EQ(0, smem_secret_close(f.s));
}

TEST_HARNESS_MAIN
