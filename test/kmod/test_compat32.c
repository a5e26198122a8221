// SPDX-License-Identifier: Apache-2.0
/*
 * 32-bit callers (compat_ioctl): agnocast-compat32 (m32/compat32.c, built
 * next to this suite when the compiler can link -m32) asks VERSION and the
 * introspection ioctls about a 64-bit publisher and checks they answer as
 * for a 64-bit caller, that ADD_PROCESS fails with EOPNOTSUPP and that the
 * other ioctls reach the module (ESRCH, not ENOTTY). It joins nothing.
 * Skipped where it cannot run: not built (no 32-bit toolchain), or a
 * kernel without IA32 emulation (the debug kernel's config).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define ENOEXEC_EXIT 78

static void publisher(int sock, void *arg)
{
	struct ag_pool pool;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	ADD_PUB(dev, "compat/topic", 1, 0);
	SEND(sock, pool);
	WAIT_FOR(sock, "exit");
}

TEST(compat_32bit_caller)
{
	char exe[PATH_MAX], prog[PATH_MAX + 32], reps[16], pids[16], addr[32];
	struct ag_pool pool;
	struct child p;
	ssize_t n;
	pid_t pid;
	int st;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0);
	exe[n] = 0;
	snprintf(prog, sizeof(prog), "%s/agnocast-compat32", dirname(exe));
	if (access(prog, X_OK))
		skip("%s was not built (no 32-bit toolchain: gcc-multilib)", prog);

	p = spawn(publisher, NULL);
	RECV(p.sock, pool);
	snprintf(reps, sizeof(reps), "%d", g_report_fd);
	snprintf(pids, sizeof(pids), "%d", (int)p.pid);
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)pool.addr);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl(prog, prog, reps, "compat/topic", pids, addr, (char *)NULL);
		_exit(errno == ENOEXEC ? ENOEXEC_EXIT : 127);
	}
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == ENOEXEC_EXIT) {
		TELL(p.sock, "exit");
		REAP_OK(p.pid);
		skip("this kernel runs no 32-bit programs (no IA32 emulation)");
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("agnocast-compat32 failed (status 0x%x): see its lines above", st);
	/* It joined nothing and changed nothing. */
	CHECK_STATUS_TOTALS(1, 1, 1, 0, 0, 0);
	TELL(p.sock, "exit");
	REAP_OK(p.pid);
}
