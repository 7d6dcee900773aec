// SPDX-License-Identifier: GPL-2.0
/*
 * enclave_bench: what an enclave costs beside a secret, side by side, in
 * one run, on one backend (SMEM_BACKEND or --backend; SMEM_NO_PKEYS=1
 * turns protection keys off, as the library reads it).
 *
 *   seal   32 bytes: smem_enclave_new + smem_enclave_unref against
 *          smem_secret_new + smem_secret_unref (the last reference closes
 *          it), beside sodium_malloc + sodium_free, a bare
 *          mprotect(READ)/mprotect(NONE) pair (a window without keys), and
 *          the crypto floor under a seal: randombytes_buf of a nonce and a
 *          bare XChaCha20-Poly1305 encryption of 32 bytes;
 *   read   smem_enclave_read of 32 bytes against smem_secret_read of a
 *          32-byte secret (the callback reads one byte), beside a bare
 *          mprotect(READ)/mprotect(NONE) pair (a window without keys) and
 *          a bare decryption of 32 bytes;
 *   scale  up to 1,000,000 live 32-byte enclaves (or until the first
 *          failure): the time to make them (in all, and per enclave as
 *          the median over runs of SCALE_CHUNK, also over the time of a
 *          seal and unref right after each run: whether the enclaves
 *          already live slow the next one down), the ordinary memory each
 *          costs (mallinfo2, and resident pages from /proc/self/statm),
 *          the mappings and locked memory before and after (none should
 *          appear: an enclave has no secret memory of its own), one
 *          smem_rekey() over all of them, and a sample read back after it.
 *
 * The machine is shared and noisy, so the rows of a section are timed
 * interleaved: each round runs one batch of every row in turn, starting
 * from a different row each round, so a burst of noise hits every row
 * alike.  A batch lasts about BATCH_NS; median and p99 are over the
 * rounds, in ns per operation.  Each ratio is given twice: of the
 * medians, and the median of the per-round ratios (the two rows' batches
 * of one round ran back to back).
 *
 * --quick: a second per section and 50,000 enclaves; --scale N: N
 * enclaves; --json: one JSON object per row on stdout instead of the
 * table (the machine and the backend first, then one per row).
 */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <smem.h>
#include <sodium.h>

#include "../selftests/test_util.h"

#define SIZE		32
#define NONCE_SIZE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_SIZE	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_SIZE		16	/* the library binds an enclave's identity and size */
/* smem.h: an enclave costs "40 bytes more than the sealed bytes". */
#define ENCLAVE_HEADER	40

/* Long enough that the clock's own cost (tens of ns) stays below 1 %. */
#define BATCH_NS	10000.0
#define MAX_BATCH	4096
#define MIN_ROUNDS	50
#define MAX_ROUNDS	50000

#define SECTION_S	4.0
#define QUICK_SECTION_S	1.0
#define SCALE		1000000
#define QUICK_SCALE	50000
/* Enclaves made per timed run: the noise of a shared machine shows between runs. */
#define SCALE_CHUNK	1000
/* Seals and unrefs timed after each run: the seal row's cost at that moment. */
#define SCALE_REF	20
/* Enclaves read back after the rekey, spread over all of them. */
#define VERIFY_SAMPLE	1000

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

typedef void (*op_fn)(unsigned int n);

struct row {
	const char *name;
	op_fn run;
	unsigned int batch;
	double *samples;	/* ns per operation, by round */
	double median, p99;
};

static struct {
	bool json;
	bool quick;
	double section_s;
	size_t scale;
} opt = { .section_s = SECTION_S, .scale = SCALE };

static struct smem_info info;

/* What the operations work on. */
static struct {
	unsigned char data[SIZE];	/* random, not secret: sealed and stored */
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char nonce[NONCE_SIZE];
	unsigned char fresh_nonce[NONCE_SIZE];
	unsigned char ad[AD_SIZE];
	unsigned char sealed[SIZE + TAG_SIZE];
	unsigned char opened[SIZE];
	struct smem_enclave *enclave;
	struct smem_secret *secret;
	void *page;			/* locked, no access but in the mprotect pair */
} w;

