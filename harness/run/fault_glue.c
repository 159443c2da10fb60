/*
 * harness/run/fault_glue.c - the harness's view of librdv-fault
 * (rdv/fault.h): a parsed and validated plan, what to expect of a run
 * under it, what it needs and the one rule that judges that, the server
 * driver, and the per-rank instance.
 */
#include <stdio.h>
#include <stdlib.h>

#include "run/fault_glue.h"

struct rdv_faults {
    rdv_fault_plan *plan;
};

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
                           int timeout_ms, const uint64_t *fired,
                           rdv_faults_expect *out)
{
    rdv_fault_expect e = {.culprit = -1};

    if (f && fired)
        rdv_fault_plan_expect_fired(f->plan, seed, nranks, timeout_ms,
                                    *fired, &e);
    else if (f)
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

int64_t rdv_faults_call_stretch_ms(const rdv_faults *f, int timed)
{
    return f ? rdv_fault_plan_call_stretch_ms(f->plan, timed) : 0;
}

unsigned rdv_faults_needs(const rdv_faults *f)
{
    return f ? rdv_fault_plan_needs(f->plan) : 0;
}

unsigned rdv_faults_families(const rdv_faults *f)
{
    return f ? rdv_fault_plan_families(f->plan) : 0;
}

const char *rdv_faults_unmet(unsigned needs, unsigned offers)
{
    static const struct {
        unsigned need;
        const char *why;
    } rules[] = {
        {RDV_FAULT_NEEDS_RESTART, "server.restart needs --server-restart "
         "CMD, a command that restarts the store's server on the same "
         "address (rdv does not own it), or a tcp://HOST:PORT?serve=1 "
         "store, whose server the run starts and restarts itself"},
        {RDV_FAULT_NEEDS_PROXY, "server.latency, server.reset and "
         "server.blackhole need a redis:// store or --server-proxy "
         "[LISTEN=]HOST:PORT, the server's address (the fault proxy goes "
         "in front of it)"},
        {RDV_FAULT_NEEDS_REDIS, "server.* faults need a server to act on: "
         "a redis store, a tcp://HOST:PORT?serve=1 store (the run owns "
         "its server), or --server-pid PID|PIDFILE for any other"},
    };

    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if ((needs & rules[i].need) && !(offers & rules[i].need))
            return rules[i].why;
    return NULL;
}

int rdv_faults_server_check(const rdv_faults *f, const char *url,
                            const rdv_fault_server_where *where, char *err,
                            size_t errlen)
{
    return f ? rdv_fault_server_check_at(f->plan, url, where, err, errlen)
             : RDV_OK;
}

int rdv_faults_server_start(const rdv_faults *f, uint64_t seed,
                            const char *url,
                            const rdv_fault_server_where *where,
                            char *rank_url, size_t cap,
                            rdv_faults_server **out, char *err,
                            size_t errlen)
{
    rdv_fault_server *s = NULL;

    *out = NULL;
    snprintf(rank_url, cap, "%s", url);
    if (!f || rdv_fault_plan_server_events(f->plan, seed, NULL, 0) == 0)
        return RDV_OK;
    if (rdv_fault_server_start_at(f->plan, seed, url, where, rank_url, cap,
                                  &s, err, errlen) != RDV_OK)
        return RDV_EINVAL;
    *out = (rdv_faults_server *)s;
    return RDV_OK;
}

int rdv_faults_server_poll(rdv_faults_server *s, int64_t elapsed_ms,
                           int *restart_due, char *err, size_t errlen)
{
    int next = -1;

    *restart_due = 0;
    if (s)
        rdv_fault_server_poll((rdv_fault_server *)s, elapsed_ms, &next,
                              restart_due, err, errlen);
    return next;
}

void rdv_faults_server_stop(rdv_faults_server *s)
{
    rdv_fault_server_stop((rdv_fault_server *)s);
}

size_t rdv_faults_scenario_count(void)
{
    const rdv_fault_scenario *sc;

    return rdv_fault_scenarios(&sc);
}

void rdv_faults_scenario(size_t i, const char **name, const char **spec)
{
    const rdv_fault_scenario *sc;

    rdv_fault_scenarios(&sc);
    *name = sc[i].name;
    *spec = sc[i].spec;
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

void rdv_faults_rank_publish(rdv_faults_rank *fr, uint64_t *sink)
{
    if (fr)
        rdv_fault_rank_publish_fired((rdv_fault_rank *)fr, sink);
}

void rdv_faults_rank_set_timeout(rdv_faults_rank *fr, int timeout_ms)
{
    if (fr)
        rdv_fault_rank_set_timeout((rdv_fault_rank *)fr, timeout_ms);
}

void rdv_faults_rank_end(rdv_faults_rank *fr)
{
    if (fr)
        rdv_fault_rank_destroy((rdv_fault_rank *)fr);
}

