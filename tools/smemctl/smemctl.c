// SPDX-License-Identifier: GPL-2.0
/*
 * smemctl: status, loading, pool size and a self-test of smem on the
 * running system.
 *
 *   smemctl [status] [--json]        what is loaded, the device, the pool,
 *                                    what needs attention, and what libsmem
 *                                    would give a program
 *   smemctl load [PARAM=VALUE...]    load the module (libkmod), with options
 *   smemctl unload                   unload it
 *   smemctl pool grow|shrink|set SIZE
 *                                    resize the carved pool (root)
 *   smemctl selftest                 a secret end to end, and another
 *                                    process trying to read it
 *
 * The module is found, inserted and removed through libkmod, as modprobe
 * does (so options in modprobe.d apply to `load` too); the device is asked
 * with SMEM_IOC_QUERY, and where this user may not open it, its counters
 * are read from /sys/class/misc/smem; the library part calls smem_info()
 * of the libsmem linked in.  Exit codes: see man/man8/smemctl.8 and enum
 * exit_code below.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
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
/* /dev/smem's driver: not smem.ko, which is Qualcomm's on arm64. */
#define MODULE_NAME	"smemdev"
#define SYSFS_MOD	"/sys/module/" MODULE_NAME "/"
#define MOK_PUB		"/var/lib/dkms/mok.pub"

/* Documented in smemctl(8); never renumber. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* any other failure; selftest: a check failed */
	EXIT_USAGE = 2,		/* bad command, option, parameter or size */
	EXIT_NOT_LOADED = 3,	/* status, pool: the module is not loaded */
	EXIT_NOT_ROOT = 4,	/* load, unload, pool: not allowed */
	EXIT_NO_MODULE = 5,	/* load: no smemdev.ko for the running kernel */
	EXIT_REFUSED = 6,	/* load: signature refused (Secure Boot, lockdown) */
	EXIT_BUSY = 7,		/* unload: secrets still in use; pool: blocks in use */
	EXIT_CONFLICT = 8,	/* load with parameters while loaded */
	EXIT_NO_BLOCK = 9,	/* pool: no eligible memory block left to carve */
	EXIT_NOT_CARVED = 10,	/* pool: the page source is not carveout */
	EXIT_INTERRUPTED = 11,	/* pool: a signal stopped it between two blocks */
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

/* --------------------------------------------------------------- output */

/*
 * `smemctl status` is printed once, through these, for people and as
 * JSON: each value is a "label: text" line for people and a "key": value
 * member in JSON, and a NULL label or key leaves it out of that form.
 * A section without a line for people prints no heading either.
 */
struct out {
	bool json;
	bool first;		/* JSON: no member yet in this object */
	bool sections;		/* JSON: a section before this one */
	const char *heading;	/* people: the section, until its first line */
};

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

/* The text of one line for people (one at a time: a static buffer). */
static const char *text(const char *fmt, ...)
{
	static char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* A section; when @present is false, JSON gives it null and people nothing. */
static bool out_section(struct out *o, const char *name, bool present)
{
	if (o->json) {
		printf("%s\n  ", o->sections ? "," : "{");
		json_str(name);
		printf(": %s", present ? "{" : "null");
	}
	o->sections = true;
	o->first = true;
	o->heading = present ? name : NULL;
	return present;
}

static void out_section_end(struct out *o)
{
	if (o->json)
		printf("\n  }");
}

static void out_end(struct out *o)
{
	if (o->json)
		printf("\n}\n");
}

/* JSON: the separator and "key": ; false when nothing is to be printed. */
static bool out_key(struct out *o, const char *key)
{
	if (!o->json || !key)
		return false;
	printf("%s\n    ", o->first ? "" : ",");
	o->first = false;
	json_str(key);
	printf(": ");
	return true;
}

/* People: "  label:  text", under the section's heading. */
static void out_line(struct out *o, const char *label, const char *text)
{
	if (o->json || !label)
		return;
	if (o->heading) {
		printf("%s\n", o->heading);
		o->heading = NULL;
	}
	printf("  %s:%*s%s\n", label, strlen(label) < 16 ? (int)(16 - strlen(label)) : 1, "",
	       text);
}

/* A string, null when @value is NULL; people see @text, or @value. */
static void put_str(struct out *o, const char *key, const char *value,
		    const char *label, const char *text)
{
	if (out_key(o, key)) {
		if (value)
			json_str(value);
		else
			printf("null");
	}
	out_line(o, label, text ? text : value);
}

static void put_num(struct out *o, const char *key, uint64_t value,
		    const char *label, const char *text)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, value);
	if (out_key(o, key))
		printf("%s", num);
	out_line(o, label, text ? text : num);
}

