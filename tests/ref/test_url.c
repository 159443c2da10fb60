/*
 * test_url.c - the one store-URL parser (rdv/url.h), no I/O: components
 * come out decoded with brackets removed, a missing port is the scheme's
 * default, the login has one set of rules, a parsed URL renders back to
 * one that parses the same (after edits of host and options too), and
 * no message or masked copy ever shows a password. What a C string
 * cannot hold (%00) and what a reader cannot guess (an option given
 * twice) is refused; a long URL is shortened in messages so the reason
 * stays; a prefix too long says so (through rdv_store_open on hash:).
 * A password may come from the environment instead, and a URL meant to
 * be run again (a replay line) is rendered without it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/status.h"
#include "rdv/store.h"
#include "rdv/url.h"

static void parse_ok(const char *text, rdv_url *u)
{
    char err[256];

    cr_assert_eq(rdv_url_parse(text, u, err, sizeof err), RDV_OK, "%s: %s",
                 text, err);
}

Test(url, components_are_decoded_and_bracketless)
{
    rdv_url u;

    parse_ok("redis://alice:s%40cr:et@[::1]:6380/3?timeout_ms=100&"
             "prefix=a%26b", &u);
    cr_expect_str_eq(u.scheme, "redis");
    cr_expect(u.has_authority);
    cr_expect_str_eq(u.user, "alice");
    cr_expect_str_eq(u.password, "s@cr:et");
    cr_expect_str_eq(u.host, "::1");
    cr_expect_eq(u.port, 6380);
    cr_expect_str_eq(u.path, "/3");
    cr_assert_eq(u.noptions, 2);
    cr_expect_str_eq(u.options[1].key, "prefix");
    cr_expect_str_eq(rdv_url_option(&u, "prefix"), "a&b");
    cr_expect_str_eq(u.redacted, "redis://alice:***@[::1]:6380/3?"
                                 "timeout_ms=100&prefix=a%26b");
    rdv_url_free(&u);
    parse_ok("plugin:./lib.so?db=/tmp/x.db", &u);
    cr_expect(!u.has_authority);
    cr_expect_str_eq(u.host, "");
    cr_expect_null(u.user);
    cr_expect_str_eq(u.path, "./lib.so");
    rdv_url_free(&u);
}

Test(url, a_missing_port_is_the_schemes_default)
{
    static const struct {
        const char *url;
        int port;
    } cases[] = {
        {"redis://cache.example", 6379}, {"redis://[::1]", 6379},
        {"redis://h:7000", 7000},        {"unix:///run/r.sock", -1},
        {"file:///tmp/rdv", -1},         {"hash:", -1},
    };
    rdv_url u;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parse_ok(cases[i].url, &u);
        cr_expect_eq(rdv_url_port(&u), cases[i].port, "%s", cases[i].url);
        rdv_url_free(&u);
    }
}

Test(url, the_login_has_one_set_of_rules)
{
    /* The environment would supply a missing password (next test). */
    unsetenv(RDV_URL_PASSWORD_ENV);
    unsetenv(RDV_URL_PASSWORD_ENV_REDIS);
    static const struct {
        const char *url, *user, *password, *error;
    } cases[] = {
        {"redis://alice:secret@h", "alice", "secret", NULL},
        {"redis://:secret@h", NULL, "secret", NULL},
        {"redis://h?user=bob&password=pw", "bob", "pw", NULL},
        {"unix:///s?password=pw", NULL, "pw", NULL},
        {"redis://h", NULL, NULL, NULL},
        {"redis://bob@h", NULL, NULL, "without a password"},
        {"redis://:a@h?password=b", NULL, NULL, "given twice"},
        {"redis://alice:a@h?user=bob", NULL, NULL, "given twice"},
        {"redis://h?user=bob", NULL, NULL, "needs a password"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *user = "x", *pw = "x";
        char err[256] = "";
        rdv_url u;
        int rc;

        parse_ok(cases[i].url, &u);
        rc = rdv_url_login(&u, &user, &pw, err, sizeof err);
        if (cases[i].error) {
            cr_expect_eq(rc, RDV_EINVAL, "%s", cases[i].url);
            cr_expect(strstr(err, cases[i].error), "%s: %s", cases[i].url,
                      err);
        } else {
            cr_expect_eq(rc, RDV_OK, "%s: %s", cases[i].url, err);
            cr_expect(user == cases[i].user ||
                          (user && cases[i].user &&
                           !strcmp(user, cases[i].user)),
                      "%s: user %s", cases[i].url, user ? user : "NULL");
            cr_expect(pw == cases[i].password ||
                          (pw && cases[i].password &&
                           !strcmp(pw, cases[i].password)),
                      "%s: password %s", cases[i].url, pw ? pw : "NULL");
        }
        rdv_url_free(&u);
    }
}

