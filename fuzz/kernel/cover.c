// SPDX-License-Identifier: GPL-2.0
/*
 * smem-fuzz: coverage of smemdev.ko, from KCOV.
 *
 * The blocks: Kbuild instruments only the module (KCOV_INSTRUMENT := y,
 * not KCOV_INSTRUMENT_ALL), so each basic block of it calls
 * __sanitizer_cov_trace_pc, and each such call is a relocation against
 * that symbol in the .ko.  The PC that KCOV records is the call's return
 * address: the section's base + r_offset + 4 (the 4-byte displacement of
 * the call ends the instruction).  A block is (section, that offset).
 * The bases of a loaded module are in /sys/module/smemdev/sections/.
 *
 * Since nothing else is instrumented, every PC of a trace is the
 * module's; one that matches no block would mean the table is wrong, and
 * is counted (fuzz_blocks_unmatched) so that a run shows it.
 *
 * The areas: KCOV is per thread and not inherited, so the fuzzer opens a
 * set of areas once, as root, before any program: one per program thread,
 * spares that forked children take (a counter in shared memory hands them
 * out), one for exec'd children (inherited across exec by descriptor),
 * and one for the fuzzer's own thread (module load and unload).  Every
 * area is shared memory, so the fuzzer reads what the program's processes
 * wrote after they are gone.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define KCOV_INIT_TRACE		_IOR('c', 1, unsigned long)
#define KCOV_ENABLE		_IO('c', 100)
#define KCOV_DISABLE		_IO('c', 101)
#define KCOV_TRACE_PC		0

#define FUZZ_KCOV_WORDS		(512 << 10)
#define FUZZ_KCOV_SPARES	4
/* Threads, spares for forks, one for exec, one for the fuzzer itself. */
#define FUZZ_KCOV_EXEC		(FUZZ_THREADS + FUZZ_KCOV_SPARES)
#define FUZZ_KCOV_SELF		(FUZZ_KCOV_EXEC + 1)
#define FUZZ_KCOV_AREAS		(FUZZ_KCOV_SELF + 1)
#define FUZZ_MAX_SECTIONS	8

struct fuzz_section {
	char name[32];
	uint64_t base;		/* 0: not known (module not loaded) */
	size_t first, count;	/* its blocks in fuzz_blocks.offs */
	int ignored;		/* not smem's code: not counted */
};

struct fuzz_blocks {
	unsigned int nsections;
	struct fuzz_section sec[FUZZ_MAX_SECTIONS];
	size_t n;
	size_t counted;		/* n without the ignored sections' */
	uint32_t *offs;		/* per section, sorted */
	uint8_t *hit;
	size_t reached;
	size_t unmatched;	/* PCs that matched no block */
	uint64_t unmatched_pc[8];	/* the first of them, to find out why */
};

static struct {
	int fd[FUZZ_KCOV_AREAS];
	unsigned long *area[FUZZ_KCOV_AREAS];
	unsigned int *next_spare;	/* shared with the children */
} fuzz_kcov;

/* ------------------------------------------------------------ the blocks */

