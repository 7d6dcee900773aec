// SPDX-License-Identifier: GPL-2.0
/*
 * smem-fuzz: a coverage-guided fuzzer of /dev/smem, for the debug kernel
 * (KCOV, KASAN, lockdep...) of the test VM (fuzz/kernel/run.sh).
 *
 *   smem-fuzz [--seconds N] [--seed S] [--corpus DIR] [--log TTY] [--ko KO]
 *             [--reload] [--replay-only]     fuzz, as root, in the guest
 *   smem-fuzz --run FILE       run one program, print each result
 *   smem-fuzz --print FILE     parse a program and print it back
 *   smem-fuzz --repro FILE     print a standalone C reproducer of it
 *   smem-fuzz --generate N [--seed S]   print N generated programs
 *   smem-fuzz --blocks KO      print the instrumented blocks of a module
 *
 * The loop: replay the corpus, then generate and mutate until the time is
 * up.  Each program runs in a forked process (its own process group, so
 * nothing of it survives); a program that reaches a block no earlier one
 * reached joins the corpus and is printed between smem-fuzz-new-begin and
 * smem-fuzz-new-end.  Every program is written to the log channel (--log,
 * the third serial port) before it runs, so that the host knows which one
 * was running when the kernel panicked.
 *
 * Failures (each ends the run, prints the program and its reproducer
 * between smem-fuzz-crash-begin and smem-fuzz-crash-end, and makes the
 * exit status 1): a kernel log line of a splat; the program's process
 * killed by a signal it did not expect, or aborted by an oracle of
 * exec.c; a program that does not finish within FUZZ_PROG_TIMEOUT and then
 * does not die within FUZZ_KILL_TIMEOUT of SIGKILL; after
 * the run, the pool not empty; with --reload, MemTotal lower after the
 * module's last unload than before its first load.
 *
 * --reload also loads and unloads the module between batches of programs,
 * with other parameters (page sources, pool sizes, bad values), under
 * KCOV, so that its init and exit code count too; each set is first
 * loaded a few times with one allocation failing (fail-nth), so that
 * init's unwinding counts as well.  A splat during such a load is a
 * failure like any other.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/smem.h>

#include "fuzz.h"

#define FUZZ_PROG_TIMEOUT	60	/* seconds; a resize under KASAN is slow */
#define FUZZ_KILL_TIMEOUT	30	/* seconds a killed program may take to die */
#define FUZZ_PROG_SLOW		5	/* seconds: said in the log, to find what eats the time */
#define FUZZ_MAX_CORPUS		2048
#define FUZZ_BATCH		40	/* programs between two reloads, at most */
#define FUZZ_BATCH_SECONDS	8	/* seconds between two reloads, at most */
#define FUZZ_FAIL_LOADS		6	/* loads with an injected failure per reload */
/* fail-nth of a load that counts its allocations: more than any load makes. */
#define FUZZ_LOAD_PROBE		100000000

/*
 * The headers of the kernel's reports.  Lockdep's start with "WARNING:"
 * or "BUG:", but for a lock used before its init ("INFO: trying to
 * register non-static key").  A bare "lockdep" would match the stack
 * trace that fail-nth prints with every injected failure (a frame such as
 * lockdep_hardirqs_on_prepare), which is no report at all.
 */
static const char *const fuzz_splats[] = {
	"BUG:", "WARNING:", "Oops", "KASAN", "KFENCE", "general protection",
	"UBSAN:", "possible circular", "inconsistent lock", "blocked for more than",
	"non-static key",
};

/*
 * Module parameters that --reload cycles through; "" is the default.
 * The reserved ranges besides run.sh's memmap= one are mistakes an
 * administrator can make, all refused: the IOAPIC's registers (busy), the
 * legacy VGA window (free MMIO, not reserved memory), RAM, and the range
 * QEMU's firmware reserves below 1 TiB (reserved, but never RAM).
 */
