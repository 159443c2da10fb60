/*
 * rdv/fault.h - librdv-fault: seeded, deterministic fault injection.
 *
 * A fault spec (documented in fault-injection/README.md) parses into a
 * plan. The harness parent validates the plan against the run, then each
 * forked rank builds its own per-rank instance, which
 *   - wraps the rank's store in a fault store (store.* faults),
 *   - gives the context hooks (rdv/hooks.h) for net.* faults and for
 *     proc.* faults that fire at a named phase,
 * while the parent applies server.* faults and the parts of proc.* that
 * only a parent can do (start late, SIGCONT after a stop).
 *
 * Determinism: every decision is a pure function of (seed, rank, op
 * index, fault id) through a counter-based mix; never of wall-clock time
 * or of a PRNG shared across fork. Decisions are written, one line each,
 * to the per-rank decision log when one is given, so two runs with the
 * same seed produce byte-identical logs.
 */
#ifndef RDV_FAULT_H
#define RDV_FAULT_H

#include <stdint.h>
#include <stdio.h>

#include "rdv/hooks.h"
#include "rdv/store.h"

#include "rdv/export.h"

RDV_API_BEGIN

typedef struct rdv_fault_plan rdv_fault_plan;
typedef struct rdv_fault_rank rdv_fault_rank;

/* Parses spec ("store.delay(op=get, ms=5..50, p=0.3); proc.kill(rank=3,
 * at=after-publish)"). An empty spec is a valid empty plan. On error
 * returns RDV_EINVAL and writes "line L, column C: expected ..., got
 * ..." into errbuf. */
int rdv_fault_plan_parse(const char *spec, rdv_fault_plan **out,
                         char *errbuf, size_t errlen);
void rdv_fault_plan_free(rdv_fault_plan *p);

/* Checks the plan against a run of nranks ranks (rank=7 in a 4-rank run
 * is RDV_EINVAL, naming the fault and its column). */
int rdv_fault_plan_validate(const rdv_fault_plan *p, int nranks,
                            char *errbuf, size_t errlen);

/* The plan in canonical form, for replay lines; a static-per-plan
 * string owned by p. */
const char *rdv_fault_plan_text(const rdv_fault_plan *p);

/* What the harness must expect from a run under this plan. */
typedef struct rdv_fault_expect {
    int fatal;       /* survivors must fail, naming the culprit */
    int culprit;     /* the culprit rank, or -1 when a key is the culprit */
    char key[256];   /* a key the culprit message must name, or "": the
                        literal tail of the fault's key glob, so a message
                        naming the full key contains it */
} rdv_fault_expect;

void rdv_fault_plan_expect(const rdv_fault_plan *p, uint64_t seed,
                           int nranks, rdv_fault_expect *out);

/* Parent side, before forking rank: ms to wait before forking it
 * (proc.start-late), 0 for none. */
int rdv_fault_plan_start_delay_ms(const rdv_fault_plan *p, uint64_t seed,
                                  int rank);

/* Parent side, when a rank stopped itself (proc.stop): ms until the
 * parent must send SIGCONT. */
int rdv_fault_plan_stop_ms(const rdv_fault_plan *p, uint64_t seed,
                           int rank);

/* How much longer than the store alone the plan may make one store
 * call, in ms; 0 for none (or p NULL). rdv run --call-watch adds it to
 * a call's bound, so it never blames the store for the plan's own
 * delays.
 * - timed (a get, wait or multi_get with a deadline): injected delays
 *   and stalls end at the call's deadline, and so does a client's wait
 *   on a paused or silent server; only proc.stop (the rank frozen
 *   mid-call) holds one past it: its largest ms.
 * - otherwise (set, add, ... without a timeout of their own): the
 *   largest ms of store.delay, store.stall, proc.stop, server.pause and
 *   server.blackhole, added up since they can meet on one call. -1 (no
 *   bound: leave such calls to the run's deadline) under a store.stall
 *   without ms, which lasts as long as the rank's timeout; under
 *   server.latency, which delays every chunk of a call; and under
 *   server.restart and server.reset, whose reconnects the store's own
 *   timeout_ms bounds, which the plan does not know. */
int64_t rdv_fault_plan_call_stretch_ms(const rdv_fault_plan *p, int timed);

/* Rank side, after fork. log may be NULL. */
int rdv_fault_rank_create(const rdv_fault_plan *p, uint64_t seed, int rank,
                          int nranks, FILE *log, rdv_fault_rank **out);
