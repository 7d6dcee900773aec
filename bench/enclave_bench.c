// SPDX-License-Identifier: GPL-2.0
/*
 * enclave_bench: what an enclave costs beside a secret: sealing and
 * reading 32 bytes, and holding a million of them at once.
 *
 * Each backend (kmod where /dev/smem exists, memfd_secret, mlock; --backend
 * B for one alone), with and without protection keys where the CPU has
 * them, runs in a child process of its own (bench_each_config()): libsmem
 * reads SMEM_BACKEND and SMEM_NO_PKEYS once.  A child measures three
 * sections.  The rows of the first two are timed interleaved (bench.h).
 *
 * "seal 32 B":
 *   smem_enclave_new + unref         32 bytes (SMEM_KEEP_SOURCE) sealed into
 *                                    a new enclave, dropped again: a window
 *                                    on the thread's scratch secret (the
 *                                    process key is there), a nonce, the
 *                                    encryption, a malloc and a free.  Its
 *                                    anchor is the next row (guarded): the
 *                                    reason to seal is to hold bytes for
 *                                    less than a secret of their own costs;
 *   smem_secret_new + unref          the same 32 bytes into a new secret,
 *                                    closed by its last reference; anchor
 *                                    sodium_malloc, what an application
 *                                    without libsmem pays for a guarded key;
 *   sodium_malloc + sodium_free      libsodium's guarded allocation of 32;
 *   mprotect pair                    mprotect(READ), one byte read,
 *                                    mprotect(NONE) on a locked page: a
 *                                    window without keys, which a seal opens
 *                                    (its cost moves tenfold on a shared
 *                                    machine: hence measured here again);
 *   randombytes_buf, 24-byte nonce   a seal's nonce alone; anchor the floor;
 *   floor: XChaCha20-Poly1305 encrypt
 *                                    libsodium's bare encryption of 32 bytes
 *                                    with 16 of associated data, as the
 *                                    library seals: the crypto under a seal.
 *
 * "read 32 B" (each callback reads one byte):
 *   smem_enclave_read                unsealed into the thread's scratch in a
 *                                    window, the callback, the scratch wiped,
 *                                    the stack below and the registers
 *                                    erased; anchor the next row (guarded):
 *                                    what reading bytes sealed costs over
 *                                    reading them from a secret of their own;
 *   smem_secret_read                 a read window on a 32-byte secret;
 *                                    anchor the mprotect pair, the mechanism
 *                                    under a window without keys;
 *   mprotect pair                    as above;
 *   floor: XChaCha20-Poly1305 decrypt
 *                                    the bare decryption of 32 bytes.
 *
 * "scale 32 B": 1,000,000 enclaves of 32 bytes kept live (--quick 50,000,
 * --scale N), or as many as were made before the first failure; figures,
 * not times of an interleaved section:
 *   enclaves live (limit N)          the count, the error that stopped it
 *                                    in the detail (guarded: higher is
 *                                    better; the limit is in the name, so
 *                                    that a quick run is compared with a
 *                                    quick run);
 *   time to make one                 the median over runs of SCALE_CHUNK of
 *                                    the time per enclave (wall clock), p99
 *                                    and the thread's CPU time in the detail;
 *   time to make one, over smem_enclave_new + unref
 *                                    each run's CPU time per enclave over that
 *                                    of SCALE_REF seals + unrefs timed right
 *                                    after it, the median over the runs (the
 *                                    first and last tenth, and the same on
 *                                    the wall clock, in the detail): about 1
 *                                    when the enclaves already live do not
 *                                    slow the next one down.  CPU time: on a
 *                                    loaded machine a run of tens of ms is
 *                                    scheduled out where the few seals after
 *                                    it are not, and the wall clock's ratio
 *                                    follows the load (2 at a load of 8 on
 *                                    2 CPUs);
 *   heap bytes per enclave           the growth of malloc's bytes in use
 *                                    (mallinfo2) over the count (guarded:
 *                                    lower); smem.h promises 40 bytes more
 *                                    than the sealed bytes, in one allocation;
 *   resident bytes per enclave       the growth of the resident set
 *                                    (/proc/self/statm) over the count
 *                                    (guarded: lower);
 *   mappings added, VmLck added      /proc/self/maps lines and VmLck, after
 *                                    against before (guarded: lower; none
 *                                    should appear: the process key and the
 *                                    scratch exist before, made by the first
 *                                    sections, and an enclave has no secret
 *                                    memory of its own);
 *   one smem_rekey()                 its time over all of them, in seconds;
 *   read back after the rekey        of VERIFY_SAMPLE enclaves spread over all
 *                                    of them, how many read back what was
 *                                    sealed (guarded: higher);
 *   time to unref one                the unref of every enclave, per enclave.
 * The pointer array is touched before the first sample, so that only the
 * enclaves count.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <smem.h>
#include <sodium.h>

#include "bench.h"

#define QUICK_S		1.0
#define FULL_S		4.0

#define SIZE		32
#define PAGE		4096
#define NONCE_SIZE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_SIZE	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_SIZE		16	/* the library binds an enclave's identity and size */
/* smem.h: an enclave costs "40 bytes more than the sealed bytes". */
#define ENCLAVE_HEADER	40

