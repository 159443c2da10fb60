/*
 * harness/bench/bench_collectives.c - `rdv bench allreduce|broadcast|barrier`:
 * collective latency and bandwidth against message size, OSU style.
 *
 * For each rank count N the parent forks N ranks. They build a real
 * mesh: the full rendezvous over a store (default hash:?shared=1, opened
 * once before fork and inherited) with 127.0.0.1 TCP sockets, or, with
 * --mesh tcp, loopback TCP pairs the parent connects before fork. Unix
 * socketpairs are deliberately not offered: they would flatter the
 * numbers. Then, for every size, the ranks meet at a barrier, run a few
 * warm-up calls and time `iters` calls back to back with
 * CLOCK_MONOTONIC. Each call's time is the slowest rank's, and p50/p99
 * are taken over the calls.
 *
 *   algbw = bytes / p50;  busbw = algbw * 2(n-1)/n for allreduce (the
 *   bytes each rank must move on a ring), = algbw for broadcast.
 *
 * --impl gloo times Gloo's collectives instead (its rendezvous over the
 * same store, its TCP pairs, its own algorithms: run/rank_gloo.h). With
 * both implementations, runs take turns, --rounds times (default 5;
 * the first of each pair alternates), so a noisy machine slows them
 * alike; each table then gives the median over the rounds, and a
 * "gloo/rdv" table their ratio per size.
 *
 * This is a measurement, not a test: it never checks speed. Children end
 * with exit() and report through a shared mapping.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_json.h"
#include "bench/samples.h"
#include "commands/commands.h"
#include "common/cli_args.h"
#include "context_internal.h"
#include "rdv/clock.h"
#include "rdv/collectives.h"
#include "rdv/store.h"
#include "rdv/url.h"
#include "transport/transport.h"
#include "common/number.h"
#include "common/size_text.h"
#include "run/rank_gloo.h"

#define BENCH_MAX_RANKS 64
#define BENCH_MAX_SIZES 40
#define BENCH_MAX_ITERS 1000
#define BENCH_MAX_ROUNDS 50

typedef enum { COLL_ALLREDUCE, COLL_BROADCAST, COLL_BARRIER } coll_kind;
typedef enum { IMPL_RDV, IMPL_GLOO, IMPL_COUNT } bench_impl;

static const char *const impl_names[IMPL_COUNT] = {"rdv", "gloo"};

typedef struct bopts {
    coll_kind kind;
    const char *name;
    int ranks[8];
    int nranks;
    size_t min_size, max_size;
    int iters;
    rdv_algo algo;
    rdv_dtype type;
    const char *transport;
    const char *store_url;
    int tcp_mesh;
    int timeout_ms;
    int busy_poll;
    int spin_us; /* --spin-us: the transport's wait spins first */
    unsigned impls; /* 1 << bench_impl, for each --impl */
    int rounds;
    rdv_bench_out *out; /* the table, and the JSON rows with --json */
} bopts;

/* One implementation's runs at one N: each round's p50 and p99 per
 * size, in us. */
typedef struct bresult {
    char backend[16];
    int nsizes;
    size_t size[BENCH_MAX_SIZES];
    int iters[BENCH_MAX_SIZES];
    int nrounds;
    double p50[BENCH_MAX_ROUNDS][BENCH_MAX_SIZES];
    double p99[BENCH_MAX_ROUNDS][BENCH_MAX_SIZES];
} bresult;

/* A rank's collectives: librdv's context, or Gloo's (why: its words). */
typedef struct coll_handle {
    rdv_context *ctx;
    rdv_rank_gloo *gloo;
    char why[256];
} coll_handle;

typedef struct bshared {
    int failed;
    char error[512];
    char backend[16];
    int nsizes;
    size_t size[BENCH_MAX_SIZES];
    int iters[BENCH_MAX_SIZES];
    int64_t lat[]; /* [size][rank][iter], ns */
} bshared;

static int64_t *lat_at(bshared *sh, int n, int s, int r)
{
    return sh->lat + ((size_t)s * (size_t)n + (size_t)r) * BENCH_MAX_ITERS;
}

static int iters_for(const bopts *o, size_t bytes)
{
    long it = bytes <= 65536 ? BENCH_MAX_ITERS : (long)((256u << 20) / bytes);

    if (it < 20)
        it = 20;
    if (it > o->iters)
        it = o->iters;
    return (int)it;
}

