// SPDX-License-Identifier: GPL-2.0
/*
 * The harness of bench/'s programs: options, the machine, interleaved
 * timing, and one print path for the table and for JSON lines.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <smem.h>

#include "bench.h"

#define MIN_ROUNDS	30
#define MAX_BATCH	4096

struct bench_options bench_opt = { .config = "" };

static const char *program;
static const char *only_backend;
static char last_header[256];

double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void bench_fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", program, what, strerror(err));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The @q-th percentile of @n values, which are left as they are. */
static double percentile(const double *v, size_t n, unsigned int q)
{
	double *sorted = malloc((n ? n : 1) * sizeof(*sorted)), x;

	if (!sorted)
		bench_fail("malloc", ENOMEM);
	memcpy(sorted, v, n * sizeof(*v));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	x = n ? sorted[n * q / 100] : 0;
	free(sorted);
	return x;
}

void bench_percentiles(const double *v, size_t n, double *median, double *p99)
{
	*median = percentile(v, n, 50);
	*p99 = percentile(v, n, 99);
}

bool bench_have_pkeys(void)
{
	int key = pkey_alloc(0, 0);

	if (key < 0)
		return false;
	pkey_free(key);
	return true;
}

size_t bench_locked_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kib = 0;

	if (!f)
		bench_fail("/proc/self/status", errno);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %zu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

void bench_mem_sample(struct bench_mem *m)
{
	struct mallinfo2 mi = mallinfo2();	/* before the stdio buffers below */
	unsigned long size, resident;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(m, 0, sizeof(*m));
	m->heap = mi.uordblks + mi.hblkhd;
	f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2)
		bench_fail("/proc/self/statm", f ? EIO : errno);
	fclose(f);
	m->resident = resident * (size_t)sysconf(_SC_PAGESIZE);
	f = fopen("/proc/self/maps", "r");
	if (!f)
		bench_fail("/proc/self/maps", errno);
	while (getline(&line, &cap, f) > 0) {
		m->maps++;
		/* The names the kernel gives them: "/secretmem (deleted)", "/dev/smem". */
		if (strstr(line, " /secretmem") || strstr(line, " /dev/smem"))
			m->secret_maps++;
	}
	free(line);
	fclose(f);
	m->locked_kib = bench_locked_kib();
}

/* ------------------------------------------------------------ output */

/* One figure, whatever its kind: the only path to stdout. */
struct figure {
	const char *kind;	/* "row", "value", "skip" */
	const char *section, *row;
	double median, p99, p10;	/* "row" */
	unsigned int batch;
	size_t rounds;
	const char *anchor;
	double ratio, paired, fast;
	double value;		/* "value" */
	const char *unit, *better, *detail;
	bool guard;
};

