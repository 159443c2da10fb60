/*
 * test_dataplane.c - rdv_send/rdv_recv and post/wait over meshes of
 * forked ranks connected with rdv_context_connect_fds(): socketpairs
 * and loopback TCP, each backend forced once and the $RDV_TRANSPORT
 * default for the rest; waits that spin first (rdv_transport_set_spin)
 * and rdv_spin itself. Children report through their exit code.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rdv/clock.h"
#include "rdv/transport.h"
#include "ranks.h"
#include "spin.h"
#include "transport/transport.h"

/* Hooks every rank of the next run_ranks() gets (inherited by fork). */
static const rdv_hooks *g_hooks;

static void run_ranks_keep(int n, int fds[MAXN][MAXN], const char *backend,
                           rank_fn fn, void *arg, int hold_fd)
{
    run_opts o = {.backend = backend, .hooks = g_hooks, .hold_fd = hold_fd};

    run_ranks_opts(n, fds, &o, fn, arg);
}

static void run_ranks(int n, int fds[MAXN][MAXN], const char *backend,
                      rank_fn fn, void *arg)
{
    run_ranks_keep(n, fds, backend, fn, arg, -1);
}

static unsigned char pattern(int from, int to, size_t i)
{
    return (unsigned char)(from * 31 + to * 7 + i * 13 + (i >> 9));
}

/* Every rank posts a send to and a recv from every peer, all at once,
 * then waits for all of them. */
static int all_pairs(rdv_context *ctx, int rank, int n, void *arg)
{
    size_t len = *(size_t *)arg;
    rdv_request rq[2 * MAXN];
    rdv_request *ptr[2 * MAXN] = {0};
    unsigned char *out[MAXN], *in[MAXN];
    size_t k = 0;
    int bad = 0;

    for (int p = 0; p < n; p++) {
        if (p == rank)
            continue;
        out[p] = malloc(len);
        in[p] = calloc(1, len);
        for (size_t i = 0; i < len; i++)
            out[p][i] = pattern(rank, p, i);
        if (rdv_post_recv(ctx, &rq[k], p, in[p], len) != RDV_OK)
            return 20;
        ptr[k] = &rq[k];
        k++;
        if (rdv_post_send(ctx, &rq[k], p, out[p], len) != RDV_OK)
            return 21;
        ptr[k] = &rq[k];
        k++;
    }
    if (rdv_wait(ctx, ptr, k, 30000) != RDV_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, rdv_context_errmsg(ctx));
        return 22;
    }
    for (int p = 0; p < n; p++) {
        if (p == rank)
            continue;
        for (size_t i = 0; i < len && !bad; i++)
            bad = in[p][i] != pattern(p, rank, i);
        free(out[p]);
        free(in[p]);
    }
    return bad ? 23 : 0;
}

