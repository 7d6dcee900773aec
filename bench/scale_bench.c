// SPDX-License-Identifier: GPL-2.0
/*
 * scale_bench: how many 32-byte secrets one process can hold at once, and
 * what each costs while it lives: time, ordinary memory, locked memory,
 * mappings.
 *
 * Each backend ("kmod" where /dev/smem exists, "memfd_secret", "mlock"),
 * with protection keys where the machine has them and without, runs in a
 * child process of its own (this program again, with --child): libsmem
 * reads SMEM_BACKEND and SMEM_NO_PKEYS once, at its first use.  Each
 * child prints its own figures, under the configuration "BACKEND, keys"
 * or "BACKEND, no keys"; a backend the library cannot use there is one
 * skipped row.
 *
 * Section "live 32-byte secrets": smem_secret_new_random(32) over and over,
 * every secret kept, until the first failure or the limit (1,000,000;
 * --quick 5,000; --limit N), then every one unreferenced:
 *   vm.max_map_count             the kernel's cap on a process's mappings
 *                                (read, never changed): without keys each
 *                                secret has pages of its own between guard
 *                                pages, so this caps the count (smem.h);
 *   secrets live (limit N)       the count, and the error that stopped it
 *                                (guarded: higher is better; the limit is
 *                                in the name, so that a quick run's count
 *                                is compared with a quick run's);
 *   time to make one             the median over runs of 1000 secrets of
 *                                the time per secret, p99 in the detail:
 *                                whether the secrets already live slow the
 *                                next one down shows as a p99 far above it;
 *   heap per secret              the growth of malloc's bytes in use
 *                                (mallinfo2) over the count: the library's
 *                                object and, with keys, its share of a
 *                                chunk's bookkeeping;
 *   bytes resident per secret    the growth of the resident set
 *                                (/proc/self/statm) over the count: secret
 *                                pages and the library's objects (guarded:
 *                                lower is better);
 *   locked bytes per secret      the growth of VmLck: secret memory is
 *                                locked, and counts against RLIMIT_MEMLOCK;
 *   mappings per secret          the growth of /proc/self/maps' lines over
 *                                the count (guarded: lower is better); with
 *                                keys small secrets share pages, without a
 *                                secret is its pages and guard pages;
 *   time to free one             the unref of every secret, per secret; the
 *                                detail says what was left afterwards.
 * The pointer array is touched before the first sample, so that only the
 * secrets count.  RLIMIT_NOFILE and RLIMIT_MEMLOCK are raised to their
 * hard limits first (the process's own limits, not the system's).
 *
 * The same rows, in this process before the children, for
 * sodium_malloc(32) + sodium_free (configuration "libsodium", not guarded):
 * what an application without libsmem pays for a guarded, locked 32-byte
 * key, the anchor to read the secrets' figures against.  sodium_malloc()
 * does not fail when it cannot lock its page or protect its guard pages
 * (past RLIMIT_MEMLOCK, or vm.max_map_count): it returns ordinary memory.
 * So VmLck is read after every run of 1000, and the count stops at the
 * first allocation that did not lock its page (those after it are freed
 * at once and not counted).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <smem.h>
#include <sodium.h>

#include "bench.h"

#define SECTION		"live 32-byte secrets"
#define SIZE		32
#define LIMIT		1000000
/*
 * Without keys a secret costs the development host 100 to 300 us to make
 * and to free, and vm.max_map_count stops them at about 32,000: a quick
 * run (two backends and libsodium) stays well under 20 s with 5,000.
 */
#define QUICK_LIMIT	5000
/* Made per timed run: the noise of a shared machine shows between runs. */
#define RUN		1000

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Raise the soft limit of @resource to the hard one; the new limit in @buf. */
static void raise_limit(int resource, char *buf, size_t len)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl))
		bench_fail("getrlimit", errno);
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(resource, &rl))
		bench_fail("setrlimit", errno);
	if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)rl.rlim_cur);
}

static char limits[96];		/* the process's limits, for the count's detail */

