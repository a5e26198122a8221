// SPDX-License-Identifier: Apache-2.0
/* agn: a tiny C client of agnocast.ko (see agn.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agn.h"

static const char *agn_name = "agn";
/* Our queue's name while it exists: the module does not clean queues up. */
static char agn_queue_name[64];

static void agn_unlink_queue(void)
{
	if (agn_queue_name[0])
		mq_unlink(agn_queue_name);
	agn_queue_name[0] = '\0';
}

static void agn_on_signal(int sig)
{
	agn_unlink_queue();
	signal(sig, SIG_DFL);
	raise(sig);
}

void agn_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: error: ", agn_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void agn_say(const struct agn *a, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", a->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

uint64_t agn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t agn_parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'G': shift += 10; /* fall through */
	case 'M': shift += 10; /* fall through */
	case 'K': shift += 10; end++; break;
	case '\0': break;
	default: return 0;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

const char *agn_fmt_size(char *buf, size_t len, uint64_t b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB" };
	unsigned int u = 0;
	double v = (double)b;

	while (u < 3 && b >= 1024 && b % 1024 == 0) {
		b /= 1024;
		u++;
	}
	if (u == 3 || b < 1024) {
		snprintf(buf, len, "%llu %s", (unsigned long long)b, unit[u]);
		return buf;
	}
	/* Not a round number: one decimal in the largest unit that fits. */
	for (u = 0; u < 3 && v >= 1024; u++)
		v /= 1024;
	snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

static void queue_name(char *buf, size_t len, pid_t pid)
{
	snprintf(buf, len, "/new_publisher@%d", (int)pid);
}

static void open_queue(struct agn *a)
{
	struct mq_attr attr = { .mq_maxmsg = AGN_QUEUE_DEPTH,
				.mq_msgsize = AGN_QUEUE_MSG_MAX };
	int flags = O_CREAT | O_EXCL | O_RDONLY | O_NONBLOCK;
	char name[64];

	queue_name(name, sizeof(name), a->pid);
	a->queue = mq_open(name, flags, 0600, &attr);
	if (a->queue == (mqd_t)-1 && errno == EEXIST) {
		/* Left by a dead process that had our pid. */
		mq_unlink(name);
		a->queue = mq_open(name, flags, 0600, &attr);
	}
	if (a->queue == (mqd_t)-1)
		agn_die("mq_open(%s, O_CREAT): %s", name, strerror(errno));
	/* Unlinked by agn_leave, or at exit, or on a fatal SIGTERM/INT/HUP. */
	strcpy(agn_queue_name, name);
	atexit(agn_unlink_queue);
	signal(SIGTERM, agn_on_signal);
	signal(SIGINT, agn_on_signal);
	signal(SIGHUP, agn_on_signal);
}

void agn_join(struct agn *a, const char *name, uint64_t pool_size,
	      uint64_t pool_max, int with_queue)
{
	struct agnocast_add_process_args ap = { 0 };
	struct agnocast_attach_pool_args at = { 0 };
	const char *env = getenv("AGNOCAST_MEMPOOL_SIZE");
	char shm[64];
	void *p;

	memset(a, 0, sizeof(*a));
	a->name = agn_name = name;
	a->pid = getpid();
	a->queue = (mqd_t)-1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (env && *env) {
		pool_size = agn_parse_size(env);
		if (!pool_size)
			agn_die("AGNOCAST_MEMPOOL_SIZE=%s: not a size (bytes, or with K, M, G)", env);
	}
	if (pool_max < pool_size)
		pool_max = pool_size;

	a->dev = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (a->dev < 0)
		agn_die("open %s: %s (is agnocast.ko loaded?)", AGNOCAST_DEVICE_PATH,
			strerror(errno));
	if (with_queue)
		open_queue(a);

	ap.pool_size = pool_size;
	ap.pool_max = pool_max;
	if (ioctl(a->dev, AGNOCAST_ADD_PROCESS_CMD, &ap))
		agn_die("ADD_PROCESS(%llu bytes): %s", (unsigned long long)pool_size,
			strerror(errno));
	if (ap.flags & AGNOCAST_JOIN_EXISTING)
		agn_die("ADD_PROCESS: this process had joined already");
	a->pool_addr = ap.pool_addr;
	a->pool_size = ap.pool_size;
	a->pool_max = ap.pool_max;

	/* Mode 0444 from the start: we keep a writable fd, nobody else gets one. */
	snprintf(shm, sizeof(shm), "/agnocast@%d", (int)a->pid);
	a->shm_fd = shm_open(shm, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
	if (a->shm_fd < 0 && errno == EEXIST) {
		shm_unlink(shm);	/* a dead process's, with our pid */
		a->shm_fd = shm_open(shm, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
	}
	if (a->shm_fd < 0)
		agn_die("shm_open(%s): %s", shm, strerror(errno));
	if (ftruncate(a->shm_fd, (off_t)a->pool_size))
		agn_die("ftruncate(%s): %s", shm, strerror(errno));
	p = mmap(agn_ptr(a->pool_addr), a->pool_max, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, a->shm_fd, 0);
	if (p != agn_ptr(a->pool_addr))
		agn_die("mmap of %s at 0x%llx: %s", shm,
			(unsigned long long)a->pool_addr,
			p == MAP_FAILED ? strerror(errno) : "placed elsewhere");
	at.fd = a->shm_fd;
	if (ioctl(a->dev, AGNOCAST_ATTACH_POOL_CMD, &at))
		agn_die("ATTACH_POOL: %s", strerror(errno));
}

void agn_leave(struct agn *a)
{
	struct agnocast_map_pool_args mp;
	unsigned int i;

	for (i = 0; i < a->nr_peers; i++) {
		munmap(agn_ptr(a->peers[i].addr), a->peers[i].max);
		memset(&mp, 0, sizeof(mp));
		mp.pool.pid = a->peers[i].pid;
		if (ioctl(a->dev, AGNOCAST_UNMAP_POOL_CMD, &mp))
			agn_die("UNMAP_POOL(%d): %s", (int)mp.pool.pid, strerror(errno));
	}
	a->nr_peers = 0;
	if (a->queue != (mqd_t)-1) {
		mq_close(a->queue);
		agn_unlink_queue();
		a->queue = (mqd_t)-1;
	}
	/* The rest (endpoints, our pool) the module drops when we exit. */
}

static void set_topic(char *field, const char *topic)
{
	if (strlen(topic) >= AGNOCAST_TOPIC_NAME_MAX)
		agn_die("topic name too long: %s", topic);
	memset(field, 0, AGNOCAST_TOPIC_NAME_MAX);
	strcpy(field, topic);
}

/* Tell process pid (a subscriber) about us, on its /new_publisher@<pid>. */
static void announce(struct agn *a, pid_t pid, const char *topic)
{
	char name[64], msg[AGN_QUEUE_MSG_MAX];
	int len;
	mqd_t q;

	queue_name(name, sizeof(name), pid);
	q = mq_open(name, O_WRONLY | O_NONBLOCK);
	if (q == (mqd_t)-1) {
		if (errno != ENOENT)
			agn_die("mq_open(%s, O_WRONLY): %s", name, strerror(errno));
		agn_say(a, "process %d has no %s: it will learn our pid from our entries",
			(int)pid, name);
		return;
	}
	len = snprintf(msg, sizeof(msg), "{\"pid\":%d,\"topic\":\"", (int)a->pid);
	for (; *topic && len < (int)sizeof(msg) - 8; topic++) {
		unsigned char c = (unsigned char)*topic;

		if (c == '"' || c == '\\')
			len += snprintf(msg + len, sizeof(msg) - len, "\\%c", c);
		else if (c < 0x20)
			len += snprintf(msg + len, sizeof(msg) - len, "\\u%04x", c);
		else
			msg[len++] = (char)c;
	}
	len += snprintf(msg + len, sizeof(msg) - len, "\"}");
	if (mq_send(q, msg, (size_t)len, 0) == 0)
		agn_say(a, "announced ourselves to process %d on %s", (int)pid, name);
	else if (errno == EAGAIN)
		agn_say(a, "%s is full: process %d will learn our pid from our entries",
			name, (int)pid);
	else
		agn_die("mq_send(%s): %s", name, strerror(errno));
	mq_close(q);
}

uint32_t agn_add_publisher(struct agn *a, const char *topic, uint32_t depth,
			   uint32_t qos_flags)
{
	struct agnocast_add_publisher_args ar;
	int32_t pids[AGNOCAST_TOPIC_SUBS_MAX];
	unsigned int i;

	memset(&ar, 0, sizeof(ar));
	set_topic(ar.topic, topic);
	ar.qos.depth = depth;
	ar.qos.flags = qos_flags;
	ar.sub_pids = agn_addr(pids);
	ar.sub_pids_cap = AGNOCAST_TOPIC_SUBS_MAX;
	if (ioctl(a->dev, AGNOCAST_ADD_PUBLISHER_CMD, &ar))
		agn_die("ADD_PUBLISHER(%s): %s", topic, strerror(errno));
	for (i = 0; i < ar.nr_sub_pids && i < AGNOCAST_TOPIC_SUBS_MAX; i++)
		if (pids[i] != a->pid)
			announce(a, pids[i], topic);
	return ar.publisher_id;
}

uint32_t agn_add_subscriber(struct agn *a, const char *topic, uint32_t depth,
			    uint32_t qos_flags, int *fd)
{
	static struct agnocast_pool_info pubs[AGNOCAST_TOPIC_PUBS_MAX];
	struct agnocast_add_subscriber_args ar;
	char how[AGNOCAST_TOPIC_NAME_MAX + 64];
	unsigned int i;

	memset(&ar, 0, sizeof(ar));
	set_topic(ar.topic, topic);
	ar.qos.depth = depth;
	ar.qos.flags = qos_flags;
	ar.pubs = agn_addr(pubs);
	ar.pubs_cap = AGNOCAST_TOPIC_PUBS_MAX;
	if (ioctl(a->dev, AGNOCAST_ADD_SUBSCRIBER_CMD, &ar))
		agn_die("ADD_SUBSCRIBER(%s): %s", topic, strerror(errno));
	snprintf(how, sizeof(how), "listed by ADD_SUBSCRIBER(%s)", topic);
	for (i = 0; i < ar.nr_pubs && i < AGNOCAST_TOPIC_PUBS_MAX; i++)
		agn_map_peer(a, pubs[i].pid, how);
	*fd = ar.fd;
	return ar.subscriber_id;
}

const struct agn_peer *agn_map_peer(struct agn *a, pid_t pid, const char *how)
{
	static struct agn_peer self;
	struct agnocast_map_pool_args mp;
	struct agn_peer *peer;
	char name[64], sz[32];
	unsigned int i;
	void *p;
	int fd;

	if (pid == a->pid) {
		self = (struct agn_peer){ pid, a->pool_addr, a->pool_max };
		return &self;
	}
	for (i = 0; i < a->nr_peers; i++)
		if (a->peers[i].pid == pid)
			return &a->peers[i];
	if (a->nr_peers == AGN_PEERS_MAX)
		agn_die("more than %d peer pools", AGN_PEERS_MAX);

	/* Declare it first: from here on its range and its file stay. */
	memset(&mp, 0, sizeof(mp));
	mp.pool.pid = pid;
	if (ioctl(a->dev, AGNOCAST_MAP_POOL_CMD, &mp)) {
		if (errno == ENOENT)
			return NULL;	/* gone, and nothing of it is alive */
		agn_die("MAP_POOL(%d): %s", (int)pid, strerror(errno));
	}
	snprintf(name, sizeof(name), "/agnocast@%d", (int)pid);
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		agn_die("shm_open(%s, O_RDONLY): %s", name, strerror(errno));
	p = mmap(agn_ptr(mp.pool.addr), mp.pool.max, PROT_READ,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	if (p != agn_ptr(mp.pool.addr))
		agn_die("mmap of %s read-only at 0x%llx: %s", name,
			(unsigned long long)mp.pool.addr,
			p == MAP_FAILED ? strerror(errno) : "placed elsewhere");
	close(fd);
	peer = &a->peers[a->nr_peers++];
	*peer = (struct agn_peer){ pid, mp.pool.addr, mp.pool.max };
	agn_say(a, "mapped process %d's pool read-only at 0x%llx (%s), %s",
		(int)pid, (unsigned long long)peer->addr,
		agn_fmt_size(sz, sizeof(sz), peer->max), how);
	return peer;
}

void agn_drain_queue(struct agn *a)
{
	char msg[AGN_QUEUE_MSG_MAX + 1], how[AGN_QUEUE_MSG_MAX + 64], *topic, *end;
	ssize_t n;
	int pid, off;

	if (a->queue == (mqd_t)-1)
		return;
	while ((n = mq_receive(a->queue, msg, sizeof(msg) - 1, NULL)) >= 0) {
		msg[n] = '\0';
		off = -1;
		if (sscanf(msg, "{\"pid\":%d,\"topic\":%n", &pid, &off) != 1 || off < 0 ||
		    pid <= 0) {
			agn_say(a, "ignored a malformed notice on our queue: \"%s\"", msg);
			continue;
		}
		topic = msg + off;	/* "<topic>"} */
		end = strrchr(topic, '"');
		if (*topic == '"' && end > topic) {
			topic++;
			*end = '\0';
		}
		snprintf(how, sizeof(how),
			 "announced on /new_publisher@%d (publisher of %s)",
			 (int)a->pid, topic);
		agn_map_peer(a, pid, how);
	}
	if (errno != EAGAIN)
		agn_die("mq_receive: %s", strerror(errno));
}

uint64_t agn_publish(struct agn *a, uint32_t pub, uint64_t addr, uint64_t len,
		     struct agn_ring *ring)
{
	uint64_t recl[256];
	struct agnocast_publish_args ar = {
		.publisher_id = pub, .addr = addr, .len = len,
		.reclaimed = agn_addr(recl), .reclaimed_cap = 256,
	};
	unsigned int i;

	if (ioctl(a->dev, AGNOCAST_PUBLISH_CMD, &ar))
		agn_die("PUBLISH(0x%llx, %llu): %s", (unsigned long long)addr,
			(unsigned long long)len, strerror(errno));
	for (i = 0; ring && i < ar.nr_reclaimed; i++)
		agn_ring_free(ring, recl[i]);
	return ar.seq;
}

unsigned int agn_reclaim(struct agn *a, struct agn_ring *ring)
{
	uint64_t recl[256];
	struct agnocast_reclaim_args ar;
	unsigned int i, total = 0;

	do {
		memset(&ar, 0, sizeof(ar));
		ar.addrs = agn_addr(recl);
		ar.addrs_cap = 256;
		if (ioctl(a->dev, AGNOCAST_RECLAIM_CMD, &ar))
			agn_die("RECLAIM: %s", strerror(errno));
		for (i = 0; i < ar.nr_addrs; i++)
			agn_ring_free(ring, recl[i]);
		total += ar.nr_addrs;
	} while (ar.nr_addrs == 256);
	return total;
}

unsigned int agn_receive(struct agn *a, uint32_t sub,
			 struct agnocast_entry *e, unsigned int cap)
{
	struct agnocast_receive_args ar = {
		.subscriber_id = sub, .entries = agn_addr(e), .entries_cap = cap,
	};
	unsigned int i;

	if (ioctl(a->dev, AGNOCAST_RECEIVE_CMD, &ar)) {
		if (errno == EAGAIN)
			return 0;
		agn_die("RECEIVE: %s", strerror(errno));
	}
	/* A publisher we have not heard of yet: its pid is in the entry, and
	 * the reference we now hold keeps its pool alive for MAP_POOL. */
	for (i = 0; i < ar.nr_entries; i++)
		if (!agn_map_peer(a, e[i].pid, "learnt from a received entry's pid"))
			agn_die("MAP_POOL(%d) of a publisher we hold an entry of: gone",
				e[i].pid);
	return ar.nr_entries;
}

void agn_release(struct agn *a, uint32_t sub, uint64_t seq)
{
	struct agnocast_release_args ar = { .subscriber_id = sub, .seq = seq };

	if (ioctl(a->dev, AGNOCAST_RELEASE_CMD, &ar))
		agn_die("RELEASE(seq %llu): %s", (unsigned long long)seq,
			strerror(errno));
}

void agn_subscribe_each(struct agn *a, const char *topic, unsigned int count,
			void (*fn)(const struct agnocast_entry *e, void *ctx), void *ctx)
{
	struct agnocast_entry e[16];
	struct pollfd p = { .events = POLLIN };
	uint32_t sub = agn_add_subscriber(a, topic, 16, 0, &p.fd);
	unsigned int got = 0, i, n;

	printf("ready\n");
	fflush(stdout);
	while (got < count) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			agn_die("poll: %s", strerror(errno));
		while (got < count && (n = agn_receive(a, sub, e, 16)) > 0) {
			for (i = 0; i < n; i++, got++) {
				fn(&e[i], ctx);
				agn_release(a, sub, e[i].seq);
			}
			fflush(stdout);
		}
	}
}

int agn_pidfd(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0 && errno != ESRCH)
		agn_die("pidfd_open(%d): %s", (int)pid, strerror(errno));
	return fd;
}

uint64_t agn_pfn(uint64_t addr)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t v = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &v, sizeof(v), (off_t)(addr / (uint64_t)page * sizeof(v))) !=
	    (ssize_t)sizeof(v))
		v = 0;
	close(fd);
	/* Bit 63: present; bits 0-54: the frame (zero unless CAP_SYS_ADMIN). */
	return (v >> 63) ? (v & ((1ULL << 55) - 1)) : 0;
}

