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
 * pasted as is; never a password (see rdv_replay_store). Returns buf. */
const char *rdv_replay_line(const rdv_run_config *cfg, uint64_t seed,
                            char *buf, size_t cap);

/* Splits a replay line back into its words, as a POSIX shell would for
 * the quoting rdv_shell_quote writes ('...', "...", backslashes) and
 * up to a '#' comment. The words point into buf (size cap), which
 * receives them NUL-separated. Returns the number of words (at most
 * max), or -1 when a quote is not closed or buf or max is too small. */
int rdv_replay_words(const char *line, char *buf, size_t cap, char **words,
                     int max);

/* Appends url to buf at *off as a command line takes it: shell-quoted,
 * without its password (rdv_url_strip_passwords). Returns 1 when a
 * password was left out: then end the line with rdv_replay_note(). */
int rdv_replay_store(const char *url, char *buf, size_t cap, size_t *off);
/* When stripped, appends the shell comment that names the variables the
 * password is read from; nothing otherwise. */
void rdv_replay_note(int stripped, char *buf, size_t cap, size_t *off);

/* Appends the --server-restart, --server-pid and --server-proxy options
 * that are not NULL (the server faults need them again on replay). The
 * restart command is the user's shell command, shown as given: rdv
 * cannot tell a secret inside it (keep one in a file or the
 * environment the command reads). */
void rdv_replay_server_options(const char *restart_cmd,
                               const char *server_pid,
                               const char *server_proxy, char *buf,
                               size_t cap, size_t *off);

/* Appends s to buf at *off, single-quoted for a POSIX shell when it
 * holds anything but safe characters. */
void rdv_shell_quote(const char *s, char *buf, size_t cap, size_t *off);

#endif
