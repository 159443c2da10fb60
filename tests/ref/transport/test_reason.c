/*
 * test_reason.c - a failed transport says why beside whom
 * (rdv_transport_reason() next to rdv_transport_culprit()), on both
 * backends, over real loopback TCP between forked ranks:
 *   closed    the peer exits; its socket closes (EOF)
 *   reset     the peer exits with SO_LINGER 0 (a real RST)
 *   timeout   the peer stays connected and silent
 *   aborted   0 waits on 2, 2 waits on the exiting 1: 2 sees it closed
 *             and 0 hears about rank 1 in 2's ABORT
 *   protocol  the peer writes bytes that are no rdv frame
 * Each check reads the reason and the status, never the detail's text.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ranks.h"
#include "rdv/transport.h"
#include "transport/transport.h"

/* What a failed recv from `from` must leave behind. */
typedef struct expect {
    int from;
    int status;
    rdv_fail_reason reason;
    int culprit;
} expect;

/* Rank 1 misbehaves as peer_does says; want[r] is what rank r sees. */
typedef struct scenario {
    char peer_does; /* 'c' close, 'r' reset, 's' stay silent, 'g' garbage */
    int n;          /* ranks */
    int hold_fd;    /* 's': read until the parent closes the other end */
    expect want[3];
} scenario;

static int check(rdv_context *ctx, int rank, const expect *e)
{
    rdv_transport *t = rdv_context_transport(ctx);
    char buf[64];
    int ret = rdv_recv(ctx, e->from, buf, sizeof buf, 1500);
    rdv_fail_reason why = rdv_transport_reason(t);
    int culprit = rdv_transport_culprit(t);

    if (ret != e->status || why != e->reason || culprit != e->culprit) {
        fprintf(stderr,
                "rank %d: got %s, reason %s, culprit %d; want %s, %s, %d "
                "(%s)\n",
                rank, rdv_status_name(ret), rdv_fail_reason_name(why),
                culprit, rdv_status_name(e->status),
                rdv_fail_reason_name(e->reason), e->culprit,
                rdv_context_errmsg(ctx));
        return 2;
    }
    return 0;
}

/* Rank 1 is the peer that misbehaves; the others check. */
static int play(rdv_context *ctx, int rank, int n, void *arg)
{
    const scenario *s = arg;
    static const char junk[32] = "GET / HTTP/1.1\r\n\r\n";
    int fd;
    char c;

    (void)n;
    if (rank != 1)
        return check(ctx, rank, &s->want[rank]);
    fd = rdv_transport_peer_fd(rdv_context_transport(ctx), 0);
    switch (s->peer_does) {
    case 'r': {
        struct linger now = {.l_onoff = 1, .l_linger = 0};

        /* closing with a zero linger resets instead of a FIN */
        return setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now) ? 3
                                                                        : 0;
    }
    case 's':
        return read(s->hold_fd, &c, 1) >= 0 ? 0 : 4;
    case 'g':
        return write(fd, junk, sizeof junk) == sizeof junk ? 0 : 5;
    default:
        return 0; /* exiting closes every socket */
    }
}

enum { CLOSED, RESET, TIMEOUT, ABORTED, PROTOCOL };

static const scenario scenarios[] = {
    [CLOSED] = {'c', 2, -1, {{1, RDV_EPEER, RDV_FAIL_CLOSED, 1}}},
    [RESET] = {'r', 2, -1, {{1, RDV_EPEER, RDV_FAIL_RESET, 1}}},
    [TIMEOUT] = {'s', 2, -1, {{1, RDV_ETIMEDOUT, RDV_FAIL_TIMEOUT, 1}}},
    [ABORTED] = {'c', 3, -1,
                 {[0] = {2, RDV_EPEER, RDV_FAIL_ABORTED, 1},
                  [2] = {1, RDV_EPEER, RDV_FAIL_CLOSED, 1}}},
    [PROTOCOL] = {'g', 2, -1, {{1, RDV_EPROTO, RDV_FAIL_PROTOCOL, 1}}},
};

static void run(const char *backend, int which)
{
    scenario s = scenarios[which];
    int fds[MAXN][MAXN], pipefd[2] = {-1, -1};
    run_opts o = {.backend = backend, .hold_fd = -1};

    if (s.peer_does == 's') {
        /* rank 1 blocks on the pipe until rank 0 is done (run_ranks_opts
         * closes the write end once rank 0 has exited) */
        cr_assert_eq(pipe(pipefd), 0);
        s.hold_fd = pipefd[0];
        o.hold_fd = pipefd[1];
    }
    mesh_tcp(s.n, fds);
    run_ranks_opts(s.n, fds, &o, play, &s);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
}

#define REASON_TESTS(backend)                                               \
    Test(reason, closed_##backend) { run(#backend, CLOSED); }               \
    Test(reason, reset_##backend) { run(#backend, RESET); }                 \
    Test(reason, timeout_##backend) { run(#backend, TIMEOUT); }             \
    Test(reason, aborted_##backend) { run(#backend, ABORTED); }             \
    Test(reason, protocol_##backend) { run(#backend, PROTOCOL); }

REASON_TESTS(uring)
REASON_TESTS(epoll)

Test(reason, each_reason_has_one_status_and_a_name)
{
    cr_expect_eq(rdv_fail_status(RDV_FAIL_NONE), RDV_OK);
    cr_expect_eq(rdv_fail_status(RDV_FAIL_CLOSED), RDV_EPEER);
    cr_expect_eq(rdv_fail_status(RDV_FAIL_RESET), RDV_EPEER);
    cr_expect_eq(rdv_fail_status(RDV_FAIL_TIMEOUT), RDV_ETIMEDOUT);
    cr_expect_eq(rdv_fail_status(RDV_FAIL_ABORTED), RDV_EPEER);
    cr_expect_eq(rdv_fail_status(RDV_FAIL_PROTOCOL), RDV_EPROTO);
    cr_expect_eq(rdv_fail_status(RDV_FAIL_IO), RDV_EIO);
    cr_expect_str_eq(rdv_fail_reason_name(RDV_FAIL_ABORTED), "aborted");
    cr_expect_str_eq(rdv_fail_reason_name((rdv_fail_reason)99), "unknown");
}
