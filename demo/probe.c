// SPDX-License-Identifier: GPL-2.0
/*
 * smem-demo-probe: the attacker's tools of the demo, each one system call
 * a person can name, printing what it got.
 *
 *   smem-demo-probe proc-mem PID ADDR LEN   pread() of /proc/PID/mem
 *   smem-demo-probe vm-readv PID ADDR LEN   process_vm_readv()
 *   smem-demo-probe phys PHYS LEN           pread() of /dev/smem_dmtest: the
 *                                           kernel direct map at a physical
 *                                           address (the suite's test module)
 *   smem-demo-probe find FILE HEX [TEXT]    whether the bytes HEX (or HEX as
 *                                           text), and TEXT, are in FILE
 *   smem-demo-probe hmac HEX MESSAGE        HMAC-SHA256 with key HEX, in
 *                                           ordinary memory, to compare with
 *
 * A read prints "got N bytes: HEX" and exits 0, or "refused: ERROR" and
 * exits 1.  find exits 0 when HEX is found, 1 when not.  2: usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#define MAX_LEN 4096

static int usage(void)
{
	fprintf(stderr, "usage: smem-demo-probe proc-mem|vm-readv PID ADDR LEN | phys PHYS LEN |\n"
		"       find FILE HEX [TEXT] | hmac HEX MESSAGE\n");
	return 2;
}

static const char *errno_name(int e)
{
	switch (e) {
	case EFAULT: return "EFAULT";
	case EIO: return "EIO";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ESRCH: return "ESRCH";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	default: return "errno";
	}
}

static int report(ssize_t n, int err, const unsigned char *buf)
{
	if (n < 0) {
		printf("refused: %s (%s)\n", strerror(err), errno_name(err));
		return 1;
	}
	printf("got %zd bytes: ", n);
	for (ssize_t i = 0; i < n; i++)
		printf("%02x", buf[i]);
	printf("\n");
	return 0;
}

static int hex_decode(const char *hex, unsigned char *out, size_t max, size_t *len)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

static int read_at(const char *path, uint64_t off, size_t len)
{
	unsigned char buf[MAX_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return report(-1, errno, NULL);
	n = pread(fd, buf, len, (off_t)off);
	report(n, errno, buf);
	close(fd);
	return n < 0;
}

static int vm_readv(pid_t pid, uint64_t addr, size_t len)
{
	unsigned char buf[MAX_LEN];
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	return report(n, errno, buf) ? 1 : 0;
}

/* Offset of @needle in @hay (NULL: an empty file, not mapped), or -1. */
static long search(const unsigned char *hay, size_t n, const void *needle, size_t len)
{
	const unsigned char *p = hay && len && n >= len ? memmem(hay, n, needle, len) : NULL;

	return p ? (long)(p - hay) : -1;
}

static int find(const char *file, const char *hex, const char *text)
{
	unsigned char key[MAX_LEN];
	size_t klen;
	struct stat st;
	unsigned char *map;
	long at, at_text;
	int fd;

	if (hex_decode(hex, key, sizeof(key), &klen))
		return usage();
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		printf("%s: %s\n", file, strerror(errno));
		return 2;
	}
	map = st.st_size ? mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (map == MAP_FAILED) {
		printf("%s: %s\n", file, strerror(errno));
		return 2;
	}
	at = search(map, st.st_size, key, klen);
	if (at < 0)
		at = search(map, st.st_size, hex, strlen(hex));
	printf("%s: %lld bytes; the key: %s", file, (long long)st.st_size,
	       at < 0 ? "not found" : "FOUND");
	if (at >= 0)
		printf(" at offset %ld", at);
	if (text) {
		at_text = search(map, st.st_size, text, strlen(text));
		printf("; control text \"%s\": %s", text, at_text < 0 ? "not found" : "found");
	}
	printf("\n");
	if (map)
		munmap(map, st.st_size);
	return at < 0;
}

static int hmac(const char *hex, const char *msg)
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
	size_t klen;

	if (sodium_init() < 0 || hex_decode(hex, key, sizeof(key), &klen) || klen != sizeof(key))
		return usage();
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, strlen(msg), key);
	for (size_t i = 0; i < sizeof(mac); i++)
		printf("%02x", mac[i]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t addr;
	size_t len;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "find") && (argc == 4 || argc == 5))
		return find(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (!strcmp(argv[1], "hmac") && argc == 4)
		return hmac(argv[2], argv[3]);
	if (!strcmp(argv[1], "phys") && argc == 4) {
		len = strtoul(argv[3], NULL, 0);
		if (!len || len > MAX_LEN)
			return usage();
		return read_at("/dev/smem_dmtest", strtoull(argv[2], NULL, 0), len);
	}
	if ((!strcmp(argv[1], "proc-mem") || !strcmp(argv[1], "vm-readv")) && argc == 5) {
		pid_t pid = (pid_t)atoi(argv[2]);
		char path[64];

		addr = strtoull(argv[3], NULL, 0);
		len = strtoul(argv[4], NULL, 0);
		if (!len || len > MAX_LEN)
			return usage();
		if (argv[1][0] == 'v')
			return vm_readv(pid, addr, len);
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
		return read_at(path, addr, len);
	}
	return usage();
}
