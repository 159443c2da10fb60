/*
 * test_proxy.c - rdv-proxy on real TCP: a forked echo server behind the
 * real rdv-proxy program, driven through its stdin like the harness
 * drives it. Pass-through, latency, reset (the client sees a reset) and
 * blackhole (silence, not a close; what was sent arrives once it ends)
 * each really happen.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static pid_t echo_pid = -1, proxy_pid = -1;
static int to_proxy = -1, from_proxy = -1, proxy_port;

/* Echoes every connection until EOF; one connection at a time is enough
 * for these tests. Runs in a forked child until killed. */
static void echo_main(int l)
{
    char buf[4096];

    for (int served = 0; served < 64; served++) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        ssize_t n;

        if (c < 0)
            continue;
        while ((n = read(c, buf, sizeof buf)) > 0)
            if (write(c, buf, (size_t)n) != n)
                break;
        close(c);
    }
    exit(0);
}

static int start_echo(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(l, 0);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 16), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    echo_pid = fork();
    cr_assert_geq(echo_pid, 0);
    if (echo_pid == 0)
        echo_main(l);
    close(l);
    return ntohs(a.sin_port);
}

/* One reply line from the proxy (without the newline). */
static void read_line(char *buf, size_t cap)
{
    size_t o = 0;

    while (o + 1 < cap) {
        struct pollfd p = {.fd = from_proxy, .events = POLLIN};
        ssize_t n;

        cr_assert_eq(poll(&p, 1, 10000), 1, "rdv-proxy did not answer");
        n = read(from_proxy, buf + o, 1);
        cr_assert_eq(n, 1, "rdv-proxy closed its output");
        if (buf[o] == '\n')
            break;
        o++;
    }
    buf[o] = '\0';
}

