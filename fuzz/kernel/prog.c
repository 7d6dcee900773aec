// SPDX-License-Identifier: GPL-2.0
/*
 * smem-fuzz: programs as text, and how new ones are made.
 *
 * One operation a line, "[tN: ]NAME RESOURCES [COMMAND] FIELD=VALUE...":
 *
 *	user uid=65534
 *	open fd0 mode=rdwr flags=cloexec
 *	ioctl fd0 ALLOC size=0x2000 flags=0 pad=0
 *	mmap map0 fd0 off=0 len=0x2000 prot=read|write flags=shared
 *	t1: ioctl fd0 PROTECT prot=read flags=0
 *	touch map0 off=0x1000 write=1
 *
 * Resources are slots (fd0..fd7, map0..map7) of the process; the first
 * one is the slot the operation fills or acts on.  Every field is printed,
 * except ptr and fail when they are zero; a field left out of a line
 * reads as zero.  Values are numbers (decimal or 0x...) or the field's
 * symbols, joined with '|' for bit fields.  '#' starts a comment.  This is
 * the corpus format, the log format and the reproducer's input.
 *
 * The table fuzz_descs is the one place that knows the operations: their
 * names, resources, fields and how to pick values for them (README.md:
 * how to add an ioctl).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/smem.h>

#include "fuzz.h"

/* ------------------------------------------------------------------ rng */

static uint64_t fuzz_rng_state = 0x9e3779b97f4a7c15ULL;

