// SPDX-License-Identifier: GPL-2.0
/*
 * smemctl: status, loading and a self-test of smem on the running system.
 *
 *   smemctl [status] [--json]        what is loaded, the device, the pool,
 *                                    and what libsmem would give a program
 *   smemctl load [PARAM=VALUE...]    load the module (libkmod), with options
 *   smemctl unload                   unload it
 *   smemctl selftest                 a secret end to end, and another
 *                                    process trying to read it
 *
 * The module is found, inserted and removed through libkmod, as modprobe
 * does (so options in modprobe.d apply to `load` too); the device is asked
 * with SMEM_IOC_QUERY and its counters in /sys/class/misc/smem; the library
 * part calls smem_info() of the libsmem linked in.  Exit codes: see
 * man/man8/smemctl.8 and enum exit_code below.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libkmod.h>
#include <linux/capability.h>
#include <linux/smem.h>
#include <smem.h>

#define DEVICE		"/dev/smem"
#define SYSFS_DEV	"/sys/class/misc/smem/"
#define SYSFS_MOD	"/sys/module/smem/"
#define MOK_PUB		"/var/lib/dkms/mok.pub"

/* Documented in smemctl(8); never renumber. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* any other failure; selftest: a check failed */
	EXIT_USAGE = 2,		/* bad command, option or parameter */
	EXIT_NOT_LOADED = 3,	/* status: the module is not loaded */
	EXIT_NOT_ROOT = 4,	/* load, unload: not allowed to load modules */
	EXIT_NO_MODULE = 5,	/* load: no smem.ko for the running kernel */
	EXIT_REFUSED = 6,	/* load: signature refused (Secure Boot, lockdown) */
	EXIT_BUSY = 7,		/* unload: secrets still in use */
	EXIT_CONFLICT = 8,	/* load with parameters while loaded */
};

static const char *prog = "smemctl";

static void msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ----------------------------------------------------------- small files */

/* First line of a small file, without its newline; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t len)
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

static bool read_u64(const char *path, uint64_t *v)
{
	char buf[32];

	return read_line(path, buf, sizeof(buf)) && sscanf(buf, "%" SCNu64, v) == 1;
}

/* The active word of /sys/kernel/security/lockdown ("[none] ..."), or NULL. */
static const char *lockdown_mode(char *buf, size_t len)
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
static int secure_boot(void)
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

/* ----------------------------------------------------------------- JSON */

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* "key": "value" or "key": null, with the separator before it. */
static void json_kv_str(bool *first, const char *key, const char *value)
{
	printf("%s\n    ", *first ? "" : ",");
	*first = false;
	json_str(key);
	printf(": ");
	if (value)
		json_str(value);
	else
		printf("null");
}

