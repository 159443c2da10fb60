/*
 * test_where.c - server faults on a server the user names
 * (rdv_fault_server_where, server/where.c): the ranks' URL through the
 * proxy for the URLs plugins take (endpoints=, hosts=, url=etcd://) with
 * the target replaced only where it stands as an address, the spec and
 * PID errors, and server.pause by PID on a real forked process, which
 * must be stopped while the pause lasts and continued after it and at
 * stop.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_internal.h"

Test(where, proxy_url_replaces_the_address_everywhere_it_stands)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"plugin:./e.so?endpoints=127.0.0.1:2379&timeout_ms=3",
         "endpoints=127.0.0.1:4000"},
        {"plugin:./e.so?endpoints=127.0.0.1:2379,127.0.0.1:23790",
         "endpoints=127.0.0.1:4000,127.0.0.1:23790"},
        {"plugin:./e.so?url=etcd://127.0.0.1:2379,127.0.0.1:22379",
         "127.0.0.1:4000,127.0.0.1:22379"},
        {"plugin:./z.so?hosts=127.0.0.1:2379/chroot&maxbuffer=9",
         "hosts=127.0.0.1:4000/chroot"},
        {"tcp://127.0.0.1:2379?token=t", "tcp://127.0.0.1:4000?token=t"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[512] = "", err[512] = "";

        cr_assert_eq(rdv_fault_proxy_where_url(cases[i].url, "127.0.0.1",
                                               2379, 4000, out, sizeof out,
                                               err, sizeof err),
                     RDV_OK, "%s: %s", cases[i].url, err);
        cr_expect(strstr(out, cases[i].want), "%s -> %s, wanted %s",
                  cases[i].url, out, cases[i].want);
        cr_expect(!strstr(out, "127.0.0.1:2379,") &&
                      !strstr(out, "127.0.0.1:2379&") &&
                      !strstr(out, "127.0.0.1:2379/"),
                  "%s -> %s still names the server", cases[i].url, out);
    }
}

Test(where, proxy_url_that_names_no_target_is_refused)
{
    char out[512], err[512] = "";

    /* 127.0.0.1:23790 is another port, not the target followed by 0. */
    cr_assert_eq(rdv_fault_proxy_where_url(
                     "plugin:./e.so?endpoints=127.0.0.1:23790", "127.0.0.1",
                     2379, 4000, out, sizeof out, err, sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "does not name 127.0.0.1:2379"), "%s", err);
    cr_assert_eq(rdv_fault_proxy_where_url("tcp://127.0.0.1:2379",
                                           "127.0.0.1", 2379, 2379, out,
                                           sizeof out, err, sizeof err),
                 RDV_EINVAL);
}

Test(where, proxy_spec)
{
    char host[64], err[512] = "";
    int lport = -1, port = 0;

    cr_assert_eq(rdv_fault_proxy_where("127.0.0.1:2379", &lport, host,
                                       sizeof host, &port, err, sizeof err),
                 RDV_OK, "%s", err);
    cr_expect_eq(lport, 0);
    cr_expect_eq(port, 2379);
    cr_expect_str_eq(host, "127.0.0.1");
    cr_assert_eq(rdv_fault_proxy_where("4000=[::1]:7", &lport, host,
                                       sizeof host, &port, err, sizeof err),
                 RDV_OK, "%s", err);
    cr_expect_eq(lport, 4000);
    cr_expect_str_eq(host, "::1");
    for (const char **bad = (const char *[]){"127.0.0.1", "h:0", ":5",
                                             "x=h:5", "70000=h:5", "h:5x",
                                             NULL};
         *bad; bad++) {
        cr_expect_eq(rdv_fault_proxy_where(*bad, &lport, host, sizeof host,
                                           &port, err, sizeof err),
                     RDV_EINVAL, "%s", *bad);
        cr_expect(strstr(err, "[LISTEN=]HOST:PORT"), "%s: %s", *bad, err);
    }
}

