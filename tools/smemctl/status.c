// SPDX-License-Identifier: GPL-2.0
/*
 * smemctl status: what is loaded, the device, the pool, what needs the
 * administrator, and what libsmem would give a program started now.
 *
 * gather() reads everything first, into struct status; print_status()
 * then walks it once, through the output layer of print.c, for people,
 * JSON (--json) or Prometheus (--prometheus).  The device is asked with
 * SMEM_IOC_QUERY; where this user may not open it, the same figures come
 * from /sys/class/misc/smem, which everyone may read.  smem_info() runs
 * last: with the module loaded, it makes (and frees) a one-page secret,
 * which must not show in the pool figures.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/smem.h>
#include <smem.h>

#include "print.h"
#include "smemctl.h"

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
	enum module_state state;
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
	char mok[512];			/* the certificate DKMS signs with */
};

static const char *const source_names[] = {
	[SMEM_SOURCE_NONE] = "none",
	[SMEM_SOURCE_CARVEOUT] = "carveout",
	[SMEM_SOURCE_RESERVED] = "reserved",
	[SMEM_SOURCE_FALLBACK] = "fallback",
};

#define NSOURCES (sizeof(source_names) / sizeof(source_names[0]))

const char *source_name(uint32_t source)
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

static void gather_module(struct status *s)
{
	struct kmod_ctx *ctx = smemctl_kmod_new();
	struct kmod_module *mod = ctx ? find_module(ctx) : NULL;
	char path[128];

	s->state = module_state(mod);
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
}

static void gather_device(struct status *s)
{
	struct passwd *pw;
	struct group *gr;
	int fd;

	if (stat(DEVICE, &s->st) || !S_ISCHR(s->st.st_mode))
		return;
	s->device = true;
	pw = getpwuid(s->st.st_uid);
	gr = getgrgid(s->st.st_gid);
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
		return;
	}
	if (!ioctl(fd, SMEM_IOC_QUERY, &s->q))
		s->queried = true;
	else
		s->query_errno = errno;
	close(fd);
}

static void gather(struct status *s)
{
	memset(s, 0, sizeof(*s));
	uname(&s->uts);
	gather_module(s);
	gather_device(s);
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
	if (!lockdown_mode(s->lockdown, sizeof(s->lockdown)))
		s->lockdown[0] = 0;
	s->secure_boot = secure_boot();
	dkms_mok_certificate(s->mok, sizeof(s->mok));

	/* Last: smem_info() makes (and frees) a one-page secret to try protection keys. */
	s->info_err = smem_info(&s->info);
	s->cpu_pku = cpu_has_pku();
}

/* ----------------------------------------------------------------- print */

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

static const char *on_off(int flag)
{
	return flag > 0 ? "on" : flag == 0 ? "off" : "unknown";
}

