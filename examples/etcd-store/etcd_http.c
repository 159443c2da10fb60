/*
 * etcd_http.c - the etcd plugin's way to the cluster: JSON over HTTP to
 * etcd's v3 gateway with libcurl, one pooled connection per concurrent
 * call, failover across the endpoints, and watch streams.
 *
 * Choices:
 * - Each pooled connection is a curl easy handle with a multi handle of
 *   its own, driven by curl_multi_poll() with the cancel eventfd as an
 *   extra fd: a wait ends at its deadline to the millisecond, cancel()
 *   wakes every blocked call at once, and EINTR inside the poll is
 *   retried by libcurl (the loop recomputes what is left, so a signal
 *   never stretches or ends a wait). The pool keeps connections alive
 *   between calls; a call aborted mid-transfer leaves curl to close it.
 * - Failover: a refused connection (nothing was sent), a connection that
 *   broke or went silent mid-call, and an "unavailable" answer (gRPC
 *   code 14: no leader, leader changed, request timed out, server
 *   stopping; or code 1, the gateway's link to a stopping server cut
 *   under the request) move the handle's preferred endpoint to the next one and
 *   try again there; after a whole round of endpoints failed, a
 *   jittered backoff (10 ms doubling to 200 ms) separates rounds, until
 *   the call's deadline. Any other refusal is final: resending would get
 *   the same answer.
 * - Silence: a call whose connection moves no byte for a patience is
 *   abandoned and sent elsewhere, so a member that is stopped, cut off
 *   from the leader or waiting on a dead one does not hold the call
 *   until etcd's own 7 s request timeout. The patience is 2 s plus 50 ms
 *   per MiB sent (the gateway takes seconds to decode, commit and
 *   encode a 64 MiB value, silently), doubling for each silent try of
 *   the call, so a slow but live server answers on a later try. Watch
 *   streams have no patience: silence is what a wait is made of.
 * - A write abandoned after it may have reached the server, or answered
 *   "unavailable", may still be applied: the reply says unsure, and the
 *   op decides (etcd_kv.c: guarded writes cannot apply twice).
 * - libcurl resends a request on its own when the kept-alive connection
 *   it went out on dies before any reply byte ("Connection died,
 *   retrying a fresh connect"), and reports only how that second try
 *   ended. So each request curl sends is counted (CURLOPT_PREREQFUNCTION):
 *   a transfer that sent more than one is unsure, and a refused connect
 *   after one went out is a lost connection, not "nothing was sent".
 *   Without this, an etcd killed after applying an add's txn and before
 *   replying made the add's resend look like a race lost to another
 *   writer, and the add was applied twice.
 * - Every socket is made close-on-exec (CURLOPT_OPENSOCKETFUNCTION), no
 *   proxy from the environment is used, and "Expect: 100-continue" is
 *   off (curl would wait up to 1 s for it before sending a large body).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "etcd_store.h"

#define PATIENCE_FIRST_NS 2000000000LL /* 2 s */
#define PATIENCE_PER_MIB_NS 50000000LL /* + 50 ms per MiB sent */
#define PATIENCE_MAX_NS 16000000000LL  /* 16 s */
#define IO_PER_MIB_NS 100000000LL      /* 100 ms per MiB a call carries */
#define CONNECT_MAX_MS 1000
#define ROUND_BACKOFF_FIRST_MS 10
#define ROUND_BACKOFF_MAX_MS 200
#define GRPC_UNAVAILABLE 14
/* The gateway's own gRPC connection to its server was closed under the
 * request ("grpc: the client connection is closing", HTTP 408): the
 * server is stopping, as under server.restart. Retried like
 * unavailable; a write's outcome is then unknown. */
#define GRPC_CANCELED 1
#define LARGE_REQUEST (1024 * 1024)

struct etcd_conn {
    CURL *easy;
    CURLM *multi;
    struct curl_slist *headers;
    etcd_conn *next;
};

/* How one transfer ended. */
enum xfer {
    XFER_DONE,     /* a whole reply came (any HTTP status) */
    XFER_REFUSED,  /* no connection: nothing was sent */
    XFER_LOST,     /* the connection broke during the call */
    XFER_STALLED,  /* no byte moved for the patience */
    XFER_TIMEDOUT, /* the call's deadline came */
    XFER_CANCELED,
    XFER_STOPPED, /* the stream's reader ended it */
    XFER_NOMEM,
};

