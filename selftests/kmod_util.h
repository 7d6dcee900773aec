/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kmod_*_test programs: the /dev/smem ioctls as
 * functions returning 0 or a negative errno, the module's sysfs counters
 * and parameters, reloading the module with other parameters, /proc
 * lookups (meminfo, status, iomem), fd passing, credentials (another
 * user, fewer capabilities, RLIMIT_MEMLOCK), failing children, and the
 * test module smem_dmtest.  Time, children and fault probes come from
 * test_util.h, shared with the lib_*_test programs.
 *
 * Including it makes a program skip when /dev/smem is absent (see
 * smem_skip_without_device()).
 *
 * Everything is static inline: each test program is one translation unit.
 * None of these helpers uses the harness's ASSERT macros, so they are
 * safe in forked children and in threads.
 */
#ifndef SMEM_KMOD_UTIL_H
#define SMEM_KMOD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/smem.h>

#include "kselftest.h"
#include "module/smem_dmtest.h"
#include "test_util.h"

/* The module: /dev/smem's driver (smem.ko is Qualcomm's, on arm64). */
#define SMEM_MODULE		"smemdev"
#define SMEM_DEV		"/dev/smem"
#define SMEM_SYSFS		"/sys/class/misc/smem/"
#define SMEM_PARAMS		"/sys/module/smemdev/parameters/"
#define SMEM_SELFTEST_DIR	"/usr/lib/smem/selftests/"

/*
 * Without /dev/smem there is nothing to test: every kmod_* program skips
 * then as kselftest expects, with a plan of "1..0 # SKIP" and the reason,
 * and exit code 4, before its harness starts.  A kernel tree's run of the
 * suite on a machine where smemdev is not loaded ends that way.  Where
 * the device must be there, in the project's own VMs (their /init exports
 * SMEM_REQUIRE_DEVICE=1, so no lane can forget it), its absence is left
 * to the tests, which fail.
 */
static void __attribute__((constructor)) smem_skip_without_device(void)
{
	const char *required = getenv("SMEM_REQUIRE_DEVICE");

	if (!access(SMEM_DEV, F_OK) || (required && !strcmp(required, "1")))
		return;
	ksft_print_header();
	ksft_exit_skip("%s is absent: smemdev is not loaded (modprobe smemdev)\n", SMEM_DEV);
}

