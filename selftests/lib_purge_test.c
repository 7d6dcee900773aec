// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem: smem_purge(), the emergency wipe for a crash handler.  After
 * it every secret made before reads zero (looked at through its address,
 * taken inside a window, with every protection key opened for the test
 * thread: the purge leaves the pages mapped read-write), every call on
 * one fails with -EBADF, and new secrets work.  It is called from a
 * signal handler while other threads make, use and close secrets, which
 * must neither crash it nor them.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

/* Arena slots (with keys), a page, several pages. */
static const size_t sizes[] = { 32, 100, 2000, 5000, 70000 };
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))

/*
 * How many of the @len bytes at @p are not zero, or -1 when they cannot
 * be read.  Every key is opened for this thread meanwhile.
 */
static ssize_t nonzero_bytes(const unsigned char *p, size_t len)
{
	/* RDPKRU is an illegal instruction on a CPU without keys. */
	int keys = lib_has_windows();
	uint32_t pkru = keys ? lib_rdpkru() : 0;
	ssize_t n = 0;
	int code;

	if (keys)
		lib_wrpkru(0);
	/* A byte per page, then all of them: the probe catches a fault. */
	for (size_t i = 0; i < len; i += 4096) {
		if (lib_probe_read(p + i, &code)) {
			n = -1;
			break;
		}
	}
	if (n == 0)
		for (size_t i = 0; i < len; i++)
			n += ((const volatile unsigned char *)p)[i] != 0;
	if (keys)
		lib_wrpkru(pkru);
	return n;
}

TEST(purge_with_nothing_to_wipe)
{
	errno = 77;
	EXPECT_EQ(0, smem_purge());
	EXPECT_EQ(77, errno);
}

TEST(purge_wipes_every_secret)
{
	struct smem_secret *s[NR_SIZES];
	const unsigned char *addr[NR_SIZES];
	unsigned int seed = 1;
	int n;

	for (size_t i = 0; i < NR_SIZES; i++) {
		s[i] = lib_new_pattern(sizes[i], 1);
		ASSERT_NE(NULL, s[i]);
		addr[i] = lib_address(s[i]);
		ASSERT_NE(NULL, addr[i]);
		/*
		 * The check below can see a secret that is not wiped (with keys:
		 * without, the pages are closed to every thread until the purge).
		 */
		if (lib_has_windows())
			ASSERT_EQ((ssize_t)sizes[i], nonzero_bytes(addr[i], sizes[i]));
	}
	errno = 55;
	n = smem_purge();
	EXPECT_EQ(55, errno);
	/* One region per secret without keys; with keys the small ones share. */
	if (lib_has_windows()) {
		EXPECT_LE(3, n);
	} else {
		EXPECT_EQ((int)NR_SIZES, n);
	}
	TH_LOG("%d regions wiped", n);
	for (size_t i = 0; i < NR_SIZES; i++) {
		EXPECT_EQ(0, nonzero_bytes(addr[i], sizes[i])) {
			TH_LOG("size %zu", sizes[i]);
		}
	}
	EXPECT_EQ(-EBADF, smem_secret_read(s[0], lib_check_fn, &seed));
	for (size_t i = 0; i < NR_SIZES; i++)
		smem_secret_unref(s[i]);
}

static int store_fn(void *buf, size_t len, void *arg)
{
	(void)arg;
	memset(buf, 0x33, len);
	return 0;
}

TEST(purged_secrets_are_closed)
{
	struct smem_secret *s = lib_new_pattern(64, 2), *t = lib_new_pattern(6000, 3);
	unsigned char buf[64] = { 1 };
	unsigned int seed = 2;

	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, t);
	ASSERT_LE(1, smem_purge());
	EXPECT_TRUE(smem_secret_is_closed(s));
	EXPECT_EQ(-EBADF, smem_secret_read(s, lib_check_fn, &seed));
	EXPECT_EQ(-EBADF, smem_secret_write(s, store_fn, NULL));
	EXPECT_EQ(-EBADF, smem_secret_copy_out(s, 0, buf, sizeof(buf)));
	EXPECT_EQ(-EBADF, smem_secret_copy_in(s, 0, buf, 8, SMEM_KEEP_SOURCE));
	EXPECT_EQ(-EBADF, smem_secret_equal(s, buf, sizeof(buf)));
	EXPECT_EQ(-EBADF, smem_secret_equal_secret(s, t));
	EXPECT_EQ(-EBADF, smem_secret_copy(t, 0, s, 0, 8));
	EXPECT_EQ(-EBADF, smem_secret_check(t));
	/* The sizes stay known; closing gives the memory back. */
	EXPECT_EQ(64, smem_secret_size(s));
	EXPECT_EQ(-EBADF, smem_secret_close(s));
	EXPECT_EQ(-EBADF, smem_secret_close(t));
	smem_secret_unref(s);
	smem_secret_unref(t);
}

