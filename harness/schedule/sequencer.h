/*
 * harness/schedule/sequencer.h - the parent's sequencer for a sequenced
 * run, and the rank's side of its protocol.
 *
 * Every store op of every rank asks for its turn before it reaches the
 * store and reports when it is done (the recorder does this: see
 * run/store_recorder.c); the sequencer lets one op run at a time and
 * picks whose by the schedule. One SOCK_SEQPACKET socketpair per rank
 * carries the protocol; a thread in the parent runs the sequencer, so
 * the supervisor's loop is untouched.
 *
 * What makes the order exact: a pick is made only once every live rank
 * has settled, that is, it is waiting for a turn, has exited, or has
 * been asleep in the kernel for 1 ms without running (it waits on its
 * peers outside the store: a connect, a collective, a fault's sleep). A blocking op (wait, or get with a
 * deadline) never blocks inside its turn: the rank tries it once per
 * turn, and when the keys are not there yet it is parked until another
 * rank's write (set, add, compare_set, multi_set, delete) has run. Its
 * deadline counts only when nothing else can run: then, once it has
 * passed, the op gets a last try and returns what that try found.
 *
 * What it cannot order is a store call a rank makes on a clock: a slow
 * run makes more of them than a fast one, in other places. librdv's
 * periodic check of a rank's own record is one, so a sequenced rank
 * turns it off (rdv_context_options.recheck_ms, run/rank.c).
 *
 * What keeps it from deadlocking: a rank that does not settle within a
 * bound (SETTLE_*_MS in sequencer.c) is no longer waited for, and an op
 * that runs longer than LONG_OP_MS (a fault's delay) stops holding the
 * turn. Each such event is counted in the stats: a run whose stats show
 * none was sequenced exactly.
 */
#ifndef RDV_HARNESS_SEQUENCER_H
#define RDV_HARNESS_SEQUENCER_H

#include <stdint.h>
#include <stdio.h>

#include "common/result_area.h"
#include "schedule/schedule.h"

typedef struct rdv_sequencer rdv_sequencer;

typedef struct rdv_sequencer_stats {
    uint64_t steps;     /* turns given */
    uint64_t unsettled; /* turns given while a rank had not settled */
    uint64_t long_ops;  /* ops that stopped holding their turn */
    uint64_t expired;   /* parked ops whose deadline passed: last try */
} rdv_sequencer_stats;

/* Parent, before the ranks are forked: the socketpairs. area gives each
 * rank's pid. RDV_OK, or an rdv_status with err. */
int rdv_sequencer_open(const rdv_schedule_spec *spec, int nranks,
                       const rdv_result_area *area, rdv_sequencer **out,
                       char *err, size_t errlen);
/* Parent, once every rank is forked: the thread. Not before: a rank
 * forked from a process with a thread inherits its memory and locks
 * without it (under ASan, a rank's exit hung in LeakSanitizer). A rank's
 * requests wait in its socket until then. RDV_OK, or RDV_EIO with err. */
int rdv_sequencer_start(rdv_sequencer *q, char *err, size_t errlen);
/* Parent, after every rank has been reaped: joins the thread, closes the
 * sockets, keeps the log and stats for the calls below until free. */
void rdv_sequencer_stop(rdv_sequencer *q, rdv_sequencer_stats *stats);
/* Writes the op log, one line per turn in the order the turns were
 * given: "STEP rank R OP KEY -> STATUS[ (parked)]". */
void rdv_sequencer_log_write(const rdv_sequencer *q, FILE *f);
void rdv_sequencer_free(rdv_sequencer *q);

/* Rank, right after fork: closes every end but its own and returns that
 * fd (-1 when q is NULL). */
int rdv_sequencer_rank_fd(rdv_sequencer *q, int rank);

/* Rank side of the protocol, over the fd rdv_sequencer_rank_fd gave.
 * turn blocks until the sequencer gives this rank its turn for op on
 * key (deadline: a blocking op's, else RDV_DEADLINE_NONE); *expire
 * then says the deadline has passed and this try is the last. done
 * reports the result (blocked: a try of a blocking op that found its
 * keys missing). Both return -1 when the sequencer is gone (the rank
 * then goes on unsequenced). */
int rdv_sequencer_turn(int fd, int op, const char *key, int64_t deadline,
                       int *expire);
int rdv_sequencer_done(int fd, int op, int rc, int blocked);

#endif
