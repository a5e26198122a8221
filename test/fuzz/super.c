// SPDX-License-Identifier: Apache-2.0
/* The supervisor (see super.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos.h"
#include "probe.h"
#include "reader.h"
#include "shared.h"
#include "super.h"

#define MAXWORKERS 32
#define MAXPG 8192
#define PARAM_DIR "/sys/module/agnocast/parameters/"
#define FAILSLAB "/sys/kernel/debug/failslab/"
#define UNPRIV 65534

struct sup {
	const struct opts *o;
	struct report *rep;
	struct rng r;
	pid_t workers[MAXWORKERS];
	uint32_t next_idx;
	pid_t pgids[MAXPG];
	unsigned int npg;
	mode_t dev_mode;
	uint64_t next_kill, next_phase, phase_end, fs_start, fs_end;
	int phase_param;	/* lowered now, or -1 */
	int fs_state;		/* 0 not yet, 1 on, 2 done; -1 unavailable */
	char fs_saved[8][32];
};

static void note_to(char *buf, size_t len, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	if (o + 2 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

/* ---- files ----------------------------------------------------------- */

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int param_write(enum param p, uint64_t v)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), PARAM_DIR "%s", param_names[p]);
	snprintf(val, sizeof(val), "%llu\n", (unsigned long long)v);
	return write_file(path, val);
}

/* Set a parameter behind the generation counter probes read. */
static void param_set(enum param p, uint64_t v)
{
	__atomic_fetch_add(&S->param_gen, 1, __ATOMIC_ACQ_REL);
	param_write(p, v);
	__atomic_store_n(&S->param_val[p], v, __ATOMIC_RELEASE);
	__atomic_fetch_add(&S->param_gen, 1, __ATOMIC_ACQ_REL);
}

static int params_load(void)
{
	char path[128], val[64];
	int p;

	for (p = 0; p < NPARAM; p++) {
		snprintf(path, sizeof(path), PARAM_DIR "%s", param_names[p]);
		if (read_file(path, val, sizeof(val)))
			return -1;
		S->param_default[p] = S->param_val[p] = strtoull(val, NULL, 10);
	}
	return 0;
}

/* ---- start ----------------------------------------------------------- */

static int module_ok(char *why, size_t len)
{
	struct agnocast_version_args v;
	int fd = open(AGNOCAST_DEVICE_PATH, O_RDWR | O_CLOEXEC), r;

	if (fd < 0) {
		snprintf(why, len, "open %s: %s (is the module loaded?)",
			 AGNOCAST_DEVICE_PATH, strerror(errno));
		return -1;
	}
	r = ioctl(fd, AGNOCAST_VERSION_CMD, &v);
	close(fd);
	if (r || v.abi != AGNOCAST_ABI_VERSION) {
		snprintf(why, len, "VERSION: %s, abi %u (want %d)", r ? strerror(errno) : "ok",
			 r ? 0 : v.abi, AGNOCAST_ABI_VERSION);
		return -1;
	}
	return 0;
}

static const char *const fs_files[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter",
	"ignore-gfp-wait", "cache-filter",
};

/* Slab fault injection: there (debug kernel), saved, scheduled. */
static void failslab_detect(struct sup *su)
{
	struct stat st;
	unsigned int i;
	uint64_t len = su->o->seconds * 1000000000ULL;

	su->fs_state = -1;
	if (stat(FAILSLAB, &st))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (stat(FAILSLAB, &st))
		return;
	for (i = 0; i < 8; i++) {
		char path[128];

		snprintf(path, sizeof(path), FAILSLAB "%s", fs_files[i]);
		if (read_file(path, su->fs_saved[i], 32))
			return;
	}
	su->fs_state = 0;
	su->fs_start = S->start_ns + len / 4 + rng_below(&su->r, len / 4 / 1000000 + 1) * 1000000ULL;
	su->fs_end = su->fs_start + len / 4;
}

