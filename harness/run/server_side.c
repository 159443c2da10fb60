/*
 * harness/run/server_side.c - the parent's share of server.* faults
 * (server_side.h).
 *
 * A restart is carried out by whoever can: the user's command when one
 * was given (the user's word wins over ours), else the owned server is
 * killed and served again. The ranks keep running meanwhile: that is the
 * fault.
 */
#include <stdio.h>
#include <string.h>

#include "rdv/clock.h"
#include "run/server_restart.h"
#include "run/server_side.h"

unsigned rdv_server_side_offers(const rdv_server_side *s)
{
    return RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_PROXY |
           (s->restart_cmd || s->own.pid > 0 ? RDV_FAULT_NEEDS_RESTART
                                              : 0u);
}

int rdv_server_side_open(rdv_server_side *s, const char *url,
                         const rdv_faults *f, const char *restart_cmd,
                         const char *server_pid, const char *server_proxy,
                         char *err, size_t errlen)
{
    const char *unmet;
    int own, rc;

    memset(s, 0, sizeof *s);
    s->faults = f;
    s->restart_cmd = restart_cmd;
    if (!(s->gate = rdv_server_gate_create(err, errlen)))
        return RDV_ENOMEM;
    if ((rc = rdv_own_server_start(url, &s->own, err, errlen)))
        return rc;
    own = s->own.pid > 0;
    s->where.pid = server_pid ? server_pid : own ? s->own.pidfile : NULL;
    s->where.proxy = server_proxy ? server_proxy : own ? s->own.addr : NULL;
    if ((unmet = rdv_faults_unmet(rdv_faults_needs(f),
                                  rdv_server_side_offers(s)))) {
        snprintf(err, errlen, "--faults: %s", unmet);
        return RDV_ENOTSUP;
    }
    /* Server faults the URL cannot take are a usage error, told before
     * the store is even opened. */
    return rdv_faults_server_check(f, s->own.url, &s->where, err, errlen);
}

void rdv_server_side_close(rdv_server_side *s)
{
    rdv_server_side_end(s);
    rdv_own_server_stop(&s->own);
    rdv_server_gate_destroy(s->gate);
    s->gate = NULL;
}

int rdv_server_side_begin(rdv_server_side *s, uint64_t seed,
                          int deadline_ms, char *rank_url, size_t cap,
                          char *err, size_t errlen)
{
    s->srv = NULL;
    s->err[0] = '\0';
    s->deadline_ms = deadline_ms;
    s->t0_ns = rdv_now_ns();
    if (rdv_faults_server_start(s->faults, seed, s->own.url, &s->where,
                                rank_url, cap, &s->srv, err, errlen))
        return -1;
    /* With server events, late ranks hold until the first tick says
     * which is next (it runs as soon as the ranks are forked). */
    rdv_server_gate_set(s->gate, s->srv ? 0 : RDV_SERVER_GATE_NONE);
    return 0;
}

void rdv_server_side_clock(rdv_server_side *s, int64_t t0_ns)
{
    s->t0_ns = t0_ns;
}

int rdv_server_side_tick(void *arg)
{
    rdv_server_side *s = arg;
    int restart = 0;
    int64_t elapsed = (rdv_now_ns() - s->t0_ns) / 1000000;
    int next = rdv_faults_server_poll(s->srv, elapsed, &restart, s->err,
                                      sizeof s->err);

    /* A server's restart takes seconds on a busy host; the call timeout
     * is no bound for it, the run's deadline is (the supervisor waits
     * for us). The plan was refused without a way to restart. */
    if (restart) {
        int64_t left = (s->t0_ns + (int64_t)s->deadline_ms * 1000000 -
                        rdv_now_ns()) / 1000000;
        int ms = left > 1 ? (int)left : 1;

        if (s->restart_cmd)
            rdv_server_restart_run(s->restart_cmd, ms, s->err,
                                   sizeof s->err);
        else
            rdv_own_server_restart(&s->own, ms, s->err, sizeof s->err);
    }
    /* Only now, the restart done: a late rank starts after it. */
    rdv_server_gate_set(s->gate, next < 0 ? RDV_SERVER_GATE_NONE
                                          : elapsed + next);
    return next;
}

void rdv_server_side_end(rdv_server_side *s)
{
    rdv_server_gate_set(s->gate, RDV_SERVER_GATE_NONE);
    rdv_faults_server_stop(s->srv);
    s->srv = NULL;
}
