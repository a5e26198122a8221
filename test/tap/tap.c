// SPDX-License-Identifier: Apache-2.0
/*
 * The harness (tap.h): registration and options, reporting, one forked
 * child per test, the after-test checks, TAP output, main().
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agnocast.h"
#include "params.h"
#include "procs.h"
#include "status.h"
#include "tap.h"

#define MAX_TESTS 256
#define MAX_HELPERS 8
#define MAX_OPTIONS 16
#define SKIP_EXIT 77

struct test_case {
	const char *file, *name;
	test_fn fn;
	int last, seq;
	char full[128];
};

static struct test_case tests[MAX_TESTS];
static int nr_tests;
static struct { const char *name; helper_fn fn; } helpers[MAX_HELPERS];
static int nr_helpers;
static struct { const char *name, **var, *help; } options[MAX_OPTIONS];
static int nr_options;
static struct tap_suite suite = { .name = "test suite", .timeout_s = 180 };
static void (*on_fail)(void);

const char *g_ko_path;
int g_report_fd = -1;
static FILE *tap_file;

void tap_suite(const struct tap_suite *s)
{
	suite = *s;
}

void tap_option(const char *name, const char **var, const char *help)
{
	if (nr_options == MAX_OPTIONS)
		abort();
	options[nr_options].name = name;
	options[nr_options].var = var;
	options[nr_options++].help = help;
}

void tap_on_fail(void (*fn)(void))
{
	on_fail = fn;
}

void harness_register(const char *file, const char *name, test_fn fn, int last)
{
	struct test_case *t;
	const char *base = strrchr(file, '/');

	if (nr_tests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	t = &tests[nr_tests];
	*t = (struct test_case){ .file = file, .name = name, .fn = fn, .last = last, .seq = nr_tests++ };
	base = base ? base + 1 : file;
	if (!strncmp(base, "test_", 5))
		base += 5;
	snprintf(t->full, sizeof(t->full), "%.*s/%s", (int)strcspn(base, "."), base, name);
}

void harness_register_helper(const char *name, helper_fn fn)
{
	if (nr_helpers == MAX_HELPERS) {
		fprintf(stderr, "too many helpers\n");
		exit(2);
	}
	helpers[nr_helpers].name = name;
	helpers[nr_helpers++].fn = fn;
}

/* ---- reporting ------------------------------------------------------ */

const char *errname(int err)
{
	const char *s = err ? strerrorname_np(err) : "0";

	return s ? s : "E?";
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

/* One report line: prefix, "file:line: [pid N] " if file, the message. */
static void report_line(const char *prefix, const char *file, int line, const char *fmt, va_list ap)
{
	char buf[3072];
	int n = 0;
	const char *base;

	if (prefix)
		n = snprintf(buf, sizeof(buf), "%s", prefix);
	if (file) {
		base = strrchr(file, '/');
		base = base ? base + 1 : file;
		n += snprintf(buf + n, sizeof(buf) - n, "%s:%d: [pid %d] ", base, line, (int)getpid());
	}
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(g_report_fd >= 0 ? g_report_fd : STDERR_FILENO, buf, n) < 0) {
		/* nothing better to do */
	}
}

void fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line(NULL, file, line, fmt, ap);
	va_end(ap);
	if (on_fail)
		on_fail();
	_exit(1);
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line("note: ", NULL, 0, fmt, ap);
	va_end(ap);
}

void skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line("SKIP ", NULL, 0, fmt, ap);
	va_end(ap);
	_exit(SKIP_EXIT);
}

__attribute__((format(printf, 1, 2))) static void tap(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	if (tap_file) {
		va_start(ap, fmt);
		vfprintf(tap_file, fmt, ap);
		va_end(ap);
		fflush(tap_file);
	}
}

__attribute__((format(printf, 1, 2))) static void add_reason(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line(NULL, NULL, 0, fmt, ap);
	va_end(ap);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000ULL;
}

/* ---- after a test ---------------------------------------------------- */

void describe_status(char *buf, size_t len, int st)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(st),
			 sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
	else
		snprintf(buf, len, "changed state 0x%x", st);
}

/* Children of this process, found through /proc (we are a subreaper). */
static int list_children(pid_t *out, int max)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	int n = 0, fd, ppid;
	ssize_t r;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
			out[n++] = atoi(de->d_name);
	}
	closedir(d);
	return n;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Kill and reap everything under us; returns how many were found. */
static int kill_leftovers(pid_t pgid)
{
	pid_t kids[256];
	int n, i, total = 0, st, rounds;
	struct sigaction sa = { .sa_handler = on_alarm };

	sigaction(SIGALRM, &sa, NULL);
	for (rounds = 0; rounds < 20; rounds++) {
		n = list_children(kids, 256);
		if (n == 0)
			break;
		total += n;
		kill(-pgid, SIGKILL);
		for (i = 0; i < n; i++)
			kill(kids[i], SIGKILL);
		for (i = 0; i < n; i++) {
			alarm(30);
			if (waitpid(kids[i], &st, 0) < 0 && errno == EINTR)
				fprintf(stderr, "# could not reap %d\n", kids[i]);
			alarm(0);
		}
	}
	return total;
}