/* Renders url and parses the result again: same text, same parts. */
Test(url, a_parsed_url_renders_back)
{
    static const char *const urls[] = {
        "hash:",
        "hash:?shared=1&size=64",
        "file:///tmp/a%20b?poll=1",
        "redis://:pw@127.0.0.1:6379/0",
        "redis://al%3Aice:p%3Fa%2Fs%40s:w@[::1]:6379/2?timeout_ms=5",
        "unix:///run/r.sock?db=1&password=x%26y",
        "plugin:./lib.so?db=/tmp/x.db&k=v%3Dw",
    };
    char out[256];

    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        rdv_url a, b;

        parse_ok(urls[i], &a);
        cr_assert_eq(rdv_url_format(&a, out, sizeof out), RDV_OK);
        cr_expect_str_eq(out, urls[i]);
        parse_ok(out, &b);
        cr_expect_str_eq(b.password ? b.password : "", a.password ? a.password
                                                                 : "");
        cr_expect_str_eq(b.user ? b.user : "", a.user ? a.user : "");
        cr_expect_str_eq(b.host, a.host);
        cr_expect_str_eq(b.path, a.path);
        cr_expect_eq(b.noptions, a.noptions);
        rdv_url_free(&a);
        rdv_url_free(&b);
    }
}

Test(url, edits_keep_everything_else)
{
    char out[256], small[12], err[256];
    rdv_url u;

    parse_ok("redis://alice:secret@localhost/3?timeout_ms=100", &u);
    cr_assert_eq(rdv_url_set_host(&u, "127.0.0.1", 4000), RDV_OK);
    cr_assert_eq(rdv_url_format(&u, out, sizeof out), RDV_OK);
    cr_expect_str_eq(out, "redis://alice:secret@127.0.0.1:4000/3?"
                          "timeout_ms=100");
    cr_assert_eq(rdv_url_set_host(&u, "::1", -1), RDV_OK);
    cr_assert_eq(rdv_url_set_option(&u, "timeout_ms", "5"), RDV_OK);
    cr_assert_eq(rdv_url_set_option(&u, "prefix", "a&b"), RDV_OK);
    cr_assert_eq(rdv_url_format(&u, out, sizeof out), RDV_OK);
    cr_expect_str_eq(out, "redis://alice:secret@[::1]/3?timeout_ms=5&"
                          "prefix=a%26b");
    cr_expect_eq(rdv_url_format(&u, small, sizeof small), RDV_EINVAL);
    cr_expect_eq(strlen(small), sizeof small - 1, "not truncated in place");
    cr_expect_eq(rdv_url_set_host(&u, "h", 0), RDV_EINVAL);
    cr_expect_eq(rdv_url_set_option(&u, "", "x"), RDV_EINVAL);
    rdv_url_free(&u);
    parse_ok("plugin:./x.so", &u);
    cr_expect_eq(rdv_url_set_host(&u, "h", 1), RDV_EINVAL,
                 "a relative path leaves no place for a host");
    rdv_url_free(&u);

    cr_assert_eq(rdv_url_with_option("redis://h:1", "prefix", "p", out,
                                     sizeof out, err, sizeof err), RDV_OK);
    cr_expect_str_eq(out, "redis://h:1?prefix=p");
    cr_assert_eq(rdv_url_with_option("unix:///s?db=2&prefix=x", "prefix",
                                     "p", out, sizeof out, err, sizeof err),
                 RDV_OK);
    cr_expect_str_eq(out, "unix:///s?db=2&prefix=p");
    cr_expect_eq(rdv_url_with_option("redis://:hunter2@h:1", "prefix", "p",
                                     small, sizeof small, err, sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "redis://:***@h:1") && !strstr(err, "hunter2"),
              "%s", err);
    cr_expect_eq(rdv_url_with_option("redis://:hunter2@h:x", "prefix", "p",
                                     out, sizeof out, err, sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "port") && !strstr(err, "hunter2"), "%s", err);
}

