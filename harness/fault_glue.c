/*
 * harness/fault_glue.c - forwards to librdv-fault (rdv/fault.h) when the
 * build links it (RDV_HAVE_FAULT), and otherwise says so. The harness
 * code above this file never needs an #ifdef.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fault_glue.h"

#ifdef RDV_HAVE_FAULT
#include "rdv/fault.h"

struct rdv_faults {
    rdv_fault_plan *plan;
};

int rdv_faults_available(void)
{
    return 1;
}

int rdv_faults_parse(const char *spec, int nranks, rdv_faults **out,
                     char *err, size_t errlen)
{
    rdv_fault_plan *p = NULL;
    rdv_faults *f;

    *out = NULL;
    if (rdv_fault_plan_parse(spec, &p, err, errlen) != RDV_OK)
        return -1;
    if (rdv_fault_plan_validate(p, nranks, err, errlen) != RDV_OK ||
        !(f = malloc(sizeof *f))) {
        rdv_fault_plan_free(p);
        return -1;
    }
    f->plan = p;
    *out = f;
    return 0;
}

void rdv_faults_free(rdv_faults *f)
{
    if (f)
        rdv_fault_plan_free(f->plan);
    free(f);
}

const char *rdv_faults_text(const rdv_faults *f)
{
    return f ? rdv_fault_plan_text(f->plan) : "";
}

void rdv_faults_expect_get(const rdv_faults *f, uint64_t seed, int nranks,
                           int timeout_ms, rdv_faults_expect *out)
{
    rdv_fault_expect e = {.culprit = -1};

    if (f)
        rdv_fault_plan_expect_timeout(f->plan, seed, nranks, timeout_ms, &e);
    out->fatal = e.fatal;
    out->culprit = e.culprit;
    snprintf(out->key, sizeof out->key, "%s", e.key);
}

int rdv_faults_start_delay_ms(const rdv_faults *f, uint64_t seed, int rank)
{
    return f ? rdv_fault_plan_start_delay_ms(f->plan, seed, rank) : 0;
}

int rdv_faults_stop_ms(const rdv_faults *f, uint64_t seed, int rank)
{
    return f ? rdv_fault_plan_stop_ms(f->plan, seed, rank) : 0;
}

int rdv_faults_rank_begin(const rdv_faults *f, uint64_t seed, int rank,
                          int nranks, FILE *log, rdv_faults_rank **out)
{
    rdv_fault_rank *fr = NULL;
    int rc;

    *out = NULL;
    if (!f)
        return RDV_OK;
    rc = rdv_fault_rank_create(f->plan, seed, rank, nranks, log, &fr);
    *out = (rdv_faults_rank *)fr;
    return rc;
}

int rdv_faults_rank_wrap(rdv_faults_rank *fr, rdv_store *in,
                         rdv_store **out)
{
    if (!fr) {
        *out = in;
        return RDV_OK;
    }
    return rdv_fault_rank_wrap_store((rdv_fault_rank *)fr, in, out);
}

const rdv_hooks *rdv_faults_rank_hooks(rdv_faults_rank *fr,
                                       const rdv_hooks *chain)
{
    return fr ? rdv_fault_rank_hooks((rdv_fault_rank *)fr, chain) : chain;
}

void rdv_faults_rank_end(rdv_faults_rank *fr)
{
    if (fr)
        rdv_fault_rank_destroy((rdv_fault_rank *)fr);
}

#else /* built without librdv-fault */

int rdv_faults_available(void)
{
    return 0;
}

int rdv_faults_parse(const char *spec, int nranks, rdv_faults **out,
                     char *err, size_t errlen)
{
    (void)spec, (void)nranks;
    *out = NULL;
    snprintf(err, errlen, "--faults: this rdv was built without "
             "librdv-fault (the rdv_fault library)");
    return -1;
}

void rdv_faults_free(rdv_faults *f)
{
    (void)f;
}

const char *rdv_faults_text(const rdv_faults *f)
{
    (void)f;
    return "";
}

void rdv_faults_expect_get(const rdv_faults *f, uint64_t seed, int nranks,
                           int timeout_ms, rdv_faults_expect *out)
{
    (void)f, (void)seed, (void)nranks, (void)timeout_ms;
    *out = (rdv_faults_expect){.culprit = -1};
}

int rdv_faults_start_delay_ms(const rdv_faults *f, uint64_t seed, int rank)
{
    (void)f, (void)seed, (void)rank;
    return 0;
}

int rdv_faults_stop_ms(const rdv_faults *f, uint64_t seed, int rank)
{
    (void)f, (void)seed, (void)rank;
    return 0;
}

int rdv_faults_rank_begin(const rdv_faults *f, uint64_t seed, int rank,
                          int nranks, FILE *log, rdv_faults_rank **out)
{
    (void)f, (void)seed, (void)rank, (void)nranks, (void)log;
    *out = NULL;
    return RDV_OK;
}

int rdv_faults_rank_wrap(rdv_faults_rank *fr, rdv_store *in,
                         rdv_store **out)
{
    (void)fr;
    *out = in;
    return RDV_OK;
}

const rdv_hooks *rdv_faults_rank_hooks(rdv_faults_rank *fr,
                                       const rdv_hooks *chain)
{
    (void)fr;
    return chain;
}

void rdv_faults_rank_end(rdv_faults_rank *fr)
{
    (void)fr;
}
#endif
