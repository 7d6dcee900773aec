/* SPDX-License-Identifier: GPL-2.0 */
/*
 * smem-fuzz: the executed form of a program, shared by the fuzzer and by
 * every C reproducer it writes (repro.c pastes this file and exec.c into
 * the reproducer, so both run the very same code).
 *
 * A program is at most FUZZ_MAX_OPS operations.  Each names its thread
 * (0..FUZZ_THREADS-1), its kind, up to two resource slots (file
 * descriptors fd0..fd7, mappings map0..map7) and up to FUZZ_NVALS values
 * whose meaning depends on the kind (the FUZZ_V_* positions below; prog.c
 * gives them their names in the program text).  Slots belong to the
 * process: threads share them, a forked child has a copy.
 *
 * Nothing here may include a header of the tree: a reproducer is one
 * file.  The ABI of /dev/smem is copied from include/uapi/linux/smem.h
 * by repro.c for the same reason.
 */
#ifndef SMEM_FUZZ_EXEC_H
#define SMEM_FUZZ_EXEC_H

#include <stdint.h>

#define FUZZ_MAX_OPS	32
#define FUZZ_THREADS	3
#define FUZZ_SLOTS	8
#define FUZZ_NVALS	6

enum fuzz_kind {
	FUZZ_OPEN,
	FUZZ_IOC_QUERY,
	FUZZ_IOC_ALLOC,
	FUZZ_IOC_PROTECT,
	FUZZ_IOC_SEAL,
	FUZZ_IOC_WIPE,
	FUZZ_IOC_INFO,
	FUZZ_IOC_POOL_RESIZE,
	FUZZ_IOC_RAW,
	FUZZ_MMAP,
	FUZZ_MUNMAP,
	FUZZ_MPROTECT,
	FUZZ_MREMAP,
	FUZZ_MADVISE,
	FUZZ_TOUCH,
	FUZZ_FORK,
	FUZZ_EXEC,
	FUZZ_PASSFD,
	FUZZ_DUP,
	FUZZ_CLOSE,
	FUZZ_IO,
	FUZZ_PARAM,
	FUZZ_RLIMIT,
	FUZZ_USER,
	FUZZ_SLEEP,
	FUZZ_SYSFS,
	FUZZ_SIGNAL,
	FUZZ_CAPS,
	FUZZ_HIBERNATE,
	FUZZ_NKINDS
};

/*
 * Value positions.  Every ioctl has the pointer kind and fail-nth first,
 * then the fields of its structure in the order of the ABI.
 */
enum {
	FUZZ_V_PTR = 0,		/* ioctl: FUZZ_PTR_* */
	FUZZ_V_FAIL = 1,	/* ioctl, open, mmap: fail the n-th allocation */
	FUZZ_V_A = 2,		/* first field of the ioctl's structure */
	FUZZ_V_B = 3,
	FUZZ_V_C = 4,
	FUZZ_V_D = 5,
};

/* open */
enum { FUZZ_V_OPEN_MODE = 0, FUZZ_V_OPEN_FLAGS = 2 };
/* mmap, munmap, mprotect, madvise, touch, io: offset and length first */
enum { FUZZ_V_OFF = 0, FUZZ_V_LEN = 2, FUZZ_V_PROT = 3, FUZZ_V_FLAGS = 4 };
enum { FUZZ_V_ADVICE = 3, FUZZ_V_WRITE = 3, FUZZ_V_VIA = 3 };
/* mremap: offset, length (of the old range), new length, flags */
enum { FUZZ_V_NEWLEN = 3 };
/* fork, exec: how many of the thread's next operations the child runs */
enum { FUZZ_V_COUNT = 0 };
/* passfd: keep the copy in flight and close the socket (unix GC frees it) */
enum { FUZZ_V_INFLIGHT = 0 };
/* param, rlimit, user, sleep, sysfs, signal, caps: their one value */
enum { FUZZ_V_VALUE = 0 };

/* The files sysfs reads: the device's attributes, then the module's parameters. */
enum fuzz_attr {
	FUZZ_ATTR_POOL_PAGES,
	FUZZ_ATTR_POOL_BLOCKS,
	FUZZ_ATTR_PAGES_IN_USE,
	FUZZ_ATTR_OBJECTS,
	FUZZ_ATTR_ALLOC_FAILURES,
	FUZZ_ATTR_PAGE_SOURCE,
	FUZZ_ATTR_BLOCK_PAGES,
	FUZZ_ATTR_CARVABLE_PAGES,
	FUZZ_ATTR_REFUSED_BLOCKS,
	FUZZ_ATTR_PENDING_BLOCKS,
	FUZZ_ATTR_USER_MAX_PAGES,
	FUZZ_ATTR_CRASH_KERNEL_LOADED,
	FUZZ_ATTR_USERS,
	FUZZ_ATTR_PARAM_USER_MAX_PERCENT,
	FUZZ_ATTR_PARAM_PAGE_SOURCE,
	FUZZ_ATTR_PARAM_POOL_MB,
	FUZZ_ATTR_NKINDS
};