static int fuzz_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void *fuzz_read_file(const char *path, size_t *size)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !(buf = malloc(st.st_size))) {
		close(fd);
		return NULL;
	}
	if (read(fd, buf, st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*size = st.st_size;
	return buf;
}

/* The symbol index of __sanitizer_cov_trace_pc in @symtab, or 0. */
static size_t fuzz_find_cov_sym(const char *img, const Elf64_Shdr *symtab, const Elf64_Shdr *sh)
{
	const Elf64_Sym *syms = (const void *)(img + symtab->sh_offset);
	const char *str = img + sh[symtab->sh_link].sh_offset;
	size_t i;

	for (i = 1; i < symtab->sh_size / sizeof(*syms); i++)
		if (!strcmp(str + syms[i].st_name, "__sanitizer_cov_trace_pc"))
			return i;
	return 0;
}

struct fuzz_blocks *fuzz_blocks_load(const char *ko)
{
	size_t size = 0, covsym = 0, i, j;
	char *img = fuzz_read_file(ko, &size);
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh;
	const char *shstr;
	struct fuzz_blocks *b;

	if (!img) {
		fprintf(stderr, "smem-fuzz: cannot read %s: %s\n", ko, strerror(errno));
		return NULL;
	}
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_REL ||
	    eh->e_shoff + (size_t)eh->e_shnum * sizeof(*sh) > size) {
		fprintf(stderr, "smem-fuzz: %s is not a 64-bit relocatable ELF file\n", ko);
		free(img);
		return NULL;
	}
	sh = (const void *)(img + eh->e_shoff);
	shstr = img + sh[eh->e_shstrndx].sh_offset;
	for (i = 0; i < eh->e_shnum && !covsym; i++)
		if (sh[i].sh_type == SHT_SYMTAB)
			covsym = fuzz_find_cov_sym(img, &sh[i], sh);
	if (!covsym) {
		fprintf(stderr, "smem-fuzz: %s has no call to __sanitizer_cov_trace_pc: not built for a KCOV kernel\n", ko);
		free(img);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b || !(b->offs = calloc(size / sizeof(Elf64_Rela) + 1, sizeof(*b->offs)))) {
		fprintf(stderr, "smem-fuzz: no memory for the block table of %s\n", ko);
		free(b);
		free(img);
		return NULL;
	}
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Rela *r = (const void *)(img + sh[i].sh_offset);
		const Elf64_Shdr *target = &sh[sh[i].sh_info];
		struct fuzz_section *s;

		if (sh[i].sh_type != SHT_RELA || !(target->sh_flags & SHF_EXECINSTR) ||
		    b->nsections == FUZZ_MAX_SECTIONS)
			continue;

		s = &b->sec[b->nsections];
		snprintf(s->name, sizeof(s->name), "%s", shstr + target->sh_name);
		s->first = b->n;
		for (j = 0; j < sh[i].sh_size / sizeof(*r); j++) {
			unsigned int type = ELF64_R_TYPE(r[j].r_info);

			if (ELF64_R_SYM(r[j].r_info) == covsym &&
			    (type == R_X86_64_PLT32 || type == R_X86_64_PC32))
				b->offs[b->n++] = (uint32_t)(r[j].r_offset + 4);
		}
		s->count = b->n - s->first;
		/*
		 * The compiler's own constructors and destructors (KASAN's
		 * registration of the module's globals) are no code of smem's,
		 * and the kernel never runs the destructors: their blocks are
		 * known, so that their PCs match, but not counted.
		 */
		s->ignored = !strcmp(s->name, ".text.startup") || !strcmp(s->name, ".text.exit");
		if (!s->ignored)
			b->counted += s->count;
		if (s->count) {
			qsort(b->offs + s->first, s->count, sizeof(*b->offs), fuzz_cmp_u32);
			b->nsections++;
		} else {
			b->n = s->first;
		}
	}
	free(img);
	b->hit = calloc(b->n + 1, 1);
	if (!b->hit) {
		fprintf(stderr, "smem-fuzz: no memory for the block table of %s\n", ko);
		free(b->offs);
		free(b);
		return NULL;
	}
	return b;
}

size_t fuzz_blocks_count(const struct fuzz_blocks *b)
{
	return b->counted;
}

size_t fuzz_blocks_reached(const struct fuzz_blocks *b)
{
	return b->reached;
}

size_t fuzz_blocks_unmatched(const struct fuzz_blocks *b)
{
	return b->unmatched;
}

static void fuzz_blocks_print(const struct fuzz_blocks *b, FILE *f, const char *prefix, int all)
{
	unsigned int s;
	size_t i;

	for (s = 0; s < b->nsections; s++)
		for (i = b->sec[s].first; i < b->sec[s].first + b->sec[s].count; i++)
			if (!b->sec[s].ignored && (all || !b->hit[i]))
				fprintf(f, "%s%s %#x\n", prefix, b->sec[s].name, b->offs[i]);
}

void fuzz_blocks_print_unreached(const struct fuzz_blocks *b, FILE *f, const char *prefix)
{
	fuzz_blocks_print(b, f, prefix, 0);
}

void fuzz_blocks_print_all(const struct fuzz_blocks *b, FILE *f)
{
	fuzz_blocks_print(b, f, "", 1);
}

int fuzz_blocks_rebase(struct fuzz_blocks *b)
{
	unsigned int s;
	int found = 0;

	for (s = 0; s < b->nsections; s++) {
		char path[96], buf[32] = "";
		int fd;

		snprintf(path, sizeof(path), "/sys/module/smemdev/sections/%s", b->sec[s].name);
		fd = open(path, O_RDONLY);
		b->sec[s].base = 0;
		if (fd < 0)
			continue;
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			b->sec[s].base = strtoull(buf, NULL, 16);
		close(fd);
		found += !!b->sec[s].base;
	}
	return found ? 0 : -1;
}

/* Mark the block of @pc; returns 1 when it is new. */
static int fuzz_blocks_mark(struct fuzz_blocks *b, uint64_t pc)
{
	unsigned int s;

	for (s = 0; s < b->nsections; s++) {
		const struct fuzz_section *sec = &b->sec[s];
		uint32_t off;
		uint32_t *p;

		if (!sec->base || pc < sec->base || pc - sec->base > UINT32_MAX)
			continue;
		off = (uint32_t)(pc - sec->base);
		p = bsearch(&off, b->offs + sec->first, sec->count, sizeof(off), fuzz_cmp_u32);
		if (!p)
			continue;
		if (b->hit[p - b->offs] || sec->ignored)
			return 0;
		b->hit[p - b->offs] = 1;
		b->reached++;
		return 1;
	}
	if (b->unmatched < sizeof(b->unmatched_pc) / sizeof(b->unmatched_pc[0]))
		b->unmatched_pc[b->unmatched] = pc;
	b->unmatched++;
	return 0;
}

