// SPDX-License-Identifier: GPL-2.0
/*
 * smem_secret_linger(): without protection keys the pages of a secret
 * given a linger stay readable after its last read window, never longer
 * than the linger and never writable; every path that changes their
 * protection (a write window, a freeze, a close, the last reference, a
 * purge) ends the linger at once; a forked child neither inherits the
 * open pages nor the closer, and its own lingering secrets close on time;
 * threads racing windows, writes, freezes and closes on lingering secrets
 * never fault.  With keys a linger changes nothing.
 *
 * Whether the pages are open is seen by touching them (a fault probe) from
 * the test's thread, outside any window.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

/* Long enough that a probe right after the window sees it, under TCG too. */
#define LONG_LINGER_US	SMEM_LINGER_MAX_US
#define SHORT_LINGER_US	200000U
/* How long after its deadline the closer may take, on a loaded machine. */
#define CLOSE_SLACK_S	1.5

static bool readable(const unsigned char *p)
{
	return !lib_probe_read(p, NULL);
}

/*
 * Open a read window on @s and return the address of its bytes, with the
 * times before the window opened and after it closed in *@started and
 * *@ended: the linger runs out between @started and @ended plus its length.
 */
static const unsigned char *read_timed(struct smem_secret *s, double *started, double *ended)
{
	const unsigned char *p;

	*started = now_s();
	p = lib_address(s);
	*ended = now_s();
	return p;
}

static const unsigned char *read_once(struct smem_secret *s, double *ended)
{
	double started;

	return read_timed(s, &started, ended);
}

/*
 * A new secret of @len bytes of pattern @seed in *@s, lingering @usec
 * after a first read window: the address of its bytes, or NULL.
 */
static const unsigned char *new_lingering(size_t len, unsigned int seed, unsigned int usec,
					  struct smem_secret **s)
{
	*s = lib_new_pattern(len, seed);
	if (!*s || smem_secret_linger(*s, usec))
		return NULL;
	return lib_address(*s);
}

/* Poll until the byte at @p faults: seconds after @since, or -1 past @limit_s. */
static double seconds_until_closed(const unsigned char *p, double since, double limit_s)
{
	while (now_s() - since < limit_s) {
		if (!readable(p))
			return now_s() - since;
		sleep_ms(5);
	}
	return -1;
}

TEST(arguments)
{
	struct smem_secret *s = lib_new_pattern(32, 1);

	ASSERT_NE(NULL, s);
	EXPECT_EQ(-EINVAL, smem_secret_linger(NULL, 0));
	EXPECT_EQ(-EINVAL, smem_secret_linger(NULL, 1000));
	EXPECT_EQ(-EINVAL, smem_secret_linger(s, SMEM_LINGER_MAX_US + 1));
	EXPECT_EQ(-EINVAL, smem_secret_linger(s, UINT32_MAX));
	EXPECT_EQ(0, smem_secret_linger(s, SMEM_LINGER_MAX_US));
	EXPECT_EQ(0, smem_secret_linger(s, 0));
	EXPECT_EQ(0, smem_secret_linger(s, 1));
	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_EQ(-EBADF, smem_secret_linger(s, 1000));
	smem_secret_unref(s);
}

/* The pages stay open after the window, and are closed once the time is up. */
TEST(open_then_closed_on_time)
{
	struct smem_secret *s = lib_new_pattern(32, 2);
	const unsigned char *p = NULL;
	double started = 0, ended = 0, closed_after;
	bool seen_open = false;
	int tries;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, smem_secret_linger(s, SHORT_LINGER_US));
	if (lib_has_windows()) {
		/* Keys: the window is this thread's PKRU; no linger. */
		p = read_once(s, &ended);
		ASSERT_NE(NULL, p);
		EXPECT_FALSE(readable(p));
		smem_secret_unref(s);
		return;
	}
	/* A probe later than the linger after the window proves nothing: again. */
	for (tries = 0; tries < 5 && !seen_open; tries++) {
		p = read_timed(s, &started, &ended);
		ASSERT_NE(NULL, p);
		seen_open = readable(p) && now_s() - ended < SHORT_LINGER_US / 1e6 / 2;
		if (!seen_open)
			sleep_ms(SHORT_LINGER_US / 1000 * 2);
	}
	ASSERT_TRUE(seen_open) TH_LOG("the pages were closed right after the window");
	closed_after = seconds_until_closed(p, ended, SHORT_LINGER_US / 1e6 + CLOSE_SLACK_S);
	ASSERT_GE(closed_after, 0) TH_LOG("still readable %.1f s after the window",
					  SHORT_LINGER_US / 1e6 + CLOSE_SLACK_S);
	/* Not before its time either. */
	EXPECT_GE(closed_after + ended - started, SHORT_LINGER_US / 1e6)
		TH_LOG("closed %.3f s after the window", closed_after);
	/* And a window after that opens them again, with the same bytes. */
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &(unsigned int){ 2 }));
	smem_secret_unref(s);
}