/* true, false, or null when @value is negative (not known). */
static void put_bool(struct out *o, const char *key, int value,
		     const char *label, const char *text)
{
	if (out_key(o, key))
		printf("%s", value < 0 ? "null" : value ? "true" : "false");
	out_line(o, label, text);
}

/* A list of names: a JSON array, or the names separated by spaces. */
static void put_names(struct out *o, const char *key, const char *const *names,
		      size_t n, const char *label)
{
	char line[512] = "";

	for (size_t i = 0; i < n; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s",
			 i ? " " : "", names[i]);
	if (out_key(o, key)) {
		printf("[");
		for (size_t i = 0; i < n; i++) {
			printf("%s", i ? ", " : "");
			json_str(names[i]);
		}
		printf("]");
	}
	out_line(o, label, line);
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

/* smemdev.ko for the running kernel (modules.dep), or NULL when there is none. */
static struct kmod_module *find_module(struct kmod_ctx *ctx)
{
	struct kmod_list *list = NULL;
	struct kmod_module *mod = NULL;

	if (kmod_module_new_from_lookup(ctx, MODULE_NAME, &list) < 0 || !list)
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

/* The other kernels DKMS or make module put a smemdev.ko in, for the messages. */
static void other_kernels(char *buf, size_t len, const char *running)
{
	static const char *const subdirs[] = { "updates/dkms", "extra", "updates" };
	static const char *const names[] = { "smemdev.ko", "smemdev.ko.xz", "smemdev.ko.zst", "smemdev.ko.gz" };
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

/* The parameters status shows; s->params[] in this order. */
enum { PARAM_PAGE_SOURCE, PARAM_POOL_MB, PARAM_USER_MAX_PERCENT, PARAM_ALLOW_FALLBACK, NPARAMS };

static const char *const param_names[NPARAMS] = {
	"page_source", "pool_mb", "user_max_percent", "allow_fallback",
};

/* The pool: from SMEM_IOC_QUERY, or from sysfs where the device is not ours to open. */
struct pool {
	uint32_t source;		/* SMEM_SOURCE_* */
	uint64_t page_size;
	uint64_t pool_pages;
	uint64_t block_pages;		/* 0 unless carved */
	uint64_t pages_in_use;
	uint64_t objects;
	uint64_t alloc_failures;
	uint64_t carvable_pages;
	uint64_t refused_blocks;
	uint64_t pending_blocks;
	uint64_t user_max_pages;	/* 0: no per-user cap */
	uint64_t status;		/* SMEM_STATUS_* */
};

/* The files of /sys/class/misc/smem that hold the same figures. */
static const struct {
	const char *name;
	size_t offset;
} pool_files[] = {
	{ "pool_pages", offsetof(struct pool, pool_pages) },
	{ "block_pages", offsetof(struct pool, block_pages) },
	{ "pages_in_use", offsetof(struct pool, pages_in_use) },
	{ "objects", offsetof(struct pool, objects) },
	{ "alloc_failures", offsetof(struct pool, alloc_failures) },
	{ "carvable_pages", offsetof(struct pool, carvable_pages) },
	{ "refused_blocks", offsetof(struct pool, refused_blocks) },
	{ "pending_blocks", offsetof(struct pool, pending_blocks) },
	{ "user_max_pages", offsetof(struct pool, user_max_pages) },
};

#define NPOOL_FILES (sizeof(pool_files) / sizeof(pool_files[0]))

struct status {
	struct utsname uts;
	/* module */
	const char *state;		/* "not installed", "installed", "loaded" */
	char version[64];
	char path[512];
	char signer[128];
	char params[NPARAMS][64];
	/* device */
	bool device;			/* /dev/smem exists */
	struct stat st;
	char owner[64], group[64];
	int open_errno;			/* why this user cannot open it, or 0 */
	bool queried;			/* SMEM_IOC_QUERY answered */
	int query_errno;
	struct smem_query q;
	/* pool */
	bool pool_known;		/* from the query, or from sysfs */
	struct pool pool;
	/* crash dumps: 1 yes, 0 no, -1 not known */
	int crash_kernel;
	int post_notifiers;
	bool old_name_options;	/* "options smem" lines in modprobe.d */
	/* library */
	int info_err;
	struct smem_info info;
	bool cpu_pku;
	/* system */
	char lockdown[32];
	int secure_boot;
};

static const char *const source_names[] = {
	[SMEM_SOURCE_NONE] = "none",
	[SMEM_SOURCE_CARVEOUT] = "carveout",
	[SMEM_SOURCE_RESERVED] = "reserved",
	[SMEM_SOURCE_FALLBACK] = "fallback",
};

#define NSOURCES (sizeof(source_names) / sizeof(source_names[0]))

static const char *source_name(uint32_t source)
{
	return source < NSOURCES ? source_names[source] : "unknown";
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

static void pool_from_query(struct pool *p, const struct smem_query *q)
{
	*p = (struct pool) {
		.source = q->page_source,
		.page_size = q->page_size,
		.pool_pages = q->pool_pages,
		.block_pages = q->block_pages,
		.pages_in_use = q->pages_in_use,
		.objects = q->objects,
		.alloc_failures = q->alloc_failures,
		.carvable_pages = q->carvable_pages,
		.refused_blocks = q->refused_blocks,
		.pending_blocks = q->block_pages ? q->pending_pages / q->block_pages : 0,
		.user_max_pages = q->user_max_pages,
		.status = q->status,
	};
}

/* The same from /sys/class/misc/smem, readable by every user; false without it. */
static bool pool_from_sysfs(struct pool *p)
{
	char path[128], name[32];
	uint64_t crash = 0;

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < NPOOL_FILES; i++) {
		snprintf(path, sizeof(path), SYSFS_DEV "%s", pool_files[i].name);
		if (!read_u64(path, (uint64_t *)((char *)p + pool_files[i].offset)) && i == 0)
			return false;
	}
	p->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	if (read_line(SYSFS_DEV "page_source", name, sizeof(name)))
		for (uint32_t i = 0; i < NSOURCES; i++)
			if (!strcmp(name, source_names[i]))
				p->source = i;
	if (read_u64(SYSFS_DEV "crash_kernel_loaded", &crash) && crash)
		p->status |= SMEM_STATUS_CRASH_KERNEL;
	return true;
}

/* Y/N or 1/0 in a file: 1, 0, or -1 when it cannot be read. */
static int read_flag(const char *path)
{
	char line[8];

	if (!read_line(path, line, sizeof(line)))
		return -1;
	return line[0] == 'Y' || line[0] == '1';
}

/* Bytes in one memory block: the pool's, or the kernel's. */
static uint64_t block_bytes(const struct pool *p)
{
	char line[32];

	if (p->block_pages)
		return p->block_pages * p->page_size;
	if (!read_line("/sys/devices/system/memory/block_size_bytes", line, sizeof(line)))
		return 0;
	return strtoull(line, NULL, 16);
}

/*
 * Whether modprobe.d has options for smem, the module's name before
 * 0.1.0: the alias "smem" still loads smemdev, but modprobe applies
 * options by module name, so those lines no longer reach it.
 */
static bool has_old_name_options(struct kmod_ctx *ctx)
{
	struct kmod_config_iter *it = kmod_config_get_options(ctx);
	bool found = false;

	while (it && !found && kmod_config_iter_next(it))
		found = !strcmp(kmod_config_iter_get_key(it), "smem");
	kmod_config_iter_free_iter(it);
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
	for (int i = 0; i < NPARAMS; i++) {
		snprintf(path, sizeof(path), SYSFS_MOD "parameters/%s", param_names[i]);
		read_line(path, s->params[i], sizeof(s->params[i]));
	}
	if (mod)
		kmod_module_unref(mod);
	if (ctx) {
		s->old_name_options = has_old_name_options(ctx);
		kmod_unref(ctx);
	}

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
		if (fd < 0) {
			s->open_errno = errno;
		} else {
			if (!ioctl(fd, SMEM_IOC_QUERY, &s->q))
				s->queried = true;
			else
				s->query_errno = errno;
			close(fd);
		}
	}
	if (s->queried) {
		pool_from_query(&s->pool, &s->q);
		s->pool_known = true;
	} else {
		s->pool_known = pool_from_sysfs(&s->pool);
	}
	s->crash_kernel = read_flag("/sys/kernel/kexec_crash_loaded");
	if (s->pool.status & SMEM_STATUS_CRASH_KERNEL)
		s->crash_kernel = 1;
	s->post_notifiers = read_flag("/sys/module/kernel/parameters/crash_kexec_post_notifiers");

	/* Last: smem_info() makes (and frees) a one-page secret to try protection keys. */
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

static void put_module(struct out *o, const struct status *s)
{
	bool loaded = !strcmp(s->state, "loaded");
	char params[256] = "";

	out_section(o, "module", true);
	put_str(o, "state", s->state, "state",
		s->version[0] ? text("%s, version %s", s->state, s->version) : s->state);
	put_str(o, "version", s->version[0] ? s->version : NULL, NULL, NULL);
	put_str(o, "path", s->path[0] ? s->path : NULL, s->path[0] ? "file" : NULL, NULL);
	put_str(o, "signer", s->signer[0] ? s->signer : NULL, s->signer[0] ? "signed by" : NULL,
		NULL);
	for (int i = 0; i < NPARAMS; i++) {
		put_str(o, param_names[i], loaded ? s->params[i] : NULL, NULL, NULL);
		snprintf(params + strlen(params), sizeof(params) - strlen(params), "%s%s=%s",
			 i ? " " : "", param_names[i], s->params[i]);
	}
	if (loaded)
		put_str(o, NULL, NULL, "parameters", params);
	else if (!s->path[0])
		out_line(o, "file", text("none for kernel %s: make dkms-install, or see smemctl(8)",
					 s->uts.release));
	put_str(o, "kernel", s->uts.release, "kernel",
		text("%s, lockdown %s, Secure Boot %s", s->uts.release,
		     s->lockdown[0] ? s->lockdown : "not available",
		     s->secure_boot > 0 ? "on" : s->secure_boot == 0 ? "off" : "unknown"));
	put_str(o, "lockdown", s->lockdown[0] ? s->lockdown : NULL, NULL, NULL);
	put_bool(o, "secure_boot", s->secure_boot, NULL, NULL);
	put_bool(o, "crash_kernel_loaded", s->crash_kernel, "crash kernel",
		 s->crash_kernel < 0 ? "not known" : !s->crash_kernel ? "none loaded" :
		 text("loaded, crash_kexec_post_notifiers %s",
		      s->post_notifiers > 0 ? "on" : s->post_notifiers == 0 ? "off" : "unknown"));
	put_bool(o, "crash_kexec_post_notifiers", s->post_notifiers, NULL, NULL);
	out_section_end(o);
}

/* Who may open the device, for a user who may not. */
static const char *who_may_open(const struct status *s)
{
	if ((s->st.st_mode & 0060) == 0060 && s->st.st_gid)
		return text("denied to this user (uid %u): members of group %s may open it"
			    " (usermod -aG %s USER)", (unsigned int)getuid(), s->group, s->group);
	return text("denied to this user (uid %u): only %s may open it; the udev rule"
		    " 60-smem.rules gives it to group smem", (unsigned int)getuid(),
		    s->st.st_uid ? s->owner : "root");
}

static void put_device(struct out *o, const struct status *s)
{
	const struct smem_query *q = &s->q;
	char mode[8];
	int outside = -1;

	out_section(o, "device", true);
	snprintf(mode, sizeof(mode), "%04o", s->st.st_mode & 07777);
	put_str(o, "path", DEVICE, "node", s->device ?
		text("%s, mode %s, owner %s, group %s", DEVICE, mode, s->owner, s->group) :
		text("%s does not exist", DEVICE));
	put_bool(o, "present", s->device, NULL, NULL);
	put_str(o, "mode", s->device ? mode : NULL, NULL, NULL);
	put_str(o, "owner", s->device ? s->owner : NULL, NULL, NULL);
	put_str(o, "group", s->device ? s->group : NULL, NULL, NULL);
	put_bool(o, "accessible", s->device ? !s->open_errno : -1,
		 s->open_errno ? "access" : NULL,
		 s->open_errno == EACCES || s->open_errno == EPERM ? who_may_open(s) :
		 strerror(s->open_errno));
	put_str(o, "access_error", s->open_errno ? strerror(s->open_errno) : NULL, NULL, NULL);
	if (s->device && !s->open_errno && !s->queried)
		out_line(o, "query", s->query_errno == ENOTTY ?
			 text("failed: the loaded smemdev.ko speaks another ABI than this smemctl"
			      " (%d): install matching versions", SMEM_ABI_VERSION) :
			 text("failed: %s", strerror(s->query_errno)));
	put_str(o, "query_error", s->query_errno ? strerror(s->query_errno) : NULL, NULL, NULL);
	if (s->queried) {
		put_num(o, "abi_version", q->abi_version, NULL, NULL);
		outside = !!(q->features & SMEM_FEAT_NO_DIRECT_MAP);
	} else {
		put_str(o, "abi_version", NULL, NULL, NULL);
	}
	put_str(o, "page_source", s->pool_known ? source_name(s->pool.source) : NULL,
		s->pool_known ? "page source" : NULL,
		text("%s (%s)", source_name(s->pool.source), source_words(s->pool.source)));
	put_bool(o, "outside_direct_map", outside, outside < 0 ? NULL : "direct map",
		 outside ? "secret pages are outside the kernel direct map" :
		 "secret pages are IN the kernel direct map");
	out_section_end(o);
}

static void put_pool(struct out *o, const struct status *s)
{
	const struct pool *p = &s->pool;
	uint64_t ps = p->page_size, blocks = p->block_pages ? p->pool_pages / p->block_pages : 0;
	bool carved = p->block_pages != 0;

	if (!out_section(o, "pool", s->pool_known))
		return;
	put_num(o, "page_size", ps, NULL, NULL);
	put_num(o, "pool_pages", p->pool_pages, "size", carved ?
		text("%" PRIu64 " MiB in %" PRIu64 " block%s of %" PRIu64 " MiB",
		     mib(p->pool_pages, ps), blocks, blocks == 1 ? "" : "s",
		     mib(p->block_pages, ps)) :
		text("%" PRIu64 " MiB", mib(p->pool_pages, ps)));
	put_num(o, "pool_mb", mib(p->pool_pages, ps), NULL, NULL);
	put_num(o, "pool_blocks", blocks, NULL, NULL);
	put_num(o, "block_pages", p->block_pages, NULL, NULL);
	put_num(o, "pages_in_use", p->pages_in_use, "in use",
		text("%" PRIu64 " pages (%" PRIu64 " KiB) in %" PRIu64 " objects",
		     p->pages_in_use, p->pages_in_use * ps >> 10, p->objects));
	put_num(o, "objects", p->objects, NULL, NULL);
	put_num(o, "carvable_pages", p->carvable_pages, carved ? "carvable" : NULL,
		text("%" PRIu64 " MiB in %" PRIu64 " blocks", mib(p->carvable_pages, ps),
		     p->block_pages ? p->carvable_pages / p->block_pages : 0));
	put_num(o, "carvable_mb", mib(p->carvable_pages, ps), NULL, NULL);
	put_num(o, "refused_blocks", p->refused_blocks, carved ? "refused blocks" : NULL,
		text("%" PRIu64 "%s", p->refused_blocks, p->refused_blocks ?
		     " (would not go offline; not tried again while loaded)" : ""));
	put_num(o, "pending_blocks", p->pending_blocks, carved ? "pending blocks" : NULL,
		text("%" PRIu64 "%s", p->pending_blocks, p->pending_blocks ?
		     " (out of the pool, not given back to the kernel yet; retried)" : ""));
	put_num(o, "user_max_pages", p->user_max_pages, "per-user cap",
		strcmp(s->params[PARAM_USER_MAX_PERCENT], "0") ?
		text("%" PRIu64 " pages (%" PRIu64 " MiB, user_max_percent=%s;"
		     " CAP_SYS_RESOURCE is exempt)", p->user_max_pages,
		     mib(p->user_max_pages, ps), s->params[PARAM_USER_MAX_PERCENT]) :
		text("none (user_max_percent=%s)", s->params[PARAM_USER_MAX_PERCENT]));
	put_num(o, "alloc_failures", p->alloc_failures, "alloc failures", NULL);
	out_section_end(o);
}

/* What the administrator should do something about. */
static void put_warnings(struct out *o, const struct status *s)
{
	const struct pool *p = &s->pool;
	bool carveout = s->pool_known && p->source == SMEM_SOURCE_CARVEOUT;
	uint64_t block_mb = block_bytes(p) >> 20;

	out_section(o, "warnings", true);
	if (carveout && (!p->pool_pages || p->status & SMEM_STATUS_POOL_BELOW_BLOCK))
		put_str(o, "pool_empty", text("the pool is empty: set pool_mb=%" PRIu64
					      " (one block is %" PRIu64 " MiB) or run smemctl"
					      " pool grow %" PRIu64 "M", block_mb, block_mb,
					      block_mb), "pool", NULL);
	if (s->pool_known && s->crash_kernel > 0 && s->post_notifiers <= 0)
		put_str(o, "crash_kernel", "a crash kernel is loaded and runs before smem wipes"
			" secrets at panic: boot with crash_kexec_post_notifiers, or reload the"
			" crash kernel after the pool is sized (it then leaves the pool out of"
			" the dump)", "crash dumps", NULL);
	if (s->old_name_options)
		put_str(o, "old_module_name", "modprobe.d has \"options smem\" lines: smem is"
			" the module's old name, and they no longer apply; write them as"
			" \"options " MODULE_NAME "\"", "options", NULL);
	out_section_end(o);
}

static void put_library(struct out *o, const struct status *s)
{
	const char *names[NGUARANTEES];
	size_t n = 0;
	bool keys = !s->info_err && (s->info.guarantees & SMEM_G_THREAD_WINDOW);

	for (size_t i = 0; i < NGUARANTEES; i++)
		if (!s->info_err && (s->info.guarantees & guarantee_names[i].bit))
			names[n++] = guarantee_names[i].name;
	out_section(o, "library", true);
	put_str(o, "backend", s->info_err ? NULL : s->info.backend_name, "backend",
		s->info_err ? text("none: %s", strerror(-s->info_err)) :
		text("%s (what a program linking libsmem gets now)", s->info.backend_name));
	put_str(o, "error", s->info_err ? strerror(-s->info_err) : NULL, NULL, NULL);
	put_names(o, "guarantees", names, n, s->info_err ? NULL : "guarantees");
	put_bool(o, "protection_keys", keys, "protection keys",
		 keys ? "in use (per-thread access windows)" :
		 s->cpu_pku ? "CPU has them, but libsmem does not use them here" :
		 "not available (no pku/ospke)");
	put_bool(o, "cpu_pku", s->cpu_pku, NULL, NULL);
	out_section_end(o);
}

static int cmd_status(int argc, char **argv)
{
	struct status s;
	struct out o = { 0 };

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else {
			msg("status: unknown argument '%s'", argv[i]);
			return EXIT_USAGE;
		}
	}
	gather(&s);
	put_module(&o, &s);
	put_device(&o, &s);
	put_pool(&o, &s);
	put_warnings(&o, &s);
	put_library(&o, &s);
	out_end(&o);
	fflush(stdout);
	if (strcmp(s.state, "loaded"))
		return EXIT_NOT_LOADED;
	/* A user the device is not for still gets the figures, from sysfs. */
	return s.queried || (s.pool_known && s.open_errno) ? EXIT_OK : EXIT_FAIL;
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

static int need_root(const char *cmd, const char *what)
{
	msg("%s: permission denied: %s needs root (sudo smemctl %s)", cmd, what, cmd);
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
		char *body;

		rec[n] = 0;
		body = strchr(rec, ';');
		if (!body || (!strstr(body, "smem") && !strstr(body, "Lockdown") &&
			       !strstr(body, "module verification") && !strstr(body, "Secure boot")))
			continue;
		body[strcspn(body, "\n")] = 0;
		fprintf(stderr, "  kernel: %s\n", body + 1);
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
		return need_root("load", "loading a kernel module");
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
			code = need_root("load", "loading a kernel module");
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
		return need_root("unload", "unloading a kernel module");
	if (!module_loaded()) {
		printf("smem is not loaded\n");
		return EXIT_OK;
	}
	ctx = kmod_open();
	if (!ctx || kmod_module_new_from_name(ctx, MODULE_NAME, &mod) < 0) {
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
		code = need_root("unload", "unloading a kernel module");
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

/* ------------------------------------------------------------------ pool */

/*
 * SIZE: a number of MiB, or one with a suffix K, M, G or T (binary; "iB"
 * or "B" may follow), at most 1 PiB.
 */
static bool parse_size(const char *arg, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	const char *unit;
	unsigned long long v;
	unsigned int shift = 20;
	char *end;

	if (*arg < '0' || *arg > '9')
		return false;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno)
		return false;
	if (*end) {
		unit = strchr(units, toupper((unsigned char)*end));
		if (!unit)
			return false;
		shift = 10 * (unsigned int)(unit - units + 1);
		end++;
		if (!strcasecmp(end, "iB"))
			end += 2;
		else if (!strcasecmp(end, "B"))
			end++;
		if (*end)
			return false;
	}
	if (v > (1ULL << 50) >> shift)
		return false;
	*bytes = (uint64_t)v << shift;
	return true;
}

static void on_signal(int sig)
{
	(void)sig;
}

static int cmd_pool(int argc, char **argv)
{
	static const char *const ops[] = { "grow", "shrink", "set" };
	static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: EINTR */
	struct smem_pool_resize r = { 0 };
	struct smem_query q;
	uint64_t size, target, before, after, block, step;
	char cmd[16];
	size_t op = 0;
	int fd, err;

	while (argc == 2 && op < 3 && strcmp(argv[0], ops[op]))
		op++;
	if (argc != 2 || op == 3) {
		msg("pool: usage: smemctl pool grow|shrink|set SIZE");
		return EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "pool %s", ops[op]);
	if (!parse_size(argv[1], &size)) {
		msg("%s: '%s' is not a size: 256M, 1G, or a number of MiB", cmd, argv[1]);
		return EXIT_USAGE;
	}
	fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		return need_root(cmd, "resizing the pool");
	if (fd < 0 && !module_loaded()) {
		msg("%s: smem is not loaded (smemctl load)", cmd);
		return EXIT_NOT_LOADED;
	}
	if (fd < 0 || ioctl(fd, SMEM_IOC_QUERY, &q)) {
		msg("%s: %s does not answer: %s", cmd, DEVICE, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_FAIL;
	}
	before = q.pool_pages * q.page_size;
	block = q.block_pages * q.page_size;
	/*
	 * grow and shrink: by whole blocks, at least one for any SIZE but 0;
	 * set: the kernel rounds down, as for pool_mb.
	 */
	step = block ? (size + block - 1) / block * block : size;
	target = op == 0 ? before + step : op == 1 ? (step < before ? before - step : 0) : size;
	r.size = target;

	/* A signal stops the resize between two blocks; one ignored stays so. */
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
		struct sigaction old;

		if (!sigaction(stop_signals[i], NULL, &old) && old.sa_handler != SIG_IGN)
			sigaction(stop_signals[i], &sa, NULL);
	}
	err = ioctl(fd, SMEM_IOC_POOL_RESIZE, &r) ? errno : 0;
	close(fd);
	after = r.pool_size;

	if (!err || err == ENOSPC || err == EBUSY || err == EINTR || err == ENOMEM) {
		printf("pool: %" PRIu64 " MiB -> %" PRIu64 " MiB", before >> 20, after >> 20);
		if (block)
			printf(" (%" PRIu64 " block%s of %" PRIu64 " MiB)", after / block,
			       after == block ? "" : "s", block >> 20);
		if (err)
			printf(", asked for %" PRIu64 " MiB", target >> 20);
		printf("\n");
		fflush(stdout);
	}
	switch (err) {
	case 0:
		return EXIT_OK;
	case EPERM:
		return need_root(cmd, "resizing the pool");
	case ENOSPC:
		msg("%s: stopped: no eligible memory block left: see carvable/refused in"
		    " smemctl status; boot with nogbpages or movablecore= for more", cmd);
		return EXIT_NO_BLOCK;
	case EBUSY:
		msg("%s: stopped: blocks in use: a block goes back only when no secret holds"
		    " a page of it", cmd);
		return EXIT_BUSY;
	case EINTR:
		msg("%s: stopped: interrupted by a signal", cmd);
		return EXIT_INTERRUPTED;
	case ENOMEM:
		msg("%s: stopped: the kernel ran out of memory while taking a block out;"
		    " the block stays eligible", cmd);
		return EXIT_FAIL;
	case EOPNOTSUPP:
		msg("%s: the page source is not carveout but %s: only a carved pool can be resized",
		    cmd, source_name(q.page_source));
		return EXIT_NOT_CARVED;
	default:
		msg("%s: %s", cmd, strerror(err));
		return EXIT_FAIL;
	}
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
		"       smemctl pool grow|shrink|set SIZE\n"
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
	if (!strcmp(cmd, "pool"))
		return cmd_pool(argc - first, argv + first);
	if (!strcmp(cmd, "selftest"))
		return cmd_selftest(argc - first, argv + first);
	msg("unknown command '%s'", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
