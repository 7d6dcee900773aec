// SPDX-License-Identifier: GPL-2.0
/*
 * Guest side of vfio_dma.sh: a device owner cannot make the IOMMU map a
 * secret.  VFIO's type1 backend follows VM_PFNMAP areas page table by page
 * table and maps what it finds, with nothing that would revoke the mapping
 * when the secret is freed; an smem mapping must make VFIO_IOMMU_MAP_DMA
 * fail instead (EFAULT: GUP refuses VM_IO, and without VM_PFNMAP there is
 * no fallback).
 *
 * Binds QEMU's "edu" device (1234:11e8) to vfio-pci, puts its group in a
 * type1 container, then:
 *  - maps an anonymous mlocked buffer, and has the device copy one page of
 *    it to another by DMA through the IOMMU: the setup can DMA-map;
 *  - maps an smem mapping for reading and writing: must fail with EFAULT,
 *    and unmapping its IOVA must report 0 bytes (nothing got mapped);
 *  - the same, for reading only, after SMEM_IOC_PROTECT to READ.
 * If an smem map succeeds, the device copies the secret out by DMA, to
 * show what that means.  Prints TAP; no skip: without the device or the
 * IOMMU the setup test fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/smem.h>
#include <linux/vfio.h>

#define EDU_ID		"0x1234 0x11e8"
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_DMA_RUN	0x1
#define EDU_DMA_TO_PCI	0x2	/* from the device's buffer to memory */
#define EDU_DMA_BUF	0x40000	/* the device's own buffer, 4096 bytes */
/* Less than the whole buffer: QEMU 7.2 aborts on a transfer that fills it. */
#define EDU_COPY_LEN	1024
#define EDU_DMA_MASK	((1ULL << 28) - 1)

/* IOVAs below the device's 28-bit DMA mask. */
#define IOVA_ANON	0x100000ULL
#define IOVA_SMEM	0x400000ULL

#define PATTERN_ANON	"vfio-dma-anonymous-pattern-5e1c"
#define PATTERN_SECRET	"vfio-dma-smem-secret-pattern-b7"

static unsigned int tap_count;
static bool failed;

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %u ", ok ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failed |= !ok;
}

struct vfio {
	int container;
	int group;
	int device;
	off_t bar0;		/* offsets of the regions in the device fd */
	off_t config;
	char bdf[NAME_MAX + 1];
};

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	if (n != (ssize_t)strlen(text)) {
		printf("# write %s to %s: %s\n", text, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The first word of sysfs attribute @attr of PCI device @bdf, or "". */
static void pci_attr(const char *bdf, const char *attr, char word[16])
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%15s", word) != 1)
		word[0] = 0;
	if (f)
		fclose(f);
}

/* "0xVVVV 0xDDDD" of PCI device @bdf */
static void pci_id(const char *bdf, char *id, size_t len)
{
	char vendor[16], device[16];

	pci_attr(bdf, "vendor", vendor);
	pci_attr(bdf, "device", device);
	snprintf(id, len, "%s %s", vendor, device);
}

/* Bind the first edu device to vfio-pci; its IOMMU group, or -1. */
static int bind_edu(struct vfio *v)
{
	char path[PATH_MAX], link[PATH_MAX], id[40];
	DIR *dir = opendir("/sys/bus/pci/devices");
	struct dirent *de;
	ssize_t n;

	v->bdf[0] = 0;
	while (dir && (de = readdir(dir))) {
		pci_id(de->d_name, id, sizeof(id));
		if (!strcmp(id, EDU_ID)) {
			snprintf(v->bdf, sizeof(v->bdf), "%s", de->d_name);
			break;
		}
	}
	if (dir)
		closedir(dir);
	if (!v->bdf[0]) {
		printf("# no edu device (%s) on the PCI bus\n", EDU_ID);
		return -1;
	}

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", v->bdf);
	if (write_file(path, "vfio-pci") || write_file("/sys/bus/pci/drivers_probe", v->bdf))
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", v->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (strcmp(basename(link), "vfio-pci")) {
		printf("# %s is bound to \"%s\", not vfio-pci\n", v->bdf, link);
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", v->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		printf("# %s has no IOMMU group (no IOMMU?)\n", v->bdf);
		return -1;
	}
	link[n] = 0;
	return atoi(basename(link));
}

