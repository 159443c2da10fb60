/*
 * test_target.c - which server a store URL names for the server faults
 * (server/target.c), and whether the driver accepts a plan on a URL
 * (rdv_fault_server_check); no server needed. The proxy target has the
 * redis store's defaults (no port is 6379, [::1] loses its brackets), the
 * ranks' URL keeps user, password, db and options, and a URL the proxy
 * or CLIENT PAUSE cannot serve is refused naming it, password masked.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "fault_internal.h"
#include "helpers.h"
#include "rdv/fault_proxy.h"

Test(target, proxy_target_host_and_port)
{
    static const struct {
        const char *url, *host;
        int port;
    } cases[] = {
        {"redis://127.0.0.1", "127.0.0.1", 6379},
        {"redis://localhost/2", "localhost", 6379},
        {"redis://[::1]:7000", "::1", 7000},
        {"redis://[::1]", "::1", 6379},
        {"redis://user:pw@127.0.0.1:7001/3?timeout_ms=100", "127.0.0.1",
         7001},
        {"redis://:p%40ss@127.0.0.2:7002", "127.0.0.2", 7002},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char host[64] = "", err[256] = "";
        int port = 0;
        rdv_fault_proxy *p = NULL;

        cr_assert_eq(rdv_fault_proxy_target(cases[i].url, host, sizeof host,
                                            &port, err, sizeof err),
                     RDV_OK, "%s: %s", cases[i].url, err);
        cr_expect_str_eq(host, cases[i].host, "%s", cases[i].url);
        cr_expect_eq(port, cases[i].port, "%s", cases[i].url);
        /* The proxy itself takes what the target gives (all loopback). */
        cr_expect_eq(rdv_fault_proxy_create(0, host, port, &p, err,
                                            sizeof err),
                     RDV_OK, "%s: %s", cases[i].url, err);
        rdv_fault_proxy_destroy(p);
    }
}

Test(target, ranks_url_keeps_login_db_and_options)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"redis://127.0.0.1", "redis://127.0.0.1:5555"},
        {"redis://[::1]:7000/1", "redis://127.0.0.1:5555/1"},
        {"redis://user:pw@127.0.0.1:7001/3?timeout_ms=100",
         "redis://user:pw@127.0.0.1:5555/3?timeout_ms=100"},
        {"redis://:p%40ss@localhost?db=2&password=", /* odd but kept */
         "redis://:p%40ss@127.0.0.1:5555?db=2&password="},
        {"redis://alice:s3cr%3Ft@[::1]:7000?user=x&prefix=a%26b",
         "redis://alice:s3cr%3Ft@127.0.0.1:5555?user=x&prefix=a%26b"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256], err[256] = "";

        cr_assert_eq(rdv_fault_proxy_url(cases[i].url, 5555, out, sizeof out,
                                         err, sizeof err),
                     RDV_OK, "%s: %s", cases[i].url, err);
        cr_expect_str_eq(out, cases[i].want);
    }
}

Test(target, what_the_proxy_cannot_serve_is_named_masked)
{
    static const char *const urls[] = {
        "unix:///tmp/r.sock?password=hunter2",
        "plugin:./libstore.so?password=hunter2",
        "file:///tmp/x",
        "hash:?shared=1",
        "redis://:hunter2@host:99999",
        "redis://:hunter2@/0",
    };
    char host[64], out[32], err[512];
    int port;

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        cr_expect_eq(rdv_fault_proxy_target(urls[i], host, sizeof host, &port,
                                            err, sizeof err),
                     RDV_EINVAL, "%s", urls[i]);
        cr_expect(!strstr(err, "hunter2"), "shows the password: %s", err);
        cr_expect(strstr(err, "redis://host[:port]") || strstr(err, "port"),
                  "%s: %s", urls[i], err);
    }
    rdv_fault_proxy_target(urls[0], host, sizeof host, &port, err,
                           sizeof err);
    cr_expect(strstr(err, "'unix:///tmp/r.sock?password=***'"), "%s", err);
    cr_expect_eq(rdv_fault_proxy_url("redis://:hunter2@127.0.0.1:1/0?"
                                     "timeout_ms=100", 5555, out, sizeof out,
                                     err, sizeof err),
                 RDV_EINVAL, "does not fit in 32 bytes");
    cr_expect(!strstr(err, "hunter2"), "%s", err);
}

Test(target, pause_target_and_login)
{
    static const struct {
        const char *url, *user, *password;
    } ok[] = {
        {"redis://127.0.0.1", NULL, NULL},
        {"redis://alice:secret@[::1]:7000/2", "alice", "secret"},
        {"redis://:secret@h", NULL, "secret"},
        {"unix:///run/r.sock?user=alice&password=secret", "alice", "secret"},
    };
    const char *user, *pw;
    char err[256];
    rdv_url u;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(rdv_fault_redis_target(ok[i].url, &u, &user, &pw, err,
                                            sizeof err),
                     RDV_OK, "%s: %s", ok[i].url, err);
        cr_expect_str_eq(user ? user : "(none)",
                         ok[i].user ? ok[i].user : "(none)");
        cr_expect_str_eq(pw ? pw : "(none)",
                         ok[i].password ? ok[i].password : "(none)");
        rdv_url_free(&u);
    }
    cr_expect_eq(rdv_fault_redis_target("redis://bob@h", &u, &user, &pw,
                                        err, sizeof err), RDV_EINVAL);
    cr_expect(strstr(err, "without a password"), "%s", err);
    cr_expect_eq(rdv_fault_redis_target("file:///x?password=hunter2", &u,
                                        &user, &pw, err, sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "'file:///x?password=***' is not a redis:// or "
                          "unix:// store URL"), "%s", err);
}

Test(target, the_driver_checks_a_plan_against_the_url)
{
    static const struct {
        const char *spec, *url;
        int rc;
    } cases[] = {
        {"store.delay(ms=1)", "hash:?shared=1", RDV_OK},
        {"server.restart(after=10)", "hash:?shared=1", RDV_OK},
        {"server.pause(after=10, ms=10)", "unix:///tmp/r.sock", RDV_OK},
        {"server.pause(after=10, ms=10)", "redis://[::1]", RDV_OK},
        {"server.pause(after=10, ms=10)", "file:///tmp/x", RDV_EINVAL},
        {"server.latency(ms=5)", "redis://127.0.0.1", RDV_OK},
        {"server.reset(after=10)", "unix:///tmp/r.sock", RDV_EINVAL},
        {"server.blackhole(after=10, ms=10)", "plugin:./x.so", RDV_EINVAL},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rdv_fault_plan *p = plan_of(cases[i].spec);
        rdv_fault_server *drv = NULL;
        char err[256] = "", rank_url[256];

        cr_expect_eq(rdv_fault_server_check(p, cases[i].url, err, sizeof err),
                     cases[i].rc, "%s on %s: %s", cases[i].spec,
                     cases[i].url, err);
        if (cases[i].rc) {
            cr_expect(strstr(err, cases[i].url), "%s", err);
            /* start refuses it the same way, before forking anything */
            cr_expect_eq(rdv_fault_server_start(p, 1, cases[i].url, rank_url,
                                                sizeof rank_url, &drv, err,
                                                sizeof err),
                         cases[i].rc);
            cr_expect_null(drv);
        }
        rdv_fault_plan_free(p);
    }
}
