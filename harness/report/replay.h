/*
 * harness/report/replay.h - the one-line command that reproduces a run.
 */
#ifndef RDV_HARNESS_REPLAY_H
#define RDV_HARNESS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "run/run.h"

/* Writes "rdv run --store '...' --ranks N --seed S ..." into buf: every
 * option that changes what the run does, shell-quoted so it can be
 * pasted as is. Returns buf. */
const char *rdv_replay_line(const rdv_run_config *cfg, uint64_t seed,
                            char *buf, size_t cap);

/* Appends s to buf at *off, single-quoted for a POSIX shell when it
 * holds anything but safe characters. */
void rdv_shell_quote(const char *s, char *buf, size_t cap, size_t *off);

#endif
