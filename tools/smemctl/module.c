// SPDX-License-Identifier: GPL-2.0
/*
 * The module through libkmod: finding smemdev.ko for the running kernel
 * and reading its modinfo (for status too), and the load and unload
 * commands.
 *
 * The module is found, inserted and removed as modprobe does it, so that
 * options in modprobe.d apply to `load` too.  libkmod's own errors go to
 * stderr ("smemctl: libkmod: ..."), before smemctl's message that says
 * what they mean and what to do.  A failed load maps the kernel's error
 * to an exit code, and shows the kernel's own lines from /dev/kmsg.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "smemctl.h"

static const char *const state_names[] = {
	[MODULE_NOT_INSTALLED] = "not installed",
	[MODULE_INSTALLED] = "installed",
	[MODULE_LOADING] = "loading",
	[MODULE_LOADED] = "loaded",
	[MODULE_UNLOADING] = "unloading",
};

const char *module_state_name(enum module_state state)
{
	return state_names[state];
}

/* From the kernel's initstate of the module; @mod: smemdev.ko on disk, or NULL. */
enum module_state module_state(const struct kmod_module *mod)
{
	char state[32];

	if (read_line(SYSFS_MOD "initstate", state, sizeof(state))) {
		if (!strcmp(state, "live"))
			return MODULE_LOADED;
		if (!strcmp(state, "coming"))
			return MODULE_LOADING;
		if (!strcmp(state, "going"))
			return MODULE_UNLOADING;
	}
	return mod ? MODULE_INSTALLED : MODULE_NOT_INSTALLED;
}

bool module_loaded(void)
{
	return module_state(NULL) == MODULE_LOADED;
}

/* libkmod's errors, as its own tools print them; its info and debug are not ours. */
static void kmod_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	int saved = errno;	/* for libkmod's "%m" */
	size_t len = strlen(format);

	(void)data, (void)file, (void)line, (void)fn;
	if (priority > LOG_ERR)
		return;
	fputs("smemctl: libkmod: ", stderr);
	errno = saved;
	vfprintf(stderr, format, args);
	if (!len || format[len - 1] != '\n')
		fputc('\n', stderr);
}

struct kmod_ctx *smemctl_kmod_new(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);

	if (ctx)
		kmod_set_log_fn(ctx, kmod_log, NULL);
	return ctx;
}

/* smemdev.ko for the running kernel (modules.dep), or NULL when there is none. */
struct kmod_module *find_module(struct kmod_ctx *ctx)
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
bool modinfo(struct kmod_module *mod, const char *key, char *buf, size_t len)
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

/* The other kernels DKMS or make module put a smemdev.ko in, for the messages. */
static void other_kernels(char *buf, size_t len, const char *running)
{
	static const char *const subdirs[] = { "updates/dkms", "extra", "updates" };
	static const char *const names[] = {
		MODULE_NAME ".ko", MODULE_NAME ".ko.xz", MODULE_NAME ".ko.zst", MODULE_NAME ".ko.gz",
	};
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
	char signer[128] = "", lock[32], enforce[8] = "", mok[512];
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
	smemctl_err("load: the kernel refused %s: %s, and the module's signature is not trusted",
		    kmod_module_get_path(mod), why);
	if (signer[0])
		fprintf(stderr, "  It is signed by \"%s\", a key the kernel does not trust yet.\n",
			signer);
	else
		fprintf(stderr, "  It is not signed: install it with DKMS (make dkms-install), which signs it.\n");
	dkms_mok_certificate(mok, sizeof(mok));
	fprintf(stderr,
		"  DKMS signs the modules it builds with its MOK (%s). Enroll that key once:\n"
		"    mokutil --import %s   (choose a one-time password)\n"
		"  reboot, pick \"Enroll MOK\" in the blue MOK manager screen, then run\n"
		"  `smemctl load` again. See smemctl(8) and the README, \"Secure Boot\".\n",
		mok, mok);
}

