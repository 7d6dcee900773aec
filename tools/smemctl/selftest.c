// SPDX-License-Identifier: GPL-2.0
/*
 * smemctl selftest: a 32-byte secret through the libsmem linked in,
 * read back, then attacked by a forked child while the parent holds it
 * open: through the child's inherited handle (which must fail with
 * ECHILD), process_vm_readv() and /proc/PID/mem.  The child first reads
 * ordinary memory of the parent the same way: where it cannot read
 * anything, the check proves nothing and fails.
 *
 * The child answers through a pipe within the parent's read window; a
 * child that died must not kill the parent with SIGPIPE, so it is ignored
 * for this command.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smem.h>

#include "smemctl.h"

#define ST_LEN 32

struct probe_request {
	uintptr_t secret, control;
	size_t len;
};

struct probe_result {
	ssize_t vm_secret, mem_secret, vm_control;	/* bytes, or -errno */
	bool secret_leaked;				/* bytes equal to the secret */
	bool control_ok;
	int child_read;					/* smem_secret_read() in the child */
};

static unsigned char st_expected[ST_LEN];
static unsigned char st_control[ST_LEN];

static ssize_t vm_read(pid_t pid, uintptr_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	return n < 0 ? -errno : n;
}

static ssize_t mem_read(pid_t pid, uintptr_t addr, void *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)addr);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

static int noop_read(const void *buf, size_t len, void *arg)
{
	(void)buf, (void)len, (void)arg;
	return 0;
}