void fuzz_seed(uint64_t seed)
{
	fuzz_rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

/* xorshift64*: fast, and the same sequence on every machine. */
uint64_t fuzz_rand(void)
{
	fuzz_rng_state ^= fuzz_rng_state >> 12;
	fuzz_rng_state ^= fuzz_rng_state << 25;
	fuzz_rng_state ^= fuzz_rng_state >> 27;
	return fuzz_rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned int fuzz_below(unsigned int n)
{
	return (unsigned int)(fuzz_rand() % n);
}

/* True one time in @n. */
static int fuzz_one_in(unsigned int n)
{
	return fuzz_below(n) == 0;
}

/* -------------------------------------------------------------- the table */

struct fuzz_sym {
	const char *name;
	uint64_t value;
};

/* How values of a field are chosen. */
enum fuzz_gen {
	GEN_SIZE,	/* a byte count: pages, page boundaries, huge */
	GEN_OFF,	/* an offset: mostly 0 or a page */
	GEN_ZERO,	/* flags and padding that must be zero: mostly 0 */
	GEN_SYM,	/* one of the symbols */
	GEN_BITS,	/* an or of the symbols */
	GEN_FAIL,	/* fail-nth: mostly 0 */
	GEN_FAIL_DEEP,	/* fail-nth of a call that allocates thousands of times */
	GEN_PTR,	/* mostly FUZZ_PTR_GOOD */
	GEN_CMD,	/* an ioctl command number */
	GEN_COUNT,	/* a few operations */
	GEN_BOOL,
	GEN_BYTE,
	GEN_PERCENT,
	GEN_MEMLOCK,
	GEN_UID,
	GEN_USEC,
	GEN_THREAD,
	GEN_RARE,	/* a switch that costs seconds: one in 100 */
};

struct fuzz_field {
	const char *name;
	uint8_t pos;		/* in fuzz_op.val */
	uint8_t gen;		/* enum fuzz_gen */
	uint8_t optional;	/* not printed when zero */
	uint8_t decimal;	/* a count, printed in decimal */
	const struct fuzz_sym *syms;	/* NULL-terminated */
};

/* Resources: none, a file descriptor slot, a mapping slot. */
enum { RES_NONE, RES_FD, RES_MAP };

struct fuzz_desc {
	const char *name;
	const char *command;	/* the ioctl's, NULL for others */
	uint8_t res[2];
	uint8_t root_only;	/* only makes sense with privileges */
	unsigned int weight;	/* how often generation picks it */
	struct fuzz_field fields[FUZZ_NVALS];
};

static const struct fuzz_sym fuzz_open_modes[] = {
	{ "rdonly", O_RDONLY }, { "wronly", O_WRONLY }, { "rdwr", O_RDWR }, { NULL, 0 } };
static const struct fuzz_sym fuzz_open_flags[] = {
	{ "cloexec", O_CLOEXEC }, { "nonblock", O_NONBLOCK }, { "sync", O_SYNC },
	{ "trunc", O_TRUNC }, { "append", O_APPEND }, { "excl", O_EXCL },
	{ "direct", O_DIRECT }, { "path", O_PATH }, { "noatime", O_NOATIME }, { NULL, 0 } };
static const struct fuzz_sym fuzz_smem_prots[] = {
	{ "none", SMEM_PROT_NONE }, { "read", SMEM_PROT_READ },
	{ "rw", SMEM_PROT_READWRITE }, { NULL, 0 } };
static const struct fuzz_sym fuzz_seals[] = {
	{ "write", SMEM_SEAL_WRITE }, { "protect", SMEM_SEAL_PROTECT }, { NULL, 0 } };
static const struct fuzz_sym fuzz_ptrs[] = {
	{ "good", FUZZ_PTR_GOOD }, { "null", FUZZ_PTR_NULL }, { "unmapped", FUZZ_PTR_UNMAPPED },
	{ "readonly", FUZZ_PTR_READONLY }, { "kernel", FUZZ_PTR_KERNEL },
	{ "straddle", FUZZ_PTR_STRADDLE }, { "map0", FUZZ_PTR_MAP0 },
	{ "map1", FUZZ_PTR_MAP0 + 1 }, { "map2", FUZZ_PTR_MAP0 + 2 },
	{ "map3", FUZZ_PTR_MAP0 + 3 }, { "map4", FUZZ_PTR_MAP0 + 4 },
	{ "map5", FUZZ_PTR_MAP0 + 5 }, { "map6", FUZZ_PTR_MAP0 + 6 },
	{ "map7", FUZZ_PTR_MAP0 + 7 }, { NULL, 0 } };
static const struct fuzz_sym fuzz_mmap_prots[] = {
	{ "read", PROT_READ }, { "write", PROT_WRITE }, { "exec", PROT_EXEC }, { NULL, 0 } };
static const struct fuzz_sym fuzz_mmap_flags[] = {
	{ "shared", MAP_SHARED }, { "private", MAP_PRIVATE }, { "populate", MAP_POPULATE },
	{ "locked", MAP_LOCKED }, { "noreserve", MAP_NORESERVE }, { NULL, 0 } };
static const struct fuzz_sym fuzz_mremap_flags[] = {
	{ "maymove", MREMAP_MAYMOVE }, { "fixed", MREMAP_FIXED },
	{ "dontunmap", MREMAP_DONTUNMAP }, { NULL, 0 } };
static const struct fuzz_sym fuzz_advices[] = {
	{ "normal", MADV_NORMAL }, { "random", MADV_RANDOM }, { "willneed", MADV_WILLNEED },
	{ "dontneed", MADV_DONTNEED }, { "free", MADV_FREE }, { "remove", MADV_REMOVE },
	{ "dontfork", MADV_DONTFORK }, { "dofork", MADV_DOFORK },
	{ "mergeable", MADV_MERGEABLE }, { "hugepage", MADV_HUGEPAGE },
	{ "dontdump", MADV_DONTDUMP }, { "dodump", MADV_DODUMP },
	{ "wipeonfork", MADV_WIPEONFORK }, { "keeponfork", MADV_KEEPONFORK },
	{ "cold", MADV_COLD }, { "pageout", MADV_PAGEOUT },
	{ "populate_read", MADV_POPULATE_READ }, { "populate_write", MADV_POPULATE_WRITE },
	{ NULL, 0 } };
static const struct fuzz_sym fuzz_vias[] = {
	{ "pipe_write", FUZZ_VIA_PIPE_WRITE }, { "pipe_read", FUZZ_VIA_PIPE_READ },
	{ "file_pwrite", FUZZ_VIA_FILE_PWRITE }, { "file_pread", FUZZ_VIA_FILE_PREAD },
	{ "vmsplice", FUZZ_VIA_VMSPLICE }, { "odirect", FUZZ_VIA_ODIRECT },
	{ "uring_read", FUZZ_VIA_URING_READ }, { "uring_fixed", FUZZ_VIA_URING_FIXED },
	{ "pvm_read", FUZZ_VIA_PVM_READ }, { "pvm_write", FUZZ_VIA_PVM_WRITE },
	{ "procmem_read", FUZZ_VIA_PROCMEM_READ }, { "procmem_write", FUZZ_VIA_PROCMEM_WRITE },
	{ NULL, 0 } };
static const struct fuzz_sym fuzz_attrs[] = {
	{ "pool_pages", FUZZ_ATTR_POOL_PAGES }, { "pool_blocks", FUZZ_ATTR_POOL_BLOCKS },
	{ "pages_in_use", FUZZ_ATTR_PAGES_IN_USE }, { "objects", FUZZ_ATTR_OBJECTS },
	{ "alloc_failures", FUZZ_ATTR_ALLOC_FAILURES }, { "page_source", FUZZ_ATTR_PAGE_SOURCE },
	{ "block_pages", FUZZ_ATTR_BLOCK_PAGES }, { "carvable_pages", FUZZ_ATTR_CARVABLE_PAGES },
	{ "refused_blocks", FUZZ_ATTR_REFUSED_BLOCKS },
	{ "pending_blocks", FUZZ_ATTR_PENDING_BLOCKS },
	{ "user_max_pages", FUZZ_ATTR_USER_MAX_PAGES },
	{ "crash_kernel_loaded", FUZZ_ATTR_CRASH_KERNEL_LOADED }, { "users", FUZZ_ATTR_USERS },
	{ "param_user_max_percent", FUZZ_ATTR_PARAM_USER_MAX_PERCENT },
	{ "param_page_source", FUZZ_ATTR_PARAM_PAGE_SOURCE },
	{ "param_pool_mb", FUZZ_ATTR_PARAM_POOL_MB }, { NULL, 0 } };
static const struct fuzz_sym fuzz_caps[] = {
	{ "ipc_lock", FUZZ_CAP_IPC_LOCK }, { "sys_resource", FUZZ_CAP_SYS_RESOURCE },
	{ "sys_admin", FUZZ_CAP_SYS_ADMIN }, { NULL, 0 } };

#define F(n, p, g)		{ .name = n, .pos = p, .gen = g }
#define FD(n, p, g)		{ .name = n, .pos = p, .gen = g, .decimal = 1 }
#define FS(n, p, g, s)		{ .name = n, .pos = p, .gen = g, .syms = s }
#define F_PTR			{ .name = "ptr", .pos = FUZZ_V_PTR, .gen = GEN_PTR, \
				  .optional = 1, .syms = fuzz_ptrs }
#define F_FAIL			{ .name = "fail", .pos = FUZZ_V_FAIL, .gen = GEN_FAIL, .optional = 1 }
#define F_FAIL_DEEP		{ .name = "fail", .pos = FUZZ_V_FAIL, .gen = GEN_FAIL_DEEP, \
				  .optional = 1, .decimal = 1 }

