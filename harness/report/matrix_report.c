/*
 * harness/report/matrix_report.c - what `rdv matrix` shows while and after it
 * runs.
 *
 * The table keeps one row per store and one column per (N, scenario),
 * each cell aggregating its seeds: "ok 3/3 41ms" or "FAIL 1/3", with the
 * slowest run's time, since a slow outlier is what hints at a race.
 * Progress goes to stderr: on a terminal one live line, rewritten after
 * every run; elsewhere (a CI log) one plain line per finished cell with
 * the elapsed time, so a long matrix is never silent and the log stays
 * free of carriage returns. A table wider than the terminal (or 120
 * columns in a log) is printed turned, a row per (N, scenario).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "report/colour.h"
#include "report/matrix.h"
#include "rdv/clock.h"
#include "rdv/url.h"
#include "report/replay.h"
#include "report/report_text.h"
#include "common/text_escape.h"

rdv_matrix_cell *rdv_matrix_cell_at(rdv_matrix *m, int store, int ranks,
                                    int scenario)
{
    return &m->cells[((size_t)store * (size_t)m->nranks + (size_t)ranks) *
                         (size_t)m->nscenarios + (size_t)scenario];
}

void rdv_matrix_progress(rdv_matrix *m)
{
    double el = (double)(rdv_now_ns() - m->t0_ns) / 1e9;
    double eta = m->done ? el / m->done * (m->total - m->done) : 0;

    if (!m->tty)
        return;
    fprintf(stderr, "\r\033[K[%4d/%d] %d failed, %.0f s elapsed, ETA %.0f s",
            m->done, m->total, m->failed, el, eta);
    fflush(stderr);
}

void rdv_matrix_progress_clear(rdv_matrix *m)
{
    if (m->tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

static const char *scenario_label(const rdv_matrix *m, int f);
static void cell_text(const rdv_matrix_cell *c, char *buf, size_t cap);

void rdv_matrix_cell_done(rdv_matrix *m, int store, int ranks, int scenario)
{
    char text[128], shown[512];

    if (m->tty)
        return;
    cell_text(rdv_matrix_cell_at(m, store, ranks, scenario), text,
              sizeof text);
    fprintf(stderr, "matrix [%d/%d] %s N=%llu%s%s: %s; %.1f s elapsed\n",
            m->done, m->total,
            rdv_url_redact(m->stores[store], shown, sizeof shown),
            (unsigned long long)m->ranks[ranks],
            m->scenarios[scenario] ? " " : "", scenario_label(m, scenario),
            text, (double)(rdv_now_ns() - m->t0_ns) / 1e9);
    fflush(stderr);
}

static const char *scenario_label(const rdv_matrix *m, int f)
{
    if (m->scenario_names[f])
        return m->scenario_names[f];
    return m->scenarios[f] ? m->scenarios[f] : "";
}

static void cell_text(const rdv_matrix_cell *c, char *buf, size_t cap)
{
    if (c->could_not_run)
        snprintf(buf, cap, "ERROR");
    else if (c->skipped)
        snprintf(buf, cap, "skip");
    else if (c->runs == 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%s %d/%d %.0fms",
                 c->passed == c->runs ? "ok" : "FAIL", c->passed, c->runs,
                 c->max_ms);
}

/* How wide the table may be: the terminal's width, else $COLUMNS, else
 * 120 (a CI log has no width, but a 400-column line reads badly there
 * too). */
static int table_width(FILE *f)
{
    const char *cols = getenv("COLUMNS");
    struct winsize ws;
    long n;

    if (isatty(fileno(f)) && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col > 0)
        return ws.ws_col;
    if (cols && (n = strtol(cols, NULL, 10)) > 0 && n < 100000)
        return (int)n;
    return 120;
}

/* The table turned: a row per (N, scenario), a column per store, the
 * stores named by number under the table. For many scenarios (--faults
 * all has 20) the other way round would be hundreds of columns wide. */