static void fail(const char *what, int err)
{
	fprintf(stderr, "enclave_bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median and p99 of @n values (left as they are). */
static void percentiles(const double *v, size_t n, double *median, double *p99)
{
	static double sorted[MAX_ROUNDS];

	memcpy(sorted, v, n * sizeof(*v));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	*median = sorted[n / 2];
	*p99 = sorted[n * 99 / 100];
}

/* ------------------------------------------------------------ output */

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* The fields every JSON row starts with; the caller adds its own and ends it. */
static void json_begin(const char *section)
{
	printf("{\"bench\":\"enclave_bench\",\"backend\":");
	json_string(info.backend_name);
	printf(",\"thread_window\":%s,\"quick\":%s,\"section\":",
	       info.guarantees & SMEM_G_THREAD_WINDOW ? "true" : "false",
	       opt.quick ? "true" : "false");
	json_string(section);
}

static void load_average(char load[3][16])
{
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f || fscanf(f, "%15s %15s %15s", load[0], load[1], load[2]) != 3) {
		strcpy(load[0], "?");
		load[1][0] = load[2][0] = 0;
	}
	if (f)
		fclose(f);
}

static void print_load(const char *when)
{
	char load[3][16];

	load_average(load);
	if (!opt.json) {
		printf("load average at the %s: %s %s %s\n", when, load[0], load[1], load[2]);
		return;
	}
	json_begin("load");
	printf(",\"when\":");
	json_string(when);
	printf(",\"loadavg\":[");
	for (int i = 0; i < 3; i++) {
		printf("%s", i ? "," : "");
		json_string(load[i]);
	}
	printf("]}\n");
}

static const struct {
	unsigned int bit;
	const char *name;
} guarantee_names[] = {
	{ SMEM_G_LOCKED, "SMEM_G_LOCKED" },
	{ SMEM_G_NO_DUMP, "SMEM_G_NO_DUMP" },
	{ SMEM_G_NO_FORK, "SMEM_G_NO_FORK" },
	{ SMEM_G_NO_DIRECT_MAP, "SMEM_G_NO_DIRECT_MAP" },
	{ SMEM_G_NO_GUP, "SMEM_G_NO_GUP" },
	{ SMEM_G_THREAD_WINDOW, "SMEM_G_THREAD_WINDOW" },
	{ SMEM_G_SHAREABLE, "SMEM_G_SHAREABLE" },
};

/* The machine, the libraries, the backend and what it guarantees. */
static void print_machine(void)
{
	char line[256], model[200] = "unknown", date[64], pkeys[96];
	const char *no_pkeys = getenv("SMEM_NO_PKEYS");
	const char *forced = getenv("SMEM_BACKEND");
	time_t now = time(NULL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");
	int key;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %199[^\n]", model) == 1)
			break;
	if (f)
		fclose(f);
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	/* Whether the CPU and kernel give keys at all, whatever the library does. */
	key = pkey_alloc(0, 0);
	if (key >= 0) {
		pkey_free(key);
		snprintf(pkeys, sizeof(pkeys), "yes");
	} else {
		snprintf(pkeys, sizeof(pkeys), "no (pkey_alloc: %s)", strerror(errno));
	}

	if (opt.json) {
		json_begin("machine");
		printf(",\"date\":");
		json_string(date);
		printf(",\"kernel\":");
		json_string(u.release);
		printf(",\"arch\":");
		json_string(u.machine);
		printf(",\"cpu\":");
		json_string(model);
		printf(",\"cpus\":%ld,\"pkeys\":", cpus);
		json_string(pkeys);
		printf(",\"SMEM_NO_PKEYS\":");
		json_string(no_pkeys ? no_pkeys : "");
		printf(",\"libsmem\":");
		json_string(smem_version());
		printf(",\"libsodium\":");
		json_string(sodium_version_string());
		printf(",\"guarantees\":[");
		for (size_t i = 0, n = 0; i < ARRAY_SIZE(guarantee_names); i++)
			if (info.guarantees & guarantee_names[i].bit) {
				printf("%s", n++ ? "," : "");
				json_string(guarantee_names[i].name);
			}
		printf("]}\n");
		print_load("start");
		return;
	}
	printf("enclave_bench, %s, %s run\n", date, opt.quick ? "quick" : "full");
	printf("kernel %s %s, CPU %s, %ld CPUs online\n", u.release, u.machine, model, cpus);
	print_load("start");
	printf("libsmem %s, libsodium %s\n", smem_version(), sodium_version_string());
	printf("backend %s (SMEM_BACKEND %s), guarantees:", info.backend_name,
	       forced ? forced : "unset");
	for (size_t i = 0; i < ARRAY_SIZE(guarantee_names); i++)
		if (info.guarantees & guarantee_names[i].bit)
			printf(" %s", guarantee_names[i].name);
	printf("\nprotection keys: CPU and kernel %s, SMEM_NO_PKEYS %s, "
	       "per-thread windows (SMEM_G_THREAD_WINDOW): %s\n\n", pkeys,
	       no_pkeys ? no_pkeys : "unset",
	       info.guarantees & SMEM_G_THREAD_WINDOW ? "yes" : "no");
	printf("ns per operation: each section's rows are timed interleaved, one batch of\n"
	       "every row per round (about %.0f ns each), starting from a different row\n"
	       "each round; median and p99 over the rounds; x floor: median / the median\n"
	       "of the section's crypto floor\n", BATCH_NS);
}

/* ------------------------------------------------------- measurement */

/* How many operations make a batch of about BATCH_NS, after a few that pay what happens once. */
static void calibrate(struct row *r)
{
	double t, per;

	r->run(16);
	t = now_s();
	r->run(64);
	per = (now_s() - t) * 1e9 / 64;
	if (per >= BATCH_NS)
		r->batch = 1;
	else if (per * MAX_BATCH < BATCH_NS)
		r->batch = MAX_BATCH;
	else
		r->batch = (unsigned int)(BATCH_NS / per);
}

/* Rounds of one batch of each row, interleaved, for opt.section_s: the count of rounds. */
static size_t run_section(struct row *rows, int n)
{
	size_t round = 0;
	double start, t;
	int i;

	for (i = 0; i < n; i++) {
		calibrate(&rows[i]);
		rows[i].samples = malloc(MAX_ROUNDS * sizeof(double));
		if (!rows[i].samples)
			fail("malloc", ENOMEM);
	}
	start = now_s();
	while (round < MAX_ROUNDS && (round < MIN_ROUNDS || now_s() - start < opt.section_s)) {
		for (i = 0; i < n; i++) {
			struct row *r = &rows[(round + i) % n];

			t = now_s();
			r->run(r->batch);
			r->samples[round] = (now_s() - t) * 1e9 / r->batch;
		}
		round++;
	}
	for (i = 0; i < n; i++)
		percentiles(rows[i].samples, round, &rows[i].median, &rows[i].p99);
	return round;
}

static void print_section(const char *section, const char *title, const struct row *rows,
			  int n, const struct row *base, size_t rounds)
{
	if (!opt.json)
		printf("\n%-44s %10s %10s %8s %6s\n", title, "median", "p99", "x floor", "batch");
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		if (!opt.json) {
			printf("%-44s %10.1f %10.1f %8.2f %6u\n", r->name, r->median, r->p99,
			       r->median / base->median, r->batch);
			continue;
		}
		json_begin(section);
		printf(",\"row\":");
		json_string(r->name);
		printf(",\"median_ns\":%.1f,\"p99_ns\":%.1f,\"x_floor\":%.3f,\"batch\":%u,"
		       "\"rounds\":%zu}\n", r->median, r->p99, r->median / base->median, r->batch,
		       rounds);
	}
	if (!opt.json)
		printf("(%zu rounds)\n", rounds);
}

/*
 * @num / @den, of the medians and as the median of the per-round ratios;
 * the target is on the ratio of the medians: at least @target when
 * @at_least, at most otherwise.
 */
static void print_ratio(const char *section, const char *name, const struct row *num,
			const struct row *den, size_t rounds, bool at_least, double target)
{
	static double per_round[MAX_ROUNDS];
	double of_medians = num->median / den->median, paired, paired_p99;
	bool met = at_least ? of_medians >= target : of_medians <= target;

	for (size_t i = 0; i < rounds; i++)
		per_round[i] = num->samples[i] / den->samples[i];
	percentiles(per_round, rounds, &paired, &paired_p99);
	if (!opt.json) {
		printf("ratio %s: %.2f (per round: median %.2f, p99 %.2f), target %s %g: %s\n",
		       name, of_medians, paired, paired_p99, at_least ? ">=" : "<=", target,
		       met ? "met" : "NOT met");
		return;
	}
	json_begin(section);
	printf(",\"ratio\":");
	json_string(name);
	printf(",\"of_medians\":%.3f,\"per_round_median\":%.3f,\"per_round_p99\":%.3f,"
	       "\"target\":\"%s %g\",\"met\":%s}\n", of_medians, paired, paired_p99,
	       at_least ? ">=" : "<=", target, met ? "true" : "false");
}

/* ------------------------------------------------------------- seal */

static void enclave_new_ops(unsigned int n)
{
	struct smem_enclave *e;
	int err;

	while (n--) {
		err = smem_enclave_new(w.data, SIZE, SMEM_KEEP_SOURCE, &e);
		if (err)
			fail("smem_enclave_new", -err);
		smem_enclave_unref(e);
	}
}

static void secret_new_ops(unsigned int n)
{
	struct smem_secret *s;
	int err;

	while (n--) {
		err = smem_secret_new(w.data, SIZE, SMEM_KEEP_SOURCE, &s);
		if (err)
			fail("smem_secret_new", -err);
		smem_secret_unref(s);
	}
}

static void sodium_malloc_ops(unsigned int n)
{
	void *p;

	while (n--) {
		p = sodium_malloc(SIZE);
		if (!p)
			fail("sodium_malloc", errno);
		sodium_free(p);
	}
}

static void nonce_ops(unsigned int n)
{
	while (n--)
		randombytes_buf(w.fresh_nonce, sizeof(w.fresh_nonce));
}

static void encrypt_ops(unsigned int n)
{
	while (n--)
		crypto_aead_xchacha20poly1305_ietf_encrypt(w.sealed, NULL, w.data, SIZE, w.ad,
							   AD_SIZE, NULL, w.nonce, w.key);
}

/*
 * What a window costs without keys, on this machine at this moment: the
 * cost of both reads (and of a seal) when the window is an mprotect pair.
 */
static void mprotect_ops(unsigned int n)
{
	while (n--) {
		mprotect(w.page, 4096, PROT_READ);
		(void)*(volatile unsigned char *)w.page;
		mprotect(w.page, 4096, PROT_NONE);
	}
}

static void seal_section(void)
{
	struct row rows[] = {
		{ .name = "smem_enclave_new + smem_enclave_unref", .run = enclave_new_ops },
		{ .name = "smem_secret_new + smem_secret_unref", .run = secret_new_ops },
		{ .name = "sodium_malloc + sodium_free", .run = sodium_malloc_ops },
		{ .name = "mprotect(READ)/mprotect(NONE) pair", .run = mprotect_ops },
		{ .name = "randombytes_buf, 24-byte nonce", .run = nonce_ops },
		{ .name = "floor: XChaCha20-Poly1305 encrypt", .run = encrypt_ops },
	};
	const int n = ARRAY_SIZE(rows);
	size_t rounds = run_section(rows, n);

	/* The floor last. */
	print_section("seal", "seal 32 bytes", rows, n, &rows[n - 1], rounds);
	print_ratio("seal", "smem_secret_new+unref / smem_enclave_new+unref", &rows[1], &rows[0],
		    rounds, true, 10);
	for (int i = 0; i < n; i++)
		free(rows[i].samples);
}

/* ------------------------------------------------------------- read */

/* The callback of both reads: one byte, as a reader that uses the bytes would. */
static int touch_fn(const void *buf, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	return *(const volatile unsigned char *)buf;
}

static void enclave_read_ops(unsigned int n)
{
	int ret;

	while (n--) {
		ret = smem_enclave_read(w.enclave, touch_fn, NULL);
		if (ret < 0)
			fail("smem_enclave_read", -ret);
	}
}

static void secret_read_ops(unsigned int n)
{
	int ret;

	while (n--) {
		ret = smem_secret_read(w.secret, touch_fn, NULL);
		if (ret < 0)
			fail("smem_secret_read", -ret);
	}
}

static void decrypt_ops(unsigned int n)
{
	while (n--)
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(w.opened, NULL, NULL, w.sealed,
							       sizeof(w.sealed), w.ad, AD_SIZE,
							       w.nonce, w.key))
			fail("crypto_aead_xchacha20poly1305_ietf_decrypt", EBADMSG);
}

