/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smem-fuzz: what the fuzzer's parts (prog.c, cover.c, repro.c, main.c)
 * share beyond the executed form of a program (exec.h).
 */
#ifndef SMEM_FUZZ_H
#define SMEM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exec.h"

/* prog.c: the text form, generation and mutation. */

/* The seeded generator every random choice comes from. */
uint64_t fuzz_rand(void);
void fuzz_seed(uint64_t seed);

/* Parse the text of a program; on error, say where in @err and return -1. */
int fuzz_parse(const char *text, struct fuzz_prog *prog, char *err, size_t errlen);
/* Print @prog as text, one operation a line. */
void fuzz_print(FILE *f, const struct fuzz_prog *prog);
/* Print one operation without its thread prefix and newline. */
void fuzz_print_op(FILE *f, const struct fuzz_op *op);
void fuzz_generate(struct fuzz_prog *prog, int allow_root_only);
void fuzz_mutate(struct fuzz_prog *prog, const struct fuzz_prog *other, int allow_root_only);

/* cover.c: KCOV and the module's blocks. */

struct fuzz_blocks;

/* The instrumented blocks of the module file @ko; NULL (said why) on error. */
struct fuzz_blocks *fuzz_blocks_load(const char *ko);
size_t fuzz_blocks_count(const struct fuzz_blocks *b);
/* Print the unreached blocks, "SECTION 0xOFFSET" a line, @prefix first. */
void fuzz_blocks_print_unreached(const struct fuzz_blocks *b, FILE *f, const char *prefix);
/* Print every block, the same way. */
void fuzz_blocks_print_all(const struct fuzz_blocks *b, FILE *f);
size_t fuzz_blocks_reached(const struct fuzz_blocks *b);
/* PCs of traces that matched no block: the table is wrong if not 0. */
size_t fuzz_blocks_unmatched(const struct fuzz_blocks *b);
/* Print the first unmatched PCs, "smem-fuzz: unmatched PC 0x..." a line. */
void fuzz_blocks_print_unmatched(const struct fuzz_blocks *b, FILE *f);
/* Read the module's section bases from sysfs again (after a load). */
int fuzz_blocks_rebase(struct fuzz_blocks *b);

/*
 * Coverage areas: one per thread, plus spares for forked and exec'd
 * children.  Opened once by the fuzzer, enabled by the program's
 * threads; collected after the program's process is gone.
 */
int fuzz_kcov_open(void);
void fuzz_kcov_reset(void);
/* Count the new blocks the last program reached (and mark them). */
size_t fuzz_kcov_collect(struct fuzz_blocks *b);
/* The exec'd child: enable coverage on an inherited area. */
void fuzz_kcov_exec_child(int fd);
/* Coverage of the fuzzer's own thread (module load and unload). */
void fuzz_kcov_self(int start);

/* repro.c */
void fuzz_repro(FILE *f, const struct fuzz_prog *prog, const char *text);

#endif /* SMEM_FUZZ_H */
