/*
 * harness/report/replay.c - replay lines.
 *
 * The line names every input that decides a run's behaviour: store URL,
 * rank count, seed, workload (when not the default), timeout, deadline,
 * --call-watch, transport (also when $RDV_TRANSPORT chose it) and the fault plan in
 * its canonical form. It leaves out what
 * only decides where output goes (--logs, --trace, --junit), and the
 * random run id, which only keeps runs apart in the store.
 *
 * A password is never part of it (these lines go into logs, JSON and
 * JUnit): the store URL is written without it and a shell comment at the
 * end says which variable gives it, so the line still runs as pasted
 * once the variable is set (the store reads it: rdv_url_login). A URL
 * that does not parse is shown masked.
 *
 * rdv_replay_words reads such a line back into words (for rdv shrink),
 * undoing exactly the quoting this file writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/url.h"
#include "report/replay.h"

static void append(char *buf, size_t cap, size_t *off, const char *s)
{
    if (*off < cap)
        *off += (size_t)snprintf(buf + *off, cap - *off, "%s", s);
}

void rdv_shell_quote(const char *s, char *buf, size_t cap, size_t *off)
{
    if (s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                          "TUVWXYZ0123456789-_./:=,+@%") == strlen(s)) {
        append(buf, cap, off, s);
        return;
    }
    append(buf, cap, off, "'");
    for (const char *p = s; *p; p++) {
        char c[2] = {*p, '\0'};

        append(buf, cap, off, *p == '\'' ? "'\\''" : c);
    }
    append(buf, cap, off, "'");
}

int rdv_replay_store(const char *url, char *buf, size_t cap, size_t *off)
{
    char bare[4096];
    int dropped = rdv_url_strip_passwords(url, bare, sizeof bare);

    rdv_shell_quote(bare, buf, cap, off);
    return dropped > 0;
}

void rdv_replay_note(int stripped, char *buf, size_t cap, size_t *off)
{
    if (stripped)
        append(buf, cap, off, "  # the password is not shown: set "
               RDV_URL_PASSWORD_ENV " (or " RDV_URL_PASSWORD_ENV_REDIS
               ") to it first");
}

static void option(char *buf, size_t cap, size_t *off, const char *name,
                   const char *value)
{
    append(buf, cap, off, " ");
    append(buf, cap, off, name);
    append(buf, cap, off, " ");
    rdv_shell_quote(value, buf, cap, off);
}

void rdv_replay_server_options(const char *restart_cmd,
                               const char *server_pid,
                               const char *server_proxy, char *buf,
                               size_t cap, size_t *off)
{
    if (restart_cmd)
        option(buf, cap, off, "--server-restart", restart_cmd);
    if (server_pid)
        option(buf, cap, off, "--server-pid", server_pid);
    if (server_proxy)
        option(buf, cap, off, "--server-proxy", server_proxy);
}

const char *rdv_replay_line(const rdv_run_config *cfg, uint64_t seed,
                            char *buf, size_t cap)
{
    const char *transport;
    char num[32];
    size_t off = 0;
    int stripped;

    buf[0] = '\0';
    rdv_shell_quote(cfg->prog ? cfg->prog : "rdv", buf, cap, &off);
    append(buf, cap, &off, " run");
    append(buf, cap, &off, " --store ");
    stripped = rdv_replay_store(cfg->store_url, buf, cap, &off);
    snprintf(num, sizeof num, "%d", cfg->nranks);
    option(buf, cap, &off, "--ranks", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)seed);
    option(buf, cap, &off, "--seed", num);
    if (cfg->workload_spec)
        option(buf, cap, &off, "--workload", cfg->workload_spec);
    snprintf(num, sizeof num, "%d", cfg->timeout_ms);
    option(buf, cap, &off, "--timeout", num);
    if (cfg->deadline_ms != RDV_RUN_DEADLINE_DEFAULT(cfg->timeout_ms)) {
        snprintf(num, sizeof num, "%d", cfg->deadline_ms);
        option(buf, cap, &off, "--deadline", num);
    }
    if (cfg->call_watch)
        append(buf, cap, &off, " --call-watch");
    /* $RDV_TRANSPORT picks the backend when --transport does not; the
     * line must pin it, or replaying in another shell would differ. */
    transport = cfg->transport ? cfg->transport : getenv("RDV_TRANSPORT");
    if (transport && *transport)
        option(buf, cap, &off, "--transport", transport);
    if (cfg->impl == RDV_IMPL_GLOO)
        option(buf, cap, &off, "--impl", "gloo");
    if (cfg->faults)
        option(buf, cap, &off, "--faults", rdv_faults_text(cfg->faults));
    rdv_replay_server_options(cfg->restart_cmd, cfg->server_pid,
                              cfg->server_proxy, buf, cap, &off);
    /* The interleaving of store ops, for a sequenced run. */
    if (cfg->schedule.kind != RDV_SCHEDULE_NONE) {
        char sched[64];

        option(buf, cap, &off, "--schedule",
               rdv_schedule_text(&cfg->schedule, sched, sizeof sched));
    }
    rdv_replay_note(stripped, buf, cap, &off);
    return buf;
}

/* Copies one word of line from *p into buf at *off, ending it with NUL.
 * 0, or -1 for an unclosed quote or no room. */
static int word_copy(const char **p, char *buf, size_t cap, size_t *off)
{
    const char *s = *p;
    char quote = 0;

    for (; *s && (quote || (*s != ' ' && *s != '\t' && *s != '\n')); s++) {
        char c = *s;

        if (quote == '\'' && c == '\'') {
            quote = 0;
            continue;
        }
        if (quote == '"' && c == '"') {
            quote = 0;
            continue;
        }
        if (!quote && (c == '\'' || c == '"')) {
            quote = c;
            continue;
        }
        if (quote != '\'' && c == '\\' && s[1])
            c = *++s;
        if (*off + 1 >= cap)
            return -1;
        buf[(*off)++] = c;
    }
    if (quote || *off >= cap)
        return -1;
    buf[(*off)++] = '\0';
    *p = s;
    return 0;
}

int rdv_replay_words(const char *line, char *buf, size_t cap, char **words,
                     int max)
{
    const char *p = line;
    size_t off = 0;
    int n = 0;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p || *p == '#')
            return n;
        if (n == max)
            return -1;
        words[n] = buf + off;
        if (word_copy(&p, buf, cap, &off))
            return -1;
        n++;
    }
}
