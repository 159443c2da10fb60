/*
 * harness/run/fault_glue.h - the harness's one door to librdv-fault: a
 * parsed plan, what a run under it must show, what it needs, and the
 * parent's and each rank's share of the faults. A NULL plan is no
 * faults: every call then passes its input through.
 */
#ifndef RDV_HARNESS_FAULT_GLUE_H
#define RDV_HARNESS_FAULT_GLUE_H

#include <stdint.h>
#include <stdio.h>

#include "rdv/fault.h" /* RDV_FAULT_NEEDS_* */
#include "rdv/hooks.h"
#include "rdv/store.h"

typedef struct rdv_faults rdv_faults;          /* a parsed plan */
typedef struct rdv_faults_rank rdv_faults_rank; /* one rank's instance */

typedef struct rdv_faults_expect {
    int fatal;
    int culprit; /* rank, or -1 */
    char key[256];
} rdv_faults_expect;

/* Parses and validates spec for nranks. -1 with a message (pointing at
 * the column) on error. */
int rdv_faults_parse(const char *spec, int nranks, rdv_faults **out,
                     char *err, size_t errlen);
void rdv_faults_free(rdv_faults *f);
const char *rdv_faults_text(const rdv_faults *f);
/* What the run must show under f, judged against the run's timeout and,
 * when fired is not NULL, by what fired (the OR of the ranks' masks,
 * rdv_faults_rank_publish): a fault that never fired is not judged. */
void rdv_faults_expect_get(const rdv_faults *f, uint64_t seed, int nranks,
                           int timeout_ms, const uint64_t *fired,
                           rdv_faults_expect *out);
int rdv_faults_start_delay_ms(const rdv_faults *f, uint64_t seed, int rank);
int rdv_faults_stop_ms(const rdv_faults *f, uint64_t seed, int rank);

/* What a run must offer the plan (RDV_FAULT_NEEDS_*); 0 for NULL. */
unsigned rdv_faults_needs(const rdv_faults *f);
/* rdv_fault_plan_call_stretch_ms: 0 without faults, -1 unbounded. */
int64_t rdv_faults_call_stretch_ms(const rdv_faults *f, int timed);
/* Who applies the plan's faults (RDV_FAULT_BY_*); 0 for NULL. */
unsigned rdv_faults_families(const rdv_faults *f);

/* The one rule for a plan's needs: NULL when offers (RDV_FAULT_NEEDS_*
 * bits: what the run can provide) covers needs, else why not, for the
 * user ("server.restart needs --server-restart CMD ..."). Every caller
 * that refuses or skips a plan for what it needs asks this. */
const char *rdv_faults_unmet(unsigned needs, unsigned offers);

/* Parent side: the plan's server.* faults, applied during a run.
 * start puts into rank_url the URL ranks must open (a proxy's, when the
 * plan needs one; else url) and sets *out to NULL when the plan has no
 * server fault. poll fires what is due, sets *restart_due when the caller
 * must restart the server now (with the command the plan's needs asked
 * for), and returns the ms until the next event, -1 when none is left.
 * An event that could not be applied is not tried again: err says why,
 * and the later events still fire on time. */
typedef struct rdv_faults_server rdv_faults_server;

/* RDV_OK when the store at url can take f's server faults (f may be
 * NULL); RDV_EINVAL with a message naming the fault and the URL
 * (password masked) otherwise: a usage error, found before any run. */
int rdv_faults_server_check(const rdv_faults *f, const char *url,
                            const rdv_fault_server_where *where, char *err,
                            size_t errlen);

/* where (may be NULL): the server when the URL does not say (a PID to
 * pause, an address to proxy), as rdv_fault_server_where tells. */
int rdv_faults_server_start(const rdv_faults *f, uint64_t seed,
                            const char *url,
                            const rdv_fault_server_where *where,
                            char *rank_url, size_t cap,
                            rdv_faults_server **out, char *err,
                            size_t errlen);
int rdv_faults_server_poll(rdv_faults_server *s, int64_t elapsed_ms,
                           int *restart_due, char *err, size_t errlen);
void rdv_faults_server_stop(rdv_faults_server *s);

/* The scenarios `rdv matrix --faults all` runs, by index: a column name
 * and a spec (what it needs is what its parsed plan needs). */
size_t rdv_faults_scenario_count(void);
void rdv_faults_scenario(size_t i, const char **name, const char **spec);

/* Publishes into *sink which faults took effect in this rank (see
 * rdv_fault_rank_publish_fired); nothing for a NULL fr. */
void rdv_faults_rank_publish(rdv_faults_rank *fr, uint64_t *sink);
/* The rendezvous timeout, which bounds injected delays of store calls
 * that have no deadline (rdv_fault_rank_set_timeout); nothing for NULL. */
void rdv_faults_rank_set_timeout(rdv_faults_rank *fr, int timeout_ms);

/* Rank side (after fork). f may be NULL: then *out = NULL and the other
 * calls pass their input through. */
int rdv_faults_rank_begin(const rdv_faults *f, uint64_t seed, int rank,
                          int nranks, FILE *log, rdv_faults_rank **out);
int rdv_faults_rank_wrap(rdv_faults_rank *fr, rdv_store *in,
                         rdv_store **out);
const rdv_hooks *rdv_faults_rank_hooks(rdv_faults_rank *fr,
                                       const rdv_hooks *chain);
void rdv_faults_rank_end(rdv_faults_rank *fr);

#endif
