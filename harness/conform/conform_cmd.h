/*
 * harness/conform/conform_cmd.h - what the parts of `rdv conform` share.
 *
 * commands/cmd_conform.c builds the clause list and drives it; each
 * clause runs in a child process of its own (conform_isolate.c) so a
 * store that crashes or hangs fails that clause and nothing else; the
 * report goes to stdout as a table and, on request, to JUnit XML
 * (report/conform_report.c).
 *
 * Clauses come from these places, each with its group:
 *   open: conform_open.c, the probe that runs first;
 *   single-process / multi-process: every clause of the contract library
 *     in this folder (rdv_contract_clauses), run as they are, in the
 *     group the library's table gives them;
 *   rendezvous: conform_rdv.c, `rdv run` machinery at each --ranks N;
 *   faults: conform_faults.c, store-level delays and errors.
 */
#ifndef RDV_HARNESS_CONFORM_CMD_H
#define RDV_HARNESS_CONFORM_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conform/contract.h"

#define CONFORM_MAX_RANKS 16 /* entries in --ranks */

typedef struct conform_env {
    rdv_clause_env base; /* url, quick: what library clauses get */
    int ranks;           /* N for rendezvous and fault-run clauses */
    const char *faults;  /* fault spec for fault clauses, or NULL */
} conform_env;

/* conform_out.store_flags, from the "open" probe. */
enum {
    CONFORM_STORE_OPENED = 1 << 0,
    CONFORM_STORE_LOCAL = 1 << 1, /* hash: - one process only */
    CONFORM_STORE_GLOO = 1 << 2,  /* it claims level gloo, not full */
};

/* What a clause process hands back through shared memory. */
typedef struct conform_out {
    rdv_clause_result r;
    unsigned store_flags; /* the "open" probe: CONFORM_STORE_* */
    int done;             /* set last: the clause returned */
} conform_out;

typedef struct conform_clause {
    char name[48];
    const char *group;   /* the library's, or "rendezvous", "faults" */
    const char *summary;
    const rdv_clause *lib; /* a contract-library clause, or NULL */
    void (*run)(const conform_env *env, conform_out *out); /* else this */
    int ranks;           /* env.ranks for this clause */
    const char *faults;  /* env.faults for this clause */
    /* A `rdv run` clause: needs a store shared across processes (library
     * clauses judge that themselves and SKIP). */
    int shares;
    int level;     /* RDV_STORE_LEVEL_* it belongs to (rdv_clause.level) */
    int budget_ms; /* its watchdog, unless --clause-timeout */
} conform_clause;

/* A finished clause. */
typedef struct conform_result {
    const conform_clause *c;
    rdv_verdict verdict;
    int na; /* not run: above the level the store is judged at */
    int plain_hang; /* ended by a call without a timeout that blocked */
    char evidence[1200];
    int64_t ms;
} conform_result;

/* ---- isolation (conform_isolate.c) ---- */

/* Makes this process the reaper of orphaned clause processes, so a
 * clause's stray grandchildren can be reaped; call once. */
void conform_isolate_init(void);

/* Runs c in a new process group with a watchdog of limit_ms. A crash
 * (signal), an exit without a verdict, a hang past the limit or
 * processes left running all become FAIL with that evidence. Fills res
 * and, when out_flags is not NULL, the probe's store flags. */
void conform_isolate(const conform_clause *c, const conform_env *env,
                     int limit_ms, conform_result *res,
                     unsigned *out_flags);
/* While a clause runs, conform_isolate calls tick(arg) about every
 * 50 ms (progress on a terminal); NULL for none. Set before
 * conform_isolate, in the parent only. */
void conform_isolate_on_tick(void (*tick)(void *arg), void *arg);

/* ---- the clauses of this command ---- */

void conform_clause_open(const conform_env *env, conform_out *out);
void conform_clause_fault_delay(const conform_env *env, conform_out *out);
void conform_clause_rendezvous(const conform_env *env, conform_out *out);
void conform_clause_fault_run(const conform_env *env, conform_out *out);

/* Sets out's verdict and evidence (printf-style); returns verdict ==
 * PASS so a clause can end with `return conform_verdict(...)`. */
int conform_verdict(conform_out *out, rdv_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- progress on stderr (report/conform_progress.c) ---- */

typedef struct conform_progress {
    size_t done, total;
    int live;               /* stderr is a terminal: one line, redrawn */
    int64_t t0_ns;          /* conform's start */
    const char *clause;     /* running now, or NULL */
    int64_t clause_t0_ns, shown_ns;
} conform_progress;

void conform_progress_start(conform_progress *p, size_t total);
/* A clause starts (the live line names it). */
void conform_progress_clause(conform_progress *p, const char *name);
/* Called by the watchdog while the clause runs (conform_isolate's tick):
 * redraws the live line now and then. arg is the conform_progress. */
void conform_progress_tick(void *arg);
/* Wipes the live line, before a row of the table goes to the terminal. */
void conform_progress_clear(conform_progress *p);
/* A clause ended with the verdict word shown in its row: without a
 * terminal, one line "conform [i/n] NAME VERDICT in X ms; Y s elapsed". */
void conform_progress_done(conform_progress *p, const conform_result *res,
                           const char *verdict);

/* The verdict word of a finished clause: PASS, FAIL, SKIP or N/A. */
const char *conform_verdict_name(const conform_result *res);

/* ---- report (conform_report.c) ---- */

/* The table goes to f: stdout, or stderr when stdout carries --json. */
void conform_report_header(FILE *f, const char *url, size_t nclauses,
                           int quick, int level);
void conform_report_row(FILE *f, const conform_result *res);
/* Prints the verdict lines, the last one for CI to grep:
 * "conform: <store> reaches level <L>: N passed, N failed, N n/a", L the
 * highest level up to `level` (the one judged) whose clauses all passed.
 * Returns the number of failed clauses. */
int conform_report_verdict(FILE *f, const char *url, int level,
                           const conform_result *res, size_t n);
/* --json, one line each (schema version 1, in the README): a "clause"
 * object per clause as it finishes, and a last "conform" object. */
void conform_report_json_row(FILE *f, const conform_result *res);
void conform_report_json_verdict(FILE *f, const char *url,
                                 const conform_result *res, size_t n,
                                 int exit_code);
/* Writes JUnit XML, one testcase per clause. 0, or -1 with a message
 * naming the path in err. */
int conform_report_junit(const char *path, const char *url,
                         const conform_result *res, size_t n, char *err,
                         size_t errlen);

#endif
