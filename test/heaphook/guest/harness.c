// SPDX-License-Identifier: Apache-2.0
/*
 * The heaphook guest suite's driver: options, one forked child per test,
 * TAP, the after-test checks, and the helpers that start programs and talk
 * to them. See harness.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_TESTS 64
#define MAX_CHILDREN 32
#define TEST_TIMEOUT_S 600	/* safety net: TCG is slow, node starts in ~5 s */
#define HEAR_TIMEOUT_MS 300000	/* safety net for one control message */
#define SKIP_EXIT 77
#define STATUS_PATH "/proc/driver/agnocast"
#define CLEAN_TOTALS "totals processes 0 topics 0 publishers 0 subscribers 0 entries 0 mappings 0"

const char *g_so, *g_ko, *g_bindir, *g_srcdir;
const char *g_node = "/usr/bin/node";
const char *g_python = "/usr/bin/python3";

static struct test_case {
	const char *name;
	test_fn fn;
	int order, seq;
} tests[MAX_TESTS];
static int nr_tests;

static int g_rep = -1;		/* the test's report pipe */
static struct child *children[MAX_CHILDREN];
static int nr_children;

void register_test(const char *name, test_fn fn, int order)
{
	if (nr_tests == MAX_TESTS)
		abort();
	tests[nr_tests] = (struct test_case){ name, fn, order, nr_tests };
	nr_tests++;
}

/* ---- reporting ------------------------------------------------------------ */

static void rep_write(char kind, const char *text)
{
	char buf[4096];
	const char *p = text;

	/* One report line per text line, each with its kind. */
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		int len;

		if (n > sizeof(buf) - 4)
			n = sizeof(buf) - 4;
		len = snprintf(buf, sizeof(buf), "%c%.*s\n", kind, (int)n, p);
		if (g_rep >= 0) {
			if (write(g_rep, buf, (size_t)len) < 0)
				_exit(3);
		} else {
			fputs(buf + 1, stderr);
		}
		p += n;
		while (*p && *p != '\n')
			p++;
		if (*p == '\n')
			p++;
	}
}

const char *fmtbuf(const char *fmt, ...)
{
	static char bufs[4][2048];
	static int i;
	char *b = bufs[i++ & 3];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

void note(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rep_write('#', buf);
}

static const char *describe(int status)
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
		struct child *c = children[i];
		char *err;
		size_t n;
		int st;

		if (!c->reaped && waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->reaped = 1;
			c->status = st;
		}
		err = c->err_text ? strdup(c->err_text) : read_memfd(c->err);
		n = strlen(err);
		rep_write('!', fmtbuf("program %s (pid %d): %s%s", c->name, c->pid,
				      c->reaped ? describe(c->status) : "still running",
				      n ? "; its stderr:" : ", nothing on stderr"));
		if (n) {
			const char *tail = n > 1500 ? err + n - 1500 : err;

			rep_write('!', fmtbuf("%s%s", n > 1500 ? "..." : "", tail));
		}
		free(err);
	}
}

void fail_at(const char *file, int line, const char *fmt, ...)
{
	char buf[3072];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	rep_write('!', buf);
	report_children();
	_exit(1);
}

void skip(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rep_write('S', buf);
	_exit(SKIP_EXIT);
}

/* ---- programs ------------------------------------------------------------- */

extern char **environ;

