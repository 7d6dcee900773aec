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

/*
 * The version of these headers: SMEM_VERSION_MAJOR, SMEM_VERSION_MINOR,
 * SMEM_VERSION_PATCH and the string SMEM_VERSION ("MAJOR.MINOR.PATCH"),
 * made from the project's VERSION file.  smem_version() tells the
 * library that runs.
 */
#include <smem/version.h>

/*
 * True, in #if too, when these headers provide the API of @major.@minor:
 * the same major version and at least that minor, the rule
 * smem_version_check() applies to the library that runs.
 */
#define SMEM_VERSION_CHECK(major, minor) \
	((major) == SMEM_VERSION_MAJOR && (minor) <= SMEM_VERSION_MINOR)

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

/* Windows one thread may have open inside each other. */
#define SMEM_MAX_NESTING	32

/* Largest secret; a larger size is -EINVAL. */
#define SMEM_SECRET_MAX_SIZE	((size_t)1 << 30)

struct smem_info {
	enum smem_backend backend;
	const char *backend_name;	/* "kmod", "memfd_secret" or "mlock" */
	unsigned int guarantees;	/* SMEM_G_* */
	unsigned int required;		/* what smem_require() asked for */
	size_t page_size;
	uint64_t reserved[6];
};

/*
 * Limits worth knowing:
 *  - a callback left by a C++ exception, pthread_exit() or a thread
 *    cancellation closes its window on the way out (the library is built
 *    with unwind tables and cleanups).  Left by longjmp(), the window
 *    stays open (the secret held, with keys readable by this thread) until
 *    the thread's next window, close or unref, or its exit, finds it dead
 *    and ends it (and erases the stack below); do not switch stacks
 *    (coroutines) inside a callback;
 *  - with keys each secret gets its own key while the library holds fewer
 *    than 15 (it takes them as secrets are made, as long as pkey_alloc()
 *    gives them; an application that needs keys of its own allocates them
 *    first): then secrets share keys, round robin, and a window on one
 *    opens those that share its key to the same thread;
 *  - fork() is detected with pthread_atfork(): children made with _Fork(),
 *    vfork() or a raw clone() are not told, and find no pages (a fault)
 *    or zeroed ones where the parent's secrets were;
 *  - without keys each secret has pages of its own between two guard
 *    pages (three mappings, two when the guard pages of secrets made one
 *    after another merge: vm.max_map_count, 65530 by default, caps a
 *    process at 21,000 to 32,000 secrets; scale_bench measures it;
 *    enclaves, below, have no such cap); with keys, secrets
 *    of up to 2016 bytes share pages with secrets of the same key, a
 *    canary between neighbours.  No secret keeps a file descriptor.
 *
 * Errors common to every call taking a secret:
 *   -EINVAL  NULL secret, callback or output pointer, zero or too large a
 *            size for a new secret (SMEM_SECRET_MAX_SIZE), unknown flags,
 *            a range past the end;
 *   -ECHILD  the secret was made before fork() and this is the child: it
 *            has no access to the parent's secrets (they are not mapped,
 *            or zeroed), every call says so instead of faulting;
 *   -ENODEV  SMEM_BACKEND forces a backend that is not available here
 *            (-EINVAL when it names none), from every call that makes a
 *            secret and from smem_info();
 *   -ENOTSUP the backend cannot give a guarantee asked for;
 *   other    the first call that needs the backend tells a backend that is
 *            not there (no /dev/smem, no memfd_secret(2): the next one is
 *            tried) from one that is there but failed: -EACCES (not in the
 *            group of /dev/smem), -EMFILE, -ENOMEM, -EAGAIN ... are
 *            returned, never turned into weaker memory or no keys, and
 *            the next call tries again.  SMEM_BACKEND chooses explicitly.
 * Allocation failures are -ENOMEM (on kmod: also a full pool), or -EAGAIN
 * over RLIMIT_MEMLOCK (on kmod: also over the user's share of the pool).
 * Every call leaves errno as it was.  None is async-signal-safe but
 * smem_purge(), smem_version() and smem_version_check().
 */

/*
 * Make a secret of @len bytes copied from @data, then wipe @data unless
 * @flags has SMEM_KEEP_SOURCE (on failure @data is left as it was).
 * @flags may also hold SMEM_REQUIRE(guarantees).
 */
int smem_secret_new(void *data, size_t len, unsigned int flags, struct smem_secret **ret);
/* A secret of @len random bytes (getrandom(2)); @flags: SMEM_REQUIRE() only. */
int smem_secret_new_random(size_t len, unsigned int flags, struct smem_secret **ret);

