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
 * The clause passes when no check failed; the evidence lists the failed
 * checks and the replay line. The call watch is on (run/call_watch.h):
 * a store that ignores a get's timeout fails the clause within seconds
 * of it, named, rather than at the run's 61 s deadline. Runs use a fixed seed per clause, so a
 * failure replays exactly.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"
#include "conform/conform_cmd.h"
#include "report/replay.h"
#include "report/report_text.h"
#include "run/checks.h"
#include "run/run.h"

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
    } else {
        const rdv_check *named = rdv_report_check(rep,
                                                 RDV_CHECK_CULPRIT_NAMED);

        conform_verdict(out, RDV_VERDICT_PASS, "%d ranks%s%s: %d checks "
                        "passed in %.0f ms%s%s", env->ranks,
                        faults ? " under " : "", faults ? faults : "",
                        rep->nchecks, rep->elapsed_ms,
                        named && named->detail[0] ? "; " : "",
                        named ? named->detail : "");
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
