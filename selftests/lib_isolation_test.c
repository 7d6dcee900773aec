// SPDX-License-Identifier: GPL-2.0
/*
 * The isolation a backend promises with SMEM_G_NO_GUP, checked through
 * the library on a secret made with smem_secret_new(): ptrace
 * PEEKDATA, /proc/PID/mem and process_vm_readv() cannot read the bytes,
 * not even while a read callback has them open.  The reads target a child
 * process that holds a secret open inside a callback, and this process
 * itself.  Skipped on backends that do not promise it (mlock).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

#define SECRET_LEN 64

static unsigned char expected[SECRET_LEN];

#define REQUIRE_NO_GUP() do { \
	if (!(lib_guarantees() & SMEM_G_NO_GUP)) \
		SKIP(return, "backend %s does not promise SMEM_G_NO_GUP", lib_backend()); \
} while (0)

struct self_probe {
	ssize_t mem, vm;
	unsigned char buf[SECRET_LEN];
};

/* Inside the window: the bytes are readable here, by this very thread. */
static int self_probe_fn(const void *buf, size_t len, void *arg)
{
	struct self_probe *p = arg;

	p->mem = lib_proc_mem_read(getpid(), buf, p->buf, len);
	p->vm = lib_vm_read(getpid(), buf, p->buf, len);
	return memcmp(buf, expected, len) ? -1 : 0;
}

static struct smem_secret *new_secret(void)
{
	unsigned char data[SECRET_LEN];
	struct smem_secret *s = NULL;

	lib_fill(expected, sizeof(expected), 42);
	memcpy(data, expected, sizeof(data));
	return smem_secret_new(data, sizeof(data), 0, &s) ? NULL : s;
}

TEST(own_process_cannot_read_through_kernel)
{
	struct self_probe p = { 0 };
	struct smem_secret *s;
	const unsigned char *addr;

	REQUIRE_NO_GUP();
	s = new_secret();
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, smem_secret_read(s, self_probe_fn, &p));
	EXPECT_GT(0, p.mem) TH_LOG("/proc/self/mem read %zd bytes", p.mem);
	EXPECT_GT(0, p.vm) TH_LOG("process_vm_readv read %zd bytes", p.vm);
	EXPECT_NE(0, memcmp(p.buf, expected, sizeof(expected)));

	addr = lib_address(s);
	EXPECT_GT(0, lib_proc_mem_read(getpid(), addr, p.buf, SECRET_LEN));
	EXPECT_GT(0, lib_vm_read(getpid(), addr, p.buf, SECRET_LEN));
	smem_secret_unref(s);
}

TEST(other_process_cannot_read_through_kernel)
{
	int report[2], gate[2], status;
	unsigned char buf[SECRET_LEN];
	const void *addr = NULL;
	ssize_t n;
	long word;
	pid_t pid;

	REQUIRE_NO_GUP();
	ASSERT_EQ(0, pipe(report));
	ASSERT_EQ(0, pipe(gate));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct lib_holder h = { report[1], gate[0] };
		struct smem_secret *s;

		close(report[0]);
		close(gate[1]);
		s = new_secret();
		_exit(s && smem_secret_read(s, lib_hold_open_fn, &h) == 0 ? 0 : 1);
	}
	close(report[1]);
	close(gate[0]);
	ASSERT_EQ((ssize_t)sizeof(addr), read(report[0], &addr, sizeof(addr)));

	/* The child sits in its callback: the page is open in its page tables. */
	n = lib_proc_mem_read(pid, addr, buf, sizeof(buf));
	EXPECT_GT(0, n) TH_LOG("/proc/PID/mem read %zd bytes", n);
	n = lib_vm_read(pid, addr, buf, sizeof(buf));
	EXPECT_GT(0, n) TH_LOG("process_vm_readv read %zd bytes", n);

	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, pid, NULL, NULL));
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, pid, NULL, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, addr, NULL);
	EXPECT_NE(0, errno) TH_LOG("PEEKDATA read %#lx", word);
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, NULL, NULL));

	close(gate[1]);
	EXPECT_EQ(0, wait_child_timeout(pid, 30));
	close(report[0]);
}

TEST_HARNESS_MAIN
