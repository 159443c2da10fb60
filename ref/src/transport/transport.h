/*
 * transport/transport.h - internal seam between the data plane and its
 * two backends (uring.c, epoll.c), in the shape of Redis's ae.c.
 *
 * Two layers live behind this one header:
 *
 *  - the transport (transport.c, dataplane.c, wait.c, abort.c, frame.c;
 *    see dataplane.h): peers, framed requests, short writes, the io
 *    hook, errors naming the peer and ABORT frames that name the rank
 *    that failed first. Collectives, rdv_send/rdv_recv and the
 *    rendezvous use it.
 *  - the backend (uring.c, epoll.c): a completion-style engine with a
 *    handful of operations (connect, accept, send, recv, forget, poll)
 *    that both files define with identical semantics. epoll emulates
 *    completions by doing the syscall when the fd is ready.
 *
 * The backend is chosen in one place, rdv_backend_open(): "uring",
 * "epoll", or NULL for $RDV_TRANSPORT, else io_uring falling back to
 * epoll when io_uring_setup fails with EPERM, ENOSYS or EINVAL.
 * rdv_transport_open() calls it for the mesh. The store server
 * (ref/src/server/) calls it too and drives the engine alone: the
 * engine's operations know fds and tags, never ranks, so a server with
 * many anonymous clients needs no second event loop - only this one
 * entry point to the choice, which used to be private to the mesh.
 *
 * Deadlines are absolute CLOCK_MONOTONIC ns (RDV_DEADLINE_NONE = never).
 *
 * Errors, one domain: every function here, and every backend operation,
 * returns RDV_OK (or a count) or a negative rdv_status, never -errno.
 * The errno, where it matters, is in the detail (rdv_transport_errmsg(),
 * naming the peer rank and address) and, for a failed transport, in the
 * reason (rdv_transport_reason()), so no caller ever reads the text to
 * decide anything. The one place a kernel errno travels as a number is
 * rdv_event.res: a syscall's result handed to the rendezvous.
 *
 * Fork/threads: a transport belongs to the process and thread that
 * opened it (the io_uring is created SINGLE_ISSUER when the kernel
 * allows). It is never inherited: calls from another pid fail with
 * RDV_ESTATE.
 */
#ifndef RDV_TRANSPORT_INTERNAL_H
#define RDV_TRANSPORT_INTERNAL_H

#include <stdint.h>
#include <sys/socket.h>

#include "rdv/hooks.h"
#include "rdv/transport.h"

typedef struct rdv_transport rdv_transport;

/* Created after fork, in the process that uses it. RDV_EINVAL for an
 * unknown backend name, RDV_ENOTSUP when "uring" is forced but the
 * kernel refuses io_uring, RDV_ENOMEM. */
int rdv_transport_open(rdv_transport **out, const char *backend, int rank,
                       int size, char *errbuf, size_t errlen);
/* Cancels every operation still in flight (the kernel no longer
 * touches any buffer afterwards), closes every fd it owns, frees t.
 * A healthy transport resets a link whose peer has closed already and
 * holds every byte sent (transport.c, link_close); a link whose peer
 * is still open gets a FIN, so a peer reading on sees EOF. NULL is
 * allowed. */
void rdv_transport_close(rdv_transport *t);
const char *rdv_transport_backend(const rdv_transport *t);
const char *rdv_transport_errmsg(const rdv_transport *t);
/* After a failure, the rank it blames: the peer whose connection broke,
 * the rank an ABORT from a peer named as having failed first, the peer
 * a timed-out wait was waiting for, or this rank's own number when
 * nobody else is at fault. -1 while the transport is healthy. The
 * detail names the same rank first. */
int rdv_transport_culprit(const rdv_transport *t);

/* Why the transport failed, beside the culprit: the fact callers choose
 * their words from. Each reason has one status, the one the failing
 * call returned (in brackets). */
typedef enum rdv_fail_reason {
    RDV_FAIL_NONE = 0, /* healthy */
    RDV_FAIL_CLOSED,   /* the culprit closed its connection (EOF)
                          [RDV_EPEER] */
    RDV_FAIL_RESET,    /* the connection to the culprit was reset:
                          ECONNRESET, EPIPE, or an injected reset
                          [RDV_EPEER] */
    RDV_FAIL_TIMEOUT,  /* a wait's deadline passed while waiting for the
                          culprit [RDV_ETIMEDOUT] */
    RDV_FAIL_ABORTED,  /* a peer's ABORT frame named the culprit as the
                          rank that failed (the peer itself, another
                          rank, or this one) [RDV_EPEER] */
    RDV_FAIL_PROTOCOL, /* the culprit sent bytes that are no rdv frame,
                          a frame out of sequence or a malformed ABORT
                          [RDV_EPROTO] */
    RDV_FAIL_IO,       /* any other error: a socket errno on the
                          culprit's connection, or a local one (submit,
                          poll; the culprit is this rank) [RDV_EIO] */
} rdv_fail_reason;