/* Names under /dev/shm that the module should have unlinked. */
static int leftover_shm(char *names, size_t len)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	int n = 0;
	size_t used = 0;

	names[0] = 0;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "agnocast@", 9))
			continue;
		n++;
		if (used + strlen(de->d_name) + 2 < len)
			used += snprintf(names + used, len - used, "%s ", de->d_name);
	}
	closedir(d);
	return n;
}

static void remove_shm_names(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	char p[300];

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "agnocast@", 9))
			continue;
		snprintf(p, sizeof(p), "/%s", de->d_name);
		shm_unlink(p);
	}
	if (d)
		closedir(d);
}

int module_clean(char *why, size_t len)
{
	char names[512];
	struct status s;
	int i;

	if (status_load(&s, why, len))
		return -1;
	for (i = 0; i < 6 && !s.totals[i]; i++)
		;
	status_free(&s);
	if (i < 6) {
		snprintf(why, len, "the module is not empty");
		return -1;
	}
	if (leftover_shm(names, sizeof(names))) {
		snprintf(why, len, "/dev/shm still holds: %s", names);
		return -1;
	}
	return 0;
}

static void try_reload_module(void)
{
	int fd;

	if (!g_ko_path || access(AGNOCAST_STATUS_PATH, F_OK) == 0)
		return;
	fd = open(g_ko_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (syscall(SYS_finit_module, fd, "", 0) == 0)
		add_reason("note: the module was not loaded after the test; reloaded it from %s", g_ko_path);
	close(fd);
}

/* The module is empty and /dev/shm clean after the test: 1, else 0 (reasons reported). */
static int check_module(void)
{
	char why[256], names[512];
	struct status s;
	int i, ok = 1;

	if (status_load(&s, why, sizeof(why))) {
		add_reason("after the test: %s", why);
		return 0;
	}
	for (i = 0; i < 6 && !s.totals[i]; i++)
		;
	if (i < 6) {
		add_reason("after the test the module is not empty; status file:");
		status_dump(&s);
		ok = 0;
	}
	status_free(&s);
	if (leftover_shm(names, sizeof(names))) {
		add_reason("after the test /dev/shm still holds: %s", names);
		remove_shm_names();	/* so that later tests start clean */
		ok = 0;
	}
	return ok;
}

/* ---- running tests -------------------------------------------------- */

static void print_report(void)
{
	static char pending[16384];
	char buf[8192], *line, *save;
	size_t plen = 0;
	off_t off = 0;
	ssize_t n;

	while ((n = pread(g_report_fd, buf, sizeof(buf), off)) > 0) {
		off += n;
		if (plen + n >= sizeof(pending) - 1) {
			tap("# (report truncated)\n");
			break;
		}
		memcpy(pending + plen, buf, n);
		plen += n;
	}
	pending[plen] = 0;
	for (line = strtok_r(pending, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "SKIP ", 5))
			tap("# %s\n", line);
}

static int report_has_skip(char *why, size_t len)
{
	char buf[512];
	ssize_t n = pread(g_report_fd, buf, sizeof(buf) - 1, 0);
	char *p;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strstr(buf, "SKIP ");
	if (!p)
		return 0;
	p += 5;
	snprintf(why, len, "%.*s", (int)strcspn(p, "\n"), p);
	return 1;
}

static int wait_child(pid_t pid, int *st)
{
	pid_t r;

	do
		r = waitpid(pid, st, 0);
	while (r < 0 && errno == EINTR);
	return r == pid ? 0 : -1;
}

static pid_t start_test(struct test_case *t)
{
	pid_t pid;

	if (ftruncate(g_report_fd, 0) || lseek(g_report_fd, 0, SEEK_SET)) {
		perror("report file");
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
		signal(SIGALRM, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		alarm(suite.timeout_s);
		t->fn();
		_exit(0);
	}
	setpgid(pid, pid);
	return pid;
}

/* Returns 1 when the test passed (or was skipped). */
static int run_one(struct test_case *t, int num)
{
	uint64_t t0 = now_ms();
	int st, ok = 1, skipped = 0, left;
	char d[64], why[256];
	pid_t pid = start_test(t);

	if (wait_child(pid, &st)) {
		perror("waitpid");
		exit(2);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == SKIP_EXIT) {
		skipped = 1;
	} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		ok = 0;
		describe_status(d, sizeof(d), st);
		add_reason("the test process %s%s", d,
			   WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
	}
	left = kill_leftovers(pid);
	if (left && ok) {
		ok = 0;
		add_reason("%d process(es) of the test were left running or unreaped (killed now)", left);
	} else if (left) {
		add_reason("note: killed %d process(es) the failed test left", left);
	}
	try_reload_module();
	params_restore();
	if (!check_module())
		ok = 0;
	if (skipped && ok && report_has_skip(why, sizeof(why))) {
		tap("ok %d - %s # SKIP %s\n", num, suite.name_with_file ? t->full : t->name, why);
		return 1;
	}
	if (skipped)
		ok = 0;
	tap("%s %d - %s\n", ok ? "ok" : "not ok", num, suite.name_with_file ? t->full : t->name);
	print_report();
	tap("# time %.3f s\n", (now_ms() - t0) / 1000.0);
	return ok;
}

static int file_rank(const struct test_case *t)
{
	size_t i, n = strcspn(t->full, "/");

	for (i = 0; suite.file_order && suite.file_order[i]; i++)
		if (strlen(suite.file_order[i]) == n && !strncmp(suite.file_order[i], t->full, n))
			return (int)i;
	return (int)i;	/* others after, by file name */
}

static int cmp_tests(const void *a, const void *b)
{
	const struct test_case *x = a, *y = b;
	int c;

	if (x->last != y->last)
		return x->last - y->last;
	c = file_rank(x) - file_rank(y);
	if (c)
		return c;
	c = strcmp(x->file, y->file);
	if (c)
		return c;
	return x->seq - y->seq;
}

static void usage(const char *argv0)
{
	int i;

	fprintf(stderr,
		"usage: %s [--list] [--filter SUBSTRING] [--tap FILE] [--ko PATH] [options]\n"
		"  Runs %s (as root, module loaded).\n"
		"  --list            print the test names and exit\n"
		"  --filter SUBSTR   run only the tests whose name contains SUBSTR\n"
		"  --tap FILE        also write the TAP output to FILE\n"
		"  --ko PATH         agnocast.ko, for the tests that unload and reload it\n",
		argv0, suite.name);
	for (i = 0; i < nr_options; i++)
		fprintf(stderr, "  %-17s %s\n", options[i].name, options[i].help);
	exit(2);
}

static const char **option_var(const char *name)
{
	int i;

	for (i = 0; i < nr_options; i++)
		if (!strcmp(options[i].name, name))
			return options[i].var;
	return NULL;
}

/* The options; returns the filter (or NULL) and sets *list, *tap_path. */
static const char *parse_args(int argc, char **argv, int *list, const char **tap_path)
{
	const char *filter = NULL, **var;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list"))
			*list = 1;
		else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strcmp(argv[i], "--tap") && i + 1 < argc)
			*tap_path = argv[++i];
		else if (!strcmp(argv[i], "--ko") && i + 1 < argc)
			g_ko_path = argv[++i];
		else if ((var = option_var(argv[i])) && i + 1 < argc)
			*var = argv[++i];
		else
			usage(argv[0]);
	}
	return filter;
}

