// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem's access windows as issue 9 wants them (defects 5 to 8):
 *  - with keys each secret has a key of its own while the library has
 *    keys to give: inside a window on A, B faults for this thread too,
 *    reading and writing;
 *  - a nested window never takes a right away from the thread (a read
 *    nested in a write leaves the outer bytes writable: write(A) ->
 *    copy_out(B) into A's bytes works) and never adds one to another
 *    secret (read(A) -> write(B) leaves A read-only);
 *  - a window touches only the library's bits of the PKRU: what a
 *    callback does to the application's own keys stays when it returns;
 *  - a callback left by longjmp(), by siglongjmp() from a signal handler,
 *    by a C++ exception (lib_window_throw.cc), by pthread_cancel() at a
 *    cancellation point or by pthread_exit(), nested or not: a later
 *    window works, the key is closed again once the thread made its next
 *    call, and a close from another thread completes and wipes the bytes;
 *  - SMEM_MAX_NESTING windows per thread, -ELOOP beyond;
 *  - a negative callback result comes back as -ECANCELED.
 *
 * Whatever crashed or hung the library before runs in a child watched with
 * a time-out, which says where it was; every wait is bounded, so a broken
 * library fails these tests instead of hanging the suite.  The tests that
 * need keys skip only when the library gives no per-thread windows
 * (SMEM_NO_PKEYS=1, no pku); the others run everywhere.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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

#ifndef SMEM_MAX_NESTING
#define SMEM_MAX_NESTING 32	/* smem.h's, for a library from before the limit */
#endif

/*
 * lib_window_throw.cc: a window on @outer (@write: a write window), with
 * one on @inner nested in it unless @inner is NULL, whose innermost
 * callback throws a C++ exception.  0 when it was caught outside the
 * windows; 1 when the window returned instead (its result in *@ret);
 * 2 when something else was caught.
 */
int lib_window_throw(struct smem_secret *outer, struct smem_secret *inner, int write, int *ret);

#define REQUIRE_WINDOWS() do { \
	if (!lib_has_windows()) \
		SKIP(return, "no per-thread windows on %s (SMEM_NO_PKEYS=1 or no pku)", \
		     lib_backend()); \
} while (0)

/*
 * fn_read_fn() and fn_write_fn(), a read and a write callback that both
 * return @fn(arg): what the tests do inside a window does not depend on
 * its kind, and they know where the bytes are.
 */
#define CALLBACKS(fn) \
	static int fn##_read_fn(const void *buf, size_t len, void *arg) \
	{ \
		(void)buf; \
		(void)len; \
		return fn(arg); \
	} \
	static int fn##_write_fn(void *buf, size_t len, void *arg) \
	{ \
		(void)buf; \
		(void)len; \
		return fn(arg); \
	}