/* Windows during the linger see the bytes; a linger of 0 ends it for later windows. */
TEST(zero_turns_it_off)
{
	struct smem_secret *s = lib_new_pattern(4096, 3);
	const unsigned char *p;
	double ended;
	int i;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, smem_secret_linger(s, LONG_LINGER_US));
	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, smem_secret_read(s, lib_check_fn, &(unsigned int){ 3 }));
	ASSERT_EQ(0, smem_secret_linger(s, 0));
	p = read_once(s, &ended);
	ASSERT_NE(NULL, p);
	EXPECT_FALSE(readable(p));
	smem_secret_unref(s);
}

/* Lingering pages are never writable, and a write window closes them when it ends. */
TEST(write_ends_it)
{
	unsigned char fresh[64];
	struct smem_secret *s;
	const unsigned char *p = new_lingering(sizeof(fresh), 4, LONG_LINGER_US, &s);

	ASSERT_NE(NULL, p);
	if (!lib_has_windows()) {
		ASSERT_TRUE(readable(p));
		EXPECT_NE(0, lib_probe_write((unsigned char *)p, NULL));
	}
	lib_fill(fresh, sizeof(fresh), 5);
	ASSERT_EQ(0, smem_secret_write(s, lib_store_fn, fresh));
	EXPECT_FALSE(readable(p));
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &(unsigned int){ 5 }));
	smem_secret_unref(s);
}

TEST(freeze_ends_it)
{
	struct smem_secret *s;
	const unsigned char *p = new_lingering(32, 6, LONG_LINGER_US, &s);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, smem_secret_freeze(s, 0));
	EXPECT_FALSE(readable(p));
	/* Reads go on lingering on a frozen secret. */
	ASSERT_EQ(p, lib_address(s));
	EXPECT_EQ(!lib_has_windows(), readable(p));
	ASSERT_EQ(0, smem_secret_melt(s));
	EXPECT_FALSE(readable(p));
	smem_secret_unref(s);
}

/*
 * A close during the linger wipes and unmaps at once; the closer, due
 * later, must not touch what is gone (the sanitizer builds would see it).
 */
TEST(close_ends_it)
{
	struct smem_secret *s, *t;
	const unsigned char *p = new_lingering(32, 7, SHORT_LINGER_US, &s);

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, new_lingering(32, 8, SHORT_LINGER_US, &t));
	ASSERT_EQ(0, smem_secret_close(s));
	EXPECT_FALSE(readable(p));
	EXPECT_EQ(-EBADF, smem_secret_read(s, lib_check_fn, &(unsigned int){ 7 }));
	/* The last reference: closed and freed while its linger runs. */
	smem_secret_unref(t);
	sleep_ms(SHORT_LINGER_US / 1000 + 100);
	smem_secret_unref(s);
}

/*
 * A close with a time-out of 0 while the closer is closing the pages: the
 * closer runs no callback, so it is no access still running, and the close
 * waits for it instead of saying -ETIMEDOUT.  A linger of 1 us makes the
 * closer take the pages right as the close comes.
 */