void rdv_fault_rank_destroy(rdv_fault_rank *fr);

/* Wraps inner in the fault store; the result owns inner. With no store
 * faults for this rank in the plan, *out = inner. fr must outlive the
 * wrapped store (close the store first). */
int rdv_fault_rank_wrap_store(rdv_fault_rank *fr, rdv_store *inner,
                              rdv_store **out);

/* Hooks for rdv_context_options.hooks. `chain` (may be NULL) is called
 * first, so the harness can still observe phases. Valid until the rank
 * instance is destroyed. */
const rdv_hooks *rdv_fault_rank_hooks(rdv_fault_rank *fr,
                                      const rdv_hooks *chain);

/* ---- Additions (additive refinements of the API above) ---------------- */

/* rdv_fault_plan_expect() judges time-dependent faults (proc.stop,
 * proc.start-late, store.stale, server.pause, server.blackhole) against
 * the context's default timeout, 30000 ms; this variant takes the run's
 * timeout. A fatal fault sets culprit to its rank when it names exactly
 * one (a lost or stale record key ".../addr/<r>" names rank r), and key
 * to the literal tail of its key glob, which a message naming the full
 * key contains: a survivor's error must name the culprit rank or, when
 * key is set, may name the key instead. With several fatal faults the
 * first one written is the culprit. Faults that only fire on a condition
 * (nth=, p=) are judged as if they fire; after a run, judge them by what
 * fired with rdv_fault_plan_expect_fired().
 * The fatal/non-fatal judgement of each kind is in `rdv faults --list`
 * and fault-injection/README.md. */
void rdv_fault_plan_expect_timeout(const rdv_fault_plan *p, uint64_t seed,
                                   int nranks, int timeout_ms,
                                   rdv_fault_expect *out);

/* The timeout of the context whose rendezvous this rank's store serves
 * (rdv_context_options.timeout_ms; negative: none). While that
 * rendezvous runs (from RDV_PHASE_BEFORE_PUBLISH to RDV_PHASE_CONNECTED,
 * seen through the hooks), a store call without a deadline of its own
 * (set, add, compare_set...) gets the rendezvous's: an injected delay or
 * stall never runs past it, and a delay that reaches it ends the call
 * with RDV_ETIMEDOUT at the deadline. Without this call such delays run
 * in full. */
void rdv_fault_rank_set_timeout(rdv_fault_rank *fr, int timeout_ms);

/* Judging by what fired: bit i of *sink (faults numbered from 0 in plan
 * order, the first 64) is set once fault i has taken effect in this rank
 * -- exactly when it writes a line to the decision log, whether or not a
 * log was given. Faults fired before this call are copied in at once.
 * The bits are set with atomic ORs, so sink may be in memory shared with
 * a parent that reads it after the rank ended (or was killed: a
 * proc.kill marks itself before it raises). sink may be NULL (stop
 * publishing); it must outlive fr. */
void rdv_fault_rank_publish_fired(rdv_fault_rank *fr, uint64_t *sink);

/* rdv_fault_plan_expect_timeout() for a run that is over: a fault a rank
 * decides (store.*, net.*, proc.*) that fired in no rank -- its bit is
 * clear in fired, the OR of every rank's mask -- cannot have made the run
 * fail, so it is left out of the judgement (store.error(p=0), nth= past
 * the rank's last matching call). Server faults, which the parent
 * carries out, and faults past the 64th are judged as written. */
void rdv_fault_plan_expect_fired(const rdv_fault_plan *p, uint64_t seed,
                                 int nranks, int timeout_ms, uint64_t fired,
                                 rdv_fault_expect *out);

/* Number of faults in the plan. */
size_t rdv_fault_plan_count(const rdv_fault_plan *p);

/* Server-side faults, which the harness parent applies during the run
 * (redis only; the proxy ones need rdv-proxy between ranks and redis). */
typedef enum rdv_fault_server_kind {
    RDV_FAULT_SERVER_PAUSE,     /* CLIENT PAUSE ms: rdv_fault_redis_pause */
    RDV_FAULT_SERVER_RESTART,   /* kill and restart redis (the harness) */
    RDV_FAULT_SERVER_LATENCY,   /* proxy "latency ms" from the start */
    RDV_FAULT_SERVER_RESET,     /* proxy "reset" */
    RDV_FAULT_SERVER_BLACKHOLE, /* proxy "blackhole", "pass" after ms */
} rdv_fault_server_kind;

