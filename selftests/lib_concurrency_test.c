// SPDX-License-Identifier: GPL-2.0
/*
 * libsmem under concurrency: close while reading, protect (write) while
 * reading, close with a deadline, writers that readers cannot starve, and
 * a stress of 16 threads reading, writing, closing, dropping and making
 * secrets again, and reading, opening, sealing, replacing (the last
 * reference dropped while others read), exporting and importing enclaves
 * while others rekey, for SMEM_STRESS_SECONDS (default 10) seconds, run
 * in a child watched for signals, deadlock and wrong bytes.
 *
 * A secret or an enclave here always holds a pattern: its first four
 * bytes are the seed, the rest lib_pattern(seed).  A reader that sees
 * anything else saw a torn write, freed memory or a rekey's half-sealed
 * bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "kselftest_harness.h"
#include "lib_util.h"

static void seeded_fill(unsigned char *p, size_t len, uint32_t seed)
{
	lib_fill(p, len, seed);
	memcpy(p, &seed, len < 4 ? len : 4);
}

/* Read callback: 0 when the bytes are a whole pattern, else -EILSEQ. */
static int seeded_check_fn(const void *buf, size_t len, void *arg)
{
	const unsigned char *p = buf;
	uint32_t seed = 0;
	size_t i;

	(void)arg;
	memcpy(&seed, p, len < 4 ? len : 4);
	for (i = 4; i < len; i++)
		if (p[i] != lib_pattern(seed, i))
			return -EILSEQ;
	return 0;
}

static int seeded_write_fn(void *buf, size_t len, void *arg)
{
	seeded_fill(buf, len, (uint32_t)(uintptr_t)arg);
	return 0;
}

static struct smem_secret *seeded_new(size_t len, uint32_t seed)
{
	struct smem_secret *s = NULL;
	unsigned char *buf = malloc(len);

	if (buf) {
		seeded_fill(buf, len, seed);
		if (smem_secret_new(buf, len, 0, &s))
			s = NULL;
		free(buf);
	}
	return s;
}

/* ------------------------------------------------- close while reading */

struct readers {
	struct smem_secret *s;
	atomic_int reads, bad, stopped;
};

static void *read_until_closed(void *arg)
{
	struct readers *r = arg;
	int err;

	for (;;) {
		err = smem_secret_read(r->s, seeded_check_fn, NULL);
		if (err == -EBADF)
			break;
		if (err)
			atomic_fetch_add(&r->bad, 1);
		atomic_fetch_add(&r->reads, 1);
	}
	atomic_fetch_add(&r->stopped, 1);
	return NULL;
}

FIXTURE(sizes) {
	int unused;
};

FIXTURE_VARIANT(sizes) {
	size_t len;
};

FIXTURE_VARIANT_ADD(sizes, small) { .len = 32 };
FIXTURE_VARIANT_ADD(sizes, page) { .len = 4000 };

FIXTURE_SETUP(sizes)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(sizes)
{
}

/*
 * Up to ROUNDS rounds, and at least MIN_ROUNDS: on a slow kernel (KASAN
 * under TCG) the rounds stop after SECONDS, well inside the harness's
 * time-out.
 */