static int gloo_call(const bopts *o, coll_handle *h, void *buf, void *out,
                     size_t count)
{
    const rdv_coll_ops *g = rdv_rank_gloo_ops();

    switch (o->kind) {
    case COLL_ALLREDUCE:
        return g->allreduce(h->gloo, buf, out, count, o->type, RDV_SUM,
                            h->why, sizeof h->why);
    case COLL_BROADCAST:
        return g->broadcast(h->gloo, buf, count, o->type, 0, h->why,
                            sizeof h->why);
    case COLL_BARRIER:
        break;
    }
    return g->barrier(h->gloo, h->why, sizeof h->why);
}

/* One timed call. Gloo's allreduce gets a separate output (out), as its
 * API is used; librdv's runs in place. */
static int one_call(const bopts *o, coll_handle *h, void *buf, void *out,
                    size_t count)
{
    rdv_coll_options co = rdv_coll_options_default();
    rdv_context *ctx = h->ctx;

    if (h->gloo)
        return gloo_call(o, h, buf, out, count);
    co.algo = o->algo;
    co.busy_poll = o->busy_poll;
    switch (o->kind) {
    case COLL_ALLREDUCE:
        return rdv_allreduce(ctx, buf, buf, count, o->type, RDV_SUM, &co);
    case COLL_BROADCAST:
        return rdv_broadcast(ctx, buf, count, o->type, 0, &co);
    case COLL_BARRIER:
        break;
    }
    return rdv_barrier(ctx, &co);
}

static int handle_barrier(coll_handle *h)
{
    return h->gloo ? rdv_rank_gloo_ops()->barrier(h->gloo, h->why,
                                                  sizeof h->why)
                   : rdv_barrier(h->ctx, NULL);
}

static int rank_measure(const bopts *o, coll_handle *h, bshared *sh, int n,
                        int r)
{
    size_t es = rdv_dtype_size(o->type);
    char *buf = calloc(2, o->max_size + es);
    int rc = buf ? RDV_OK : RDV_ENOMEM;

    for (int s = 0; s < sh->nsizes && rc == RDV_OK; s++) {
        size_t count = sh->size[s] / es;
        int64_t *lat = lat_at(sh, n, s, r);
        void *out = buf + o->max_size + es;

        rc = handle_barrier(h);
        for (int i = 0; i < 5 && rc == RDV_OK; i++)
            rc = one_call(o, h, buf, out, count);
        for (int i = 0; i < sh->iters[s] && rc == RDV_OK; i++) {
            int64_t t0;
            /* A root would otherwise run ahead and time only its sends. */
            if (o->kind == COLL_BROADCAST)
                rc = handle_barrier(h);
            t0 = rdv_now_ns();
            rc = one_call(o, h, buf, out, count);
            lat[i] = rdv_now_ns() - t0;
        }
    }
    free(buf);
    return rc;
}

/* --mesh tcp: fds[i][j] is rank i's end of the loopback pair (i, j). */
static int tcp_mesh(int n, int *fds)
{
    struct sockaddr_in at = {.sin_family = AF_INET};
    socklen_t al = sizeof at;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

    for (int i = 0; i < n * n; i++)
        fds[i] = -1;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&at, sizeof at) ||
        listen(l, BENCH_MAX_RANKS) ||
        getsockname(l, (struct sockaddr *)&at, &al))
        rc = -1;
    for (int i = 0; i < n && !rc; i++)
        for (int j = i + 1; j < n && !rc; j++) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (c < 0 || connect(c, (struct sockaddr *)&at, sizeof at)) {
                rc = -1;
                if (c >= 0)
                    close(c);
                break;
            }
            fds[j * n + i] = c;
            fds[i * n + j] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            rc = fds[i * n + j] < 0 ? -1 : 0;
        }
    if (l >= 0)
        close(l);
    return rc;
}

static void close_fds(int *fds, int n, int keep)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != keep && fds[i * n + j] >= 0)
                close(fds[i * n + j]);
}

/* A Gloo rank: the store scoped to the job, Gloo's rendezvous, then the
 * same measurement through Gloo's collectives (Gloo leaves its keys: it
 * has no delete; each run has a job of its own). Closes store (the
 * scoped handle owns it once made). */
