/*
 * harness/run/start_late.h - proc.start-late, carried out in the rank's
 * own process before it does anything else (rdv run's ranks and rdv
 * launch's programs alike): it sleeps its delay, then waits for the
 * server events the plan puts before its start.
 *
 * Why it waits: a plan is an order, not only a timetable. The
 * catalogue's server scenarios start rank 1 late so that the server
 * fault strikes while the other ranks wait for it in the rendezvous.
 * server.restart runs the user's command (a shell script, a service
 * manager), which on a loaded host can take longer than the delay to
 * reach its kill: rank 1 would join, the rendezvous end, and the
 * restart strike the workload's adds instead, whose outcome a broken
 * connection leaves unknown (a CI run failed so, with ZooKeeper's JVMs
 * starting beside it). So the parent publishes, in a page its ranks
 * share, the planned time of the next server event it has not yet
 * carried out, and a late rank starts only once that time is past its
 * own delay. Ranks that start on time never look at it.
 */
#ifndef RDV_HARNESS_START_LATE_H
#define RDV_HARNESS_START_LATE_H

#include <stddef.h>
#include <stdint.h>

/* No server event is pending. */
#define RDV_SERVER_GATE_NONE INT64_MAX

typedef struct rdv_server_gate rdv_server_gate;

/* The parent's, before it forks: a shared page the children inherit.
 * Starts as NONE. NULL with a message in err when it cannot be mapped.
 * destroy takes NULL. */
rdv_server_gate *rdv_server_gate_create(char *err, size_t errlen);
void rdv_server_gate_destroy(rdv_server_gate *g);

/* The parent, as it carries out the plan: pending_ms is the planned time
 * (ms since the ranks' start) of the next server event not yet carried
 * out, or RDV_SERVER_GATE_NONE. */
void rdv_server_gate_set(rdv_server_gate *g, int64_t pending_ms);

/* In the rank: sleeps delay_ms (whatever interrupts it), then waits,
 * at most bound_ms, until no server event planned at or before delay_ms
 * is pending (g may be NULL: no wait). Returns the ms it waited after
 * the delay, or -1 when the bound passed first (the rank starts anyway:
 * the run's deadline judges a restart that never ends). delay_ms <= 0
 * returns 0 at once. */
int rdv_start_late(const rdv_server_gate *g, int delay_ms, int bound_ms);

#endif
