/*
 * fault_internal.h - what the librdv-fault files share: the catalogue of
 * fault kinds and their parameters, the parsed plan, and the decision mix.
 *
 * A plan is a flat array of faults. Each fault keeps the parameters it was
 * given (with the column each was written at, so validation can point at
 * them) and its id, its index in the plan, which is the "fault id" every
 * decision mixes in.
 */
#ifndef RDV_FAULT_INTERNAL_H
#define RDV_FAULT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

#include "rdv/fault.h"
#include "rdv/store_ops.h"
#include "rdv/url.h"

/* Kinds: the catalogue (spec/catalogue.c) describes each, with its
 * family and fatality as fields. The order of this enum means nothing;
 * read a kind's facts from rdv_fault_kinds[], never from its rank here. */
typedef enum rdv_fault_kind {
    RDV_FK_STORE_DELAY,
    RDV_FK_STORE_ERROR,
    RDV_FK_STORE_STALL,
    RDV_FK_STORE_LOSE,
    RDV_FK_STORE_STALE,
    RDV_FK_NET_REFUSE,
    RDV_FK_NET_DELAY,
    RDV_FK_NET_RESET,
    RDV_FK_NET_SHORT,
    RDV_FK_NET_SLOW,
    RDV_FK_PROC_KILL,
    RDV_FK_PROC_STOP,
    RDV_FK_PROC_START_LATE,
    RDV_FK_SERVER_PAUSE,
    RDV_FK_SERVER_RESTART,
    RDV_FK_SERVER_LATENCY,
    RDV_FK_SERVER_RESET,
    RDV_FK_SERVER_BLACKHOLE,
    RDV_FK_COUNT
} rdv_fault_kind;

/* Parameters, shared across kinds (a kind lists the ones it takes). */
typedef enum rdv_fault_param {
    RDV_FP_RANK,  /* rank set: 1|3|5..7 */
    RDV_FP_PEER,  /* rank set */
    RDV_FP_OP,    /* store op set: get|wait */
    RDV_FP_KEY,   /* fnmatch glob */
    RDV_FP_MS,    /* ms or lo..hi */
    RDV_FP_P,     /* probability 0..1 */
    RDV_FP_NTH,   /* 1-based call number */
    RDV_FP_ONCE,  /* flag: once=1 (same as nth=1) */
    RDV_FP_CODE,  /* status name: EIO, ECONN, ... */
    RDV_FP_AT,    /* phase name */
    RDV_FP_AFTER, /* bytes (net.reset) or ms (server.*) */
    RDV_FP_MAX,   /* bytes per call (net.short) */
    RDV_FP_BPS,   /* bytes per second (net.slow) */
    RDV_FP_TIMES, /* count (net.refuse) */
    RDV_FP_DIR,   /* send|recv */
    RDV_FP_COUNT
} rdv_fault_param;

typedef enum rdv_fault_type {
    RDV_FT_RANKS,
    RDV_FT_OPS,
    RDV_FT_GLOB,
    RDV_FT_RANGE, /* non-negative integer or lo..hi */
    RDV_FT_INT,   /* non-negative integer */
    RDV_FT_PROB,
    RDV_FT_CODE,
    RDV_FT_PHASE,
    RDV_FT_DIRS,
} rdv_fault_type;

typedef struct rdv_fault_param_info {
    const char *name;
    rdv_fault_type type;
    const char *help;
} rdv_fault_param_info;

enum { RDV_FAULT_REQ = 1, RDV_FAULT_OPT = 2 };

/* Who applies a fault. */
typedef enum rdv_fault_family {
    RDV_FF_STORE,  /* the fault store around a rank's store */
    RDV_FF_NET,    /* the rank's transport hooks */
    RDV_FF_PROC,   /* the rank at a phase, or the parent around it */
    RDV_FF_SERVER, /* the parent, on the store's server or a proxy */
} rdv_fault_family;

/* Whether a fault makes the run fail (what rdv_fault_plan_expect says). */
typedef enum rdv_fault_fatality {
    RDV_FATAL_NO,
    RDV_FATAL_YES,
    RDV_FATAL_DEPENDS, /* on its parameters and the run's timeout: plan.c
                          has each such kind's rule */
} rdv_fault_fatality;

