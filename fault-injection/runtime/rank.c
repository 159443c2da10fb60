/*
 * runtime/rank.c - the per-rank fault instance and its hooks (rdv/hooks.h):
 * proc.kill and proc.stop at a phase, net.refuse and net.delay before a
 * connect attempt, net.reset, net.short and net.slow before each move of
 * bytes. The hooks run on the context's thread; they chain to the
 * caller's hooks first so the harness still sees every phase.
 *
 * Log lines are written only for decisions that change something. The
 * per-connection rules (short I/O, slow link) are announced once, all
 * together in (fault, peer, direction) order, at the rank's first move
 * of bytes or when it enters `connected`: how often and in which order
 * the transport calls the io hook depends on the kernel's partial
 * transfers and on completion order, while the decision log must be
 * byte-identical per seed.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fault_internal.h"
#include "rdv/clock.h"

void rdv_fault_log(rdv_fault_rank *fr, const rdv_fault *f, const char *fmt,
                   ...)
{
    char line[768];
    int n;
    va_list ap;

    if (f->id >= 0 && f->id < 64) {
        fr->took |= UINT64_C(1) << f->id;
        if (fr->took_sink)
            __atomic_fetch_or(fr->took_sink, UINT64_C(1) << f->id,
                              __ATOMIC_RELEASE);
    }
    if (!fr->log)
        return;
    n = snprintf(line, sizeof line, "rank %d: #%d %s: ", fr->rank, f->id + 1,
                 rdv_fault_kinds[f->kind].name);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(fr->log, "%s\n", line);
    fflush(fr->log);
}

/* Slot of (fault, peer, direction) in io_calls and noted. */
static size_t slot(const rdv_fault_rank *fr, const rdv_fault *f, int peer,
                   int is_send)
{
    return ((size_t)f->id * (size_t)fr->nranks + (size_t)peer) * 2 +
           (is_send ? 0 : 1);
}

/* Logs the first time a per-connection fault applies. */
static void note(rdv_fault_rank *fr, const rdv_fault *f, int peer,
                 int is_send, const char *what)
{
    size_t s = slot(fr, f, peer, is_send);

    if (fr->noted[s])
        return;
    fr->noted[s] = 1;
    rdv_fault_log(fr, f, "peer %d %s: %s", peer, is_send ? "send" : "recv",
                  what);
}

static int dir_match(const rdv_fault *f, int is_send)
{
    return !f->dirs || (f->dirs & (is_send ? 1u : 2u));
}

/* Logs, once, the rule each per-connection fault applies to each of this
 * rank's connections. */
static void announce(rdv_fault_rank *fr)
{
    if (fr->announced)
        return;
    fr->announced = 1;
    for (size_t k = 0; k < fr->n; k++) {
        const rdv_fault *f = &fr->faults[k];
        char what[96];

        if (f->kind == RDV_FK_NET_SHORT)
            snprintf(what, sizeof what, "at most %lld bytes per call%s",
                     (long long)f->max, f->p < 1.0 ? " (some calls)" : "");
        else if (f->kind == RDV_FK_NET_SLOW)
            snprintf(what, sizeof what, "capped at %lld bytes/s",
                     (long long)f->bps);
        else
            continue;
        if (!rdv_fault_has_rank(f, fr->rank))
            continue;
        for (int peer = 0; peer < fr->nranks; peer++)
            for (int is_send = 1; is_send >= 0; is_send--)
                if (peer != fr->rank && rdv_fault_has_peer(f, peer) &&
                    dir_match(f, is_send))
                    rdv_fault_log(fr, f, "peer %d %s: %s", peer,
                                  is_send ? "send" : "recv", what);
    }
}

