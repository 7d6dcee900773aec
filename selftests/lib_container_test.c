// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem inside a container: each test runs a program in smem-sandbox
 * (tools/smem-sandbox.c: new user, PID, mount and network namespaces, a
 * container runtime's default seccomp profile, its capabilities,
 * RLIMIT_MEMLOCK as docker gives it or raised, /dev/smem bind-mounted in
 * or absent), in every combination the variants name:
 *  - library: this program itself, inside, checks that smem_info() names
 *    the backend expected, with the guarantees expected, that a secret is
 *    read and written in windows, that a secret larger than the memlock
 *    limit is -EAGAIN (and one under a raised limit is made), then holds a
 *    secret open in a window while this process, outside, reads the
 *    sandboxed process's memory through /proc/PID/mem and
 *    process_vm_readv(): no byte of it on a backend that promises
 *    SMEM_G_NO_GUP, the very bytes on one that does not (which shows that
 *    the probe reaches the process);
 *  - smemctl_status: `smemctl status --json` exits as smemctl(8) says (0
 *    module loaded and /dev/smem there, 1 loaded but no /dev/smem in the
 *    container, 3 not loaded) and reports the backend expected;
 *  - example: examples/hmac_key computes its MAC and names the backend.
 *
 * The backend expected is computed, never written down: the strongest
 * one, in libsmem's order (kmod, memfd_secret, mlock), that the sandbox
 * lets through (kmod needs /dev/smem in it, memfd_secret a profile that
 * allows it) and that libsmem finds outside the sandbox, in a child forced
 * to it with SMEM_BACKEND (absent there: -ENODEV, skipped; failing there:
 * the same failure expected inside).  Its guarantees are those found
 * outside, less the per-thread windows when the profile refuses pkey_*.
 * SMEM_BACKEND given to the test forces the backend inside too: -ENODEV
 * expected where the sandbox hides it.  On a host without /dev/smem the
 * device-present variants expect the fallback, and say so.
 *
 * The docker_20_10 variants give Docker 20.10's profile (Debian 12's
 * docker.io is 20.10.24): the same as today's for smem's calls but for
 * pkey_alloc, pkey_free and pkey_mprotect, which it refuses with EPERM.
 * The ipc_lock variants keep CAP_IPC_LOCK: run by root, the sandbox is a
 * rootful container, where the capability lifts RLIMIT_MEMLOCK; run by
 * another user, the capability is the user namespace's and lifts nothing
 * (rootless podman's --cap-add IPC_LOCK), and the big secret must still
 * be -EAGAIN.
 *
 * Raising RLIMIT_MEMLOCK above the hard limit takes CAP_SYS_RESOURCE;
 * where this process cannot, the raised variants check that the sandbox
 * refuses to start and says why, instead of running.
 *
 * The sandbox and the programs are looked up beside this program's
 * build directory (build/tools), then on the PATH (the VM's guest).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

#define INSIDE_ARG	"--container-inside"
#define SECRET_LEN	64
#define HELD_SEED	77
#define MIB		(1ULL << 20)
#define DOCKER_MEMLOCK	(8 * MIB)	/* smem-sandbox's default, docker's */
#define RAISED_MEMLOCK	(32 * MIB)
#define BIG_LEN		(9 * MIB)	/* over docker's limit, under the raised one */
#define OUTPUT_MAX	16384

/* ---------------------------------------------------------- the inside */

/* The read and write windows of a new secret. */
static void check_windows(void)
{
	unsigned char buf[SECRET_LEN], out[SECRET_LEN];
	struct smem_secret *s = lib_new_pattern(SECRET_LEN, 1);
	unsigned int seed = 1;
	int ret;

	if (!s)
		child_fail("smem_secret_new failed");
	ret = smem_secret_read(s, lib_check_fn, &seed);
	if (ret)
		child_fail("read window: %d (the bytes are not the ones put in)", ret);
	lib_fill(buf, sizeof(buf), 2);
	ret = smem_secret_write(s, lib_store_fn, buf);
	if (ret)
		child_fail("write window: %d", ret);
	seed = 2;
	ret = smem_secret_read(s, lib_check_fn, &seed);
	if (ret)
		child_fail("read window after the write: %d", ret);
	if (smem_secret_copy_out(s, 0, out, sizeof(out)) != SECRET_LEN ||
	    memcmp(out, buf, sizeof(out)))
		child_fail("smem_secret_copy_out does not give the bytes written");
	ret = smem_secret_close(s);
	if (ret)
		child_fail("smem_secret_close: %d", ret);
	smem_secret_unref(s);
}

/*
 * In the sandbox: EXPECT_ERR BACKEND GUARANTEES MEMLOCK BIG_OK SOCKET GATE.
 * Exits 0 when libsmem does what the test expects, else says what not.
 */
static int inside(char **argv)
{
	int err = atoi(argv[0]), report = atoi(argv[5]), gate = atoi(argv[6]), ret;
	unsigned int guarantees = (unsigned int)strtoul(argv[2], NULL, 0);
	rlim_t limit = strtoull(argv[3], NULL, 0);
	bool big_ok = atoi(argv[4]);
	const char *backend = argv[1];
	struct lib_holder h = { report, gate };
	struct smem_secret *s = NULL;
	struct smem_info info;
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur != limit || rl.rlim_max != limit)
		child_fail("RLIMIT_MEMLOCK is %llu:%llu, the sandbox was to set %llu",
			   (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
			   (unsigned long long)limit);
	ret = smem_info(&info);
	if (err) {
		if (ret != err)
			child_fail("smem_info: %d (%s), expected %d (%s)", ret,
				   ret ? strerror(-ret) : info.backend_name, err, strerror(-err));
		ret = smem_secret_new_random(SECRET_LEN, 0, &s);
		if (ret != err)
			child_fail("smem_secret_new_random: %d, expected %d", ret, err);
		printf("smem_info: %s, as expected\n", strerror(-err));
		return 0;
	}
	if (ret)
		child_fail("smem_info: %d (%s), expected backend %s", ret, strerror(-ret), backend);
	printf("backend %s, guarantees %#x\n", info.backend_name, info.guarantees);
	if (strcmp(info.backend_name, backend) || info.guarantees != guarantees)
		child_fail("expected backend %s, guarantees %#x", backend, guarantees);
	check_windows();
	ret = smem_secret_new_random(BIG_LEN, 0, &s);
	if (ret != (big_ok ? 0 : -EAGAIN))
		child_fail("a secret of %llu bytes under RLIMIT_MEMLOCK %llu: %d, expected %d",
			   BIG_LEN, (unsigned long long)limit, ret, big_ok ? 0 : -EAGAIN);
	smem_secret_unref(s);
	s = lib_new_pattern(SECRET_LEN, HELD_SEED);
	if (!s)
		child_fail("smem_secret_new failed");
	fflush(stdout);
	ret = smem_secret_read(s, lib_hold_open_fn, &h);
	if (ret)
		child_fail("the held window: %d", ret);
	smem_secret_unref(s);
	return 0;
}

/* --------------------------------------------------------- the outside */

/* A message, and the sender's pid as this process's namespace numbers it. */
static ssize_t recv_with_pid(int sock, void *buf, size_t len, pid_t *pid)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, 0);
	while (n < 0 && errno == EINTR);
	*pid = 0;
	for (c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
			memcpy(pid, &((struct ucred *)CMSG_DATA(c))->pid, sizeof(*pid));
	return n;
}

/* @name beside this program's build directory, else on the PATH: 0 or -ENOENT. */
static int find_program(const char *self, const char *name, char *path, size_t size)
{
	static const char *const rel[] = { "/../tools/", "/../../tools/" };
	char dir[PATH_MAX], *slash;
	const char *env = getenv("PATH");

	snprintf(dir, sizeof(dir), "%s", self);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (snprintf(path, size, "%s%s%s", dir, rel[i], name) < (int)size &&
		    !access(path, X_OK))
			return 0;
	}
	while (env && *env) {
		size_t n = strcspn(env, ":");

		if (n && snprintf(path, size, "%.*s/%s", (int)n, env, name) < (int)size &&
		    !access(path, X_OK))
			return 0;
		env += n + !!env[n];
	}
	return -ENOENT;
}