TEST_F(sizes, close_while_reading)
{
	enum { THREADS = 6, ROUNDS = 200, MIN_ROUNDS = 20, SECONDS = 15 };
	double deadline = now_s() + SECONDS;
	pthread_t t[THREADS];
	int round, i, total = 0;

	for (round = 0; round < ROUNDS && (round < MIN_ROUNDS || now_s() < deadline); round++) {
		struct readers r = { .s = seeded_new(variant->len, round) };

		ASSERT_NE(NULL, r.s);
		for (i = 0; i < THREADS; i++)
			ASSERT_EQ(0, pthread_create(&t[i], NULL, read_until_closed, &r));
		/* Close at varying points: before, among and after the first reads. */
		for (volatile int spin = 0; spin < (round % 20) * 5000; spin++)
			;
		ASSERT_EQ(0, smem_secret_close(r.s));
		/* Every reader has left: close waited for the ones inside. */
		EXPECT_EQ(-EBADF, smem_secret_read(r.s, seeded_check_fn, NULL));
		for (i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		EXPECT_EQ(THREADS, atomic_load(&r.stopped));
		EXPECT_EQ(0, atomic_load(&r.bad));
		total += r.reads;
		smem_secret_unref(r.s);
	}
	TH_LOG("%d reads in %d rounds", total, round);
}

/* ------------------------------------------ protect (write) while reading */

struct mixed {
	struct smem_secret *s;
	atomic_bool stop;
	atomic_int reads, writes, bad;
};

static void *check_loop(void *arg)
{
	struct mixed *m = arg;

	while (!atomic_load(&m->stop)) {
		if (smem_secret_read(m->s, seeded_check_fn, NULL))
			atomic_fetch_add(&m->bad, 1);
		atomic_fetch_add(&m->reads, 1);
	}
	return NULL;
}

static void *write_loop(void *arg)
{
	struct mixed *m = arg;
	uint32_t seed = (uint32_t)(uintptr_t)pthread_self();

	while (!atomic_load(&m->stop)) {
		if (smem_secret_write(m->s, seeded_write_fn, (void *)(uintptr_t)seed++))
			atomic_fetch_add(&m->bad, 1);
		atomic_fetch_add(&m->writes, 1);
	}
	return NULL;
}

TEST_F(sizes, protect_while_reading)
{
	enum { READERS = 4, WRITERS = 2 };
	struct mixed m = { .s = seeded_new(variant->len, 1) };
	pthread_t t[READERS + WRITERS];
	int i;

	ASSERT_NE(NULL, m.s);
	for (i = 0; i < READERS + WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, i < READERS ? check_loop : write_loop, &m));
	sleep_ms(1000);
	atomic_store(&m.stop, true);
	for (i = 0; i < READERS + WRITERS; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, atomic_load(&m.bad));
	/* Readers could not starve the writers, nor the other way round. */
	EXPECT_LT(0, atomic_load(&m.writes));
	EXPECT_LT(0, atomic_load(&m.reads));
	EXPECT_EQ(0, smem_secret_close(m.s));
	smem_secret_unref(m.s);
	TH_LOG("%d reads, %d writes", m.reads, m.writes);
}

/* ------------------------------------------------------ blocked accesses */

struct gate {
	struct smem_secret *s;
	struct lib_gate sync;
	bool inside, open, done;
	atomic_bool leaving;		/* the callback is returning */
	int result;
};

#define GATE_INIT { .sync = LIB_GATE_INIT }

/* Read callback: say we are inside, wait until the gate opens. */
static int held_read_fn(const void *buf, size_t len, void *arg)
{
	struct gate *g = arg;
	int err = seeded_check_fn(buf, len, NULL);

	lib_gate_set(&g->sync, &g->inside);
	lib_gate_wait(&g->sync, &g->open);
	/* Still readable, whatever happened meanwhile. */
	if (!err && seeded_check_fn(buf, len, NULL))
		err = -EILSEQ;
	atomic_store(&g->leaving, true);
	return err ? err : 42;
}

static void *held_reader(void *arg)
{
	struct gate *g = arg;

	g->result = smem_secret_read(g->s, held_read_fn, g);
	lib_gate_set(&g->sync, &g->done);
	return NULL;
}

TEST(close_timeout_leaves_it_closing)
{
	struct gate g = GATE_INIT;
	pthread_t t;
	double start;

	g.s = seeded_new(64, 3);
	ASSERT_NE(NULL, g.s);
	ASSERT_EQ(0, pthread_create(&t, NULL, held_reader, &g));
	lib_gate_wait(&g.sync, &g.inside);

	start = now_s();
	EXPECT_EQ(-ETIMEDOUT, smem_secret_close_timeout(g.s, 100));
	EXPECT_LE(0.09, now_s() - start);
	EXPECT_EQ(-ETIMEDOUT, smem_secret_close_timeout(g.s, 0));
	EXPECT_TRUE(smem_secret_is_closed(g.s));
	EXPECT_EQ(-EBADF, smem_secret_read(g.s, seeded_check_fn, NULL));
	EXPECT_EQ(-EBADF, smem_secret_write(g.s, seeded_write_fn, NULL));

	/* The reader leaves: it finishes the close itself. */
	lib_gate_set(&g.sync, &g.open);
	pthread_join(t, NULL);
	EXPECT_EQ(42, g.result);
	EXPECT_EQ(0, smem_secret_close_timeout(g.s, 0));
	smem_secret_unref(g.s);
}

