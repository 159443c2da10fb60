/*
 * env.c - a job described by the environment, the way launchers describe
 * it: rdv's own variables first, PyTorch's (torchrun, c10d) second.
 *
 *   what       rdv            PyTorch
 *   the store  RDV_STORE      MASTER_ADDR + MASTER_PORT: tcp://ADDR:PORT,
 *                             served by rank 0 (?serve=1)
 *   rank       RDV_RANK       RANK
 *   size       RDV_SIZE       WORLD_SIZE
 *   job        RDV_JOB        TORCHELASTIC_RUN_ID
 *
 * rdv_context_options_from_env() fills rank, size and job;
 * rdv_store_open("env://") opens the store (the env scheme's open, below).
 *
 * Choices:
 *  - Each value is taken from the first of its two names that is set;
 *    an error names the variable it read ("RANK='x' is not a number"),
 *    or both when neither is set, so the fix is obvious.
 *  - Numbers are plain decimal (no sign, no spaces, no 0x): a launcher
 *    that writes anything else is misconfigured, not creative.
 *  - The job points into the environment (getenv) rather than a copy:
 *    the options struct holds plain pointers, and rdv_context_create()
 *    copies the string anyway.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/context.h"
#include "store_internal.h"

/* The value of the first of two variables that is set; *name says which
 * (or both names, for a message, when neither is). */
static const char *env_pick(const char *ours, const char *theirs,
                            const char **name)
{
    const char *v = getenv(ours);

    *name = ours;
    if (!v && theirs && (v = getenv(theirs)))
        *name = theirs;
    return v;
}

/* A plain decimal in [min, max] from ours or theirs. RDV_OK, or
 * RDV_EINVAL naming the variable (missing, or not such a number). */
static int env_number(const char *ours, const char *theirs, long min,
                      long max, long *out, char *errbuf, size_t errlen)
{
    const char *name, *v = env_pick(ours, theirs, &name);
    char *end;

    if (!v) {
        if (theirs)
            snprintf(errbuf, errlen, "environment: neither %s nor %s is "
                     "set", ours, theirs);
        else
            snprintf(errbuf, errlen, "environment: %s is not set", ours);
        return RDV_EINVAL;
    }
    errno = 0;
    *out = strtol(v, &end, 10);
    if (!*v || *end || errno || strspn(v, "0123456789") != strlen(v) ||
        *out < min || *out > max) {
        snprintf(errbuf, errlen, "environment: %s='%.64s' is not a number "
                 "from %ld to %ld", name, v, min, max);
        return RDV_EINVAL;
    }
    return RDV_OK;
}

static int env_rank(long *rank, char *errbuf, size_t errlen)
{
    return env_number("RDV_RANK", "RANK", 0, 65535, rank, errbuf, errlen);
}

int rdv_context_options_from_env(rdv_context_options *o, char *errbuf,
                                 size_t errlen)
{
    const char *job_var, *job;
    long rank, size;
    int rc;

    if (!o || o->struct_size < offsetof(rdv_context_options, job) +
                                   sizeof o->job) {
        snprintf(errbuf, errlen, "environment: the options are NULL or "
                 "not initialised (rdv_context_options_default())");
        return RDV_EINVAL;
    }
    if ((rc = env_rank(&rank, errbuf, errlen)) ||
        (rc = env_number("RDV_SIZE", "WORLD_SIZE", 1, 65536, &size, errbuf,
                         errlen)))
        return rc;
    if (rank >= size) {
        const char *rv, *sv;

        env_pick("RDV_RANK", "RANK", &rv);
        env_pick("RDV_SIZE", "WORLD_SIZE", &sv);
        snprintf(errbuf, errlen, "environment: %s=%ld is not below %s=%ld "
                 "(ranks count from 0)", rv, rank, sv, size);
        return RDV_EINVAL;
    }
    job = env_pick("RDV_JOB", "TORCHELASTIC_RUN_ID", &job_var);
    if (job && !*job) {
        snprintf(errbuf, errlen, "environment: %s is set but empty",
                 job_var);
        return RDV_EINVAL;
    }
    o->rank = (int)rank;
    o->size = (int)size;
    if (job)
        o->job = job;
    return RDV_OK;
}

/* The store URL the environment names, into url[cap]. */
static int env_store_url(char *url, size_t cap, char *errbuf, size_t errlen)
{
    const char *store = getenv("RDV_STORE"), *addr = getenv("MASTER_ADDR");
    long port, rank;
    int rc;

    if (store) {
        if (!*store || strncmp(store, "env:", 4) == 0) {
            snprintf(errbuf, errlen, "environment: RDV_STORE %s",
                     *store ? "names env: itself; it must name a real "
                              "store" : "is set but empty");
            return RDV_EINVAL;
        }
        if (strlen(store) >= cap) {
            snprintf(errbuf, errlen, "environment: RDV_STORE is longer "
                     "than %zu bytes", cap - 1);
            return RDV_EINVAL;
        }
        snprintf(url, cap, "%s", store);
        return RDV_OK;
    }
    if (!addr || !*addr) {
        snprintf(errbuf, errlen, "environment: neither RDV_STORE nor "
                 "MASTER_ADDR is set%s", addr ? " (MASTER_ADDR is empty)"
                                               : "");
        return RDV_EINVAL;
    }
    if ((rc = env_number("MASTER_PORT", NULL, 1, 65535, &port, errbuf,
                         errlen)))
        return rc;
    if ((rc = env_rank(&rank, errbuf, errlen))) {
        size_t o = strlen(errbuf);

        snprintf(errbuf + o, errlen - o, " (with MASTER_ADDR, rank 0 "
                 "serves the store)");
        return rc;
    }
    snprintf(url, cap, "tcp://%s%s%s:%ld%s", strchr(addr, ':') ? "[" : "",
             addr, strchr(addr, ':') ? "]" : "", port,
             rank == 0 ? "?serve=1" : "");
    return RDV_OK;
}

int rdv_env_open(rdv_url *u, rdv_store **out, char *errbuf, size_t errlen)
{
    char url[2048], why[RDV_DETAIL_MAX];
    int rc;

    if (u->host[0] || (u->path[0] && strcmp(u->path, "/")) || u->user) {
        snprintf(errbuf, errlen, "malformed store URL '%s': env:// takes "
                 "no host or path: the environment names the store",
                 u->redacted);
        return RDV_EINVAL;
    }
    if ((rc = env_store_url(url, sizeof url, errbuf, errlen)))
        return rc;
    if ((rc = rdv_store_open(url, out, why, sizeof why)))
        snprintf(errbuf, errlen, "environment (%s): %s",
                 getenv("RDV_STORE") ? "RDV_STORE"
                                     : "MASTER_ADDR, MASTER_PORT",
                 why);
    return rc;
}
