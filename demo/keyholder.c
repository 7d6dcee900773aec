// SPDX-License-Identifier: GPL-2.0
/*
 * smem-demo-keyholder: the program of the demo.  It holds one key in a
 * libsmem secret and uses it, as a service holding a long-lived key would.
 *
 *   smem-demo-keyholder MESSAGE
 *
 * Reads a 32-byte key as 64 hex digits and a newline from standard input,
 * with read(2) (no stdio buffer keeps a copy), stores it with
 * smem_secret_new(), which wipes the buffer it came from, and prints, one
 * "name=value" a line, never the key:
 *   pid, backend, guarantees    who holds it and what libsmem promises
 *   key_address                 where the key's bytes are mapped
 *   key_phys, control_phys      physical addresses of the key's page and of
 *                               an ordinary page holding CONTROL_TEXT, when
 *                               /dev/smem_dmtest (the suite's test module)
 *                               is there to look them up
 *   hmac                        HMAC-SHA256(key, MESSAGE), computed inside a
 *                               read callback: the key in use
 *   ready
 * Then it waits for commands on standard input, one a line:
 *   hmac TEXT   print the HMAC of TEXT
 *   fork        fork; the child tries the key through libsmem and at its
 *               address, and prints what happened ("fork_done" last)
 *   quit        close the secret and exit
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <smem.h>

#include "../selftests/module/smem_dmtest.h"

#define KEY_LEN		32
#define CONTROL_TEXT	"smem-demo-control: an ordinary page of the same program. "

static struct smem_secret *key;

static const char *const gnames[] = {
	"locked", "no_dump", "no_fork", "no_direct_map", "no_gup", "thread_window", "shareable",
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The key from fd 0, byte by byte up to the newline; 0 or -1. */
static int read_key(unsigned char out[KEY_LEN])
{
	char hex[2 * KEY_LEN + 1];
	size_t n = 0;
	int ret = 0;
	char c;

	while (read(0, &c, 1) == 1 && c != '\n')
		if (n < sizeof(hex))
			hex[n++] = c;
	if (n != 2 * KEY_LEN)
		ret = -1;
	for (size_t i = 0; !ret && i < KEY_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			ret = -1;
		else
			out[i] = (unsigned char)(hi << 4 | lo);
	}
	explicit_bzero(hex, sizeof(hex));
	return ret;
}

/* Physical address of the page mapped at @p in this process, via smem_dmtest; 0 if unknown. */
static uint64_t phys_of(const void *p)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE), v = (uintptr_t)p;
	int fd = open("/dev/smem_dmtest", O_RDONLY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return 0;
	err = ioctl(fd, SMEM_DMTEST_VIRT_TO_PFN, &v);
	close(fd);
	return err ? 0 : v * ps + (uintptr_t)p % ps;
}

struct locate {
	uintptr_t addr;
	uint64_t phys;
};

/* Inside the window the key's page is mapped: note where it is. */
static int locate_fn(const void *buf, size_t len, void *arg)
{
	struct locate *l = arg;

	(void)len;
	l->addr = (uintptr_t)buf;
	l->phys = phys_of(buf);
	return 0;
}

struct hmac_req {
	const char *msg;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
};

static int hmac_fn(const void *buf, size_t len, void *arg)
{
	struct hmac_req *r = arg;

	if (len != KEY_LEN)
		return -EINVAL;
	crypto_auth_hmacsha256_state state;

	/* The state is derived from the key: it must not outlive the window. */
	crypto_auth_hmacsha256_init(&state, buf, len);
	crypto_auth_hmacsha256_update(&state, (const unsigned char *)r->msg, strlen(r->msg));
	crypto_auth_hmacsha256_final(&state, r->mac);
	sodium_memzero(&state, sizeof(state));
	return 0;
}

