// SPDX-License-Identifier: Apache-2.0
/*
 * LIST_TOPICS and LIST_PROCESSES fill min(total, capacity) items and report
 * the total, whatever changes while they run: here other processes add and
 * remove topics and join and exit in a loop while this one lists into a
 * buffer filled with 0xEE, and every item below min(total, capacity) must
 * have been written. (Found by the fuzzer: the module sized its buffer by a
 * count read before the walk and reported items it never wrote.)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ag.h"
#include "harness.h"
#include "status.h"

#define CAP 64
#define LIST_MS 8000

/* Adds and removes subscribers on changing topics until told to stop. */
static void topic_churner(int sock, void *arg)
{
	char name[32];
	struct ag_sub s;
	struct ag_pool pool;
	unsigned int i;
	int dev = AG_OPEN();

	(void)arg;
	JOIN(dev, UNIT, 0, &pool);
	TELL(sock, "churning");
	for (i = 0; !sock_ready(sock); i++) {
		snprintf(name, sizeof(name), "churn/%u", i % 40);
		s = ADD_SUB(dev, name, 1, 0);
		if (i % 3)
			REMOVE_SUB(dev, s.id);
		close(s.fd);
	}
}

/*
 * Forks short-lived joiners until told to stop; it stops between two of
 * them, so that it leaves no grandchild behind.
 */
static void process_churner(int sock, void *arg)
{
	struct ag_pool pool;
	pid_t pid;
	int st;

	(void)arg;
	TELL(sock, "churning");
	while (!sock_ready(sock)) {
		pid = fork();
		if (pid == 0) {
			int dev = AG_OPEN();

			JOIN(dev, UNIT, 0, &pool);
			_exit(0);
		}
		CHECK(pid > 0);
		CHECK_EQ(waitpid(pid, &st, 0), pid);
	}
}

static int all_ee(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++ != 0xEE)
			return 0;
	return 1;
}

TEST(list_answers_are_complete_while_things_change)
{
	struct agnocast_topic_name names[CAP];
	struct agnocast_process_info procs[CAP];
	struct agnocast_list_topics_args lt;
	struct agnocast_list_processes_args lp;
	struct child t, p;
	uint64_t end, calls = 0, items = 0;
	uint32_t i;
	int dev = AG_OPEN();

	t = spawn(topic_churner, NULL);
	WAIT_FOR(t.sock, "churning");
	p = spawn(process_churner, NULL);
	WAIT_FOR(p.sock, "churning");
	end = now_ms() + LIST_MS;
	while (now_ms() < end) {
		memset(names, 0xEE, sizeof(names));
		memset(&lt, 0, sizeof(lt));
		lt.topics = p2u(names);
		lt.topics_cap = CAP;
		CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_TOPICS_CMD, &lt));
		for (i = 0; i < lt.nr_topics && i < CAP; i++)
			if (all_ee(&names[i], sizeof(names[i])))
				FAIL("LIST_TOPICS reported %u topics but left item %u unwritten",
				     lt.nr_topics, i);
		memset(procs, 0xEE, sizeof(procs));
		memset(&lp, 0, sizeof(lp));
		lp.procs = p2u(procs);
		lp.procs_cap = CAP;
		CHECK_OK(ag_ioctl(dev, AGNOCAST_LIST_PROCESSES_CMD, &lp));
		for (i = 0; i < lp.nr_procs && i < CAP; i++)
			if (all_ee(&procs[i], sizeof(procs[i])))
				FAIL("LIST_PROCESSES reported %u processes but left item %u unwritten",
				     lp.nr_procs, i);
		calls += 2;
		items += lt.nr_topics + lp.nr_procs;
	}
	note("%llu calls, %llu items checked", (unsigned long long)calls,
	     (unsigned long long)items);
	TELL(t.sock, "stop");
	TELL(p.sock, "stop");
	REAP_OK(t.pid);
	REAP_OK(p.pid);
}
