/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libsmem: secrets in memory that nothing but the owning code can read.
 *
 * Every call returns 0 (or a count) on success and a negative errno on
 * failure; output parameters come last; unref accepts NULL.  The library
 * installs no signal handler and never logs.
 */
#ifndef SMEM_H
#define SMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct smem_secret;	/* opaque, reference counted, safe to share between threads */

typedef int (*smem_read_fn)(const void *buf, size_t len, void *arg);
typedef int (*smem_write_fn)(void *buf, size_t len, void *arg);

/* Backends (struct smem_info.backend). */
enum smem_backend {
	SMEM_BACKEND_KMOD = 1,		/* /dev/smem */
	SMEM_BACKEND_MEMFD_SECRET = 2,	/* memfd_secret(2) */
	SMEM_BACKEND_MLOCK = 3,		/* locked anonymous memory */
};

/*
 * Guarantees (struct smem_info.guarantees, smem_require(), and the
 * SMEM_REQUIRE_* flags of smem_secret_new()).  Every backend gives
 * SMEM_G_LOCKED | SMEM_G_NO_DUMP | SMEM_G_NO_FORK.
 */
#define SMEM_G_LOCKED		(1U << 0)	/* never swapped */
#define SMEM_G_NO_DUMP		(1U << 1)	/* not in core dumps */
#define SMEM_G_NO_FORK		(1U << 2)	/* not readable in a forked child */
#define SMEM_G_NO_DIRECT_MAP	(1U << 3)	/* not in the kernel direct map */
#define SMEM_G_NO_GUP		(1U << 4)	/* ptrace, /proc/PID/mem, process_vm_readv fail */
#define SMEM_G_THREAD_WINDOW	(1U << 5)	/* per-thread access windows (pkeys) */
#define SMEM_G_SHAREABLE	(1U << 6)	/* smem_secret_export_fd() works */

/* Flags of smem_secret_new() and smem_secret_new_random(). */
#define SMEM_KEEP_SOURCE	(1U << 0)	/* do not wipe the source buffer */
/* Fail with -ENOTSUP unless the backend gives these guarantees. */
#define SMEM_REQUIRE_SHIFT	8
#define SMEM_REQUIRE(g)		((unsigned int)(g) << SMEM_REQUIRE_SHIFT)

struct smem_info {
	enum smem_backend backend;
	const char *backend_name;	/* "kmod", "memfd_secret" or "mlock" */
	unsigned int guarantees;	/* SMEM_G_* */
	unsigned int required;		/* what smem_require() asked for */
	size_t page_size;
	uint64_t reserved[6];
};

int smem_secret_new(void *data, size_t len, unsigned int flags, struct smem_secret **ret);
int smem_secret_new_random(size_t len, unsigned int flags, struct smem_secret **ret);
int smem_secret_read(struct smem_secret *s, smem_read_fn fn, void *arg);
int smem_secret_write(struct smem_secret *s, smem_write_fn fn, void *arg);
ssize_t smem_secret_copy_out(struct smem_secret *s, size_t offset, void *dst, size_t len);
size_t smem_secret_size(const struct smem_secret *s);
bool smem_secret_is_closed(const struct smem_secret *s);
int smem_secret_close(struct smem_secret *s);
int smem_secret_close_timeout(struct smem_secret *s, int timeout_ms);
struct smem_secret *smem_secret_ref(struct smem_secret *s);
struct smem_secret *smem_secret_unref(struct smem_secret *s);

int smem_secret_export_fd(struct smem_secret *s);
int smem_secret_import_fd(int fd, unsigned int flags, struct smem_secret **ret);

int smem_require(unsigned int guarantees);
int smem_info(struct smem_info *ret);

#ifdef __cplusplus
}
#endif

#endif /* SMEM_H */
