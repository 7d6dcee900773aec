// SPDX-License-Identifier: GPL-2.0
/*
 * window_bench: what one read of a secret costs, side by side, in one run.
 *
 * A "window" is opening a secret, reading one byte, closing it again:
 *   - the baselines, in this process: an mprotect(READ)/mprotect(NONE)
 *     pair, libsodium's sodium_mprotect_readonly/noaccess pair, and a bare
 *     WRPKRU allow/deny pair (where protection keys exist);
 *   - smem_secret_read() on a 32-byte secret for each backend (kmod where
 *     /dev/smem exists, memfd_secret, mlock), with and without protection
 *     keys, each in a child process of its own (SMEM_BACKEND and
 *     SMEM_NO_PKEYS are read once, at first use): a lone window; a nested
 *     one (inside a read callback of the same secret); an overlapping one
 *     (another thread holds a window on the same secret); and the lone
 *     window in 2 threads at once on different secrets (scaling);
 *   - what erasing costs: the lone window through smem_secret_read_flags()
 *     with flags 0 (the default, as smem_secret_read(): SMEM_SCRUB_DEFAULT
 *     bytes of stack and the registers erased when the window closes),
 *     with SMEM_WINDOW_NO_SCRUB (nothing erased) and with
 *     SMEM_WINDOW_SCRUB_KIB(8).  The erase cost per window is the
 *     difference between a scrubbing row and the NO_SCRUB row.
 *
 * Batches of windows are timed with CLOCK_MONOTONIC (a batch lasts about
 * 2 us, so the clock's own cost stays small); median and p99 are over
 * the batches, in ns per window, and "ratio" is the median over that of
 * the mprotect pair.  WINDOW_BENCH_MS sets the time per row (default 300).
 * Under QEMU TCG only the ratios mean anything.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <smem.h>
#include <sodium.h>

#define MAX_SAMPLES	20000
#define MIN_SAMPLES	50
#define BATCH_NS	2000.0
#define THREADS		2

/* Runs @n windows. */
typedef void (*windows_fn)(void *ctx, unsigned int n);

struct result {
	double median, p99;
	unsigned int batch;
};