/*
 * Call @fn with the bytes, readable only while it runs; returns what @fn
 * returned when it is 0 or positive, or a negative errno: -ECANCELED when
 * @fn returned a negative value (a callback reports its own failures with
 * positive values), -EBADF once closing or closed, -EFAULT when the
 * canary around the bytes was overwritten (@fn is not called), -ELOOP
 * when the thread already has SMEM_MAX_NESTING windows open.
 *
 * Readers share; a writer (smem_secret_write(), read-write bytes) excludes
 * readers and other writers, and readers that come after a waiting writer
 * wait behind it.  Inside a callback the same thread may access the same
 * secret again: a read inside a read or a write, or a write inside a
 * write, runs at once; a write inside a read fails with -EDEADLK.
 *
 * With protection keys (SMEM_G_THREAD_WINDOW) the bytes are readable by
 * the calling thread only, and only during the callback (also when it
 * fails); other threads fault if they touch them.  A thread created
 * inside a callback inherits the open window: do not create threads or
 * fork there.  Without keys the pages are readable by every thread of the
 * process from the first reader's entry to the last reader's exit.
 *
 * If closing the window again fails, that error is returned instead.
 */
int smem_secret_read(struct smem_secret *s, smem_read_fn fn, void *arg);
int smem_secret_write(struct smem_secret *s, smem_write_fn fn, void *arg);
/*
 * The same with @flags (SMEM_WINDOW_*).  When the outermost window of a
 * thread closes, the library erases what a callback may have left of the
 * bytes: the stack below the window, SMEM_SCRUB_DEFAULT bytes deep or as
 * SMEM_WINDOW_SCRUB_KIB() says, and the vector and scratch registers
 * (x86-64).  SMEM_WINDOW_NO_SCRUB skips that, for a callback that copies
 * no secret byte to its stack or registers itself (it only hands @buf to
 * a system call, say).  Nested windows erase once, when the outermost
 * closes, as deep as the deepest that any of them asked for: nothing only
 * when all of them said SMEM_WINDOW_NO_SCRUB.
 */
#define SMEM_WINDOW_NO_SCRUB		(1U << 0)
/* Erase @kib (1 .. 255) KiB of stack instead of SMEM_SCRUB_DEFAULT. */
#define SMEM_WINDOW_SCRUB_KIB(kib)	(((unsigned int)(kib) & 0xffU) << 8)
#define SMEM_SCRUB_DEFAULT		2048
int smem_secret_read_flags(struct smem_secret *s, smem_read_fn fn, void *arg,
			   unsigned int flags);
int smem_secret_write_flags(struct smem_secret *s, smem_write_fn fn, void *arg,
			    unsigned int flags);
/*
 * Copy bytes @offset .. @offset + @len (clamped to the end) into @dst:
 * the count copied, 0 at the end, -EINVAL past it.
 */
ssize_t smem_secret_copy_out(struct smem_secret *s, size_t offset, void *dst, size_t len);
/*
 * Copy @len bytes from @src into the secret at @offset, then wipe @src
 * unless @flags has SMEM_KEEP_SOURCE: 0, or -EINVAL when the range does
 * not fit (nothing is copied).  Writes: -EPERM when read-only.
 */
int smem_secret_copy_in(struct smem_secret *s, size_t offset, void *src, size_t len,
			unsigned int flags);
/*
 * Copy @len bytes of @src at @src_offset into @dst at @dst_offset, from
 * secret pages to secret pages (the same secret too: overlapping ranges
 * are moved as by memmove()).  0, or -EINVAL when a range does not fit.
 */
int smem_secret_copy(struct smem_secret *dst, size_t dst_offset,
		     struct smem_secret *src, size_t src_offset, size_t len);
/*
 * Constant-time comparison of the bytes with @len bytes at @buf, or with
 * another secret's: 1 equal, 0 different (a different length is
 * different at once: lengths are not secret), or a negative errno.
 */
int smem_secret_equal(struct smem_secret *s, const void *buf, size_t len);
int smem_secret_equal_secret(struct smem_secret *a, struct smem_secret *b);
/*
 * Make the secret read-only: writes fail with -EPERM until
 * smem_secret_melt(), or for good with SMEM_FREEZE_FOREVER (melt then
 * fails with -EPERM).  Waits, like a writer, for the running accesses.
 */
#define SMEM_FREEZE_FOREVER	(1U << 0)
int smem_secret_freeze(struct smem_secret *s, unsigned int flags);
int smem_secret_melt(struct smem_secret *s);
/*
 * Check the canaries around the bytes: 0, or -EFAULT when something wrote
 * past either end.  Every window checks the canary before the bytes and
 * the 16 bytes after them (where the bytes do not end at a guard page)
 * and fails with -EFAULT without calling the callback.
 */
