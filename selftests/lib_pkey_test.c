// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem's per-thread access windows with protection keys: while one
 * thread is inside a callback, another touching the same bytes faults
 * with SEGV_PKUERR (also observed as the death of a child process) and the
 * first reads on; the window closes when the callback returns; a read
 * window is read-only; nested windows restore what they found; every
 * thread starts closed, whenever it was created; a closed slot of the
 * arena is wiped.
 *
 * Skipped only where keys are truly absent (pkey_alloc() fails) or turned
 * off with SMEM_NO_PKEYS=1; with keys present the library must use them.
 *
 * The unkeyed tests turn keys off themselves (SMEM_NO_PKEYS=1), so they
 * run everywhere: without keys the window is the protection of the pages,
 * opened by the first reader in and closed by the last reader out, for
 * every thread of the process.
 */
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

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

/* Why there are no windows, or NULL when there should be. */
static const char *no_keys_reason(void)
{
	static char why[128];
	const char *off = getenv("SMEM_NO_PKEYS");
	int key;

	if (off && !strcmp(off, "1"))
		return "SMEM_NO_PKEYS=1";
	key = pkey_alloc(0, 0);
	if (key < 0) {
		snprintf(why, sizeof(why), "no protection keys here: pkey_alloc: %s", strerror(errno));
		return why;
	}
	pkey_free(key);
	return NULL;
}

#define REQUIRE_WINDOWS() do { \
	const char *why = no_keys_reason(); \
	if (why) \
		SKIP(return, "%s", why); \
	ASSERT_TRUE(lib_has_windows()) TH_LOG("keys work here, %s does not use them", lib_backend()); \
} while (0)

TEST(keys_used_where_available)
{
	REQUIRE_WINDOWS();
}

/* ------------------------------------------------ another thread's touch */

struct window {
	struct smem_secret *s;
	struct lib_gate sync;
	bool inside, done_probing;
	const unsigned char *addr;
	int read_ok_before, read_ok_after;
};

/* Hold the window open until the other thread has probed. */
static int hold_fn(const void *buf, size_t len, void *arg)
{
	struct window *w = arg;
	unsigned int seed = 1;

	w->addr = buf;
	w->read_ok_before = !lib_check_fn(buf, len, &seed);
	lib_gate_set(&w->sync, &w->inside);
	lib_gate_wait(&w->sync, &w->done_probing);
	w->read_ok_after = !lib_check_fn(buf, len, &seed);
	return 0;
}

static void *holder(void *arg)
{
	struct window *w = arg;

	smem_secret_read(w->s, hold_fn, w);
	return NULL;
}

/*
 * A fixture @name with a secret of pattern 1 in self->w.s, in two
 * variants: an arena slot (where keys make one) and pages of its own.
 * @setup runs first: it says whether the test runs with keys or without.
 */
#define WINDOW_FIXTURE(name, setup) \
	FIXTURE(name) { \
		struct window w; \
	}; \
	FIXTURE_VARIANT(name) { \
		size_t len; \
	}; \
	FIXTURE_VARIANT_ADD(name, slot) { .len = 32 }; \
	FIXTURE_VARIANT_ADD(name, pages) { .len = 10000 }; \
	FIXTURE_SETUP(name) \
	{ \
		setup; \
		self->w.sync = (struct lib_gate)LIB_GATE_INIT; \
		self->w.s = lib_new_pattern(variant->len, 1); \
		ASSERT_NE(NULL, self->w.s); \
	} \
	FIXTURE_TEARDOWN(name) \
	{ \
		smem_secret_unref(self->w.s); \
	}

WINDOW_FIXTURE(keyed, REQUIRE_WINDOWS())

TEST_F(keyed, other_thread_faults_during_window)
{
	struct window *w = &self->w;
	int code_read = 0, code_write = 0;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, holder, w));
	lib_gate_wait(&w->sync, &w->inside);
	EXPECT_EQ(SIGSEGV, lib_probe_read(w->addr, &code_read));
	EXPECT_EQ(SIGSEGV, lib_probe_write((unsigned char *)w->addr + variant->len - 1, &code_write));
	EXPECT_EQ(SEGV_PKUERR, code_read);
	EXPECT_EQ(SEGV_PKUERR, code_write);
	lib_gate_set(&w->sync, &w->done_probing);
	pthread_join(t, NULL);
	EXPECT_TRUE(w->read_ok_before);
	EXPECT_TRUE(w->read_ok_after);
}