Test(url, masking_hides_every_password)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"redis://alice:secret@host:6379/0", "redis://alice:***@host:6379/0"},
        {"redis://:secret@h", "redis://:***@h"},
        {"redis://bob@h", "redis://bob@h"},
        {"unix:///s?db=1&password=secret&user=u",
         "unix:///s?db=1&password=***&user=u"},
        {"redis://h?password=secret", "redis://h?password=***"},
        {"hash:?shared=1", "hash:?shared=1"},
        {"file:///tmp/x", "file:///tmp/x"},
        /* Malformed: still masked, generously. */
        {"redis://:sec/ret@host:99999", "redis://:***@host:99999"},
        {"redis://:sec?ret@host", "redis://:***@host"},
        {"redis://host?xpassword=1", "redis://host?xpassword=1"},
    };
    char buf[128], tiny[8];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_str_eq(rdv_url_redact(cases[i].in, buf, sizeof buf),
                         cases[i].out);
    cr_expect_str_eq(rdv_url_redact(NULL, buf, sizeof buf), "(null)");
    cr_expect_str_eq(rdv_url_redact("redis://:secret@h", tiny, sizeof tiny),
                     "redis:/");
}

Test(url, errors_name_the_part_and_never_the_password)
{
    static const struct {
        const char *url, *error;
    } cases[] = {
        {"redis://:secret@host:99999", "port"},
        {"redis://:secret@host:+80", "port"},
        {"redis://:se%zzcret@host", "percent-escape in the password"},
        {"redis://:secret@[::1:6379", "']'"},
        {"redis://:secret@h?novalue", "key=value"},
        {"unix:///s?password=secret&x", "key=value"},
        {"", "empty"},
        {"noscheme", "expected 'scheme:'"},
        {"HTTP://x", "a-z"},
    };
    char err[256];
    rdv_url u;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(rdv_url_parse(cases[i].url, &u, err, sizeof err),
                     RDV_EINVAL, "%s", cases[i].url);
        cr_expect(strstr(err, cases[i].error), "%s: %s", cases[i].url, err);
        cr_expect(!strstr(err, "secret") && !strstr(err, "cret"), "%s: %s",
                  cases[i].url, err);
        rdv_url_free(&u); /* allowed after a failure */
    }
    cr_expect_eq(rdv_url_parse(NULL, &u, err, sizeof err), RDV_EINVAL);
    cr_expect_eq(rdv_url_parse("hash:?x=1", &u, NULL, 0), RDV_OK);
    cr_expect_eq(rdv_url_check_unused(&u, err, sizeof err), RDV_EINVAL);
    cr_expect(strstr(err, "unknown option 'x'"), "%s", err);
    rdv_url_free(&u);
}

/* What C strings cannot hold and what a reader cannot guess are
 * refused, each with its reason. */
Test(url, nul_escapes_and_repeated_options_are_refused)
{
    static const struct {
        const char *url, *error;
    } cases[] = {
        {"hash:?prefix=a%00b", "percent-encoded NUL (%00) in the option"},
        {"file:///d%00zzz", "percent-encoded NUL (%00) in the path"},
        {"redis://:se%00cret@host", "percent-encoded NUL (%00) in the password"},
        {"hash:?prefix=x&prefix=y", "option 'prefix' is given twice"},
        {"redis://h?timeout_ms=1&timeout_ms=1", "option 'timeout_ms' is given twice"},
    };
    char err[256];
    rdv_url u;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(rdv_url_parse(cases[i].url, &u, err, sizeof err),
                     RDV_EINVAL, "%s", cases[i].url);
        cr_expect(strstr(err, cases[i].error), "%s: %s", cases[i].url, err);
        cr_expect(!strstr(err, "cret"), "%s: %s", cases[i].url, err);
        rdv_url_free(&u);
    }
}

/* A long URL is shown head...tail, so the reason survives a message of
 * ordinary size. */
Test(url, long_urls_keep_the_reason)
{
    char url[4200], err[512];
    rdv_url u;
    int n = snprintf(url, sizeof url, "redis://:secret@host:99999/0?x=");

    memset(url + n, 'a', sizeof url - (size_t)n - 1);
    url[sizeof url - 1] = 0;
    cr_expect_eq(rdv_url_parse(url, &u, err, sizeof err), RDV_EINVAL);
    cr_expect(strstr(err, "port must be a number"), "%s", err);
    cr_expect(strstr(err, "...") && strstr(err, "bytes)"), "%s", err);
    cr_expect(!strstr(err, "secret"), "%s", err);
    rdv_url_free(&u);
    snprintf(url, sizeof url, "hash:?x=1&");
    n = (int)strlen(url);
    for (int i = 0; n < 3000; i++)
        n += snprintf(url + n, sizeof url - (size_t)n, "p%d=v&", i);
    cr_expect_eq(rdv_url_parse(url, &u, err, sizeof err), RDV_EINVAL);
    cr_expect(strstr(err, "too many options") ||
              strstr(err, "unknown option"), "%s", err);
    rdv_url_free(&u);
}

