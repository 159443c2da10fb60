/*
 * harness/bench/bench_store.c - `rdv bench store`: throughput and latency of
 * one store's operations, with 1 process and with N forked processes.
 *
 * For each process count, every process runs the same phases in step:
 * set (its own keys), get (those keys), add (one counter everybody
 * shares, so it measures contention too) and multi_get of 64 keys. A
 * process-shared barrier starts and ends each phase, so phases never
 * overlap; ops/s is all processes' ops over the slowest process's time,
 * and p50/p99 come from every single op's latency (CLOCK_MONOTONIC).
 * Before the first phase each process sets its keys once, untimed.
 *
 * Children open the URL themselves (a store made to be inherited, such
 * as hash:?shared=1, is opened once before fork instead), report through
 * a shared mapping, and end with exit(). Keys live under
 * "rdv-bench/<pid>/" and are deleted at the end.
 *
 * --impl floor (file:// stores) adds a row of the same 64-key read done
 * as bare pread(2)s of open files, one per key, with nothing of librdv
 * (read_floor.c), and a line of the multi_get's ratio to it.
 */
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
#include "bench/read_floor.h"
#include "bench/samples.h"
#include "commands/commands.h"
#include "common/cli_args.h"
#include "common/number.h"
#include "rdv/clock.h"
#include "rdv/store.h"
#include "rdv/url.h"

#define BENCH_MGET 64   /* keys per multi_get */
#define BENCH_KEYS 1024 /* distinct keys per process */
#define BENCH_PHASES 4

static const char *const phase_names[BENCH_PHASES] = {"set", "get", "add",
                                                      "multi_get64"};

typedef struct bench_opts {
    const char *url;
    long ops;   /* per process and phase */
    long procs; /* the second run's process count */
    long vsize;
    int json;
    int rdv, floor; /* --impl: which have rows */
} bench_opts;

/* The mapping every process writes its results into. */
typedef struct bench_shared {
    pthread_barrier_t barrier;
    int64_t elapsed_ns[BENCH_PHASES]; /* max over processes */
    int failed;
    char error[1024];
    int64_t lat[]; /* [proc][phase][op] */
} bench_shared;

typedef struct bench_run {
    const bench_opts *o;
    bench_shared *sh;
    size_t map_size;
    long nproc;
    char prefix[64];
    rdv_store *inherited; /* hash:?shared=1 and the like, else NULL */
    rdv_bench_out out;
    const char *shown; /* the URL, password masked */
    double mget_p50_us; /* one process's multi_get, for the floor */
} bench_run;

static int64_t *lat_of(bench_run *r, long proc, int phase)
{
    return r->sh->lat + ((size_t)proc * BENCH_PHASES + (size_t)phase) *
                            (size_t)r->o->ops;
}

static void record_error(bench_run *r, long proc, const char *op,
                         rdv_store *s)
{
    if (__atomic_exchange_n(&r->sh->failed, 1, __ATOMIC_SEQ_CST) == 0)
        snprintf(r->sh->error, sizeof r->sh->error, "process %ld, %s: %s",
                 proc, op, s ? rdv_store_errmsg(s) : "cannot open");
}

/* A process's key names, made before the first timed op: the op then
 * times the store, not the formatting of its keys (65 snprintf calls a
 * multi_get, about 8 µs of its 110 on a 2-core VM), as the c10d anchor
 * (c10d_file_store.py) and the floor (read_floor.c) name theirs before
 * their clocks start. */
typedef struct bench_keys {
    char name[BENCH_KEYS][128];
    char counter[128];
} bench_keys;

static bench_keys *bench_keys_make(const bench_run *r, long proc)
{
    bench_keys *k = malloc(sizeof *k);

    if (!k)
        return NULL;
    for (long i = 0; i < BENCH_KEYS; i++)
        snprintf(k->name[i], sizeof k->name[i], "%s%ld/%ld", r->prefix, proc,
                 i);
    snprintf(k->counter, sizeof k->counter, "%scounter", r->prefix);
    return k;
}

/* One op of a phase; i picks the key. */
static int bench_op(const bench_keys *keys, rdv_store *s, int phase, long i,
                    const char *val, size_t vsize)
{
    const char *key = keys->name[i % BENCH_KEYS], *kp[BENCH_MGET];
    void *vals[BENCH_MGET], *v;
    size_t lens[BENCH_MGET], len;
    int rc;

    switch (phase) {
    case 0:
        return rdv_store_set(s, key, val, vsize, 0);
    case 1:
        rc = rdv_store_get(s, key, &v, &len, 5000);
        if (rc == RDV_OK)
            free(v);
        return rc;
    case 2:
        return rdv_store_add(s, keys->counter, 1, NULL);
    default:
        for (int k = 0; k < BENCH_MGET; k++)
            kp[k] = keys->name[(i + k) % BENCH_KEYS];
        rc = rdv_store_multi_get(s, kp, BENCH_MGET, vals, lens, 5000);
        for (int k = 0; rc == RDV_OK && k < BENCH_MGET; k++)
            free(vals[k]);
        return rc;
    }
}