/* The forked child: the parent's secret through its own handle, then from outside. */
static void probe_child(struct smem_secret *s, int in, int out)
{
	struct probe_result r = { 0 };
	struct probe_request req;
	unsigned char buf[ST_LEN];
	pid_t parent = getppid();

	r.child_read = smem_secret_read(s, noop_read, NULL);
	if (read(in, &req, sizeof(req)) != sizeof(req))
		_exit(1);
	r.vm_control = vm_read(parent, req.control, buf, req.len);
	r.control_ok = r.vm_control == (ssize_t)req.len && !memcmp(buf, st_control, req.len);
	memset(buf, 0, sizeof(buf));
	r.vm_secret = vm_read(parent, req.secret, buf, req.len);
	if (r.vm_secret > 0 && !memcmp(buf, st_expected, req.len))
		r.secret_leaked = true;
	memset(buf, 0, sizeof(buf));
	r.mem_secret = mem_read(parent, req.secret, buf, req.len);
	if (r.mem_secret > 0 && !memcmp(buf, st_expected, req.len))
		r.secret_leaked = true;
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

struct probe_ctx {
	int to_child, from_child;
	struct probe_result result;
	bool got;
	bool matches;
};

/* Inside the window: the secret is readable here, and the child tries now. */
static int probe_in_window(const void *buf, size_t len, void *arg)
{
	struct probe_ctx *c = arg;
	struct probe_request req = {
		.secret = (uintptr_t)buf, .control = (uintptr_t)st_control, .len = len,
	};
	struct pollfd pfd = { .fd = c->from_child, .events = POLLIN };

	c->matches = len == ST_LEN && !memcmp(buf, st_expected, len);
	if (write(c->to_child, &req, sizeof(req)) != sizeof(req))
		return 0;
	if (poll(&pfd, 1, 10000) == 1 &&
	    read(c->from_child, &c->result, sizeof(c->result)) == sizeof(c->result))
		c->got = true;
	return 0;
}

static const char *err_words(ssize_t v)
{
	return v < 0 ? strerror((int)-v) : "read the bytes";
}

static const char selftest_usage[] =
	"usage: smemctl selftest\n"
	"Create a 32-byte secret through libsmem, read it back, and have a forked\n"
	"child try to read it: through its inherited handle, process_vm_readv()\n"
	"and /proc/PID/mem.  Prints each step, then PASS or FAIL.  See smemctl(8).\n";

int cmd_selftest(int argc, char **argv)
{
	unsigned char data[ST_LEN];
	struct smem_secret *s = NULL;
	struct smem_info info;
	struct probe_ctx c = { 0 };
	int to_child[2], from_child[2], ret, failed = 0, status;
	pid_t child;

	ret = smemctl_help_only(argc, argv, selftest_usage, false);
	if (ret >= 0)
		return ret;
	signal(SIGPIPE, SIG_IGN);
	ret = smem_info(&info);
	if (ret) {
		printf("FAIL: libsmem has no backend: %s\n", strerror(-ret));
		return EXIT_FAIL;
	}
	printf("smemctl selftest: backend %s\n", info.backend_name);

	for (size_t i = 0; i < ST_LEN; i++) {
		st_expected[i] = (unsigned char)(0xa5 ^ (i * 37));
		st_control[i] = (unsigned char)(0x5a ^ (i * 11));
	}
	memcpy(data, st_expected, sizeof(data));
	ret = smem_secret_new(data, sizeof(data), 0, &s);
	printf("  %-39s %s\n", "create a 32-byte secret:", ret ? strerror(-ret) : "ok");
	if (ret) {
		printf("FAIL: creating a secret: %s\n", strerror(-ret));
		return EXIT_FAIL;
	}
	if (pipe2(to_child, O_CLOEXEC) || pipe2(from_child, O_CLOEXEC)) {
		printf("FAIL: pipe: %s\n", strerror(errno));
		smem_secret_unref(s);
		return EXIT_FAIL;
	}
	fflush(stdout);
	child = fork();
	if (child < 0) {
		printf("FAIL: fork: %s\n", strerror(errno));
		smem_secret_unref(s);
		return EXIT_FAIL;
	}
	if (child == 0)
		probe_child(s, to_child[0], from_child[1]);
	/* Under Yama's ptrace_scope=1 a child may read its parent only if asked. */
	prctl(PR_SET_PTRACER, child, 0, 0, 0);
	c.to_child = to_child[1];
	c.from_child = from_child[0];
	ret = smem_secret_read(s, probe_in_window, &c);
	close(to_child[1]);
	close(from_child[0]);
	close(to_child[0]);
	close(from_child[1]);
	waitpid(child, &status, 0);

	printf("  %-39s %s\n", "read it back:",
	       ret ? strerror(-ret) : c.matches ? "ok" : "WRONG BYTES");
	failed |= ret || !c.matches;
	if (!c.got) {
		printf("  another process:                       no answer from the child\n");
		failed = 1;
	} else {
		struct probe_result *r = &c.result;
		bool vm_ok = r->vm_secret < 0, mem_ok = r->mem_secret < 0;

		printf("  %-39s %s\n", "forked child, smem_secret_read():",
		       r->child_read == -ECHILD ? "ok (-ECHILD: not inherited)" :
		       strerror(-r->child_read));
		printf("  %-39s %s\n", "control: child reads ordinary memory:",
		       r->control_ok ? "ok" : err_words(r->vm_control));
		printf("  %-39s %s (%s)\n", "child, process_vm_readv() of secret:",
		       vm_ok ? "ok" : "READ IT", err_words(r->vm_secret));
		printf("  %-39s %s (%s)\n", "child, /proc/PID/mem of secret:",
		       mem_ok ? "ok" : "READ IT", err_words(r->mem_secret));
		if (r->child_read != -ECHILD)
			failed = 1;
		if (!r->control_ok) {
			printf("  (the child could not read ordinary memory of its parent either:"
			       " ptrace is restricted here, the check proves nothing)\n");
			failed = 1;
		}
		if (!vm_ok || !mem_ok || r->secret_leaked) {
			failed = 1;
			if (!(info.guarantees & SMEM_G_NO_GUP))
				printf("  (backend %s does not keep other processes out: load the module)\n",
				       info.backend_name);
		}
	}
	ret = smem_secret_close(s);
	printf("  %-39s %s\n", "close:", ret ? strerror(-ret) : "ok");
	failed |= ret != 0;
	smem_secret_unref(s);
	printf("%s\n", failed ? "FAIL" : "PASS");
	return failed ? EXIT_FAIL : EXIT_OK;
}

