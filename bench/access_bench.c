// SPDX-License-Identifier: GPL-2.0
/*
 * access_bench: what a window on a secret costs (open, touch one byte,
 * close), beside what it is made of, in one run.
 *
 * Each backend (kmod where /dev/smem exists, memfd_secret, mlock), with
 * and without protection keys where the CPU has them, runs in a child
 * process of its own: libsmem reads SMEM_BACKEND and SMEM_NO_PKEYS once.
 * A child measures four sections, read and write windows on 32-byte and
 * 4 KiB secrets, each with its anchors, timed interleaved (bench.h):
 *
 *   floor             the callback on ordinary memory: what a window
 *                     would cost if protection were free;
 *   mprotect pair     mprotect(READ or READ|WRITE) then mprotect(NONE)
 *                     of a locked page: a window without keys is this;
 *   sodium pair       libsodium's sodium_mprotect_readonly/readwrite and
 *                     sodium_mprotect_noaccess: what libsodium users pay;
 *   WRPKRU pair       a bare allow and deny of a key of our own (where the
 *                     library uses keys): a window with keys is this;
 *   lone window       smem_secret_read/write, one thread (N = 1), with
 *                     the default erase, with SMEM_WINDOW_NO_SCRUB and
 *                     with SMEM_WINDOW_SCRUB_KIB(8); the cost of the
 *                     erase is the paired difference, a value row;
 *   nested            a window inside a window of the same secret;
 *   overlapping       another thread holds a window on the same secret;
 *   N threads         N threads at once (2 and the count of CPUs), each
 *                     on a secret of its own, and all on one secret: ns
 *                     per window in each thread; and N threads each with
 *                     mprotect pairs on a page of its own, against the
 *                     lone pair: what the machine's TLB shootdowns make of
 *                     the mechanism under a window without keys;
 *   linger            without keys, read windows on secrets given a linger
 *                     of LINGER_US (smem_secret_linger()), alone and in N
 *                     threads each on its own: the pages stay readable
 *                     between windows, and the closer thread closes them
 *                     when a secret goes LINGER_US without one.
 *
 * The library's windows are judged against the mechanism under them:
 * the mprotect pair without keys, the WRPKRU pair with them; the thread
 * rows without keys against N threads' mprotect pairs, with keys against
 * the lone window (what running beside other threads adds).
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <smem.h>
#include <sodium.h>

#include "bench.h"

#define MAX_THREADS	64
#define MAX_ROWS	24
#define PAGE		4096
#define LINGER_US	1000

/* ---------------------------------------------------------- anchors */

static int read_fn(const void *buf, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	return *(const volatile unsigned char *)buf;
}

static int write_fn(void *buf, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	++*(volatile unsigned char *)buf;
	return 0;
}

/* What a section works on: its kind of window and its memory. */
struct target {
	bool write;
	size_t size;
	unsigned char *plain;	/* ordinary memory, for the floor */
	unsigned char *page;	/* locked, PROT_NONE but in the mprotect pair */
	void *sodium;		/* sodium_malloc(size), no access */
	struct smem_secret *secret;
};

/*
 * A locked page, no access, between two guard pages as a secret's are.
 * Alone, a locked PROT_NONE page merges with its neighbours of the same
 * kind (another thread's anchor page), and every mprotect() pair then
 * splits and merges mappings: in the VM that cost 3-5x a secret's window.
 */
static unsigned char *anchor_page(void)
{
	unsigned char *p = mmap(NULL, 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + PAGE, PAGE, PROT_READ | PROT_WRITE) ||
	    mlock(p + PAGE, PAGE) || mprotect(p + PAGE, PAGE, PROT_NONE))
		bench_fail("a locked page for the mprotect pairs", errno);
	return p + PAGE;
}

static void anchor_page_free(unsigned char *page)
{
	munmap(page - PAGE, 3 * PAGE);
}

static int touch(const struct target *t, unsigned char *buf)
{
	return t->write ? write_fn(buf, t->size, NULL) : read_fn(buf, t->size, NULL);
}

/* The callback through a function pointer, as the library calls it. */
static void floor_ops(void *ctx, unsigned int n)
{
	struct target *t = ctx;
	int (*volatile rfn)(const void *, size_t, void *) = read_fn;
	int (*volatile wfn)(void *, size_t, void *) = write_fn;

	while (n--)
		if (t->write)
			wfn(t->plain, t->size, NULL);
		else
			rfn(t->plain, t->size, NULL);
}

