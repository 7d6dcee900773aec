// SPDX-License-Identifier: MIT
/*
 * session_keys: a toy server that keeps a 32-byte key per session,
 * 100,000 of them, as enclaves, and checks the HMAC-SHA-256 of each
 * request with the key of its session (libsodium).
 *
 * An enclave keeps its key sealed (XChaCha20-Poly1305 under a key of the
 * process that lives in secret memory) in ordinary memory, one allocation of
 * 112 bytes and no mapping of its own, where 100,000 secrets would each need
 * pages of their own without protection keys (smem.h: about 21,000 fit in
 * a process).  The key is unsealed only for the smem_enclave_read()
 * callback that computes the MAC, into this thread's secret memory.
 *
 * Setup plays the clients: each session's key comes out of a key
 * exchange (here: random bytes), its client tags its request with it,
 * and the server seals the key, which wipes the buffer it came in.  Then
 * the server serves N requests (the argument, default 20,000) for random
 * sessions, checking each MAC against its client's tag; replaces the
 * process key with smem_rekey(), which seals every enclave again; serves
 * N more; and checks that a forged tag is refused.  It prints counts,
 * never a key byte, and exits 1 when any request's MAC differs.
 *
 *   cc session_keys.c $(pkg-config --cflags --libs libsmem libsodium)
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smem.h>
#include <sodium.h>

#define SESSIONS	100000
#define REQUESTS	20000
#define KEY_SIZE	crypto_auth_hmacsha256_KEYBYTES		/* 32 */
#define TAG_SIZE	crypto_auth_hmacsha256_BYTES

struct session {
	struct smem_enclave *key;
	unsigned char tag[TAG_SIZE];	/* the one its client sent with its request */
};

struct request {
	char body[64];
	size_t len;
	unsigned char mac[TAG_SIZE];
};

/* What session @id's client sends: the same body every time, for the toy. */
static void request_body(unsigned int id, struct request *req)
{
	req->len = (size_t)snprintf(req->body, sizeof(req->body),
				    "POST /session/%u/transfer amount=%u", id, id * 7 % 1000);
}

/* Runs with the session's key readable; nothing derived from it may outlive the call. */
static int mac_fn(const void *key, size_t keylen, void *arg)
{
	struct request *req = arg;
	crypto_auth_hmacsha256_state state;

	crypto_auth_hmacsha256_init(&state, key, keylen);
	crypto_auth_hmacsha256_update(&state, (const unsigned char *)req->body, req->len);
	crypto_auth_hmacsha256_final(&state, req->mac);
	sodium_memzero(&state, sizeof(state));
	return 0;
}

/* A request for session @id tagged @tag: 0 verified, 1 the MAC differs, or a negative errno. */
static int serve_one(struct session *sessions, unsigned int id, const unsigned char *tag)
{
	struct request req;
	int err;

	request_body(id, &req);
	err = smem_enclave_read(sessions[id].key, mac_fn, &req);
	if (err)
		return err;
	return sodium_memcmp(req.mac, tag, TAG_SIZE) ? 1 : 0;
}

/* @n requests for random sessions: true when every MAC was verified. */
static bool serve(struct session *sessions, unsigned long n, const char *when)
{
	unsigned long verified = 0, wrong = 0, failed = 0;
	int first_err = 0;

	for (unsigned long i = 0; i < n; i++) {
		unsigned int id = randombytes_uniform(SESSIONS);
		int ret = serve_one(sessions, id, sessions[id].tag);

		if (!ret) {
			verified++;
		} else if (ret == 1) {
			wrong++;
		} else {
			failed++;
			first_err = first_err ? first_err : ret;
		}
	}
	printf("%s: %lu requests, %lu MACs verified, %lu wrong, %lu failed\n", when, n,
	       verified, wrong, failed);
	if (first_err)
		fprintf(stderr, "smem_enclave_read: %s\n", strerror(-first_err));
	return verified == n;
}

/* The clients' side: a key per session, the tag of its request, the key sealed. */
static int setup(struct session *sessions)
{
	unsigned char key[KEY_SIZE];
	struct request req;
	int err;

	for (unsigned int id = 0; id < SESSIONS; id++) {
		randombytes_buf(key, sizeof(key));
		request_body(id, &req);
		crypto_auth_hmacsha256(sessions[id].tag, (const unsigned char *)req.body, req.len,
				       key);
		/* Wipes @key. */
		err = smem_enclave_new(key, sizeof(key), 0, &sessions[id].key);
		if (err) {
			sodium_memzero(key, sizeof(key));
			fprintf(stderr, "smem_enclave_new: %s\n", strerror(-err));
			return err;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long requests = argc > 1 ? strtoul(argv[1], NULL, 0) : REQUESTS;
	unsigned char forged[TAG_SIZE];
	struct session *sessions;
	struct smem_info info;
	bool ok = true;
	unsigned int id;
	int ret;

	if (sodium_init() < 0 || smem_info(&info) || !requests)
		return 1;
	printf("backend %s, per-thread windows: %s\n", info.backend_name,
	       info.guarantees & SMEM_G_THREAD_WINDOW ? "yes" : "no");
	sessions = calloc(SESSIONS, sizeof(*sessions));
	if (!sessions || setup(sessions)) {
		ok = false;
		goto out;
	}
	printf("sessions: %d keys, each sealed in an enclave\n", SESSIONS);

	ok &= serve(sessions, requests, "before the rekey");
	ret = smem_rekey();
	if (ret < 0)
		printf("smem_rekey: %s\n", strerror(-ret));
	else
		printf("smem_rekey: %d enclaves sealed again under a new process key\n", ret);
	ok &= ret == SESSIONS;
	ok &= serve(sessions, requests, "after the rekey");

	/* The right body with its tag but for one bit: the check must refuse it. */
	id = randombytes_uniform(SESSIONS);
	memcpy(forged, sessions[id].tag, TAG_SIZE);
	forged[TAG_SIZE - 1] ^= 1;
	ret = serve_one(sessions, id, forged);
	if (ret < 0)
		printf("forged request: smem_enclave_read: %s\n", strerror(-ret));
	else
		printf("forged request: %s\n", ret ? "refused" : "ACCEPTED");
	ok &= ret == 1;
out:
	for (id = 0; sessions && id < SESSIONS; id++)
		smem_enclave_unref(sessions[id].key);
	free(sessions);
	printf("%s\n", ok ? "every request verified, the forgery refused" : "FAILED");
	return ok ? 0 : 1;
}
