// SPDX-License-Identifier: GPL-2.0
/*
 * smemctl pool grow|shrink|set SIZE: resize a carved pool through
 * SMEM_IOC_POOL_RESIZE, and say how far it got and why it stopped.
 *
 * The kernel resizes block by block and reports the size it reached even
 * when it stops early (no block left, blocks in use, a signal): that size
 * is printed before the reason, so an interrupted resize still tells the
 * administrator where the pool is now.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/smem.h>

#include "smemctl.h"

/*
 * SIZE: a number of MiB, or one with a suffix K, M, G or T (binary; "iB"
 * or "B" may follow), at most 1 PiB.
 */
static bool parse_size(const char *arg, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	const char *unit;
	unsigned long long v;
	unsigned int shift = 20;
	char *end;

	if (*arg < '0' || *arg > '9')
		return false;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno)
		return false;
	if (*end) {
		unit = strchr(units, toupper((unsigned char)*end));
		if (!unit)
			return false;
		shift = 10 * (unsigned int)(unit - units + 1);
		end++;
		if (!strcasecmp(end, "iB"))
			end += 2;
		else if (!strcasecmp(end, "B"))
			end++;
		if (*end)
			return false;
	}
	if (v > (1ULL << 50) >> shift)
		return false;
	*bytes = (uint64_t)v << shift;
	return true;
}

static void on_signal(int sig)
{
	(void)sig;
}

static const char pool_usage[] =
	"usage: smemctl pool grow|shrink|set SIZE\n"
	"Resize a carved pool: grow and shrink by SIZE rounded up to whole memory\n"
	"blocks, set to SIZE rounded down to whole blocks.  SIZE is a number of\n"
	"MiB, or one with a suffix K, M, G or T (binary units): 256M, 1G, 512.\n"
	"Needs root (CAP_SYS_ADMIN).  See smemctl(8).\n";

int cmd_pool(int argc, char **argv)
{
	static const char *const ops[] = { "grow", "shrink", "set" };
	static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: EINTR */
	struct smem_pool_resize r = { 0 };
	struct smem_query q;
	uint64_t size, target, before, after, block, step;
	char cmd[16];
	size_t op = 0;
	int fd, err, code;

	code = smemctl_help_only(argc, argv, pool_usage, true);
	if (code >= 0)
		return code;
	argc -= optind;
	argv += optind;
	while (argc == 2 && op < 3 && strcmp(argv[0], ops[op]))
		op++;
	if (argc != 2 || op == 3) {
		smemctl_err("pool: usage: smemctl pool grow|shrink|set SIZE");
		return EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "pool %s", ops[op]);
	if (!parse_size(argv[1], &size)) {
		smemctl_err("%s: '%s' is not a size: 256M, 1G, or a number of MiB", cmd, argv[1]);
		return EXIT_USAGE;
	}
	fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		return need_root(cmd, "resizing the pool");
	if (fd < 0 && !module_loaded()) {
		smemctl_err("%s: smem is not loaded (smemctl load)", cmd);
		return EXIT_NOT_LOADED;
	}
	if (fd < 0 || ioctl(fd, SMEM_IOC_QUERY, &q)) {
		smemctl_err("%s: %s does not answer: %s", cmd, DEVICE, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_FAIL;
	}
	before = q.pool_pages * q.page_size;
	block = q.block_pages * q.page_size;
	/*
	 * grow and shrink: by whole blocks, at least one for any SIZE but 0;
	 * set: the kernel rounds down, as for pool_mb.
	 */
	step = block ? (size + block - 1) / block * block : size;
	target = op == 0 ? before + step : op == 1 ? (step < before ? before - step : 0) : size;
	r.size = target;

	/* A signal stops the resize between two blocks; one ignored stays so. */
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
		struct sigaction old;

		if (!sigaction(stop_signals[i], NULL, &old) && old.sa_handler != SIG_IGN)
			sigaction(stop_signals[i], &sa, NULL);
	}
	err = ioctl(fd, SMEM_IOC_POOL_RESIZE, &r) ? errno : 0;
	close(fd);
	after = r.pool_size;

	if (!err || err == ENOSPC || err == EBUSY || err == EINTR || err == ENOMEM) {
		printf("pool: %" PRIu64 " MiB -> %" PRIu64 " MiB", before >> 20, after >> 20);
		if (block)
			printf(" (%" PRIu64 " block%s of %" PRIu64 " MiB)", after / block,
			       after == block ? "" : "s", block >> 20);
		if (err)
			printf(", asked for %" PRIu64 " MiB", target >> 20);
		printf("\n");
		fflush(stdout);
	}
	switch (err) {
	case 0:
		return EXIT_OK;
	case EPERM:
		return need_root(cmd, "resizing the pool");
	case ENOSPC:
		smemctl_err("%s: stopped: no eligible memory block left: see carvable/refused in"
		    " smemctl status; boot with nogbpages or movablecore= for more", cmd);
		return EXIT_NO_BLOCK;
	case EBUSY:
		smemctl_err("%s: stopped: blocks in use: a block goes back only when no secret holds"
		    " a page of it", cmd);
		return EXIT_BUSY;
	case EINTR:
		smemctl_err("%s: stopped: interrupted by a signal", cmd);
		return EXIT_INTERRUPTED;
	case ENOMEM:
		smemctl_err("%s: stopped: the kernel ran out of memory while taking a block out;"
		    " the block stays eligible", cmd);
		return EXIT_FAIL;
	case EOPNOTSUPP:
		smemctl_err("%s: the page source is not carveout but %s: only a carved pool can be resized",
		    cmd, source_name(q.page_source));
		return EXIT_NOT_CARVED;
	default:
		smemctl_err("%s: %s", cmd, strerror(err));
		return EXIT_FAIL;
	}
}