static void read_section(void)
{
	struct row rows[] = {
		{ .name = "smem_enclave_read", .run = enclave_read_ops },
		{ .name = "smem_secret_read", .run = secret_read_ops },
		{ .name = "mprotect(READ)/mprotect(NONE) pair", .run = mprotect_ops },
		{ .name = "floor: XChaCha20-Poly1305 decrypt", .run = decrypt_ops },
	};
	const int n = ARRAY_SIZE(rows);
	size_t rounds;
	int err;

	err = smem_enclave_new(w.data, SIZE, SMEM_KEEP_SOURCE, &w.enclave);
	if (!err)
		err = smem_secret_new(w.data, SIZE, SMEM_KEEP_SOURCE, &w.secret);
	if (err)
		fail("making the enclave and the secret to read", -err);
	encrypt_ops(1);
	rounds = run_section(rows, n);
	print_section("read", "read 32 bytes", rows, n, &rows[n - 1], rounds);
	print_ratio("read", "smem_enclave_read / smem_secret_read", &rows[0], &rows[1], rounds,
		    false, 2);
	for (int i = 0; i < n; i++)
		free(rows[i].samples);
	w.enclave = smem_enclave_unref(w.enclave);
	w.secret = smem_secret_unref(w.secret);
}

/* ------------------------------------------------------------ scale */

