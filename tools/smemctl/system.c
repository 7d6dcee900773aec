// SPDX-License-Identifier: GPL-2.0
/*
 * What the running system says, for status and for the messages of load,
 * unload and pool: small files of /sys and /proc, the kernel lockdown
 * mode, Secure Boot, and whether this process may load modules.
 *
 * Nothing here fails loudly: a file that cannot be read is "not known",
 * and the caller says so in its own words.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "smemctl.h"

/* First line of a small file, without its newline; false if unreadable. */
bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

bool read_u64(const char *path, uint64_t *v)
{
	char buf[32];

	return read_line(path, buf, sizeof(buf)) && sscanf(buf, "%" SCNu64, v) == 1;
}

/* Y/N or 1/0 in a file: 1, 0, or -1 when it cannot be read. */
int read_flag(const char *path)
{
	char line[8];

	if (!read_line(path, line, sizeof(line)))
		return -1;
	return line[0] == 'Y' || line[0] == '1';
}

/* The active word of /sys/kernel/security/lockdown ("[none] ..."), or NULL. */
const char *lockdown_mode(char *buf, size_t len)
{
	char line[128], *a, *b;

	if (!read_line("/sys/kernel/security/lockdown", line, sizeof(line)))
		return NULL;
	a = strchr(line, '[');
	b = a ? strchr(a, ']') : NULL;
	if (!b)
		return NULL;
	*b = 0;
	snprintf(buf, len, "%s", a + 1);
	return buf;
}

/* 1 on, 0 off, -1 unknown (no EFI, or no efivarfs). */
int secure_boot(void)
{
	unsigned char v[5];
	int fd = open("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return access("/sys/firmware/efi", F_OK) ? 0 : -1;
	n = read(fd, v, sizeof(v));
	close(fd);
	return n == 5 ? v[4] == 1 : -1;
}

/* Whether this process may load and unload modules (CAP_SYS_MODULE). */
bool can_load_modules(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	return data[CAP_SYS_MODULE / 32].effective & (1U << (CAP_SYS_MODULE % 32));
}

int need_root(const char *cmd, const char *what)
{
	smemctl_err("%s: permission denied: %s needs root (sudo smemctl %s)", cmd, what, cmd);
	return EXIT_NOT_ROOT;
}