/* Indexed by enum fuzz_kind. */
static const struct fuzz_desc fuzz_descs[FUZZ_NKINDS] = {
	[FUZZ_OPEN] = { "open", NULL, { RES_FD }, 0, 8, {
		FS("mode", FUZZ_V_OPEN_MODE, GEN_SYM, fuzz_open_modes),
		FS("flags", FUZZ_V_OPEN_FLAGS, GEN_BITS, fuzz_open_flags), F_FAIL } },
	[FUZZ_IOC_QUERY] = { "ioctl", "QUERY", { RES_FD }, 0, 2, { F_PTR, F_FAIL } },
	[FUZZ_IOC_ALLOC] = { "ioctl", "ALLOC", { RES_FD }, 0, 8, {
		F("size", FUZZ_V_A, GEN_SIZE), F("flags", FUZZ_V_B, GEN_ZERO),
		F("pad", FUZZ_V_C, GEN_ZERO), F_PTR, F_FAIL } },
	[FUZZ_IOC_PROTECT] = { "ioctl", "PROTECT", { RES_FD }, 0, 6, {
		FS("prot", FUZZ_V_A, GEN_SYM, fuzz_smem_prots), F("flags", FUZZ_V_B, GEN_ZERO),
		F_PTR, F_FAIL } },
	[FUZZ_IOC_SEAL] = { "ioctl", "SEAL", { RES_FD }, 0, 4, {
		FS("seals", FUZZ_V_A, GEN_BITS, fuzz_seals), F("flags", FUZZ_V_B, GEN_ZERO),
		F_PTR, F_FAIL } },
	[FUZZ_IOC_WIPE] = { "ioctl", "WIPE", { RES_FD }, 0, 4, {
		F("offset", FUZZ_V_A, GEN_OFF), F("length", FUZZ_V_B, GEN_SIZE),
		F("flags", FUZZ_V_C, GEN_ZERO), F("pad", FUZZ_V_D, GEN_ZERO), F_PTR, F_FAIL } },
	[FUZZ_IOC_INFO] = { "ioctl", "INFO", { RES_FD }, 0, 3, { F_PTR, F_FAIL } },
	/* Memory hotplug allocates all along: its failures are deep in the call. */
	[FUZZ_IOC_POOL_RESIZE] = { "ioctl", "POOL_RESIZE", { RES_FD }, 1, 2, {
		F("size", FUZZ_V_A, GEN_SIZE), F("flags", FUZZ_V_B, GEN_ZERO),
		F("pad", FUZZ_V_C, GEN_ZERO), F_PTR, F_FAIL_DEEP } },
	[FUZZ_IOC_RAW] = { "ioctl", "RAW", { RES_FD }, 0, 2, {
		F("cmd", FUZZ_V_A, GEN_CMD), F("fill", FUZZ_V_B, GEN_BYTE), F_PTR, F_FAIL } },
	[FUZZ_MMAP] = { "mmap", NULL, { RES_MAP, RES_FD }, 0, 8, {
		F("off", FUZZ_V_OFF, GEN_OFF), F("len", FUZZ_V_LEN, GEN_SIZE),
		FS("prot", FUZZ_V_PROT, GEN_BITS, fuzz_mmap_prots),
		FS("flags", FUZZ_V_FLAGS, GEN_BITS, fuzz_mmap_flags), F_FAIL } },
	[FUZZ_MUNMAP] = { "munmap", NULL, { RES_MAP }, 0, 2, {
		F("off", FUZZ_V_OFF, GEN_OFF), F("len", FUZZ_V_LEN, GEN_SIZE) } },
	[FUZZ_MPROTECT] = { "mprotect", NULL, { RES_MAP }, 0, 3, {
		F("off", FUZZ_V_OFF, GEN_OFF), F("len", FUZZ_V_LEN, GEN_SIZE),
		FS("prot", FUZZ_V_PROT, GEN_BITS, fuzz_mmap_prots) } },
	[FUZZ_MREMAP] = { "mremap", NULL, { RES_MAP }, 0, 2, {
		F("off", FUZZ_V_OFF, GEN_OFF), F("len", FUZZ_V_LEN, GEN_SIZE),
		F("newlen", FUZZ_V_NEWLEN, GEN_SIZE),
		FS("flags", FUZZ_V_FLAGS, GEN_BITS, fuzz_mremap_flags) } },
	[FUZZ_MADVISE] = { "madvise", NULL, { RES_MAP }, 0, 3, {
		F("off", FUZZ_V_OFF, GEN_OFF), F("len", FUZZ_V_LEN, GEN_SIZE),
		FS("advice", FUZZ_V_ADVICE, GEN_SYM, fuzz_advices) } },
	[FUZZ_TOUCH] = { "touch", NULL, { RES_MAP }, 0, 8, {
		F("off", FUZZ_V_OFF, GEN_OFF), F("write", FUZZ_V_WRITE, GEN_BOOL) } },
	[FUZZ_FORK] = { "fork", NULL, { RES_NONE }, 0, 2, { FD("n", FUZZ_V_COUNT, GEN_COUNT) } },
	[FUZZ_EXEC] = { "exec", NULL, { RES_NONE }, 0, 1, { FD("n", FUZZ_V_COUNT, GEN_COUNT) } },
	[FUZZ_PASSFD] = { "passfd", NULL, { RES_FD, RES_FD }, 0, 2, {
		F("inflight", FUZZ_V_INFLIGHT, GEN_BOOL) } },
	[FUZZ_DUP] = { "dup", NULL, { RES_FD, RES_FD }, 0, 2, { { 0 } } },
	[FUZZ_CLOSE] = { "close", NULL, { RES_FD }, 0, 4, { { 0 } } },
	[FUZZ_IO] = { "io", NULL, { RES_MAP }, 0, 4, {
		FS("via", FUZZ_V_VIA, GEN_SYM, fuzz_vias), F("off", FUZZ_V_OFF, GEN_OFF),
		F("len", FUZZ_V_LEN, GEN_SIZE) } },
	[FUZZ_PARAM] = { "param", NULL, { RES_NONE }, 1, 1, {
		FD("user_max_percent", FUZZ_V_VALUE, GEN_PERCENT) } },
	[FUZZ_RLIMIT] = { "rlimit", NULL, { RES_NONE }, 0, 1, {
		F("memlock", FUZZ_V_VALUE, GEN_MEMLOCK) } },
	[FUZZ_USER] = { "user", NULL, { RES_NONE }, 0, 1, { FD("uid", FUZZ_V_VALUE, GEN_UID) } },
	[FUZZ_SLEEP] = { "sleep", NULL, { RES_NONE }, 0, 1, { FD("us", FUZZ_V_VALUE, GEN_USEC) } },
	[FUZZ_SYSFS] = { "sysfs", NULL, { RES_NONE }, 0, 3, {
		FS("attr", FUZZ_V_VALUE, GEN_SYM, fuzz_attrs) } },
	[FUZZ_SIGNAL] = { "signal", NULL, { RES_NONE }, 0, 2, {
		FD("thread", FUZZ_V_VALUE, GEN_THREAD) } },
	[FUZZ_CAPS] = { "caps", NULL, { RES_NONE }, 0, 1, {
		FS("drop", FUZZ_V_VALUE, GEN_BITS, fuzz_caps) } },
	/* A freezer test; with empty=1 one that goes through, for seconds: rare. */
	[FUZZ_HIBERNATE] = { "hibernate", NULL, { RES_NONE }, 1, 1, {
		FD("empty", FUZZ_V_VALUE, GEN_RARE) } },
};

