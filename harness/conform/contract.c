/*
 * conform/contract.c - the clause table, and the helpers every clause
 * uses: a store scoped under a unique prefix, forked children on the
 * same store, and verdicts with evidence.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/call_bound.h"
#include "conform/clause.h"
#include "conform/clauses.h"
#include "rdv/store_ops.h"

#define SP RDV_CLAUSE_SINGLE
#define MP RDV_CLAUSE_MULTI

/* Levels: GL = what Gloo's store offers (set, get, wait, check), FL =
 * the rest of the contract. Budgets (ms) only where a correct store may
 * need more than RDV_CLAUSE_BUDGET_MS: 64 MiB through a slow gateway,
 * thousands of atomic ops from many processes. */
#define GL .level = RDV_STORE_LEVEL_GLOO
#define FL .level = RDV_STORE_LEVEL_FULL

static const rdv_clause clauses[] = {
    {"set-get", SP, "set, get, overwrite, and create-only gives RDV_EEXIST",
     rdv_clause_set_get, GL},
    {"empty-value", SP, "an empty value is stored and read back as empty",
     rdv_clause_empty_value, GL},
    {"large-value", SP, "a 64 MiB value round-trips; one byte more is "
     "RDV_EINVAL", rdv_clause_large_value, GL, .budget_ms = 180000,
     .heavy = 1},
    {"distinct-keys", SP, "keys any encoding could confuse (escapes, '/', "
     "'.', case, Unicode forms, control bytes, long shared prefixes) stay "
     "distinct entries", rdv_clause_distinct_keys, GL},
    {"odd-keys", SP, "keys with bytes, UTF-8, '/', '..', spaces, a leading "
     "'-' and 4096 bytes round-trip and list exactly", rdv_clause_odd_keys,
     FL},
    {"bad-input", SP, "NULL, empty and oversized keys are RDV_EINVAL with a "
     "detail", rdv_clause_bad_input, GL},
    {"try-get-missing", SP, "try_get and check on a missing key give "
     "RDV_ENOTFOUND", rdv_clause_try_get_missing, GL},
    {"wait-partial", SP, "wait with some keys present neither hangs nor "
     "returns early, and names the missing", rdv_clause_wait_partial, GL},
    {"timeout-accuracy", SP, "get and wait time out within timeout + 1 s; "
     "timeout 0 tries once", rdv_clause_timeout_accuracy, GL, .timed = 1},
    {"usable-after-timeout", SP, "a timed-out get leaves the store usable",
     rdv_clause_usable_after_timeout, GL},
    {"add", SP, "add accumulates, starts a missing key at 0, and rejects a "
     "non-number", rdv_clause_add, FL},
    {"compare-set", SP, "compare_set wins and loses correctly and reports "
     "the current value", rdv_clause_compare_set, FL},
    {"delete", SP, "delete removes, a deleted key times out, deleting a "
     "missing key is fine", rdv_clause_delete, FL},
    {"multi", SP, "multi_set and multi_get move 64 keys in one call",
     rdv_clause_multi, FL},
    {"list-scope", SP, "list and num_keys see only their own prefix",
     rdv_clause_list_scope, FL},
    {"eintr", SP, "signals arriving during a wait do not break it",
     rdv_clause_eintr, GL},
    /* full: Gloo's Store has no close that wakes a blocked wait */
    {"cancel-on-close", SP, "closing the store wakes a blocked get with "
     "RDV_ECANCELED", rdv_clause_cancel_on_close, FL},
    {"mp-add", MP, "add from 8 processes x 1000 (quick 300) loses no "
     "update", rdv_clause_mp_add, FL, .budget_ms = 180000},
    {"mp-compare-set", MP, "compare_set increments from 8 processes lose "
     "no update", rdv_clause_mp_compare_set, FL, .budget_ms = 180000},
    {"mp-create-only", MP, "2 to 12 processes started together race "
     "create-only sets, round after round: exactly one wins each",
     rdv_clause_mp_create_only, FL},
    {"mp-wake", MP, "a waiter is woken by another process's set",
     rdv_clause_mp_wake, GL},
    {"mp-visibility", MP, "an overwrite is seen by the next get in another "
     "process", rdv_clause_mp_visibility, GL},
    {"mp-close-leaks", MP, "processes that delete their keys and close "
     "leave no key behind", rdv_clause_mp_close_leaks, FL,
     .whole_store = 1},
    {"cleanup", SP, "delete_prefix leaves zero keys behind",
     rdv_clause_cleanup, FL},
};

const rdv_clause *rdv_contract_clauses(size_t *n)
{
    *n = sizeof clauses / sizeof clauses[0];
    return clauses;
}

const rdv_clause *rdv_contract_find(const char *name)
{
    for (size_t i = 0; i < sizeof clauses / sizeof clauses[0]; i++)
        if (strcmp(clauses[i].name, name) == 0)
            return &clauses[i];
    return NULL;
}

