/*
 * redis_util.c - helpers for the redis store tests; see redis_util.h.
 *
 * The private server is started with fork+exec from the test's main
 * thread, with PR_SET_PDEATHSIG so a crashed test never leaves it
 * behind, and stopped by its PID. Readiness is a PING that gets an
 * answer (PONG, or NOAUTH for a password-protected server), polled every
 * few ms while the process is still alive; a port taken between choosing
 * and binding makes redis exit, and the start is retried on a new port.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/store.h"
#include "redis_util.h"

const char *redis_shared_url(void)
{
    const char *u = getenv("RDV_TEST_REDIS_URL");

    redis_need(u && *u, "RDV_TEST_REDIS_URL is not set: start a server "
               "with eval \"$(ci/services/redis start DIR)\"");
    return u;
}

const char *redis_shared_sock(void)
{
    const char *u = getenv("RDV_TEST_REDIS_SOCK");

    redis_need(u && *u, "RDV_TEST_REDIS_SOCK is not set: start a server "
               "with eval \"$(ci/services/redis start DIR)\"");
    return u;
}

double redis_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void redis_expect_named(const char *what, const char *detail,
                        const char *key, int port)
{
    char addr[32];

    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    cr_expect(strstr(detail, addr) != NULL, "%s: %s not named: %s", what,
              addr, detail);
    cr_expect(!key || strstr(detail, key) != NULL,
              "%s: key %s not named: %s", what, key, detail);
}

rdv_store *redis_open_ok(const char *url)
{
    char err[512];
    rdv_store *s = NULL;
    int rc = rdv_store_open(url, &s, err, sizeof err);

    cr_assert_eq(rc, RDV_OK, "open %s: %s: %s", url, rdv_status_name(rc),
                 err);
    return s;
}

const char *redis_test_prefix(void)
{
    static char p[64]; /* test-only; one prefix per test process */
    struct timespec ts;

    if (!p[0]) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(p, sizeof p, "rdvtest/%d-%ld%09ld/", (int)getpid(),
                 (long)ts.tv_sec, ts.tv_nsec);
    }
    return p;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int find_redis_server(char *path, size_t cap)
{
    const char *env = getenv("PATH");
    char *dirs = strdup(env ? env : "/usr/bin:/bin"), *save = NULL;
    int found = 0;

    for (char *d = strtok_r(dirs, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(path, cap, "%s/redis-server", d);
        found = access(path, X_OK) == 0;
    }
    free(dirs);
    return found;
}

#define SPAWN_ARGS_MAX 64

static void spawn(redis_server *r, const char *exe)
{
    char port[16], log[96];
    const char *argv[SPAWN_ARGS_MAX] = {
        exe, "--port", port, "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", r->dir, "--logfile", log,
        "--daemonize", "no"};
    size_t n = 15;
    pid_t parent = getpid();

    if (r->password[0]) {
        argv[n++] = "--requirepass";
        argv[n++] = r->password;
    }
    for (size_t i = 0; r->args && r->args[i]; i++) {
        cr_assert(n + 1 < SPAWN_ARGS_MAX, "too many redis-server arguments");
        argv[n++] = r->args[i];
    }
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    r->pid = fork();
    cr_assert(r->pid >= 0, "fork: %s", strerror(errno));
    if (r->pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1); /* the test already ended */
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
}

/* PING until it answers; 0 when ready, -1 when the server exited. */
static int await_ready(redis_server *r)
{
    for (int i = 0; i < 4000; i++) {
        struct timeval tv = {1, 0};
        redisContext *c;
        int status;

        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            return -1;
        }
        c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
        if (c && !c->err) {
            redisReply *rep = redisCommand(c, "PING");
            int ok = rep && (rep->type == REDIS_REPLY_STATUS ||
                             rep->type == REDIS_REPLY_ERROR);

            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            if (ok)
                return 0;
        } else if (c) {
            redisFree(c);
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    return -1;
}

void redis_server_start(redis_server *r, int port, const char *password)
{
    char exe[256];

    redis_need(find_redis_server(exe, sizeof exe),
               "redis-server is not installed (apt-get install "
               "redis-server)");
    if (!r->dir[0]) {
        snprintf(r->dir, sizeof r->dir, "/tmp/rdv-redis-test-XXXXXX");
        cr_assert(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
    }
    snprintf(r->password, sizeof r->password, "%s",
             password ? password : "");
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = port > 0 ? port : free_port();
        cr_assert(r->port > 0, "no free loopback port");
        spawn(r, exe);
        if (await_ready(r) == 0) {
            snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d",
                     r->port);
            return;
        }
        redis_server_kill(r, SIGKILL);
    }
    cr_assert_fail("redis-server did not start; see %s/redis.log", r->dir);
}

void redis_server_kill(redis_server *r, int sig)
{
    if (r->pid > 0) {
        kill(r->pid, sig);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    r->pid = 0;
}

void redis_server_stop(redis_server *r)
{
    char path[96];

    redis_server_kill(r, SIGKILL);
    if (r->dir[0]) {
        snprintf(path, sizeof path, "%s/redis.log", r->dir);
        unlink(path);
        rmdir(r->dir);
        r->dir[0] = '\0';
    }
}

redisContext *redis_admin(const char *url)
{
    char host[64];
    int port = 0, db = 0;
    struct timeval tv = {5, 0};
    redisContext *c;

    cr_assert(sscanf(url, "redis://%63[^:]:%d/%d", host, &port, &db) >= 2,
              "cannot read host:port from %s", url);
    c = redisConnectWithTimeout(host, port, tv);
    cr_assert(c && !c->err, "admin connect to %s: %s", url,
              c ? c->errstr : "out of memory");
    if (db) {
        redisReply *rep = redisCommand(c, "SELECT %d", db);

        cr_assert(rep && rep->type == REDIS_REPLY_STATUS, "SELECT %d", db);
        freeReplyObject(rep);
    }
    return c;
}

long redis_admin_count(redisContext *c, const char *prefix)
{
    size_t plen = strlen(prefix);
    char cursor[32] = "0";
    long n = 0;

    do {
        redisReply *rep = redisCommand(c, "SCAN %s COUNT 1000", cursor);

        cr_assert(rep && rep->type == REDIS_REPLY_ARRAY &&
                  rep->elements == 2, "SCAN failed");
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            redisReply *k = rep->element[1]->element[i];

            n += k->len >= plen && memcmp(k->str, prefix, plen) == 0;
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return n;
}