typedef struct rdv_fault_kind_info {
    const char *name;   /* "store.delay" */
    rdv_fault_family family;
    rdv_fault_fatality fatality;
    unsigned needs;     /* RDV_FAULT_NEEDS_*: what a run must offer */
    const char *why;    /* why it is (not) fatal, or when; may be NULL */
    const char *help;
    unsigned char params[RDV_FP_COUNT]; /* 0, RDV_FAULT_REQ or _OPT */
} rdv_fault_kind_info;

extern const rdv_fault_param_info rdv_fault_params[RDV_FP_COUNT];
extern const rdv_fault_kind_info rdv_fault_kinds[RDV_FK_COUNT];

/* A set of store ops (op=): bit RDV_FOP(op) for each rdv_store_op. */
#define RDV_FOP(op) (1u << (op))
#define RDV_FOP_ALL ((1u << RDV_STORE_OP_COUNT) - 1)
/* The reads: what store.stale hits, and the stalls a rendezvous rides
 * out. */
#define RDV_FOP_READS                                                     \
    (RDV_FOP(RDV_STORE_OP_GET) | RDV_FOP(RDV_STORE_OP_WAIT) |             \
     RDV_FOP(RDV_STORE_OP_MULTI_GET))

typedef struct rdv_fault_span {
    int64_t lo, hi;
} rdv_fault_span;

#define RDV_FAULT_SPANS 8 /* rank=1|3|5..7 keeps at most this many */
/* The largest ms= a spec takes: one day, far beyond any timeout, and
 * well inside the int milliseconds the effects wait with. */
#define RDV_FAULT_MS_MAX 86400000
#define RDV_FAULT_MS_MAX_TEXT "86400000"

typedef struct rdv_fault {
    int id; /* index in the plan */
    rdv_fault_kind kind;
    int line, col; /* where the fault name starts */
    unsigned char given[RDV_FP_COUNT];
    int pline[RDV_FP_COUNT]; /* where each given parameter's value is */
    int pcol[RDV_FP_COUNT];
    rdv_fault_span ranks[RDV_FAULT_SPANS];
    size_t nranks; /* 0: every rank */
    rdv_fault_span peers[RDV_FAULT_SPANS];
    size_t npeers; /* 0: every peer */
    unsigned ops;  /* RDV_FOP bits; 0: the kind's default */
    char key[256]; /* "" matches every key */
    rdv_fault_span ms;
    double p;      /* 1 unless given */
    int64_t nth;   /* 0: not given */
    int code;
    int at; /* rdv_phase */
    int64_t after, max, bps, times;
    unsigned dirs; /* bit 0 send, bit 1 recv; 0 = both */
    char text[512]; /* canonical form */
} rdv_fault;

/* The catalogue entry of f's kind. */
static inline const rdv_fault_kind_info *rdv_fault_info(const rdv_fault *f)
{
    return &rdv_fault_kinds[f->kind];
}

struct rdv_fault_plan {
    rdv_fault *faults;
    size_t n;
    char *text; /* canonical form of the whole plan */
};

/* Salts: which draw of a decision. */
enum { RDV_SALT_FIRE, RDV_SALT_MS, RDV_SALT_PARENT };

/* Decision mix: a pure function of its arguments (splitmix64 steps).
 * salt separates independent draws of one decision (fire? how long?). */
uint64_t rdv_fault_mix(uint64_t seed, int rank, uint64_t op_index,
                       int fault_id, unsigned salt);
/* The mix as a uniform double in [0, 1). */
double rdv_fault_unit(uint64_t seed, int rank, uint64_t op_index,
                      int fault_id, unsigned salt);
/* A value of span, drawn by the mix. */
int64_t rdv_fault_pick(const rdv_fault_span *s, uint64_t seed, int rank,
                       uint64_t op_index, int fault_id, unsigned salt);

/* 1 when rank is in the fault's rank set (no rank= means every rank). */
int rdv_fault_has_rank(const rdv_fault *f, int rank);
/* 1 when peer is in the fault's peer set (no peer= means every peer). */
int rdv_fault_has_peer(const rdv_fault *f, int peer);
int rdv_fault_span_has(const rdv_fault_span *s, size_t n, int64_t v);

