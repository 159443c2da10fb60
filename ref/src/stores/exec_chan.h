/*
 * stores/exec_chan.h - one adapter process of an exec: store: start it,
 * exchange one request and its reply within a deadline, stop and reap
 * it. exec.c keeps a pool of these per handle.
 */
#ifndef RDV_EXEC_CHAN_H
#define RDV_EXEC_CHAN_H

#include <stdint.h>
#include <sys/types.h>

#include "exec_proto.h"

typedef struct rdv_exec_chan {
    pid_t pid;
    int fd;     /* our end of the socketpair; -1 once closed */
    int reaped; /* waited for: never signal pid again */
    int broken; /* out of step with the adapter: stop it */
} rdv_exec_chan;

/* Starts argv[0] (searched in PATH when it holds no '/') with argv, its
 * fds 0 and 1 on a new socketpair, fd 2 ours, nothing else open, signals
 * at their defaults; sends the hello and reads its reply into *hello
 * (the caller frees it). Waits until deadline (ns), or until cancel_fd
 * turns readable. RDV_OK, or an rdv_status with the reason in why
 * (a fragment: "exited with status 1", "cannot be started: ...");
 * on failure the process is killed and reaped and c->pid says which it
 * was (0 when none started). */
int rdv_exec_chan_start(rdv_exec_chan *c, char *const argv[],
                        int64_t deadline, int cancel_fd,
                        rdv_exec_reply *hello, char *why, size_t whylen);

/* Sends req and parses its reply with p (initialized by the caller),
 * until deadline (RDV_DEADLINE_NONE: no limit) or cancel_fd. RDV_OK when
 * a whole reply arrived (whatever its status); otherwise RDV_ETIMEDOUT
 * (silent), RDV_ECONN (the adapter closed or died), RDV_EPROTO (a bad
 * reply), RDV_ECANCELED or RDV_ENOMEM, with why filled and c->broken
 * set. */
int rdv_exec_chan_call(rdv_exec_chan *c, const rdv_exec_req *req,
                       rdv_exec_parser *p, int64_t deadline, int cancel_fd,
                       char *why, size_t whylen);

/* Stops n adapters at once: closes their sockets (end-of-file asks them
 * to exit), waits 100 ms, sends SIGTERM, waits 500 ms, sends SIGKILL,
 * and reaps each. Only for adapters this process started. */
void rdv_exec_chan_stop(rdv_exec_chan *const cs[], size_t n);

/* Ends an adapter that is out of step (silent, garbage, crashed): closes
 * its socket, SIGKILLs it unless it already exited, and reaps it. */
void rdv_exec_chan_kill(rdv_exec_chan *c);

/* Closes c's socket without signalling (a forked child's copy). */
void rdv_exec_chan_forget(rdv_exec_chan *c);

#endif
