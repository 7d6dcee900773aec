// SPDX-License-Identifier: MIT
/*
 * hmac_key: a MAC key kept in smem, used for HMAC-SHA-256 with libsodium.
 *
 * The key goes into a secret once, and the buffer it came from is wiped
 * by smem_secret_new().  From then on the key's bytes can be reached only
 * inside the smem_secret_read() callback, which computes the MAC and
 * wipes libsodium's HMAC state (derived from the key) before it returns.
 * The program prints the MAC, never the key.
 *
 * The key and message are those of RFC 4231, test case 2, so the MAC can
 * be checked against the RFC: the program says whether it matches.
 *
 *   cc hmac_key.c $(pkg-config --cflags --libs libsmem libsodium)
 */
#include <stdio.h>
#include <string.h>

#include <smem.h>
#include <sodium.h>

/* RFC 4231, 4.3: HMAC-SHA-256 of the message below with the key "Jefe". */
static const char rfc4231_mac[] =
	"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

struct mac_job {
	const char *msg;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
};

/* Runs with the key readable; nothing derived from it may outlive the call. */
static int mac_fn(const void *key, size_t keylen, void *arg)
{
	struct mac_job *job = arg;
	crypto_auth_hmacsha256_state state;

	crypto_auth_hmacsha256_init(&state, key, keylen);
	crypto_auth_hmacsha256_update(&state, (const unsigned char *)job->msg,
				      strlen(job->msg));
	crypto_auth_hmacsha256_final(&state, job->mac);
	sodium_memzero(&state, sizeof(state));
	return 0;
}

int main(void)
{
	char key[] = "Jefe";	/* in real life: from a file, a KMS, a prompt */
	struct mac_job job = { .msg = "what do ya want for nothing?" };
	char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
	struct smem_secret *secret;
	struct smem_info info;
	int err;

	if (sodium_init() < 0 || smem_info(&info))
		return 1;
	printf("backend %s, per-thread windows: %s\n", info.backend_name,
	       info.guarantees & SMEM_G_THREAD_WINDOW ? "yes" : "no");

	err = smem_secret_new(key, strlen(key), 0, &secret);
	if (err) {
		fprintf(stderr, "smem_secret_new: %s\n", strerror(-err));
		return 1;
	}
	printf("source buffer wiped: %s\n", key[0] ? "no" : "yes");

	err = smem_secret_read(secret, mac_fn, &job);
	smem_secret_unref(secret);	/* the last reference: wiped and freed */
	if (err) {
		fprintf(stderr, "smem_secret_read: %s\n", strerror(-err));
		return 1;
	}

	sodium_bin2hex(hex, sizeof(hex), job.mac, sizeof(job.mac));
	printf("HMAC-SHA-256(\"%s\") = %s\n", job.msg, hex);
	if (strcmp(hex, rfc4231_mac)) {
		printf("does NOT match RFC 4231 test case 2\n");
		return 1;
	}
	printf("matches RFC 4231 test case 2\n");
	return 0;
}