static int rank_gloo(const bopts *o, bshared *sh, rdv_store *store,
                     const char *job, int n, int r)
{
    rdv_run_config cfg = {.nranks = n, .timeout_ms = o->timeout_ms};
    coll_handle h = {0};
    rdv_store *scoped = NULL;
    int rc = rdv_store_prefix_open(store, job, &scoped);

    if (rc) {
        snprintf(sh->error, sizeof sh->error, "rank %d: prefix '%s': %s",
                 r, job, rdv_strerror(rc));
        rdv_store_close(store);
    } else if ((rc = rdv_rank_gloo_connect(scoped, r, &cfg, NULL, &h.gloo,
                                         h.why, sizeof h.why)) ||
             (rc = rank_measure(o, &h, sh, n, r)))
        snprintf(sh->error, sizeof sh->error, "rank %d: %s", r,
                 h.why[0] ? h.why : rdv_strerror(rc));
    else if (r == 0)
        snprintf(sh->backend, sizeof sh->backend, "gloo-tcp");
    rdv_rank_gloo_destroy(h.gloo);
    rdv_store_close(scoped);
    return rc;
}

static void rank_main(const bopts *o, bench_impl impl, int run, bshared *sh,
                      rdv_store *store, int *fds, int n, int r)
{
    rdv_context_options co = rdv_context_options_default();
    coll_handle h = {0};
    char job[64], err[256];
    int rc;

    if (fds)
        close_fds(fds, n, r);
    snprintf(job, sizeof job, "rdv-bench-coll/%d/%d/%d", (int)getppid(), n,
             run);
    if (impl == IMPL_GLOO) {
        rc = rank_gloo(o, sh, store, job, n, r);
        store = NULL;
        goto out;
    }
    co.rank = r;
    co.size = n;
    co.job = job;
    co.bind = "127.0.0.1";
    co.transport = o->transport;
    co.timeout_ms = o->timeout_ms;
    rc = rdv_context_create(&co, &h.ctx, err, sizeof err);
    if (rc != RDV_OK) {
        snprintf(sh->error, sizeof sh->error, "rank %d: %s", r, err);
    } else {
        rc = fds ? rdv_context_connect_fds(h.ctx, fds + (size_t)r * n)
                 : rdv_context_connect_full_mesh(h.ctx, store);
        if (rc == RDV_OK && o->spin_us > 0)
            rdv_transport_set_spin(rdv_context_transport(h.ctx),
                                   (int64_t)o->spin_us * 1000);
        if (rc == RDV_OK)
            rc = rank_measure(o, &h, sh, n, r);
        if (rc != RDV_OK)
            snprintf(sh->error, sizeof sh->error, "rank %d: %s", r,
                     rdv_context_errmsg(h.ctx));
        else if (r == 0)
            snprintf(sh->backend, sizeof sh->backend, "%s",
                     rdv_context_transport_name(h.ctx));
    }
    rdv_context_destroy(h.ctx);
out:
    if (rc != RDV_OK)
        sh->failed = 1;
    if (store)
        rdv_store_close(store);
    exit(rc == RDV_OK ? 0 : 1);
}

/* Round `round` of res from one run's samples: per size, the slowest
 * rank's time of each call, then p50 and p99 over the calls. */
static void summarize(bshared *sh, int n, int round, bresult *res)
{
    static int64_t worst[BENCH_MAX_ITERS];

    snprintf(res->backend, sizeof res->backend, "%s", sh->backend);
    res->nsizes = sh->nsizes;
    for (int s = 0; s < sh->nsizes; s++) {
        int it = sh->iters[s];

        res->size[s] = sh->size[s];
        res->iters[s] = it;
        for (int i = 0; i < it; i++) {
            worst[i] = 0;
            for (int r = 0; r < n; r++)
                if (lat_at(sh, n, s, r)[i] > worst[i])
                    worst[i] = lat_at(sh, n, s, r)[i];
        }
        rdv_samples_sort_i64(worst, (size_t)it);
        res->p50[round][s] = worst[it / 2] / 1e3;
        res->p99[round][s] =
            worst[(it * 99) / 100 < it ? (it * 99) / 100 : it - 1] / 1e3;
    }
    res->nrounds = round + 1;
}

