/*
 * harness/run/checks.h - the named checks that judge a finished run: a
 * table (run/checks.c) of name, judge and when it applies, one row per
 * rdv_check_id (run/run.h).
 */
#ifndef RDV_HARNESS_CHECKS_H
#define RDV_HARNESS_CHECKS_H

#include "run/run.h"

/* Everything the parent measured about one run. */
typedef struct rdv_run_facts {
    const rdv_run_config *cfg;
    const rdv_result_area *area;
    const rdv_rank_exit *exits;
    int64_t deadline_ns;
    int fds_before, fds_after; /* -1: /proc/self/fd could not be read */
    int procs_left;
    char procs_detail[256];
    long keys_left; /* < 0: the store could not be listed (rdv_status) */
    long keys_excused; /* the fault's culprit's own records */
    char keys_detail[512];
    long stray_keys; /* new keys outside every run prefix, or < 0 */
    int keys_unlisted; /* the store has no list (gloo level): keys_left
                          and stray_keys were not measured */
    char stray_detail[512];
    int temps_left;
    char temps_detail[256];
    int have_faults;
    rdv_faults_expect expect;
    char fault_error[256]; /* a server fault the parent could not apply */
    /* NULL, unless --call-watch ended the run: then the call that was
     * overdue, and its rank */
    const char *overdue_call;
    int overdue_rank;
} rdv_run_facts;

/* Fills rep->checks with every check that applies to the run, in
 * rdv_check_id order (all of them, but culprit-named only when faults
 * were injected), and rep->failed. */
void rdv_checks_evaluate(const rdv_run_facts *f, rdv_run_report *rep);

/* Judges one check of the table into c, whether or not it applies to a
 * run of rdv run: for a caller with the facts of that one check only
 * (rdv launch --context-checks: cfg's nranks and impl, the area's slots
 * and tuples). */
void rdv_check_judge(rdv_check_id id, const rdv_run_facts *f, rdv_check *c);

/* The name of a check ("ranks-ok"); NULL for an id past the table. */
const char *rdv_check_name(rdv_check_id id);

/* The check id in rep, or NULL when it did not apply to the run. */
const rdv_check *rdv_report_check(const rdv_run_report *rep,
                                  rdv_check_id id);

/* 1 when msg names a rank ("rank 3", "peer 3", "ranks 1, 3"), an
 * address ("127.0.0.1:4000") or a key ("job/addr/3"). */
int rdv_error_names_culprit(const char *msg);
/* 1 when msg names this rank, as above. */
int rdv_error_names_rank(const char *msg, int rank);

#endif
