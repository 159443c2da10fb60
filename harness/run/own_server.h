/*
 * harness/run/own_server.h - the tcp:// store server a run starts itself.
 *
 * `rdv run --store 'tcp://127.0.0.1:PORT?serve=1'` (and matrix, hunt,
 * shrink: every command built on the runner) serves the store from a
 * process the harness forks before the ranks, instead of from a thread
 * of the parent that the ranks are then forked from (what the tcp://
 * client's serve=1 would do; rdv/store_server.h asks for the server to
 * start after the forks). Owning the process is what lets the server
 * faults act without the user saying where the server is: server.pause
 * stops that process, server.restart kills it (SIGKILL) and serves the
 * same address from a new one, and the fault proxy stands in front of
 * its address. The ranks open the URL with serve=0, so no rank ever
 * becomes the server while it is down.
 *
 * When something already serves the address, the run is its client and
 * owns nothing, as serve=1 promises.
 */
#ifndef RDV_HARNESS_OWN_SERVER_H
#define RDV_HARNESS_OWN_SERVER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct rdv_own_server {
    pid_t pid;           /* the serving process; 0 = the run owns none */
    char pidfile[64];    /* holds pid, for rdv_fault_server_where.pid,
                            which reads it at each use: a restart
                            changes it within a run */
    char addr[300];      /* host:port served */
    char host[256];      /* its parts, for the bind probe at stop */
    int port;
    char token[1100];    /* the URL's token= ("" for none) */
    char url[1024];      /* the URL for the ranks (serve=0) */
} rdv_own_server;

/* Whether url asks a run to serve it (tcp://HOST…?serve=1), so the
 * server faults will find their server without being told where. */
int rdv_own_server_wanted(const char *url);

/* When url is tcp://…?serve=1 and its address is free, forks a process
 * that serves it and returns once clients can connect. s->url is the URL
 * the run's handles should open: url with serve=0 when it asked to be
 * served (whether or not the address was free), else url itself, and a
 * URL that does not parse is left for the store's open to judge. RDV_OK,
 * or another status with a message in err when the server could not
 * start. */
int rdv_own_server_start(const char *url, rdv_own_server *s, char *err,
                         size_t errlen);

/* server.restart: kills the serving process and serves the same address
 * from a new one within timeout_ms (the dead server's sockets may hold
 * the port for a moment). RDV_OK, or a status with a message in err. */
int rdv_own_server_restart(rdv_own_server *s, int timeout_ms, char *err,
                           size_t errlen);

/* Stops the serving process (SIGTERM; SIGKILL if it is not gone within
 * a few seconds), reaps it, removes the pidfile, and returns once the
 * address can be bound again (at most 3 s): a dead server's io_uring
 * can hold its listener for a moment, and the next runner of the same
 * command (matrix, shrink, hunt) must find the port free, not "taken". */
void rdv_own_server_stop(rdv_own_server *s);

#endif
