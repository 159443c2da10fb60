/*
 * harness/run/launch_contexts.h - `rdv launch --context-checks`: the
 * memory the ranks' librdv writes its contexts' records into
 * (RDV_CONTEXT_REPORT_FD, ref/src/context_report.h) and rdv run's
 * mesh-consistent judged on it. run/launch.c shares the memory and calls
 * the judge; only this file reads the layout.
 */
#ifndef RDV_HARNESS_LAUNCH_CONTEXTS_H
#define RDV_HARNESS_LAUNCH_CONTEXTS_H

#include <stddef.h>

#include "run/launch.h"

/* The bytes of the memory for a job of nranks. */
size_t rdv_launch_contexts_size(int nranks);

/* Stamps fresh zeroed memory of that size with the layout's head (magic,
 * version, nranks) before the ranks start: a librdv that does not know
 * the stamp writes nothing. */
void rdv_launch_contexts_stamp(void *report, int nranks);

/* Appends mesh-consistent to rep->checks, judged on what the ranks wrote
 * (after every rank has ended). A rank that wrote nothing (no librdv
 * context of the job's size, a program not linked with librdv or with
 * one that does not know the stamp) makes it a SKIP naming the rank,
 * unless the ranks that did report already disagree. */
void rdv_launch_judge_contexts(const rdv_launch_config *cfg, void *report,
                               rdv_launch_report *rep);

#endif