static void on_phase(void *arg, rdv_phase ph)
{
    rdv_fault_rank *fr = arg;

    if (fr->chain && fr->chain->phase)
        fr->chain->phase(fr->chain->arg, ph);
    if (ph == RDV_PHASE_CONNECTED)
        announce(fr);
    /* The rendezvous starts at its first phase and ends connected; its
     * deadline bounds the injected delays of store calls in between. */
    if (ph == RDV_PHASE_BEFORE_PUBLISH && fr->timeout_ms >= 0)
        __atomic_store_n(&fr->rdv_deadline,
                         rdv_deadline_from_ms(fr->timeout_ms),
                         __ATOMIC_RELEASE);
    else if (ph == RDV_PHASE_CONNECTED)
        __atomic_store_n(&fr->rdv_deadline, RDV_DEADLINE_NONE,
                         __ATOMIC_RELEASE);
    for (size_t k = 0; k < fr->n; k++) {
        rdv_fault *f = &fr->faults[k];
        int kill = f->kind == RDV_FK_PROC_KILL;

        if ((!kill && f->kind != RDV_FK_PROC_STOP) || f->at != (int)ph ||
            fr->fired[k] || !rdv_fault_has_rank(f, fr->rank))
            continue;
        fr->fired[k] = 1;
        rdv_fault_log(fr, f, "at %s: raising %s", rdv_phase_name(ph),
                      kill ? "SIGKILL" : "SIGSTOP");
        /* The fault itself: the rank asked for it in its plan. */
        raise(kill ? SIGKILL : SIGSTOP);
    }
}

static int on_connect(void *arg, int peer, unsigned attempt)
{
    rdv_fault_rank *fr = arg;
    int rc = 0;

    if (fr->chain && fr->chain->connect &&
        (rc = fr->chain->connect(fr->chain->arg, peer, attempt)))
        return rc;
    for (size_t k = 0; k < fr->n; k++) {
        rdv_fault *f = &fr->faults[k];
        int64_t ms;

        if (!rdv_fault_has_rank(f, fr->rank) || !rdv_fault_has_peer(f, peer))
            continue;
        if (f->kind == RDV_FK_NET_REFUSE &&
            attempt < (unsigned)(f->given[RDV_FP_TIMES] ? f->times : 3)) {
            /* One line at the first attempt: retries come back after a
             * jittered backoff, in an order the log must not depend on. */
            if (attempt == 0)
                rdv_fault_log(fr, f, "peer %d: the first %lld attempts "
                              "refused", peer,
                              (long long)(f->given[RDV_FP_TIMES] ? f->times
                                                                 : 3));
            return RDV_ECONN;
        }
        if (f->kind == RDV_FK_NET_DELAY && attempt == 0) {
            ms = rdv_fault_pick(&f->ms, fr->seed, fr->rank, (uint64_t)peer,
                                f->id, RDV_SALT_MS);
            rdv_fault_log(fr, f, "peer %d attempt 0: delayed %lld ms", peer,
                          (long long)ms);
            if (ms > 0)
                return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
        }
    }
    return 0;
}

/* One fault's say on a transfer: lowers *allow, adds to *delay_ns, or
 * returns RDV_EPEER for a reset. */
static int io_fault(rdv_fault_rank *fr, rdv_fault *f, int peer, int is_send,
                    uint64_t offset, int64_t *allow, int64_t *delay_ns)
{
    char what[96];

    switch (f->kind) {
    case RDV_FK_NET_RESET:
        if (offset >= (uint64_t)f->after) {
            snprintf(what, sizeof what, "reset after %lld bytes",
                     (long long)f->after);
            note(fr, f, peer, is_send, what);
            return RDV_EPEER;
        }
        if ((uint64_t)*allow > (uint64_t)f->after - offset)
            *allow = (int64_t)((uint64_t)f->after - offset);
        return RDV_OK;
    case RDV_FK_NET_SHORT: {
        uint64_t i = fr->io_calls[slot(fr, f, peer, is_send)]++;

        if (f->p < 1.0 &&
            rdv_fault_unit(fr->seed, fr->rank, i, f->id, RDV_SALT_FIRE) >=
                f->p)
            return RDV_OK;
        if (*allow > f->max)
            *allow = f->max;
        return RDV_OK;
    }
    case RDV_FK_NET_SLOW: {
        /* Chunks of ~50 ms worth keep the pacing smooth. */
        int64_t chunk = f->bps / 20 > 0 ? f->bps / 20 : 1;

        if (*allow > chunk)
            *allow = chunk;
        *delay_ns += *allow * 1000000000 / f->bps;
        return RDV_OK;
    }
    default:
        return RDV_OK;
    }
}