#define SCALE		1000000
#define QUICK_SCALE	50000
/* Enclaves made per timed run: the noise of a shared machine shows between runs. */
#define SCALE_CHUNK	1000
/* Seals and unrefs timed after each run: the seal row's cost at that moment. */
#define SCALE_REF	20
/* Enclaves read back after the rekey, spread over all of them. */
#define VERIFY_SAMPLE	1000

#define SCALE_SECTION	"scale 32 B"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* What the rows work on. */
struct work {
	unsigned char data[SIZE];	/* random, not secret: sealed and stored */
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char nonce[NONCE_SIZE];
	unsigned char fresh_nonce[NONCE_SIZE];
	unsigned char ad[AD_SIZE];
	unsigned char tag[TAG_SIZE];
	unsigned char sealed[SIZE];
	unsigned char opened[SIZE];
	struct smem_enclave *enclave;
	struct smem_secret *secret;
	unsigned char *page;		/* locked, no access but in the mprotect pair */
	bool keys;			/* the library's windows are per-thread keys */
};

/* ------------------------------------------------------------- rows */

static void enclave_new_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;
	struct smem_enclave *e;
	int err;

	while (n--) {
		err = smem_enclave_new(w->data, SIZE, SMEM_KEEP_SOURCE, &e);
		if (err)
			bench_fail("smem_enclave_new", -err);
		smem_enclave_unref(e);
	}
}

static void secret_new_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;
	struct smem_secret *s;
	int err;

	while (n--) {
		err = smem_secret_new(w->data, SIZE, SMEM_KEEP_SOURCE, &s);
		if (err)
			bench_fail("smem_secret_new", -err);
		smem_secret_unref(s);
	}
}

static void sodium_malloc_ops(void *ctx, unsigned int n)
{
	void *p;

	(void)ctx;
	while (n--) {
		p = sodium_malloc(SIZE);
		if (!p)
			bench_fail("sodium_malloc", errno);
		sodium_free(p);
	}
}

static void mprotect_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;

	while (n--) {
		if (mprotect(w->page, PAGE, PROT_READ))
			bench_fail("mprotect", errno);
		(void)*(volatile unsigned char *)w->page;
		if (mprotect(w->page, PAGE, PROT_NONE))
			bench_fail("mprotect", errno);
	}
}

static void nonce_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;

	while (n--)
		randombytes_buf(w->fresh_nonce, sizeof(w->fresh_nonce));
}

/* As the library seals: detached, the associated data its 16 bytes. */
static void encrypt_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;

	while (n--)
		if (crypto_aead_xchacha20poly1305_ietf_encrypt_detached(w->sealed, w->tag, NULL,
									w->data, SIZE, w->ad,
									AD_SIZE, NULL, w->nonce,
									w->key))
			bench_fail("crypto_aead_xchacha20poly1305_ietf_encrypt_detached", EIO);
}

static void decrypt_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;

	while (n--)
		if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(w->opened, NULL, w->sealed,
									SIZE, w->tag, w->ad,
									AD_SIZE, w->nonce,
									w->key))
			bench_fail("crypto_aead_xchacha20poly1305_ietf_decrypt_detached",
				   EBADMSG);
}

/* The callback of both reads: one byte, as a reader that uses the bytes would. */
static int touch_fn(const void *buf, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	return *(const volatile unsigned char *)buf;
}

static void enclave_read_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;
	int ret;

	while (n--) {
		ret = smem_enclave_read(w->enclave, touch_fn, NULL);
		if (ret < 0)
			bench_fail("smem_enclave_read", -ret);
	}
}

static void secret_read_ops(void *ctx, unsigned int n)
{
	struct work *w = ctx;
	int ret;

	while (n--) {
		ret = smem_secret_read(w->secret, touch_fn, NULL);
		if (ret < 0)
			bench_fail("smem_secret_read", -ret);
	}
}

