/*
 * harness/common/cli.h - option values shared by the subcommands: numbers and
 * lists with clear errors, and the run options that `rdv run` and
 * `rdv matrix` both take.
 */
#ifndef RDV_HARNESS_CLI_H
#define RDV_HARNESS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "run/run.h"

/* Each returns 0, or -1 with "OPT: 'TEXT' is not ..." in err. */
int rdv_cli_int(const char *opt, const char *text, long min, long max,
                int *out, char *err, size_t errlen);
int rdv_cli_u64(const char *opt, const char *text, uint64_t *out, char *err,
                size_t errlen);
/* "2,4,8,16" or "1-5" or a mix ("1,3-5"); at most cap values. */
int rdv_cli_list(const char *opt, const char *text, uint64_t min,
                 uint64_t max, uint64_t *out, int cap, int *n, char *err,
                 size_t errlen);

/* The options both run and matrix take, as getopt_long codes. */
enum {
    RDV_OPT_WORKLOAD = 0x100,
    RDV_OPT_TIMEOUT,
    RDV_OPT_DEADLINE,
    RDV_OPT_TRANSPORT,
    RDV_OPT_FAULTS,
    RDV_OPT_SERVER_RESTART,
};

/* Applies one shared option to cfg: 1 when it was one, 0 when not,
 * -1 on a bad value (message in err). */
int rdv_cli_run_option(int code, const char *arg, rdv_run_config *cfg,
                       char *err, size_t errlen);

/* Completes cfg for cfg->nranks ranks: parses the workload (the default
 * when none was given) and the fault spec, and fills defaults. Returns 0
 * or -1 with a usage message. Free with rdv_run_config_release(). */
int rdv_run_config_finish(rdv_run_config *cfg, char *err, size_t errlen);
void rdv_run_config_release(rdv_run_config *cfg);

#endif
