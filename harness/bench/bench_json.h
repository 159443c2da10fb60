/*
 * harness/bench/bench_json.h - `rdv bench ... --json`: the benches' rows
 * as JSON lines on stdout, one schema for every bench (README, "JSON").
 *
 * A row is {"version":1,"type":"bench","bench":KIND, ...fields}; the last
 * line is {"version":1,"type":"bench_summary","bench":KIND,"rows":R,
 * "exit":E}. With --json the bench's table goes to stderr instead, so
 * stdout holds only JSON; text is where the table goes either way.
 */
#ifndef RDV_HARNESS_BENCH_JSON_H
#define RDV_HARNESS_BENCH_JSON_H

#include <stdio.h>

typedef struct rdv_bench_out {
    const char *bench; /* "store", "allreduce", ... */
    int json;          /* --json given */
    FILE *text;        /* the table: stdout, or stderr with --json */
    int rows;          /* rows written */
    int open;          /* inside a row */
} rdv_bench_out;

/* Text to stdout, or to stderr when json. */
void rdv_bench_out_init(rdv_bench_out *o, const char *bench, int json);

/* A row: begin, fields, end. Every call is a no-op without --json. Keys
 * are literals of the schema; string values are escaped (a store URL is
 * masked by the caller), numbers that are not finite become null. */
void rdv_bench_row_begin(rdv_bench_out *o);
void rdv_bench_row_str(rdv_bench_out *o, const char *key, const char *v);
void rdv_bench_row_int(rdv_bench_out *o, const char *key, long long v);
void rdv_bench_row_num(rdv_bench_out *o, const char *key, double v);
void rdv_bench_row_end(rdv_bench_out *o);

/* The last line, with the bench's exit code; returns exit_code. */
int rdv_bench_out_finish(rdv_bench_out *o, int exit_code);

#endif