struct closer {
	struct smem_secret *s;
	atomic_bool returned;
	int result;
};

static void *close_thread(void *arg)
{
	struct closer *c = arg;

	c->result = smem_secret_close(c->s);
	atomic_store(&c->returned, true);
	return NULL;
}

TEST(close_waits_for_readers)
{
	struct gate g = GATE_INIT;
	struct closer c = { 0 };
	pthread_t reader, closer;

	g.s = c.s = seeded_new(5000, 4);
	ASSERT_NE(NULL, g.s);
	ASSERT_EQ(0, pthread_create(&reader, NULL, held_reader, &g));
	lib_gate_wait(&g.sync, &g.inside);
	ASSERT_EQ(0, pthread_create(&closer, NULL, close_thread, &c));
	sleep_ms(200);
	EXPECT_FALSE(atomic_load(&c.returned));
	EXPECT_TRUE(smem_secret_is_closed(g.s));
	lib_gate_set(&g.sync, &g.open);
	pthread_join(closer, NULL);
	/* The reader's callback had returned before close did. */
	EXPECT_TRUE(atomic_load(&g.leaving));
	pthread_join(reader, NULL);
	EXPECT_EQ(42, g.result);
	EXPECT_EQ(0, c.result);
	smem_secret_unref(g.s);
}

/* Write callback: say we are inside, wait until the gate opens. */
static int held_write_fn(void *buf, size_t len, void *arg)
{
	struct gate *g = arg;

	lib_gate_set(&g->sync, &g->inside);
	lib_gate_wait(&g->sync, &g->open);
	seeded_fill(buf, len, 77);
	return 0;
}

static void *held_writer(void *arg)
{
	struct gate *g = arg;

	g->result = smem_secret_write(g->s, held_write_fn, g);
	lib_gate_set(&g->sync, &g->done);
	return NULL;
}

struct timed_read {
	struct smem_secret *s;
	double when;		/* inside the callback; 0: never got in */
	uint32_t seed;
	int result;
};

static int seed_fn(const void *buf, size_t len, void *arg)
{
	struct timed_read *r = arg;

	r->when = now_s();
	memcpy(&r->seed, buf, len < 4 ? len : 4);
	return 0;
}

static void *timed_reader(void *arg)
{
	struct timed_read *r = arg;

	r->result = smem_secret_read(r->s, seed_fn, r);
	return NULL;
}

/* A writer inside its callback, and a reader that came after, waiting. */
struct writer_reader {
	struct gate g;
	struct timed_read r;
	pthread_t writer, reader;
	bool ended;
};

/* Let the writer finish, and wait for both. */
static void writer_reader_end(struct writer_reader *wr)
{
	if (wr->ended)
		return;
	wr->ended = true;
	lib_gate_set(&wr->g.sync, &wr->g.open);
	pthread_join(wr->writer, NULL);
	pthread_join(wr->reader, NULL);
}

FIXTURE(writer_then_reader) {
	struct writer_reader wr;
};

FIXTURE_SETUP(writer_then_reader)
{
	struct writer_reader *wr = &self->wr;

	wr->g = (struct gate)GATE_INIT;
	wr->g.s = wr->r.s = seeded_new(100, 5);
	ASSERT_NE(NULL, wr->g.s);
	ASSERT_EQ(0, pthread_create(&wr->writer, NULL, held_writer, &wr->g));
	lib_gate_wait(&wr->g.sync, &wr->g.inside);
	ASSERT_EQ(0, pthread_create(&wr->reader, NULL, timed_reader, &wr->r));
	sleep_ms(100);
}

FIXTURE_TEARDOWN(writer_then_reader)
{
	writer_reader_end(&self->wr);
	smem_secret_unref(self->wr.g.s);
}