/* A prefix over the limit is refused for being too long, not "empty". */
Test(url, a_prefix_too_long_says_so)
{
    char url[2100], err[512];
    rdv_store *s = NULL;
    int n = snprintf(url, sizeof url, "hash:?prefix=");

    memset(url + n, 'p', 1100);
    url[n + 1100] = 0;
    cr_expect_eq(rdv_store_open(url, &s, err, sizeof err), RDV_EINVAL);
    cr_expect(strstr(err, "at most 1024 bytes") && strstr(err, "1100 bytes"),
              "%s", err);
    cr_expect(!strstr(err, "non-empty"), "%s", err);
    cr_expect_null(s);
    cr_expect_eq(rdv_store_open("hash:?prefix=", &s, err, sizeof err),
                 RDV_EINVAL);
    cr_expect(strstr(err, "non-empty"), "%s", err);
    url[n + 1000] = 0; /* 1000 + '/' fits */
    cr_expect_eq(rdv_store_open(url, &s, err, sizeof err), RDV_OK, "%s", err);
    rdv_store_close(s);
}

/* The login of a URL without a password takes $RDV_REDIS_PASSWORD, else
 * $REDISCLI_AUTH; a password in the URL wins over both. */
Test(url, the_environment_gives_a_missing_password)
{
    const char *user, *pw;
    char err[256] = "";
    rdv_url u;

    unsetenv(RDV_URL_PASSWORD_ENV);
    setenv(RDV_URL_PASSWORD_ENV_REDIS, "from-cli", 1);
    parse_ok("redis://bob@h", &u);
    cr_expect_eq(rdv_url_login(&u, &user, &pw, err, sizeof err), RDV_OK,
                 "%s", err);
    cr_expect_str_eq(user, "bob");
    cr_expect_str_eq(pw, "from-cli");
    rdv_url_free(&u);

    setenv(RDV_URL_PASSWORD_ENV, "from-rdv", 1);
    parse_ok("redis://h", &u);
    cr_expect_eq(rdv_url_login(&u, &user, &pw, err, sizeof err), RDV_OK);
    cr_expect_null(user);
    cr_expect_str_eq(pw, "from-rdv");
    rdv_url_free(&u);

    parse_ok("redis://:in-url@h", &u);
    cr_expect_eq(rdv_url_login(&u, &user, &pw, err, sizeof err), RDV_OK);
    cr_expect_str_eq(pw, "in-url");
    rdv_url_free(&u);

    /* Empty counts as unset, as for redis-cli. */
    setenv(RDV_URL_PASSWORD_ENV, "", 1);
    setenv(RDV_URL_PASSWORD_ENV_REDIS, "", 1);
    parse_ok("redis://bob@h", &u);
    cr_expect_eq(rdv_url_login(&u, &user, &pw, err, sizeof err), RDV_EINVAL);
    cr_expect(strstr(err, RDV_URL_PASSWORD_ENV), "%s", err);
    rdv_url_free(&u);
}

/* A URL for a replay line: the passwords left out (counted), everything
 * else kept, and the result parses; a URL that does not parse comes out
 * masked. */
Test(url, replayable_urls_leave_passwords_out)
{
    static const struct {
        const char *in, *out;
        int dropped;
    } cases[] = {
        {"redis://:secret@h:6380/2", "redis://h:6380/2", 1},
        {"redis://alice:secret@h", "redis://alice@h", 1},
        {"unix:///s.sock?db=1&password=secret", "unix:///s.sock?db=1", 1},
        {"redis://h?password=secret&timeout_ms=9",
         "redis://h?timeout_ms=9", 1},
        {"tcp://h:1?token=secret", "tcp://h:1?token=***", 0},
        {"file:///d?fresh=1", "file:///d?fresh=1", 0},
    };
    char buf[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rdv_url u;

        cr_expect_eq(rdv_url_strip_passwords(cases[i].in, buf, sizeof buf),
                     cases[i].dropped, "%s", cases[i].in);
        cr_expect_str_eq(buf, cases[i].out, "%s", cases[i].in);
        cr_expect_null(strstr(buf, "secret"), "%s", buf);
        parse_ok(buf, &u);
        rdv_url_free(&u);
    }
    cr_expect_eq(rdv_url_strip_passwords("redis://:secret@h:99999", buf,
                                         sizeof buf), RDV_EINVAL);
    cr_expect_null(strstr(buf, "secret"), "%s", buf);
    cr_expect_eq(rdv_url_strip_passwords("redis://:secret@h", buf, 8),
                 RDV_EINVAL);
    cr_expect_null(strstr(buf, "secret"), "%s", buf);
}
