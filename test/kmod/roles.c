// SPDX-License-Identifier: Apache-2.0
/* Command-driven publisher and subscriber processes (see roles.h). */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "roles.h"

struct role_cmd {
	char op[8];
	uint32_t arg;
	int32_t pid;
	uint64_t seq;
};

struct pub_reply {
	uint64_t seq, addr;
};

struct reclaim_reply {
	uint32_t nr, pad;
	uint64_t addrs[8];
};

static void send_cmd(struct child *c, const char *op, uint32_t arg, pid_t pid,
		     uint64_t seq)
{
	struct role_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	snprintf(cmd.op, sizeof(cmd.op), "%s", op);
	cmd.arg = arg;
	cmd.pid = pid;
	cmd.seq = seq;
	SEND(c->sock, cmd);
}

static void publisher_main(int sock, void *arg)
{
	struct pub_cfg cfg = *(struct pub_cfg *)arg;
	struct pub_hello h;
	struct role_cmd cmd;
	struct pub_reply rep;
	uint32_t n = 0;
	int dev = AG_OPEN();

	memset(&h, 0, sizeof(h));
	JOIN(dev, UNIT, 0, &h.pool);
	h.pub_id = ADD_PUB(dev, cfg.topic, cfg.depth, cfg.flags);
	SEND(sock, h);
	for (;;) {
		RECV(sock, cmd);
		if (!strcmp(cmd.op, "recl")) {
			struct reclaim_reply rr;

			memset(&rr, 0, sizeof(rr));
			rr.nr = RECLAIM(dev, rr.addrs, 8);
			SEND(sock, rr);
			continue;
		}
		if (strcmp(cmd.op, "pub"))
			break;
		/* A fresh 64-byte block each time (tests publish few). */
		rep.addr = h.pool.addr + (uint64_t)(n++ % (UNIT / 64)) * 64;
		write_msg(rep.addr, cmd.arg);
		rep.seq = PUBLISH(dev, h.pub_id, rep.addr, sizeof(struct msg));
		SEND(sock, rep);
	}
}

void pub_start(struct pub_proc *p, const struct pub_cfg *cfg)
{
	p->c = spawn(publisher_main, (void *)cfg);
	RECV(p->c.sock, p->h);
}

uint64_t pub_one_at(const char *f, int l, struct pub_proc *p, uint32_t label,
		    uint64_t *addr)
{
	struct pub_reply rep;

	send_cmd(&p->c, "pub", label, 0, 0);
	recv_at(f, l, p->c.sock, &rep, sizeof(rep), SYNC_TIMEOUT_MS);
	if (addr)
		*addr = rep.addr;
	return rep.seq;
}

uint32_t pub_reclaim(struct pub_proc *p, uint64_t *addrs)
{
	struct reclaim_reply rr;

	send_cmd(&p->c, "recl", 0, 0, 0);
	RECV(p->c.sock, rr);
	memcpy(addrs, rr.addrs, sizeof(rr.addrs));
	return rr.nr;
}

void pub_stop(struct pub_proc *p)
{
	send_cmd(&p->c, "exit", 0, 0, 0);
	REAP_OK(p->c.pid);
}

