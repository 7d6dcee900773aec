// SPDX-License-Identifier: GPL-2.0
/*
 * smem-sandbox: run a command the way a container runtime would, to see
 * what libsmem does inside a container without a container runtime.
 *
 *   smem-sandbox [--profile docker|podman|none] [--no-device] [--memlock BYTES]
 *                [--keep-cap-ipc-lock] [--deny SYSCALL]... -- CMD ARGS...
 *
 * What the command gets:
 *  - new user, PID, mount and network namespaces, as a rootless runtime
 *    makes them: uid and gid 0 inside are the caller's outside, the
 *    caller's supplementary groups are kept (unmapped: 65534 inside, as
 *    podman's --group-add keep-groups), and no capability counts in the
 *    initial namespace: not CAP_IPC_LOCK (RLIMIT_MEMLOCK applies), not
 *    CAP_SYS_ADMIN.  A root caller gets the same (uid 0 mapped to itself);
 *  - the capability bounding set of the runtime's containers (docker's or
 *    podman's default set: no CAP_SYS_ADMIN, no CAP_IPC_LOCK unless
 *    --keep-cap-ipc-lock);
 *  - a fresh /proc and a fresh /dev (tmpfs) with null, zero, full, random,
 *    urandom, tty and shm, plus /dev/smem bind-mounted from the host as
 *    a rootless runtime's --device does, unless --no-device (then there is
 *    none: open() says ENOENT);
 *  - RLIMIT_MEMLOCK, soft and hard, BYTES (k, m, g suffixes, or
 *    "unlimited"; default 8 MiB: docker sets none, so a container inherits
 *    dockerd's, the kernel's default of 8 MiB since Linux 5.16 on a
 *    systemd host, as on Debian 12);
 *  - the seccomp filter of the runtime's default profile (below), with
 *    each --deny SYSCALL refused with the profile's default errno instead
 *    (older profiles: Docker 20.10 had no pkey_* rules);
 *  - the command runs as the child of the sandbox's PID 1, which waits
 *    for it and exits with its status.
 *
 * --keep-cap-ipc-lock keeps CAP_IPC_LOCK.  Inside a user namespace the
 * capability does not lift RLIMIT_MEMLOCK (mlock() asks the initial
 * namespace), just as rootless podman's --cap-add IPC_LOCK does not; run
 * as root, the sandbox then makes no user namespace (a rootful container
 * with docker's --cap-add IPC_LOCK: root of the initial namespace with the
 * default capabilities and CAP_IPC_LOCK), the only way the capability
 * counts.
 *
 * Exit status: the command's (128 + N when killed by signal N); 125 when
 * the sandbox could not be set up (the step and its error on stderr),
 * 126 when CMD could not be executed, 127 when it was not found: docker
 * run's codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#define EXIT_SETUP	125
#define EXIT_CANNOT_RUN	126
#define EXIT_NOT_FOUND	127

/* docker's default when dockerd's own limit is the kernel's (Linux >= 5.16). */
#define DEFAULT_MEMLOCK	(8ULL << 20)

/*
 * The default seccomp profiles, for x86_64 programs, with their default
 * capability sets applied (rules that need a capability the container
 * does not have are left out, those that need its absence are in):
 *  - docker: moby/profiles seccomp/default.json v0.2.3 (as vendored by
 *    moby/moby b985e231, 2026-08-23); containerd's DefaultProfile
 *    (contrib/seccomp/seccomp_default.go, containerd 301026e5) is the same
 *    list.  Default action: errno EPERM; clone only without namespace
 *    flags, clone3 ENOSYS, socket without AF_ALG and AF_VSOCK, personality
 *    with five values; and, as runc adds to every profile
 *    (libcontainer/seccomp/patchbpf), ENOSYS for system calls newer than
 *    the newest one the profile names;
 *  - podman: containers/common pkg/seccomp/seccomp.json (f437c58a,
 *    2025-08-25, v0.65.0-dev; Debian 12's 0.50.1 has the same rules for
 *    smem's calls).  Default action: errno ENOSYS; the calls listed in
 *    podman_eperm get EPERM; socket(AF_NETLINK, *, NETLINK_AUDIT) EINVAL;
 *    personality as docker's.
 * Names the libseccomp in use does not know are skipped, as runc and crun
 * linked with it skip them.
 */