/* --------------------------------------------------------- sections */

static void seal_section(struct work *w)
{
	struct bench_row rows[] = {
		/*
		 * Guarded against what a seal is made of, not against a new
		 * secret: on memfd_secret a new secret's cost follows how
		 * much of the direct map is split already (0.10x to 0.25x a
		 * seal between two runs on one host).  Without keys a seal is
		 * one window, an mprotect pair; with keys the cipher decides.
		 */
		{ .name = "smem_enclave_new + unref", .run = enclave_new_ops, .ctx = w,
		  .anchor = w->keys ? 5 : 3, .guard = true },
		{ .name = "smem_secret_new + unref", .run = secret_new_ops, .ctx = w,
		  .anchor = 2 },
		{ .name = "sodium_malloc + sodium_free", .run = sodium_malloc_ops, .ctx = w,
		  .anchor = -1 },
		{ .name = "mprotect pair", .run = mprotect_ops, .ctx = w, .anchor = -1 },
		{ .name = "randombytes_buf, 24-byte nonce", .run = nonce_ops, .ctx = w,
		  .anchor = 5 },
		{ .name = "floor: XChaCha20-Poly1305 encrypt", .run = encrypt_ops, .ctx = w,
		  .anchor = -1 },
	};

	bench_section("seal 32 B", rows, ARRAY_SIZE(rows));
	bench_rows_free(rows, ARRAY_SIZE(rows));
}

static void read_section(struct work *w)
{
	struct bench_row rows[] = {
		{ .name = "smem_enclave_read", .run = enclave_read_ops, .ctx = w, .anchor = 1,
		  .guard = true },
		{ .name = "smem_secret_read", .run = secret_read_ops, .ctx = w, .anchor = 2 },
		{ .name = "mprotect pair", .run = mprotect_ops, .ctx = w, .anchor = -1 },
		{ .name = "floor: XChaCha20-Poly1305 decrypt", .run = decrypt_ops, .ctx = w,
		  .anchor = -1 },
	};
	int err;

	err = smem_enclave_new(w->data, SIZE, SMEM_KEEP_SOURCE, &w->enclave);
	if (err)
		bench_fail("smem_enclave_new", -err);
	err = smem_secret_new(w->data, SIZE, SMEM_KEEP_SOURCE, &w->secret);
	if (err)
		bench_fail("smem_secret_new", -err);
	/* What the decryption row opens. */
	encrypt_ops(w, 1);
	bench_section("read 32 B", rows, ARRAY_SIZE(rows));
	bench_rows_free(rows, ARRAY_SIZE(rows));
	w->enclave = smem_enclave_unref(w->enclave);
	w->secret = smem_secret_unref(w->secret);
}

/* ------------------------------------------------------------ scale */

/* Enclave @i seals the bench's data with @i in its first bytes. */
static void pattern(const struct work *w, unsigned char *buf, size_t i)
{
	uint64_t v = i;

	memcpy(buf, w->data, SIZE);
	memcpy(buf, &v, sizeof(v));
}

static int check_fn(const void *buf, size_t len, void *arg)
{
	return len != SIZE || memcmp(buf, arg, SIZE) ? 1 : 0;
}

/* The thread's CPU time: what a run cost, whatever else ran on the machine meanwhile. */
static double cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		bench_fail("clock_gettime(CLOCK_THREAD_CPUTIME_ID)", errno);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The runs of SCALE_CHUNK while the enclaves were made, by run. */
struct runs {
	double *ns;		/* per enclave, wall clock */
	double *cpu;		/* per enclave, CPU time */
	double *ratio;		/* CPU time over the seal row's operation right after the run */
	double *wall_ratio;	/* the same on the wall clock */
	size_t n;
};

static void runs_alloc(struct runs *r, size_t scale)
{
	size_t max = scale / SCALE_CHUNK + 1;
	double *v = malloc(4 * max * sizeof(*v));

	if (!v)
		bench_fail("malloc", ENOMEM);
	*r = (struct runs){ .ns = v, .cpu = v + max, .ratio = v + 2 * max,
			    .wall_ratio = v + 3 * max };
}

