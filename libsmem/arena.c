// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The arena: small secrets share pages, many to a page, but only where
 * protection keys isolate them.  Without keys the protection of a page is
 * the unit of access, so a reader of one secret would open its neighbours
 * to every thread; with keys a page is never opened to anyone but the
 * thread in a window, whichever slot it reads.
 *
 * Slots come in power-of-two size classes from 32 to SMEM_ARENA_MAX_SLOT
 * bytes, inside chunks of CHUNK_BYTES (one region, so one /dev/smem object
 * or one mapping each, with guard pages).  Each class has a lock, taken
 * only to create and close secrets, never to access them.  A class keeps
 * its chunks with a free slot before the full ones, so allocation looks
 * at the first chunk only; a chunk that empties is given back unless it
 * is the last of its class.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

#define CHUNK_BYTES	(64 * 1024)
#define MIN_SLOT	32
#define NR_CLASSES	7	/* 32 .. 2048 */
#define MAP_WORDS	(CHUNK_BYTES / MIN_SLOT / 64)

_Static_assert(MIN_SLOT << (NR_CLASSES - 1) == SMEM_ARENA_MAX_SLOT, "size classes");

struct size_class;

struct smem_chunk {
	struct smem_region region;
	struct smem_chunk *prev, *next;		/* in the class, free slots first */
	struct size_class *class;
	unsigned int nr_slots, used;
	uint64_t free_map[MAP_WORDS];		/* a set bit is a free slot */
};

struct size_class {
	pthread_mutex_t lock;
	size_t slot_size;
	struct smem_chunk *first, *last;
};

static struct size_class classes[NR_CLASSES] = {
#define CLASS(i) [i] = { PTHREAD_MUTEX_INITIALIZER, (size_t)MIN_SLOT << (i), NULL, NULL }
	CLASS(0), CLASS(1), CLASS(2), CLASS(3), CLASS(4), CLASS(5), CLASS(6),
#undef CLASS
};

static struct size_class *class_of(size_t len)
{
	unsigned int i = 0;

	while (classes[i].slot_size < len)
		i++;
	return &classes[i];
}

static void unlink_chunk(struct size_class *c, struct smem_chunk *ch)
{
	*(ch->prev ? &ch->prev->next : &c->first) = ch->next;
	*(ch->next ? &ch->next->prev : &c->last) = ch->prev;
}

static void push_front(struct size_class *c, struct smem_chunk *ch)
{
	ch->prev = NULL;
	ch->next = c->first;
	*(c->first ? &c->first->prev : &c->last) = ch;
	c->first = ch;
}

static void push_back(struct size_class *c, struct smem_chunk *ch)
{
	ch->next = NULL;
	ch->prev = c->last;
	*(c->last ? &c->last->next : &c->first) = ch;
	c->last = ch;
}

static int chunk_new(const struct smem_context *ctx, int pkey, struct size_class *c,
		     struct smem_chunk **ret)
{
	size_t bytes = (CHUNK_BYTES + ctx->page_size - 1) & ~(ctx->page_size - 1);
	struct smem_chunk *ch;
	unsigned int i;
	int err;

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	err = smem_region_create(&ch->region, bytes, ctx->backend, pkey);
	if (err) {
		free(ch);
		return err;
	}
	ch->class = c;
	/* Pages larger than a chunk: the slots fill its first CHUNK_BYTES. */
	ch->nr_slots = CHUNK_BYTES / c->slot_size;
	for (i = 0; i < ch->nr_slots; i++)
		ch->free_map[i / 64] |= 1ULL << (i % 64);
	*ret = ch;
	return 0;
}

int smem_arena_alloc(const struct smem_context *ctx, int pkey, size_t len,
		     struct smem_chunk **chunk, unsigned char **slot)
{
	struct size_class *c = class_of(len);
	struct smem_chunk *ch;
	unsigned int w, bit;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	ch = c->first;
	if (!ch || ch->used == ch->nr_slots) {
		err = chunk_new(ctx, pkey, c, &ch);
		if (err)
			goto out;
		push_front(c, ch);
	}
	for (w = 0; !ch->free_map[w]; w++)
		;
	bit = (unsigned int)__builtin_ctzll(ch->free_map[w]);
	ch->free_map[w] &= ~(1ULL << bit);
	if (++ch->used == ch->nr_slots) {
		unlink_chunk(c, ch);
		push_back(c, ch);
	}
	*chunk = ch;
	*slot = ch->region.base + (w * 64 + bit) * c->slot_size;
out:
	pthread_mutex_unlock(&c->lock);
	return err;
}

void smem_arena_free(struct smem_chunk *ch, unsigned char *slot)
{
	struct size_class *c = ch->class;
	unsigned int i = (unsigned int)((size_t)(slot - ch->region.base) / c->slot_size);

	pthread_mutex_lock(&c->lock);
	ch->free_map[i / 64] |= 1ULL << (i % 64);
	if (ch->used-- == ch->nr_slots) {
		unlink_chunk(c, ch);
		push_front(c, ch);
	}
	if (!ch->used && (ch->prev || ch->next)) {
		unlink_chunk(c, ch);
		smem_region_destroy(&ch->region);
		free(ch);
	}
	pthread_mutex_unlock(&c->lock);
}

void smem_arena_fork_prepare(void)
{
	unsigned int i;

	for (i = 0; i < NR_CLASSES; i++)
		pthread_mutex_lock(&classes[i].lock);
}

void smem_arena_fork_parent(void)
{
	unsigned int i;

	for (i = 0; i < NR_CLASSES; i++)
		pthread_mutex_unlock(&classes[i].lock);
}

/* The regions are gone already (smem_region_fork_child); forget the chunks. */
void smem_arena_fork_child(void)
{
	struct smem_chunk *ch, *next;
	unsigned int i;

	for (i = 0; i < NR_CLASSES; i++) {
		for (ch = classes[i].first; ch; ch = next) {
			next = ch->next;
			free(ch);
		}
		classes[i].first = classes[i].last = NULL;
		pthread_mutex_unlock(&classes[i].lock);
	}
}