typedef struct rdv_fault_server_event {
    rdv_fault_server_kind kind;
    int after_ms; /* when, counted from the first fork */
    int ms;       /* how long (pause, blackhole) or how much (latency) */
} rdv_fault_server_event;

/* Fills up to max events (in plan order) and returns how many the plan
 * holds; events may be NULL to count. */
size_t rdv_fault_plan_server_events(const rdv_fault_plan *p, uint64_t seed,
                                    rdv_fault_server_event *events,
                                    size_t max);

/* What a run must offer for a plan to mean anything: a harness that
 * cannot provide a need must refuse or skip the plan (and say so), never
 * run it as a silent no-op. Each fault kind's needs are in the
 * catalogue (`rdv faults --list`). */
enum {
    RDV_FAULT_NEEDS_REDIS = 1 << 0,   /* server.*: a redis store */
    RDV_FAULT_NEEDS_PROXY = 1 << 1,   /* server.latency / reset /
                                         blackhole: rdv-proxy in front of
                                         a redis:// (TCP) server */
    RDV_FAULT_NEEDS_RESTART = 1 << 2, /* server.restart: a way to restart
                                         the server, which the harness
                                         does not own */
};

/* The plan's needs: the RDV_FAULT_NEEDS_* of every fault in it. */
unsigned rdv_fault_plan_needs(const rdv_fault_plan *p);

/* Who applies a fault, by family: a harness running an implementation
 * that offers only some of these seams (Gloo never calls librdv's
 * transport hooks) refuses a plan with the others. */
enum {
    RDV_FAULT_BY_STORE = 1 << 0,  /* store.*: the fault store */
    RDV_FAULT_BY_NET = 1 << 1,    /* net.*: librdv's transport hooks */
    RDV_FAULT_BY_PROC = 1 << 2,   /* proc.*: the rank's phases, the parent */
    RDV_FAULT_BY_SERVER = 1 << 3, /* server.*: the parent, on the server */
};

/* The RDV_FAULT_BY_* of every fault in the plan; 0 for NULL. */
unsigned rdv_fault_plan_families(const rdv_fault_plan *p);

/* Writes the catalogue (every fault, its parameters, whether it is fatal)
 * to out, for `rdv faults --list`. Returns RDV_OK or RDV_EIO. */
int rdv_fault_catalogue_write(FILE *out);

/* One fault of the catalogue as data, for tools that print it their own
 * way (`rdv faults --list --json`). Every string is static. */
#define RDV_FAULT_CATALOGUE_MAX_PARAMS 24
typedef struct rdv_fault_catalogue_info {
    const char *name;  /* "store.delay" */
    const char *help;  /* what it does */
    const char *fatal; /* "no", "yes" or "depends" */
    const char *why;   /* why it is (not) fatal, or when; may be NULL */
    unsigned needs;    /* RDV_FAULT_NEEDS_* */
    size_t nparams;
    struct {
        const char *name, *help;
        int required;
    } params[RDV_FAULT_CATALOGUE_MAX_PARAMS];
} rdv_fault_catalogue_info;

/* How many faults the catalogue holds, and the i-th of them (RDV_OK, or
 * RDV_EINVAL past the end). */
size_t rdv_fault_catalogue_count(void);
int rdv_fault_catalogue_get(size_t i, rdv_fault_catalogue_info *out);

/* Redis CLIENT PAUSE for ms on the server a store URL names, logged in
 * as the URL says (every form the redis store takes: redis://[[user]:
 * password@]host[:port][/db][?user=U&password=P], port 6379 by default,
 * [::1] for IPv6, or unix:///path[?user=U&password=P]; "AUTH user
 * password" with a user, "AUTH password" without). Returns RDV_OK,
 * RDV_EINVAL (not a redis URL), RDV_ECONN or RDV_EIO (the server refused
 * AUTH or the pause), with a message in errbuf that names the URL with
 * its password masked. Safe in any process; keeps no connection open. */
int rdv_fault_redis_pause(const char *url, int ms, char *errbuf,
                          size_t errlen);

/* The representative scenarios `rdv matrix --faults all` runs: at least
 * one per fault kind, each written for runs of 2 ranks or more (the
 * faulty rank is 1, its peer 0) under the default workload with a
 * timeout of RDV_FAULT_SCENARIO_TIMEOUT_MS or more (the matrix's timeout
 * for them unless --timeout says otherwise). What a scenario needs is
 * what its parsed spec needs (rdv_fault_plan_needs). */
