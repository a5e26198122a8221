// SPDX-License-Identifier: Apache-2.0
/*
 * The heaphook guest suite: programs under LD_PRELOAD=libagnocast_heaphook.so
 * in a guest with agnocast.ko loaded, checked by what they report and from
 * outside (/proc/<pid>/smaps, exit statuses, the hook's stats line, the
 * module's status file after every test). See suite.h and README.md.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agnocast.h"
#include "suite.h"

#define STATS "AGNOCAST_HEAPHOOK_STATS=1"
#define MIB (1024ULL * 1024)

static uint64_t round_unit(uint64_t x)
{
	return (x + AGNOCAST_POOL_UNIT - 1) / AGNOCAST_POOL_UNIT * AGNOCAST_POOL_UNIT;
}

static const char *script(const char *name)
{
	return fmtbuf("%s/%s", g_srcdir, name);
}

/*
 * A workload that says "ready" on its control socket with its data alive:
 * its pool file is mapped rw-s at a module-assigned address and holds at
 * least min_mib MiB resident; after "exit" it ends with status 0 and its
 * stats line shows the allocations were the pool's.
 */
static void workload(const char *name, const char *const *argv, const char *const *env,
		     uint64_t min_mib)
{
	struct program *c = prog_start(name, HOOK, env, argv);
	struct hook_stats st;
	struct pool_map pm;
	char msg[256], line[512];

	expect(c, "ready", msg, sizeof(msg));
	note("%s: %s", name, msg);
	pool_map(c->pid, c->pid, &pm);
	CHECK(pm.vmas >= 1, "/proc/%d/smaps shows no mapping of /dev/shm/agnocast@%d", c->pid, c->pid);
	CHECK(pm.start >= AGNOCAST_POOL_BASE && pm.end <= AGNOCAST_POOL_LIMIT,
	      "the pool is mapped at %#llx-%#llx", (unsigned long long)pm.start,
	      (unsigned long long)pm.end);
	CHECK(!strcmp(pm.perms, "rw-s"), "the pool is mapped %s", pm.perms);
	note("%s: pool mapped at %#llx, %llu MiB reserved, %llu MiB resident", name,
	     (unsigned long long)pm.start, (unsigned long long)pm.size_kb / 1024,
	     (unsigned long long)pm.rss_kb / 1024);
	CHECK(pm.rss_kb >= min_mib * 1024, "only %llu kB of the pool are resident (want >= %llu MiB)",
	      (unsigned long long)pm.rss_kb, (unsigned long long)min_mib);
	/* The module agrees: joined, attached, at that address. */
	CHECK(status_process(c->pid, line, sizeof(line)) == 0, "no process %d in the status file", c->pid);
	CHECK(strstr(line, fmtbuf(" addr %#llx ", (unsigned long long)pm.start)) &&
		      strstr(line, " state live ") && strstr(line, " attached 1 "),
	      "status file: %s", line);
	tell(c, "exit");
	expect_exit(c, 0);
	st = require_stats(c);
	CHECK(st.pool >= 1000, "only %llu allocations from the pool", (unsigned long long)st.pool);
	CHECK(st.glibc * 1000 <= st.pool,
	      "%llu allocations went to glibc (pool: %llu) in \"all\" mode",
	      (unsigned long long)st.glibc, (unsigned long long)st.pool);
	CHECK(st.pool_size >= pm.rss_kb * 1024,
	      "the pool's size %llu is below its resident size", (unsigned long long)st.pool_size);
}

TEST(node_workload)
{
	const char *argv[] = { g_node, script("workload.cjs"), "48", NULL };
	const char *env[] = { STATS, NULL };

	workload("node", argv, env, 40);
}

TEST(python_workload)
{
	const char *argv[] = { g_python, script("workload.py"), "40", NULL };
	const char *env[] = { STATS, NULL };

	workload("python3", argv, env, 32);
}

/* Every Python object through malloc: many more, smaller allocations. */
TEST(python_workload_pythonmalloc_malloc)
{
	const char *argv[] = { g_python, script("workload.py"), "40", NULL };
	const char *env[] = { STATS, "PYTHONMALLOC=malloc", NULL };

	workload("python3", argv, env, 32);
}