static void json_string(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_field(const char *name, const char *value)
{
	printf(",\"%s\":", name);
	json_string(value);
}

/* Columns of the table: the row, then median p99 ratio batch, or a value. */
#define NAME_W	52

static void table_header(const struct figure *f)
{
	char header[256];

	snprintf(header, sizeof(header), "%s%s%s", bench_opt.config,
		 bench_opt.config[0] ? ": " : "", f->section);
	if (!strcmp(header, last_header))
		return;
	snprintf(last_header, sizeof(last_header), "%s", header);
	printf("\n%-*s %10s %10s %8s %8s %6s\n", NAME_W, header, "median", "p99", "ratio",
	       "paired", "batch");
}

static void emit(const struct figure *f)
{
	if (!bench_opt.json) {
		table_header(f);
		if (!strcmp(f->kind, "skip"))
			printf("%-*s %s\n", NAME_W, f->row, f->detail);
		else if (!strcmp(f->kind, "value"))
			printf("%-*s %10.*f %-10s %s\n", NAME_W, f->row,
			       f->value == (long long)f->value ? 0 : 2, f->value,
			       f->unit ? f->unit : "", f->detail ? f->detail : "");
		else if (f->anchor)
			printf("%-*s %10.1f %10.1f %8.3f %8.3f %6u\n", NAME_W, f->row, f->median,
			       f->p99, f->ratio, f->paired, f->batch);
		else
			printf("%-*s %10.1f %10.1f %8s %8s %6u\n", NAME_W, f->row, f->median,
			       f->p99, "", "", f->batch);
		return;
	}
	printf("{\"type\":");
	json_string(f->kind);
	json_field("bench", program);
	json_field("config", bench_opt.config);
	json_field("section", f->section);
	json_field("row", f->row);
	if (!strcmp(f->kind, "row")) {
		printf(",\"median_ns\":%.2f,\"p99_ns\":%.2f,\"p10_ns\":%.2f,\"batch\":%u,"
		       "\"rounds\":%zu", f->median, f->p99, f->p10, f->batch, f->rounds);
		if (f->anchor) {
			json_field("anchor", f->anchor);
			printf(",\"ratio\":%.5g,\"paired_ratio\":%.5g,\"p10_ratio\":%.5g", f->ratio,
			       f->paired, f->fast);
		}
	} else if (!strcmp(f->kind, "value")) {
		printf(",\"value\":%.6g", f->value);
		json_field("unit", f->unit ? f->unit : "");
		if (f->better)
			json_field("better", f->better);
	}
	if (f->detail)
		json_field("detail", f->detail);
	printf(",\"guard\":%s,\"quick\":%s}\n", f->guard ? "true" : "false",
	       bench_opt.quick ? "true" : "false");
}

void bench_value(const char *section, const char *row, double value, const char *unit,
		 const char *better, const char *detail)
{
	emit(&(struct figure){ .kind = "value", .section = section, .row = row, .value = value,
			       .unit = unit, .better = better, .detail = detail,
			       .guard = better != NULL });
}

void bench_skip(const char *section, const char *row, const char *why)
{
	emit(&(struct figure){ .kind = "skip", .section = section, .row = row, .detail = why });
}

void bench_text(const char *fmt, ...)
{
	va_list ap;

	if (bench_opt.json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* ----------------------------------------------------------- machine */

static void load_average(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");
	char l[3][16];

	if (f && fscanf(f, "%15s %15s %15s", l[0], l[1], l[2]) == 3)
		snprintf(buf, len, "%s %s %s", l[0], l[1], l[2]);
	else
		snprintf(buf, len, "?");
	if (f)
		fclose(f);
}

void bench_machine(void)
{
	char line[256], model[200] = "unknown", date[64], load[64];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool keys = bench_have_pkeys(), dev = !access("/dev/smem", F_OK);
	time_t now = time(NULL);
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %199[^\n]", model) == 1)
			break;
	if (f)
		fclose(f);
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	load_average(load, sizeof(load));
	if (!bench_opt.json) {
		printf("%s, %s, %s run\n", program, date, bench_opt.quick ? "quick" : "full");
		printf("kernel %s %s, CPU %s, %ld CPUs online\n", u.release, u.machine, model,
		       cpus);
		printf("protection keys: %s, /dev/smem: %s, load average %s\n",
		       keys ? "yes" : "no", dev ? "yes" : "no", load);
		printf("ns per operation; median and p99 over rounds in which every row of a\n"
		       "section ran a batch of about %.0f ns, interleaved; ratio: median over\n"
		       "the median of the row's anchor; paired: the median of the per-round\n"
		       "ratios\n", BENCH_BATCH_NS);
		return;
	}
	printf("{\"type\":\"machine\"");
	json_field("bench", program);
	json_field("date", date);
	json_field("kernel", u.release);
	json_field("arch", u.machine);
	json_field("cpu", model);
	printf(",\"cpus\":%ld,\"pkeys\":%s,\"smem_device\":%s", cpus, keys ? "true" : "false",
	       dev ? "true" : "false");
	json_field("loadavg", load);
	printf(",\"quick\":%s}\n", bench_opt.quick ? "true" : "false");
}

void bench_end(void)
{
	char load[64];

	load_average(load, sizeof(load));
	if (!bench_opt.json) {
		printf("\nload average at the end: %s\n", load);
		return;
	}
	printf("{\"type\":\"end\"");
	json_field("bench", program);
	json_field("loadavg", load);
	printf("}\n");
}

/* ---------------------------------------------------------- options */

int bench_init(const char *name, int argc, char **argv, double quick_s, double full_s)
{
	int i, out = 1;

	program = name;
	bench_opt.section_s = full_s;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			bench_opt.json = true;
		} else if (!strcmp(argv[i], "--quick")) {
			bench_opt.quick = true;
			bench_opt.section_s = quick_s;
		} else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
			only_backend = argv[++i];
			if (strcmp(only_backend, "kmod") && strcmp(only_backend, "memfd_secret") &&
			    strcmp(only_backend, "mlock")) {
				fprintf(stderr, "%s: --backend takes kmod, memfd_secret or mlock\n",
					name);
				exit(2);
			}
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			bench_opt.section_s = atof(argv[++i]);
			if (bench_opt.section_s <= 0) {
				fprintf(stderr, "%s: --seconds takes a positive number\n", name);
				exit(2);
			}
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	/* Each figure as it comes, also into a pipe: a full run takes minutes. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return out;
}

size_t bench_count_option(int argc, char **argv, const char *name, const char *usage)
{
	size_t value = 0;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], name) && a + 1 < argc && !value) {
			value = strtoul(argv[++a], NULL, 0);
			if (value)
				continue;
		} else if (!strcmp(argv[a], "--child") && a == argc - 1) {
			continue;
		}
		fprintf(stderr, "usage: %s\n", usage);
		exit(2);
	}
	return value;
}

void bench_set_config(const char *config)
{
	bench_opt.config = config;
}

/* ------------------------------------------------------- measurement */

static double run_once(struct bench_row *r, unsigned int n)
{
	double t;

	if (r->run_timed)
		return r->run_timed(r->ctx, n);
	t = bench_now_ns();
	r->run(r->ctx, n);
	return (bench_now_ns() - t) / n;
}

/* A batch of about BENCH_BATCH_NS, after a few operations that pay what happens once. */
static void calibrate(struct bench_row *r)
{
	double per;

	run_once(r, 4);
	per = run_once(r, 16);
	if (per >= BENCH_BATCH_NS)
		r->batch = 1;
	else if (per * MAX_BATCH < BENCH_BATCH_NS)
		r->batch = MAX_BATCH;
	else
		r->batch = (unsigned int)(BENCH_BATCH_NS / per);
}

void bench_section(const char *section, struct bench_row *rows, int n)
{
	double start, *paired;
	size_t round = 0;
	int i;

	for (i = 0; i < n; i++) {
		calibrate(&rows[i]);
		rows[i].samples = malloc(BENCH_MAX_ROUNDS * sizeof(double));
		if (!rows[i].samples)
			bench_fail("malloc", ENOMEM);
	}
	start = bench_now_ns();
	while (round < BENCH_MAX_ROUNDS &&
	       (round < MIN_ROUNDS || bench_now_ns() - start < bench_opt.section_s * 1e9)) {
		for (i = 0; i < n; i++) {
			struct bench_row *r = &rows[(round + i) % n];

			r->samples[round] = run_once(r, r->batch);
		}
		round++;
	}
	paired = malloc(round * sizeof(*paired));
	if (!paired)
		bench_fail("malloc", ENOMEM);
	for (i = 0; i < n; i++) {
		bench_percentiles(rows[i].samples, round, &rows[i].median, &rows[i].p99);
		rows[i].p10 = percentile(rows[i].samples, round, 10);
	}
	for (i = 0; i < n; i++) {
		struct bench_row *r = &rows[i];
		struct figure f = { .kind = "row", .section = section, .row = r->name,
				    .median = r->median, .p99 = r->p99, .p10 = r->p10,
				    .batch = r->batch,
				    .rounds = round, .guard = r->guard };
		double p99;

		if (r->anchor >= 0 && r->anchor < n && r->anchor != i) {
			const struct bench_row *a = &rows[r->anchor];

			for (size_t k = 0; k < round; k++)
				paired[k] = r->samples[k] / a->samples[k];
			bench_percentiles(paired, round, &f.paired, &p99);
			f.anchor = a->name;
			f.ratio = r->median / a->median;
			f.fast = r->p10 / a->p10;
		}
		emit(&f);
	}
	free(paired);
	for (i = 0; i < n; i++)
		rows[i].rounds = round;
}

double bench_difference(const struct bench_row *a, const struct bench_row *b)
{
	size_t n = a->rounds < b->rounds ? a->rounds : b->rounds;
	double *d = malloc((n ? n : 1) * sizeof(*d)), median, p99;

	if (!d)
		bench_fail("malloc", ENOMEM);
	for (size_t k = 0; k < n; k++)
		d[k] = a->samples[k] - b->samples[k];
	bench_percentiles(d, n, &median, &p99);
	free(d);
	return median;
}

void bench_rows_free(struct bench_row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		free(rows[i].samples);
		rows[i].samples = NULL;
	}
}

/* ------------------------------------------------------ configurations */

#define CHILD_OPTION	"--child"

static void config_skip(const char *backend, bool keys, const char *why)
{
	char config[64];

	snprintf(config, sizeof(config), "%s, %s", backend, keys ? "keys" : "no keys");
	bench_set_config(config);
	bench_skip("all", "configuration", why);
	bench_set_config("");
}

/* This program again, for @backend with keys or not, with @argv's options: false when it failed. */
static bool run_config(int argc, char **argv, const char *backend, bool keys)
{
	char seconds[32], **args = calloc(argc + 8, sizeof(*args));
	int n = 0, status;
	pid_t pid;

	if (!args)
		bench_fail("calloc", ENOMEM);
	args[n++] = argv[0];
	/* --quick first: --seconds after it wins, as it did here. */
	if (bench_opt.quick)
		args[n++] = "--quick";
	if (bench_opt.json)
		args[n++] = "--json";
	snprintf(seconds, sizeof(seconds), "%g", bench_opt.section_s);
	args[n++] = "--seconds";
	args[n++] = seconds;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = CHILD_OPTION;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bench_fail("fork", errno);
	if (!pid) {
		setenv("SMEM_BACKEND", backend, 1);
		setenv("SMEM_NO_PKEYS", keys ? "0" : "1", 1);
		execv("/proc/self/exe", args);
		bench_fail("execv /proc/self/exe", errno);
	}
	free(args);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bench_fail("waitpid", errno);
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return true;
	config_skip(backend, keys, WIFEXITED(status) ? "the child failed" :
			strsignal(WTERMSIG(status)));
	return false;
}

int bench_each_config(int argc, char **argv,
		      int (*child)(int argc, char **argv, const struct smem_info *info))
{
	static const char *const backends[] = { "kmod", "memfd_secret", "mlock" };
	static char config[64];
	struct smem_info info;
	bool keys = bench_have_pkeys();
	int err, failed = 0;

	if (argc > 1 && !strcmp(argv[argc - 1], CHILD_OPTION)) {
		const char *backend = getenv("SMEM_BACKEND"), *no_keys = getenv("SMEM_NO_PKEYS");
		bool asked = !no_keys || strcmp(no_keys, "1");

		argv[--argc] = NULL;
		if (!backend)
			bench_fail(CHILD_OPTION " without SMEM_BACKEND", EINVAL);
		err = smem_info(&info);
		if (err) {
			config_skip(backend, asked, strerror(-err));
			exit(0);
		}
		keys = info.guarantees & SMEM_G_THREAD_WINDOW;
		if (asked && !keys) {
			config_skip(backend, asked, "no per-thread windows here");
			exit(0);
		}
		snprintf(config, sizeof(config), "%s, %s", info.backend_name,
			 keys ? "keys" : "no keys");
		bench_set_config(config);
		exit(child(argc, argv, &info));
	}
	bench_machine();
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (only_backend && strcmp(only_backend, backends[i]))
			continue;
		if (!strcmp(backends[i], "kmod") && access("/dev/smem", F_OK)) {
			config_skip("kmod", false, "no /dev/smem");
			continue;
		}
		if (keys)
			failed |= !run_config(argc, argv, backends[i], true);
		failed |= !run_config(argc, argv, backends[i], false);
	}
	return failed;
}
