/*
 * test_tcp_cli.c - the tcp:// store through the real rdv binary: `rdv
 * store-server` started and stopped by signal, `rdv conform` certifying
 * tcp:// (the full contract, every clause), `rdv matrix` at N = 2, 4, 8
 * and `rdv bench store-rendezvous` on it (that it runs, never how fast),
 * and the server command's usage errors.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct cli_server {
    pid_t pid;
    int port;
    FILE *out; /* its stdout */
    char err_path[64];
} cli_server;

/* Starts `rdv store-server --bind 127.0.0.1:0 extra...` and reads the
 * port from its "listening on" line. */
static void server_start(cli_server *s, const char *extra1,
                         const char *extra2)
{
    char line[256];
    int p[2], errfd;

    snprintf(s->err_path, sizeof s->err_path, "/tmp/rdv-cli-srv-%d.err",
             (int)getpid());
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    errfd = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                 0600);
    cr_assert_geq(errfd, 0);
    fflush(NULL);
    s->pid = fork();
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], STDOUT_FILENO);
        dup2(errfd, STDERR_FILENO);
        execl(RDV_BIN, RDV_BIN, "store-server", "--bind", "127.0.0.1:0",
              extra1, extra2, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    close(errfd);
    s->out = fdopen(p[0], "r");
    cr_assert(s->out && fgets(line, sizeof line, s->out),
              "rdv store-server printed nothing");
    cr_assert_eq(sscanf(line, "listening on 127.0.0.1:%d", &s->port), 1,
                 "unexpected first line: %s", line);
}

/* SIGTERM; returns its exit status. */
static int server_stop(cli_server *s)
{
    int st;

    kill(s->pid, SIGTERM);
    cr_assert_eq(waitpid(s->pid, &st, 0), s->pid);
    fclose(s->out);
    cr_assert(WIFEXITED(st), "rdv store-server died of signal %d",
              WTERMSIG(st));
    return WEXITSTATUS(st);
}

/* Runs the rdv binary with argv, returns its exit status and its output
 * (malloc'd) in *out. */
static int run_rdv(char *const argv[], char **out)
{
    char path[] = "/tmp/rdv-cli-outXXXXXX";
    int fd = mkstemp(path), st;
    FILE *f;
    long n;
    pid_t pid;

    cr_assert_geq(fd, 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(RDV_BIN, argv);
        _exit(127);
    }
    close(fd);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    f = fopen(path, "re");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    *out = calloc(1, (size_t)n + 1);
    cr_assert_eq(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    unlink(path);
    cr_assert(WIFEXITED(st), "rdv died: status 0x%x", st);
    return WEXITSTATUS(st);
}

Test(cli, conform_certifies_tcp_and_the_matrix_passes, .timeout = 900)
{
    cli_server s;
    char url[128], *out;
    int rc;

    server_start(&s, NULL, NULL);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", s.port);
    {
        char *argv[] = {RDV_BIN, "conform", "--store", url, NULL};

        rc = run_rdv(argv, &out);
        cr_assert_eq(rc, 0, "rdv conform --store %s failed:\n%s", url, out);
        cr_assert(strstr(out, "clauses passed, 0 skipped"), "%s", out);
        free(out);
    }
    {
        char *argv[] = {RDV_BIN, "matrix", "--store", url, "--ranks",
                        "2,4,8", NULL};

        rc = run_rdv(argv, &out);
        cr_assert_eq(rc, 0, "rdv matrix --store %s failed:\n%s", url, out);
        cr_assert(strstr(out, "9 passed, 0 failed"), "%s", out);
        free(out);
    }
    {
        char *argv[] = {RDV_BIN, "bench", "store-rendezvous", "--store",
                        url, "--procs", "8", "--runs", "2", NULL};

        rc = run_rdv(argv, &out);
        cr_assert_eq(rc, 0, "rdv bench store-rendezvous failed:\n%s", out);
        cr_assert(strstr(out, "median rendezvous_ms="), "%s", out);
        free(out);
    }
    cr_assert_eq(server_stop(&s), 0, "rdv store-server did not exit 0 on "
                 "SIGTERM");
    unlink(s.err_path);
}

/* The store-rendezvous bench on a store its processes inherit. */
Test(cli, store_rendezvous_bench_runs_on_an_inherited_store)
{
    char *argv[] = {RDV_BIN, "bench", "store-rendezvous", "--store",
                    "hash:?shared=1", "--procs", "8", "--runs", "2", NULL};
    char *out;
    int rc = run_rdv(argv, &out);

    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "(hash), 8 processes, 2 runs"), "%s", out);
    free(out);
}

Test(cli, the_token_file_works_and_is_never_printed)
{
    char tok[] = "/tmp/rdv-cli-tokXXXXXX", url[160], *out, log[4096] = "";
    int fd = mkstemp(tok);
    FILE *f;
    cli_server s;
    int rc;

    cr_assert_eq(write(fd, "tok-9d2e\n", 9), 9);
    close(fd);
    server_start(&s, "--token-file", tok);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d?token=tok-9d2e", s.port);
    {
        char *argv[] = {RDV_BIN, "bench", "store", "--store", url, "--ops",
                        "100", "--procs", "2", NULL};

        rc = run_rdv(argv, &out);
        cr_assert_eq(rc, 0, "%s", out);
        cr_assert_null(strstr(out, "tok-9d2e"), "the token shows:\n%s", out);
        free(out);
    }
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d?token=bad-guess",
             s.port);
    {
        char *argv[] = {RDV_BIN, "bench", "store", "--store", url, "--ops",
                        "10", "--procs", "1", NULL};

        rc = run_rdv(argv, &out);
        cr_assert_eq(rc, 1, "a wrong token must fail: %s", out);
        cr_assert(strstr(out, "refused the token"), "%s", out);
        cr_assert_null(strstr(out, "bad-guess"), "the token shows:\n%s",
                       out);
        free(out);
    }
    cr_assert_eq(server_stop(&s), 0);
    f = fopen(s.err_path, "re");
    cr_assert(f);
    log[fread(log, 1, sizeof log - 1, f)] = '\0';
    fclose(f);
    cr_assert(strstr(log, "refused: wrong token"), "%s", log);
    cr_assert_null(strstr(log, "tok-9d2e"), "%s", log);
    cr_assert_null(strstr(log, "bad-guess"), "%s", log);
    unlink(s.err_path);
    unlink(tok);
}

Test(cli, store_server_usage_errors)
{
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {NULL, NULL, "--bind ADDR:PORT is required"},
        {"--bind", "nonsense", "is not host:port"},
        {"--bind", "127.0.0.1:70000", "is not host:port"},
        {"--token-file", "/nonexistent/rdv-token", "/nonexistent/rdv-token"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {RDV_BIN, "store-server", (char *)cases[i].a,
                        (char *)cases[i].b, NULL};
        char *out;
        int rc = run_rdv(argv, &out);

        cr_assert_eq(rc, 2, "case %zu: exit %d: %s", i, rc, out);
        cr_assert(strstr(out, cases[i].want), "case %zu: %s", i, out);
        free(out);
    }
}
