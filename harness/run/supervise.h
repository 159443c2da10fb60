/*
 * harness/run/supervise.h - fork N ranks into one process group, watch them
 * with pidfds until they exit, the deadline passes or the caller says the
 * run is overdue, then kill the whole group and reap every one of them.
 */
#ifndef RDV_HARNESS_SUPERVISE_H
#define RDV_HARNESS_SUPERVISE_H

#include <stdint.h>
#include <sys/types.h>

struct rdv_rank_exit;

/* Runs in the child; returns its exit code (the child then exit()s). */
typedef int (*rdv_rank_fn)(void *arg, int rank);

typedef struct rdv_supervise_opts {
    int nranks;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; kill everything left then */
    rdv_rank_fn fn;
    void *arg;
    /* For ranks that SIGSTOP themselves (a proc.stop fault): ms until the
     * parent sends SIGCONT, 0 = never stops. May be NULL. */
    int (*stop_ms)(void *arg, int rank);
    /* Timed parent-side work (a server fault): called right after the
     * forks and then whenever the ms it last returned have passed; -1 =
     * never again. May be NULL. */
    int (*timer)(void *timer_arg);
    void *timer_arg;
    /* Parent-side setup that must come after every fork: the threads the
     * run needs (a rank forked from a process with threads inherits their
     * memory and locks without them). Nonzero, with err: the run cannot
     * go on and the ranks are killed. May be NULL. */
    int (*forked)(void *forked_arg, char *err, size_t errlen);
    void *forked_arg;
    /* Asked every tick while ranks run: nonzero ends the run now, as the
     * deadline would (the ranks left are killed and marked hung). May be
     * NULL. */
    int (*overdue)(void *overdue_arg);
    void *overdue_arg;
    /* Told each rank's end as it is reaped, those killed at the deadline
     * included (a progress display). May be NULL. */
    void (*exited)(void *exited_arg, int rank, const struct rdv_rank_exit *e);
    void *exited_arg;
} rdv_supervise_opts;

typedef struct rdv_rank_exit {
    pid_t pid;
    int code;   /* exit code when the rank exited, else -1 */
    int signo;  /* the signal that ended it, else 0 */
    int hung;   /* still running at the deadline: killed by us */
    int64_t t_exit_ns;
} rdv_rank_exit;

/* Forks the ranks and supervises them to the end. Returns 0 with exits[]
 * filled and *pgid set, or -1 with a message in err when the ranks could
 * not all be started or forked() failed (those that were are killed and
 * reaped). */
int rdv_supervise(const rdv_supervise_opts *o, rdv_rank_exit *exits,
                  pid_t *pgid, char *err, size_t errlen);

#endif