TEST_F(writer_then_reader, writer_excludes_readers)
{
	struct writer_reader *wr = &self->wr;
	double opened = now_s();

	writer_reader_end(wr);
	EXPECT_EQ(0, wr->g.result);
	/* The reader got in after the writer, and saw its bytes. */
	EXPECT_EQ(0, wr->r.result);
	EXPECT_LE(opened, wr->r.when);
	EXPECT_EQ(77, wr->r.seed);
}

/* The waiting reader fails at once when the secret closes. */
TEST_F(writer_then_reader, close_wakes_waiting_accessors)
{
	struct writer_reader *wr = &self->wr;

	EXPECT_EQ(-ETIMEDOUT, smem_secret_close_timeout(wr->g.s, 50));
	writer_reader_end(wr);
	EXPECT_EQ(-EBADF, wr->r.result);
	EXPECT_EQ(0, wr->r.when);
	EXPECT_EQ(0, wr->g.result);
	EXPECT_EQ(0, smem_secret_close(wr->g.s));
}

struct overlap {
	struct smem_secret *s;
	atomic_bool stop;
};

static int linger_fn(const void *buf, size_t len, void *arg)
{
	(void)buf;
	(void)len;
	(void)arg;
	sleep_ms(2);
	return 0;
}

static void *overlapping_reader(void *arg)
{
	struct overlap *o = arg;

	while (!atomic_load(&o->stop))
		smem_secret_read(o->s, linger_fn, NULL);
	return NULL;
}

/* Readers that always overlap never leave the secret empty: the writer gets in anyway. */
TEST(readers_cannot_starve_writer)
{
	enum { READERS = 4 };
	struct overlap o = { .s = seeded_new(64, 6) };
	pthread_t t[READERS];
	double start, took;
	int i;

	ASSERT_NE(NULL, o.s);
	for (i = 0; i < READERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, overlapping_reader, &o));
	sleep_ms(50);
	start = now_s();
	EXPECT_EQ(0, smem_secret_write(o.s, seeded_write_fn, (void *)8));
	took = now_s() - start;
	atomic_store(&o.stop, true);
	for (i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	EXPECT_GT(0.5, took);
	smem_secret_unref(o.s);
}

/* ---------------------------------------------------------------- stress */

#define STRESS_SLOTS	8
#define STRESS_ENCLAVES	8
#define STRESS_THREADS	16

/*
 * Shared slots, each holding one reference to a secret or an enclave.
 * Taking a reference of your own needs the slot's lock (as in any
 * program that shares refcounted objects); using it never does.
 */
struct stress {
	pthread_mutex_t lock[STRESS_SLOTS];
	struct smem_secret *slot[STRESS_SLOTS];
	pthread_mutex_t elock[STRESS_ENCLAVES];
	struct smem_enclave *enclave[STRESS_ENCLAVES];
	atomic_bool stop;
	atomic_long ops, wrong_bytes, bad_errors, closed_seen;
	atomic_long enclave_reads, rekeys, stale;
	atomic_int last_bad_error;
};

static struct smem_secret *stress_get(struct stress *st, unsigned int i)
{
	struct smem_secret *s;

	pthread_mutex_lock(&st->lock[i]);
	s = smem_secret_ref(st->slot[i]);
	pthread_mutex_unlock(&st->lock[i]);
	return s;
}

static void stress_replace(struct stress *st, unsigned int i, struct smem_secret *s)
{
	struct smem_secret *old;

	pthread_mutex_lock(&st->lock[i]);
	old = st->slot[i];
	st->slot[i] = s;
	pthread_mutex_unlock(&st->lock[i]);
	smem_secret_unref(old);
}

static void stress_result(struct stress *st, long err)
{
	if (err == -EILSEQ) {
		atomic_fetch_add(&st->wrong_bytes, 1);
	} else if (err == -EBADF) {
		atomic_fetch_add(&st->closed_seen, 1);
	} else if (err < 0 && err != -EINPROGRESS && err != -ETIMEDOUT) {
		atomic_fetch_add(&st->bad_errors, 1);
		atomic_store(&st->last_bad_error, (int)err);
	}
}