static double budget_ns = 300e6;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * A batch size that makes a batch last about BATCH_NS, after a first few
 * windows that pay what happens once (a thread's first scrub looks up
 * its stack's bounds).
 */
static unsigned int calibrate(windows_fn fn, void *ctx)
{
	double t, per;

	fn(ctx, 16);
	t = now_ns();
	fn(ctx, 64);
	per = (now_ns() - t) / 64;
	return per >= BATCH_NS ? 1 : per * 256 < BATCH_NS ? 256 : (unsigned int)(BATCH_NS / per);
}

/* Time batches of @batch windows for budget_ns: ns per window, sorted. */
static size_t collect(windows_fn fn, void *ctx, unsigned int batch, double *samples)
{
	double start = now_ns(), t;
	size_t n = 0;

	while (n < MAX_SAMPLES && (n < MIN_SAMPLES || now_ns() - start < budget_ns)) {
		t = now_ns();
		fn(ctx, batch);
		samples[n++] = (now_ns() - t) / batch;
	}
	qsort(samples, n, sizeof(*samples), cmp_double);
	return n;
}

static void summarize(const double *sorted, size_t n, unsigned int batch, struct result *r)
{
	r->median = sorted[n / 2];
	r->p99 = sorted[n * 99 / 100];
	r->batch = batch;
}

static void measure(windows_fn fn, void *ctx, struct result *r)
{
	static double samples[MAX_SAMPLES];
	unsigned int batch = calibrate(fn, ctx);

	summarize(samples, collect(fn, ctx, batch, samples), batch, r);
}

/* ------------------------------------------------------------ baselines */

static void mprotect_windows(void *page, unsigned int n)
{
	while (n--) {
		mprotect(page, 4096, PROT_READ);
		(void)*(volatile unsigned char *)page;
		mprotect(page, 4096, PROT_NONE);
	}
}

static void sodium_windows(void *p, unsigned int n)
{
	while (n--) {
		sodium_mprotect_readonly(p);
		(void)*(volatile unsigned char *)p;
		sodium_mprotect_noaccess(p);
	}
}

#if defined(__x86_64__)
struct wrpkru_ctx {
	volatile unsigned char *page;
	uint32_t allow, deny;
};

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

static void wrpkru_windows(void *arg, unsigned int n)
{
	struct wrpkru_ctx *c = arg;

	while (n--) {
		wrpkru(c->allow);
		(void)*c->page;
		wrpkru(c->deny);
	}
}
#endif

/* A key of our own, or -1 where there are none. */
static int have_pkeys(void)
{
	int key = pkey_alloc(0, 0);

	if (key >= 0)
		pkey_free(key);
	return key >= 0;
}

/* ------------------------------------------------------------ libsmem */

static int touch_fn(const void *buf, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	return *(const volatile unsigned char *)buf;
}

static void read_windows(void *s, unsigned int n)
{
	while (n--)
		smem_secret_read(s, touch_fn, NULL);
}

/*
 * A library older than smem_secret_read_flags() (LIBSMEM_2) leaves the
 * reference undefined, and the erase rows out.
 */
#pragma weak smem_secret_read_flags

struct flagged {
	struct smem_secret *s;
	unsigned int flags;
};

static void flagged_windows(void *arg, unsigned int n)
{
	struct flagged *f = arg;

	while (n--)
		smem_secret_read_flags(f->s, touch_fn, NULL, f->flags);
}

/* Nested: the whole measurement runs inside a read callback of the secret. */
struct nested {
	struct smem_secret *s;
	struct result r;
};

static int nested_fn(const void *buf, size_t len, void *arg)
{
	struct nested *n = arg;

	(void)buf;
	(void)len;
	measure(read_windows, n->s, &n->r);
	return 0;
}

/* Overlapping: another thread holds a read window on the same secret. */
struct holder {
	struct smem_secret *s;
	atomic_int inside, release;
};

static int hold_fn(const void *buf, size_t len, void *arg)
{
	struct holder *h = arg;

	(void)buf;
	(void)len;
	atomic_store(&h->inside, 1);
	while (!atomic_load(&h->release))
		usleep(1000);
	return 0;
}

static void *holder_thread(void *arg)
{
	struct holder *h = arg;

	smem_secret_read(h->s, hold_fn, h);
	return NULL;
}

/* Scaling: THREADS threads, each with a secret of its own, at once. */
struct worker {
	struct smem_secret *s;
	unsigned int batch;
	pthread_barrier_t *start;
	double *samples;
	size_t n;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->start);
	w->n = collect(read_windows, w->s, w->batch, w->samples);
	return NULL;
}

static void threads_measure(struct result *r)
{
	static double samples[THREADS][MAX_SAMPLES], all[THREADS * MAX_SAMPLES];
	struct worker w[THREADS];
	pthread_barrier_t start;
	pthread_t t[THREADS];
	size_t n = 0;
	int i;

	pthread_barrier_init(&start, NULL, THREADS);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .start = &start, .samples = samples[i] };
		if (smem_secret_new_random(32, 0, &w[i].s))
			exit(1);
		w[i].batch = i ? w[0].batch : calibrate(read_windows, w[0].s);
	}
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker_thread, &w[i]);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		memcpy(all + n, w[i].samples, w[i].n * sizeof(double));
		n += w[i].n;
		smem_secret_unref(w[i].s);
	}
	qsort(all, n, sizeof(double), cmp_double);
	summarize(all, n, w[0].batch, r);
}

static void print_row(const char *what, const struct result *r)
{
	printf("row\t%s\t%.1f\t%.1f\t%u\n", what, r->median, r->p99, r->batch);
}