/* The median over the rounds of one size's column v[round][s]. */
static double median_of_rounds(const double (*v)[BENCH_MAX_SIZES],
                               int nrounds, int s)
{
    double x[BENCH_MAX_ROUNDS];

    for (int k = 0; k < nrounds; k++)
        x[k] = v[k][s];
    rdv_samples_sort_double(x, (size_t)nrounds);
    return nrounds % 2 ? x[nrounds / 2]
                       : (x[nrounds / 2 - 1] + x[nrounds / 2]) / 2;
}

static void report(const bopts *o, bench_impl impl, const bresult *res,
                   int n)
{
    double bus = o->kind == COLL_ALLREDUCE ? 2.0 * (n - 1) / n : 1.0;
    FILE *t = o->out->text;
    char shown[512], rounds[48] = "", spin[40] = "";
    const char *algo = impl == IMPL_GLOO ? "gloo's" : rdv_algo_name(o->algo);

    rdv_url_redact(o->store_url, shown, sizeof shown);
    if (res->nrounds > 1)
        snprintf(rounds, sizeof rounds, ", median of %d rounds",
                 res->nrounds);
    if (o->spin_us > 0 && impl == IMPL_RDV)
        snprintf(spin, sizeof spin, " (waits spin %d us)", o->spin_us);
    fprintf(t, "# rdv bench %s: N=%d, impl %s, %s%s, algo %s, transport "
            "%s%s%s, %s mesh over 127.0.0.1%s\n",
            o->name, n, impl_names[impl],
            o->kind == COLL_BARRIER ? "no data" : rdv_dtype_name(o->type),
            o->kind == COLL_ALLREDUCE ? " sum" : "", algo, res->backend,
            o->busy_poll && impl == IMPL_RDV ? " (busy-poll)" : "", spin,
            o->tcp_mesh ? "pre-connected TCP" : "rendezvous", rounds);
    if (o->kind == COLL_BARRIER)
        fprintf(t, "# %12s %7s %10s %10s\n", "", "iters", "p50(us)",
                "p99(us)");
    else
        fprintf(t, "# %12s %7s %10s %10s %12s %12s\n", "size(B)", "iters",
                "p50(us)", "p99(us)", "algbw(GB/s)", "busbw(GB/s)");
    for (int s = 0; s < res->nsizes; s++) {
        int it = res->iters[s];
        double p50 = median_of_rounds(res->p50, res->nrounds, s);
        double p99 = median_of_rounds(res->p99, res->nrounds, s);
        double algbw = res->size[s] / (p50 * 1e3);

        if (o->kind == COLL_BARRIER)
            fprintf(t, "  %12s %7d %10.1f %10.1f\n", "barrier", it, p50,
                    p99);
        else
            fprintf(t, "  %12zu %7d %10.1f %10.1f %12.3f %12.3f\n",
                    res->size[s], it, p50, p99, algbw, algbw * bus);
        rdv_bench_row_begin(o->out);
        rdv_bench_row_int(o->out, "ranks", n);
        rdv_bench_row_str(o->out, "impl", impl_names[impl]);
        rdv_bench_row_str(o->out, "algo", algo);
        rdv_bench_row_str(o->out, "transport", res->backend);
        rdv_bench_row_str(o->out, "mesh",
                          o->tcp_mesh ? "tcp" : "rendezvous");
        rdv_bench_row_str(o->out, "store", o->tcp_mesh ? NULL : shown);
        rdv_bench_row_str(o->out, "dtype", o->kind == COLL_BARRIER
                                               ? NULL
                                               : rdv_dtype_name(o->type));
        if (o->kind == COLL_BARRIER)
            rdv_bench_row_str(o->out, "size_bytes", NULL);
        else
            rdv_bench_row_int(o->out, "size_bytes", (long long)res->size[s]);
        rdv_bench_row_int(o->out, "iters", it);
        rdv_bench_row_int(o->out, "rounds", res->nrounds);
        rdv_bench_row_num(o->out, "p50_us", p50);
        rdv_bench_row_num(o->out, "p99_us", p99);
        if (o->kind == COLL_BARRIER) {
            rdv_bench_row_str(o->out, "algbw_gbps", NULL);
            rdv_bench_row_str(o->out, "busbw_gbps", NULL);
        } else {
            rdv_bench_row_num(o->out, "algbw_gbps", algbw);
            rdv_bench_row_num(o->out, "busbw_gbps", algbw * bus);
        }
        rdv_bench_row_end(o->out);
    }
    fflush(t);
}

