/*
 * harness/run/checks.c - judges one run from its facts.
 *
 * The checks are a table (at the end): each row names a check, its
 * judge, and when it applies; rdv_check_id (run/run.h) numbers the rows,
 * so a report has room for every check and a reader can ask for one.
 *
 * Each check looks at one property and says which ranks broke it and
 * how, so a failing check's detail is enough to start debugging. Checks
 * that have nothing to look at SKIP with the reason rather than pass, so
 * a table never shows a green mark for work never done: no rank got
 * connected, no rank failed (no message for error-quality), no fatal
 * fault (no culprit to name), no survivor besides the culprit, no step
 * whose output the ranks share, keys the store cannot list.
 * Under a fatal fault the culprit rank is excluded from ranks-ok, and
 * the survivors are expected to fail; culprit-named then asks whether
 * they said who was at fault, in time.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "run/checks.h"
#include "run/mesh_outside.h"

#define CULPRIT_SLACK_MS 1000

/* Room kept at the end of a detail for "\nand K more". */
#define UNTOLD_ROOM 40

/* Appends "; "-separated detail and marks the check failed. A failure
 * that no longer fits is counted in c->untold, so a check over 1024
 * ranks still says how many broke it. */
static void check_fail(rdv_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void check_fail(rdv_check *c, const char *fmt, ...)
{
    size_t cap = sizeof c->detail - UNTOLD_ROOM;
    size_t o = strlen(c->detail);
    va_list ap;

    c->verdict = RDV_CHECK_FAIL;
    if (o + 8 >= cap) {
        c->untold++;
        return;
    }
    if (o) /* one line per failure: a rank each, at any N */
        o += (size_t)snprintf(c->detail + o, cap - o, "\n");
    va_start(ap, fmt);
    vsnprintf(c->detail + o, cap - o, fmt, ap);
    va_end(ap);
}

/* Says how many failures did not fit, in the room check_fail kept. */
static void tell_untold(rdv_check *c)
{
    size_t o = strlen(c->detail);

    if (c->untold && o < sizeof c->detail)
        snprintf(c->detail + o, sizeof c->detail - o, "\nand %ld more",
                 c->untold);
}

static void check_skip(rdv_check *c, const char *why)
{
    c->verdict = RDV_CHECK_SKIP;
    snprintf(c->detail, sizeof c->detail, "%s", why);
}

static const rdv_slot *slot_of(const rdv_run_facts *f, int r)
{
    return rdv_result_area_slot(f->area, r);
}

static int is_culprit(const rdv_run_facts *f, int r)
{
    return f->expect.fatal && f->expect.culprit == r;
}

static double ms_since_start(const rdv_run_facts *f, int64_t t)
{
    return (double)(t - f->area->t0_ns) / 1e6;
}

/* The rank's phase; inside a workload step, librdv's phase (which stays
 * "in-collective" after a collective returns) is shown beside the step
 * rather than instead of it. */
static void where_is(const rdv_run_facts *f, const rdv_slot *s, char *buf,
                     size_t cap)
{
    int n = atomic_load(&s->nphases);
    const rdv_phase_mark *m = n ? &s->phases[n - 1] : NULL;
    char step[96], lib[64];

    for (int i = n - 1; m && m->phase < RDV_PHASE_COUNT && i >= 0; i--) {
        if (s->phases[i].phase != RDV_RUN_PHASE_STEP)
            continue;
        rdv_workload_phase_describe(&f->cfg->workload, &s->phases[i], step,
                                    sizeof step);
        rdv_workload_phase_describe(&f->cfg->workload, m, lib, sizeof lib);
        snprintf(buf, cap, "%s (librdv: %s)", step, lib);
        return;
    }
    rdv_workload_phase_describe(&f->cfg->workload, m, buf, cap);
}

/* One line on where rank r was when it was killed: phase and store op. */
static void hang_describe(const rdv_run_facts *f, int r, char *buf,
                          size_t cap)
{
    const rdv_slot *s = slot_of(f, r);
    const rdv_phase_mark *m = rdv_slot_current_phase(s);
    int64_t now = f->exits[r].t_exit_ns;
    char phase[192];
    size_t o;

    where_is(f, s, phase, sizeof phase);
    if (f->overdue_call && r == f->overdue_rank) {
        snprintf(buf, cap, "rank %d (pid %d) killed in phase %s: its store "
                 "%s (--call-watch ended the run)", r, (int)f->exits[r].pid,
                 phase, f->overdue_call);
        return;
    }
    if (f->overdue_call)
        o = (size_t)snprintf(buf, cap, "rank %d (pid %d) killed with the "
                             "run (rank %d's store call was overdue) in "
                             "phase %s (for %.0f ms)", r,
                             (int)f->exits[r].pid, f->overdue_rank, phase,
                             m ? (double)(now - m->t_ns) / 1e6 : 0.0);
    else
        o = (size_t)snprintf(buf, cap, "rank %d (pid %d) killed at the %d "
                             "ms deadline in phase %s (for %.0f ms)", r,
                             (int)f->exits[r].pid, f->cfg->deadline_ms,
                             phase,
                             m ? (double)(now - m->t_ns) / 1e6 : 0.0);
    if (o >= cap)
        return;
    if (atomic_load(&s->op_active))
        snprintf(buf + o, cap - o, ", store op in flight: %s '%s' (for "
                 "%.0f ms)", rdv_store_op_name((rdv_store_op)s->op),
                 s->op_key, (double)(now - s->op_t0_ns) / 1e6);
    else if (s->nops)
        snprintf(buf + o, cap - o, ", last store op: %s '%s' (done)",
                 rdv_store_op_name((rdv_store_op)s->op), s->op_key);
    else
        snprintf(buf + o, cap - o, ", no store op yet");
}

/* How a rank ended, for ranks-ok: NULL when it succeeded. */
static const char *rank_outcome(const rdv_run_facts *f, int r, char *buf,
                                size_t cap)
{
    const rdv_rank_exit *e = &f->exits[r];
    const rdv_slot *s = slot_of(f, r);

    if (e->hung)
        snprintf(buf, cap, "rank %d hung (see no-hang)", r);
    else if (e->signo)
        snprintf(buf, cap, "rank %d killed by signal %d", r, e->signo);
    else if (atomic_load(&s->state) == RDV_SLOT_FAILED)
        snprintf(buf, cap, "rank %d failed: %s: %s", r,
                 rdv_status_name(s->rc), s->error);
    else if (e->code != 0 || atomic_load(&s->state) != RDV_SLOT_OK)
        snprintf(buf, cap, "rank %d exited with code %d without reporting",
                 r, e->code);
    else
        return NULL;
    return buf;
}

static void judge_ranks_ok(const rdv_run_facts *f, rdv_check *c)
{
    char buf[RDV_DETAIL_MAX + 256];
    int judged = 0;

    for (int r = 0; r < f->cfg->nranks; r++) {
        const char *why = rank_outcome(f, r, buf, sizeof buf);

        if (is_culprit(f, r))
            continue;
        judged++;
        if (!f->expect.fatal && why)
            check_fail(c, "%s", why);
        else if (f->expect.fatal && !why)
            check_fail(c, "rank %d succeeded although the fault is fatal",
                       r);
        else if (f->expect.fatal && f->exits[r].hung)
            check_fail(c, "%s", why);
    }
    if (!judged)
        check_skip(c, "the only rank is the fault's culprit: no survivor "
                      "to judge");
    else if (c->verdict == RDV_CHECK_PASS)
        snprintf(c->detail, sizeof c->detail, f->expect.fatal
                 ? "every survivor failed, as the fault requires"
                 : "%d of %d ranks succeeded", f->cfg->nranks,
                 f->cfg->nranks);
}

/* At most this many disagreeing pairs are spelled out; the rest are
 * only counted (a broken mesh at N = 1024 can have half a million, and
 * formatting each would cost more than the whole check). */
#define MESH_SHOWN 4

static void mesh_mismatch(rdv_check *c, int i, int j, const rdv_tuple *a,
                          const rdv_tuple *b)
{
    char al[64], ar[64], bl[64], br[64];

    check_fail(c, "rank %d's socket to rank %d is %s -> %s but rank %d's "
               "to rank %d is %s -> %s", i, j,
               rdv_endpoint_format(&a->local, al, sizeof al),
               rdv_endpoint_format(&a->remote, ar, sizeof ar), j, i,
               rdv_endpoint_format(&b->local, bl, sizeof bl),
               rdv_endpoint_format(&b->remote, br, sizeof br));
}

/* Rank i's link to j against j's link to i, for every pair of connected
 * ranks: N(N-1)/2 comparisons of 40 bytes, a few ms at N = 1024. */
/* Gloo's pairs show no sockets: each rank listed its own, and the pairs
 * of ranks must each share one connection (run/mesh_outside.h). */
static void judge_mesh_outside(const rdv_run_facts *f, rdv_check *c)
{
    rdv_mesh_view v;

    for (int r = 0; r < f->cfg->nranks; r++)
        if (slot_of(f, r)->nsockets < 0) {
            snprintf(c->detail, sizeof c->detail, "rank %d could not list "
                     "its sockets (/proc/self/fd), so Gloo's mesh was not "
                     "seen", r);
            c->verdict = RDV_CHECK_SKIP;
            return;
        }
    if (rdv_mesh_outside(f->area, f->cfg->nranks, &v)) {
        check_skip(c, "out of memory matching the ranks' sockets");
        return;
    }
    for (int k = 0; k < v.nunlinked; k++)
        check_fail(c, "ranks %d and %d share no TCP connection (rank %d "
                   "holds %d sockets, rank %d %d)", v.unlinked[k][0],
                   v.unlinked[k][1], v.unlinked[k][0],
                   slot_of(f, v.unlinked[k][0])->nsockets, v.unlinked[k][1],
                   slot_of(f, v.unlinked[k][1])->nsockets);
    c->untold += v.pairs - v.linked - v.nunlinked;
    if (v.truncated >= 0 && c->verdict == RDV_CHECK_FAIL)
        check_fail(c, "rank %d had more sockets than the %d its row holds",
                   v.truncated, f->cfg->nranks);
    if (f->cfg->nranks == 1)
        check_skip(c, "a single rank has no mesh");
    else if (v.pairs == 0)
        check_skip(c, "no two ranks got connected");
    else if (c->verdict == RDV_CHECK_PASS)
        snprintf(c->detail, sizeof c->detail, "%ld pair%s of ranks share%s a "
                 "TCP connection (Gloo's, seen from the ranks' own sockets)",
                 v.pairs, v.pairs == 1 ? "" : "s", v.pairs == 1 ? "s" : "");
}

/* An end with no family: its rank could not tell it (or it is not a
 * TCP/IP socket), so its pair is not seen rather than compared: two
 * zeroed ends would mirror each other and pass. */
static int end_unknown(const rdv_tuple *t)
{
    return !t->local.family || !t->remote.family;
}

static void judge_mesh(const rdv_run_facts *f, rdv_check *c)
{
    int n = f->cfg->nranks;
    long pairs = 0, bad = 0, unseen = 0, all = (long)n * (n - 1) / 2;
    int ui = -1, uj = -1;

    if (f->cfg->impl == RDV_IMPL_GLOO) {
        judge_mesh_outside(f, c);
        return;
    }
    for (int i = 0; i < n; i++) {
        const rdv_tuple *row = rdv_result_area_tuples(f->area, i);

        if (!slot_of(f, i)->connected)
            continue;
        for (int j = i + 1; j < n; j++) {
            const rdv_tuple *a = &row[j];
            const rdv_tuple *b = &rdv_result_area_tuples(f->area, j)[i];

            if (!slot_of(f, j)->connected)
                continue;
            if (end_unknown(a) || end_unknown(b)) {
                if (!unseen++)
                    ui = i, uj = j;
                continue;
            }
            pairs++;
            if (rdv_endpoint_equal(&a->local, &b->remote) &&
                rdv_endpoint_equal(&a->remote, &b->local))
                continue;
            if (bad++ < MESH_SHOWN)
                mesh_mismatch(c, i, j, a, b);
            else
                c->untold++;
        }
    }
    if (n == 1) {
        check_skip(c, "a single rank has no mesh");
    } else if (unseen && c->verdict == RDV_CHECK_PASS) {
        check_skip(c, "");
        snprintf(c->detail, sizeof c->detail, "the sockets of %ld pair%s "
                 "of connected ranks told no address (ranks %d and %d%s), "
                 "so the mesh was not seen whole; %ld other pair%s "
                 "mirror%s each other", unseen, unseen == 1 ? "" : "s", ui,
                 uj, unseen > 1 ? ", ..." : "", pairs, pairs == 1 ? "" : "s",
                 pairs == 1 ? "s" : "");
    } else if (pairs == 0 && c->verdict == RDV_CHECK_PASS) {
        check_skip(c, "no two ranks got connected");
    } else if (c->verdict == RDV_CHECK_PASS && pairs < all) {
        snprintf(c->detail, sizeof c->detail, "%ld of %ld socket pairs "
                 "mirror each other; the rest were never connected", pairs,
                 all);
    } else if (c->verdict == RDV_CHECK_PASS) {
        snprintf(c->detail, sizeof c->detail, "%ld socket pairs mirror each "
                 "other", pairs);
    }
}

/* Barrier semantics: nobody leaves before everybody has entered. A
 * barrier has no output: this order is all there is to judge, and only
 * when every rank finished it (0 then: not judged). */
static int check_barrier_order(const rdv_run_facts *f, int step,
                               rdv_check *c)
{
    int64_t last_in = 0, first_out = INT64_MAX;
    int late = -1, early = -1;

    for (int r = 0; r < f->cfg->nranks; r++) {
        const rdv_step_out *o = &slot_of(f, r)->steps[step];

        if (!o->ran)
            return 0;
        if (o->t_enter_ns > last_in)
            last_in = o->t_enter_ns, late = r;
        if (o->t_exit_ns < first_out)
            first_out = o->t_exit_ns, early = r;
    }
    if (first_out < last_in)
        check_fail(c, "step %d (barrier): rank %d left at %.3f ms before "
                   "rank %d entered at %.3f ms", step, early,
                   ms_since_start(f, first_out), late,
                   ms_since_start(f, last_in));
    return 1;
}

static void judge_results(const rdv_run_facts *f, rdv_check *c)
{
    const rdv_workload *w = &f->cfg->workload;
    int checked = 0, unjudged = 0;

    for (int i = 0; i < w->nsteps; i++) {
        int ran = 0;

        for (int r = 0; r < f->cfg->nranks; r++) {
            const rdv_step_out *o = &slot_of(f, r)->steps[i];

            ran += o->ran;
            if (o->ran && !o->correct)
                check_fail(c, "step %d: %s", i, o->note);
        }
        /* a barrier's "correct" is only its order, judged when every
         * rank finished it */
        if (w->steps[i].kind == RDV_STEP_BARRIER &&
            !check_barrier_order(f, i, c))
            unjudged += ran;
        else
            checked += ran;
    }
    if (!w->nsteps)
        check_skip(c, "the workload has no step after the rendezvous");
    else if (!checked && unjudged && c->verdict == RDV_CHECK_PASS)
        check_skip(c, "only barriers finished, and not on every rank: "
                      "their order could not be judged");
    else if (!checked && c->verdict == RDV_CHECK_PASS)
        check_skip(c, "no step finished on any rank");
    else if (c->verdict == RDV_CHECK_PASS)
        snprintf(c->detail, sizeof c->detail, "%d step results match "
                 "their closed forms", checked);
}

static void judge_identical(const rdv_run_facts *f, rdv_check *c)
{
    const rdv_workload *w = &f->cfg->workload;
    int compared = 0, shared = 0;

    for (int i = 0; i < w->nsteps; i++) {
        int first = -1;

        if (!rdv_step_output_shared(&w->steps[i]))
            continue;
        shared++;
        for (int r = 0; r < f->cfg->nranks; r++) {
            const rdv_step_out *o = &slot_of(f, r)->steps[i];

            if (!o->ran)
                continue;
            if (first < 0) {
                first = r;
                continue;
            }
            compared++;
            if (o->digest != slot_of(f, first)->steps[i].digest)
                check_fail(c, "step %d (%s): rank %d's output digest "
                           "%016llx differs from rank %d's %016llx", i,
                           w->steps[i].name, r, (unsigned long long)o->digest,
                           first, (unsigned long long)slot_of(f, first)
                                      ->steps[i].digest);
        }
    }
    if (f->cfg->nranks == 1)
        check_skip(c, "a single rank has nothing to compare");
    else if (!shared)
        check_skip(c, "no step of the workload has an output every rank "
                      "shares (barrier, spin and reduce_scatter do not)");
    else if (!compared)
        check_skip(c, "no step finished on two ranks");
    else if (c->verdict == RDV_CHECK_PASS)
        snprintf(c->detail, sizeof c->detail, "%d digests agree",
                 compared);
}

static void judge_no_hang(const rdv_run_facts *f, rdv_check *c)
{
    int excused = -1, first = f->overdue_call ? f->overdue_rank : -1;
    char buf[512];

    /* The rank whose call ended the run first: the others only went down
     * with it. */
    for (int i = first >= 0 ? -1 : 0; i < f->cfg->nranks; i++) {
        int r = i < 0 ? first : i;

        if (!f->exits[r].hung || (i >= 0 && r == first))
            continue;
        /* A culprit the fault stopped or stalled past the deadline is the
         * fault itself, not a hang of the code under test. */
        if (is_culprit(f, r)) {
            excused = r;
            continue;
        }
        hang_describe(f, r, buf, sizeof buf);
        check_fail(c, "%s", buf);
    }
    if (c->verdict == RDV_CHECK_PASS && excused >= 0 &&
        f->cfg->nranks == 1)
        check_skip(c, "the only rank is the fault's culprit, held by the "
                      "fault past the deadline: no other rank to judge");
    else if (c->verdict == RDV_CHECK_PASS && excused >= 0)
        snprintf(c->detail, sizeof c->detail, "every rank but the culprit "
                 "(rank %d, held by the fault and killed at the %d ms "
                 "deadline) exited in time", excused, f->cfg->deadline_ms);
    else if (c->verdict == RDV_CHECK_PASS)
        snprintf(c->detail, sizeof c->detail, "every rank exited before "
                 "the %d ms deadline", f->cfg->deadline_ms);
}

/* A leak it could not look for (the store has no list, /proc/self/fd
 * could not be read) leaves the check a SKIP naming what went unchecked,
 * unless what it could see already leaked (FAIL). */
static void judge_no_leak(const rdv_run_facts *f, rdv_check *c)
{
    int fds_unknown = f->fds_before < 0 || f->fds_after < 0;

    if (f->procs_left)
        check_fail(c, "processes: %s", f->procs_detail);
    if (!fds_unknown && f->fds_before != f->fds_after)
        check_fail(c, "harness fds: %d before the run, %d after",
                   f->fds_before, f->fds_after);
    if (f->keys_left > 0)
        check_fail(c, "%ld keys left under the run prefix: %s",
                   f->keys_left, f->keys_detail);
    else if (f->keys_left < 0)
        check_fail(c, "could not list the run's keys: %s: %s",
                   rdv_status_name((int)f->keys_left), f->keys_detail);
    if (f->stray_keys > 0)
        /* The harness cannot tell a key the store leaked from one
         * another client of the same server wrote during the run. */
        check_fail(c, "%ld new keys outside the run prefix, left by the "
                   "store or written during the run by another client of "
                   "the same server: %s", f->stray_keys, f->stray_detail);
    else if (f->stray_keys < 0)
        check_fail(c, "could not list the store's keys: %s: %s",
                   rdv_status_name((int)f->stray_keys), f->stray_detail);
    if (f->temps_left)
        check_fail(c, "%d temp files left: %s", f->temps_left,
                   f->temps_detail);
    if (c->verdict != RDV_CHECK_PASS)
        return;
    if (f->keys_unlisted || fds_unknown) {
        c->verdict = RDV_CHECK_SKIP;
        snprintf(c->detail, sizeof c->detail, "no processes%s or temp "
                 "files left, but not checked:%s%s",
                 fds_unknown ? "" : ", fds", f->keys_unlisted ? " keys (the store has no list: gloo "
                                    "level)" : "",
                 fds_unknown ? " fds (/proc/self/fd could not be read)"
                             : "");
    } else {
        snprintf(c->detail, sizeof c->detail, "no processes, fds (%d), "
                 "keys or temp files left%s", f->fds_after, f->keys_excused
                 ? " (but the culprit's own records, which it could not "
                   "remove)" : "");
    }
}

/* Judges the messages of the ranks that reported a failure. With none
 * there is no message to judge: a SKIP saying why (no rank failed, or
 * the ranks that went wrong died, hung or exited without one, which
 * ranks-ok names), never a PASS. */
static void judge_error_quality(const rdv_run_facts *f, rdv_check *c)
{
    int failed = 0, silent = 0, first_silent = -1;
    char buf[RDV_DETAIL_MAX + 256];

    for (int r = 0; r < f->cfg->nranks; r++) {
        const rdv_slot *s = slot_of(f, r);

        if (atomic_load(&s->state) != RDV_SLOT_FAILED) {
            if (rank_outcome(f, r, buf, sizeof buf) && silent++ == 0)
                first_silent = r;
            continue;
        }
        failed++;
        if (!rdv_error_names_culprit(s->error))
            check_fail(c, "rank %d's error names no rank, key or address: "
                       "\"%s\"", r, s->error);
    }
    if (c->verdict != RDV_CHECK_PASS)
        return;
    if (!failed && silent) {
        snprintf(c->detail, sizeof c->detail, "no error message to judge: "
                 "%d of %d ranks ended without one (%s%s)", silent,
                 f->cfg->nranks,
                 rank_outcome(f, first_silent, buf, sizeof buf),
                 silent > 1 ? ", ..." : "");
        c->verdict = RDV_CHECK_SKIP;
    } else if (!failed) {
        check_skip(c, "no rank failed: no error message to judge");
    } else {
        snprintf(c->detail, sizeof c->detail, "the error of each of the %d "
                 "failing ranks names a rank, key or address", failed);
    }
}

static void judge_culprit(const rdv_run_facts *f, rdv_check *c)
{
    const rdv_faults_expect *x = &f->expect;
    int64_t fault_t = 0;
    int bound_ms = f->cfg->timeout_ms + CULPRIT_SLACK_MS;
    char who[300];
    int judged = 0, hung = 0;

    if (f->fault_error[0])
        check_fail(c, "a server fault could not be applied: %s",
                   f->fault_error);
    if (!x->fatal) {
        if (c->verdict == RDV_CHECK_PASS)
            check_skip(c, "no fatal fault fired: no culprit to name");
        return;
    }
    if (x->culprit < 0 && !x->key[0]) {
        /* A server fault, or a fault on every rank and key: there is no
         * one rank or key a survivor could name. */
        if (c->verdict == RDV_CHECK_PASS)
            check_skip(c, "the fatal fault has no single culprit (it hits "
                          "every rank and key): nothing to name");
        return;
    }
    if (x->culprit >= 0) {
        const rdv_phase_mark *m =
            rdv_slot_current_phase(slot_of(f, x->culprit));

        fault_t = m ? m->t_ns : 0;
        snprintf(who, sizeof who, "rank %d", x->culprit);
    } else {
        snprintf(who, sizeof who, "key %s", x->key);
    }
    for (int r = 0; r < f->cfg->nranks; r++) {
        const rdv_slot *s = slot_of(f, r);
        int named;

        if (r == x->culprit)
            continue;
        if (f->exits[r].hung) {
            hung++; /* no-hang's to report */
            continue;
        }
        judged++;
        named = x->culprit >= 0 ? rdv_error_names_rank(s->error, x->culprit)
                                : (x->key[0] && strstr(s->error, x->key));
        if (!named)
            check_fail(c, "rank %d's error does not name the culprit (%s): "
                       "\"%s\"", r, who, s->error);
        if (fault_t && s->t_end_ns - fault_t > (int64_t)bound_ms * 1000000)
            check_fail(c, "rank %d failed %.0f ms after the fault, more than "
                       "timeout + %d ms", r,
                       (double)(s->t_end_ns - fault_t) / 1e6,
                       CULPRIT_SLACK_MS);
    }
    if (c->verdict != RDV_CHECK_PASS)
        return;
    if (!judged && hung)
        check_skip(c, "every survivor hung (no-hang names them): no error "
                      "to look for the culprit in");
    else if (!judged)
        check_skip(c, "the only rank is the fault's culprit: no survivor "
                      "to name it");
    else
        snprintf(c->detail, sizeof c->detail, "each of the %d survivors "
                 "named the culprit within %d ms", judged, bound_ms);
}

/* ---- the table ------------------------------------------------------ */

static int always(const rdv_run_facts *f)
{
    (void)f;
    return 1;
}

static int under_faults(const rdv_run_facts *f)
{
    return f->have_faults;
}

typedef struct check_def {
    const char *name;
    /* Judges the run into c, which starts as PASS with no detail. */
    void (*judge)(const rdv_run_facts *f, rdv_check *c);
    /* 0 when the check has nothing to say about this kind of run: it is
     * then left out of the report (not SKIPped: it never applied). */
    int (*applies)(const rdv_run_facts *f);
} check_def;

static const check_def table[] = {
    [RDV_CHECK_RANKS_OK] = {"ranks-ok", judge_ranks_ok, always},
    [RDV_CHECK_MESH_CONSISTENT] = {"mesh-consistent", judge_mesh, always},
    [RDV_CHECK_RESULTS_CORRECT] = {"results-correct", judge_results, always},
    [RDV_CHECK_RESULTS_IDENTICAL] = {"results-identical", judge_identical,
                                     always},
    [RDV_CHECK_NO_HANG] = {"no-hang", judge_no_hang, always},
    [RDV_CHECK_NO_LEAK] = {"no-leak", judge_no_leak, always},
    [RDV_CHECK_ERROR_QUALITY] = {"error-quality", judge_error_quality,
                                 always},
    [RDV_CHECK_CULPRIT_NAMED] = {"culprit-named", judge_culprit,
                                 under_faults},
};

_Static_assert(sizeof table / sizeof table[0] == RDV_CHECK_COUNT,
               "run/checks.c: one table row per rdv_check_id");

const char *rdv_check_name(rdv_check_id id)
{
    return (unsigned)id < RDV_CHECK_COUNT ? table[id].name : NULL;
}

const rdv_check *rdv_report_check(const rdv_run_report *rep,
                                  rdv_check_id id)
{
    for (int i = 0; i < rep->nchecks; i++)
        if (rep->checks[i].id == id)
            return &rep->checks[i];
    return NULL;
}

void rdv_check_judge(rdv_check_id id, const rdv_run_facts *f, rdv_check *c)
{
    c->id = id;
    c->name = table[id].name;
    c->verdict = RDV_CHECK_PASS;
    c->detail[0] = '\0';
    c->untold = 0;
    table[id].judge(f, c);
    tell_untold(c);
}

void rdv_checks_evaluate(const rdv_run_facts *f, rdv_run_report *rep)
{
    rep->nchecks = 0;
    rep->failed = 0;
    for (int id = 0; id < RDV_CHECK_COUNT; id++) {
        rdv_check *c = &rep->checks[rep->nchecks];

        if (!table[id].applies(f))
            continue;
        rep->nchecks++;
        rdv_check_judge((rdv_check_id)id, f, c);
        rep->failed |= c->verdict == RDV_CHECK_FAIL;
    }
}