/* The capabilities caps takes away from its thread. */
enum {
	FUZZ_CAP_IPC_LOCK = 1 << 0,
	FUZZ_CAP_SYS_RESOURCE = 1 << 1,
	FUZZ_CAP_SYS_ADMIN = 1 << 2,
};

/* Where an ioctl's argument lies. */
enum fuzz_ptr {
	FUZZ_PTR_GOOD,		/* a readable and writable buffer */
	FUZZ_PTR_NULL,
	FUZZ_PTR_UNMAPPED,	/* a PROT_NONE page */
	FUZZ_PTR_READONLY,	/* the structure, in a read-only page */
	FUZZ_PTR_KERNEL,	/* the direct map */
	FUZZ_PTR_STRADDLE,	/* half in a page, half in a PROT_NONE one */
	FUZZ_PTR_MAP0,		/* ... FUZZ_PTR_MAP0 + 7: in the mapping mapN */
	FUZZ_PTR_NKINDS = FUZZ_PTR_MAP0 + FUZZ_SLOTS
};

/* How io uses a mapping as a buffer. */
enum fuzz_via {
	FUZZ_VIA_PIPE_WRITE,	/* write(pipe, map) */
	FUZZ_VIA_PIPE_READ,	/* read(pipe, map) */
	FUZZ_VIA_FILE_PWRITE,	/* pwrite(tmp file, map) */
	FUZZ_VIA_FILE_PREAD,	/* pread(tmp file, map) */
	FUZZ_VIA_VMSPLICE,	/* vmsplice(pipe, map) */
	FUZZ_VIA_ODIRECT,	/* pread(block device, O_DIRECT, map) */
	FUZZ_VIA_URING_READ,	/* io_uring IORING_OP_READ into map */
	FUZZ_VIA_URING_FIXED,	/* io_uring: register map as a fixed buffer */
	FUZZ_VIA_PVM_READ,	/* process_vm_readv from map */
	FUZZ_VIA_PVM_WRITE,	/* process_vm_writev to map */
	FUZZ_VIA_PROCMEM_READ,	/* pread(/proc/self/mem) of map */
	FUZZ_VIA_PROCMEM_WRITE,	/* pwrite(/proc/self/mem) to map */
	FUZZ_VIA_NKINDS
};

struct fuzz_op {
	uint8_t thread;
	uint8_t kind;		/* enum fuzz_kind */
	uint8_t res[2];		/* slots; which of fd/map depends on the kind */
	uint64_t val[FUZZ_NVALS];
};

struct fuzz_prog {
	unsigned int nops;
	struct fuzz_op ops[FUZZ_MAX_OPS];
};

/*
 * Coverage hooks of the fuzzer (cover.c); NULL in a reproducer.  The
 * thread hook runs in each executing thread, at its start and end; the
 * process hook in a forked child, before it runs anything.
 */
extern void (*fuzz_thread_hook)(unsigned int thread, int start);
extern void (*fuzz_fork_hook)(void);

/* Where a program finds what it needs, set up by the process around it. */
struct fuzz_env {
	const char *self;	/* this executable, for exec */
	const char *data_file;	/* a file for read/write/io_uring */
	const char *block_dev;	/* for O_DIRECT; NULL when none */
	int exec_kcov_fd;	/* handed to an exec'd child, -1 for none */
	int verbose;		/* print each operation's result */
};

extern struct fuzz_env fuzz_env;

/*
 * A program that starts with "user" runs all of it as that user; "user"
 * anywhere else changes the user of its thread only.
 */
static inline int fuzz_prog_drops_privileges(const struct fuzz_prog *prog)
{
	return prog->nops && prog->ops[0].kind == FUZZ_USER;
}

/*
 * Fail the @nth allocation of this thread's next system call
 * (CONFIG_FAULT_INJECTION's fail-nth); -1 when not armed.  Disarming
 * returns what was left of the count: 0 once the failure was injected.
 */
int fuzz_fail_arm(unsigned int nth);
long fuzz_fail_disarm(int fd);

/*
 * Run @prog in this process (threads, forks) and wait for all of it.
 * Returns 0, or 128 + the signal that killed a child it forked.
 */
int fuzz_exec_prog(const struct fuzz_prog *prog);

/* The exec'd child: argv is "--exec-child MEMFD". */
int fuzz_exec_child(int memfd);

#endif /* SMEM_FUZZ_EXEC_H */