static void vm_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long v;

	if (!f || fscanf(f, "%lu", &v) != 1)
		bench_skip(SECTION, "vm.max_map_count", "cannot read /proc/sys/vm/max_map_count");
	else
		bench_value(SECTION, "vm.max_map_count", (double)v, "", NULL,
			    "mappings one process may have (read, not changed)");
	if (f)
		fclose(f);
}

/* ------------------------------------------------------------- a census */

/* What is made and dropped: a secret, or a sodium_malloc() allocation. */
struct kind {
	const char *noun;	/* "secret", "allocation" */
	const char *plural;
	const char *free_call;	/* "smem_secret_unref", "sodium_free" */
	bool guard;		/* the figures bench/guard watches */
	/*
	 * Each locks one page of its own, and does not fail when it cannot:
	 * one that did not lock its page is where the count stops.
	 */
	bool locks_page;
	int (*make)(void **p);	/* 0 or a negative errno */
	void (*drop)(void *p);
};

static int secret_make(void **p)
{
	struct smem_secret *s;
	int err = smem_secret_new_random(SIZE, 0, &s);

	*p = err ? NULL : s;
	return err;
}

static void secret_drop(void *p)
{
	smem_secret_unref(p);
}

static int sodium_make(void **p)
{
	*p = sodium_malloc(SIZE);
	return *p ? 0 : -errno;
}

static const struct kind secrets = {
	.noun = "secret", .plural = "secrets", .free_call = "smem_secret_unref",
	.guard = true, .make = secret_make, .drop = secret_drop,
};

static const struct kind allocations = {
	.noun = "allocation", .plural = "allocations", .free_call = "sodium_free",
	.guard = false, .locks_page = true, .make = sodium_make, .drop = sodium_free,
};

/* A value of the census row "@what per @noun"; guarded with @better when the kind is. */
static void per_row(const struct kind *k, const char *what, double value, const char *unit,
		    const char *better, const char *detail)
{
	char row[64];

	snprintf(row, sizeof(row), "%s per %s", what, k->noun);
	bench_value(SECTION, row, value, unit, k->guard ? better : NULL, detail);
}

