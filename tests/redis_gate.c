/*
 * tests/redis_gate.c - lets ctest report a suite that needs the shared
 * redis-server (the one ci/services/redis starts, $RDV_TEST_REDIS_URL) as
 * skipped when none was started, instead of as passed with every test
 * skipped inside it.
 *
 * Choices:
 * - The gate is a constructor in the test binary, so the ctest command
 *   stays the binary itself (ci/valgrind runs those commands as they
 *   are). It acts only when ctest set RDV_TEST_NEEDS_REDIS=1 for the
 *   entry (rdv_test_needs_redis() in tests/CMakeLists.txt): a binary run
 *   by hand, or a ctest entry of the same binary that needs no server
 *   (store_contract beside store_contract_redis), is left alone.
 * - Without the server it exits 77, ctest's SKIP_RETURN_CODE for these
 *   entries, before Criterion starts; under CI=true it exits 1 instead:
 *   there a missing server is a broken pipeline, not a reason to skip.
 *   Criterion's workers inherit the environment, so once the runner got
 *   past the gate they do too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RDV_TEST_SKIP_CODE 77

static int env_is(const char *name, const char *value)
{
    const char *v = getenv(name);

    return v && strcmp(v, value) == 0;
}

__attribute__((constructor)) static void rdv_test_redis_gate(void)
{
    const char *url = getenv("RDV_TEST_REDIS_URL");

    if (!env_is("RDV_TEST_NEEDS_REDIS", "1") || (url && *url))
        return;
    if (env_is("CI", "true")) {
        fputs("FAIL: CI=true but RDV_TEST_REDIS_URL is not set: the redis "
              "service did not start\n", stderr);
        exit(1);
    }
    fputs("SKIPPED: RDV_TEST_REDIS_URL is not set: start a server with "
          "eval \"$(ci/services/redis start DIR)\" (ci/test does)\n",
          stderr);
    exit(RDV_TEST_SKIP_CODE);
}