static int run_helper(int argc, char **argv)
{
	int i;

	for (i = 0; i < nr_helpers; i++)
		if (!strcmp(helpers[i].name, argv[2]))
			return helpers[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "no helper %s\n", argv[2]);
	return 2;
}

static int setup(const char *tap_path)
{
	char names[512];

	if (tap_path && !(tap_file = fopen(tap_path, "we"))) {
		perror(tap_path);
		return 2;
	}
	/* Orphans of a test are re-parented to us, so we can reap them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	/* Not close-on-exec: exec'd helpers write their failures here too. */
	g_report_fd = memfd_create("agnocast-tap-report", 0);
	if (g_report_fd < 0 || fcntl(g_report_fd, F_SETFL, O_APPEND)) {
		perror("memfd_create");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Before the first test: what it changes is put back after it. */
	params_snapshot();
	tap("TAP version 13\n");
	if (leftover_shm(names, sizeof(names))) {
		tap("# note: /dev/shm holds stale names before the suite (removed): %s\n", names);
		remove_shm_names();
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *filter, *tap_path = NULL;
	int list = 0, i, num = 0, failed = 0, r;

	if (argc >= 3 && !strcmp(argv[1], "--helper"))
		return run_helper(argc, argv);
	filter = parse_args(argc, argv, &list, &tap_path);
	qsort(tests, nr_tests, sizeof(tests[0]), cmp_tests);
	if (list) {
		for (i = 0; i < nr_tests; i++)
			if (!filter || strstr(tests[i].full, filter))
				printf("%s\n", suite.name_with_file ? tests[i].full : tests[i].name);
		return 0;
	}
	r = setup(tap_path);
	if (r)
		return r;
	if (suite.init && (r = suite.init()))
		return r;
	for (i = 0; i < nr_tests; i++) {
		if (filter && !strstr(tests[i].full, filter))
			continue;
		if (!run_one(&tests[i], ++num))
			failed++;
	}
	tap("1..%d\n", num);
	tap("# %d of %d failed\n", failed, num);
	if (tap_file)
		fclose(tap_file);
	return failed ? 1 : 0;
}
