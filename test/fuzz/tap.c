// SPDX-License-Identifier: Apache-2.0
/*
 * The TAP report: three results (checks, participants, leftovers) and the
 * run's statistics as diagnostics: seed, ioctls per command and per
 * errno, scenarios reached, processes spawned and killed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "ioc.h"
#include "probe.h"
#include "shared.h"
#include "super.h"

static void put_lines(FILE *f, const char *text)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		fprintf(f, "%s%.*s\n", strncmp(p, "#", 1) ? "# " : "", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
}

static uint64_t ioc_total(int i)
{
	uint64_t n = 0;
	int e;

	for (e = 0; e < ERRSET_BITS; e++)
		n += S->ioc_count[i][e];
	return n;
}

static void put_ioctls(FILE *f, double secs)
{
	uint64_t all = 0, per_errno[ERRSET_BITS] = { 0 };
	int i, e;

	for (i = 0; i < NIOC; i++) {
		uint64_t n = ioc_total(i);

		all += n;
		fprintf(f, "#   %-17s %8llu:", iocs[i].name, (unsigned long long)n);
		for (e = 0; e < ERRSET_BITS; e++) {
			per_errno[e] += S->ioc_count[i][e];
			if (S->ioc_count[i][e])
				fprintf(f, " %s %llu", errname(e),
					(unsigned long long)S->ioc_count[i][e]);
		}
		fprintf(f, "\n");
	}
	fprintf(f, "# ioctls: %llu in %.1f s (%.0f/s); by errno:", (unsigned long long)all,
		secs, secs > 0 ? all / secs : 0.0);
	for (e = 0; e < ERRSET_BITS; e++)
		if (per_errno[e])
			fprintf(f, " %s %llu", errname(e), (unsigned long long)per_errno[e]);
	fprintf(f, "\n");
}

static void put_counts(FILE *f, const struct report *rep)
{
	int i;

	fprintf(f, "# processes spawned:");
	for (i = 0; i < NKIND; i++)
		fprintf(f, " %s %llu", kind_names[i], (unsigned long long)S->spawned[i]);
	fprintf(f, "\n# killed: by the supervisor %llu, by their parents %llu; ended %llu; checks %llu\n",
		(unsigned long long)S->killed_super, (unsigned long long)S->killed_parent,
		(unsigned long long)S->exits, (unsigned long long)S->checks);
	fprintf(f, "# windows hit:");
	for (i = 0; i < NWIN; i++)
		fprintf(f, "%s %s %llu", i % 6 ? "," : "\n#  ", win_names[i],
			(unsigned long long)S->windows[i]);
	fprintf(f, "\n# probe scenarios run:");
	for (i = 0; probe_scen_name(i); i++)
		fprintf(f, "%s %s %llu", i % 6 ? "," : "\n#  ", probe_scen_name(i),
			(unsigned long long)S->scen_runs[i]);
	fprintf(f, "\n# fault injection: available:%s%s%s; used:%s%s%s at %d%% for part of the run\n",
		rep->inject & 1 ? " failslab" : "", rep->inject & 2 ? " fail_usercopy" : "",
		rep->inject ? "" : " none (no /sys/kernel/debug/failslab or fail_usercopy)",
		S->inject_used & 1 ? " failslab" : "", S->inject_used & 2 ? " fail_usercopy" : "",
		S->inject_used ? "" : " none", S->inject_pct);
	fprintf(f, "# status totals at the start: processes %llu topics %llu publishers %llu subscribers %llu entries %llu mappings %llu\n",
		(unsigned long long)rep->initial[0], (unsigned long long)rep->initial[1],
		(unsigned long long)rep->initial[2], (unsigned long long)rep->initial[3],
		(unsigned long long)rep->initial[4], (unsigned long long)rep->initial[5]);
}

static void put_failures(FILE *f)
{
	uint32_t i, n = S->nfail < MAXFAIL ? S->nfail : MAXFAIL;

	for (i = 0; i < n; i++) {
		if (!__atomic_load_n(&S->fail[i].done, __ATOMIC_ACQUIRE))
			fprintf(f, "# failure %u (pid %d): its report was cut short (the process was killed while writing it); see the console\n",
				i, S->fail[i].pid);
		put_lines(f, S->fail[i].text);
	}
	if (S->nfail > n)
		fprintf(f, "# ... and %u more failures\n", S->nfail - n);
}

static void report(FILE *f, const struct opts *o, const struct report *rep)
{
	double secs = rep->elapsed_ns / 1e9;

	fprintf(f, "TAP version 13\n1..3\n");
	if (rep->setup[0]) {
		fprintf(f, "not ok 1 - agnocast-fuzz: setup\n# %s\n", rep->setup);
		fprintf(f, "ok 2 - agnocast-fuzz: participants # SKIP no run\n");
		fprintf(f, "ok 3 - agnocast-fuzz: nothing left # SKIP no run\n");
		return;
	}
	fprintf(f, "%s 1 - agnocast-fuzz: every result matched the header (%llu checks)\n",
		S->nfail ? "not ok" : "ok", (unsigned long long)S->checks);
	fprintf(f, "# seed %llu; reproduce with: agnocast-fuzz --seconds %u --seed %llu --workers %u\n",
		(unsigned long long)o->seed, o->seconds, (unsigned long long)o->seed, o->workers);
	put_failures(f);
	fprintf(f, "%s 2 - agnocast-fuzz: every participant ended as expected (%llu ended)\n",
		S->crashes ? "not ok" : "ok", (unsigned long long)S->exits);
	put_lines(f, rep->crashes);
	fprintf(f, "%s 3 - agnocast-fuzz: nothing left once all were reaped (totals zero, no /dev/shm/agnocast@*)\n",
		rep->leftovers[0] ? "not ok" : "ok");
	put_lines(f, rep->leftovers);
	put_ioctls(f, secs);
	put_counts(f, rep);
}

void tap_write(const struct opts *o, const struct report *rep)
{
	FILE *f = o->tap ? fopen(o->tap, "w") : NULL;

	if (!S) {	/* no shared state: setup failed before it */
		static struct shared empty;

		S = &empty;
	}
	report(f ? f : stdout, o, rep);
	if (f)
		fclose(f);
	if (o->verbose && f)
		report(stderr, o, rep);
	else if (f)
		fprintf(stderr, "agnocast-fuzz: seed %llu: %s (%u failures, %llu crashes%s); report in %s\n",
			(unsigned long long)o->seed,
			S->nfail || S->crashes || rep->leftovers[0] || rep->setup[0] ? "FAILED" : "passed",
			S->nfail, (unsigned long long)S->crashes,
			rep->leftovers[0] ? ", state left over" : "", o->tap);
}