/* Make @k until the first failure or @limit, then drop them all; print the figures. */
static void census(const struct kind *k, size_t limit)
{
	void **all = malloc(limit * sizeof(*all));
	double *run_ns = malloc((limit / RUN + 1) * sizeof(*run_ns));
	double t, make_s = 0, free_s, median, p99;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), page_ptrs = page / sizeof(*all);
	size_t made, runs = 0, locked, now, whole;
	struct bench_mem before, after, freed;
	char row[80], detail[240];
	bool unlocked = false;
	int err = 0;

	if (!all || !run_ns)
		bench_fail("malloc", ENOMEM);
	/* Resident before the first sample: only what is made counts. */
	for (size_t i = 0; i < limit; i += page_ptrs)
		((void *volatile *)all)[i] = NULL;
	bench_mem_sample(&before);
	locked = before.locked_kib;
	for (made = 0; made < limit && !err && !unlocked;) {
		size_t first = made, end = limit - made > RUN ? made + RUN : limit;

		t = bench_now_ns();
		for (; made < end; made++) {
			err = k->make(&all[made]);
			if (err)
				break;
		}
		t = (bench_now_ns() - t) / (double)(made - first + !!err);
		if (k->locks_page) {
			/* Those made before the first it could not lock: a page each. */
			now = bench_locked_kib();
			whole = now > locked ? (now - locked) * 1024 / page : 0;
			locked = now;
			if (whole < made - first) {
				unlocked = true;
				for (size_t i = first + whole; i < made; i++)
					k->drop(all[i]);
				made = first + whole;
			}
		}
		make_s += t * (double)(made - first) / 1e9;
		if (made - first == RUN)
			run_ns[runs++] = t;
	}
	bench_mem_sample(&after);
	if (!made)
		bench_fail(k->noun, err ? -err : ENOMEM);
	t = bench_now_ns();
	for (size_t i = 0; i < made; i++)
		k->drop(all[i]);
	free_s = (bench_now_ns() - t) / 1e9;
	bench_mem_sample(&freed);
	free(all);

	/* The count depends on the limit: a figure of its own for each. */
	snprintf(row, sizeof(row), "%s live (limit %zu)", k->plural, limit);
	if (unlocked)
		snprintf(detail, sizeof(detail), "first failure: one left unlocked (sodium_malloc "
			 "ignores mlock()'s failure, and its guard pages' mprotect()'s); %s",
			 limits);
	else
		snprintf(detail, sizeof(detail), "%s%s; %s", err ? "first failure: " : "no failure",
			 err ? strerror(-err) : "", limits);
	bench_value(SECTION, row, (double)made, "", k->guard ? "higher" : NULL, detail);

	if (runs) {
		bench_percentiles(run_ns, runs, &median, &p99);
		snprintf(detail, sizeof(detail), "median over %zu runs of %d; p99 %.0f ns; "
			 "%.3f s in all", runs, RUN, p99, make_s);
	} else {
		median = make_s * 1e9 / made;
		snprintf(detail, sizeof(detail), "fewer than %d: the mean, %.3f s in all", RUN,
			 make_s);
	}
	bench_value(SECTION, "time to make one", median, "ns", NULL, detail);
	free(run_ns);

	snprintf(detail, sizeof(detail), "mallinfo2: %+.1f MiB",
		 ((double)after.heap - (double)before.heap) / (1 << 20));
	per_row(k, "heap", ((double)after.heap - (double)before.heap) / made, "B", NULL, detail);
	snprintf(detail, sizeof(detail), "/proc/self/statm: %+.1f MiB",
		 ((double)after.resident - (double)before.resident) / (1 << 20));
	per_row(k, "bytes resident", ((double)after.resident - (double)before.resident) / made,
		"B", "lower", detail);
	snprintf(detail, sizeof(detail), "VmLck: %zu KiB before, %zu KiB after",
		 before.locked_kib, after.locked_kib);
	per_row(k, "locked bytes",
		((double)after.locked_kib - (double)before.locked_kib) * 1024 / made, "B", NULL,
		detail);
	snprintf(detail, sizeof(detail), "/proc/self/maps: %zu before, %zu after", before.maps,
		 after.maps);
	per_row(k, "mappings", ((double)after.maps - (double)before.maps) / made, "", "lower",
		detail);

	snprintf(detail, sizeof(detail), "%s, %.3f s in all; then against before: mappings "
		 "%+lld, VmLck %+lld KiB, heap %+.1f MiB", k->free_call, free_s,
		 (long long)freed.maps - (long long)before.maps,
		 (long long)freed.locked_kib - (long long)before.locked_kib,
		 ((double)freed.heap - (double)before.heap) / (1 << 20));
	bench_value(SECTION, "time to free one", free_s * 1e9 / made, "ns", NULL, detail);
}

/* ------------------------------------------------------------- children */

/* The limit of the census: --limit N, else as --quick says. */
static size_t limit;

/* In a child: the census on what SMEM_BACKEND and SMEM_NO_PKEYS chose. */
static int child_main(int argc, char **argv, const struct smem_info *info)
{
	(void)argc;
	(void)argv;
	(void)info;
	vm_max_map_count();
	census(&secrets, limit);
	return 0;
}

int main(int argc, char **argv)
{
	char nofile[32], memlock[32];
	int ret;

	/* No timed sections: the seconds per section do not matter. */
	argc = bench_init("scale_bench", argc, argv, 1, 1);
	limit = bench_count_option(argc, argv, "--limit", "scale_bench [--quick] [--json] [--backend B] [--limit N]");
	/* --limit wins over --quick's, whichever came first. */
	if (!limit)
		limit = bench_opt.quick ? QUICK_LIMIT : LIMIT;
	/* Inherited by the children. */
	raise_limit(RLIMIT_NOFILE, nofile, sizeof(nofile));
	raise_limit(RLIMIT_MEMLOCK, memlock, sizeof(memlock));
	snprintf(limits, sizeof(limits), "RLIMIT_NOFILE %s, RLIMIT_MEMLOCK %s", nofile, memlock);
	if (sodium_init() < 0)
		bench_fail("sodium_init", ENOSYS);
	ret = bench_each_config(argc, argv, child_main);
	bench_set_config("libsodium");
	vm_max_map_count();
	census(&allocations, limit);
	bench_set_config("");
	bench_end();
	return ret;
}
