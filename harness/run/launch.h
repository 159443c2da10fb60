/*
 * harness/run/launch.h - one `rdv launch`: the user's program started N
 * times with the env:// environment, supervised like a run of `rdv run`
 * (run/supervise.h), and judged by the checks that hold for any
 * program: ranks-ok, no-hang, no-leak; and with context_checks, the
 * program's librdv contexts by rdv run's mesh-consistent, from what
 * each rank's librdv reports (RDV_CONTEXT_REPORT_FD,
 * ref/src/context_report.h). The parent carries out the plan's
 * server.* faults as `rdv run` does (run/server_side.h).
 */
#ifndef RDV_HARNESS_LAUNCH_H
#define RDV_HARNESS_LAUNCH_H

#include <stdint.h>

#include "run/fault_glue.h"
#include "run/run.h"

#define RDV_LAUNCH_TIMEOUT_DEFAULT 60000
#define RDV_LAUNCH_CHECKS_MAX 4

typedef struct rdv_launch_config {
    const char *store_url;   /* RDV_STORE of every rank */
    int nranks;
    uint64_t seed;           /* RDV_SEED: the faults' decisions */
    int timeout_ms;          /* the whole launch; ranks left are killed */
    const char *logs_dir;    /* DIR/rank-R.log (stdout and stderr) and
                                DIR/rank-R.faults.log, or NULL */
    const char *faults_spec; /* RDV_FAULTS, or NULL */
    const char *restart_cmd; /* --server-restart, --server-pid, */
    const char *server_pid;  /* --server-proxy: where the server.* */
    const char *server_proxy; /* faults act (run/server_side.h) */
    rdv_faults *faults;      /* parsed from faults_spec for nranks */
    int context_checks;      /* --context-checks: judge the contexts */
    char **argv;             /* the program and its arguments */
} rdv_launch_config;

typedef struct rdv_launch_report {
    char job[48];            /* RDV_JOB: the prefix of the job's keys */
    double elapsed_ms;
    uint64_t fired;          /* bit i: fault i took effect in some rank
                                (the first 64; RDV_FAULTS_FIRED_FD) */
    int fired_known;         /* some rank's librdv published: fired is
                                what happened; else judged as written */
    rdv_faults_expect expect; /* judged by what fired */
    char server_error[256];  /* a server fault that could not be applied */
    int nchecks;
    /* ranks-ok, mesh-consistent (with context_checks), no-hang, no-leak */
    rdv_check checks[RDV_LAUNCH_CHECKS_MAX];
    int failed;
    rdv_rank_exit exits[RDV_RUN_MAX_RANKS];
} rdv_launch_report;

/* Opens the store in the parent (for the no-leak check), starts the
 * ranks, supervises them to the end and judges. Returns RDV_EXIT_OK or
 * RDV_EXIT_FAIL with rep filled, RDV_EXIT_USAGE for a store no launched
 * program can share (hash:) or server faults with no server to act on, or
 * RDV_EXIT_CANNOT_RUN (the store did not open, fork failed), with a
 * message in err for those two. */
int rdv_launch_run(const rdv_launch_config *cfg, rdv_launch_report *rep,
                   char *err, size_t errlen);

#endif
