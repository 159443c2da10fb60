/*
 * harness/run/run.h - one `rdv run`: fork the ranks against a store, supervise
 * them, and judge the result with named checks.
 *
 * A runner is made once per command (it opens the store in the parent,
 * which a hash:?shared=1 store needs before fork, and maps the result
 * area) and then runs any number of times: each run gets a fresh,
 * unique key prefix, so repeats and concurrent runs never share keys.
 */
#ifndef RDV_HARNESS_RUN_H
#define RDV_HARNESS_RUN_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "run/fault_glue.h"
#include "common/result_area.h"
#include "run/supervise.h"
#include "schedule/schedule.h"
#include "workload/workload.h"

#define RDV_RUN_TIMEOUT_DEFAULT 10000
/* The whole run's deadline unless --deadline says otherwise: long enough
 * for a rank to time out in one call and still report (timeout + 1 s of
 * slack), and again for the survivors of a fault. */
#define RDV_RUN_DEADLINE_DEFAULT(timeout_ms) (2 * (timeout_ms) + 1000)

/* Whose rendezvous and collectives the ranks run (--impl). */
typedef enum rdv_impl {
    RDV_IMPL_RDV,  /* librdv's */
    RDV_IMPL_GLOO, /* Gloo's, on the same store (run/rank_gloo.h) */
} rdv_impl;

typedef struct rdv_run_config {
    const char *prog;          /* argv[0], for replay lines */
    const char *store_url;
    int nranks;
    const char *workload_spec; /* as given, NULL = the default */
    rdv_workload workload;     /* parsed from workload_spec */
    int timeout_ms;            /* every call's deadline inside a rank */
    int deadline_ms;           /* the whole run; ranks left are killed */
    const char *transport;     /* "uring", "epoll" or NULL */
    const char *logs_dir;      /* per-rank logs, or NULL */
    int trace;                 /* record every store op for a trace */
    const char *faults_spec;   /* NULL = no faults */
    const char *restart_cmd;   /* restarts the store's server, for the
                                  server.restart fault; NULL = none */
    const char *server_pid;    /* the server's PID or pidfile, for
                                  server.pause on any store; NULL = none */
    const char *server_proxy;  /* "[LISTEN=]HOST:PORT" the fault proxy
                                  stands in front of; NULL = redis's */
    rdv_faults *faults;        /* parsed from faults_spec */
    rdv_impl impl;
    rdv_schedule_spec schedule; /* --schedule; kind NONE = unsequenced */
    int call_watch;            /* --call-watch (run/call_watch.h) */
} rdv_run_config;

enum { RDV_CHECK_PASS, RDV_CHECK_FAIL, RDV_CHECK_SKIP };

/* The checks that judge a run, in report order. The table in
 * run/checks.c gives each its name, its judge and when it applies. */
typedef enum rdv_check_id {
    RDV_CHECK_RANKS_OK,
    RDV_CHECK_MESH_CONSISTENT,
    RDV_CHECK_RESULTS_CORRECT,
    RDV_CHECK_RESULTS_IDENTICAL,
    RDV_CHECK_NO_HANG,
    RDV_CHECK_NO_LEAK,
    RDV_CHECK_ERROR_QUALITY,
    RDV_CHECK_CULPRIT_NAMED,
    RDV_CHECK_COUNT
} rdv_check_id;

typedef struct rdv_check {
    rdv_check_id id;
    const char *name; /* "ranks-ok" */
    int verdict;      /* RDV_CHECK_PASS, _FAIL or _SKIP */
    char detail[1024]; /* failures one per line ('\n' between) */
    long untold;      /* failures counted but not spelled out in detail */
} rdv_check;

typedef struct rdv_run_report {
    uint64_t seed;
    char run_id[40];  /* the key prefix of this run */
    double elapsed_ms;
    int nchecks;      /* the checks that applied to this run */
    rdv_check checks[RDV_CHECK_COUNT]; /* room for every one */
    int failed;       /* some check failed */
    rdv_rank_exit exits[RDV_RUN_MAX_RANKS];
    const rdv_result_area *area; /* valid until the next run */
    int sequenced;    /* run under cfg->schedule; then: */
    uint64_t seq_steps;     /* store ops given a turn */
    uint64_t seq_inexact;   /* turns given without every rank settled,
                               or ops that outran their turn: 0 = the
                               order is exactly the schedule's */
} rdv_run_report;

typedef struct rdv_runner rdv_runner;

/* Opens the store in the parent and maps the result area. Returns
 * RDV_OK, or an rdv_status with a message for the user in err: RDV_EINVAL
 * or RDV_ENOTSUP for a run that can never work (a malformed URL, an
 * unknown scheme, hash: without shared=1, a fault plan whose needs the
 * run does not offer: rdv_faults_unmet), anything else when the store
 * could not be reached. cfg must outlive the runner. */
int rdv_runner_create(const rdv_run_config *cfg, rdv_runner **out,
                      char *err, size_t errlen);
void rdv_runner_destroy(rdv_runner *r);

/* What the user should know before the runs, or NULL: the soft
 * RLIMIT_NOFILE could not be raised to what N ranks need (the runner
 * raises it up to the hard limit; run/fd_limit.h). */
const char *rdv_runner_note(const rdv_runner *r);

/* One run with this seed. Returns 0 with rep filled (rep->failed tells
 * the verdict), or -1 with err when the run could not be carried out at
 * all (fork failed). */
int rdv_runner_run(rdv_runner *r, uint64_t seed, rdv_run_report *rep,
                   char *err, size_t errlen);

/* The last sequenced run's op log, one line per op in the order the
 * sequencer gave the turns (rdv_sequencer_log_write); nothing when the
 * last run was not sequenced. */
void rdv_runner_op_log_write(const rdv_runner *r, FILE *f);

#endif
