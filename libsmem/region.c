// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Regions: page ranges from a backend between two guard pages.
 *
 * Every live region is in a registry so that the child handler of
 * pthread_atfork() can unmap and close what the child inherited: with
 * MADV_WIPEONFORK the child still has (zeroed) anonymous pages, the guard
 * pages are ordinary mappings, and a /dev/smem descriptor would let the
 * child map the parent's object again.  Dropping them right after fork,
 * before the child runs any code of its own, is the only moment when the
 * addresses and descriptor numbers are known to be still ours.
 *
 * A region is not in the registry from the first moment it exists: the
 * backend maps it, then marks it (MADV_DONTFORK, MADV_WIPEONFORK) or opens
 * /dev/smem and allocates, and only then is it registered.  A fork in
 * between gave the child a shared mapping the child handler did not know
 * about, into which the parent then copied the key, or a descriptor the
 * child could map the object with.  So the making of a region, from
 * before its reservation until it is registered, and its unmaking, from
 * its unregistering until it is unmapped and its descriptor closed, hold
 * the fork block shared, and the prepare handler takes it exclusive: a
 * fork waits for regions under way, and none starts during a fork.
 *
 * smem_purge() walks the registry too, from a signal handler maybe, so
 * without a lock.  Invariants for that walker:
 *  - it follows ->next only; every ->next is a valid region or a list
 *    head at every moment (a region is complete before the release store
 *    that links it in, and unlinking one changes its predecessor's ->next
 *    in a single store);
 *  - an unlinked region is not unmapped, and its memory not given back,
 *    while a walk that may still be on it runs: region_drop() unlinks,
 *    then waits until no walk is in progress (purgers, seq_cst on both
 *    sides: either the walker's increment comes first and the dropper
 *    sees it, or the unlink comes first and the walker never reaches the
 *    region);
 *  - imports (smem_region_register() from outside) are on a list of their
 *    own that the walker skips: they are sealed read-only, and writing
 *    them would fault rather than wipe.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/*
 * The fork block: a count of the threads making or unmaking a region, and
 * a fork that waits for it to drop to zero with fork_lock held, which it
 * keeps across fork().  A fork pending goes first, so that a stream of new
 * secrets cannot hold it off; which is why no thread takes the block
 * twice (a waiting fork would deadlock it).  Not a pthread rwlock: the
 * child must release what the prepare handler took, and glibc knows an
 * rwlock's writer by a thread ID the child's thread does not have, while
 * a normal mutex can be unlocked by the child (as the thread sanitizer
 * expects, too).
 */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fork_cond = PTHREAD_COND_INITIALIZER;
static unsigned int fork_blockers;	/* under fork_lock */
static unsigned int fork_pending;	/* forks waiting; under fork_lock */
/* The list itself, between the threads that hold the fork block shared. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smem_region registry = { .prev = &registry, .next = &registry };
/* Imported, read-only regions: dropped after fork, never purged. */
static struct smem_region imported = { .prev = &imported, .next = &imported };
/* Walks of smem_region_purge_walk() in progress; a futex. */
static _Atomic unsigned int purgers;

/*
 * A thread cancelled at open(), close() or getrandom() while it holds the
 * block would hold off every fork for good.
 */
int smem_fork_block(void)
{
	int cancel_state;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	pthread_mutex_lock(&fork_lock);
	while (fork_pending)
		pthread_cond_wait(&fork_cond, &fork_lock);
	fork_blockers++;
	pthread_mutex_unlock(&fork_lock);
	return cancel_state;
}

void smem_fork_unblock(int block)
{
	pthread_mutex_lock(&fork_lock);
	if (!--fork_blockers && fork_pending)
		pthread_cond_broadcast(&fork_cond);
	pthread_mutex_unlock(&fork_lock);
	pthread_setcancelstate(block, NULL);
}

static size_t guard_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

