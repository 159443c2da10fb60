/*
 * ranks.c - see ranks.h. Children report through their exit code and
 * print the context's error to stderr when they fail.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ranks.h"

void mesh_socketpair(int n, int fds[MAXN][MAXN])
{
    for (int i = 0; i < n; i++)
        fds[i][i] = -1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int sv[2];
            cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
            fds[i][j] = sv[0];
            fds[j][i] = sv[1];
        }
}

void mesh_tcp(int n, int fds[MAXN][MAXN])
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 64), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    for (int i = 0; i < n; i++)
        fds[i][i] = -1;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
            fds[j][i] = c;
            fds[i][j] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            cr_assert_geq(fds[i][j], 0);
        }
    close(l);
}

static void child(int r, int n, int fds[MAXN][MAXN], const run_opts *o,
                  rank_fn fn, void *arg)
{
    rdv_context_options co = rdv_context_options_default();
    rdv_context *ctx;
    char err[256];
    int code;

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != r && fds[i][j] >= 0)
                close(fds[i][j]);
    if (o->hold_fd >= 0)
        close(o->hold_fd);
    co.rank = r;
    co.size = n;
    co.transport = o->backend;
    co.hooks = o->hooks;
    if (rdv_context_create(&co, &ctx, err, sizeof err) != RDV_OK)
        exit(10);
    if (rdv_context_connect_fds(ctx, fds[r]) != RDV_OK) {
        fprintf(stderr, "rank %d: %s\n", r, rdv_context_errmsg(ctx));
        exit(11);
    }
    if (o->backend && strcmp(rdv_context_transport_name(ctx), o->backend))
        exit(12);
    code = fn(ctx, r, n, arg);
    rdv_context_destroy(ctx);
    exit(code);
}

void run_ranks_opts(int n, int fds[MAXN][MAXN], const run_opts *o,
                    rank_fn fn, void *arg)
{
    pid_t pids[MAXN];

    for (int r = 0; r < n; r++) {
        pids[r] = fork();
        cr_assert_geq(pids[r], 0);
        if (pids[r] == 0)
            child(r, n, fds, o, fn, arg);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (fds[i][j] >= 0)
                close(fds[i][j]);
    for (int r = 0; r < n; r++) {
        int st;

        if (o->victims & (1u << r))
            continue;
        cr_assert_eq(waitpid(pids[r], &st, 0), pids[r]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "rank %d ended with status %#x", r, st);
        if (r == 0 && o->hold_fd >= 0)
            close(o->hold_fd);
    }
    for (int r = 0; r < n; r++) {
        if (!(o->victims & (1u << r)))
            continue;
        kill(pids[r], SIGKILL);
        cr_assert_eq(waitpid(pids[r], NULL, 0), pids[r]);
    }
}