static off_t region_offset(int device, unsigned int index)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -1;
	return info.offset;
}

/* Container, group and device, with type1 on; false (and why) if not. */
static bool vfio_open(struct vfio *v)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int group_nr = bind_edu(v);
	char path[64];
	uint16_t cmd;

	if (group_nr < 0)
		return false;
	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0 || ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		printf("# /dev/vfio/vfio: no type1v2 container: %s\n", strerror(errno));
		return false;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_nr);
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0 || ioctl(v->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		printf("# %s: not a viable group: %s\n", path, strerror(errno));
		return false;
	}
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) ||
	    ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		printf("# %s: cannot set up a type1v2 container: %s\n", path, strerror(errno));
		return false;
	}
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, v->bdf);
	if (v->device < 0) {
		printf("# %s: no device fd: %s\n", v->bdf, strerror(errno));
		return false;
	}
	v->bar0 = region_offset(v->device, VFIO_PCI_BAR0_REGION_INDEX);
	v->config = region_offset(v->device, VFIO_PCI_CONFIG_REGION_INDEX);
	/* Let the device master the bus, or its DMA goes nowhere. */
	if (v->bar0 < 0 || v->config < 0 ||
	    pread(v->device, &cmd, sizeof(cmd), v->config + PCI_COMMAND) != sizeof(cmd)) {
		printf("# %s: cannot read its regions: %s\n", v->bdf, strerror(errno));
		return false;
	}
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(v->device, &cmd, sizeof(cmd), v->config + PCI_COMMAND) != sizeof(cmd)) {
		printf("# %s: cannot enable bus mastering: %s\n", v->bdf, strerror(errno));
		return false;
	}
	printf("# %s in IOMMU group %d, type1v2 container\n", v->bdf, group_nr);
	return true;
}

