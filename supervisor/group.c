/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The per-slot sockets of the reuseport listeners, and the program that
 * steers new connections among them.  For a TCP address with reuseport
 * (the default) the master opens one socket per slot, each with
 * SO_REUSEPORT and bound to the same port, so that they form one
 * reuseport group and the kernel spreads new connections across the
 * slots.  Every reuseport listener has a socket entry for every slot of
 * the table (group_resize keeps it so as slots come and go), and the
 * master keeps each socket open for as long as its slot may have a
 * worker: a worker's death or replacement never closes one, so
 * connections queued on it wait for the next worker instead of being
 * reset.
 *
 * The one exception is a slot that failed (its restart budget spent) or
 * halted, with no worker left holding its socket: where the kernel
 * migrates the queue of a closing listener to the others of its group
 * (net.ipv4.tcp_migrate_req = 1), its sockets are closed, so that the
 * connections queued there are served by other slots instead of waiting
 * for a worker that may not come for minutes; they are opened again,
 * joining the group anew, when the slot gets a worker.
 *
 * The kernel numbers the sockets of a group in the order they joined,
 * and when one leaves it moves the last one into its place.  The master
 * keeps the same numbering (l_gidx, l_gsize), since the steering program
 * answers with an index in the group, not a slot number.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/filter.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static int	 group_join(struct listener *, int);
static void	 group_leave(struct listener *, int);
static int	 group_migrates(void);
static void	 group_shrink(struct listener *, int);

static int	 group_program(const struct listener *, struct sock_filter *,
		    unsigned char *, int *);
static int	 group_stale(const struct slot *);
static void	 group_steer_paced(void);

/*
 * The least time between two steering programs that only add slots
 * (group_resteer): per socket of the groups and instruction of the last
 * program, since making one costs in both (the master goes over every
 * slot, the kernel checks and compiles the program in about 75 ns per
 * instruction), so this keeps it to a few per cent of the master's time
 * however many slots change; at most GROUP_GAPMAX.
 */
#define GROUP_SPI	1e-5
#define GROUP_GAPMAX	0.02

static int	 group_nosteer;	/* the kernel refused the program */
static int	 group_any;	/* no slot accepts (see group_wants) */
/* Programs that only add slots, paced (pace.c). */
static struct pace group_pace = { .p_fn = group_steer_paced,
    .p_max = GROUP_GAPMAX };

/*
 * Open a socket for slot k of l and add it to the group: it joins last.
 * Returns -1 after logging.
 */
static int
group_join(struct listener *l, int k)
{
	int	 fd;

	if ((fd = listen_socket(l, 1, l->l_backlog)) == -1)
		return -1;
	l->l_fds[k] = fd;
	l->l_gidx[k] = l->l_gsize++;
	return 0;
}

/*
 * Close the socket of slot k of l: the last socket of the group takes
 * its index.
 */
