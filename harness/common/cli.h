/*
 * harness/common/cli.h - what the subcommands share for their options:
 * numbers and lists with clear errors (common/number.h), and the run
 * options that `rdv run` and `rdv matrix` both take.
 */
#ifndef RDV_HARNESS_CLI_H
#define RDV_HARNESS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "common/number.h"
#include "run/run.h"

/* The options both run and matrix take, as getopt_long codes. */
enum {
    RDV_OPT_WORKLOAD = 0x100,
    RDV_OPT_TIMEOUT,
    RDV_OPT_DEADLINE,
    RDV_OPT_TRANSPORT,
    RDV_OPT_FAULTS,
    RDV_OPT_SERVER_RESTART,
    RDV_OPT_IMPL,
    RDV_OPT_SERVER_PID,
    RDV_OPT_SERVER_PROXY,
};

/* Applies one shared option to cfg: 1 when it was one, 0 when not,
 * -1 on a bad value (message in err). */
int rdv_cli_run_option(int code, const char *arg, rdv_run_config *cfg,
                       char *err, size_t errlen);

/* Completes cfg for cfg->nranks ranks: parses the workload (the default
 * when none was given) and the fault spec, and fills defaults. Returns 0
 * or -1 with a usage message (also for what --impl gloo cannot run:
 * run/rank_gloo.h). Free with rdv_run_config_release(). */
int rdv_run_config_finish(rdv_run_config *cfg, char *err, size_t errlen);
void rdv_run_config_release(rdv_run_config *cfg);

#endif