static void command(const char *cmd, const char *want)
{
    char line[256];

    cr_assert_eq(write(to_proxy, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
    cr_assert_eq(write(to_proxy, "\n", 1), 1);
    read_line(line, sizeof line);
    cr_assert(strncmp(line, want, strlen(want)) == 0,
              "'%s' answered '%s', want '%s'", cmd, line, want);
}

static void start_proxy(void)
{
    int in[2], out[2];
    char target[64], line[128];

    snprintf(target, sizeof target, "127.0.0.1:%d", start_echo());
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    proxy_pid = fork();
    cr_assert_geq(proxy_pid, 0);
    if (proxy_pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        execl(RDV_PROXY_EXE, "rdv-proxy", "--target", target, (char *)NULL);
        exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_proxy = in[1];
    from_proxy = out[0];
    read_line(line, sizeof line);
    cr_assert_eq(sscanf(line, "listening 127.0.0.1:%d", &proxy_port), 1,
                 "readiness line '%s'", line);
}

static void stop_all(void)
{
    int st;

    if (to_proxy >= 0)
        close(to_proxy); /* end of input stops the proxy */
    if (proxy_pid > 0)
        cr_assert_eq(waitpid(proxy_pid, &st, 0), proxy_pid);
    if (from_proxy >= 0)
        close(from_proxy);
    if (echo_pid > 0) {
        kill(echo_pid, SIGKILL);
        waitpid(echo_pid, &st, 0);
    }
}

static int dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)proxy_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(s, 0);
    cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    return s;
}

/* Reads up to len bytes within timeout_ms: the count, 0 on EOF, -1 on
 * error (errno set), -2 on silence. */
static ssize_t recv_within(int s, char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {.fd = s, .events = POLLIN};

    if (poll(&p, 1, timeout_ms) != 1)
        return -2;
    return recv(s, buf, len, 0);
}

/* Reads msg's echo back from s. */
static void expect_echo(int s, const char *msg)
{
    char buf[64] = "";
    size_t got = 0;

    while (got < strlen(msg)) {
        ssize_t n = recv_within(s, buf + got, sizeof buf - 1 - got, 10000);

        cr_assert_gt(n, 0, "echo through the proxy failed (%zd)", n);
        got += (size_t)n;
    }
    cr_assert(memcmp(buf, msg, got) == 0);
}

static void round_trip(int s, const char *msg)
{
    cr_assert_eq(send(s, msg, strlen(msg), MSG_NOSIGNAL),
                 (ssize_t)strlen(msg));
    expect_echo(s, msg);
}

TestSuite(proxy, .init = start_proxy, .fini = stop_all);

Test(proxy, passes_traffic_through)
{
    int s = dial();

    round_trip(s, "hello");
    round_trip(s, "again");
    close(s);
    command("stats", "ok conns=");
}

Test(proxy, latency_delays_each_direction)
{
    int s = dial();
    double t0;

    round_trip(s, "warm");
    command("latency 150", "ok latency 150");
    t0 = now_ms();
    round_trip(s, "slow");
    cr_assert_geq(now_ms() - t0, 290.0, "150 ms each way was not observed");
    command("pass", "ok pass");
    close(s);
}

Test(proxy, reset_sends_rst_to_open_connections)
{
    int s = dial();
    char buf[16];
    ssize_t n;

    round_trip(s, "before");
    command("reset", "ok reset 1");
    n = recv_within(s, buf, sizeof buf, 10000);
    cr_assert(n == -1 && errno == ECONNRESET,
              "expected ECONNRESET, got %zd (%s)", n, strerror(errno));
    close(s);
    s = dial();
    round_trip(s, "after"); /* it keeps listening */
    close(s);
}

/* Silence, not a close, and nothing lost: what was sent into the
 * blackhole arrives, on the same connection, once it ends. */
Test(proxy, blackhole_holds_traffic_until_pass)
{
    int s = dial();
    char buf[16];

    round_trip(s, "x");
    command("blackhole", "ok blackhole");
    cr_assert_eq(send(s, "held", 4, MSG_NOSIGNAL), 4);
    cr_assert_eq(recv_within(s, buf, sizeof buf, 300), -2,
                 "a blackhole must answer nothing and keep the connection");
    command("stats", "ok conns=1 accepted=1 resets=0 up=5 down=1 held=4");
    command("pass", "ok pass");
    expect_echo(s, "held");
    round_trip(s, "after");
    close(s);
    s = dial();
    round_trip(s, "back");
    close(s);
}

/* Streams len patterned bytes through the echo and checks them back,
 * writing and reading at once so neither side's buffers fill up. */
static void stream(int s, size_t len)
{
    unsigned char out[8192], in[8192];
    size_t sent = 0, got = 0;

    for (int rounds = 0; got < len && rounds < 200000; rounds++) {
        struct pollfd p = {.fd = s,
                           .events = POLLIN | (sent < len ? POLLOUT : 0)};
        ssize_t n;

        cr_assert_eq(poll(&p, 1, 10000), 1, "stalled at %zu of %zu", got,
                     len);
        if ((p.revents & POLLOUT) && sent < len) {
            size_t m = len - sent < sizeof out ? len - sent : sizeof out;

            for (size_t i = 0; i < m; i++)
                out[i] = (unsigned char)((sent + i) * 131 >> 3);
            n = send(s, out, m, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        }
        if (p.revents & POLLIN) {
            n = recv(s, in, sizeof in, MSG_DONTWAIT);
            cr_assert_gt(n, 0, "connection ended at %zu of %zu", got, len);
            for (ssize_t i = 0; i < n; i++)
                cr_assert_eq(in[i], (unsigned char)((got + (size_t)i) * 131
                                                    >> 3),
                             "byte %zu corrupted", got + (size_t)i);
            got += (size_t)n;
        }
    }
    cr_assert_eq(got, len);
}

Test(proxy, streams_megabytes_in_order_with_and_without_latency)
{
    int s = dial();

    stream(s, 4u << 20);
    command("latency 20", "ok latency 20");
    stream(s, 1u << 20);
    close(s);
}

Test(proxy, unknown_commands_are_answered_with_an_error)
{
    command("frobnicate", "error unknown command 'frobnicate'");
    command("latency -5", "error latency");
    command("latency 5x", "error latency");
    command("latency 5 6", "error latency");
    command("latency 99999999999999999999", "error latency");
    command("latency", "error latency");
    command("latency 7", "ok latency 7");
}

/* How `rdv-proxy --target TARGET [OPT VALUE]` exits (its stderr
 * silenced): the status from waitpid. */
static int proxy_exit(const char *target, const char *opt, const char *value)
{
    int st;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

        dup2(devnull, STDERR_FILENO);
        execl(RDV_PROXY_EXE, "rdv-proxy", "--target", target, opt, value,
              (char *)NULL); /* opt NULL ends the list early */
        exit(127);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

Test(proxy_cli, refuses_bad_ports)
{
    static const char *const bad[][2] = {
        {"--listen", "12x"}, {"--listen", ""}, {"--listen", "-1"},
        {"--listen", "65536"}, {"--listen", " 5"},
        {"--target", "127.0.0.1:"}, {"--target", "127.0.0.1:0"},
        {"--target", "127.0.0.1:+80"}, {"--target", "127.0.0.1:99999"},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = proxy_exit("127.0.0.1:1", bad[i][0], bad[i][1]);

        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2,
                  "%s '%s': status 0x%x", bad[i][0], bad[i][1], st);
    }
}

Test(proxy_cli, refuses_a_target_off_the_host)
{
    int st = proxy_exit("10.1.2.3:6379", NULL, NULL);

    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
}