/* ---------------------------------------------------------------- printing */

static void fuzz_print_value(FILE *f, const struct fuzz_field *fd, uint64_t v)
{
	const struct fuzz_sym *s;
	int first = 1;

	if (fd->syms && fd->gen != GEN_BITS) {
		for (s = fd->syms; s->name; s++)
			if (s->value == v) {
				fputs(s->name, f);
				return;
			}
	} else if (fd->syms && v) {
		for (s = fd->syms; s->name; s++)
			if (s->value && (v & s->value) == s->value) {
				fprintf(f, "%s%s", first ? "" : "|", s->name);
				first = 0;
				v &= ~s->value;
			}
		if (!v)
			return;
		if (!first)
			fputc('|', f);
	}
	fprintf(f, v < 10 || fd->decimal ? "%llu" : "%#llx", (unsigned long long)v);
}

void fuzz_print_op(FILE *f, const struct fuzz_op *op)
{
	const struct fuzz_desc *d = &fuzz_descs[op->kind];
	unsigned int i;

	fputs(d->name, f);
	for (i = 0; i < 2; i++)
		if (d->res[i])
			fprintf(f, " %s%u", d->res[i] == RES_FD ? "fd" : "map", op->res[i]);
	if (d->command)
		fprintf(f, " %s", d->command);
	for (i = 0; i < FUZZ_NVALS && d->fields[i].name; i++) {
		const struct fuzz_field *fd = &d->fields[i];

		if (fd->optional && !op->val[fd->pos])
			continue;
		fprintf(f, " %s=", fd->name);
		fuzz_print_value(f, fd, op->val[fd->pos]);
	}
}

