/*
 * harness/run/server_restart.h - running the user's command that restarts
 * the store's server (for the server.restart fault; rdv does not own the
 * server, so it has to be told how).
 */
#ifndef RDV_HARNESS_SERVER_RESTART_H
#define RDV_HARNESS_SERVER_RESTART_H

#include <stddef.h>

/* Runs `/bin/sh -c cmd` and waits for it, at most timeout_ms (then it is
 * killed). Returns 0 when it exited with status 0, else -1 with a message
 * in err. */
int rdv_server_restart_run(const char *cmd, int timeout_ms, char *err,
                           size_t errlen);

#endif
