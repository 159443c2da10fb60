/*
 * harness/report/trace.c - the trace-event writer.
 *
 * Each rank is one process in the trace (pid = rank + 1, named "rank
 * R"), with two threads: "phases" and "store ops". Two threads rather
 * than one because the rendezvous phases start and end in the middle of
 * store calls, and complete ("X") events on one thread must nest. Times
 * are microseconds since the run started; every process in a run shares
 * CLOCK_MONOTONIC, so ranks line up without any clock correction.
 * A phase lasts until the next one begins; the last one until the rank
 * exited (or was killed).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/text_escape.h"
#include "rdv/url.h"
#include "report/trace.h"

enum { TID_PHASES = 1, TID_OPS = 2 };

static double us(const rdv_run_report *rep, int64_t t)
{
    return (double)(t - rep->area->t0_ns) / 1e3;
}

static void sep(FILE *f, int *first)
{
    fputs(*first ? "\n" : ",\n", f);
    *first = 0;
}

static void write_names(FILE *f, int r, int *first)
{
    sep(f, first);
    fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,"
            "\"args\":{\"name\":\"rank %d\"}}", r + 1, r);
    sep(f, first);
    fprintf(f, "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,"
            "\"args\":{\"sort_index\":%d}}", r + 1, r);
    sep(f, first);
    fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"name\":\"phases\"}}", r + 1, TID_PHASES);
    sep(f, first);
    fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"name\":\"store ops\"}}", r + 1, TID_OPS);
}

static void write_phases(FILE *f, const rdv_run_config *cfg,
                         const rdv_run_report *rep, int r, int *first)
{
    const rdv_slot *s = rdv_result_area_slot(rep->area, r);
    int n = atomic_load(&s->nphases);
    int64_t end = rep->exits[r].t_exit_ns;
    char name[128];

    for (int i = 0; i < n; i++) {
        const rdv_phase_mark *m = &s->phases[i];
        int64_t stop = i + 1 < n ? s->phases[i + 1].t_ns : end;

        if (m->phase == RDV_RUN_PHASE_DONE)
            continue;
        rdv_workload_phase_describe(&cfg->workload, m, name, sizeof name);
        sep(f, first);
        fputs("{\"name\":", f);
        rdv_json_put_string(f, name);
        fprintf(f, ",\"cat\":\"phase\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
                "\"ts\":%.3f,\"dur\":%.3f}", r + 1, TID_PHASES,
                us(rep, m->t_ns), stop > m->t_ns ? (double)(stop - m->t_ns) / 1e3 : 0.0);
    }
}

static void write_ops(FILE *f, const rdv_run_report *rep, int r, int *first)
{
    const rdv_slot *s = rdv_result_area_slot(rep->area, r);
    const rdv_op_event *ev = rdv_result_area_events(rep->area, r);

    for (uint32_t i = 0; ev && i < s->nevents; i++) {
        sep(f, first);
        fputs("{\"name\":", f);
        rdv_json_put_string(f, rdv_store_op_name((rdv_store_op)ev[i].op));
        fprintf(f, ",\"cat\":\"store\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
                "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"key\":", r + 1, TID_OPS,
                us(rep, ev[i].t0_ns), (double)(ev[i].t1_ns - ev[i].t0_ns) / 1e3);
        rdv_json_put_string(f, ev[i].key);
        fputs(",\"status\":", f);
        rdv_json_put_string(f, rdv_status_name(ev[i].rc));
        fputs("}}", f);
    }
    /* An op still in flight when the rank was killed is the one that
     * matters most; draw it up to the kill. */
    if (atomic_load(&s->op_active)) {
        sep(f, first);
        fputs("{\"name\":", f);
        rdv_json_put_string(f, rdv_store_op_name((rdv_store_op)s->op));
        fprintf(f, ",\"cat\":\"store\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
                "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"key\":", r + 1, TID_OPS,
                us(rep, s->op_t0_ns),
                (double)(rep->exits[r].t_exit_ns - s->op_t0_ns) / 1e3);
        rdv_json_put_string(f, s->op_key);
        fputs(",\"status\":\"in flight when killed\"}}", f);
    }
}

int rdv_trace_write(const char *path, const rdv_run_config *cfg,
                    const rdv_run_report *rep, char *err, size_t errlen)
{
    FILE *f = fopen(path, "we");
    unsigned long dropped = 0;
    int first = 1, bad;
    char shown[512];

    if (!f) {
        snprintf(err, errlen, "--trace %s: %s", path, strerror(errno));
        return -1;
    }
    fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"run\":", f);
    rdv_json_put_string(f, rep->run_id);
    fputs(",\"store\":", f);
    rdv_json_put_string(f, rdv_url_redact(cfg->store_url, shown,
                                          sizeof shown));
    /* Ops past a rank's event capacity are counted, not drawn. */
    for (int r = 0; r < cfg->nranks; r++)
        dropped += rdv_result_area_slot(rep->area, r)->ndropped;
    fprintf(f, ",\"ranks\":%d,\"seed\":%llu,\"store_ops_not_drawn\":%lu},"
            "\"traceEvents\":[", cfg->nranks, (unsigned long long)rep->seed,
            dropped);
    for (int r = 0; r < cfg->nranks; r++) {
        write_names(f, r, &first);
        write_phases(f, cfg, rep, r, &first);
        write_ops(f, rep, r, &first);
    }
    fputs("\n]}\n", f);
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "--trace %s: write failed", path);
        return -1;
    }
    return 0;
}
