/*
 * harness/report/replay.c - replay lines.
 *
 * The line names every input that decides a run's behaviour: store URL,
 * rank count, seed, workload (when not the default), timeout, deadline,
 * transport (also when $RDV_TRANSPORT chose it) and the fault plan in
 * its canonical form. It leaves out what
 * only decides where output goes (--logs, --trace, --junit), and the
 * random run id, which only keeps runs apart in the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void option(char *buf, size_t cap, size_t *off, const char *name,
                   const char *value)
{
    append(buf, cap, off, " ");
    append(buf, cap, off, name);
    append(buf, cap, off, " ");
    rdv_shell_quote(value, buf, cap, off);
}

const char *rdv_replay_line(const rdv_run_config *cfg, uint64_t seed,
                            char *buf, size_t cap)
{
    const char *transport;
    char num[32];
    size_t off = 0;

    buf[0] = '\0';
    rdv_shell_quote(cfg->prog ? cfg->prog : "rdv", buf, cap, &off);
    append(buf, cap, &off, " run");
    option(buf, cap, &off, "--store", cfg->store_url);
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
    /* $RDV_TRANSPORT picks the backend when --transport does not; the
     * line must pin it, or replaying in another shell would differ. */
    transport = cfg->transport ? cfg->transport : getenv("RDV_TRANSPORT");
    if (transport && *transport)
        option(buf, cap, &off, "--transport", transport);
    if (cfg->faults)
        option(buf, cap, &off, "--faults", rdv_faults_text(cfg->faults));
    /* The interleaving of store ops, for a sequenced run. */
    if (cfg->schedule.kind != RDV_SCHEDULE_NONE) {
        char sched[64];

        option(buf, cap, &off, "--schedule",
               rdv_schedule_text(&cfg->schedule, sched, sizeof sched));
    }
    return buf;
}
