// SPDX-License-Identifier: Apache-2.0
/* Forked processes of a test and their synchronisation (see procs.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procs.h"

/* Parent ends of the sockets of this process's spawned children. */
static int child_socks[64];
static int nr_child_socks;
/* This process's own end of the socket to its parent, if spawned. */
static int parent_sock = -1;

struct child spawn(void (*fn)(int sock, void *arg), void *arg)
{
	struct child c;
	int sv[2], i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		FAIL("socketpair: %s", errname(errno));
	fflush(NULL);
	c.pid = fork();
	if (c.pid < 0)
		FAIL("fork: %s", errname(errno));
	if (c.pid == 0) {
		for (i = 0; i < nr_child_socks; i++)
			close(child_socks[i]);
		nr_child_socks = 0;
		if (parent_sock >= 0)
			close(parent_sock);
		parent_sock = sv[1];
		close(sv[0]);
		fn(sv[1], arg);
		_exit(0);
	}
	close(sv[1]);
	c.sock = sv[0];
	if (nr_child_socks < (int)(sizeof(child_socks) / sizeof(child_socks[0])))
		child_socks[nr_child_socks++] = sv[0];
	return c;
}

void send_at(const char *f, int l, int sock, const void *buf, size_t len)
{
	ssize_t n = send(sock, buf, len, MSG_NOSIGNAL);

	if (n != (ssize_t)len)
		fail_at(f, l, "send of %zu bytes to the peer: %zd (errno %s)",
			len, n, errname(errno));
}

void recv_at(const char *f, int l, int sock, void *buf, size_t len,
	     int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char tmp[4096];
	ssize_t n;
	int r;

	/*
	 * A child waiting on its parent waits as long as the parent takes: the
	 * parent's death is EOF here, and a hung parent is the test's timeout
	 * (SIGALRM), whose process group is killed then. A slow kernel (the
	 * debug guest under load) must not make the child give up first.
	 */
	if (sock == parent_sock)
		timeout_ms = -1;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		fail_at(f, l, "no message from the peer within %d ms",
			timeout_ms);
	if (r < 0)
		fail_at(f, l, "poll: %s", errname(errno));
	if (len > sizeof(tmp))
		fail_at(f, l, "message too long");
	n = recv(sock, tmp, sizeof(tmp), 0);
	if (n == 0)
		fail_at(f, l, "the peer closed its socket (it died or failed: see its report line)");
	if (n != (ssize_t)len)
		fail_at(f, l, "message of %zd bytes, expected %zu (errno %s)",
			n, len, errname(errno));
	memcpy(buf, tmp, len);
}

struct word {
	char w[24];
};

void tell_at(const char *f, int l, int sock, const char *word)
{
	struct word w;

	memset(&w, 0, sizeof(w));
	snprintf(w.w, sizeof(w.w), "%s", word);
	send_at(f, l, sock, &w, sizeof(w));
}

void wait_for_at(const char *f, int l, int sock, const char *word)
{
	struct word w;

	recv_at(f, l, sock, &w, sizeof(w), SYNC_TIMEOUT_MS);
	w.w[sizeof(w.w) - 1] = 0;
	if (strcmp(w.w, word))
		fail_at(f, l, "expected message \"%s\", got \"%s\"", word, w.w);
}

int sock_ready(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static int wait_child(pid_t pid, int *st)
{
	pid_t r;

	do
		r = waitpid(pid, st, 0);
	while (r < 0 && errno == EINTR);
	return r == pid ? 0 : -1;
}

void reap_ok_at(const char *f, int l, pid_t pid)
{
	char d[64];
	int st;

	if (wait_child(pid, &st))
		fail_at(f, l, "waitpid(%d): %s", (int)pid, errname(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		describe_status(d, sizeof(d), st);
		fail_at(f, l, "child %d %s, expected a clean exit", (int)pid, d);
	}
}

void reap_signaled_at(const char *f, int l, pid_t pid, int sig)
{
	char d[64];
	int st;

	if (wait_child(pid, &st))
		fail_at(f, l, "waitpid(%d): %s", (int)pid, errname(errno));
	if (!WIFSIGNALED(st) || WTERMSIG(st) != sig) {
		describe_status(d, sizeof(d), st);
		fail_at(f, l, "child %d %s, expected death by signal %d (%s)",
			(int)pid, d, sig, sigabbrev_np(sig));
	}
}

static char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)getpid(),
		 (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

void wait_sleeping_at(const char *f, int l, pid_t tid)
{
	uint64_t end = now_ms() + SYNC_TIMEOUT_MS;
	char s;

	for (;;) {
		s = task_state(tid);
		if (s == 'S')
			return;
		if (s == 0 || s == 'Z' || s == 'X')
			fail_at(f, l, "task %d is gone (state %c)", (int)tid,
				s ? s : '?');
		if (now_ms() > end)
			fail_at(f, l, "task %d did not block within %d ms (state %c)",
				(int)tid, SYNC_TIMEOUT_MS, s);
		sched_yield();
	}
}

void *bad_ptr(void)
{
	static void *page;

	if (!page) {
		page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (page == MAP_FAILED)
			FAIL("mmap of a PROT_NONE page: %s", errname(errno));
	}
	return page;
}

int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd < 0)
		fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		FAIL("dup: %s", errname(errno));
	close(fd);
	return fd;
}

int nr_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		FAIL("opendir /proc/self/fd: %s", errname(errno));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

