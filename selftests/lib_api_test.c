// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem: the whole public API on whatever backend this process gets
 * (run it with SMEM_BACKEND=kmod|memfd_secret|mlock and SMEM_NO_PKEYS=1 to
 * cover each), every call with bad arguments, and the protection the
 * backend promises: bytes unreachable outside callbacks, read-only in
 * read callbacks, guard pages, the canary.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

/* ------------------------------------------------------------------ info */

TEST(info_describes_backend)
{
	const char *forced = getenv("SMEM_BACKEND");
	struct smem_info info;
	unsigned int base = SMEM_G_LOCKED | SMEM_G_NO_DUMP | SMEM_G_NO_FORK;

	ASSERT_EQ(0, smem_info(&info));
	EXPECT_EQ((size_t)sysconf(_SC_PAGESIZE), info.page_size);
	ASSERT_NE(NULL, info.backend_name);
	if (forced && *forced)
		EXPECT_STREQ(forced, info.backend_name);
	EXPECT_EQ(base, info.guarantees & base);
	EXPECT_EQ(0, info.required);
	switch (info.backend) {
	case SMEM_BACKEND_KMOD:
		EXPECT_STREQ("kmod", info.backend_name);
		EXPECT_TRUE(info.guarantees & SMEM_G_NO_GUP);
		break;
	case SMEM_BACKEND_MEMFD_SECRET:
		EXPECT_STREQ("memfd_secret", info.backend_name);
		EXPECT_EQ(SMEM_G_NO_DIRECT_MAP | SMEM_G_NO_GUP,
			  info.guarantees & (SMEM_G_NO_DIRECT_MAP | SMEM_G_NO_GUP | SMEM_G_SHAREABLE));
		break;
	case SMEM_BACKEND_MLOCK:
		EXPECT_STREQ("mlock", info.backend_name);
		EXPECT_EQ(0, info.guarantees & (SMEM_G_NO_DIRECT_MAP | SMEM_G_NO_GUP | SMEM_G_SHAREABLE));
		break;
	default:
		ASSERT_TRUE(0) TH_LOG("unknown backend %d", info.backend);
	}
	TH_LOG("backend %s, guarantees %#x", info.backend_name, info.guarantees);
}

TEST(info_null)
{
	EXPECT_EQ(-EINVAL, smem_info(NULL));
}

