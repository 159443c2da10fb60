/*
 * harness/report/colour.h - PASS, FAIL and SKIP in colour on a terminal,
 * and whether a progress line may be redrawn in place: the one place the
 * harness decides what a terminal gets.
 */
#ifndef RDV_HARNESS_REPORT_COLOUR_H
#define RDV_HARNESS_REPORT_COLOUR_H

#include <stdio.h>

/* Whether text written to f gets colour: f is a terminal, $NO_COLOR is
 * unset or empty (no-color.org) and $TERM is not "dumb". A file, a pipe
 * or a CI log never gets escape sequences. */
int rdv_colour_enabled(FILE *f);

/* Whether a line may be redrawn in place on f ("\r\033[K"): f is a
 * terminal and $TERM is not "dumb". Otherwise progress is plain lines. */
int rdv_term_redraws(FILE *f);

/* Writes text padded with spaces to width (0: no padding), coloured by
 * its first word when rdv_colour_enabled(f): PASS and ok green, FAIL and
 * ERROR red, SKIP, skip and N/A yellow; any other text as it is. The
 * padding stays outside the escape sequences, so columns line up. */
void rdv_colour_put(FILE *f, const char *text, int width);

#endif
