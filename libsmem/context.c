// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The process-wide context: which backend, which guarantees, which
 * protection key.  Chosen once, at the first call that needs it, and never
 * changed afterwards, so that every secret of a process has the same
 * properties and smem_info() describes all of them.
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

static pthread_once_t context_once = PTHREAD_ONCE_INIT;
static struct smem_context context;
static int context_error;
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
	smem_arena_fork_prepare();
	smem_region_fork_prepare();
}

static void fork_parent(void)
{
	smem_region_fork_parent();
	smem_arena_fork_parent();
}

static void fork_child(void)
{
	atomic_fetch_add_explicit(&smem_fork_generation, 1, memory_order_relaxed);
	smem_region_fork_child();
	smem_arena_fork_child();
}

static int choose_backend(void)
{
	const char *forced = secure_getenv("SMEM_BACKEND");
	size_t i;

	if (forced && !*forced)
		forced = NULL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct smem_backend_desc *b = backends[i];

		if (forced && strcmp(forced, b->name))
			continue;
		if (!b->probe(&context.guarantees)) {
			context.backend = b;
			return 0;
		}
		if (forced)
			return -ENODEV;
	}
	/* An unknown name; without one, mlock always probes fine. */
	return forced ? -EINVAL : -ENODEV;
}

static bool pkeys_wanted(void)
{
	const char *off = secure_getenv("SMEM_NO_PKEYS");

	return !off || strcmp(off, "1");
}

static void context_init(void)
{
	int err;

	context.page_size = (size_t)sysconf(_SC_PAGESIZE);
	context.pkey = -1;
	err = choose_backend();
	if (!err)
		err = smem_fill_random(context.canary, sizeof(context.canary));
	if (!err)
		err = -pthread_atfork(fork_prepare, fork_parent, fork_child);
	if (!err && pkeys_wanted()) {
		int key = smem_pkey_setup(context.backend);

		if (key >= 0) {
			context.pkey = key;
			context.guarantees |= SMEM_G_THREAD_WINDOW;
		}
	}
	context_error = err;
}

int smem_context_get(const struct smem_context **ret)
{
	pthread_once(&context_once, context_init);
	if (context_error)
		return context_error;
	*ret = &context;
	return 0;
}

unsigned int smem_context_required(void)
{
	return atomic_load_explicit(&required_guarantees, memory_order_relaxed);
}

SMEM_EXPORT int smem_require(unsigned int guarantees)
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

SMEM_EXPORT int smem_info(struct smem_info *ret)
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