/* RDV_FAIL_NONE while the transport is healthy. */
rdv_fail_reason rdv_transport_reason(const rdv_transport *t);
/* The status a failure for reason returns (RDV_OK for NONE). */
int rdv_fail_status(rdv_fail_reason reason);
/* "closed", "reset", "timeout", "aborted", "protocol", "io", "none". */
const char *rdv_fail_reason_name(rdv_fail_reason reason);

/* Hooks (may be NULL) whose io() is consulted before each transfer.
 * io() sees the wire stream of each direction: offsets and sizes
 * include the 16-byte frame headers (and a small payload's header rides
 * in the same transfer), so "reset after n bytes" counts socket bytes.
 * It is asked before the data plane's own non-blocking send() too (on
 * io_uring, dataplane.c's send_now), so a fault acts the same whichever
 * way a chunk goes out. ABORT frames bypass it. */
void rdv_transport_set_hooks(rdv_transport *t, const rdv_hooks *hooks);

/* Takes ownership of fd, a connected stream socket to peer, even on
 * failure. Sets close-on-exec, the blocking mode the backend wants and
 * TCP_NODELAY when fd is TCP. desc names the peer's address for error
 * messages ("127.0.0.1:40123"); NULL asks getpeername(). */
int rdv_transport_attach(rdv_transport *t, int peer, int fd,
                         const char *desc);
/* The same for an fd this transport made, which is in its mode
 * already: one from rdv_transport_socket(), or accepted on a listener
 * from it. No syscall when desc is given (NULL still asks
 * getpeername()): at N = 64, attach's fcntl, getsockname and setsockopt
 * on both ends were 10 of the 19.5 syscalls a connection cost. */
int rdv_transport_attach_own(rdv_transport *t, int peer, int fd,
                             const char *desc);

/* The fd attached for peer, or -1. The transport still owns it. */
int rdv_transport_peer_fd(const rdv_transport *t, int peer);

/* Starts req (filled by the caller: peer, is_send, buf, len). RDV_EINVAL
 * for a bad peer or a second request in the same direction; RDV_ESTATE
 * after an earlier failure.
 *
 * Each send is one frame on the wire (frame.h). Frames are segments of
 * the byte stream to a peer, not messages: a recv may take part of a
 * frame or span several (the ring collectives send ready chunks
 * together and receive them one by one), so lengths are not matched per
 * message. The receiver checks every header's magic and sequence
 * number: bytes that are not rdv frames are RDV_EPROTO naming the peer.
 * A zero-length request puts nothing on the wire, on either side. */
int rdv_transport_post(rdv_transport *t, rdv_request *req);

/* Drives I/O until every request in reqs is complete or the deadline
 * passes. Returns the first error; the detail names the culprit first.
 * Any error cancels all I/O in flight, so every posted buffer is free
 * again, and leaves the transport failed; before that, every peer whose
 * send direction is between frames gets an ABORT frame naming the
 * culprit (the others' sockets are shut down for writing). A peer's
 * ABORT fails this rank's recv with RDV_EPEER naming the culprit it
 * reports ("rank 1 failed first (reported by rank 2 at ...: ...)").
 *
 * At the deadline the wait does not return at once: it sends its ABORTs
 * and drives I/O for RDV_TRANSPORT_GRACE_MS more, so that a neighbour's
 * ABORT naming the real culprit can still arrive (wait.c says why). A
 * wait that times out therefore returns up to RDV_TRANSPORT_GRACE_MS
 * (plus scheduling) after its deadline, and once the deadline has
 * passed it never succeeds. */
#define RDV_TRANSPORT_GRACE_MS 200
int rdv_transport_wait(rdv_transport *t, rdv_request *const *reqs,
                       size_t n, int64_t deadline);

/* Makes every rdv_transport_wait() spin up to ns (zero-timeout polls,
 * spin.h) before it sleeps; 0, the default, sleeps at once. Opt-in,
 * because it did not win at every size: with rdv bench allreduce -n 2
 * --spin-us on a shared 2-core host, 20-50 us spins gave 0.65-0.98x
 * the sleeping wait's p50 at a few sizes and 1.2-7.8x at most others.
 * When both ranks end up on one core (the scheduler puts a woken task
 * beside its waker), a spin cannot see its peer's data and costs about
 * two budgets per exchange. */
void rdv_transport_set_spin(rdv_transport *t, int64_t ns);

/* Bytes moved so far on the data plane's sockets, frame headers
 * included, for rdv_context_get_counters(). */
void rdv_transport_bytes(const rdv_transport *t, uint64_t *sent,
                         uint64_t *received);

/* ---- the backend engine (for the rendezvous, and transport.c) ----
 *
 * Each operation carries a caller tag and ends in exactly one event
 * (multishot accept: one per connection, `more` set while it stays
 * armed), unless forgotten first. res is the syscall's result, in the
 * kernel's terms: bytes, a new fd, 0, or -errno; -ETIME means the
 * operation's own deadline passed. It is data for the caller to judge
 * (refused, reset, ...), never a status. Tags with the top bit set are
 * reserved for transport.c.
 */
typedef struct rdv_event {
    uint64_t tag;
    int res;
    int more;
} rdv_event;