static int check_params(struct kmod_module *mod, int argc, char **argv, char *opts, size_t len)
{
	char names[256];

	opts[0] = 0;
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i]) {
			smemctl_err("load: '%s' is not PARAM=VALUE", argv[i]);
			return EXIT_USAGE;
		}
		if (!module_has_param(mod, argv[i], (size_t)(eq - argv[i]), names, sizeof(names))) {
			smemctl_err("load: smem has no parameter '%.*s' (it has: %s)",
				    (int)(eq - argv[i]), argv[i], names);
			return EXIT_USAGE;
		}
		if (strlen(opts) + strlen(argv[i]) + 2 > len) {
			smemctl_err("load: too many parameters");
			return EXIT_USAGE;
		}
		strcat(opts, opts[0] ? " " : "");
		strcat(opts, argv[i]);
	}
	return EXIT_OK;
}

static const char load_usage[] =
	"usage: smemctl load [PARAM=VALUE...]\n"
	"Load smemdev for the running kernel through libkmod, with the options of\n"
	"modprobe.d and then these parameters (modinfo smemdev lists them):\n"
	"  pool_mb=N                         MiB the pool carves at load (default 128)\n"
	"  user_max_percent=N                most of the pool one user may hold (default 50)\n"
	"  page_source=carveout|reserved|fallback\n"
	"  reserved_range=SIZE@ADDR          with page_source=reserved\n"
	"  allow_fallback=1                  with page_source=fallback\n"
	"Needs root (CAP_SYS_MODULE).  See smemctl(8).\n";

int cmd_load(int argc, char **argv)
{
	struct kmod_ctx *ctx;
	struct kmod_module *mod;
	char opts[1024], others[512], version[64] = "";
	struct utsname uts;
	int ret, kmsg, code;

	code = smemctl_help_only(argc, argv, load_usage, true);
	if (code >= 0)
		return code;
	argc -= optind;
	argv += optind;

	uname(&uts);
	if (!can_load_modules())
		return need_root("load", "loading a kernel module");
	ctx = smemctl_kmod_new();
	if (!ctx) {
		smemctl_err("load: cannot initialize libkmod");
		return EXIT_FAIL;
	}
	mod = find_module(ctx);
	if (!mod) {
		other_kernels(others, sizeof(others), uts.release);
		smemctl_err("load: smem is not installed for the running kernel %s", uts.release);
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
			smemctl_err("load: smem is already loaded; parameters apply only when it is"
				    " loaded: run `smemctl unload` first");
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
			smemctl_err("load: the module refused to load with these parameters: %s",
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
		smemctl_err("load: %s was built for another kernel (vermagic \"%s\"), not for %s;"
			    " rebuild it: make dkms-install", kmod_module_get_path(mod), others,
			    uts.release);
		print_kernel_messages(kmsg);
		code = EXIT_NO_MODULE;
		break;
	default:
		smemctl_err("load: loading smem failed: %s", strerror(-ret));
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

static const char unload_usage[] =
	"usage: smemctl unload\n"
	"Remove smemdev; the kernel refuses while a program holds a secret or has\n"
	"/dev/smem open.  Needs root (CAP_SYS_MODULE).  See smemctl(8).\n";

int cmd_unload(int argc, char **argv)
{
	struct kmod_ctx *ctx;
	struct kmod_module *mod;
	uint64_t refs = 0, objects = 0, pages = 0;
	int ret, code;

	code = smemctl_help_only(argc, argv, unload_usage, false);
	if (code >= 0)
		return code;
	if (!can_load_modules())
		return need_root("unload", "unloading a kernel module");
	if (!module_loaded()) {
		printf("smem is not loaded\n");
		return EXIT_OK;
	}
	ctx = smemctl_kmod_new();
	if (!ctx) {
		smemctl_err("unload: cannot initialize libkmod");
		return EXIT_FAIL;
	}
	if (kmod_module_new_from_name(ctx, MODULE_NAME, &mod) < 0) {
		smemctl_err("unload: cannot initialize libkmod");
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
		smemctl_err("unload: smem is in use: %" PRIu64 " open /dev/smem file(s), %" PRIu64
			    " secret(s) holding %" PRIu64 " page(s)", refs, objects, pages);
		fprintf(stderr, "  Secrets are never taken away from a running program: end the programs\n"
			"  that hold them (fuser -v /dev/smem lists them), then unload again.\n");
		code = EXIT_BUSY;
		break;
	default:
		smemctl_err("unload: unloading smem failed: %s", strerror(-ret));
		code = EXIT_FAIL;
		break;
	}
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return code;
}