static const char *const common_allow[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "capget",
	"capset", "chdir", "chmod", "chown", "chroot", "clock_adjtime", "clock_getres",
	"clock_gettime", "clock_nanosleep", "close", "close_range", "connect", "copy_file_range",
	"creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
	"eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2",
	"fadvise64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
	"fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
	"fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex",
	"futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
	"getdents64", "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpeername",
	"getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
	"getresuid", "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid",
	"gettimeofday", "getuid", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_setup", "io_submit",
	"ioctl", "ioprio_get", "ioprio_set", "kill", "landlock_add_rule",
	"landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr", "link",
	"linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr",
	"lstat", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
	"mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "modify_ldt",
	"mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend",
	"mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
	"munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat",
	"openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
	"pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2",
	"prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
	"ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
	"readv", "recvfrom", "recvmmsg", "recvmsg", "remap_file_pages", "removexattr", "rename",
	"renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
	"rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler",
	"sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam",
	"sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
	"semtimedop", "sendfile", "sendmmsg", "sendmsg", "sendto", "set_robust_list",
	"set_thread_area", "set_tid_address", "setfsgid", "setfsuid", "setgid", "setgroups",
	"setitimer", "setpgid", "setpriority", "setregid", "setresgid", "setresuid", "setreuid",
	"setrlimit", "setsid", "setsockopt", "setuid", "setxattr", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice",
	"stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
	"sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
	"timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
	"times", "tkill", "truncate", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
	"utimes", "vfork", "wait4", "waitid", "write", "writev",
};

static const char *const docker_allow[] = {
	"cachestat", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake", "getxattrat",
	"io_pgetevents", "listmount", "listxattrat", "map_shadow_stack", "mseal", "removexattrat",
	"setxattrat", "statmount", "uretprobe", "vmsplice",
};

/* setns is in both of podman's lists: its allow rule comes first and wins. */
static const char *const podman_allow[] = {
	"clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_mempolicy", "keyctl", "mbind", "mount", "mount_setattr", "move_mount", "open_tree",
	"pidfd_getfd", "pivot_root", "reboot", "set_mempolicy", "setns", "syslog", "umount2",
	"unshare",
};

static const char *const podman_eperm[] = {
	"acct", "bpf", "cachestat", "clock_settime", "delete_module", "finit_module",
	"futex_requeue", "futex_wait", "futex_waitv", "futex_wake", "init_module", "io_pgetevents",
	"ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "lookup_dcookie",
	"map_shadow_stack", "migrate_pages", "move_pages", "nfsservctl", "open_by_handle_at",
	"perf_event_open", "process_madvise", "query_module", "quotactl", "quotactl_fd",
	"setdomainname", "sethostname", "settimeofday", "swapoff", "swapon", "sysfs", "uselib",
	"userfaultfd", "ustat", "vhangup", "vmsplice",
};

/* personality(2) values both allow: PER_LINUX, PER_LINUX32, UNAME26, both, the query. */
static const uint64_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
		  CLONE_NEWNET | CLONE_NEWCGROUP)
#define AF_ALG_NR	38
#define AF_VSOCK_NR	40
#define NETLINK_AUDIT_NR 9

/* Default capabilities: moby daemon/pkg/oci/caps/defaults.go, containers/common pkg/config. */
#define CAPS_COMMON ((1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_FOWNER) | \
		     (1ULL << CAP_FSETID) | (1ULL << CAP_KILL) | (1ULL << CAP_NET_BIND_SERVICE) | \
		     (1ULL << CAP_SETFCAP) | (1ULL << CAP_SETGID) | (1ULL << CAP_SETPCAP) | \
		     (1ULL << CAP_SETUID) | (1ULL << CAP_SYS_CHROOT))
#define CAPS_DOCKER (CAPS_COMMON | (1ULL << CAP_MKNOD) | (1ULL << CAP_NET_RAW) | \
		     (1ULL << CAP_AUDIT_WRITE))
#define CAPS_PODMAN CAPS_COMMON

#define MAX_DENY	64

enum profile { PROFILE_DOCKER, PROFILE_PODMAN, PROFILE_NONE };

