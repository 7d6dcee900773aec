// SPDX-License-Identifier: GPL-2.0
/*
 * smem_secret_import_fd() trusts nothing about the descriptor it is given:
 * anything but a /dev/smem descriptor is -EINVAL before a single ioctl()
 * reaches its driver (an ioctl number means something else to every other
 * driver); a /dev/smem object that is not a sealed export is -EINVAL; an
 * export is mapped PROT_NONE, never readable by every thread, and then
 * closed between accesses like every secret (its key, or PROT_NONE).
 *
 * "No ioctl" and "never mapped readable" are proved with a seccomp filter
 * in a child that kills the child at the forbidden system call.
 *
 * The tests on real exports need /dev/smem: in the VM suite they run on
 * every lane (the export is made by a child that forces the kmod backend
 * and hands the descriptor over, so that the importer keeps the lane's
 * backend); on a host without the module they skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/smem.h>
#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

#define SMEM_DEVICE "/dev/smem"

/*
 * Kill the process at system call @nr; with @arg >= 0, only when argument
 * @arg is @val and argument 2 (mmap's prot) has a bit of @mask.  0 or
 * -errno.
 */
static int seccomp_kill_at(long nr, int arg, uint32_t val, uint32_t mask)
{
	struct sock_filter any[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	/* Low words of the arguments: little-endian x86-64 and arm64. */
	struct sock_filter some[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[arg < 0 ? 0 : arg])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, val, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = arg < 0 ? sizeof(any) / sizeof(any[0]) : sizeof(some) / sizeof(some[0]),
		.filter = arg < 0 ? any : some,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
}

/*
 * In a child: set the library up (which may query /dev/smem itself), then
 * the filter of seccomp_kill_at(); exits 100 or 101 when either fails.
 */
static void child_filter(long nr, int arg, uint32_t val, uint32_t mask)
{
	struct smem_info info;
	int err;

	if (smem_info(&info)) {
		fprintf(stderr, "smem_info failed\n");
		_exit(100);
	}
	err = seccomp_kill_at(nr, arg, val, mask);
	if (err) {
		fprintf(stderr, "seccomp: %s\n", strerror(-err));
		_exit(101);
	}
}

/* ------------------------------------------------- not /dev/smem at all */

struct not_smem {
	const char *what;
	int fd;
};

/* Descriptors of every other kind: @fds, as many as made (at most 8). */
static int open_not_smem(struct not_smem *fds)
{
	int n = 0, p[2], sv[2];
	char path[] = "/tmp/smem-import-XXXXXX";

	fds[n++] = (struct not_smem){ "memfd", memfd_create("smem-import", MFD_CLOEXEC) };
	fds[n++] = (struct not_smem){ "/dev/null", open("/dev/null", O_RDWR | O_CLOEXEC) };
	fds[n++] = (struct not_smem){ "/dev/zero", open("/dev/zero", O_RDWR | O_CLOEXEC) };
	if (!pipe2(p, O_CLOEXEC)) {
		fds[n++] = (struct not_smem){ "pipe (read end)", p[0] };
		fds[n++] = (struct not_smem){ "pipe (write end)", p[1] };
	}
	if (!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		fds[n++] = (struct not_smem){ "socket", sv[0] };
	fds[n] = (struct not_smem){ "regular file", mkstemp(path) };
	if (fds[n].fd >= 0) {
		unlink(path);
		n++;
	}
	fds[n++] = (struct not_smem){ "directory", open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
	return n;
}

/*
 * Each is -EINVAL, and no ioctl() is issued on any of them (the child is
 * killed at the first ioctl(): old libsmem asked SMEM_IOC_INFO of every
 * descriptor it was given, which /dev/null, a socket or another driver's
 * device would answer in their own way).
 */
TEST(other_files_rejected_without_ioctl)
{
	struct not_smem fds[8];
	int n, i, result;
	pid_t pid;

	n = open_not_smem(fds);
	for (i = 0; i < n; i++)
		ASSERT_LE(0, fds[i].fd) TH_LOG("cannot open a %s", fds[i].what);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct smem_secret *s = NULL;
		int err;

		child_filter(SYS_ioctl, -1, 0, 0);
		for (i = 0; i < n; i++) {
			err = smem_secret_import_fd(fds[i].fd, 0, &s);
			if (err != -EINVAL) {
				fprintf(stderr, "import of a %s: %d (%s), not -EINVAL\n",
					fds[i].what, err, strerror(-err));
				_exit(1 + i);
			}
		}
		_exit(0);
	}
	result = wait_child(pid);
	EXPECT_EQ(0, result) TH_LOG("%s", result == 128 + SIGSYS ?
				    "killed at an ioctl() on a descriptor that is not /dev/smem" :
				    result > 0 && result <= n ? fds[result - 1].what :
				    "the child could not start");
	for (i = 0; i < n; i++)
		close(fds[i].fd);
}

TEST(bad_descriptors)
{
	struct smem_secret *s = NULL;
	int fd;

	EXPECT_EQ(-EBADF, smem_secret_import_fd(-1, 0, &s));
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EBADF, smem_secret_import_fd(fd, 0, &s));
	EXPECT_EQ(-EINVAL, smem_secret_import_fd(0, 0, NULL));
	EXPECT_EQ(-EINVAL, smem_secret_import_fd(0, 1U << 0, &s));
	EXPECT_EQ(NULL, s);
}

/* ------------------------------------------------------ /dev/smem objects */

#define REQUIRE_DEVICE() do { \
	if (access(SMEM_DEVICE, F_OK)) \
		SKIP(return, "no %s here (the VM suite runs this)", SMEM_DEVICE); \
} while (0)