static void json_kv_raw(bool *first, const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%s\n    ", *first ? "" : ",");
	*first = false;
	json_str(key);
	printf(": ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* --------------------------------------------------------------- libkmod */

static void kmod_quiet(void *data, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	(void)data, (void)priority, (void)file, (void)line, (void)fn;
	(void)format, (void)args;
}

static struct kmod_ctx *kmod_open(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);

	if (ctx)
		kmod_set_log_fn(ctx, kmod_quiet, NULL);
	return ctx;
}

/* smem.ko for the running kernel (modules.dep), or NULL when there is none. */
static struct kmod_module *find_module(struct kmod_ctx *ctx)
{
	struct kmod_list *list = NULL;
	struct kmod_module *mod = NULL;

	if (kmod_module_new_from_lookup(ctx, "smem", &list) < 0 || !list)
		return NULL;
	mod = kmod_module_ref(kmod_module_get_module(list));
	kmod_module_unref_list(list);
	/* A lookup may name a module that is not there as a file. */
	if (!kmod_module_get_path(mod)) {
		kmod_module_unref(mod);
		return NULL;
	}
	return mod;
}

/* modinfo field @key of @mod (first value), copied into @buf; false if none. */
static bool modinfo(struct kmod_module *mod, const char *key, char *buf, size_t len)
{
	struct kmod_list *info = NULL, *l;
	bool found = false;

	if (!mod || kmod_module_get_info(mod, &info) < 0)
		return false;
	kmod_list_foreach(l, info) {
		if (!strcmp(kmod_module_info_get_key(l), key)) {
			snprintf(buf, len, "%s", kmod_module_info_get_value(l));
			found = true;
			break;
		}
	}
	kmod_module_info_free_list(info);
	return found;
}

/* Whether @name is a parameter of @mod (modinfo "parm" entries "name:desc"). */
static bool module_has_param(struct kmod_module *mod, const char *name, size_t len,
			     char *names, size_t names_len)
{
	struct kmod_list *info = NULL, *l;
	bool found = false;

	names[0] = 0;
	if (kmod_module_get_info(mod, &info) < 0)
		return true;	/* cannot tell: let the kernel judge */
	kmod_list_foreach(l, info) {
		const char *v = kmod_module_info_get_value(l);
		size_t n;

		if (strcmp(kmod_module_info_get_key(l), "parm") || !v)
			continue;
		n = strcspn(v, ":");
		if (n == len && !strncmp(v, name, len))
			found = true;
		snprintf(names + strlen(names), names_len - strlen(names), "%s%.*s",
			 names[0] ? ", " : "", (int)n, v);
	}
	kmod_module_info_free_list(info);
	return found;
}

static bool module_loaded(void)
{
	char state[32];

	return read_line(SYSFS_MOD "initstate", state, sizeof(state)) && !strcmp(state, "live");
}

/* The other kernels DKMS or make module put a smem.ko in, for the messages. */
static void other_kernels(char *buf, size_t len, const char *running)
{
	static const char *const subdirs[] = { "updates/dkms", "extra", "updates" };
	static const char *const names[] = { "smem.ko", "smem.ko.xz", "smem.ko.zst", "smem.ko.gz" };
	DIR *dir = opendir("/lib/modules");
	struct dirent *e;
	char path[512];

	buf[0] = 0;
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		bool has = false;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, running))
			continue;
		for (size_t i = 0; i < 3 && !has; i++)
			for (size_t j = 0; j < 4 && !has; j++) {
				snprintf(path, sizeof(path), "/lib/modules/%s/%s/%s", e->d_name,
					 subdirs[i], names[j]);
				has = !access(path, F_OK);
			}
		if (has)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
				 buf[0] ? ", " : "", e->d_name);
	}
	closedir(dir);
}

/* ----------------------------------------------------------------- status */

struct status {
	struct utsname uts;
	/* module */
	const char *state;		/* "not installed", "installed", "loaded" */
	char version[64];
	char path[512];
	char signer[128];
	char params[4][64];		/* page_source, pool_max_mb, release_delay_ms, allow_fallback */
	/* device */
	bool device;			/* /dev/smem exists */
	struct stat st;
	char owner[64], group[64];
	bool queried;			/* SMEM_IOC_QUERY answered */
	int query_errno;
	struct smem_query q;
	uint64_t pool_blocks;
	char page_source[32];
	/* library */
	int info_err;
	struct smem_info info;
	bool cpu_pku;
	/* system */
	char lockdown[32];
	int secure_boot;
};

static const char *const param_names[4] = {
	"page_source", "pool_max_mb", "release_delay_ms", "allow_fallback",
};

static const char *source_name(uint32_t source)
{
	switch (source) {
	case SMEM_SOURCE_NONE: return "none";
	case SMEM_SOURCE_CARVEOUT: return "carveout";
	case SMEM_SOURCE_RESERVED: return "reserved";
	case SMEM_SOURCE_FALLBACK: return "fallback";
	default: return "unknown";
	}
}

static const char *source_words(uint32_t source)
{
	switch (source) {
	case SMEM_SOURCE_CARVEOUT: return "memory blocks removed from the kernel";
	case SMEM_SOURCE_RESERVED: return "a range reserved at boot (memmap=)";
	case SMEM_SOURCE_FALLBACK: return "ordinary kernel pages (allow_fallback=1)";
	default: return "no page taken yet";
	}
}

static bool cpu_has_pku(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && strstr(line, " ospke"))
			found = true;
	fclose(f);
	return found;
}