struct mem {
	size_t heap;		/* mallinfo2: bytes in use */
	size_t resident;	/* /proc/self/statm */
	unsigned int maps;	/* /proc/self/maps lines */
	unsigned int secret_maps;	/* of them: memfd_secret's or /dev/smem's */
	size_t mapped;		/* bytes, all the mappings */
	size_t locked_kib;	/* VmLck of /proc/self/status */
};

static void mem_sample(struct mem *m)
{
	struct mallinfo2 mi = mallinfo2();	/* before the stdio buffers below */
	unsigned long size, resident, lo, hi;
	char line[4200];
	bool start = true;
	FILE *f;

	memset(m, 0, sizeof(*m));
	m->heap = mi.uordblks + mi.hblkhd;
	f = fopen("/proc/self/statm", "r");
	if (f && fscanf(f, "%lu %lu", &size, &resident) == 2)
		m->resident = resident * (size_t)sysconf(_SC_PAGESIZE);
	if (f)
		fclose(f);
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (start && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			m->maps++;
			m->mapped += hi - lo;
			if (strstr(line, "/secretmem") || strstr(line, "/dev/smem"))
				m->secret_maps++;
		}
		start = strchr(line, '\n') != NULL;
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %zu kB", &m->locked_kib) == 1)
			break;
	if (f)
		fclose(f);
}