static void print_module(const struct status *s)
{
	const char *state = module_state_name(s->state);
	bool loaded = s->state == MODULE_LOADED;
	char params[256] = "";

	print_section("module", true);
	print_string(PRINT_JSON, "state", NULL, state);
	if (s->version[0])
		print_line("state", "%s, version %s", state, s->version);
	else
		print_line("state", "%s", state);
	print_gauge("smem_module_loaded", "Whether the smemdev module is loaded (1) or not (0).", loaded);
	print_info_gauge("smem_module_info", "The smemdev module's state and version, in labels.",
			 (const struct metric_label[]) { { "state", state }, { "version", s->version } },
			 2);
	print_string(PRINT_JSON, "version", NULL, s->version[0] ? s->version : NULL);
	print_string(PRINT_ANY, "path", "file", s->path[0] ? s->path : NULL);
	print_string(PRINT_ANY, "signer", "signed by", s->signer[0] ? s->signer : NULL);
	for (int i = 0; i < NPARAMS; i++) {
		print_string(PRINT_JSON, param_names[i], NULL, loaded ? s->params[i] : NULL);
		snprintf(params + strlen(params), sizeof(params) - strlen(params), "%s%s=%s",
			 i ? " " : "", param_names[i], s->params[i]);
	}
	if (loaded)
		print_line("parameters", "%s", params);
	else if (!s->path[0])
		print_line("file", "none for kernel %s: make dkms-install, or see smemctl(8)",
			   s->uts.release);
	print_string(PRINT_JSON, "kernel", NULL, s->uts.release);
	print_line("kernel", "%s, lockdown %s, Secure Boot %s", s->uts.release,
		   s->lockdown[0] ? s->lockdown : "not available", on_off(s->secure_boot));
	print_string(PRINT_JSON, "lockdown", NULL, s->lockdown[0] ? s->lockdown : NULL);
	print_bool("secure_boot", s->secure_boot);
	print_gauge_flag("smem_secure_boot", "Whether Secure Boot is on.", s->secure_boot);
	print_string(PRINT_JSON, "mok_certificate", NULL, s->mok);
	if (s->secure_boot > 0)
		print_line("signing key", "%s (DKMS signs with it; mokutil --import enrolls it)",
			   s->mok);
	print_bool("crash_kernel_loaded", s->crash_kernel);
	if (s->crash_kernel > 0)
		print_line("crash kernel", "loaded, crash_kexec_post_notifiers %s",
			   on_off(s->post_notifiers));
	else
		print_line("crash kernel", "%s", s->crash_kernel ? "not known" : "none loaded");
	print_gauge_flag("smem_crash_kernel_loaded", "Whether a crash (kdump) kernel is loaded.",
			  s->crash_kernel);
	print_bool("crash_kexec_post_notifiers", s->post_notifiers);
	print_gauge_flag("smem_crash_kexec_post_notifiers",
			  "Whether panic wipes the secrets before it starts a crash kernel.",
			  s->post_notifiers);
	print_section_end();
}

/* Who may open the device, for a user who may not. */
static void print_access(const struct status *s)
{
	if (s->open_errno != EACCES && s->open_errno != EPERM)
		print_line("access", "%s", strerror(s->open_errno));
	else if ((s->st.st_mode & 0060) == 0060 && s->st.st_gid)
		print_line("access", "denied to this user (uid %u): members of group %s may open"
			   " it (usermod -aG %s USER)", (unsigned int)getuid(), s->group, s->group);
	else
		print_line("access", "denied to this user (uid %u): only %s may open it; the udev"
			   " rule 60-smem.rules gives it to group smem", (unsigned int)getuid(),
			   s->st.st_uid ? s->owner : "root");
}

static void print_device(const struct status *s)
{
	const struct smem_query *q = &s->q;
	char mode[8];
	int outside = s->queried ? !!(q->features & SMEM_FEAT_NO_DIRECT_MAP) : -1;

	print_section("device", true);
	snprintf(mode, sizeof(mode), "%04o", s->st.st_mode & 07777);
	print_string(PRINT_JSON, "path", NULL, DEVICE);
	if (s->device)
		print_line("node", "%s, mode %s, owner %s, group %s", DEVICE, mode, s->owner,
			   s->group);
	else
		print_line("node", "%s does not exist", DEVICE);
	print_bool("present", s->device);
	print_gauge("smem_device_present", "Whether " DEVICE " exists.", s->device);
	print_string(PRINT_JSON, "mode", NULL, s->device ? mode : NULL);
	print_string(PRINT_JSON, "owner", NULL, s->device ? s->owner : NULL);
	print_string(PRINT_JSON, "group", NULL, s->device ? s->group : NULL);
	print_bool("accessible", s->device ? !s->open_errno : -1);
	print_gauge_flag("smem_device_accessible", "Whether this user may open " DEVICE ".",
			  s->device ? !s->open_errno : -1);
	if (s->open_errno)
		print_access(s);
	print_string(PRINT_JSON, "access_error", NULL, s->open_errno ? strerror(s->open_errno) : NULL);
	if (s->device && !s->open_errno && !s->queried) {
		if (s->query_errno == ENOTTY)
			print_line("query", "failed: the loaded smemdev.ko speaks another ABI than this"
				   " smemctl (%d): install matching versions", SMEM_ABI_VERSION);
		else
			print_line("query", "failed: %s", strerror(s->query_errno));
	}
	print_string(PRINT_JSON, "query_error", NULL, s->query_errno ? strerror(s->query_errno) : NULL);
	if (s->queried)
		print_u64(PRINT_JSON, "abi_version", NULL, q->abi_version);
	else
		print_string(PRINT_JSON, "abi_version", NULL, NULL);
	print_string(PRINT_JSON, "page_source", NULL,
		     s->pool_known ? source_name(s->pool.source) : NULL);
	if (s->pool_known)
		print_line("page source", "%s (%s)", source_name(s->pool.source),
			   source_words(s->pool.source));
	print_bool("outside_direct_map", outside);
	if (outside >= 0)
		print_line("direct map", "%s", outside ?
			   "secret pages are outside the kernel direct map" :
			   "secret pages are IN the kernel direct map");
	print_gauge_flag("smem_outside_direct_map",
			  "Whether secret pages are outside the kernel direct map.", outside);
	print_section_end();
}