/* Where a reply goes: the whole body, or line by line for a stream. */
typedef struct sink {
    char *buf;
    size_t len, cap;
    int (*on_line)(void *arg, json_t *line);
    void *arg;
    int line_rc; /* 1 stop, < 0 failed, 0 going on */
    int nomem;
    int64_t last_move; /* when a byte last moved either way */
    curl_off_t ul, dl;
    int requests; /* sent in this transfer, curl's own resends included */
} sink;

/* ---- callbacks ------------------------------------------------------ */

static curl_socket_t open_socket(void *arg, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
    (void)arg;
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                    curl_off_t ultotal, curl_off_t ulnow)
{
    sink *k = arg;

    (void)dltotal;
    (void)ultotal;
    if (dlnow != k->dl || ulnow != k->ul) {
        k->dl = dlnow;
        k->ul = ulnow;
        k->last_move = kit_now_ns();
    }
    return 0;
}

/* Called as each request goes out, curl's own resends included. */
static int on_request(void *arg, char *ip, char *local_ip, int port,
                      int local_port)
{
    sink *k = arg;

    (void)ip;
    (void)local_ip;
    (void)port;
    (void)local_port;
    k->requests++;
    return CURL_PREREQFUNC_OK;
}

/* Hands every complete line of a stream to its reader. */
static void feed_lines(sink *k)
{
    char *start = k->buf, *nl;

    while (!k->line_rc && (nl = memchr(start, '\n', k->len -
                                                    (size_t)(start -
                                                             k->buf)))) {
        json_error_t jerr;
        json_t *line = json_loadb(start, (size_t)(nl - start), 0, &jerr);

        if (!line)
            k->line_rc = kit_fail(RDV_EPROTO, "watch stream: unreadable "
                                  "JSON line: %s", jerr.text);
        else
            k->line_rc = k->on_line(k->arg, line);
        json_decref(line);
        start = nl + 1;
    }
    k->len -= (size_t)(start - k->buf);
    memmove(k->buf, start, k->len);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    sink *k = arg;
    size_t n = size * nmemb;

    if (k->len + n + 1 > k->cap) {
        size_t cap = k->cap ? k->cap : 4096;
        char *grown;

        while (cap < k->len + n + 1)
            cap *= 2;
        if (!(grown = realloc(k->buf, cap))) {
            k->nomem = 1;
            return 0; /* curl ends the transfer: CURLE_WRITE_ERROR */
        }
        k->buf = grown;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, p, n);
    k->len += n;
    k->last_move = kit_now_ns();
    if (k->on_line) {
        feed_lines(k);
        if (k->line_rc)
            return 0; /* ends the stream */
    }
    return n;
}

/* ---- the connection pool --------------------------------------------- */

static void conn_free(etcd_conn *c)
{
    if (!c)
        return;
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c);
}

static etcd_conn *conn_new(void)
{
    etcd_conn *c = calloc(1, sizeof *c);
    struct curl_slist *h;

    if (!c || !(c->easy = curl_easy_init()) ||
        !(c->multi = curl_multi_init()) ||
        !(h = curl_slist_append(NULL, "Content-Type: application/json")))
        goto fail;
    c->headers = h;
    if (!(h = curl_slist_append(c->headers, "Expect:")))
        goto fail;
    c->headers = h;
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c->easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    return c;
fail:
    conn_free(c);
    return NULL;
}

static etcd_conn *conn_get(etcd_store *s)
{
    etcd_conn *c;

    pthread_mutex_lock(&s->pool_lock);
    c = s->pool;
    if (c)
        s->pool = c->next;
    pthread_mutex_unlock(&s->pool_lock);
    return c ? c : conn_new();
}

static void conn_put(etcd_store *s, etcd_conn *c)
{
    pthread_mutex_lock(&s->pool_lock);
    c->next = s->pool;
    s->pool = c;
    pthread_mutex_unlock(&s->pool_lock);
}

void etcd_pool_free(etcd_store *s)
{
    while (s->pool) {
        etcd_conn *c = s->pool;

        s->pool = c->next;
        conn_free(c);
    }
}

/* ---- one transfer ----------------------------------------------------- */

static enum xfer classify(CURLcode res, const sink *k)
{
    switch (res) {
    case CURLE_OK:
        return XFER_DONE;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT: /* the connect (exchange() tells a cut by
                                    * the call's own deadline apart) */
        return XFER_REFUSED;
    case CURLE_WRITE_ERROR:
        return k->nomem ? XFER_NOMEM : XFER_LOST;
    default:
        return XFER_LOST;
    }
}

