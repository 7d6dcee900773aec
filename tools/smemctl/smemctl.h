/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of smemctl share: the exit codes, the names of the
 * device and the module, the commands, and the helpers more than one
 * command uses.  Each declaration says which file defines it.
 *
 * Every error starts with smemctl_err() (stderr, prefixed "smemctl: ");
 * everything a command reports goes to stdout, which main() flushes and
 * closes, so that a write error there becomes an exit status.
 */
#ifndef SMEMCTL_H
#define SMEMCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libkmod.h>

#define DEVICE		"/dev/smem"
#define SYSFS_DEV	"/sys/class/misc/smem/"
/* /dev/smem's driver: not smem.ko, which is Qualcomm's on arm64. */
#define MODULE_NAME	"smemdev"
#define SYSFS_MOD	"/sys/module/" MODULE_NAME "/"

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

/*
 * One command: @fn gets the arguments from its own name on (from the
 * program's for status run without a name), so getopt_long() starts
 * after argv[0]; it returns the exit status.
 */
struct smemctl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* smemctl.c */
void smemctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int smemctl_help(const char *usage);
int smemctl_bad_option(const char *cmd, char **argv);
int smemctl_help_only(int argc, char **argv, const char *usage, bool operands);

/* status.c, module.c, pool.c, selftest.c: the commands */
int cmd_status(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_pool(int argc, char **argv);
int cmd_selftest(int argc, char **argv);

/* status.c */
const char *source_name(uint32_t source);

/* system.c: what the running system says */
bool read_line(const char *path, char *buf, size_t len);
bool read_u64(const char *path, uint64_t *v);
int read_flag(const char *path);
const char *lockdown_mode(char *buf, size_t len);
int secure_boot(void);
bool can_load_modules(void);
int need_root(const char *cmd, const char *what);

/* module.c: the module through libkmod */
enum module_state {
	MODULE_NOT_INSTALLED,	/* no smemdev.ko for the running kernel */
	MODULE_INSTALLED,	/* there is one, not loaded */
	MODULE_LOADING,		/* its init runs (carving the pool can take minutes) */
	MODULE_LOADED,
	MODULE_UNLOADING,	/* its exit runs */
};

const char *module_state_name(enum module_state state);
enum module_state module_state(const struct kmod_module *mod);
bool module_loaded(void);
struct kmod_ctx *smemctl_kmod_new(void);
struct kmod_module *find_module(struct kmod_ctx *ctx);
bool modinfo(struct kmod_module *mod, const char *key, char *buf, size_t len);

/* dkms.c: the certificate DKMS signs modules with */
void dkms_mok_certificate(char *buf, size_t len);

#endif /* SMEMCTL_H */
