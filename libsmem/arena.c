// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The arena: small secrets share pages, many to a page, but only where
 * protection keys isolate them.  Without keys the protection of a page is
 * the unit of access, so a reader of one secret would open its neighbours
 * to every thread; with keys a page is never opened to anyone but the
 * thread in a window, whichever slot it reads.
 *
 * Slots come in power-of-two size classes from MIN_SLOT to
 * SMEM_ARENA_MAX_SLOT bytes (the caller's length includes its canaries).
 * Every chunk is tagged with one protection key and holds only secrets of
 * that key, so chunks are kept per (size class, key): a window on a
 * secret opens its key, and with it the other slots of the chunk, which
 * share the key anyway.  A chunk is one region (one /dev/smem object or
 * one mapping, with guard pages) of max(page, 8 slots): with up to
 * SMEM_PKEYS_MAX keys in use, a class costs a few pages per key rather
 * than a large chunk per key.  Each class has a lock, for all its keys,
 * taken only to create and close secrets, never to access them.  A
 * (class, key) list keeps its chunks with a free slot before the full
 * ones, so allocation looks at the first chunk only; a chunk that empties
 * is given back unless it is the last of its list.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

#define MIN_SLOT	64	/* 32 bytes of canaries and at least 32 of secret */
#define NR_CLASSES	6	/* 64 .. 2048 */
#define MIN_CHUNK_SLOTS	8
/* Keys are 0 .. 15 on x86 (key 0 is the default one, never the library's). */
#define NR_KEYS		16

_Static_assert(MIN_SLOT << (NR_CLASSES - 1) == SMEM_ARENA_MAX_SLOT, "size classes");
_Static_assert(SMEM_PKEYS_MAX < NR_KEYS, "keys");

struct size_class;

struct smem_chunk {
	struct smem_region region;
	struct smem_chunk *prev, *next;		/* in its list, free slots first */
	struct size_class *class;
	int pkey;
	unsigned int nr_slots, used;
	uint64_t free_map[];			/* a set bit is a free slot */
};

struct chunk_list {
	struct smem_chunk *first, *last;
};

struct size_class {
	pthread_mutex_t lock;
	size_t slot_size;
	struct chunk_list keys[NR_KEYS];
};

static struct size_class classes[NR_CLASSES] = {
#define CLASS(i) [i] = { .lock = PTHREAD_MUTEX_INITIALIZER, .slot_size = (size_t)MIN_SLOT << (i) }
	CLASS(0), CLASS(1), CLASS(2), CLASS(3), CLASS(4), CLASS(5),
#undef CLASS
};

static struct size_class *class_of(size_t len)
{
	unsigned int i = 0;

	while (classes[i].slot_size < len)
		i++;
	return &classes[i];
}

static void unlink_chunk(struct chunk_list *c, struct smem_chunk *ch)
{
	*(ch->prev ? &ch->prev->next : &c->first) = ch->next;
	*(ch->next ? &ch->next->prev : &c->last) = ch->prev;
}

static void push_front(struct chunk_list *c, struct smem_chunk *ch)
{
	ch->prev = NULL;
	ch->next = c->first;
	*(c->first ? &c->first->prev : &c->last) = ch;
	c->first = ch;
}

static void push_back(struct chunk_list *c, struct smem_chunk *ch)
{
	ch->next = NULL;
	ch->prev = c->last;
	*(c->last ? &c->last->next : &c->first) = ch;
	c->last = ch;
}

static int chunk_new(const struct smem_context *ctx, int pkey, struct size_class *c,
		     struct smem_chunk **ret)
{
	size_t bytes = MIN_CHUNK_SLOTS * c->slot_size;
	unsigned int i, nr_slots;
	struct smem_chunk *ch;
	int err;

	if (bytes < ctx->page_size)
		bytes = ctx->page_size;
	nr_slots = (unsigned int)(bytes / c->slot_size);
	ch = calloc(1, sizeof(*ch) + (nr_slots + 63) / 64 * sizeof(uint64_t));
	if (!ch)
		return -ENOMEM;
	err = smem_region_create(&ch->region, bytes, ctx->backend, pkey, false);
	if (err) {
		free(ch);
		return err;
	}
	ch->class = c;
	ch->pkey = pkey;
	ch->nr_slots = nr_slots;
	for (i = 0; i < nr_slots; i++)
		ch->free_map[i / 64] |= 1ULL << (i % 64);
	*ret = ch;
	return 0;
}

int smem_arena_alloc(const struct smem_context *ctx, int pkey, size_t len,
		     struct smem_chunk **chunk, unsigned char **slot)
{
	struct size_class *c;
	struct chunk_list *list;
	struct smem_chunk *ch;
	unsigned int w, bit;
	int err = 0;

	/* Only keys isolate the slots of a page from each other. */
	if (pkey <= 0 || pkey >= NR_KEYS || !len || len > SMEM_ARENA_MAX_SLOT)
		return -EINVAL;
	c = class_of(len);
	list = &c->keys[pkey];
	pthread_mutex_lock(&c->lock);
	ch = list->first;
	if (!ch || ch->used == ch->nr_slots) {
		err = chunk_new(ctx, pkey, c, &ch);
		if (err)
			goto out;
		push_front(list, ch);
	}
	for (w = 0; !ch->free_map[w]; w++)
		;
	bit = (unsigned int)__builtin_ctzll(ch->free_map[w]);
	ch->free_map[w] &= ~(1ULL << bit);
	if (++ch->used == ch->nr_slots) {
		unlink_chunk(list, ch);
		push_back(list, ch);
	}
	*chunk = ch;
	*slot = ch->region.base + (w * 64 + bit) * c->slot_size;
out:
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* @slot: anywhere in the slot (its first byte, or the secret after a canary). */
void smem_arena_free(struct smem_chunk *ch, unsigned char *slot)
{
	struct size_class *c = ch->class;
	struct chunk_list *list = &c->keys[ch->pkey];
	unsigned int i = (unsigned int)((size_t)(slot - ch->region.base) / c->slot_size);

	pthread_mutex_lock(&c->lock);
	ch->free_map[i / 64] |= 1ULL << (i % 64);
	if (ch->used-- == ch->nr_slots) {
		unlink_chunk(list, ch);
		push_front(list, ch);
	}
	if (!ch->used && (ch->prev || ch->next)) {
		unlink_chunk(list, ch);
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
	unsigned int i, k;

	for (i = 0; i < NR_CLASSES; i++) {
		for (k = 0; k < NR_KEYS; k++) {
			for (ch = classes[i].keys[k].first; ch; ch = next) {
				next = ch->next;
				free(ch);
			}
			classes[i].keys[k].first = classes[i].keys[k].last = NULL;
		}
		pthread_mutex_unlock(&classes[i].lock);
	}
}
