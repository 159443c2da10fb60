/*
 * harness/common/cli.c - parsing what users type, with errors that quote it.
 *
 * Numbers go through strtoull/strtol with full-string and range checks:
 * "--ranks 4x", "--ranks -1" and "--ranks 99999999999999" are all usage
 * errors (exit 2), never a silently clamped value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

int rdv_cli_u64(const char *opt, const char *text, uint64_t *out, char *err,
                size_t errlen)
{
    char *end;

    errno = 0;
    if (text[0] < '0' || text[0] > '9' ||
        (*out = strtoull(text, &end, 10), errno) || *end) {
        snprintf(err, errlen, "%s: '%s' is not a non-negative integer", opt,
                 text);
        return -1;
    }
    return 0;
}

int rdv_cli_int(const char *opt, const char *text, long min, long max,
                int *out, char *err, size_t errlen)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (!text[0] || errno || *end || v < min || v > max) {
        snprintf(err, errlen, "%s: '%s' is not an integer in %ld..%ld", opt,
                 text, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* One "A" or "A-B" item of a list. */
static int list_item(const char *opt, const char *item, uint64_t min,
                     uint64_t max, uint64_t *out, int cap, int *n, char *err,
                     size_t errlen)
{
    char buf[64], *dash;
    uint64_t lo, hi;

    snprintf(buf, sizeof buf, "%s", item);
    dash = strchr(buf, '-');
    if (dash)
        *dash = '\0';
    if (rdv_cli_u64(opt, buf, &lo, err, errlen) ||
        (dash ? rdv_cli_u64(opt, dash + 1, &hi, err, errlen) : (hi = lo, 0)))
        return -1;
    if (lo > hi || lo < min || hi > max) {
        snprintf(err, errlen, "%s: '%s' is outside %llu..%llu (or a "
                 "backwards range)", opt, item, (unsigned long long)min,
                 (unsigned long long)max);
        return -1;
    }
    for (uint64_t v = lo; v <= hi; v++) {
        if (*n == cap) {
            snprintf(err, errlen, "%s: more than %d values", opt, cap);
            return -1;
        }
        out[(*n)++] = v;
        if (v == UINT64_MAX)
            break;
    }
    return 0;
}

int rdv_cli_list(const char *opt, const char *text, uint64_t min,
                 uint64_t max, uint64_t *out, int cap, int *n, char *err,
                 size_t errlen)
{
    const char *p = text;

    *n = 0;
    do {
        size_t len = strcspn(p, ",");
        char item[64];

        if (len == 0 || len >= sizeof item) {
            snprintf(err, errlen, "%s: '%s' is not a list like 2,4,8 or "
                     "1-5", opt, text);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (list_item(opt, item, min, max, out, cap, n, err, errlen))
            return -1;
        p += len;
    } while (*p++ == ',');
    return 0;
}

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
    case RDV_OPT_FAULTS:
        cfg->faults_spec = arg;
        return 1;
    case RDV_OPT_SERVER_RESTART:
        cfg->restart_cmd = arg;
        return 1;
    default:
        return 0;
    }
}

int rdv_run_config_finish(rdv_run_config *cfg, char *err, size_t errlen)
{
    const char *spec = cfg->workload_spec ? cfg->workload_spec
                                          : RDV_WORKLOAD_DEFAULT;

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
    return 0;
}

void rdv_run_config_release(rdv_run_config *cfg)
{
    rdv_faults_free(cfg->faults);
    cfg->faults = NULL;
}
