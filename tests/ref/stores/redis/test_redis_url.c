/*
 * test_redis_url.c - the redis store's URL forms: every malformed URL is
 * RDV_EINVAL with a message naming the part that is wrong, before any
 * connection is tried; an unreachable server is RDV_ECONN naming it.
 * Needs no redis server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rdv/store.h"

typedef struct bad_url {
    const char *url;
    const char *says; /* a piece of the message */
} bad_url;

static const bad_url bad[] = {
    {"redis:", "redis://host:port"},
    {"redis://", "host is missing"},
    {"redis://:6379", "host is missing"},
    {"redis://127.0.0.1:0", "port"},
    {"redis://127.0.0.1:99999", "port"},
    {"redis://127.0.0.1:63x79", "port"},
    {"redis://127.0.0.1:6379/abc", "db number"},
    {"redis://127.0.0.1:6379/-1", "db number"},
    {"redis://127.0.0.1:6379/1/2", "db number"},
    {"redis://127.0.0.1:6379/99999999999", "db number"},
    {"redis://127.0.0.1:6379/1?db=2", "db is given twice"},
    {"redis://127.0.0.1:6379?db=x", "db="},
    {"redis://user@127.0.0.1:6379", "without a password"},
    {"redis://:a@127.0.0.1:6379?password=b", "given twice"},
    {"redis://127.0.0.1:6379?user=bob", "needs a password"},
    {"redis://127.0.0.1:6379?timeout_ms=0", "timeout_ms"},
    {"redis://127.0.0.1:6379?timeout_ms=abc", "timeout_ms"},
    {"redis://127.0.0.1:6379?spin_us=1001", "spin_us"},
    {"unix:///tmp/r.sock?spin_us=-5", "spin_us"},
    {"redis://127.0.0.1:6379?tiemout_ms=5", "tiemout_ms"},
    {"redis://[::1:6379", "']'"},
    {"unix://", "socket path is missing"},
    {"unix:///", "socket path is missing"},
    {"unix://host/tmp/r.sock", "takes no host"},
    {"unix://:pw@/tmp/r.sock", "password as an option"},
    {"unix:///tmp/r.sock?db=x", "db="},
    {"unix:///tmp/r.sock?bogus=1", "bogus"},
    {"unix:///tmp/" "0123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789.sock",
     "longer than a unix socket allows"},
};

Test(redis_url, malformed_urls_name_the_bad_part)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        rdv_store *s = NULL;
        int rc = rdv_store_open(bad[i].url, &s, err, sizeof err);

        cr_expect_eq(rc, RDV_EINVAL, "%s: got %s (%s)", bad[i].url,
                     rdv_status_name(rc), err);
        cr_expect_null(s, "%s: a handle came back on failure", bad[i].url);
        cr_expect(strstr(err, bad[i].says) != NULL,
                  "%s: message '%s' does not mention '%s'", bad[i].url, err,
                  bad[i].says);
        rdv_store_close(s);
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(redis_url, unreachable_server_is_econn_naming_it)
{
    const char *urls[] = {"redis://127.0.0.1:1?timeout_ms=300",
                          "unix:///nonexistent/rdv/redis.sock?"
                          "timeout_ms=300"};
    const char *names[] = {"127.0.0.1:1", "/nonexistent/rdv/redis.sock"};

    for (size_t i = 0; i < 2; i++) {
        char err[512] = "";
        rdv_store *s = NULL;
        double t0 = now_s();
        int rc = rdv_store_open(urls[i], &s, err, sizeof err);
        double took = now_s() - t0;

        cr_expect_eq(rc, RDV_ECONN, "%s: got %s (%s)", urls[i],
                     rdv_status_name(rc), err);
        cr_expect(strstr(err, names[i]) != NULL, "%s: '%s' does not name "
                  "the server", urls[i], err);
        cr_expect(took < 1.3, "%s: took %.2f s for a 300 ms timeout",
                  urls[i], took);
        rdv_store_close(s);
    }
}