static int64_t on_io(void *arg, int peer, int is_send, uint64_t offset,
                     size_t want, int64_t *delay_ns)
{
    rdv_fault_rank *fr = arg;
    int64_t allow = (int64_t)want, r;
    int64_t ignored = 0;

    if (!delay_ns)
        delay_ns = &ignored;
    if (fr->chain && fr->chain->io) {
        if ((r = fr->chain->io(fr->chain->arg, peer, is_send, offset, want,
                               delay_ns)) < 0)
            return r;
        allow = r;
    }
    if (peer < 0 || peer >= fr->nranks || want == 0)
        return allow;
    announce(fr);
    for (size_t k = 0; k < fr->n; k++) {
        rdv_fault *f = &fr->faults[k];
        int rc;

        if (!rdv_fault_has_rank(f, fr->rank) ||
            !rdv_fault_has_peer(f, peer) || !dir_match(f, is_send))
            continue;
        if ((rc = io_fault(fr, f, peer, is_send, offset, &allow, delay_ns)))
            return rc;
    }
    return allow < 1 ? 1 : allow;
}

int rdv_fault_rank_create(const rdv_fault_plan *p, uint64_t seed, int rank,
                          int nranks, FILE *log, rdv_fault_rank **out)
{
    rdv_fault_rank *fr;
    size_t nslots;
    int start;

    if (!p || !out || nranks < 1 || rank < 0 || rank >= nranks)
        return RDV_EINVAL;
    *out = NULL;
    nslots = (p->n ? p->n : 1) * (size_t)nranks * 2;
    if (!(fr = calloc(1, sizeof *fr)))
        return RDV_ENOMEM;
    pthread_mutex_init(&fr->lock, NULL);
    fr->faults = malloc((p->n ? p->n : 1) * sizeof *fr->faults);
    fr->calls = calloc(p->n ? p->n : 1, sizeof *fr->calls);
    fr->fired = calloc(p->n ? p->n : 1, 1);
    fr->io_calls = calloc(nslots, sizeof *fr->io_calls);
    fr->noted = calloc(nslots, 1);
    if (!fr->faults || !fr->calls || !fr->fired || !fr->io_calls ||
        !fr->noted) {
        rdv_fault_rank_destroy(fr);
        return RDV_ENOMEM;
    }
    if (p->n)
        memcpy(fr->faults, p->faults, p->n * sizeof *fr->faults);
    fr->n = p->n;
    fr->seed = seed;
    fr->rank = rank;
    fr->nranks = nranks;
    fr->log = log;
    fr->timeout_ms = -1;
    fr->rdv_deadline = RDV_DEADLINE_NONE;
    fr->hooks = (rdv_hooks){.arg = fr, .phase = on_phase,
                            .connect = on_connect, .io = on_io};
    for (size_t k = 0; k < fr->n; k++)
        if (fr->faults[k].kind == RDV_FK_PROC_START_LATE &&
            (start = rdv_fault_plan_start_delay_ms(p, seed, rank)) > 0 &&
            rdv_fault_has_rank(&fr->faults[k], rank)) {
            rdv_fault_log(fr, &fr->faults[k], "forked %d ms late", start);
            break;
        }
    *out = fr;
    return RDV_OK;
}

void rdv_fault_rank_set_timeout(rdv_fault_rank *fr, int timeout_ms)
{
    fr->timeout_ms = timeout_ms;
}

int64_t rdv_fault_rank_call_deadline(const rdv_fault_rank *fr)
{
    return __atomic_load_n(&fr->rdv_deadline, __ATOMIC_ACQUIRE);
}

void rdv_fault_rank_publish_fired(rdv_fault_rank *fr, uint64_t *sink)
{
    fr->took_sink = sink;
    if (sink)
        __atomic_fetch_or(sink, fr->took, __ATOMIC_RELEASE);
}

void rdv_fault_rank_destroy(rdv_fault_rank *fr)
{
    if (!fr)
        return;
    pthread_mutex_destroy(&fr->lock);
    free(fr->faults);
    free(fr->calls);
    free(fr->fired);
    free(fr->io_calls);
    free(fr->noted);
    free(fr);
}

const rdv_hooks *rdv_fault_rank_hooks(rdv_fault_rank *fr,
                                      const rdv_hooks *chain)
{
    if (!fr)
        return chain;
    fr->chain = chain == &fr->hooks ? NULL : chain; /* never itself */
    return &fr->hooks;
}