static inline size_t pagesz(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* ------------------------------------------------------------- ioctls */

/* An ioctl as 0 or -errno. */
static inline int smem_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline int smem_open(void)
{
	int fd = open(SMEM_DEV, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static inline int smem_alloc(int fd, __u64 size)
{
	struct smem_alloc a = { .size = size };

	return smem_ioctl(fd, SMEM_IOC_ALLOC, &a);
}

/* A new object of @size bytes: its fd, or -errno. */
static inline int smem_new(__u64 size)
{
	int fd = smem_open(), ret;

	if (fd < 0)
		return fd;
	ret = smem_alloc(fd, size);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static inline int smem_protect(int fd, __u32 prot)
{
	struct smem_protect p = { .prot = prot };

	return smem_ioctl(fd, SMEM_IOC_PROTECT, &p);
}

static inline int smem_seal(int fd, __u32 seals)
{
	struct smem_seal s = { .seals = seals };

	return smem_ioctl(fd, SMEM_IOC_SEAL, &s);
}

static inline int smem_wipe(int fd, __u64 offset, __u64 length)
{
	struct smem_wipe w = { .offset = offset, .length = length };

	return smem_ioctl(fd, SMEM_IOC_WIPE, &w);
}

static inline int smem_obj_info(int fd, struct smem_object_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return smem_ioctl(fd, SMEM_IOC_INFO, info);
}

/* The device query, through a short-lived fd. */
static inline int smem_query(struct smem_query *q)
{
	int fd = smem_open(), ret;

	if (fd < 0)
		return fd;
	memset(q, 0xa5, sizeof(*q));
	ret = smem_ioctl(fd, SMEM_IOC_QUERY, q);
	close(fd);
	return ret;
}

/*
 * SMEM_IOC_POOL_RESIZE to @bytes on @fd: 0 or -errno.  *@pool_size (when
 * not NULL) gets the kernel's answer, the pool's size in bytes, or ~0
 * where the kernel wrote none.
 */
static inline int smem_pool_resize_fd(int fd, __u64 bytes, __u64 *pool_size)
{
	struct smem_pool_resize r = { .size = bytes, .pool_size = ~0ULL };
	int ret = smem_ioctl(fd, SMEM_IOC_POOL_RESIZE, &r);

	if (pool_size)
		*pool_size = r.pool_size;
	return ret;
}

/* The same through a short-lived fd. */
static inline int smem_pool_resize(__u64 bytes, __u64 *pool_size)
{
	int fd = smem_open(), ret;

	if (fd < 0) {
		if (pool_size)
			*pool_size = ~0ULL;
		return fd;
	}
	ret = smem_pool_resize_fd(fd, bytes, pool_size);
	close(fd);
	return ret;
}

/* MAP_SHARED mapping of an object; MAP_FAILED with errno on failure. */
static inline void *smem_map(int fd, size_t len, int prot, off_t offset)
{
	return mmap(NULL, len, prot, MAP_SHARED, fd, offset);
}

/* ------------------------------------------------------------ patterns */

/* Byte @i of the pattern named by @seed: no short period, rarely zero. */
static inline unsigned char pattern_byte(uint32_t seed, size_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ (seed + 1ULL) * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 29;
	return (unsigned char)(x | 1);
}

static inline void fill_pattern(volatile unsigned char *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(seed, i);
}

/*
 * Index of the first byte of @p that differs from the pattern's bytes
 * from @from on, or @len: @p holds a window of a larger patterned area.
 */
static inline size_t check_pattern_from(const volatile unsigned char *p, size_t len,
					uint32_t seed, size_t from)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_byte(seed, from + i))
			return i;
	return len;
}

static inline size_t check_pattern(const volatile unsigned char *p, size_t len, uint32_t seed)
{
	return check_pattern_from(p, len, seed, 0);
}

/* Index of the first non-zero byte, or @len. */
static inline size_t check_zero(const volatile unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return i;
	return len;
}

/* --------------------------------------------------- sysfs and modules */

/* Read a small text file into @buf (NUL-terminated, newline stripped). */
static inline int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	return 0;
}

static inline int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* A number from /sys/class/misc/smem/@name, or -1. */
static inline long long smem_counter(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), SMEM_SYSFS "%s", name);
	if (read_text(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 0);
}

/* Module parameter @name as text into @buf; 0 or -errno. */
static inline int smem_param_get(const char *name, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), SMEM_PARAMS "%s", name);
	return read_text(path, buf, len);
}

static inline int smem_param_set(const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), SMEM_PARAMS "%s", name);
	return write_text(path, value);
}

static inline bool is_module_loaded(const char *name)
{
	char line[256];
	size_t n = strlen(name);
	bool found = false;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, name, n) && line[n] == ' ';
	fclose(f);
	return found;
}

/* delete_module(2) without waiting: 0 or -errno. */
static inline int unload_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/* Poll counter @name until it equals @want, for at most @ms; the last value read. */
static inline long long wait_counter(const char *name, long long want, int ms)
{
	long long v = smem_counter(name);

	for (int t = 0; v != want && t < ms; t += 10) {
		sleep_ms(10);
		v = smem_counter(name);
	}
	return v;
}

/*
 * Close this process's file descriptors of the device @dev and unmap its
 * mappings of it: what keeps a module from unloading.  For teardowns that
 * may run in the process of a test that failed half-way.
 */
static inline void drop_device_refs(const char *dev)
{
	unsigned long lo[256], hi[256];
	char path[64], target[64], line[512];
	int n = 0;
	FILE *f;

	for (int fd = 3; fd < 1024; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = 0;
			if (!strcmp(target, dev))
				close(fd);
		}
	}
	f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	/* Unmap only once the list is read: unmapping changes it. */
	while (n < 256 && fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '/');

		if (name && !strncmp(name, dev, strlen(dev)) && name[strlen(dev)] == '\n' &&
		    sscanf(line, "%lx-%lx", &lo[n], &hi[n]) == 2)
			n++;
	}
	fclose(f);
	while (n--)
		munmap((void *)lo[n], hi[n] - lo[n]);
}

/*
 * Unload smemdev if it is loaded (after dropping this process's references,
 * and retrying for a few seconds, as the last reference of an exiting
 * process may still be on its way), then "modprobe smemdev @params" unless
 * @params is NULL.  0 on success, -errno of the unload, or -ENOEXEC when
 * modprobe failed.
 */