void agn_ring_init(struct agn_ring *r, uint64_t base, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	r->size = size;
}

uint64_t agn_ring_alloc(struct agn_ring *r, uint64_t len, uint64_t align)
{
	uint64_t tail, start;
	struct agn_block *b;

	if (r->count == AGN_RING_BLOCKS || len == 0)
		return 0;
	len = (len + align - 1) & ~(align - 1);
	if (r->count == 0) {
		r->head = 0;
		tail = r->size;		/* all free */
	} else {
		tail = r->blocks[r->first].addr - r->base;
	}
	start = (r->head + align - 1) & ~(align - 1);
	if (r->count && r->head <= tail) {
		/* Wrapped: the free space is [head, tail). */
		if (start + len > tail)
			return 0;
	} else if (start + len > r->size) {
		/* Not wrapped: [head, size) is too short; try [0, tail). */
		if (len > tail)
			return 0;
		start = 0;
	}
	b = &r->blocks[(r->first + r->count++) % AGN_RING_BLOCKS];
	*b = (struct agn_block){ r->base + start, len, 0 };
	r->head = start + len;
	r->allocs++;
	return b->addr;
}

void agn_ring_free(struct agn_ring *r, uint64_t addr)
{
	unsigned int i;
	struct agn_block *b;

	for (i = 0; i < r->count; i++) {
		b = &r->blocks[(r->first + i) % AGN_RING_BLOCKS];
		if (b->addr == addr && !b->freed)
			break;
	}
	if (i == r->count)
		agn_die("the module handed back 0x%llx, which is not a live block",
			(unsigned long long)addr);
	b->freed = 1;
	r->frees++;
	while (r->count && r->blocks[r->first].freed) {
		r->first = (r->first + 1) % AGN_RING_BLOCKS;
		r->count--;
	}
}