int smem_secret_check(struct smem_secret *s);

/*
 * Without protection keys, let the pages stay readable for up to @usec
 * microseconds (at most SMEM_LINGER_MAX_US; 0, the default: not at all)
 * after the last read window on them closes: a read window that opens
 * meanwhile costs no system call, and one library thread (the closer,
 * started by the first linger) closes the pages when the time is up.
 * Meant for secrets read often by several threads: each window's close
 * costs a TLB flush on every CPU running a thread of the process, and
 * threads pay for each other's (bench/README.md).
 *
 * It widens the exposure: meanwhile any thread of the process can read
 * the bytes, as during a window.  Nothing changes for other processes,
 * and the pages never linger writable: a write window, smem_secret_freeze()
 * and close end the linger at once.  With keys, windows cost no system
 * call and this changes nothing.  It applies from the next window's end.
 *
 * 0, -EINVAL (NULL, @usec too large), -ENOMEM (its first linger is
 * allocated), -EBADF (closing or closed), -ECHILD (in a forked child).
 */
#define SMEM_LINGER_MAX_US	1000000U
int smem_secret_linger(struct smem_secret *s, unsigned int usec);

/* Bytes in the secret (0 for NULL); still known after close. */
size_t smem_secret_size(const struct smem_secret *s);
/* Closing or closed (true for NULL and in a forked child). */
bool smem_secret_is_closed(const struct smem_secret *s);

/*
 * Close: new accesses fail at once with -EBADF; wait for the running ones,
 * then wipe the bytes and give the memory back.  The object itself lives
 * until its last reference goes.  Idempotent: every call returns the same
 * result, 0, or -EFAULT when the canary beside the bytes was overwritten
 * (a write out of bounds: the bytes are wiped and freed all the same), or
 * -EBADF when smem_purge() wiped them first.
 *
 * Called from inside a callback on the same secret (by the callback's
 * thread), it cannot wait for itself: it makes new accesses fail and
 * returns -EINPROGRESS; the close completes, wipe included, when the last
 * running access ends, this thread's outermost one at the latest.  Inside
 * a callback on another secret it does wait, like taking a lock: two
 * threads closing each other's secret from their callbacks deadlock
 * (smem_secret_close_timeout() bounds that).
 */
int smem_secret_close(struct smem_secret *s);
/*
 * Same, waiting at most @timeout_ms (negative: no limit); -ETIMEDOUT when
 * accesses are still running then.  The secret stays closing: new accesses
 * fail, and the close completes when the last access ends (a later close
 * waits for that).
 */
int smem_secret_close_timeout(struct smem_secret *s, int timeout_ms);
struct smem_secret *smem_secret_ref(struct smem_secret *s);
/*
 * Drop a reference; the last one closes the secret (waiting for running
 * accesses; from inside a callback on it, the close and the free happen
 * when the callback's access ends).  Accepts NULL; returns NULL.
 */
struct smem_secret *smem_secret_unref(struct smem_secret *s);

/*
 * A new file descriptor (O_CLOEXEC) for a sealed read-only copy of the
 * bytes, to hand to another process (SCM_RIGHTS); the caller closes it.
 * Later writes to @s do not reach the copy.  Only the kmod backend
 * (SMEM_G_SHAREABLE): -ENOTSUP elsewhere.
 */
int smem_secret_export_fd(struct smem_secret *s);
/*
 * A read-only secret from a descriptor made by smem_secret_export_fd();
 * @fd is not consumed.  Writes fail with -EPERM.  -EINVAL when @fd is not
 * a sealed export.  @flags: SMEM_REQUIRE() only.
 */
int smem_secret_import_fd(int fd, unsigned int flags, struct smem_secret **ret);

/*
 * Ask for @guarantees (SMEM_G_*) for every secret of the process from now
 * on: -ENOTSUP when the backend in use cannot give them.  Requirements add
 * up and are never dropped.
 */
int smem_require(unsigned int guarantees);
/* Which backend, and what it guarantees. */
int smem_info(struct smem_info *ret);

/*
 * The version of the library that runs, "MAJOR.MINOR.PATCH" (a static
 * string): SMEM_VERSION of the headers it was built with, which need not
 * be those the program was built with.
 */
const char *smem_version(void);
/*
 * 0 when the library that runs provides the API of @major.@minor (the
 * same major version, at least that minor), -ENOTSUP otherwise.  A program
 * checks what its headers promised with
 * smem_version_check(SMEM_VERSION_MAJOR, SMEM_VERSION_MINOR).
 */