/* The body of one benchmarking process. Returns its exit code. */
static int bench_proc(bench_run *r, long proc)
{
    char err[512];
    size_t vsize = (size_t)r->o->vsize;
    char *val = malloc(vsize + 1);
    bench_keys *keys = bench_keys_make(r, proc);
    rdv_store *s = r->inherited;
    int ok = val && keys;

    if (!ok) {
        snprintf(r->sh->error, sizeof r->sh->error, "process %ld: out of "
                 "memory for its value and keys", proc);
        __atomic_store_n(&r->sh->failed, 1, __ATOMIC_SEQ_CST);
    }
    if (val)
        memset(val, 'v', vsize);
    if (ok && !s && rdv_store_open(r->o->url, &s, err, sizeof err)) {
        snprintf(r->sh->error, sizeof r->sh->error, "process %ld: %s", proc,
                 err);
        __atomic_store_n(&r->sh->failed, 1, __ATOMIC_SEQ_CST);
        ok = 0;
    }
    /* Warm-up, not timed: creates this process's keys, so the timed set
     * overwrites like redis-benchmark's does, and warms the connection. */
    for (long i = 0; ok && i < BENCH_KEYS; i++) {
        if (bench_op(keys, s, 0, i, val, vsize)) {
            record_error(r, proc, "warm-up set", s);
            ok = 0;
        }
    }
    /* Every phase passes the barriers even after a failure, so nobody
     * waits forever for a process that gave up. */
    for (int ph = 0; ph < BENCH_PHASES; ph++) {
        int64_t *lat = lat_of(r, proc, ph), t0;

        pthread_barrier_wait(&r->sh->barrier);
        t0 = rdv_now_ns();
        for (long i = 0; ok && i < r->o->ops; i++) {
            int64_t t = rdv_now_ns();

            if (bench_op(keys, s, ph, i, val, vsize)) {
                record_error(r, proc, phase_names[ph], s);
                ok = 0;
            }
            lat[i] = rdv_now_ns() - t;
        }
        t0 = rdv_now_ns() - t0;
        for (int64_t m = r->sh->elapsed_ns[ph]; t0 > m;)
            if (__atomic_compare_exchange_n(&r->sh->elapsed_ns[ph], &m, t0,
                                            0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST))
                break;
        pthread_barrier_wait(&r->sh->barrier);
    }
    if (s && s != r->inherited)
        rdv_store_close(s);
    free(keys);
    free(val);
    return ok ? 0 : 1;
}

/* One row of the table (and of --json): lat[0..n) sorted, secs the
 * slowest process's time. procs is "floor" in the text for the floor. */
static void report_row(bench_run *r, const char *impl, long nproc,
                       const char *op, const int64_t *lat, size_t n,
                       double secs)
{
    double ops_per_s = secs > 0 ? (double)n / secs : 0.0;
    double p50 = (double)lat[n / 2] / 1e3;
    double p99 = (double)lat[n * 99 / 100] / 1e3;
    char procs[16];

    snprintf(procs, sizeof procs, "%ld", nproc);
    fprintf(r->out.text, "%5s  %-12s %10.0f %9.1f %9.1f\n",
            strcmp(impl, "floor") ? procs : "floor", op, ops_per_s, p50, p99);
    rdv_bench_row_begin(&r->out);
    rdv_bench_row_str(&r->out, "store", r->shown);
    rdv_bench_row_str(&r->out, "impl", impl);
    rdv_bench_row_int(&r->out, "procs", nproc);
    rdv_bench_row_str(&r->out, "op", op);
    rdv_bench_row_int(&r->out, "ops", (long long)n);
    rdv_bench_row_int(&r->out, "value_size", r->o->vsize);
    rdv_bench_row_num(&r->out, "ops_per_s", ops_per_s);
    rdv_bench_row_num(&r->out, "p50_us", p50);
    rdv_bench_row_num(&r->out, "p99_us", p99);
    rdv_bench_row_end(&r->out);
}

static void report(bench_run *r)
{
    size_t n = (size_t)r->nproc * (size_t)r->o->ops;
    int64_t *all = malloc(n * sizeof *all);

    for (int ph = 0; all && ph < BENCH_PHASES; ph++) {
        double secs = (double)r->sh->elapsed_ns[ph] / 1e9;

        for (long p = 0; p < r->nproc; p++)
            memcpy(all + (size_t)p * (size_t)r->o->ops, lat_of(r, p, ph),
                   (size_t)r->o->ops * sizeof *all);
        rdv_samples_sort_i64(all, n);
        if (r->nproc == 1 && ph == BENCH_PHASES - 1)
            r->mget_p50_us = (double)all[n / 2] / 1e3;
        report_row(r, "rdv", r->nproc, phase_names[ph], all, n, secs);
    }
    free(all);
}