TEST(cxx_containers_two_threads)
{
	const char *plain_argv[] = { "hh-threads", "300", NULL };
	const char *argv[] = { "hh-threads", "--require-hook", "3000", NULL };
	const char *env[] = { STATS, NULL };
	struct program *c;
	unsigned long owned = 0;
	int hook = -1, rounds = 0;

	/* Without the hook first: the program itself is sound. */
	c = prog_start("hh-threads (no hook)", 0, NULL, plain_argv);
	expect_exit(c, 0);
	CHECK(strstr(c->out_text, "threads ok hook 0"), "stdout: %s", c->out_text);

	c = prog_start("hh-threads", HOOK, env, argv);
	expect_exit(c, 0);
	CHECK(sscanf(c->out_text, "threads ok hook %d rounds %d owned %lu", &hook, &rounds,
		     &owned) == 3 && hook == 1 && rounds == 3000,
	      "stdout: %s", c->out_text);
	CHECK(owned > 3000UL * 2 * 50, "only %lu ownership checks", owned);
	note("%s", c->out_text);
	require_stats(c);
}

TEST(publish_tree_subscriber_walks_it)
{
	const char *env[] = { STATS, NULL };
	char topic[64], pid[16], msg[256];
	unsigned long long root = 0, root2 = 0, count = 0, sum = 0, count2 = 0, sum2 = 0, size,
			   max, seq;
	struct program *pub, *sub;
	struct pool_map pm;
	int pubpid = 0, st;

	snprintf(topic, sizeof(topic), "/hh/tree/%d", getpid());
	pub = prog_start("publisher", HOOK, env,
		    (const char *[]){ "hh-pubsub", "pub", topic, "20000", NULL });
	expect(pub, "ready", msg, sizeof(msg));
	CHECK(sscanf(msg, "ready %d %llx", &pubpid, &root) == 2 && pubpid == pub->pid, "%s", msg);
	snprintf(pid, sizeof(pid), "%d", pubpid);
	sub = prog_start("subscriber", HOOK, env,
		    (const char *[]){ "hh-pubsub", "sub", topic, pid, NULL });
	expect(sub, "subscribed", msg, sizeof(msg));
	CHECK(sscanf(msg, "subscribed %llu %llu", &size, &max) == 2, "%s", msg);

	/* From outside: the subscriber maps the publisher's whole range, read-only. */
	pool_map(sub->pid, pubpid, &pm);
	CHECK(pm.vmas == 1 && !strcmp(pm.perms, "r--s") && pm.size_kb * 1024 == max,
	      "the subscriber's mapping of the publisher's pool: %d vmas, %s, %llu kB (max %llu)",
	      pm.vmas, pm.perms, (unsigned long long)pm.size_kb, max);
	CHECK(root >= pm.start && root < pm.end, "root %llx outside %llx-%llx", root,
	      (unsigned long long)pm.start, (unsigned long long)pm.end);

	tell(pub, "publish");
	expect(pub, "published", msg, sizeof(msg));
	CHECK(sscanf(msg, "published %llu", &seq) == 1 && seq == 1, "%s", msg);
	tell(sub, "receive");
	expect(sub, "verified", msg, sizeof(msg));
	CHECK(sscanf(msg, "verified %llu %llx %llx", &count, &sum, &root2) == 3 && root2 == root,
	      "%s (root %llx)", msg, root);
	CHECK(count > 19000, "the subscriber walked only %llu nodes", count);
	note("the subscriber walked %llu nodes, checksum %llx", count, sum);

	/* Writing into the mapping kills the subscriber... */
	tell(sub, "write");
	st = reap(sub);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "the subscriber's write into the publisher's pool: status 0x%x, stdout \"%s\"", st,
	      sub->out_text);
	/* ...and leaves the publisher's data as it was. */
	tell(pub, "verify");
	expect(pub, "intact", msg, sizeof(msg));
	CHECK(sscanf(msg, "intact %llu %llx", &count2, &sum2) == 2 && count2 == count && sum2 == sum,
	      "publisher: %s; subscriber: %llu %llx", msg, count, sum);
	tell(pub, "exit");
	expect_exit(pub, 0);
	require_stats(pub);
}