int smem_version_check(unsigned int major, unsigned int minor);

/*
 * Wipe the bytes of every secret of the process now, for a crash handler:
 * async-signal-safe, takes no lock, never waits.  Every secret made before
 * is closed (calls on it fail with -EBADF; its memory is given back when
 * it is closed or unreferenced); secrets can be made again afterwards.
 * Returns how many regions of secret pages it wiped.  A secret being made
 * by another thread at the same moment may escape the wipe.
 */
int smem_purge(void);

/*
 * Enclaves: bytes kept sealed (XChaCha20-Poly1305, libsodium) in ordinary
 * memory under one key of the process, which itself lives only in secret
 * memory: in one secret, and in a scratch secret of each thread that uses
 * enclaves.  An enclave costs ordinary memory (40 bytes more than the
 * sealed bytes, in one allocation) and no secret memory, no mapping and no
 * descriptor; it is opened into a secret, or read in a window, when
 * needed.  Immutable once sealed, safe to share between threads, reference
 * counted.  The associated data binds each enclave's identity and size:
 * bytes swapped between enclaves, truncated or changed fail with -EBADMSG.
 *
 * The key is made at the first enclave and is never inherited: in a
 * forked child every enclave made before the fork fails with -ECHILD (new
 * ones work, under a key of the child's).  smem_purge() wipes the key:
 * enclaves sealed under it fail with -EBADF from then on.
 */
struct smem_enclave;	/* opaque, reference counted, safe to share between threads */

/*
 * Seal @len bytes at @data, then wipe @data unless @flags has
 * SMEM_KEEP_SOURCE (on failure @data is left as it was).
 */
int smem_enclave_new(void *data, size_t len, unsigned int flags, struct smem_enclave **ret);
/*
 * Seal the bytes of @s, which never pass through ordinary memory; with
 * SMEM_CLOSE in @flags, close @s afterwards (the enclave is returned when
 * the close succeeds or is left to complete, -EINPROGRESS inside a
 * callback on @s; otherwise the close's error is, and no enclave).
 */
#define SMEM_CLOSE		(1U << 1)
int smem_secret_seal(struct smem_secret *s, unsigned int flags, struct smem_enclave **ret);
/* A new secret holding the bytes; @flags: SMEM_REQUIRE() only. */
int smem_enclave_open(struct smem_enclave *e, unsigned int flags, struct smem_secret **ret);
/*
 * Call @fn with the bytes, unsealed into this thread's scratch secret for
 * the call only, in a window as smem_secret_read() opens one (with
 * protection keys readable by this thread only), then wiped, the stack
 * below and the registers erased; returns what @fn returned (a negative
 * value: -ECANCELED).  A callback may read other enclaves.
 */
int smem_enclave_read(struct smem_enclave *e, smem_read_fn fn, void *arg);
/* Bytes in the enclave (0 for NULL). */
size_t smem_enclave_size(const struct smem_enclave *e);
struct smem_enclave *smem_enclave_ref(struct smem_enclave *e);
/* Drop a reference (NULL is accepted); returns NULL. */
struct smem_enclave *smem_enclave_unref(struct smem_enclave *e);
/*
 * The sealed form of the enclave (ciphertext, nonce, tag, size, identity:
 * nothing secret) into @buf: its length; with @buf NULL and @len 0 the
 * length it needs; -ERANGE when @len is too short.  Valid in this process
 * until the next smem_rekey(); an application stores it where it likes.
 */
ssize_t smem_enclave_export(struct smem_enclave *e, void *buf, size_t len);
/*
 * An enclave from a sealed form: -EINVAL when it is not one (bad length,
 * magic or version), -EBADMSG when its bytes do not authenticate,
 * -ESTALE when it was sealed under a key smem_rekey() has replaced,
 * -ECHILD when under the parent's key.  @flags must be 0.
 */
int smem_enclave_import(const void *buf, size_t len, unsigned int flags,
			struct smem_enclave **ret);
/*
 * Replace the process key: a new random key, every live enclave sealed
 * again under it (its bytes unsealed only into secret memory), then the
 * old key wiped everywhere; opens and reads of other threads go on
 * meanwhile.  Returns how many enclaves were sealed again (0 when there
 * is no key yet: no enclave), or -EDEADLK when called inside a window (a
 * callback).  Enclaves inherited over fork() are not sealed again.
 */
int smem_rekey(void);

#ifdef __cplusplus
}
#endif

#endif /* SMEM_H */
