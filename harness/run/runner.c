/*
 * harness/run/runner.c - one run from the parent's side: fresh run id, fork
 * and supervise the ranks, measure what was left behind, judge.
 *
 * The parent opens the store once per runner. A hash:?shared=1 store
 * must be opened before fork anyway; for every other store the parent's
 * handle is what the leak check lists the run's keys through. Listing
 * once at creation lets a store open any lazy connection before the
 * first fd baseline, so that connection is never mistaken for a leak.
 *
 * Run ids are random (getrandom), not derived from the seed: the seed
 * decides what the ranks do, the id only keeps runs apart in the store.
 *
 * The server faults' side (run/server_side.h) lives as long as the
 * runner: a tcp://…?serve=1 URL is served by a process it owns, every
 * run's handles open it as clients, and the faults act on that process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "run/call_watch.h"
#include "run/checks.h"
#include "run/fd_limit.h"
#include "run/leak.h"
#include "run/rank.h"
#include "rdv/clock.h"
#include "rdv/url.h"
#include "run/run.h"
#include "run/server_side.h"
#include "schedule/sequencer.h"

/* A trace records up to TRACE_EVENTS store ops in all, at most
 * TRACE_EVENTS_PER_RANK per rank: every op of a default run up to
 * N = 64, and at N = 1024 still the rendezvous's own ops, in a file
 * (about 150 MB at most) that Perfetto still opens. Ops past a rank's
 * share are counted in the trace, not drawn. */
#define TRACE_EVENTS (1u << 20)
#define TRACE_EVENTS_PER_RANK 16384u

struct rdv_runner {
    const rdv_run_config *cfg;
    rdv_store *store; /* the parent's handle */
    int inherited;
    rdv_result_area area;
    rdv_server_side side; /* side.own.url is the URL handles open */
    uint64_t runs;
    rdv_sequencer *seq; /* the last sequenced run's, for its op log */
    char note[512]; /* for the user, before the runs; "" = none */
};

static uint32_t trace_events_per_rank(int nranks)
{
    uint32_t share = TRACE_EVENTS / (uint32_t)nranks;

    return share < TRACE_EVENTS_PER_RANK ? share : TRACE_EVENTS_PER_RANK;
}

/* A process-local store (hash: without shared=1) would give every forked
 * rank an empty store of its own, and they would wait for each other
 * forever: a usage error, told by the store's flags. */
static int check_store(const rdv_store *s, const char *url, char *err,
                       size_t errlen)
{
    char shown[512];

    if (!(rdv_store_flags(s) & RDV_STORE_PROCESS_LOCAL))
        return RDV_OK;
    snprintf(err, errlen, "store URL '%s' is private to one process; "
             "forked ranks need a store they share, such as hash:?shared=1",
             rdv_url_redact(url, shown, sizeof shown));
    return RDV_EINVAL;
}

/* After the store is open, so its fds count among those each rank
 * inherits. */
static void raise_fd_limit(rdv_runner *r)
{
    char what[32];

    snprintf(what, sizeof what, "%d ranks", r->cfg->nranks);
    rdv_fd_limit_raise(rdv_fd_limit_for_ranks(r->cfg->nranks), what,
                       r->note, sizeof r->note);
}

int rdv_runner_create(const rdv_run_config *cfg, rdv_runner **out,
                      char *err, size_t errlen)
{
    rdv_runner *r;
    char **keys = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (!(r = calloc(1, sizeof *r))) {
        snprintf(err, errlen, "out of memory");
        return RDV_ENOMEM;
    }
    r->cfg = cfg;
    /* Before anything opens the store, and before any thread. */
    if ((rc = rdv_server_side_open(&r->side, cfg->store_url, cfg->faults,
                                   cfg->restart_cmd, cfg->server_pid,
                                   cfg->server_proxy, err, errlen)) ||
        (rc = rdv_store_open(r->side.own.url, &r->store, err, errlen)))
        goto fail;
    if ((rc = check_store(r->store, cfg->store_url, err, errlen)))
        goto fail;
    r->inherited = rdv_store_is_inherited(r->store);
    if (rdv_store_list(r->store, "", &keys, &n) == RDV_OK)
        rdv_store_list_free(keys, n);
    rc = rdv_result_area_create(&r->area, cfg->nranks,
                                cfg->trace ? trace_events_per_rank(
                                                 cfg->nranks) : 0);
    if (rc) {
        snprintf(err, errlen, "cannot map the result area: %s",
                 strerror(-rc));
        rc = RDV_ENOMEM;
        goto fail;
    }
    raise_fd_limit(r);
    *out = r;
    return RDV_OK;
fail:
    rdv_runner_destroy(r);
    return rc;
}