/*
 * A number of memory blocks: JSON, a line for a carved pool that says
 * @why when there are any, and metric smem_@key.
 */
static void print_blocks(const char *key, const char *label, uint64_t blocks, bool carved,
			 const char *why, const char *help)
{
	char metric[64];

	print_u64(PRINT_JSON, key, NULL, blocks);
	if (carved && blocks)
		print_line(label, "%" PRIu64 " (%s)", blocks, why);
	else if (carved)
		print_line(label, "0");
	snprintf(metric, sizeof(metric), "smem_%s", key);
	print_gauge(metric, help, blocks);
}

/*
 * What each user holds, from the module's "users" attribute ("UID PAGES"
 * lines, then maybe "other PAGES"; readable by root only): metrics only,
 * one per user, labelled with the uid and, where it has one, the name.
 */
static void print_user_metrics(void)
{
	FILE *f = fopen(SYSFS_DEV "users", "re");
	char who[32], name[64];
	unsigned long long pages;

	if (!f)
		return;
	while (fscanf(f, "%31s %llu\n", who, &pages) == 2) {
		char *end;
		unsigned long uid = strtoul(who, &end, 10);
		struct passwd *pw = *end ? NULL : getpwuid((uid_t)uid);
		struct metric_label labels[] = { { "uid", who }, { "user", name } };

		snprintf(name, sizeof(name), "%s", pw ? pw->pw_name : "");
		print_labeled_gauge("smem_user_pages",
				    "Pages of the pool each user holds (uid \"other\": the users"
				    " that did not fit in the module's list).", labels,
				    pw ? 2 : 1, pages);
	}
	fclose(f);
}

