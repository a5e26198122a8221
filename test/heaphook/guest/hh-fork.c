// SPDX-License-Identifier: Apache-2.0
/*
 * hh-fork: fork under the hook.
 *   1. fork without exec: the child is not joined, its pool range is
 *      private memory (not the parent's shm file), it writes into every
 *      inherited heap object, frees, reallocates and allocates (10 MiB and
 *      thousands of blocks), and forks a grandchild that does the same;
 *      while the child is still alive the parent finds its objects
 *      unchanged, and keeps allocating.
 *   2. fork + exec of this program under the hook: the new image joins
 *      with a pool of its own; fork + exec /bin/true, posix_spawn, system().
 *   3. fork while two other threads allocate and free: 20 children, each
 *      allocates, checks and exits; no deadlock, no corruption.
 * Prints "fork ok ..." lines and exits 0; any failure: one line on stderr,
 * exit 1.
 *
 *   hh-fork                     run everything
 *   hh-fork exec-child ADDR     (the exec'ed image) check its pool is not
 *                               at ADDR and serves malloc
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hh.h"

extern char **environ;

#define NSTR 2000
#define BIG_WORDS ((4u << 20) / 8)

static char *strs[NSTR];
static size_t lens[NSTR];
static uint64_t *big;

static uint64_t checksum(void)
{
	uint64_t s = 0;

	for (int i = 0; i < NSTR; i++)
		for (size_t j = 0; j < lens[i]; j++)
			s = s * 31 + (unsigned char)strs[i][j];
	for (uint32_t j = 0; j < BIG_WORDS; j++)
		s ^= hh_mix(big[j] + j);
	return s;
}

/* The line of /proc/self/maps covering addr (empty if none). */
static void maps_line(uint64_t addr, char *out, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	out[0] = 0;
	ENSURE(f, "/proc/self/maps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && addr >= s && addr < e) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, len, "%s", line);
			break;
		}
	}
	fclose(f);
}

/* Rss (kB) of this process's mappings of its own pool file. */
static unsigned long pool_rss_kb(void)
{
	char want[64], line[512];
	unsigned long kb, sum = 0;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	ENSURE(f, "/proc/self/smaps");
	snprintf(want, sizeof(want), "/dev/shm/agnocast@%d", getpid());
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
			in = strstr(line, want) != NULL;
		else if (in && sscanf(line, "Rss: %lu kB", &kb) == 1)
			sum += kb;
	}
	fclose(f);
	return sum;
}

/* Bytes of memory the pool file holds (tmpfs pages allocated). */
static unsigned long long file_kb(int fd)
{
	struct stat st;

	ENSURE(fstat(fd, &st) == 0, "fstat");
	return (unsigned long long)st.st_blocks / 2;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Allocate, fill, check and free a mix of blocks: the allocator works. */
static void churn(int rounds, uint64_t seed)
{
	enum { N = 500 };
	static unsigned char *p[N];
	static size_t n[N];

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < N; i++) {
			n[i] = 1 + hh_mix(seed + (uint64_t)(r * N + i)) % 3000;
			p[i] = malloc(n[i]);
			ENSURE(p[i], "malloc(%zu)", n[i]);
			memset(p[i], (int)(i + r), n[i]);
		}
		for (int i = 0; i < N; i += 2) {
			p[i] = realloc(p[i], n[i] * 2);
			ENSURE(p[i], "realloc");
			memset(p[i] + n[i], (int)(i + r), n[i]);
			n[i] *= 2;
		}
		for (int i = 0; i < N; i++) {
			for (size_t j = 0; j < n[i]; j++)
				ENSURE(p[i][j] == (unsigned char)(i + r), "block %d byte %zu", i, j);
			free(p[i]);
		}
	}
}

/* What a forked child does to its parent's objects (its private copies). */
static void scribble(char fill)
{
	void *ten = malloc(10u << 20);

	ENSURE(ten, "malloc(10 MiB)");
	memset(ten, fill, 10u << 20);
	for (int i = 0; i < NSTR; i++)
		memset(strs[i], fill, lens[i]);
	for (uint32_t j = 0; j < BIG_WORDS; j++)
		big[j] = ~big[j];
	for (int i = 0; i < NSTR; i += 2) {
		free(strs[i]);
		strs[i] = malloc(lens[i] + 1);
		ENSURE(strs[i], "malloc");
		memset(strs[i], fill, lens[i]);
	}
	for (int i = 1; i < NSTR; i += 4) {
		strs[i] = realloc(strs[i], lens[i] * 3);
		ENSURE(strs[i], "realloc");
	}
	churn(3, (uint64_t)fill);
	for (size_t j = 0; j < 10u << 20; j += 4096)
		ENSURE(((char *)ten)[j] == fill, "10 MiB block");
	free(ten);
}