#define RDV_FAULT_SCENARIO_TIMEOUT_MS 2000

typedef struct rdv_fault_scenario {
    const char *name; /* short column name, e.g. "kill@connected" */
    const char *spec;
} rdv_fault_scenario;

/* The table and its length; static, read-only. */
size_t rdv_fault_scenarios(const rdv_fault_scenario **out);

/* ---- Parent side: the server-fault driver --------------------------- */

/* Applies a plan's server.* events during a run against a redis store,
 * so a harness needs only three calls: start before forking the ranks,
 * poll from its supervision loop, stop after reaping them.
 *
 * When the plan needs the proxy (server.latency / reset / blackhole), start
 * forks a child process that runs the proxy in front of the redis
 * server (redis://host[:port] URLs only, port 6379 by default, [::1]
 * allowed) and writes into rank_url the URL the ranks must open instead
 * (same user, password, db and options; 127.0.0.1 and the proxy's port);
 * otherwise rank_url is url. start fails with rdv_fault_server_check's
 * RDV_EINVAL when the URL cannot take the plan's events. The proxy child
 * serves until stop (or until this process dies: it stops at the end of
 * its command pipe). Call start before the process makes any thread: it
 * forks.
 *
 * poll fires every event whose time (ms since the first fork) has come:
 * CLIENT PAUSE on the real server, proxy commands. server.restart is the
 * caller's job (it owns the redis process): poll sets *restart_due to 1
 * once when it is due. *next_ms gets the ms until the next event, or -1
 * when none is left. Returns RDV_OK, or the failing event's status with a
 * message in err (the other events still fire on later polls).
 * stop ends the proxy child (by its pid) and frees the driver; NULL is
 * allowed. None of these is thread-safe. */
typedef struct rdv_fault_server rdv_fault_server;

/* RDV_OK when the driver can apply p's server events to the store at
 * url: server.pause needs a redis:// or unix:// URL, the proxy events a
 * redis://host[:port] one (server.restart is the caller's). RDV_EINVAL
 * otherwise, with a message naming the fault and the URL (password
 * masked): a usage error, known before anything runs. No I/O. */
int rdv_fault_server_check(const rdv_fault_plan *p, const char *url,
                           char *errbuf, size_t errlen);
int rdv_fault_server_start(const rdv_fault_plan *p, uint64_t seed,
                           const char *url, char *rank_url,
                           size_t rank_url_len, rdv_fault_server **out,
                           char *errbuf, size_t errlen);
/* Where the server is when the store URL does not say (any store: etcd,
 * ZooKeeper, tcp://, a plugin), so the driver's faults apply to it.
 * Either field may be NULL: then the URL must be a redis one, as above.
 *   pid    "PID", or the path of a file holding it, read again at each
 *          pause (a restarted server has a new PID). server.pause then
 *          sends the process SIGSTOP and, ms later, SIGCONT (stop sends
 *          SIGCONT too, so no run leaves it stopped); for any store,
 *          redis included.
 *   proxy  "[LISTEN=]HOST:PORT": the proxy listens on 127.0.0.1:LISTEN
 *          (0 or absent: a free port) and forwards to HOST:PORT, a
 *          loopback address. The ranks' URL is the store URL with
 *          HOST:PORT replaced by the proxy's address wherever it stands
 *          as an address: the URL's own host and port, or an item of an
 *          option's value (endpoints=A,B; hosts=A; url=etcd://A,B). A
 *          URL that names HOST:PORT nowhere is RDV_EINVAL.
 * The _at calls take it; the calls above are the _at calls with both
 * fields NULL. */
typedef struct rdv_fault_server_where {
    const char *pid;
    const char *proxy;
} rdv_fault_server_where;

int rdv_fault_server_check_at(const rdv_fault_plan *p, const char *url,
                              const rdv_fault_server_where *where,
                              char *errbuf, size_t errlen);
int rdv_fault_server_start_at(const rdv_fault_plan *p, uint64_t seed,
                              const char *url,
                              const rdv_fault_server_where *where,
                              char *rank_url, size_t rank_url_len,
                              rdv_fault_server **out, char *errbuf,
                              size_t errlen);
int rdv_fault_server_poll(rdv_fault_server *s, int64_t elapsed_ms,
                          int *next_ms, int *restart_due, char *errbuf,
                          size_t errlen);
void rdv_fault_server_stop(rdv_fault_server *s);

RDV_API_END
#endif
