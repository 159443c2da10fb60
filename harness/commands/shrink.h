/*
 * harness/commands/shrink.h - what `rdv shrink` (cmd_shrink.c) takes
 * from shrink_faults.c: splitting a list that a replay line holds, and
 * the narrower versions of a fault plan.
 */
#ifndef RDV_HARNESS_SHRINK_H
#define RDV_HARNESS_SHRINK_H

#include <stddef.h>

#define SHRINK_TEXT_MAX 2048

/* The items of list separated by sep outside () and quotes, at most max:
 * their starts and lengths. Returns how many. */
int shrink_split_items(const char *list, char sep, const char **start,
                       size_t *len, int max);

typedef struct shrink_candidate {
    char spec[SHRINK_TEXT_MAX]; /* the whole plan, one parameter narrowed */
    char what[200];             /* what changed, for the try's line */
} shrink_candidate;

/* The narrowings of the plan spec (canonical, as a replay line prints
 * it) for a run of nranks, at most max into out, each one parameter of
 * one statement made smaller: ms halved, p halved, times halved, one
 * alternative of a rank, peer or op set kept, a rank set where there
 * was none. Candidates may not parse (rank= where a kind takes none):
 * the caller tries only those that do. Returns how many. */
int shrink_fault_narrowings(const char *spec, int nranks,
                            shrink_candidate *out, int max);

#endif