static const char *const fuzz_module_params[] = {
	"", "pool_mb=0", "page_source=fallback allow_fallback=1",
	"page_source=reserved reserved_range=64M@0x30000000", "pool_mb=1",
	"page_source=reserved reserved_range=4K@0xfec00000",
	"page_source=reserved reserved_range=64K@0xa0000", "page_source=fallback",
	"page_source=reserved", "page_source=reserved reserved_range=16M@0x1000000",
	"page_source=reserved reserved_range=1x", "page_source=bogus", "pool_mb=256",
	"page_source=reserved reserved_range=4097@0x30000000",
	"page_source=reserved reserved_range=4K@0xfd00000000",
};
#define FUZZ_NPARAMS	(sizeof(fuzz_module_params) / sizeof(fuzz_module_params[0]))

static struct {
	struct fuzz_prog *corpus;
	unsigned int ncorpus;
	struct fuzz_blocks *blocks;
	int kmsg_fd;
	int log_fd;
	unsigned long programs;
	unsigned int crashes;
	const char *ko;
	int loaded;		/* the module, as far as we know */
	/* Fault-injection points a load with each parameter set went through. */
	long load_allocs[FUZZ_NPARAMS];
} fuzz;

static void fuzz_die(const char *what)
{
	fprintf(stderr, "smem-fuzz: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char *fuzz_slurp(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *buf = NULL;
	size_t len = 0, n;

	if (!f)
		fuzz_die(path);
	buf = malloc(1 << 16);
	if (!buf)
		fuzz_die(path);
	while ((n = fread(buf + len, 1, (1 << 16) - 1 - len, f)) > 0)
		len += n;
	if (f != stdin)
		fclose(f);
	buf[len] = '\0';
	return buf;
}

static void fuzz_load_prog(const char *path, struct fuzz_prog *prog)
{
	char *text = fuzz_slurp(path), err[200];

	if (fuzz_parse(text, prog, err, sizeof(err))) {
		fprintf(stderr, "smem-fuzz: %s: %s\n", path, err);
		exit(2);
	}
	free(text);
}

static char *fuzz_prog_text(const struct fuzz_prog *prog)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fuzz_print(f, prog);
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------ the oracles */

/* New kernel log lines: the first splat among them, or NULL. */
static const char *fuzz_kmsg_splat(char *line, size_t len)
{
	unsigned int i;
	ssize_t n;

	while ((n = read(fuzz.kmsg_fd, line, len - 1)) != 0) {
		if (n < 0) {
			if (errno == EPIPE)	/* overwritten records: read on */
				continue;
			return NULL;
		}
		line[n] = '\0';
		for (i = 0; i < sizeof(fuzz_splats) / sizeof(fuzz_splats[0]); i++)
			if (strstr(line, fuzz_splats[i]))
				return line;
	}
	return NULL;
}

static void fuzz_report_crash(const struct fuzz_prog *prog, const char *why)
{
	char *text = fuzz_prog_text(prog);

	fuzz.crashes++;
	printf("smem-fuzz-crash-begin\n# %s\n%ssmem-fuzz-crash-end\n", why, text);
	printf("smem-fuzz-repro-begin\n");
	fuzz_repro(stdout, prog, text);
	printf("smem-fuzz-repro-end\n");
	fflush(stdout);
	free(text);
}

/* ------------------------------------------------------ running a program */

static void fuzz_log_prog(const struct fuzz_prog *prog)
{
	char *text;

	if (fuzz.log_fd < 0)
		return;
	text = fuzz_prog_text(prog);
	dprintf(fuzz.log_fd, "smem-fuzz-prog %lu\n%ssmem-fuzz-prog-end\n", fuzz.programs, text);
	tcdrain(fuzz.log_fd);
	free(text);
}

/*
 * Where each thread of a program that does not finish is in the kernel:
 * a deadlock and a memory hot-remove that keeps retrying a page it cannot
 * migrate (offline_pages() stops only on a fatal signal) both look like
 * this from outside.
 */
static void fuzz_print_stacks(pid_t pid)
{
	char path[64], line[256];
	struct dirent **ents;
	int n, i;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	n = scandir(path, &ents, NULL, alphasort);
	for (i = 0; i < n; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stack", (int)pid, ents[i]->d_name);
		f = ents[i]->d_name[0] != '.' ? fopen(path, "r") : NULL;
		if (f) {
			printf("smem-fuzz: task %s:\n", ents[i]->d_name);
			while (fgets(line, sizeof(line), f))
				printf("smem-fuzz:   %s", line);
			fclose(f);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

/* Wait for the killed program @pid; -1 when it outlives FUZZ_KILL_TIMEOUT. */
static int fuzz_wait_killed(pid_t pid, int *status)
{
	int waited;

	for (waited = 0; waited < FUZZ_KILL_TIMEOUT * 100; waited++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Reap what the subreaper inherited from programs. */
static void fuzz_reap_orphans(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/*
 * Run @prog in a forked process; returns the number of new blocks, or -1
 * after reporting a failure.
 */
static long fuzz_run(const struct fuzz_prog *prog)
{
	struct timespec start, now;
	char why[320], line[1024];
	const char *splat;
	int status = 0;
	pid_t pid;

	fuzz.programs++;
	fuzz_log_prog(prog);
	fuzz_kcov_reset();
	pid = fork();
	if (pid < 0)
		fuzz_die("fork");
	if (!pid) {
		setpgid(0, 0);
		_exit(fuzz_exec_prog(prog));
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > FUZZ_PROG_TIMEOUT) {
			/*
			 * Slow is not stuck: taking a memory block offline
			 * retries a page that cannot move yet until a fatal
			 * signal (offline_pages()), so a resize may take
			 * minutes under TCG.  What must not happen is a call
			 * that SIGKILL cannot end.
			 */
			fuzz_print_stacks(pid);
			kill(-pid, SIGKILL);
			if (fuzz_wait_killed(pid, &status)) {
				snprintf(why, sizeof(why),
					 "the program did not finish within %d s, nor die within %d s of SIGKILL",
					 FUZZ_PROG_TIMEOUT, FUZZ_KILL_TIMEOUT);
				fuzz_report_crash(prog, why);
				return -1;
			}
			printf("smem-fuzz: program %lu killed after %d s (its stacks above); it died at once\n",
			       fuzz.programs, FUZZ_PROG_TIMEOUT);
			fuzz_reap_orphans();
			fuzz_kcov_collect(fuzz.blocks);
			return 0;
		}
		usleep(1000);
	}
	kill(-pid, SIGKILL);
	fuzz_reap_orphans();
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - start.tv_sec >= FUZZ_PROG_SLOW)
		printf("smem-fuzz: program %lu took %ld s\n", fuzz.programs,
		       (long)(now.tv_sec - start.tv_sec));
	splat = fuzz_kmsg_splat(line, sizeof(line));
	if (splat) {
		snprintf(why, sizeof(why), "kernel: %.280s", splat);
		fuzz_report_crash(prog, why);
		return -1;
	}
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status))) {
		snprintf(why, sizeof(why), "the program's process %s %d",
			 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		fuzz_report_crash(prog, why);
		return -1;
	}
	return (long)fuzz_kcov_collect(fuzz.blocks);
}

static void fuzz_add_corpus(const struct fuzz_prog *prog, int print)
{
	if (fuzz.ncorpus < FUZZ_MAX_CORPUS)
		fuzz.corpus[fuzz.ncorpus++] = *prog;
	if (print) {
		char *text = fuzz_prog_text(prog);

		printf("smem-fuzz-new-begin\n%ssmem-fuzz-new-end\n", text);
		fflush(stdout);
		free(text);
	}
}

/* ------------------------------------------------------------- the module */

static unsigned long fuzz_memtotal(void)
{
	char line[128];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Read the module's bases again, so that its PCs map to blocks. */
static void fuzz_rebase(void)
{
	if (fuzz_blocks_rebase(fuzz.blocks))
		fprintf(stderr, "smem-fuzz: no section of smem in /sys/module: coverage of this load is lost\n");
}

static int fuzz_unload(void)
{
	long r;

	fuzz_kcov_reset();
	fuzz_kcov_self(1);
	r = syscall(__NR_delete_module, "smemdev", O_NONBLOCK);
	fuzz_kcov_self(0);
	/* Still loaded: its bases are the ones we know. */
	fuzz_kcov_collect(fuzz.blocks);
	if (!r)
		fuzz.loaded = 0;
	return r ? -errno : 0;
}

/*
 * Load with @params; with @fail_nth, fail that allocation of the load
 * (the module's init unwinding), and say in *@left how much of the count
 * was left (0: the failure was injected).
 */
static int fuzz_load_failing(const char *params, unsigned int fail_nth, long *left)
{
	int fd = open(fuzz.ko, O_RDONLY | O_CLOEXEC), fail;
	long r, l;

	if (fd < 0)
		return -errno;
	fuzz_kcov_reset();
	fuzz_kcov_self(1);
	fail = fuzz_fail_arm(fail_nth);
	r = syscall(__NR_finit_module, fd, params, 0);
	r = r ? -errno : 0;
	l = fuzz_fail_disarm(fail);
	fuzz_kcov_self(0);
	close(fd);
	if (left)
		*left = l;
	if (!r) {
		fuzz.loaded = 1;
		fuzz_rebase();
		chmod("/dev/smem", 0666);
	}
	/*
	 * A failed load leaves no sections to read: its PCs are matched
	 * against the last load's bases.  Without KASLR (vm-run boots
	 * nokaslr) the module allocator hands the same addresses out again;
	 * had they moved, the PCs would match no block and show as
	 * unmatched in the summary.
	 */
	fuzz_kcov_collect(fuzz.blocks);
	return (int)r;
}

static int fuzz_load(const char *params)
{
	return fuzz_load_failing(params, 0, NULL);
}

/* Load with the parameter set @param, counting the allocations it makes. */
static int fuzz_load_counting(unsigned int param)
{
	long left;
	int r = fuzz_load_failing(fuzz_module_params[param], FUZZ_LOAD_PROBE, &left);

	if (!r && left > 0)
		fuzz.load_allocs[param] = FUZZ_LOAD_PROBE - left;
	return r;
}

/* A splat in the kernel log during a reload: a crash of the reload itself. */
static void fuzz_check_reload(const char *params, unsigned int fail_nth)
{
	char line[1024];
	const char *splat = fuzz_kmsg_splat(line, sizeof(line));

	if (!splat)
		return;
	fuzz.crashes++;
	printf("smem-fuzz: kernel splat while loading smem \"%s\" with fail-nth %u: %.280s\n",
	       params, fail_nth, splat);
}

/*
 * Load with the parameter set @param, or with the defaults when that
 * fails.  First a few loads with a failure injected at a random one of
 * the allocations a load of that set makes (counted by a first load when
 * not known yet): most fail in the loader, some in smem_init() and below,
 * which must unwind all it did.
 */
static void fuzz_reload(unsigned int param)
{
	const char *params = fuzz_module_params[param];
	unsigned int i, failed = 0;
	int r = fuzz_unload();

	if (r) {
		fprintf(stderr, "smem-fuzz: cannot unload smem (%s); not reloading\n", strerror(-r));
		return;
	}
	if (!fuzz.load_allocs[param] && !fuzz_load_counting(param) && fuzz_unload())
		fuzz_die("unloading smem after counting a load's allocations");
	for (i = 0; i < FUZZ_FAIL_LOADS && fuzz.load_allocs[param] > 0 && !fuzz.crashes; i++) {
		unsigned int nth = 1 + fuzz_rand() % (unsigned long)fuzz.load_allocs[param];

		r = fuzz_load_failing(params, nth, NULL);
		fuzz_check_reload(params, nth);
		failed += !!r;
		/* The failure hit something that copes with it: loaded all the same. */
		if (!r && fuzz_unload())
			fuzz_die("unloading smem after a load with a failure injected");
	}
	r = fuzz_load_counting(param);
	fuzz_check_reload(params, 0);
	printf("smem-fuzz: load smem %s: %s (%ld allocations; %u of %u loads with one failing failed)\n",
	       params, r ? strerror(-r) : "ok", fuzz.load_allocs[param], failed, i);
	if (r && fuzz_load(""))
		fuzz_die("loading smem with its default parameters");
}

/* -------------------------------------------------------------- the setup */

static void fuzz_write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0)
		fprintf(stderr, "smem-fuzz: %s: %s\n", path, strerror(errno));
	close(fd);
}

/* A loop device over a file, where O_DIRECT works (tmpfs refuses it). */
static void fuzz_setup_block_dev(void)
{
	int file = open("/tmp/smem-fuzz.img", O_RDWR | O_CREAT, 0600);
	int loop = open("/dev/loop0", O_RDWR);

	if (file >= 0 && loop >= 0 && !ftruncate(file, 1 << 20) &&
	    (!ioctl(loop, LOOP_SET_FD, file) || errno == EBUSY)) {
		fuzz_env.block_dev = "/dev/loop0";
		chmod("/dev/loop0", 0666);
	}
	if (file >= 0)
		close(file);
	if (loop >= 0)
		close(loop);
}

static void fuzz_setup(int want_kcov)
{
	int fd;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	/* As udev gives it to the group smem: programs also run as nobody. */
	chmod("/dev/smem", 0666);
	/* Fail GFP_KERNEL allocations too, quietly: fail-nth only. */
	fuzz_write_file("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
	fuzz_write_file("/sys/kernel/debug/failslab/verbose", "0");
	fuzz_write_file("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	fuzz_write_file("/sys/kernel/debug/fail_page_alloc/verbose", "0");
	fuzz_env.data_file = "/tmp/smem-fuzz.data";
	fd = open(fuzz_env.data_file, O_RDWR | O_CREAT, 0666);
	if (fd >= 0) {
		fchmod(fd, 0666);
		if (ftruncate(fd, 1 << 20))
			fuzz_die(fuzz_env.data_file);
		close(fd);
	}
	fuzz_setup_block_dev();
	fuzz.kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fuzz.kmsg_fd < 0)
		fuzz_die("/dev/kmsg");
	lseek(fuzz.kmsg_fd, 0, SEEK_END);
	if (want_kcov && fuzz_kcov_open())
		exit(2);
}

/* Pool empty once every program is gone (in-flight files take a moment). */
static int fuzz_check_pool_empty(void)
{
	struct smem_query q;
	int tries, fd;

	for (tries = 0; tries < 50; tries++) {
		fd = open("/dev/smem", O_RDWR | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, SMEM_IOC_QUERY, &q)) {
			fprintf(stderr, "smem-fuzz: SMEM_IOC_QUERY: %s\n", strerror(errno));
			return -1;
		}
		close(fd);
		if (!q.pages_in_use && !q.objects)
			return 0;
		usleep(100000);
	}
	printf("smem-fuzz: the pool is not empty after the run: %llu pages in use, %llu objects\n",
	       (unsigned long long)q.pages_in_use, (unsigned long long)q.objects);
	return -1;
}

/* --------------------------------------------------------------- the loop */


static void fuzz_replay(const char *dir)
{
	struct dirent **ents;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "smem-fuzz: corpus %s: %s\n", dir, strerror(errno));
		return;
	}
	for (i = 0; i < n && !fuzz.crashes; i++) {
		size_t len = strlen(ents[i]->d_name);
		struct fuzz_prog prog;
		char path[512];

		if (len < 6 || strcmp(ents[i]->d_name + len - 5, ".prog"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		fuzz_load_prog(path, &prog);
		if (fuzz_run(&prog) >= 0)
			fuzz_add_corpus(&prog, 0);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	printf("smem-fuzz: corpus %s replayed: %u programs, %zu/%zu blocks\n", dir,
	       fuzz.ncorpus, fuzz_blocks_reached(fuzz.blocks), fuzz_blocks_count(fuzz.blocks));
}

static void fuzz_loop(time_t deadline, int reload)
{
	unsigned int batch = 0, param = 1;
	time_t batch_start = time(NULL);
	struct fuzz_prog prog;

	while (time(NULL) < deadline && !fuzz.crashes) {
		/* By time too: a short run with slow programs still goes through the sets. */
		if (reload && (++batch == FUZZ_BATCH || time(NULL) - batch_start >= FUZZ_BATCH_SECONDS)) {
			fuzz_reload(param);
			param = (param + 1) % FUZZ_NPARAMS;
			batch = 0;
			batch_start = time(NULL);
		}
		if (!fuzz.ncorpus || fuzz_rand() % 4 == 0) {
			fuzz_generate(&prog, 1);
		} else {
			prog = fuzz.corpus[fuzz_rand() % fuzz.ncorpus];
			fuzz_mutate(&prog, &fuzz.corpus[fuzz_rand() % fuzz.ncorpus], 1);
		}
		if (fuzz_run(&prog) > 0)
			fuzz_add_corpus(&prog, 1);
	}
	if (reload && !fuzz.crashes)
		fuzz_reload(0);
}

static void fuzz_usage(void)
{
	fputs("usage: smem-fuzz [--seconds N] [--seed S] [--corpus DIR] [--log TTY] [--ko KO]\n"
	      "                 [--reload] [--replay-only]\n"
	      "       smem-fuzz --run|--print|--repro FILE\n"
	      "       smem-fuzz --generate N [--seed S]\n"
	      "       smem-fuzz --blocks KO\n", stderr);
	exit(2);
}

static const char *fuzz_default_ko(void)
{
	static char path[300];
	struct utsname u;

	uname(&u);
	snprintf(path, sizeof(path), "/lib/modules/%s/extra/smemdev.ko", u.release);
	return path;
}

/* The modes that run no fuzzing loop: each is a command of its own. */
static int fuzz_tool(const char *mode, const char *arg)
{
	struct fuzz_prog prog;

	if (!strcmp(mode, "--blocks")) {
		struct fuzz_blocks *b = fuzz_blocks_load(arg);

		if (!b)
			return 2;
		fuzz_blocks_print_all(b, stdout);
		return 0;
	}
	if (!strcmp(mode, "--generate")) {
		long i, n = strtol(arg, NULL, 0);

		for (i = 0; i < n; i++) {
			fuzz_generate(&prog, 1);
			if (i % 2)
				fuzz_mutate(&prog, &prog, 1);
			printf("# program %ld\n", i);
			fuzz_print(stdout, &prog);
		}
		return 0;
	}
	fuzz_load_prog(arg, &prog);
	if (!strcmp(mode, "--print")) {
		fuzz_print(stdout, &prog);
		return 0;
	}
	if (!strcmp(mode, "--repro")) {
		char *text = fuzz_prog_text(&prog);

		fuzz_repro(stdout, &prog, text);
		free(text);
		return 0;
	}
	/* --run */
	fuzz_env.verbose = 1;
	fuzz_env.data_file = "/tmp/smem-fuzz.data";
	return fuzz_exec_prog(&prog);
}

int main(int argc, char **argv)
{
	const char *corpus = NULL, *log = NULL;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	long seconds = 60;
	int reload = 0, replay_only = 0, i, rc;
	time_t deadline;

	fuzz_env.self = "/proc/self/exe";
	fuzz.ko = NULL;
	if (argc == 4 && !strcmp(argv[1], "--exec-child")) {
		int kcov = atoi(argv[3]);

		if (kcov >= 0)
			fuzz_kcov_exec_child(kcov);
		return fuzz_exec_child(atoi(argv[2]));
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--reload")) {
			reload = 1;
		} else if (!strcmp(a, "--replay-only")) {
			replay_only = 1;
		} else if (!v) {
			fuzz_usage();
		} else if (!strcmp(a, "--seconds")) {
			seconds = strtol(v, NULL, 0), i++;
		} else if (!strcmp(a, "--seed")) {
			seed = strtoull(v, NULL, 0), i++;
		} else if (!strcmp(a, "--corpus")) {
			corpus = v, i++;
		} else if (!strcmp(a, "--log")) {
			log = v, i++;
		} else if (!strcmp(a, "--ko")) {
			fuzz.ko = v, i++;
		} else if (!strcmp(a, "--run") || !strcmp(a, "--print") || !strcmp(a, "--repro") ||
			   !strcmp(a, "--generate") || !strcmp(a, "--blocks")) {
			fuzz_seed(seed);
			return fuzz_tool(a, v);
		} else {
			fuzz_usage();
		}
	}

	printf("smem-fuzz: seed %#llx\n", (unsigned long long)seed);
	fuzz_seed(seed);
	if (!fuzz.ko)
		fuzz.ko = fuzz_default_ko();
	fuzz.blocks = fuzz_blocks_load(fuzz.ko);
	if (!fuzz.blocks)
		return 2;
	fuzz.corpus = calloc(FUZZ_MAX_CORPUS, sizeof(*fuzz.corpus));
	if (!fuzz.corpus)
		fuzz_die("the corpus");
	fuzz.log_fd = log ? open(log, O_WRONLY | O_NOCTTY | O_CLOEXEC) : -1;
	if (log && fuzz.log_fd < 0)
		fuzz_die(log);
	fuzz_setup(1);
	fuzz.loaded = 1;
	fuzz_rebase();

	unsigned long mem_before = 0;

	if (reload) {
		/* MemTotal without the module, and its init under KCOV. */
		if (fuzz_unload())
			fuzz_die("unloading smem");
		mem_before = fuzz_memtotal();
		if (fuzz_load(""))
			fuzz_die("loading smem");
	}
	deadline = time(NULL) + seconds;
	if (corpus)
		fuzz_replay(corpus);
	if (!replay_only) {
		fuzz_loop(deadline, reload);
	} else if (reload) {
		/* No program reloads the module: go through the parameter sets once. */
		for (i = 1; i < (int)FUZZ_NPARAMS && !fuzz.crashes; i++)
			fuzz_reload(i);
		if (!fuzz.crashes)
			fuzz_reload(0);
	}

	rc = fuzz.crashes ? 1 : 0;
	if (!fuzz.crashes && fuzz_check_pool_empty())
		rc = 1;
	if (reload && !fuzz.crashes) {
		unsigned long mem_after;

		if (fuzz_unload())
			fuzz_die("unloading smem at the end");
		mem_after = fuzz_memtotal();
		printf("smem-fuzz: MemTotal %lu kB before the first load, %lu kB after the last unload\n",
		       mem_before, mem_after);
		if (mem_after < mem_before) {
			printf("smem-fuzz: memory lost: MemTotal not restored after unload\n");
			rc = 1;
		}
	}
	printf("smem-fuzz-unreached-begin\n");
	fuzz_blocks_print_unreached(fuzz.blocks, stdout, "");
	printf("smem-fuzz-unreached-end\n");
	fuzz_blocks_print_unmatched(fuzz.blocks, stdout);
	printf("smem-fuzz: %lu programs, %zu/%zu blocks (%.1f%%), %zu unmatched PCs, %u crashes, seed %#llx\n",
	       fuzz.programs, fuzz_blocks_reached(fuzz.blocks), fuzz_blocks_count(fuzz.blocks),
	       100.0 * fuzz_blocks_reached(fuzz.blocks) / (fuzz_blocks_count(fuzz.blocks) ?: 1),
	       fuzz_blocks_unmatched(fuzz.blocks), fuzz.crashes, (unsigned long long)seed);
	return rc;
}