/* "gloo/rdv": per size, the median over the rounds of each round's
 * ratio of Gloo's p50 to librdv's (the two ran side by side). */
static void report_ratio(const bopts *o, const bresult *rdv,
                         const bresult *gloo, int n)
{
    FILE *t = o->out->text;
    double ratio[BENCH_MAX_ROUNDS][BENCH_MAX_SIZES];

    fprintf(t, "# gloo/rdv: N=%d, Gloo's p50 over librdv's, median of %d "
            "rounds' ratios (> 1: librdv is faster)\n", n, rdv->nrounds);
    fprintf(t, "# %12s %10s\n", o->kind == COLL_BARRIER ? "" : "size(B)",
            "p50 ratio");
    for (int s = 0; s < rdv->nsizes; s++) {
        double r;

        for (int k = 0; k < rdv->nrounds; k++)
            ratio[k][s] = gloo->p50[k][s] / rdv->p50[k][s];
        r = median_of_rounds(ratio, rdv->nrounds, s);
        if (o->kind == COLL_BARRIER)
            fprintf(t, "  %12s %10.2f\n", "barrier", r);
        else
            fprintf(t, "  %12zu %10.2f\n", rdv->size[s], r);
        rdv_bench_row_begin(o->out);
        rdv_bench_row_int(o->out, "ranks", n);
        rdv_bench_row_str(o->out, "impl", "gloo/rdv");
        if (o->kind == COLL_BARRIER)
            rdv_bench_row_str(o->out, "size_bytes", NULL);
        else
            rdv_bench_row_int(o->out, "size_bytes", (long long)rdv->size[s]);
        rdv_bench_row_int(o->out, "rounds", rdv->nrounds);
        rdv_bench_row_num(o->out, "p50_ratio", r);
        rdv_bench_row_end(o->out);
    }
    fflush(t);
}

/* One run of impl at N: fork, measure, and keep the result as round
 * `round` of res. */
static int run_n(const bopts *o, bench_impl impl, int n, int round,
                 bresult *res)
{
    static int runs; /* each run's job is its own */
    size_t es = rdv_dtype_size(o->type), map;
    bshared *sh;
    rdv_store *store = NULL;
    int *fds = NULL, ok = 1, nsizes = 0, run = runs++;
    pid_t pids[BENCH_MAX_RANKS];
    char err[256];

    map = sizeof *sh + sizeof(int64_t) * BENCH_MAX_SIZES * (size_t)n *
                           BENCH_MAX_ITERS;
    sh = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
              -1, 0);
    if (sh == MAP_FAILED) {
        fprintf(stderr, "rdv bench: mmap: %s\n", strerror(errno));
        return RDV_EXIT_FAIL;
    }
    for (size_t b = o->min_size; b <= o->max_size && nsizes < BENCH_MAX_SIZES;
         b *= 2) {
        sh->size[nsizes] = b < es ? es : b - b % es;
        sh->iters[nsizes++] = iters_for(o, b);
        if (o->kind == COLL_BARRIER)
            break;
    }
    sh->nsizes = nsizes;
    if (o->tcp_mesh) {
        fds = malloc(sizeof *fds * (size_t)n * (size_t)n);
        if (!fds || tcp_mesh(n, fds)) {
            fprintf(stderr, "rdv bench: cannot build the TCP mesh\n");
            ok = 0;
        }
    } else if (rdv_store_open(o->store_url, &store, err, sizeof err)) {
        char shown[512];

        fprintf(stderr, "rdv bench: %s: %s\n",
                rdv_url_redact(o->store_url, shown, sizeof shown), err);
        ok = 0;
    }
    fflush(NULL);
    for (int r = 0; r < n && ok; r++) {
        pids[r] = fork();
        if (pids[r] == 0)
            rank_main(o, impl, run, sh, store, fds, n, r);
        if (pids[r] < 0) {
            ok = 0;
            for (int k = 0; k < r; k++)
                kill(pids[k], SIGKILL);
            n = r;
        }
    }
    if (fds)
        close_fds(fds, n, -1);
    for (int r = 0; r < n; r++) {
        int st;
        if (waitpid(pids[r], &st, 0) != pids[r] || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0)
            ok = 0;
    }
    if (ok && !sh->failed)
        summarize(sh, n, round, res);
    else
        fprintf(stderr, "rdv bench %s: N=%d (%s) failed: %s\n", o->name, n,
                impl_names[impl],
                sh->error[0] ? sh->error : "a rank did not finish");
    ok = ok && !sh->failed;
    free(fds);
    if (store)
        rdv_store_close(store);
    munmap(sh, map);
    return ok ? RDV_EXIT_OK : RDV_EXIT_FAIL;
}