struct outcome {
	int err;
	unsigned int guarantees;
};

/*
 * What libsmem gives outside the sandbox with SMEM_BACKEND=@name, in a
 * child: the backend is chosen once per process (this one never asks).
 */
static struct outcome outside(const char *name)
{
	struct outcome o = { -EIO, 0 };
	int p[2];
	pid_t pid;

	if (pipe(p))
		return o;
	pid = fork();
	if (pid == 0) {
		struct smem_info info;

		close(p[0]);
		setenv("SMEM_BACKEND", name, 1);
		o.err = smem_info(&info);
		o.guarantees = o.err ? 0 : info.guarantees;
		if (write(p[1], &o, sizeof(o)) != sizeof(o))
			child_fail("write: %s", strerror(errno));
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &o, sizeof(o)) != sizeof(o))
		o.err = -EIO;
	close(p[0]);
	if (pid > 0 && wait_child(pid))
		o.err = -EIO;
	return o;
}

/*
 * Whether this process may set RLIMIT_MEMLOCK to @limit: raising the hard
 * limit takes CAP_SYS_RESOURCE, so it is tried, on this process (each test
 * has a process of its own, and the sandbox sets its limit itself).
 */
static bool can_set_memlock(rlim_t limit)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return false;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < limit) {
		rl.rlim_max = limit;
		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			return false;
	}
	return true;
}