static void print_transposed(rdv_matrix *m, FILE *f, int cw)
{
    int scw = 0, named = m->nscenarios > 1 || m->scenarios[0];
    char buf[128], shown[512];

    for (int sc = 0; named && sc < m->nscenarios; sc++)
        if ((int)strlen(scenario_label(m, sc)) > scw)
            scw = (int)strlen(scenario_label(m, sc));
    fprintf(f, "%-7s", "N");
    if (named)
        fprintf(f, "  %-*s", scw, "scenario");
    for (int s = 0; s < m->nstores; s++) {
        snprintf(buf, sizeof buf, "[%d]", s + 1);
        fprintf(f, "  %-*s", cw, buf);
    }
    fputc('\n', f);
    for (int n = 0; n < m->nranks; n++)
        for (int sc = 0; sc < m->nscenarios; sc++) {
            snprintf(buf, sizeof buf, "N=%llu",
                     (unsigned long long)m->ranks[n]);
            fprintf(f, "%-7s", buf);
            if (named)
                fprintf(f, "  %-*s", scw, scenario_label(m, sc));
            for (int s = 0; s < m->nstores; s++) {
                cell_text(rdv_matrix_cell_at(m, s, n, sc), buf, sizeof buf);
                fputs("  ", f);
                rdv_colour_put(f, buf, cw);
            }
            fputc('\n', f);
        }
    for (int s = 0; s < m->nstores; s++)
        fprintf(f, "[%d] %s\n", s + 1,
                rdv_url_redact(m->stores[s], shown, sizeof shown));
}

/* A row per store, a column per (N, scenario). */
static void print_wide(rdv_matrix *m, FILE *f, int sw, int cw)
{
    char buf[128], shown[512];

    fprintf(f, "%-*s", sw, "store");
    for (int n = 0; n < m->nranks; n++)
        for (int sc = 0; sc < m->nscenarios; sc++) {
            snprintf(buf, sizeof buf, "N=%llu%s%.14s",
                     (unsigned long long)m->ranks[n],
                     m->scenarios[sc] ? " " : "", scenario_label(m, sc));
            fprintf(f, "  %-*s", cw, buf);
        }
    fputc('\n', f);
    for (int s = 0; s < m->nstores; s++) {
        fprintf(f, "%-*s", sw,
                rdv_url_redact(m->stores[s], shown, sizeof shown));
        for (int n = 0; n < m->nranks; n++)
            for (int sc = 0; sc < m->nscenarios; sc++) {
                cell_text(rdv_matrix_cell_at(m, s, n, sc), buf, sizeof buf);
                fputs("  ", f);
                rdv_colour_put(f, buf, cw);
            }
        fputc('\n', f);
    }
}

void rdv_matrix_print_table(rdv_matrix *m, FILE *f)
{
    int sw = 5, cw = m->nscenarios > 1 || m->scenarios[0] ? 20 : 14;
    char shown[512];

    for (int s = 0; s < m->nstores; s++)
        if ((int)strlen(rdv_url_redact(m->stores[s], shown, sizeof shown)) >
            sw)
            sw = (int)strlen(shown);
    if (sw + m->nranks * m->nscenarios * (cw + 2) > table_width(f))
        print_transposed(m, f, 16);
    else
        print_wide(m, f, sw, cw);
    for (int sc = 0; sc < m->nscenarios; sc++)
        if (m->scenarios[sc])
            fprintf(f, "scenario %s: %s\n", scenario_label(m, sc),
                    m->scenarios[sc]);
}

static rdv_junit_case *case_new(rdv_matrix *m)
{
    rdv_junit_case *grown = realloc(m->cases, (m->ncases + 1) * sizeof *grown);

    if (!grown)
        return NULL;
    m->cases = grown;
    memset(&m->cases[m->ncases], 0, sizeof *m->cases);
    return &m->cases[m->ncases++];
}

static void case_names(rdv_junit_case *c, const rdv_run_config *cfg,
                       uint64_t seed, const char *scenario)
{
    char label[200];

    rdv_junit_store_label(cfg->store_url, label, sizeof label);
    snprintf(c->classname, sizeof c->classname, "rdv.matrix.%s", label);
    snprintf(c->name, sizeof c->name, "N=%d seed=%llu%s%s", cfg->nranks,
             (unsigned long long)seed, scenario ? " faults=" : "",
             scenario ? scenario : "");
}

