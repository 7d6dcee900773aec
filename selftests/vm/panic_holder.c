// SPDX-License-Identifier: GPL-2.0
/*
 * Guest side of panic_wipe.sh (with smem_dmtest loaded): hold a secret
 * with a known pattern, print the physical address of its first page and
 * of an ordinary page holding a control pattern, then panic the kernel, or
 * with the argument "reboot" reboot it.  Not a kselftest: it does not
 * return.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <linux/smem.h>

#include "../module/smem_dmtest.h"

#define PATTERN_SECRET	"smem-panic-secret-pattern-7d1f!"
#define PATTERN_CONTROL	"smem-panic-control-pattern-93a2"

/*
 * Physical address of the page at @p, from its page table entry through
 * smem_dmtest, which needs no pagemap permission; 0 if unknown.
 */
static uint64_t phys_of(const void *p)
{
	uint64_t v = (uintptr_t)p;
	int fd = open("/dev/smem_dmtest", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, SMEM_DMTEST_VIRT_TO_PFN, &v))
		v = 0;
	if (fd >= 0)
		close(fd);
	return v * sysconf(_SC_PAGESIZE);
}

static void fill(char *p, size_t len, const char *pattern)
{
	for (size_t i = 0; i + 32 <= len; i += 32)
		memcpy(p + i, pattern, 32);
}

int main(int argc, char **argv)
{
	bool reboot_instead = argc > 1 && !strcmp(argv[1], "reboot");
	long ps = sysconf(_SC_PAGESIZE);
	struct smem_alloc alloc = { .size = ps };
	char *secret, *control;
	int fd = open("/dev/smem", O_RDWR | O_CLOEXEC);
	FILE *sysrq;

	if (fd < 0 || ioctl(fd, SMEM_IOC_ALLOC, &alloc))
		return perror("smem"), 1;
	secret = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	control = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (secret == MAP_FAILED || control == MAP_FAILED || mlock(control, ps))
		return perror("mmap"), 1;
	fill(secret, ps, PATTERN_SECRET);
	fill(control, ps, PATTERN_CONTROL);
	printf("smem-secret-phys=%#llx\nsmem-control-phys=%#llx\n",
	       (unsigned long long)phys_of(secret), (unsigned long long)phys_of(control));
	fflush(stdout);
	sleep(1);

	if (reboot_instead)
		return reboot(RB_AUTOBOOT), perror("reboot"), 1;
	sysrq = fopen("/proc/sysrq-trigger", "w");
	if (!sysrq)
		return perror("sysrq-trigger"), 1;
	fputs("c", sysrq);
	fclose(sysrq);
	return 1;	/* not reached */
}