#define BACKEND_TESTS(tag, name)                                             \
    Test(dataplane, tag##_small_socketpair)                                  \
    {                                                                        \
        int fds[MAXN][MAXN];                                                 \
        size_t len = 100;                                                    \
        mesh_socketpair(4, fds);                                             \
        run_ranks(4, fds, name, all_pairs, &len);                            \
    }                                                                        \
    Test(dataplane, tag##_large_tcp)                                         \
    {                                                                        \
        int fds[MAXN][MAXN];                                                 \
        /* far beyond socket buffers: short writes (less under memcheck) */  \
        size_t len = getenv("RDV_TEST_QUICK") ? 1u << 20 : 6u << 20;         \
        mesh_tcp(3, fds);                                                    \
        run_ranks(3, fds, name, all_pairs, &len);                            \
    }

BACKEND_TESTS(uring, "uring")
BACKEND_TESTS(epoll, "epoll")
BACKEND_TESTS(env, NULL)

static const char *env_backend(void) { return NULL; }

/* Rank 1 leaves after connecting; rank 0's recv names it. */
static int peer_closes(rdv_context *ctx, int rank, int n, void *arg)
{
    char buf[64];
    int ret;

    (void)n;
    (void)arg;
    if (rank == 1)
        return 0;
    ret = rdv_recv(ctx, 1, buf, sizeof buf, 20000);
    if (ret != RDV_EPEER || !strstr(rdv_context_errmsg(ctx), "rank 1") ||
        !strstr(rdv_context_errmsg(ctx), "0 of 64")) {
        fprintf(stderr, "got %d: %s\n", ret, rdv_context_errmsg(ctx));
        return 30;
    }
    return rdv_send(ctx, 1, buf, 1, 100) == RDV_ESTATE ? 0 : 31;
}

Test(dataplane, eof_names_peer)
{
    int fds[MAXN][MAXN];

    mesh_tcp(2, fds);
    run_ranks(2, fds, env_backend(), peer_closes, NULL);
}

/* A silent peer: the recv times out within bounds, naming the peer. */
static int silent_peer(rdv_context *ctx, int rank, int n, void *arg)
{
    char buf[8];
    int64_t t0 = rdv_now_ns(), ms;
    int ret;

    (void)n;
    if (rank == 1) {
        char c;
        /* hold the connection open until rank 0 is done */
        return read(*(int *)arg, &c, 1) >= 0 ? 0 : 40;
    }
    ret = rdv_recv(ctx, 1, buf, sizeof buf, 300);
    ms = (rdv_now_ns() - t0) / 1000000;
    if (ret != RDV_ETIMEDOUT || ms < 290 || ms > 3000 ||
        !strstr(rdv_context_errmsg(ctx), "rank 1")) {
        fprintf(stderr, "got %d after %lld ms: %s\n", ret, (long long)ms,
                rdv_context_errmsg(ctx));
        return 41;
    }
    /* try-once semantics on a fresh ask: the context is now unusable */
    return rdv_recv(ctx, 1, buf, 1, 0) == RDV_ESTATE ? 0 : 42;
}

Test(dataplane, recv_timeout_names_peer)
{
    int fds[MAXN][MAXN], pipefd[2];

    cr_assert_eq(pipe(pipefd), 0);
    mesh_socketpair(2, fds);
    /* rank 1 blocks on rd until the parent closes the write end, which
     * it does only after rank 0 has finished (run_ranks reaps in order) */
    int rd = pipefd[0];
    run_ranks_keep(2, fds, env_backend(), silent_peer, &rd, pipefd[1]);
    close(rd);
}

/* Misuse is RDV_EINVAL and leaves the context usable. */
static int misuse(rdv_context *ctx, int rank, int n, void *arg)
{
    rdv_request a, b, *both[2] = {&a, &b};
    char x = 'x', y = 0, z = 0;

    (void)n;
    (void)arg;
    if (rdv_send(ctx, rank, &x, 1, 100) != RDV_EINVAL)
        return 50;
    if (rdv_send(ctx, 7, &x, 1, 100) != RDV_EINVAL)
        return 51;
    if (rank == 0) {
        if (rdv_post_recv(ctx, &a, 1, &y, 1) != RDV_OK)
            return 52;
        if (rdv_post_recv(ctx, &b, 1, &z, 1) != RDV_EINVAL)
            return 53;
        return rdv_wait(ctx, both, 1, 20000) == RDV_OK && y == 'x' ? 0 : 54;
    }
    return rdv_send(ctx, 0, &x, 1, 20000) == RDV_OK ? 0 : 55;
}

Test(dataplane, misuse_is_einval)
{
    int fds[MAXN][MAXN];

    mesh_socketpair(2, fds);
    run_ranks(2, fds, env_backend(), misuse, NULL);
}

/* Short I/O and a slow link, injected above the backend: one byte per
 * transfer with a small delay every 100th one. The data arrives whole. */
static int64_t trickle(void *arg, int peer, int is_send, uint64_t offset,
                       size_t want, int64_t *delay_ns)
{
    (void)arg;
    (void)peer;
    (void)is_send;
    (void)want;
    if (offset % 100 == 0)
        *delay_ns = 200000;
    return 1;
}

static void trickle_run(const char *backend)
{
    static const rdv_hooks h = {.io = trickle};
    int fds[MAXN][MAXN];
    size_t len = 1000;

    g_hooks = &h;
    mesh_tcp(3, fds);
    run_ranks(3, fds, backend, all_pairs, &len);
    g_hooks = NULL;
}

Test(dataplane, io_hook_trickle_uring) { trickle_run("uring"); }
Test(dataplane, io_hook_trickle_epoll) { trickle_run("epoll"); }

static int64_t reset_recv(void *arg, int peer, int is_send, uint64_t offset,
                          size_t want, int64_t *delay_ns)
{
    (void)arg;
    (void)peer;
    (void)delay_ns;
    if (!is_send && offset >= 10)
        return RDV_EPEER;
    return want > 10 ? 10 : (int64_t)want;
}

static int reset_victim(rdv_context *ctx, int rank, int n, void *arg)
{
    char buf[64] = {0};
    int ret;

    (void)n;
    (void)arg;
    if (rank == 1) {
        /* may fail or not, depending on when rank 0's reset lands */
        ret = rdv_send(ctx, 0, buf, sizeof buf, 20000);
        return ret == RDV_OK || ret == RDV_EPEER ? 0 : 60;
    }
    ret = rdv_recv(ctx, 1, buf, sizeof buf, 20000);
    if (ret != RDV_EPEER || !strstr(rdv_context_errmsg(ctx), "rank 1") ||
        !strstr(rdv_context_errmsg(ctx), "injected")) {
        fprintf(stderr, "got %d: %s\n", ret, rdv_context_errmsg(ctx));
        return 61;
    }
    return 0;
}

Test(dataplane, io_hook_reset_names_peer)
{
    static const rdv_hooks h = {.io = reset_recv};
    int fds[MAXN][MAXN];

    g_hooks = &h;
    mesh_socketpair(2, fds);
    run_ranks(2, fds, env_backend(), reset_victim, NULL);
    g_hooks = NULL;
}

/* A send whose last chunk the io hook holds for 1 ms: on io_uring the
 * held chunk goes out straight from the wait (send_now) with no
 * completion to wake it, and the wait must still see the request done
 * rather than sleep to its deadline (a bug once: the send returned
 * RDV_OK only at its 20 s deadline). The first transfer takes 8 bytes
 * of the header, the rest waits. The bound is half the deadline, not a
 * speed: the held chunk is due after 1 ms. */
static int64_t hold_tail(void *arg, int peer, int is_send, uint64_t offset,
                         size_t want, int64_t *delay_ns)
{
    (void)arg;
    (void)peer;
    if (!is_send)
        return (int64_t)want;
    if (offset == 0)
        return 8;
    if (offset == 8)
        *delay_ns = 1000000;
    return (int64_t)want;
}

static int held_tail(rdv_context *ctx, int rank, int n, void *arg)
{
    char buf[100];
    int ret;

    (void)n;
    (void)arg;
    int64_t t0 = rdv_now_ns();

    memset(buf, rank ? 0 : 0x5a, sizeof buf);
    if (rank == 0)
        ret = rdv_send(ctx, 1, buf, sizeof buf, 20000);
    else
        ret = rdv_recv(ctx, 0, buf, sizeof buf, 20000);
    if (ret != RDV_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, rdv_context_errmsg(ctx));
        return 70 + rank;
    }
    if (rdv_now_ns() - t0 > 10000000000ll) {
        fprintf(stderr, "rank %d: done only after %lld ms\n", rank,
                (long long)((rdv_now_ns() - t0) / 1000000));
        return 73;
    }
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] != 0x5a)
            return 72;
    return 0;
}