void fuzz_print(FILE *f, const struct fuzz_prog *prog)
{
	unsigned int i;

	for (i = 0; i < prog->nops; i++) {
		if (prog->ops[i].thread)
			fprintf(f, "t%u: ", prog->ops[i].thread);
		fuzz_print_op(f, &prog->ops[i]);
		fputc('\n', f);
	}
}

/* ----------------------------------------------------------------- parsing */

static int fuzz_parse_value(const struct fuzz_field *fd, char *s, uint64_t *v)
{
	char *tok, *save = NULL, *end;

	*v = 0;
	for (tok = strtok_r(s, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		const struct fuzz_sym *sym = NULL;

		if (fd->syms)
			for (sym = fd->syms; sym->name && strcmp(sym->name, tok); sym++)
				;
		if (sym && sym->name) {
			*v |= sym->value;
			continue;
		}
		errno = 0;
		*v |= strtoull(tok, &end, 0);
		if (errno || *end || end == tok)
			return -1;
	}
	return 0;
}

static int fuzz_parse_slot(const char *tok, int res, uint8_t *slot)
{
	const char *prefix = res == RES_FD ? "fd" : "map";
	size_t n = strlen(prefix);

	if (strncmp(tok, prefix, n) || !isdigit((unsigned char)tok[n]) || tok[n + 1] ||
	    tok[n] - '0' >= FUZZ_SLOTS)
		return -1;
	*slot = (uint8_t)(tok[n] - '0');
	return 0;
}

/* Parse one line (no newline); returns 1 for an operation, 0 for none. */
static int fuzz_parse_line(char *line, struct fuzz_op *op, char *err, size_t errlen)
{
	char *tok[16], *save = NULL, *hash = strchr(line, '#');
	const struct fuzz_desc *d = NULL;
	unsigned int n = 0, i, k, next;

	if (hash)
		*hash = '\0';
	for (char *t = strtok_r(line, " \t\r", &save); t && n < 16; t = strtok_r(NULL, " \t\r", &save))
		tok[n++] = t;
	if (!n)
		return 0;
	memset(op, 0, sizeof(*op));
	i = 0;
	if (tok[0][0] == 't' && isdigit((unsigned char)tok[0][1]) && tok[0][2] == ':' && !tok[0][3]) {
		op->thread = (uint8_t)(tok[0][1] - '0');
		if (op->thread >= FUZZ_THREADS) {
			snprintf(err, errlen, "thread t%c: only t0..t%u", tok[0][1], FUZZ_THREADS - 1);
			return -1;
		}
		i = 1;
	}
	if (i >= n) {
		snprintf(err, errlen, "a thread and no operation");
		return -1;
	}
	for (k = 0; k < FUZZ_NKINDS; k++) {
		const struct fuzz_desc *c = &fuzz_descs[k];
		unsigned int nres = !!c->res[0] + !!c->res[1];

		if (strcmp(c->name, tok[i]))
			continue;
		if (c->command && (i + 1 + nres >= n || strcmp(c->command, tok[i + 1 + nres])))
			continue;
		d = c;
		break;
	}
	if (!d) {
		snprintf(err, errlen, "unknown operation '%s'%s", tok[i],
			 strcmp(tok[i], "ioctl") ? "" : " (or command)");
		return -1;
	}
	op->kind = (uint8_t)k;
	next = i + 1;
	for (k = 0; k < 2 && d->res[k]; k++, next++) {
		if (next >= n || fuzz_parse_slot(tok[next], d->res[k], &op->res[k])) {
			snprintf(err, errlen, "%s: resource %u should be %s0..%s%u", d->name, k + 1,
				 d->res[k] == RES_FD ? "fd" : "map",
				 d->res[k] == RES_FD ? "fd" : "map", FUZZ_SLOTS - 1);
			return -1;
		}
	}
	if (d->command)
		next++;
	for (; next < n; next++) {
		char *eq = strchr(tok[next], '=');
		const struct fuzz_field *fd = NULL;

		if (!eq) {
			snprintf(err, errlen, "'%s': expected FIELD=VALUE", tok[next]);
			return -1;
		}
		*eq = '\0';
		for (k = 0; k < FUZZ_NVALS && d->fields[k].name; k++)
			if (!strcmp(d->fields[k].name, tok[next]))
				fd = &d->fields[k];
		if (!fd) {
			snprintf(err, errlen, "%s has no field '%s'", d->name, tok[next]);
			return -1;
		}
		if (fuzz_parse_value(fd, eq + 1, &op->val[fd->pos])) {
			snprintf(err, errlen, "%s=%s: not a number nor a symbol of the field",
				 fd->name, eq + 1);
			return -1;
		}
	}
	return 1;
}

int fuzz_parse(const char *text, struct fuzz_prog *prog, char *err, size_t errlen)
{
	char *copy = strdup(text), *line, *save = NULL;
	unsigned int lineno = 0;
	int ret = 0;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	prog->nops = 0;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char msg[160];
		int r;

		lineno++;
		if (prog->nops == FUZZ_MAX_OPS) {
			snprintf(err, errlen, "line %u: more than %u operations", lineno, FUZZ_MAX_OPS);
			ret = -1;
			break;
		}
		r = fuzz_parse_line(line, &prog->ops[prog->nops], msg, sizeof(msg));
		if (r < 0) {
			snprintf(err, errlen, "line %u: %s", lineno, msg);
			ret = -1;
			break;
		}
		prog->nops += r;
	}
	free(copy);
	return ret;
}