/*
 * Whether CAP_IPC_LOCK lifts RLIMIT_MEMLOCK for memfd_secret(2) pages on
 * this kernel: Debian's 6.1 and 6.12 charge them to the user's locked
 * memory when they are faulted in, capability or not.  Tried in a child
 * (this process's limit stays) with a limit of one page: four pages
 * faulted in, by a system call's copy, which says EFAULT where a store
 * would raise SIGBUS.
 */
static bool memfd_secret_exempts_ipc_lock(void)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 4 * page;
	struct rlimit one = { page, page };
	unsigned char *p;
	size_t off;
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return false;
	if (!pid) {
		fd = (int)syscall(__NR_memfd_secret, O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)len) || setrlimit(RLIMIT_MEMLOCK, &one))
			_exit(1);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		for (off = 0; off < len; off += page)
			if (getrandom(p + off, 1, 0) != 1)
				_exit(1);
		_exit(0);
	}
	return wait_child(pid) == 0;
}

/* What the kernel lacks for a sandbox (a debug kernel's tinyconfig), or NULL. */
static const char *sandbox_missing(void)
{
	if (access("/proc/self/ns/user", F_OK))
		return "no user namespaces (CONFIG_USER_NS) in this kernel";
	if (access("/proc/self/ns/pid", F_OK))
		return "no PID namespaces (CONFIG_PID_NS) in this kernel";
	if (access("/proc/self/ns/net", F_OK))
		return "no network namespaces (CONFIG_NET_NS) in this kernel";
	if (access("/proc/sys/kernel/seccomp/actions_avail", F_OK))
		return "no seccomp filters (CONFIG_SECCOMP_FILTER) in this kernel";
	return NULL;
}

static const char *const no_deny[] = { NULL };
static const char *const pkeys_deny[] = { "pkey_alloc", "pkey_free", "pkey_mprotect", NULL };

FIXTURE(container) {
	char self[PATH_MAX], sandbox[PATH_MAX];
	bool host_device;	/* /dev/smem on this machine */
	bool raise_refused;	/* the raised limit is above what this process may set */
	struct outcome exp;	/* what smem_info() must say inside */
	const char *backend;	/* its backend when exp.err is 0 */
};

FIXTURE_VARIANT(container) {
	const char *profile;	/* smem-sandbox --profile */
	const char *const *deny;	/* --deny, as an older profile has it */
	bool device;		/* /dev/smem bind-mounted in */
	bool raised;		/* --memlock RAISED_MEMLOCK, else the default */
	bool ipc_lock;		/* --keep-cap-ipc-lock */
};

#define CONTAINER(name, prof, denylist, dev, raise, cap) \
	FIXTURE_VARIANT_ADD(container, name) { \
		.profile = prof, .deny = denylist, .device = dev, .raised = raise, \
		.ipc_lock = cap, \
	}