/* The environment is read once, at first use: each test is a fresh process. */
TEST(backend_unknown_name_fails_everything)
{
	struct smem_secret *s = NULL;
	struct smem_info info;
	char data[8] = "abcdefg";

	setenv("SMEM_BACKEND", "swap", 1);
	EXPECT_EQ(-EINVAL, smem_info(&info));
	EXPECT_EQ(-EINVAL, smem_secret_new(data, sizeof(data), 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new_random(16, 0, &s));
	EXPECT_EQ(-EINVAL, smem_require(0));
	EXPECT_EQ(NULL, s);
	EXPECT_EQ('a', data[0]);
}

/* A backend this machine lacks: kmod without /dev/smem, memfd_secret when it is off. */
static const char *missing_backend(void)
{
	long fd;

	if (access("/dev/smem", F_OK))
		return "kmod";
#ifdef SYS_memfd_secret
	fd = syscall(SYS_memfd_secret, 0);
	if (fd >= 0) {
		close((int)fd);
		return NULL;
	}
	return "memfd_secret";
#else
	(void)fd;
	return NULL;
#endif
}

TEST(backend_forced_missing_never_downgrades)
{
	const char *missing = missing_backend();
	struct smem_secret *s = NULL;
	struct smem_info info;

	if (!missing)
		SKIP(return, "every backend is available here");
	TH_LOG("forcing %s", missing);
	setenv("SMEM_BACKEND", missing, 1);
	EXPECT_EQ(-ENODEV, smem_info(&info));
	EXPECT_EQ(-ENODEV, smem_secret_new_random(16, 0, &s));
	EXPECT_EQ(NULL, s);
}

TEST(backend_forced_mlock)
{
	struct smem_info info;

	setenv("SMEM_BACKEND", "mlock", 1);
	ASSERT_EQ(0, smem_info(&info));
	EXPECT_EQ(SMEM_BACKEND_MLOCK, info.backend);
}

TEST(no_pkeys_turns_windows_off)
{
	setenv("SMEM_NO_PKEYS", "1", 1);
	EXPECT_FALSE(lib_has_windows());
}

/* --------------------------------------------------------------- require */

TEST(require)
{
	unsigned int g = lib_guarantees();
	unsigned int missing = ~g & (SMEM_G_NO_DIRECT_MAP | SMEM_G_NO_GUP |
				     SMEM_G_THREAD_WINDOW | SMEM_G_SHAREABLE);
	struct smem_secret *s = NULL;
	struct smem_info info;

	EXPECT_EQ(-EINVAL, smem_require(1U << 31));
	EXPECT_EQ(0, smem_require(0));
	EXPECT_EQ(0, smem_require(SMEM_G_LOCKED | SMEM_G_NO_DUMP));
	ASSERT_EQ(0, smem_info(&info));
	EXPECT_EQ(SMEM_G_LOCKED | SMEM_G_NO_DUMP, info.required);

	/* Per call. */
	EXPECT_EQ(0, smem_secret_new_random(16, SMEM_REQUIRE(g), &s));
	smem_secret_unref(s);
	s = NULL;
	if (!missing)
		SKIP(return, "backend %s gives every guarantee", info.backend_name);
	EXPECT_EQ(-ENOTSUP, smem_secret_new_random(16, SMEM_REQUIRE(missing), &s));
	EXPECT_EQ(NULL, s);

	/* Process-wide: refused, and not recorded. */
	EXPECT_EQ(-ENOTSUP, smem_require(missing));
	ASSERT_EQ(0, smem_info(&info));
	EXPECT_EQ(SMEM_G_LOCKED | SMEM_G_NO_DUMP, info.required);
	EXPECT_EQ(0, smem_secret_new_random(16, 0, &s));
	smem_secret_unref(s);
}

/* --------------------------------------------------------------- create */

FIXTURE(sized) {
	unsigned char *src;
	struct smem_secret *s;
};

FIXTURE_VARIANT(sized) {
	size_t len;
};

/* Sizes around the arena's size classes and the page size. */
FIXTURE_VARIANT_ADD(sized, b1) { .len = 1 };
FIXTURE_VARIANT_ADD(sized, b32) { .len = 32 };
FIXTURE_VARIANT_ADD(sized, b100) { .len = 100 };
FIXTURE_VARIANT_ADD(sized, b2048) { .len = 2048 };
FIXTURE_VARIANT_ADD(sized, b2049) { .len = 2049 };
FIXTURE_VARIANT_ADD(sized, b4080) { .len = 4080 };
FIXTURE_VARIANT_ADD(sized, b4096) { .len = 4096 };
FIXTURE_VARIANT_ADD(sized, b70000) { .len = 70000 };

FIXTURE_SETUP(sized)
{
	self->src = malloc(variant->len);
	ASSERT_NE(NULL, self->src);
	lib_fill(self->src, variant->len, 7);
	ASSERT_EQ(0, smem_secret_new(self->src, variant->len, SMEM_KEEP_SOURCE, &self->s));
}

FIXTURE_TEARDOWN(sized)
{
	smem_secret_unref(self->s);
	free(self->src);
}

TEST_F(sized, read_returns_the_bytes)
{
	unsigned char *out = calloc(1, variant->len);

	ASSERT_NE(NULL, out);
	EXPECT_EQ((int)variant->len, smem_secret_read(self->s, lib_copy_fn, out));
	EXPECT_EQ(0, memcmp(out, self->src, variant->len));
	EXPECT_EQ(variant->len, smem_secret_size(self->s));
	free(out);
}

TEST_F(sized, write_then_read)
{
	unsigned int seed = 99;

	lib_fill(self->src, variant->len, seed);
	EXPECT_EQ(0, smem_secret_write(self->s, lib_store_fn, self->src));
	EXPECT_EQ(0, smem_secret_read(self->s, lib_check_fn, &seed));
}

TEST_F(sized, copy_out_ranges)
{
	size_t len = variant->len, half = len / 2;
	unsigned char *out = calloc(1, len + 8);

	ASSERT_NE(NULL, out);
	EXPECT_EQ((ssize_t)len, smem_secret_copy_out(self->s, 0, out, len + 8));
	EXPECT_EQ(0, memcmp(out, self->src, len));
	memset(out, 0, len);
	EXPECT_EQ((ssize_t)(len - half), smem_secret_copy_out(self->s, half, out, len));
	EXPECT_EQ(0, memcmp(out, self->src + half, len - half));
	EXPECT_EQ(1, smem_secret_copy_out(self->s, len - 1, out, 1));
	EXPECT_EQ(self->src[len - 1], out[0]);
	EXPECT_EQ(0, smem_secret_copy_out(self->s, len, out, 1));
	EXPECT_EQ(0, smem_secret_copy_out(self->s, 0, out, 0));
	EXPECT_EQ(-EINVAL, smem_secret_copy_out(self->s, len + 1, out, 1));
	EXPECT_EQ(-EINVAL, smem_secret_copy_out(self->s, SIZE_MAX, out, 1));
	EXPECT_EQ(-EINVAL, smem_secret_copy_out(self->s, 0, NULL, 1));
	EXPECT_EQ(-EINVAL, smem_secret_copy_out(NULL, 0, out, 1));
	free(out);
}

/* The protection promised: nothing outside a callback, nothing written in a read. */
TEST_F(sized, unreachable_outside_callbacks)
{
	const unsigned char *p = lib_address(self->s);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(SIGSEGV, lib_probe_read(p, NULL));
	EXPECT_EQ(SIGSEGV, lib_probe_read(p + variant->len - 1, NULL));
	EXPECT_EQ(SIGSEGV, lib_probe_write((unsigned char *)p, NULL));
}

static int write_in_read_fn(const void *buf, size_t len, void *arg)
{
	int *sig = arg;
	unsigned char first = *(const unsigned char *)buf;

	sig[0] = lib_probe_write((unsigned char *)buf, NULL);
	sig[1] = lib_probe_write((unsigned char *)buf + len - 1, NULL);
	/* Still readable after the faults. */
	return *(const volatile unsigned char *)buf == first ? 0 : -1;
}

TEST_F(sized, read_callback_is_read_only)
{
	int sig[2] = { -1, -1 };

	EXPECT_EQ(0, smem_secret_read(self->s, write_in_read_fn, sig));
	EXPECT_EQ(SIGSEGV, sig[0]);
	EXPECT_EQ(SIGSEGV, sig[1]);
	EXPECT_EQ(1, smem_secret_copy_out(self->s, 0, self->src, 1));
}

TEST(new_wipes_source)
{
	unsigned char data[48], zero[48] = { 0 }, out[48];
	struct smem_secret *s;

	lib_fill(data, sizeof(data), 3);
	ASSERT_EQ(0, smem_secret_new(data, sizeof(data), 0, &s));
	EXPECT_EQ(0, memcmp(data, zero, sizeof(data)));
	EXPECT_EQ((int)sizeof(out), smem_secret_read(s, lib_copy_fn, out));
	lib_fill(data, sizeof(data), 3);
	EXPECT_EQ(0, memcmp(data, out, sizeof(data)));
	smem_secret_unref(s);
}

TEST(new_bad_arguments)
{
	struct smem_secret *s = NULL;
	unsigned char data[16] = { 1, 2, 3 };

	EXPECT_EQ(-EINVAL, smem_secret_new(NULL, 16, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new(data, 0, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new(data, SMEM_SECRET_MAX_SIZE + 1, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new(data, SIZE_MAX, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new(data, sizeof(data), 0, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_new(data, sizeof(data), 1U << 5, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new(data, sizeof(data), 1U << 31, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new_random(0, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new_random(SIZE_MAX, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_new_random(16, 0, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_new_random(16, SMEM_KEEP_SOURCE, &s));
	EXPECT_EQ(NULL, s);
	/* Nothing was wiped by the failures. */
	EXPECT_EQ(1, data[0]);
}

static int all_zero_fn(const void *buf, size_t len, void *arg)
{
	const unsigned char *p = buf;

	(void)arg;
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

TEST(new_random)
{
	unsigned char a[32], b[32];
	struct smem_secret *s1, *s2;

	ASSERT_EQ(0, smem_secret_new_random(sizeof(a), 0, &s1));
	ASSERT_EQ(0, smem_secret_new_random(sizeof(b), 0, &s2));
	EXPECT_EQ(0, smem_secret_read(s1, all_zero_fn, NULL));
	EXPECT_EQ((int)sizeof(a), smem_secret_read(s1, lib_copy_fn, a));
	EXPECT_EQ((int)sizeof(b), smem_secret_read(s2, lib_copy_fn, b));
	EXPECT_NE(0, memcmp(a, b, sizeof(a)));
	EXPECT_EQ(sizeof(a), smem_secret_size(s1));
	smem_secret_unref(s1);
	smem_secret_unref(s2);
}

/* Without keys on kmod each secret holds a descriptor: stay under 1024. */
TEST(many_small_secrets)
{
	enum { N = 600 };
	struct smem_secret **s = calloc(N, sizeof(*s));
	unsigned int i, bad = 0;

	ASSERT_NE(NULL, s);
	for (i = 0; i < N; i++) {
		s[i] = lib_new_pattern(32, i);
		ASSERT_NE(NULL, s[i]) TH_LOG("secret %u", i);
	}
	for (i = 0; i < N; i++)
		bad += smem_secret_read(s[i], lib_check_fn, &i) != 0;
	EXPECT_EQ(0, bad);
	/* Free every other one, make them again: slots are reused, wiped. */
	for (i = 0; i < N; i += 2) {
		smem_secret_unref(s[i]);
		s[i] = lib_new_pattern(32, i + N);
		ASSERT_NE(NULL, s[i]);
	}
	for (i = 0; i < N; i++) {
		unsigned int seed = i % 2 ? i : i + N;

		bad += smem_secret_read(s[i], lib_check_fn, &seed) != 0;
		smem_secret_unref(s[i]);
	}
	EXPECT_EQ(0, bad);
	free(s);
}

/* Many to a page only where keys isolate them; otherwise pages of their own. */
/*
 * With keys, small secrets share pages, but only with secrets of the same
 * key: a window on one opens its page to the thread.  The library holds
 * at most 15 keys, so among 20 secrets some share a key, and a page.
 */
#define SHARING_SECRETS	20

TEST(small_secrets_share_pages_only_with_keys)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct smem_secret *s[SHARING_SECRETS];
	uintptr_t addr[SHARING_SECRETS];
	int key[SHARING_SECRETS], shared = 0;
	char perms[5];
	unsigned int i, j;

	for (i = 0; i < SHARING_SECRETS; i++) {
		s[i] = lib_new_pattern(32, i + 1);
		ASSERT_NE(NULL, s[i]);
		addr[i] = (uintptr_t)lib_address(s[i]);
		key[i] = lib_page_pkey((const void *)addr[i], perms);
	}
	for (i = 0; i < SHARING_SECRETS; i++) {
		for (j = i + 1; j < SHARING_SECRETS; j++) {
			uintptr_t gap = addr[i] > addr[j] ? addr[i] - addr[j] : addr[j] - addr[i];

			if (!lib_has_windows()) {
				/* Apart, with at least a guard page between them. */
				EXPECT_LT(page, gap);
				continue;
			}
			EXPECT_LE(32, gap);
			if (addr[i] / page != addr[j] / page)
				continue;
			shared++;
			EXPECT_EQ(key[i], key[j]) TH_LOG("secrets %u and %u share a page", i, j);
		}
	}
	if (lib_has_windows())
		EXPECT_LT(0, shared);
	for (i = 0; i < SHARING_SECRETS; i++)
		smem_secret_unref(s[i]);
}

/* ---------------------------------------------------------------- access */

static int return_arg_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	return (int)(intptr_t)arg;
}

TEST(read_returns_callback_result)
{
	struct smem_secret *s;

	ASSERT_EQ(0, smem_secret_new_random(24, 0, &s));
	EXPECT_EQ(0, smem_secret_read(s, return_arg_fn, (void *)0));
	EXPECT_EQ(12345, smem_secret_read(s, return_arg_fn, (void *)12345));
	/* A negative result is the library's: the callback's is -ECANCELED. */
	EXPECT_EQ(-ECANCELED, smem_secret_read(s, return_arg_fn, (void *)-77));
	EXPECT_EQ(-ECANCELED, smem_secret_read(s, return_arg_fn, (void *)-EBADF));
	/* A failing callback closes the window all the same. */
	EXPECT_EQ(SIGSEGV, lib_probe_read(lib_address(s), NULL));
	smem_secret_unref(s);
}

TEST(access_bad_arguments)
{
	struct smem_secret *s;

	ASSERT_EQ(0, smem_secret_new_random(24, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_read(NULL, return_arg_fn, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_read(s, NULL, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_write(NULL, lib_store_fn, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_write(s, NULL, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_close(NULL));
	EXPECT_EQ(-EINVAL, smem_secret_close_timeout(NULL, 10));
	EXPECT_EQ(-EINVAL, smem_secret_export_fd(NULL));
	EXPECT_EQ(0, smem_secret_size(NULL));
	EXPECT_TRUE(smem_secret_is_closed(NULL));
	EXPECT_EQ(NULL, smem_secret_ref(NULL));
	EXPECT_EQ(NULL, smem_secret_unref(NULL));
	smem_secret_unref(s);
}

struct nest {
	struct smem_secret *s, *other;
	int inner;
	int sig;
};

static int nested_read_fn(const void *buf, size_t len, void *arg)
{
	struct nest *n = arg;
	unsigned char first = *(const unsigned char *)buf;

	(void)len;
	n->inner = smem_secret_read(n->s, return_arg_fn, (void *)5);
	/* The outer window is still open for this thread. */
	return *(const volatile unsigned char *)buf == first ? 1 : -1;
}

static int write_in_read_nested_fn(const void *buf, size_t len, void *arg)
{
	struct nest *n = arg;

	(void)buf;
	(void)len;
	n->inner = smem_secret_write(n->s, lib_store_fn, NULL);
	return 1;
}

static int read_in_write_fn(void *buf, size_t len, void *arg)
{
	struct nest *n = arg;

	(void)len;
	n->inner = smem_secret_read(n->s, return_arg_fn, (void *)6);
	/* Back in the write window: still writable. */
	n->sig = lib_probe_write(buf, NULL);
	return 2;
}

static int zero_fn(void *buf, size_t len, void *arg)
{
	(void)arg;
	memset(buf, 0, len);
	return 3;
}

static int write_in_write_fn(void *buf, size_t len, void *arg)
{
	struct nest *n = arg;

	(void)buf;
	(void)len;
	n->inner = smem_secret_write(n->s, zero_fn, NULL);
	return 4;
}

TEST(nested_access_same_thread)
{
	struct nest n = { .inner = -1, .sig = -1 };

	ASSERT_EQ(0, smem_secret_new_random(40, 0, &n.s));
	EXPECT_EQ(1, smem_secret_read(n.s, nested_read_fn, &n));
	EXPECT_EQ(5, n.inner);
	EXPECT_EQ(1, smem_secret_read(n.s, write_in_read_nested_fn, &n));
	EXPECT_EQ(-EDEADLK, n.inner);
	EXPECT_EQ(2, smem_secret_write(n.s, read_in_write_fn, &n));
	EXPECT_EQ(6, n.inner);
	EXPECT_EQ(0, n.sig);
	EXPECT_EQ(4, smem_secret_write(n.s, write_in_write_fn, &n));
	EXPECT_EQ(3, n.inner);
	EXPECT_EQ(1, smem_secret_read(n.s, all_zero_fn, NULL));
	/* Every window closed again. */
	EXPECT_EQ(SIGSEGV, lib_probe_read(lib_address(n.s), NULL));
	smem_secret_unref(n.s);
}

static int read_other_fn(const void *buf, size_t len, void *arg)
{
	struct nest *n = arg;
	const volatile unsigned char *p = buf;
	unsigned char c = p[0];

	(void)len;
	n->inner = smem_secret_copy_out(n->other, 0, &c, 1);
	/* Ours is still open after the other's window closed. */
	return p[0] == p[0] ? 1 : -1;
}

TEST(nested_access_other_secret)
{
	struct nest n = { .inner = -1 };

	ASSERT_EQ(0, smem_secret_new_random(16, 0, &n.s));
	ASSERT_EQ(0, smem_secret_new_random(5000, 0, &n.other));
	EXPECT_EQ(1, smem_secret_read(n.s, read_other_fn, &n));
	EXPECT_EQ(1, n.inner);
	EXPECT_EQ(SIGSEGV, lib_probe_read(lib_address(n.s), NULL));
	EXPECT_EQ(SIGSEGV, lib_probe_read(lib_address(n.other), NULL));
	smem_secret_unref(n.s);
	smem_secret_unref(n.other);
}

/*
 * The hot path makes no system call: with keys, any read or write window;
 * without, a read while another thread's read keeps the pages open.  The
 * accesses run in a thread under strict seccomp (read, write and exit
 * only): any other system call kills the child process.
 */
struct syscall_free {
	struct smem_secret *s;
	int report;
	bool windows;
};

static int sum_fn(const void *buf, size_t len, void *arg)
{
	const unsigned char *p = buf;
	unsigned int sum = 0;

	(void)arg;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (int)(sum & 0xffff);
}

static int bump_fn(void *buf, size_t len, void *arg)
{
	(void)arg;
	((unsigned char *)buf)[len - 1]++;
	return 0;
}

static void *strict_accesses(void *arg)
{
	struct syscall_free *sf = arg;
	char ok = 'y';
	int i;

	/*
	 * A thread's first window learns where its stack is, for the erase
	 * after the callback (pthread_getattr_np(): system calls, once).
	 */
	if (smem_secret_read(sf->s, sum_fn, NULL) < 0)
		ok = 'r';
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
		ok = 's';
	for (i = 0; i < 1000 && ok == 'y'; i++) {
		if (smem_secret_read(sf->s, sum_fn, NULL) < 0)
			ok = 'r';
		if (sf->windows && smem_secret_write(sf->s, bump_fn, NULL))
			ok = 'w';
	}
	if (write(sf->report, &ok, 1) != 1)
		ok = 'x';
	/* Not a return: glibc's thread exit makes calls strict mode forbids. */
	syscall(SYS_exit, 0);
	return NULL;
}

/* Keeps a read window open for good: the child process ends around it. */
struct holder {
	struct smem_secret *s;
	struct lib_gate sync;
	bool inside, never;
};

static int hold_forever_fn(const void *buf, size_t len, void *arg)
{
	struct holder *h = arg;

	(void)buf;
	(void)len;
	lib_gate_set(&h->sync, &h->inside);
	lib_gate_wait(&h->sync, &h->never);
	return 0;
}

static void *hold_forever(void *arg)
{
	struct holder *h = arg;

	smem_secret_read(h->s, hold_forever_fn, h);
	return NULL;
}

TEST(hot_path_makes_no_system_call)
{
	int report[2];
	char result = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(report));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct holder h = { .sync = LIB_GATE_INIT };
		struct syscall_free sf = { .report = report[1], .windows = lib_has_windows() };
		pthread_t holder, t;

		if (smem_secret_new_random(48, 0, &sf.s))
			_exit(1);
		if (!sf.windows) {
			h.s = sf.s;
			if (pthread_create(&holder, NULL, hold_forever, &h))
				_exit(2);
			lib_gate_wait(&h.sync, &h.inside);
		}
		if (pthread_create(&t, NULL, strict_accesses, &sf))
			_exit(3);
		pthread_join(t, NULL);
		_exit(0);
	}
	close(report[1]);
	EXPECT_EQ(1, read(report[0], &result, 1));
	EXPECT_EQ('y', result) TH_LOG("s: no seccomp, r: read failed, w: write failed");
	EXPECT_EQ(0, wait_child_timeout(pid, 30)) TH_LOG("137: killed for a system call");
	close(report[0]);
}

/* ------------------------------------------------------------- lifetime */

TEST(close_is_final_and_idempotent)
{
	struct smem_secret *s;
	unsigned char c;

	ASSERT_EQ(0, smem_secret_new_random(64, 0, &s));
	EXPECT_FALSE(smem_secret_is_closed(s));
	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_TRUE(smem_secret_is_closed(s));
	EXPECT_EQ(-EBADF, smem_secret_read(s, return_arg_fn, NULL));
	EXPECT_EQ(-EBADF, smem_secret_write(s, zero_fn, NULL));
	EXPECT_EQ(-EBADF, smem_secret_copy_out(s, 0, &c, 1));
	EXPECT_EQ(64, smem_secret_size(s));
	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_EQ(0, smem_secret_close_timeout(s, 0));
	smem_secret_unref(s);
}

TEST(references)
{
	struct smem_secret *s;

	ASSERT_EQ(0, smem_secret_new_random(8, 0, &s));
	EXPECT_EQ(s, smem_secret_ref(s));
	EXPECT_EQ(s, smem_secret_ref(s));
	EXPECT_EQ(NULL, smem_secret_unref(s));
	EXPECT_EQ(NULL, smem_secret_unref(s));
	/* One reference left: still open. */
	EXPECT_FALSE(smem_secret_is_closed(s));
	EXPECT_EQ(7, smem_secret_read(s, return_arg_fn, (void *)7));
	/* A closed secret can still be referenced. */
	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_EQ(s, smem_secret_ref(s));
	smem_secret_unref(s);
	smem_secret_unref(s);
}

static int close_inside_fn(const void *buf, size_t len, void *arg)
{
	struct nest *n = arg;
	const volatile unsigned char *p = buf;
	unsigned char first = p[0];

	(void)len;
	n->inner = smem_secret_close(n->s);
	n->sig = smem_secret_read(n->s, return_arg_fn, (void *)1);
	/* Our own window stays usable until we return. */
	return p[0] == first && smem_secret_is_closed(n->s) ? 9 : -1;
}

TEST(close_inside_callback)
{
	struct nest n = { .inner = -1 };

	ASSERT_EQ(0, smem_secret_new_random(100, 0, &n.s));
	EXPECT_EQ(9, smem_secret_read(n.s, close_inside_fn, &n));
	EXPECT_EQ(-EINPROGRESS, n.inner);
	EXPECT_EQ(-EBADF, n.sig);
	EXPECT_TRUE(smem_secret_is_closed(n.s));
	/* Finished when the access ended. */
	EXPECT_EQ(0, smem_secret_close_timeout(n.s, 0));
	EXPECT_EQ(-EBADF, smem_secret_read(n.s, return_arg_fn, NULL));
	smem_secret_unref(n.s);
}

static int close_inside_write_fn(void *buf, size_t len, void *arg)
{
	struct nest *n = arg;

	n->inner = smem_secret_close(n->s);
	memset(buf, 0xff, len);
	return 0;
}

TEST(close_inside_write_callback)
{
	struct nest n = { .inner = -1 };

	ASSERT_EQ(0, smem_secret_new_random(5000, 0, &n.s));
	EXPECT_EQ(0, smem_secret_write(n.s, close_inside_write_fn, &n));
	EXPECT_EQ(-EINPROGRESS, n.inner);
	EXPECT_EQ(0, smem_secret_close(n.s));
	smem_secret_unref(n.s);
}

static int unref_inside_fn(const void *buf, size_t len, void *arg)
{
	const volatile unsigned char *p = buf;
	unsigned char c = p[len - 1];

	/* The last reference: the object and the bytes outlive this callback. */
	smem_secret_unref(arg);
	return c == p[len - 1] ? 11 : -1;
}

TEST(unref_last_inside_callback)
{
	struct smem_secret *s;

	ASSERT_EQ(0, smem_secret_new_random(10, 0, &s));
	EXPECT_EQ(11, smem_secret_read(s, unref_inside_fn, s));
	ASSERT_EQ(0, smem_secret_new_random(9000, 0, &s));
	EXPECT_EQ(11, smem_secret_read(s, unref_inside_fn, s));
}

/* ------------------------------------------------------------ hardening */

static int overrun_fn(void *buf, size_t len, void *arg)
{
	long where = (long)(intptr_t)arg;

	((unsigned char *)buf)[where < 0 ? where : (long)len + where] ^= 0x80;
	return 0;
}

/* Secrets with pages of their own have a canary on each side. */
TEST(canary_detects_overrun)
{
	struct smem_secret *s;

	ASSERT_EQ(0, smem_secret_new_random(3001, 0, &s));
	EXPECT_EQ(0, smem_secret_write(s, overrun_fn, (void *)-1));
	EXPECT_EQ(-EFAULT, smem_secret_close(s));
	/* Same answer next time; the memory is gone all the same. */
	EXPECT_EQ(-EFAULT, smem_secret_close(s));
	smem_secret_unref(s);

	ASSERT_EQ(0, smem_secret_new_random(3001, 0, &s));
	EXPECT_EQ(0, smem_secret_write(s, overrun_fn, (void *)0));
	EXPECT_EQ(-EFAULT, smem_secret_close(s));
	smem_secret_unref(s);

	ASSERT_EQ(0, smem_secret_new_random(3001, 0, &s));
	EXPECT_EQ(0, smem_secret_close(s));
	smem_secret_unref(s);
}

static int guard_fn(void *buf, size_t len, void *arg)
{
	int *sig = arg;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *end = (unsigned char *)(((uintptr_t)buf + len + page - 1) & ~(page - 1));

	sig[0] = lib_probe_write(end, NULL);
	sig[1] = lib_probe_read(end, NULL);
	return 0;
}

TEST(guard_page_after_secret)
{
	struct smem_secret *s;
	int sig[2] = { -1, -1 };

	ASSERT_EQ(0, smem_secret_new_random(4096 + 100, 0, &s));
	EXPECT_EQ(0, smem_secret_write(s, guard_fn, sig));
	EXPECT_EQ(SIGSEGV, sig[0]);
	EXPECT_EQ(SIGSEGV, sig[1]);
	smem_secret_unref(s);
}

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[0].effective &= ~(1U << CAP_IPC_LOCK);
	data[0].permitted &= ~(1U << CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* Out of locked memory: an error from the call, never a signal later. */
TEST(memlock_exhaustion_is_an_error)
{
	struct rlimit lim = { 256 * 1024, 256 * 1024 };
	struct smem_secret *s[64];
	int i, err = 0, made = 0;

	ASSERT_EQ(0, smem_info(&(struct smem_info){ 0 }));
#ifdef __SANITIZE_ADDRESS__
	if (!strcmp(lib_backend(), "mlock"))
		SKIP(return, "AddressSanitizer turns mlock() into a no-op");
#endif
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &lim));
	/* CAP_IPC_LOCK ignores RLIMIT_MEMLOCK: drop it (this is a child process). */
	ASSERT_EQ(0, drop_ipc_lock());
	for (i = 0; i < 64 && !err; i++) {
		err = smem_secret_new_random(64 * 1024, 0, &s[i]);
		made += !err;
	}
	EXPECT_TRUE(err == -EAGAIN || err == -ENOMEM) TH_LOG("err %d after %d secrets", err, made);
	EXPECT_LT(made, 64);
	while (made--) {
		EXPECT_EQ(0, smem_secret_read(s[made], return_arg_fn, NULL));
		smem_secret_unref(s[made]);
	}
}

/* -------------------------------------------------------------- sharing */

TEST(export_import)
{
	struct smem_secret *s, *imp = NULL;
	unsigned char data[100], out[100];
	int fd, status;
	pid_t pid;

	lib_fill(data, sizeof(data), 5);
	ASSERT_EQ(0, smem_secret_new(data, sizeof(data), SMEM_KEEP_SOURCE, &s));
	fd = smem_secret_export_fd(s);
	if (!(lib_guarantees() & SMEM_G_SHAREABLE)) {
		/* What smem_secret_export_fd(3) promises where sharing is not given. */
		EXPECT_EQ(-ENOTSUP, fd);
		EXPECT_EQ(-EINVAL, smem_secret_import_fd(0, 0, &imp));
		EXPECT_EQ(NULL, imp);
		smem_secret_unref(s);
		return;
	}
	ASSERT_LE(0, fd) TH_LOG("export: %d", fd);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* A later write does not reach the copy. */
	EXPECT_EQ(3, smem_secret_write(s, zero_fn, NULL));

	ASSERT_EQ(0, smem_secret_import_fd(fd, 0, &imp));
	EXPECT_EQ(sizeof(data), smem_secret_size(imp));
	EXPECT_EQ((int)sizeof(out), smem_secret_read(imp, lib_copy_fn, out));
	EXPECT_EQ(0, memcmp(out, data, sizeof(data)));
	EXPECT_EQ(-EPERM, smem_secret_write(imp, zero_fn, NULL));
	EXPECT_EQ(SIGSEGV, lib_probe_read(lib_address(imp), NULL));

	/* Another process, the way a descriptor passed over a socket would be. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct smem_secret *c;

		if (smem_secret_import_fd(fd, 0, &c))
			_exit(1);
		memset(out, 0, sizeof(out));
		if (smem_secret_read(c, lib_copy_fn, out) != (int)sizeof(out))
			_exit(2);
		_exit(memcmp(out, data, sizeof(data)) ? 3 : smem_secret_close(c) ? 4 : 0);
	}
	status = wait_child_timeout(pid, 20);
	EXPECT_EQ(0, status);

	/* The original's close does not touch the copy. */
	EXPECT_EQ(0, smem_secret_close(s));
	EXPECT_EQ((int)sizeof(out), smem_secret_read(imp, lib_copy_fn, out));
	EXPECT_EQ(0, smem_secret_close(imp));
	EXPECT_EQ(-EBADF, smem_secret_export_fd(s));
	close(fd);
	smem_secret_unref(imp);
	smem_secret_unref(s);
}

TEST(import_bad_descriptors)
{
	struct smem_secret *s = NULL;
	int pipefd[2];

	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-EBADF, smem_secret_import_fd(-1, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_import_fd(pipefd[0], 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_import_fd(pipefd[0], 0, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_import_fd(pipefd[0], SMEM_KEEP_SOURCE, &s));
	EXPECT_EQ(NULL, s);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_HARNESS_MAIN