struct child *spawn(const char *name, int flags, const char *const *env,
		    const char *const *argv)
{
	struct child *c = calloc(1, sizeof(*c));
	const char *envp[512];
	char path[PATH_MAX], preload[PATH_MAX + 16];
	int sv[2], ne = 0;

	CHECK(nr_children < MAX_CHILDREN);
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (strchr(argv[0], '/'))
		snprintf(path, sizeof(path), "%s", argv[0]);
	else
		snprintf(path, sizeof(path), "%s/%s", g_bindir, argv[0]);
	for (char **e = environ; *e && ne < 400; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "AGNOCAST_", 9) &&
		    strncmp(*e, "PYTHONMALLOC=", 13))
			envp[ne++] = *e;
	if (flags & HOOK) {
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", g_so);
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

void tell(struct child *c, const char *fmt, ...)
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

void hear(struct child *c, char *buf, size_t len)
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

void expect(struct child *c, const char *prefix, char *buf, size_t len)
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

int reap(struct child *c)
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

void expect_exit(struct child *c, int code)
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

/* ---- stats, smaps, status ---------------------------------------------------- */

static int kv_get(const char *line, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += kl) {
		if ((p == line || p[-1] == ' ') && p[kl] == ' ') {
			char *end;

			*out = strtoull(p + kl + 1, &end, 10);
			return end != p + kl + 1;
		}
	}
	return 0;
}

void parse_stats(const char *err, struct hook_stats *st)
{
	static const char tag[] = "agnocast heaphook: pool ";
	const char *line = NULL;
	char buf[512];

	memset(st, 0, sizeof(*st));
	for (const char *p = err; (p = strstr(p, tag)); p++)
		if (p == err || p[-1] == '\n')
			line = p;
	if (!line)
		return;
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(line, "\n"), line);
	st->found = kv_get(buf, "pool", &st->pool) && kv_get(buf, "glibc", &st->glibc);
	kv_get(buf, "grows", &st->grows);
	kv_get(buf, "pool-size", &st->pool_size);
	if (!kv_get(buf, "joined", &st->joined))
		st->joined = 1;
}

struct hook_stats require_stats(struct child *c)
{
	struct hook_stats st;

	reap(c);
	parse_stats(c->err_text, &st);
	CHECK(st.found, "%s printed no stats line (AGNOCAST_HEAPHOOK_STATS=1)", c->name);
	CHECK(st.joined, "%s: the hook says it did not join", c->name);
	note("%s: pool %llu glibc %llu grows %llu pool-size %llu", c->name,
	     (unsigned long long)st.pool, (unsigned long long)st.glibc,
	     (unsigned long long)st.grows, (unsigned long long)st.pool_size);
	return st;
}

void pool_map(pid_t pid, pid_t owner, struct pool_map *pm)
{
	char path[64], want[64], line[1024];
	int in = 0;
	FILE *f;

	memset(pm, 0, sizeof(*pm));
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	snprintf(want, sizeof(want), "/dev/shm/agnocast@%d", owner);
	f = fopen(path, "re");
	CHECK(f, "%s: %m", path);
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char perms[8];
		int n = 0;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &s, &e, perms, &n) == 3 && n) {
			char *name = line + n;

			name[strcspn(name, "\n")] = 0;
			in = !strcmp(name, want) ||
			     (!strncmp(name, want, strlen(want)) &&
			      !strcmp(name + strlen(want), " (deleted)"));
			if (in) {
				if (!pm->vmas++) {
					pm->start = s;
					snprintf(pm->perms, sizeof(pm->perms), "%s", perms);
				}
				if (s < pm->start)
					pm->start = s;
				if (e > pm->end)
					pm->end = e;
			}
			continue;
		}
		if (in) {
			unsigned long kb;

			if (sscanf(line, "Rss: %lu kB", &kb) == 1)
				pm->rss_kb += kb;
			else if (sscanf(line, "Size: %lu kB", &kb) == 1)
				pm->size_kb += kb;
		}
	}
	fclose(f);
}

