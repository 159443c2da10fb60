/*
 * transport/dataplane.h - the transport's state, shared by the files
 * that make it up (not a seam: nothing outside ref/src/transport sees
 * it):
 *
 *   transport.c  open/close, the backend choice, attach, engine ops
 *   dataplane.c  post and poll: frames, short transfers, the io hook
 *   wait.c       waiting on requests: deadlines and the timeout grace
 *   abort.c      failing: ABORT frames to the peers, then cancelling
 *   frame.c      the header codec (no I/O)
 *
 * Each peer has one tdir per direction: the request in it, and the
 * transfer in progress. A send is one frame, in one or two transfers:
 * a small payload (up to RDV_FRAME_SMALL bytes) is copied next to its
 * header in the bounce buffer and goes in one send; a larger one sends
 * the header, then the caller's buffer in place. The receiving side is
 * a buffered reader: headers and small payloads land in its bounce
 * buffer (one recv for a small message), large payloads straight in
 * the caller's buffer.
 *
 * Why 64 KiB is small: below it a second transfer (an io_uring round
 * trip or an epoll wakeup on each side) cost more than copying the
 * payload. With 4 KiB, an 8 KiB allreduce at N=2 took about twice as
 * long as a 4-byte one on a loaded host. Interleaved medians of rdv
 * bench allreduce -n 2 (9 rounds, both backends) at load about 15 gave
 * p50 0.44-0.61x of the 4 KiB build's at 8-32 KiB, 0.71-0.73x at
 * 64 KiB, 0.78-0.86x at 128 KiB; 32 KiB did as well up to 64 KiB but
 * split halving-doubling's 64 KiB halves of a 128 KiB allreduce again
 * (1.3x). On a quieter host (load 9) the gain is smaller, 0.68-0.94x
 * from 8 to 64 KiB and 0.59-0.76x at 128 KiB. The bounce buffers grow
 * only as far as their requests need (tdir.bounce), so the larger
 * bound costs no memory where messages are small.
 *
 * Frames are segments of a byte stream, not messages: a recv may take
 * part of a frame or span several, because the collectives rely on
 * that (ring.c sends several ready chunks as one message and receives
 * them chunk by chunk).
 */
#ifndef RDV_TRANSPORT_DATAPLANE_H
#define RDV_TRANSPORT_DATAPLANE_H

#include <sys/types.h>

#include "frame.h"
#include "rdv/status.h"
#include "transport.h"

#define RDV_FRAME_SMALL (64 * 1024)
/* The most a direction's bounce buffer grows to: a header and a small
 * payload. It starts at RDV_DP_BOUNCE_MIN (a header and the largest
 * ABORT payload fit) and doubles to what the requests need. */
#define RDV_DP_BOUNCE (RDV_FRAME_HDR + RDV_FRAME_SMALL)
#define RDV_DP_BOUNCE_MIN 512
/* A recv reads payload stretches of at least this many bytes straight
 * into the caller's buffer; below, through the bounce buffer, where one
 * recv may also take the next frame's header. A large recv (more than
 * RDV_FRAME_SMALL) reads a header and at most this much through it. */
#define RDV_DP_DIRECT 4096

enum { DIR_RECV = 0, DIR_SEND = 1 };
enum { SEG_HEAD, SEG_BODY };

typedef struct tdir {
    rdv_request *req;
    uint64_t moved;   /* wire bytes moved so far: the io hook's offset */
    uint32_t seq;     /* frames finished in this direction */
    int busy;         /* an op is in the backend */
    int64_t hold;     /* io hook delay: submit at this time, 0 = none */
    size_t chunk;     /* bytes the held transfer may move */
    /* the transfer in progress: seg is the bounce buffer (SEG_HEAD) or
     * the caller's buffer (SEG_BODY) */
    int stage;
    unsigned char *seg;
    size_t seg_len, seg_done;
    size_t fdone;     /* send: wire bytes of the current frame moved; 0
                         at a frame boundary */
    /* recv: a buffered reader over the frames */
    size_t boff, blen;    /* unread bytes are bounce[boff, blen) */
    uint64_t frame_left;  /* payload bytes left in the current frame */
    size_t abort_len;     /* an ABORT header was read: payload size */
    int blamed;           /* the peer's ABORT named this rank */
    /* bcap bytes, allocated by the direction's first request and grown
     * (up to RDV_DP_BOUNCE) only as far as its requests need: a rank of
     * N has N-1 peers but a barrier or a ring talks to few of them, and
     * 8 KiB for each of 1023 peers in each of 1024 ranks was a fifth of
     * the CPU of a 1024-rank run (page faults, zeroing); a barrier's
     * bounces stay at RDV_DP_BOUNCE_MIN */
    unsigned char *bounce;
    size_t bcap;
} tdir;

typedef struct tpeer {
    int fd;
    int tx_closed; /* ABORT sent or socket shut down: no more frames */
    char desc[64];
    tdir d[2];
} tpeer;

struct rdv_transport {
    const rdv_backend_ops *ops;
    rdv_backend *be;
    pid_t pid;
    int rank, size;
    tpeer *peers;
    const rdv_hooks *hooks;
    int failed;  /* the status that failed it, 0 while healthy */
    int culprit; /* the rank blamed for the failure, -1 = none yet */
    rdv_fail_reason reason; /* why, RDV_FAIL_NONE while healthy */
    int grace;   /* a wait's deadline passed: ABORTs naming us wait */
    int64_t spin_ns; /* a wait spins this long before sleeping (0: no) */
    int nheld;
    uint64_t sent, received;
    /* events of the batch poll() is working through, not yet seen */
    const rdv_event *rest;
    int nrest;
    char detail[RDV_DETAIL_MAX];
};

/* transport.c: RDV_ESTATE (detail set) when called from another pid. */
int rdv_transport_check_pid(rdv_transport *t);

/* dataplane.c */
const char *rdv_dp_dir_words(int d);
/* Accounts a data-plane completion without starting anything new: for
 * the events still queued when the transport fails. */
void rdv_dp_account(rdv_transport *t, const rdv_event *ev);

/* abort.c */

/* An ABORT frame's payload from peer has been read: fails
 * t naming the culprit it reports first (RDV_EPEER). During a wait's
 * grace an ABORT naming this rank is only noted (tdir.blamed): this
 * rank's own timeout says more about who it was waiting for. */
int rdv_dp_abort_received(rdv_transport *t, int peer,
                          const unsigned char *payload, size_t len);

/* Fails t for reason (the first failure wins: later calls only return
 * the status): sets the detail, the reason and the culprit (the rank to
 * blame, this rank when it is nobody else), tells the peers with ABORT
 * frames, then cancels every operation and fails every request.
 * Returns rdv_fail_status(reason). */
int rdv_dp_fail(rdv_transport *t, rdv_fail_reason reason, int culprit,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sends an ABORT naming culprit, with reason, to every connected peer
 * whose send direction is at a frame boundary, and shuts down the
 * others for writing; skips peers already told. Never blocks. */
void rdv_dp_abort_peers(rdv_transport *t, int culprit, const char *reason);

#endif
