// SPDX-License-Identifier: Apache-2.0
/*
 * The harness: registration, one forked child per test, TAP output, the
 * after-test checks (no process left, module state empty), and the small
 * process and synchronisation helpers the tests share.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "params.h"
#include "status.h"

#define MAX_TESTS 256
#define MAX_HELPERS 8
#define TEST_TIMEOUT_S 180
#define SKIP_EXIT 77

struct test_case {
	const char *file;
	const char *name;
	test_fn fn;
	int last;
	int seq;
	char full[128];
};

static struct test_case tests[MAX_TESTS];
static int nr_tests;
static struct {
	const char *name;
	helper_fn fn;
} helpers[MAX_HELPERS];
static int nr_helpers;

const char *g_ko_path;
int g_report_fd = -1;
static FILE *tap_file;

void harness_register(const char *file, const char *name, test_fn fn,
		      int last)
{
	struct test_case *t;
	const char *base = strrchr(file, '/');
	size_t n;

	if (nr_tests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	t = &tests[nr_tests];
	t->file = file;
	t->name = name;
	t->fn = fn;
	t->last = last;
	t->seq = nr_tests++;
	base = base ? base + 1 : file;
	if (!strncmp(base, "test_", 5))
		base += 5;
	n = strcspn(base, ".");
	snprintf(t->full, sizeof(t->full), "%.*s/%s", (int)n, base, name);
}

void harness_register_helper(const char *name, helper_fn fn)
{
	if (nr_helpers == MAX_HELPERS) {
		fprintf(stderr, "too many helpers\n");
		exit(2);
	}
	helpers[nr_helpers].name = name;
	helpers[nr_helpers].fn = fn;
	nr_helpers++;
}

/* ---- reporting ---------------------------------------------------- */

const char *errname(int err)
{
	const char *s = err ? strerrorname_np(err) : "0";

	return s ? s : "E?";
}

static void report_line(const char *prefix, const char *file, int line,
			const char *fmt, va_list ap)
{
	char buf[2048];
	int n = 0;
	const char *base;

	if (prefix)
		n = snprintf(buf, sizeof(buf), "%s", prefix);
	if (file) {
		base = strrchr(file, '/');
		base = base ? base + 1 : file;
		n += snprintf(buf + n, sizeof(buf) - n, "%s:%d: [pid %d] ",
			      base, line, (int)getpid());
	}
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (g_report_fd >= 0) {
		if (write(g_report_fd, buf, n) < 0) {
			/* nothing better to do */
		}
	} else {
		fwrite(buf, 1, n, stderr);
	}
}

void fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_line(NULL, file, line, fmt, ap);
	va_end(ap);
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

static void tap(const char *fmt, ...)
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

/* ---- processes and synchronisation -------------------------------- */

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

static void describe_status(char *buf, size_t len, int st)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(st),
			 sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
	else
		snprintf(buf, len, "changed state 0x%x", st);
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

uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* ---- running tests -------------------------------------------------- */

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
		if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1)
			continue;
		if (ppid == getpid())
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

