/*
 * ranks.c - see ranks.h. Children leave with exit() once their result
 * is in the shared area; the parent reaps every child before checking.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "context_internal.h"
#include "ranks.h"
#include "rdv/store.h"
#include "rdv/transport.h"

void plan_init(rank_plan *p, rdv_store *store, const char *url, int size,
               const char *job, int timeout_ms, int absent)
{
    memset(p, 0, sizeof *p);
    p->store = store;
    p->url = url;
    p->size = size;
    p->job = job;
    p->timeout_ms = timeout_ms;
    for (int r = 0; r < size; r++)
        if (r != absent)
            p->ranks[p->nproc++] = r;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* The mode the rendezvous leaves its links in, from the sockets
 * themselves: the mesh sets it when it makes a socket or inherits it
 * from its listener, never afterwards, so this is what proves it. */
static void link_modes(rdv_context *ctx, int rank, int size, char *bad,
                       size_t cap)
{
    rdv_transport *t = rdv_context_transport(ctx);
    int want_nonblock = !strcmp(rdv_transport_backend(t), "epoll");

    bad[0] = 0;
    for (int q = 0; q < size && !bad[0]; q++) {
        int fd = rdv_transport_peer_fd(t, q), nodelay = -1;
        socklen_t len = sizeof nodelay;

        if (q == rank)
            continue;
        int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
        if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) < 0)
            nodelay = -1;
        if (fdfl < 0 || fl < 0 || !(fdfl & FD_CLOEXEC) || nodelay != 1 ||
            !!(fl & O_NONBLOCK) != want_nonblock)
            snprintf(bad, cap,
                     "link to rank %d (fd %d): cloexec %d, TCP_NODELAY %d, "
                     "O_NONBLOCK %d (%s wants %d)",
                     q, fd, fdfl < 0 ? -1 : !!(fdfl & FD_CLOEXEC), nodelay,
                     fl < 0 ? -1 : !!(fl & O_NONBLOCK),
                     rdv_transport_backend(t), want_nonblock);
    }
}

/* One message each way with every peer: {from, to}. */
static int exchange(rdv_context *ctx, int rank, int size)
{
    int out[PEERS_MAX][2], in[PEERS_MAX][2];
    rdv_request rq[2 * PEERS_MAX];
    rdv_request *ptr[2 * PEERS_MAX];
    size_t k = 0;

    for (int p = 0; p < size; p++) {
        if (p == rank)
            continue;
        out[p][0] = rank;
        out[p][1] = p;
        in[p][0] = in[p][1] = -1;
        if (rdv_post_recv(ctx, &rq[k], p, in[p], sizeof in[p]) != RDV_OK)
            return 0;
        ptr[k] = &rq[k];
        k++;
        if (rdv_post_send(ctx, &rq[k], p, out[p], sizeof out[p]) != RDV_OK)
            return 0;
        ptr[k] = &rq[k];
        k++;
    }
    if (rdv_wait(ctx, ptr, k, 30000) != RDV_OK)
        return 0;
    for (int p = 0; p < size; p++)
        if (p != rank && (in[p][0] != p || in[p][1] != rank))
            return 0;
    return 1;
}

