// SPDX-License-Identifier: GPL-2.0
/*
 * First kernel's side of kdump.sh.  Not a kselftest: "hold" does not
 * return.
 *
 *   kdump_holder status     print 0 or 1: the SMEM_STATUS_CRASH_KERNEL bit
 *                           of SMEM_IOC_QUERY
 *   kdump_holder grow       grow the pool by one memory block
 *   kdump_holder hold SEED CMD
 *                           take every free page of the pool as one secret
 *                           and fill it with the secret pattern of SEED
 *                           (kdump_pattern.h), computed in place; fill a few
 *                           mlocked ordinary pages with the control pattern;
 *                           print the physical ranges of both
 *                           (kdump-secret-range / kdump-control-range START
 *                           END, from /proc/self/pagemap); run CMD with
 *                           sh -c and, if it succeeds, crash the kernel
 *                           (sysrq c) with both still held.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include <linux/smem.h>

#include "kdump_pattern.h"

#define CONTROL_PAGES	4
#define PAGEMAP_PFN	((1ULL << 55) - 1)
#define PAGEMAP_PRESENT	(1ULL << 63)

static int query(int fd, struct smem_query *q)
{
	memset(q, 0, sizeof(*q));
	if (ioctl(fd, SMEM_IOC_QUERY, q)) {
		perror("kdump_holder: SMEM_IOC_QUERY");
		return -1;
	}
	return 0;
}

/*
 * Print the physical ranges behind [p, p + len) as "kdump-NAME-range
 * START END" lines (END exclusive), merging contiguous pages, and the
 * number of pages whose frame pagemap does not tell, if any, as
 * "kdump-NAME-unknown N".
 */
static int print_ranges(const char *name, const void *p, size_t len, size_t ps)
{
	uint64_t start = 0, end = 0, entry;
	size_t first = (uintptr_t)p / ps, unknown = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return perror("kdump_holder: pagemap"), -1;
	for (size_t i = 0; i < len / ps; i++) {
		uint64_t phys;

		if (pread(fd, &entry, sizeof(entry), (first + i) * sizeof(entry)) !=
		    sizeof(entry)) {
			perror("kdump_holder: pagemap read");
			close(fd);
			return -1;
		}
		if (!(entry & PAGEMAP_PRESENT) || !(entry & PAGEMAP_PFN)) {
			unknown++;
			continue;
		}
		phys = (entry & PAGEMAP_PFN) * ps;
		if (end && phys == end) {
			end += ps;
			continue;
		}
		if (end)
			printf("kdump-%s-range %#" PRIx64 " %#" PRIx64 "\n", name, start, end);
		start = phys;
		end = phys + ps;
	}
	if (end)
		printf("kdump-%s-range %#" PRIx64 " %#" PRIx64 "\n", name, start, end);
	if (unknown)
		printf("kdump-%s-unknown %zu\n", name, unknown);
	close(fd);
	return 0;
}

static int grow_pool(int fd)
{
	struct smem_query q;
	struct smem_pool_resize r = { 0 };

	if (query(fd, &q))
		return 1;
	r.size = (q.pool_pages + q.block_pages) * q.page_size;
	if (ioctl(fd, SMEM_IOC_POOL_RESIZE, &r)) {
		perror("kdump_holder: SMEM_IOC_POOL_RESIZE");
		return 1;
	}
	printf("kdump-grow %" PRIu64 " MiB -> %" PRIu64 " MiB\n",
	       (uint64_t)(q.pool_pages * q.page_size) >> 20, (uint64_t)r.pool_size >> 20);
	return 0;
}

static int hold(int fd, uint64_t seed, const char *cmd)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	size_t words = ps / sizeof(uint64_t);
	struct smem_alloc alloc = { 0 };
	struct smem_query q;
	char *secret, *control;
	FILE *sysrq;

	if (query(fd, &q))
		return 1;
	alloc.size = (q.pool_pages - q.pages_in_use) * q.page_size;
	if (!alloc.size || ioctl(fd, SMEM_IOC_ALLOC, &alloc))
		return perror("kdump_holder: SMEM_IOC_ALLOC of the free pool"), 1;
	secret = mmap(NULL, alloc.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	control = mmap(NULL, CONTROL_PAGES * ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (secret == MAP_FAILED || control == MAP_FAILED || mlock(control, CONTROL_PAGES * ps))
		return perror("kdump_holder: mmap"), 1;
	for (size_t off = 0; off < alloc.size; off += ps)
		kdump_fill((uint64_t *)(secret + off), words, seed, KDUMP_SECRET_SALT);
	for (size_t off = 0; off < CONTROL_PAGES * ps; off += ps)
		kdump_fill((uint64_t *)(control + off), words, seed, KDUMP_CONTROL_SALT);
	printf("kdump-secret-pages=%" PRIu64 "\n", (uint64_t)alloc.size / ps);
	if (print_ranges("secret", secret, alloc.size, ps) ||
	    print_ranges("control", control, CONTROL_PAGES * ps, ps))
		return 1;
	fflush(stdout);
	if (system(cmd)) {
		fprintf(stderr, "kdump_holder: '%s' failed: no crash\n", cmd);
		return 1;
	}
	/* The lines above must be out of the UART before the crash. */
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
	sysrq = fopen("/proc/sysrq-trigger", "w");
	if (!sysrq)
		return perror("kdump_holder: sysrq-trigger"), 1;
	fputs("c", sysrq);
	fclose(sysrq);
	return 1;	/* not reached */
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	int fd = open("/dev/smem", O_RDWR | O_CLOEXEC);
	struct smem_query q;

	if (fd < 0)
		return perror("kdump_holder: /dev/smem"), 1;
	if (!strcmp(what, "status") && argc == 2) {
		if (query(fd, &q))
			return 1;
		printf("%d\n", !!(q.status & SMEM_STATUS_CRASH_KERNEL));
		return 0;
	}
	if (!strcmp(what, "grow") && argc == 2)
		return grow_pool(fd);
	if (!strcmp(what, "hold") && argc == 4)
		return hold(fd, strtoull(argv[2], NULL, 16), argv[3]);
	fprintf(stderr, "usage: kdump_holder status | grow | hold SEED CMD\n");
	return 2;
}
