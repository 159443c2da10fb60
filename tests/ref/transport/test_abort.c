/*
 * test_abort.c - frames and ABORTs on real sockets between forked
 * ranks, on both backends: a failure's culprit travels across ranks
 * (killed or stopped), a peer that is not speaking rdv frames is
 * RDV_EPROTO (also a mid-size frame whose payload runs past its stated
 * length), and frames of every size class survive short I/O with sends
 * and recvs cut differently on each side, and a bounce buffer that
 * grows while it holds frames. Plus the header codec on its own.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rdv/clock.h"
#include "rdv/transport.h"
#include "ranks.h"
#include "transport/dataplane.h"
#include "transport/frame.h"
#include "transport/transport.h"

#define TIMEOUT_MS 1500

/* How often needle occurs in s. */
static int occurrences(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The first rank the detail names must be want, and the transport must
 * blame it too; blame relayed through ranks is stated once, never
 * wrapped in the relaying ranks' own wording. */
static int blames(rdv_context *ctx, int rank, int want, int64_t t0)
{
    const char *d = rdv_context_errmsg(ctx);
    const char *at = strstr(d, "rank ");
    int64_t ms = (rdv_now_ns() - t0) / 1000000;
    int culprit = rdv_transport_culprit(rdv_context_transport(ctx));

    if (!at || atoi(at + 5) != want || culprit != want ||
        ms > TIMEOUT_MS + 1000 || occurrences(d, "failed first") > 1 ||
        occurrences(d, "reported by") > 1 || occurrences(d, "failed:") > 1) {
        fprintf(stderr, "rank %d after %lld ms, culprit %d: %s\n", rank,
                (long long)ms, culprit, d);
        return 1;
    }
    return 0;
}

/* Who each rank waits on: 3 -> 0 -> 2 -> 1 (the victim). */
static const int waits_on[4] = {2, -1, 1, 0};

static int chain(rdv_context *ctx, int rank, int n, void *arg)
{
    int64_t t0 = rdv_now_ns();
    char buf[8];
    int ret;

    (void)n;
    if (rank == 1) {
        if (*(const char *)arg == 'k')
            raise(SIGKILL);
        raise(SIGSTOP);
        return 0;
    }
    ret = rdv_recv(ctx, waits_on[rank], buf, sizeof buf, TIMEOUT_MS);
    if (ret == RDV_OK)
        return 2;
    return blames(ctx, rank, 1, t0) ? 3 : 0;
}

static void chain_run(const char *backend, char how)
{
    int fds[MAXN][MAXN];
    run_opts o = {.backend = backend, .hold_fd = -1, .victims = 1u << 1};

    mesh_tcp(4, fds);
    run_ranks_opts(4, fds, &o, chain, &how);
}

/* Rank 1 dies: 2 sees EOF, 0 hears it from 2, 3 from 0. */
Test(abort, killed_rank_named_transitively_uring) { chain_run("uring", 'k'); }
Test(abort, killed_rank_named_transitively_epoll) { chain_run("epoll", 'k'); }

/* Rank 1 stops: 2 times out on it; 0 and 3 both wait on 2 and time out
 * at about the same moment, but name 1 from 2's ABORT. */
static const int waits_on_stopped[4] = {2, -1, 1, 2};

static int stopped(rdv_context *ctx, int rank, int n, void *arg)
{
    int64_t t0 = rdv_now_ns();
    char buf[8];
    int ret;

    (void)n;
    (void)arg;
    if (rank == 1) {
        raise(SIGSTOP);
        return 0;
    }
    ret = rdv_recv(ctx, waits_on_stopped[rank], buf, sizeof buf,
                   TIMEOUT_MS);
    if (ret != (rank == 2 ? RDV_ETIMEDOUT : RDV_EPEER)) {
        fprintf(stderr, "rank %d: %s: %s\n", rank, rdv_strerror(ret),
                rdv_context_errmsg(ctx));
        return 2;
    }
    return blames(ctx, rank, 1, t0) ? 3 : 0;
}

static void stopped_run(const char *backend)
{
    int fds[MAXN][MAXN];
    run_opts o = {.backend = backend, .hold_fd = -1, .victims = 1u << 1};

    mesh_tcp(4, fds);
    run_ranks_opts(4, fds, &o, stopped, NULL);
}

Test(abort, stopped_rank_named_by_its_neighbours_uring)
{
    stopped_run("uring");
}
Test(abort, stopped_rank_named_by_its_neighbours_epoll)
{
    stopped_run("epoll");
}

/* Rank 1 writes bytes that are no frame: rank 0's recv is RDV_EPROTO
 * naming it. */
static int garbage(rdv_context *ctx, int rank, int n, void *arg)
{
    static const char junk[32] = "GET / HTTP/1.1\r\n\r\n";
    char buf[8];
    int ret;

    (void)n;
    (void)arg;
    if (rank == 1) {
        int fd = rdv_transport_peer_fd(rdv_context_transport(ctx), 0);
        return write(fd, junk, sizeof junk) == sizeof junk ? 0 : 2;
    }
    ret = rdv_recv(ctx, 1, buf, sizeof buf, 20000);
    if (ret != RDV_EPROTO || !strstr(rdv_context_errmsg(ctx), "rank 1") ||
        !strstr(rdv_context_errmsg(ctx), "not an rdv frame")) {
        fprintf(stderr, "got %d: %s\n", ret, rdv_context_errmsg(ctx));
        return 3;
    }
    return 0;
}

Test(abort, not_a_frame_is_eproto_naming_the_peer)
{
    int fds[MAXN][MAXN];
    run_opts o = {.hold_fd = -1};

    mesh_socketpair(2, fds);
    run_ranks_opts(2, fds, &o, garbage, NULL);
}

/* Messages around the old (4096) and the current (RDV_FRAME_SMALL)
 * small/large boundaries, sent whole and received in pieces of other
 * sizes (0 ends a list; the last piece repeats), through at most 7
 * bytes per transfer when hooked. */
static const size_t sizes[] = {
    1, 15, 16, 17, 4095, 4096, 4097, 8192,
    RDV_FRAME_SMALL - 1, RDV_FRAME_SMALL, RDV_FRAME_SMALL + 1, 100000, 0};

typedef struct stream_plan {
    const size_t *pieces;
    int hooked;
} stream_plan;

static int64_t short_io(void *arg, int peer, int is_send, uint64_t offset,
                        size_t want, int64_t *delay_ns)
{
    (void)arg, (void)peer, (void)is_send, (void)offset, (void)delay_ns;
    return want > 7 ? 7 : (int64_t)want;
}

static size_t stream_total(void)
{
    size_t total = 0;

    for (size_t k = 0; sizes[k]; k++)
        total += sizes[k];
    return total;
}

static int stream(rdv_context *ctx, int rank, int n, void *arg)
{
    const size_t *piece = ((const stream_plan *)arg)->pieces;
    size_t total = stream_total(), off = 0;
    unsigned char *buf = malloc(total);
    int ret = RDV_OK;

    (void)n;
    for (size_t i = 0; i < total; i++)
        buf[i] = rank == 1 ? (unsigned char)(i * 13 + (i >> 8)) : 0;
    for (size_t k = 0; rank == 1 && ret == RDV_OK && sizes[k]; k++) {
        ret = rdv_send(ctx, 0, buf + off, sizes[k], 60000);
        off += sizes[k];
    }
    while (rank == 0 && ret == RDV_OK && off < total) {
        size_t len = total - off < *piece ? total - off : *piece;

        ret = rdv_recv(ctx, 1, buf + off, len, 60000);
        off += len;
        if (piece[1])
            piece++;
    }
    for (size_t i = 0; rank == 0 && ret == RDV_OK && i < total; i++)
        if (buf[i] != (unsigned char)(i * 13 + (i >> 8)))
            ret = RDV_EPROTO;
    if (ret != RDV_OK)
        fprintf(stderr, "rank %d: %s\n", rank, rdv_context_errmsg(ctx));
    free(buf);
    return ret == RDV_OK ? 0 : 2;
}

static void stream_run(const char *backend, const stream_plan *plan)
{
    static const rdv_hooks h = {.io = short_io};
    int fds[MAXN][MAXN];
    run_opts o = {.backend = backend, .hooks = plan->hooked ? &h : NULL,
                  .hold_fd = -1};

    mesh_tcp(2, fds);
    run_ranks_opts(2, fds, &o, stream, (void *)plan);
}

static const size_t piece_3000[] = {3000, 0};
static const stream_plan short_io_plan = {piece_3000, 1};

Test(abort, frames_survive_short_io_uring)
{
    stream_run("uring", &short_io_plan);
}
Test(abort, frames_survive_short_io_epoll)
{
    stream_run("epoll", &short_io_plan);
}
Test(abort, recvs_span_and_split_frames)
{
    static const size_t p[] = {9999, 0};
    static const stream_plan plan = {p, 0};

    stream_run(NULL, &plan);
}
/* Small recvs first, so the bounce buffer holds the next frames when a
 * larger recv makes it grow (what it buffered must survive), then
 * pieces that cut the mid-size frames anywhere. */
Test(abort, recvs_growing_keep_buffered_frames)
{
    static const size_t p[] = {1, 20, 40, 5000, 70000, 33, 9999, 0};
    static const stream_plan plan = {p, 0};

    stream_run(NULL, &plan);
}

/* Rank 1 writes a DATA frame whose header says RDV_FRAME_SMALL - 100
 * bytes but whose payload runs RDV_FRAME_SMALL bytes, in one write: rank
 * 0 takes the stated length, then finds no frame where the next header
 * should be (RDV_EPROTO naming rank 1), although a recv of that size
 * reads it all in one go. */
static int overlong_frame(rdv_context *ctx, int rank, int n, void *arg)
{
    size_t len = RDV_FRAME_HDR + RDV_FRAME_SMALL;
    unsigned char *b = calloc(1, len);
    int ret = 0;

    (void)n;
    (void)arg;
    if (rank == 1) {
        int fd = rdv_transport_peer_fd(rdv_context_transport(ctx), 0);
        size_t off = 0;

        rdv_frame_encode(b, RDV_FRAME_DATA, 0, RDV_FRAME_SMALL - 100);
        while (off < len && ret == 0) {
            ssize_t w = write(fd, b + off, len - off);

            struct pollfd pf = {.fd = fd, .events = POLLOUT};

            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno == EAGAIN) /* epoll's fds */
                poll(&pf, 1, 1000);
            else if (w < 0 && errno != EINTR)
                ret = 2;
        }
        free(b);
        return ret;
    }
    ret = rdv_recv(ctx, 1, b, RDV_FRAME_SMALL, 20000);
    if (ret != RDV_EPROTO || !strstr(rdv_context_errmsg(ctx), "rank 1") ||
        !strstr(rdv_context_errmsg(ctx), "not an rdv frame")) {
        fprintf(stderr, "got %d: %s\n", ret, rdv_context_errmsg(ctx));
        ret = 3;
    } else {
        ret = 0;
    }
    free(b);
    return ret;
}