/*
 * The same, with nothing to catch the fault: the child process dies of
 * SIGSEGV at the touch, after its window thread had read fine.
 */
TEST_F(keyed, other_thread_touch_kills_child)
{
	int status, pipefd[2];
	char report = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct window *w;
		struct smem_secret *s;
		pthread_t t;

		close(pipefd[0]);
		/* A secret of the child's own: the parent's are not ours here. */
		s = lib_new_pattern(variant->len, 1);
		w = calloc(1, sizeof(*w));
		if (!s || !w)
			_exit(1);
		w->sync = (struct lib_gate)LIB_GATE_INIT;
		w->s = s;
		if (pthread_create(&t, NULL, holder, w))
			_exit(2);
		lib_gate_wait(&w->sync, &w->inside);
		report = w->read_ok_before ? 'R' : 'X';
		if (write(pipefd[1], &report, 1) != 1)
			_exit(3);
		/* The kernel's verdict, not a sanitizer's handler turning it into abort(). */
		signal(SIGSEGV, SIG_DFL);
		report = *(volatile const unsigned char *)w->addr;	/* dies here */
		_exit(4);
	}
	close(pipefd[1]);
	EXPECT_EQ(1, read(pipefd[0], &report, 1));
	EXPECT_EQ('R', report);
	close(pipefd[0]);
	status = wait_child_timeout(pid, 30);
	EXPECT_EQ(128 + SIGSEGV, status);
}

TEST_F(keyed, window_closes_on_return)
{
	const unsigned char *p = lib_address(self->w.s);
	int code = 0;

	ASSERT_NE(NULL, p);
	EXPECT_EQ(SIGSEGV, lib_probe_read(p, &code));
	EXPECT_EQ(SEGV_PKUERR, code);
}

static int write_probe_fn(const void *buf, size_t len, void *arg)
{
	int *code = arg;

	(void)len;
	return lib_probe_write((unsigned char *)buf, code);
}

TEST_F(keyed, read_window_is_read_only)
{
	int code = 0;

	EXPECT_EQ(SIGSEGV, smem_secret_read(self->w.s, write_probe_fn, &code));
	EXPECT_EQ(SEGV_PKUERR, code);
}

/* The pages are mapped read-write, tagged with a key: the window is the PKRU. */
TEST_F(keyed, pages_stay_mapped_with_key)
{
	const unsigned char *p = lib_address(self->w.s);
	char perms[5] = "";

	EXPECT_LT(0, lib_page_pkey(p, perms));
	EXPECT_EQ(0, strncmp(perms, "rw", 2)) TH_LOG("permissions %s", perms);
}

/* --------------------------------------------------------------- threads */

struct prober {
	const unsigned char *addr;
	struct lib_gate sync;
	bool go;
	int sig, code;
};

static void *wait_and_probe(void *arg)
{
	struct prober *p = arg;

	lib_gate_wait(&p->sync, &p->go);
	p->sig = lib_probe_read(p->addr, &p->code);
	return NULL;
}

/* A thread made before the library took its key starts closed too. */
TEST(threads_start_closed)
{
	struct prober early = { .sync = LIB_GATE_INIT }, late = { .sync = LIB_GATE_INIT };
	struct smem_secret *s;
	pthread_t t1, t2;

	/* Before the first library call. */
	ASSERT_EQ(0, pthread_create(&t1, NULL, wait_and_probe, &early));
	REQUIRE_WINDOWS();
	s = lib_new_pattern(64, 2);
	ASSERT_NE(NULL, s);
	early.addr = late.addr = lib_address(s);
	ASSERT_EQ(0, pthread_create(&t2, NULL, wait_and_probe, &late));
	lib_gate_set(&early.sync, &early.go);
	lib_gate_set(&late.sync, &late.go);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	EXPECT_EQ(SIGSEGV, early.sig);
	EXPECT_EQ(SEGV_PKUERR, early.code);
	EXPECT_EQ(SIGSEGV, late.sig);
	EXPECT_EQ(SEGV_PKUERR, late.code);
	smem_secret_unref(s);
}

struct spawn {
	struct smem_secret *s;
	const unsigned char *addr;
	int inherited_sig, after_sig, after_code, read_ret;
};

static int noop_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)arg;
	return (int)len;
}

