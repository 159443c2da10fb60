/*
 * harness/report/conform_progress.c - what `rdv conform` shows on stderr
 * while clauses run, as the matrix does (matrix_report.c): on a terminal
 * one live line, "conform [3/41] mp-visibility running 12 s; 40 s
 * elapsed", redrawn while the clause runs and wiped before its row is
 * printed; elsewhere (a CI log, TERM=dumb) one plain line per finished
 * clause with its verdict and the time elapsed, and no carriage
 * returns.
 *
 * Choices: the live line is redrawn from the clause watchdog's tick
 * (conform_isolate.c wakes every 50 ms anyway), at most every 250 ms;
 * nothing else in the clause's way. The verdict word goes through the
 * one colour helper (report/colour.h).
 */
#include "conform/conform_cmd.h"
#include "rdv/clock.h"
#include "report/colour.h"

#define REDRAW_NS 250000000LL

void conform_progress_start(conform_progress *p, size_t total)
{
    *p = (conform_progress){.total = total, .t0_ns = rdv_now_ns(),
                            .live = rdv_term_redraws(stderr)};
}

static void redraw(conform_progress *p, int64_t now)
{
    fprintf(stderr, "\r\033[Kconform [%zu/%zu] %s running %.0f s; %.0f s "
            "elapsed", p->done + 1, p->total, p->clause,
            (double)(now - p->clause_t0_ns) / 1e9,
            (double)(now - p->t0_ns) / 1e9);
    fflush(stderr);
    p->shown_ns = now;
}

void conform_progress_clause(conform_progress *p, const char *name)
{
    p->clause = name;
    p->clause_t0_ns = rdv_now_ns();
    if (p->live)
        redraw(p, p->clause_t0_ns);
}

void conform_progress_tick(void *arg)
{
    conform_progress *p = arg;
    int64_t now = rdv_now_ns();

    if (p->live && p->clause && now - p->shown_ns >= REDRAW_NS)
        redraw(p, now);
}

void conform_progress_clear(conform_progress *p)
{
    if (p->live) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

void conform_progress_done(conform_progress *p, const conform_result *res,
                           const char *verdict)
{
    p->done++;
    p->clause = NULL;
    if (p->live)
        return;
    fprintf(stderr, "conform [%zu/%zu] %s ", p->done, p->total,
            res->c->name);
    rdv_colour_put(stderr, verdict, 0);
    fprintf(stderr, " in %lld ms; %.1f s elapsed\n", (long long)res->ms,
            (double)(rdv_now_ns() - p->t0_ns) / 1e9);
    fflush(stderr);
}