static void gather(struct status *s)
{
	struct kmod_ctx *ctx = kmod_open();
	struct kmod_module *mod = ctx ? find_module(ctx) : NULL;
	char path[128];
	int fd;

	memset(s, 0, sizeof(*s));
	uname(&s->uts);
	s->state = module_loaded() ? "loaded" : mod ? "installed" : "not installed";
	if (mod) {
		snprintf(s->path, sizeof(s->path), "%s", kmod_module_get_path(mod));
		modinfo(mod, "version", s->version, sizeof(s->version));
		modinfo(mod, "signer", s->signer, sizeof(s->signer));
	}
	/* What is loaded wins over the file on disk. */
	read_line(SYSFS_MOD "version", s->version, sizeof(s->version));
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), SYSFS_MOD "parameters/%s", param_names[i]);
		read_line(path, s->params[i], sizeof(s->params[i]));
	}
	if (mod)
		kmod_module_unref(mod);
	if (ctx)
		kmod_unref(ctx);

	if (!stat(DEVICE, &s->st) && S_ISCHR(s->st.st_mode)) {
		struct passwd *pw = getpwuid(s->st.st_uid);
		struct group *gr = getgrgid(s->st.st_gid);

		s->device = true;
		if (pw)
			snprintf(s->owner, sizeof(s->owner), "%s", pw->pw_name);
		else
			snprintf(s->owner, sizeof(s->owner), "%u", (unsigned int)s->st.st_uid);
		if (gr)
			snprintf(s->group, sizeof(s->group), "%s", gr->gr_name);
		else
			snprintf(s->group, sizeof(s->group), "%u", (unsigned int)s->st.st_gid);
		/* Opening makes an empty object; it goes with the close. */
		fd = open(DEVICE, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && !ioctl(fd, SMEM_IOC_QUERY, &s->q))
			s->queried = true;
		else
			s->query_errno = errno;
		if (fd >= 0)
			close(fd);
	}
	read_u64(SYSFS_DEV "pool_blocks", &s->pool_blocks);
	read_line(SYSFS_DEV "page_source", s->page_source, sizeof(s->page_source));

	/*
	 * Last: with the module loaded, smem_info() makes (and frees) a
	 * one-page secret to try protection keys, which may carve a block.
	 */
	s->info_err = smem_info(&s->info);
	s->cpu_pku = cpu_has_pku();
	if (!lockdown_mode(s->lockdown, sizeof(s->lockdown)))
		s->lockdown[0] = 0;
	s->secure_boot = secure_boot();
}

static const struct {
	unsigned int bit;
	const char *name;
} guarantee_names[] = {
	{ SMEM_G_LOCKED, "locked" },
	{ SMEM_G_NO_DUMP, "no_dump" },
	{ SMEM_G_NO_FORK, "no_fork" },
	{ SMEM_G_NO_DIRECT_MAP, "no_direct_map" },
	{ SMEM_G_NO_GUP, "no_gup" },
	{ SMEM_G_THREAD_WINDOW, "thread_window" },
	{ SMEM_G_SHAREABLE, "shareable" },
};

#define NGUARANTEES (sizeof(guarantee_names) / sizeof(guarantee_names[0]))

static uint64_t mib(uint64_t pages, uint64_t page_size)
{
	return pages * page_size >> 20;
}

