// SPDX-License-Identifier: GPL-2.0
/*
 * kernel_bench: what the module's secret memory costs the kernel, beside
 * memfd_secret(2), both raw (no libsmem: this measures the kernel).  Every
 * section needs /dev/smem; without it each section is one skip row.
 *
 *   direct map after 100000 pages   In a child process per backend, kmod
 *       first, then memfd_secret, /proc/meminfo's DirectMap4k/2M/1G and
 *       /proc/vmstat's direct_map_level2_splits (a 2 MiB direct-map entry
 *       split into 4 KiB ones) and direct_map_level3_splits (1 GiB into
 *       2 MiB) are read before and after 100,000 secret pages (--quick:
 *       10,000) came and went, in objects of 1000 pages, every page
 *       touched:
 *         one object at a time (each closed before the next is made):
 *           the change of every figure, and the 4 KiB splits per 1000
 *           pages;
 *         then all of them live at once, then closed ("all live at once":
 *           the DirectMap4k change and the splits per 1000 pages).  For
 *           kmod the pool is grown first when it cannot hold them (the
 *           default 128 MiB holds 32768 pages; root only, else a skip),
 *           and shrunk back after; the direct map is read in between.
 *       The module's pages come from memory blocks taken out of the kernel
 *       whole (page_source=carveout, the default: pool_mb=128 carved at
 *       load), so it splits nothing.  memfd_secret takes each page out of
 *       the direct map on its own, splitting the 2 MiB entry around it,
 *       and the split stays after the page is freed; how many splits a
 *       page costs depends on how many 2 MiB regions the page allocator
 *       hands out, hence the two patterns (one at a time, it hands the
 *       same freed pages back).  Splits last as long as the kernel runs,
 *       so this section runs first, before the memfd_secret anchors below
 *       split anything.  The kmod DirectMap4k changes are guarded (lower
 *       is better: the module's promise is zero).
 *   alloc+mmap+touch+close N pages  For N = 1, 16 and 4096, timed
 *       interleaved:
 *         kmod: SMEM_IOC_ALLOC + mmap + touch + close: open /dev/smem,
 *           SMEM_IOC_ALLOC of N pages, mmap MAP_SHARED, write one byte
 *           of every page, munmap, close (the pages are zeroed and go back
 *           to the pool then);
 *         memfd_secret: create + ftruncate + mmap + touch + close: the
 *           same pages from memfd_secret(2), its anchor: the kernel's own
 *           secret memory, the one thing a secret allocation competes
 *           with.  The kmod row's ratio to it is guarded.
 *   pool grow and shrink  As root, with page_source=carveout only: the
 *       wall time of SMEM_IOC_POOL_RESIZE growing the pool by 1 memory
 *       block and shrinking it back, then by 4 blocks and back (median
 *       of 5, --quick: 1; every time in the detail, the first being the
 *       slowest when no block was carved since boot), in ms: a value row
 *       each, since one call takes from tens of ms to seconds under QEMU;
 *       and the memory block size, from
 *       /sys/devices/system/memory/block_size_bytes.  Growing offlines
 *       and removes blocks (their pages migrate elsewhere) and zeroes
 *       them; shrinking adds them back, and the kernel onlines them by its
 *       own policy.  This section runs last: it changes the direct map.
 *
 * memfd_secret(2) pages count against RLIMIT_MEMLOCK as they are faulted
 * in, even for root, and the fault past the limit is a SIGBUS: the program
 * raises its limit as far as it may, and a row that would go past it is a
 * skip row.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/smem.h>

#include "bench.h"
#include "../selftests/test_util.h"

#ifndef __NR_memfd_secret
#define __NR_memfd_secret	447	/* x86-64, as libsmem/backend_memfd.c */
#endif

#define SMEM_DEV	"/dev/smem"
#define BLOCK_SIZE_FILE	"/sys/devices/system/memory/block_size_bytes"

#define QUICK_S		1.0
#define FULL_S		4.0

#define DM_SECTION	"direct map after 100000 pages"
#define DM_PAGES	100000
#define DM_QUICK_PAGES	10000
#define DM_CHUNK	1000
/* The rows of the pattern in which all the pages are live at once. */
#define DM_HELD		", all live at once"
#define DM_HELD_4K_ROW	"DirectMap4k change" DM_HELD

#define POOL_SECTION	"pool grow and shrink"
#define RESIZES		5
#define QUICK_RESIZES	1

