// SPDX-License-Identifier: Apache-2.0
/* Programs a test starts and talks to (see programs.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "programs.h"

#define MAX_CHILDREN 32
#define HEAR_TIMEOUT_MS 300000	/* safety net for one control message */

const char *g_bindir;
const char *g_preload;

static struct program *children[MAX_CHILDREN];
static int nr_children;

const char *describe(int status)
{
	if (WIFEXITED(status))
		return fmtbuf("exit status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return fmtbuf("killed by signal %d (%s)%s", WTERMSIG(status),
			      sigabbrev_np(WTERMSIG(status)) ?: "?",
			      WCOREDUMP(status) ? ", core dumped" : "");
	return fmtbuf("wait status 0x%x", status);
}

static char *read_memfd(int fd)
{
	struct stat st;
	char *s;
	ssize_t n;

	if (fstat(fd, &st))
		return strdup("");
	s = malloc((size_t)st.st_size + 1);
	n = pread(fd, s, (size_t)st.st_size, 0);
	s[n > 0 ? n : 0] = 0;
	return s;
}

/* Every program's state and the tail of its stderr, into the report. */
static void report_children(void)
{
	for (int i = 0; i < nr_children; i++) {
		struct program *c = children[i];
		char *err;
		size_t n;
		int st;

		if (!c->reaped && waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->reaped = 1;
			c->status = st;
		}
		err = c->err_text ? strdup(c->err_text) : read_memfd(c->err);
		n = strlen(err);
		note("%s", fmtbuf("program %s (pid %d): %s%s", c->name, c->pid,
				      c->reaped ? describe(c->status) : "still running",
				      n ? "; its stderr:" : ", nothing on stderr"));
		if (n) {
			const char *tail = n > 1500 ? err + n - 1500 : err;

			note("%s", fmtbuf("%s%s", n > 1500 ? "..." : "", tail));
		}
		free(err);
	}
}

extern char **environ;

struct program *prog_start(const char *name, int flags, const char *const *env,
		    const char *const *argv)
{
	struct program *c = calloc(1, sizeof(*c));
	const char *envp[512];
	char path[PATH_MAX], preload[PATH_MAX + 16];
	int sv[2], ne = 0;

	CHECK(nr_children < MAX_CHILDREN);
	tap_on_fail(report_children);
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (strchr(argv[0], '/'))
		snprintf(path, sizeof(path), "%s", argv[0]);
	else
		snprintf(path, sizeof(path), "%s/%s", g_bindir, argv[0]);
	for (char **e = environ; *e && ne < 400; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "AGNOCAST_", 9) &&
		    strncmp(*e, "PYTHONMALLOC=", 13))
			envp[ne++] = *e;
	if (flags & PROG_PRELOAD) {
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", g_preload);
		envp[ne++] = preload;
	}
	for (; env && *env && ne < 510; env++)
		envp[ne++] = *env;
	envp[ne] = NULL;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "%m");
	c->out = memfd_create("stdout", MFD_CLOEXEC);
	c->err = memfd_create("stderr", MFD_CLOEXEC);
	CHECK(c->out >= 0 && c->err >= 0, "memfd_create: %m");
	fflush(NULL);
	c->pid = fork();
	CHECK(c->pid >= 0, "fork: %m");
	if (c->pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int fds[4] = { in, c->out, c->err, sv[1] };

		/* Out of the way of 0..3 first, then into place. */
		for (int i = 0; i < 4; i++)
			fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
		for (int i = 0; i < 4; i++)
			if (fds[i] < 0 || dup2(fds[i], i) != i)
				_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execve(path, (char *const *)argv, (char *const *)envp);
		dprintf(2, "execve(%s): %m\n", path);
		_exit(127);
	}
	close(sv[1]);
	c->ctl = sv[0];
	children[nr_children++] = c;
	return c;
}

void tell(struct program *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	CHECK(send(c->ctl, buf, (size_t)n, MSG_NOSIGNAL) == n,
	      "telling %s \"%s\": %m", c->name, buf);
}

void hear(struct program *c, char *buf, size_t len)
{
	struct pollfd p = { .fd = c->ctl, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, HEAR_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		FAIL("no message from %s in %d s", c->name, HEAR_TIMEOUT_MS / 1000);
	n = recv(c->ctl, buf, len - 1, MSG_DONTWAIT);
	if (n <= 0) {
		reap(c);
		FAIL("%s ended before its next message: %s", c->name,
		     describe(c->status));
	}
	buf[n] = 0;
}

void expect(struct program *c, const char *prefix, char *buf, size_t len)
{
	char tmp[512];

	if (!buf) {
		buf = tmp;
		len = sizeof(tmp);
	}
	hear(c, buf, len);
	CHECK(!strncmp(buf, prefix, strlen(prefix)),
	      "%s said \"%s\", expected \"%s...\"", c->name, buf, prefix);
}

int reap(struct program *c)
{
	if (!c->reaped) {
		while (waitpid(c->pid, &c->status, 0) < 0)
			if (errno != EINTR)
				FAIL("waitpid(%s): %m", c->name);
		c->reaped = 1;
	}
	if (!c->out_text) {
		c->out_text = read_memfd(c->out);
		c->err_text = read_memfd(c->err);
	}
	return c->status;
}

void expect_exit(struct program *c, int code)
{
	int st = reap(c);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		FAIL("%s: %s, expected exit status %d", c->name, describe(st), code);
}

int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n' || !s[1])
			n++;
	return n;
}

int run_cmd(const char *const *argv)
{
	int st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "%s: %m\n", argv[0]);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