static inline int smem_reload(const char *params)
{
	char cmd[512];
	int ret = 0;

	drop_device_refs(SMEM_DEV);

	for (int i = 0; i < 100 && is_module_loaded(SMEM_MODULE); i++) {
		ret = unload_module(SMEM_MODULE);
		if (!ret || ret == -ENOENT)
			break;
		sleep_ms(50);
	}
	if (is_module_loaded(SMEM_MODULE))
		return ret ? ret : -EBUSY;
	if (!params)
		return 0;
	snprintf(cmd, sizeof(cmd), "modprobe " SMEM_MODULE " %s", params);
	return system(cmd) == 0 ? 0 : -ENOEXEC;
}

/* Back to the default load, as every test program must leave it. */
static inline int smem_reload_default(void)
{
	return smem_reload("");
}

/* The number after "@key:" in the /proc file @path (kB for sizes), or -1. */
static inline long long proc_field(const char *path, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A field of /proc/meminfo in kB, or -1. */
static inline long long meminfo_kb(const char *key)
{
	return proc_field("/proc/meminfo", key);
}

/* Poll MemTotal until it is @want kB, for at most @ms: the last value read. */
static inline long long wait_memtotal(long long want, int ms)
{
	long long v = meminfo_kb("MemTotal");

	for (int t = 0; v != want && t < ms; t += 20) {
		sleep_ms(20);
		v = meminfo_kb("MemTotal");
	}
	return v;
}

/*
 * Whether MemTotal @now_kb is @want_kb, give or take the memmaps of
 * @blocks memory blocks of @bs bytes (their struct pages: 64 bytes a
 * page, 1/64): removing a block can free its boot-time memmap into
 * MemTotal, and a block added back takes a new one from MemTotal.
 */
static inline bool memtotal_near(long long now_kb, long long want_kb, long long blocks,
				 uint64_t bs)
{
	long long slack = blocks * (long long)(bs >> 10) / 64;

	return now_kb >= want_kb - slack && now_kb <= want_kb + slack;
}

/* VmLck of this process (memory locked in its mm), in kB, or -1. */
static inline long long vmlck_kb(void)
{
	return proc_field("/proc/self/status", "VmLck");
}

/* ------------------------------------------------------------- iomem */

/* One line of /proc/iomem: [start, end], nesting depth (0: top level), name. */
struct iomem_entry {
	unsigned long long start, end;
	int depth;
	char name[64];
};

/*
 * The ranges of /proc/iomem, in file order, into *@ranges (malloc()ed, to
 * be freed): their number, or -errno.  Real addresses only as root.
 */
static inline int iomem_read(struct iomem_entry **ranges)
{
	struct iomem_entry *r = NULL;
	char line[256];
	int n = 0, cap = 0;
	FILE *f = fopen("/proc/iomem", "r");

	if (!f) {
		int err = -errno;

		return err < 0 ? err : -EIO;	/* never >= 0: *ranges is not set */
	}
	while (fgets(line, sizeof(line), f)) {
		struct iomem_entry e = { 0 };
		int name_at = 0;
		char *nl;

		while (line[e.depth] == ' ')
			e.depth++;
		if (sscanf(line, " %llx-%llx : %n", &e.start, &e.end, &name_at) != 2 || !name_at)
			continue;
		e.depth /= 2;
		snprintf(e.name, sizeof(e.name), "%s", line + name_at);
		nl = strchr(e.name, '\n');
		if (nl)
			*nl = 0;
		if (n == cap) {
			struct iomem_entry *bigger = realloc(r, (cap = cap ? 2 * cap : 64) * sizeof(*r));

			if (!bigger) {
				free(r);
				fclose(f);
				return -ENOMEM;
			}
			r = bigger;
		}
		r[n++] = e;
	}
	fclose(f);
	*ranges = r;
	return n;
}

/* Whether range @r meets [@start, @end]. */
static inline bool iomem_meets(const struct iomem_entry *r, unsigned long long start,
			       unsigned long long end)
{
	return r->start <= end && start <= r->end;
}

/*
 * How many ranges of /proc/iomem named @name (any depth) meet
 * [@start, @end]; -errno when /proc/iomem cannot be read.
 */
static inline int iomem_count(const char *name, unsigned long long start, unsigned long long end)
{
	struct iomem_entry *r;
	int n = iomem_read(&r), found = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		found += !strcmp(r[i].name, name) && iomem_meets(&r[i], start, end);
	free(r);
	return found;
}

/* ---------------------------------------------------------- credentials */

#define CAP_MASK(cap)	(1ULL << (cap))

/* The effective capabilities of this thread as a mask, or 0 when unknown. */
static inline uint64_t caps_effective(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return data[0].effective | (uint64_t)data[1].effective << 32;
}

/*
 * Take the capabilities in @mask out of this thread's effective,
 * permitted and inheritable sets (~0ULL: all of them): 0 or -errno.
 */
static inline int caps_drop(uint64_t mask)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t m = (uint32_t)(mask >> (32 * i));

		data[i].effective &= ~m;
		data[i].permitted &= ~m;
		data[i].inheritable &= ~m;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) ? -errno : 0;
}

