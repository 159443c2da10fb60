/*
 * harness/report/trace.h - Chrome trace-event JSON (opens in Perfetto and
 * chrome://tracing) for one run: a track per rank with its phases and
 * every store op it made, with durations.
 */
#ifndef RDV_HARNESS_TRACE_H
#define RDV_HARNESS_TRACE_H

#include "run/run.h"

/* Writes the trace of rep's run to path. Returns 0 or -1 with err. */
int rdv_trace_write(const char *path, const rdv_run_config *cfg,
                    const rdv_run_report *rep, char *err, size_t errlen);

#endif