void fuzz_blocks_print_unmatched(const struct fuzz_blocks *b, FILE *f)
{
	size_t i;

	for (i = 0; i < b->unmatched && i < sizeof(b->unmatched_pc) / sizeof(b->unmatched_pc[0]); i++)
		fprintf(f, "smem-fuzz: unmatched PC %#llx\n", (unsigned long long)b->unmatched_pc[i]);
}

/* -------------------------------------------------------------- the areas */

static void fuzz_kcov_enable(unsigned int i)
{
	if (fuzz_kcov.fd[i] < 0)
		return;
	if (ioctl(fuzz_kcov.fd[i], KCOV_ENABLE, KCOV_TRACE_PC))
		return;	/* taken (a second exec'd child): no coverage there */
	__atomic_store_n(&fuzz_kcov.area[i][0], 0, __ATOMIC_RELAXED);
}

static void fuzz_kcov_disable(unsigned int i)
{
	if (fuzz_kcov.fd[i] >= 0)
		ioctl(fuzz_kcov.fd[i], KCOV_DISABLE, 0);
}

static void fuzz_kcov_thread(unsigned int thread, int start)
{
	if (start)
		fuzz_kcov_enable(thread);
	else
		fuzz_kcov_disable(thread);
}

/* A forked child: take a spare area, if one is left. */
static void fuzz_kcov_fork(void)
{
	unsigned int i = __atomic_fetch_add(fuzz_kcov.next_spare, 1, __ATOMIC_RELAXED);

	if (i < FUZZ_KCOV_SPARES)
		fuzz_kcov_enable(FUZZ_THREADS + i);
}

static int fuzz_kcov_open_one(unsigned int i)
{
	int fd = open("/sys/kernel/debug/kcov", O_RDWR | O_CLOEXEC);

	fuzz_kcov.fd[i] = fd;
	if (fd < 0)
		return -1;
	if (ioctl(fd, KCOV_INIT_TRACE, FUZZ_KCOV_WORDS))
		return -1;
	fuzz_kcov.area[i] = mmap(NULL, FUZZ_KCOV_WORDS * sizeof(unsigned long),
				 PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return fuzz_kcov.area[i] == MAP_FAILED ? -1 : 0;
}

int fuzz_kcov_open(void)
{
	unsigned int i;

	for (i = 0; i < FUZZ_KCOV_AREAS; i++) {
		if (fuzz_kcov_open_one(i)) {
			fprintf(stderr, "smem-fuzz: KCOV area %u: %s (CONFIG_KCOV, debugfs mounted?)\n",
				i, strerror(errno));
			return -1;
		}
	}
	fuzz_kcov.next_spare = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fuzz_kcov.next_spare == MAP_FAILED)
		return -1;
	fuzz_thread_hook = fuzz_kcov_thread;
	fuzz_fork_hook = fuzz_kcov_fork;
	fuzz_env.exec_kcov_fd = fuzz_kcov.fd[FUZZ_KCOV_EXEC];
	return 0;
}

void fuzz_kcov_reset(void)
{
	unsigned int i;

	for (i = 0; i < FUZZ_KCOV_AREAS; i++)
		fuzz_kcov.area[i][0] = 0;
	*fuzz_kcov.next_spare = 0;
}

size_t fuzz_kcov_collect(struct fuzz_blocks *b)
{
	size_t fresh = 0, i, n;
	unsigned int a;

	for (a = 0; a < FUZZ_KCOV_AREAS; a++) {
		n = __atomic_load_n(&fuzz_kcov.area[a][0], __ATOMIC_RELAXED);
		if (n > FUZZ_KCOV_WORDS - 1)
			n = FUZZ_KCOV_WORDS - 1;
		for (i = 1; i <= n; i++)
			fresh += fuzz_blocks_mark(b, fuzz_kcov.area[a][i]);
		fuzz_kcov.area[a][0] = 0;
	}
	return fresh;
}

void fuzz_kcov_exec_child(int fd)
{
	unsigned int i = FUZZ_KCOV_EXEC;

	fuzz_kcov.fd[i] = fd;
	fuzz_kcov.area[i] = mmap(NULL, FUZZ_KCOV_WORDS * sizeof(unsigned long),
				 PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fuzz_kcov.area[i] == MAP_FAILED)
		return;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fuzz_kcov_enable(i);
}

void fuzz_kcov_self(int start)
{
	if (start)
		fuzz_kcov_enable(FUZZ_KCOV_SELF);
	else
		fuzz_kcov_disable(FUZZ_KCOV_SELF);
}
