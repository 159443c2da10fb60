/*
 * harness/bench/bench_rendezvous.c - `rdv bench rendezvous`: how long a full
 * mesh takes against N, per store and transport backend.
 *
 * One run forks N ranks over one store. Each rank creates its context,
 * connects the mesh, runs a barrier, destroys the context and exits;
 * it writes its CLOCK_MONOTONIC timestamps into a shared mapping. The
 * parent reports, over several runs, median and p90 of
 *   total    fork of the first rank -> every rank reaped,
 *   mesh up  first rank entering connect -> last rank connected,
 * and the CPU time (user + system) all ranks used, which unlike wall
 * time does not depend on what else the machine is running.
 * Stores: "hash" (hash:?shared=1, opened before fork and inherited),
 * "file" (a fresh temporary directory per run, opened by each rank), or
 * any URL (opened by each rank unless it is inherited; its keys must
 * not clash with another job: the job name is unique per run).
 *
 * Large N needs one fd per peer in every rank: the soft RLIMIT_NOFILE
 * is raised as `rdv run` raises it (run/fd_limit.h), and sizes that
 * still do not fit are skipped with a note.
 *
 * --impl gloo adds a row "gloo": the same fork, store and barrier through
 * Gloo's rendezvous (connectFullMesh on its TCP device, run/rank_gloo.h),
 * scoped to the run's job name. The rows of one store and N take turns
 * run by run, so a noisy machine slows them alike, and a "gloo/<row>"
 * line gives the ratios of the medians against each librdv row.
 *
 * --impl floor adds a row "floor": the same fork and the same mesh of
 * loopback connections with one 40-byte hello and reply each, and
 * nothing of librdv (no store, no checks, no context; its barrier is a
 * counter in shared memory, not messages; mesh_floor.c), so a
 * "<row>/floor" line says how far a librdv row is above what the
 * kernel's TCP alone costs on this machine at this N. The floor does
 * less than a rendezvous must (librdv's total also holds its store
 * calls and a barrier over TCP), so the ratio bounds librdv's overhead
 * from above. It uses no store: with several --store it runs in each
 * cell, beside that store's rows.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_json.h"
#include "bench/mesh_floor.h"
#include "bench/samples.h"
#include "commands/commands.h"
#include "common/cli_args.h"
#include "common/number.h"
#include "rdv/clock.h"
#include "rdv/collectives.h"
#include "rdv/context.h"
#include "rdv/store.h"
#include "rdv/url.h"
#include "run/fd_limit.h"
#include "run/rank_gloo.h"

#define MAX_LIST 16

typedef struct rank_times {
    int64_t start_ns, up_ns;
    int status;
    char msg[512];
} rank_times;

typedef struct bopts {
    const char *stores[MAX_LIST];
    int nstores;
    const char *backends[2];
    int nbackends;
    int rdv, gloo, floor; /* --impl: which implementations have rows */
    const char *rows[4]; /* the backends, then "gloo", then "floor" */
    int nrows;
    int sizes[MAX_LIST];
    int nsizes;
    int runs;
    int timeout_ms;
    const char *bind;
    int json;
    int *ports; /* the floor's ports and barrier, shared with the ranks */
} bopts;

static void usage(FILE *f)
{
    fputs("usage: rdv bench rendezvous [options]\n"
          "\n"
          "Forks N ranks over a store, connects the full mesh, runs a\n"
          "barrier and exits; reports median and p90 of fork -> all exited\n"
          "and of the mesh-up time alone.\n"
          "\n"
          "  --store S        hash, file, or a store URL (repeatable;\n"
          "                   default: hash and file)\n"
          "  --transport T    uring or epoll (repeatable; default: both)\n"
          "  --impl I         rdv, gloo or floor (repeatable; default rdv):\n"
          "                   gloo adds a row of Gloo's connectFullMesh,\n"
          "                   floor one of the same loopback TCP mesh with\n"
          "                   nothing of librdv (no store, no checks; a\n"
          "                   shared-memory barrier); their runs take turns\n"
          "                   with librdv's, and lines give the ratios\n"
          "  --sizes LIST     rank counts, e.g. 2,8,64 (default\n"
          "                   2,8,32,64,128,256; 1024 works when the fd\n"
          "                   limit allows)\n"
          "  --runs R         runs per cell (default 5)\n"
          "  --timeout MS     rendezvous deadline per rank (default 60000)\n"
          "  --bind ADDR      listening address (default 127.0.0.1)\n"
          "  --json           JSON lines on stdout, one per row (the table\n"
          "                   goes to stderr; README, JSON)\n"
          "  --help\n"
          "\n"
          RDV_EXIT_HELP_BENCH,
          f);
}

