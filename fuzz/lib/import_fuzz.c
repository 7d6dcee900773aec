// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: smem_secret_import_fd() on a descriptor a hostile
 * process crafted, the bytes of its sealed object included.
 *
 * What import checks, in order (libsmem/share.c): its flags; fstat() of
 * the descriptor (a character device whose st_rdev is /dev/smem's, as
 * sysfs or the device node says); SMEM_IOC_INFO (protection READ, both
 * seals, a size from the header's 16 bytes up to SMEM_SECRET_MAX_SIZE);
 * the guarantees asked for; then, mapped PROT_NONE and read inside a
 * window, the header: magic "smemsec1" and a length from 1 to what
 * follows the header.
 *
 * A /dev/smem object cannot be made without the module, and the kernel
 * would refuse most of what a fuzzer wants to say.  So the object is a
 * memfd holding the input's bytes, sized and sealed like an export
 * (F_SEAL_WRITE and friends: nobody changes it after the fact), and the
 * link is built with -Wl,--wrap=fstat,--wrap=stat,--wrap=ioctl (lib.mk):
 *  - fstat() of the memfd says what the input chose: the /dev/smem
 *    character device, another character device, the memfd as it is, or
 *    EBADF;
 *  - stat("/dev/smem") gives a character device with a made-up number
 *    when there is no module here (share.c's fallback after sysfs);
 *  - ioctl() on the memfd answers SMEM_IOC_INFO with the input's fields,
 *    or fails as the input says; any other ioctl() on it, or any ioctl()
 *    after fstat() said it is not /dev/smem, is a finding (abort): an
 *    ioctl number means something else to every other driver.
 * The size SMEM_IOC_INFO reports is always the memfd's: that one the
 * kernel tells truthfully, whoever made the object.
 *
 * Every input must give exactly the result the checks above say, with
 * nothing made on failure; an import must give the bytes after the
 * header, be read-only, close, and leave no descriptor or mapping
 * behind.  Any difference aborts with what differed.
 *
 * Input: an 8-byte preamble (struct preamble), then the object's bytes
 * from offset 0 (header included); the object is zero past them.
 * SMEM_FUZZ_SEEDS=DIR writes the seed corpus (fuzz/lib/corpus/import)
 * there and exits.  Exit status 77 when the backend is not there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/smem.h>
#include <smem.h>

#include "fuzz_util.h"

#define SMEM_DEVICE	"/dev/smem"
#define HEADER_SIZE	16		/* share.c's struct export_header */
#define EXPORT_MAGIC	"smemsec1"
/* A device number no driver here has: misc, a minor nobody allocates. */
#define MADE_UP_RDEV	makedev(10, 251)
/* Above this the bytes are checked at both ends only: sparse pages stay so. */
#define FULL_CHECK_MAX	(256 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __real_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st);
int __real_stat(const char *path, struct stat *st);
int __wrap_stat(const char *path, struct stat *st);
int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);

/* What fstat() of the object says. */
enum descriptor {
	DESC_SMEM,		/* the /dev/smem character device */
	DESC_OTHER_CHR,		/* a character device of another number */
	DESC_MEMFD,		/* what it is: a regular file */
	DESC_EBADF,		/* fstat() fails */
	DESC_KINDS
};

static const int ioctl_errnos[] = { 0, ENOTTY, EBADF, EFAULT, EINVAL, EPERM };

struct preamble {
	uint8_t descriptor;	/* enum descriptor, modulo */
	uint8_t ioctl_error;	/* ioctl_errnos[], modulo */
	uint8_t prot;		/* smem_object_info.prot */
	uint8_t seals;		/* .seals */
	uint8_t info_flags;	/* .flags */
	uint8_t pages;		/* object size: see object_pages() */
	uint8_t flags;		/* import flags: see import_flags() */
	uint8_t unused;
};

/* The object of the input being run: the wrappers answer for it. */
static struct {
	int fd;			/* -1 between inputs */
	enum descriptor desc;
	int ioctl_errno;
	struct smem_object_info info;
	bool said_not_smem;	/* fstat() said it is not /dev/smem */
} object = { .fd = -1 };

static size_t page_size;
static dev_t smem_rdev;
static unsigned int given_guarantees;	/* an import's, but SMEM_G_NO_DIRECT_MAP */

#define finding(...) fuzz_finding("import_fuzz", __VA_ARGS__)

/* ------------------------------------------------------------- wrappers */

int __wrap_fstat(int fd, struct stat *st)
{
	int err;

	if (fd != object.fd || object.fd < 0)
		return __real_fstat(fd, st);
	if (object.desc == DESC_EBADF) {
		errno = EBADF;
		object.said_not_smem = true;
		return -1;
	}
	err = __real_fstat(fd, st);
	if (err || object.desc == DESC_MEMFD) {
		object.said_not_smem = true;
		return err;
	}
	st->st_mode = (st->st_mode & ~(mode_t)S_IFMT) | S_IFCHR;
	st->st_rdev = object.desc == DESC_SMEM ? smem_rdev : makedev(1, 3);
	object.said_not_smem = object.desc != DESC_SMEM;
	return 0;
}

int __wrap_stat(const char *path, struct stat *st)
{
	if (strcmp(path, SMEM_DEVICE))
		return __real_stat(path, st);
	if (!__real_stat(path, st) && S_ISCHR(st->st_mode))
		return 0;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFCHR | 0660;
	st->st_rdev = MADE_UP_RDEV;
	return 0;
}

int __wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != object.fd || object.fd < 0)
		return __real_ioctl(fd, request, arg);
	if (object.said_not_smem)
		finding("ioctl(%#lx) on a descriptor fstat() said is not /dev/smem", request);
	if (request != SMEM_IOC_INFO)
		finding("import issued ioctl(%#lx), not SMEM_IOC_INFO", request);
	if (object.ioctl_errno) {
		errno = object.ioctl_errno;
		return -1;
	}
	memcpy(arg, &object.info, sizeof(object.info));
	return 0;
}

