/*
 * spin.h - a bounded busy-poll before sleeping: call a cheap "is it
 * there yet?" check in a loop for a short budget, and only then let the
 * caller block. On an idle core the answer to a small request often
 * comes within tens of microseconds, sooner than a sleep and its wakeup
 * cost; the budget bounds what a spin can steal from a busy core (the
 * other rank of a large transfer on a 2-core host). The transport's
 * wait uses it (opt-in, rdv_transport_set_spin); the network stores'
 * replies use it with a check that yields the core between looks
 * (stores/net_wait.c, spin_us= of tcp://, redis:// and unix://).
 */
#ifndef RDV_SPIN_H
#define RDV_SPIN_H

#include <stdint.h>

/* One look: > 0 done (the value is passed up), 0 not yet, < 0 an error
 * (passed up). It must not block. */
typedef int (*rdv_spin_fn)(void *arg);

/* Calls check(arg) until it returns nonzero, budget_ns has passed, or
 * the absolute CLOCK_MONOTONIC deadline has; a CPU pause between calls.
 * Returns check's nonzero result, or 0 when the spin ran out (then the
 * caller sleeps). budget_ns <= 0 returns 0 without calling check. */
int rdv_spin(rdv_spin_fn check, void *arg, int64_t budget_ns,
             int64_t deadline);

#endif
