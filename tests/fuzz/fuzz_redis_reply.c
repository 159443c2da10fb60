/*
 * tests/fuzz/fuzz_redis_reply.c - the redis store's reply path: the
 * bytes a redis server (or whatever listens on its address) answers,
 * through hiredis's reader and rdv's handling of each reply type in
 * stores/redis*.c, exactly as a real handle meets them.
 *
 * No seam and no mock: a thread of this process plays the server on a
 * unix socket. It parses each command the store sends (with hiredis's
 * reader, as a server would) and answers it with the next reply the
 * input holds; the store is a real unix:// handle opened and used
 * through the public API. After the last reply the fake server closes
 * the connection; a command after that (on a new connection) gets
 * "-ERR fuzz: no more replies", so every call ends promptly.
 *
 * Input: byte 0 picks the op (low 4 bits, see ops[]) and, with bit 7,
 * a handle whose URL has a password and a db (so each connection starts
 * with AUTH and SELECT). The rest is the replies, in the order the
 * commands come (the PING of rdv_store_open first), separated by "@@@@"
 * (no RESP type byte, so a dictionary can splice it in).
 *
 * Properties: an open or op that fails returns a status the store may
 * return for a server's answer (EPROTO, EIO, ECONN, ETIMEDOUT, EAUTH,
 * EINVAL, EEXIST) with a non-empty message; one that succeeds returns
 * what the server said: a get's value is the bytes of the bulk string
 * that answered its GET (round trip through the reply's own framing),
 * an add's result the integer that answered INCRBY, and every value or
 * key handed out is NUL-terminated as rdv/store.h promises; a
 * delete_prefix sends DEL only for keys (never the empty name an entry
 * that is no string would give). libFuzzer's
 * -malloc_limit_mb bounds what a length field can make rdv allocate.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"
#include "rdv/status.h"
#include "rdv/store.h"

#define SEP "@@@@"
#define MAX_REPLIES 64
#define MAX_CONNS 8
#define MAX_LOG 256
#define TIMEOUT_MS "10" /* bounds every wait of a call: a stuck one ends */

/* ---- the fake server (its own thread) ---- */

typedef struct fake_conn {
    int fd;
    unsigned gen; /* the input it belongs to */
    redisReader *rd;
} fake_conn;

static struct {
    pthread_mutex_t mu;
    char path[108];
    int lfd;
    unsigned gen; /* changes when an input starts or ends */
    const uint8_t *rep[MAX_REPLIES];
    size_t rep_len[MAX_REPLIES], nrep, next;
    /* which reply answered which command, for the round-trip checks */
    char cmd[MAX_LOG][16];
    int cmd_rep[MAX_LOG]; /* index into rep; -1: "no more replies" */
    size_t ncmd;
    int empty_del; /* a DEL named the empty key (never rdv's) */
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER, .lfd = -1};

static void conn_close(fake_conn *c)
{
    close(c->fd);
    redisReaderFree(c->rd);
    c->fd = -1;
    c->rd = NULL;
}

static void send_all(int fd, const void *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the store went away: its problem, not ours */
        p = (const char *)p + w;
        len -= (size_t)w;
    }
}

/* Answers one parsed command; returns 1 when the connection must close
 * (its input's last reply went out, or the input is over). */
static int answer(fake_conn *c, redisReply *cmd)
{
    static const char none[] = "-ERR fuzz: no more replies\r\n";
    int close_it = 0, idx = -1;

    pthread_mutex_lock(&fake.mu);
    if (c->gen != fake.gen) {
        pthread_mutex_unlock(&fake.mu);
        return 1;
    }
    if (fake.next < fake.nrep) {
        idx = (int)fake.next++;
        send_all(c->fd, fake.rep[idx], fake.rep_len[idx]);
        close_it = fake.next == fake.nrep;
    } else {
        send_all(c->fd, none, sizeof none - 1);
    }
    if (fake.ncmd < MAX_LOG) {
        const char *name = "?";

        if (cmd->type == REDIS_REPLY_ARRAY && cmd->elements > 0 &&
            cmd->element[0]->type == REDIS_REPLY_STRING)
            name = cmd->element[0]->str;
        for (size_t i = 1; strcasecmp(name, "DEL") == 0 &&
                           i < cmd->elements; i++)
            if (cmd->element[i]->len == 0)
                fake.empty_del = 1;
        snprintf(fake.cmd[fake.ncmd], sizeof fake.cmd[0], "%s", name);
        fake.cmd_rep[fake.ncmd++] = idx;
    }
    pthread_mutex_unlock(&fake.mu);
    return close_it;
}

