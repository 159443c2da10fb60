/*
 * harness/report/report_text.h - how a run reads on a terminal, and as JSON.
 */
#ifndef RDV_HARNESS_REPORT_TEXT_H
#define RDV_HARNESS_REPORT_TEXT_H

#include <stdio.h>

#include "run/run.h"

/* "  ranks-ok           PASS  4 ranks succeeded", one line per check. */
void rdv_report_print_checks(FILE *f, const rdv_run_report *rep);

/* The verdict line of a run, then for a failing run its failing checks
 * and the replay line ("replay: rdv run ..."). */
void rdv_report_print_run(FILE *f, const rdv_run_config *cfg,
                          const rdv_run_report *rep, int verbose);

/* One JSON object (one line) describing the run: its checks, each
 * rank's outcome, phase, transport, counters and the replay line. */
void rdv_report_print_json(FILE *f, const rdv_run_config *cfg,
                           const rdv_run_report *rep);

const char *rdv_check_verdict_name(int verdict);

/* The failing checks into buf, separated by sep: their names alone
 * ("ranks-ok, no-hang") or, with detail, "name: detail". */
void rdv_report_failed(const rdv_run_report *rep, int detail,
                       const char *sep, char *buf, size_t cap);

#endif
