/*
 * tests/fuzz/fuzz_tcp_server.c - the tcp:// store server's request path
 * (server/loop.c and serve.c over stores/tcp_codec.c), driven as a
 * stranger on its port drives it: over a real TCP connection to a live
 * server in this process.
 *
 * One server runs for the whole fuzzing session (token "s3cret", the
 * defaults otherwise). Each input is the bytes a client sends on a new
 * connection, followed by its half-close; then the target reads what
 * the server answers until the server closes.
 *
 * Properties: the server answers or closes, and within a bound (it
 * closes once the client's bytes are spent: a parked request goes with
 * its client); everything it sends is a stream of whole, well-formed
 * reply frames, each with the id of a request the client sent; and it
 * stays alive for others: after every input a tcp:// handle (connected
 * once, like a long-lived rank) sets a key and reads it back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "rdv/clock.h"
#include "rdv/status.h"
#include "rdv/store.h"
#include "rdv/store_server.h"
#include "stores/tcp_codec.h"

#define CLOSE_BOUND_NS (8 * 1000000000LL) /* under libFuzzer's -timeout */
#define MAX_IDS (8192 / RDV_TCP_HDR + 1)

static rdv_store_server *server;
static rdv_store *client; /* the long-lived handle of the liveness check */
static struct sockaddr_in server_addr;

static void start(void)
{
    rdv_store_server_options o = rdv_store_server_options_default();
    char err[512], url[160];
    const char *addr, *colon;

    o.token = "s3cret";
    if (rdv_store_server_start(&o, &server, err, sizeof err)) {
        fprintf(stderr, "fuzz_tcp_server: start: %s\n", err);
        abort();
    }
    addr = rdv_store_server_address(server);
    colon = strrchr(addr, ':');
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)atoi(colon + 1));
    server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(url, sizeof url, "tcp://%s?token=s3cret&timeout_ms=5000", addr);
    if (rdv_store_open(url, &client, err, sizeof err)) {
        fprintf(stderr, "fuzz_tcp_server: open %s: %s\n", url, err);
        abort();
    }
}

/* The ids of the whole request frames at the head of d. */
static size_t request_ids(const uint8_t *d, size_t len, uint64_t *ids)
{
    size_t off = 0, n = 0;

    while (n < MAX_IDS) {
        rdv_tcp_msg m;
        size_t used = 0;
        char why[256];

        if (rdv_tcp_decode(d + off, len - off, RDV_TCP_BODY_MAX, &m, &used,
                           why, sizeof why) != RDV_OK)
            break;
        ids[n++] = m.id;
        off += used;
    }
    return n;
}

/* connect(), through a signal: libFuzzer's timer (SIGALRM, every
 * second) can interrupt it on a loaded machine, and the connection then
 * goes on in the background; its outcome is SO_ERROR once writable. */
static int connect_server(int fd)
{
    struct pollfd p = {fd, POLLOUT, 0};
    socklen_t len = sizeof(int);
    int err = 0;

    if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) ==
        0)
        return 0;
    if (errno != EINTR)
        return -1;
    while (poll(&p, 1, -1) < 0)
        if (errno != EINTR)
            return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    errno = err;
    return err ? -1 : 0;
}

static void send_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server dropped us mid-way: allowed */
        p += w;
        len -= (size_t)w;
    }
}

/* Reads everything the server sends until it closes; FUZZ_CHECKs it
 * closes within the bound. Returns the bytes (malloc'd) in *out; *reset
 * says the close was a reset (which may discard the tail unread). */
static size_t read_until_closed(int fd, uint8_t **out, int *reset)
{
    int64_t end = rdv_now_ns() + CLOSE_BOUND_NS;
    size_t len = 0, cap = 4096;
    uint8_t *buf = malloc(cap);

    if (!buf)
        abort();
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = end - rdv_now_ns();
        ssize_t r;

        FUZZ_CHECK(left > 0, "the server neither closed nor answered "
                   "within %lld s of the client's half-close",
                   CLOSE_BOUND_NS / 1000000000LL);
        if (poll(&p, 1, (int)(left / 1000000 + 1)) <= 0)
            continue;
        if (len == cap && !(buf = realloc(buf, cap *= 2)))
            abort();
        r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *reset = r < 0;
            break;
        }
        len += (size_t)r;
    }
    *out = buf;
    return len;
}

static void check_replies(const uint8_t *d, size_t len, const uint64_t *ids,
                          size_t nids, int reset)
{
    size_t off = 0;

    while (off < len) {
        rdv_tcp_msg m;
        size_t used = 0, i;
        char why[256] = "";
        int rc = rdv_tcp_decode(d + off, len - off, RDV_TCP_BODY_MAX, &m,
                                &used, why, sizeof why);

        if (rc == RDV_TCP_NEED_MORE && reset)
            break; /* the reset cut what was still on its way */

        FUZZ_CHECK(rc == RDV_OK, "the server sent %zu bytes that are no "
                   "whole reply frame at offset %zu (%d: %s)", len - off,
                   off, rc, why);
        FUZZ_CHECK(m.reply, "the server sent a %s request",
                   rdv_tcp_op_name(m.op));
        for (i = 0; i < nids && ids[i] != m.id; i++)
            ;
        FUZZ_CHECK(i < nids, "a %s reply with id %llu, which no request "
                   "had", rdv_tcp_op_name(m.op), (unsigned long long)m.id);
        off += used;
    }
}

/* The server still serves others: a set and a get on the long-lived
 * handle. Every 1024 inputs it also empties the table, which the
 * inputs' own sets would grow for the whole session. */
static void check_alive(void)
{
    static unsigned long n;
    char val[32];
    void *got = NULL;
    size_t len = 0, deleted;
    int rc, vlen = snprintf(val, sizeof val, "%lu", ++n);

    rc = rdv_store_set(client, "fuzz/alive", val, (size_t)vlen, 0);
    FUZZ_CHECK(rc == RDV_OK, "set after the input: %s",
               rdv_store_errmsg(client));
    rc = rdv_store_get(client, "fuzz/alive", &got, &len, 5000);
    FUZZ_CHECK(rc == RDV_OK && len == (size_t)vlen &&
                   memcmp(got, val, len) == 0,
               "get after the input: %s", rdv_store_errmsg(client));
    free(got);
    if (n % 1024 == 0)
        FUZZ_CHECK(rdv_store_delete_prefix(client, "", &deleted) == RDV_OK,
                   "delete_prefix: %s", rdv_store_errmsg(client));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t ids[MAX_IDS];
    size_t nids, got;
    uint8_t *reply;
    int fd, reset = 0;

    if (!server)
        start();
    nids = request_ids(data, size, ids);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
    FUZZ_CHECK(connect_server(fd) == 0, "connect: %s", strerror(errno));
    send_all(fd, data, size);
    shutdown(fd, SHUT_WR);
    got = read_until_closed(fd, &reply, &reset);
    close(fd);
    check_replies(reply, got, ids, nids, reset);
    free(reply);
    check_alive();
    return 0;
}
