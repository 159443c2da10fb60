/*
 * harness/commands/hunt.h - what `rdv hunt`'s two halves share: the
 * command (cmd_hunt.c: options, one schedule's run, the findings in
 * schedule order) and its pool (hunt_jobs.c: --jobs J, schedules run by
 * J worker processes at once).
 *
 * A schedule's outcome is a hunt_result: everything the hunt prints or
 * writes for it, formatted where it ran. So a worker's result, sent
 * back over a pipe, reads the same as one run in the command's own
 * process, and the command emits results in schedule order either way.
 */
#ifndef RDV_HARNESS_HUNT_H
#define RDV_HARNESS_HUNT_H

#include <stddef.h>
#include <stdint.h>

#include "report/report_junit.h"
#include "run/run.h"

typedef struct hunt_cmd {
    rdv_run_config cfg;
    uint64_t seed, first, last;
    int depth, depth_given, keep_going, json, jobs;
    rdv_schedule_kind kind;
    const char *junit;
    rdv_junit_case *cases;
    size_t ncases;
} hunt_cmd;

enum { HUNT_PASSED = 0, HUNT_FAILED = 1, HUNT_BROKEN = -1 };

typedef struct hunt_result {
    uint64_t sched;     /* the schedule's seed */
    int status;         /* HUNT_PASSED, HUNT_FAILED or HUNT_BROKEN */
    char err[512];      /* HUNT_BROKEN: why the run could not be made */
    char *out;          /* for stdout: the JSON object or the finding */
    size_t outlen;
    rdv_junit_case jc;  /* with --junit; jc.text is owned */
} hunt_result;

/* Runs schedule k on runner and formats its result into res (the
 * caller frees it with hunt_result_free). */
void hunt_one(hunt_cmd *hc, rdv_runner *runner, uint64_t k,
              hunt_result *res);
void hunt_result_free(hunt_result *res);

/* Runs the schedules first..last with hc->jobs worker processes, each in
 * its own process group with its own runner, and hands every result to
 * emit in schedule order, stopping as a serial hunt does (the first
 * failure unless keep_going, the first run that could not be made).
 * Returns 0, or -1 when the workers could not be started (err). */
typedef void (*hunt_emit_fn)(void *arg, hunt_result *res);
int hunt_jobs_run(hunt_cmd *hc, hunt_emit_fn emit, void *arg, char *err,
                  size_t errlen);

#endif