/* Every round of every implementation at N, taking turns (the first of
 * each round alternates), then the tables. */
static int bench_n(const bopts *o, int n)
{
    static bresult res[IMPL_COUNT];
    int rc = RDV_EXIT_OK;

    for (int k = 0; k < o->rounds && rc == RDV_EXIT_OK; k++)
        for (int i = 0; i < IMPL_COUNT && rc == RDV_EXIT_OK; i++) {
            bench_impl impl = (bench_impl)(k % 2 ? IMPL_COUNT - 1 - i : i);

            if (o->impls & 1u << impl)
                rc = run_n(o, impl, n, k, &res[impl]);
        }
    if (rc != RDV_EXIT_OK)
        return rc;
    for (int i = 0; i < IMPL_COUNT; i++)
        if (o->impls & 1u << i)
            report(o, (bench_impl)i, &res[i], n);
    if (o->impls == (1u << IMPL_RDV | 1u << IMPL_GLOO))
        report_ratio(o, &res[IMPL_RDV], &res[IMPL_GLOO], n);
    return rc;
}

static void usage(FILE *f, const char *name, coll_kind kind)
{
    if (kind == COLL_BARRIER)
        fprintf(f,
                "usage: rdv bench barrier [options]\n"
                "\n"
                "Forks N ranks that build a TCP mesh over 127.0.0.1 and "
                "times barrier,\nwhich moves no data (OSU style: p50/p99 "
                "of the slowest rank per call).\n"
                "\n"
                "  -n, --ranks LIST     rank counts, comma-separated (2,4)\n"
                "  -i, --iters N        most timed calls (1000)\n"
                "  -a, --algo NAME      auto or dissemination\n");
    else
        fprintf(f,
                "usage: rdv bench %s [options]\n"
                "\n"
                "Forks N ranks that build a TCP mesh over 127.0.0.1 and "
                "times %s\nagainst message size (OSU style: p50/p99 of the "
                "slowest rank per call,\nalgbw = bytes/p50, busbw = "
                "algbw*2(n-1)/n for allreduce).\n"
                "\n"
                "  -n, --ranks LIST     rank counts, comma-separated (2,4)\n"
                "      --min-size B     smallest message in bytes (4)\n"
                "      --max-size B     largest message, K/M suffixes ok "
                "(16M)\n"
                "  -i, --iters N        most timed calls per size (1000)\n"
                "  -a, --algo NAME      auto; %s\n"
                "  -d, --dtype NAME     float, double, int32, int64 "
                "(float)\n",
                name, name,
                kind == COLL_ALLREDUCE ? "ring, hd, rd" : "binomial, chain");
    fprintf(f,
            "  -t, --transport B    uring or epoll ($RDV_TRANSPORT, else "
            "uring)\n"
            "  -s, --store URL      rendezvous store (hash:?shared=1)\n"
            "      --mesh KIND      rendezvous or tcp (pre-connected "
            "loopback pairs)\n"
            "      --timeout MS     per-call timeout (60000)\n"
            "      --busy-poll      spin instead of sleeping in waits "
            "(opt-in)\n"
            "      --spin-us US     waits spin up to US microseconds "
            "before sleeping\n"
            "                       (opt-in; 0 = off, the default)\n"
            "      --impl I         rdv or gloo (repeatable; default rdv): "
            "gloo times\n"
            "                       Gloo's collectives, its own "
            "algorithms, over the\n"
            "                       same store (--algo, --transport, "
            "--busy-poll are\n"
            "                       librdv's; no --mesh tcp)\n"
            "      --rounds K       K runs of each implementation, taking "
            "turns; the\n"
            "                       tables give medians, and with both a "
            "gloo/rdv\n"
            "                       ratio table (default 5 with both, else "
            "1)\n"
            "      --json           JSON lines on stdout, one per size (the\n"
            "                       table goes to stderr; README, JSON)\n"
            "  -h, --help           this text\n"
            "\n"
            RDV_EXIT_HELP_BENCH);
}