/* POSTs body to url on c and drives it until it ends, the deadline, a
 * cancel, or patience_ns of silence (0: no patience). why gets curl's
 * reason for a failed transfer. */
static enum xfer exchange(etcd_store *s, etcd_conn *c, const char *url,
                          const char *body, size_t len, int64_t deadline,
                          int64_t patience_ns, sink *k, long *http,
                          char *why, size_t whylen)
{
    struct curl_waitfd wfd = {.fd = s->cancel_fd, .events = CURL_WAIT_POLLIN};
    char errbuf[CURL_ERROR_SIZE] = "";
    int left = kit_left_ms(deadline), running = 1;
    CURLcode res = CURLE_OK;
    enum xfer out;

    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c->easy, CURLOPT_XFERINFODATA, k);
    curl_easy_setopt(c->easy, CURLOPT_PREREQFUNCTION, on_request);
    curl_easy_setopt(c->easy, CURLOPT_PREREQDATA, k);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(left < 0 || left > CONNECT_MAX_MS ? CONNECT_MAX_MS
                            : left > 0 ? left : 1));
    k->last_move = kit_now_ns();
    if (atomic_load(&s->canceled))
        return XFER_CANCELED;
    if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
        return XFER_NOMEM;
    for (;;) {
        int64_t now, wait;
        CURLMsg *m;
        int queued;

        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            out = XFER_LOST;
            break;
        }
        if (k->line_rc) {
            out = XFER_STOPPED;
            break;
        }
        if (!running) {
            while ((m = curl_multi_info_read(c->multi, &queued)))
                if (m->msg == CURLMSG_DONE)
                    res = m->data.result;
            out = classify(res, k);
            /* A connect cut short by the call's own deadline (its timeout
             * was the time left) is the deadline coming, not a refusal:
             * a wait of 1 ms must end RDV_ETIMEDOUT, not RDV_ECONN. */
            if (res == CURLE_OPERATION_TIMEDOUT && left >= 0 &&
                left <= CONNECT_MAX_MS)
                out = XFER_TIMEDOUT;
            /* A request went out first (curl's resend was refused): it
             * may have been applied. */
            else if (out == XFER_REFUSED && k->requests)
                out = XFER_LOST;
            break;
        }
        now = kit_now_ns();
        if (atomic_load(&s->canceled)) {
            out = XFER_CANCELED;
            break;
        }
        if (now >= deadline) {
            out = XFER_TIMEDOUT;
            break;
        }
        wait = deadline - now;
        if (patience_ns) {
            int64_t quiet = now - k->last_move;

            if (quiet >= patience_ns) {
                out = XFER_STALLED;
                break;
            }
            if (patience_ns - quiet < wait)
                wait = patience_ns - quiet;
        }
        wait = wait / 1000000 + 1;
        curl_multi_poll(c->multi, &wfd, 1, wait > 1000 ? 1000 : (int)wait,
                        NULL);
    }
    curl_multi_remove_handle(c->multi, c->easy);
    *http = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, http);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
    snprintf(why, whylen, "%s",
             out == XFER_STALLED    ? "silent for too long"
             : out == XFER_TIMEDOUT ? "no answer before the deadline"
             : errbuf[0]            ? errbuf
                                    : curl_easy_strerror(res));
    return out;
}

/* ---- calls with failover ---------------------------------------------- */

int64_t etcd_io_deadline(const etcd_store *s, size_t bytes)
{
    return kit_deadline(s->timeout_ms) +
           IO_PER_MIB_NS * (int64_t)(bytes >> 20);
}

int etcd_pause(etcd_store *s, int ms)
{
    int64_t end = kit_now_ns() + (int64_t)ms * 1000000;

    for (;;) {
        struct pollfd p = {.fd = s->cancel_fd, .events = POLLIN};
        int left;

        if (atomic_load(&s->canceled))
            return RDV_ECANCELED;
        if ((left = kit_left_ms(end)) == 0)
            return RDV_OK;
        poll(&p, 1, left); /* EINTR: the loop recomputes what is left */
    }
}

/* What an op's messages start with: "get 'a/b' on etcd". */
static const char *op_text(const etcd_op *op, char *buf, size_t cap)
{
    char k[160];

    if (op->key)
        snprintf(buf, cap, "%s '%s' on etcd", op->name,
                 kit_printable(op->key, k, sizeof k));
    else
        snprintf(buf, cap, "%s on etcd", op->name);
    return buf;
}