/* RLIMIT_MEMLOCK, soft and hard, to @bytes: 0 or -errno. */
static inline int set_memlock(rlim_t bytes)
{
	struct rlimit rl = { bytes, bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0;
}

/*
 * From root, become @uid (group @uid, supplementary group @group only)
 * with no capability but those in @keep, in every set: 0, or -errno
 * (-EPERM also when the result is not exactly that).
 */
static inline int become_user(uid_t uid, gid_t group, uint64_t keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (setgroups(1, &group) || prctl(PR_SET_KEEPCAPS, !!keep, 0, 0, 0) ||
	    setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
		return -errno;
	/* setuid() kept the permitted set (PR_SET_KEEPCAPS) or cleared it. */
	for (int i = 0; i < 2; i++)
		data[i].effective = data[i].permitted = (uint32_t)(keep >> (32 * i));
	if (syscall(SYS_capset, &hdr, data) || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		return -errno;
	return getuid() == uid && geteuid() == uid && caps_effective() == keep ? 0 : -EPERM;
}

/* -------------------------------------------------------- smem_dmtest */

#define DMTEST_DEV	"/dev/smem_dmtest"

/*
 * smem_dmtest.ko, opened: beside the running program, in module/ where
 * kselftest installs it (TEST_GEN_MODS_DIR) or in the same directory
 * (tools/vm-run), else at SMEM_DMTEST_PATH.  The fd, or -errno.
 */
static inline int dmtest_open_ko(void)
{
	static const char *const beside[] = { "/module/smem_dmtest.ko", "/smem_dmtest.ko" };
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *dir_end = NULL;
	int fd;

	if (n > 0) {
		path[n] = 0;
		dir_end = strrchr(path, '/');
	}
	for (size_t i = 0; dir_end && i < ARRAY_SIZE(beside); i++) {
		snprintf(dir_end, sizeof(path) - (size_t)(dir_end - path), "%s", beside[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	fd = open(SMEM_DMTEST_PATH, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Open smem_dmtest's device (selftests/module), loading the module when it
 * is not there (then *@loaded is set): the fd, or -errno.
 */
static inline int dmtest_open(bool *loaded)
{
	int fd;

	*loaded = false;
	if (access(DMTEST_DEV, F_OK)) {
		int ko = dmtest_open_ko(), err = 0;

		if (ko < 0)
			return ko;
		if (syscall(SYS_finit_module, ko, "", 0))
			err = -errno;
		close(ko);
		if (err)
			return err;
		*loaded = true;
	}
	fd = open(DMTEST_DEV, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Drop this process's references to smem_dmtest, unload it if @loaded. */
static inline void dmtest_release(bool loaded)
{
	drop_device_refs(DMTEST_DEV);
	if (loaded)
		unload_module("smem_dmtest");
}

/* The frame number mapped at @addr in this process (page tables), or 0. */
static inline uint64_t dmtest_pfn(int dmfd, const volatile void *addr)
{
	__u64 v = (uintptr_t)addr;

	return ioctl(dmfd, SMEM_DMTEST_VIRT_TO_PFN, &v) ? 0 : v;
}

/* --------------------------------------------------------- fd passing */

static inline int send_fd(int sock, int fd)
{
	char data = 'F';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* The fd received on @sock, or -errno. */
static inline int recv_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (n != 1)
		return -EIO;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#endif /* SMEM_KMOD_UTIL_H */
