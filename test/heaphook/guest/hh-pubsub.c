// SPDX-License-Identifier: Apache-2.0
/*
 * hh-pubsub: publisher and subscriber processes, both under the hook,
 * driven by heaphook-gtest over the control channel (fd 3, see hh.h). They
 * speak agnocast through libagnocast, linked in statically: under the hook
 * every call goes to the heaphook's copy of the library (one state per
 * process), so what they publish is what malloc returned.
 *
 *   hh-pubsub pub  TOPIC NODES   builds a binary search tree of NODES nodes
 *                                with malloc'ed labels in its heap (= pool),
 *                                publishes the root's address
 *   hh-pubsub sub  TOPIC PUBPID  subscribes (the library maps the publisher's
 *                                pool read-only at its address), receives the
 *                                root and walks the same pointers; then
 *                                writes into the mapping when told to (and
 *                                must die of SIGSEGV)
 *   hh-pubsub gpub TOPIC MIB     (small pool) allocates MIB MiB when told,
 *                                forcing growth, and publishes an address
 *                                past the size the subscriber mapped at
 *   hh-pubsub gsub TOPIC PUBPID  maps the pool before the growth, reads the
 *                                grown part through that same mapping, then
 *                                unmaps it (agnocast_unmap_pool)
 *
 * Messages (driver -> program / program -> driver):
 *   pub:  -> "ready <pid> <root>"; "publish" -> "published <seq>";
 *         "verify" -> "intact <count> <checksum>"; "exit"
 *   sub:  -> "subscribed <size> <max>"; "receive" -> "verified <count>
 *         <checksum> <root>"; "write" -> (SIGSEGV; "wrote" if it survived)
 *   gpub: -> "ready <pid> <size> <max>"; "grow" -> "published <addr> <size>";
 *         "exit"
 *   gsub: -> "mapped <size> <max>"; "receive" -> "verified <mib> <offset>";
 *         "exit"
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hh.h"
#include "libagnocast.h"

#define ROOT_MAGIC 0x7265657274616761ULL	/* "agatree" */
#define BIG_MAGIC 0x6769626761ULL
#define VALUE_SALT 0x5eed5eed5eedULL
#define POLL_MS 120000	/* safety net only */

struct node {
	uint64_t key, value;
	char *label;
	struct node *left, *right;
};

struct root {
	uint64_t magic, count, checksum;
	struct node *tree;
};

struct big {
	uint64_t magic, nchunks, words;	/* words per chunk */
	uint64_t *chunks[];
};