#define RETRY 1

/* A reply other than 200: RETRY for "unavailable" or "canceled" (or a
 * gateway error with no gRPC status), else the final status with the
 * detail set. */
static int refusal(const etcd_op *op, const char *endpoint, long http,
                   const sink *k, size_t sent, etcd_reply *r, char *last,
                   size_t lastlen)
{
    json_t *j = json_loadb(k->buf ? k->buf : "", k->len, 0, NULL);
    json_t *msg = j ? json_object_get(j, "message") : NULL;
    int code = j ? (int)json_integer_value(json_object_get(j, "code")) : 0;
    const char *text = json_is_string(msg) ? json_string_value(msg) : "";
    char o[256];
    int rc;

    snprintf(last, lastlen, "%s: %s%s(HTTP %ld, gRPC code %d)", endpoint,
             text, *text ? " " : "", http, code);
    if (code == GRPC_UNAVAILABLE || code == GRPC_CANCELED ||
        (!code && http >= 500)) {
        json_decref(j);
        return RETRY;
    }
    r->code = code;
    if (sent > LARGE_REQUEST)
        rc = kit_fail(RDV_EIO, "%s refused a %zu-byte request: %s; etcd "
                      "refuses requests over its --max-request-bytes (1.5 "
                      "MiB unless raised): rdv values reach 64 MiB, so "
                      "start etcd with --max-request-bytes=67174400 or "
                      "more", op_text(op, o, sizeof o), sent, last);
    else
        rc = kit_fail(RDV_EIO, "%s refused: %s", op_text(op, o, sizeof o),
                      last);
    json_decref(j);
    return rc;
}

/* The detail when the deadline ends a call's tries. */
static int give_up(const etcd_op *op, int64_t t0, unsigned tries,
                   int all_refused, const char *last, int unsure)
{
    char o[256];

    return kit_fail(all_refused ? RDV_ECONN : RDV_ETIMEDOUT,
                    "%s: no endpoint answered in %lld ms (%u tr%s); last: "
                    "%s%s", op_text(op, o, sizeof o), kit_ms_since(t0), tries,
                    tries == 1 ? "y" : "ies", last[0] ? last : "none",
                    unsure ? "; an earlier try may have been applied: the "
                             "outcome is unknown" : "");
}

int etcd_call(etcd_store *s, const etcd_op *op, const char *path,
              json_t *req, int64_t deadline, etcd_reply *r)
{
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL, o[256];
    int rc;

    if (!body) {
        memset(r, 0, sizeof *r);
        return kit_fail(RDV_ENOMEM, "%s: out of memory",
                        op_text(op, o, sizeof o));
    }
    rc = etcd_call_text(s, op, path, body, strlen(body), deadline, r);
    free(body);
    return rc;
}

