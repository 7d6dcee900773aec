// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The closer: one library thread that closes the pages of lingering
 * secrets when their time is up (smem_secret_linger()).
 *
 * Without protection keys a window is an mprotect() pair, and the close
 * half costs a TLB flush on every CPU that runs a thread of the process,
 * with the mmap_lock held for writing.  Two threads reading their own
 * secrets in turn pay that for each other's windows (bench/README.md,
 * "Two threads").  A secret given a linger keeps its pages readable after
 * its last reader leaves, up to its linger; a window that opens before
 * then costs no system call, and the closer closes the pages once for all
 * the windows of that time.
 *
 * Lock rules: linger_lock protects the queue, each node's links and
 * deadline, and the closer's state.  secret.c sets its ST_LINGER bit only
 * under the lock (smem_linger_arm_locked()), so a lingering secret is
 * always queued; anyone may clear the bit (a reader coming back, a
 * writer), and the closer then drops the node at its next pass.  Nothing
 * under the lock waits on a secret or changes protections: the closer
 * takes a secret's pages over under the lock (ST_BUSY) and closes them
 * after dropping it, and a close finishing under the lock could not take
 * it again to unqueue its node (smem_linger_disarm()).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

static pthread_mutex_t linger_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closer_cond;
static bool closer_cond_ready;		/* closer_cond is CLOCK_MONOTONIC */
static enum {
	CLOSER_NONE,			/* in this process: also in a forked child */
	CLOSER_STARTING,		/* created, not running yet */
	CLOSER_RUNNING,
} closer_state;
static uint64_t closer_wakes_at;	/* the deadline the closer sleeps until */
static struct smem_linger *queue;

uint64_t smem_linger_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000U + (uint64_t)ts.tv_nsec;
}

void smem_linger_lock(void)
{
	pthread_mutex_lock(&linger_lock);
}

void smem_linger_unlock(void)
{
	pthread_mutex_unlock(&linger_lock);
}

static void unlink_node(struct smem_linger *l)
{
	*l->pprev = l->next;
	if (l->next)
		l->next->pprev = l->pprev;
	l->pprev = NULL;
}

static void sleep_until(uint64_t deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000U),
		.tv_nsec = (long)(deadline % 1000000000U),
	};

	closer_wakes_at = deadline;
	if (deadline == UINT64_MAX)
		pthread_cond_wait(&closer_cond, &linger_lock);
	else
		pthread_cond_timedwait(&closer_cond, &linger_lock, &ts);
	/* Awake: arming needs no signal until it sleeps again. */
	closer_wakes_at = 0;
}

/*
 * One pass over the queue, under the lock: take over the secrets whose
 * time is up, drop the nodes of those no longer lingering.  Returns the
 * taken ones, linked through ->next, and the next deadline in @next.
 */
static struct smem_linger *collect_expired(uint64_t now, uint64_t *next)
{
	struct smem_linger *l, *following, *expired = NULL;

	*next = UINT64_MAX;
	for (l = queue; l; l = following) {
		following = l->next;
		if (smem_secret_linger_pending(l)) {
			if (l->deadline > now) {
				if (l->deadline < *next)
					*next = l->deadline;
				continue;
			}
			if (!smem_secret_linger_take(l))
				continue;	/* a reader came back meanwhile */
			unlink_node(l);
			l->next = expired;
			expired = l;
			continue;
		}
		unlink_node(l);
	}
	return expired;
}

static void *closer_main(void *arg)
{
	struct smem_linger *expired, *l;
	uint64_t next;

	(void)arg;
	smem_linger_lock();
	closer_state = CLOSER_RUNNING;
	pthread_cond_broadcast(&closer_cond);
	for (;;) {
		expired = collect_expired(smem_linger_now(), &next);
		if (!expired) {
			sleep_until(next);
			continue;
		}
		smem_linger_unlock();
		/* Each is ST_BUSY now: nobody frees it before it is closed. */
		while (expired) {
			l = expired;
			expired = l->next;
			smem_secret_linger_close(l);
		}
		smem_linger_lock();
	}
	return NULL;
}

/*
 * Under the lock.  The closer takes no signal meant for the process: it
 * starts with every signal blocked.  It is waited for until it runs, so
 * that no fork() meets it half made: a thread being set up may hold locks
 * of a runtime that a child would inherit held (the sanitizers' allocator,
 * which is not fork-safe).  The lock is let go meanwhile, and a second
 * caller waits for the same thread.
 */
static int start_closer(void)
{
	pthread_condattr_t attr;
	sigset_t all, old;
	pthread_t thread;
	int err;

	if (closer_state == CLOSER_STARTING)
		goto wait_running;
	if (!closer_cond_ready) {
		err = pthread_condattr_init(&attr);
		if (err)
			return -err;
		err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!err)
			err = pthread_cond_init(&closer_cond, &attr);
		pthread_condattr_destroy(&attr);
		if (err)
			return -err;
		closer_cond_ready = true;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&thread, NULL, closer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	pthread_detach(thread);
	closer_state = CLOSER_STARTING;
wait_running:
	while (closer_state != CLOSER_RUNNING)
		pthread_cond_wait(&closer_cond, &linger_lock);
	return 0;
}

int smem_linger_arm_locked(struct smem_linger *l, uint64_t deadline)
{
	int err;

	if (closer_state != CLOSER_RUNNING) {
		err = start_closer();
		if (err)
			return err;
	}
	l->deadline = deadline;
	l->armed = true;
	if (!l->pprev) {
		l->next = queue;
		l->pprev = &queue;
		if (queue)
			queue->pprev = &l->next;
		queue = l;
	}
	if (deadline < closer_wakes_at)
		pthread_cond_signal(&closer_cond);
	return 0;
}

void smem_linger_disarm(struct smem_linger *l)
{
	if (!l->armed)
		return;
	smem_linger_lock();
	if (l->pprev)
		unlink_node(l);
	smem_linger_unlock();
}

/*
 * A fork in the middle of a pass would give the child the lock held by a
 * thread it does not have; and the child has no closer, and none of the
 * queued secrets (the pages are not inherited).
 */
void smem_linger_fork_prepare(void)
{
	smem_linger_lock();
}

void smem_linger_fork_parent(void)
{
	smem_linger_unlock();
}

void smem_linger_fork_child(void)
{
	queue = NULL;
	closer_state = CLOSER_NONE;
	closer_wakes_at = 0;
	/* The parent's closer may have been waiting on it: made again. */
	closer_cond_ready = false;
	smem_linger_unlock();
}