/* VFIO_IOMMU_MAP_DMA: 0 or -errno. */
static int map_dma(const struct vfio *v, void *vaddr, uint64_t iova, uint64_t size,
		   uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(v->container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

/* VFIO_IOMMU_UNMAP_DMA: bytes it unmapped, or -errno. */
static int64_t unmap_dma(const struct vfio *v, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};

	if (ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -errno;
	return unmap.size;
}

static bool edu_write(const struct vfio *v, unsigned int reg, uint32_t val)
{
	return pwrite(v->device, &val, sizeof(val), v->bar0 + reg) == sizeof(val);
}

/* One DMA transfer of the edu device; false if it did not complete. */
static bool edu_dma(const struct vfio *v, uint64_t src, uint64_t dst, uint32_t len,
		    uint32_t dir)
{
	uint32_t cmd = EDU_DMA_RUN;

	if (!edu_write(v, EDU_DMA_SRC, src) || !edu_write(v, EDU_DMA_DST, dst) ||
	    !edu_write(v, EDU_DMA_CNT, len) || !edu_write(v, EDU_DMA_CMD, EDU_DMA_RUN | dir))
		return false;
	/* The device runs the transfer 100 ms (virtual time) later. */
	for (int i = 0; i < 100 && (cmd & EDU_DMA_RUN); i++) {
		usleep(50000);
		if (pread(v->device, &cmd, sizeof(cmd), v->bar0 + EDU_DMA_CMD) != sizeof(cmd))
			return false;
	}
	return !(cmd & EDU_DMA_RUN);
}

/*
 * Have the device read @len bytes at @from_iova into its buffer and write
 * them to @to_iova.
 */
static bool edu_copy(const struct vfio *v, uint64_t from_iova, uint64_t to_iova, uint32_t len)
{
	return edu_dma(v, from_iova, EDU_DMA_BUF, len, 0) &&
	       edu_dma(v, EDU_DMA_BUF, to_iova, len, EDU_DMA_TO_PCI);
}

static void fill(char *p, size_t len, const char *pattern)
{
	for (size_t i = 0; i + 32 <= len; i += 32)
		memcpy(p + i, pattern, 32);
}

/*
 * Map @secret (an smem mapping of @size bytes) with @flags: it must fail
 * with EFAULT and leave nothing mapped at its IOVA.  @anon (two pages,
 * mapped at IOVA_ANON) receives what the device can read of the secret if
 * the map succeeds.
 */
static void check_smem_map(const struct vfio *v, void *secret, size_t size, uint32_t flags,
			   const char *what, char *anon, size_t ps)
{
	int ret = map_dma(v, secret, IOVA_SMEM, size, flags);
	int64_t unmapped;

	if (!ret) {
		memset(anon + ps, 0, ps);
		if (edu_copy(v, IOVA_SMEM, IOVA_ANON + ps, EDU_COPY_LEN) &&
		    !memcmp(anon + ps, PATTERN_SECRET, 32))
			printf("# the device read the secret by DMA: \"%.31s\"\n", anon + ps);
	}
	tap(ret == -EFAULT, "MAP_DMA of %s fails with EFAULT (got %s)", what,
	    ret ? strerror(-ret) : "success");

	unmapped = unmap_dma(v, IOVA_SMEM, size);
	tap(unmapped == 0, "nothing of %s is mapped at its IOVA (UNMAP_DMA: %lld bytes%s%s)",
	    what, (long long)unmapped, unmapped < 0 ? ", " : "",
	    unmapped < 0 ? strerror(-unmapped) : "");
}

int main(void)
{
	const uint32_t rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	struct smem_protect ro = { .prot = SMEM_PROT_READ };
	size_t ps = sysconf(_SC_PAGESIZE), size = 4 * ps;
	struct smem_alloc alloc = { .size = size };
	struct smem_object_info info = { 0 };
	struct vfio v = { .container = -1, .group = -1, .device = -1 };
	char *anon, *secret;
	int64_t unmapped;
	bool ok;
	int fd, ret;

	printf("TAP version 13\n1..7\n");
	fflush(stdout);

	ok = vfio_open(&v);
	tap(ok, "setup: edu device bound to vfio-pci, its group in a type1v2 container");
	if (!ok) {
		printf("Bail out! no VFIO device behind an IOMMU\n");
		return 1;
	}

	/* Positive control: an ordinary buffer can be mapped and DMA'd. */
	anon = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED || mlock(anon, 2 * ps)) {
		printf("Bail out! anonymous buffer: %s\n", strerror(errno));
		return 1;
	}
	fill(anon, ps, PATTERN_ANON);
	memset(anon + ps, 0, ps);
	ret = map_dma(&v, anon, IOVA_ANON, 2 * ps, rw);
	if (ret)
		printf("# MAP_DMA: %s\n", strerror(-ret));
	ok = !ret;
	ok = ok && edu_copy(&v, IOVA_ANON, IOVA_ANON + ps, EDU_COPY_LEN) &&
	     !memcmp(anon, anon + ps, EDU_COPY_LEN);
	tap(ok, "MAP_DMA of an anonymous mlocked buffer succeeds, the device copies it by DMA");

	/* The secret, read-write then read-only. */
	fd = open("/dev/smem", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, SMEM_IOC_ALLOC, &alloc)) {
		printf("Bail out! /dev/smem: %s\n", strerror(errno));
		return 1;
	}
	/*
	 * type1 maps a VM_PFNMAP pfn only if it has no struct page (or a
	 * reserved one): a fallback page would be refused whatever the
	 * mapping's flags, and the test would prove nothing.
	 */
	if (ioctl(fd, SMEM_IOC_INFO, &info) || info.page_source != SMEM_SOURCE_CARVEOUT) {
		printf("Bail out! the secret's page source is %u, not carveout\n",
		       info.page_source);
		return 1;
	}
	secret = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (secret == MAP_FAILED) {
		printf("Bail out! mmap /dev/smem: %s\n", strerror(errno));
		return 1;
	}
	fill(secret, size, PATTERN_SECRET);
	check_smem_map(&v, secret, size, rw, "a read-write smem mapping", anon, ps);

	if (ioctl(fd, SMEM_IOC_PROTECT, &ro)) {
		printf("Bail out! SMEM_IOC_PROTECT READ: %s\n", strerror(errno));
		return 1;
	}
	check_smem_map(&v, secret, size, VFIO_DMA_MAP_FLAG_READ,
		       "an smem mapping after PROTECT READ (device reads only)", anon, ps);

	unmapped = unmap_dma(&v, IOVA_ANON, 2 * ps);
	tap(unmapped == (int64_t)(2 * ps), "UNMAP_DMA of the anonymous buffer: %lld bytes",
	    (long long)unmapped);

	munmap(secret, size);
	close(fd);
	close(v.device);
	close(v.group);
	close(v.container);
	return failed;
}
