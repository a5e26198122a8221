/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap.h - a tiny TAP producer: each test is a function returning 0 or -1,
 * run in its own child process; CHECK() records why it failed.  Output:
 * "ok N - name" or "not ok N - name" plus a "# ..." line, then "1..N".
 */
#ifndef AGNOCAST_TEST_TAP_H
#define AGNOCAST_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int tap_count, tap_failed;
static char tap_why[512];

static void tap_note(int line, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tap_note(int line, const char *fmt, ...)
{
	int n = snprintf(tap_why, sizeof(tap_why), "line %d: ", line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tap_why + n, sizeof(tap_why) - n, fmt, ap);
	va_end(ap);
}

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			tap_note(__LINE__, __VA_ARGS__);		\
			return -1;					\
		}							\
	} while (0)

/*
 * Run fn in a child process, so that a crash or an abort in one test is
 * reported as that test's failure and the others still run.
 */
static void tap_run(const char *name, int (*fn)(void))
{
	char why[sizeof(tap_why)] = "";
	int fds[2], status = 0, ok;
	ssize_t n = 0, got;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) || (pid = fork()) < 0) {
		perror("tap_run");
		exit(2);
	}
	if (pid == 0) {
		close(fds[0]);
		tap_why[0] = 0;
		ok = fn() == 0;
		if (write(fds[1], tap_why, strlen(tap_why)) < 0)
			_exit(3);
		fflush(stdout);
		_exit(ok ? 0 : 1);
	}
	close(fds[1]);
	while ((got = read(fds[0], why + n, sizeof(why) - 1 - n)) > 0)
		n += got;
	close(fds[0]);
	why[n] = 0;
	waitpid(pid, &status, 0);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok && WIFSIGNALED(status))
		snprintf(why + n, sizeof(why) - n, "%skilled by signal %d",
			 n ? "; " : "", WTERMSIG(status));
	tap_count++;
	if (!ok) {
		tap_failed++;
		printf("not ok %d - %s\n# %s\n", tap_count, name, why);
	} else {
		printf("ok %d - %s\n", tap_count, name);
	}
	fflush(stdout);
}

static int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}

#endif /* AGNOCAST_TEST_TAP_H */