/* An algorithm name, if it is one of the collective's own: a usage
 * error told before any rank forks, not a failed call in every rank. */
static int parse_algo(const char *s, coll_kind kind, rdv_algo *a)
{
#define K(k) (1u << (k))
    static const struct {
        const char *name;
        rdv_algo a;
        unsigned kinds;
    } names[] = {
        {"auto", RDV_ALGO_AUTO,
         K(COLL_ALLREDUCE) | K(COLL_BROADCAST) | K(COLL_BARRIER)},
        {"ring", RDV_ALGO_RING, K(COLL_ALLREDUCE)},
        {"hd", RDV_ALGO_HALVING_DOUBLING, K(COLL_ALLREDUCE)},
        {"halving-doubling", RDV_ALGO_HALVING_DOUBLING, K(COLL_ALLREDUCE)},
        {"rd", RDV_ALGO_RECURSIVE_DOUBLING, K(COLL_ALLREDUCE)},
        {"recursive-doubling", RDV_ALGO_RECURSIVE_DOUBLING,
         K(COLL_ALLREDUCE)},
        {"binomial", RDV_ALGO_BINOMIAL, K(COLL_BROADCAST)},
        {"chain", RDV_ALGO_CHAIN, K(COLL_BROADCAST)},
        {"dissemination", RDV_ALGO_DISSEMINATION, K(COLL_BARRIER)}};
#undef K

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name) && (names[i].kinds & (1u << kind))) {
            *a = names[i].a;
            return 0;
        }
    return -1;
}

static int parse_dtype(const char *s, rdv_dtype *t)
{
    for (int i = RDV_INT32; i <= RDV_DOUBLE; i++)
        if (!strcmp(s, rdv_dtype_name((rdv_dtype)i))) {
            *t = (rdv_dtype)i;
            return 0;
        }
    return -1;
}

static int bad(const char *name, const char *what, const char *arg)
{
    char prog[64], why[512];

    snprintf(prog, sizeof prog, "rdv bench %s", name);
    snprintf(why, sizeof why, "bad %s '%s'", what, arg);
    return rdv_cli_usage_error(prog, why);
}

/* A number the one parser refused: err names the option and the text. */
static int bad_number(const char *name, const char *err)
{
    char prog[64];

    snprintf(prog, sizeof prog, "rdv bench %s", name);
    return rdv_cli_usage_error(prog, err);
}