/* One line of the scale section: @value with @decimals after the point, in @unit. */
static void scale_row(const char *what, double value, int decimals, const char *unit,
		      const char *detail)
{
	if (!opt.json) {
		printf("%-44s %12.*f %-6s %s\n", what, decimals, value, unit, detail);
		return;
	}
	json_begin("scale");
	printf(",\"row\":");
	json_string(what);
	printf(",\"value\":%.3f,\"unit\":", value);
	json_string(unit);
	printf(",\"detail\":");
	json_string(detail);
	printf("}\n");
}

/* Enclave @i seals the bench's data with @i in its first bytes. */
static void pattern(unsigned char *buf, size_t i)
{
	uint64_t v = i;

	memcpy(buf, w.data, SIZE);
	memcpy(buf, &v, sizeof(v));
}

static int check_fn(const void *buf, size_t len, void *arg)
{
	return len != SIZE || memcmp(buf, arg, SIZE) ? 1 : 0;
}

static void scale_section(void)
{
	struct smem_enclave **all = calloc(opt.scale, sizeof(*all));
	unsigned char buf[SIZE];
	struct mem before, after, freed;
	size_t made, checked = 0, good = 0, step;
	static double chunk_ns[MAX_ROUNDS], per_ref[MAX_ROUNDS];
	double t_make = 0, t_rekey, t_free, t, median, p99, early, late;
	size_t chunks = 0, tenth;
	char detail[160];
	int err = 0, rekeyed;

	if (!all)
		fail("calloc", ENOMEM);
	/* Resident before the baseline: only the enclaves count. */
	memset(all, 0, opt.scale * sizeof(*all));
	mem_sample(&before);
	for (made = 0; made < opt.scale && !err;) {
		size_t first = made, end = made + SCALE_CHUNK;

		t = now_s();
		for (; made < end && made < opt.scale; made++) {
			pattern(buf, made);
			err = smem_enclave_new(buf, SIZE, 0, &all[made]);
			if (err)
				break;
		}
		t = now_s() - t;
		t_make += t;
		if (made - first < SCALE_CHUNK || chunks == MAX_ROUNDS)
			continue;
		chunk_ns[chunks] = t * 1e9 / SCALE_CHUNK;
		/* The seal row's operation right after: the load changes both alike. */
		t = now_s();
		enclave_new_ops(SCALE_REF);
		per_ref[chunks] = chunk_ns[chunks] / ((now_s() - t) * 1e9 / SCALE_REF);
		chunks++;
	}
	mem_sample(&after);
	if (!made)
		fail("smem_enclave_new", -err);

	t = now_s();
	rekeyed = smem_rekey();
	t_rekey = now_s() - t;

	step = made > VERIFY_SAMPLE ? made / VERIFY_SAMPLE : 1;
	for (size_t i = 0; i < made; i += step) {
		pattern(buf, i);
		checked++;
		good += smem_enclave_read(all[i], check_fn, buf) == 0;
	}
	explicit_bzero(buf, sizeof(buf));

	t = now_s();
	for (size_t i = 0; i < made; i++)
		smem_enclave_unref(all[i]);
	t_free = now_s() - t;
	mem_sample(&freed);
	free(all);

	if (!opt.json)
		printf("\nscale: %zu enclaves of %d bytes asked for\n", opt.scale, SIZE);
	snprintf(detail, sizeof(detail), "%s", err ? strerror(-err) : "no failure");
	scale_row("enclaves live", (double)made, 0, "", detail);
	snprintf(detail, sizeof(detail), "%.0f ns per enclave", t_make * 1e9 / made);
	scale_row("time to make them", t_make, 3, "s", detail);
	if (chunks) {
		percentiles(chunk_ns, chunks, &median, &p99);
		snprintf(detail, sizeof(detail), "median over %zu runs of %d; p99 %.0f ns",
			 chunks, SCALE_CHUNK, p99);
		scale_row("time to make one", median, 0, "ns", detail);
		tenth = chunks / 10 ? chunks / 10 : 1;
		percentiles(per_ref, tenth, &early, &p99);
		percentiles(per_ref + chunks - tenth, tenth, &late, &p99);
		percentiles(per_ref, chunks, &median, &p99);
		snprintf(detail, sizeof(detail), "median over the runs, each against %d seals "
			 "+ unrefs right after it; p99 %.2f; first tenth %.2f, last %.2f",
			 SCALE_REF, p99, early, late);
		scale_row("  over a smem_enclave_new + unref", median, 2, "", detail);
	}
	snprintf(detail, sizeof(detail), "%zu bytes asked of malloc each (%d + %u + %u + %d)",
		 ENCLAVE_HEADER + NONCE_SIZE + TAG_SIZE + (size_t)SIZE, ENCLAVE_HEADER, NONCE_SIZE,
		 TAG_SIZE, SIZE);
	scale_row("ordinary memory, heap (mallinfo2)",
		  ((double)after.heap - (double)before.heap) / made, 1, "B/encl", detail);
	snprintf(detail, sizeof(detail), "%.1f MiB more resident",
		 ((double)after.resident - (double)before.resident) / (1 << 20));
	scale_row("ordinary memory, resident (statm)",
		  ((double)after.resident - (double)before.resident) / made, 1, "B/encl", detail);
	snprintf(detail, sizeof(detail), "%u before, %u after; %zu KiB before, %zu KiB after",
		 before.maps, after.maps, before.mapped >> 10, after.mapped >> 10);
	scale_row("mappings (/proc/self/maps), added", (double)after.maps - before.maps, 0, "",
		  detail);
	snprintf(detail, sizeof(detail), "%u before, %u after", before.secret_maps,
		 after.secret_maps);
	scale_row("of them memfd_secret or /dev/smem, added",
		  (double)after.secret_maps - before.secret_maps, 0, "", detail);
	snprintf(detail, sizeof(detail), "%zu KiB before, %zu KiB after", before.locked_kib,
		 after.locked_kib);
	scale_row("locked memory (VmLck), added", (double)after.locked_kib - before.locked_kib,
		  0, "KiB", detail);
	if (rekeyed < 0)
		snprintf(detail, sizeof(detail), "failed: %s", strerror(-rekeyed));
	else
		snprintf(detail, sizeof(detail), "%.0f ns per enclave, returned %d",
			 t_rekey * 1e9 / made, rekeyed);
	scale_row("one smem_rekey() over them", t_rekey, 3, "s", detail);
	snprintf(detail, sizeof(detail), "%zu of %zu sampled enclaves hold their bytes", good,
		 checked);
	scale_row("read back after the rekey", (double)good, 0, "", detail);
	snprintf(detail, sizeof(detail), "%.0f ns per enclave; heap afterwards %+.1f MiB",
		 t_free * 1e9 / made, ((double)freed.heap - (double)before.heap) / (1 << 20));
	scale_row("time to unref them all", t_free, 3, "s", detail);
}

