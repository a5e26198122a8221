// SPDX-License-Identifier: Apache-2.0
/*
 * Discovery: the queue "/new_publisher@<pid>" and its one notice format,
 *     {"pid":<publisher pid>,"topic":"<topic as a JSON string>"}
 * (libagnocast.h). A notice is a hint to look at the module's registry,
 * which is the authority, so a stranger who fills the queue or posts
 * garbage can delay a mapping but never make us map the wrong pool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/*
 * Ours to read, anyone's to post to: publishers of other users must be
 * able to tell us about themselves.
 */
#define QUEUE_MODE	0622

static pid_t queue_owner;	/* the process that created our queue */
static char queue_path[40];	/* its name, for unlinking from a signal handler */

static void queue_name(char *buf, size_t len, pid_t pid)
{
	snprintf(buf, len, "/new_publisher@%d", (int)pid);
}

/* The notice for a publisher pid on topic into buf: its length, or -EMSGSIZE. */
static int discovery_format(char *buf, size_t cap, pid_t pid, const char *topic)
{
	size_t n;
	int len = snprintf(buf, cap, "{\"pid\":%d,\"topic\":\"", (int)pid);

	if (len < 0 || (size_t)len >= cap)
		return -EMSGSIZE;
	n = (size_t)len;
	for (; *topic; topic++) {
		unsigned char c = (unsigned char)*topic;
		char esc[8];
		size_t k;

		if (c == '"' || c == '\\')
			k = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20)
			k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
		else
			esc[0] = (char)c, k = 1;
		if (n + k >= cap)
			return -EMSGSIZE;
		memcpy(buf + n, esc, k);
		n += k;
	}
	if (n + 2 >= cap)
		return -EMSGSIZE;
	buf[n++] = '"';
	buf[n++] = '}';
	buf[n] = '\0';
	return (int)n;
}

/* The publisher pid of a notice: 0, or -EINVAL (not a notice). */
static int discovery_parse(const char *msg, size_t len, pid_t *pid)
{
	static const char head[] = "{\"pid\":";
	char buf[32], *end;
	size_t i, n = sizeof(head) - 1;
	long v;

	if (len < n + 2 || memcmp(msg, head, n) || msg[len - 1] != '}')
		return -EINVAL;
	for (i = 0; n + i < len && i < sizeof(buf) - 1 && msg[n + i] >= '0' && msg[n + i] <= '9'; i++)
		buf[i] = msg[n + i];
	buf[i] = '\0';
	if (i == 0 || n + i >= len || (msg[n + i] != ',' && msg[n + i] != '}'))
		return -EINVAL;
	v = strtol(buf, &end, 10);
	if (v <= 0 || v > 0x3fffffff)
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

/* Async-signal-safe: getpid and mq_unlink are system calls, the name is ready. */
int lib_discovery_unlink(void)
{
	if (queue_owner != getpid())
		return 0;
	queue_owner = 0;
	return mq_unlink(queue_path) == 0 ? 1 : 0;
}

/* At exit: a queue whose name nobody else removes. */
static void unlink_at_exit(void)
{
	lib_discovery_unlink();
}

static int open_queue(const char *name)
{
	struct mq_attr attr = { .mq_maxmsg = AGNOCAST_QUEUE_DEPTH, .mq_msgsize = AGNOCAST_NOTICE_MAX };
	mqd_t q = -1;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		q = mq_open(name, O_CREAT | O_EXCL | O_RDONLY | O_NONBLOCK | O_CLOEXEC, QUEUE_MODE, &attr);
		if (q >= 0 || errno != EEXIST)
			break;
		/* Left by a dead process that had our pid: stale, and maybe full. */
		mq_unlink(name);
	}
	if (q < 0)
		return lib_fail(errno, "mq_open",
				"cannot create the discovery queue %s (fs.mqueue.msg_max must be at least %d; RLIMIT_MSGQUEUE and fs.mqueue.queues_max bound the queues)",
				name, AGNOCAST_QUEUE_DEPTH);
	/* The umask (typically 022) took the others' write bit: put it back. */
	if (fchmod(q, QUEUE_MODE) < 0) {
		int err = errno;

		mq_close(q);
		mq_unlink(name);
		return lib_fail(err, "fchmod", "cannot make the discovery queue %s writable by others", name);
	}
	return q;
}

/*
 * Queues left by processes that died without running their atexit (a
 * signal, a crash): "/new_publisher@<pid>" is stale when pid is not a live
 * process joined to the module. The directory is read before the module's
 * process list, so a queue seen was created before the list was taken, by
 * a process that had joined by then (a process joins before it creates its
 * queue): a live one is in the list. A pid reused by a process that has
 * not joined cannot own the queue; a joined process that reused the pid
 * replaces the name when it creates its own. Best effort: without
 * /dev/mqueue mounted nothing is swept, and the sticky directory lets us
 * unlink only our own user's queues. Returns how many were unlinked.
 */