TEST(close_timeout_waits_for_the_closer)
{
	struct smem_secret *s;
	int i, timed_out = 0;
	double until;

	for (i = 0; i < 2000; i++) {
		ASSERT_NE(NULL, new_lingering(32, 14, 1, &s));
		/* From 0 to 100 us: the closer wakes, takes the pages, closes them. */
		until = now_s() + (i % 101) * 1e-6;
		while (now_s() < until)
			;
		if (smem_secret_close_timeout(s, 0) == -ETIMEDOUT)
			timed_out++;
		/* Completes all the same: a later close waits for it. */
		ASSERT_EQ(0, smem_secret_close(s));
		smem_secret_unref(s);
	}
	EXPECT_EQ(0, timed_out);
}

/* smem_purge() during the linger: the secret is gone, the closer still fine. */
TEST(purge_ends_it)
{
	struct smem_secret *s;
	pid_t pid;

	/* A purge wipes every secret of the process: in a child of its own. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (!new_lingering(32, 9, SHORT_LINGER_US, &s))
			child_fail("no lingering secret");
		smem_purge();
		if (smem_secret_read(s, lib_check_fn, &(unsigned int){ 9 }) != -EBADF)
			child_fail("a purged secret's window opened");
		sleep_ms(SHORT_LINGER_US / 1000 + 100);
		if (smem_secret_close(s) != -EBADF)
			child_fail("close of a purged secret did not say -EBADF");
		smem_secret_unref(s);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child_timeout(pid, 30));
}

/*
 * fork() during the linger: the child has neither the open pages nor the
 * parent's closer; its own lingering secret is closed by a closer of its
 * own.  The parent's linger goes on.
 */
TEST(fork_during_it)
{
	struct smem_secret *s, *mine;
	const unsigned char *p = new_lingering(32, 10, LONG_LINGER_US, &s), *q;
	double ended, closed_after;
	pid_t pid;

	ASSERT_NE(NULL, p);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (readable(p))
			child_fail("the parent's lingering pages are readable in the child");
		if (smem_secret_linger(s, 0) != -ECHILD)
			child_fail("linger on an inherited secret did not say -ECHILD");
		if (smem_secret_read(s, lib_check_fn, &(unsigned int){ 10 }) != -ECHILD)
			child_fail("a window on an inherited secret did not say -ECHILD");
		mine = lib_new_pattern(32, 11);
		if (!mine || smem_secret_linger(mine, SHORT_LINGER_US))
			child_fail("no lingering secret of its own");
		q = read_once(mine, &ended);
		if (!q)
			child_fail("no window on its own secret");
		closed_after = seconds_until_closed(q, ended,
						    SHORT_LINGER_US / 1e6 + CLOSE_SLACK_S);
		if (closed_after < 0)
			child_fail("its own lingering pages were never closed");
		if (smem_secret_close(mine))
			child_fail("close failed");
		smem_secret_unref(mine);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child_timeout(pid, 30));
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &(unsigned int){ 10 }));
	smem_secret_unref(s);
}

/* Each secret closes by its own linger, not by the shortest or the longest. */
TEST(own_deadlines)
{
	struct smem_secret *fast = lib_new_pattern(32, 12), *slow = lib_new_pattern(32, 13);
	const unsigned char *pf, *ps;
	double ended, closed_after;

	ASSERT_NE(NULL, fast);
	ASSERT_NE(NULL, slow);
	ASSERT_EQ(0, smem_secret_linger(fast, SHORT_LINGER_US));
	ASSERT_EQ(0, smem_secret_linger(slow, SMEM_LINGER_MAX_US));
	ps = read_once(slow, &ended);
	pf = read_once(fast, &ended);
	ASSERT_NE(NULL, ps);
	ASSERT_NE(NULL, pf);
	if (lib_has_windows()) {
		/* Keys: neither lingers. */
		EXPECT_FALSE(readable(ps));
		EXPECT_FALSE(readable(pf));
		goto out;
	}
	closed_after = seconds_until_closed(pf, ended, SHORT_LINGER_US / 1e6 + CLOSE_SLACK_S);
	ASSERT_GE(closed_after, 0);
	/* Only meaningful when the fast one closed well before the slow one's time. */
	if (closed_after < SMEM_LINGER_MAX_US / 1e6 / 2)
		EXPECT_TRUE(readable(ps)) TH_LOG("the long linger ended with the short one");
	ASSERT_GE(seconds_until_closed(ps, ended, SMEM_LINGER_MAX_US / 1e6 + CLOSE_SLACK_S), 0);
out:
	smem_secret_unref(fast);
	smem_secret_unref(slow);
}

