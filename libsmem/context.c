// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The process-wide context: which backend, which guarantees, which
 * protection keys.  Chosen at the first call that needs it and never
 * changed afterwards, so that every secret of a process has the same
 * properties and smem_info() describes all of them.
 *
 * "Absent" and "failed" are told apart.  A backend that is not there
 * (no /dev/smem, no memfd_secret(2): its probe says -ENODEV) is skipped
 * for the next one, and protection keys that are not there (-ENOTSUP)
 * leave the process without windows.  Anything else (no descriptor left,
 * no memory, permission denied, over RLIMIT_MEMLOCK) is a failure: it is
 * returned to the caller and nothing is kept, so the next call tries
 * again from the start.  A transient error at first use must never settle
 * the process on a weaker backend, or without keys, for good; which is
 * why this is not pthread_once(), which would keep the first outcome.
 * Once set up, the context is published with one release store and read
 * with one acquire load, without a lock.
 *
 * SMEM_BACKEND=kmod|memfd_secret|mlock forces a backend; when it is not
 * available every call that needs the context fails with -ENODEV rather
 * than quietly giving weaker memory.  SMEM_NO_PKEYS=1 turns protection keys
 * off.  Both are read with secure_getenv(): a set-user-ID program cannot
 * be talked into weaker memory through its environment.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "internal.h"

_Atomic unsigned int smem_fork_generation;

/*
 * Taken only until the context is published, and by the fork handlers (a
 * child must not inherit it locked by a thread it does not have).
 */
static pthread_mutex_t context_lock = PTHREAD_MUTEX_INITIALIZER;
static struct smem_context context;
static const struct smem_context *_Atomic published;
static int atfork_error = -EAGAIN;		/* not registered yet */
static _Atomic unsigned int required_guarantees;

static const struct smem_backend_desc *const backends[] = {
	&smem_backend_kmod,		/* strongest first */
	&smem_backend_memfd_secret,
	&smem_backend_mlock,
};

int smem_fill_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fork_prepare(void)
{
	smem_key_fork_prepare();
	smem_enclave_fork_prepare();
	pthread_mutex_lock(&context_lock);
	smem_arena_fork_prepare();
	smem_region_fork_prepare();
	smem_linger_fork_prepare();
}

static void fork_parent(void)
{
	smem_linger_fork_parent();
	smem_region_fork_parent();
	smem_arena_fork_parent();
	pthread_mutex_unlock(&context_lock);
	smem_enclave_fork_parent();
	smem_key_fork_parent();
}

static void fork_child(void)
{
	atomic_fetch_add_explicit(&smem_fork_generation, 1, memory_order_relaxed);
	smem_linger_fork_child();
	smem_region_fork_child();
	smem_arena_fork_child();
	smem_pkey_fork_child();
	pthread_mutex_unlock(&context_lock);
	smem_enclave_fork_child();
	smem_key_fork_child();
}

/*
 * The fork handlers are registered when the library is loaded, not at
 * first use: registered under context_lock, a fork in the middle of it
 * would give the child the lock held by a thread it does not have.  If
 * that failed (no memory), the first use tries again under the lock.
 */
__attribute__((constructor)) static void register_fork_handlers(void)
{
	atfork_error = -pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/*
 * The first backend, in order of strength, that is there: 0, -ENODEV
 * when none is (or the forced one is not), -EINVAL for an unknown forced
 * name, or the failure of a backend that is there but could not be
 * checked.
 */
static int choose_backend(void)
{
	const char *forced = secure_getenv("SMEM_BACKEND");
	size_t i;
	int err;

	if (forced && !*forced)
		forced = NULL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct smem_backend_desc *b = backends[i];

		if (forced && strcmp(forced, b->name))
			continue;
		err = b->probe(&context.guarantees);
		if (!err) {
			context.backend = b;
			return 0;
		}
		if (forced || err != -ENODEV)
			return err;
	}
	/* An unknown name; without one, mlock always probes fine. */
	return forced ? -EINVAL : -ENODEV;
}

static bool pkeys_wanted(void)
{
	const char *off = secure_getenv("SMEM_NO_PKEYS");

	return !off || strcmp(off, "1");
}

/* Under context_lock: set up @context, or fail and keep nothing. */
static int context_init(void)
{
	int err, key;

	context.page_size = (size_t)sysconf(_SC_PAGESIZE);
	context.pkey = -1;
	if (atfork_error)
		atfork_error = -pthread_atfork(fork_prepare, fork_parent, fork_child);
	err = atfork_error;
	if (!err)
		err = choose_backend();
	if (!err)
		err = smem_fill_random(context.canary, sizeof(context.canary));
	if (err || !pkeys_wanted())
		return err;
	key = smem_pkey_setup(context.backend);
	if (key == -ENOTSUP)
		return 0;
	if (key < 0)
		return key;
	context.pkey = key;
	context.guarantees |= SMEM_G_THREAD_WINDOW;
	return 0;
}

int smem_context_get(const struct smem_context **ret)
{
	const struct smem_context *ctx;
	int cancel_state, err = 0;

	ctx = atomic_load_explicit(&published, memory_order_acquire);
	if (ctx) {
		*ret = ctx;
		return 0;
	}
	/* Cancelled in open() or getrandom() with the lock held: no more forks. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	pthread_mutex_lock(&context_lock);
	if (!atomic_load_explicit(&published, memory_order_relaxed)) {
		err = context_init();
		if (!err)
			atomic_store_explicit(&published, &context, memory_order_release);
	}
	pthread_mutex_unlock(&context_lock);
	pthread_setcancelstate(cancel_state, NULL);
	if (!err)
		*ret = &context;
	return err;
}

unsigned int smem_context_required(void)
{
	return atomic_load_explicit(&required_guarantees, memory_order_relaxed);
}

/* errno is the caller's: every public call leaves it as it was. */
static int require(unsigned int guarantees)
{
	const struct smem_context *ctx;
	int err;

	if (guarantees & ~SMEM_ALL_GUARANTEES)
		return -EINVAL;
	err = smem_context_get(&ctx);
	if (err)
		return err;
	if (guarantees & ~ctx->guarantees)
		return -ENOTSUP;
	atomic_fetch_or_explicit(&required_guarantees, guarantees, memory_order_relaxed);
	return 0;
}

SMEM_EXPORT int smem_require(unsigned int guarantees)
{
	int saved_errno = errno, ret;

	ret = require(guarantees);
	errno = saved_errno;
	return ret;
}

static int info(struct smem_info *ret)
{
	const struct smem_context *ctx;
	int err;

	if (!ret)
		return -EINVAL;
	err = smem_context_get(&ctx);
	if (err)
		return err;
	memset(ret, 0, sizeof(*ret));
	ret->backend = ctx->backend->id;
	ret->backend_name = ctx->backend->name;
	ret->guarantees = ctx->guarantees;
	ret->required = smem_context_required();
	ret->page_size = ctx->page_size;
	return 0;
}

SMEM_EXPORT int smem_info(struct smem_info *ret)
{
	int saved_errno = errno, err;

	err = info(ret);
	errno = saved_errno;
	return err;
}