/* The per-rank instance, shared by runtime/rank.c (hooks) and runtime/fault_store.c. */
struct rdv_fault_rank {
    rdv_fault *faults; /* a copy: the plan may be freed after create */
    size_t n;
    uint64_t seed;
    int rank, nranks;
    FILE *log;
    pthread_mutex_t lock;     /* counters: a store may be shared by threads */
    uint64_t *calls;          /* per fault: matching store calls so far */
    uint64_t *io_calls;       /* per fault, peer, direction */
    unsigned char *noted;     /* per fault, peer, direction: logged once */
    unsigned char *fired;     /* per fault: proc.* fired */
    int announced;            /* per-connection rules logged */
    uint64_t took;            /* bit id: fault id wrote a decision line */
    int timeout_ms;           /* the rendezvous's, or -1: not known */
    int64_t rdv_deadline;     /* ns, while a rendezvous runs; else
                               * RDV_DEADLINE_NONE (atomic: the store may
                               * be used from other threads) */
    uint64_t *took_sink;      /* where took is also published, or NULL */
    rdv_hooks hooks;
    const rdv_hooks *chain;
};

/* Writes one decision line "rank R: #F kind: ..." to the rank's log, if
 * any, and flushes it (a rank may kill itself right after). Either way
 * it marks the fault as having taken effect in this rank (see
 * rdv_fault_rank_publish_fired): the log line and the mark are one
 * event, so what is judged is what the log shows. */
void rdv_fault_log(rdv_fault_rank *fr, const rdv_fault *f, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));

/* The deadline the running rendezvous gives a store call that has none
 * of its own (set, add...), or RDV_DEADLINE_NONE. */
int64_t rdv_fault_rank_call_deadline(const rdv_fault_rank *fr);

/* The len bytes at s as a non-negative decimal number of at most 15
 * digits: 0 with *out, or -1 (empty, a non-digit, too long). The one
 * number reader of librdv-fault: spec values and proxy commands. */
int rdv_fault_number(const char *s, size_t len, int64_t *out);

/* Parses a status name ("EIO" or "RDV_EIO"); 0 when unknown. */
int rdv_fault_code_parse(const char *s, size_t len);

/* ---- Server targets (server/target.c): the server a store URL names -- */

/* Parses url into *u (the caller frees it with rdv_url_free) when it
 * names a redis server: redis://host[:port] (port default 6379) or
 * unix:///path, with *user and *password (both may be NULL; they belong
 * to u) from the URL's login. RDV_EINVAL with a message naming the URL,
 * password masked, otherwise; then u holds nothing. */
int rdv_fault_redis_target(const char *url, rdv_url *u, const char **user,
                           const char **password, char *errbuf,
                           size_t errlen);
/* Where the fault proxy in front of the server at url connects: host
 * (brackets removed) and port (6379 when the URL gives none). RDV_EINVAL
 * naming the URL (masked) unless it is redis://host[:port]. */
int rdv_fault_proxy_target(const char *url, char *host, size_t hostcap,
                           int *port, char *errbuf, size_t errlen);
/* The URL the ranks open instead of url when the proxy listens on
 * 127.0.0.1:proxy_port: url with only its host and port replaced (user,
 * password, db and options kept). RDV_EINVAL as above, or when it does
 * not fit in cap. */
int rdv_fault_proxy_url(const char *url, int proxy_port, char *out,
                        size_t cap, char *errbuf, size_t errlen);

/* ---- Servers the user names (server/where.c) ------------------------ */

/* The PID spec names ("PID", or a file holding it, read now): RDV_OK
 * with *pid; RDV_EINVAL (not a PID, no such file) or RDV_ECONN (no such
 * process), with a message naming the spec. */
int rdv_fault_server_pid_read(const char *spec, pid_t *pid, char *errbuf,
                              size_t errlen);
/* Parses a proxy spec "[LISTEN=]HOST:PORT" ([::1] allowed): RDV_OK, or
 * RDV_EINVAL with a message saying the form. */
int rdv_fault_proxy_where(const char *spec, int *listen_port, char *host,
                          size_t hostcap, int *port, char *errbuf,
                          size_t errlen);
/* url with host:port replaced by 127.0.0.1:proxy_port wherever it stands
 * as an address (rdv_fault_server_where), into out. RDV_EINVAL when url
 * names it nowhere or the result does not fit; RDV_ENOMEM. */
int rdv_fault_proxy_where_url(const char *url, const char *host, int port,
                              int proxy_port, char *out, size_t cap,
                              char *errbuf, size_t errlen);

#endif