static void fork_without_exec(const struct agnocast_heap_info *info)
{
	int c2p[2], p2c[2], st;
	uint64_t sum0;
	unsigned long rss0, rss1;
	unsigned long long fkb0, fkb1;
	double t0, t1;
	char b;
	pid_t pid;

	for (int i = 0; i < NSTR; i++) {
		lens[i] = 8 + hh_mix((uint64_t)i) % 500;
		strs[i] = malloc(lens[i]);
		ENSURE(strs[i] && hh.owns(strs[i]), "string %d not in the pool", i);
		for (size_t j = 0; j < lens[i]; j++)
			strs[i][j] = (char)('a' + (i + (int)j) % 26);
	}
	big = malloc(BIG_WORDS * sizeof(*big));
	ENSURE(big && hh.owns(big), "big");
	for (uint32_t j = 0; j < BIG_WORDS; j++)
		big[j] = hh_mix(j);
	sum0 = checksum();
	rss0 = pool_rss_kb();
	fkb0 = file_kb(info->pool_fd);

	ENSURE(pipe(c2p) == 0 && pipe(p2c) == 0, "pipe");
	fflush(NULL);
	t0 = now();
	pid = fork();
	t1 = now();
	ENSURE(pid >= 0, "fork");
	if (pid == 0) {
		struct agnocast_heap_info ci;
		char line[512], parent_file[64];
		uint64_t mine;
		pid_t g;

		ENSURE(hh.info(&ci) != 0, "the forked child says it is joined (pool at %llx)",
		       (unsigned long long)ci.addr);
		snprintf(parent_file, sizeof(parent_file), "/dev/shm/agnocast@%d", getppid());
		maps_line(info->addr, line, sizeof(line));
		ENSURE(line[0] && !strstr(line, parent_file) && strstr(line, " rw-p "),
		       "the child's pool range is not private memory: \"%s\"", line);
		maps_line(info->addr + info->size - 1, line, sizeof(line));
		ENSURE(line[0] && !strstr(line, parent_file),
		       "the end of the child's pool range: \"%s\"", line);
		scribble('C');
		mine = checksum();
		ENSURE(mine != sum0, "the child's writes did not happen");
		fflush(NULL);
		g = fork();
		ENSURE(g >= 0, "fork (grandchild)");
		if (g == 0) {
			scribble('G');
			exit(0);
		}
		ENSURE(waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "grandchild: status 0x%x", st);
		ENSURE(checksum() == mine, "the grandchild's writes reached the child");
		ENSURE(write(c2p[1], "w", 1) == 1, "write");
		ENSURE(read(p2c[0], &b, 1) == 1, "read");
		exit(0);
	}
	/* The child has written everything and is still alive. */
	ENSURE(read(c2p[0], &b, 1) == 1, "the child died before it was done");
	ENSURE(checksum() == sum0, "the child's writes reached the parent's objects");
	churn(2, 7);
	for (int i = 0; i < NSTR; i += 3) {
		strs[i] = realloc(strs[i], lens[i] + 100);
		ENSURE(strs[i] && hh.owns(strs[i]), "realloc in the parent");
	}
	ENSURE(write(p2c[1], "x", 1) == 1, "write");
	ENSURE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "child: status 0x%x", st);
	ENSURE(checksum() == sum0, "the parent's objects changed after the child exited");
	rss1 = pool_rss_kb();
	fkb1 = file_kb(info->pool_fd);
	printf("fork ok: no-exec; fork() took %.1f ms; parent's pool: rss %lu kB before, %lu kB after; "
	       "pool file holds %llu kB before, %llu kB after (pool size %llu kB)\n",
	       (t1 - t0) * 1e3, rss0, rss1, fkb0, fkb1, (unsigned long long)info->size / 1024);
	close(c2p[0]);
	close(c2p[1]);
	close(p2c[0]);
	close(p2c[1]);
}

static void must_succeed(pid_t pid, const char *what)
{
	int st;

	ENSURE(pid > 0, "%s: start", what);
	ENSURE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "%s: status 0x%x", what, st);
}

static void fork_exec(const struct agnocast_heap_info *info, const char *self)
{
	char addr[32];
	char *sp_argv[] = { "/bin/true", NULL };
	pid_t pid;
	int st;

	snprintf(addr, sizeof(addr), "%llx", (unsigned long long)info->addr);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "exec-child", addr, (char *)NULL);
		_exit(127);
	}
	must_succeed(pid, "fork + exec of hh-fork exec-child");
	pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	must_succeed(pid, "fork + exec /bin/true");
	ENSURE(posix_spawn(&pid, "/bin/true", NULL, NULL, sp_argv, environ) == 0, "posix_spawn");
	must_succeed(pid, "posix_spawn /bin/true");
	st = system("exit 0");
	ENSURE(st == 0, "system(): 0x%x", st);
	printf("fork ok: exec\n");
}

static atomic_int stop;

static void *busy(void *arg)
{
	uint64_t seed = (uintptr_t)arg, i = 0;
	void *keep[64] = { 0 };

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		size_t k = hh_mix(seed + i) % 64, n = 1 + hh_mix(seed ^ i) % 5000;

		free(keep[k]);
		keep[k] = malloc(n);
		ENSURE(keep[k], "malloc in a busy thread");
		memset(keep[k], (int)k, n < 64 ? n : 64);
		i++;
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	return NULL;
}

static void fork_threaded(void)
{
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		ENSURE(pthread_create(&t[i], NULL, busy, (void *)(uintptr_t)((i + 1) * 1000003)) == 0,
		       "pthread_create");
	for (int i = 0; i < 20; i++) {
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			churn(1, (uint64_t)i);
			exit(0);
		}
		must_succeed(pid, "fork while two threads allocate");
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("fork ok: threaded\n");
}

int main(int argc, char **argv)
{
	struct agnocast_heap_info info;

	hh_load();
	if (argc == 3 && !strcmp(argv[1], "exec-child")) {
		uint64_t parent = strtoull(argv[2], NULL, 16);
		void *p = malloc(100);

		info = hh_info();
		ENSURE(info.addr != parent, "the exec'ed child got its parent's pool address");
		ENSURE(p && hh.owns(p), "malloc in the exec'ed child is not in its pool");
		free(p);
		return 0;
	}
	info = hh_info();
	fork_without_exec(&info);
	fork_exec(&info, "/proc/self/exe");
	fork_threaded();
	return 0;
}