TEST(pool_growth_seen_through_earlier_mapping)
{
	const char *penv[] = { STATS, "AGNOCAST_MEMPOOL_SIZE=100K", "AGNOCAST_MEMPOOL_MAX=64M", NULL };
	const char *senv[] = { "AGNOCAST_MEMPOOL_SIZE=1M", NULL };
	unsigned long long size0 = 0, max = 0, msize = 0, mmax = 0, addr = 0, grown = 0, nchunks,
			   off;
	char topic[64], pid[16], msg[256];
	struct program *pub, *sub;
	struct hook_stats st;
	struct pool_map pm;
	int pubpid = 0;

	snprintf(topic, sizeof(topic), "/hh/growth/%d", getpid());
	pub = prog_start("publisher", HOOK, penv, (const char *[]){ "hh-pubsub", "gpub", topic, "40", NULL });
	expect(pub, "ready", msg, sizeof(msg));
	CHECK(sscanf(msg, "ready %d %llu %llu", &pubpid, &size0, &max) == 3, "%s", msg);
	CHECK(max == round_unit(64 * MIB), "AGNOCAST_MEMPOOL_MAX=64M gave max %llu", max);
	CHECK(size0 < 4 * MIB, "the pool is already %llu bytes before the growth", size0);
	snprintf(pid, sizeof(pid), "%d", pubpid);
	sub = prog_start("subscriber", HOOK, senv, (const char *[]){ "hh-pubsub", "gsub", topic, pid, NULL });
	expect(sub, "mapped", msg, sizeof(msg));
	CHECK(sscanf(msg, "mapped %llu %llu", &msize, &mmax) == 2 && mmax == max, "%s", msg);
	note("the subscriber mapped the pool at size %llu (initial %llu), max %llu", msize, size0, max);
	pool_map(sub->pid, pubpid, &pm);
	CHECK(pm.vmas == 1 && pm.size_kb * 1024 == max, "the subscriber's mapping: %d vmas, %llu kB",
	      pm.vmas, (unsigned long long)pm.size_kb);

	tell(pub, "grow");
	expect(pub, "published", msg, sizeof(msg));
	CHECK(sscanf(msg, "published %llx %llu", &addr, &grown) == 2, "%s", msg);
	CHECK(grown >= 40 * MIB, "the pool grew only to %llu", grown);
	tell(sub, "receive");
	expect(sub, "verified", msg, sizeof(msg));
	CHECK(sscanf(msg, "verified %llu %llu", &nchunks, &off) == 2 && nchunks == 40 && off >= msize,
	      "%s", msg);
	note("published at offset %llu after growth to %llu; read through the mapping made at %llu",
	     off, grown, msize);
	/* The subscriber unmapped it before answering. */
	pool_map(sub->pid, pubpid, &pm);
	CHECK(pm.vmas == 0, "the subscriber still maps the pool after UNMAP (%d vmas)", pm.vmas);
	tell(sub, "exit");
	expect_exit(sub, 0);
	tell(pub, "exit");
	expect_exit(pub, 0);
	st = require_stats(pub);
	CHECK(st.grows >= 1, "the hook reports no growth");
}

TEST(fork_without_and_with_exec)
{
	const char *env[] = { STATS, NULL };
	struct program *c = prog_start("hh-fork", HOOK, env, (const char *[]){ "hh-fork", NULL });

	const char *l;
	unsigned long long before = 0, after = 0, size = 0;

	expect_exit(c, 0);
	CHECK(strstr(c->out_text, "fork ok: no-exec") && strstr(c->out_text, "fork ok: exec") &&
		      strstr(c->out_text, "fork ok: threaded"),
	      "stdout: %s", c->out_text);
	note("%s", c->out_text);
	require_stats(c);
	/*
	 * The child copies the pool's used extent: forking must not fill the
	 * parent's pool file (tmpfs pages) up to the pool's whole size.
	 */
	l = strstr(c->out_text, "pool file holds ");
	CHECK(l && sscanf(l, "pool file holds %llu kB before, %llu kB after (pool size %llu kB)",
			  &before, &after, &size) == 3, "stdout: %s", c->out_text);
	CHECK(after <= before + 16 * 1024,
	      "fork() made the parent's pool file hold %llu kB (was %llu kB; pool size %llu kB)",
	      after, before, size);
}

/* A size the hook must refuse: exit 1, one line naming the variable, no crash. */
static void refused(const char *var, const char *value, const char *extra)
{
	char kv[128];
	const char *env[] = { kv, extra, NULL };
	struct program *c;
	int st;

	snprintf(kv, sizeof(kv), "%s=%s", var, value);
	c = prog_start(kv, HOOK, env, (const char *[]){ "hh-hello", NULL });
	st = reap(c);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status 0x%x, want exit 1", kv, st);
	CHECK(count_lines(c->err_text) == 1 && strstr(c->err_text, var),
	      "%s: stderr is not one line naming %s: \"%s\"", kv, var, c->err_text);
	CHECK(!strstr(c->out_text, "hello"), "%s: the program ran", kv);
	note("%s -> %.*s", kv, (int)strcspn(c->err_text, "\n"), c->err_text);
}