int rdv_cmd_bench_collectives(int argc, char **argv)
{
    enum { OPT_MIN = 256, OPT_MAX, OPT_MESH, OPT_TIMEOUT, OPT_BUSY,
           OPT_SPIN,
           OPT_JSON, OPT_IMPL, OPT_ROUNDS };
    static const struct option longs[] = {
        {"ranks", required_argument, NULL, 'n'},
        {"min-size", required_argument, NULL, OPT_MIN},
        {"max-size", required_argument, NULL, OPT_MAX},
        {"iters", required_argument, NULL, 'i'},
        {"algo", required_argument, NULL, 'a'},
        {"dtype", required_argument, NULL, 'd'},
        {"transport", required_argument, NULL, 't'},
        {"store", required_argument, NULL, 's'},
        {"mesh", required_argument, NULL, OPT_MESH},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"busy-poll", no_argument, NULL, OPT_BUSY},
        {"spin-us", required_argument, NULL, OPT_SPIN},
        {"json", no_argument, NULL, OPT_JSON},
        {"impl", required_argument, NULL, OPT_IMPL},
        {"rounds", required_argument, NULL, OPT_ROUNDS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bopts o = {.ranks = {2, 4}, .nranks = 2, .min_size = 4,
               .max_size = 16u << 20, .iters = BENCH_MAX_ITERS,
               .type = RDV_FLOAT, .store_url = "hash:?shared=1",
               .timeout_ms = 60000};
    const char *name = argc > 0 ? argv[0] : "allreduce";
    int c, rc = RDV_EXIT_OK, json = 0;
    char err[256], prog[64];
    rdv_cli_args a;
    rdv_bench_out out;

    if (!strcmp(name, "allreduce"))
        o.kind = COLL_ALLREDUCE;
    else if (!strcmp(name, "broadcast"))
        o.kind = COLL_BROADCAST;
    else if (!strcmp(name, "barrier"))
        o.kind = COLL_BARRIER;
    else
        return bad("collectives", "collective", name);
    o.name = name;
    snprintf(prog, sizeof prog, "rdv bench %s", name);
    rdv_cli_args_init(&a, prog, argc, argv, "n:i:a:d:t:s:h", longs);
    while ((c = rdv_cli_args_next(&a)) != -1) {
        const char *arg = a.arg;

        if (o.kind == COLL_BARRIER && (c == OPT_MIN || c == OPT_MAX ||
                                       c == 'd'))
            return rdv_cli_usage_error(prog, "barrier moves no data: it "
                                       "takes no --min-size, --max-size "
                                       "or --dtype");
        switch (c) {
        case 'n':
            if (rdv_cli_int_list("--ranks", arg, 1, BENCH_MAX_RANKS,
                                 o.ranks, 8, &o.nranks, err, sizeof err))
                return bad_number(name, err);
            break;
        case OPT_MIN:
            if (rdv_size_parse_message(arg, &o.min_size))
                return bad(name, "--min-size", arg);
            break;
        case OPT_MAX:
            if (rdv_size_parse_message(arg, &o.max_size))
                return bad(name, "--max-size", arg);
            break;
        case 'i':
            if (rdv_cli_int("--iters", arg, 1, BENCH_MAX_ITERS, &o.iters,
                            err, sizeof err))
                return bad_number(name, err);
            break;
        case 'a':
            if (parse_algo(arg, o.kind, &o.algo))
                return bad(name, "algorithm", arg);
            break;
        case 'd':
            if (parse_dtype(arg, &o.type))
                return bad(name, "dtype", arg);
            break;
        case 't':
            o.transport = arg;
            break;
        case 's':
            o.store_url = arg;
            break;
        case OPT_MESH:
            if (strcmp(arg, "tcp") && strcmp(arg, "rendezvous"))
                return bad(name, "mesh (rendezvous or tcp)", arg);
            o.tcp_mesh = !strcmp(arg, "tcp");
            break;
        case OPT_TIMEOUT:
            if (rdv_cli_int("--timeout", arg, 1, 3600000, &o.timeout_ms,
                            err, sizeof err))
                return bad_number(name, err);
            break;
        case OPT_BUSY:
            o.busy_poll = 1;
            break;
        case OPT_SPIN:
            if (rdv_cli_int("--spin-us", arg, 0, 1000000, &o.spin_us, err,
                            sizeof err))
                return bad_number(name, err);
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_IMPL:
            if (strcmp(arg, "rdv") && strcmp(arg, "gloo"))
                return rdv_cli_usage_error(prog, "--impl wants rdv or gloo");
            o.impls |= 1u << (strcmp(arg, "rdv") ? IMPL_GLOO : IMPL_RDV);
            break;
        case OPT_ROUNDS:
            if (rdv_cli_int("--rounds", arg, 1, BENCH_MAX_ROUNDS, &o.rounds,
                            err, sizeof err))
                return bad_number(name, err);
            break;
        case 'h':
            usage(stdout, name, o.kind);
            return RDV_EXIT_OK;
        default:
            return rdv_cli_usage_error(prog, a.err);
        }
    }
    if (o.min_size > o.max_size)
        return bad(name, "size range", "--min-size > --max-size");
    if (!o.impls)
        o.impls = 1u << IMPL_RDV;
    if (!o.rounds)
        o.rounds = o.impls == (1u << IMPL_RDV | 1u << IMPL_GLOO) ? 5 : 1;
    if (o.impls & 1u << IMPL_GLOO) {
        /* Gloo's module loads here, before any fork (rank_gloo.h). */
        rdv_run_config probe = {.nranks = 2};
        const char *why = rdv_rank_gloo_unmet(&probe);

        if (why)
            return rdv_cli_usage_error(prog, why);
        if (o.tcp_mesh)
            return rdv_cli_usage_error(prog, "--impl gloo: --mesh tcp hands "
                                       "librdv pre-connected sockets; Gloo "
                                       "makes its own pairs");
    }
    rdv_bench_out_init(&out, name, json);
    o.out = &out;
    for (int i = 0; i < o.nranks && rc == RDV_EXIT_OK; i++)
        rc = bench_n(&o, o.ranks[i]);
    return rdv_bench_out_finish(&out, rc);
}
