// SPDX-License-Identifier: GPL-2.0
/*
 * lifetime_bench: what a secret's whole life costs, from making it to
 * closing it, against libsodium's guarded allocations and against the
 * bare system calls underneath.
 *
 * Each backend ("kmod" where /dev/smem exists, "memfd_secret", "mlock"),
 * with protection keys where the machine has them and without, runs in a
 * child process of its own (this program again, with --child): libsmem
 * reads SMEM_BACKEND and SMEM_NO_PKEYS once, at its first use.  Each
 * child prints its own figures, under the configuration "BACKEND, keys"
 * or "BACKEND, no keys"; a backend the library cannot use there is one
 * skipped row.
 *
 * Sections "create+close 32 B", "create+close 4 KiB", "create+close 1 MiB",
 * the rows timed interleaved (bench.h):
 *   smem_secret_new + unref          a secret copied from a buffer with
 *                                    SMEM_KEEP_SOURCE (the buffer is not
 *                                    wiped, so every operation copies the
 *                                    same bytes), then its last reference
 *                                    dropped: the close waits for nobody,
 *                                    wipes the bytes and gives the memory
 *                                    back.  Anchor: sodium_malloc.  Guarded:
 *                                    the target is this ratio.
 *   smem_secret_new_random + unref   the same, the bytes from getrandom(2).
 *                                    Anchor: sodium_malloc.
 *   sodium_malloc + sodium_free      the anchor: what an application without
 *                                    libsmem uses for a key, guarded pages
 *                                    too (an mmap, guard pages, mlock; it
 *                                    fills the bytes and wipes them at the
 *                                    free, so it writes every byte twice as
 *                                    the smem rows do).
 *   memfd_secret + mmap + munmap by hand
 *                                    memfd_secret(0), ftruncate, mmap, a
 *                                    first write to every page, munmap,
 *                                    close: the kernel's share of a secret
 *                                    of the memfd_secret backend, the floor
 *                                    under it without guard pages or a
 *                                    window (a skipped row where the kernel
 *                                    has no memfd_secret(2)).
 * The target: making and closing a 32-byte secret at least as
 * fast as sodium_malloc + sodium_free on every backend (ratio <= 1), and
 * ten times faster where small secrets share pages (with keys: ratio
 * <= 0.1); the table says whether it is met.
 *
 * Section "export+import", where the backend is shareable (kmod:
 * SMEM_G_SHAREABLE; elsewhere a skipped row):
 *   smem_secret_export_fd + import_fd + unref
 *                                    a sealed copy of a 32-byte secret as a
 *                                    descriptor, a secret imported from it,
 *                                    the descriptor closed and the import's
 *                                    reference dropped: what handing a
 *                                    secret to another process costs, but
 *                                    the SCM_RIGHTS message.  Anchor: making
 *                                    a new 32-byte secret, in the same
 *                                    section (an import is a secret too).
 *   smem_secret_new + unref          the anchor, as above.
 *
 * Each section takes QUICK_S seconds with --quick (the program about 13 s
 * on the development host, two backends without keys), FULL_S without
 * (about 40 s there); --seconds S sets it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <smem.h>
#include <sodium.h>

#include "bench.h"

#define QUICK_S		0.5
#define FULL_S		5.0

#define SMALL		32
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* What one row of a create+close section makes and closes. */
struct lifetime {
	size_t size;
	unsigned char *src;	/* random bytes, not secret: copied, kept */
	struct smem_secret *exported;	/* export+import: the secret handed on */
};

static size_t page_size;

/* ------------------------------------------------------------- the rows */

/* The last reference closes the secret; unref has no result to check. */
static void secret_new_ops(void *arg, unsigned int n)
{
	const struct lifetime *l = arg;
	struct smem_secret *s;
	int err;

	while (n--) {
		err = smem_secret_new(l->src, l->size, SMEM_KEEP_SOURCE, &s);
		if (err)
			bench_fail("smem_secret_new", -err);
		smem_secret_unref(s);
	}
}

static void secret_random_ops(void *arg, unsigned int n)
{
	const struct lifetime *l = arg;
	struct smem_secret *s;
	int err;

	while (n--) {
		err = smem_secret_new_random(l->size, 0, &s);
		if (err)
			bench_fail("smem_secret_new_random", -err);
		smem_secret_unref(s);
	}
}

static void sodium_ops(void *arg, unsigned int n)
{
	const struct lifetime *l = arg;
	void *p;

	while (n--) {
		p = sodium_malloc(l->size);
		if (!p)
			bench_fail("sodium_malloc", errno);
		sodium_free(p);
	}
}

static int raw_memfd_secret(void)
{
	return (int)syscall(SYS_memfd_secret, 0);
}

/* Whether memfd_secret(2) works here; why not in @why. */
static bool memfd_secret_works(char *why, size_t len)
{
	int fd = raw_memfd_secret();

	if (fd >= 0) {
		close(fd);
		return true;
	}
	if (errno == ENOSYS)
		snprintf(why, len, "memfd_secret(2): ENOSYS (not in this kernel, or "
			 "secretmem not enabled)");
	else
		snprintf(why, len, "memfd_secret(2): %s", strerror(errno));
	return false;
}