/* -------------------------------------------------------------- object */

/* Mostly a few pages; 0, exactly the largest secret and one page more too. */
static size_t object_pages(uint8_t v)
{
	size_t max = SMEM_SECRET_MAX_SIZE / page_size;

	if (v == 0xff)
		return max + 1;
	if (v == 0xfe)
		return max;
	return v % 17;
}

/* Import flags: mostly none, SMEM_REQUIRE() of anything, or an unknown bit. */
static unsigned int import_flags(uint8_t v)
{
	if (v < 0x80)
		return v < 0x40 ? 0 : SMEM_REQUIRE(v & 0x7fU);
	return 1U << (v & 0x1f);
}

/* The memfd: @len bytes of @data from offset 0, @size bytes, sealed. */
static int object_make(const uint8_t *data, size_t len, size_t size)
{
	int fd = memfd_create("import_fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		finding("memfd_create: %s", strerror(errno));
	if (len > size)
		len = size;
	if (ftruncate(fd, (off_t)size) || (len && pwrite(fd, data, len, 0) != (ssize_t)len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
		finding("making the object: %s", strerror(errno));
	return fd;
}

/* Byte @i of the object. */
static uint8_t object_byte(const uint8_t *data, size_t len, size_t i)
{
	return i < len ? data[i] : 0;
}

/* ------------------------------------------------------------- oracle */

/* What import must return for this object, by the checks of share.c. */
static int expected_result(const uint8_t *data, size_t len, unsigned int flags)
{
	const struct smem_object_info *info = &object.info;
	uint8_t header[HEADER_SIZE] = { 0 };
	unsigned int given;
	uint64_t hdr_size;

	if (flags & ~SMEM_REQUIRE(SMEM_G_SHAREABLE * 2 - 1))
		return -EINVAL;
	if (object.desc == DESC_EBADF)
		return -EBADF;
	if (object.desc != DESC_SMEM)
		return -EINVAL;
	if (object.ioctl_errno)
		return object.ioctl_errno == EBADF ? -EBADF : -EINVAL;
	if (info->prot != SMEM_PROT_READ || (info->seals & SMEM_SEAL_ALL) != SMEM_SEAL_ALL ||
	    info->size < HEADER_SIZE || info->size > SMEM_SECRET_MAX_SIZE)
		return -EINVAL;
	given = given_guarantees |
		(info->flags & SMEM_INFO_NO_DIRECT_MAP ? SMEM_G_NO_DIRECT_MAP : 0);
	if ((flags >> SMEM_REQUIRE_SHIFT) & ~given)
		return -ENOTSUP;
	for (size_t i = 0; i < HEADER_SIZE; i++)
		header[i] = object_byte(data, len, i);
	memcpy(&hdr_size, header + 8, sizeof(hdr_size));
	if (memcmp(header, EXPORT_MAGIC, 8) || !hdr_size || hdr_size > info->size - HEADER_SIZE)
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------ checks */

struct expect_bytes {
	const uint8_t *data;	/* the object's bytes from the input */
	size_t len;		/* of @data */
	size_t size;		/* of the secret */
	const void *addr;	/* out: where the bytes were */
};

/* Read callback: 1 when the bytes are the object's after the header. */
static int bytes_fn(const void *buf, size_t len, void *arg)
{
	struct expect_bytes *e = arg;
	const uint8_t *b = buf;

	e->addr = buf;
	if (len != e->size)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (b[i] != object_byte(e->data, e->len, HEADER_SIZE + i))
			return 0;
	return 1;
}

static int write_fn(void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	(void)arg;
	return 0;
}

/* @n bytes at @off of the secret are the object's. */
static void check_range(struct smem_secret *s, const struct expect_bytes *e, size_t off,
			size_t n)
{
	uint8_t buf[4096];
	ssize_t got;

	got = smem_secret_copy_out(s, off, buf, n);
	if (got != (ssize_t)n)
		finding("copy_out(%zu, %zu) of an import of %zu bytes: %zd", off, n, e->size,
			got);
	for (size_t i = 0; i < n; i++)
		if (buf[i] != object_byte(e->data, e->len, HEADER_SIZE + off + i))
			finding("byte %zu of the import differs from the object's", off + i);
}

/* A successful import: the bytes, read-only, and a clean close. */
static void check_import(struct smem_secret *s, const uint8_t *data, size_t len)
{
	struct expect_bytes e = { .data = data, .len = len };
	uint8_t byte = 0;
	uintptr_t page;
	int err;

	for (size_t i = sizeof(uint64_t); i--;)
		e.size = e.size << 8 | object_byte(data, len, 8 + i);
	if (smem_secret_size(s) != e.size)
		finding("import of %zu bytes says size %zu", e.size, smem_secret_size(s));
	if (smem_secret_is_closed(s))
		finding("a new import says it is closed");
	if (e.size <= FULL_CHECK_MAX) {
		err = smem_secret_read(s, bytes_fn, &e);
		if (err != 1)
			finding("read of the import: %d (1: the object's bytes)", err);
	} else {
		check_range(s, &e, 0, 4096);
		check_range(s, &e, e.size - 4096, 4096);
	}
	check_range(s, &e, e.size - 1, 1);
	if (smem_secret_copy_out(s, e.size, &byte, 1) != 0)
		finding("copy_out at the end of the import is not 0");
	err = smem_secret_write(s, write_fn, NULL);
	if (err != -EPERM)
		finding("write to an import: %d, not -EPERM", err);
	err = smem_secret_copy_in(s, 0, &byte, 1, SMEM_KEEP_SOURCE);
	if (err != -EPERM)
		finding("copy_in to an import: %d, not -EPERM", err);
	err = smem_secret_melt(s);
	if (err != -EPERM)
		finding("melt of an import: %d, not -EPERM", err);
	err = smem_secret_check(s);
	if (err)
		finding("check of an import: %d", err);
	err = smem_secret_close(s);
	if (err)
		finding("close of an import: %d", err);
	if (smem_secret_read(s, bytes_fn, &e) != -EBADF)
		finding("read of a closed import is not -EBADF");
	/* The mapping goes with the last reference. */
	page = e.size <= FULL_CHECK_MAX ? (uintptr_t)e.addr & ~(page_size - 1) : 0;
	smem_secret_unref(s);
	if (page && !msync((void *)page, page_size, MS_ASYNC))
		finding("the import's pages are still mapped after its last unref");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smem_secret *s = NULL;
	struct preamble p;
	const uint8_t *bytes;
	unsigned int flags;
	size_t len;
	int free_fd, err, want;

	if (size < sizeof(p))
		return 0;
	free_fd = fuzz_lowest_free_fd();
	memcpy(&p, data, sizeof(p));
	bytes = data + sizeof(p);
	len = size - sizeof(p);
	flags = import_flags(p.flags);

	memset(&object.info, 0, sizeof(object.info));
	object.desc = (enum descriptor)(p.descriptor % DESC_KINDS);
	object.ioctl_errno = ioctl_errnos[p.ioctl_error % (sizeof(ioctl_errnos) / sizeof(int))];
	object.info.size = (uint64_t)object_pages(p.pages) * page_size;
	object.info.prot = p.prot;
	object.info.seals = p.seals;
	object.info.flags = p.info_flags;
	object.info.page_source = SMEM_SOURCE_CARVEOUT;
	object.said_not_smem = false;
	object.fd = object_make(bytes, len, object.info.size);

	want = expected_result(bytes, len, flags);
	err = smem_secret_import_fd(object.fd, flags, &s);
	if (err != want)
		finding("import: %d, the checks say %d", err, want);
	if (err && s)
		finding("a failed import (%d) gave a secret", err);
	if (!err)
		check_import(s, bytes, len);

	close(object.fd);
	object.fd = -1;
	err = fuzz_lowest_free_fd();
	if (err != free_fd)
		finding("descriptor leaked: the lowest free one is %d, was %d", err, free_fd);
	return 0;
}

/* --------------------------------------------------------------- seeds */

static void write_seed(const char *dir, const char *name, const struct preamble *p,
		       const char *magic, uint64_t hdr_size, size_t len)
{
	uint8_t buf[sizeof(*p) + 8192] = { 0 };
	char path[512];
	FILE *f;

	memcpy(buf, p, sizeof(*p));
	memcpy(buf + sizeof(*p), magic, 8);
	memcpy(buf + sizeof(*p) + 8, &hdr_size, sizeof(hdr_size));
	for (size_t i = HEADER_SIZE; i < len; i++)
		buf[sizeof(*p) + i] = (uint8_t)(i * 131 + 7);
	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	f = fopen(path, "we");
	if (!f || fwrite(buf, 1, sizeof(*p) + len, f) != sizeof(*p) + len || fclose(f)) {
		fprintf(stderr, "import_fuzz: cannot write %s\n", path);
		exit(1);
	}
}

/*
 * A valid export of a few sizes, then each check failing once: the
 * fuzzer starts from both sides of every branch of import.
 */
static void write_seeds(const char *dir)
{
	const struct preamble ok = { .prot = SMEM_PROT_READ, .seals = SMEM_SEAL_ALL, .pages = 1 };
	struct preamble p;

	write_seed(dir, "export-1", &ok, EXPORT_MAGIC, 1, 17);
	write_seed(dir, "export-100", &ok, EXPORT_MAGIC, 100, 116);
	write_seed(dir, "export-page", &ok, EXPORT_MAGIC, 4080, 4096);
	p = ok;
	p.pages = 2;
	write_seed(dir, "export-4081", &p, EXPORT_MAGIC, 4081, 4097);
	p.pages = 0xfe;
	write_seed(dir, "export-max", &p, EXPORT_MAGIC, SMEM_SECRET_MAX_SIZE - HEADER_SIZE, 64);
	p.pages = 0xff;
	write_seed(dir, "too-large", &p, EXPORT_MAGIC, 100, 116);
	p = ok;
	p.pages = 0;
	write_seed(dir, "empty-object", &p, EXPORT_MAGIC, 1, 17);
	write_seed(dir, "bad-magic", &ok, "smemsec2", 100, 116);
	write_seed(dir, "size-zero", &ok, EXPORT_MAGIC, 0, 116);
	write_seed(dir, "size-past-end", &ok, EXPORT_MAGIC, 4081, 116);
	write_seed(dir, "size-huge", &ok, EXPORT_MAGIC, UINT64_MAX, 116);
	p = ok;
	p.prot = SMEM_PROT_READWRITE;
	write_seed(dir, "writable", &p, EXPORT_MAGIC, 100, 116);
	p = ok;
	p.seals = SMEM_SEAL_WRITE;
	write_seed(dir, "half-sealed", &p, EXPORT_MAGIC, 100, 116);
	p = ok;
	p.info_flags = SMEM_INFO_NO_DIRECT_MAP;
	p.flags = 0x40 | SMEM_G_NO_DIRECT_MAP;
	write_seed(dir, "require-no-direct-map", &p, EXPORT_MAGIC, 100, 116);
	p.info_flags = 0;
	write_seed(dir, "require-unmet", &p, EXPORT_MAGIC, 100, 116);
	p = ok;
	p.flags = 0x80;
	write_seed(dir, "unknown-flag", &p, EXPORT_MAGIC, 100, 116);
	for (unsigned int d = DESC_OTHER_CHR; d < DESC_KINDS; d++) {
		char name[32];

		p = ok;
		p.descriptor = (uint8_t)d;
		snprintf(name, sizeof(name), "descriptor-%u", d);
		write_seed(dir, name, &p, EXPORT_MAGIC, 100, 116);
	}
	for (unsigned int e = 1; e < sizeof(ioctl_errnos) / sizeof(int); e++) {
		char name[32];

		p = ok;
		p.ioctl_error = (uint8_t)e;
		snprintf(name, sizeof(name), "ioctl-error-%u", e);
		write_seed(dir, name, &p, EXPORT_MAGIC, 100, 116);
	}
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("SMEM_FUZZ_SEEDS");
	struct smem_info info;
	struct stat st;
	int err;

	(void)argc;
	(void)argv;
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (seeds && *seeds)
		write_seeds(seeds);
	err = smem_info(&info);
	if (err) {
		fprintf(stderr, "import_fuzz: no backend here (%s)\n", strerror(-err));
		exit(77);
	}
	/* What share.c gives an import, but what the object's flags add. */
	given_guarantees = SMEM_G_LOCKED | SMEM_G_NO_DUMP | SMEM_G_NO_FORK | SMEM_G_NO_GUP |
			   SMEM_G_SHAREABLE | (info.guarantees & SMEM_G_THREAD_WINDOW);
	/* The number share.c will compare st_rdev with (sysfs agrees with the node). */
	__wrap_stat(SMEM_DEVICE, &st);
	smem_rdev = st.st_rdev;
	fprintf(stderr, "import_fuzz: backend %s, guarantees %#x\n", info.backend_name,
		info.guarantees);
	return 0;
}