int smem_region_reserve(struct smem_region *r, size_t size)
{
	size_t guard = guard_size();
	unsigned char *map;

	map = mmap(NULL, size + 2 * guard, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	r->prev = r->next = NULL;
	r->base = map + guard;
	r->size = size;
	r->fd = -1;
	return 0;
}

void smem_region_unmap(struct smem_region *r)
{
	size_t guard = guard_size();

	munmap(r->base - guard, r->size + 2 * guard);
	if (r->fd >= 0)
		close(r->fd);
}

/* Complete before the walker can reach it: the link is a release store. */
static void list_add(struct smem_region *head, struct smem_region *r)
{
	pthread_mutex_lock(&registry_lock);
	r->next = head;
	r->prev = head->prev;
	__atomic_store_n(&head->prev->next, r, __ATOMIC_RELEASE);
	head->prev = r;
	pthread_mutex_unlock(&registry_lock);
}

/* From outside this file only for imports: see "imported" above. */
void smem_region_register(struct smem_region *r)
{
	list_add(&imported, r);
}

int smem_region_tag(struct smem_region *r, int pkey, int prot)
{
	return pkey_mprotect(r->base, r->size, prot, pkey) ? -errno : 0;
}

int smem_region_create(struct smem_region *r, size_t size,
		       const struct smem_backend_desc *backend, int pkey, bool keep_fd)
{
	int block, err;

	block = smem_fork_block();
	err = smem_region_reserve(r, size);
	if (err)
		goto out;
	err = backend->map(r);
	if (!err && pkey >= 0)
		err = smem_region_tag(r, pkey, PROT_READ | PROT_WRITE);
	/*
	 * The mapping holds the object: a descriptor per secret would cap
	 * the secrets of a process at RLIMIT_NOFILE.
	 */
	if (!err && !keep_fd && r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	if (err)
		smem_region_unmap(r);
	else
		list_add(&registry, r);
out:
	smem_fork_unblock(block);
	return err;
}

/*
 * After unlinking a region, before unmapping it: a walk that started
 * before the unlink may be on it.  Walks take no lock and are short.
 */
static void purge_wait(void)
{
	unsigned int n;

	while ((n = atomic_load_explicit(&purgers, memory_order_seq_cst)))
		syscall(SYS_futex, &purgers, FUTEX_WAIT_PRIVATE, n, NULL, NULL, 0);
}

int smem_region_purge_walk(bool (*fn)(struct smem_region *r, void *arg), void *arg)
{
	struct smem_region *r;
	int n = 0;

	atomic_fetch_add_explicit(&purgers, 1, memory_order_seq_cst);
	for (r = __atomic_load_n(&registry.next, __ATOMIC_SEQ_CST); r != &registry;
	     r = __atomic_load_n(&r->next, __ATOMIC_SEQ_CST))
		n += fn(r, arg);
	if (atomic_fetch_sub_explicit(&purgers, 1, memory_order_seq_cst) == 1)
		syscall(SYS_futex, &purgers, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	return n;
}

static int region_drop(struct smem_region *r, bool keep_fd)
{
	int fd = keep_fd ? r->fd : -1, block;

	block = smem_fork_block();
	pthread_mutex_lock(&registry_lock);
	__atomic_store_n(&r->prev->next, r->next, __ATOMIC_SEQ_CST);
	r->next->prev = r->prev;
	pthread_mutex_unlock(&registry_lock);
	purge_wait();
	if (keep_fd)
		r->fd = -1;
	smem_region_unmap(r);
	smem_fork_unblock(block);
	return fd;
}

void smem_region_destroy(struct smem_region *r)
{
	region_drop(r, false);
}

int smem_region_release(struct smem_region *r)
{
	return region_drop(r, true);
}

int smem_region_mprotect(struct smem_region *r, unsigned int prot)
{
	static const int page_prot[] = {
		[SMEM_PROT_NONE] = PROT_NONE,
		[SMEM_PROT_READ] = PROT_READ,
		[SMEM_PROT_READWRITE] = PROT_READ | PROT_WRITE,
	};

	return mprotect(r->base, r->size, page_prot[prot]) ? -errno : 0;
}

/* Nobody holds registry_lock meanwhile: only holders of the block take it. */
void smem_region_fork_prepare(void)
{
	pthread_mutex_lock(&fork_lock);
	fork_pending++;
	while (fork_blockers)
		pthread_cond_wait(&fork_cond, &fork_lock);
	/* fork_lock stays held: no region starts until the fork is over. */
}

void smem_region_fork_parent(void)
{
	if (!--fork_pending)
		pthread_cond_broadcast(&fork_cond);
	pthread_mutex_unlock(&fork_lock);
}

static void drop_all(struct smem_region *head)
{
	struct smem_region *r, *next;

	for (r = head->next; r != head; r = next) {
		next = r->next;
		smem_region_unmap(r);
	}
	head->prev = head->next = head;
}

void smem_region_fork_child(void)
{
	drop_all(&registry);
	drop_all(&imported);
	/* A walk of the parent's in another thread did not come along. */
	atomic_store_explicit(&purgers, 0, memory_order_relaxed);
	/*
	 * Threads of the parent that waited on fork_cond are not here: a
	 * condition variable that counts them would never settle.
	 */
	fork_pending = 0;
	fork_cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	pthread_mutex_unlock(&fork_lock);
}