CONTAINER(docker_device, "docker", no_deny, true, false, false);
CONTAINER(docker_device_memlock, "docker", no_deny, true, true, false);
CONTAINER(docker_nodevice, "docker", no_deny, false, false, false);
CONTAINER(docker_nodevice_memlock, "docker", no_deny, false, true, false);
CONTAINER(podman_device, "podman", no_deny, true, false, false);
CONTAINER(podman_device_memlock, "podman", no_deny, true, true, false);
CONTAINER(podman_nodevice, "podman", no_deny, false, false, false);
CONTAINER(podman_nodevice_memlock, "podman", no_deny, false, true, false);
CONTAINER(docker_20_10_device, "docker", pkeys_deny, true, false, false);
CONTAINER(docker_20_10_device_memlock, "docker", pkeys_deny, true, true, false);
CONTAINER(docker_20_10_nodevice, "docker", pkeys_deny, false, false, false);
CONTAINER(docker_20_10_nodevice_memlock, "docker", pkeys_deny, false, true, false);
CONTAINER(docker_device_ipc_lock, "docker", no_deny, true, false, true);
CONTAINER(podman_nodevice_ipc_lock, "podman", no_deny, false, false, true);

static bool denies(const FIXTURE_VARIANT(container) *v, const char *name)
{
	for (const char *const *d = v->deny; *d; d++)
		if (!strcmp(*d, name))
			return true;
	return false;
}

/* Why the sandbox hides backend @name, or NULL. */
static const char *hidden(const FIXTURE_VARIANT(container) *v, const char *name)
{
	if (!strcmp(name, "kmod") && !v->device)
		return "no /dev/smem in the sandbox";
	if (!strcmp(name, "memfd_secret") && denies(v, "memfd_secret"))
		return "the profile refuses memfd_secret";
	return NULL;
}

FIXTURE_SETUP(container)
{
	static const char *const backends[] = { "kmod", "memfd_secret", "mlock" };
	static const char fallback[] = " (no /dev/smem here: this case expects the fallback)";
	const char *forced = getenv("SMEM_BACKEND"), *missing = sandbox_missing();
	ssize_t n;

	if (missing)
		SKIP(return, "%s", missing);
	n = readlink("/proc/self/exe", self->self, sizeof(self->self) - 1);
	ASSERT_LT(0, n);
	self->self[n] = 0;
	ASSERT_EQ(0, find_program(self->self, "smem-sandbox", self->sandbox,
				  sizeof(self->sandbox)))
		TH_LOG("no smem-sandbox beside %s or on the PATH: make tools", self->self);
	self->host_device = !access("/dev/smem", F_OK);
	self->raise_refused = variant->raised && !can_set_memlock(RAISED_MEMLOCK);
	if (forced && !*forced)
		forced = NULL;

	self->exp.err = -ENODEV;
	self->backend = NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const char *b = backends[i], *why = hidden(variant, b);
		struct outcome o;

		if (forced && strcmp(forced, b))
			continue;
		if (why) {
			TH_LOG("%s: %s", b, why);
			if (forced)
				break;	/* -ENODEV: forced and not there */
			continue;
		}
		o = outside(b);
		ASSERT_NE(-EIO, o.err) TH_LOG("asking libsmem outside for %s failed", b);
		if (o.err == -ENODEV && !forced) {
			TH_LOG("%s: not here outside the sandbox either%s", b,
			       !strcmp(b, "kmod") && variant->device ? fallback : "");
			continue;
		}
		self->exp = o;
		self->backend = b;
		if (!o.err && denies(variant, "pkey_alloc"))
			self->exp.guarantees &= ~SMEM_G_THREAD_WINDOW;
		break;
	}
	if (self->exp.err)
		TH_LOG("expected inside: %s", strerror(-self->exp.err));
	else
		TH_LOG("expected inside: %s, guarantees %#x", self->backend,
		       self->exp.guarantees);
}

FIXTURE_TEARDOWN(container)
{
}

/*
 * Start smem-sandbox with the variant's options, running @cmd (NULL
 * ended); its standard output and error go into the pipe *@out.
 */
static pid_t start_sandbox(struct __test_metadata *_metadata, FIXTURE_DATA(container) *self,
			   const FIXTURE_VARIANT(container) *variant, char *const *cmd, int *out)
{
	char memlock[32];
	const char *argv[32];
	size_t n = 0;
	int p[2];
	pid_t pid;

	argv[n++] = self->sandbox;
	argv[n++] = "--profile";
	argv[n++] = variant->profile;
	if (!variant->device)
		argv[n++] = "--no-device";
	if (variant->raised) {
		snprintf(memlock, sizeof(memlock), "%llu", RAISED_MEMLOCK);
		argv[n++] = "--memlock";
		argv[n++] = memlock;
	}
	if (variant->ipc_lock)
		argv[n++] = "--keep-cap-ipc-lock";
	for (const char *const *d = variant->deny; *d; d++) {
		argv[n++] = "--deny";
		argv[n++] = *d;
	}
	argv[n++] = "--";
	while (*cmd && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = *cmd++;
	argv[n] = NULL;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		close(p[1]);
		execv(argv[0], (char *const *)argv);
		child_fail("exec %s: %s", argv[0], strerror(errno));
	}
	close(p[1]);
	*out = p[0];
	return pid;
}