static void mprotect_ops(void *ctx, unsigned int n)
{
	struct target *t = ctx;
	int prot = t->write ? PROT_READ | PROT_WRITE : PROT_READ;

	while (n--) {
		if (mprotect(t->page, PAGE, prot))
			bench_fail("mprotect", errno);
		touch(t, t->page);
		if (mprotect(t->page, PAGE, PROT_NONE))
			bench_fail("mprotect", errno);
	}
}

static void sodium_ops(void *ctx, unsigned int n)
{
	struct target *t = ctx;

	while (n--) {
		if (t->write ? sodium_mprotect_readwrite(t->sodium) :
			       sodium_mprotect_readonly(t->sodium))
			bench_fail("sodium_mprotect", errno);
		touch(t, t->sodium);
		if (sodium_mprotect_noaccess(t->sodium))
			bench_fail("sodium_mprotect_noaccess", errno);
	}
}

#if defined(__x86_64__)
static struct {
	int key;
	volatile unsigned char *page;
	uint32_t allow, deny;
} wrpkru_anchor = { .key = -1 };

static void wrpkru(uint32_t pkru)
{
	__asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(pkru), "c"(0), "d"(0) : "memory");
}

static uint32_t rdpkru(void)
{
	uint32_t eax, edx;

	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static void wrpkru_ops(void *ctx, unsigned int n)
{
	struct target *t = ctx;

	while (n--) {
		wrpkru(wrpkru_anchor.allow);
		touch(t, (unsigned char *)wrpkru_anchor.page);
		wrpkru(wrpkru_anchor.deny);
	}
}

/* A key of this process's own, denied but inside the pair; false without keys. */
static bool wrpkru_setup(void)
{
	int key = pkey_alloc(0, 0);
	uint32_t bits;

	if (key < 0)
		return false;
	wrpkru_anchor.page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (wrpkru_anchor.page == MAP_FAILED ||
	    pkey_mprotect((void *)wrpkru_anchor.page, PAGE, PROT_READ | PROT_WRITE, key))
		bench_fail("a page with a key of its own", errno);
	bits = 3U << (2 * key);
	wrpkru_anchor.key = key;
	wrpkru_anchor.deny = rdpkru() | bits;
	wrpkru_anchor.allow = wrpkru_anchor.deny & ~bits;
	return true;
}
#else
static void wrpkru_ops(void *ctx, unsigned int n)
{
	(void)ctx;
	(void)n;
}

static bool wrpkru_setup(void)
{
	return false;
}
#endif

/* ---------------------------------------------------------- windows */

static int window(struct smem_secret *s, bool write, unsigned int flags)
{
	return write ? smem_secret_write_flags(s, write_fn, NULL, flags) :
		       smem_secret_read_flags(s, read_fn, NULL, flags);
}

static void windows(struct smem_secret *s, bool write, unsigned int flags, unsigned int n)
{
	int ret;

	while (n--) {
		ret = window(s, write, flags);
		if (ret < 0)
			bench_fail(write ? "smem_secret_write" : "smem_secret_read", -ret);
	}
}

static void lone_ops(void *ctx, unsigned int n)
{
	struct target *t = ctx;

	windows(t->secret, t->write, 0, n);
}

static void no_scrub_ops(void *ctx, unsigned int n)
{
	struct target *t = ctx;

	windows(t->secret, t->write, SMEM_WINDOW_NO_SCRUB, n);
}

static void scrub8_ops(void *ctx, unsigned int n)
{
	struct target *t = ctx;

	windows(t->secret, t->write, SMEM_WINDOW_SCRUB_KIB(8), n);
}

/* Nested: the inner windows are timed inside one outer window. */
struct nested_call {
	struct target *t;
	unsigned int n;
	double ns;
};

static int nested_inner(struct nested_call *c)
{
	double start = bench_now_ns();

	windows(c->t->secret, c->t->write, 0, c->n);
	c->ns = (bench_now_ns() - start) / c->n;
	return 0;
}

static int nested_read_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	return nested_inner(arg);
}

static int nested_write_fn(void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	return nested_inner(arg);
}

static double nested_ops(void *ctx, unsigned int n)
{
	struct nested_call c = { .t = ctx, .n = n };
	int ret;

	ret = c.t->write ? smem_secret_write(c.t->secret, nested_write_fn, &c) :
			   smem_secret_read(c.t->secret, nested_read_fn, &c);
	if (ret < 0)
		bench_fail("the outer window", -ret);
	return c.ns;
}

/* ----------------------------------------------------------- threads */