/* In a child process: the rows of the backend and keys this process got. */
static int child_main(void)
{
	struct smem_info info;
	struct holder h = { 0 };
	struct nested nest;
	struct result r;
	pthread_t t;
	char what[96];
	const char *cfg;
	int err;

	err = smem_info(&info);
	if (err) {
		printf("na\t%s\n", strerror(-err));
		return 0;
	}
	cfg = info.guarantees & SMEM_G_THREAD_WINDOW ? "keys" : "no keys";
	err = smem_secret_new_random(32, 0, &nest.s);
	if (err) {
		printf("na\t%s\n", strerror(-err));
		return 0;
	}
	snprintf(what, sizeof(what), "%s, %s: read window", info.backend_name, cfg);
	measure(read_windows, nest.s, &r);
	print_row(what, &r);

	for (int i = 0; i < 3; i++) {
		static const struct {
			unsigned int flags;
			const char *name;
		} kinds[] = {
			{ 0, "flags 0 (default scrub)" },
			{ SMEM_WINDOW_NO_SCRUB, "SMEM_WINDOW_NO_SCRUB" },
			{ SMEM_WINDOW_SCRUB_KIB(8), "SMEM_WINDOW_SCRUB_KIB(8)" },
		};
		struct flagged f = { .s = nest.s, .flags = kinds[i].flags };

		snprintf(what, sizeof(what), "%s, %s: read window, %s", info.backend_name, cfg,
			 kinds[i].name);
		if (!smem_secret_read_flags) {
			printf("skip\t%s\tno smem_secret_read_flags() in this libsmem\n", what);
			continue;
		}
		measure(flagged_windows, &f, &r);
		print_row(what, &r);
	}

	smem_secret_read(nest.s, nested_fn, &nest);
	snprintf(what, sizeof(what), "%s, %s: nested read (inner window)", info.backend_name, cfg);
	print_row(what, &nest.r);

	h.s = nest.s;
	pthread_create(&t, NULL, holder_thread, &h);
	while (!atomic_load(&h.inside))
		usleep(1000);
	measure(read_windows, nest.s, &r);
	atomic_store(&h.release, 1);
	pthread_join(t, NULL);
	snprintf(what, sizeof(what), "%s, %s: overlapping read (other thread inside)",
		 info.backend_name, cfg);
	print_row(what, &r);

	threads_measure(&r);
	snprintf(what, sizeof(what), "%s, %s: %d threads, a secret each", info.backend_name, cfg,
		 THREADS);
	print_row(what, &r);
	smem_secret_unref(nest.s);
	return 0;
}

/* ------------------------------------------------------------- parent */

struct row {
	char what[96];
	struct result r;
	char note[64];		/* instead of numbers */
};

static struct row rows[64];
static int nrows;

static struct row *add_row(const char *what)
{
	struct row *row = &rows[nrows++];

	snprintf(row->what, sizeof(row->what), "%s", what);
	return row;
}

/* Run this program as a child with @backend and keys on or off; read its rows. */
static void run_child(const char *self, const char *backend, int keys)
{
	char line[256], what[96], label[96];
	int pipefd[2], status;
	struct row *row;
	FILE *f;
	pid_t pid;

	if (pipe(pipefd))
		exit(1);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		setenv("SMEM_BACKEND", backend, 1);
		setenv("SMEM_NO_PKEYS", keys ? "0" : "1", 1);
		execl(self, self, "--child", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	snprintf(label, sizeof(label), "%s, %s", backend, keys ? "keys" : "no keys");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "na\t", 3)) {
			row = add_row(label);
			snprintf(row->note, sizeof(row->note), "not available: %.40s", line + 3);
		} else if (sscanf(line, "skip\t%95[^\t]\t", what) == 1) {
			row = add_row(what);
			snprintf(row->note, sizeof(row->note), "%.60s", strchr(line + 5, '\t') + 1);
		} else if (sscanf(line, "row\t%95[^\t]\t", what) == 1) {
			row = add_row(what);
			sscanf(strchr(line + 4, '\t'), "\t%lf\t%lf\t%u", &row->r.median, &row->r.p99,
			       &row->r.batch);
		}
	}
	fclose(f);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		snprintf(add_row(label)->note, sizeof(rows[0].note), "child failed (status %#x)",
			 status);
}