static void print_human(const struct status *s)
{
	const struct smem_query *q = &s->q;

	printf("module\n");
	printf("  state:           %s", s->state);
	if (s->version[0])
		printf(", version %s", s->version);
	printf("\n");
	if (s->path[0])
		printf("  file:            %s\n", s->path);
	if (s->signer[0])
		printf("  signed by:       %s\n", s->signer);
	if (!strcmp(s->state, "loaded"))
		printf("  parameters:      page_source=%s pool_max_mb=%s release_delay_ms=%s allow_fallback=%s\n",
		       s->params[0], s->params[1], s->params[2], s->params[3]);
	else if (!s->path[0])
		printf("  (no smem.ko for kernel %s: make dkms-install, or see smemctl(8))\n",
		       s->uts.release);
	printf("  kernel:          %s, lockdown %s, Secure Boot %s\n", s->uts.release,
	       s->lockdown[0] ? s->lockdown : "not available",
	       s->secure_boot > 0 ? "on" : s->secure_boot == 0 ? "off" : "unknown");

	printf("device\n");
	if (!s->device) {
		printf("  node:            %s does not exist\n", DEVICE);
	} else {
		printf("  node:            %s, mode %04o, owner %s, group %s\n", DEVICE,
		       s->st.st_mode & 07777, s->owner, s->group);
		if (!s->queried) {
			printf("  query:           failed: %s\n", strerror(s->query_errno));
		} else {
			printf("  page source:     %s (%s)\n", source_name(q->page_source),
			       source_words(q->page_source));
			printf("  direct map:      %s\n",
			       q->features & SMEM_FEAT_NO_DIRECT_MAP ?
			       "secret pages are outside the kernel direct map" :
			       "secret pages are IN the kernel direct map");
			printf("pool\n");
			printf("  size:            %" PRIu64 " MiB in %" PRIu64 " block%s, at most %" PRIu64 " MiB\n",
			       mib(q->pool_pages, q->page_size), s->pool_blocks,
			       s->pool_blocks == 1 ? "" : "s", mib(q->pool_max_pages, q->page_size));
			printf("  in use:          %" PRIu64 " pages (%" PRIu64 " KiB) in %" PRIu64 " objects\n",
			       (uint64_t)q->pages_in_use, (uint64_t)(q->pages_in_use * q->page_size >> 10),
			       (uint64_t)q->objects);
			printf("  alloc failures:  %" PRIu64 "\n", (uint64_t)q->alloc_failures);
		}
	}

	printf("library\n");
	if (s->info_err) {
		printf("  backend:         none: %s\n", strerror(-s->info_err));
	} else {
		printf("  backend:         %s (what a program linking libsmem gets now)\n",
		       s->info.backend_name);
		printf("  guarantees:     ");
		for (size_t i = 0; i < NGUARANTEES; i++)
			if (s->info.guarantees & guarantee_names[i].bit)
				printf(" %s", guarantee_names[i].name);
		printf("\n");
	}
	printf("  protection keys: %s\n",
	       !s->info_err && (s->info.guarantees & SMEM_G_THREAD_WINDOW) ?
	       "in use (per-thread access windows)" :
	       s->cpu_pku ? "CPU has them, but libsmem does not use them here" :
	       "not available (no pku/ospke)");
}

static void print_json(const struct status *s)
{
	const struct smem_query *q = &s->q;
	bool first = true, loaded = !strcmp(s->state, "loaded");
	char mode[8];

	printf("{\n  \"module\": {");
	json_kv_str(&first, "state", s->state);
	json_kv_str(&first, "version", s->version[0] ? s->version : NULL);
	json_kv_str(&first, "path", s->path[0] ? s->path : NULL);
	json_kv_str(&first, "signer", s->signer[0] ? s->signer : NULL);
	for (int i = 0; i < 4; i++)
		json_kv_str(&first, param_names[i], loaded ? s->params[i] : NULL);
	json_kv_str(&first, "kernel", s->uts.release);
	json_kv_str(&first, "lockdown", s->lockdown[0] ? s->lockdown : NULL);
	json_kv_raw(&first, "secure_boot", "%s",
		    s->secure_boot < 0 ? "null" : s->secure_boot ? "true" : "false");

	printf("\n  },\n  \"device\": {");
	first = true;
	json_kv_str(&first, "path", DEVICE);
	json_kv_raw(&first, "present", s->device ? "true" : "false");
	snprintf(mode, sizeof(mode), "%04o", s->st.st_mode & 07777);
	json_kv_str(&first, "mode", s->device ? mode : NULL);
	json_kv_str(&first, "owner", s->device ? s->owner : NULL);
	json_kv_str(&first, "group", s->device ? s->group : NULL);
	if (s->queried) {
		json_kv_raw(&first, "abi_version", "%u", q->abi_version);
		json_kv_str(&first, "page_source", source_name(q->page_source));
		json_kv_raw(&first, "outside_direct_map", "%s",
			    q->features & SMEM_FEAT_NO_DIRECT_MAP ? "true" : "false");
	} else {
		json_kv_raw(&first, "abi_version", "null");
		json_kv_str(&first, "page_source", NULL);
		json_kv_raw(&first, "outside_direct_map", "null");
	}

	printf("\n  },\n  \"pool\": ");
	if (s->queried) {
		first = true;
		printf("{");
		json_kv_raw(&first, "page_size", "%" PRIu64, (uint64_t)q->page_size);
		json_kv_raw(&first, "pool_pages", "%" PRIu64, (uint64_t)q->pool_pages);
		json_kv_raw(&first, "pool_blocks", "%" PRIu64, s->pool_blocks);
		json_kv_raw(&first, "pool_max_pages", "%" PRIu64, (uint64_t)q->pool_max_pages);
		json_kv_raw(&first, "pool_max_mb", "%" PRIu64,
			    mib(q->pool_max_pages, q->page_size));
		json_kv_raw(&first, "pages_in_use", "%" PRIu64, (uint64_t)q->pages_in_use);
		json_kv_raw(&first, "objects", "%" PRIu64, (uint64_t)q->objects);
		json_kv_raw(&first, "alloc_failures", "%" PRIu64, (uint64_t)q->alloc_failures);
		printf("\n  }");
	} else {
		printf("null");
	}

	printf(",\n  \"library\": {");
	first = true;
	json_kv_str(&first, "backend", s->info_err ? NULL : s->info.backend_name);
	json_kv_str(&first, "error", s->info_err ? strerror(-s->info_err) : NULL);
	printf(",\n    \"guarantees\": [");
	for (size_t i = 0, n = 0; i < NGUARANTEES; i++) {
		if (s->info_err || !(s->info.guarantees & guarantee_names[i].bit))
			continue;
		printf("%s", n++ ? ", " : "");
		json_str(guarantee_names[i].name);
	}
	printf("]");
	json_kv_raw(&first, "protection_keys", "%s",
		    !s->info_err && (s->info.guarantees & SMEM_G_THREAD_WINDOW) ?
		    "true" : "false");
	json_kv_raw(&first, "cpu_pku", "%s", s->cpu_pku ? "true" : "false");
	printf("\n  }\n}\n");
}