/* -------------------------------------------------------------- generation */

static uint64_t fuzz_gen_size(void)
{
	static const uint64_t sizes[] = {
		0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x4000, 0x10000, 0x100000,
		128ULL << 20, 256ULL << 20, 1ULL << 40, ~0ULL, ~0ULL - 0xfff, 1ULL << 63,
	};

	if (!fuzz_one_in(4))
		return (1 + fuzz_below(4)) * 0x1000ULL;
	if (fuzz_one_in(4))
		return fuzz_rand() >> fuzz_below(64);
	return sizes[fuzz_below(sizeof(sizes) / sizeof(sizes[0]))];
}

static uint64_t fuzz_gen_off(void)
{
	static const uint64_t offs[] = { 0x1000, 0x2000, 1, 0x800, 0xfff, ~0ULL, ~0ULL - 0xfff, 1ULL << 40 };

	if (!fuzz_one_in(3))
		return 0;
	return offs[fuzz_below(sizeof(offs) / sizeof(offs[0]))];
}

static uint64_t fuzz_gen_sym(const struct fuzz_sym *syms, int bits)
{
	unsigned int n = 0, i;
	uint64_t v = 0;

	while (syms[n].name)
		n++;
	if (!bits)
		return fuzz_one_in(16) ? fuzz_below(256) : syms[fuzz_below(n)].value;
	/* Mostly none or one: a flag at a time is what a test would try. */
	if (!fuzz_one_in(4))
		return fuzz_one_in(2) ? 0 : syms[fuzz_below(n)].value;
	for (i = 0; i < n; i++)
		if (fuzz_one_in(3))
			v |= syms[i].value;
	return v;
}

/* Commands near the real ones: wrong numbers, sizes, directions. */
static uint64_t fuzz_gen_cmd(void)
{
	static const unsigned long real[] = {
		SMEM_IOC_QUERY, SMEM_IOC_ALLOC, SMEM_IOC_PROTECT, SMEM_IOC_SEAL,
		SMEM_IOC_WIPE, SMEM_IOC_INFO, SMEM_IOC_POOL_RESIZE,
	};
	unsigned long c = real[fuzz_below(7)];

	switch (fuzz_below(5)) {
	case 0:
		return _IOC(_IOC_DIR(c), SMEM_IOC_MAGIC, 7 + fuzz_below(250), _IOC_SIZE(c));
	case 1:
		return _IOC(_IOC_DIR(c), SMEM_IOC_MAGIC, _IOC_NR(c), _IOC_SIZE(c) + 8 - 16 * fuzz_below(2));
	case 2:
		return _IOC(fuzz_below(4), SMEM_IOC_MAGIC, _IOC_NR(c), _IOC_SIZE(c));
	case 3:
		return (uint32_t)fuzz_rand();
	default:
		return c;
	}
}