static void make_figures(const struct runs *r, double make_s, size_t made)
{
	double median, p99, cpu, wall, early, late;
	size_t tenth = r->n / 10 ? r->n / 10 : 1;
	char detail[240];

	if (!r->n) {
		snprintf(detail, sizeof(detail), "fewer than %d: the mean, %.3f s in all",
			 SCALE_CHUNK, make_s);
		bench_value(SCALE_SECTION, "time to make one", make_s * 1e9 / made, "ns", NULL,
			    detail);
		return;
	}
	bench_percentiles(r->cpu, r->n, &cpu, &p99);
	bench_percentiles(r->ns, r->n, &median, &p99);
	snprintf(detail, sizeof(detail), "median over %zu runs of %d; p99 %.0f ns; %.3f s in "
		 "all; CPU time %.0f ns", r->n, SCALE_CHUNK, p99, make_s, cpu);
	bench_value(SCALE_SECTION, "time to make one", median, "ns", NULL, detail);
	bench_percentiles(r->wall_ratio, r->n, &wall, &p99);
	bench_percentiles(r->ratio, tenth, &early, &p99);
	bench_percentiles(r->ratio + r->n - tenth, tenth, &late, &p99);
	bench_percentiles(r->ratio, r->n, &median, &p99);
	snprintf(detail, sizeof(detail), "CPU time of each run over %d seals + unrefs right "
		 "after it; p99 %.2f; first tenth %.2f, last %.2f; wall clock %.2f", SCALE_REF,
		 p99, early, late, wall);
	bench_value(SCALE_SECTION, "time to make one, over smem_enclave_new + unref", median, "",
		    NULL, detail);
}

static void scale_section(struct work *w, size_t scale)
{
	struct smem_enclave **all = malloc(scale * sizeof(*all));
	size_t made, checked = 0, good = 0, step;
	double t, c, make_s = 0, rekey_s, free_s;
	struct bench_mem before, after, freed;
	unsigned char buf[SIZE];
	int err = 0, rekeyed, ret, read_err = 0;
	char row[64], detail[200];
	struct runs runs;

	if (!all)
		bench_fail("malloc", ENOMEM);
	runs_alloc(&runs, scale);
	/* Resident before the baseline: only the enclaves count. */
	memset(all, 0, scale * sizeof(*all));
	bench_mem_sample(&before);
	for (made = 0; made < scale && !err;) {
		size_t first = made, end = scale - made > SCALE_CHUNK ? made + SCALE_CHUNK : scale;

		t = bench_now_ns();
		c = cpu_ns();
		for (; made < end; made++) {
			pattern(w, buf, made);
			err = smem_enclave_new(buf, SIZE, 0, &all[made]);
			if (err)
				break;
		}
		c = cpu_ns() - c;
		t = bench_now_ns() - t;
		make_s += t / 1e9;
		if (made - first < SCALE_CHUNK)
			continue;
		runs.ns[runs.n] = t / SCALE_CHUNK;
		runs.cpu[runs.n] = c / SCALE_CHUNK;
		/*
		 * The seal row's operation right after.  On a loaded machine a run
		 * (tens of ms) is scheduled out more often than these few: hence
		 * the ratio of CPU times, that of the wall clock in the detail.
		 */
		t = bench_now_ns();
		c = cpu_ns();
		enclave_new_ops(w, SCALE_REF);
		c = cpu_ns() - c;
		t = bench_now_ns() - t;
		runs.ratio[runs.n] = runs.cpu[runs.n] / (c / SCALE_REF);
		runs.wall_ratio[runs.n] = runs.ns[runs.n] / (t / SCALE_REF);
		runs.n++;
	}
	bench_mem_sample(&after);
	if (!made)
		bench_fail("smem_enclave_new", -err);

	t = bench_now_ns();
	rekeyed = smem_rekey();
	rekey_s = (bench_now_ns() - t) / 1e9;
	/* Unexpected but where the memory ran out: then the rows say so. */
	if (rekeyed < 0 && !err)
		bench_fail("smem_rekey", -rekeyed);

	step = made > VERIFY_SAMPLE ? made / VERIFY_SAMPLE : 1;
	for (size_t i = 0; i < made && checked < VERIFY_SAMPLE; i += step) {
		pattern(w, buf, i);
		checked++;
		ret = smem_enclave_read(all[i], check_fn, buf);
		if (!ret)
			good++;
		else if (ret < 0 && !read_err)
			read_err = ret;
	}

	t = bench_now_ns();
	for (size_t i = 0; i < made; i++)
		smem_enclave_unref(all[i]);
	free_s = (bench_now_ns() - t) / 1e9;
	bench_mem_sample(&freed);
	free(all);

	/* The limit in the name: a quick run's count is compared with a quick run's. */
	snprintf(row, sizeof(row), "enclaves live (limit %zu)", scale);
	snprintf(detail, sizeof(detail), "%s%s", err ? "first failure: " : "no failure",
		 err ? strerror(-err) : "");
	bench_value(SCALE_SECTION, row, (double)made, "", "higher", detail);
	make_figures(&runs, make_s, made);
	free(runs.ns);
	snprintf(detail, sizeof(detail), "mallinfo2 %+.1f MiB; %zu asked of malloc each "
		 "(%d + %u + %u + %d)", ((double)after.heap - (double)before.heap) / (1 << 20),
		 (size_t)ENCLAVE_HEADER + NONCE_SIZE + TAG_SIZE + SIZE, ENCLAVE_HEADER, NONCE_SIZE,
		 TAG_SIZE, SIZE);
	bench_value(SCALE_SECTION, "heap bytes per enclave",
		    ((double)after.heap - (double)before.heap) / made, "B", "lower", detail);
	snprintf(detail, sizeof(detail), "/proc/self/statm %+.1f MiB",
		 ((double)after.resident - (double)before.resident) / (1 << 20));
	bench_value(SCALE_SECTION, "resident bytes per enclave",
		    ((double)after.resident - (double)before.resident) / made, "B", "lower",
		    detail);
	snprintf(detail, sizeof(detail), "/proc/self/maps %zu before, %zu after; of them "
		 "memfd_secret or /dev/smem %zu before, %zu after", before.maps, after.maps,
		 before.secret_maps, after.secret_maps);
	bench_value(SCALE_SECTION, "mappings added", (double)after.maps - before.maps, "",
		    "lower", detail);
	snprintf(detail, sizeof(detail), "%zu KiB before, %zu KiB after", before.locked_kib,
		 after.locked_kib);
	bench_value(SCALE_SECTION, "VmLck added",
		    (double)after.locked_kib - (double)before.locked_kib, "KiB", "lower", detail);
	if (rekeyed < 0) {
		snprintf(detail, sizeof(detail), "failed: %s", strerror(-rekeyed));
		bench_skip(SCALE_SECTION, "one smem_rekey()", detail);
	} else {
		snprintf(detail, sizeof(detail), "%.0f ns per enclave; returned %d",
			 rekey_s * 1e9 / made, rekeyed);
		bench_value(SCALE_SECTION, "one smem_rekey()", rekey_s, "s", NULL, detail);
	}
	snprintf(detail, sizeof(detail), "of %zu sampled enclaves%s%s", checked,
		 read_err ? "; first error: " : "", read_err ? strerror(-read_err) : "");
	bench_value(SCALE_SECTION, "read back after the rekey", (double)good, "", "higher",
		    detail);
	snprintf(detail, sizeof(detail), "%.3f s in all; then against before: heap %+.1f MiB, "
		 "mappings %+d", free_s, ((double)freed.heap - (double)before.heap) / (1 << 20),
		 (int)freed.maps - (int)before.maps);
	bench_value(SCALE_SECTION, "time to unref one", free_s * 1e9 / made, "ns", NULL, detail);
}