static int parse_sizes(const char *s, bopts *o, char *err, size_t errlen)
{
    return rdv_cli_int_list("--sizes", s, 2, 4096, o->sizes, MAX_LIST,
                            &o->nsizes, err, errlen);
}

static int parse(int argc, char **argv, bopts *o)
{
    static const struct option longs[] = {
        {"store", required_argument, NULL, 's'},
        {"transport", required_argument, NULL, 't'},
        {"impl", required_argument, NULL, 'i'},
        {"sizes", required_argument, NULL, 'n'},
        {"runs", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 'T'},
        {"bind", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[256];
    int c, bad = 0;
    rdv_cli_args a;

    memset(o, 0, sizeof *o);
    o->runs = 5;
    o->timeout_ms = 60000;
    o->bind = "127.0.0.1";
    parse_sizes("2,8,32,64,128,256", o, err, sizeof err);
    rdv_cli_args_init(&a, "rdv bench rendezvous", argc, argv, "h", longs);
    while (!bad && (c = rdv_cli_args_next(&a)) != -1) {
        switch (c) {
        case 's':
            if (o->nstores == MAX_LIST)
                return rdv_cli_usage_error("rdv bench rendezvous",
                                           "too many --store");
            o->stores[o->nstores++] = a.arg;
            break;
        case 't':
            if ((strcmp(a.arg, "uring") && strcmp(a.arg, "epoll")) ||
                o->nbackends == 2) {
                return rdv_cli_usage_error("rdv bench rendezvous",
                                           "--transport wants uring or "
                                           "epoll, each at most once");
            }
            o->backends[o->nbackends++] = a.arg;
            break;
        case 'i':
            if (!strcmp(a.arg, "rdv"))
                o->rdv = 1;
            else if (!strcmp(a.arg, "gloo"))
                o->gloo = 1;
            else if (!strcmp(a.arg, "floor"))
                o->floor = 1;
            else
                return rdv_cli_usage_error("rdv bench rendezvous",
                                           "--impl wants rdv, gloo or "
                                           "floor");
            break;
        case 'n':
            bad = parse_sizes(a.arg, o, err, sizeof err);
            break;
        case 'r':
            bad = rdv_cli_int("--runs", a.arg, 1, 1000, &o->runs, err,
                              sizeof err);
            break;
        case 'T':
            bad = rdv_cli_int("--timeout", a.arg, 1, 3600000,
                              &o->timeout_ms, err, sizeof err);
            break;
        case 'b':
            o->bind = a.arg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return rdv_cli_usage_error("rdv bench rendezvous", a.err);
        }
    }
    if (bad)
        return rdv_cli_usage_error("rdv bench rendezvous", err);
    if (o->floor && strcmp(o->bind, "127.0.0.1"))
        return rdv_cli_usage_error("rdv bench rendezvous",
                                   "--impl floor listens on 127.0.0.1 "
                                   "only: drop --bind, or run the floor "
                                   "without it");
    if (!o->nstores) {
        o->stores[o->nstores++] = "hash";
        o->stores[o->nstores++] = "file";
    }
    if (!o->nbackends) {
        o->backends[o->nbackends++] = "uring";
        o->backends[o->nbackends++] = "epoll";
    }
    if (!o->gloo && !o->floor)
        o->rdv = 1;
    for (int i = 0; o->rdv && i < o->nbackends; i++)
        o->rows[o->nrows++] = o->backends[i];
    if (o->gloo) {
        /* Gloo's module loads here, before any fork (rank_gloo.h). */
        rdv_run_config probe = {.nranks = 2};
        const char *why = rdv_rank_gloo_unmet(&probe);

        if (why)
            return rdv_cli_usage_error("rdv bench rendezvous", why);
        o->rows[o->nrows++] = "gloo";
    }
    if (o->floor)
        o->rows[o->nrows++] = "floor";
    return 0;
}

/* The Gloo row's rank: the store scoped to the job, Gloo's rendezvous,
 * a barrier through Gloo, exit (Gloo leaves its keys: it has no
 * delete). */
static void rank_gloo(const bopts *o, rdv_store *s, const char *job, int n,
                      int rank, rank_times *t)
{
    rdv_run_config cfg = {.nranks = n, .timeout_ms = o->timeout_ms};
    rdv_rank_gloo *g = NULL;
    rdv_store *scoped = NULL;
    int ret = rdv_store_prefix_open(s, job, &scoped);

    if (ret != RDV_OK)
        snprintf(t->msg, sizeof t->msg, "prefix '%s': %s", job,
                 rdv_strerror(ret));
    else
        ret = rdv_rank_gloo_connect(scoped, rank, &cfg, NULL, &g, t->msg,
                                    sizeof t->msg);
    t->up_ns = rdv_now_ns();
    if (ret == RDV_OK)
        ret = rdv_rank_gloo_ops()->barrier(g, t->msg, sizeof t->msg);
    t->status = ret;
    rdv_rank_gloo_destroy(g);
    rdv_store_close(scoped);
    exit(ret == RDV_OK ? 0 : 1);
}

/* The floor row's rank: the bare mesh (mesh_floor.c), then exit. */
static void rank_floor(const bopts *o, int n, int rank, rank_times *t)
{
    int ret = rdv_mesh_floor_run(n, rank, o->ports, o->timeout_ms,
                                 &t->up_ns, t->msg, sizeof t->msg);

    t->status = ret ? RDV_EIO : RDV_OK;
    exit(ret ? 1 : 0);
}

static void rank_main(const bopts *o, const char *backend, rdv_store *s,
                      const char *url, const char *job, int n, int rank,
                      rank_times *t)
{
    rdv_context_options co = rdv_context_options_default();
    rdv_context *ctx = NULL;
    char err[256];
    int ret;

    t->start_ns = rdv_now_ns();
    if (!strcmp(backend, "floor"))
        rank_floor(o, n, rank, t);
    if (!s || !rdv_store_is_inherited(s)) {
        s = NULL;
        ret = rdv_store_open(url, &s, err, sizeof err);
        if (ret != RDV_OK) {
            t->status = ret;
            snprintf(t->msg, sizeof t->msg, "%s", err);
            exit(1);
        }
    }
    if (!strcmp(backend, "gloo"))
        rank_gloo(o, s, job, n, rank, t);
    co.rank = rank;
    co.size = n;
    co.job = job;
    co.timeout_ms = o->timeout_ms;
    co.transport = backend;
    co.bind = o->bind;
    ret = rdv_context_create(&co, &ctx, err, sizeof err);
    if (ret == RDV_OK)
        ret = rdv_context_connect_full_mesh(ctx, s);
    t->up_ns = rdv_now_ns();
    if (ret == RDV_OK)
        ret = rdv_barrier(ctx, NULL);
    t->status = ret;
    if (ret != RDV_OK)
        snprintf(t->msg, sizeof t->msg, "%s",
                 ctx ? rdv_context_errmsg(ctx) : err);
    rdv_context_destroy(ctx);
    exit(ret == RDV_OK ? 0 : 1);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[600];

    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* One run; returns 0 and the two times in ms, or -1 (message printed). */
static double children_cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int one_run(const bopts *o, const char *store, const char *backend,
                   int n, int seq, rank_times *t, double *total_ms,
                   double *up_ms, double *cpu_ms)
{
    char url[600], dir[64] = "", job[64], err[256];
    rdv_store *s = NULL;
    int64_t t0, first = INT64_MAX, last = 0;
    int failed = 0, spawned = 0, shown = 0;
    pid_t *pids = calloc((size_t)n, sizeof *pids);

    if (!pids)
        return -1;
    snprintf(job, sizeof job, "bench-%d-%d-%d", (int)getpid(), n, seq);
    if (!strcmp(backend, "floor")) {
        memset(o->ports, 0, sizeof *o->ports * (size_t)(n + 1));
        goto forks; /* no store */
    }
    if (!strcmp(store, "hash")) {
        snprintf(url, sizeof url, "hash:?shared=1&size=256");
    } else if (!strcmp(store, "file")) {
        snprintf(dir, sizeof dir, "/tmp/rdv-bench-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            free(pids);
            return -1;
        }
        snprintf(url, sizeof url, "file://%s", dir);
    } else {
        snprintf(url, sizeof url, "%s", store);
    }
    if (rdv_store_open(url, &s, err, sizeof err) != RDV_OK) {
        char masked[512];

        fprintf(stderr, "rdv bench rendezvous: %s: %s\n",
                rdv_url_redact(url, masked, sizeof masked), err);
        failed = 1;
        goto out;
    }
forks:
    memset(t, 0, sizeof *t * (size_t)n);
    fflush(NULL);
    *cpu_ms = children_cpu_ms();
    t0 = rdv_now_ns();
    for (int r = 0; r < n; r++, spawned++) {
        pids[r] = fork();
        if (pids[r] < 0) {
            perror("fork");
            failed = 1;
            break;
        }
        if (pids[r] == 0) {
            free(pids); /* the parent's; a rank never returns */
            rank_main(o, backend, s, url, job, n, r, &t[r]);
        }
    }
    for (int r = 0; r < spawned; r++) {
        int st;

        if (failed)
            kill(pids[r], SIGKILL);
        while (waitpid(pids[r], &st, 0) < 0)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (shown++ < 3)
                fprintf(stderr, "rank %d failed (status %#x): %s\n", r, st,
                        t[r].msg[0] ? t[r].msg : "killed");
            failed = 1;
        }
    }
    *total_ms = (double)(rdv_now_ns() - t0) / 1e6;
    *cpu_ms = children_cpu_ms() - *cpu_ms;
    for (int r = 0; r < n; r++) {
        if (t[r].start_ns && t[r].start_ns < first)
            first = t[r].start_ns;
        if (t[r].up_ns > last)
            last = t[r].up_ns;
    }
    *up_ms = (double)(last - first) / 1e6;
out:
    rdv_store_close(s);
    if (dir[0])
        remove_dir(dir);
    free(pids);
    return failed ? -1 : 0;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, int n, int p)
{
    int i = (p * n + 99) / 100 - 1;

    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* A cell that has no numbers: a note in the table and in the JSON row. */
static void cell_note(rdv_bench_out *out, const char *store,
                      const char *backend, int n, const char *note)
{
    char shown[512];

    fprintf(out->text, "%-6s %-6s %6d  %s\n", store, backend, n, note);
    rdv_bench_row_begin(out);
    rdv_bench_row_str(out, "store", rdv_url_redact(store, shown,
                                                   sizeof shown));
    rdv_bench_row_str(out, "transport", backend);
    rdv_bench_row_int(out, "ranks", n);
    rdv_bench_row_int(out, "runs", 0);
    rdv_bench_row_str(out, "note", note);
    rdv_bench_row_end(out);
}

static int fits(int n)
{
    char note[512];

    return rdv_fd_limit_raise(rdv_fd_limit_for_ranks(n), "ranks", note,
                              sizeof note) == 0;
}

/* One row's samples over the runs of a cell, sorted once complete. */
typedef struct row_samples {
    double *total, *up, *cpu;
    int ok;
} row_samples;

static void row_print(rdv_bench_out *out, const char *store,
                      const char *row, int n, int runs, row_samples *x)
{
    char shown[512];

    rdv_samples_sort_double(x->total, (size_t)x->ok);
    rdv_samples_sort_double(x->up, (size_t)x->ok);
    rdv_samples_sort_double(x->cpu, (size_t)x->ok);
    fprintf(out->text, "%-6.6s %-6s %6d %5d %9.1f ms %9.1f ms %9.1f ms "
            "%9.1f ms %9.1f ms\n", store, row, n, x->ok,
            pct(x->total, x->ok, 50), pct(x->total, x->ok, 90),
            pct(x->up, x->ok, 50), pct(x->up, x->ok, 90),
            pct(x->cpu, x->ok, 50));
    fflush(out->text);
    rdv_bench_row_begin(out);
    rdv_bench_row_str(out, "store", rdv_url_redact(store, shown,
                                                   sizeof shown));
    rdv_bench_row_str(out, "transport", row);
    rdv_bench_row_int(out, "ranks", n);
    rdv_bench_row_int(out, "runs", x->ok);
    rdv_bench_row_int(out, "runs_failed", runs - x->ok);
    rdv_bench_row_num(out, "total_p50_ms", pct(x->total, x->ok, 50));
    rdv_bench_row_num(out, "total_p90_ms", pct(x->total, x->ok, 90));
    rdv_bench_row_num(out, "mesh_p50_ms", pct(x->up, x->ok, 50));
    rdv_bench_row_num(out, "mesh_p90_ms", pct(x->up, x->ok, 90));
    rdv_bench_row_num(out, "cpu_p50_ms", pct(x->cpu, x->ok, 50));
    rdv_bench_row_end(out);
}

/* "gloo/uring", "uring/floor": one row's medians over another's, from
 * one cell. */
static void ratio_print(rdv_bench_out *out, const char *store,
                        const char *top, const char *row, int n,
                        const row_samples *g, const row_samples *r)
{
    char shown[512];
    double t = pct(g->total, g->ok, 50) / pct(r->total, r->ok, 50);
    double u = pct(g->up, g->ok, 50) / pct(r->up, r->ok, 50);
    double c = pct(g->cpu, g->ok, 50) / pct(r->cpu, r->ok, 50);

    char label[16];
    int w = snprintf(label, sizeof label, "%s/%s", top, row);

    /* label and N share the width of the trans and N columns (13) */
    fprintf(out->text, "%-6.6s %s %*d %5s %9.2f x %12s %9.2f x %12s "
            "%9.2f x\n", store, label, w < 12 ? 12 - w : 1, n, "", t, "",
            u, "", c);
    rdv_bench_row_begin(out);
    rdv_bench_row_str(out, "store", rdv_url_redact(store, shown,
                                                   sizeof shown));
    rdv_bench_row_str(out, "ratio", top);
    rdv_bench_row_str(out, "over", row);
    rdv_bench_row_int(out, "ranks", n);
    rdv_bench_row_num(out, "total_p50_ratio", t);
    rdv_bench_row_num(out, "mesh_p50_ratio", u);
    rdv_bench_row_num(out, "cpu_p50_ratio", c);
    rdv_bench_row_end(out);
}

int rdv_cmd_bench_rendezvous(int argc, char **argv)
{
    bopts o;
    int ret = parse(argc, argv, &o), status = RDV_EXIT_OK;
    int maxn = 2;

    if (ret)
        return ret < 0 ? RDV_EXIT_OK : ret;
    for (int i = 0; i < o.nsizes; i++)
        if (o.sizes[i] > maxn)
            maxn = o.sizes[i];
    rank_times *t = mmap(NULL, sizeof *t * (size_t)maxn,
                         PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                         -1, 0);
    double *all = calloc((size_t)(3 * o.runs * o.nrows), sizeof *all);
    row_samples x[4];
    int nlib = o.nrows - o.gloo - o.floor; /* librdv's rows come first */

    o.ports = mmap(NULL, sizeof *o.ports * (size_t)(maxn + 1),
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (t == MAP_FAILED || o.ports == MAP_FAILED || !all) {
        fprintf(stderr, "rdv bench rendezvous: out of memory\n");
        free(all);
        return RDV_EXIT_CANNOT_RUN;
    }
    for (int b = 0; b < o.nrows; b++)
        x[b] = (row_samples){.total = all + (3 * b) * o.runs,
                             .up = all + (3 * b + 1) * o.runs,
                             .cpu = all + (3 * b + 2) * o.runs};
    rdv_bench_out out;

    rdv_bench_out_init(&out, "rendezvous", o.json);
    fprintf(out.text, "%-6s %-6s %6s %5s %12s %12s %12s %12s %12s\n",
            "store", "trans", "N", "runs", "total p50", "total p90",
            "mesh p50", "mesh p90", "cpu p50");
    for (int si = 0; si < o.nstores; si++)
        for (int ni = 0; ni < o.nsizes; ni++) {
            int n = o.sizes[ni];

            if (!fits(n)) {
                for (int b = 0; b < o.nrows; b++)
                    cell_note(&out, o.stores[si], o.rows[b], n,
                              "skipped: RLIMIT_NOFILE too low");
                continue;
            }
            for (int b = 0; b < o.nrows; b++)
                x[b].ok = 0;
            /* The rows take turns, run by run. */
            for (int r = 0; r < o.runs; r++)
                for (int b = 0; b < o.nrows; b++)
                    if (one_run(&o, o.stores[si], o.rows[b], n,
                                r * o.nrows + b, t, &x[b].total[x[b].ok],
                                &x[b].up[x[b].ok], &x[b].cpu[x[b].ok]) == 0)
                        x[b].ok++;
            for (int b = 0; b < o.nrows; b++) {
                if (x[b].ok < o.runs)
                    status = RDV_EXIT_FAIL;
                if (x[b].ok)
                    row_print(&out, o.stores[si], o.rows[b], n, o.runs,
                              &x[b]);
                else
                    cell_note(&out, o.stores[si], o.rows[b], n,
                              "every run failed");
            }
            for (int b = 0; b < nlib + o.gloo; b++) {
                const row_samples *fl = &x[o.nrows - 1];

                if (o.gloo && b < nlib && x[nlib].ok && x[b].ok)
                    ratio_print(&out, o.stores[si], "gloo", o.rows[b], n,
                                &x[nlib], &x[b]);
                if (o.floor && fl->ok && x[b].ok)
                    ratio_print(&out, o.stores[si], o.rows[b], "floor", n,
                                &x[b], fl);
            }
        }
    munmap(t, sizeof *t * (size_t)maxn);
    munmap(o.ports, sizeof *o.ports * (size_t)(maxn + 1));
    free(all);
    return rdv_bench_out_finish(&out, status);
}