struct options {
	enum profile profile;
	bool device;
	bool keep_ipc_lock;
	rlim_t memlock;
	const char *deny[MAX_DENY];
	size_t ndeny;
	char **cmd;
};

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fputs("smem-sandbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_SETUP);
}

static void __attribute__((noreturn)) usage(int status)
{
	fputs("usage: smem-sandbox [--profile docker|podman|none] [--no-device] [--memlock BYTES]\n"
	      "                    [--keep-cap-ipc-lock] [--deny SYSCALL]... -- CMD ARGS...\n"
	      "Run CMD in new user, PID, mount and network namespaces under a container\n"
	      "runtime's default seccomp profile (default docker), with /dev/smem bind-mounted\n"
	      "in (unless --no-device) and RLIMIT_MEMLOCK BYTES (default 8m, docker's).\n",
	      status ? stderr : stdout);
	exit(status);
}

static rlim_t parse_bytes(const char *s)
{
	unsigned long long v, shift = 0;
	char *end;

	if (!strcmp(s, "unlimited") || !strcmp(s, "-1"))
		return RLIM_INFINITY;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end != s && end[0] && !end[1]) {
		const char *units = "kmg", *u = strchr(units, end[0] | 0x20);

		if (u) {
			shift = 10 * (unsigned long long)(u - units + 1);
			end++;
		}
	}
	if (errno || end == s || *end || *s == '-' || (shift && v > (ULLONG_MAX >> shift)))
		die("--memlock %s: not a number of bytes (k, m, g suffixes, or unlimited)", s);
	return (rlim_t)(v << shift);
}

static void parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "no-device", no_argument, NULL, 'n' },
		{ "memlock", required_argument, NULL, 'l' },
		{ "keep-cap-ipc-lock", no_argument, NULL, 'k' },
		{ "deny", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .profile = PROFILE_DOCKER, .device = true,
			       .memlock = DEFAULT_MEMLOCK };
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!strcmp(optarg, "docker"))
				o->profile = PROFILE_DOCKER;
			else if (!strcmp(optarg, "podman"))
				o->profile = PROFILE_PODMAN;
			else if (!strcmp(optarg, "none"))
				o->profile = PROFILE_NONE;
			else
				die("--profile %s: docker, podman or none", optarg);
			break;
		case 'n':
			o->device = false;
			break;
		case 'l':
			o->memlock = parse_bytes(optarg);
			break;
		case 'k':
			o->keep_ipc_lock = true;
			break;
		case 'd':
			if (seccomp_syscall_resolve_name(optarg) == __NR_SCMP_ERROR)
				die("--deny %s: no such system call here", optarg);
			if (o->ndeny == MAX_DENY)
				die("--deny: at most %d system calls", MAX_DENY);
			o->deny[o->ndeny++] = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(EXIT_SETUP);
		}
	}
	if (optind >= argc)
		usage(EXIT_SETUP);
	if (o->ndeny && o->profile == PROFILE_NONE)
		die("--deny needs a profile: docker or podman");
	o->cmd = argv + optind;
}

/* ------------------------------------------------------------- seccomp */

static bool denied(const struct options *o, const char *name)
{
	for (size_t i = 0; i < o->ndeny; i++)
		if (!strcmp(o->deny[i], name))
			return true;
	return false;
}

/*
 * One rule; a name this libseccomp does not know is skipped, as runc does.
 * A name given to --deny gets @deny instead of being allowed.
 */
static void add_rule(scmp_filter_ctx ctx, const struct options *o, uint32_t action,
		     uint32_t deny, const char *name, unsigned int nargs,
		     const struct scmp_arg_cmp *args, int *max_nr)
{
	int nr = seccomp_syscall_resolve_name(name), err;

	if (nr < 0)
		return;
	if (nr > *max_nr)
		*max_nr = nr;
	if (action == SCMP_ACT_ALLOW && denied(o, name))
		action = deny;
	/* libseccomp takes no rule that says what the default says. */
	if (action == deny)
		return;
	err = seccomp_rule_add_array(ctx, action, nr, nargs, args);
	if (err)
		die("seccomp: rule for %s: %s", name, strerror(-err));
}