static void child(const rank_plan *p, int i, rank_result *res)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_store *s = p->store;
    rdv_context *ctx = NULL;
    char err[512];
    long long t0;
    struct timespec ts;

    if (p->start_delay_ms[i] > 0)
        usleep((useconds_t)p->start_delay_ms[i] * 1000);
    /* counted around everything the rank opens, its own store included */
    res->fds_before = count_fds();
    if (!s || !rdv_store_is_inherited(s)) {
        s = NULL;
        if (rdv_store_open(p->url, &s, err, sizeof err) != RDV_OK) {
            snprintf(res->msg, sizeof res->msg, "store open: %s", err);
            res->status = -100;
            exit(0);
        }
    }
    res->rank = p->ranks[i];
    o.rank = p->ranks[i];
    o.size = p->size;
    o.job = p->job;
    o.timeout_ms = p->timeout_ms;
    o.transport = p->transport;
    o.bind = p->bind ? p->bind : "127.0.0.1";
    o.hooks = p->hooks[i];
    o.recheck_ms = p->recheck_ms;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
    res->status = rdv_context_create(&o, &ctx, err, sizeof err);
    if (res->status == RDV_OK)
        res->status = rdv_context_connect_full_mesh(ctx, s);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    res->elapsed_ms = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 - t0;
    snprintf(res->msg, sizeof res->msg, "%s",
             ctx ? rdv_context_errmsg(ctx) : err);
    if (ctx) {
        snprintf(res->transport, sizeof res->transport, "%s",
                 rdv_context_transport_name(ctx));
        if (res->status == RDV_OK) {
            for (int q = 0; q < p->size && q < PEERS_MAX; q++) {
                rdv_peer_info pi;

                if (q != o.rank && rdv_context_peer_info(ctx, q, &pi) == RDV_OK) {
                    res->local[q] = pi.local;
                    res->remote[q] = pi.remote;
                }
            }
            link_modes(ctx, o.rank, p->size, res->link_mode,
                       sizeof res->link_mode);
            res->exchanged = exchange(ctx, o.rank, p->size);
        }
        rdv_context_get_counters(ctx, &res->counters);
    }
    rdv_context_destroy(ctx);
    if (s != p->store)
        rdv_store_close(s);
    res->fds_after = count_fds();
    res->ran = 1;
    exit(0);
}

rank_result *plan_run(const rank_plan *p)
{
    size_t bytes = sizeof(rank_result) * RANKS_MAX;
    rank_result *r = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[RANKS_MAX];

    cr_assert_neq(r, MAP_FAILED);
    memset(r, 0, bytes);
    fflush(NULL);
    for (int i = 0; i < p->nproc; i++) {
        pids[i] = fork();
        cr_assert_geq(pids[i], 0, "fork");
        if (pids[i] == 0)
            child(p, i, &r[i]);
    }
    for (int i = 0; i < p->nproc; i++) {
        int st;

        cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "process %d (rank %d) ended with status %#x", i,
                  p->ranks[i], st);
    }
    return r;
}

void results_free(rank_result *r)
{
    munmap(r, sizeof(rank_result) * RANKS_MAX);
}

static int same_addr(const struct sockaddr_storage *a,
                     const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    return 0;
}

void expect_mesh_ok(const rank_plan *p, const rank_result *r)
{
    const rank_result *by_rank[PEERS_MAX] = {0};

    for (int i = 0; i < p->nproc; i++) {
        cr_expect(r[i].ran, "rank %d did not report", p->ranks[i]);
        cr_expect_eq(r[i].status, RDV_OK, "rank %d: %s: %s", p->ranks[i],
                     rdv_status_name(r[i].status), r[i].msg);
        cr_expect(r[i].exchanged, "rank %d: exchange failed", p->ranks[i]);
        cr_expect(!r[i].link_mode[0], "rank %d: %s", p->ranks[i],
                  r[i].link_mode);
        cr_expect_eq(r[i].fds_before, r[i].fds_after,
                     "rank %d leaked fds: %d before, %d after", p->ranks[i],
                     r[i].fds_before, r[i].fds_after);
        if (p->transport)
            cr_expect_str_eq(r[i].transport, p->transport);
        by_rank[p->ranks[i]] = &r[i];
    }
    for (int i = 0; i < p->size; i++)
        for (int j = 0; j < p->size; j++) {
            if (i == j || !by_rank[i] || !by_rank[j])
                continue;
            cr_expect(same_addr(&by_rank[i]->local[j], &by_rank[j]->remote[i]) &&
                          same_addr(&by_rank[i]->remote[j], &by_rank[j]->local[i]),
                      "4-tuple of %d->%d does not pair with %d->%d", i, j, j, i);
        }
}

long long store_keys(rdv_store *s)
{
    int64_t n = -1;

    cr_assert_eq(rdv_store_num_keys(s, &n), RDV_OK, "%s", rdv_store_errmsg(s));
    return (long long)n;
}
