/*
 * harness/bench/bench_store_rdv.c - `rdv bench store-rendezvous`: the
 * rendezvous a store alone gives, without the mesh: N processes each set
 * their own key, wait for all N keys and read them all (one multi_get),
 * against any store URL. It is what a launcher's store pays per job
 * start, and the number c10d's TCPStore is compared on.
 *
 * Each run forks N processes. A process opens the URL (an inherited
 * store, such as hash:?shared=1, is opened once before fork instead)
 * and makes one round trip (a check of a key nobody sets) so that a
 * store connecting lazily is connected; then all meet at a
 * process-shared barrier. The rendezvous time of a run is from the
 * first process leaving the barrier to the last one holding every
 * value; "connect" is fork to the last process at the barrier. Median,
 * min and max over the runs; the last line is easy to parse:
 *   median rendezvous_ms=4.21 connect_ms=12.05
 * Keys live under "rdv-bench-srdv/<pid>/<run>/" and are deleted.
 */
#define _GNU_SOURCE /* asprintf */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_json.h"
#include "bench/samples.h"
#include "commands/commands.h"
#include "common/cli_args.h"
#include "common/number.h"
#include "rdv/clock.h"
#include "rdv/store.h"
#include "rdv/url.h"

#define MAX_PROCS 1024
#define MAX_RUNS 100

typedef struct srdv_opts {
    const char *url;
    int procs, runs, timeout_ms, vsize, json;
} srdv_opts;

typedef struct srdv_proc {
    int64_t ready_ns, start_ns, done_ns;
    int failed;
    char error[600];
} srdv_proc;

typedef struct srdv_shared {
    pthread_barrier_t barrier;
    srdv_proc p[];
} srdv_shared;

static const char usage[] =
    "usage: rdv bench store-rendezvous --store URL [options]\n"
    "\n"
    "N processes each set their own key, wait for all N keys and read\n"
    "them all (one multi_get): the rendezvous a store alone gives.\n"
    "Reports median, min and max over the runs of the time from the\n"
    "first process starting to the last one holding every value, and of\n"
    "fork -> every process connected.\n"
    "\n"
    "  --store URL       any store (tcp://host:port, redis://..., ...)\n"
    "  --procs N         processes (default 64)\n"
    "  --runs R          runs (default 5)\n"
    "  --timeout MS      each process's wait and multi_get (default "
    "30000)\n"
    "  --value-size B    bytes per value (default 128, about an address\n"
    "                    record)\n"
    "  --json            JSON lines on stdout: a row per run, then one\n"
    "                    with the medians (the table goes to stderr)\n"
    "\n"
    "Exit status: 0 done, 1 a store operation failed, 2 bad usage,\n"
    "3 could not run (the store did not open, resources).\n";