/* -------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr, "usage: enclave_bench [--backend kmod|memfd_secret|mlock] [--quick] "
		"[--json] [--scale N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	size_t scale = 0;
	int err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			opt.quick = true;
			opt.section_s = QUICK_SECTION_S;
			opt.scale = QUICK_SCALE;
		} else if (!strcmp(argv[i], "--json")) {
			opt.json = true;
		} else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
			/* Before the library's first use, which reads it. */
			setenv("SMEM_BACKEND", argv[++i], 1);
		} else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
			scale = strtoul(argv[++i], NULL, 0);
			if (!scale)
				usage();
		} else {
			usage();
		}
	}
	/* Each row as it comes, also into a file or a pipe: a full run takes minutes. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* --scale wins over --quick's, whichever came first. */
	if (scale)
		opt.scale = scale;
	if (sodium_init() < 0)
		fail("sodium_init", ENOSYS);
	err = smem_info(&info);
	if (err)
		fail(getenv("SMEM_BACKEND") ? getenv("SMEM_BACKEND") : "smem_info", -err);
	randombytes_buf(w.data, sizeof(w.data));
	crypto_aead_xchacha20poly1305_ietf_keygen(w.key);
	randombytes_buf(w.nonce, sizeof(w.nonce));
	randombytes_buf(w.ad, sizeof(w.ad));
	w.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w.page == MAP_FAILED || mlock(w.page, 4096) || mprotect(w.page, 4096, PROT_NONE))
		fail("a locked page for the mprotect pair", errno);

	print_machine();
	seal_section();
	read_section();
	scale_section();
	if (!opt.json)
		putchar('\n');
	print_load("end");
	return 0;
}
