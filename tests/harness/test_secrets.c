/*
 * test_secrets.c - a redis password never leaves rdv (issue 13, item 4).
 * Against a private redis-server with --requirepass, the real `rdv`
 * binary runs, fails, writes JSON, JUnit and a trace, prints a matrix
 * table, refuses a malformed URL and prints conform's rerun line; none
 * of it may hold the password. The replay line leaves it out and still
 * replays the run once $REDISCLI_AUTH or $RDV_REDIS_PASSWORD gives it,
 * and a URL without a password logs in with the environment's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_util.h"
#include "sh.h"

#define PW "s3cr3t-harden-Pw"

static redis_server srv;

static void start(void)
{
    redis_server_start(&srv, 0, PW);
}

static void stop(void)
{
    redis_server_stop(&srv);
}

TestSuite(secrets, .init = start, .fini = stop, .timeout = 240);

/* redis://:PW@127.0.0.1:port plus tail. */
static const char *url_with_pw(const char *tail, char *buf, size_t cap)
{
    snprintf(buf, cap, "redis://:%s@127.0.0.1:%d%s", PW, srv.port, tail);
    return buf;
}

/* The whole file at path, or "" when it cannot be read; free() it. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t len = 0;

    if (f) {
        FILE *m = open_memstream(&text, &len);
        int c;

        cr_assert(m);
        while ((c = fgetc(f)) != EOF)
            fputc(c, m);
        fclose(m);
        fclose(f);
    }
    return text ? text : strdup("");
}

static void expect_no_pw(const char *what, const char *text)
{
    cr_expect_null(strstr(text, PW), "%s shows the password:\n%s", what,
                   text);
}

/* A passing run shows the URL masked on its run line. */
Test(secrets, the_run_line_masks_the_password)
{
    char url[256], args[512];
    result r;

    snprintf(args, sizeof args, "run --store '%s' --ranks 2",
             url_with_pw("", url, sizeof url));
    r = rdv(args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "redis://:***@127.0.0.1:"), "%s", r.out);
    expect_no_pw("run", r.out);
    free(r.out);
}

/* A failing run: its text, --json, JUnit and trace hold no password;
 * its replay line leaves it out, says where it comes from, and replays
 * the same failure with the password in either variable. */
Test(secrets, a_failing_run_and_its_replay_line)
{
    static const char *const vars[] = {"REDISCLI_AUTH",
                                       "RDV_REDIS_PASSWORD"};
    char dir[256], url[256], args[1024], path[300], cmd[4096];
    char *replay, *file;
    result r, again;

    tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "run --store '%s' --ranks 3 --timeout 2000 "
             "--workload 'barrier,spin:rank=1' --json --junit %s/j.xml "
             "--trace %s/t.json", url_with_pw("", url, sizeof url), dir,
             dir);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "exit %d:\n%s", r.code, r.out);
    expect_no_pw("run --json", r.out);
    snprintf(path, sizeof path, "%s/j.xml", dir);
    file = slurp(path);
    cr_expect(strstr(file, "<testcase"), "no JUnit written:\n%s", file);
    expect_no_pw("JUnit", file);
    free(file);
    snprintf(path, sizeof path, "%s/t.json", dir);
    file = slurp(path);
    cr_expect(strstr(file, "traceEvents"), "no trace written");
    expect_no_pw("trace", file);
    free(file);
    free(r.out);

    /* The text form, for its replay line. */
    snprintf(args, sizeof args, "run --store '%s' --ranks 3 --timeout 2000 "
             "--workload 'barrier,spin:rank=1'", url);
    r = rdv(args);
    cr_expect_eq(r.code, 1, "exit %d:\n%s", r.code, r.out);
    expect_no_pw("run", r.out);
    replay = strstr(r.out, "replay: rdv ");
    cr_assert(replay, "no replay line:\n%s", r.out);
    replay += strlen("replay: rdv ");
    replay[strcspn(replay, "\n")] = '\0';
    cr_expect(strstr(replay, "--store redis://127.0.0.1:"), "%s", replay);
    cr_expect(strstr(replay, "# the password is not shown"), "%s", replay);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        snprintf(cmd, sizeof cmd, "env -u REDISCLI_AUTH -u "
                 "RDV_REDIS_PASSWORD %s=%s %s %s 2>&1", vars[i], PW, RDV_BIN,
                 replay);
        again = sh(cmd);
        cr_expect_eq(again.code, 1, "replay with %s: exit %d:\n%s", vars[i],
                     again.code, again.out);
        cr_expect(check_is(again.out, "no-hang", "FAIL"), "%s", again.out);
        free(again.out);
    }
    free(r.out);
    rm_rf(dir);
}

/* The password may live only in the environment, with or without a
 * user in the URL. */
Test(secrets, the_password_may_come_from_the_environment)
{
    char cmd[1024];
    result r;

    snprintf(cmd, sizeof cmd, "env -u RDV_REDIS_PASSWORD REDISCLI_AUTH=%s "
             "%s run --store redis://default@127.0.0.1:%d --ranks 2 2>&1", PW,
             RDV_BIN, srv.port);
    r = sh(cmd);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    expect_no_pw("run", r.out);
    free(r.out);
    snprintf(cmd, sizeof cmd, "env -u REDISCLI_AUTH RDV_REDIS_PASSWORD=%s "
             "%s run --store redis://127.0.0.1:%d --ranks 2 2>&1", PW,
             RDV_BIN, srv.port);
    r = sh(cmd);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    free(r.out);
}

/* Malformed URLs are refused (exit 2) without showing the password. */
Test(secrets, malformed_urls_never_show_the_password)
{
    static const char *const tails[] = {":99999", "/notadb", "?bogus=1",
                                        ("?password=" PW)};
    char url[256], args[512];

    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        result r;

        snprintf(url, sizeof url, "redis://:%s@127.0.0.1%s", PW, tails[i]);
        snprintf(args, sizeof args, "run --store '%s' --ranks 2", url);
        r = rdv(args);
        cr_expect_eq(r.code, 2, "%s: exit %d:\n%s", tails[i], r.code, r.out);
        expect_no_pw(tails[i], r.out);
        free(r.out);
    }
}

/* The matrix table names the store masked. */
Test(secrets, the_matrix_table_masks_the_password)
{
    char url[256], args[512];
    result r;

    snprintf(args, sizeof args, "matrix --store '%s' --ranks 2 --seeds 1",
             url_with_pw("", url, sizeof url));
    r = rdv(args);
    cr_expect_eq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "redis://:***@"), "%s", r.out);
    expect_no_pw("matrix", r.out);
    free(r.out);
}

/* conform with a wrong password fails at open; its rerun line leaves
 * the (wrong) password out and names the variables. */
Test(secrets, conforms_rerun_line_leaves_the_password_out)
{
    char args[512];
    result r;

    snprintf(args, sizeof args, "conform --quick --store "
             "'redis://:wrong-%s@127.0.0.1:%d'", PW, srv.port);
    r = rdv(args);
    cr_expect_neq(r.code, 0, "exit %d:\n%s", r.code, r.out);
    cr_expect(strstr(r.out, "rerun the failed clauses: rdv conform --store "
                            "redis://127.0.0.1:"), "%s", r.out);
    cr_expect(strstr(r.out, "# the password is not shown"), "%s", r.out);
    expect_no_pw("conform", r.out);
    free(r.out);
}