Test(abort, overlong_mid_size_frame_is_eproto)
{
    int fds[MAXN][MAXN];
    run_opts o = {.hold_fd = -1};

    mesh_socketpair(2, fds);
    run_ranks_opts(2, fds, &o, overlong_frame, NULL);
}

Test(frame, header_round_trip_and_garbage)
{
    unsigned char b[RDV_FRAME_HDR];
    rdv_frame f;
    uint32_t raw;

    rdv_frame_encode(b, RDV_FRAME_DATA, 7, 1ull << 40);
    cr_assert_eq(rdv_frame_decode(b, &f, &raw), 0);
    cr_assert_eq(f.kind, RDV_FRAME_DATA);
    cr_assert_eq(f.seq, 7);
    cr_assert_eq(f.len, 1ull << 40);
    b[0] = 9; /* an unknown kind */
    cr_assert_eq(rdv_frame_decode(b, &f, &raw), -1);
    memcpy(b, "GET ", 4);
    cr_assert_eq(rdv_frame_decode(b, &f, &raw), -1);
}

Test(frame, abort_reason_is_cut_to_fit)
{
    unsigned char b[RDV_FRAME_HDR + RDV_FRAME_ABORT_MAX];
    char long_reason[1000], why[RDV_FRAME_ABORT_MAX];
    rdv_frame f;
    uint32_t raw;
    int c;
    size_t n;

    memset(long_reason, 'x', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = 0;
    n = rdv_frame_abort(b, 3, 5, long_reason);
    cr_assert_eq(n, sizeof b);
    cr_assert_eq(rdv_frame_decode(b, &f, &raw), 0);
    cr_assert_eq(f.kind, RDV_FRAME_ABORT);
    cr_assert_eq(rdv_frame_abort_parse(b + RDV_FRAME_HDR, f.len, &c, why,
                                       sizeof why), 0);
    cr_assert_eq(c, 5);
    cr_assert_eq(strlen(why), RDV_FRAME_ABORT_MAX - 4);
    cr_assert_eq(rdv_frame_abort_parse(b + RDV_FRAME_HDR, 3, &c, why,
                                       sizeof why), -1);
}