static int setup(struct sup *su)
{
	struct report *rep = su->rep;
	struct stat st;
	int fd;

	if (module_ok(rep->setup, sizeof(rep->setup)))
		return -1;
	fd = shared_create();
	if (fd < 0) {
		snprintf(rep->setup, sizeof(rep->setup), "memfd: %s", strerror(-fd));
		return -1;
	}
	S->seed = su->o->seed;
	S->verbose = su->o->verbose;
	S->super_pid = getpid();
	S->start_ns = now_ns();
	S->deadline_ns = S->start_ns + su->o->seconds * 1000000000ULL;
	S->exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	if (params_load() || S->exe_fd < 0 || stat(AGNOCAST_DEVICE_PATH, &st)) {
		snprintf(rep->setup, sizeof(rep->setup), "cannot read %s or our own binary",
			 PARAM_DIR);
		return -1;
	}
	su->dev_mode = st.st_mode & 07777;
	chmod(AGNOCAST_DEVICE_PATH, 0666);	/* the unprivileged user's turn */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	status_totals(rep->initial, rep->setup, sizeof(rep->setup));
	rep->setup[0] = 0;
	failslab_detect(su);
	su->phase_param = -1;
	su->next_kill = S->start_ns + 200000000ULL;
	su->next_phase = S->start_ns + 1000000000ULL;
	return 0;
}

/* ---- participants ------------------------------------------------------ */

/* A worker's kind and user follow from its own stream, not from timing. */
static enum kind pick_kind(struct rng *r)
{
	unsigned int x = rng_below(r, 100);

	if (x < 42)
		return K_member;
	if (x < 57)
		return K_member_unpriv;
	if (x < 65)
		return K_loner;
	if (x < 70)
		return K_reader;
	return K_probe;
}

static void become_unprivileged(void)
{
	if (setgroups(0, NULL) || setresgid(UNPRIV, UNPRIV, UNPRIV) ||
	    setresuid(UNPRIV, UNPRIV, UNPRIV))
		_exit(2);
	prctl(PR_SET_DUMPABLE, 1);	/* /proc/self files stay ours */
}

static __attribute__((noreturn)) void worker_main(struct rng *r, enum kind kind,
						  uint64_t sid)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != S->super_pid)
		_exit(0);
	if (kind == K_member_unpriv ||
	    ((kind == K_loner || kind == K_reader) && rng_pct(r, 50)))
		become_unprivileged();
	if (kind == K_probe)
		probe_main(sid);
	if (kind == K_reader)
		reader_main(sid);
	member_main(kind, sid);
}

static void spawn(struct sup *su, int slot)
{
	uint32_t idx = su->next_idx++;
	uint64_t sid = stream_child(0x5eedULL, idx);
	struct rng r;
	enum kind kind;
	pid_t pid;

	rng_init(&r, S->seed, stream_child(sid, 0));
	kind = pick_kind(&r);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		worker_main(&r, kind, sid);
	}
	if (pid < 0)
		return;
	setpgid(pid, pid);
	su->workers[slot] = pid;
	if (su->npg < MAXPG)
		su->pgids[su->npg++] = pid;
	count_add(&S->spawned[kind], 1);
	if (su->o->verbose)
		fprintf(stderr, "agnocast-fuzz: worker %u (%s) pid %d stream 0x%llx\n",
			idx, kind_names[kind], (int)pid, (unsigned long long)sid);
}

/* The last operations recorded for pid, for a crash report. */
static void traces_of(struct sup *su, pid_t pid)
{
	int i;
	uint32_t k, n;

	for (i = 0; i < NTRACE; i++) {
		const struct trace *tr = &S->traces[i];

		if (tr->pid != pid)
			continue;
		note_to(su->rep->crashes, sizeof(su->rep->crashes),
			"#   thread %d stream 0x%llx, last ops:", tr->tid,
			(unsigned long long)tr->sid);
		n = tr->n < 8 ? tr->n : 8;
		for (k = tr->n - n; k != tr->n; k++)
			note_to(su->rep->crashes, sizeof(su->rep->crashes), " %u:%u->%d",
				tr->e[k % TRACE_N].nop, tr->e[k % TRACE_N].op,
				tr->e[k % TRACE_N].err);
		note_to(su->rep->crashes, sizeof(su->rep->crashes), "\n");
	}
}

/* How a participant ended: fine, a recorded failure, or a crash. */
static void ended(struct sup *su, pid_t pid, int st)
{
	count_add(&S->exits, 1);
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 3))
		return;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return;
	count_add(&S->crashes, 1);
	note_to(su->rep->crashes, sizeof(su->rep->crashes),
		"# pid %d ended with %s %d (seed %llu)\n", (int)pid,
		WIFEXITED(st) ? "exit status" : "signal",
		WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		(unsigned long long)S->seed);
	traces_of(su, pid);
}