/* The failure text: every failing check's detail, then the replay. */
static char *failure_text(const rdv_run_config *cfg,
                          const rdv_run_report *rep)
{
    size_t cap = 16384, o;
    char *t = malloc(cap), line[4096];

    if (!t)
        return NULL;
    rdv_report_failed(rep, 1, "\n", t, cap);
    o = strlen(t);
    snprintf(t + o, cap - o, "%sreplay: %s\n", o ? "\n" : "",
             rdv_replay_line(cfg, rep->seed, line, sizeof line));
    return t;
}

int rdv_matrix_add_case(rdv_matrix *m, const rdv_run_config *cfg,
                        const rdv_run_report *rep, const char *scenario)
{
    rdv_junit_case *c = case_new(m);

    if (!c)
        return -1;
    case_names(c, cfg, rep->seed, scenario);
    c->seconds = rep->elapsed_ms / 1e3;
    c->failed = rep->failed;
    c->skipped = rdv_checks_verdict(rep->checks, rep->nchecks) ==
                 RDV_CHECK_SKIP;
    if (rep->failed) {
        rdv_report_failed(rep, 0, ", ", c->message, sizeof c->message);
        c->text = failure_text(cfg, rep);
    } else if (c->skipped) {
        snprintf(c->message, sizeof c->message, "every check SKIPped: "
                 "nothing was verified");
    }
    return 0;
}

int rdv_matrix_add_error(rdv_matrix *m, const rdv_run_config *cfg,
                         uint64_t seed, const char *scenario,
                         const char *err)
{
    rdv_junit_case *c = case_new(m);

    if (!c)
        return -1;
    case_names(c, cfg, seed, scenario);
    c->error = 1;
    snprintf(c->message, sizeof c->message, "could not run: %.480s", err);
    return 0;
}

int rdv_matrix_add_broken(rdv_matrix *m, const rdv_run_config *cfg,
                          const char *scenario, const char *err)
{
    for (int i = 0; i < m->nseeds; i++)
        if (rdv_matrix_add_error(m, cfg, m->seeds[i], scenario, err))
            return -1;
    return 0;
}

int rdv_matrix_add_skipped(rdv_matrix *m, const rdv_run_config *cfg,
                           const char *scenario, const char *why)
{
    for (int i = 0; i < m->nseeds; i++) {
        rdv_junit_case *c = case_new(m);

        if (!c)
            return -1;
        case_names(c, cfg, m->seeds[i], scenario);
        c->skipped = 1;
        snprintf(c->message, sizeof c->message, "%s", why);
    }
    return 0;
}

void rdv_matrix_free_cases(rdv_matrix *m)
{
    for (size_t i = 0; i < m->ncases; i++)
        free(m->cases[i].text);
    free(m->cases);
    m->cases = NULL;
    m->ncases = 0;
}

void rdv_matrix_json_cell(FILE *f, const rdv_run_config *cfg,
                          const char *verdict, const char *why)
{
    char shown[512];

    fputs("{\"version\":1,\"type\":\"cell\",\"store\":", f);
    rdv_json_put_string(f, rdv_url_redact(cfg->store_url, shown,
                                          sizeof shown));
    fprintf(f, ",\"ranks\":%d,\"faults\":", cfg->nranks);
    if (cfg->faults_spec)
        rdv_json_put_string(f, cfg->faults_spec);
    else
        fputs("null", f);
    fprintf(f, ",\"verdict\":\"%s\",\"detail\":", verdict);
    rdv_json_put_string(f, why);
    fputs("}\n", f);
    fflush(f);
}

void rdv_matrix_json_summary(FILE *f, const rdv_matrix *m, int leaked)
{
    fprintf(f, "{\"version\":1,\"type\":\"matrix\",\"runs\":%d,"
            "\"passed\":%d,\"failed\":%d,\"errors\":%d,\"skipped\":%d,"
            "\"elapsed_ms\":%.1f,\"no_leak\":%s}\n", m->done,
            m->done - m->failed - m->errors - m->unverified, m->failed,
            m->errors, m->unverified,
            (double)(rdv_now_ns() - m->t0_ns) / 1e6,
            leaked ? "false" : "true");
    fflush(f);
}