TEST(new_secrets_after_purge)
{
	struct smem_secret *old = lib_new_pattern(64, 4), *s;
	unsigned int seed = 5;

	ASSERT_NE(NULL, old);
	ASSERT_LE(1, smem_purge());
	for (size_t i = 0; i < NR_SIZES; i++) {
		s = lib_new_pattern(sizes[i], 5);
		ASSERT_NE(NULL, s);
		EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
		EXPECT_EQ(0, smem_secret_write(s, store_fn, NULL));
		EXPECT_EQ(0, smem_secret_check(s));
		EXPECT_FALSE(smem_secret_is_closed(s));
		EXPECT_EQ(0, smem_secret_close(s));
		smem_secret_unref(s);
	}
	/* A second purge counts only what exists now: the old secret's region. */
	EXPECT_LE(1, smem_purge());
	smem_secret_unref(old);
}

/* ------------------------------------------- from a signal handler, busy */

#define WORKERS 3

/* Purges started and finished, in any thread's handler. */
static _Atomic int purges_started, purges_done;
static volatile sig_atomic_t stop;
static _Atomic int regions_wiped;

static void purge_handler(int sig)
{
	int n;

	(void)sig;
	atomic_fetch_add(&purges_started, 1);
	n = smem_purge();
	if (n >= 0)
		atomic_fetch_add(&regions_wiped, n);
	atomic_fetch_add(&purges_done, 1);
}

struct worker {
	pthread_t thread;
	unsigned int id;
	long rounds, clean_rounds;
	int failures;
	char why[160];
};

static void worker_fail(struct worker *w, const char *what, long err)
{
	if (!w->failures++)
		snprintf(w->why, sizeof(w->why), "%s: %ld (size round %ld)", what, err,
			 w->rounds);
}

/*
 * Make, use and close secrets.  A round during which no purge happened
 * must succeed entirely; one that a purge hit may fail, with -EBADF or
 * -EFAULT (the canary of a secret wiped under a window), never crash.
 */
static void *worker_main(void *p)
{
	struct worker *w = p;
	unsigned char buf[5000];

	while (!stop) {
		size_t len = sizes[w->rounds % (NR_SIZES - 1)];
		int started = atomic_load(&purges_started), done = atomic_load(&purges_done);
		unsigned int seed = w->id * 1000 + (unsigned int)w->rounds;
		struct smem_secret *s = lib_new_pattern(len, seed);
		bool purged;
		ssize_t n;
		int ret, c;

		w->rounds++;
		ret = s ? smem_secret_read(s, lib_check_fn, &seed) : -ENOMEM;
		if (ret == 0) {
			n = smem_secret_copy_out(s, 0, buf, len);
			ret = n < 0 ? (int)n : n == (ssize_t)len ? 0 : -EIO;
		}
		if (ret == 0)
			ret = smem_secret_copy_in(s, 0, buf, len, SMEM_KEEP_SOURCE);
		c = s ? smem_secret_close(s) : 0;
		smem_secret_unref(s);
		/* A purge in progress when the round began, or one since. */
		purged = started != done || atomic_load(&purges_started) != started;
		if (purged) {
			if ((ret < 0 && ret != -EBADF && ret != -EFAULT) ||
			    (c && c != -EBADF && c != -EFAULT))
				worker_fail(w, "after a purge", ret ? ret : c);
			continue;
		}
		if (ret || c)
			worker_fail(w, "round without purge", ret ? ret : c);
		else
			w->clean_rounds++;
	}
	return NULL;
}

TEST(purge_from_signal_handler_while_busy)
{
	struct sigaction sa = { .sa_handler = purge_handler };
	struct worker w[WORKERS] = { 0 };
	double end = now_s() + lib_env_seconds("SMEM_PURGE_SECONDS", 2.0);
	struct smem_secret *s;
	unsigned int seed = 9;
	int sent = 0;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	for (int i = 0; i < WORKERS; i++) {
		w[i].id = (unsigned int)i + 1;
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, worker_main, &w[i]));
	}
	/* At every worker in turn, and at this thread. */
	while (now_s() < end) {
		if (sent % (WORKERS + 1) == WORKERS)
			raise(SIGUSR1);
		else
			pthread_kill(w[sent % (WORKERS + 1)].thread, SIGUSR1);
		sent++;
		sleep_ms(2);
	}
	stop = 1;
	for (int i = 0; i < WORKERS; i++) {
		ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		EXPECT_EQ(0, w[i].failures) {
			TH_LOG("worker %d: %s", i, w[i].why);
		}
		EXPECT_LT(0, w[i].clean_rounds);
		TH_LOG("worker %d: %ld rounds, %ld without a purge", i, w[i].rounds,
		       w[i].clean_rounds);
	}
	TH_LOG("%d purges, %d regions wiped", atomic_load(&purges_done),
	       atomic_load(&regions_wiped));
	EXPECT_LT(0, atomic_load(&purges_done));
	/* And the process still makes secrets. */
	s = lib_new_pattern(64, seed);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
	EXPECT_EQ(0, smem_secret_close(s));
	smem_secret_unref(s);
}

TEST_HARNESS_MAIN
