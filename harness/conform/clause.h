/*
 * conform/clause.h - what the clause files share: a scoped store per
 * clause, verdict helpers, and forked children that use the same store.
 */
#ifndef RDV_CONFORM_CLAUSE_H
#define RDV_CONFORM_CLAUSE_H

#include <stdint.h>
#include <sys/types.h>

#include "conform/contract.h"
#include "rdv/store.h"

typedef struct clause_ctx {
    const rdv_clause_env *env;
    rdv_clause_result *r;
    rdv_store *s;     /* env->url scoped under `prefix` */
    char prefix[64];  /* unique to this clause run */
} clause_ctx;

/* Opens env->url scoped to a fresh prefix. On failure records the open
 * error as the clause's failure and returns RDV_* != 0. */
int clause_begin(clause_ctx *c, const rdv_clause_env *env,
                 rdv_clause_result *r);
/* Removes the clause's keys and closes the store. */
void clause_end(clause_ctx *c);

/* In a forked child: the store to use, the inherited one for
 * hash:?shared=1, otherwise a new handle on the same URL and prefix. */
rdv_store *clause_child_store(clause_ctx *c);
void clause_child_done(clause_ctx *c, rdv_store *s);
/* Closes s, watched: a close must not block either. */
void clause_close(clause_ctx *c, rdv_store *s);

/* Forks one child running body(c, s, i, arg) on the clause's store; its
 * exit code is body's result (0 = success). clause_reap waits for it and
 * returns 1 when it exited 0. */
pid_t clause_spawn(clause_ctx *c,
                   int (*body)(clause_ctx *c, rdv_store *s, int i, void *arg),
                   int i, void *arg);
int clause_reap(pid_t pid);

/* Forks n children running body(c, i, arg); body returns 0 on success.
 * Waits for all. Returns how many failed (non-zero exit or a signal). */
int clause_fork_n(clause_ctx *c, int n,
                  int (*body)(clause_ctx *c, rdv_store *s, int i, void *arg),
                  void *arg);

/* A start line for racing processes, in memory they share: each call
 * counts one arrival at *arrived and sleeps until n have arrived, when
 * the last one wakes them all, so the racers fire together instead of
 * as fork() staggers them. 0, or -1 when the others did not come within timeout_ms (one
 * of them failed). */
int clause_start_line(int *arrived, int n, int timeout_ms);

/* Verdicts: clause_fail returns 0 and clause_pass 1, so a check reads
 * `return clause_fail(c, "...")` and ends `return clause_pass(c, ...)`.
 * clause_fail appends the last store call this thread made since the
 * previous verdict, with its duration and detail (clause_watch_quote). */
int clause_fail(clause_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int clause_pass(clause_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The body of most clauses: begin, check (which records its verdict),
 * end. */
void clause_run_scoped(const rdv_clause_env *env, rdv_clause_result *r,
                       int (*check)(clause_ctx *c));

/* Defines rdv_clause_<name> as a scoped run of check_<name>. */
#define RDV_CLAUSE_SCOPED(name)                                             void rdv_clause_##name(const rdv_clause_env *env,                                              rdv_clause_result *r)                            {                                                                           clause_run_scoped(env, r, check_##name);                            }

/* 1 when rc == want; otherwise fails the clause quoting the call that
 * gave rc (its arguments, how long it took, the store's detail right
 * after it) and returns 0. */
int clause_expect(clause_ctx *c, rdv_store *s, const char *what, int rc,
                  int want);

/* Reads key (present: the timeout covers moving the value, 5 s and
 * 250 ms per MiB) and compares it with want; fails the clause on
 * mismatch. */
int clause_expect_value(clause_ctx *c, rdv_store *s, const char *key,
                        const void *want, size_t want_len);

/* 1 when processes can share the store; otherwise marks the clause
 * skipped (the store is process-local, like hash:) and returns 0. */
int clause_needs_processes(clause_ctx *c);

int64_t clause_ms_since(int64_t start_ns);

/* The level the store is judged at: env->level, else what it claims. */
int clause_level(const clause_ctx *c);

/* ---- the call watch (clause_watch.c) ---- */

/* Wraps inner so each call it gets is recorded in r's call slots while
 * it runs, bounded by its own timeout; takes inner (closed on failure).
 * NULL when out of memory. */
rdv_store *clause_watch_store(rdv_clause_result *r, rdv_store *inner);
/* Records a call the clause makes itself (a close that must wake a
 * waiter) as in flight: past bound_ms the watchdog ends the clause with
 * "<what> blocked for N ms: <defect>". plain: a call without a timeout
 * of its own (set, add, close...), whose hang stops --quick. Returns the
 * slot for clause_watch_end, or -1 when none was free. */
int clause_watch_begin(rdv_clause_result *r, int64_t bound_ms, int plain,
                       const char *defect, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void clause_watch_end(rdv_clause_result *r, int slot);
/* Writes the last call this thread made through a watched handle into
 * buf: "set 'k' returned RDV_EIO after 3.2 ms (detail: ...)", with the
 * detail the handle held right after it; then forgets it, so the next
 * verdict quotes only a later call. Returns the length written; 0 when
 * no call was made since the last verdict. */
size_t clause_watch_quote(char *buf, size_t cap);
/* 1 when this thread made a watched call since the last verdict. */
int clause_watch_pending(void);
/* Forgets the thread's last call: a verdict that passed consumed it. */
void clause_watch_forget(void);

#endif
