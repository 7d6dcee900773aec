/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The patterns of kdump.sh, shared by the first kernel's side
 * (kdump_holder) and the capture kernel's side (kdump_scan).
 *
 * A pattern is a splitmix64 stream from a seed that kdump.sh draws for
 * each run, restarted at every page: no copy of a pattern exists anywhere
 * (no string in a binary, no buffer) until the holder computes it into
 * the page it fills, so finding it in /proc/vmcore means finding that
 * page.  The scanner looks for the first KDUMP_NEEDLE_WORDS words.
 */
#ifndef KDUMP_PATTERN_H
#define KDUMP_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define KDUMP_SECRET_SALT	0x5ec2e7a11d0c0de5ULL
#define KDUMP_CONTROL_SALT	0xc0a72011ab1e5eedULL
#define KDUMP_NEEDLE_WORDS	4

static inline uint64_t kdump_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fill @words words at @p with the pattern of @seed and @salt. */
static inline void kdump_fill(uint64_t *p, size_t words, uint64_t seed, uint64_t salt)
{
	uint64_t state = seed ^ salt;

	for (size_t i = 0; i < words; i++)
		p[i] = kdump_next(&state);
}

#endif /* KDUMP_PATTERN_H */
