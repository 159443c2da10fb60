/*
 * harness/run/fd_limit.h - making room for the fds N ranks need.
 *
 * A rank of N holds one socket per peer besides its listener, ring and
 * store connection, and the harness holds one pidfd per rank: at
 * N = 1024 both pass the usual soft RLIMIT_NOFILE of 1024. Forked ranks
 * inherit the parent's limit, so raising it once in the parent, before
 * the forks, covers every rank.
 */
#ifndef RDV_HARNESS_FD_LIMIT_H
#define RDV_HARNESS_FD_LIMIT_H

#include <stddef.h>

/* Fds a rank of an N-rank run may hold besides its N - 1 links and the
 * fds it inherits: listener, ring, store connections, logs, stdio. */
#define RDV_RANK_FD_SPARE 64

/* The soft RLIMIT_NOFILE a run of nranks needs, given the fds the
 * harness holds now (which every rank inherits). */
unsigned long rdv_fd_limit_for_ranks(int nranks);

/* Raises the soft RLIMIT_NOFILE to at least want when the hard limit
 * allows (never lowers it). Returns 0 when the soft limit is now at
 * least want; otherwise -1 with a note for the user in note: both limits,
 * what was needed, and how to raise the hard one. */
int rdv_fd_limit_raise(unsigned long want, const char *what, char *note,
                       size_t cap);

#endif