static void
group_leave(struct listener *l, int k)
{
	int	 i = l->l_gidx[k], j;
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	/* Without migration, the kernel resets what waits there. */
	if (getsockopt(l->l_fds[k], IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    ti.tcpi_unacked > 0 && !group_migrates())
		log_warnx("listen %s: slot %d closes with %u connections "
		    "queued, which are reset", l->l_addr, k, ti.tcpi_unacked);
	close(l->l_fds[k]);
	l->l_fds[k] = -1;
	l->l_gidx[k] = -1;
	l->l_gsize--;
	for (j = 0; j < l->l_nfds; j++)
		if (l->l_gidx[j] == l->l_gsize)
			l->l_gidx[j] = i;
}

/*
 * Give a reuseport listener a socket entry for each of n slots: the
 * sockets of new slots join the group, bound to its port.  Returns -1
 * after logging (the listener keeps the entries it had).
 */
int
group_grow(struct listener *l, int n)
{
	int	*v, *g, old = l->l_nfds;

	if (!l->l_reuseport || l->l_nfds >= n)
		return 0;
	l->l_fds = v = xreallocarray(l->l_fds, n, sizeof(*v));
	l->l_gidx = g = xreallocarray(l->l_gidx, n, sizeof(*g));
	for (; l->l_nfds < n; l->l_nfds++) {
		if (group_join(l, l->l_nfds) == 0)
			continue;
		if (!l->l_inherited) {
			while (l->l_nfds > old)
				group_leave(l, --l->l_nfds);
			return -1;
		}
		/* A passed socket of another user: share it instead. */
		log_warnx("listen %s: cannot join the passed socket's "
		    "reuseport group: all workers share it", l->l_addr);
		while (l->l_nfds > 1)
			group_leave(l, --l->l_nfds);
		l->l_reuseport = 0;
		break;
	}
	return 0;
}

/* Close the sockets of the slots of l from n up: they are retired. */
static void
group_shrink(struct listener *l, int n)
{
	while (l->l_reuseport && l->l_nfds > n && l->l_nfds > 1) {
		if (l->l_fds[l->l_nfds - 1] != -1)
			group_leave(l, l->l_nfds - 1);
		l->l_nfds--;
	}
}

/*
 * Make every reuseport listener have entries for exactly n slots: grow
 * (for slots added) or close the sockets of the slots from n up
 * (retired).  Returns -1 after logging if a socket cannot be opened;
 * then no listener has grown.
 */
int
group_resize(int n)
{
	size_t	 i, k;
	int	*old;

	old = xcalloc(master.m_nlis + 1, sizeof(*old));
	for (i = 0; i < master.m_nlis; i++) {
		old[i] = master.m_lis[i]->l_nfds;
		if (group_grow(master.m_lis[i], n) == 0)
			continue;
		for (k = 0; k < i; k++)
			group_shrink(master.m_lis[k], old[k]);
		free(old);
		return -1;
	}
	free(old);
	for (i = 0; i < master.m_nlis; i++)
		group_shrink(master.m_lis[i], n);
	return 0;
}

/*
 * Whether the kernel hands the queue of a closing listener to the other
 * sockets of its group (net.ipv4.tcp_migrate_req, per network
 * namespace), instead of resetting it.
 */
static int
group_migrates(void)
{
	char	 c = '0';
	int	 fd;

	if ((fd = open("/proc/sys/net/ipv4/tcp_migrate_req",
	    O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/*
 * Slot k failed or halted and no worker holds its sockets: if the kernel
 * migrates queues, close them, so that what waits there is served by the
 * other slots.  A socket the service manager passed is never closed (it
 * holds a copy, so the socket would stay in the group).  Returns how many
 * were closed.
 */
int
group_slot_close(int k)
{
	struct listener	*l;
	size_t		 i;
	int		 n = 0, open = 0;

	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		if (l->l_reuseport && k < l->l_nfds && l->l_fds[k] != -1 &&
		    !(l->l_inherited && k == 0) && l->l_gsize > 1)
			open++;
	}
	if (open == 0 || !group_migrates())
		return 0;
	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		if (l->l_reuseport && k < l->l_nfds && l->l_fds[k] != -1 &&
		    !(l->l_inherited && k == 0) && l->l_gsize > 1) {
			group_leave(l, k);
			n++;
		}
	}
	return n;
}

/*
 * Before slot k gets a worker: open again the sockets group_slot_close
 * closed.  Returns -1 after logging if one cannot be opened.
 */
int
group_slot_open(int k)
{
	struct listener	*l;
	size_t		 i;

	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		if (l->l_reuseport && k < l->l_nfds && l->l_fds[k] == -1 &&
		    group_join(l, k) == -1)
			return -1;
	}
	return 0;
}

/*
 * Fill fds with the sockets the worker of slot k inherits under
 * configuration c, in its listen order, and return how many.  Every one
 * must be open (group_slot_open comes first): anything else is a broken
 * invariant, fatal.
 */
int
group_slot_fds(const struct config *c, int k, int *fds, int max)
{
	struct listener	*l;
	size_t		 i;
	int		 n = 0;

	for (i = 0; i < c->c_nlisten && n < max; i++) {
		l = c->c_lis[i];
		if (!l->l_reuseport) {
			fds[n++] = l->l_fds[0];
			continue;
		}
		if (k >= l->l_nfds || l->l_fds[k] == -1)
			fatalx(EXIT_SOFTWARE, "%s: listen %s has no socket for "
			    "slot %d", __func__, l->l_addr, k);
		fds[n++] = l->l_fds[k];
	}
	return n;
}

/* How many sockets l holds open, for status.json. */
int
group_open_fds(const struct listener *l)
{
	int	 k, n = 0;

	for (k = 0; k < l->l_nfds; k++)
		n += l->l_fds[k] != -1;
	return n;
}

/*
 * How many connections wait in slot k's accept queues, as TCP_INFO on a
 * listener reports (tcpi_unacked is the queue's length there).
 */
int
group_queued(int k)
{
	struct listener	*l;
	struct tcp_info	 ti;
	socklen_t	 len;
	size_t		 i;
	int		 n = 0;

	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		if (!l->l_reuseport || k >= l->l_nfds || l->l_fds[k] == -1)
			continue;
		len = sizeof(ti);
		if (getsockopt(l->l_fds[k], IPPROTO_TCP, TCP_INFO, &ti,
		    &len) == 0)
			n += (int)ti.tcpi_unacked;
	}
	return n;
}

/*
 * Whether new connections should go to slot k: to the slots that accept
 * them or, when none does (any), to those that will have a worker again.
 * Never to a retiring slot, whose worker may already have drained its
 * queue and stopped: what comes after would be reset when its sockets
 * close.
 */
static int
group_wants(int k, int any)
{
	enum slot_state	 st = master.m_slots[k]->s_state;

	if (!any)
		return slot_accepting(k);
	return st != SLOT_RETIRING && st != SLOT_HALTED;
}

/* Whether the steering program no longer fits slot s. */
static int
group_stale(const struct slot *s)
{
	if (group_any && slot_accepting(s->s_id))
		return 1;	/* back to the accepting slots */
	return s->s_steered != group_wants(s->s_id, group_any);
}

/*
 * After a change of slot s: re-steer if the program no longer fits it.
 * At once if s is in the program and should not be (connections would
 * wait on its socket); a slot that should join it can wait a little,
 * since the others serve meanwhile, so joins are coalesced (pace.c): the
 * program is attached at once after a quiet spell, else at the end of a
 * gap after the last time, with every change of the meantime.
 * Compiling a program costs in its length (the kernel checks and JITs
 * it), so the gap is in its length too: with N slots becoming ready one
 * by one, the master attaches a bounded number of programs per second,
 * not N programs of up to N entries each.
 */
void
group_resteer(const struct slot *s)
{
	if (group_stale(s) && (s->s_steered || pace_due(&group_pace)))
		group_steer();
}

/*
 * Whether a slot that accepts waits to join the program.  The cluster is
 * not told ready meanwhile (status_ready): ready means that new
 * connections go to every slot that serves.
 */
int
group_joining(void)
{
	return pace_pending(&group_pace);
}

/* The joins of the gap, at its end: readiness may follow. */
static void
group_steer_paced(void)
{
	group_steer();
	status_changed();
}

/*
 * The program for listener l into insn (room for l_gsize + 4): a random
 * number modulo the count of steered sockets (live) picks one of them.
 * When fewer are steered than not, a jump per steered socket maps the
 * number to its index in the group; else the number is raised past each
 * index left out, in ascending order (r becomes the r-th index not left
 * out), so that the program is short both when few slots accept, as at
 * the start, and when most do, as when serving: three instructions when
 * all do.  With no socket steered, an index out of range: the kernel
 * falls back to its hash.  Returns the program's length.
 */
static int
group_program(const struct listener *l, struct sock_filter *insn,
    unsigned char *in, int *livep)
{
	int	 k, g, n = 0, live = 0;

	memset(in, 0, l->l_gsize);
	for (k = 0; k < l->l_nfds && k < master.m_nslots; k++)
		if (l->l_fds[k] != -1 && master.m_slots[k]->s_steered) {
			in[l->l_gidx[k]] = 1;
			live++;
		}
	*livep = live;
	if (live > 0) {
		insn[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W |
		    BPF_ABS, SKF_AD_OFF + SKF_AD_RANDOM);
		insn[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD |
		    BPF_K, live);
	}
	if (live > 0 && 2 * live <= l->l_gsize) {
		for (g = 0, k = 0; g < l->l_gsize; g++) {
			if (!in[g])
				continue;
			insn[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP |
			    BPF_JEQ | BPF_K, k++, 0, 1);
			insn[n++] = (struct sock_filter)BPF_STMT(BPF_RET |
			    BPF_K, g);
		}
	} else if (live > 0) {
		for (g = 0; g < l->l_gsize; g++) {
			if (in[g])
				continue;
			insn[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP |
			    BPF_JGE | BPF_K, g, 0, 1);
			insn[n++] = (struct sock_filter)BPF_STMT(BPF_ALU |
			    BPF_ADD | BPF_K, 1);
		}
		insn[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
		return n;
	}
	insn[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffff);
	return n;
}

/*
 * Steer new connections to the slots whose worker accepts them.  Plain
 * SO_REUSEPORT hashing sends 1/N of new connections to every slot
 * socket, also to the socket of a slot that has no worker (waiting out a
 * restart delay, failed, halted or retiring), where they would wait for a
 * worker that may never come.  A classic BPF program attached to each
 * reuseport group (SO_ATTACH_REUSEPORT_CBPF, no privilege needed) picks
 * a random index among the accepting slots' sockets instead.  With no
 * slot accepting, it picks among the slots that will have a worker again
 * (not retiring or halted): connections wait there for it.  With none
 * of those either, the kernel falls back to its hash.  Where the kernel
 * refuses the program, drover logs it once and keeps plain hashing.
 */
void
group_steer(void)
{
	struct sock_filter	*insn;
	struct sock_fprog	 prog;
	struct listener		*l;
	struct slot		*s;
	unsigned char		*in;
	size_t			 i;
	int			 k, n, fd, live, want, len = 0;

	for (k = 0, group_any = 1; k < master.m_nslots; k++)
		group_any &= !slot_accepting(k);
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		want = group_wants(k, group_any);
		if (s->s_steered && !want)
			s->s_unsteered = ev_now(EV_DEFAULT);
		s->s_steered = want;
	}
	if (group_nosteer) {
		pace_done(&group_pace, 0);
		return;
	}
	for (i = 0, n = 0; i < master.m_nlis; i++)
		if (master.m_lis[i]->l_gsize > n)
			n = master.m_lis[i]->l_gsize;
	insn = xcalloc(n + 4, sizeof(*insn));
	in = xcalloc(n + 1, 1);
	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		for (k = 0, fd = -1; k < l->l_nfds && fd == -1; k++)
			fd = l->l_fds[k];
		if (!l->l_reuseport || l->l_gsize < 2 || fd == -1)
			continue;
		memset(&prog, 0, sizeof(prog));
		prog.len = group_program(l, insn, in, &live);
		prog.filter = insn;
		len += prog.len + l->l_gsize;
		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
		    sizeof(prog)) == -1) {
			log_warn("listen %s: cannot steer connections to "
			    "ready slots (SO_ATTACH_REUSEPORT_CBPF); the "
			    "kernel's hash alone spreads them", l->l_addr);
			group_nosteer = 1;
			break;
		}
		log_debug("listen %s: steering new connections to %d of %d "
		    "slots", l->l_addr, live, l->l_nfds);
	}
	free(in);
	free(insn);
	pace_done(&group_pace, len * GROUP_SPI);
}