/* A write window on @s with fn_write_fn() when @write, else a read one. */
#define WINDOW(write, s, fn, arg) \
	((write) ? smem_secret_write((s), fn##_write_fn, (arg)) : \
		   smem_secret_read((s), fn##_read_fn, (arg)))

/* -------------------------------------------------- watched children */

/*
 * A child that may crash or hang on a broken library writes what it is
 * doing into shared memory, and why it fails (on stderr too); the parent
 * kills it after WATCH_SECONDS and says where it was.
 */
#define WATCH_SECONDS	10

struct watch {
	char step[192];
	char why[256];
};

static struct watch *watch;

static void __attribute__((format(printf, 1, 2))) watch_step(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(watch->step, sizeof(watch->step), fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn, format(printf, 2, 3))) watch_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(watch->why, sizeof(watch->why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# child, at %s: %s\n", watch->step, watch->why);
	_exit(code);
}

/*
 * Run @fn(@arg) in a child: its exit code (0: it passed), 128 + the signal
 * that killed it, or -1 when it hung; @report says what happened.
 */
static int watch_run(int (*fn)(const void *arg), const void *arg, char *report, size_t size)
{
	pid_t pid;
	int r;

	watch = mmap(NULL, sizeof(*watch), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (watch == MAP_FAILED) {
		snprintf(report, size, "mmap: %s", strerror(errno));
		return -2;
	}
	snprintf(watch->step, sizeof(watch->step), "start");
	pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	if (pid < 0) {
		snprintf(report, size, "fork: %s", strerror(errno));
		r = -2;
	} else {
		r = wait_child_timeout(pid, WATCH_SECONDS);
		if (r < 0)
			snprintf(report, size, "child hung at %s (killed after %d s)", watch->step,
				 WATCH_SECONDS);
		else if (r >= 128)
			snprintf(report, size, "child died of signal %d (%s) at %s", r - 128,
				 strsignal(r - 128), watch->step);
		else if (r)
			snprintf(report, size, "child failed at %s: %s", watch->step, watch->why);
		else
			snprintf(report, size, "child passed");
	}
	munmap(watch, sizeof(*watch));
	return r;
}

/*
 * After a close: how many of the @len bytes at @p are still not zero,
 * read with every key open, as only a test would; 0 also when the pages
 * were given back.  A byte that faults is not counted.
 */
static size_t bytes_left(const unsigned char *p, size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), i, left = 0;
	uintptr_t first = (uintptr_t)p & ~(ps - 1);
	uintptr_t end = ((uintptr_t)p + len + ps - 1) & ~(ps - 1);
	unsigned char vec[64], v;
	bool keys = lib_has_windows();
	uint32_t pkru = keys ? lib_rdpkru() : 0;

	if ((end - first) / ps <= sizeof(vec) &&
	    mincore((void *)first, end - first, vec) && errno == ENOMEM)
		return 0;
	for (i = 0; i < len; i++) {
		if (keys)
			lib_wrpkru(0);
		if (!probe_read(p + i, &v))
			left += v != 0;
	}
	if (keys)
		lib_wrpkru(pkru);
	return left;
}

/* smem_secret_close_timeout() of two secrets, from a thread of its own. */
struct closer {
	struct smem_secret *s[2];
	int result[2];
};

static void *close_both(void *arg)
{
	struct closer *c = arg;
	int i;

	for (i = 0; i < 2; i++)
		c->result[i] = c->s[i] ? smem_secret_close_timeout(c->s[i], 2000) : 0;
	return NULL;
}

/* Secrets A and B, and where their bytes are. */
struct pair {
	struct smem_secret *a, *b;
	const unsigned char *pa, *pb;
};

/* A of @len_a bytes of pattern @seed, B of @len_b of @seed + 1: 0 or -1. */
static int pair_make(struct pair *p, size_t len_a, size_t len_b, unsigned int seed)
{
	p->a = lib_new_pattern(len_a, seed);
	p->b = lib_new_pattern(len_b, seed + 1);
	p->pa = p->a ? lib_address(p->a) : NULL;
	p->pb = p->b ? lib_address(p->b) : NULL;
	return p->pa && p->pb ? 0 : -1;
}

static void pair_drop(struct pair *p)
{
	smem_secret_unref(p->a);
	smem_secret_unref(p->b);
}

/* ------------------------------------------- defect 5: a key per secret */

/*
 * A (pattern 21) and B (pattern 22), and a window on A: read or write, on
 * slots or pages.
 */
FIXTURE(two) {
	struct pair p;
};

FIXTURE_VARIANT(two) {
	size_t len_a, len_b;
	bool write;
};

FIXTURE_VARIANT_ADD(two, slots_read) { .len_a = 32, .len_b = 32 };
FIXTURE_VARIANT_ADD(two, slots_write) { .len_a = 32, .len_b = 32, .write = true };
FIXTURE_VARIANT_ADD(two, pages_read) { .len_a = 10000, .len_b = 10000 };
FIXTURE_VARIANT_ADD(two, pages_write) { .len_a = 10000, .len_b = 10000, .write = true };
FIXTURE_VARIANT_ADD(two, slot_in_pages_read) { .len_a = 10000, .len_b = 32 };
FIXTURE_VARIANT_ADD(two, pages_in_slot_write) { .len_a = 32, .len_b = 10000, .write = true };

FIXTURE_SETUP(two)
{
	REQUIRE_WINDOWS();
	ASSERT_EQ(0, pair_make(&self->p, variant->len_a, variant->len_b, 21));
}

FIXTURE_TEARDOWN(two)
{
	pair_drop(&self->p);
}

/* What this thread could do to B inside A's window. */
struct other {
	const unsigned char *own, *other;
	size_t other_len;
	int own_sig, read_sig, read_code, write_sig, write_code;
};

static int touch_other(struct other *o)
{
	o->own_sig = lib_probe_read(o->own, NULL);
	o->read_sig = lib_probe_read(o->other, &o->read_code);
	/* 0x5a, the probe's byte, is even: never a byte of a pattern. */
	o->write_sig = lib_probe_write((unsigned char *)o->other + o->other_len - 1, &o->write_code);
	return 0;
}

CALLBACKS(touch_other)

TEST_F(two, other_secret_closed_in_window)
{
	struct other o = { .own = self->p.pa, .other = self->p.pb, .other_len = variant->len_b,
			   .own_sig = -1, .read_sig = -1, .write_sig = -1 };
	unsigned int seed_b = 22;
	int key_a = lib_page_pkey(self->p.pa, NULL), key_b = lib_page_pkey(self->p.pb, NULL);

	/* Two secrets, and 15 keys to give: each has its own. */
	EXPECT_NE(key_a, key_b) TH_LOG("A and B share key %d", key_a);
	EXPECT_EQ(0, WINDOW(variant->write, self->p.a, touch_other, &o));
	EXPECT_EQ(0, o.own_sig);
	EXPECT_EQ(SIGSEGV, o.read_sig) TH_LOG("inside a window on A this thread read B");
	EXPECT_EQ(SEGV_PKUERR, o.read_code);
	EXPECT_EQ(SIGSEGV, o.write_sig) TH_LOG("inside a window on A this thread wrote B");
	EXPECT_EQ(SEGV_PKUERR, o.write_code);
	EXPECT_EQ(0, smem_secret_read(self->p.b, lib_check_fn, &seed_b))
		TH_LOG("B's bytes changed by a write inside A's window");
}

/* ------------------------------------ defect 6: nesting keeps the rights */

/*
 * Written in a child: with the old library the copy faults (SIGSEGV),
 * and nothing could catch it inside the library.
 */
struct copy_into {
	struct smem_secret *b;
	ssize_t copied;
};

static int copy_b_into_a_fn(void *buf, size_t len, void *arg)
{
	struct copy_into *c = arg;

	c->copied = smem_secret_copy_out(c->b, 0, buf, len);
	return 0;
}

static int copy_out_into_writer_child(const void *arg)
{
	static const size_t lens[] = { 64, 10000 };
	unsigned int seed_b = 72;
	struct smem_secret *a, *b;
	struct copy_into c;
	size_t i;
	int r;

	(void)arg;
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		watch_step("make A and B of %zu bytes", lens[i]);
		a = lib_new_pattern(lens[i], 71);
		b = c.b = lib_new_pattern(lens[i], 72);
		if (!a || !b)
			watch_fail(1, "smem_secret_new failed");
		c.copied = -1;
		watch_step("write(A) -> copy_out(B) into A's bytes, %zu bytes", lens[i]);
		r = smem_secret_write(a, copy_b_into_a_fn, &c);
		if (r || c.copied != (ssize_t)lens[i])
			watch_fail(2, "write returned %d, copy_out %zd", r, c.copied);
		watch_step("read A after, %zu bytes", lens[i]);
		r = smem_secret_read(a, lib_check_fn, &seed_b);
		if (r)
			watch_fail(3, "A does not hold B's bytes: %d", r);
		watch_step("close A and B, %zu bytes", lens[i]);
		if (smem_secret_close_timeout(a, 2000) || smem_secret_close_timeout(b, 2000))
			watch_fail(4, "a close failed");
		smem_secret_unref(a);
		smem_secret_unref(b);
	}
	return 0;
}

TEST(copy_out_into_writer_bytes)
{
	char report[512];

	EXPECT_EQ(0, watch_run(copy_out_into_writer_child, NULL, report, sizeof(report)))
		TH_LOG("%s", report);
}

/* A (pattern 31) and B (pattern 32) for windows nested in each other. */
FIXTURE(nest) {
	struct pair p;
	bool keys;
};

FIXTURE_VARIANT(nest) {
	size_t len_a, len_b;
};

FIXTURE_VARIANT_ADD(nest, slots) { .len_a = 32, .len_b = 48 };
FIXTURE_VARIANT_ADD(nest, pages) { .len_a = 10000, .len_b = 6000 };
FIXTURE_VARIANT_ADD(nest, slot_and_pages) { .len_a = 32, .len_b = 10000 };

FIXTURE_SETUP(nest)
{
	self->keys = lib_has_windows();
	ASSERT_EQ(0, pair_make(&self->p, variant->len_a, variant->len_b, 31));
}

FIXTURE_TEARDOWN(nest)
{
	pair_drop(&self->p);
}

/* What the thread could do in the inner window, and back in the outer. */
struct nested {
	struct smem_secret *inner;
	bool inner_write;
	unsigned char *a, *b;		/* last byte of A and of B */
	int inner_ret;
	int write_a, write_a_code, read_a, write_b, write_b_code, read_b;	/* inner */
	int after_write_a, after_read_a, after_write_b, after_read_b;	/* outer, after */
};

#define NESTED_INIT(inner_secret, write, p, len_a, len_b) { \
	.inner = (inner_secret), \
	.inner_write = (write), \
	.a = (unsigned char *)(p)->pa + (len_a) - 1, \
	.b = (unsigned char *)(p)->pb + (len_b) - 1, \
	.inner_ret = -1, .write_a = -1, .read_a = -1, .write_b = -1, .read_b = -1, \
	.after_write_a = -1, .after_read_a = -1, .after_write_b = -1, .after_read_b = -1, \
}

static int probe_inner(struct nested *n)
{
	n->read_a = lib_probe_read(n->a, NULL);
	n->write_a = lib_probe_write(n->a, &n->write_a_code);
	n->read_b = lib_probe_read(n->b, NULL);
	n->write_b = lib_probe_write(n->b, &n->write_b_code);
	return 0;
}

CALLBACKS(probe_inner)

/* The outer window's callback: the inner window, then probes in the outer. */
static int nest_in(struct nested *n)
{
	n->inner_ret = WINDOW(n->inner_write, n->inner, probe_inner, n);
	n->after_read_a = lib_probe_read(n->a, NULL);
	n->after_write_a = lib_probe_write(n->a, NULL);
	n->after_read_b = lib_probe_read(n->b, NULL);
	n->after_write_b = lib_probe_write(n->b, NULL);
	return 0;
}

CALLBACKS(nest_in)

/* write(A) -> read(A): the thread holds A for writing, the read keeps that. */
TEST_F(nest, read_in_write_of_same_keeps_write)
{
	struct nested n = NESTED_INIT(self->p.a, false, &self->p, variant->len_a, variant->len_b);

	EXPECT_EQ(0, smem_secret_write(self->p.a, nest_in_write_fn, &n));
	EXPECT_EQ(0, n.inner_ret);
	EXPECT_EQ(0, n.read_a);
	EXPECT_EQ(0, n.write_a) TH_LOG("read(A) in write(A) made A read-only: signal %d, code %d",
				       n.write_a, n.write_a_code);
	EXPECT_EQ(0, n.after_write_a);
	EXPECT_EQ(SIGSEGV, lib_probe_read(n.a, NULL));
}

/* write(A) -> read(B): A stays writable, B is read-only. */
TEST_F(nest, read_in_write_of_other_keeps_write)
{
	struct nested n = NESTED_INIT(self->p.b, false, &self->p, variant->len_a, variant->len_b);

	EXPECT_EQ(0, smem_secret_write(self->p.a, nest_in_write_fn, &n));
	EXPECT_EQ(0, n.inner_ret);
	EXPECT_EQ(0, n.read_a);
	EXPECT_EQ(0, n.write_a) TH_LOG("read(B) in write(A) made A read-only: signal %d, code %d",
				       n.write_a, n.write_a_code);
	EXPECT_EQ(0, n.read_b);
	EXPECT_EQ(SIGSEGV, n.write_b) TH_LOG("B writable in a read window on B");
	if (self->keys)
		EXPECT_EQ(SEGV_PKUERR, n.write_b_code);
	/* Back in A's window only. */
	EXPECT_EQ(0, n.after_write_a);
	EXPECT_EQ(SIGSEGV, n.after_read_b);
	EXPECT_EQ(SIGSEGV, lib_probe_read(n.a, NULL));
	EXPECT_EQ(SIGSEGV, lib_probe_read(n.b, NULL));
}

/* read(A) -> write(B): B is writable, A stays read-only. */
TEST_F(nest, write_in_read_of_other_adds_nothing)
{
	struct nested n = NESTED_INIT(self->p.b, true, &self->p, variant->len_a, variant->len_b);

	EXPECT_EQ(0, smem_secret_read(self->p.a, nest_in_read_fn, &n));
	EXPECT_EQ(0, n.inner_ret);
	EXPECT_EQ(0, n.read_b);
	EXPECT_EQ(0, n.write_b);
	EXPECT_EQ(0, n.read_a);
	EXPECT_EQ(SIGSEGV, n.write_a) TH_LOG("write(B) in read(A) made A writable");
	if (self->keys)
		EXPECT_EQ(SEGV_PKUERR, n.write_a_code);
	/* Back in A's read window only. */
	EXPECT_EQ(0, n.after_read_a);
	EXPECT_EQ(SIGSEGV, n.after_write_a);
	EXPECT_EQ(SIGSEGV, n.after_read_b);
	EXPECT_EQ(SIGSEGV, lib_probe_read(n.a, NULL));
	EXPECT_EQ(SIGSEGV, lib_probe_read(n.b, NULL));
}

/* -------------------------- defect 7: the application's keys are its own */

/* A key of the test's own, on a page of its own, changed inside callbacks. */
FIXTURE(app_key) {
	struct smem_secret *outer, *inner;
	const unsigned char *addr;
	unsigned char *page;
	size_t page_size;
	int key;
};

FIXTURE_VARIANT(app_key) {
	int before, set_to;		/* rights of the key: PKEY_DISABLE_* */
	bool write, nested;
};

FIXTURE_VARIANT_ADD(app_key, open_in_read) {
	.before = PKEY_DISABLE_ACCESS, .set_to = 0,
};
FIXTURE_VARIANT_ADD(app_key, close_in_read) {
	.before = 0, .set_to = PKEY_DISABLE_ACCESS,
};
FIXTURE_VARIANT_ADD(app_key, deny_write_in_write) {
	.before = 0, .set_to = PKEY_DISABLE_WRITE, .write = true,
};
FIXTURE_VARIANT_ADD(app_key, open_in_nested_read) {
	.before = PKEY_DISABLE_ACCESS, .set_to = 0, .nested = true,
};
FIXTURE_VARIANT_ADD(app_key, close_in_nested_write) {
	.before = 0, .set_to = PKEY_DISABLE_ACCESS, .write = true, .nested = true,
};

FIXTURE_SETUP(app_key)
{
	self->key = -1;
	REQUIRE_WINDOWS();
	self->outer = lib_new_pattern(32, 61);
	ASSERT_NE(NULL, self->outer);
	if (variant->nested) {
		self->inner = lib_new_pattern(10000, 62);
		ASSERT_NE(NULL, self->inner);
	}
	self->addr = lib_address(self->outer);
	ASSERT_NE(NULL, self->addr);
	self->key = pkey_alloc(0, 0);
	ASSERT_LE(0, self->key) TH_LOG("pkey_alloc: %s", strerror(errno));
	self->page_size = (size_t)sysconf(_SC_PAGESIZE);
	self->page = mmap(NULL, self->page_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->page);
	ASSERT_EQ(0, pkey_mprotect(self->page, self->page_size, PROT_READ | PROT_WRITE,
				   self->key));
	self->page[0] = 0x77;
	ASSERT_EQ(0, pkey_set(self->key, variant->before));
}

FIXTURE_TEARDOWN(app_key)
{
	if (self->key >= 0) {
		pkey_set(self->key, 0);
		pkey_free(self->key);
	}
	if (self->page && self->page != MAP_FAILED)
		munmap(self->page, self->page_size);
	smem_secret_unref(self->inner);
	smem_secret_unref(self->outer);
}

struct app_change {
	int key, set_to;
	struct smem_secret *inner;
	bool write;
	int inside, inner_ret, after_inner;
};

static int app_change_leaf(struct app_change *c)
{
	c->inside = pkey_get(c->key);
	return pkey_set(c->key, c->set_to) ? 1 : 0;
}

CALLBACKS(app_change_leaf)

static int app_change(struct app_change *c)
{
	if (!c->inner)
		return app_change_leaf(c);
	c->inner_ret = WINDOW(c->write, c->inner, app_change_leaf, c);
	c->after_inner = pkey_get(c->key);
	return 0;
}

CALLBACKS(app_change)

TEST_F(app_key, change_in_callback_stays)
{
	struct app_change c = { .key = self->key, .set_to = variant->set_to,
				.inner = self->inner, .write = variant->write,
				.inside = -1, .inner_ret = -1, .after_inner = -1 };
	int code = 0;

	EXPECT_EQ(0, WINDOW(variant->write, self->outer, app_change, &c));
	EXPECT_EQ(variant->before, c.inside) TH_LOG("the window changed the application's key");
	if (variant->nested) {
		EXPECT_EQ(0, c.inner_ret);
		EXPECT_EQ(variant->set_to, c.after_inner)
			TH_LOG("the inner window's close put back key %d's rights %d, not %d",
			       self->key, c.after_inner, variant->set_to);
	}
	EXPECT_EQ(variant->set_to, pkey_get(self->key))
		TH_LOG("the window's close put back key %d's rights %d, not %d",
		       self->key, pkey_get(self->key), variant->set_to);
	EXPECT_EQ(variant->set_to & PKEY_DISABLE_ACCESS ? SIGSEGV : 0,
		  lib_probe_read(self->page, NULL));
	EXPECT_EQ(variant->set_to ? SIGSEGV : 0, lib_probe_write(self->page, NULL));
	/* And the library's own key is closed again. */
	EXPECT_EQ(SIGSEGV, lib_probe_read(self->addr, &code));
	EXPECT_EQ(SEGV_PKUERR, code);
}

/* ----------------------- defect 8: callbacks left without returning */

enum way_out { BY_LONGJMP, BY_SIGLONGJMP, BY_THROW, BY_CANCEL, BY_EXIT };

static const char *const way_out_name[] = {
	[BY_LONGJMP] = "longjmp()",
	[BY_SIGLONGJMP] = "siglongjmp() from a signal handler",
	[BY_THROW] = "a C++ exception",
	[BY_CANCEL] = "pthread_cancel() in read()",
	[BY_EXIT] = "pthread_exit()",
};

struct escaper {
	enum way_out how;
	bool write, nested;
	struct smem_secret *a, *b;	/* the outer window's, the inner one's */
	int pipefd[2];			/* BY_CANCEL blocks in read() on it */
	struct lib_gate sync;
	bool inside;
	jmp_buf jenv;
	sigjmp_buf senv;
};

static struct escaper escaper;		/* static: longjmp() may leave no local behind */

static void escape_handler(int sig)
{
	(void)sig;
	siglongjmp(escaper.senv, 1);
}

/*
 * Where BY_CANCEL reads: not on the stack, which ASan's redzones would
 * leave poisoned below the frames that cancellation unwinds without
 * telling it.
 */
static char cancel_sink;

/* Leave the callback: returns only when that failed. */
static int leave(struct escaper *e)
{
	switch (e->how) {
	case BY_LONGJMP:
		longjmp(e->jenv, 1);
	case BY_SIGLONGJMP:
		raise(SIGUSR1);
		break;
	case BY_EXIT:
		lib_gate_set(&e->sync, &e->inside);
		pthread_exit((void *)7);
	case BY_CANCEL:
		lib_gate_set(&e->sync, &e->inside);
		/* A cancellation point, where the thread waits to be cancelled. */
		if (read(e->pipefd[0], &cancel_sink, 1) < 0)
			return 1;
		break;
	case BY_THROW:
		break;
	}
	return 2;
}

CALLBACKS(leave)

static int leave_nested(struct escaper *e)
{
	return WINDOW(e->write, e->b, leave, e);
}

CALLBACKS(leave_nested)

/* The window on A, with one on B in it when nested; the innermost leaves. */
static int open_and_leave(struct escaper *e)
{
	if (e->nested)
		return WINDOW(e->write, e->a, leave_nested, e);
	return WINDOW(e->write, e->a, leave, e);
}

static void *window_thread(void *arg)
{
	struct escaper *e = arg;
	int r = open_and_leave(e);

	/* Still here: let the waiting thread see it. */
	lib_gate_set(&e->sync, &e->inside);
	return (void *)(intptr_t)r;
}

/* BY_CANCEL, BY_EXIT: the window's thread ends inside the callback. */
static void leave_in_thread(struct escaper *e)
{
	void *expected = e->how == BY_CANCEL ? PTHREAD_CANCELED : (void *)7, *ret = NULL;
	pthread_t t;

	if (pipe(e->pipefd))
		watch_fail(2, "pipe: %s", strerror(errno));
	if (pthread_create(&t, NULL, window_thread, e))
		watch_fail(2, "pthread_create failed");
	lib_gate_wait(&e->sync, &e->inside);
	if (e->how == BY_CANCEL)
		pthread_cancel(t);
	pthread_join(t, &ret);
	if (ret != expected)
		watch_fail(2, "the window's thread ended with %p, not %p", ret, expected);
}

LIB_EMPTY_FIXTURE(escape)

FIXTURE_VARIANT(escape) {
	enum way_out how;
	bool write, nested;
};

#define ESCAPE_VARIANTS(name, way) \
	FIXTURE_VARIANT_ADD(escape, name##_read) { .how = (way) }; \
	FIXTURE_VARIANT_ADD(escape, name##_write) { .how = (way), .write = true }; \
	FIXTURE_VARIANT_ADD(escape, name##_nested_read) { .how = (way), .nested = true }; \
	FIXTURE_VARIANT_ADD(escape, name##_nested_write) { .how = (way), .write = true, \
							   .nested = true }

ESCAPE_VARIANTS(longjmp, BY_LONGJMP);
ESCAPE_VARIANTS(siglongjmp, BY_SIGLONGJMP);
ESCAPE_VARIANTS(throw, BY_THROW);
ESCAPE_VARIANTS(cancel, BY_CANCEL);
ESCAPE_VARIANTS(exit, BY_EXIT);

/*
 * In the child.  A (pattern 81) is 32 bytes, a slot with keys, and B
 * (pattern 82) 10000, pages of its own; C (pattern 83) is for the later
 * window.  The calls after the way out are made from this function, the
 * one that opened the windows: the thread's next call is never deeper
 * than the windows that were left.
 */
static int escape_child(const void *arg)
{
	const FIXTURE_VARIANT(escape) *v = arg;
	static struct smem_secret *c;
	static const unsigned char *pa, *pb;
	static unsigned int seed_c = 83;
	struct closer cl;
	struct sigaction sa = { .sa_handler = escape_handler };
	struct escaper *e = &escaper;
	pthread_t t;
	size_t left;
	int r, ret = 0, code = 0;

	e->how = v->how;
	e->write = v->write;
	e->nested = v->nested;
	e->sync = (struct lib_gate)LIB_GATE_INIT;
	watch_step("make A, B and C");
	e->a = lib_new_pattern(32, 81);
	e->b = lib_new_pattern(10000, 82);
	c = lib_new_pattern(48, 83);
	if (!e->a || !e->b || !c)
		watch_fail(1, "smem_secret_new failed");
	pa = lib_address(e->a);
	pb = lib_address(e->b);
	if (!pa || !pb)
		watch_fail(1, "no address");

	watch_step("a %s window on A%s left by %s", v->write ? "write" : "read",
		   v->nested ? " with one on B in it" : "", way_out_name[v->how]);
	switch (v->how) {
	case BY_LONGJMP:
		if (!setjmp(e->jenv)) {
			r = open_and_leave(e);
			watch_fail(2, "the window returned %d", r);
		}
		break;
	case BY_SIGLONGJMP:
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		if (!sigsetjmp(e->senv, 1)) {
			r = open_and_leave(e);
			watch_fail(2, "the window returned %d", r);
		}
		break;
	case BY_THROW:
		r = lib_window_throw(e->a, v->nested ? e->b : NULL, v->write, &ret);
		if (r == 1)
			watch_fail(2, "the window returned %d, the exception did not come out", ret);
		if (r)
			watch_fail(2, "another exception than the one thrown came out");
		break;
	case BY_CANCEL:
	case BY_EXIT:
		leave_in_thread(e);
		break;
	}

	watch_step("a window on C after the way out, from the same thread");
	r = smem_secret_read(c, lib_check_fn, &seed_c);
	if (r)
		watch_fail(3, "it returned %d", r);
	if (lib_has_windows()) {
		watch_step("touch A and B after that window");
		if (!lib_probe_read(pa, &code))
			watch_fail(4, "this thread still reads A: its key was left open");
		if (!lib_probe_read(pb, &code))
			watch_fail(4, "this thread still reads B: its key was left open");
	}

	watch_step("close A and B from another thread");
	cl = (struct closer){ .s = { e->a, e->b }, .result = { 1, 1 } };
	if (pthread_create(&t, NULL, close_both, &cl))
		watch_fail(5, "pthread_create failed");
	pthread_join(t, NULL);
	if (cl.result[0] || cl.result[1])
		watch_fail(5, "closing A: %d (%s), closing B: %d (%s): the access still counts",
			   cl.result[0], strerror(-cl.result[0]), cl.result[1],
			   strerror(-cl.result[1]));

	watch_step("A's and B's bytes after the close");
	left = bytes_left(pa, 32);
	if (left)
		watch_fail(6, "%zu of A's 32 bytes are not zero", left);
	left = bytes_left(pb, 10000);
	if (left)
		watch_fail(6, "%zu of B's 10000 bytes are not zero", left);

	watch_step("close C");
	r = smem_secret_close_timeout(c, 2000);
	if (r)
		watch_fail(7, "close of C: %d", r);
	return 0;
}

TEST_F(escape, window_ends)
{
	char report[512];

	(void)self;
	EXPECT_EQ(0, watch_run(escape_child, variant, report, sizeof(report)))
		TH_LOG("%s", report);
}

/* ------------------------------------------------ -ELOOP beyond the limit */

#define NEST_TRIES	(SMEM_MAX_NESTING + 8)

struct deep {
	struct smem_secret *s[NEST_TRIES];
	bool write, same;
	int depth, deepest;
	int ret[NEST_TRIES];		/* what the window at depth i + 1 returned */
};

static int deeper(struct deep *d);

CALLBACKS(deeper)

/* The window at depth i: secret i, or the same one every time. */
static int open_at(struct deep *d, int i)
{
	return WINDOW(d->write, d->s[d->same ? 0 : i], deeper, d);
}

static int deeper(struct deep *d)
{
	int depth = ++d->depth;

	if (depth > d->deepest)
		d->deepest = depth;
	if (depth < NEST_TRIES)
		d->ret[depth] = open_at(d, depth);
	d->depth--;
	return 0;
}

FIXTURE(deep) {
	struct deep d;
};

FIXTURE_VARIANT(deep) {
	bool write, same;
};

FIXTURE_VARIANT_ADD(deep, reads) { };
FIXTURE_VARIANT_ADD(deep, writes) { .write = true };
FIXTURE_VARIANT_ADD(deep, reads_of_one) { .same = true };
FIXTURE_VARIANT_ADD(deep, writes_of_one) { .write = true, .same = true };

FIXTURE_SETUP(deep)
{
	int i;

	self->d.write = variant->write;
	self->d.same = variant->same;
	for (i = 0; i < (variant->same ? 1 : NEST_TRIES); i++) {
		self->d.s[i] = lib_new_pattern(32, 90 + i);
		ASSERT_NE(NULL, self->d.s[i]);
	}
}

FIXTURE_TEARDOWN(deep)
{
	int i;

	for (i = 0; i < NEST_TRIES; i++)
		smem_secret_unref(self->d.s[i]);
}

TEST_F(deep, eloop_beyond_max_nesting)
{
	struct deep *d = &self->d;
	unsigned int seed = 90;
	int i, code = 0;

	d->ret[0] = open_at(d, 0);
	for (i = 0; i < SMEM_MAX_NESTING; i++)
		EXPECT_EQ(0, d->ret[i]) TH_LOG("window at depth %d", i + 1);
	EXPECT_EQ(-ELOOP, d->ret[SMEM_MAX_NESTING])
		TH_LOG("window at depth %d: %d", SMEM_MAX_NESTING + 1, d->ret[SMEM_MAX_NESTING]);
	EXPECT_EQ(SMEM_MAX_NESTING, d->deepest);
	EXPECT_EQ(0, d->depth);
	/* Every level was ended: later windows work, keys are closed. */
	EXPECT_EQ(0, smem_secret_read(d->s[0], lib_check_fn, &seed));
	if (lib_has_windows()) {
		EXPECT_EQ(SIGSEGV, lib_probe_read(lib_address(d->s[0]), &code));
		EXPECT_EQ(SEGV_PKUERR, code);
	}
	for (i = 0; i < (variant->same ? 1 : NEST_TRIES); i++)
		EXPECT_EQ(0, smem_secret_close_timeout(d->s[i], 2000)) TH_LOG("secret %d", i);
}

/* ------------------------------------- -ECANCELED for a negative result */

static int return_value(const int *value)
{
	return *value;
}

CALLBACKS(return_value)

struct inner_result {
	struct smem_secret *s;
	int value, inner;
};

static int nested_negative(struct inner_result *n)
{
	n->inner = smem_secret_read(n->s, return_value_read_fn, &n->value);
	return 5;
}

CALLBACKS(nested_negative)

TEST(negative_callback_result_is_ecanceled)
{
	static int negative[] = { -1, -EBADF, -EINVAL, -ECANCELED, -ELOOP, INT_MIN };
	static int positive[] = { 0, 1, 7, INT_MAX };
	static const size_t lens[] = { 32, 10000 };
	struct smem_secret *s;
	size_t i, l;

	for (l = 0; l < ARRAY_SIZE(lens); l++) {
		struct inner_result n = { .value = -EIO, .inner = 0 };

		s = n.s = lib_new_pattern(lens[l], 51);
		ASSERT_NE(NULL, s);
		for (i = 0; i < ARRAY_SIZE(negative); i++) {
			EXPECT_EQ(-ECANCELED, smem_secret_read(s, return_value_read_fn, &negative[i]))
				TH_LOG("read callback returned %d (%zu bytes)", negative[i], lens[l]);
			EXPECT_EQ(-ECANCELED, smem_secret_write(s, return_value_write_fn, &negative[i]))
				TH_LOG("write callback returned %d (%zu bytes)", negative[i], lens[l]);
		}
		for (i = 0; i < ARRAY_SIZE(positive); i++) {
			EXPECT_EQ(positive[i], smem_secret_read(s, return_value_read_fn, &positive[i]));
			EXPECT_EQ(positive[i], smem_secret_write(s, return_value_write_fn, &positive[i]));
		}
		for (i = 0; i < 2; i++) {
			n.inner = 0;
			EXPECT_EQ(5, WINDOW(i, s, nested_negative, &n));
			EXPECT_EQ(-ECANCELED, n.inner) TH_LOG("a read callback in a %s returned -EIO",
							      i ? "write" : "read");
		}
		/* Every window ended: the close does not wait. */
		EXPECT_EQ(0, smem_secret_close_timeout(s, 1000));
		smem_secret_unref(s);
	}
}

TEST_HARNESS_MAIN
