/*
 * harness/report/report_text.c - text and JSON renderings of a run report.
 *
 * A passing run is one line; a failing one adds what failed and how to
 * get it back, because that is what someone chasing a race needs first.
 * The replay line always starts with "replay: " so scripts can grep it.
 */
#include <string.h>

#include "report/colour.h"
#include "report/replay.h"
#include "report/report_text.h"
#include "common/text_escape.h"
#include "rdv/url.h"

const char *rdv_check_verdict_name(int verdict)
{
    return verdict == RDV_CHECK_PASS ? "PASS"
         : verdict == RDV_CHECK_FAIL ? "FAIL" : "SKIP";
}

int rdv_checks_verdict(const rdv_check *checks, int n)
{
    int verdict = RDV_CHECK_SKIP;

    for (int i = 0; i < n; i++) {
        if (checks[i].verdict == RDV_CHECK_FAIL)
            return RDV_CHECK_FAIL;
        if (checks[i].verdict == RDV_CHECK_PASS)
            verdict = RDV_CHECK_PASS;
    }
    return verdict;
}

void rdv_report_failed(const rdv_run_report *rep, int detail,
                       const char *sep, char *buf, size_t cap)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; i < rep->nchecks && o < cap; i++)
        if (rep->checks[i].verdict == RDV_CHECK_FAIL)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s%s%s",
                                  o ? sep : "", rep->checks[i].name,
                                  detail ? ": " : "",
                                  detail ? rep->checks[i].detail : "");
}

#define MORE_ROOM 24 /* " (and 1234567 more)" */

/* The length of line k of c's detail (its start in *at), or -1. */
static int detail_line(const rdv_check *c, int k, const char **at)
{
    const char *p = c->detail;

    for (; k > 0; k--) {
        p = strchr(p, '\n');
        if (!p)
            return -1;
        p++;
    }
    *at = p;
    return (int)strcspn(p, "\n");
}

/* Whether line k of check i fits in what is left (*room), taking it. */
static int take_line(const rdv_run_report *rep, int i, int k, size_t *room)
{
    const char *at;
    int n = detail_line(&rep->checks[i], k, &at);
    size_t need = (size_t)n + 2 + (k ? 0 : strlen(rep->checks[i].name) + 2);

    if (n < 0 || need > *room)
        return 0;
    *room -= need;
    return 1;
}

void rdv_report_failed_line(const rdv_run_report *rep, char *buf,
                            size_t cap)
{
    int shown[RDV_CHECK_COUNT] = {0};
    size_t room = cap > 1 + MORE_ROOM * RDV_CHECK_COUNT
                      ? cap - 1 - MORE_ROOM * RDV_CHECK_COUNT
                      : 0;
    size_t o = 0;

    /* Every failing check's first line, then the rest in order. */
    for (int i = 0; i < rep->nchecks; i++)
        if (rep->checks[i].verdict == RDV_CHECK_FAIL)
            shown[i] = take_line(rep, i, 0, &room);
    for (int i = 0; i < rep->nchecks; i++)
        while (shown[i] && take_line(rep, i, shown[i], &room))
            shown[i]++;
    buf[0] = '\0';
    for (int i = 0; i < rep->nchecks && o < cap; i++) {
        const rdv_check *c = &rep->checks[i];
        const char *at;
        int k, left = 0;

        if (c->verdict != RDV_CHECK_FAIL)
            continue;
        for (k = 0; k < shown[i] && o < cap; k++) {
            int n = detail_line(c, k, &at);

            o += (size_t)snprintf(buf + o, cap - o, "%s%s%s%.*s",
                                  o ? "; " : "", k ? "" : c->name,
                                  k ? "" : ": ", n, at);
        }
        while (detail_line(c, k + left, &at) >= 0)
            left++;
        /* the last line, "and N more", counts N */
        if (left && c->untold)
            left += (int)c->untold - 1;
        if (left && shown[i] && o < cap)
            o += (size_t)snprintf(buf + o, cap - o, " (and %d more)", left);
        else if (left && o < cap)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s (%d failures, "
                                  "not shown)", o ? "; " : "", c->name,
                                  left);
    }
}

void rdv_report_print_check(FILE *f, const rdv_check *c)
{
    const char *line = c->detail;

    fprintf(f, "  %-18s ", c->name);
    rdv_colour_put(f, rdv_check_verdict_name(c->verdict), 0);
    for (int first = 1;; first = 0) {
        size_t n = strcspn(line, "\n");

        /* under the detail's first column: 2 + 18 + 1 + 4 + 2 */
        fprintf(f, "%*s%.*s\n", first ? 2 : 27, "", (int)n, line);
        if (!line[n])
            break;
        line += n + 1;
    }
}

void rdv_report_print_checks(FILE *f, const rdv_run_report *rep)
{
    for (int i = 0; i < rep->nchecks; i++)
        rdv_report_print_check(f, &rep->checks[i]);
}