/* The enclave calls' results: any error is one (stress_enclave_op() says why). */
static void stress_enclave_result(struct stress *st, long err)
{
	if (err == -EILSEQ) {
		atomic_fetch_add(&st->wrong_bytes, 1);
	} else if (err) {
		atomic_fetch_add(&st->bad_errors, 1);
		atomic_store(&st->last_bad_error, (int)err);
	}
}

struct nested_op {
	struct smem_secret *s, *other;
	unsigned int op;
	int inner;
};

static int nested_fn(const void *buf, size_t len, void *arg)
{
	struct nested_op *n = arg;
	int err = seeded_check_fn(buf, len, NULL);

	switch (n->op) {
	case 0:		/* the same secret again */
		n->inner = smem_secret_read(n->s, seeded_check_fn, NULL);
		break;
	case 1:		/* another one */
		n->inner = n->other ? smem_secret_read(n->other, seeded_check_fn, NULL) : 0;
		break;
	default:	/* close from inside */
		n->inner = smem_secret_close(n->s);
		break;
	}
	return err ? err : seeded_check_fn(buf, len, NULL);
}

/* -------------------------------------------------- stress: enclaves */

static struct smem_enclave *stress_enclave_get(struct stress *st, unsigned int j)
{
	struct smem_enclave *e;

	pthread_mutex_lock(&st->elock[j]);
	e = smem_enclave_ref(st->enclave[j]);
	pthread_mutex_unlock(&st->elock[j]);
	return e;
}

/* Put @e in slot @j: the one there loses the slot's reference, maybe its last. */
static void stress_enclave_replace(struct stress *st, unsigned int j, struct smem_enclave *e)
{
	struct smem_enclave *old;

	pthread_mutex_lock(&st->elock[j]);
	old = st->enclave[j];
	st->enclave[j] = e;
	pthread_mutex_unlock(&st->elock[j]);
	smem_enclave_unref(old);
}

static struct smem_enclave *seeded_enclave(size_t len, uint32_t seed)
{
	struct smem_enclave *e = NULL;
	unsigned char *buf = malloc(len);

	if (buf) {
		seeded_fill(buf, len, seed);
		if (smem_enclave_new(buf, len, 0, &e))
			e = NULL;
		free(buf);
	}
	return e;
}

/* Enclave read callback: 0 when the bytes are a whole pattern, 1 when not. */
static int enclave_check_fn(const void *buf, size_t len, void *arg)
{
	(void)arg;
	return seeded_check_fn(buf, len, NULL) ? 1 : 0;
}

/*
 * An opened enclave, a new secret: its bytes checked, then in slot @i
 * (other threads read and close it there) or dropped.
 */
static long stress_opened(struct stress *st, struct smem_secret *s, unsigned int i, bool keep)
{
	long err = smem_secret_read(s, seeded_check_fn, NULL);

	if (!err && keep)
		stress_replace(st, i, s);
	else
		smem_secret_unref(s);
	return err;
}

struct nested_enclave {
	struct stress *st;
	struct smem_enclave *other;
	unsigned int i, op;
	long inner;		/* what the inner call returned, judged by the op */
};

static int nested_enclave_fn(const void *buf, size_t len, void *arg)
{
	struct nested_enclave *n = arg;
	struct smem_secret *s = NULL;

	switch (n->op) {
	case 0:		/* another enclave, or the same */
		n->inner = smem_enclave_read(n->other, enclave_check_fn, NULL);
		break;
	case 1:
		n->inner = smem_enclave_open(n->other, 0, &s);
		if (!n->inner)
			n->inner = stress_opened(n->st, s, n->i, false);
		break;
	default:	/* inside a window: refused */
		n->inner = smem_rekey() == -EDEADLK ? 0 : -EPROTO;
		break;
	}
	return enclave_check_fn(buf, len, NULL);
}

