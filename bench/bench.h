/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h: what every benchmark program of bench/ shares.
 *
 * A benchmark is sections of rows.  The rows of a section are timed
 * interleaved: each round runs one batch of every row in turn, starting
 * from a different row each round, so that a burst of noise on a shared
 * machine hits every row alike.  A batch lasts about BENCH_BATCH_NS.
 * Median and p99 are over the rounds, in ns per operation.
 *
 * Each row may name an anchor: another row of the same section, the
 * nearest thing the row can be judged against (an mprotect pair for a
 * window without protection keys, a bare WRPKRU pair for one with them,
 * sodium_malloc for a secret's lifetime).  Its ratio is given three
 * times: of the medians; the median of the per-round ratios (the two
 * batches ran back to back, under the same noise); and of the two rows'
 * 10th percentiles, which `bench/history.py guard` compares with the last
 * recorded run on the same kind of machine, for the rows marked guard:
 * a machine whose system calls cost one of two amounts from moment to
 * moment can put two medians of one run on different modes, but not
 * their fast tenths.
 *
 * Every figure goes through one print path, emit() in bench.c: a table
 * for people, or with --json one JSON object per line for
 * bench/history.py.
 */
#ifndef SMEM_BENCH_H
#define SMEM_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#define BENCH_BATCH_NS	10000.0
#define BENCH_MAX_ROUNDS	100000

/* Whichever makes sense: the harness times @run, or @run_timed times itself. */
struct bench_row {
	const char *name;
	void (*run)(void *ctx, unsigned int n);		/* @n operations */
	double (*run_timed)(void *ctx, unsigned int n);	/* @n of them: ns per operation */
	void *ctx;
	int anchor;		/* index of the anchor row in the section, or -1 */
	bool guard;		/* a ratio bench/guard watches */
	/* Filled by bench_section(). */
	unsigned int batch;
	double *samples;	/* ns per operation, by round */
	double median, p99, p10;
	size_t rounds;
};

/* The options every program takes: --json, --quick, --seconds S, --backend B. */
struct bench_options {
	bool json;
	bool quick;
	double section_s;	/* time spent on each section */
	const char *config;	/* what the rows run on: "memfd_secret, no keys"... */
};

extern struct bench_options bench_opt;

/*
 * Parse the common options out of @argv (the rest stay, in order, for the
 * program: the new argc is returned), line-buffer stdout.  @quick_s and
 * @full_s: the seconds per section of either mode.
 */
int bench_init(const char *program, int argc, char **argv, double quick_s, double full_s);

/*
 * A program whose only option of its own is @name N (a positive count,
 * kept in @argv for the children that bench_each_config() starts): its
 * value, or 0 when absent.  Anything else prints @usage and exits 2.
 */
size_t bench_count_option(int argc, char **argv, const char *name, const char *usage);

/* What the figures that follow run on ("" for none). */
void bench_set_config(const char *config);

struct smem_info;

/*
 * Run @child once per configuration: each backend (kmod where /dev/smem
 * exists, memfd_secret, mlock; --backend B: only B), with protection
 * keys where the CPU has them and without, each in a process of its own
 * (this program again, with the same options), because libsmem reads
 * SMEM_BACKEND and SMEM_NO_PKEYS once.  In the child the config is set
 * ("mlock, no keys") and @child gets the program's own options and what
 * smem_info() said; the child exits with what @child returns.  A
 * configuration this machine does not have (no /dev/smem, no keys) is a
 * skip row.  In the parent, the machine comes first (bench_machine());
 * what the parent measures after this returns is its own, then
 * bench_end().  Returns 1 when a child failed (a skip row says so), else 0.
 */
int bench_each_config(int argc, char **argv,
		      int (*child)(int argc, char **argv, const struct smem_info *info));

/* The machine: CPU, cores, kernel, keys, /dev/smem, load average, date. */
void bench_machine(void);

/* The load average again, at the end of a run. */
void bench_end(void);

/*
 * Time the @n rows of @section interleaved; print them.  Their samples
 * stay until bench_rows_free().
 */
void bench_section(const char *section, struct bench_row *rows, int n);

/* The median over the rounds of @a's time minus @b's, in ns (same section). */
double bench_difference(const struct bench_row *a, const struct bench_row *b);

void bench_rows_free(struct bench_row *rows, int n);

/*
 * A figure that is not a time: @better is "lower" or "higher" when
 * bench/guard should watch it, NULL otherwise; @detail says how it was
 * obtained (may be NULL).
 */
void bench_value(const char *section, const char *row, double value, const char *unit,
		 const char *better, const char *detail);

/* A row that could not be measured here, and why. */
void bench_skip(const char *section, const char *row, const char *why);

/* Free text for people (nothing in JSON). */
void bench_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report @what with strerror(@err) and end the program. */
void bench_fail(const char *what, int err) __attribute__((noreturn));

double bench_now_ns(void);

/* Median and p99 of @n values, which are left as they are. */
void bench_percentiles(const double *v, size_t n, double *median, double *p99);

/* What this process holds, for the figures of a census. */
struct bench_mem {
	size_t heap;		/* mallinfo2: bytes in use */
	size_t resident;	/* /proc/self/statm, bytes */
	size_t maps;		/* /proc/self/maps lines */
	size_t secret_maps;	/* of them, memfd_secret's or /dev/smem's */
	size_t locked_kib;	/* VmLck of /proc/self/status */
};

void bench_mem_sample(struct bench_mem *m);

/* VmLck of /proc/self/status, in KiB. */
size_t bench_locked_kib(void);

/* Whether the CPU and the kernel give protection keys (whatever libsmem does). */
bool bench_have_pkeys(void);

#endif
