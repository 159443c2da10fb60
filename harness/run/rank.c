/*
 * harness/run/rank.c - what each forked rank does, start to end:
 *   open its store (or take the inherited handle), scope it to the run's
 *   prefix, put the fault store (if any) and the recorder on top, build a
 *   context bound to 127.0.0.1 (librdv's, or Gloo's under --impl gloo:
 *   run/rank_gloo.h), rendezvous, run the workload, and write everything
 *   the parent judges into its slot.
 *
 * The recorder is the outermost layer, so a trace shows each op as the
 * rank saw it (injected delays included) with keys relative to the run.
 * Error text is stored exactly as the library gave it: error-quality
 * judges whether the library names a rank, key or address, so the
 * harness must not add a rank number of its own.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rdv/context.h"
#include "rdv/clock.h"
#include "run/rank.h"
#include "rdv/url.h"
#include "run/rank_gloo.h"
#include "run/socket_scan.h"
#include "run/store_recorder.h"
#include "workload/workload_exec.h"

typedef struct rank_state {
    const rdv_rank_job *job;
    int rank;
    rdv_slot *slot;
    FILE *log;
    FILE *fault_log;
    rdv_faults_rank *faults;
    int seq_fd; /* the sequencer's socket, or -1 */
    rdv_store *store;
    rdv_context *ctx;
    rdv_rank_gloo *gloo; /* instead of ctx, under --impl gloo */
    rdv_hooks hooks;
} rank_state;