void rdv_contract_run(const rdv_clause *c, const rdv_clause_env *env,
                      rdv_clause_result *r)
{
    r->verdict = RDV_VERDICT_FAIL;
    snprintf(r->evidence, sizeof r->evidence,
             "clause %s returned without a verdict", c->name);
    memset(r->calls, 0, sizeof r->calls); /* no call in flight yet */
    c->run(env, r);
}

/* The evidence: the message, then the call it judges (the thread's
 * last watched call), so every failure says how long that call took. */
__attribute__((format(printf, 2, 0)))
static int fail_v(clause_ctx *c, const char *fmt, va_list ap)
{
    char *ev = c->r->evidence;
    size_t cap = sizeof c->r->evidence, n;

    vsnprintf(ev, cap, fmt, ap);
    n = strlen(ev);
    if (n + 16 < cap) {
        size_t q = clause_watch_quote(ev + n + 2, cap - n - 3);

        if (q) {
            memcpy(ev + n, " [", 2);
            memcpy(ev + n + 2 + q, "]", 2);
        }
    }
    c->r->verdict = RDV_VERDICT_FAIL;
    return 0;
}

int clause_fail(clause_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_v(c, fmt, ap);
    va_end(ap);
    return 0;
}

int clause_pass(clause_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->r->evidence, sizeof c->r->evidence, fmt, ap);
    va_end(ap);
    c->r->verdict = RDV_VERDICT_PASS;
    return 1;
}

void clause_run_scoped(const rdv_clause_env *env, rdv_clause_result *r,
                       int (*check)(clause_ctx *c))
{
    clause_ctx c;

    if (clause_begin(&c, env, r) != RDV_OK)
        return;
    check(&c);
    clause_end(&c);
}

int clause_expect(clause_ctx *c, rdv_store *s, const char *what, int rc,
                  int want)
{
    const char *detail = rdv_store_errmsg(s);

    if (rc == want) {
        clause_watch_forget();
        return 1;
    }
    /* The watch quotes the call with the detail it left (fail_v); a call
     * that never reached the store's ops (rdv refused its arguments
     * first) has only the handle's detail. */
    if (clause_watch_pending())
        return clause_fail(c, "%s: got %s, want %s", what,
                           rdv_status_name(rc), rdv_status_name(want));
    return clause_fail(c, "%s: got %s, want %s, before the call reached the "
                       "store (detail: %s)", what, rdv_status_name(rc),
                       rdv_status_name(want),
                       rc != RDV_OK && detail[0] ? detail : "none given");
}

int clause_level(const clause_ctx *c)
{
    return c->env->level ? c->env->level : rdv_store_contract_level(c->s);
}

const char *rdv_contract_level_name(int level)
{
    return level == RDV_STORE_LEVEL_FULL   ? "full"
           : level == RDV_STORE_LEVEL_GLOO ? "gloo"
                                           : "none";
}

int rdv_contract_level_parse(const char *name)
{
    return strcmp(name, "full") == 0   ? RDV_STORE_LEVEL_FULL
           : strcmp(name, "gloo") == 0 ? RDV_STORE_LEVEL_GLOO
                                       : 0;
}

