/*
 * harness/conform/conform_rdv.c - the clauses that certify a store by using it
 * for what it is for: a whole `rdv run` (runner.c) forks N ranks against
 * the URL, they rendezvous, run the default collectives workload, check
 * their results and clean up, and the run's own checks judge it (ranks
 * ok, mesh consistent, results correct and identical, no hang, no leaked
 * processes, fds or keys, error quality).
 *
 *   rendezvous-N  one run of N ranks, no faults;
 *   faults-*      one run of 4 ranks under a store-level fault spec: with
 *                 delays the run must still succeed; with a transient
 *                 error the run's checks demand that every survivor fail
 *                 in time naming the faulty rank.
 *
 * The clause passes when no check failed and one passed; the evidence
 * lists the failed checks and the replay line, or how many passed and
 * each skipped check with its reason (error-quality SKIPs when no rank
 * failed: there is no message to judge). A run where every check was
 * skipped verified nothing, so it certifies nothing: the clause fails.
 * A fatal fault that was planned but never fired leaves culprit-named
 * nothing to judge: the clause did not test what it says, and SKIPs
 * with the reason (the store is not at fault for that). The call watch
 * is on (run/call_watch.h): a store that ignores a get's timeout fails
 * the clause within seconds of it, named, rather than at the run's 61 s
 * deadline. Runs use a fixed seed per clause, so a failure replays
 * exactly.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"
#include "conform/conform_cmd.h"
#include "report/replay.h"
#include "report/report_text.h"
#include "run/checks.h"
#include "run/fault_glue.h"
#include "run/run.h"

/* "; skipped: name (reason), name (reason)" for rep's SKIPs, into buf. */
static void skipped_line(const rdv_run_report *rep, char *buf, size_t cap)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; i < rep->nchecks && o < cap; i++)
        if (rep->checks[i].verdict == RDV_CHECK_SKIP)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s (%s)",
                                  o ? ", " : "; skipped: ",
                                  rep->checks[i].name,
                                  rep->checks[i].detail);
}

static int count_verdict(const rdv_run_report *rep, int verdict)
{
    int n = 0;

    for (int i = 0; i < rep->nchecks; i++)
        n += rep->checks[i].verdict == verdict;
    return n;
}

/* 1 when the plan as written is fatal but culprit-named found no fatal
 * fault fired: the run never reached what the clause is about. */
static int fatal_unfired(const rdv_run_config *cfg, uint64_t seed,
                         const rdv_run_report *rep)
{
    const rdv_check *named = rdv_report_check(rep, RDV_CHECK_CULPRIT_NAMED);
    rdv_faults_expect planned;

    if (!cfg->faults || !named || named->verdict != RDV_CHECK_SKIP)
        return 0;
    rdv_faults_expect_get(cfg->faults, seed, cfg->nranks, cfg->timeout_ms,
                          NULL, &planned);
    return planned.fatal;
}

static void run_once(const conform_env *env, const char *faults,
                     conform_out *out)
{
    /* Under an injected error the survivors wait out their timeout for
     * the failed rank; a shorter one keeps the clause quick. Without
     * one, a correct store ends as soon as it can, so the timeout only
     * has to be generous: 16 ranks on etcd under ASan needed 20 s. */
    rdv_run_config cfg = {.store_url = env->base.url, .nranks = env->ranks,
                          .faults_spec = faults,
                          .timeout_ms = faults ? 4000 : 30000,
                          .call_watch = 1};
    uint64_t seed = (uint64_t)env->ranks;
    rdv_runner *runner = NULL;
    rdv_run_report *rep = calloc(1, sizeof *rep);
    char err[512], replay[512], checks[700];
    int passed;

    if (!rep) {
        conform_verdict(out, RDV_VERDICT_FAIL, "out of memory");
        return;
    }
    if (rdv_run_config_finish(&cfg, err, sizeof err) ||
               rdv_runner_create(&cfg, &runner, err, sizeof err) ||
               rdv_runner_run(runner, seed, rep, err, sizeof err)) {
        conform_verdict(out, RDV_VERDICT_FAIL, "rdv run with %d ranks "
                        "could not run: %s", env->ranks, err);
    } else if (rep->failed) {
        const char *note = rdv_runner_note(runner);

        rdv_report_failed_line(rep, checks, sizeof checks);
        conform_verdict(out, RDV_VERDICT_FAIL, "%s; replay: %s%s%s", checks,
                        rdv_replay_line(&cfg, seed, replay, sizeof replay),
                        note ? "; note: " : "", note ? note : "");
    } else if (fatal_unfired(&cfg, seed, rep)) {
        conform_verdict(out, RDV_VERDICT_SKIP, "%d ranks under %s: the "
                        "fatal fault never fired, so nothing was judged of "
                        "the survivors (culprit-named: %s); replay: %s",
                        env->ranks, faults,
                        rdv_report_check(rep, RDV_CHECK_CULPRIT_NAMED)
                            ->detail,
                        rdv_replay_line(&cfg, seed, replay, sizeof replay));
    } else if (!(passed = count_verdict(rep, RDV_CHECK_PASS))) {
        skipped_line(rep, checks, sizeof checks);
        conform_verdict(out, RDV_VERDICT_FAIL, "%d ranks%s%s: no check "
                        "could verify anything%s; replay: %s", env->ranks,
                        faults ? " under " : "", faults ? faults : "",
                        checks, rdv_replay_line(&cfg, seed, replay,
                                                sizeof replay));
    } else {
        const rdv_check *named = rdv_report_check(rep,
                                                 RDV_CHECK_CULPRIT_NAMED);

        skipped_line(rep, checks, sizeof checks);
        conform_verdict(out, RDV_VERDICT_PASS, "%d ranks%s%s: %d of %d "
                        "checks passed in %.0f ms%s%s%s", env->ranks,
                        faults ? " under " : "", faults ? faults : "",
                        passed, rep->nchecks, rep->elapsed_ms,
                        named && named->verdict == RDV_CHECK_PASS ? "; "
                                                                  : "",
                        named && named->verdict == RDV_CHECK_PASS
                            ? named->detail : "", checks);
    }
    rdv_runner_destroy(runner);
    rdv_run_config_release(&cfg);
    free(rep);
}

void conform_clause_rendezvous(const conform_env *env, conform_out *out)
{
    run_once(env, NULL, out);
}

void conform_clause_fault_run(const conform_env *env, conform_out *out)
{
    run_once(env, env->faults, out);
}