static int cmd_status(int argc, char **argv)
{
	struct status s;
	bool json = false;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			msg("status: unknown argument '%s'", argv[i]);
			return EXIT_USAGE;
		}
	}
	gather(&s);
	if (json)
		print_json(&s);
	else
		print_human(&s);
	fflush(stdout);
	if (strcmp(s.state, "loaded"))
		return EXIT_NOT_LOADED;
	return s.queried ? EXIT_OK : EXIT_FAIL;
}

/* ---------------------------------------------------------- load, unload */

/* Whether this process may load and unload modules (CAP_SYS_MODULE). */
static bool can_load_modules(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	return data[CAP_SYS_MODULE / 32].effective & (1U << (CAP_SYS_MODULE % 32));
}

static int need_root(const char *cmd)
{
	msg("%s: permission denied: %s a kernel module needs root (sudo smemctl %s)",
	    cmd, strcmp(cmd, "load") ? "unloading" : "loading", cmd);
	return EXIT_NOT_ROOT;
}

/*
 * Kernel messages about smem logged since @kmsg was opened (at its end):
 * the reason behind an EINVAL or EPERM from the module's init.
 */
static void print_kernel_messages(int kmsg)
{
	char rec[1024];
	ssize_t n;

	if (kmsg < 0)
		return;
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0) {
		char *text;

		rec[n] = 0;
		text = strchr(rec, ';');
		if (!text || (!strstr(text, "smem") && !strstr(text, "Lockdown") &&
			       !strstr(text, "module verification") && !strstr(text, "Secure boot")))
			continue;
		text[strcspn(text, "\n")] = 0;
		fprintf(stderr, "  kernel: %s\n", text + 1);
	}
}