static void conn_read(fake_conn *c)
{
    char buf[65536];
    ssize_t r = read(c->fd, buf, sizeof buf);
    void *cmd;

    if (r < 0 && errno == EINTR)
        return;
    if (r <= 0 || redisReaderFeed(c->rd, buf, (size_t)r) != REDIS_OK) {
        conn_close(c);
        return;
    }
    for (;;) {
        cmd = NULL;
        if (redisReaderGetReply(c->rd, &cmd) != REDIS_OK) {
            conn_close(c); /* rdv sent something that is no command */
            return;
        }
        if (!cmd)
            return;
        int done = answer(c, cmd);

        freeReplyObject(cmd);
        if (done) {
            conn_close(c);
            return;
        }
    }
}

static void *fake_main(void *arg)
{
    fake_conn conns[MAX_CONNS];

    (void)arg;
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i] = (fake_conn){-1, 0, NULL};
    for (;;) {
        struct pollfd p[MAX_CONNS + 1];

        p[0] = (struct pollfd){fake.lfd, POLLIN, 0};
        for (int i = 0; i < MAX_CONNS; i++)
            p[i + 1] = (struct pollfd){conns[i].fd, POLLIN, 0};
        if (poll(p, MAX_CONNS + 1, -1) < 0)
            continue;
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i].fd >= 0 && p[i + 1].revents)
                conn_read(&conns[i]);
        if (p[0].revents & POLLIN) {
            int fd = accept4(fake.lfd, NULL, NULL, SOCK_CLOEXEC), slot = -1;

            if (fd < 0)
                continue;
            for (int i = 0; i < MAX_CONNS && slot < 0; i++)
                if (conns[i].fd < 0)
                    slot = i;
            if (slot < 0) { /* a store keeps one: these are leftovers */
                slot = 0;
                conn_close(&conns[0]);
            }
            pthread_mutex_lock(&fake.mu);
            conns[slot] = (fake_conn){fd, fake.gen, redisReaderCreate()};
            pthread_mutex_unlock(&fake.mu);
            if (!conns[slot].rd)
                abort();
        }
    }
    return NULL;
}

static void fake_start(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    pthread_t t;

    snprintf(fake.path, sizeof fake.path, "/tmp/rdv-fuzz-redis-%d.sock",
             (int)getpid());
    unlink(fake.path);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", fake.path);
    fake.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fake.lfd < 0 || bind(fake.lfd, (struct sockaddr *)&a, sizeof a) ||
        listen(fake.lfd, 16) || pthread_create(&t, NULL, fake_main, NULL)) {
        perror("fuzz_redis_reply: the fake server");
        abort();
    }
    pthread_detach(t);
}

static void unlink_path(void)
{
    unlink(fake.path);
}

/* ---- the store's side ---- */

enum { OP_OPEN, OP_SET, OP_SET_NX, OP_GET, OP_ADD, OP_CAS, OP_CAS_NEW,
       OP_DEL, OP_WAIT, OP_MGET, OP_MSET, OP_LIST, OP_NKEYS, OP_DELPFX,
       OP_END };

/* The reply that answered the last command named cmd, or NULL. */
static const uint8_t *reply_to(const char *cmd, size_t *len)
{
    const uint8_t *r = NULL;

    pthread_mutex_lock(&fake.mu);
    for (size_t i = fake.ncmd; i-- > 0;) {
        if (strcasecmp(fake.cmd[i], cmd) != 0)
            continue;
        if (fake.cmd_rep[i] >= 0) {
            *len = fake.rep_len[fake.cmd_rep[i]];
            r = fake.rep[fake.cmd_rep[i]];
        }
        break;
    }
    pthread_mutex_unlock(&fake.mu);
    return r;
}

