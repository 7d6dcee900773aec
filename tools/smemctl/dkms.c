// SPDX-License-Identifier: GPL-2.0
/*
 * The certificate DKMS signs the modules it builds with, found as DKMS
 * finds it: mok_certificate= in /etc/dkms/framework.conf, then in the
 * *.conf files of /etc/dkms/framework.conf.d in name order, the last one
 * set winning; without one, Ubuntu's shim-signed key when no signing key
 * is set either and the system is Ubuntu or says it is like Ubuntu
 * (os-release), else DKMS's own /var/lib/dkms/mok.pub.  "$kernelver" in
 * the path is the running kernel's release.
 *
 * DKMS sources these files as shell; this reads only the plain
 * assignments it documents (key=value, the value optionally quoted),
 * which is what distributions and administrators write there.
 */
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "smemctl.h"

#define DKMS_CONF	"/etc/dkms/framework.conf"
#define DKMS_CONF_D	"/etc/dkms/framework.conf.d/*.conf"
#define DKMS_MOK	"/var/lib/dkms/mok.pub"
#define UBUNTU_MOK	"/var/lib/shim-signed/mok/MOK.der"

/*
 * The value of "@key=" on @line into @buf, quotes removed; false when the
 * line assigns something else.  Unquoted, the value ends at a blank, as
 * it does for the shell.
 */
static bool conf_value(const char *line, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key), n;
	const char *v;

	line += strspn(line, " \t");
	if (!strncmp(line, "export ", 7))
		line += 7 + strspn(line + 7, " \t");
	if (strncmp(line, key, klen) || line[klen] != '=')
		return false;
	v = line + klen + 1;
	if (*v == '"' || *v == '\'') {
		const char *end = strchr(v + 1, *v);

		if (!end)
			return false;	/* the shell would not take it either */
		n = (size_t)(end - v - 1);
		v++;
	} else {
		n = strcspn(v, " \t\n;");
	}
	snprintf(buf, len, "%.*s", (int)n, v);
	return true;
}

#define CONF_PATH_MAX 512

/* mok_certificate= and mok_signing_key= of one file, where it sets them. */
static void read_conf(const char *path, char cert[CONF_PATH_MAX], char key[CONF_PATH_MAX])
{
	FILE *f = fopen(path, "re");
	char line[1024];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!conf_value(line, "mok_certificate", cert, CONF_PATH_MAX))
			conf_value(line, "mok_signing_key", key, CONF_PATH_MAX);
	}
	fclose(f);
}

/* Whether DKMS takes this for Ubuntu: ID=ubuntu, or ID_LIKE starting with it. */
static bool like_ubuntu(void)
{
	FILE *f = fopen("/etc/os-release", "re");
	char line[256], value[64];
	bool ubuntu = false;

	if (!f)
		return false;
	while (!ubuntu && fgets(line, sizeof(line), f))
		ubuntu = (conf_value(line, "ID", value, sizeof(value)) ||
			  conf_value(line, "ID_LIKE", value, sizeof(value))) &&
			 !strncmp(value, "ubuntu", 6);
	fclose(f);
	return ubuntu;
}

/* "$kernelver" and "${kernelver}" in @path, replaced by the running release. */
static void expand_kernelver(char *path, size_t len)
{
	static const char *const forms[] = { "${kernelver}", "$kernelver" };
	struct utsname uts;
	char rest[512], *at;

	if (uname(&uts))
		return;
	for (size_t i = 0; i < 2; i++) {
		while ((at = strstr(path, forms[i]))) {
			snprintf(rest, sizeof(rest), "%s", at + strlen(forms[i]));
			snprintf(at, len - (size_t)(at - path), "%s%s", uts.release, rest);
		}
	}
}

void dkms_mok_certificate(char *buf, size_t len)
{
	char cert[CONF_PATH_MAX] = "", key[CONF_PATH_MAX] = "";
	glob_t g;

	read_conf(DKMS_CONF, cert, key);
	if (!glob(DKMS_CONF_D, 0, NULL, &g)) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			read_conf(g.gl_pathv[i], cert, key);
		globfree(&g);
	}
	snprintf(buf, len, "%s", cert[0] ? cert : !key[0] && like_ubuntu() ? UBUNTU_MOK : DKMS_MOK);
	expand_kernelver(buf, len);
}
