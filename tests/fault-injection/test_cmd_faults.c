/*
 * test_cmd_faults.c - `rdv faults`, through the real rdv binary: --list
 * prints every fault with its parameters and fatality, --check accepts a
 * good spec with its canonical form and expected outcome, and refuses a
 * bad one (exit 2, bad usage) with the line, the column and a caret under it.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* Runs `rdv faults ARGS...` and captures what it prints. */
static int rdv(char *const args[], char **out)
{
    char *argv[16] = {RDV_EXE, "faults"};
    int n = 2;

    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return run_capture(argv, out);
}

Test(cmd_faults, list_prints_the_catalogue)
{
    char *out;
    const rdv_fault_scenario *sc;
    size_t n = rdv_fault_scenarios(&sc);

    cr_assert_eq(rdv((char *[]){"--list", NULL}, &out), 0, "%s", out);
    for (size_t i = 0; i < n; i++) {
        char name[64];

        snprintf(name, sizeof name, "%.*s", (int)strcspn(sc[i].spec, "("),
                 sc[i].spec);
        cr_expect(strstr(out, name), "--list lacks %s", name);
    }
    cr_assert(strstr(out, "fatal: yes"), "%s", out);
    cr_assert(strstr(out, "fatal: no"), "%s", out);
    cr_assert(strstr(out, "proc.kill(rank, at)"), "%s", out);
    free(out);
}

Test(cmd_faults, check_accepts_and_explains_a_good_spec)
{
    char *out;

    cr_assert_eq(rdv((char *[]){"--check",
                                "store.delay(op=get|wait, ms=5..50, p=0.3);"
                                "proc.kill(rank=3, at=after-publish)",
                                NULL},
                     &out),
                 0, "%s", out);
    cr_assert(strstr(out, "ok: 2 faults: store.delay(op=get|wait, ms=5..50, "
                          "p=0.3); proc.kill(rank=3, at=after-publish)"),
              "%s", out);
    cr_assert(strstr(out, "naming rank 3"), "%s", out);
    free(out);
}

Test(cmd_faults, check_points_at_the_error)
{
    char *out;

    cr_assert_eq(rdv((char *[]){"--check",
                                "store.delay(ms=1);\n  proc.kill(rank=3, "
                                "at=after-pub)",
                                NULL},
                     &out),
                 2, "%s", out);
    cr_assert(strstr(out, "line 2, column 24: unknown phase 'after-pub'"),
              "%s", out);
    cr_assert(strstr(out, "\n    proc.kill(rank=3, at=after-pub)\n"
                          "                         ^\n"),
              "no caret under column 24:\n%s", out);
    free(out);
    cr_assert_eq(rdv((char *[]){"--check", "proc.kill(rank=7, at=connected)",
                                "--ranks", "4", NULL},
                     &out),
                 2, "%s", out);
    cr_assert(strstr(out, "rank=7 of proc.kill (fault 1) is out of range"),
              "%s", out);
    free(out);
}

Test(cmd_faults, bad_usage_is_exit_2)
{
    char *out;

    cr_assert_eq(rdv((char *[]){NULL}, &out), 2, "%s", out);
    free(out);
    cr_assert_eq(rdv((char *[]){"--check", "x", "--ranks", "zero", NULL},
                     &out),
                 2, "%s", out);
    cr_assert(strstr(out, "--ranks: 'zero'"), "%s", out);
    free(out);
}