static void machine(int pkeys)
{
	char line[256], model[200] = "unknown", load[3][16] = { "", "", "" };
	struct utsname u;
	time_t now = time(NULL);
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %199[^\n]", model) == 1)
			break;
	if (f)
		fclose(f);
	uname(&u);
	strftime(line, sizeof(line), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	printf("window_bench, %s\n", line);
	printf("kernel %s %s, CPU %s, %ld CPUs\n", u.release, u.machine, model,
	       sysconf(_SC_NPROCESSORS_ONLN));
	f = fopen("/proc/loadavg", "r");
	if (!f || fscanf(f, "%15s %15s %15s", load[0], load[1], load[2]) != 3)
		strcpy(load[0], "?");
	if (f)
		fclose(f);
	printf("protection keys: %s, /dev/smem: %s, load average %s %s %s\n",
	       pkeys ? "yes" : "no", access("/dev/smem", F_OK) ? "no" : "yes",
	       load[0], load[1], load[2]);
	printf("ns per window (open, read one byte, close); median and p99 over batches\n"
	       "of about %.0f ns; ratio: median / median of the mprotect pair\n\n", BATCH_NS);
}

int main(int argc, char **argv)
{
	static const char *const backends[] = { "kmod", "memfd_secret", "mlock" };
	const char *ms = getenv("WINDOW_BENCH_MS");
	char self[4096];
	double base = 0;
	int pkeys = have_pkeys(), i, k;
	ssize_t len;
	void *page;

	if (ms && atof(ms) > 0)
		budget_ns = atof(ms) * 1e6;
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child_main();
	if (sodium_init() < 0)
		return 1;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		return 1;
	self[len] = 0;
	machine(pkeys);

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || mlock(page, 4096) || mprotect(page, 4096, PROT_NONE))
		return 1;
	measure(mprotect_windows, page, &add_row("mprotect(READ)/mprotect(NONE) pair")->r);
	base = rows[0].r.median;
	page = sodium_malloc(32);
	sodium_mprotect_noaccess(page);
	measure(sodium_windows, page, &add_row("sodium_mprotect_readonly/noaccess pair")->r);
#if defined(__x86_64__)
	if (pkeys) {
		struct wrpkru_ctx c;
		int key = pkey_alloc(0, 0);

		c.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		pkey_mprotect((void *)c.page, 4096, PROT_READ | PROT_WRITE, key);
		c.deny = rdpkru() | 1U << (2 * key);
		c.allow = (c.deny & ~(3U << (2 * key))) | 2U << (2 * key);
		measure(wrpkru_windows, &c, &add_row("WRPKRU allow/deny pair")->r);
		wrpkru(c.deny & ~(3U << (2 * key)));
	}
#endif
	if (!pkeys)
		snprintf(add_row("WRPKRU allow/deny pair")->note, sizeof(rows[0].note),
			 "no protection keys");
	for (i = 0; i < 3; i++)
		for (k = pkeys; k >= 0; k--)
			run_child(self, backends[i], k);

	printf("%-62s %10s %10s %7s %6s\n", "window", "median", "p99", "ratio", "batch");
	for (i = 0; i < nrows; i++) {
		if (rows[i].note[0])
			printf("%-62s %s\n", rows[i].what, rows[i].note);
		else
			printf("%-62s %10.1f %10.1f %7.3f %6u\n", rows[i].what, rows[i].r.median,
			       rows[i].r.p99, rows[i].r.median / base, rows[i].r.batch);
	}
	return 0;
}