/* A get's value must be the payload of the bulk string that answered
 * its GET: "$<n>\r\n", then the n bytes. (hiredis skips the two bytes
 * after the payload without looking at them, so they are not checked:
 * a lenient reader, not rdv's to fix.) */
static void check_bulk(const char *cmd, const void *val, size_t len)
{
    size_t rlen = 0;
    const uint8_t *r = reply_to(cmd, &rlen), *eol;

    FUZZ_CHECK(r != NULL, "a %s succeeded without a reply", cmd);
    FUZZ_CHECK(rlen > 0 && r[0] == '$', "a %s value from a reply that is "
               "no bulk string", cmd);
    eol = memmem(r, rlen, "\r\n", 2);
    FUZZ_CHECK(eol && (size_t)(eol + 2 - r) + len + 2 <= rlen &&
                   memcmp(eol + 2, val, len) == 0,
               "a %s value of %zu bytes is not what the server sent", cmd,
               len);
    FUZZ_CHECK(((const char *)val)[len] == '\0', "value not terminated");
}

static void check_int(const char *cmd, long long v)
{
    size_t rlen = 0;
    const uint8_t *r = reply_to(cmd, &rlen);
    char num[32];
    int n = snprintf(num, sizeof num, ":%lld\r\n", v);

    FUZZ_CHECK(r != NULL, "a %s succeeded without a reply", cmd);
    /* hiredis reads integers strictly: the text is the canonical one. */
    FUZZ_CHECK(rlen >= (size_t)n && memcmp(r, num, (size_t)n) == 0,
               "%s gave %lld, not what the server sent", cmd, v);
}

static void check_fail(rdv_store *s, int rc, const char *what)
{
    FUZZ_CHECK(rc == RDV_EPROTO || rc == RDV_EIO || rc == RDV_ECONN ||
                   rc == RDV_ETIMEDOUT || rc == RDV_EAUTH ||
                   rc == RDV_EINVAL || rc == RDV_EEXIST,
               "%s failed with %s", what, rdv_status_name(rc));
    FUZZ_CHECK(rdv_store_errmsg(s)[0] != '\0', "%s failed (%s) without a "
               "message", what, rdv_status_name(rc));
}