static void rank_log(rank_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void rank_log(rank_state *st, const char *fmt, ...)
{
    va_list ap;

    if (!st->log)
        return;
    fprintf(st->log, "[%9.3f ms] ",
            (double)(rdv_now_ns() - st->job->area->t0_ns) / 1e6);
    va_start(ap, fmt);
    vfprintf(st->log, fmt, ap);
    va_end(ap);
    fputc('\n', st->log);
}

static void on_log(void *arg, int rank, const char *line)
{
    (void)rank;
    rank_log(arg, "librdv: %s", line);
}

static void on_phase(void *arg, rdv_phase p)
{
    rank_state *st = arg;

    rdv_slot_phase(st->slot, (int)p, -1);
    rank_log(st, "phase %s", rdv_phase_name(p));
}

/* The first failure wins: it is the cause, later ones are fallout. */
static int rank_fail(rank_state *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rank_fail(rank_state *st, int rc, const char *fmt, ...)
{
    va_list ap;

    if (st->slot->rc == RDV_OK) {
        st->slot->rc = rc;
        va_start(ap, fmt);
        vsnprintf(st->slot->error, sizeof st->slot->error, fmt, ap);
        va_end(ap);
        rank_log(st, "failed: %s", st->slot->error);
    }
    return rc;
}

/* Line-buffered: each line reaches the file as it ends, so the log of a
 * rank SIGKILLed by a fault or the deadline (the one worth reading) holds
 * everything up to its last line; a full buffer would die with it. */
static FILE *open_log(const rank_state *st, const char *what)
{
    char path[4096];
    FILE *f;

    if (!st->job->cfg->logs_dir)
        return NULL;
    snprintf(path, sizeof path, "%s/rank-%d.%s", st->job->cfg->logs_dir,
             st->rank, what);
    if ((f = fopen(path, "we")))
        setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

static int open_store(rank_state *st)
{
    rdv_store *s = st->job->inherited, *next;
    char err[512];
    int rc;

    if (!s && (rc = rdv_store_open(st->job->store_url, &s, err, sizeof err)))
        return rank_fail(st, rc, "%s", err);
    if ((rc = rdv_store_prefix_open(s, st->job->run_id, &next))) {
        rdv_store_close(s);
        return rank_fail(st, rc, "prefix '%s': %s", st->job->run_id,
                         rdv_strerror(rc));
    }
    s = next;
    if ((rc = rdv_faults_rank_wrap(st->faults, s, &next))) {
        rdv_store_close(s);
        return rank_fail(st, rc, "fault store: %s", rdv_strerror(rc));
    }
    s = next;
    if ((rc = rdv_recorder_open(s, st->slot,
                                rdv_result_area_events(st->job->area,
                                                       st->rank),
                                st->job->area->events_cap, st->seq_fd,
                                &next))) {
        rdv_store_close(s);
        return rank_fail(st, rc, "recorder: %s", rdv_strerror(rc));
    }
    st->store = next;
    return RDV_OK;
}

static int record_mesh(rank_state *st)
{
    rdv_tuple *row = rdv_result_area_tuples(st->job->area, st->rank);

    for (int p = 0; p < st->job->cfg->nranks; p++) {
        rdv_peer_info pi;
        int rc;

        if (p == st->rank)
            continue;
        /* peer_info leaves the context's detail alone: say it here */
        if ((rc = rdv_context_peer_info(st->ctx, p, &pi)))
            return rank_fail(st, rc, "peer_info for rank %d: %s%s%s", p,
                             rdv_strerror(rc), rc == RDV_EIO ? ": " : "",
                             rc == RDV_EIO ? strerror(errno) : "");
        rdv_endpoint_from(&row[p].local, &pi.local);
        rdv_endpoint_from(&row[p].remote, &pi.remote);
    }
    st->slot->connected = 1;
    return RDV_OK;
}

/* The port of the store's server, whose connections every rank has but
 * which are not the mesh; -1 for a store without one. */
static int store_port(const char *url)
{
    rdv_url u;
    int port = -1;

    if (rdv_url_parse(url, &u, NULL, 0) == RDV_OK && u.has_authority)
        port = rdv_url_port(&u);
    rdv_url_free(&u);
    return port;
}

/* Gloo's rendezvous: it offers no peer info, so the rank lists its own
 * TCP sockets for mesh-consistent to match (an outside view); the phases
 * come through the same hooks, so the fault plan's process faults fire. */
static int connect_gloo(rank_state *st)
{
    char err[RDV_DETAIL_MAX];
    int rc, n;

    rc = rdv_rank_gloo_connect(st->store, st->rank, st->job->cfg,
                               rdv_faults_rank_hooks(st->faults, &st->hooks),
                               &st->gloo, err, sizeof err);
    if (rc)
        return rank_fail(st, rc, "%s", err);
    snprintf(st->slot->transport, sizeof st->slot->transport, "gloo-tcp");
    n = rdv_socket_scan(rdv_result_area_tuples(st->job->area, st->rank),
                        st->job->cfg->nranks, store_port(st->job->store_url));
    st->slot->nsockets = n; /* -1: mesh-consistent says it could not see */
    st->slot->connected = n >= 0;
    return RDV_OK;
}

static int connect_mesh(rank_state *st)
{
    const rdv_run_config *cfg = st->job->cfg;
    rdv_context_options o = rdv_context_options_default();
    char err[RDV_DETAIL_MAX];
    int rc;

    st->hooks = (rdv_hooks){.arg = st, .phase = on_phase};
    if (cfg->impl == RDV_IMPL_GLOO)
        return connect_gloo(st);
    o.rank = st->rank;
    o.size = cfg->nranks;
    o.timeout_ms = cfg->timeout_ms;
    o.job = "job";
    o.bind = "127.0.0.1";
    o.transport = cfg->transport;
    o.log = st->log ? on_log : NULL;
    o.log_arg = st;
    o.hooks = rdv_faults_rank_hooks(st->faults, &st->hooks);
    /* Sequenced: the record's periodic check is a store call on a clock,
     * so a slow run would have more of them, in other places, than a
     * fast one, and a replay would not be exact. */
    if (st->seq_fd >= 0)
        o.recheck_ms = -1;
    if ((rc = rdv_context_create(&o, &st->ctx, err, sizeof err)))
        return rank_fail(st, rc, "%s", err);
    rc = rdv_context_connect_full_mesh(st->ctx, st->store);
    if (rc)
        return rank_fail(st, rc, "%s", rdv_context_errmsg(st->ctx));
    snprintf(st->slot->transport, sizeof st->slot->transport, "%s",
             rdv_context_transport_name(st->ctx));
    return record_mesh(st);
}

static int run_workload(rank_state *st)
{
    const rdv_run_config *cfg = st->job->cfg;
    rdv_step_env env = {
        .ctx = st->ctx, .store = st->store, .seed = st->job->seed,
        .ops = st->gloo ? rdv_rank_gloo_ops() : NULL, .ops_arg = st->gloo,
        .rank = st->rank, .nranks = cfg->nranks,
        .timeout_ms = cfg->timeout_ms,
    };
    int wrong = 0;

    for (int i = 0; i < cfg->workload.nsteps; i++) {
        const rdv_step *step = &cfg->workload.steps[i];
        rdv_step_out *out = &st->slot->steps[i];
        char err[RDV_DETAIL_MAX + 128];
        int rc;

        rdv_slot_phase(st->slot, RDV_RUN_PHASE_STEP, i);
        rank_log(st, "step %d: %s", i, step->name);
        if ((rc = rdv_step_run(step, &env, out, err, sizeof err)))
            return rank_fail(st, rc, "%s", err);
        if (!out->correct) {
            rank_log(st, "wrong output: %s", out->note);
            wrong = 1;
        }
    }
    if (st->gloo) {
        char err[RDV_DETAIL_MAX];
        int rc = rdv_rank_gloo_finish(st->gloo, err, sizeof err);

        if (rc)
            return rank_fail(st, rc, "after the workload: %s", err);
    }
    return wrong ? RDV_EPROTO : RDV_OK;
}

#define PAGE 4096

/* A rank is a fresh fork, so every page it touches first costs a page
 * fault, and on a VM a fault is dear. By default malloc maps each block
 * of 128 KiB or more on its own and unmaps it on free (a step's
 * buffers, a store's copy of a large value), so every such block faults
 * in again page by page, and a free at the top of the heap trims it.
 * Serving those blocks from the heap and never trimming lets later
 * steps reuse pages already faulted in (a default run: about a fifth
 * fewer page faults). Buffers of 2 MiB and up keep their own mappings
 * (workload_exec.c). A rank lives for one run, so keeping its peak heap
 * costs nothing. The heap the largest step takes is then faulted in up
 * front with one madvise rather than a trap per page (a default run:
 * 512 KiB per rank, a third fewer page faults again); a kernel without
 * MADV_POPULATE_WRITE (before 5.14) leaves it to the traps. The
 * library's own blocks, which grow as its messages do, can push a
 * step's buffers past that heap, so each buffer is populated again
 * where it lands (rdv_step_buf_alloc). */
static void keep_heap(size_t reserve)
{
    char *p;

    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    if (reserve < 2 * PAGE || !(p = malloc(reserve)))
        return;
    rdv_step_populate(p, reserve);
    free(p); /* back to the heap, which is never trimmed */
}

/* proc.start-late: the delay, then the server events planned before it
 * (run/start_late.h), each said in the rank's log. */
static void start_late(rank_state *st, int delay)
{
    int waited;

    rank_log(st, "starting %d ms late (fault)", delay);
    waited = rdv_start_late(st->job->gate, delay, st->job->cfg->timeout_ms);
    if (waited > 0)
        rank_log(st, "then %d ms more, until the server events planned "
                 "before %d ms were carried out", waited, delay);
    else if (waited < 0)
        rank_log(st, "the server events planned before %d ms were still "
                 "not carried out %d ms later; starting anyway", delay,
                 st->job->cfg->timeout_ms);
}

int rdv_rank_main(void *arg, int rank)
{
    const rdv_rank_job *job = arg;
    rank_state st = {.job = job, .rank = rank};
    int rc, delay;

    keep_heap(rdv_workload_heap_bytes(&job->cfg->workload,
                                      job->cfg->nranks));
    st.slot = rdv_result_area_slot(job->area, rank);
    st.seq_fd = rdv_sequencer_rank_fd(job->seq, rank);
    st.slot->pid = getpid();
    atomic_store(&st.slot->state, RDV_SLOT_RUNNING);
    rdv_slot_phase(st.slot, RDV_RUN_PHASE_START, -1);
    st.log = open_log(&st, "log");
    st.fault_log = open_log(&st, "faults.log");
    delay = rdv_faults_start_delay_ms(job->cfg->faults, job->seed, rank);
    if (delay > 0)
        start_late(&st, delay);
    rc = rdv_faults_rank_begin(job->cfg->faults, job->seed, rank,
                               job->cfg->nranks, st.fault_log, &st.faults);
    rdv_faults_rank_publish(st.faults, &st.slot->faults_fired);
    rdv_faults_rank_set_timeout(st.faults, job->cfg->timeout_ms);
    if (rc)
        rank_fail(&st, rc, "fault plan for rank %d: %s", rank,
                  rdv_strerror(rc));
    rdv_slot_phase(st.slot, RDV_RUN_PHASE_STORE_OPEN, -1);
    if (rc == RDV_OK)
        rc = open_store(&st);
    if (rc == RDV_OK)
        rc = connect_mesh(&st);
    if (rc == RDV_OK)
        rc = run_workload(&st);
    rdv_slot_phase(st.slot, RDV_RUN_PHASE_CLEANUP, -1);
    if (st.ctx)
        rdv_context_get_counters(st.ctx, &st.slot->counters);
    if (st.ctx)
        rdv_context_destroy(st.ctx);
    if (st.slot->rc != RDV_OK)
        rdv_rank_gloo_abandon(st.gloo);
    rdv_rank_gloo_destroy(st.gloo);
    rdv_store_close(st.store);
    rdv_faults_rank_end(st.faults);
    if (st.seq_fd >= 0)
        close(st.seq_fd);
    st.slot->t_end_ns = rdv_now_ns();
    atomic_store(&st.slot->state, st.slot->rc == RDV_OK ? RDV_SLOT_OK
                                                        : RDV_SLOT_FAILED);
    rdv_slot_phase(st.slot, RDV_RUN_PHASE_DONE, -1);
    rank_log(&st, "done: %s", rc == RDV_OK ? "ok" : rdv_status_name(rc));
    if (st.log)
        fclose(st.log);
    if (st.fault_log)
        fclose(st.fault_log);
    /* Wrong outputs are the parent's to judge; the exit code says
     * whether every call succeeded. */
    return st.slot->rc == RDV_OK ? 0 : 1;
}
