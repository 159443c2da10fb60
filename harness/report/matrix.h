/*
 * harness/report/matrix.h - the cells of `rdv matrix` and how they are shown:
 * the table (stores as rows, rank count x scenario as columns), the live
 * progress line, and the JUnit testcases.
 */
#ifndef RDV_HARNESS_MATRIX_H
#define RDV_HARNESS_MATRIX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report/report_junit.h"
#include "run/run.h"

#define RDV_MATRIX_MAX_STORES 16
#define RDV_MATRIX_MAX_RANKS 16
#define RDV_MATRIX_MAX_SEEDS 1000
#define RDV_MATRIX_MAX_SCENARIOS 64

/* One (store, ranks, scenario) column group: its seeds' verdicts. */
typedef struct rdv_matrix_cell {
    int runs, passed;
    double max_ms;
    int could_not_run; /* the store could not be opened, say */
    int skipped;       /* the scenario needs what this store lacks */
} rdv_matrix_cell;

typedef struct rdv_matrix {
    const char *stores[RDV_MATRIX_MAX_STORES];
    int nstores;
    uint64_t ranks[RDV_MATRIX_MAX_RANKS];
    int nranks;
    uint64_t seeds[RDV_MATRIX_MAX_SEEDS];
    int nseeds;
    const char *scenarios[RDV_MATRIX_MAX_SCENARIOS]; /* NULL = no faults */
    const char *scenario_names[RDV_MATRIX_MAX_SCENARIOS]; /* for columns */
    unsigned scenario_needs[RDV_MATRIX_MAX_SCENARIOS]; /* of its plan */
    /* The per-call timeout a scenario is sized for (--faults all), used
     * when --timeout is not given; 0: the run's default. */
    int scenario_timeout_ms[RDV_MATRIX_MAX_SCENARIOS];
    int nscenarios;
    rdv_matrix_cell *cells; /* [store][ranks][scenario] */
    rdv_junit_case *cases;  /* one per run */
    size_t ncases;
    /* progress */
    int total, done, failed, tty;
    int errors; /* runs that could not run (JUnit <error>, exit 3) */
    int unverified; /* runs whose every check SKIPped: neither passed
                       nor failed (JUnit <skipped>) */
    int64_t t0_ns;
} rdv_matrix;

rdv_matrix_cell *rdv_matrix_cell_at(rdv_matrix *m, int store, int ranks,
                                    int scenario);

/* Shows "[ 12/48] 1 failed, ETA 23 s" on stderr when it is a TTY. */
void rdv_matrix_progress(rdv_matrix *m);
/* Without a TTY, one line on stderr for a finished cell: what it shows in
 * the table and the elapsed time. */
void rdv_matrix_cell_done(rdv_matrix *m, int store, int ranks, int scenario);
/* Erases the progress line before other output (no-op without TTY). */
void rdv_matrix_progress_clear(rdv_matrix *m);

/* Prints the table to f. */
void rdv_matrix_print_table(rdv_matrix *m, FILE *f);

/* Records one finished run as a JUnit testcase. -1 when out of memory. */
int rdv_matrix_add_case(rdv_matrix *m, const rdv_run_config *cfg,
                        const rdv_run_report *rep, const char *scenario);
/* Records a cell that could not run at all (err says why) as JUnit
 * errors, one per seed; rdv_matrix_add_error one seed's run. */
int rdv_matrix_add_broken(rdv_matrix *m, const rdv_run_config *cfg,
                          const char *scenario, const char *err);
int rdv_matrix_add_error(rdv_matrix *m, const rdv_run_config *cfg,
                         uint64_t seed, const char *scenario,
                         const char *err);
/* Records a cell skipped for the reason given, one testcase per seed. */
int rdv_matrix_add_skipped(rdv_matrix *m, const rdv_run_config *cfg,
                           const char *scenario, const char *why);
void rdv_matrix_free_cases(rdv_matrix *m);

/* --json: a cell that did not run ("skip" or "error", why), and the
 * totals, each one line. The schema is in the README (version 1). */
void rdv_matrix_json_cell(FILE *f, const rdv_run_config *cfg,
                          const char *verdict, const char *why);
void rdv_matrix_json_summary(FILE *f, const rdv_matrix *m, int leaked);

#endif