/* All of @fd (closed) into @buf, and how the sandbox ended (child_result()). */
static int finish_sandbox(pid_t pid, int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && ((n = read(fd, buf + len, size - 1 - len)) > 0 ||
				  (n < 0 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	buf[len] = 0;
	close(fd);
	return wait_child_timeout(pid, 60);
}

/* The raised limit cannot be set here: the sandbox must refuse, and say why. */
static bool raise_refused(struct __test_metadata *_metadata, FIXTURE_DATA(container) *self,
			  const FIXTURE_VARIANT(container) *variant)
{
	char *const cmd[] = { "true", NULL };
	char out[OUTPUT_MAX];
	int fd, status;
	pid_t pid;

	if (!self->raise_refused)
		return false;
	pid = start_sandbox(_metadata, self, variant, cmd, &fd);
	EXPECT_LT(0, pid);
	if (pid <= 0)
		return true;
	status = finish_sandbox(pid, fd, out, sizeof(out));
	TH_LOG("RLIMIT_MEMLOCK cannot be raised to %llu here (no CAP_SYS_RESOURCE): the"
	       " sandbox must refuse; it said: %s", RAISED_MEMLOCK, out);
	EXPECT_EQ(125, status);
	EXPECT_NE(NULL, strstr(out, "setrlimit(RLIMIT_MEMLOCK"));
	return true;
}

TEST_F_TIMEOUT(container, library, 90)
{
	char err[16], guarantees[16], limit[32], big_ok[4], sock_arg[16], gate_arg[16];
	char *cmd[] = { self->self, INSIDE_ARG, err, (char *)(self->backend ?: "-"), guarantees,
			limit, big_ok, sock_arg, gate_arg, NULL };
	unsigned char buf[SECRET_LEN], expected[SECRET_LEN];
	rlim_t memlock = variant->raised ? RAISED_MEMLOCK : DOCKER_MEMLOCK;
	int sv[2], gate[2], one = 1, fd, status;
	char out[OUTPUT_MAX];
	const void *addr = NULL;
	pid_t pid, held = 0;
	ssize_t n, mem, vm;

	if (raise_refused(_metadata, self, variant))
		return;
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)));
	ASSERT_EQ(0, pipe(gate));
	/* The sandbox inherits the inside's ends only: closing gate[1] ends the hold. */
	ASSERT_EQ(0, fcntl(sv[0], F_SETFD, FD_CLOEXEC));
	ASSERT_EQ(0, fcntl(gate[1], F_SETFD, FD_CLOEXEC));
	snprintf(err, sizeof(err), "%d", self->exp.err);
	snprintf(guarantees, sizeof(guarantees), "%#x", self->exp.guarantees);
	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)memlock);
	/*
	 * Over the limit unless raised, or CAP_IPC_LOCK counts: kept by a
	 * root caller, the sandbox is rootful (no user namespace); in a user
	 * namespace the capability does not lift RLIMIT_MEMLOCK, nor does it
	 * for memfd_secret pages on some kernels.
	 */
	snprintf(big_ok, sizeof(big_ok), "%d",
		 memlock > BIG_LEN + MIB ||
		 (variant->ipc_lock && !geteuid() &&
		  (!self->backend || strcmp(self->backend, "memfd_secret") ||
		   memfd_secret_exempts_ipc_lock())));
	snprintf(sock_arg, sizeof(sock_arg), "%d", sv[1]);
	snprintf(gate_arg, sizeof(gate_arg), "%d", gate[0]);
	pid = start_sandbox(_metadata, self, variant, cmd, &fd);
	ASSERT_LT(0, pid);
	close(sv[1]);
	close(gate[0]);

	/* The address of the held window, or nothing when the program ends first. */
	n = recv_with_pid(sv[0], &addr, sizeof(addr), &held);
	if (n == sizeof(addr) && held > 0) {
		lib_fill(expected, sizeof(expected), HELD_SEED);
		memset(buf, 0, sizeof(buf));
		mem = lib_proc_mem_read(held, addr, buf, sizeof(buf));
		if (self->exp.guarantees & SMEM_G_NO_GUP) {
			EXPECT_GT(0, mem) TH_LOG("/proc/%d/mem read %zd bytes", (int)held, mem);
			EXPECT_NE(0, memcmp(buf, expected, sizeof(buf)));
		} else {
			/* mlock promises nothing here: the probe must see the bytes. */
			EXPECT_EQ(SECRET_LEN, mem) TH_LOG("/proc/%d/mem: %zd", (int)held, mem);
			EXPECT_EQ(0, memcmp(buf, expected, sizeof(buf)));
		}
		memset(buf, 0, sizeof(buf));
		vm = lib_vm_read(held, addr, buf, sizeof(buf));
		if (self->exp.guarantees & SMEM_G_NO_GUP) {
			EXPECT_GT(0, vm) TH_LOG("process_vm_readv read %zd bytes", vm);
			EXPECT_NE(0, memcmp(buf, expected, sizeof(buf)));
		} else {
			EXPECT_EQ(SECRET_LEN, vm) TH_LOG("process_vm_readv: %zd", vm);
			EXPECT_EQ(0, memcmp(buf, expected, sizeof(buf)));
		}
	}
	close(gate[1]);
	status = finish_sandbox(pid, fd, out, sizeof(out));
	close(sv[0]);
	TH_LOG("inside: %s", out);
	ASSERT_EQ(0, status);
	/* Only an expected failure ends the program without a held window. */
	if (!self->exp.err) {
		EXPECT_EQ((ssize_t)sizeof(addr), n);
		EXPECT_LT(1, held) TH_LOG("no pid came with the address");
	}
}