static int sweep_stale_queues(pid_t self)
{
	struct agnocast_process_info *procs = NULL;
	uint32_t nr = 0, i;
	pid_t stale[256];
	size_t n = 0, k;
	int swept = 0;
	struct dirent *d;
	DIR *dir = opendir("/dev/mqueue");

	if (!dir)
		return 0;
	while ((d = readdir(dir)) && n < sizeof(stale) / sizeof(stale[0])) {
		char *end;
		long pid;

		if (strncmp(d->d_name, "new_publisher@", 14))
			continue;
		pid = strtol(d->d_name + 14, &end, 10);
		if (*end || pid <= 0 || pid > 0x3fffffff || pid == self)
			continue;
		stale[n++] = (pid_t)pid;
	}
	closedir(dir);
	if (n == 0 || lib_list_processes(&procs, &nr) < 0)
		return 0;
	for (k = 0; k < n; k++) {
		bool live = false;
		char name[40];

		for (i = 0; i < nr && !live; i++)
			live = procs[i].pool.pid == stale[k] && !(procs[i].flags & AGNOCAST_PROC_EXITED);
		/* Not joined, or exited: only a pid that still runs and joined keeps its queue. */
		if (live)
			continue;
		queue_name(name, sizeof(name), stale[k]);
		if (mq_unlink(name) == 0)
			swept++;
	}
	sys_free(procs);
	return swept;
}

int discovery_create_locked(void)
{
	static bool atexit_done;
	char name[40];
	int q;

	if (lib.queue_fd >= 0)
		return 0;
	if (lib.opts & AGNOCAST_OPT_NO_DISCOVERY)
		return lib_fail(ESRCH, "agnocast_discovery_create",
				"this process joined with AGNOCAST_OPT_NO_DISCOVERY: it has no discovery queue");
	sweep_stale_queues(getpid());
	queue_name(name, sizeof(name), getpid());
	q = open_queue(name);
	if (q < 0)
		return q;
	lib.queue_fd = q;
	snprintf(queue_path, sizeof(queue_path), "%s", name);
	queue_owner = getpid();
	events_add(q);
	if (!atexit_done && atexit(unlink_at_exit) == 0)
		atexit_done = true;
	return 0;
}

int lib_discovery_create(void)
{
	int r = lib_acting("agnocast_discovery_create");

	if (r)
		return r;
	pthread_mutex_lock(&lib.lock);
	r = discovery_create_locked();
	pthread_mutex_unlock(&lib.lock);
	return r;
}

int discovery_drain(void)
{
	char msg[AGNOCAST_NOTICE_MAX + 1];
	int n = 0;
	ssize_t len;
	pid_t pid;

	if (lib.queue_fd < 0)
		return 0;
	while ((len = mq_receive(lib.queue_fd, msg, sizeof(msg), NULL)) >= 0 || errno == EINTR) {
		if (len < 0)
			continue;
		n++;
		if (discovery_parse(msg, (size_t)len, &pid) == 0 && pid != getpid())
			peers_map_pid(pid, "announced on our discovery queue");
	}
	if (errno != EAGAIN)
		return lib_fail(errno, "mq_receive", "cannot read the discovery queue");
	return n;
}

int lib_discovery_drain(void)
{
	int r = lib_acting("agnocast_discovery_drain");

	return r ? r : discovery_drain();
}

int discovery_announce(pid_t pid, const char *topic)
{
	char name[40], msg[AGNOCAST_NOTICE_MAX];
	int len = discovery_format(msg, sizeof(msg), getpid(), topic), r;
	mqd_t q;

	if (len < 0)
		return lib_fail(EMSGSIZE, "agnocast_announce", "the notice for this topic is longer than %d bytes",
				AGNOCAST_NOTICE_MAX);
	queue_name(name, sizeof(name), pid);
	q = mq_open(name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (q < 0)
		return 0;	/* no queue, or not ours to write: it maps us on our first entry */
	do
		r = mq_send(q, msg, (size_t)len, 0);
	while (r < 0 && errno == EINTR);
	mq_close(q);
	return r == 0 ? 1 : 0;	/* full (EAGAIN), or a foreign queue too small: same */
}

int lib_announce(pid_t pid, const char *topic)
{
	int r = lib_acting("agnocast_announce");

	return r ? r : discovery_announce(pid, topic);
}

void discovery_close(void)
{
	if (lib.queue_fd < 0)
		return;
	events_del(lib.queue_fd);
	mq_close(lib.queue_fd);
	lib.queue_fd = -1;
	unlink_at_exit();
}

void discovery_forked(void)
{
	if (lib.queue_fd >= 0)
		mq_close(lib.queue_fd);
	lib.queue_fd = -1;
}