static ssize_t read_status(char *buf, size_t len)
{
	ssize_t n = 0, r;
	int fd = open(STATUS_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n < (ssize_t)len - 1 && (r = read(fd, buf + n, len - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return n;
}

int status_process(pid_t pid, char *line, size_t len)
{
	static char buf[65536];
	char want[48];
	const char *p;

	snprintf(want, sizeof(want), "process pid %d ", pid);
	if (read_status(buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, want, strlen(want))) {
			snprintf(line, len, "%.*s", (int)strcspn(p, "\n"), p);
			return 0;
		}
	return -1;
}

int module_clean(char *why, size_t len)
{
	char buf[65536], *totals;
	struct dirent *d;
	DIR *dir;

	why[0] = 0;
	if (read_status(buf, sizeof(buf)) < 0) {
		snprintf(why, len, "%s: %s", STATUS_PATH, strerror(errno));
		return -1;
	}
	totals = strstr(buf, "\ntotals ");
	if (!totals) {
		snprintf(why, len, "%s has no totals line", STATUS_PATH);
		return -1;
	}
	totals++;
	totals[strcspn(totals, "\n")] = 0;
	if (strcmp(totals, CLEAN_TOTALS)) {
		snprintf(why, len, "module not clean: %s", totals);
		return -1;
	}
	dir = opendir("/dev/shm");
	if (!dir) {
		snprintf(why, len, "/dev/shm: %s", strerror(errno));
		return -1;
	}
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "agnocast@", 9)) {
			snprintf(why, len, "/dev/shm/%s is left", d->d_name);
			break;
		}
	closedir(dir);
	return why[0] ? -1 : 0;
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

/* ---- running the tests ----------------------------------------------------- */

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

static int cmp_tests(const void *a, const void *b)
{
	const struct test_case *x = a, *y = b;

	if (x->order != y->order)
		return x->order - y->order;
	return x->seq - y->seq;
}

static FILE *tap;
static int tap_n, tap_failed;

static void tap_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tap_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	if (tap) {
		va_start(ap, fmt);
		vfprintf(tap, fmt, ap);
		va_end(ap);
		fflush(tap);
	}
}

static void run_test(const struct test_case *t)
{
	char *report = NULL, why[512], chunk[4096];
	size_t rlen = 0;
	int rep[2], st = 0, ok, skipped, leftover;
	struct timespec t0, t1;
	ssize_t n;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pipe2(rep, O_CLOEXEC)) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		setpgid(0, 0);
		close(rep[0]);
		g_rep = rep[1];
		signal(SIGALRM, SIG_DFL);
		t->fn();
		_exit(0);
	}
	setpgid(pid, pid);
	close(rep[1]);
	alarmed = 0;
	alarm(TEST_TIMEOUT_S);
	for (;;) {
		n = read(rep[0], chunk, sizeof(chunk));
		if (n > 0) {
			report = realloc(report, rlen + (size_t)n + 1);
			memcpy(report + rlen, chunk, (size_t)n);
			rlen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR && alarmed) {
			alarmed = 0;
			kill(-pid, SIGKILL);
			report = realloc(report, rlen + 100);
			rlen += (size_t)sprintf(report + rlen, "!timed out after %d s\n", TEST_TIMEOUT_S);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	alarm(0);
	close(rep[0]);
	report = realloc(report, rlen + 1);
	report[rlen] = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* Whatever the test left behind: a failure, then killed and reaped. */
	leftover = kill(-pid, 0) == 0;
	kill(-pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	skipped = WIFEXITED(st) && WEXITSTATUS(st) == SKIP_EXIT;
	ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok && !skipped && !strchr(report, '!')) {
		size_t extra = strlen(describe(st)) + 40;

		report = realloc(report, rlen + extra);
		rlen += (size_t)sprintf(report + rlen, "!the test process: %s\n", describe(st));
	}
	if (ok && leftover) {
		ok = 0;
		report = realloc(report, rlen + 80);
		rlen += (size_t)sprintf(report + rlen, "!the test left processes running\n");
	}
	if (access(STATUS_PATH, F_OK) && g_ko) {
		const char *ins[] = { "insmod", g_ko, NULL };
		int r = run_cmd(ins);

		report = realloc(report, rlen + 200);
		rlen += (size_t)sprintf(report + rlen, "#the module was not loaded after the test: insmod %s: %s\n",
					g_ko, r == 0 ? "done" : "failed");
	}
	if (module_clean(why, sizeof(why))) {
		ok = 0;
		skipped = 0;
		report = realloc(report, rlen + strlen(why) + 40);
		rlen += (size_t)sprintf(report + rlen, "!after the test: %s\n", why);
	}

	tap_n++;
	if (skipped) {
		const char *s = "";

		for (char *l = report; *l;) {
			if (*l == 'S') {
				s = l + 1;
				break;
			}
			l += strcspn(l, "\n");
			if (*l)
				l++;
		}
		tap_line("ok %d - %s # SKIP %.*s\n", tap_n, t->name, (int)strcspn(s, "\n"), s);
	} else if (ok) {
		tap_line("ok %d - %s\n", tap_n, t->name);
	} else {
		tap_failed++;
		tap_line("not ok %d - %s\n", tap_n, t->name);
	}
	for (char *l = report; *l;) {
		size_t len = strcspn(l, "\n");

		if (*l != 'S')
			tap_line("# %.*s\n", (int)len - 1, l + 1);
		l += len;
		if (*l)
			l++;
	}
	tap_line("# time %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) +
				       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(report);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: heaphook-gtest [--tap FILE] [--so LIB] [--ko KO] [--bindir DIR]\n"
		"                      [--srcdir DIR] [--node PATH] [--python PATH]\n"
		"                      [--filter SUBSTRING] [--list]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *filter = NULL, *tap_path = NULL;
	static char exe[PATH_MAX], sodef[PATH_MAX + 64], srcdef[PATH_MAX + 64];
	char *so_real;
	int list = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **dst = NULL;

		if (!strcmp(a, "--list")) {
			list = 1;
			continue;
		}
		if (!strcmp(a, "--tap"))
			dst = &tap_path;
		else if (!strcmp(a, "--so"))
			dst = &g_so;
		else if (!strcmp(a, "--ko"))
			dst = &g_ko;
		else if (!strcmp(a, "--bindir"))
			dst = &g_bindir;
		else if (!strcmp(a, "--srcdir"))
			dst = &g_srcdir;
		else if (!strcmp(a, "--node"))
			dst = &g_node;
		else if (!strcmp(a, "--python"))
			dst = &g_python;
		else if (!strcmp(a, "--filter"))
			dst = &filter;
		if (!dst || i + 1 == argc)
			usage();
		*dst = argv[++i];
	}
	qsort(tests, (size_t)nr_tests, sizeof(tests[0]), cmp_tests);
	if (list) {
		for (int i = 0; i < nr_tests; i++)
			puts(tests[i].name);
		return 0;
	}

	/* Defaults relative to this binary: ROOT/build/test/heaphook/. */
	if (readlink("/proc/self/exe", exe, sizeof(exe) - 1) < 0) {
		perror("/proc/self/exe");
		return 2;
	}
	dirname(exe);
	if (!g_bindir)
		g_bindir = exe;
	snprintf(sodef, sizeof(sodef), "%s/../../heaphook/libagnocast_heaphook.so", g_bindir);
	snprintf(srcdef, sizeof(srcdef), "%s/../../../test/heaphook/guest", g_bindir);
	if (!g_so)
		g_so = sodef;
	if (!g_srcdir)
		g_srcdir = srcdef;
	so_real = realpath(g_so, NULL);
	if (so_real)
		g_so = so_real;

	if (tap_path) {
		tap = fopen(tap_path, "we");
		if (!tap) {
			perror(tap_path);
			return 2;
		}
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGALRM, &(struct sigaction){ .sa_handler = on_alarm }, NULL);

	if (!so_real) {
		tap_line("not ok 1 - the heaphook library exists\n# %s: %s\n1..1\n",
			 g_so, strerror(errno));
		return 1;
	}
	tap_line("# heaphook %s, programs in %s\n", g_so, g_bindir);
	for (int i = 0; i < nr_tests; i++)
		if (!filter || strstr(tests[i].name, filter))
			run_test(&tests[i]);
	tap_line("1..%d\n", tap_n);
	if (tap_failed)
		tap_line("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}