static void memfd_ops(void *arg, unsigned int n)
{
	const struct lifetime *l = arg;
	size_t len = (l->size + page_size - 1) & ~(page_size - 1), off;
	unsigned char *p;
	int fd;

	while (n--) {
		fd = raw_memfd_secret();
		if (fd < 0)
			bench_fail("memfd_secret", errno);
		if (ftruncate(fd, (off_t)len))
			bench_fail("ftruncate of a memfd_secret", errno);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			bench_fail("mmap of a memfd_secret", errno);
		/* The first touch allocates the page (and takes it out of the direct map). */
		for (off = 0; off < len; off += page_size)
			((volatile unsigned char *)p)[off] = 1;
		if (munmap(p, len))
			bench_fail("munmap of a memfd_secret", errno);
		close(fd);
	}
}

static void export_import_ops(void *arg, unsigned int n)
{
	const struct lifetime *l = arg;
	struct smem_secret *s;
	int fd, err;

	while (n--) {
		fd = smem_secret_export_fd(l->exported);
		if (fd < 0)
			bench_fail("smem_secret_export_fd", -fd);
		err = smem_secret_import_fd(fd, 0, &s);
		if (err)
			bench_fail("smem_secret_import_fd", -err);
		close(fd);
		smem_secret_unref(s);
	}
}

/* ------------------------------------------------------------ sections */

/*
 * "create+close" of @size bytes (@label: "32 B"...) on @info's backend;
 * @share: small secrets share pages.
 */
static void create_section(const struct smem_info *info, size_t size, const char *label,
			   bool share)
{
	struct lifetime l = { .size = size, .src = malloc(size) };
	struct bench_row rows[] = {
		{ .name = "smem_secret_new + unref", .run = secret_new_ops, .ctx = &l,
		  .anchor = 2, .guard = true },
		{ .name = "smem_secret_new_random + unref", .run = secret_random_ops, .ctx = &l,
		  .anchor = 2 },
		{ .name = "sodium_malloc + sodium_free", .run = sodium_ops, .ctx = &l,
		  .anchor = -1 },
		{ .name = "memfd_secret + mmap + munmap by hand", .run = memfd_ops, .ctx = &l,
		  .anchor = -1 },
	};
	int n = ARRAY_SIZE(rows);
	char section[64], why[128];
	double ratio, target;

	if (!l.src)
		bench_fail("malloc", ENOMEM);
	randombytes_buf(l.src, size);
	snprintf(section, sizeof(section), "create+close %s", label);
	if (!memfd_secret_works(why, sizeof(why)))
		bench_skip(section, rows[--n].name, why);
	/*
	 * On memfd_secret a secret's cost follows how much of the direct
	 * map is split already, which sodium_malloc's does not: the guard
	 * watches it against the same system calls by hand instead.
	 */
	else if (!strcmp(info->backend_name, "memfd_secret"))
		rows[0].anchor = 3;
	bench_section(section, rows, n);
	if (size == SMALL) {
		ratio = rows[0].median / rows[2].median;
		target = share ? 0.1 : 1;
		bench_text("target: smem_secret_new + unref / sodium_malloc + sodium_free <= %g%s: "
			   "%.3f, %s\n", target, share ? " (small secrets share pages)" : "",
			   ratio, ratio <= target ? "met" : "NOT met");
	}
	bench_rows_free(rows, n);
	free(l.src);
}

static void export_section(const struct smem_info *info)
{
	static const char section[] = "export+import";
	unsigned char src[SMALL];
	struct lifetime l = { .size = SMALL, .src = src };
	struct bench_row rows[] = {
		{ .name = "smem_secret_export_fd + import_fd + unref", .run = export_import_ops,
		  .ctx = &l, .anchor = 1 },
		{ .name = "smem_secret_new + unref", .run = secret_new_ops, .ctx = &l,
		  .anchor = -1 },
	};
	char why[128];
	int err;

	if (!(info->guarantees & SMEM_G_SHAREABLE)) {
		snprintf(why, sizeof(why), "%s is not shareable (no SMEM_G_SHAREABLE)",
			 info->backend_name);
		bench_skip(section, rows[0].name, why);
		return;
	}
	randombytes_buf(src, sizeof(src));
	err = smem_secret_new_random(SMALL, 0, &l.exported);
	if (err)
		bench_fail("smem_secret_new_random", -err);
	bench_section(section, rows, ARRAY_SIZE(rows));
	bench_rows_free(rows, ARRAY_SIZE(rows));
	smem_secret_unref(l.exported);
}

/* ------------------------------------------------------------- children */

/* In a child: the sections on what SMEM_BACKEND and SMEM_NO_PKEYS chose. */
static int child_main(int argc, char **argv, const struct smem_info *info)
{
	bool keys = info->guarantees & SMEM_G_THREAD_WINDOW;

	(void)argc;
	(void)argv;
	/* With keys, secrets of up to 2016 bytes share pages (smem.h). */
	create_section(info, SMALL, "32 B", keys);
	create_section(info, 4096, "4 KiB", false);
	create_section(info, 1 << 20, "1 MiB", false);
	export_section(info);
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	argc = bench_init("lifetime_bench", argc, argv, QUICK_S, FULL_S);
	if (sodium_init() < 0)
		bench_fail("sodium_init", ENOSYS);
	if (argc != 1 && (argc != 2 || strcmp(argv[1], "--child"))) {
		fprintf(stderr, "usage: lifetime_bench [--quick] [--json] [--seconds S] "
			"[--backend B]\n");
		return 2;
	}
	ret = bench_each_config(argc, argv, child_main);
	bench_end();
	return ret;
}
