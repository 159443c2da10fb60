/*
 * tcp_util.h - what the tcp:// store tests share: a store server in a
 * forked process of its own, and a raw client that speaks the wire
 * protocol by hand (stores/tcp_codec.h).
 *
 * The server runs in a child so a test can kill it (a crash), stop it
 * (SIGSTOP: a hang) and start another on the same port, and so the test
 * process has no thread of its own when it forks its clients. The child
 * dies with the test (PR_SET_PDEATHSIG) and writes its log lines to a
 * file the test may read.
 *
 * No Criterion here: the contract suite links this too. Functions
 * return 0 or -1 with a message in err.
 */
#ifndef RDV_TEST_TCP_UTIL_H
#define RDV_TEST_TCP_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "rdv/store_server.h"
#include "stores/tcp_codec.h"

typedef struct tcp_server_proc {
    pid_t pid; /* 0: not running */
    int port;
    char url[160];      /* "tcp://127.0.0.1:PORT" (no token) */
    char log_path[64];  /* the server's log, one line per line */
} tcp_server_proc;

/* Starts a server on bind ("127.0.0.1:0": a free port) with token (NULL:
 * none) and max_clients (0: default); returns once it accepts. */
int tcp_server_spawn(tcp_server_proc *p, const char *bind, const char *token,
                     unsigned max_clients, char *err, size_t errlen);
/* Sends sig; SIGSTOP returns once every thread has stopped (up to 2 s),
 * a signal that ends it reaps it too and removes its log. */
void tcp_server_kill(tcp_server_proc *p, int sig);
/* Stops it cleanly (SIGTERM: it stops its server and exits 0), reaps
 * it and removes its log. Returns its exit status (0 when clean). */
int tcp_server_stop(tcp_server_proc *p);
/* The log so far, malloc'd and NUL-terminated ("" when none). */
char *tcp_server_log(const tcp_server_proc *p);

/* Raises the soft RLIMIT_NOFILE to at least want (at most the hard
 * limit). Returns the soft limit now. */
long tcp_raise_nofile(long want);

/* ---- raw protocol ---- */

/* A blocking, close-on-exec TCP connection to 127.0.0.1:port, or -1. */
int raw_connect(int port);
/* Writes all of buf. 0 or -1. */
int raw_send(int fd, const void *buf, size_t len);
/* Sends b's bytes and frees them. 0 or -1. */
int raw_send_buf(int fd, rdv_tcp_buf *b);
/* Reads one frame within timeout_ms and decodes it into *m; *frame
 * (malloc'd, free it) holds the bytes m points into. 0; -1 the
 * connection closed or failed; -2 timed out; -3 not a valid frame. */
int raw_read(int fd, rdv_tcp_msg *m, unsigned char **frame, int timeout_ms);
/* Sends a HELLO (id 0) with magic, version and token (NULL: none), as
 * it is or deliberately wrong; reads nothing. 0 or -1. */
int raw_hello_send(int fd, uint32_t magic, uint16_t version,
                   const char *token);
/* A right HELLO with token (NULL: none), and its reply's status (or
 * raw_read's failure). */
int raw_hello(int fd, const char *token);
/* Starts a request frame (id) in b; the caller puts the body and ends it
 * with rdv_tcp_end(b, start). */
size_t raw_begin(rdv_tcp_buf *b, int op, uint64_t id);
/* The server's counters, asked over a new connection (token NULL: none).
 * 0 or -1. */
int raw_stats(int port, const char *token, rdv_store_server_stats *st);

#endif