/* A libagnocast call that must succeed. */
#define LIB_OK(call)                                                      \
	do {                                                              \
		int r_ = (call);                                          \
		if (r_ < 0)                                               \
			DIE("%s: %s", #call, agnocast_last_error());      \
	} while (0)

static void label_of(uint64_t key, uint64_t value, char *buf, size_t len)
{
	int n = snprintf(buf, len, "node %llu value %llx ", (unsigned long long)key,
			 (unsigned long long)value);
	size_t pad = key % 200;

	if ((size_t)n + pad >= len)
		pad = len - (size_t)n - 1;
	memset(buf + n, 'a' + (int)(key % 26), pad);
	buf[(size_t)n + pad] = 0;
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* ---- the publisher ----------------------------------------------------------- */

static uint64_t tree_sum(const struct node *n, uint64_t *count)
{
	uint64_t s = 0;

	for (; n; n = n->right) {
		s += tree_sum(n->left, count);
		s += hh_mix(n->key) ^ n->value ^ fnv(n->label);
		(*count)++;
	}
	return s;
}

static int pub(const char *topic, long nodes)
{
	struct agnocast_publisher *p;
	struct root *root;
	char buf[512], label[300];
	uint64_t count = 0, sum, seq = 0;

	hh_info();
	root = calloc(1, sizeof(*root));
	ENSURE(root && hh.owns(root), "root %p not in the pool", (void *)root);
	root->magic = ROOT_MAGIC;
	for (long i = 0; i < nodes; i++) {
		uint64_t key = hh_mix((uint64_t)i) >> 1;
		struct node **link = &root->tree, *n;

		while (*link && (*link)->key != key)
			link = key < (*link)->key ? &(*link)->left : &(*link)->right;
		if (*link)
			continue;
		n = malloc(sizeof(*n));
		ENSURE(n, "malloc(node)");
		n->key = key;
		n->value = hh_mix(key ^ VALUE_SALT);
		label_of(key, n->value, label, sizeof(label));
		n->label = strdup(label);
		n->left = n->right = NULL;
		ENSURE(n->label, "strdup");
		ENSURE(hh.owns(n) && hh.owns(n->label), "node %p / label %p not in the pool",
		       (void *)n, (void *)n->label);
		*link = n;
		root->count++;
	}
	root->checksum = tree_sum(root->tree, &count);
	ENSURE(count == root->count, "%llu nodes counted", (unsigned long long)count);

	LIB_OK(agnocast_publisher_create(topic, &(struct agnocast_qos){ 1, 0 }, &p));
	ctl_send("ready %d %llx", getpid(), (unsigned long long)(uintptr_t)root);

	ctl_expect("publish");
	/* Depth 1 and one publish: the tree stays in the history, never handed back. */
	LIB_OK(agnocast_publish(p, root, sizeof(*root), &seq));
	ctl_send("published %llu", (unsigned long long)seq);

	for (;;) {
		ctl_recv(buf, sizeof(buf));
		if (!strcmp(buf, "exit"))
			break;
		ENSURE(!strcmp(buf, "verify"), "unexpected message \"%s\"", buf);
		count = 0;
		sum = tree_sum(root->tree, &count);
		ENSURE(root->magic == ROOT_MAGIC && count == root->count &&
			       sum == root->checksum,
		       "the tree changed: %llu nodes (of %llu), checksum %llx (was %llx)",
		       (unsigned long long)count, (unsigned long long)root->count,
		       (unsigned long long)sum, (unsigned long long)root->checksum);
		ctl_send("intact %llu %llx", (unsigned long long)count, (unsigned long long)sum);
	}
	return 0;
}

/* ---- the subscriber ---------------------------------------------------------- */

static struct agnocast_pool_info peer;

static int in_peer(const void *p, size_t len)
{
	uint64_t a = (uintptr_t)p;

	return a >= peer.addr && a + len <= peer.addr + peer.size && a + len >= a;
}

/* Subscribe; the library maps the one publisher's pool, which must be pubpid's. */
static struct agnocast_subscriber *subscribe(const char *topic, pid_t pubpid)
{
	struct agnocast_subscriber *s;
	struct agnocast_pool_info pools[4];
	int n;

	LIB_OK(agnocast_subscriber_create(topic, &(struct agnocast_qos){ 1, 0 }, &s));
	n = agnocast_mapped_pools(pools, 4);
	ENSURE(n == 1 && pools[0].pid == pubpid,
	       "the library maps %d pools after subscribing, the first of pid %d (want one, %d)",
	       n, n > 0 ? pools[0].pid : 0, pubpid);
	peer = pools[0];
	/* A read-only descriptor's mapping can never become writable. */
	errno = 0;
	ENSURE(mprotect((void *)(uintptr_t)peer.addr, 4096, PROT_READ | PROT_WRITE) < 0 &&
		       errno == EACCES,
	       "mprotect(PROT_WRITE) of the peer's pool did not fail with EACCES");
	return s;
}

/* Wait for the subscriber's fd, then receive exactly one entry. */
static struct agnocast_entry receive_one(struct agnocast_subscriber *s)
{
	struct agnocast_entry e[4];
	struct pollfd pf = { .fd = agnocast_subscriber_fd(s), .events = POLLIN };
	int n;

	ENSURE(poll(&pf, 1, POLL_MS) == 1 && (pf.revents & POLLIN),
	       "no POLLIN on the subscriber fd (revents %x)", pf.revents);
	n = agnocast_receive(s, e, 4);
	ENSURE(n == 1, "agnocast_receive gave %d (%s)", n, n < 0 ? agnocast_last_error() : "entries");
	return e[0];
}

static uint64_t walk(const struct node *n, uint64_t *count, uint64_t *last)
{
	char label[300];
	uint64_t s = 0;

	for (; n; n = n->right) {
		ENSURE(in_peer(n, sizeof(*n)), "node %p outside the peer's pool", (void *)n);
		s += walk(n->left, count, last);
		ENSURE(*count == 0 || n->key > *last, "keys out of order");
		*last = n->key;
		ENSURE(n->value == hh_mix(n->key ^ VALUE_SALT), "node %llu: bad value",
		       (unsigned long long)n->key);
		ENSURE(in_peer(n->label, 1), "label %p outside the peer's pool", (void *)n->label);
		label_of(n->key, n->value, label, sizeof(label));
		ENSURE(in_peer(n->label, strlen(label) + 1) && !strcmp(n->label, label),
		       "node %llu: label \"%.40s\"", (unsigned long long)n->key, n->label);
		s += hh_mix(n->key) ^ n->value ^ fnv(n->label);
		(*count)++;
	}
	return s;
}

static int sub(const char *topic, pid_t pubpid)
{
	struct agnocast_subscriber *s;
	struct agnocast_entry e;
	const struct root *root;
	uint64_t count = 0, last = 0, sum;

	hh_info();
	s = subscribe(topic, pubpid);
	ctl_send("subscribed %llu %llu", (unsigned long long)peer.size,
		 (unsigned long long)peer.max);

	ctl_expect("receive");
	e = receive_one(s);
	ENSURE(e.pid == pubpid && e.len == sizeof(struct root), "entry pid %d len %llu",
	       e.pid, (unsigned long long)e.len);
	root = (const struct root *)(uintptr_t)e.addr;
	ENSURE(in_peer(root, sizeof(*root)) && root->magic == ROOT_MAGIC, "bad root");
	sum = walk(root->tree, &count, &last);
	ENSURE(count == root->count && sum == root->checksum,
	       "%llu nodes (root says %llu), checksum %llx (root says %llx)",
	       (unsigned long long)count, (unsigned long long)root->count,
	       (unsigned long long)sum, (unsigned long long)root->checksum);
	ctl_send("verified %llu %llx %llx", (unsigned long long)count,
		 (unsigned long long)sum, (unsigned long long)e.addr);

	ctl_expect("write");
	((volatile struct root *)root)->count = 0;
	ctl_send("wrote");
	return 3;
}

/* ---- growth --------------------------------------------------------------- */

static int gpub(const char *topic, long mib)
{
	struct agnocast_heap_info info = hh_info(), after;
	const uint64_t words = (1 << 20) / sizeof(uint64_t);
	struct agnocast_publisher *p;
	struct big *big;
	uint64_t **chunks;
	size_t len;

	LIB_OK(agnocast_publisher_create(topic, &(struct agnocast_qos){ 1, 0 }, &p));
	ctl_send("ready %d %llu %llu", getpid(), (unsigned long long)info.size,
		 (unsigned long long)info.max);

	ctl_expect("grow");
	chunks = malloc((size_t)mib * sizeof(*chunks));
	ENSURE(chunks, "malloc");
	for (long i = 0; i < mib; i++) {
		chunks[i] = malloc(words * sizeof(uint64_t));
		ENSURE(chunks[i] && hh.owns(chunks[i]), "chunk %ld: %p", i, (void *)chunks[i]);
		for (uint64_t j = 0; j < words; j++)
			chunks[i][j] = hh_mix(((uint64_t)i << 32) | j);
	}
	big = malloc(sizeof(*big) + (size_t)mib * sizeof(uint64_t *));
	ENSURE(big && hh.owns(big), "big");
	big->magic = BIG_MAGIC;
	big->nchunks = (uint64_t)mib;
	big->words = words;
	memcpy(big->chunks, chunks, (size_t)mib * sizeof(*chunks));
	after = hh_info();
	ENSURE(after.size >= (uint64_t)mib << 20 && after.size > info.size,
	       "the pool did not grow: %llu -> %llu", (unsigned long long)info.size,
	       (unsigned long long)after.size);
	len = sizeof(*big) + (size_t)mib * sizeof(uint64_t *);
	if (agnocast_publish(p, big, len, NULL) < 0)
		DIE("agnocast_publish at offset %llu: %s",
		    (unsigned long long)((uintptr_t)big - info.addr), agnocast_last_error());
	ctl_send("published %llx %llu", (unsigned long long)(uintptr_t)big,
		 (unsigned long long)after.size);
	ctl_expect("exit");
	return 0;
}

static int gsub(const char *topic, pid_t pubpid)
{
	struct agnocast_subscriber *s;
	struct agnocast_entry e;
	const struct big *big;
	uint64_t mapped_size, off, beyond = 0, nchunks;
	int st;
	pid_t pid;

	hh_info();
	s = subscribe(topic, pubpid);
	mapped_size = peer.size;
	/* Past the end of the file as it is now: SIGBUS (checked in a child). */
	pid = fork();
	ENSURE(pid >= 0, "fork");
	if (pid == 0) {
		volatile const char *p = (const char *)(uintptr_t)(peer.addr + mapped_size);

		signal(SIGBUS, SIG_DFL);
		(void)*p;
		_exit(0);
	}
	ENSURE(waitpid(pid, &st, 0) == pid, "waitpid");
	ENSURE(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
	       "reading past the pool's size (%llu) did not raise SIGBUS: status 0x%x",
	       (unsigned long long)mapped_size, st);
	ctl_send("mapped %llu %llu", (unsigned long long)mapped_size,
		 (unsigned long long)peer.max);

	ctl_expect("receive");
	e = receive_one(s);
	off = e.addr - peer.addr;
	ENSURE(off >= mapped_size, "the entry is at offset %llu, inside the size mapped (%llu)",
	       (unsigned long long)off, (unsigned long long)mapped_size);
	/* It grew: bound the walk by the reserved length. */
	peer.size = peer.max;
	big = (const struct big *)(uintptr_t)e.addr;
	ENSURE(in_peer(big, sizeof(*big)) && big->magic == BIG_MAGIC, "bad header");
	ENSURE(in_peer(big->chunks, big->nchunks * sizeof(uint64_t *)), "bad chunk table");
	for (uint64_t i = 0; i < big->nchunks; i++) {
		const uint64_t *c = big->chunks[i];

		ENSURE(in_peer(c, big->words * sizeof(uint64_t)), "chunk %llu at %p",
		       (unsigned long long)i, (const void *)c);
		if ((uint64_t)(uintptr_t)c - peer.addr >= mapped_size)
			beyond++;
		for (uint64_t j = 0; j < big->words; j++)
			ENSURE(c[j] == hh_mix((i << 32) | j), "chunk %llu word %llu",
			       (unsigned long long)i, (unsigned long long)j);
	}
	ENSURE(beyond >= big->nchunks - 1, "only %llu of %llu chunks lie past the mapped size",
	       (unsigned long long)beyond, (unsigned long long)big->nchunks);
	nchunks = big->nchunks;
	LIB_OK(agnocast_release(s, &e));
	LIB_OK(agnocast_unmap_pool(peer.addr));
	LIB_OK(agnocast_subscriber_destroy(s));
	ctl_send("verified %llu %llu", (unsigned long long)nchunks, (unsigned long long)off);
	ctl_expect("exit");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: hh-pubsub pub|sub|gpub|gsub TOPIC N|PID\n");
		return 2;
	}
	hh_load();
	if (!strcmp(argv[1], "pub"))
		return pub(argv[2], atol(argv[3]));
	if (!strcmp(argv[1], "sub"))
		return sub(argv[2], atoi(argv[3]));
	if (!strcmp(argv[1], "gpub"))
		return gpub(argv[2], atol(argv[3]));
	if (!strcmp(argv[1], "gsub"))
		return gsub(argv[2], atoi(argv[3]));
	return 2;
}
