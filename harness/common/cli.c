/*
 * harness/common/cli.c - the run options `rdv run` and `rdv matrix` share,
 * and completing a run's configuration from them. Numbers go through the
 * one number parser (common/number.h): "--timeout 4x", "--timeout -1"
 * and "--timeout 99999999999999" are all usage errors (exit 2) naming
 * the option, never a silently clamped value.
 */
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "run/rank_gloo.h"

int rdv_cli_run_option(int code, const char *arg, rdv_run_config *cfg,
                       char *err, size_t errlen)
{
    switch (code) {
    case RDV_OPT_WORKLOAD:
        cfg->workload_spec = arg;
        return 1;
    case RDV_OPT_TIMEOUT:
        return rdv_cli_int("--timeout", arg, 1, 3600000, &cfg->timeout_ms,
                           err, errlen) ? -1 : 1;
    case RDV_OPT_DEADLINE:
        return rdv_cli_int("--deadline", arg, 1, 7200000,
                           &cfg->deadline_ms, err, errlen) ? -1 : 1;
    case RDV_OPT_TRANSPORT:
        if (strcmp(arg, "uring") && strcmp(arg, "epoll")) {
            snprintf(err, errlen, "--transport: '%s' is not uring or epoll",
                     arg);
            return -1;
        }
        cfg->transport = arg;
        return 1;
    case RDV_OPT_IMPL:
        if (!strcmp(arg, "rdv"))
            cfg->impl = RDV_IMPL_RDV;
        else if (!strcmp(arg, "gloo"))
            cfg->impl = RDV_IMPL_GLOO;
        else {
            snprintf(err, errlen, "--impl: '%s' is not rdv or gloo", arg);
            return -1;
        }
        return 1;
    case RDV_OPT_FAULTS:
        cfg->faults_spec = arg;
        return 1;
    case RDV_OPT_SERVER_RESTART:
        cfg->restart_cmd = arg;
        return 1;
    case RDV_OPT_SERVER_PID:
        cfg->server_pid = arg;
        return 1;
    case RDV_OPT_SERVER_PROXY:
        cfg->server_proxy = arg;
        return 1;
    default:
        return 0;
    }
}

int rdv_run_config_finish(rdv_run_config *cfg, char *err, size_t errlen)
{
    const char *spec = cfg->workload_spec ? cfg->workload_spec
                                          : RDV_WORKLOAD_DEFAULT;
    const char *why;

    if (!cfg->timeout_ms)
        cfg->timeout_ms = RDV_RUN_TIMEOUT_DEFAULT;
    if (!cfg->deadline_ms)
        cfg->deadline_ms = RDV_RUN_DEADLINE_DEFAULT(cfg->timeout_ms);
    if (rdv_workload_parse(spec, &cfg->workload, err, errlen) ||
        rdv_workload_validate(&cfg->workload, cfg->nranks, err, errlen))
        return -1;
    cfg->faults = NULL;
    if (cfg->faults_spec &&
        rdv_faults_parse(cfg->faults_spec, cfg->nranks, &cfg->faults, err,
                         errlen))
        return -1;
    if (cfg->impl == RDV_IMPL_GLOO && (why = rdv_rank_gloo_unmet(cfg))) {
        snprintf(err, errlen, "%s", why);
        rdv_run_config_release(cfg);
        return -1;
    }
    return 0;
}

void rdv_run_config_release(rdv_run_config *cfg)
{
    rdv_faults_free(cfg->faults);
    cfg->faults = NULL;
}