/* Export @e, import the form: 0, or -ESTALE when a rekey came between. */
static long stress_export_import(struct stress *st, struct smem_enclave *e, unsigned int j)
{
	ssize_t need = smem_enclave_export(e, NULL, 0);
	struct smem_enclave *copy = NULL;
	unsigned char *form;
	long err;

	if (need <= 0)
		return need ? need : -EPROTO;
	form = malloc((size_t)need);
	if (!form)
		return -ENOMEM;
	err = smem_enclave_export(e, form, (size_t)need);
	if (err == need)
		err = smem_enclave_import(form, (size_t)need, 0, &copy);
	else if (err >= 0)
		err = -EPROTO;
	free(form);
	if (err == -ESTALE) {
		atomic_fetch_add(&st->stale, 1);
		return 0;
	}
	if (!err)
		err = smem_enclave_read(copy, enclave_check_fn, NULL);
	if (!err)
		stress_enclave_replace(st, j, copy);
	else
		smem_enclave_unref(copy);
	return err;
}

/*
 * One call on enclave slot j (from @r) for @op in 0 .. 29, @s being the
 * secret of slot @i: 0, a negative errno, or -EILSEQ for wrong bytes.
 * What the API allows is 0 here: a seal's -EBADF (@s closed or closing),
 * an import's -ESTALE (a rekey came after the export).  Nothing else may
 * fail: no enclave is ever closed, and no smem_purge() wipes the key.
 */
static long stress_enclave_op(struct stress *st, unsigned int r, unsigned int op,
			      struct smem_secret *s, unsigned int i)
{
	unsigned int j = (r >> 4) % STRESS_ENCLAVES;
	struct smem_enclave *e = stress_enclave_get(st, j), *fresh = NULL;
	struct nested_enclave n = { .st = st, .i = i };
	struct smem_secret *opened = NULL;
	long err;

	if (op < 12) {
		err = smem_enclave_read(e, enclave_check_fn, NULL);
		atomic_fetch_add(&st->enclave_reads, 1);
	} else if (op < 17) {
		err = smem_enclave_open(e, 0, &opened);
		if (!err)
			err = stress_opened(st, opened, i, r & (1U << 16));
		atomic_fetch_add(&st->enclave_reads, 1);
	} else if (op < 21) {
		err = smem_secret_seal(s, r & (1U << 16) ? SMEM_CLOSE : 0, &fresh);
		if (!err)
			stress_enclave_replace(st, j, fresh);
		if (err == -EBADF) {
			atomic_fetch_add(&st->closed_seen, 1);
			err = 0;
		}
	} else if (op < 24) {
		fresh = seeded_enclave(4 + (r >> 12) % ((r >> 20) % 4 ? 60 : 5000), r);
		err = fresh ? 0 : -ENOMEM;
		if (fresh)
			stress_enclave_replace(st, j, fresh);
	} else if (op < 26) {
		err = smem_rekey();
		if (err >= 0) {
			atomic_fetch_add(&st->rekeys, 1);
			err = 0;
		}
	} else if (op < 28) {
		n.op = (r >> 16) % 3;
		n.other = stress_enclave_get(st, (j + 1) % STRESS_ENCLAVES);
		err = smem_enclave_read(e, nested_enclave_fn, &n);
		if (!err && n.inner)
			err = n.inner;
		smem_enclave_unref(n.other);
	} else {
		err = stress_export_import(st, e, j);
	}
	smem_enclave_unref(e);
	/* Read callbacks say 1 for wrong bytes. */
	return err > 0 ? -EILSEQ : err;
}

/* One call, on a secret (op 0 .. 99) or an enclave (100 .. 129). */
static void stress_op(struct stress *st, unsigned int *rnd)
{
	unsigned int r = rand_r(rnd), i = r % STRESS_SLOTS, op = (r >> 8) % 130;
	struct smem_secret *s = stress_get(st, i), *fresh;
	struct nested_op n = { .s = s };
	unsigned char out[64];
	size_t len;
	long err = 0;

	if (op < 45) {
		err = smem_secret_read(s, seeded_check_fn, NULL);
	} else if (op < 60) {
		err = smem_secret_write(s, seeded_write_fn, (void *)(uintptr_t)r);
	} else if (op < 68) {
		err = smem_secret_copy_out(s, 0, out, sizeof(out));
		if (err >= 4) {
			uint32_t seed;

			memcpy(&seed, out, 4);
			for (len = 4; len < (size_t)err; len++)
				if (out[len] != lib_pattern(seed, len))
					err = -EILSEQ;
		}
	} else if (op < 78) {
		n.op = (r >> 16) % 3;
		n.other = n.op == 1 ? stress_get(st, (i + 1) % STRESS_SLOTS) : NULL;
		err = smem_secret_read(s, nested_fn, &n);
		stress_result(st, n.inner);
		smem_secret_unref(n.other);
	} else if (op < 83) {
		err = smem_secret_close(s);
	} else if (op < 86) {
		err = smem_secret_close_timeout(s, (r >> 16) % 3);
	} else if (op >= 100) {
		stress_enclave_result(st, stress_enclave_op(st, r, op - 100, s, i));
	} else {
		len = 4 + (r >> 12) % ((r >> 20) % 4 ? 60 : 5000);
		fresh = seeded_new(len, r);
		if (!fresh)
			err = -ENOMEM;
		else
			stress_replace(st, i, fresh);
	}
	stress_result(st, err);
	smem_secret_unref(s);
	atomic_fetch_add(&st->ops, 1);
}