/* A /dev/smem object of one page that is not an export. */
TEST(unsealed_object_rejected)
{
	struct smem_alloc alloc = { .size = (uint64_t)sysconf(_SC_PAGESIZE) };
	struct smem_secret *s = NULL;
	int fd;

	REQUIRE_DEVICE();
	fd = open(SMEM_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", SMEM_DEVICE, strerror(errno));
	EXPECT_EQ(-EINVAL, smem_secret_import_fd(fd, 0, &s));
	ASSERT_EQ(0, ioctl(fd, SMEM_IOC_ALLOC, &alloc)) TH_LOG("alloc: %s", strerror(errno));
	EXPECT_EQ(-EINVAL, smem_secret_import_fd(fd, 0, &s));
	EXPECT_EQ(NULL, s);
	close(fd);
}

#define SECRET_LEN	100
#define SECRET_SEED	9

/*
 * An export of SECRET_LEN bytes of pattern SECRET_SEED, made by a child
 * that forces the kmod backend (this process keeps its lane's backend)
 * and passes the descriptor with SCM_RIGHTS: the descriptor, or -errno.
 */
static int export_from_child(void)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	int sv[2], fd = -EIO;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (!pid) {
		struct smem_secret *s;

		setenv("SMEM_BACKEND", "kmod", 1);
		s = lib_new_pattern(SECRET_LEN, SECRET_SEED);
		fd = s ? smem_secret_export_fd(s) : -ENOMEM;
		if (fd < 0) {
			fprintf(stderr, "export: %s\n", strerror(-fd));
			_exit(1);
		}
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
		_exit(sendmsg(sv[1], &msg, 0) == 1 ? 0 : 2);
	}
	close(sv[1]);
	if (pid > 0 && recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) == 1) {
		cmsg = CMSG_FIRSTHDR(&msg);
		if (cmsg && cmsg->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	}
	close(sv[0]);
	if (pid > 0 && wait_child(pid))
		fd = fd >= 0 ? fd : -EIO;
	return fd;
}

/*
 * The export is never mapped readable: the child is killed at an mmap()
 * of the export's descriptor with PROT_READ (old libsmem mapped it
 * PROT_READ, readable by every thread until it was tagged with the key).
 * The bytes come out right all the same.
 */
TEST(export_mapped_closed)
{
	int fd, result;
	pid_t pid;

	REQUIRE_DEVICE();
	fd = export_from_child();
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		unsigned int seed = SECRET_SEED;
		struct smem_secret *s = NULL;
		int err;

		child_filter(SYS_mmap, 4, (uint32_t)fd, PROT_READ | PROT_WRITE);
		err = smem_secret_import_fd(fd, 0, &s);
		if (err) {
			fprintf(stderr, "import: %s\n", strerror(-err));
			_exit(1);
		}
		if (smem_secret_size(s) != SECRET_LEN || smem_secret_read(s, lib_check_fn, &seed)) {
			fprintf(stderr, "imported bytes differ\n");
			_exit(2);
		}
		_exit(smem_secret_close(s) ? 3 : 0);
	}
	result = wait_child(pid);
	EXPECT_EQ(0, result) TH_LOG("%s", result == 128 + SIGSYS ?
				    "killed at an mmap() of the export with PROT_READ" :
				    "import failed");
	close(fd);
}

struct probe_arg {
	const unsigned char *addr;
	int sig;
};

static void *probe_thread(void *arg)
{
	struct probe_arg *p = arg;

	p->sig = lib_probe_read(p->addr, NULL);
	return NULL;
}

/*
 * Between accesses an import is closed like every secret: tagged with a
 * key of the library (and another thread faults on it), or PROT_NONE.
 */
TEST(import_closed_between_accesses)
{
	struct probe_arg p = { 0 };
	unsigned int seed = SECRET_SEED;
	struct smem_secret *s = NULL;
	char perms[5] = "";
	pthread_t t;
	int fd, key;

	REQUIRE_DEVICE();
	fd = export_from_child();
	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(-fd));
	ASSERT_EQ(0, smem_secret_import_fd(fd, 0, &s));
	close(fd);
	EXPECT_EQ(0, smem_secret_read(s, lib_check_fn, &seed));
	p.addr = lib_address(s);
	ASSERT_NE(NULL, p.addr);
	key = lib_page_pkey(p.addr, perms);
	if (lib_has_windows()) {
		EXPECT_LT(0, key) TH_LOG("the import is not tagged with a key of the library");
		ASSERT_EQ(0, pthread_create(&t, NULL, probe_thread, &p));
		pthread_join(t, NULL);
		EXPECT_EQ(SIGSEGV, p.sig) TH_LOG("another thread reads the import");
	} else {
		EXPECT_EQ(0, strcmp(perms, "---s")) TH_LOG("the import is %s between accesses", perms);
	}
	EXPECT_EQ(0, smem_secret_close(s));
	smem_secret_unref(s);
}

TEST_HARNESS_MAIN
