// SPDX-License-Identifier: MIT
/*
 * share_sealed: hand a secret to another process as a sealed, read-only
 * copy.  Needs the kmod backend (the smemdev module, /dev/smem).
 *
 * The parent exports its secret: smem_secret_export_fd() copies it into a
 * new /dev/smem object, read-only and sealed.  It sends the descriptor
 * over a Unix socket (SCM_RIGHTS) to a child forked beforehand, which
 * has nothing else of the parent's.  The child imports and reads the
 * copy; a write returns an error (-EPERM), not a crash.  Then the parent
 * closes its secret: the child's copy is an object of its own, so the
 * child still reads it, and the kernel wipes it when the child lets go.
 * The bytes show only as a fingerprint.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smem.h>

static int fingerprint_fn(const void *buf, size_t len, void *arg)
{
	uint32_t h = 2166136261u;	/* FNV-1a: a demo, not for real secrets */

	for (size_t i = 0; i < len; i++)
		h = (h ^ ((const unsigned char *)buf)[i]) * 16777619u;
	*(uint32_t *)arg = h;
	return 0;
}

/* Would overwrite the bytes: smem_secret_write() refuses before calling it. */
static int overwrite_fn(void *buf, size_t len, void *arg)
{
	(void)arg;
	memset(buf, 0, len);
	return 0;
}

/* Send or receive one byte carrying the descriptor *fd (SCM_RIGHTS). */
static int pass_fd(int sock, int *fd, int send)
{
	union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } u = { 0 };
	struct iovec iov = { .iov_base = (char[1]){ 'F' }, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(int)),
			       .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS };
	memcpy(CMSG_DATA(c), fd, sizeof(int));
	if (send)
		return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1 || !CMSG_FIRSTHDR(&msg))
		return -1;
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

static int child(int sock)
{
	struct smem_secret *copy;
	int fd = -1, err;
	uint32_t h = 0;
	char go;

	if (pass_fd(sock, &fd, 0))
		return 1;
	err = smem_secret_import_fd(fd, 0, &copy);
	if (err) {
		fprintf(stderr, "child: import: %s\n", strerror(-err));
		return 1;
	}
	close(fd);			/* the import keeps its own mapping */
	smem_secret_read(copy, fingerprint_fn, &h);
	printf("child: imported %zu bytes, fingerprint %08x\n", smem_secret_size(copy), h);
	err = smem_secret_write(copy, overwrite_fn, NULL);
	printf("child: write: %d (%s)\n", err, strerror(-err));

	if (write(sock, "i", 1) != 1 || read(sock, &go, 1) != 1)	/* parent closes */
		return 1;
	err = smem_secret_read(copy, fingerprint_fn, &h);
	printf("child: after the parent closed: read %d, fingerprint %08x\n", err, h);
	smem_secret_unref(copy);
	return err ? 1 : 0;
}

static int parent(int sock, pid_t child_pid)
{
	char token[] = "api-token-7f3a9c1e", done;	/* would come from a vault */
	struct smem_secret *secret;
	int fd, status;
	uint32_t h = 0;

	fd = smem_secret_new(token, strlen(token), 0, &secret);
	if (!fd)
		fd = smem_secret_export_fd(secret);
	if (fd < 0) {
		fprintf(stderr, "parent: %s (export needs the smemdev module)\n", strerror(-fd));
		return 1;
	}
	smem_secret_read(secret, fingerprint_fn, &h);
	printf("parent: secret of %zu bytes, fingerprint %08x\n", smem_secret_size(secret), h);

	if (pass_fd(sock, &fd, 1) || read(sock, &done, 1) != 1)	/* child imported */
		return 1;
	close(fd);
	printf("parent: close: %d\n", smem_secret_close(secret));
	if (write(sock, "c", 1) != 1 || waitpid(child_pid, &status, 0) != child_pid)
		return 1;
	smem_secret_unref(secret);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(void)
{
	int sv[2];
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Fork first: all the child gets from the parent is its end of the socket. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(child(sv[1]));
	}
	close(sv[1]);
	return parent(sv[0], pid);
}
