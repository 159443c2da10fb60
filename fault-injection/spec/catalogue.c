/*
 * spec/catalogue.c - the fault catalogue: every kind, its family, the
 * parameters it takes, when it is fatal and what a run needs to host it.
 * The parser, the planner (plan.c), the fault store, `rdv faults --list`
 * and the README all read this one table, so the language, what it
 * means and its documentation cannot drift apart.
 */
#include <string.h>

#include "fault_internal.h"

#define R RDV_FAULT_REQ
#define O RDV_FAULT_OPT

const rdv_fault_param_info rdv_fault_params[RDV_FP_COUNT] = {
    [RDV_FP_RANK] = {"rank", RDV_FT_RANKS,
                     "ranks it applies to: 3, 1|3, 0..2 (default: all; "
                     "proc.* need it)"},
    [RDV_FP_PEER] = {"peer", RDV_FT_RANKS,
                     "peer ranks whose connection it hits (default: all)"},
    [RDV_FP_OP] = {"op", RDV_FT_OPS,
                   "store ops: set|get|wait|add|compare_set|delete|list|"
                   "multi_get|multi_set|num_keys|delete_prefix (cas is "
                   "compare_set)"},
    [RDV_FP_KEY] = {"key", RDV_FT_GLOB,
                    "fnmatch glob on the key, quoted if it holds , | ) ; "
                    "(default: every key)"},
    [RDV_FP_MS] = {"ms", RDV_FT_RANGE, "milliseconds, N or LO..HI"},
    [RDV_FP_P] = {"p", RDV_FT_PROB, "probability per call, 0..1"},
    [RDV_FP_NTH] = {"nth", RDV_FT_INT, "only the nth matching call (1-based)"},
    [RDV_FP_ONCE] = {"once", RDV_FT_INT,
                     "once=1: only the first matching call"},
    [RDV_FP_CODE] = {"code", RDV_FT_CODE,
                     "status returned: EIO, ECONN, ETIMEDOUT, ... "
                     "(default EIO)"},
    [RDV_FP_AT] = {"at", RDV_FT_PHASE,
                   "phase: before-publish|after-publish|connecting|connected|"
                   "in-collective"},
    [RDV_FP_AFTER] = {"after", RDV_FT_RANGE,
                      "net.reset: bytes moved first; server.*: ms after "
                      "start"},
    [RDV_FP_MAX] = {"max", RDV_FT_RANGE, "at most this many bytes per call"},
    [RDV_FP_BPS] = {"bps", RDV_FT_INT, "bytes per second cap"},
    [RDV_FP_TIMES] = {"times", RDV_FT_INT, "how many attempts are refused"},
    [RDV_FP_DIR] = {"dir", RDV_FT_DIRS, "send|recv (default: both)"},
};

/* Selectors for the store faults; a kind's default op set, when op= is
 * not given, is the fault store's (kind_ops() in runtime/fault_store.c). */
#define STORE_SEL                                                         \
    [RDV_FP_RANK] = O, [RDV_FP_OP] = O, [RDV_FP_KEY] = O
#define WHICH_CALL [RDV_FP_NTH] = O, [RDV_FP_ONCE] = O, [RDV_FP_P] = O
#define NET_SEL [RDV_FP_RANK] = O, [RDV_FP_PEER] = O

#define STORE RDV_FF_STORE
#define NET RDV_FF_NET
#define PROC RDV_FF_PROC
#define SERVER RDV_FF_SERVER
#define NO RDV_FATAL_NO
#define YES RDV_FATAL_YES
#define DEPENDS RDV_FATAL_DEPENDS
#define REDIS RDV_FAULT_NEEDS_REDIS
#define PROXY (RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_PROXY)
#define RESTART (RDV_FAULT_NEEDS_REDIS | RDV_FAULT_NEEDS_RESTART)