static void *spawned(void *arg)
{
	struct spawn *sp = arg;

	/* Created inside a window: the PKRU came open from the creator. */
	sp->inherited_sig = lib_probe_read(sp->addr, NULL);
	/* Its first window of its own closes the key on the way out. */
	sp->read_ret = smem_secret_read(sp->s, noop_fn, NULL);
	sp->after_sig = lib_probe_read(sp->addr, &sp->after_code);
	return NULL;
}

static int spawn_fn(const void *buf, size_t len, void *arg)
{
	struct spawn *sp = arg;
	pthread_t t;

	(void)len;
	sp->addr = buf;
	if (pthread_create(&t, NULL, spawned, sp))
		return -1;
	pthread_join(t, NULL);
	return 0;
}

TEST(thread_made_in_window_closes_on_first_window)
{
	struct spawn sp = { .inherited_sig = -1, .after_sig = -1 };

	REQUIRE_WINDOWS();
	sp.s = lib_new_pattern(48, 3);
	ASSERT_NE(NULL, sp.s);
	ASSERT_EQ(0, smem_secret_read(sp.s, spawn_fn, &sp));
	TH_LOG("a thread made inside a window %s it open",
	       sp.inherited_sig ? "does not inherit" : "inherits");
	EXPECT_EQ(48, sp.read_ret);
	EXPECT_EQ(SIGSEGV, sp.after_sig);
	EXPECT_EQ(SEGV_PKUERR, sp.after_code);
	smem_secret_unref(sp.s);
}

/* ---------------------------------------------------------------- nesting */

struct nest {
	struct smem_secret *a, *b;
	unsigned char *a_bytes;
	int inner_write_sig, inner_code, after_inner_sig;
};

static int inner_read_fn(const void *buf, size_t len, void *arg)
{
	struct nest *n = arg;

	(void)buf;
	(void)len;
	/* A read nested in a write never takes the write away. */
	n->inner_write_sig = lib_probe_write(n->a_bytes, &n->inner_code);
	return 0;
}

static int outer_write_fn(void *buf, size_t len, void *arg)
{
	struct nest *n = arg;

	(void)len;
	n->a_bytes = buf;
	if (smem_secret_read(n->b, inner_read_fn, n))
		return -1;
	/* Back in A's write window: writable again. */
	n->after_inner_sig = lib_probe_write(buf, NULL);
	return 0;
}

TEST(nested_windows_restore)
{
	struct nest n = { .inner_write_sig = -1, .after_inner_sig = -1 };

	REQUIRE_WINDOWS();
	n.a = lib_new_pattern(32, 4);
	n.b = lib_new_pattern(3000, 5);
	ASSERT_NE(NULL, n.a);
	ASSERT_NE(NULL, n.b);
	EXPECT_EQ(0, smem_secret_write(n.a, outer_write_fn, &n));
	EXPECT_EQ(0, n.inner_write_sig) TH_LOG("signal %d, code %d", n.inner_write_sig,
					    n.inner_code);
	EXPECT_EQ(0, n.after_inner_sig);
	EXPECT_EQ(SIGSEGV, lib_probe_read(n.a_bytes, NULL));
	smem_secret_unref(n.a);
	smem_secret_unref(n.b);
}

/* ----------------------------------------------------------- without keys */

/*
 * The environment is read at the first library call of the process, and
 * each test is a process of its own.
 */
static void keys_off(void)
{
	setenv("SMEM_NO_PKEYS", "1", 1);
}

TEST(unkeyed_info_says_no_windows)
{
	struct smem_secret *s = NULL;
	struct smem_info info;

	keys_off();
	ASSERT_EQ(0, smem_info(&info));
	EXPECT_EQ(0, info.guarantees & SMEM_G_THREAD_WINDOW);
	EXPECT_EQ(-ENOTSUP, smem_require(SMEM_G_THREAD_WINDOW));
	EXPECT_EQ(-ENOTSUP, smem_secret_new_random(16, SMEM_REQUIRE(SMEM_G_THREAD_WINDOW), &s));
	EXPECT_EQ(NULL, s);
}

/* Without keys a 32-byte secret has pages of its own too. */
WINDOW_FIXTURE(unkeyed, keys_off(); ASSERT_FALSE(lib_has_windows()))

/*
 * Closed by the page tables, not by a key: the fault is not SEGV_PKUERR,
 * no key tags the pages, and on the backends that use mprotect() the
 * mapping itself has no access (kmod changes the protection in the
 * module, behind a mapping that keeps its permissions).
 */
