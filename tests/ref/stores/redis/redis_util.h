/*
 * redis_util.h - what the redis store tests share: finding the shared
 * server that ci/services/redis started, running a private redis-server
 * that a test may kill and restart, and an admin hiredis connection that
 * looks at the server behind the store's back.
 */
#ifndef RDV_TEST_REDIS_UTIL_H
#define RDV_TEST_REDIS_UTIL_H

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Skips the test with a loud message, or fails it when CI=true: under
 * CI a missing redis is a broken pipeline, not a reason to pass. */
#define redis_need(cond, why)                                               \
    do {                                                                    \
        if (!(cond)) {                                                      \
            const char *ci_ = getenv("CI");                                 \
            if (ci_ && strcmp(ci_, "true") == 0)                            \
                cr_assert_fail("CI=true but %s", why);                            \
            cr_log_warn("SKIPPED: %s", why);                                \
            cr_skip_test("SKIPPED: %s", why);                               \
        }                                                                   \
    } while (0)

/* $RDV_TEST_REDIS_URL / $RDV_TEST_REDIS_SOCK, skipping (or failing under
 * CI) when unset. */
const char *redis_shared_url(void);
const char *redis_shared_sock(void);

/* CLOCK_MONOTONIC in seconds, for "within the deadline + 1 s" checks. */
double redis_now_s(void);

/* Expects a failure's detail to name the server, as 127.0.0.1:port, and
 * key (unless NULL); what says which call failed. */
void redis_expect_named(const char *what, const char *detail,
                        const char *key, int port);

/* Opens the store at url, failing the test with the store's message if
 * it cannot. (A plain struct: users of this header need not include
 * rdv/store.h.) */
struct rdv_store *redis_open_ok(const char *url);

/* A unique key prefix for this test process: "rdvtest/<pid>-<ns>/". */
const char *redis_test_prefix(void);

typedef struct redis_server {
    pid_t pid;         /* 0: not running */
    int port;
    char dir[64];      /* private temp dir: log, nothing else */
    char url[128];     /* redis://127.0.0.1:port */
    char password[64]; /* "" for none */
    /* More redis-server arguments, NULL-terminated, or NULL; set before
     * start, kept for a restart. They come last, so they may override
     * the defaults ("--bind", "127.0.0.1", "::1"). */
    const char *const *args;
} redis_server;

/* Starts a private redis-server on a free loopback port (or on port when
 * > 0), with --requirepass when password is non-empty and r->args after
 * the defaults; returns once it answers PING (an error reply such as
 * NOAUTH counts). Skips (fails under CI) when redis-server is missing.
 * The server dies with the test process (PR_SET_PDEATHSIG). */
void redis_server_start(redis_server *r, int port, const char *password);
/* Kills the server with sig and reaps it; the dir stays for a restart. */
void redis_server_kill(redis_server *r, int sig);
/* Kills (if running) and removes the temp dir. */
void redis_server_stop(redis_server *r);

/* A direct hiredis connection to a redis:// URL (host:port/db only). */
redisContext *redis_admin(const char *url);
/* Number of keys in the admin connection's db starting with prefix,
 * counted with SCAN MATCH through hiredis. */
long redis_admin_count(redisContext *c, const char *prefix);

#endif