TEST(config_bad_sizes_refused)
{
	static const char *bad[] = { "garbage", "0", "1000T", "12Q", "-1", "1.5M", "10 M",
				     "99999999999999999999999", NULL };

	for (const char **v = bad; *v; v++)
		refused("AGNOCAST_MEMPOOL_SIZE", *v, NULL);
	refused("AGNOCAST_MEMPOOL_MAX", "garbage", NULL);
	refused("AGNOCAST_MEMPOOL_MAX", "0", NULL);
	/* Refused whatever the fallback. */
	refused("AGNOCAST_MEMPOOL_SIZE", "garbage", "AGNOCAST_HEAPHOOK_FALLBACK=glibc");
}

TEST(config_bad_mode_values_refused)
{
	refused("AGNOCAST_HEAPHOOK_MODE", "sometimes", NULL);
	refused("AGNOCAST_HEAPHOOK_FALLBACK", "maybe", NULL);
}

/*
 * Accepted sizes: the pool's size is the request rounded up to 100 kB
 * unless the pool grew (the stats line counts growth), and its maximum is
 * exactly the rounded AGNOCAST_MEMPOOL_MAX.
 */
TEST(config_sizes_accepted_and_rounded)
{
	static const struct {
		const char *size, *max;
		uint64_t want_size, want_max;
	} ok[] = {
		{ "1000000", NULL, 1024000, 0 },
		{ "100K", "3M", 102400, 3174400 },
		{ "512K", NULL, 614400, 0 },
		{ "8M", "8M", 8396800, 8396800 },
		{ "64M", NULL, 67174400, 1073766400 },
		{ "1G", NULL, 1073766400, 17179955200ULL },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char s[64], m[64];
		const char *env[] = { STATS, s, ok[i].max ? m : NULL, NULL };
		unsigned long long size = 0, max = 0;
		int joined = 0, owns = 0;
		struct hook_stats st;
		struct program *c;

		snprintf(s, sizeof(s), "AGNOCAST_MEMPOOL_SIZE=%s", ok[i].size);
		snprintf(m, sizeof(m), "AGNOCAST_MEMPOOL_MAX=%s", ok[i].max ? ok[i].max : "");
		c = prog_start(s, HOOK, env, (const char *[]){ "hh-hello", NULL });
		expect_exit(c, 0);
		CHECK(sscanf(c->out_text, "hello joined %d size %llu max %llu owns %d", &joined,
			     &size, &max, &owns) == 4 && joined && owns,
		      "%s: stdout \"%s\"", s, c->out_text);
		parse_stats(c->err_text, &st);
		CHECK(st.found && count_lines(c->err_text) == 1, "%s: stderr \"%s\"", s, c->err_text);
		CHECK(size % AGNOCAST_POOL_UNIT == 0 && size >= ok[i].want_size &&
			      (st.grows || size == ok[i].want_size),
		      "%s: pool size %llu, want %llu (grows %llu)", s, size,
		      (unsigned long long)ok[i].want_size, (unsigned long long)st.grows);
		CHECK(!ok[i].want_max || max == ok[i].want_max, "%s %s: max %llu, want %llu", s,
		      ok[i].max ? m : "(default)", max, (unsigned long long)ok[i].want_max);
		note("%s%s%s: size %llu max %llu, %llu growths", s, ok[i].max ? " " : "",
		     ok[i].max ? m : "", size, max, (unsigned long long)st.grows);
	}
}

TEST(borrow_mode)
{
	const char *env[] = { "AGNOCAST_HEAPHOOK_MODE=borrow", STATS, NULL };
	struct program *c = prog_start("hh-api borrow", HOOK, env, (const char *[]){ "hh-api", "borrow", NULL });
	struct hook_stats st;

	expect_exit(c, 0);
	CHECK(strstr(c->out_text, "borrow ok"), "stdout: %s", c->out_text);
	st = require_stats(c);
	CHECK(st.glibc >= 5, "borrow mode: only %llu glibc allocations", (unsigned long long)st.glibc);
}

TEST(shm_api_in_borrow_mode)
{
	const char *env[] = { "AGNOCAST_HEAPHOOK_MODE=borrow", NULL };
	struct program *c = prog_start("hh-api shm", HOOK, env, (const char *[]){ "hh-api", "shm", NULL });

	expect_exit(c, 0);
	CHECK(strstr(c->out_text, "shm ok"), "stdout: %s", c->out_text);
	/* An overflowing shm_calloc is not the pool running out. */
	CHECK(!*c->err_text, "stderr: \"%s\"", c->err_text);
}