static uint64_t fuzz_gen_value(const struct fuzz_field *fd)
{
	static const uint64_t percents[] = { 0, 1, 10, 50, 99, 100, 101, ~0ULL };
	static const uint64_t memlocks[] = { 0, 0x1000, 0x10000, 8ULL << 20, ~0ULL };

	switch (fd->gen) {
	case GEN_SIZE:
		return fuzz_gen_size();
	case GEN_OFF:
		return fuzz_gen_off();
	case GEN_ZERO:
		if (!fuzz_one_in(10))
			return 0;
		return fuzz_one_in(2) ? 1ULL << fuzz_below(32) : fuzz_rand();
	case GEN_SYM:
		return fuzz_gen_sym(fd->syms, 0);
	case GEN_BITS:
		return fuzz_gen_sym(fd->syms, 1);
	case GEN_FAIL:
		return fuzz_one_in(8) ? 1 + fuzz_below(8) : 0;
	case GEN_FAIL_DEEP:
		/* Log-uniform up to 16384: the first allocations and the late ones. */
		if (!fuzz_one_in(3))
			return 0;
		return 1 + fuzz_rand() % (2ULL << fuzz_below(14));
	case GEN_PTR:
		return fuzz_one_in(6) ? 1 + fuzz_below(FUZZ_PTR_NKINDS - 1) : 0;
	case GEN_CMD:
		return fuzz_gen_cmd();
	case GEN_COUNT:
		return 1 + fuzz_below(4);
	case GEN_BOOL:
		return fuzz_below(2);
	case GEN_BYTE:
		return fuzz_one_in(2) ? 0 : fuzz_below(256);
	case GEN_PERCENT:
		return percents[fuzz_below(sizeof(percents) / sizeof(percents[0]))];
	case GEN_MEMLOCK:
		return memlocks[fuzz_below(sizeof(memlocks) / sizeof(memlocks[0]))];
	case GEN_UID:
		/* 2 shares the bucket of 65534 in the module's table of users. */
		return fuzz_one_in(8) ? fuzz_below(4) : 65534;
	case GEN_THREAD:
		return fuzz_below(FUZZ_THREADS);
	case GEN_RARE:
		return fuzz_one_in(100);
	default:
		return fuzz_below(2000);
	}
}

/* A slot of kind @res: mostly one an earlier operation filled. */
static uint8_t fuzz_pick_slot(const struct fuzz_prog *prog, unsigned int upto, int res)
{
	uint8_t seen[FUZZ_SLOTS], n = 0;
	unsigned int i;

	for (i = 0; i < upto; i++) {
		const struct fuzz_desc *d = &fuzz_descs[prog->ops[i].kind];

		if (d->res[0] == res && n < FUZZ_SLOTS)
			seen[n++] = prog->ops[i].res[0];
	}
	if (!n || fuzz_one_in(8))
		return (uint8_t)fuzz_below(res == RES_MAP ? 4 : FUZZ_SLOTS);
	return seen[fuzz_below(n)];
}

static unsigned int fuzz_pick_kind(int allow_root_only)
{
	unsigned int total = 0, k, r;

	for (k = 0; k < FUZZ_NKINDS; k++)
		if (allow_root_only || !fuzz_descs[k].root_only)
			total += fuzz_descs[k].weight;
	r = fuzz_below(total);
	for (k = 0; k < FUZZ_NKINDS; k++) {
		if (!allow_root_only && fuzz_descs[k].root_only)
			continue;
		if (r < fuzz_descs[k].weight)
			return k;
		r -= fuzz_descs[k].weight;
	}
	return FUZZ_OPEN;
}

/* Fill ops[at] as a fresh operation of @kind, given what precedes it. */
static void fuzz_gen_op(struct fuzz_prog *prog, unsigned int at, unsigned int kind, uint8_t thread)
{
	const struct fuzz_desc *d = &fuzz_descs[kind];
	struct fuzz_op *op = &prog->ops[at];
	unsigned int i;

	memset(op, 0, sizeof(*op));
	op->kind = (uint8_t)kind;
	op->thread = thread;
	for (i = 0; i < 2; i++) {
		if (!d->res[i])
			continue;
		/* An open or an mmap mostly fills a new slot. */
		if (i == 0 && (kind == FUZZ_OPEN || kind == FUZZ_MMAP || kind == FUZZ_DUP ||
			       kind == FUZZ_PASSFD) && !fuzz_one_in(4))
			op->res[i] = (uint8_t)fuzz_below(d->res[i] == RES_MAP ? 4 : FUZZ_SLOTS);
		else
			op->res[i] = fuzz_pick_slot(prog, at, d->res[i]);
	}
	for (i = 0; i < FUZZ_NVALS && d->fields[i].name; i++)
		op->val[d->fields[i].pos] = fuzz_gen_value(&d->fields[i]);
	/* Mostly what works, so the program gets somewhere. */
	if (kind == FUZZ_OPEN && !fuzz_one_in(4))
		op->val[FUZZ_V_OPEN_MODE] = O_RDWR;
	if (kind == FUZZ_MMAP && !fuzz_one_in(4)) {
		op->val[FUZZ_V_PROT] = PROT_READ | (fuzz_one_in(3) ? 0 : PROT_WRITE);
		op->val[FUZZ_V_FLAGS] = MAP_SHARED | (fuzz_one_in(6) ? MAP_POPULATE : 0);
	}
}