#define KMOD_ROW	"kmod: SMEM_IOC_ALLOC + mmap + touch + close"
#define SECRETMEM_ROW	"memfd_secret: create + ftruncate + mmap + touch + close"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static size_t page_size;
static rlim_t memlock;	/* RLIMIT_MEMLOCK, as raise_memlock() left it */

/* A new secret of @npages, every page touched: its fd, or -errno with *@what the step. */
typedef int (*new_fn)(size_t npages, const char **what);

/* ------------------------------------------------------ the operations */

/* Map @len bytes of @fd shared, write one byte of every page, unmap. */
static int touch_pages(int fd, size_t len, const char **what)
{
	volatile unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED) {
		*what = "mmap";
		return -errno;
	}
	for (size_t off = 0; off < len; off += page_size)
		p[off] = (unsigned char)(off / page_size) | 1;
	if (munmap((void *)p, len)) {
		*what = "munmap";
		return -errno;
	}
	return 0;
}

/* Close @fd; @err (0 or -errno of an earlier step) wins over close's. */
static int close_fd(int fd, int err, const char **what)
{
	if (close(fd) && !err) {
		*what = "close";
		return -errno;
	}
	return err;
}

/* @fd with its pages touched, or -errno (@fd closed then). */
static int touched_fd(int fd, size_t len, int err, const char **what)
{
	if (!err)
		err = touch_pages(fd, len, what);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int kmod_new(size_t npages, const char **what)
{
	struct smem_alloc a = { .size = npages * page_size };
	int fd = open(SMEM_DEV, O_RDWR | O_CLOEXEC), err = 0;

	if (fd < 0) {
		*what = "open " SMEM_DEV;
		return -errno;
	}
	if (ioctl(fd, SMEM_IOC_ALLOC, &a)) {
		*what = "SMEM_IOC_ALLOC";
		err = -errno;
	}
	return touched_fd(fd, a.size, err, what);
}

/*
 * memfd_secret(2) pages count against RLIMIT_MEMLOCK as they are faulted
 * in, and the fault past the limit is a SIGBUS, even for root (6.12, with
 * the default 8 MiB): the limit as high as this process may set it.
 */
static void raise_memlock(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (setrlimit(RLIMIT_MEMLOCK, &rl) && !getrlimit(RLIMIT_MEMLOCK, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	memlock = getrlimit(RLIMIT_MEMLOCK, &rl) ? 0 : rl.rlim_cur;
}

/* Whether @bytes of memfd_secret pages can be faulted in without a SIGBUS. */
static int within_memlock(size_t bytes, const char **what)
{
	if (memlock == RLIM_INFINITY || bytes <= memlock)
		return 0;
	*what = "memfd_secret beyond RLIMIT_MEMLOCK (a fault past it is SIGBUS)";
	return -EAGAIN;
}

static int secretmem_new(size_t npages, const char **what)
{
	size_t len = npages * page_size;
	int fd, err = within_memlock(len, what);

	if (err)
		return err;
	fd = (int)syscall(__NR_memfd_secret, O_CLOEXEC);
	if (fd < 0) {
		*what = "memfd_secret";
		return -errno;
	}
	if (ftruncate(fd, (off_t)len)) {
		*what = "ftruncate";
		err = -errno;
	}
	return touched_fd(fd, len, err, what);
}

struct cycle_ctx {
	new_fn new_secret;
	size_t npages;
};

/* One secret made, touched and closed: 0 or -errno. */
static int cycle_once(const struct cycle_ctx *c, const char **what)
{
	int fd = c->new_secret(c->npages, what);

	return fd < 0 ? fd : close_fd(fd, 0, what);
}

static void cycle_run(void *ctx, unsigned int n)
{
	const char *what = "";

	while (n--) {
		int err = cycle_once(ctx, &what);

		if (err)
			bench_fail(what, -err);
	}
}

/*
 * One operation before the section: a backend that cannot give the pages
 * here (no memfd_secret, RLIMIT_MEMLOCK, a small pool) is a skip row
 * saying why, not a failure.  0, or -errno with the reason in @why.
 */
static int try_cycle(const struct cycle_ctx *c, char *why, size_t len)
{
	const char *what = "";
	int err = cycle_once(c, &what);

	if (err)
		snprintf(why, len, "%zu pages: %s: %s", c->npages, what, strerror(-err));
	return err;
}

static int pool_resize(int fd, __u64 bytes, __u64 *pool_size)
{
	struct smem_pool_resize r = { .size = bytes };
	int ret = ioctl(fd, SMEM_IOC_POOL_RESIZE, &r) ? -errno : 0;

	*pool_size = r.pool_size;
	return ret;
}

static void pool_query(int fd, struct smem_query *q)
{
	if (ioctl(fd, SMEM_IOC_QUERY, q))
		bench_fail("SMEM_IOC_QUERY", errno);
}

/* ------------------------------------------------- alloc+mmap+touch */

static void alloc_section_name(char *buf, size_t len, unsigned int npages)
{
	snprintf(buf, len, "alloc+mmap+touch+close %u page%s", npages, npages == 1 ? "" : "s");
}

static void alloc_section(unsigned int npages)
{
	struct cycle_ctx kmod = { kmod_new, npages }, secretmem = { secretmem_new, npages };
	struct bench_row rows[] = {
		{ .name = KMOD_ROW, .run = cycle_run, .ctx = &kmod, .anchor = 1, .guard = true },
		{ .name = SECRETMEM_ROW, .run = cycle_run, .ctx = &secretmem, .anchor = -1 },
	};
	char section[64], why[160];
	int n = ARRAY_SIZE(rows);

	alloc_section_name(section, sizeof(section), npages);
	if (try_cycle(&kmod, why, sizeof(why))) {
		bench_skip(section, KMOD_ROW, why);
		return;
	}
	if (try_cycle(&secretmem, why, sizeof(why))) {
		/* The kmod row alone, without its anchor. */
		rows[0].anchor = -1;
		rows[0].guard = false;
		n = 1;
	}
	bench_section(section, rows, n);
	bench_rows_free(rows, n);
	if (n == 1)
		bench_skip(section, SECRETMEM_ROW, why);
}

/* --------------------------------------------------------- direct map */

/* The number after @key and a colon or blanks, on a line of @path; -1 when absent. */
static long long proc_number(const char *path, const char *key)
{
	size_t n = strlen(key);
	long long v = -1;
	char line[256];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && (line[n] == ':' || line[n] == ' ')) {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* What is read before and after, and how it is reported. */
static const struct {
	const char *path, *key, *row, *unit;
} dm_fields[] = {
	{ "/proc/meminfo", "DirectMap4k", "DirectMap4k change", "kB" },
	{ "/proc/meminfo", "DirectMap2M", "DirectMap2M change", "kB" },
	{ "/proc/meminfo", "DirectMap1G", "DirectMap1G change", "kB" },
	{ "/proc/vmstat", "direct_map_level2_splits", "direct_map_level2_splits change", "" },
	{ "/proc/vmstat", "direct_map_level3_splits", "direct_map_level3_splits change", "" },
};

#define DM_4K		0	/* index of DirectMap4k in dm_fields */
#define DM_SPLITS	3	/* of direct_map_level2_splits */

static void dm_read(long long *v)
{
	for (size_t i = 0; i < ARRAY_SIZE(dm_fields); i++)
		v[i] = proc_number(dm_fields[i].path, dm_fields[i].key);
}

struct backend {
	const char *config;
	new_fn new_secret;
	bool kmod;		/* its DirectMap4k change is guarded; its pool may grow */
};

/*
 * The changes from @before to @after, as rows named with @suffix (empty,
 * or the pattern): every field with @all, else DirectMap4k alone; then
 * the 4 KiB splits per 1000 of @npages, with @how in its detail.
 */
static void dm_report(const struct backend *b, const char *suffix, bool all,
		      const long long *before, const long long *after, size_t npages,
		      const char *how)
{
	char row[96], detail[192];

	for (size_t i = 0; i < ARRAY_SIZE(dm_fields); i++) {
		if (!all && i != DM_4K)
			continue;
		snprintf(row, sizeof(row), "%s%s", dm_fields[i].row, suffix);
		if (before[i] < 0 || after[i] < 0) {
			snprintf(detail, sizeof(detail), "no %s in %s", dm_fields[i].key,
				 dm_fields[i].path);
			bench_skip(DM_SECTION, row, detail);
			continue;
		}
		snprintf(detail, sizeof(detail), "%lld before, %lld after", before[i], after[i]);
		/* kmod's promise: the direct map stays as it is. */
		bench_value(DM_SECTION, row, (double)(after[i] - before[i]), dm_fields[i].unit,
			    i == DM_4K && b->kmod ? "lower" : NULL, detail);
	}
	if (before[DM_SPLITS] < 0 || after[DM_SPLITS] < 0)
		return;
	snprintf(row, sizeof(row), "4 KiB splits per 1000 pages%s", suffix);
	snprintf(detail, sizeof(detail), "%lld splits; %s", after[DM_SPLITS] - before[DM_SPLITS],
		 how);
	bench_value(DM_SECTION, row,
		    (double)(after[DM_SPLITS] - before[DM_SPLITS]) * 1000.0 / (double)npages, "",
		    NULL, detail);
}

/*
 * @npages in objects of DM_CHUNK, all live at once, then all closed: 0 or
 * -errno (every object closed all the same).
 */
static int held_pages(const struct backend *b, size_t npages, const char **what)
{
	int fds[DM_PAGES / DM_CHUNK], err = 0;
	size_t n = 0, done;

	/* The module refuses what is over the limit itself (EAGAIN), at SMEM_IOC_ALLOC. */
	if (!b->kmod)
		err = within_memlock(npages * page_size, what);
	for (done = 0; !err && done < npages; done += DM_CHUNK) {
		int fd = b->new_secret(npages - done < DM_CHUNK ? npages - done : DM_CHUNK, what);

		if (fd < 0)
			err = fd;
		else
			fds[n++] = fd;
	}
	while (n--)
		err = close_fd(fds[n], err, what);
	return err;
}

/*
 * Make room for @npages more in the pool (as root, carveout): the blocks
 * grown by (0 when they fit already, the pool of *@pool_bytes then), or
 * -errno with @why.
 */
static long kmod_make_room(int fd, size_t npages, __u64 *pool_bytes, char *why, size_t len)
{
	struct smem_query q;
	__u64 free_pages, blocks, got;
	int ret;

	pool_query(fd, &q);
	*pool_bytes = q.pool_pages * q.page_size;
	free_pages = q.pool_pages - q.pages_in_use;
	if (free_pages >= npages)
		return 0;
	if (!q.block_pages) {
		snprintf(why, len, "%llu free pages in the pool, which cannot grow",
			 (unsigned long long)free_pages);
		return -ENOSPC;
	}
	blocks = (npages - free_pages + q.block_pages - 1) / q.block_pages;
	ret = pool_resize(fd, *pool_bytes + blocks * q.block_pages * q.page_size, &got);
	if (!ret)
		return (long)blocks;
	snprintf(why, len, "%llu free pages in the pool; growing it by %llu blocks: %s",
		 (unsigned long long)free_pages, (unsigned long long)blocks, strerror(-ret));
	if (ret != -EPERM && pool_resize(fd, *pool_bytes, &got))
		bench_fail("SMEM_IOC_POOL_RESIZE back to the start", errno);
	return ret;
}

/*
 * The same pages again, all live at once (the pattern of a process that
 * holds its secrets), after the pool has room for them: the direct map's
 * change is reported as rows of their own.
 */
static void direct_map_held(const struct backend *b, size_t npages)
{
	long long before[ARRAY_SIZE(dm_fields)] = { 0 }, after[ARRAY_SIZE(dm_fields)] = { 0 };
	const char *what = "";
	char why[192], how[160];
	__u64 pool_bytes = 0, got;
	long blocks = 0;
	int fd = -1, err;
	double t;

	if (b->kmod) {
		fd = open(SMEM_DEV, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			bench_fail("open " SMEM_DEV, errno);
		blocks = kmod_make_room(fd, npages, &pool_bytes, why, sizeof(why));
		if (blocks < 0) {
			bench_skip(DM_SECTION, DM_HELD_4K_ROW, why);
			close(fd);
			return;
		}
	}
	dm_read(before);
	t = bench_now_ns();
	err = held_pages(b, npages, &what);
	t = bench_now_ns() - t;
	dm_read(after);
	if (blocks > 0 && pool_resize(fd, pool_bytes, &got))
		bench_fail("SMEM_IOC_POOL_RESIZE back to the start", errno);
	if (fd >= 0)
		close(fd);
	if (err) {
		snprintf(why, sizeof(why), "%zu pages: %s: %s", npages, what, strerror(-err));
		bench_skip(DM_SECTION, DM_HELD_4K_ROW, why);
		return;
	}
	snprintf(how, sizeof(how), "%zu pages in objects of %d, all live at once, then freed, "
		 "in %.2f s%s", npages, DM_CHUNK, t / 1e9,
		 blocks > 0 ? "; the pool grown first, to hold them" : "");
	dm_report(b, DM_HELD, false, before, after, npages, how);
}

/*
 * The child of one backend: @npages come and go in chunks, one object at
 * a time, with the direct map before and after; then all live at once.
 */
static void direct_map_child(const struct backend *b, size_t npages)
{
	/* Zeroed only for gcc -fanalyzer, which loses track of dm_read()'s loop. */
	long long before[ARRAY_SIZE(dm_fields)] = { 0 }, after[ARRAY_SIZE(dm_fields)] = { 0 };
	struct cycle_ctx c = { b->new_secret, DM_CHUNK };
	char why[160], how[160];
	size_t done;
	double t;

	bench_set_config(b->config);
	/* The first chunk also tells whether the backend can run here at all. */
	dm_read(before);
	t = bench_now_ns();
	if (try_cycle(&c, why, sizeof(why))) {
		bench_skip(DM_SECTION, dm_fields[DM_4K].row, why);
		return;
	}
	for (done = DM_CHUNK; done < npages; done += c.npages) {
		c.npages = npages - done < DM_CHUNK ? npages - done : DM_CHUNK;
		cycle_run(&c, 1);
	}
	t = bench_now_ns() - t;
	dm_read(after);
	snprintf(how, sizeof(how), "%zu pages in objects of %d, touched and freed one after "
		 "the other, in %.2f s", done, DM_CHUNK, t / 1e9);
	dm_report(b, "", true, before, after, done, how);
	direct_map_held(b, npages);
}

static void direct_map_section(void)
{
	static const struct backend backends[] = {
		{ "kmod", kmod_new, true },
		{ "memfd_secret", secretmem_new, false },
	};
	size_t npages = bench_opt.quick ? DM_QUICK_PAGES : DM_PAGES;

	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		char why[64];
		pid_t pid;
		int ret;

		/* Nothing buffered twice: the child prints on the same stdout. */
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			bench_fail("fork", errno);
		if (!pid) {
			direct_map_child(&backends[i], npages);
			exit(0);
		}
		ret = wait_child(pid);
		if (!ret)
			continue;
		bench_set_config(backends[i].config);
		snprintf(why, sizeof(why), "the child failed (%s %d)",
			 ret > 128 ? "signal" : "exit status", ret > 128 ? ret - 128 : ret);
		bench_skip(DM_SECTION, "child", why);
	}
	bench_set_config("kmod");
}

/* --------------------------------------------------------------- pool */

/*
 * Grow the pool of @base bytes by @blocks blocks of @bs bytes and shrink
 * it back, @reps times: the times in ms into @grow and @shrink.  0, or
 * -errno of a grow that could not be done (the pool is back at @base
 * then), with @why.
 */
static int grow_shrink(int fd, __u64 base, __u64 bs, unsigned int blocks, unsigned int reps,
		       double *grow, double *shrink, char *why, size_t len)
{
	__u64 got;

	for (unsigned int i = 0; i < reps; i++) {
		double t = bench_now_ns();
		int ret = pool_resize(fd, base + blocks * bs, &got);

		grow[i] = (bench_now_ns() - t) / 1e6;
		if (ret) {
			snprintf(why, len, "SMEM_IOC_POOL_RESIZE to %llu MiB: %s (pool at %llu "
				 "MiB)", (unsigned long long)(base + blocks * bs) >> 20,
				 strerror(-ret), (unsigned long long)got >> 20);
			if (ret != -EPERM && pool_resize(fd, base, &got))
				bench_fail("SMEM_IOC_POOL_RESIZE back to the start", errno);
			return ret;
		}
		if (got != base + blocks * bs)
			bench_fail("SMEM_IOC_POOL_RESIZE: pool_size is not the size asked for",
				   EIO);
		t = bench_now_ns();
		ret = pool_resize(fd, base, &got);
		shrink[i] = (bench_now_ns() - t) / 1e6;
		if (ret)
			bench_fail("SMEM_IOC_POOL_RESIZE back to the start", -ret);
		if (got != base)
			bench_fail("SMEM_IOC_POOL_RESIZE back: pool_size is not the start", EIO);
	}
	return 0;
}

/* The median of @n times in ms as a row, with every time, in order, in the detail. */
static void resize_row(const char *row, const double *ms, unsigned int n, const char *more)
{
	char detail[256];
	double median, p99;
	int len;

	bench_percentiles(ms, n, &median, &p99);
	len = snprintf(detail, sizeof(detail), "median of %u, in order:", n);
	for (unsigned int i = 0; i < n && len < (int)sizeof(detail); i++)
		len += snprintf(detail + len, sizeof(detail) - len, " %.1f", ms[i]);
	if (len < (int)sizeof(detail))
		snprintf(detail + len, sizeof(detail) - len, " ms; %s", more);
	bench_value(POOL_SECTION, row, median, "ms", NULL, detail);
}

static void block_size_row(const struct smem_query *q)
{
	FILE *f = fopen(BLOCK_SIZE_FILE, "r");
	char text[64];

	if (!f || !fgets(text, sizeof(text), f)) {
		bench_skip(POOL_SECTION, "memory block size", "no " BLOCK_SIZE_FILE);
	} else {
		char detail[128];

		text[strcspn(text, "\n")] = 0;
		snprintf(detail, sizeof(detail), "block_size_bytes %s; the module's block_pages "
			 "%llu", text, (unsigned long long)q->block_pages);
		bench_value(POOL_SECTION, "memory block size",
			    (double)(strtoull(text, NULL, 16) >> 20), "MiB", NULL, detail);
	}
	if (f)
		fclose(f);
}

static void pool_section(void)
{
	static const unsigned int sizes[] = { 1, 4 };
	unsigned int reps = bench_opt.quick ? QUICK_RESIZES : RESIZES;
	int fd = open(SMEM_DEV, O_RDWR | O_CLOEXEC);
	char why[192], row[64], more[96];
	struct smem_query q;

	if (fd < 0)
		bench_fail("open " SMEM_DEV, errno);
	pool_query(fd, &q);
	block_size_row(&q);
	if (q.page_source != SMEM_SOURCE_CARVEOUT) {
		snprintf(why, sizeof(why), "page_source is %s: only a carved pool is resized",
			 q.page_source == SMEM_SOURCE_RESERVED ? "reserved" :
			 q.page_source == SMEM_SOURCE_FALLBACK ? "fallback" : "none");
		bench_skip(POOL_SECTION, "grow by 1 block", why);
		close(fd);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		double grow[RESIZES], shrink[RESIZES];
		long long refused;
		int ret;

		pool_query(fd, &q);
		refused = (long long)q.refused_blocks;
		snprintf(row, sizeof(row), "grow by %u block%s", sizes[i],
			 sizes[i] == 1 ? "" : "s");
		ret = grow_shrink(fd, q.pool_pages * q.page_size, q.block_pages * q.page_size,
				  sizes[i], reps, grow, shrink, why, sizeof(why));
		if (ret == -EPERM) {
			bench_skip(POOL_SECTION, row, "needs CAP_SYS_ADMIN (run as root)");
			break;
		}
		if (ret) {
			bench_skip(POOL_SECTION, row, why);
			continue;
		}
		pool_query(fd, &q);
		snprintf(more, sizeof(more), "blocks that refused to go offline meanwhile: %lld",
			 (long long)q.refused_blocks - refused);
		resize_row(row, grow, reps, more);
		snprintf(row, sizeof(row), "shrink by %u block%s", sizes[i],
			 sizes[i] == 1 ? "" : "s");
		snprintf(more, sizeof(more), "blocks pending (not given back yet) now: %llu",
			 (unsigned long long)(q.pending_pages / q.block_pages));
		resize_row(row, shrink, reps, more);
	}
	close(fd);
}

/* -------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	static const unsigned int alloc_pages[] = { 1, 16, 4096 };

	argc = bench_init("kernel_bench", argc, argv, QUICK_S, FULL_S);
	if (argc > 1) {
		fprintf(stderr, "usage: kernel_bench [--quick] [--json] [--seconds S]\n");
		return 2;
	}
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	raise_memlock();
	bench_machine();
	bench_set_config("kmod");
	if (access(SMEM_DEV, F_OK)) {
		bench_skip(DM_SECTION, dm_fields[DM_4K].row, "no " SMEM_DEV);
		for (size_t i = 0; i < ARRAY_SIZE(alloc_pages); i++) {
			char section[64];

			alloc_section_name(section, sizeof(section), alloc_pages[i]);
			bench_skip(section, KMOD_ROW, "no " SMEM_DEV);
		}
		bench_skip(POOL_SECTION, "grow by 1 block", "no " SMEM_DEV);
		bench_end();
		return 0;
	}
	/* First: the direct map has not been split by this program yet. */
	direct_map_section();
	for (size_t i = 0; i < ARRAY_SIZE(alloc_pages); i++)
		alloc_section(alloc_pages[i]);
	pool_section();
	bench_end();
	return 0;
}