static void subscriber_main(int sock, void *arg)
{
	struct sub_cfg cfg = *(struct sub_cfg *)arg;
	struct agnocast_pool_info pubs[8], info;
	struct agnocast_entry e[ROLE_MAX_ENTRIES];
	struct ag_sub subs[ROLE_MAX_SUBS];
	struct sub_hello h;
	struct recv_result r;
	struct role_cmd cmd;
	struct ag_pool pool;
	uint32_t i, nr, k;
	int dev = AG_OPEN(), j, rc;

	memset(&h, 0, sizeof(h));
	JOIN(dev, UNIT, 0, &pool);
	for (j = 0; j < cfg.n; j++) {
		subs[j] = ADD_SUB_EX(dev, cfg.topic, cfg.qos[j].depth,
				     cfg.qos[j].flags, pubs, 8, &h.nr_pubs[j]);
		h.ids[j] = subs[j].id;
	}
	/* Map the pools of the publishers already on the topic. */
	for (i = 0; cfg.n && i < h.nr_pubs[cfg.n - 1] && i < 8; i++)
		MAP_PEER(dev, pubs[i].pid, &info);
	SEND(sock, h);
	for (;;) {
		RECV(sock, cmd);
		if (!strcmp(cmd.op, "map")) {
			MAP_PEER(dev, cmd.pid, &info);
			TELL(sock, "mapped");
		} else if (!strcmp(cmd.op, "recv")) {
			if (cmd.arg > ROLE_MAX_ENTRIES)
				FAIL("capacity %u above ROLE_MAX_ENTRIES", cmd.arg);
			memset(&r, 0, sizeof(r));
			for (j = 0; j < cfg.n; j++) {
				nr = 0;
				rc = receive_raw(dev, subs[j].id, e, cmd.arg, &nr);
				r.err[j] = rc ? errno : 0;
				r.nr[j] = rc ? 0 : nr;
				if (nr > ROLE_MAX_ENTRIES)
					FAIL("RECEIVE returned %u entries for capacity %u",
					     nr, cmd.arg);
				for (k = 0; k < r.nr[j]; k++) {
					r.e[j][k].seq = e[k].seq;
					r.e[j][k].addr = e[k].addr;
					r.e[j][k].pid = e[k].pid;
					r.e[j][k].publisher_id = e[k].publisher_id;
					/* The bytes are the publisher's. */
					r.e[j][k].label = MSG_LABEL(e[k].addr);
					CHECK_EQ(((struct msg *)u2p(e[k].addr))->pid,
						 e[k].pid);
					if (!cfg.hold)
						RELEASE(dev, subs[j].id, e[k].seq);
				}
				r.readable[j] = !!(poll_now(subs[j].fd) & POLLIN);
			}
			SEND(sock, r);
		} else if (!strcmp(cmd.op, "rel")) {
			int32_t err = release_raw(dev, subs[0].id, cmd.seq) ? errno : 0;

			SEND(sock, err);
		} else {
			break;
		}
	}
}

void sub_start(struct sub_proc *s, const struct sub_cfg *cfg)
{
	s->c = spawn(subscriber_main, (void *)cfg);
	RECV(s->c.sock, s->h);
}

void sub_map(struct sub_proc *s, pid_t pid)
{
	send_cmd(&s->c, "map", 0, pid, 0);
	WAIT_FOR(s->c.sock, "mapped");
}

void sub_recv_at(const char *f, int l, struct sub_proc *s, uint32_t cap,
		 struct recv_result *r)
{
	send_cmd(&s->c, "recv", cap, 0, 0);
	recv_at(f, l, s->c.sock, r, sizeof(*r), SYNC_TIMEOUT_MS);
}

int sub_release(struct sub_proc *s, uint64_t seq)
{
	int32_t err;

	send_cmd(&s->c, "rel", 0, 0, seq);
	RECV(s->c.sock, err);
	return err;
}

void sub_stop(struct sub_proc *s)
{
	send_cmd(&s->c, "exit", 0, 0, 0);
	REAP_OK(s->c.pid);
}

void check_seqs_at(const char *f, int l, const struct recv_result *r, int sub,
		   const uint64_t *seqs, uint32_t n)
{
	char got[512];
	int used = 0;
	uint32_t i;

	for (i = 0; i < r->nr[sub] && used < (int)sizeof(got) - 24; i++)
		used += snprintf(got + used, sizeof(got) - used, " %llu",
				 (unsigned long long)r->e[sub][i].seq);
	got[used] = 0;
	if (r->err[sub])
		fail_at(f, l, "subscription %d: RECEIVE failed with %s, expected %u entries",
			sub, errname(r->err[sub]), n);
	if (r->nr[sub] != n)
		fail_at(f, l, "subscription %d: got %u entries (seqs%s), expected %u",
			sub, r->nr[sub], got, n);
	for (i = 0; i < n; i++)
		if (r->e[sub][i].seq != seqs[i])
			fail_at(f, l, "subscription %d: entry %u has seq %llu, expected %llu (seqs%s)",
				sub, i, (unsigned long long)r->e[sub][i].seq,
				(unsigned long long)seqs[i], got);
}
