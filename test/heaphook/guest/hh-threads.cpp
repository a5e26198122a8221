// SPDX-License-Identifier: Apache-2.0
/*
 * hh-threads: std::vector, std::string and std::map built, grown, handed
 * over and destroyed across 2 threads: each thread builds messages and
 * sends them to the other, which checks and destroys them (cross-thread
 * frees); each also churns containers of its own. Under the hook, every
 * container's heap data must lie in the pool (agnocast_heap_owns, found
 * with dlsym so the program also runs without the hook).
 *
 *   hh-threads [--require-hook] [ROUNDS]
 * Prints "threads ok hook <0|1> rounds <n> owned <n>" and exits 0; on a
 * failure prints one line on stderr and exits 1.
 */
#include <dlfcn.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

int (*owns)(const void *);
std::atomic<unsigned long> owned_checks{0};
std::atomic<bool> failed{false};

uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

[[noreturn]] void die(const char *what, int sender, int round)
{
	if (!failed.exchange(true))
		std::fprintf(stderr, "hh-threads: %s (sender %d, round %d)\n", what, sender, round);
	std::exit(1);
}

void in_pool(const void *p, const char *what, int sender, int round)
{
	if (!owns)
		return;
	if (!owns(p)) {
		char buf[160];

		std::snprintf(buf, sizeof(buf), "%s at %p is not in the pool", what, p);
		die(buf, sender, round);
	}
	owned_checks.fetch_add(1, std::memory_order_relaxed);
}

struct Msg {
	int sender = 0, round = 0;
	std::vector<uint64_t> v;
	std::string s;
	std::map<int, std::string> m;
};

std::string text(int sender, int round, int k, size_t len)
{
	std::string t = "s" + std::to_string(sender) + "r" + std::to_string(round) +
			 "k" + std::to_string(k) + ":";
	while (t.size() < len)
		t.push_back(char('a' + (t.size() + size_t(k)) % 26));
	return t;
}

std::unique_ptr<Msg> build(int sender, int round)
{
	auto msg = std::make_unique<Msg>();

	msg->sender = sender;
	msg->round = round;
	size_t n = 16 + mix(uint64_t(sender * 1000003 + round)) % 4000;
	for (size_t i = 0; i < n; i++)	/* push_back: grows by reallocation */
		msg->v.push_back(mix(uint64_t(round) * 7919 + i + uint64_t(sender)));
	msg->s = text(sender, round, -1, 20 + size_t(round) % 3000);
	for (int k = 0; k < 24; k++)
		msg->m.emplace(k * 3, text(sender, round, k, 16 + size_t(k) * 7));
	in_pool(msg.get(), "the Msg object", sender, round);
	in_pool(msg->v.data(), "vector data", sender, round);
	in_pool(msg->s.data(), "string data", sender, round);
	for (auto &kv : msg->m) {
		in_pool(&kv, "map node", sender, round);
		in_pool(kv.second.data(), "string in a map node", sender, round);
	}
	return msg;
}

void check(const Msg &msg, int from, int round)
{
	if (msg.sender != from || msg.round != round)
		die("message out of order", msg.sender, msg.round);
	size_t n = 16 + mix(uint64_t(from * 1000003 + round)) % 4000;
	if (msg.v.size() != n)
		die("vector size", from, round);
	for (size_t i = 0; i < n; i++)
		if (msg.v[i] != mix(uint64_t(round) * 7919 + i + uint64_t(from)))
			die("vector content", from, round);
	if (msg.s != text(from, round, -1, 20 + size_t(round) % 3000))
		die("string content", from, round);
	if (msg.m.size() != 24)
		die("map size", from, round);
	for (int k = 0; k < 24; k++) {
		auto it = msg.m.find(k * 3);
		if (it == msg.m.end() || it->second != text(from, round, k, 16 + size_t(k) * 7))
			die("map content", from, round);
	}
}

struct Queue {
	std::mutex mu;
	std::condition_variable cv;
	std::deque<std::unique_ptr<Msg>> q;
	bool closed = false;

	void push(std::unique_ptr<Msg> m)
	{
		std::lock_guard<std::mutex> l(mu);
		q.push_back(std::move(m));
		cv.notify_one();
	}
	void close()
	{
		std::lock_guard<std::mutex> l(mu);
		closed = true;
		cv.notify_one();
	}
	/* nullptr once closed and drained. */
	std::unique_ptr<Msg> pop()
	{
		std::unique_lock<std::mutex> l(mu);
		cv.wait(l, [this] { return !q.empty() || closed; });
		if (q.empty())
			return nullptr;
		auto m = std::move(q.front());
		q.pop_front();
		return m;
	}
	/* A message if one is waiting. */
	std::unique_ptr<Msg> try_pop()
	{
		std::lock_guard<std::mutex> l(mu);
		if (q.empty())
			return nullptr;
		auto m = std::move(q.front());
		q.pop_front();
		return m;
	}
};

Queue queues[2];

void worker(int me, int rounds)
{
	Queue &in = queues[me], &out = queues[1 - me];
	int other = 1 - me, next = 0;
	std::map<std::string, std::vector<int>> local;

	for (int r = 0; r < rounds; r++) {
		out.push(build(me, r));
		/* Local churn: the map's nodes and vectors come and go. */
		auto &vec = local[text(me, r % 97, 0, 24)];
		vec.push_back(r);
		if (vec.size() > 40)
			std::vector<int>().swap(vec);
		if (local.size() > 64)
			local.erase(local.begin());
		while (auto m = in.try_pop()) {
			check(*m, other, next++);
			m.reset();	/* freed by the thread that did not allocate it */
		}
	}
	out.close();
	while (auto m = in.pop())
		check(*m, other, next++);
	if (next != rounds)
		die("messages lost", other, next);
	for (auto &kv : local) {
		in_pool(kv.first.data(), "local map key", me, -1);
		if (!kv.second.empty())
			in_pool(kv.second.data(), "local vector", me, -1);
	}
}

} // namespace

int main(int argc, char **argv)
{
	bool require = false;
	int rounds = 3000;

	for (int i = 1; i < argc; i++) {
		if (!std::strcmp(argv[i], "--require-hook"))
			require = true;
		else
			rounds = std::atoi(argv[i]);
	}
	owns = reinterpret_cast<int (*)(const void *)>(dlsym(RTLD_DEFAULT, "agnocast_heap_owns"));
	if (require && !owns) {
		std::fprintf(stderr, "hh-threads: agnocast_heap_owns not found: not under the hook\n");
		return 1;
	}
	std::thread a(worker, 0, rounds), b(worker, 1, rounds);
	a.join();
	b.join();
	std::printf("threads ok hook %d rounds %d owned %lu\n", owns ? 1 : 0, rounds,
		    owned_checks.load());
	return 0;
}
