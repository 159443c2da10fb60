/*
 * harness/run/rank.h - the body of one forked rank.
 */
#ifndef RDV_HARNESS_RANK_H
#define RDV_HARNESS_RANK_H

#include "rdv/store.h"
#include "run/run.h"
#include "run/start_late.h"
#include "schedule/sequencer.h"

typedef struct rdv_rank_job {
    const rdv_run_config *cfg;
    const char *store_url;       /* what ranks open: cfg's, or a fault
                                    proxy's in front of it */
    uint64_t seed;
    const char *run_id;          /* this run's key prefix */
    rdv_store *inherited;        /* the parent's handle, when the store
                                    is shared across fork; else NULL */
    const rdv_result_area *area;
    rdv_sequencer *seq;          /* a sequenced run's, else NULL */
    const rdv_server_gate *gate; /* what a late start waits on, or NULL */
} rdv_rank_job;

/* An rdv_rank_fn: runs rank `rank` of the job and returns its exit code
 * (0 = every call succeeded and every output was right). */
int rdv_rank_main(void *job, int rank);

#endif
