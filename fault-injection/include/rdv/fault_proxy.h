/*
 * rdv/fault_proxy.h - a small loopback TCP proxy for server faults.
 *
 * It listens on 127.0.0.1 and forwards every connection to a loopback
 * target (a redis-server, say). On command it adds latency, resets every
 * open connection (RST), or blackholes traffic (holds it, so peers see
 * a silent server, not a closed one, and nothing sent is lost: it moves
 * on, in order, at "pass", as TCP's retransmissions would once a dead
 * path heals). rdv-proxy wraps it as a
 * program driven by commands on stdin; the harness may instead run it in
 * a forked child of its own with rdv_fault_proxy_serve().
 *
 * Commands (one per line; each gets one reply line "ok ..." or
 * "error ..."):
 *   pass           forward normally (no latency, no blackhole)
 *   latency MS     hold every chunk MS ms before forwarding it
 *   reset          send RST on every open connection, keep listening
 *   blackhole      pass nothing on, in either direction, until "pass"
 *   stats          "ok conns=N accepted=N resets=N up=B down=B held=B"
 *   quit           stop serving
 *
 * Single-threaded: one proxy is driven by one thread. Every fd is
 * CLOEXEC. Create it in the process that serves it (after fork).
 */
#ifndef RDV_FAULT_PROXY_H
#define RDV_FAULT_PROXY_H

#include <stddef.h>

#include "rdv/export.h"

RDV_API_BEGIN

typedef struct rdv_fault_proxy rdv_fault_proxy;

/* Listens on 127.0.0.1:listen_port (0 picks a free port) and forwards to
 * target_host:target_port, which must be loopback (127.0.0.0/8, ::1 or
 * "localhost"): RDV_EINVAL otherwise. RDV_ECONN if it cannot listen. */
int rdv_fault_proxy_create(int listen_port, const char *target_host,
                           int target_port, rdv_fault_proxy **out,
                           char *errbuf, size_t errlen);
/* Closes every connection and frees the proxy. NULL is allowed. */
void rdv_fault_proxy_destroy(rdv_fault_proxy *p);

/* The port it listens on. */
int rdv_fault_proxy_port(const rdv_fault_proxy *p);

/* Runs one command line (see above) and writes the reply, without a
 * newline, into reply. Returns 1 after "quit", 0 otherwise (an unknown
 * command is an "error ..." reply, not a failure). */
int rdv_fault_proxy_command(rdv_fault_proxy *p, const char *line,
                            char *reply, size_t cap);

/* Moves data for at most timeout_ms (shorter when latency timers are
 * due). Returns RDV_OK or RDV_EIO if the event loop itself failed. */
int rdv_fault_proxy_step(rdv_fault_proxy *p, int timeout_ms);

/* Serves until "quit" or end of input: commands are read from in_fd, a
 * line each, and replies written to out_fd. Returns RDV_OK, or RDV_EIO. */
int rdv_fault_proxy_serve(rdv_fault_proxy *p, int in_fd, int out_fd);

RDV_API_END
#endif
