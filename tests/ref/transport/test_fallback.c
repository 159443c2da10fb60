/*
 * test_fallback.c - backend selection when the kernel refuses io_uring,
 * the way Docker's default seccomp profile does: a seccomp filter makes
 * io_uring_setup fail with EPERM (or ENOSYS) in a forked child. Then the
 * automatic choice must be epoll, a forced "uring" must fail with
 * RDV_ENOTSUP naming io_uring, and the data plane must still work.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context_internal.h"
#include "rdv/transport.h"

/* Every io_uring_setup returns -err; everything else is allowed. */
static int deny_io_uring(int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static rdv_context *make(int rank, const char *transport)
{
    rdv_context_options o = rdv_context_options_default();
    rdv_context *ctx;
    char err[256];

    o.rank = rank;
    o.size = 2;
    o.transport = transport;
    if (rdv_context_create(&o, &ctx, err, sizeof err) != RDV_OK)
        exit(10);
    return ctx;
}

/* In a child where io_uring_setup fails with err: checks the choice and
 * moves one message over a socketpair with the fallback. */
static int child(int err)
{
    int sv[2], fds0[2], fds1[2];
    rdv_context *a, *b, *forced;
    char msg[6] = "hello", got[6] = "";
    rdv_request rs, rr, *both[2] = {&rs, &rr};

    if (deny_io_uring(err) < 0)
        return 77;
    unsetenv("RDV_TRANSPORT");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 11;
    forced = make(0, "uring");
    fds0[0] = -1;
    fds0[1] = dup(sv[0]);
    if (rdv_context_connect_fds(forced, fds0) != RDV_ENOTSUP ||
        !strstr(rdv_context_errmsg(forced), "io_uring")) {
        fprintf(stderr, "forced: %s\n", rdv_context_errmsg(forced));
        return 12;
    }
    rdv_context_destroy(forced);
    a = make(0, NULL);
    b = make(1, NULL);
    fds0[1] = sv[0];
    fds1[0] = sv[1];
    fds1[1] = -1;
    if (rdv_context_connect_fds(a, fds0) != RDV_OK ||
        rdv_context_connect_fds(b, fds1) != RDV_OK)
        return 13;
    if (strcmp(rdv_context_transport_name(a), "epoll"))
        return 14;
    /* both ends live in this one process: post both, then wait */
    if (rdv_post_send(a, &rs, 1, msg, sizeof msg) != RDV_OK ||
        rdv_post_recv(b, &rr, 0, got, sizeof got) != RDV_OK ||
        rdv_wait(a, both, 1, 10000) != RDV_OK ||
        rdv_wait(b, both + 1, 1, 10000) != RDV_OK || strcmp(got, "hello"))
        return 15;
    rdv_context_destroy(a);
    rdv_context_destroy(b);
    return 0;
}

static void run(int err)
{
    pid_t pid = fork();
    int st;

    cr_assert_geq(pid, 0);
    if (pid == 0)
        exit(child(err));
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "child status %#x", st);
    if (WEXITSTATUS(st) == 77)
        cr_skip_test("seccomp filters are not available here");
    cr_expect_eq(WEXITSTATUS(st), 0, "child failed at step %d",
                 WEXITSTATUS(st));
}

Test(fallback, eperm_selects_epoll) { run(EPERM); }
Test(fallback, enosys_selects_epoll) { run(ENOSYS); }
