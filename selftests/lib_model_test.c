// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem against a model (lib_model.h): random sequences of API calls
 * (make, read, write a range, copy out and in, copy between secrets,
 * compare, freeze and melt, export and import, nested windows up to the
 * nesting limit, close inside and outside callbacks, references, fork,
 * bad arguments) on a handful of secrets, each result compared with what
 * a plain byte array with a closed flag, a frozen flag and a reference
 * count says it must be; and on a handful of enclaves (made from bytes,
 * sealed from the secrets, with SMEM_CLOSE and from inside a read, read,
 * read with calls inside, opened into new secrets, exported and imported
 * again, whole, cut short or changed, before and after a rekey, rekeyed,
 * referenced), each a byte array and a reference count.  fuzz/lib/api_fuzz.c runs the same model on
 * sequences decoded from the fuzzer's input, in several threads.
 *
 * Reproducible: the sequence is a function of the seed.  The test runs
 * seeds 1..SMEM_MODEL_SEEDS (default 30) of SMEM_MODEL_STEPS (default 3000)
 * calls each, or only SMEM_MODEL_SEED when that is set; a failure names
 * the seed and the step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_model.h"
#include "lib_util.h"

/* One seeded run; its failure in r->failure, or "". */
static void run_seed(struct model_run *r, uint64_t seed, unsigned long steps,
		     unsigned long *enclave_steps)
{
	model_init(r, seed, lib_guarantees());
	for (r->step = 0; r->step < steps && !r->failure[0]; r->step++)
		model_step(r);
	model_finish(r);
	*enclave_steps += r->enclave_steps;
}

LIB_EMPTY_FIXTURE(model)

TEST_F_TIMEOUT(model, random_calls, 600)
{
	unsigned long steps = (unsigned long)lib_env_seconds("SMEM_MODEL_STEPS", 3000);
	unsigned long seeds = (unsigned long)lib_env_seconds("SMEM_MODEL_SEEDS", 30);
	const char *only = getenv("SMEM_MODEL_SEED");
	struct model_run *r = calloc(1, sizeof(*r));
	uint64_t first = 1, last = seeds;
	unsigned long enclave_steps = 0;

	ASSERT_NE(NULL, r);
	if (only && *only)
		first = last = strtoull(only, NULL, 0);
	for (uint64_t seed = first; seed <= last; seed++) {
		run_seed(r, seed, steps, &enclave_steps);
		EXPECT_EQ(0, r->failure[0])
			TH_LOG("SMEM_MODEL_SEED=%llu, step %lu: %s",
			       (unsigned long long)seed, r->step - 1, r->failure);
		if (r->failure[0])
			break;
	}
	TH_LOG("seeds %llu..%llu, %lu steps each, %lu of them on enclaves, on %s",
	       (unsigned long long)first, (unsigned long long)last, steps, enclave_steps,
	       lib_backend());
	/* The enclaves were called too (none when the steps are too few). */
	if (steps >= 100)
		EXPECT_LT(0, enclave_steps);
	free(r);
}

TEST_HARNESS_MAIN