/* The first bytes of a value, printable, for evidence. */
static const char *excerpt(const void *v, size_t len, char *buf, size_t cap)
{
    char raw[40];
    size_t n = len < sizeof raw - 1 ? len : sizeof raw - 1;

    memcpy(raw, v, n);
    raw[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (!raw[i])
            raw[i] = '.'; /* a NUL would end the excerpt early */
    rdv_key_printable(raw, buf, cap);
    return buf;
}

int clause_expect_value(clause_ctx *c, rdv_store *s, const char *key,
                        const void *want, size_t want_len)
{
    char k[96], got_x[200], want_x[200];
    void *v = NULL;
    size_t len = 0;
    /* The key is there: the timeout only has to cover moving the value,
     * which for 64 MiB through a gateway on a busy host takes seconds
     * (5 s, and 250 ms more per MiB expected). */
    int rc = rdv_store_get(s, key, &v, &len,
                           5000 + (int)(want_len >> 20) * 250);
    int same = rc == RDV_OK && len == want_len &&
               memcmp(v, want, len) == 0;

    rdv_key_printable(key, k, sizeof k);
    if (rc != RDV_OK)
        return clause_fail(c, "get '%s': got %s, want RDV_OK", k,
                           rdv_status_name(rc));
    if (!same) {
        clause_fail(c, "get '%s' returned %zu bytes '%s%s', want %zu bytes "
                    "'%s%s'", k, len, excerpt(v, len, got_x, sizeof got_x),
                    len > 39 ? "..." : "", want_len,
                    excerpt(want, want_len, want_x, sizeof want_x),
                    want_len > 39 ? "..." : "");
        free(v);
        return 0;
    }
    free(v);
    clause_watch_forget();
    return 1;
}

int clause_needs_processes(clause_ctx *c)
{
    if (!(rdv_store_flags(c->s) & RDV_STORE_PROCESS_LOCAL))
        return 1;
    c->r->verdict = RDV_VERDICT_SKIP;
    snprintf(c->r->evidence, sizeof c->r->evidence,
             "%s is process-local (visible to one process only); "
             "multi-process clauses apply to stores that processes share "
             "(hash:?shared=1)",
             c->env->url);
    return 0;
}

int clause_start_line(int *arrived, int n, int timeout_ms)
{
    int64_t end = rdv_now_ns() + (int64_t)timeout_ms * 1000000;
    int now = __atomic_add_fetch(arrived, 1, __ATOMIC_SEQ_CST);

    /* The last to arrive wakes the rest at once; the others sleep on the
     * shared word (a futex works across processes on a MAP_SHARED page),
     * so waiting racers do not take the CPU the late ones need to get
     * there. */
    if (now >= n) {
        syscall(SYS_futex, arrived, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        return 0;
    }
    while ((now = __atomic_load_n(arrived, __ATOMIC_ACQUIRE)) < n) {
        int64_t left = end - rdv_now_ns();
        struct timespec ts = {left / 1000000000, left % 1000000000};

        if (left <= 0)
            return -1;
        syscall(SYS_futex, arrived, FUTEX_WAIT, now, &ts, NULL, 0);
    }
    return 0;
}

int64_t clause_ms_since(int64_t start_ns)
{
    return (rdv_now_ns() - start_ns) / 1000000;
}

static rdv_store *open_scoped(clause_ctx *c, char *err, size_t errlen)
{
    rdv_store *raw, *scoped;
    int rc = rdv_store_open(c->env->url, &raw, err, errlen);

    if (rc)
        return NULL;
    rc = rdv_store_prefix_open(raw, c->prefix, &scoped);
    if (rc) {
        snprintf(err, errlen, "cannot scope the store: %s",
                 rdv_strerror(rc));
        rdv_store_close(raw);
        return NULL;
    }
    scoped = clause_watch_store(c->r, scoped);
    if (!scoped)
        snprintf(err, errlen, "out of memory for the call watch");
    return scoped;
}

int clause_begin(clause_ctx *c, const rdv_clause_env *env,
                 rdv_clause_result *r)
{
    char err[512];

    memset(c, 0, sizeof *c);
    c->env = env;
    c->r = r;
    snprintf(c->prefix, sizeof c->prefix, "rdvc.%d.%llx", (int)getpid(),
             (unsigned long long)rdv_now_ns());
    c->s = open_scoped(c, err, sizeof err);
    if (!c->s) {
        clause_fail(c, "cannot open %s: %s", env->url, err);
        return RDV_EINVAL;
    }
    return RDV_OK;
}

void clause_end(clause_ctx *c)
{
    if (!c->s)
        return;
    rdv_store_delete_prefix(c->s, "", NULL);
    clause_close(c, c->s);
    c->s = NULL;
}

rdv_store *clause_child_store(clause_ctx *c)
{
    char err[512];

    if (rdv_store_is_inherited(c->s))
        return c->s;
    return open_scoped(c, err, sizeof err);
}

void clause_close(clause_ctx *c, rdv_store *s)
{
    int slot;

    if (!s)
        return;
    /* plain: --quick stops after it blocks */
    slot = clause_watch_begin(c->r, rdv_call_plain_bound_ms(0, 1), 1,
                              "a close must not block", "close");
    rdv_store_close(s);
    clause_watch_end(c->r, slot);
}

void clause_child_done(clause_ctx *c, rdv_store *s)
{
    if (s != c->s)
        clause_close(c, s);
}

/* waitpid that retries on EINTR on purpose: a clause may be signalled. */
static pid_t rdv_waitpid(pid_t pid, int *status)
{
    pid_t r;

    do
        r = waitpid(pid, status, 0);
    while (r < 0 && errno == EINTR);
    return r;
}

pid_t clause_spawn(clause_ctx *c,
                   int (*body)(clause_ctx *c, rdv_store *s, int i, void *arg),
                   int i, void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        rdv_store *s = clause_child_store(c);
        int rc = s ? body(c, s, i, arg) : 3;

        clause_child_done(c, s);
        exit(rc); /* exit(), not _exit(): LeakSanitizer sees the child */
    }
    return pid;
}

int clause_reap(pid_t pid)
{
    int status;

    if (pid <= 0 || rdv_waitpid(pid, &status) < 0)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int clause_fork_n(clause_ctx *c, int n,
                  int (*body)(clause_ctx *c, rdv_store *s, int i, void *arg),
                  void *arg)
{
    pid_t pids[64];
    int failed = 0;

    if (n > 64)
        n = 64;
    for (int i = 0; i < n; i++)
        pids[i] = clause_spawn(c, body, i, arg);
    for (int i = 0; i < n; i++)
        failed += !clause_reap(pids[i]);
    return failed;
}
