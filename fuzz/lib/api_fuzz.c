// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: sequences of libsmem API calls, decoded from the
 * input, checked step by step against the model of selftests/lib_model.h
 * (the one lib_model_test.c runs on seeded random sequences).
 *
 * Input: byte 0 chooses 1 to 3 threads, byte 1 seeds the bytes of the
 * secrets and the length of the shared one; the rest is cut into one
 * stream of choices per thread (model_below() reads them).  Each thread
 * runs the model on secrets of its own and on one secret shared by all,
 * frozen for good, so that every call has one right answer however the
 * threads interleave while they contend for the same state word (readers
 * opening and closing the pages, freeze claiming it like a writer,
 * copies and comparisons holding two windows at once, fork waiting for
 * the regions under way), and on enclaves of its own under the one
 * process key (sealing, unsealing into each thread's scratch, export and
 * import; a rekey only with one thread, the model's count of the enclaves
 * it seals again being the process's then).  A forked child checks that
 * the parent's secrets and enclaves say -ECHILD and new ones work, then
 * leaves with _exit().
 *
 * Any divergence from the model aborts with the thread, the step and the
 * call.  After every input all secrets are closed (their canaries
 * checked) and unreferenced, and the lowest free descriptor must be what
 * it was when the input started: a descriptor leaked by an export, an
 * import or a region is a crash too; memory leaks are LeakSanitizer's.
 *
 * SMEM_FUZZ_SEEDS=DIR writes the seed corpus (fuzz/lib/corpus/api) there
 * and exits.  The backend is the environment's (SMEM_BACKEND,
 * SMEM_NO_PKEYS); exit status 77 when it is not there.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "fuzz_util.h"
#include "lib_model.h"

#define MAX_THREADS	3
/* Calls per thread and input: the time of one input stays in milliseconds. */
#define MAX_STEPS	512
/* fork() under ASan copies a large address space: at most this per input. */
#define FORKS_PER_INPUT	2
#define SHARED_MAX_LEN	300

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int guarantees;

#define diverged(...) fuzz_finding("api_fuzz", __VA_ARGS__)

struct thread_run {
	struct model_run run;
	pthread_barrier_t *start;
	pthread_t thread;
};

static void *run_thread(void *arg)
{
	struct thread_run *t = arg;
	struct model_run *r = &t->run;

	/* All threads start their calls together, for more interleavings. */
	pthread_barrier_wait(t->start);
	for (r->step = 0; r->step < MAX_STEPS && !r->exhausted && !r->failure[0]; r->step++)
		model_step(r);
	return NULL;
}

/* The shared secret: @len bytes of @seed's pattern, frozen for good. */
static struct smem_secret *shared_new(unsigned char *bytes, size_t len, uint64_t seed)
{
	struct model_run fill;
	unsigned char *src = malloc(len);
	struct smem_secret *s = NULL;
	int err;

	if (!src)
		diverged("out of memory");
	model_init(&fill, seed, guarantees);
	model_fill(&fill, bytes, len);
	memcpy(src, bytes, len);
	err = smem_secret_new(src, len, 0, &s);
	if (err)
		diverged("new(%zu) of the shared secret: %d", len, err);
	err = smem_secret_freeze(s, SMEM_FREEZE_FOREVER);
	if (err)
		diverged("freeze of the shared secret: %d", err);
	free(src);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct thread_run *t;
	struct model_secret *shared;
	struct smem_secret *shared_s;
	pthread_barrier_t start;
	unsigned int threads, i;
	size_t chunk;
	int free_fd, fd, err;

	if (size < 2)
		return 0;
	free_fd = fuzz_lowest_free_fd();
	threads = 1 + data[0] % MAX_THREADS;
	t = calloc(threads, sizeof(*t));
	if (!t)
		diverged("out of memory");
	chunk = (size - 2) / threads;
	for (i = 0; i < threads; i++) {
		model_init_input(&t[i].run, data[1] + 1, guarantees, data + 2 + i * chunk, chunk,
				 i ? 0 : FORKS_PER_INPUT);
		t[i].run.key_shared = threads > 1;
	}

	/* Each thread's model has its own view of the shared secret. */
	shared = &t[0].run.m[MODEL_SHARED];
	shared->len = 1 + (size_t)data[1] * 37 % SHARED_MAX_LEN;
	shared->s = shared_new(shared->bytes, shared->len, data[1]);
	shared->frozen = shared->forever = shared->shared = true;
	shared->refs = 1;
	shared_s = shared->s;
	for (i = 1; i < threads; i++)
		t[i].run.m[MODEL_SHARED] = *shared;

	pthread_barrier_init(&start, NULL, threads);
	for (i = 0; i < threads; i++) {
		t[i].start = &start;
		if (i && pthread_create(&t[i].thread, NULL, run_thread, &t[i]))
			diverged("pthread_create failed");
	}
	run_thread(&t[0]);
	for (i = 1; i < threads; i++)
		pthread_join(t[i].thread, NULL);
	pthread_barrier_destroy(&start);

	for (i = 0; i < threads; i++) {
		struct model_run *r = &t[i].run;

		if (!r->failure[0])
			model_finish(r);
		if (r->failure[0])
			diverged("thread %u, step %lu: %s", i, r->step ? r->step - 1 : 0,
				 r->failure);
	}
	/* model_finish() let go of the slots; the bytes are still the model's. */
	err = smem_secret_read(shared_s, model_compare_fn, shared);
	if (err != 1)
		diverged("the shared secret at the end: read %d, the model says 1", err);
	err = smem_secret_close(shared_s);
	if (err)
		diverged("close of the shared secret: %d", err);
	smem_secret_unref(shared_s);
	free(t);

	fd = fuzz_lowest_free_fd();
	if (fd != free_fd)
		diverged("descriptor leaked: the lowest free one is %d, was %d", fd, free_fd);
	return 0;
}

/* --------------------------------------------------------------- seeds */

/*
 * Seeds: 1 to 3 threads, short and long streams of choices from a fixed
 * xorshift, so that the fuzzer starts from inputs that reach every call
 * of the model.
 */
static void write_seeds(const char *dir)
{
	struct model_run gen;
	uint8_t buf[512];
	char path[512];
	static const size_t lengths[] = { 48, 128, 256, 512 };

	model_init(&gen, 42, 0);
	for (unsigned int threads = 0; threads < MAX_THREADS; threads++) {
		for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
			FILE *f;

			buf[0] = (uint8_t)threads;
			model_fill(&gen, buf + 1, lengths[l] - 1);
			snprintf(path, sizeof(path), "%s/seed-t%u-%zu", dir, threads + 1,
				 lengths[l]);
			f = fopen(path, "we");
			if (!f || fwrite(buf, 1, lengths[l], f) != lengths[l] || fclose(f)) {
				fprintf(stderr, "api_fuzz: cannot write %s\n", path);
				exit(1);
			}
		}
	}
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("SMEM_FUZZ_SEEDS");
	struct smem_info info;
	int err;

	(void)argc;
	(void)argv;
	if (seeds && *seeds)
		write_seeds(seeds);
	err = smem_info(&info);
	if (err) {
		fprintf(stderr, "api_fuzz: no backend here (%s)\n", strerror(-err));
		exit(77);
	}
	guarantees = info.guarantees;
	fprintf(stderr, "api_fuzz: backend %s, guarantees %#x\n", info.backend_name,
		info.guarantees);
	return 0;
}
