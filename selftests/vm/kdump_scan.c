// SPDX-License-Identifier: GPL-2.0
/*
 * Capture kernel's side of kdump.sh: the /init of its initramfs, linked
 * statically.  Reads the seed from smem_kdump_seed=HEX on the kernel
 * command line and searches every PT_LOAD segment of /proc/vmcore, at
 * every byte offset, for the first words of the secret and of the control
 * pattern (kdump_pattern.h).  Prints on the console:
 *
 *   kdump-load START END            physical range of each PT_LOAD
 *                                   (END exclusive)
 *   kdump-hit secret|control PHYS   where the first hits are
 *   kdump-found secret=N control=M bytes=B
 *
 * then "smem-vm-exit 0" on the second serial port, as tools/vm-run
 * expects (1 when /proc/vmcore could not be searched), and reboots.
 */
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdump_pattern.h"

#define MAX_HITS_SHOWN	8

struct needle {
	const char *name;
	uint64_t words[KDUMP_NEEDLE_WORDS];
	unsigned long hits;
};

static void search(struct needle *n, const char *seg, size_t len, uint64_t paddr)
{
	const char *p = seg, *end = seg + len;

	while ((p = memmem(p, end - p, n->words, sizeof(n->words)))) {
		if (n->hits++ < MAX_HITS_SHOWN)
			printf("kdump-hit %s %#" PRIx64 "\n", n->name, paddr + (p - seg));
		p++;
	}
}

/* Search every PT_LOAD of /proc/vmcore; the bytes searched, or -1. */
static long long scan_vmcore(struct needle *needles, int count)
{
	size_t ps = sysconf(_SC_PAGESIZE);
	long long bytes = 0;
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	int fd = open("/proc/vmcore", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return perror("kdump_scan: /proc/vmcore"), -1;
	ph = calloc(eh.e_phnum, sizeof(*ph));
	if (!ph || pread(fd, ph, eh.e_phnum * sizeof(*ph), eh.e_phoff) !=
	    (ssize_t)(eh.e_phnum * sizeof(*ph)))
		return perror("kdump_scan: program headers"), -1;
	for (int i = 0; i < eh.e_phnum; i++) {
		off_t delta = ph[i].p_offset % ps;
		char *map;

		if (ph[i].p_type != PT_LOAD || !ph[i].p_filesz)
			continue;
		printf("kdump-load %#" PRIx64 " %#" PRIx64 "\n",
		       (uint64_t)ph[i].p_paddr, (uint64_t)(ph[i].p_paddr + ph[i].p_filesz));
		map = mmap(NULL, delta + ph[i].p_filesz, PROT_READ, MAP_PRIVATE, fd,
			   ph[i].p_offset - delta);
		if (map == MAP_FAILED)
			return perror("kdump_scan: mmap /proc/vmcore"), -1;
		for (int j = 0; j < count; j++)
			search(&needles[j], map + delta, ph[i].p_filesz, ph[i].p_paddr);
		munmap(map, delta + ph[i].p_filesz);
		bytes += ph[i].p_filesz;
	}
	free(ph);
	close(fd);
	return bytes;
}

static uint64_t cmdline_seed(void)
{
	char buf[4096] = "";
	const char *arg;
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	arg = strstr(buf, "smem_kdump_seed=");
	return arg ? strtoull(arg + strlen("smem_kdump_seed="), NULL, 16) : 0;
}

int main(void)
{
	struct needle needles[] = { { .name = "secret" }, { .name = "control" } };
	long long bytes;
	uint64_t seed;
	FILE *report;
	int fd;

	mkdir("/proc", 0755);
	mkdir("/dev", 0755);
	if (mount("proc", "/proc", "proc", 0, NULL) ||
	    mount("dev", "/dev", "devtmpfs", 0, NULL))
		perror("kdump_scan: mount");
	fd = open("/dev/console", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	seed = cmdline_seed();
	kdump_fill(needles[0].words, KDUMP_NEEDLE_WORDS, seed, KDUMP_SECRET_SALT);
	kdump_fill(needles[1].words, KDUMP_NEEDLE_WORDS, seed, KDUMP_CONTROL_SALT);
	bytes = seed ? scan_vmcore(needles, 2) : -1;
	if (!seed)
		fprintf(stderr, "kdump_scan: no smem_kdump_seed= on the command line\n");
	if (bytes >= 0)
		printf("kdump-found secret=%lu control=%lu bytes=%lld\n",
		       needles[0].hits, needles[1].hits, bytes);

	report = fopen("/dev/ttyS1", "w");
	if (report) {
		fprintf(report, "smem-vm-exit %d\n", bytes >= 0 ? 0 : 1);
		fclose(report);
	}
	sync();
	reboot(RB_AUTOBOOT);
	return 1;
}