static int parse_opts(int argc, char **argv, srdv_opts *o)
{
    static const struct option longs[] = {
        {"store", required_argument, NULL, 's'},
        {"procs", required_argument, NULL, 'p'},
        {"runs", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"value-size", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[256];
    int c, bad = 0;
    rdv_cli_args a;

    *o = (srdv_opts){NULL, 64, 5, 30000, 128, 0};
    rdv_cli_args_init(&a, "rdv bench store-rendezvous", argc, argv, "h",
                      longs);
    while (!bad && (c = rdv_cli_args_next(&a)) != -1) {
        if (c == 's')
            o->url = a.arg;
        else if (c == 'p')
            bad = rdv_cli_int("--procs", a.arg, 1, MAX_PROCS, &o->procs,
                              err, sizeof err);
        else if (c == 'r')
            bad = rdv_cli_int("--runs", a.arg, 1, MAX_RUNS, &o->runs, err,
                              sizeof err);
        else if (c == 't')
            bad = rdv_cli_int("--timeout", a.arg, 1, 3600000,
                              &o->timeout_ms, err, sizeof err);
        else if (c == 'v')
            bad = rdv_cli_int("--value-size", a.arg, 0, 1 << 20, &o->vsize,
                              err, sizeof err);
        else if (c == 'j')
            o->json = 1;
        else if (c == 'h')
            return -1;
        else
            return rdv_cli_usage_error("rdv bench store-rendezvous", a.err);
    }
    if (bad)
        return rdv_cli_usage_error("rdv bench store-rendezvous", err);
    if (!o->url)
        return rdv_cli_usage_error("rdv bench store-rendezvous",
                                   "--store URL is required");
    return RDV_EXIT_OK;
}

static int proc_fail(srdv_proc *me, const char *what, rdv_store *s)
{
    me->failed = 1;
    snprintf(me->error, sizeof me->error, "%s: %s", what,
             s ? rdv_store_errmsg(s) : "cannot open the store");
    return 1;
}

/* One process of a run: connect, meet, set, wait, read all. */
static int proc_main(const srdv_opts *o, srdv_shared *sh, int me,
                     const char *prefix, rdv_store *inherited)
{
    srdv_proc *p = &sh->p[me];
    char **keys = calloc((size_t)o->procs, sizeof *keys);
    void **vals = calloc((size_t)o->procs, sizeof *vals);
    size_t *lens = calloc((size_t)o->procs, sizeof *lens);
    char *val = malloc((size_t)o->vsize + 1), err[512];
    const char *never = "rdv-bench-srdv/never";
    rdv_store *s = inherited;
    int rc = 0;

    if (!keys || !vals || !lens || !val)
        rc = proc_fail(p, "out of memory", NULL);
    for (int i = 0; !rc && i < o->procs; i++)
        if (asprintf(&keys[i], "%s%d", prefix, i) < 0)
            rc = proc_fail(p, "out of memory", NULL);
    if (!rc && !s && rdv_store_open(o->url, &s, err, sizeof err)) {
        p->failed = 1;
        snprintf(p->error, sizeof p->error, "%s", err);
        rc = 1;
    }
    if (!rc && rdv_store_check(s, &never, 1) != RDV_ENOTFOUND)
        rc = proc_fail(p, "connect (a check)", s);
    if (val)
        memset(val, 'a' + me % 26, (size_t)o->vsize);
    p->ready_ns = rdv_now_ns();
    pthread_barrier_wait(&sh->barrier); /* even after a failure */
    p->start_ns = rdv_now_ns();
    if (!rc && rdv_store_set(s, keys[me], val, (size_t)o->vsize, 0))
        rc = proc_fail(p, "set", s);
    if (!rc && rdv_store_wait(s, (const char *const *)keys,
                              (size_t)o->procs, o->timeout_ms))
        rc = proc_fail(p, "wait", s);
    if (!rc && rdv_store_multi_get(s, (const char *const *)keys,
                                   (size_t)o->procs, vals, lens,
                                   o->timeout_ms))
        rc = proc_fail(p, "multi_get", s);
    p->done_ns = rdv_now_ns();
    for (int i = 0; i < o->procs; i++) {
        if (vals && vals[i])
            free(vals[i]);
        if (keys)
            free(keys[i]);
    }
    if (s && s != inherited)
        rdv_store_close(s);
    free(keys);
    free(vals);
    free(lens);
    free(val);
    return rc;
}

/* One run: fork, reap, and the two times in ms. 0, or 1 on failure. */
static int one_run(const srdv_opts *o, srdv_shared *sh, int run,
                   rdv_store *inherited, double *rdv_ms, double *conn_ms)
{
    pthread_barrierattr_t ba;
    pid_t *kids = calloc((size_t)o->procs, sizeof *kids);
    int64_t forked = rdv_now_ns(), first = INT64_MAX, last = 0, ready = 0;
    char prefix[96];
    int failed = 0, n = 0;

    if (!kids)
        return 1;
    snprintf(prefix, sizeof prefix, "rdv-bench-srdv/%d/%d/", (int)getpid(),
             run);
    memset(sh->p, 0, (size_t)o->procs * sizeof sh->p[0]);
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&sh->barrier, &ba, (unsigned)o->procs);
    pthread_barrierattr_destroy(&ba);
    fflush(NULL);
    for (; n < o->procs; n++) {
        kids[n] = fork();
        if (kids[n] == 0)
            exit(proc_main(o, sh, n, prefix, inherited));
        if (kids[n] < 0) {
            /* without every process the barrier never opens */
            fprintf(stderr, "rdv bench store-rendezvous: fork failed\n");
            for (int i = 0; i < n; i++)
                kill(kids[i], SIGKILL);
            failed = 1;
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        int st;

        while (waitpid(kids[i], &st, 0) < 0)
            ;
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    for (int i = 0; !failed && i < o->procs; i++) {
        first = sh->p[i].start_ns < first ? sh->p[i].start_ns : first;
        last = sh->p[i].done_ns > last ? sh->p[i].done_ns : last;
        ready = sh->p[i].ready_ns > ready ? sh->p[i].ready_ns : ready;
    }
    for (int i = 0; i < o->procs; i++)
        if (sh->p[i].failed) {
            fprintf(stderr, "rdv bench store-rendezvous: process %d: %s\n",
                    i, sh->p[i].error);
            break;
        }
    pthread_barrier_destroy(&sh->barrier);
    free(kids);
    *rdv_ms = (double)(last - first) / 1e6;
    *conn_ms = (double)(ready - forked) / 1e6;
    return failed;
}

/* A JSON row: one run ("run", its number) or the medians ("median",
 * over how many runs). */
static void json_row(rdv_bench_out *out, const srdv_opts *o,
                     const char *shown, const char *stat, int n,
                     double rdv_ms, double conn_ms)
{
    rdv_bench_row_begin(out);
    rdv_bench_row_str(out, "store", shown);
    rdv_bench_row_int(out, "procs", o->procs);
    rdv_bench_row_int(out, "value_size", o->vsize);
    rdv_bench_row_str(out, "stat", stat);
    rdv_bench_row_int(out, strcmp(stat, "run") == 0 ? "run" : "runs", n);
    rdv_bench_row_num(out, "rendezvous_ms", rdv_ms);
    rdv_bench_row_num(out, "connect_ms", conn_ms);
    rdv_bench_row_end(out);
}

int rdv_cmd_bench_store_rendezvous(int argc, char **argv)
{
    rdv_bench_out out;
    double rdv_ms[MAX_RUNS], conn_ms[MAX_RUNS];
    srdv_shared *sh;
    size_t map, gone;
    srdv_opts o;
    char err[512], shown[512], prefix[64];
    rdv_store *s;
    int rc = parse_opts(argc, argv, &o);

    if (rc < 0) {
        fputs(usage, stdout);
        return RDV_EXIT_OK;
    }
    if (rc)
        return rc;
    if ((rc = rdv_store_open(o.url, &s, err, sizeof err))) {
        fprintf(stderr, "rdv bench store-rendezvous: %s\n", err);
        return rdv_exit_store_open(rc);
    }
    map = sizeof *sh + (size_t)o.procs * sizeof sh->p[0];
    sh = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
              -1, 0);
    if (sh == MAP_FAILED) {
        rdv_store_close(s);
        return RDV_EXIT_CANNOT_RUN;
    }
    rdv_bench_out_init(&out, "store-rendezvous", o.json);
    rdv_url_redact(o.url, shown, sizeof shown);
    fprintf(out.text, "rdv bench store-rendezvous: %s (%s), %d processes, "
            "%d runs: set own key, wait for all, multi_get all\n", shown,
            rdv_store_name(s), o.procs, o.runs);
    fprintf(out.text, "%4s %14s %12s\n", "run", "rendezvous ms",
            "connect ms");
    for (int r = 0; rc == RDV_EXIT_OK && r < o.runs; r++) {
        if (one_run(&o, sh, r, rdv_store_is_inherited(s) ? s : NULL,
                    &rdv_ms[r], &conn_ms[r])) {
            rc = RDV_EXIT_FAIL;
        } else {
            fprintf(out.text, "%4d %14.2f %12.2f\n", r + 1, rdv_ms[r],
                    conn_ms[r]);
            json_row(&out, &o, shown, "run", r + 1, rdv_ms[r], conn_ms[r]);
        }
        fflush(out.text);
    }
    if (rc == RDV_EXIT_OK) {
        rdv_samples_sort_double(rdv_ms, (size_t)o.runs);
        rdv_samples_sort_double(conn_ms, (size_t)o.runs);
        fprintf(out.text, "rendezvous: median %.2f ms, min %.2f, max %.2f\n",
                rdv_ms[o.runs / 2], rdv_ms[0], rdv_ms[o.runs - 1]);
        fprintf(out.text, "median rendezvous_ms=%.2f connect_ms=%.2f\n",
                rdv_ms[o.runs / 2], conn_ms[o.runs / 2]);
        json_row(&out, &o, shown, "median", o.runs, rdv_ms[o.runs / 2],
                 conn_ms[o.runs / 2]);
    }
    snprintf(prefix, sizeof prefix, "rdv-bench-srdv/%d/", (int)getpid());
    if (rdv_store_delete_prefix(s, prefix, &gone)) {
        fprintf(stderr, "rdv bench store-rendezvous: cleanup of %s: %s\n",
                prefix, rdv_store_errmsg(s));
        rc = RDV_EXIT_FAIL;
    }
    rdv_store_close(s);
    munmap(sh, map);
    return rdv_bench_out_finish(&out, rc);
}