static void held_tail_run(const char *backend)
{
    static const rdv_hooks h = {.io = hold_tail};
    int fds[MAXN][MAXN];

    g_hooks = &h;
    mesh_tcp(2, fds);
    run_ranks(2, fds, backend, held_tail, NULL);
    g_hooks = NULL;
}

Test(dataplane, io_hook_held_tail_uring) { held_tail_run("uring"); }
Test(dataplane, io_hook_held_tail_epoll) { held_tail_run("epoll"); }

/* rdv_spin on its own: the check's first nonzero answer is passed up, an
 * empty budget calls nothing, a spent budget or a passed deadline ends
 * the spin with 0 after at least one look. */
typedef struct spin_count {
    int calls, answer_at, answer;
} spin_count;

static int count_check(void *arg)
{
    spin_count *c = arg;

    return ++c->calls == c->answer_at ? c->answer : 0;
}

Test(spin, passes_up_the_answer_and_ends_on_budget)
{
    spin_count c = {0, 3, 7};

    cr_assert_eq(rdv_spin(count_check, &c, 60000000000ll, RDV_DEADLINE_NONE),
                 7);
    cr_assert_eq(c.calls, 3);
    c = (spin_count){0, 2, RDV_EIO};
    cr_assert_eq(rdv_spin(count_check, &c, 60000000000ll, RDV_DEADLINE_NONE),
                 RDV_EIO);
    c = (spin_count){0, -1, 0};
    cr_assert_eq(rdv_spin(count_check, &c, 0, RDV_DEADLINE_NONE), 0);
    cr_assert_eq(c.calls, 0);
    cr_assert_eq(rdv_spin(count_check, &c, 1000000, RDV_DEADLINE_NONE), 0);
    cr_assert_geq(c.calls, 1);
    c.calls = 0;
    cr_assert_eq(rdv_spin(count_check, &c, 60000000000ll, rdv_now_ns() - 1),
                 0);
    cr_assert_eq(c.calls, 1);
}

/* Waits that spin first (rdv_transport_set_spin) move the same bytes,
 * small and large, and a spinning wait still times out naming the
 * silent peer. */
static int spinning_pairs(rdv_context *ctx, int rank, int n, void *arg)
{
    rdv_transport_set_spin(rdv_context_transport(ctx), 50000);
    return all_pairs(ctx, rank, n, arg);
}

static void spinning_run(const char *backend)
{
    static const size_t lens[] = {100, 70000, 1u << 20};

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int fds[MAXN][MAXN];
        size_t len = lens[i];

        mesh_tcp(3, fds);
        run_ranks(3, fds, backend, spinning_pairs, &len);
    }
}

Test(dataplane, spinning_waits_uring) { spinning_run("uring"); }
Test(dataplane, spinning_waits_epoll) { spinning_run("epoll"); }

static int spinning_silent(rdv_context *ctx, int rank, int n, void *arg)
{
    rdv_transport_set_spin(rdv_context_transport(ctx), 50000);
    return silent_peer(ctx, rank, n, arg);
}

Test(dataplane, spinning_wait_times_out_naming_peer)
{
    int fds[MAXN][MAXN], pipefd[2];
    int rd;

    cr_assert_eq(pipe(pipefd), 0);
    mesh_socketpair(2, fds);
    rd = pipefd[0];
    run_ranks_keep(2, fds, env_backend(), spinning_silent, &rd, pipefd[1]);
    close(rd);
}