static void print_report(void)
{
	char buf[8192];
	ssize_t n;
	off_t off = 0;
	char *line, *save;
	static char pending[16384];
	size_t plen = 0;

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
	for (line = strtok_r(pending, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
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

static void add_reason(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(g_report_fd, buf, n) < 0) {
		/* ignore */
	}
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
			used += snprintf(names + used, len - used, "%s ",
					 de->d_name);
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

static void try_reload_module(void)
{
	int fd;

	if (!g_ko_path || access(AGNOCAST_STATUS_PATH, F_OK) == 0)
		return;
	fd = open(g_ko_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (syscall(SYS_finit_module, fd, "", 0) == 0)
		add_reason("note: the module was not loaded after the test; reloaded it from %s",
			   g_ko_path);
	close(fd);
}

/* Returns 1 when the test passed (or was skipped). */
static int run_one(struct test_case *t, int num)
{
	uint64_t t0 = now_ms();
	int st, ok = 1, skipped = 0, left;
	char d[64], why[256], names[512];
	struct status s;
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
		alarm(TEST_TIMEOUT_S);
		t->fn();
		_exit(0);
	}
	setpgid(pid, pid);
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
			   WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ?
			   " (timeout)" : "");
	}
	left = kill_leftovers(pid);
	if (left && ok) {
		ok = 0;
		add_reason("%d process(es) of the test were left running or unreaped (killed now)",
			   left);
	} else if (left) {
		add_reason("note: killed %d process(es) the failed test left", left);
	}
	try_reload_module();
	params_restore();
	if (status_load(&s, why, sizeof(why))) {
		ok = 0;
		add_reason("after the test: %s", why);
	} else {
		int i;

		for (i = 0; i < 6; i++)
			if (s.totals[i])
				break;
		if (i < 6) {
			ok = 0;
			add_reason("after the test the module is not empty; status file:");
			status_dump(&s);
		}
		status_free(&s);
	}
	if (leftover_shm(names, sizeof(names))) {
		ok = 0;
		add_reason("after the test /dev/shm still holds: %s", names);
		/* Remove them so that later tests start clean. */
		remove_shm_names();
	}
	if (skipped && ok && report_has_skip(why, sizeof(why))) {
		tap("ok %d - %s # SKIP %s\n", num, t->full, why);
		return 1;
	}
	if (skipped)
		ok = 0;
	tap("%s %d - %s\n", ok ? "ok" : "not ok", num, t->full);
	print_report();
	tap("# time %.3f s\n", (now_ms() - t0) / 1000.0);
	return ok;
}

/* Suite order: the basics first, so that their failures come first. */
static const char *const file_order[] = {
	"process_join", "topic_validation", "reserved_fields", "array_caps",
	"bad_pointers", "pool_attach", "map_pool", "address_assignment",
	"publish_receive", "depth_transient_local", "reclaim", "poll_wakeup",
	"owner_checks", "exit_cleanup", "ipc_namespace", "status_file",
	"stress",
};

static int file_rank(const struct test_case *t)
{
	size_t i, n = strcspn(t->full, "/");

	for (i = 0; i < sizeof(file_order) / sizeof(file_order[0]); i++)
		if (strlen(file_order[i]) == n && !strncmp(file_order[i], t->full, n))
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
	fprintf(stderr,
		"usage: %s [--list] [--filter SUBSTRING] [--tap FILE] [--ko PATH]\n"
		"  Runs the agnocast module tests (as root, module loaded).\n"
		"  --list            print the test names and exit\n"
		"  --filter SUBSTR   run only the tests whose name contains SUBSTR\n"
		"  --tap FILE        also write the TAP output to FILE\n"
		"  --ko PATH         agnocast.ko, for the unload/reload test\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *filter = NULL, *tap_path = NULL;
	int list = 0, i, num = 0, failed = 0;
	char names[512];

	if (argc >= 3 && !strcmp(argv[1], "--helper")) {
		for (i = 0; i < nr_helpers; i++)
			if (!strcmp(helpers[i].name, argv[2]))
				return helpers[i].fn(argc - 2, argv + 2);
		fprintf(stderr, "no helper %s\n", argv[2]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list"))
			list = 1;
		else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strcmp(argv[i], "--tap") && i + 1 < argc)
			tap_path = argv[++i];
		else if (!strcmp(argv[i], "--ko") && i + 1 < argc)
			g_ko_path = argv[++i];
		else
			usage(argv[0]);
	}
	qsort(tests, nr_tests, sizeof(tests[0]), cmp_tests);
	if (list) {
		for (i = 0; i < nr_tests; i++)
			if (!filter || strstr(tests[i].full, filter))
				printf("%s\n", tests[i].full);
		return 0;
	}
	if (tap_path) {
		tap_file = fopen(tap_path, "w");
		if (!tap_file) {
			perror(tap_path);
			return 2;
		}
	}
	/* Orphans of a test are re-parented to us, so we can reap them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	/* Not close-on-exec: the exec helper writes its failures here too. */
	g_report_fd = memfd_create("agnocast-ktest-report", 0);
	if (g_report_fd < 0 || fcntl(g_report_fd, F_SETFL, O_APPEND)) {
		perror("memfd_create");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Before the first test: what it changes is put back after it. */
	params_snapshot();
	tap("TAP version 13\n");
	if (leftover_shm(names, sizeof(names))) {
		tap("# note: /dev/shm holds stale names before the suite (removed): %s\n",
		    names);
		remove_shm_names();
	}
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
