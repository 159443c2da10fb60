/*
 * test_close.c - how a healthy transport closes its links
 * (rdv_transport_close), on both backends, over real loopback TCP
 * between forked ranks. The second end of a link to close resets it
 * (the first one sends a FIN: a peer reading on sees EOF, test_reason's
 * "closed"). Here rank 1 shuts down its sending side and reads only
 * once rank 0 has sent 48 KiB (acknowledged, unread) and closed: rank 1
 * still reads every byte, and then sees the reset (ECONNRESET, not
 * EOF), so the reset really happened and cost it nothing unread.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "ranks.h"
#include "rdv/transport.h"
#include "transport/transport.h"

#define BYTES (48 * 1024)

/* Waits until peer's FIN or reset is here: 0, or 1 past a generous
 * bound. */
static int wait_fin(rdv_context *ctx, int peer)
{
    int fd = rdv_transport_peer_fd(rdv_context_transport(ctx), peer);
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};

    return poll(&p, 1, 20000) == 1 && (p.revents & POLLRDHUP) ? 0 : 1;
}

/* Waits until the peer has acknowledged every byte sent on fd
 * (SIOCOUTQ 0; a delayed ACK takes up to 40 ms): 0, or 8 past a
 * generous bound. */
static int wait_acked(int fd)
{
    for (int i = 0; i < 20000; i++) {
        int outq = -1;

        if (ioctl(fd, SIOCOUTQ, &outq) == 0 && outq == 0)
            return 0;
        usleep(1000);
    }
    return 8;
}

static int bytes_kept(rdv_context *ctx, int rank, int n, void *arg)
{
    static unsigned char buf[BYTES];
    int fd = rdv_transport_peer_fd(rdv_context_transport(ctx), 1 - rank);
    char c;

    (void)n;
    (void)arg;
    if (rank == 0) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)(i * 7 + 3);
        if (wait_fin(ctx, 1))
            return 2;
        if (rdv_send(ctx, 1, buf, sizeof buf, 20000) != RDV_OK)
            return 3;
        return wait_acked(fd); /* then the context's close resets */
    }
    if (shutdown(fd, SHUT_WR) < 0)
        return 4;
    if (wait_fin(ctx, 0)) /* rank 0 has closed: read only now */
        return 7;
    if (rdv_recv(ctx, 0, buf, sizeof buf, 20000) != RDV_OK) {
        fprintf(stderr, "rank 1: %s\n", rdv_context_errmsg(ctx));
        return 5;
    }
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] != (unsigned char)(i * 7 + 3))
            return 6;
    errno = 0;
    if (recv(fd, &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET) {
        fprintf(stderr, "rank 1: after the bytes, no reset but %s\n",
                errno ? strerror(errno) : "EOF");
        return 9;
    }
    return 0;
}

static void run(const char *backend)
{
    int fds[MAXN][MAXN];
    run_opts o = {.backend = backend, .hold_fd = -1};

    mesh_tcp(2, fds);
    run_ranks_opts(2, fds, &o, bytes_kept, NULL);
}

Test(close, reset_keeps_unread_bytes_uring) { run("uring"); }
Test(close, reset_keeps_unread_bytes_epoll) { run("epoll"); }
