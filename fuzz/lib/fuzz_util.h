/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of both libFuzzer harnesses of libsmem (one translation unit
 * each: everything is static): the report of a finding, and the check
 * that an input left no descriptor behind.
 */
#ifndef SMEM_FUZZ_UTIL_H
#define SMEM_FUZZ_UTIL_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Say what differed, prefixed by the harness's name, and crash. */
static void __attribute__((noreturn, format(printf, 2, 3)))
fuzz_finding(const char *harness, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", harness);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/*
 * Taken at the start and at the end of every input: the same, or the
 * input left a descriptor open.  Not once for the whole run: libFuzzer
 * starts llvm-symbolizer, with pipes, between inputs the first time it
 * names a newly covered function.
 */
static int fuzz_lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

#endif /* SMEM_FUZZ_UTIL_H */