static void add_names(scmp_filter_ctx ctx, const struct options *o, uint32_t action,
		      uint32_t deny, const char *const *names, size_t n, int *max_nr)
{
	for (size_t i = 0; i < n; i++)
		add_rule(ctx, o, action, deny, names[i], 0, NULL, max_nr);
}

#define ADD_NAMES(action, names) \
	add_names(ctx, o, action, deny, names, sizeof(names) / sizeof(names[0]), &max_nr)
#define ADD_RULE(action, name, nargs, args) \
	add_rule(ctx, o, action, deny, name, nargs, args, &max_nr)

static scmp_filter_ctx build_filter(const struct options *o)
{
	uint32_t deny = SCMP_ACT_ERRNO(o->profile == PROFILE_DOCKER ? EPERM : ENOSYS);
	scmp_filter_ctx ctx = seccomp_init(deny);
	int max_nr = -1, nr, err;
	size_t i;

	if (!ctx)
		die("seccomp_init: out of memory");
	/* Runtimes leave no_new_privs to the container's settings (off by default). */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (err)
		die("seccomp_attr_set(SCMP_FLTATR_CTL_NNP): %s", strerror(-err));
	ADD_NAMES(SCMP_ACT_ALLOW, common_allow);
	for (i = 0; i < sizeof(personalities) / sizeof(personalities[0]); i++)
		ADD_RULE(SCMP_ACT_ALLOW, "personality", 1,
			 &SCMP_A0(SCMP_CMP_EQ, personalities[i]));
	if (o->profile == PROFILE_DOCKER) {
		ADD_NAMES(SCMP_ACT_ALLOW, docker_allow);
		ADD_RULE(SCMP_ACT_ALLOW, "clone", 1, &SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0));
		ADD_RULE(SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
		ADD_RULE(SCMP_ACT_ALLOW, "socket", 1, &SCMP_A0(SCMP_CMP_LT, AF_ALG_NR));
		ADD_RULE(SCMP_ACT_ALLOW, "socket", 1, &SCMP_A0(SCMP_CMP_EQ, AF_ALG_NR + 1));
		ADD_RULE(SCMP_ACT_ALLOW, "socket", 1, &SCMP_A0(SCMP_CMP_GT, AF_VSOCK_NR));
		/*
		 * runc's stub: what is newer than the profile is absent, not
		 * forbidden (512: x86_64's x32 numbers start there).
		 */
		for (nr = max_nr + 1; nr < 512; nr++) {
			err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
			if (err)
				die("seccomp: ENOSYS rule for system call %d: %s", nr,
				    strerror(-err));
		}
	} else {
		ADD_NAMES(SCMP_ACT_ALLOW, podman_allow);
		ADD_NAMES(SCMP_ACT_ERRNO(EPERM), podman_eperm);
		ADD_RULE(SCMP_ACT_ERRNO(EINVAL), "socket", 2,
			 ((const struct scmp_arg_cmp[]) {
				SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				SCMP_A2(SCMP_CMP_EQ, NETLINK_AUDIT_NR) }));
		ADD_RULE(SCMP_ACT_ALLOW, "socket", 1, &SCMP_A0(SCMP_CMP_NE, AF_NETLINK));
		ADD_RULE(SCMP_ACT_ALLOW, "socket", 1, &SCMP_A2(SCMP_CMP_NE, NETLINK_AUDIT_NR));
	}
	return ctx;
}

/* -------------------------------------------------- namespaces, mounts */

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(text);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (write(fd, text, (size_t)len) != len)
		die("write %s (\"%s\"): %s", path, text, strerror(errno));
	close(fd);
}

/* Uid and gid 0 inside are the caller's ids outside, and nothing else is mapped. */
static void enter_user_namespace(uid_t uid, gid_t gid)
{
	char map[64];

	if (unshare(CLONE_NEWUSER))
		die("unshare(CLONE_NEWUSER): %s (unprivileged user namespaces off?)",
		    strerror(errno));
	/* A single mapping of one's own gid needs setgroups() off (user_namespaces(7)). */
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)gid);
	write_file("/proc/self/gid_map", map);
}

/* The host's node @name, cloned now, to be attached in the new /dev later. */
static int clone_node(const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", name);
	fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		die("open_tree %s: %s", path, strerror(errno));
	return fd;
}

