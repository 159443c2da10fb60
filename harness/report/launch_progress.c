/*
 * harness/report/launch_progress.c - `rdv launch`'s progress on stderr
 * (report/launch_progress.h), shaped like the matrix's and conform's.
 *
 * Choices: the live line is redrawn at most every 250 ms, from the
 * supervisor's timer or an exit, and at the last exit (the final state):
 * a launch of 1024 ranks ending together redraws it a few times, not
 * 1024; the plain lines come one per rank that
 * ends (killed at the deadline included), so a CI log shows who ended
 * when, in order, with the time elapsed. Whether a line may be redrawn
 * is report/colour.h's to say (a terminal, TERM not dumb), and only
 * when the ranks' output goes elsewhere (--logs).
 */
#include <stdio.h>
#include <string.h>

#include "rdv/clock.h"
#include "report/colour.h"
#include "report/launch_progress.h"

#define REDRAW_MS 250

void rdv_launch_progress_start(rdv_launch_progress *p, int nranks,
                               int64_t t0_ns, int ranks_write_stderr)
{
    *p = (rdv_launch_progress){.nranks = nranks, .t0_ns = t0_ns,
                               .live = !ranks_write_stderr &&
                                       rdv_term_redraws(stderr)};
}

static double elapsed_s(const rdv_launch_progress *p, int64_t now)
{
    return (double)(now - p->t0_ns) / 1e9;
}

static void redraw(rdv_launch_progress *p, int64_t now)
{
    fprintf(stderr, "\r\033[Klaunch [%d/%d ended] %d running; %.0f s "
            "elapsed", p->ended, p->nranks, p->nranks - p->ended,
            elapsed_s(p, now));
    fflush(stderr);
    p->shown_ns = now;
}

void rdv_launch_progress_exited(void *arg, int rank, const rdv_rank_exit *e)
{
    rdv_launch_progress *p = arg;
    int64_t now = rdv_now_ns();
    char how[96];

    p->ended++;
    if (p->live) {
        if (p->ended == p->nranks ||
            now - p->shown_ns >= (int64_t)REDRAW_MS * 1000000)
            redraw(p, now);
        return;
    }
    if (e->hung)
        snprintf(how, sizeof how, "killed at the deadline");
    else if (e->signo)
        snprintf(how, sizeof how, "killed by signal %d (%s)", e->signo,
                 strsignal(e->signo));
    else
        snprintf(how, sizeof how, "exited %d", e->code);
    fprintf(stderr, "launch [%d/%d] rank %d (pid %d) %s; %.1f s elapsed\n",
            p->ended, p->nranks, rank, (int)e->pid, how, elapsed_s(p, now));
    fflush(stderr);
}

int rdv_launch_progress_tick(rdv_launch_progress *p)
{
    int64_t now = rdv_now_ns();

    if (!p->live)
        return -1;
    if (now - p->shown_ns >= (int64_t)REDRAW_MS * 1000000)
        redraw(p, now);
    return REDRAW_MS;
}

void rdv_launch_progress_clear(rdv_launch_progress *p)
{
    if (p->live) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