static long futex(atomic_uint *word, int op, unsigned int val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/*
 * Threads that wait, parked on a futex, for a round: then each arrives,
 * all start together, run their windows and time them.  The caller is
 * member 0.
 */
enum team_kind {
	TEAM_WINDOWS,		/* each member's windows on its secret */
	TEAM_HOLD,		/* member 1 holds a window while member 0 runs */
	TEAM_MPROTECT,		/* each member's mprotect pairs on a page of its own */
};

struct team {
	int n;
	bool write;
	enum team_kind kind;
	struct smem_secret *secret[MAX_THREADS];
	struct target page[MAX_THREADS];	/* TEAM_MPROTECT: the page only */
	pthread_t tid[MAX_THREADS];
	atomic_uint generation, arrived, done, release;
	unsigned int count;
	double ns[MAX_THREADS];
	bool lingering;		/* the secrets have a linger: open them first */
	bool stop;
};

struct member {
	struct team *team;
	int index;
};

static struct member members[MAX_THREADS * 8];
static int nmembers;

static void team_run(struct team *t, int i)
{
	double start;

	/*
	 * The other rows' batches run between two of this row's, for longer
	 * than a linger under TCG: the pages are closed again by then.  One
	 * window first, untimed, so that the row measures windows that come
	 * within the linger of each other, as it says.
	 */
	if (t->lingering)
		windows(t->secret[i], t->write, 0, 1);
	atomic_fetch_add(&t->arrived, 1);
	while ((int)atomic_load(&t->arrived) < t->n)
		;
	start = bench_now_ns();
	if (t->kind == TEAM_MPROTECT)
		mprotect_ops(&t->page[i], t->count);
	else
		windows(t->secret[i], t->write, 0, t->count);
	t->ns[i] = (bench_now_ns() - start) / t->count;
}

static int hold_fn(const void *buf, size_t len, void *arg)
{
	struct team *t = arg;

	(void)buf;
	(void)len;
	atomic_fetch_add(&t->arrived, 1);
	while (!atomic_load(&t->release))
		;
	return 0;
}

static void *member_thread(void *arg)
{
	struct member *m = arg;
	struct team *t = m->team;
	unsigned int seen = 0, gen;

	for (;;) {
		while ((gen = atomic_load(&t->generation)) == seen)
			futex(&t->generation, FUTEX_WAIT_PRIVATE, seen);
		seen = gen;
		if (t->stop)
			return NULL;
		if (t->kind == TEAM_HOLD) {
			int ret = smem_secret_read(t->secret[0], hold_fn, t);

			if (ret < 0)
				bench_fail("holding a window", -ret);
		} else {
			team_run(t, m->index);
		}
		atomic_fetch_add(&t->done, 1);
	}
}

static void team_start(struct team *t)
{
	for (int i = 1; i < t->n; i++) {
		struct member *m = &members[nmembers++];

		*m = (struct member){ .team = t, .index = i };
		if (pthread_create(&t->tid[i], NULL, member_thread, m))
			bench_fail("pthread_create", EAGAIN);
	}
}

static void team_stop(struct team *t)
{
	t->stop = true;
	atomic_fetch_add(&t->generation, 1);
	futex(&t->generation, FUTEX_WAKE_PRIVATE, INT32_MAX);
	for (int i = 1; i < t->n; i++)
		pthread_join(t->tid[i], NULL);
}

static void team_wake(struct team *t, unsigned int count)
{
	t->count = count;
	atomic_store(&t->arrived, 0);
	atomic_store(&t->done, 0);
	atomic_store(&t->release, 0);
	atomic_fetch_add(&t->generation, 1);
	futex(&t->generation, FUTEX_WAKE_PRIVATE, INT32_MAX);
}

/* ns per window in each thread, averaged over the threads. */
static double team_ops(void *ctx, unsigned int n)
{
	struct team *t = ctx;
	double sum = 0;

	team_wake(t, n);
	team_run(t, 0);
	while ((int)atomic_load(&t->done) < t->n - 1)
		;
	for (int i = 0; i < t->n; i++)
		sum += t->ns[i];
	return sum / t->n;
}

/* Overlapping: member 1 holds a read window on the secret while member 0 times its own. */
static double overlap_ops(void *ctx, unsigned int n)
{
	struct team *t = ctx;
	double start, ns;

	team_wake(t, n);
	while (!atomic_load(&t->arrived))
		;
	start = bench_now_ns();
	windows(t->secret[0], t->write, 0, n);
	ns = (bench_now_ns() - start) / n;
	atomic_store(&t->release, 1);
	while (!atomic_load(&t->done))
		;
	return ns;
}

/* ---------------------------------------------------------- sections */

struct child {
	bool keys;		/* the library uses protection keys */
	int cpus;
	struct team teams[12];
	int nteams;
	char names[MAX_ROWS][64];
};

static struct team *new_team(struct child *c, const struct target *t, int n, bool shared,
			     enum team_kind kind)
{
	struct team *team = &c->teams[c->nteams++];
	int i, err;

	*team = (struct team){ .n = n, .write = t->write, .kind = kind };
	for (i = 0; i < n; i++) {
		if (kind == TEAM_MPROTECT) {
			struct target *p = &team->page[i];

			*p = (struct target){ .write = t->write, .size = t->size,
					      .page = anchor_page() };
			continue;
		}
		if (shared || kind == TEAM_HOLD) {
			team->secret[i] = smem_secret_ref(t->secret);
			continue;
		}
		err = smem_secret_new_random(t->size, 0, &team->secret[i]);
		if (err)
			bench_fail("smem_secret_new_random", -err);
	}
	team_start(team);
	return team;
}

/* The team's secrets linger: LINGER_US. */
static struct team *lingering(struct team *team)
{
	team->lingering = true;
	for (int i = 0; i < team->n; i++) {
		int err = smem_secret_linger(team->secret[i], LINGER_US);

		if (err)
			bench_fail("smem_secret_linger", -err);
	}
	return team;
}

static void free_teams(struct child *c)
{
	for (int k = 0; k < c->nteams; k++) {
		team_stop(&c->teams[k]);
		for (int i = 0; i < c->teams[k].n; i++) {
			if (c->teams[k].kind == TEAM_MPROTECT)
				anchor_page_free(c->teams[k].page[i].page);
			else
				smem_secret_unref(c->teams[k].secret[i]);
		}
	}
	c->nteams = 0;
	nmembers = 0;
}

static void target_setup(struct target *t, bool write, size_t size)
{
	int err;

	t->write = write;
	t->size = size;
	t->plain = calloc(1, size);
	if (!t->plain)
		bench_fail("calloc", ENOMEM);
	t->page = anchor_page();
	t->sodium = sodium_malloc(size);
	if (!t->sodium || sodium_mprotect_noaccess(t->sodium))
		bench_fail("sodium_malloc", errno);
	err = smem_secret_new_random(size, 0, &t->secret);
	if (err)
		bench_fail("smem_secret_new_random", -err);
}

static void target_free(struct target *t)
{
	free(t->plain);
	anchor_page_free(t->page);
	sodium_free(t->sodium);
	smem_secret_unref(t->secret);
}

static void section(struct child *c, bool write, size_t size)
{
	struct bench_row rows[MAX_ROWS];
	struct target t;
	char title[64];
	const int threads[] = { 2, c->cpus };
	int n = 0, mech, lone, no_scrub = -1;

	target_setup(&t, write, size);
	snprintf(title, sizeof(title), "%s %s", write ? "write" : "read",
		 size == 32 ? "32 B" : "4 KiB");
#define ROW(...) (rows[n] = (struct bench_row){ __VA_ARGS__ }, n++)
	ROW(.name = "floor: callback on ordinary memory", .run = floor_ops, .ctx = &t,
	    .anchor = -1);
	ROW(.name = "mprotect pair", .run = mprotect_ops, .ctx = &t, .anchor = -1);
	mech = 1;
	ROW(.name = "sodium_mprotect pair", .run = sodium_ops, .ctx = &t, .anchor = 1);
	if (c->keys) {
		mech = ROW(.name = "WRPKRU pair", .run = wrpkru_ops, .ctx = &t, .anchor = -1);
		rows[2].anchor = mech;
	}
	lone = ROW(.name = "lone window", .run = lone_ops, .ctx = &t, .anchor = mech,
		   .guard = true);
	if (size == 32) {
		no_scrub = ROW(.name = "lone window, SMEM_WINDOW_NO_SCRUB", .run = no_scrub_ops,
			       .ctx = &t, .anchor = mech, .guard = true);
		ROW(.name = "lone window, SMEM_WINDOW_SCRUB_KIB(8)", .run = scrub8_ops, .ctx = &t,
		    .anchor = mech);
	}
	/*
	 * Without keys these take no system call: against the mprotect pair
	 * their ratio would follow that pair's cost, which moves tenfold on
	 * a shared machine.  The floor moves with the CPU alone.  Guarded
	 * on 32 bytes only: on 4 KiB under TCG they moved 2-3x between runs.
	 */
	ROW(.name = "nested window", .run_timed = nested_ops, .ctx = &t, .anchor = 0,
	    .guard = size == 32);
	if (!write)
		ROW(.name = "overlapping window (another thread inside)",
		    .run_timed = overlap_ops, .ctx = new_team(c, &t, 2, true, TEAM_HOLD),
		    .anchor = 0, .guard = size == 32);
	for (int k = 0; k < 2; k++) {
		int nt = threads[k], team;

		if (nt < 2 || (k && nt == threads[0]) || nt > MAX_THREADS)
			continue;
		/*
		 * What the machine makes of the mechanism under a window in N
		 * threads.  Without keys it is the thread rows' anchor: what
		 * their cross-CPU TLB flushes cost moves from 1x to 10x the lone
		 * pair with the machine's state, within one run; the library's
		 * share of it does not.
		 */
		snprintf(c->names[n], sizeof(c->names[n]), "%d threads, an mprotect pair each", nt);
		team = ROW(.name = c->names[n], .run_timed = team_ops,
			   .ctx = new_team(c, &t, nt, false, TEAM_MPROTECT), .anchor = 1);
		if (c->keys)
			team = lone;
		/*
		 * Guarded where the ratio holds from run to run on a shared
		 * host: reads on secrets of their own.  On one secret the
		 * threads' windows overlap or not as their timing falls (0.4x
		 * to 1.3x here from run to run), and writes wait for each other.
		 */
		snprintf(c->names[n], sizeof(c->names[n]), "%d threads, a secret each", nt);
		ROW(.name = c->names[n], .run_timed = team_ops,
		    .ctx = new_team(c, &t, nt, false, TEAM_WINDOWS), .anchor = team,
		    .guard = !write);
		snprintf(c->names[n], sizeof(c->names[n]), "%d threads, one secret", nt);
		ROW(.name = c->names[n], .run_timed = team_ops,
		    .ctx = new_team(c, &t, nt, true, TEAM_WINDOWS), .anchor = team);
		/*
		 * Against the floor, as the windows that take no system call.
		 * Not guarded: the threads meet on the closer's lock, at a cost
		 * that moves with how their windows fall.
		 */
		if (!c->keys && !write) {
			snprintf(c->names[n], sizeof(c->names[n]),
				 "%d threads, a secret each, linger %d us", nt, LINGER_US);
			ROW(.name = c->names[n], .run_timed = team_ops,
			    .ctx = lingering(new_team(c, &t, nt, false, TEAM_WINDOWS)),
			    .anchor = 0);
		}
	}
	if (!c->keys && !write) {
		snprintf(c->names[n], sizeof(c->names[n]), "lone window, linger %d us", LINGER_US);
		ROW(.name = c->names[n], .run_timed = team_ops,
		    .ctx = lingering(new_team(c, &t, 1, false, TEAM_WINDOWS)), .anchor = 0,
		    .guard = true);
	}
#undef ROW
	bench_section(title, rows, n);
	if (no_scrub >= 0)
		bench_value(title, "erase at close: lone window minus NO_SCRUB",
			    bench_difference(&rows[lone], &rows[no_scrub]), "ns", NULL,
			    "median over the rounds of the paired difference");
	bench_rows_free(rows, n);
	free_teams(c);
	target_free(&t);
}

static int child_main(int argc, char **argv, const struct smem_info *info)
{
	struct child c = { .cpus = (int)sysconf(_SC_NPROCESSORS_ONLN) };

	(void)argc;
	(void)argv;
	c.keys = info->guarantees & SMEM_G_THREAD_WINDOW;
	if (c.keys && !wrpkru_setup())
		bench_fail("pkey_alloc beside the library's keys", errno);
	for (int size = 32; size <= PAGE; size *= 128)
		for (int write = 0; write < 2; write++)
			section(&c, write, size);
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	argc = bench_init("access_bench", argc, argv, 1.0, 4.0);
	if (sodium_init() < 0)
		bench_fail("sodium_init", ENOSYS);
	if (argc != 1 && (argc != 2 || strcmp(argv[1], "--child"))) {
		fprintf(stderr, "usage: access_bench [--quick] [--json] [--seconds S] "
			"[--backend B]\n");
		return 2;
	}
	ret = bench_each_config(argc, argv, child_main);
	bench_end();
	return ret;
}