/* Reap whatever ended; restart workers unless stopping. */
static void reap(struct sup *su, int restart)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
		ended(su, pid, st);
		for (i = 0; i < (int)su->o->workers; i++)
			if (su->workers[i] == pid) {
				su->workers[i] = 0;
				if (restart)
					spawn(su, i);
			}
	}
}

static void kill_random(struct sup *su)
{
	int i = rng_below(&su->r, su->o->workers);
	pid_t pid = su->workers[i];

	su->next_kill = now_ns() + (100 + rng_below(&su->r, 1400)) * 1000000ULL;
	if (!pid)
		return;
	kill(rng_pct(&su->r, 30) ? -pid : pid, SIGKILL);
	count_add(&S->killed_super, 1);
}

/* ---- lowered bounds and fault injection ---------------------------- */

static uint64_t low_value(struct sup *su, enum param p)
{
	struct rng *r = &su->r;

	switch (p) {
	case P_PROCS: return 1 + rng_below(r, 4);
	case P_WINDOW: return AGNOCAST_POOL_ALIGN * (1 + rng_below(r, 12));
	case P_ENDPOINTS: return 1 + rng_below(r, 8);
	case P_ENTRIES: return 8 + rng_below(r, 400);
	case P_MAPPINGS: return 1 + rng_below(r, 4);
	default: return rng_below(r, 4);
	}
}

/* One parameter at a time is lowered for a while, then put back. */
static void phase_tick(struct sup *su, uint64_t now)
{
	if (su->phase_param >= 0 && now >= su->phase_end) {
		param_set(su->phase_param, S->param_default[su->phase_param]);
		su->phase_param = -1;
		su->next_phase = now + (500 + rng_below(&su->r, 2500)) * 1000000ULL;
	} else if (su->phase_param < 0 && now >= su->next_phase) {
		su->phase_param = rng_below(&su->r, NPARAM);
		param_set(su->phase_param, low_value(su, su->phase_param));
		su->phase_end = now + (300 + rng_below(&su->r, 2200)) * 1000000ULL;
		win_hit(W_param_phase);
	}
}

/* Values while injecting, by fs_files[] (probability is set apart). */
static const char *const fs_on[] = { NULL, "1", "-1", "0", "0", "Y", "N", "N" };

static void failslab_write(const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), FAILSLAB "%s", file);
	write_file(path, val);
}

/* Task-filtered, any allocation, no log noise; probability last. */
static void failslab_enable(struct sup *su)
{
	char prob[8];
	unsigned int i;

	for (i = 1; i < 8; i++)
		failslab_write(fs_files[i], fs_on[i]);
	snprintf(prob, sizeof(prob), "%u", 1 + rng_below(&su->r, 5));
	failslab_write("probability", prob);
}

static void failslab_restore(struct sup *su)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		failslab_write(fs_files[i], su->fs_saved[i]);
}

static void failslab_tick(struct sup *su, uint64_t now)
{
	if (su->fs_state == 0 && now >= su->fs_start) {
		failslab_enable(su);
		__atomic_store_n(&S->failslab_on, 1, __ATOMIC_RELEASE);
		su->fs_state = 1;
		su->rep->failslab = 1;
		win_hit(W_failslab_phase);
	} else if (su->fs_state == 1 && now >= su->fs_end) {
		__atomic_store_n(&S->failslab_on, 0, __ATOMIC_RELEASE);
		failslab_restore(su);
		su->fs_state = 2;
	}
}

/* ---- the run ----------------------------------------------------------- */

static uint64_t next_event(struct sup *su)
{
	uint64_t t = S->deadline_ns;

	t = su->next_kill < t ? su->next_kill : t;
	t = su->phase_param >= 0 ? (su->phase_end < t ? su->phase_end : t)
				 : (su->next_phase < t ? su->next_phase : t);
	if (su->fs_state == 0 && su->fs_start < t)
		t = su->fs_start;
	if (su->fs_state == 1 && su->fs_end < t)
		t = su->fs_end;
	return t;
}