const char *rdv_runner_note(const rdv_runner *r)
{
    return r->note[0] ? r->note : NULL;
}

void rdv_runner_destroy(rdv_runner *r)
{
    if (!r)
        return;
    rdv_result_area_destroy(&r->area);
    rdv_store_close(r->store);
    rdv_server_side_close(&r->side);
    rdv_sequencer_free(r->seq);
    free(r);
}

static void make_run_id(rdv_runner *r, char *buf, size_t cap)
{
    uint64_t v = 0;

    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = (uint64_t)rdv_now_ns() ^ ((uint64_t)getpid() << 32);
    snprintf(buf, cap, "run-%016llx-%llu", (unsigned long long)v,
             (unsigned long long)r->runs++);
}

/* The supervisor's forked hook: the sequencer's thread, after the forks. */
static int sequencer_start(void *arg, char *err, size_t errlen)
{
    return rdv_sequencer_start(arg, err, errlen) == RDV_OK ? 0 : -1;
}

static int stop_ms(void *arg, int rank)
{
    const rdv_rank_job *job = arg;

    return rdv_faults_stop_ms(job->cfg->faults, job->seed, rank);
}

/* Measures what the run left and deletes leftover keys. */
static void measure_leaks(rdv_runner *r, const rdv_run_report *rep,
                          pid_t pgid, const rdv_key_snapshot *before,
                          rdv_run_facts *f)
{
    pid_t pids[RDV_RUN_MAX_RANKS];
    char prefix[64];

    f->procs_left = rdv_leak_processes(pgid, f->procs_detail,
                                       sizeof f->procs_detail);
    snprintf(prefix, sizeof prefix, "%s/", rep->run_id);
    if (!f->keys_unlisted) {
        f->keys_left = rdv_leak_keys(r->store, prefix,
                                     f->expect.fatal ? f->expect.culprit
                                                     : -1,
                                     &f->keys_excused, f->keys_detail,
                                     sizeof f->keys_detail);
        f->stray_keys = rdv_key_snapshot_new(r->store, before,
                                             f->stray_detail,
                                             sizeof f->stray_detail);
    }
    f->temps_left = rdv_leak_temp_files(NULL, rep->run_id, f->temps_detail,
                                        sizeof f->temps_detail);
    for (int i = 0; i < r->cfg->nranks; i++)
        pids[i] = rep->exits[i].pid;
    if (!f->temps_left)
        f->temps_left = rdv_leak_store_files(r->side.own.url, pids,
                                             r->cfg->nranks, f->temps_detail,
                                             sizeof f->temps_detail);
    f->fds_after = rdv_fd_count();
}

