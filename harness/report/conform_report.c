/*
 * harness/report/conform_report.c - what `rdv conform` shows: a table with one
 * row per clause (printed as each clause finishes, so a long run shows
 * progress), a one-line verdict, and optionally JUnit XML with one
 * testcase per clause for CI (through the harness's JUnit writer,
 * report_junit.c). PASS, FAIL and SKIP stay apart everywhere.
 */
#include <stdio.h>
#include <stdlib.h>

#include "conform/conform_cmd.h"
#include "report/colour.h"
#include "report/replay.h"
#include "report/report_junit.h"
#include "common/text_escape.h"
#include "rdv/url.h"

const char *conform_verdict_name(const conform_result *res)
{
    return res->na                            ? "N/A"
           : res->verdict == RDV_VERDICT_PASS ? "PASS"
           : res->verdict == RDV_VERDICT_SKIP ? "SKIP"
                                              : "FAIL";
}

void conform_report_header(FILE *f, const char *url, size_t nclauses,
                           int quick, int level)
{
    char shown[512];

    fprintf(f, "rdv conform: %s (%zu clauses%s; level %s)\n",
            rdv_url_redact(url, shown, sizeof shown), nclauses,
            quick ? ", quick" : "",
            level ? rdv_contract_level_name(level) : "as the store claims");
    fprintf(f, "%-24s %-15s %-6s %8s  %s\n", "CLAUSE", "GROUP", "RESULT",
            "TIME", "EVIDENCE");
    fflush(f);
}

void conform_report_row(FILE *f, const conform_result *res)
{
    fprintf(f, "%-24s %-15s ", res->c->name, res->c->group);
    rdv_colour_put(f, conform_verdict_name(res), 6);
    fprintf(f, " %6lldms  %s\n", (long long)res->ms, res->evidence);
    fflush(f);
}

void conform_report_json_row(FILE *f, const conform_result *res)
{
    fputs("{\"version\":1,\"type\":\"clause\",\"name\":", f);
    rdv_json_put_string(f, res->c->name);
    fputs(",\"group\":", f);
    rdv_json_put_string(f, res->c->group);
    fprintf(f, ",\"verdict\":\"%s\",\"ms\":%lld,\"evidence\":",
            conform_verdict_name(res), (long long)res->ms);
    rdv_json_put_string(f, res->evidence);
    fputs("}\n", f);
    fflush(f);
}

void conform_report_json_verdict(FILE *f, const char *url,
                                 const conform_result *res, size_t n,
                                 int exit_code)
{
    size_t count[3] = {0, 0, 0}; /* pass, fail, skip */
    char shown[512];

    for (size_t i = 0; i < n; i++)
        count[res[i].verdict == RDV_VERDICT_PASS   ? 0
              : res[i].verdict == RDV_VERDICT_SKIP ? 2
                                                   : 1]++;
    fputs("{\"version\":1,\"type\":\"conform\",\"store\":", f);
    rdv_json_put_string(f, rdv_url_redact(url, shown, sizeof shown));
    fprintf(f, ",\"clauses\":%zu,\"passed\":%zu,\"failed\":%zu,"
            "\"skipped\":%zu,\"exit\":%d}\n", n, count[0], count[1],
            count[2], exit_code);
    fflush(f);
}

int conform_report_verdict(FILE *f, const char *url, int level,
                           const conform_result *res, size_t n)
{
    size_t passed = 0, skipped = 0, failed = 0, o = 0;
    char names[512] = ""; /* also a --only list: commas, no spaces */
    char label[512];
    int reached = level;

    rdv_url_redact(url, label, sizeof label);
    for (size_t i = 0; i < n; i++) {
        if (res[i].verdict == RDV_VERDICT_PASS) {
            passed++;
        } else if (res[i].verdict == RDV_VERDICT_SKIP) {
            skipped++;
        } else {
            failed++;
            /* A failed clause of level L: the store reaches at most the
             * level below L. */
            if (res[i].c->level - 1 < reached)
                reached = res[i].c->level - 1;
            if (o < sizeof names)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
                                      o ? "," : "", res[i].c->name);
        }
    }
    if (failed) {
        char rerun[1024];
        size_t r = 0;
        char note[256];
        size_t nn = 0;
        int stripped;

        rerun[0] = note[0] = '\0';
        stripped = rdv_replay_store(url, rerun, sizeof rerun, &r);
        rdv_replay_note(stripped, note, sizeof note, &nn);
        rdv_colour_put(f, "FAIL", 0);
        fprintf(f, ": %s: %zu of %zu clauses failed (%s); %zu passed, "
               "%zu skipped\n", label, failed, n, names, passed, skipped);
        fprintf(f, "rerun the failed clauses: rdv conform --store %s --only "
               "%s%s\n", rerun, names, note);
    } else {
        rdv_colour_put(f, "PASS", 0);
        fprintf(f, ": %s: all %zu clauses passed%s%zu skipped\n", label,
               passed, skipped ? "; " : ", ", skipped);
    }
    fprintf(f, "conform: %s reaches level %s: %zu passed, %zu failed, %zu "
            "n/a\n", label, rdv_contract_level_name(reached < 0 ? 0
                                                                : reached),
            passed, failed, skipped);
    fflush(f);
    return (int)failed;
}

int conform_report_junit(const char *path, const char *url,
                         const conform_result *res, size_t n, char *err,
                         size_t errlen)
{
    rdv_junit_case *cases = calloc(n ? n : 1, sizeof *cases);
    char suite[300], label[200], shown[256];
    /* res[0] is the "open" probe: when it failed, nothing else could run */
    int unopened = n && res[0].verdict == RDV_VERDICT_FAIL;
    int rc;

    if (!cases) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rdv_junit_store_label(url, label, sizeof label);
    for (size_t i = 0; i < n; i++) {
        rdv_junit_case *k = &cases[i];

        snprintf(k->classname, sizeof k->classname, "rdv.conform.%s", label);
        snprintf(k->name, sizeof k->name, "%s %s", res[i].c->group,
                 res[i].c->name);
        k->seconds = (double)res[i].ms / 1000.0;
        k->failed = res[i].verdict == RDV_VERDICT_FAIL;
        k->error = k->failed && unopened;
        k->skipped = res[i].verdict == RDV_VERDICT_SKIP;
        /* The message is the short form: cut on purpose, the full
         * evidence goes in the text. */
        snprintf(k->message, sizeof k->message, "%.*s",
                 (int)sizeof k->message - 1, res[i].evidence);
        k->text = (char *)res[i].evidence;
    }
    snprintf(suite, sizeof suite, "rdv conform %s",
             rdv_url_redact(url, shown, sizeof shown));
    rc = rdv_junit_write(path, suite, cases, n, err, errlen);
    free(cases);
    return rc;
}
