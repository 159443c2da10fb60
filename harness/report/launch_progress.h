/*
 * harness/report/launch_progress.h - what `rdv launch` shows on stderr
 * while its ranks run, as the matrix and conform do: on a terminal one
 * live line, "launch [1/4 ended] 3 running; 12 s elapsed", redrawn now
 * and then and wiped before the report; elsewhere (a CI log, TERM=dumb)
 * one plain line per rank that ends, "launch [1/4] rank 2 (pid 4242)
 * exited 1; 0.8 s elapsed", and no carriage returns. Ranks that write
 * to the same terminal (no --logs) get the plain lines too: a line
 * redrawn in place would run into theirs.
 */
#ifndef RDV_HARNESS_LAUNCH_PROGRESS_H
#define RDV_HARNESS_LAUNCH_PROGRESS_H

#include <stdint.h>

#include "run/supervise.h"

typedef struct rdv_launch_progress {
    int nranks, ended;
    int live;        /* stderr redraws (report/colour.h): one line */
    int64_t t0_ns;   /* the ranks' start */
    int64_t shown_ns; /* the live line's last redraw */
} rdv_launch_progress;

/* The ranks start now (t0_ns: CLOCK_MONOTONIC); ranks_write_stderr:
 * their output goes to this stderr too. */
void rdv_launch_progress_start(rdv_launch_progress *p, int nranks,
                               int64_t t0_ns, int ranks_write_stderr);
/* A rank ended (rdv_supervise_opts.exited; arg is the progress). */
void rdv_launch_progress_exited(void *arg, int rank, const rdv_rank_exit *e);
/* Redraws the live line if it is due; the ms until the next redraw, or
 * -1 when nothing is live (a supervise timer's answer). */
int rdv_launch_progress_tick(rdv_launch_progress *p);
/* Wipes the live line, before the report goes out. */
void rdv_launch_progress_clear(rdv_launch_progress *p);

#endif