/* One run with nproc processes. */
static int bench_run_procs(bench_run *r, long nproc)
{
    pthread_barrierattr_t ba;
    pid_t *kids = calloc((size_t)nproc, sizeof *kids);
    int failed = 0;

    r->nproc = nproc;
    r->map_size = sizeof *r->sh + (size_t)nproc * BENCH_PHASES *
                                      (size_t)r->o->ops * sizeof(int64_t);
    r->sh = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r->sh == MAP_FAILED || !kids) {
        fprintf(stderr, "rdv bench store: out of memory for %ld "
                "processes\n", nproc);
        free(kids);
        return RDV_EXIT_FAIL;
    }
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&r->sh->barrier, &ba, (unsigned)nproc);
    pthread_barrierattr_destroy(&ba);
    fflush(NULL);
    for (long p = 0; p < nproc; p++) {
        kids[p] = fork();
        if (kids[p] == 0)
            exit(bench_proc(r, p));
        if (kids[p] < 0) {
            /* Without every process the barrier never opens. */
            fprintf(stderr, "rdv bench store: fork failed\n");
            for (long q = 0; q < p; q++)
                kill(kids[q], SIGKILL);
            nproc = p;
            failed = 1;
            break;
        }
    }
    for (long p = 0; p < nproc; p++) {
        int st;

        while (waitpid(kids[p], &st, 0) < 0)
            ;
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    if (r->sh->failed)
        fprintf(stderr, "rdv bench store: %s\n", r->sh->error);
    else if (!failed)
        report(r);
    failed |= r->sh->failed;
    pthread_barrier_destroy(&r->sh->barrier);
    munmap(r->sh, r->map_size);
    free(kids);
    return failed ? RDV_EXIT_FAIL : RDV_EXIT_OK;
}

/* Bytes a floor file holds beside the value: about what a file store
 * record adds (its headers and a bench key). */
#define FLOOR_RECORD_EXTRA 48

/* The floor's row, one process, in the directory of the file:// URL:
 * BENCH_MGET preads of open files per op (read_floor.c), and its ratio
 * to the multi_get of one process when that ran. */
