/*
 * test_restart.c - server.restart at the level it must hold: two ranks
 * rendezvous over a private redis-server that is killed and restarted
 * (no persistence, so every key is lost) while rank 0 waits for rank 1.
 * Rank 0's own record vanished; it must notice and publish it again, so
 * the rendezvous still completes (issue 7: "a rank whose own record
 * vanished while it waits must notice and republish it").
 *
 * The server is started, killed and restarted by PID through the redis
 * store tests' helper (tests/ref/stores/redis/redis_util.c), on one port.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "rdv/context.h"
#include "rdv/store.h"
#include "redis_util.h"

static redis_server srv;

static void srv_fini(void)
{
    redis_server_stop(&srv);
}

/* One rank: rendezvous over the store at url, then a barrier-free exit.
 * Exit 0 on success; otherwise the error goes to stderr, exit 1. */
static void rank_main(const char *url, int rank)
{
    char err[512];
    rdv_store *s;
    rdv_context *ctx;
    rdv_context_options o = rdv_context_options_default();
    int rc;

    o.rank = rank;
    o.size = 2;
    o.job = "restart";
    o.bind = "127.0.0.1";
    o.timeout_ms = 10000;
    if (rdv_store_open(url, &s, err, sizeof err) ||
        rdv_context_create(&o, &ctx, err, sizeof err)) {
        fprintf(stderr, "rank %d: %s\n", rank, err);
        exit(1);
    }
    rc = rdv_context_connect_full_mesh(ctx, s);
    if (rc)
        fprintf(stderr, "rank %d: %s\n", rank, rdv_context_errmsg(ctx));
    rdv_context_destroy(ctx);
    rdv_store_close(s);
    exit(rc ? 1 : 0);
}

static pid_t spawn_rank(const char *url, int rank)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0)
        rank_main(url, rank);
    return pid;
}

Test(restart, rendezvous_survives_a_redis_restart_that_lost_the_records,
     .fini = srv_fini, .timeout = 60)
{
    char url[256], err[256];
    rdv_store *watch;
    void *v = NULL;
    size_t len;
    pid_t r0, r1;
    int st0, st1, port;

    redis_server_start(&srv, 0, NULL);
    port = srv.port;
    snprintf(url, sizeof url, "%s?prefix=%s", srv.url,
             redis_test_prefix());
    url[strlen(url) - 1] = '\0'; /* the helper's prefix ends in '/' */
    r0 = spawn_rank(url, 0);
    /* Wait until rank 0 has published (a blocking get: no sleeps). */
    cr_assert_eq(rdv_store_open(url, &watch, err, sizeof err), RDV_OK, "%s",
                 err);
    cr_assert_eq(rdv_store_get(watch, "restart/addr/0", &v, &len, 10000),
                 RDV_OK, "rank 0 never published: %s",
                 rdv_store_errmsg(watch));
    free(v);
    rdv_store_close(watch);
    redis_server_kill(&srv, SIGKILL);
    redis_server_start(&srv, port, NULL); /* empty: the record is gone */
    r1 = spawn_rank(url, 1);
    cr_assert_eq(waitpid(r1, &st1, 0), r1);
    cr_assert_eq(waitpid(r0, &st0, 0), r0);
    cr_expect(WIFEXITED(st0) && WEXITSTATUS(st0) == 0,
              "rank 0 did not complete after the restart (0x%x)", st0);
    cr_expect(WIFEXITED(st1) && WEXITSTATUS(st1) == 0,
              "rank 1 did not complete: rank 0 must republish its record "
              "(0x%x)", st1);
}