static void print_hmac(const char *msg)
{
	struct hmac_req r = { .msg = msg };
	int ret = smem_secret_read(key, hmac_fn, &r);

	if (ret < 0) {
		printf("hmac_error=%s\n", strerror(-ret));
		return;
	}
	printf("hmac=");
	for (size_t i = 0; i < sizeof(r.mac); i++)
		printf("%02x", r.mac[i]);
	printf("\n");
}

/* In a forked child: libsmem says no, and the address holds nothing of the key. */
static void forked_child(uintptr_t addr)
{
	struct hmac_req r = { .msg = "x" };
	int ret = smem_secret_read(key, hmac_fn, &r), status;
	pid_t pid;

	printf("child_pid=%d\n", (int)getpid());
	printf("child_smem_secret_read=%d (%s)\n", ret, ret < 0 ? strerror(-ret) : "read it");
	fflush(stdout);
	/* A grandchild touches the address: a fault kills only it. */
	pid = fork();
	if (pid == 0) {
		const volatile unsigned char *p = (const volatile unsigned char *)addr;
		unsigned char copy[KEY_LEN];

		for (size_t i = 0; i < KEY_LEN; i++)
			copy[i] = p[i];
		printf("child_read_address=");
		for (size_t i = 0; i < KEY_LEN; i++)
			printf("%02x", copy[i]);
		printf("\n");
		fflush(stdout);
		_exit(0);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
		printf("child_read_address=killed by %s (nothing mapped at %#lx)\n",
		       strsignal(WTERMSIG(status)), (unsigned long)addr);
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *message = argc > 1 ? argv[1] : "hello from smem";
	unsigned char data[KEY_LEN];
	struct smem_info info;
	struct locate loc = { 0 };
	char line[256], *control;
	long ps = sysconf(_SC_PAGESIZE);
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0)
		return fprintf(stderr, "keyholder: sodium_init failed\n"), 1;
	if (read_key(data))
		return fprintf(stderr, "keyholder: expected 64 hex digits on stdin\n"), 1;
	ret = smem_secret_new(data, sizeof(data), 0, &key);
	if (ret)
		return fprintf(stderr, "keyholder: smem_secret_new: %s\n", strerror(-ret)), 1;
	ret = smem_info(&info);
	if (ret)
		return fprintf(stderr, "keyholder: smem_info: %s\n", strerror(-ret)), 1;

	/* An ordinary locked page with a known text, to compare with. */
	control = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (control == MAP_FAILED || mlock(control, ps))
		return perror("keyholder: control page"), 1;
	for (long i = 0; i + (long)sizeof(CONTROL_TEXT) <= ps; i += sizeof(CONTROL_TEXT) - 1)
		memcpy(control + i, CONTROL_TEXT, sizeof(CONTROL_TEXT) - 1);

	smem_secret_read(key, locate_fn, &loc);
	printf("pid=%d\n", (int)getpid());
	printf("backend=%s\n", info.backend_name);
	printf("guarantees=");
	for (unsigned int i = 0, n = 0; i < sizeof(gnames) / sizeof(gnames[0]); i++)
		if (info.guarantees & (1U << i))
			printf("%s%s", n++ ? "," : "", gnames[i]);
	printf("\n");
	printf("key_address=%#lx\n", (unsigned long)loc.addr);
	if (loc.phys)
		printf("key_phys=%#llx\n", (unsigned long long)loc.phys);
	if (phys_of(control))
		printf("control_address=%#lx\ncontrol_phys=%#llx\n", (unsigned long)control,
		       (unsigned long long)phys_of(control));
	printf("message=%s\n", message);
	print_hmac(message);
	printf("ready\n");

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "hmac ", 5)) {
			print_hmac(line + 5);
		} else if (!strcmp(line, "fork")) {
			pid_t pid = fork();

			if (pid == 0)
				forked_child(loc.addr);
			if (pid > 0)
				waitpid(pid, NULL, 0);
			printf("fork_done\n");
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			printf("unknown_command=%s\n", line);
		}
	}
	ret = smem_secret_close(key);
	smem_secret_unref(key);
	return ret ? 1 : 0;
}
