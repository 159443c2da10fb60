/*
 * harness/report/report_text.h - how a run reads on a terminal, and as JSON.
 */
#ifndef RDV_HARNESS_REPORT_TEXT_H
#define RDV_HARNESS_REPORT_TEXT_H

#include <stdio.h>

#include "run/run.h"

/* "  ranks-ok           PASS  4 ranks succeeded": one check, a failure
 * per line (the detail's further lines indented under its first). */
void rdv_report_print_check(FILE *f, const rdv_check *c);
/* Every check of rep, with rdv_report_print_check. */
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

/* The first failed check of rep, in report order, or NULL. */
const rdv_check *rdv_report_first_failed(const rdv_run_report *rep);
/* "ranks-ok: rank 0 failed: ..." - that check's name and the first line
 * of its detail, or "no check failed". Returns buf. */
const char *rdv_report_first_cause(const rdv_run_report *rep, char *buf,
                                   size_t cap);

/* The verdict of a whole run from its checks: FAIL when one failed, PASS
 * when none failed and one passed, SKIP when every check was skipped
 * (nothing was verified, which is no success to report). */
int rdv_checks_verdict(const rdv_check *checks, int n);

/* The failing checks on one line of at most cap bytes, for a table cell
 * (conform's evidence): "name: failure; failure; name: failure", whole
 * failures only. Each check gets its first failure before any check
 * gets a second, and a check whose failures did not all fit ends with
 * "(and N more)". */
void rdv_report_failed_line(const rdv_run_report *rep, char *buf,
                            size_t cap);

/* The failing checks into buf, separated by sep: their names alone
 * ("ranks-ok, no-hang") or, with detail, "name: detail" (each detail
 * line but the first on a line of its own). */
void rdv_report_failed(const rdv_run_report *rep, int detail,
                       const char *sep, char *buf, size_t cap);

#endif