static int open_kmsg(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static void explain_signature(struct kmod_module *mod)
{
	char signer[128] = "", lock[32], enforce[8] = "";
	const char *why;

	modinfo(mod, "signer", signer, sizeof(signer));
	read_line("/sys/module/module/parameters/sig_enforce", enforce, sizeof(enforce));
	if (lockdown_mode(lock, sizeof(lock)) && strcmp(lock, "none"))
		why = secure_boot() > 0 ? "Secure Boot is on, and with it kernel lockdown" :
		      "kernel lockdown is on";
	else if (secure_boot() > 0)
		why = "Secure Boot is on";
	else if (enforce[0] == 'Y')
		why = "the kernel enforces module signatures (module.sig_enforce=1)";
	else
		why = "the kernel's signature policy";
	msg("load: the kernel refused %s: %s, and the module's signature is not trusted",
	    kmod_module_get_path(mod), why);
	if (signer[0])
		fprintf(stderr, "  It is signed by \"%s\", a key the kernel does not trust yet.\n",
			signer);
	else
		fprintf(stderr, "  It is not signed: install it with DKMS (make dkms-install), which signs it.\n");
	fprintf(stderr,
		"  DKMS signs the modules it builds with its MOK (%s). Enroll that key once:\n"
		"    mokutil --import %s   (choose a one-time password)\n"
		"  reboot, pick \"Enroll MOK\" in the blue MOK manager screen, then run\n"
		"  `smemctl load` again. See smemctl(8) and the README, \"Secure Boot\".\n",
		MOK_PUB, MOK_PUB);
}

static int check_params(struct kmod_module *mod, int argc, char **argv, char *opts, size_t len)
{
	char names[256];

	opts[0] = 0;
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i]) {
			msg("load: '%s' is not PARAM=VALUE", argv[i]);
			return EXIT_USAGE;
		}
		if (!module_has_param(mod, argv[i], (size_t)(eq - argv[i]), names, sizeof(names))) {
			msg("load: smem has no parameter '%.*s' (it has: %s)",
			    (int)(eq - argv[i]), argv[i], names);
			return EXIT_USAGE;
		}
		if (strlen(opts) + strlen(argv[i]) + 2 > len) {
			msg("load: too many parameters");
			return EXIT_USAGE;
		}
		strcat(opts, opts[0] ? " " : "");
		strcat(opts, argv[i]);
	}
	return EXIT_OK;
}

static int cmd_load(int argc, char **argv)
{
	struct kmod_ctx *ctx = kmod_open();
	struct kmod_module *mod;
	char opts[1024], others[512], version[64] = "";
	struct utsname uts;
	int ret, kmsg, code;

	uname(&uts);
	if (!can_load_modules()) {
		if (ctx)
			kmod_unref(ctx);
		return need_root("load");
	}
	if (!ctx) {
		msg("load: cannot initialize libkmod");
		return EXIT_FAIL;
	}
	mod = find_module(ctx);
	if (!mod) {
		other_kernels(others, sizeof(others), uts.release);
		msg("load: smem is not installed for the running kernel %s", uts.release);
		if (others[0])
			fprintf(stderr, "  it is built for: %s\n", others);
		fprintf(stderr, "  Build it with DKMS: install the headers (linux-headers-%s on Debian\n"
			"  and Ubuntu, kernel-devel-%s on Fedora and RHEL), then\n"
			"  `make dkms-install` in the smem sources.\n", uts.release, uts.release);
		kmod_unref(ctx);
		return EXIT_NO_MODULE;
	}
	code = check_params(mod, argc, argv, opts, sizeof(opts));
	if (code)
		goto out;
	if (module_loaded()) {
		if (argc) {
			msg("load: smem is already loaded; parameters apply only when it is loaded:"
			    " run `smemctl unload` first");
			code = EXIT_CONFLICT;
		} else {
			printf("smem is already loaded\n");
			code = EXIT_OK;
		}
		goto out;
	}

	kmsg = open_kmsg();
	ret = kmod_module_probe_insert_module(mod, KMOD_PROBE_FAIL_ON_LOADED,
					      opts[0] ? opts : NULL, NULL, NULL, NULL);
	switch (-ret) {
	case 0:
		read_line(SYSFS_MOD "version", version, sizeof(version));
		printf("smem %s loaded from %s%s%s\n", version, kmod_module_get_path(mod),
		       opts[0] ? " with " : "", opts);
		code = EXIT_OK;
		break;
	case EEXIST:
		printf("smem is already loaded\n");
		code = EXIT_OK;
		break;
	case EPERM:
	case EACCES: {
		char lock[32];

		if (!can_load_modules()) {
			code = need_root("load");
		} else if (lockdown_mode(lock, sizeof(lock)) && strcmp(lock, "none")) {
			explain_signature(mod);
			code = EXIT_REFUSED;
		} else {
			msg("load: the module refused to load with these parameters: %s",
			    strerror(-ret));
			print_kernel_messages(kmsg);
			code = EXIT_FAIL;
		}
		break;
	}
	case EKEYREJECTED:
	case ENOKEY:
	case EKEYEXPIRED:
	case EKEYREVOKED:
	case EBADMSG:
		explain_signature(mod);
		print_kernel_messages(kmsg);
		code = EXIT_REFUSED;
		break;
	case ENOEXEC:
		modinfo(mod, "vermagic", others, sizeof(others));
		msg("load: %s was built for another kernel (vermagic \"%s\"), not for %s;"
		    " rebuild it: make dkms-install", kmod_module_get_path(mod), others,
		    uts.release);
		print_kernel_messages(kmsg);
		code = EXIT_NO_MODULE;
		break;
	default:
		msg("load: loading smem failed: %s", strerror(-ret));
		print_kernel_messages(kmsg);
		code = EXIT_FAIL;
		break;
	}
	if (kmsg >= 0)
		close(kmsg);
out:
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return code;
}

