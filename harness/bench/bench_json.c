/*
 * harness/bench/bench_json.c - the benches' JSON lines (see bench_json.h).
 *
 * Choices: one writer for every bench, so the envelope (version, type,
 * bench) cannot differ between them; a row is flushed as it ends, so a
 * consumer reading a pipe sees each measurement when it is made.
 */
#include <math.h>

#include "bench/bench_json.h"
#include "common/text_escape.h"

void rdv_bench_out_init(rdv_bench_out *o, const char *bench, int json)
{
    *o = (rdv_bench_out){bench, json, json ? stderr : stdout, 0, 0};
}

void rdv_bench_row_begin(rdv_bench_out *o)
{
    if (!o->json)
        return;
    fputs("{\"version\":1,\"type\":\"bench\",\"bench\":", stdout);
    rdv_json_put_string(stdout, o->bench);
    o->open = 1;
}

void rdv_bench_row_str(rdv_bench_out *o, const char *key, const char *v)
{
    if (!o->open)
        return;
    printf(",\"%s\":", key);
    if (v)
        rdv_json_put_string(stdout, v);
    else
        fputs("null", stdout);
}

void rdv_bench_row_int(rdv_bench_out *o, const char *key, long long v)
{
    if (o->open)
        printf(",\"%s\":%lld", key, v);
}

void rdv_bench_row_num(rdv_bench_out *o, const char *key, double v)
{
    if (!o->open)
        return;
    if (isfinite(v))
        printf(",\"%s\":%.3f", key, v);
    else
        printf(",\"%s\":null", key);
}

void rdv_bench_row_end(rdv_bench_out *o)
{
    if (!o->open)
        return;
    fputs("}\n", stdout);
    fflush(stdout);
    o->open = 0;
    o->rows++;
}

int rdv_bench_out_finish(rdv_bench_out *o, int exit_code)
{
    if (o->json) {
        fputs("{\"version\":1,\"type\":\"bench_summary\",\"bench\":", stdout);
        rdv_json_put_string(stdout, o->bench);
        printf(",\"rows\":%d,\"exit\":%d}\n", o->rows, exit_code);
        fflush(stdout);
    }
    return exit_code;
}