/* ---------------------------------------------------------------- races */

#define RACE_SECONDS	1.0
#define RACE_SIZE	256

struct race {
	struct smem_secret *shared;
	_Atomic bool stop, stop_meddler;
	_Atomic unsigned long windows, torn, failed;
};

/* A write fills the secret with one byte value: a reader must see one. */
static int uniform_fn(const void *buf, size_t len, void *arg)
{
	const unsigned char *b = buf;
	size_t i;

	(void)arg;
	for (i = 1; i < len; i++)
		if (b[i] != b[0])
			return 1;
	return 0;
}

static int fill_fn(void *buf, size_t len, void *arg)
{
	memset(buf, *(unsigned char *)arg, len);
	return 0;
}

static void *reader(void *arg)
{
	struct race *r = arg;
	struct smem_secret *own;
	unsigned char v = 1;
	int err;

	if (smem_secret_new_random(RACE_SIZE, 0, &own) || smem_secret_linger(own, 1000) ||
	    smem_secret_write(own, fill_fn, &v)) {
		atomic_fetch_add(&r->failed, 1);
		return NULL;
	}
	while (!atomic_load(&r->stop)) {
		err = smem_secret_read(r->shared, uniform_fn, NULL);
		if (err > 0)
			atomic_fetch_add(&r->torn, 1);
		else if (err && err != -EBADF)
			atomic_fetch_add(&r->failed, 1);
		if (smem_secret_read(own, uniform_fn, NULL))
			atomic_fetch_add(&r->failed, 1);
		atomic_fetch_add(&r->windows, 1);
	}
	smem_secret_unref(own);
	return NULL;
}

/* Writes, freezes and linger changes on the shared secret, in turns. */
static void *meddler(void *arg)
{
	struct race *r = arg;
	unsigned char v = 0;
	unsigned int round = 0;
	int err;

	while (!atomic_load(&r->stop_meddler)) {
		switch (round++ % 4) {
		case 0:
			v++;
			err = smem_secret_write(r->shared, fill_fn, &v);
			break;
		case 1:
			err = smem_secret_freeze(r->shared, 0);
			if (!err && smem_secret_write(r->shared, fill_fn, &v) != -EPERM)
				err = -EIO;
			if (!err)
				err = smem_secret_melt(r->shared);
			break;
		case 2:
			err = smem_secret_linger(r->shared, round % 8 ? 1000 : 0);
			break;
		default:
			err = smem_secret_linger(r->shared, 50);
			break;
		}
		if (err)
			atomic_fetch_add(&r->failed, 1);
	}
	return NULL;
}

/*
 * Readers on one lingering secret and on one each, against a thread that
 * writes, freezes and changes the linger, then a close in the middle of
 * it: no fault, no torn read, no error but -EBADF after the close.
 */
TEST(threads_race_it)
{
	unsigned char v = 0;
	struct race r = { 0 };
	pthread_t readers[3], other;
	unsigned int i;
	double start;

	ASSERT_EQ(0, smem_secret_new_random(RACE_SIZE, 0, &r.shared));
	ASSERT_EQ(0, smem_secret_write(r.shared, fill_fn, &v));
	ASSERT_EQ(0, smem_secret_linger(r.shared, 1000));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&readers[i], NULL, reader, &r));
	ASSERT_EQ(0, pthread_create(&other, NULL, meddler, &r));
	start = now_s();
	while (now_s() - start < RACE_SECONDS)
		sleep_ms(10);
	atomic_store(&r.stop_meddler, true);
	pthread_join(other, NULL);
	/* The close races the readers, which go on until they see it. */
	EXPECT_EQ(0, smem_secret_close(r.shared));
	atomic_store(&r.stop, true);
	for (i = 0; i < 3; i++)
		pthread_join(readers[i], NULL);
	EXPECT_EQ(0, atomic_load(&r.torn));
	EXPECT_EQ(0, atomic_load(&r.failed));
	EXPECT_LT(100, atomic_load(&r.windows));
	smem_secret_unref(r.shared);
}

TEST_HARNESS_MAIN
