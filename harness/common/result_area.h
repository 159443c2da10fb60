/*
 * harness/common/result_area.h - the shared result area: one slot per rank in a
 * MAP_SHARED anonymous mapping that the parent makes before fork().
 *
 * Everything is sized to the run's N, not to the largest N: the socket
 * tuples are one N x N table beside the slots (not an array of
 * RDV_RUN_MAX_RANKS in every slot), so N = 1024 maps about 50 MiB and a
 * run of 4 ranks a few hundred KiB.
 *
 * A rank writes only its own slot; the parent reads the slots after the
 * rank has exited or been killed, so plain stores are enough for most
 * fields. The few fields the parent reads while ranks may still run
 * (the phase log and the current store op, for a hang report) are
 * published with release stores and read with acquire loads.
 */
#ifndef RDV_HARNESS_RESULT_AREA_H
#define RDV_HARNESS_RESULT_AREA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/endpoint.h"
#include "rdv/context.h"
#include "rdv/store_ops.h" /* rdv_store_op */

/* Every command built on a run takes N up to this (issue 22: rendezvous
 * bugs live beyond 128 ranks). */
#define RDV_RUN_MAX_RANKS 1024
#define RDV_WORKLOAD_MAX 32
#define RDV_PHASE_LOG_MAX 64
#define RDV_EVENT_KEY_MAX 80

/* Where a rank is. Values below RDV_PHASE_COUNT are librdv's phases
 * (rdv/hooks.h, reported by the phase hook); the harness adds its own. */
enum {
    RDV_RUN_PHASE_START = 100, /* forked, maybe starting late */
    RDV_RUN_PHASE_STORE_OPEN,  /* opening and wrapping its store */
    RDV_RUN_PHASE_STEP,        /* running workload step `step` */
    RDV_RUN_PHASE_CLEANUP,     /* destroying the context, closing */
    RDV_RUN_PHASE_DONE,
};

/* How a rank ended, as the rank itself wrote it. */
enum {
    RDV_SLOT_UNSTARTED = 0,
    RDV_SLOT_RUNNING,
    RDV_SLOT_OK,
    RDV_SLOT_FAILED,
};

typedef struct rdv_phase_mark {
    int64_t t_ns; /* CLOCK_MONOTONIC, shared by every process here */
    int32_t phase;
    int32_t step; /* workload step for RDV_RUN_PHASE_STEP, else -1 */
} rdv_phase_mark;

typedef struct rdv_op_event {
    int64_t t0_ns, t1_ns;
    int16_t op; /* rdv_store_op */
    int16_t rc;
    char key[RDV_EVENT_KEY_MAX]; /* first key, printable, maybe cut */
} rdv_op_event;

typedef struct rdv_step_out {
    int64_t t_enter_ns, t_exit_ns;
    uint64_t digest; /* of the step's output, for results-identical */
    int ran;         /* the step finished (correct or not) */
    int correct;     /* output equals the closed-form value */
    char note[256];  /* first mismatch, when not correct */
} rdv_step_out;

typedef struct rdv_slot {
    _Atomic int state;
    pid_t pid;
    int rc; /* rdv_status of the failure, RDV_OK otherwise */
    char error[RDV_DETAIL_MAX + 128];
    int64_t t_end_ns;

    _Atomic int nphases;
    rdv_phase_mark phases[RDV_PHASE_LOG_MAX];

    /* the store op in flight, for the hang report and --call-watch */
    _Atomic int op_active;
    int op; /* rdv_store_op */
    int64_t op_t0_ns;
    /* of a get, wait or multi_get in flight: its caller's deadline, set
     * before op_active; 0 for every other op and for no limit */
    _Atomic int64_t op_deadline_ns;
    char op_key[RDV_EVENT_KEY_MAX];
    uint64_t nops;

    int connected; /* this rank's row of the tuple table is filled */
    /* --impl gloo: the row holds this rank's own TCP sockets, in fd
     * order, and this many there were (run/socket_scan.h) */
    int nsockets;
    rdv_step_out steps[RDV_WORKLOAD_MAX];
    rdv_context_counters counters;
    char transport[16];

    uint32_t nevents;   /* recorded in the event array */
    uint32_t ndropped;  /* ops past the event capacity */
    /* bit i: fault i of the plan took effect in this rank (its decision
     * log line was written); set by librdv-fault with atomic ORs, so a
     * rank killed by its own proc.kill has it too */
    uint64_t faults_fired;
} rdv_slot;

typedef struct rdv_result_area {
    int nranks;
    uint32_t events_cap; /* per rank; 0 = no trace recording */
    size_t map_size;
    int64_t t0_ns; /* run start, the origin of every report */
    rdv_slot *slots;
    rdv_tuple *tuples;    /* nranks * nranks: [r][p] is r's link to p */
    rdv_op_event *events; /* nranks * events_cap */
} rdv_result_area;

/* Maps a zeroed area for nranks slots (and events_cap trace events per
 * rank). Must be called before fork(). Returns 0 or -errno. */
int rdv_result_area_create(rdv_result_area *a, int nranks,
                           uint32_t events_cap);
/* Zeroes every slot for the next run of the same shape. */
void rdv_result_area_reset(rdv_result_area *a);
void rdv_result_area_destroy(rdv_result_area *a);

rdv_slot *rdv_result_area_slot(const rdv_result_area *a, int rank);
rdv_op_event *rdv_result_area_events(const rdv_result_area *a, int rank);
/* Rank's row of the tuple table: nranks entries, [own rank] stays zero. */
rdv_tuple *rdv_result_area_tuples(const rdv_result_area *a, int rank);

/* Rank side: logs entering a phase (step = -1 unless a workload step). */
void rdv_slot_phase(rdv_slot *s, int phase, int step);
/* The phase the rank is in now, or -1 before any. */
const rdv_phase_mark *rdv_slot_current_phase(const rdv_slot *s);

#endif