static void *stress_thread(void *arg)
{
	struct stress *st = arg;
	unsigned int rnd = (unsigned int)(uintptr_t)pthread_self() ^ (unsigned int)getpid();

	while (!atomic_load(&st->stop))
		stress_op(st, &rnd);
	return NULL;
}

/* In the child: 0, or what went wrong as the exit code. */
static int stress_run(double seconds)
{
	struct stress *st = calloc(1, sizeof(*st));
	pthread_t t[STRESS_THREADS];
	unsigned int i;

	if (!st)
		return 10;
	for (i = 0; i < STRESS_SLOTS; i++) {
		pthread_mutex_init(&st->lock[i], NULL);
		st->slot[i] = seeded_new(4 + i * 700, i);
		if (!st->slot[i])
			return 11;
	}
	for (i = 0; i < STRESS_ENCLAVES; i++) {
		pthread_mutex_init(&st->elock[i], NULL);
		st->enclave[i] = seeded_enclave(4 + i * 600, 100 + i);
		if (!st->enclave[i])
			return 13;
	}
	for (i = 0; i < STRESS_THREADS; i++)
		if (pthread_create(&t[i], NULL, stress_thread, st))
			return 12;
	sleep_ms((long)(seconds * 1000));
	atomic_store(&st->stop, true);
	for (i = 0; i < STRESS_THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < STRESS_SLOTS; i++)
		stress_replace(st, i, NULL);
	for (i = 0; i < STRESS_ENCLAVES; i++)
		stress_enclave_replace(st, i, NULL);
	printf("# stress: %ld operations, %ld saw a closed secret, %ld wrong bytes, %ld bad errors (last %d)\n",
	       (long)st->ops, (long)st->closed_seen, (long)st->wrong_bytes, (long)st->bad_errors,
	       (int)st->last_bad_error);
	printf("# stress: %ld enclave reads and opens, %ld rekeys, %ld imports stale after a rekey\n",
	       (long)st->enclave_reads, (long)st->rekeys, (long)st->stale);
	fflush(stdout);
	if (st->wrong_bytes)
		return 2;
	if (st->bad_errors)
		return 3;
	return st->ops && st->enclave_reads && st->rekeys ? 0 : 4;
}

/*
 * The watcher: the stress runs in a child, so that a signal is a result
 * (128 + signal) rather than the end of this test, and a deadlock is a
 * time-out.  One run covers every size: the slots start at 4 to 4904
 * bytes and are made again at 4 to 5003.
 */
LIB_EMPTY_FIXTURE(stress)

TEST_F_TIMEOUT(stress, sixteen_threads, 600)
{
	double seconds = lib_env_seconds("SMEM_STRESS_SECONDS", 10);
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(stress_run(seconds));
	status = wait_child_timeout(pid, (int)seconds + 60);
	EXPECT_NE(-1, status) TH_LOG("deadlock: the stress did not end");
	EXPECT_GT(128, status) TH_LOG("the stress died of signal %d", status - 128);
	EXPECT_EQ(0, status)
		TH_LOG("2: wrong bytes, 3: unexpected errors, 4: no call made, 1x: setup");
}

TEST_HARNESS_MAIN