/* name, family, fatality, needs, why (not) fatal, help, parameters */
const rdv_fault_kind_info rdv_fault_kinds[RDV_FK_COUNT] = {
    [RDV_FK_STORE_DELAY] = {"store.delay", STORE, DEPENDS, 0,
        "when ms reaches the timeout: a delayed call ends at the "
        "rendezvous deadline with RDV_ETIMEDOUT",
        "delays matching store calls by ms (a range is drawn per call)",
        {STORE_SEL, [RDV_FP_MS] = R, [RDV_FP_P] = O}},
    [RDV_FK_STORE_ERROR] = {"store.error", STORE, YES, 0,
        "rendezvous does not retry store errors; the culprit is the rank "
        "whose call failed",
        "the matching call fails with code instead of reaching the store",
        {STORE_SEL, WHICH_CALL, [RDV_FP_CODE] = O}},
    [RDV_FK_STORE_STALL] = {"store.stall", STORE, DEPENDS, 0,
        "unless it is one stalled read (op=get|wait|multi_get with nth or "
        "once), which the rendezvous reads again; else the call ends in "
        "RDV_ETIMEDOUT naming the key",
        "the call hangs for ms (default: until its deadline), then times out",
        {STORE_SEL, WHICH_CALL, [RDV_FP_MS] = O}},
    [RDV_FK_STORE_LOSE] = {"store.lose", STORE, YES, 0,
        "a broken store; survivors must name the lost key or its rank",
        "a write (default op=set|multi_set) returns OK but is dropped",
        {STORE_SEL, WHICH_CALL}},
    [RDV_FK_STORE_STALE] = {"store.stale", STORE, DEPENDS, 0,
        "unless ms is below the timeout: a lagging replica",
        "a read (default op=get|wait|multi_get) sees the key's previous "
        "value, or sees it absent until ms after its first read (default: "
        "never)",
        {STORE_SEL, WHICH_CALL, [RDV_FP_MS] = O}},
    [RDV_FK_NET_REFUSE] = {"net.refuse", NET, NO, 0, "refusals are retried",
        "the first `times` connect attempts (default 3) are refused",
        {NET_SEL, [RDV_FP_TIMES] = O}},
    [RDV_FK_NET_DELAY] = {"net.delay", NET, NO, 0, NULL,
        "the first connect attempt to each peer waits ms",
        {NET_SEL, [RDV_FP_MS] = R}},
    [RDV_FK_NET_RESET] = {"net.reset", NET, YES, 0,
        "no reconnects; the culprit is the resetting rank",
        "the connection is reset after `after` bytes in a direction",
        {NET_SEL, [RDV_FP_AFTER] = R, [RDV_FP_DIR] = O}},
    [RDV_FK_NET_SHORT] = {"net.short", NET, NO, 0,
        "short I/O is resubmitted",
        "each send/recv moves at most `max` bytes",
        {NET_SEL, [RDV_FP_MAX] = R, [RDV_FP_P] = O, [RDV_FP_DIR] = O}},
    [RDV_FK_NET_SLOW] = {"net.slow", NET, NO, 0, NULL,
        "a slow link: transfers are held back to bps bytes per second",
        {NET_SEL, [RDV_FP_BPS] = R, [RDV_FP_DIR] = O}},
    [RDV_FK_PROC_KILL] = {"proc.kill", PROC, YES, 0,
        "the culprit is the killed rank",
        "the rank raises SIGKILL on itself when it enters phase `at`",
        {[RDV_FP_RANK] = R, [RDV_FP_AT] = R}},
    [RDV_FK_PROC_STOP] = {"proc.stop", PROC, DEPENDS, 0,
        "when ms >= the timeout",
        "the rank stops itself (SIGSTOP) at phase `at`; the parent sends "
        "SIGCONT after ms",
        {[RDV_FP_RANK] = R, [RDV_FP_AT] = R, [RDV_FP_MS] = R}},
    [RDV_FK_PROC_START_LATE] = {"proc.start-late", PROC, DEPENDS, 0,
        "when ms >= the timeout",
        "the parent forks the rank ms late",
        {[RDV_FP_RANK] = R, [RDV_FP_MS] = R}},
    [RDV_FK_SERVER_PAUSE] = {"server.pause", SERVER, DEPENDS, REDIS,
        "when ms >= the timeout",
        "redis CLIENT PAUSE for ms, `after` ms into the run (redis only)",
        {[RDV_FP_AFTER] = O, [RDV_FP_MS] = R}},
    [RDV_FK_SERVER_RESTART] = {"server.restart", SERVER, NO, RESTART,
        "ranks must republish records the restart lost",
        "redis is killed and restarted `after` ms into the run (redis only)",
        {[RDV_FP_AFTER] = O}},
    [RDV_FK_SERVER_LATENCY] = {"server.latency", SERVER, NO, PROXY, NULL,
        "the proxy in front of the server delays every chunk by ms",
        {[RDV_FP_MS] = R}},
    [RDV_FK_SERVER_RESET] = {"server.reset", SERVER, NO, PROXY,
        "the store reconnects",
        "the proxy resets every open connection `after` ms into the run",
        {[RDV_FP_AFTER] = O}},
    [RDV_FK_SERVER_BLACKHOLE] = {"server.blackhole", SERVER, DEPENDS, PROXY,
        "when ms >= the timeout",
        "the proxy holds all traffic for ms, `after` ms into the run",
        {[RDV_FP_AFTER] = O, [RDV_FP_MS] = R}},
};

int rdv_fault_code_parse(const char *s, size_t len)
{
    static const struct {
        const char *name;
        int code;
    } codes[] = {
#define RDV_FAULT_CODE(name, value, text) {#name, value},
        RDV_STATUS_MAP(RDV_FAULT_CODE)
#undef RDV_FAULT_CODE
    };

    if (len > 4 && !strncmp(s, "RDV_", 4)) {
        s += 4;
        len -= 4;
    }
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code < 0 && strlen(codes[i].name) == len &&
            !strncmp(codes[i].name, s, len))
            return codes[i].code;
    return 0;
}