static void print_pool(const struct status *s)
{
	const struct pool *p = &s->pool;
	uint64_t ps = p->page_size, blocks = p->block_pages ? p->pool_pages / p->block_pages : 0;
	const char *percent = s->params[PARAM_USER_MAX_PERCENT];
	bool carved = p->block_pages != 0;

	if (!print_section("pool", s->pool_known))
		return;
	print_u64(PRINT_JSON, "page_size", NULL, ps);
	print_gauge("smem_page_size_bytes", "Bytes in one page of the pool.", ps);
	print_u64(PRINT_JSON, "pool_pages", NULL, p->pool_pages);
	if (carved)
		print_line("size", "%" PRIu64 " MiB in %" PRIu64 " block%s of %" PRIu64 " MiB",
			   mib(p->pool_pages, ps), blocks, blocks == 1 ? "" : "s",
			   mib(p->block_pages, ps));
	else
		print_line("size", "%" PRIu64 " MiB", mib(p->pool_pages, ps));
	print_gauge("smem_pool_bytes", "Memory the pool holds, free and in use.", p->pool_pages * ps);
	print_gauge("smem_pool_pages", "Pages the pool holds, free and in use.", p->pool_pages);
	print_u64(PRINT_JSON, "pool_mb", NULL, mib(p->pool_pages, ps));
	print_u64(PRINT_JSON, "pool_blocks", NULL, blocks);
	print_gauge("smem_pool_blocks", "Memory blocks the pool holds (carveout).", blocks);
	print_u64(PRINT_JSON, "block_pages", NULL, p->block_pages);
	print_gauge("smem_block_pages",
		    "Pages in one memory block of the pool (0 unless carveout).", p->block_pages);
	print_u64(PRINT_JSON, "pages_in_use", NULL, p->pages_in_use);
	print_line("in use", "%" PRIu64 " pages (%" PRIu64 " KiB) in %" PRIu64 " objects",
		   p->pages_in_use, p->pages_in_use * ps >> 10, p->objects);
	print_gauge("smem_pages_in_use", "Pages of the pool that secrets hold.", p->pages_in_use);
	print_u64(PRINT_JSON, "objects", NULL, p->objects);
	print_gauge("smem_objects", "Secret objects that hold pages.", p->objects);
	print_u64(PRINT_JSON, "carvable_pages", NULL, p->carvable_pages);
	if (carved)
		print_line("carvable", "%" PRIu64 " MiB in %" PRIu64 " blocks",
			   mib(p->carvable_pages, ps), p->carvable_pages / p->block_pages);
	print_gauge("smem_carvable_pages",
		    "Pages of the memory blocks the pool could still carve.", p->carvable_pages);
	print_u64(PRINT_JSON, "carvable_mb", NULL, mib(p->carvable_pages, ps));
	print_blocks("refused_blocks", "refused blocks", p->refused_blocks, carved,
		     "would not go offline; not tried again while loaded",
		     "Memory blocks that would not go offline, not tried again while loaded.");
	print_blocks("pending_blocks", "pending blocks", p->pending_blocks, carved,
		     "out of the pool, not given back to the kernel yet; retried",
		     "Memory blocks out of the pool that the kernel did not take back yet.");
	print_u64(PRINT_JSON, "user_max_pages", NULL, p->user_max_pages);
	if (strcmp(percent, "0"))
		print_line("per-user cap", "%" PRIu64 " pages (%" PRIu64 " MiB, user_max_percent=%s;"
			   " CAP_SYS_RESOURCE is exempt)", p->user_max_pages,
			   mib(p->user_max_pages, ps), percent);
	else
		print_line("per-user cap", "none (user_max_percent=%s)", percent);
	print_gauge("smem_user_max_pages",
		    "Most pages one user may hold (0: no per-user cap).", p->user_max_pages);
	print_u64(PRINT_ANY, "alloc_failures", "alloc failures", p->alloc_failures);
	print_counter("smem_alloc_failures_total",
		      "Allocations that failed for lack of free pages in the pool.",
		      p->alloc_failures);
	print_user_metrics();
	print_section_end();
}

/* One thing the administrator should do something about. */
static void print_warning(const char *key, const char *label, const char *text)
{
	print_string(PRINT_ANY, key, label, text);
	print_info_gauge("smem_warning",
			 "A warning of smemctl status, named by its label; absent when all is well.",
			 &(const struct metric_label) { "warning", key }, 1);
}

static void print_warnings(const struct status *s)
{
	const struct pool *p = &s->pool;
	bool carveout = s->pool_known && p->source == SMEM_SOURCE_CARVEOUT;
	uint64_t block_mb = block_bytes(p) >> 20;
	char text[256];

	print_section("warnings", true);
	if (carveout && (!p->pool_pages || p->status & SMEM_STATUS_POOL_BELOW_BLOCK)) {
		snprintf(text, sizeof(text), "the pool is empty: set pool_mb=%" PRIu64 " (one block"
			 " is %" PRIu64 " MiB) or run smemctl pool grow %" PRIu64 "M", block_mb,
			 block_mb, block_mb);
		print_warning("pool_empty", "pool", text);
	}
	if (s->pool_known && s->crash_kernel > 0 && s->post_notifiers <= 0)
		print_warning("crash_kernel", "crash dumps", "a crash kernel is loaded and runs before"
			      " smem wipes secrets at panic: boot with crash_kexec_post_notifiers, or"
			      " reload the crash kernel after the pool is sized (it then leaves the"
			      " pool out of the dump)");
	if (s->old_name_options)
		print_warning("old_module_name", "options", "modprobe.d has \"options smem\" lines:"
			      " smem is the module's old name, and they no longer apply; write them"
			      " as \"options " MODULE_NAME "\"");
	print_section_end();
}