static void attach_node(int fd, const char *name)
{
	char path[64];
	int file;

	snprintf(path, sizeof(path), "/dev/%s", name);
	file = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (file < 0)
		die("create %s: %s", path, strerror(errno));
	close(file);
	if (move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH))
		die("bind-mount %s: %s", path, strerror(errno));
	close(fd);
}

/*
 * A fresh /dev, as runtimes make one: the usual nodes bind-mounted from
 * the host (a user namespace cannot mknod), and /dev/smem only when the
 * container is given the device.
 */
static void make_dev(bool device)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" }, { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
	};
	int fds[sizeof(nodes) / sizeof(nodes[0])], smem = -1;
	size_t i;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		fds[i] = clone_node(nodes[i]);
	if (device) {
		smem = clone_node("smem");
		if (smem < 0)
			fputs("smem-sandbox: no /dev/smem here: none inside either\n", stderr);
	}
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"))
		die("mount tmpfs on /dev: %s", strerror(errno));
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (fds[i] >= 0)
			attach_node(fds[i], nodes[i]);
	if (smem >= 0)
		attach_node(smem, "smem");
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]))
			die("symlink %s: %s", links[i][1], strerror(errno));
	if (mkdir("/dev/shm", 01777) ||
	    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777"))
		die("/dev/shm: %s", strerror(errno));
}

/* ----------------------------------------------------------- the command */

static uint64_t kept_caps(const struct options *o)
{
	uint64_t caps = o->profile == PROFILE_PODMAN ? CAPS_PODMAN : CAPS_DOCKER;

	return o->keep_ipc_lock ? caps | (1ULL << CAP_IPC_LOCK) : caps;
}

/*
 * Runs as root of its namespace: the bounding set becomes what exec()
 * gives a root process, the container's capabilities.
 */
static void drop_caps(uint64_t keep)
{
	int last = CAP_LAST_CAP, fd, cap;
	char buf[16] = "";

	fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			last = atoi(buf);
		close(fd);
	}
	for (cap = 0; cap <= last; cap++)
		if (!(cap < 64 && (keep & (1ULL << cap))) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			die("drop capability %d from the bounding set: %s", cap, strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		die("clear the ambient capabilities: %s", strerror(errno));
}

static void __attribute__((noreturn)) run_command(const struct options *o,
						  scmp_filter_ctx filter)
{
	int err;

	drop_caps(kept_caps(o));
	/* Last before exec(): from here on, only what the profile allows. */
	if (filter) {
		err = seccomp_load(filter);
		if (err)
			die("seccomp_load: %s", strerror(-err));
	}
	execvp(o->cmd[0], o->cmd);
	err = errno;
	fprintf(stderr, "smem-sandbox: %s: %s\n", o->cmd[0], strerror(err));
	exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
}

static int wait_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* PID 1 of the new namespace: a /proc of its own, then the command as its child. */
static void __attribute__((noreturn)) init(const struct options *o, scmp_filter_ctx filter)
{
	pid_t pid;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		die("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		die("mount /proc: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid)
		run_command(o, filter);
	/* When PID 1 ends, the kernel kills what the command left behind. */
	exit(wait_status(pid));
}

int main(int argc, char **argv)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	struct options o;
	scmp_filter_ctx filter = NULL;
	struct rlimit rl;
	bool rootful;
	pid_t pid;

	parse(argc, argv, &o);
	rootful = o.keep_ipc_lock && geteuid() == 0;
	if (o.profile != PROFILE_NONE)
		filter = build_filter(&o);
	/* Before the user namespace: only the initial one may raise a hard limit. */
	rl.rlim_cur = rl.rlim_max = o.memlock;
	if (setrlimit(RLIMIT_MEMLOCK, &rl)) {
		int err = errno;

		die("setrlimit(RLIMIT_MEMLOCK, %llu): %s%s", (unsigned long long)o.memlock,
		    strerror(err), err == EPERM ?
		    " (above the hard limit: raising it takes CAP_SYS_RESOURCE)" : "");
	}
	if (!rootful)
		enter_user_namespace(uid, gid);
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET))
		die("unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET): %s", strerror(errno));
	/* Nothing mounted here may reach the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("make / private: %s", strerror(errno));
	make_dev(o.device);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid)
		init(&o, filter);
	return wait_status(pid);
}