TEST(all_mode_every_allocator_function)
{
	struct program *c = prog_start("hh-api align", HOOK, NULL, (const char *[]){ "hh-api", "align", NULL });

	expect_exit(c, 0);
	CHECK(strstr(c->out_text, "align ok"), "stdout: %s", c->out_text);
	CHECK(!*c->err_text, "stderr: \"%s\"", c->err_text);
}

TEST(exhaustion_enomem_one_line)
{
	const char *env[] = { "AGNOCAST_MEMPOOL_SIZE=1M", "AGNOCAST_MEMPOOL_MAX=4M", NULL };
	struct program *c = prog_start("hh-api exhaust", HOOK, env,
				(const char *[]){ "hh-api", "exhaust", NULL });

	expect_exit(c, 0);
	CHECK(strstr(c->out_text, "exhaust ok"), "stdout: %s", c->out_text);
	CHECK(count_lines(c->err_text) == 1 && strstr(c->err_text, "AGNOCAST_MEMPOOL_MAX"),
	      "stderr is not one line naming AGNOCAST_MEMPOOL_MAX: \"%s\"", c->err_text);
	note("%s%.*s", c->out_text, (int)strcspn(c->err_text, "\n"), c->err_text);
}

/* Runs after the others: it unloads the module and loads it again. */
TEST_LAST(module_not_loaded_fail_and_glibc_fallback)
{
	const char *rm[] = { "rmmod", "agnocast", NULL };
	const char *ins[] = { "insmod", g_ko_path, NULL };
	const char *fb[] = { "AGNOCAST_HEAPHOOK_FALLBACK=glibc", STATS, NULL };
	struct program *c;
	struct hook_stats hs;
	int st, joined = -1;

	if (!g_ko_path)
		skip("no --ko: cannot reload the module");
	st = run_cmd(rm);
	CHECK(st == 0, "rmmod agnocast: %s", fmtbuf("status 0x%x", st));
	CHECK(access("/dev/agnocast", F_OK) != 0, "/dev/agnocast still exists after rmmod");

	c = prog_start("default fallback", HOOK, NULL, (const char *[]){ "hh-hello", NULL });
	st = reap(c);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 1) || count_lines(c->err_text) != 1 ||
	    !strstr(c->err_text, "not loaded")) {
		run_cmd(ins);
		FAIL("module unloaded, default fallback: status 0x%x (want exit 1), stderr (want one line saying the module is not loaded): \"%s\"",
		     st, c->err_text);
	}
	CHECK(!strstr(c->out_text, "hello"), "the program ran");

	c = prog_start("glibc fallback", HOOK, fb, (const char *[]){ "hh-hello", NULL });
	st = reap(c);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		run_cmd(ins);
		FAIL("module unloaded, AGNOCAST_HEAPHOOK_FALLBACK=glibc: status 0x%x, want exit 0", st);
	}
	st = run_cmd(ins);
	CHECK(st == 0, "insmod %s: status 0x%x", g_ko_path, st);
	CHECK(access("/dev/agnocast", F_OK) == 0, "/dev/agnocast missing after insmod");
	CHECK(sscanf(c->out_text, "hello joined %d", &joined) == 1 && joined == 0,
	      "glibc fallback: stdout \"%s\"", c->out_text);
	parse_stats(c->err_text, &hs);
	CHECK(hs.found && hs.pool == 0 && hs.glibc > 0 && !hs.joined,
	      "glibc fallback: stats line: \"%s\"", c->err_text);
	/* The notice, plus the stats line. */
	CHECK(count_lines(c->err_text) == 2,
	      "glibc fallback: want one line of notice (and the stats line): \"%s\"", c->err_text);
	note("fallback=glibc: %.*s", (int)strcspn(c->err_text, "\n"), c->err_text);

	/* And the hook works again with the module back. */
	c = prog_start("after reload", HOOK, NULL, (const char *[]){ "hh-hello", NULL });
	expect_exit(c, 0);
	CHECK(strstr(c->out_text, "hello joined 1"), "after insmod: %s", c->out_text);
}

TEST_LAST(module_state_clean_at_the_end)
{
	char why[512];

	CHECK(module_clean(why, sizeof(why)) == 0, "%s", why);
}