static void print_library(const struct status *s)
{
	const char *names[NGUARANTEES];
	size_t n = 0;
	bool keys = !s->info_err && (s->info.guarantees & SMEM_G_THREAD_WINDOW);

	for (size_t i = 0; i < NGUARANTEES; i++)
		if (!s->info_err && (s->info.guarantees & guarantee_names[i].bit))
			names[n++] = guarantee_names[i].name;
	print_section("library", true);
	print_string(PRINT_JSON, "backend", NULL, s->info_err ? NULL : s->info.backend_name);
	if (s->info_err) {
		print_line("backend", "none: %s", strerror(-s->info_err));
	} else {
		print_line("backend", "%s (what a program linking libsmem gets now)",
			   s->info.backend_name);
		print_info_gauge("smem_library_info",
				 "The backend libsmem gives a program now, and its version, in labels.",
				 (const struct metric_label[]) {
					 { "backend", s->info.backend_name }, { "version", SMEM_VERSION },
				 }, 2);
	}
	print_string(PRINT_JSON, "error", NULL, s->info_err ? strerror(-s->info_err) : NULL);
	print_names("guarantees", s->info_err ? NULL : "guarantees", names, n);
	print_bool("protection_keys", keys);
	print_line("protection keys", "%s", keys ? "in use (per-thread access windows)" :
		   s->cpu_pku ? "CPU has them, but libsmem does not use them here" :
		   "not available (no pku/ospke)");
	print_gauge_flag("smem_protection_keys",
			  "Whether libsmem gives per-thread access windows with protection keys.",
			  keys);
	print_bool("cpu_pku", s->cpu_pku);
	print_section_end();
}

static void print_status(const struct status *s, enum print_format format)
{
	print_start(format);
	print_module(s);
	print_device(s);
	print_pool(s);
	print_warnings(s);
	print_library(s);
	/* smemctl's own, after the sections: a reader taking the first "version" gets the module's. */
	print_string(PRINT_JSON, "version", NULL, SMEM_VERSION);
	print_end();
}

static const char status_usage[] =
	"usage: smemctl [status] [-j|--json|--prometheus]\n"
	"What is loaded, the device, the pool, what needs attention, and what\n"
	"libsmem would give a program started now.\n"
	"  -j, --json      one JSON object\n"
	"      --prometheus\n"
	"                  node_exporter's textfile format (metrics smem_*); the exit\n"
	"                  status is then 0 whenever they were printed\n"
	"  -h, --help      this text\n"
	"Exit status 3: the module is not loaded.  See smemctl(8).\n";

enum { OPT_PROMETHEUS = 256 };

static const struct option status_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_status(int argc, char **argv)
{
	enum print_format format = PRINT_FORMAT_HUMAN;
	struct status s;
	int c;

	while ((c = getopt_long(argc, argv, "+jh", status_options, NULL)) != -1) {
		switch (c) {
		case 'j':
		case OPT_PROMETHEUS:
			if (format != PRINT_FORMAT_HUMAN) {
				smemctl_err("status: --json and --prometheus: one format at a time");
				return EXIT_USAGE;
			}
			format = c == 'j' ? PRINT_FORMAT_JSON : PRINT_FORMAT_PROMETHEUS;
			break;
		case 'h':
			return smemctl_help(status_usage);
		default:
			return smemctl_bad_option("status", argv);
		}
	}
	if (optind < argc) {
		smemctl_err("status: unknown argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	gather(&s);
	print_status(&s, format);
	/* Metrics say what the status says: smem_module_loaded, smem_device_accessible. */
	if (format == PRINT_FORMAT_PROMETHEUS)
		return EXIT_OK;
	if (s.state != MODULE_LOADED)
		return EXIT_NOT_LOADED;
	/* A user the device is not for still gets the figures, from sysfs. */
	return s.queried || (s.pool_known && s.open_errno) ? EXIT_OK : EXIT_FAIL;
}