Test(where, pid_spec_errors_name_it)
{
    char err[512] = "", path[] = "/tmp/rdv-where-XXXXXX";
    pid_t pid = 0;
    int fd = mkstemp(path);

    cr_assert(fd >= 0);
    cr_expect_eq(rdv_fault_server_pid_read("12x", &pid, err, sizeof err),
                 RDV_EINVAL);
    cr_expect_eq(rdv_fault_server_pid_read("/nonexistent/pid", &pid, err,
                                           sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "/nonexistent/pid"), "%s", err);
    cr_expect_eq(rdv_fault_server_pid_read(path, &pid, err, sizeof err),
                 RDV_EINVAL); /* empty */
    dprintf(fd, "%d\n", (int)getpid());
    close(fd);
    cr_expect_eq(rdv_fault_server_pid_read(path, &pid, err, sizeof err),
                 RDV_OK, "%s", err);
    cr_expect_eq(pid, getpid());
    unlink(path);
}

/* 'T' when pid is stopped, from /proc/pid/stat. */
static char state_of(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "re")))
        return '?';
    p = fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
    fclose(f);
    return p && p[1] ? p[2] : '?';
}

/* Polls up to 5 s for pid's state to be (or not be) 'T'. */
static int becomes(pid_t pid, int stopped)
{
    for (int i = 0; i < 500; i++) {
        if ((state_of(pid) == 'T') == stopped)
            return 1;
        usleep(10000);
    }
    return 0;
}

Test(where, pause_by_pid_stops_then_continues)
{
    rdv_fault_server_where where = {0};
    rdv_fault_server *drv = NULL;
    rdv_fault_plan *p = NULL;
    char err[512] = "", pidtext[16], rank_url[256];
    int next = 0, restart = 0, st;
    pid_t child = fork();

    cr_assert(child >= 0);
    if (child == 0) {
        for (;;)
            pause();
    }
    snprintf(pidtext, sizeof pidtext, "%d", (int)child);
    where.pid = pidtext;
    cr_assert_eq(rdv_fault_plan_parse("server.pause(after=0, ms=200); "
                                      "server.pause(after=1000, ms=60000)",
                                      &p, err, sizeof err),
                 RDV_OK, "%s", err);
    /* The URL names no server: the PID does. */
    cr_assert_eq(rdv_fault_server_start_at(p, 1, "plugin:./x.so", &where,
                                           rank_url, sizeof rank_url, &drv,
                                           err, sizeof err),
                 RDV_OK, "%s", err);
    cr_expect_str_eq(rank_url, "plugin:./x.so");
    cr_assert_eq(rdv_fault_server_poll(drv, 0, &next, &restart, err,
                                       sizeof err),
                 RDV_OK, "%s", err);
    cr_expect(becomes(child, 1), "not stopped by the pause");
    cr_expect_eq(next, 200);
    cr_assert_eq(rdv_fault_server_poll(drv, 200, &next, &restart, err,
                                       sizeof err),
                 RDV_OK, "%s", err);
    cr_expect(becomes(child, 0), "not continued when the pause ended");
    cr_assert_eq(rdv_fault_server_poll(drv, 1000, &next, &restart, err,
                                       sizeof err),
                 RDV_OK, "%s", err);
    cr_expect(becomes(child, 1), "not stopped by the second pause");
    rdv_fault_server_stop(drv); /* before the pause ends: continues it */
    cr_expect(becomes(child, 0), "left stopped by stop");
    kill(child, SIGKILL);
    waitpid(child, &st, 0);
    rdv_fault_plan_free(p);
}

Test(where, check_refuses_a_pid_that_does_not_run)
{
    rdv_fault_server_where where = {.pid = "2147483646"};
    rdv_fault_plan *p = NULL;
    char err[512] = "";

    cr_assert_eq(rdv_fault_plan_parse("server.pause(ms=10)", &p, err,
                                      sizeof err),
                 RDV_OK);
    cr_expect_neq(rdv_fault_server_check_at(p, "plugin:./x.so", &where, err,
                                            sizeof err),
                  RDV_OK);
    cr_expect(strstr(err, "no such process"), "%s", err);
    cr_expect_neq(rdv_fault_server_check_at(p, "plugin:./x.so", NULL, err,
                                            sizeof err),
                  RDV_OK);
    cr_expect(strstr(err, "no server PID was given"), "%s", err);
    rdv_fault_plan_free(p);
}
