/*
 * harness/conform/conform_faults.c - fault clauses at the store level: the store
 * under test is wrapped in librdv-fault's fault store (rdv/fault.h), so
 * its calls are delayed by a seeded, reproducible plan, and the contract
 * must still hold. Delays move every process's calls around in time,
 * which is how a race hidden by lucky timing shows up.
 *
 *   faults-store-delay  8 processes, each with its store calls delayed per
 *                FAULT_DELAY_SPEC: adds sum exactly, exactly one
 *                create-only set wins, and every process waits for and
 *                reads every other's record.
 *
 * The rendezvous-level fault clauses (transient errors during a whole
 * `rdv run`) are in conform_rdv.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform/clause.h"
#include "conform/conform_cmd.h"
#include "run/fault_glue.h"
#include "rdv/store.h"

#define FAULT_DELAY_SPEC "store.delay(ms=1..20, p=0.5)"
#define FAULT_SEED 7
#define FAULT_PROCS 8

typedef struct delay_run {
    int winners;    /* create-only sets of "once" that returned RDV_OK */
    char why[FAULT_PROCS][160]; /* each process's failure, or "" */
} delay_run;

static int fault_ops(const clause_ctx *c)
{
    return c->env->quick ? 25 : 100;
}

/* Records why a process failed; returns 1 (its exit code). */
static int fail_why(char *why, const char *what, rdv_store *s)
{
    snprintf(why, 160, "%s: %s", what, rdv_store_errmsg(s));
    return 1;
}

/* One process's work on the delayed store; on failure says why. */
static int delay_work(clause_ctx *c, rdv_store *s, int i, delay_run *run)
{
    char key[32], val[32], *keys[FAULT_PROCS];
    const char *ckeys[FAULT_PROCS];
    void *vals[FAULT_PROCS];
    size_t lens[FAULT_PROCS];
    char *why = run->why[i];
    int rc;

    for (int n = 0; n < fault_ops(c); n++)
        if ((rc = rdv_store_add(s, "ctr", 1, NULL)) != RDV_OK)
            return fail_why(why, "add", s);
    rc = rdv_store_set(s, "once", "w", 1, RDV_SET_CREATE_ONLY);
    if (rc == RDV_OK)
        __atomic_add_fetch(&run->winners, 1, __ATOMIC_SEQ_CST);
    else if (rc != RDV_EEXIST)
        return fail_why(why, "create-only set", s);
    snprintf(key, sizeof key, "rec/%d", i);
    snprintf(val, sizeof val, "record-%d", i);
    if (rdv_store_set(s, key, val, strlen(val), 0) != RDV_OK)
        return fail_why(why, "set", s);
    for (int r = 0; r < FAULT_PROCS; r++) {
        keys[r] = malloc(32);
        snprintf(keys[r], 32, "rec/%d", r);
        ckeys[r] = keys[r];
    }
    rc = rdv_store_multi_get(s, ckeys, FAULT_PROCS, vals, lens,
                             c->env->quick ? 10000 : 30000);
    for (int r = 0; r < FAULT_PROCS; r++) {
        snprintf(val, sizeof val, "record-%d", r);
        if (rc == RDV_OK && (lens[r] != strlen(val) ||
                             memcmp(vals[r], val, lens[r]) != 0) && !why[0])
            snprintf(why, 160, "multi_get: %s holds the wrong value",
                     keys[r]);
        if (rc == RDV_OK)
            free(vals[r]);
        free(keys[r]);
    }
    if (rc != RDV_OK)
        return fail_why(why, "multi_get", s);
    return why[0] != '\0';
}

/* A child: its own fault-wrapped handle on the clause's store. */
static int delay_child(clause_ctx *c, const rdv_faults *plan, int i,
                       delay_run *run)
{
    rdv_store *s = clause_child_store(c), *ws = NULL;
    rdv_faults_rank *fr = NULL;
    int rc = 1;

    if (!s)
        snprintf(run->why[i], 160, "cannot open the store");
    else if (rdv_faults_rank_begin(plan, FAULT_SEED, i, FAULT_PROCS, NULL,
                                   &fr) ||
             rdv_faults_rank_wrap(fr, s, &ws))
        snprintf(run->why[i], 160, "cannot set up the fault store");
    else
        rc = delay_work(c, ws, i, run);
    /* The fault store owns s; an inherited s is this child's copy. */
    if (ws)
        rdv_store_close(ws);
    else
        clause_child_done(c, s);
    rdv_faults_rank_end(fr);
    return rc;
}

static int check_delay(clause_ctx *c, const rdv_faults *plan,
                       delay_run *run)
{
    pid_t pids[FAULT_PROCS];
    char want[32];
    int failed = 0;

    fflush(NULL);
    for (int i = 0; i < FAULT_PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            exit(delay_child(c, plan, i, run));
    }
    for (int i = 0; i < FAULT_PROCS; i++)
        failed += !clause_reap(pids[i]);
    for (int i = 0; i < FAULT_PROCS; i++)
        if (run->why[i][0])
            return clause_fail(c, "under %s (seed %d): process %d: %s",
                               FAULT_DELAY_SPEC, FAULT_SEED, i, run->why[i]);
    if (failed)
        return clause_fail(c, "under %s: %d of %d processes died",
                           FAULT_DELAY_SPEC, failed, FAULT_PROCS);
    if (run->winners != 1)
        return clause_fail(c, "under %s (seed %d): %d processes won the "
                           "same create-only set", FAULT_DELAY_SPEC,
                           FAULT_SEED, run->winners);
    snprintf(want, sizeof want, "%d", FAULT_PROCS * fault_ops(c));
    if (!clause_expect_value(c, c->s, "ctr", want, strlen(want))) {
        char seen[sizeof c->r->evidence];

        snprintf(seen, sizeof seen, "%s", c->r->evidence);
        return clause_fail(c, "under %s (seed %d): %d processes x %d adds "
                           "should make %s: %s", FAULT_DELAY_SPEC,
                           FAULT_SEED, FAULT_PROCS, fault_ops(c), want,
                           seen);
    }
    return clause_pass(c, "under %s (seed %d): %d processes x %d adds "
                       "exact, 1 create-only winner, all records read",
                       FAULT_DELAY_SPEC, FAULT_SEED, FAULT_PROCS,
                       fault_ops(c));
}

void conform_clause_fault_delay(const conform_env *env, conform_out *out)
{
    delay_run *run = mmap(NULL, sizeof *run, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    rdv_faults *plan = NULL;
    char err[256];
    clause_ctx c;

    if (run == MAP_FAILED) {
        conform_verdict(out, RDV_VERDICT_FAIL, "cannot map shared memory");
        return;
    }
    memset(run, 0, sizeof *run);
    if (rdv_faults_parse(FAULT_DELAY_SPEC, FAULT_PROCS, &plan, err,
                                sizeof err)) {
        conform_verdict(out, RDV_VERDICT_FAIL, "fault spec '%s': %s",
                        FAULT_DELAY_SPEC, err);
    } else if (clause_begin(&c, &env->base, &out->r) == RDV_OK) {
        check_delay(&c, plan, run);
        clause_end(&c);
    }
    rdv_faults_free(plan);
    munmap(run, sizeof *run);
}