void fuzz_generate(struct fuzz_prog *prog, int allow_root_only)
{
	unsigned int n = 3 + fuzz_below(10), i = 0;
	int threads = fuzz_one_in(3) ? FUZZ_THREADS : 1;

	prog->nops = 0;
	if (fuzz_one_in(4)) {
		fuzz_gen_op(prog, i++, FUZZ_USER, 0);
		allow_root_only = 0;
	}
	/* Most programs start from an object with pages, mapped. */
	if (!fuzz_one_in(5)) {
		fuzz_gen_op(prog, i, FUZZ_OPEN, 0);
		prog->ops[i].res[0] = 0;
		prog->ops[i++].val[FUZZ_V_OPEN_MODE] = O_RDWR;
		fuzz_gen_op(prog, i, FUZZ_IOC_ALLOC, 0);
		prog->ops[i].res[0] = 0;
		prog->ops[i++].val[FUZZ_V_A] = (1 + fuzz_below(4)) * 0x1000ULL;
		if (!fuzz_one_in(3)) {
			fuzz_gen_op(prog, i, FUZZ_MMAP, 0);
			prog->ops[i].res[0] = 0;
			prog->ops[i].res[1] = 0;
			prog->ops[i].val[FUZZ_V_OFF] = 0;
			prog->ops[i].val[FUZZ_V_LEN] = prog->ops[i - 1].val[FUZZ_V_A];
			i++;
		}
	}
	for (; i < n && i < FUZZ_MAX_OPS; i++)
		fuzz_gen_op(prog, i, fuzz_pick_kind(allow_root_only),
			    (uint8_t)(threads > 1 ? fuzz_below(FUZZ_THREADS) : 0));
	prog->nops = i;
}

/* ---------------------------------------------------------------- mutation */

static void fuzz_mutate_value(struct fuzz_op *op)
{
	const struct fuzz_desc *d = &fuzz_descs[op->kind];
	unsigned int nf = 0;
	const struct fuzz_field *fd;
	uint64_t *v;

	while (nf < FUZZ_NVALS && d->fields[nf].name)
		nf++;
	if (!nf)
		return;
	fd = &d->fields[fuzz_below(nf)];
	v = &op->val[fd->pos];
	switch (fuzz_below(5)) {
	case 0:
		*v ^= 1ULL << fuzz_below(64);
		break;
	case 1:
		*v += fuzz_one_in(2) ? 1 : -1;
		break;
	case 2:
		*v += fuzz_one_in(2) ? 0x1000 : -0x1000;
		break;
	default:
		*v = fuzz_gen_value(fd);
		break;
	}
}

void fuzz_mutate(struct fuzz_prog *prog, const struct fuzz_prog *other, int allow_root_only)
{
	unsigned int rounds = 1 + fuzz_below(3), i;

	if (fuzz_prog_drops_privileges(prog))
		allow_root_only = 0;
	for (; rounds; rounds--) {
		unsigned int at = prog->nops ? fuzz_below(prog->nops) : 0;

		switch (fuzz_below(8)) {
		case 0:	/* insert a new operation */
			if (prog->nops == FUZZ_MAX_OPS)
				break;
			memmove(&prog->ops[at + 1], &prog->ops[at],
				(prog->nops - at) * sizeof(prog->ops[0]));
			prog->nops++;
			fuzz_gen_op(prog, at, fuzz_pick_kind(allow_root_only),
				    (uint8_t)(fuzz_one_in(2) ? 0 : fuzz_below(FUZZ_THREADS)));
			break;
		case 1:	/* remove one */
			if (prog->nops < 2 || (at == 0 && fuzz_prog_drops_privileges(prog)))
				break;
			memmove(&prog->ops[at], &prog->ops[at + 1],
				(prog->nops - at - 1) * sizeof(prog->ops[0]));
			prog->nops--;
			break;
		case 2:	/* move it to another thread */
			if (prog->nops)
				prog->ops[at].thread = (uint8_t)fuzz_below(FUZZ_THREADS);
			break;
		case 3:	/* another slot */
			if (prog->nops && fuzz_descs[prog->ops[at].kind].res[0])
				prog->ops[at].res[fuzz_below(2)] = (uint8_t)fuzz_below(4);
			break;
		case 4:	/* append the tail of another program */
			if (!other || !other->nops)
				break;
			for (i = fuzz_below(other->nops); i < other->nops && prog->nops < FUZZ_MAX_OPS; i++)
				if (allow_root_only || !fuzz_descs[other->ops[i].kind].root_only)
					prog->ops[prog->nops++] = other->ops[i];
			break;
		default:
			if (prog->nops)
				fuzz_mutate_value(&prog->ops[at]);
			break;
		}
	}
	if (!prog->nops)
		fuzz_generate(prog, allow_root_only);
}
