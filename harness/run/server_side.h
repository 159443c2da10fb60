/*
 * harness/run/server_side.h - the parent's share of server.* faults, for
 * `rdv run` (and what is built on its runner) and `rdv launch`: where the
 * store's server is, whether the plan can be carried out there, and the
 * per-run driver that pauses, proxies and restarts it on time while the
 * ranks run.
 *
 * The server is where the user said (--server-pid, --server-proxy,
 * --server-restart), else the one the caller owns: a
 * tcp://HOST:PORT?serve=1 URL is served by a process forked here
 * (run/own_server.h), which every fault can find. A redis URL names its
 * own server (the fault library's business).
 */
#ifndef RDV_HARNESS_SERVER_SIDE_H
#define RDV_HARNESS_SERVER_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "run/fault_glue.h"
#include "run/own_server.h"
#include "run/start_late.h"

typedef struct rdv_server_side {
    const rdv_faults *faults;
    const char *restart_cmd;       /* the user's; NULL = none */
    rdv_own_server own;            /* own.url: the URL handles open */
    rdv_fault_server_where where;  /* the user's, else own's */
    rdv_server_gate *gate;         /* what late ranks wait on
                                      (run/start_late.h) */
    /* one run's: */
    rdv_faults_server *srv;        /* NULL: no server fault in the plan */
    int64_t t0_ns;
    int deadline_ms;
    char err[256];                 /* a server event that failed */
} rdv_server_side;

/* Before anything opens the store, and before any thread: starts the
 * owned server when url asks, settles where the faults act, and refuses
 * a plan the run cannot carry out. RDV_OK; RDV_ENOTSUP ("--faults: ..."),
 * RDV_EINVAL (a server fault this URL cannot take) or another status
 * (the owned server did not start), with a message in err. Close s even
 * after a failure. server_pid, server_proxy, restart_cmd: the user's
 * options, or NULL. */
int rdv_server_side_open(rdv_server_side *s, const char *url,
                         const rdv_faults *f, const char *restart_cmd,
                         const char *server_pid, const char *server_proxy,
                         char *err, size_t errlen);
void rdv_server_side_close(rdv_server_side *s);

/* What the run can offer a plan (RDV_FAULT_NEEDS_* bits), given what
 * the URL and the options say. */
unsigned rdv_server_side_offers(const rdv_server_side *s);

/* One run: starts the plan's server events for seed (a fault proxy, if
 * the plan needs one) and puts the URL the ranks must open into
 * rank_url. t0_ns is the run's start, deadline_ms its length: a restart
 * may take until the deadline. 0, or -1 with err. */
int rdv_server_side_begin(rdv_server_side *s, uint64_t seed,
                          int deadline_ms, char *rank_url, size_t cap,
                          char *err, size_t errlen);
/* Set the clock the events count from (the moment the ranks start). */
void rdv_server_side_clock(rdv_server_side *s, int64_t t0_ns);
/* rdv_supervise_opts.timer: fires what is due (a restart runs to its
 * end here), then tells the gate when the next event is planned; returns
 * the ms until it, -1 when none is left. arg is the rdv_server_side. */
int rdv_server_side_tick(void *arg);
/* Ends the run's events (a paused server is continued, the proxy
 * stops). */
void rdv_server_side_end(rdv_server_side *s);

#endif