int rdv_runner_run(rdv_runner *r, uint64_t seed, rdv_run_report *rep,
                   char *err, size_t errlen)
{
    const rdv_run_config *cfg = r->cfg;
    rdv_run_facts f = {.cfg = cfg, .area = &r->area, .exits = rep->exits};
    rdv_call_watch watch = {.area = &r->area, .nranks = cfg->nranks,
                            .plain_stretch_ms =
                                rdv_faults_call_stretch_ms(cfg->faults, 0),
                            .timed_stretch_ms =
                                rdv_faults_call_stretch_ms(cfg->faults, 1),
                            .rank = -1};
    rdv_rank_job job = {.cfg = cfg, .seed = seed, .area = &r->area,
                        .gate = r->side.gate};
    rdv_supervise_opts so = {.nranks = cfg->nranks, .fn = rdv_rank_main,
                             .arg = &job, .stop_ms = stop_ms};
    char rank_url[1024];
    rdv_key_snapshot before;
    pid_t pgid = 0;
    uint64_t fired = 0;
    int rc;

    memset(rep, 0, sizeof *rep);
    rep->seed = seed;
    rep->area = &r->area;
    make_run_id(r, rep->run_id, sizeof rep->run_id);
    job.run_id = rep->run_id;
    job.inherited = r->inherited ? r->store : NULL;
    rdv_result_area_reset(&r->area);
    /* A store of the gloo level has no list: only --impl gloo, which
     * needs nothing more, runs on one, and no-leak then SKIPs, saying
     * the keys went unchecked. */
    f.keys_unlisted = cfg->impl == RDV_IMPL_GLOO &&
                      rdv_store_contract_level(r->store) <
                          RDV_STORE_LEVEL_FULL;
    if (f.keys_unlisted)
        before = (rdv_key_snapshot){0};
    else if ((rc = rdv_key_snapshot_take(r->store, &before))) {
        snprintf(err, errlen, "cannot list the store's keys: %s: %s",
                 rdv_status_name(rc), rdv_store_errmsg(r->store));
        return -1;
    }
    /* Before the fault driver, whose pipes and proxy child live only for
     * this run and must be gone again afterwards. */
    f.fds_before = rdv_fd_count();
    if (rdv_server_side_begin(&r->side, seed, cfg->deadline_ms, rank_url,
                              sizeof rank_url, err, errlen)) {
        rdv_key_snapshot_free(&before);
        return -1;
    }
    job.store_url = rank_url;
    rdv_sequencer_free(r->seq);
    r->seq = NULL;
    if (cfg->schedule.kind != RDV_SCHEDULE_NONE &&
        rdv_sequencer_open(&cfg->schedule, cfg->nranks, &r->area, &r->seq,
                           err, errlen)) {
        rdv_server_side_end(&r->side);
        rdv_key_snapshot_free(&before);
        return -1;
    }
    job.seq = r->seq;
    so.forked = r->seq ? sequencer_start : NULL;
    so.forked_arg = r->seq;
    so.timer = r->side.srv ? rdv_server_side_tick : NULL;
    so.timer_arg = &r->side;
    so.overdue = cfg->call_watch ? rdv_call_watch_overdue : NULL;
    so.overdue_arg = &watch;
    r->area.t0_ns = rdv_now_ns();
    rdv_server_side_clock(&r->side, r->area.t0_ns);
    so.deadline_ns = r->area.t0_ns + (int64_t)cfg->deadline_ms * 1000000;
    f.deadline_ns = so.deadline_ns;
    rc = rdv_supervise(&so, rep->exits, &pgid, err, errlen);
    rdv_server_side_end(&r->side);
    if (r->seq) {
        rdv_sequencer_stats st;

        rdv_sequencer_stop(r->seq, &st);
        rep->sequenced = 1;
        rep->seq_steps = st.steps;
        rep->seq_inexact = st.unsettled + st.long_ops;
    }
    if (rc != 0) {
        rdv_key_snapshot_free(&before);
        return -1;
    }
    snprintf(f.fault_error, sizeof f.fault_error, "%s", r->side.err);
    f.overdue_call = watch.rank >= 0 ? watch.call : NULL;
    f.overdue_rank = watch.rank;
    rep->elapsed_ms = (double)(rdv_now_ns() - r->area.t0_ns) / 1e6;
    f.have_faults = cfg->faults != NULL;
    /* Judged by what fired, not by what was written: a fault that took
     * effect in no rank (p=0, nth= past the last call) made nothing
     * fail. */
    for (int i = 0; i < cfg->nranks; i++)
        fired |= __atomic_load_n(&rdv_result_area_slot(&r->area, i)
                                      ->faults_fired, __ATOMIC_ACQUIRE);
    rdv_faults_expect_get(cfg->faults, seed, cfg->nranks, cfg->timeout_ms,
                          &fired, &f.expect);
    measure_leaks(r, rep, pgid, &before, &f);
    rdv_key_snapshot_free(&before);
    rdv_checks_evaluate(&f, rep);
    return 0;
}

void rdv_runner_op_log_write(const rdv_runner *r, FILE *f)
{
    if (r->seq)
        rdv_sequencer_log_write(r->seq, f);
}