/* ------------------------------------------------------------ child */

static size_t scale_limit;	/* enclaves the scale section makes, at most */

/* In a child: the sections on what SMEM_BACKEND and SMEM_NO_PKEYS chose. */
static int child_main(int argc, char **argv, const struct smem_info *info)
{
	static struct work w;

	(void)argc;
	(void)argv;
	w.keys = info->guarantees & SMEM_G_THREAD_WINDOW;
	randombytes_buf(w.data, sizeof(w.data));
	crypto_aead_xchacha20poly1305_ietf_keygen(w.key);
	randombytes_buf(w.nonce, sizeof(w.nonce));
	randombytes_buf(w.ad, sizeof(w.ad));
	w.page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w.page == MAP_FAILED || mlock(w.page, PAGE) || mprotect(w.page, PAGE, PROT_NONE))
		bench_fail("a locked page for the mprotect pair", errno);
	seal_section(&w);
	read_section(&w);
	scale_section(&w, scale_limit);
	munmap(w.page, PAGE);
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	argc = bench_init("enclave_bench", argc, argv, QUICK_S, FULL_S);
	scale_limit = bench_count_option(argc, argv, "--scale", "enclave_bench [--quick] [--json] [--seconds S] [--backend B] [--scale N]");
	/* --scale wins over --quick's, whichever came first. */
	if (!scale_limit)
		scale_limit = bench_opt.quick ? QUICK_SCALE : SCALE;
	if (sodium_init() < 0)
		bench_fail("sodium_init", ENOSYS);
	ret = bench_each_config(argc, argv, child_main);
	bench_end();
	return ret;
}