int etcd_call_text(etcd_store *s, const etcd_op *op, const char *path,
                   const char *body, size_t len, int64_t deadline,
                   etcd_reply *r)
{
    char why[CURL_ERROR_SIZE + 32], last[768] = "", url[320], o[256];
    int64_t patience = PATIENCE_FIRST_NS +
                       PATIENCE_PER_MIB_NS * (int64_t)(len >> 20);
    int64_t t0 = kit_now_ns();
    unsigned tries = 0, rounds = 0;
    int all_refused = 1, rc;
    etcd_conn *c = conn_get(s);

    memset(r, 0, sizeof *r);
    if (!c)
        return kit_fail(RDV_ENOMEM, "%s: out of memory",
                        op_text(op, o, sizeof o));
    if (t0 >= deadline) { /* e.g. an add that lost races all along */
        conn_put(s, c);
        return kit_fail(RDV_ETIMEDOUT, "%s: out of time before sending",
                        op_text(op, o, sizeof o));
    }
    for (;;) {
        unsigned cur = atomic_load(&s->current);
        const char *ep = s->endpoints[cur % s->nendpoints];
        sink k = {0};
        long http = 0;
        enum xfer x;

        snprintf(url, sizeof url, "%s%s", ep, path);
        tries++;
        /* Silence moves a call to another member; with one, there is
         * nowhere to go, and a slow answer is better than none. */
        x = exchange(s, c, url, body, len, deadline,
                     s->nendpoints > 1 ? patience : 0, &k, &http, why,
                     sizeof why);
        rc = RETRY;
        /* curl resent the request itself: the first may have landed */
        r->unsure |= k.requests > 1 && op->write;
        if (x == XFER_DONE && http == 200) {
            json_error_t jerr;

            r->json = json_loadb(k.buf ? k.buf : "", k.len, 0, &jerr);
            rc = r->json ? RDV_OK
                         : kit_fail(RDV_EPROTO, "%s: unreadable reply from "
                                    "%s: %s", op_text(op, o, sizeof o), ep,
                                    jerr.text);
        } else if (x == XFER_DONE) {
            all_refused = 0;
            rc = refusal(op, ep, http, &k, len, r, last, sizeof last);
            r->unsure |= rc == RETRY && op->write;
        } else if (x == XFER_CANCELED) {
            rc = kit_fail(RDV_ECANCELED, "%s: canceled (the store is "
                          "closing)", op_text(op, o, sizeof o));
        } else if (x == XFER_NOMEM) {
            rc = kit_fail(RDV_ENOMEM, "%s: out of memory for the reply",
                          op_text(op, o, sizeof o));
        } else if (x == XFER_TIMEDOUT && tries > 1 && k.ul == 0 && k.dl == 0) {
            /* The deadline came before this try moved a byte: the reason
             * of the try before stands. */
        } else {
            if (x != XFER_REFUSED) {
                all_refused = 0;
                r->unsure |= op->write;
            }
            if (x == XFER_STALLED && patience < PATIENCE_MAX_NS)
                patience *= 2;
            snprintf(last, sizeof last, "%s: %s", ep, why);
        }
        free(k.buf);
        if (rc != RETRY)
            break;
        if (x == XFER_TIMEDOUT || kit_now_ns() >= deadline) {
            rc = give_up(op, t0, tries, all_refused, last, r->unsure);
            break;
        }
        /* Fail over: the next call on this handle starts there too. */
        atomic_compare_exchange_strong(&s->current, &cur, cur + 1);
        if (tries % s->nendpoints == 0) {
            int ms = kit_backoff_ms((int)rounds++, ROUND_BACKOFF_FIRST_MS,
                                    ROUND_BACKOFF_MAX_MS), left;

            left = kit_left_ms(deadline);
            if (left >= 0 && ms > left)
                ms = left;
            if (etcd_pause(s, ms) == RDV_ECANCELED) {
                rc = kit_fail(RDV_ECANCELED, "%s: canceled (the store is "
                              "closing)", op_text(op, o, sizeof o));
                break;
            }
        }
    }
    conn_put(s, c);
    return rc;
}

int etcd_stream(etcd_store *s, const etcd_op *op, unsigned endpoint,
                json_t *req, int64_t deadline,
                int (*on_line)(void *arg, json_t *line), void *arg)
{
    char *body = json_dumps(req, JSON_COMPACT), why[CURL_ERROR_SIZE + 32];
    const char *ep = s->endpoints[endpoint % s->nendpoints];
    sink k = {.on_line = on_line, .arg = arg};
    etcd_conn *c = body ? conn_get(s) : NULL;
    char url[320], o[256];
    long http = 0;
    int rc;

    if (!c) {
        free(body);
        return kit_fail(RDV_ENOMEM, "%s: out of memory",
                        op_text(op, o, sizeof o));
    }
    snprintf(url, sizeof url, "%s/v3/watch", ep);
    switch (exchange(s, c, url, body, strlen(body), deadline, 0, &k, &http,
                     why, sizeof why)) {
    case XFER_STOPPED:
        rc = k.line_rc == 1 ? RDV_OK : k.line_rc;
        break;
    case XFER_TIMEDOUT:
        rc = RDV_ETIMEDOUT; /* the caller names what it waited for */
        break;
    case XFER_CANCELED:
        rc = kit_fail(RDV_ECANCELED, "%s: canceled (the store is closing)",
                      op_text(op, o, sizeof o));
        break;
    case XFER_NOMEM:
        rc = kit_fail(RDV_ENOMEM, "%s: out of memory for the watch",
                      op_text(op, o, sizeof o));
        break;
    case XFER_DONE:
        rc = kit_fail(RDV_ECONN, "%s: the watch on %s ended (HTTP %ld)",
                      op_text(op, o, sizeof o), ep, http);
        break;
    default:
        rc = kit_fail(RDV_ECONN, "%s: the watch on %s broke: %s",
                      op_text(op, o, sizeof o), ep, why);
    }
    free(k.buf);
    conn_put(s, c);
    free(body);
    return rc;
}