TEST_F(unkeyed, pages_closed_outside_callbacks)
{
	const unsigned char *p = lib_address(self->w.s);
	char perms[5] = "";
	int code = 0;

	ASSERT_NE(NULL, p);
	EXPECT_EQ(SIGSEGV, lib_probe_read(p, &code));
	EXPECT_NE(SEGV_PKUERR, code);
	EXPECT_EQ(SIGSEGV, lib_probe_read(p + variant->len - 1, &code));
	EXPECT_GE(0, lib_page_pkey(p, perms));
	if (strcmp(lib_backend(), "kmod"))
		EXPECT_EQ(0, strncmp(perms, "---", 3)) TH_LOG("permissions %s", perms);
}

struct unkeyed_probe {
	int write_sig, write_code;
	char perms[5];
};

static int unkeyed_read_fn(const void *buf, size_t len, void *arg)
{
	struct unkeyed_probe *u = arg;
	unsigned int seed = 1;

	lib_page_pkey(buf, u->perms);
	u->write_sig = lib_probe_write((unsigned char *)buf + len - 1, &u->write_code);
	return lib_check_fn(buf, len, &seed);
}

TEST_F(unkeyed, read_window_is_read_only)
{
	struct unkeyed_probe u = { .write_sig = -1 };

	EXPECT_EQ(0, smem_secret_read(self->w.s, unkeyed_read_fn, &u));
	EXPECT_EQ(SIGSEGV, u.write_sig);
	EXPECT_NE(SEGV_PKUERR, u.write_code);
	if (strcmp(lib_backend(), "kmod"))
		EXPECT_EQ(0, strncmp(u.perms, "r--", 3)) TH_LOG("permissions %s", u.perms);
}

/*
 * What keys add: without them another thread of the process reads the
 * bytes while a window is open, and faults again once it is closed.
 */
TEST_F(unkeyed, other_thread_reads_during_window)
{
	struct window *w = &self->w;
	unsigned char byte = 0;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, holder, w));
	lib_gate_wait(&w->sync, &w->inside);
	EXPECT_EQ(0, probe_read(w->addr, &byte));
	EXPECT_EQ(lib_pattern(1, 0), byte);
	lib_gate_set(&w->sync, &w->done_probing);
	pthread_join(t, NULL);
	EXPECT_TRUE(w->read_ok_before);
	EXPECT_TRUE(w->read_ok_after);
	EXPECT_EQ(SIGSEGV, lib_probe_read(w->addr, NULL));
}

/* Overlapping readers: the pages stay open until the last one leaves. */
TEST_F(unkeyed, last_reader_closes)
{
	struct window *w = &self->w;
	unsigned int seed = 1;
	unsigned char byte = 0;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, holder, w));
	lib_gate_wait(&w->sync, &w->inside);
	/* A second reader comes and goes while the first is inside. */
	EXPECT_EQ(0, smem_secret_read(w->s, lib_check_fn, &seed));
	EXPECT_EQ(0, probe_read(w->addr + variant->len - 1, &byte));
	EXPECT_EQ(lib_pattern(1, variant->len - 1), byte);
	lib_gate_set(&w->sync, &w->done_probing);
	pthread_join(t, NULL);
	EXPECT_TRUE(w->read_ok_after);
	EXPECT_EQ(SIGSEGV, lib_probe_read(w->addr, NULL));
}

/* ------------------------------------------------------------------ arena */

/* A closed slot is zero, though its page stays mapped for its neighbours. */
TEST(closed_slot_is_wiped)
{
	struct smem_secret *keep, *gone;
	const unsigned char *p;
	uint32_t pkru;
	size_t i, nonzero = 0;
	int key;

	REQUIRE_WINDOWS();
	keep = lib_new_pattern(64, 6);
	gone = lib_new_pattern(64, 7);
	ASSERT_NE(NULL, keep);
	ASSERT_NE(NULL, gone);
	p = lib_address(gone);
	key = lib_page_pkey(p, NULL);
	ASSERT_LT(0, key);
	ASSERT_EQ(0, smem_secret_close(gone));
	/* Open the key by hand, as only a test would. */
	pkru = lib_rdpkru();
	lib_wrpkru(pkru & ~(3U << (2 * key)));
	for (i = 0; i < 64; i++)
		nonzero += p[i] != 0;
	lib_wrpkru(pkru);
	EXPECT_EQ(0, nonzero);
	smem_secret_unref(gone);
	smem_secret_unref(keep);
}

TEST_HARNESS_MAIN
