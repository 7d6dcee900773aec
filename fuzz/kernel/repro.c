// SPDX-License-Identifier: GPL-2.0
/*
 * smem-fuzz: a program as a standalone C reproducer.
 *
 * The reproducer runs the same code as the fuzzer: it is the ABI header
 * (include/uapi/linux/smem.h), exec.h and exec.c pasted in, then the
 * program as an array of operations, each under its line of text, and a
 * main().  The three files are built into smem-fuzz with .incbin, so a
 * reproducer always matches the fuzzer that wrote it.  It needs nothing
 * but libc:
 *
 *	cc -static repro.c -lpthread && ./a.out
 */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz.h"

#define FUZZ_EMBED(sym, path)						\
	__asm__(".section .rodata\n"					\
		".global " #sym "\n"					\
		#sym ":\n"						\
		".incbin \"" path "\"\n"				\
		".byte 0\n"						\
		".previous\n")

FUZZ_EMBED(fuzz_src_uapi, FUZZ_UAPI_HEADER);
FUZZ_EMBED(fuzz_src_exec_h, FUZZ_SRC_DIR "/exec.h");
FUZZ_EMBED(fuzz_src_exec_c, FUZZ_SRC_DIR "/exec.c");

extern const char fuzz_src_uapi[], fuzz_src_exec_h[], fuzz_src_exec_c[];

/* Paste @src, leaving out the includes of the tree's own headers. */
static void fuzz_paste(FILE *f, const char *src)
{
	while (*src) {
		const char *nl = strchr(src, '\n');
		size_t len = nl ? (size_t)(nl - src + 1) : strlen(src);

		if (strncmp(src, "#include \"", 10) && strncmp(src, "#include <linux/smem.h>", 23))
			fwrite(src, 1, len, f);
		src += len;
	}
}

void fuzz_repro(FILE *f, const struct fuzz_prog *prog, const char *text)
{
	unsigned int i, j;
	const char *line;

	fputs("/*\n * smem-fuzz reproducer: cc -static repro.c -lpthread && ./a.out\n"
	      " * (as root, with smem loaded). The program:\n *\n", f);
	for (line = text; *line; ) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		fprintf(f, " *\t%.*s\n", (int)len, line);
		line += len + !!nl;
	}
	fputs(" */\n#define _GNU_SOURCE\n", f);
	fuzz_paste(f, fuzz_src_uapi);
	fuzz_paste(f, fuzz_src_exec_h);
	fuzz_paste(f, fuzz_src_exec_c);
	fprintf(f, "\nstatic const struct fuzz_prog fuzz_repro_prog = {\n\t.nops = %u,\n\t.ops = {\n",
		prog->nops);
	for (i = 0; i < prog->nops; i++) {
		const struct fuzz_op *op = &prog->ops[i];

		fprintf(f, "\t\t/* t%u: ", op->thread);
		fuzz_print_op(f, op);
		fprintf(f, " */\n\t\t{ .thread = %u, .kind = %u, .res = { %u, %u }, .val = {",
			op->thread, op->kind, op->res[0], op->res[1]);
		for (j = 0; j < FUZZ_NVALS; j++)
			fprintf(f, "%s%#llx", j ? ", " : " ", (unsigned long long)op->val[j]);
		fputs(" } },\n", f);
	}
	fputs("\t},\n};\n\n"
	      "int main(int argc, char **argv)\n{\n"
	      "\tif (argc == 4 && !strcmp(argv[1], \"--exec-child\"))\n"
	      "\t\treturn fuzz_exec_child(atoi(argv[2]));\n"
	      "\tfuzz_env.self = \"/proc/self/exe\";\n"
	      "\tfuzz_env.data_file = \"/tmp/smem-repro.data\";\n"
	      "\tfuzz_env.block_dev = \"/dev/loop0\";\n"
	      "\tfuzz_env.verbose = 1;\n"
	      "\treturn fuzz_exec_prog(&fuzz_repro_prog);\n}\n", f);
}