/* Wait for a child to end or for the next event, whichever comes first. */
static void wait_event(struct sup *su, const sigset_t *chld)
{
	uint64_t now = now_ns(), t = next_event(su);
	struct timespec ts = { 0, 0 };

	if (t > now) {
		ts.tv_sec = (t - now) / 1000000000ULL;
		ts.tv_nsec = (t - now) % 1000000000ULL;
		sigtimedwait(chld, NULL, &ts);
	}
}

static void run(struct sup *su)
{
	sigset_t chld;
	uint64_t now;
	unsigned int i;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	for (i = 0; i < su->o->workers; i++)
		spawn(su, i);
	while ((now = now_ns()) < S->deadline_ns) {
		reap(su, 1);
		if (now >= su->next_kill)
			kill_random(su);
		phase_tick(su, now);
		failslab_tick(su, now);
		wait_event(su, &chld);
	}
}

/* SIGKILL every participant group and reap until nothing is left. */
static void kill_all(struct sup *su)
{
	unsigned int i;
	pid_t pid;
	int st;

	__atomic_store_n(&S->stop, 1, __ATOMIC_RELEASE);
	for (;;) {
		for (i = 0; i < su->npg; i++)
			kill(-su->pgids[i], SIGKILL);
		pid = waitpid(-1, &st, __WALL);
		if (pid > 0)
			ended(su, pid, st);
		else if (errno != EINTR)
			return;	/* ECHILD: everything is reaped */
	}
}

/* ---- the end ------------------------------------------------------------- */

/* Was pid caught between shm_open and ATTACH_POOL when it died? */
static int in_join_window(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < NJW; i++)
		if (__atomic_load_n(&S->jw_pid[i], __ATOMIC_ACQUIRE) == pid)
			return 1;
	return 0;
}

/* Names left in /dev/shm: ours to remove (killed in a join), or a leak. */
static void check_shm(struct sup *su)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	char path[300];
	int pid;

	if (!d)
		return;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		if (!strncmp(de->d_name, "agnocast-fz@", 12)) {
			unlink(path);	/* a probe's wrongly named file */
		} else if (sscanf(de->d_name, "agnocast@%d", &pid) == 1) {
			if (in_join_window(pid)) {
				unlink(path);
				win_hit(W_killed_in_join);
			} else {
				note_to(su->rep->leftovers, sizeof(su->rep->leftovers),
					"# /dev/shm/%s is left (its process is gone)\n", de->d_name);
			}
		}
	}
	closedir(d);
}

static void check_mqueue(struct sup *su)
{
	DIR *d = opendir("/dev/mqueue");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "new_publisher@", 14))
			note_to(su->rep->leftovers, sizeof(su->rep->leftovers),
				"# /dev/mqueue/%s is left\n", de->d_name);
	closedir(d);
}

static void check_totals(struct sup *su)
{
	static const char *const names[6] = { "processes", "topics", "publishers",
					      "subscribers", "entries", "mappings" };
	char msg[256];
	int i;

	if (status_totals(su->rep->final, msg, sizeof(msg))) {
		note_to(su->rep->leftovers, sizeof(su->rep->leftovers), "# %s\n", msg);
		return;
	}
	for (i = 0; i < 6; i++)
		if (su->rep->final[i])
			note_to(su->rep->leftovers, sizeof(su->rep->leftovers),
				"# status totals: %s %llu after every participant was reaped\n",
				names[i], (unsigned long long)su->rep->final[i]);
}

static void restore(struct sup *su)
{
	int p;

	if (su->fs_state == 1) {
		__atomic_store_n(&S->failslab_on, 0, __ATOMIC_RELEASE);
		failslab_restore(su);
	}
	for (p = 0; p < NPARAM; p++)
		param_write(p, S->param_default[p]);
	chmod(AGNOCAST_DEVICE_PATH, su->dev_mode);
}

int supervise(const struct opts *o)
{
	static struct report rep;
	static struct sup su;
	uint64_t t0 = now_ns();

	su.o = o;
	su.rep = &rep;
	rng_init(&su.r, o->seed, 0x5eedULL);
	if (setup(&su)) {
		tap_write(o, &rep);
		return 1;
	}
	run(&su);
	kill_all(&su);
	restore(&su);
	check_totals(&su);
	check_shm(&su);
	check_mqueue(&su);
	rep.elapsed_ns = now_ns() - t0;
	tap_write(o, &rep);
	return S->nfail || S->crashes || rep.leftovers[0] ? 1 : 0;
}