TEST_F_TIMEOUT(container, smemctl_status, 60)
{
	char smemctl[PATH_MAX], want[64], out[OUTPUT_MAX];
	char *cmd[] = { smemctl, "status", "--json", NULL };
	bool loaded = !access("/sys/module/smemdev", F_OK);
	int fd, status, exit_expected;
	pid_t pid;

	if (raise_refused(_metadata, self, variant))
		return;
	ASSERT_EQ(0, find_program(self->self, "smemctl", smemctl, sizeof(smemctl)));
	pid = start_sandbox(_metadata, self, variant, cmd, &fd);
	ASSERT_LT(0, pid);
	status = finish_sandbox(pid, fd, out, sizeof(out));
	TH_LOG("smemctl status --json: %s", out);
	/* smemctl(8): 3 not loaded; 1 loaded but no /dev/smem (in this container). */
	exit_expected = !loaded ? 3 : variant->device && self->host_device ? 0 : 1;
	EXPECT_EQ(exit_expected, status);
	if (self->exp.err)
		snprintf(want, sizeof(want), "\"backend\": null");
	else
		snprintf(want, sizeof(want), "\"backend\": \"%s\"", self->backend);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("no %s in the library section", want);
}

TEST_F_TIMEOUT(container, example, 60)
{
	char hmac_key[PATH_MAX], want[96], out[OUTPUT_MAX];
	char *cmd[] = { hmac_key, NULL };
	int fd, status;
	pid_t pid;

	if (raise_refused(_metadata, self, variant))
		return;
	ASSERT_EQ(0, find_program(self->self, "hmac_key", hmac_key, sizeof(hmac_key)));
	pid = start_sandbox(_metadata, self, variant, cmd, &fd);
	ASSERT_LT(0, pid);
	status = finish_sandbox(pid, fd, out, sizeof(out));
	TH_LOG("hmac_key: %s", out);
	if (self->exp.err) {
		/* The example's own failure, not a crash. */
		EXPECT_EQ(1, status);
		return;
	}
	EXPECT_EQ(0, status);
	snprintf(want, sizeof(want), "backend %s, per-thread windows: %s", self->backend,
		 self->exp.guarantees & SMEM_G_THREAD_WINDOW ? "yes" : "no");
	EXPECT_NE(NULL, strstr(out, want));
	EXPECT_NE(NULL, strstr(out, "matches RFC 4231 test case 2"));
	EXPECT_NE(NULL, strstr(out, "source buffer wiped: yes"));
}

int main(int argc, char **argv)
{
	if (argc == 9 && !strcmp(argv[1], INSIDE_ARG))
		return inside(argv + 2);
	return test_harness_run(argc, argv);
}