static void run_op(rdv_store *s, int op)
{
    static const char *const keys[] = {"k/a", "k/b", "k/c"};
    static const void *const vals[] = {"1", "22", "333"};
    static const size_t lens[] = {1, 2, 3};
    void *val = NULL, *mv[3] = {0};
    size_t len = 0, ml[3] = {0}, n = 0, deleted = 0;
    int64_t num = 0;
    char **list = NULL;
    int won = -1, rc = RDV_OK;

    switch (op) {
    case OP_OPEN:
        return;
    case OP_SET:
    case OP_SET_NX:
        rc = rdv_store_set(s, "k", "v", 1,
                           op == OP_SET_NX ? RDV_SET_CREATE_ONLY : 0);
        break;
    case OP_GET:
        rc = rdv_store_get(s, "k", &val, &len, 0);
        if (rc == RDV_OK)
            check_bulk("GET", val, len);
        break;
    case OP_ADD:
        rc = rdv_store_add(s, "k", 3, &num);
        if (rc == RDV_OK)
            check_int("INCRBY", num);
        break;
    case OP_CAS:
    case OP_CAS_NEW:
        rc = rdv_store_compare_set(s, "k", op == OP_CAS ? "old" : NULL, 3,
                                   "new", 3, &won, &val, &len);
        if (rc == RDV_OK) {
            FUZZ_CHECK(won == 0 || won == 1, "won is %d", won);
            if (won)
                FUZZ_CHECK(val && len == 3 && memcmp(val, "new", 4) == 0,
                           "a won compare_set hands back another value");
            if (val)
                FUZZ_CHECK(((char *)val)[len] == '\0',
                           "current value not terminated");
            else
                FUZZ_CHECK(len == 0, "no value but %zu bytes", len);
        }
        break;
    case OP_DEL:
        rc = rdv_store_delete(s, "k");
        break;
    case OP_WAIT:
        rc = rdv_store_wait(s, keys, 3, 0);
        break;
    case OP_MGET:
        rc = rdv_store_multi_get(s, keys, 3, mv, ml, 0);
        for (int i = 0; rc == RDV_OK && i < 3; i++)
            FUZZ_CHECK(mv[i] && ((char *)mv[i])[ml[i]] == '\0',
                       "value %d missing or not terminated", i);
        break;
    case OP_MSET:
        rc = rdv_store_multi_set(s, keys, vals, lens, 3);
        break;
    case OP_LIST:
        rc = rdv_store_list(s, "k/", &list, &n);
        for (size_t i = 0; rc == RDV_OK && i < n; i++)
            FUZZ_CHECK(list[i] != NULL, "key %zu is NULL", i);
        if (rc == RDV_OK)
            rdv_store_list_free(list, n);
        break;
    case OP_NKEYS:
        rc = rdv_store_num_keys(s, &num);
        if (rc == RDV_OK)
            check_int("DBSIZE", num);
        break;
    case OP_DELPFX:
        rc = rdv_store_delete_prefix(s, "k/", &deleted);
        pthread_mutex_lock(&fake.mu);
        FUZZ_CHECK(!fake.empty_del, "delete_prefix sent DEL \"\" for a "
                   "SCAN page entry that is no key");
        pthread_mutex_unlock(&fake.mu);
        break;
    }
    if (rc != RDV_OK)
        check_fail(s, rc, "an op");
    free(val);
    for (int i = 0; i < 3; i++)
        free(mv[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char url[2][256];
    uint8_t *copy;
    const uint8_t *p, *end;
    rdv_store *s = NULL;
    char err[512] = "";
    int op, login, rc;

    if (size < 1)
        return 0;
    if (fake.lfd < 0) {
        fake_start();
        atexit(unlink_path);
        snprintf(url[0], sizeof url[0], "unix://%s?timeout_ms=" TIMEOUT_MS,
                 fake.path);
        snprintf(url[1], sizeof url[1],
                 "unix://%s?timeout_ms=" TIMEOUT_MS "&password=pw&db=2",
                 fake.path);
    }
    op = (data[0] & 15) % OP_END;
    login = data[0] >> 7;
    copy = malloc(size); /* the replies, each ending where ASan sees */
    if (!copy)
        abort();
    memcpy(copy, data + 1, size - 1);
    pthread_mutex_lock(&fake.mu);
    fake.gen++;
    fake.nrep = fake.next = fake.ncmd = 0;
    fake.empty_del = 0;
    p = copy;
    end = copy + size - 1;
    while (fake.nrep < MAX_REPLIES) {
        const uint8_t *sep = memmem(p, (size_t)(end - p), SEP, 4);

        fake.rep[fake.nrep] = p;
        fake.rep_len[fake.nrep++] = (size_t)((sep ? sep : end) - p);
        if (!sep)
            break;
        p = sep + 4;
    }
    pthread_mutex_unlock(&fake.mu);

    rc = rdv_store_open(url[login], &s, err, sizeof err);
    if (rc != RDV_OK) {
        FUZZ_CHECK(rc == RDV_EPROTO || rc == RDV_EIO || rc == RDV_ECONN ||
                       rc == RDV_ETIMEDOUT || rc == RDV_EAUTH ||
                       rc == RDV_EINVAL,
                   "open failed with %s: %s", rdv_status_name(rc), err);
        FUZZ_CHECK(fuzz_msg_ok(err, sizeof err), "open failed (%s) without "
                   "a message", rdv_status_name(rc));
    } else {
        run_op(s, op);
        rdv_store_close(s);
    }

    pthread_mutex_lock(&fake.mu); /* no reply of this input goes out now */
    fake.gen++;
    fake.nrep = fake.next = 0;
    pthread_mutex_unlock(&fake.mu);
    free(copy);
    return 0;
}