static int cmd_unload(int argc, char **argv)
{
	struct kmod_ctx *ctx;
	struct kmod_module *mod;
	uint64_t refs = 0, objects = 0, pages = 0;
	int ret, code;

	(void)argv;
	if (argc) {
		msg("unload: takes no arguments");
		return EXIT_USAGE;
	}
	if (!can_load_modules())
		return need_root("unload");
	if (!module_loaded()) {
		printf("smem is not loaded\n");
		return EXIT_OK;
	}
	ctx = kmod_open();
	if (!ctx || kmod_module_new_from_name(ctx, "smem", &mod) < 0) {
		msg("unload: cannot initialize libkmod");
		if (ctx)
			kmod_unref(ctx);
		return EXIT_FAIL;
	}
	ret = kmod_module_remove_module(mod, 0);
	switch (-ret) {
	case 0:
	case ENOENT:
		printf("smem unloaded\n");
		code = EXIT_OK;
		break;
	case EPERM:
	case EACCES:
		code = need_root("unload");
		break;
	case EBUSY:
	case EAGAIN:
		read_u64(SYSFS_MOD "refcnt", &refs);
		read_u64(SYSFS_DEV "objects", &objects);
		read_u64(SYSFS_DEV "pages_in_use", &pages);
		msg("unload: smem is in use: %" PRIu64 " open /dev/smem file(s), %" PRIu64
		    " secret(s) holding %" PRIu64 " page(s)", refs, objects, pages);
		fprintf(stderr, "  Secrets are never taken away from a running program: end the programs\n"
			"  that hold them (fuser -v /dev/smem lists them), then unload again.\n");
		code = EXIT_BUSY;
		break;
	default:
		msg("unload: unloading smem failed: %s", strerror(-ret));
		code = EXIT_FAIL;
		break;
	}
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return code;
}

/* --------------------------------------------------------------- selftest */

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

static int cmd_selftest(int argc, char **argv)
{
	unsigned char data[ST_LEN];
	struct smem_secret *s = NULL;
	struct smem_info info;
	struct probe_ctx c = { 0 };
	int to_child[2], from_child[2], ret, failed = 0, status;
	pid_t child;

	(void)argv;
	if (argc) {
		msg("selftest: takes no arguments");
		return EXIT_USAGE;
	}
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

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: smemctl [status] [--json]\n"
		"       smemctl load [PARAM=VALUE...]\n"
		"       smemctl unload\n"
		"       smemctl selftest\n"
		"       smemctl --version | --help\n"
		"See smemctl(8).\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "status";
	int first = argc > 1 ? 2 : 1;

	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("smemctl %s\n", SMEM_VERSION);
		return EXIT_OK;
	}
	/* "smemctl --json" is "smemctl status --json". */
	if (!strcmp(cmd, "--json")) {
		cmd = "status";
		first = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - first, argv + first);
	if (!strcmp(cmd, "load"))
		return cmd_load(argc - first, argv + first);
	if (!strcmp(cmd, "unload"))
		return cmd_unload(argc - first, argv + first);
	if (!strcmp(cmd, "selftest"))
		return cmd_selftest(argc - first, argv + first);
	msg("unknown command '%s'", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