#define RDV_TAG_TRANSPORT (1ull << 63)

/* A new stream socket the backend can drive, in *fd: CLOEXEC,
 * nonblocking when the backend wants it, and TCP_NODELAY when it is
 * TCP. A listener made here hands all of that to the sockets it
 * accepts: the backends accept with the flags of their mode (accept4,
 * io_uring's accept), and Linux copies TCP_NODELAY from the listener
 * into each accepted socket (Stevens, UNP 7.4; tests/ref/rendezvous
 * checks every link of a mesh). RDV_EIO or RDV_ENOMEM with the errno
 * in the detail. */
int rdv_transport_socket(rdv_transport *t, int family, int *fd);

/* Each returns RDV_OK, and the outcome arrives as an event; or RDV_EIO
 * / RDV_ENOMEM with the detail naming the call that failed. Even then
 * the kernel may still hold the operation: rdv_transport_forget() fd
 * before closing it. connect and recv end with -ETIME at deadline;
 * buffers must stay valid until their event or rdv_transport_forget();
 * connect copies sa. These never fail the transport: the rendezvous
 * decides. */
int rdv_transport_op_connect(rdv_transport *t, int fd,
                             const struct sockaddr *sa, socklen_t salen,
                             uint64_t tag, int64_t deadline);
int rdv_transport_op_accept(rdv_transport *t, int listen_fd, uint64_t tag);
int rdv_transport_op_send(rdv_transport *t, int fd, const void *buf,
                          size_t len, uint64_t tag);
int rdv_transport_op_recv(rdv_transport *t, int fd, void *buf, size_t len,
                          uint64_t tag, int64_t deadline);
/* Cancels every operation on fd and returns once the kernel is done
 * with them; none of them reports an event. The caller still owns fd. */
void rdv_transport_forget(rdv_transport *t, int fd);
/* Waits until at least one event is ready or deadline passes, and
 * stores up to max events. Returns the count (0 at the deadline) or a
 * negative rdv_status with the detail set. Events for transport.c's
 * own requests are consumed here and never returned. */
int rdv_transport_poll(rdv_transport *t, rdv_event *evs, int max,
                       int64_t deadline);

/* What uring.c and epoll.c each define; chosen in rdv_transport_open.
 * Every operation returns RDV_OK (poll: a count) or a negative
 * rdv_status, and then errmsg() names the call and the errno. */
typedef struct rdv_backend rdv_backend;
typedef struct rdv_backend_ops {
    const char *name;
    int nonblocking; /* wants O_NONBLOCK fds */
    /* send and recv try the syscall at once and queue what moved as an
     * event (epoll); 0 when they only queue the op (io_uring), so the
     * data plane first tries a send itself (dataplane.c, send_now) */
    int tries_at_once;
    /* RDV_OK; RDV_ENOTSUP when the kernel refuses this backend in a way
     * that allows the fallback (io_uring: EPERM, ENOSYS or EINVAL from
     * setup, an opcode missing); RDV_ENOMEM; RDV_EIO. errbuf says why. */
    int (*create)(rdv_backend **out, char *errbuf, size_t errlen);
    void (*destroy)(rdv_backend *b);
    int (*connect)(rdv_backend *b, int fd, const struct sockaddr *sa,
                   socklen_t salen, uint64_t tag, int64_t deadline);
    /* each accepted fd comes close-on-exec and in the blocking mode
     * above (accept4's flags, io_uring accept's), ready to attach */
    int (*accept)(rdv_backend *b, int fd, uint64_t tag);
    int (*send)(rdv_backend *b, int fd, const void *buf, size_t len,
                uint64_t tag);
    int (*recv)(rdv_backend *b, int fd, void *buf, size_t len,
                uint64_t tag, int64_t deadline);
    void (*forget)(rdv_backend *b, int fd);
    /* count of events, 0 at deadline, a negative status on failure */
    int (*poll)(rdv_backend *b, rdv_event *evs, int max, int64_t deadline);
    /* The last failure: "io_uring_submit: Device or resource busy". */
    const char *(*errmsg)(const rdv_backend *b);
} rdv_backend_ops;

/* For the backends: writes "call: strerror(err)" into why[cap] and
 * returns the status for err (RDV_ENOMEM for ENOMEM, else RDV_EIO). */
int rdv_backend_sys_fail(char *why, size_t cap, const char *call, int err);

/* The backend engine alone, chosen as above ("uring", "epoll", or NULL
 * for $RDV_TRANSPORT then io_uring falling back to epoll), for code that
 * drives sockets without a mesh: the store server. Create it in the
 * thread that drives it (the ring may be single-issuer) and destroy it
 * with (*ops)->destroy(*be). RDV_EINVAL (unknown name), RDV_ENOTSUP
 * ("uring" forced but refused), RDV_ENOMEM or RDV_EIO, with errbuf
 * saying why. */
int rdv_backend_open(const char *name, const rdv_backend_ops **ops,
                     rdv_backend **be, char *errbuf, size_t errlen);

extern const rdv_backend_ops rdv_backend_uring;
extern const rdv_backend_ops rdv_backend_epoll;

#endif