static int bench_floor(bench_run *r, const char *dir)
{
    size_t n = (size_t)r->o->ops;
    int64_t *lat = malloc(n * sizeof *lat), total = 0;
    double p50;
    char msg[512];

    if (!lat) {
        fprintf(stderr, "rdv bench store: out of memory for %zu ops\n", n);
        return RDV_EXIT_CANNOT_RUN;
    }
    if (rdv_read_floor_run(dir, BENCH_MGET,
                           (size_t)r->o->vsize + FLOOR_RECORD_EXTRA,
                           r->o->ops, lat, msg, sizeof msg)) {
        fprintf(stderr, "rdv bench store: %s\n", msg);
        free(lat);
        return RDV_EXIT_CANNOT_RUN;
    }
    for (size_t i = 0; i < n; i++)
        total += lat[i];
    rdv_samples_sort_i64(lat, n);
    report_row(r, "floor", 1, phase_names[BENCH_PHASES - 1], lat, n,
               (double)total / 1e9);
    p50 = (double)lat[n / 2] / 1e3;
    if (r->o->rdv && r->mget_p50_us > 0 && p50 > 0)
        fprintf(r->out.text, "%5s  %-12s %.2fx the floor's p50\n", "1",
                phase_names[BENCH_PHASES - 1], r->mget_p50_us / p50);
    free(lat);
    return RDV_EXIT_OK;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rdv bench store --store URL [options]\n"
            "\n"
            "Measures ops/s and p50/p99 latency of set, get, add and a\n"
            "%d-key multi_get against one store, with 1 process and then\n"
            "with N forked processes. Keys go under rdv-bench/<pid>/ and\n"
            "are deleted at the end.\n"
            "\n"
            "  -s, --store URL       the store (hash:?shared=1, file:///dir,\n"
            "                        redis://host:port, unix:///path, ...)\n"
            "      --ops N           ops per process and operation "
            "(20000)\n"
            "  -p, --procs N         processes in the second run (8)\n"
            "      --value-size B    bytes per value (3, as "
            "redis-benchmark)\n"
            "      --impl I          rdv or floor (repeatable; default rdv):\n"
            "                        floor adds a row of the %d-key read as\n"
            "                        bare pread(2)s of open files in the\n"
            "                        store's directory, nothing of librdv\n"
            "                        (file:// only; one process)\n"
            "      --json            JSON lines on stdout, one per row (the\n"
            "                        table goes to stderr; README, JSON)\n"
            "  -h, --help            this text\n"
            "\n"
            "Exit status: 0 done, 1 a store operation failed, 2 bad usage,\n"
            "3 could not run (the store did not open, resources).\n",
            BENCH_MGET, BENCH_MGET);
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    static const struct option longs[] = {
        {"store", required_argument, NULL, 's'},
        {"ops", required_argument, NULL, 'n'},
        {"procs", required_argument, NULL, 'p'},
        {"value-size", required_argument, NULL, 'v'},
        {"impl", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[256];
    int c, bad = 0;
    rdv_cli_args a;

    *o = (bench_opts){NULL, 20000, 8, 3, 0, 0, 0};
    rdv_cli_args_init(&a, "rdv bench store", argc, argv, "s:p:h", longs);
    while (!bad && (c = rdv_cli_args_next(&a)) != -1) {

        switch (c) {
        case 's':
            o->url = a.arg;
            break;
        case 'n':
            bad = rdv_cli_long("--ops", a.arg, 1, 10000000, &o->ops, err,
                               sizeof err);
            break;
        case 'p':
            bad = rdv_cli_long("--procs", a.arg, 1, 1024, &o->procs, err,
                               sizeof err);
            break;
        case 'v':
            bad = rdv_cli_long("--value-size", a.arg, 0, 64L << 20,
                               &o->vsize, err, sizeof err);
            break;
        case 'i':
            if (!strcmp(a.arg, "rdv"))
                o->rdv = 1;
            else if (!strcmp(a.arg, "floor"))
                o->floor = 1;
            else
                return rdv_cli_usage_error("rdv bench store",
                                           "--impl wants rdv or floor");
            break;
        case 'j':
            o->json = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return rdv_cli_usage_error("rdv bench store", a.err);
        }
    }
    if (bad)
        return rdv_cli_usage_error("rdv bench store", err);
    if (!o->url)
        return rdv_cli_usage_error("rdv bench store",
                                   "--store URL is required");
    if (!o->floor)
        o->rdv = 1;
    return RDV_EXIT_OK;
}

/* The directory of a file:// URL, for --impl floor; a usage error's
 * exit code when the URL is not one. */
static int floor_dir(const char *url, char *dir, size_t cap)
{
    char err[512], why[768];
    rdv_url u;
    int ok;

    if (rdv_url_parse(url, &u, err, sizeof err))
        return rdv_cli_usage_error("rdv bench store", err);
    ok = !strcmp(u.scheme, "file") && u.path[0];
    snprintf(dir, cap, "%s", u.path);
    snprintf(why, sizeof why, "--impl floor reads the files of a file:// "
             "store, not of '%s'", u.redacted);
    rdv_url_free(&u);
    return ok ? RDV_EXIT_OK : rdv_cli_usage_error("rdv bench store", why);
}

int rdv_cmd_bench_store(int argc, char **argv)
{
    bench_run r = {0};
    bench_opts o;
    char err[512], shown[512], dir[4096];
    rdv_store *s = NULL;
    size_t gone = 0;
    int rc = parse_opts(argc, argv, &o);

    if (rc)
        return rc < 0 ? RDV_EXIT_OK : rc;
    if (o.floor && (rc = floor_dir(o.url, dir, sizeof dir)))
        return rc;
    if (o.rdv && (rc = rdv_store_open(o.url, &s, err, sizeof err))) {
        fprintf(stderr, "rdv bench store: %s\n", err);
        return rdv_exit_store_open(rc);
    }
    r.o = &o;
    r.inherited = s && rdv_store_is_inherited(s) ? s : NULL;
    r.shown = rdv_url_redact(o.url, shown, sizeof shown);
    rdv_bench_out_init(&r.out, "store", o.json);
    snprintf(r.prefix, sizeof r.prefix, "rdv-bench/%d/", (int)getpid());
    fprintf(r.out.text, "rdv bench store: %s (%s), %ld ops per process and "
            "operation, %ld-byte values\n", r.shown,
            s ? rdv_store_name(s) : "floor only", o.ops, o.vsize);
    fprintf(r.out.text, "%5s  %-12s %10s %9s %9s\n", "procs", "op", "ops/s",
            "p50 us", "p99 us");
    if (o.rdv)
        rc = bench_run_procs(&r, 1);
    if (rc == RDV_EXIT_OK && o.floor)
        rc = bench_floor(&r, dir);
    if (rc == RDV_EXIT_OK && o.rdv && o.procs > 1)
        rc = bench_run_procs(&r, o.procs);
    if (s && rdv_store_delete_prefix(s, r.prefix, &gone)) {
        fprintf(stderr, "rdv bench store: cleanup of %s: %s\n", r.prefix,
                rdv_store_errmsg(s));
        rc = RDV_EXIT_FAIL;
    }
    rdv_store_close(s);
    return rdv_bench_out_finish(&r.out, rc);
}