void rdv_report_print_run(FILE *f, const rdv_run_config *cfg,
                          const rdv_run_report *rep, int verbose)
{
    char line[8192], shown[512];

    fprintf(f, "run seed %llu: ", (unsigned long long)rep->seed);
    rdv_colour_put(f, rdv_check_verdict_name(rdv_checks_verdict(
                          rep->checks, rep->nchecks)), 0);
    fprintf(f, " in %.1f ms (%d rank%s, %s)\n", rep->elapsed_ms,
            cfg->nranks, cfg->nranks == 1 ? "" : "s",
            rdv_url_redact(cfg->store_url, shown, sizeof shown));
    if (verbose || rep->failed)
        rdv_report_print_checks(f, rep);
    if (rep->failed)
        fprintf(f, "replay: %s\n",
                rdv_replay_line(cfg, rep->seed, line, sizeof line));
}

static void json_rank(FILE *f, const rdv_run_config *cfg,
                      const rdv_run_report *rep, int r)
{
    const rdv_slot *s = rdv_result_area_slot(rep->area, r);
    const rdv_rank_exit *e = &rep->exits[r];
    char phase[128];
    int st = atomic_load(&s->state);

    rdv_workload_phase_describe(&cfg->workload, rdv_slot_current_phase(s),
                                phase, sizeof phase);
    fprintf(f, "{\"rank\":%d,\"pid\":%d,\"outcome\":\"%s\",\"exit_code\":%d,"
            "\"signal\":%d,\"status\":\"%s\",\"error\":", r, (int)e->pid,
            e->hung ? "hung" : st == RDV_SLOT_OK ? "ok"
                                  : st == RDV_SLOT_FAILED ? "failed" : "died",
            e->code, e->signo, rdv_status_name(s->rc));
    rdv_json_put_string(f, s->error);
    fputs(",\"phase\":", f);
    rdv_json_put_string(f, phase);
    fputs(",\"transport\":", f);
    rdv_json_put_string(f, s->transport);
    fprintf(f, ",\"store_ops\":%llu,\"connect_retries\":%llu,"
            "\"strangers_rejected\":%llu,\"bytes_sent\":%llu,"
            "\"bytes_received\":%llu,\"records_republished\":%llu}",
            (unsigned long long)s->nops,
            (unsigned long long)s->counters.connect_retries,
            (unsigned long long)s->counters.strangers_rejected,
            (unsigned long long)s->counters.bytes_sent,
            (unsigned long long)s->counters.bytes_received,
            (unsigned long long)s->counters.records_republished);
}

void rdv_report_print_json(FILE *f, const rdv_run_config *cfg,
                           const rdv_run_report *rep)
{
    char line[8192], shown[512];

    fputs("{\"version\":1,\"type\":\"run\",\"store\":", f);
    rdv_json_put_string(f, rdv_url_redact(cfg->store_url, shown,
                                          sizeof shown));
    fputs(",\"faults\":", f);
    if (cfg->faults_spec)
        rdv_json_put_string(f, cfg->faults_spec);
    else
        fputs("null", f);
    fprintf(f, ",\"ranks\":%d,\"seed\":%llu,\"run_id\":\"%s\",\"passed\":%s,"
            "\"verdict\":\"%s\",\"elapsed_ms\":%.3f,\"checks\":[",
            cfg->nranks, (unsigned long long)rep->seed, rep->run_id,
            rep->failed ? "false" : "true",
            rdv_check_verdict_name(rdv_checks_verdict(rep->checks,
                                                      rep->nchecks)),
            rep->elapsed_ms);
    for (int i = 0; i < rep->nchecks; i++) {
        fprintf(f, "%s{\"name\":\"%s\",\"verdict\":\"%s\",\"detail\":",
                i ? "," : "", rep->checks[i].name,
                rdv_check_verdict_name(rep->checks[i].verdict));
        rdv_json_put_string(f, rep->checks[i].detail);
        fputc('}', f);
    }
    fputs("],\"ranks_detail\":[", f);
    for (int r = 0; r < cfg->nranks; r++) {
        if (r)
            fputc(',', f);
        json_rank(f, cfg, rep, r);
    }
    fputs("],\"replay\":", f);
    rdv_json_put_string(f, rdv_replay_line(cfg, rep->seed, line,
                                           sizeof line));
    fputs("}\n", f);
}

const rdv_check *rdv_report_first_failed(const rdv_run_report *rep)
{
    for (int i = 0; i < rep->nchecks; i++)
        if (rep->checks[i].verdict == RDV_CHECK_FAIL)
            return &rep->checks[i];
    return NULL;
}

const char *rdv_report_first_cause(const rdv_run_report *rep, char *buf,
                                   size_t cap)
{
    const rdv_check *k = rdv_report_first_failed(rep);

    if (k)
        snprintf(buf, cap, "%s: %.*s", k->name,
                 (int)strcspn(k->detail, "\n"), k->detail);
    else
        snprintf(buf, cap, "no check failed");
    return buf;
}
