/*
 * etcd_json.c - the etcd plugin's codec: the JSON requests of etcd's v3
 * gateway (range, put, delete, guarded txns, watch) built with jansson,
 * the replies read with jansson, and the base64 that keys and values
 * travel in. No I/O here.
 *
 * Choices:
 * - jansson builds and parses every document; nothing is scanned by
 *   hand. Base64 is ours (a few lines, strict on input): jansson has
 *   none and libcurl does not export its own.
 * - etcd sends int64 fields as JSON strings and leaves out every field
 *   that holds its zero value (an empty value, succeeded: false, a PUT
 *   event's type), so readers treat an absent field as zero or empty.
 * - Revisions go out as JSON numbers, which the gateway accepts for
 *   int64 fields; base64 strings are made with json_stringn_nocheck
 *   (plain ASCII, no UTF-8 scan of a 90 MB string).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_store.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes base64(p[0..n)) to out (room for 4 * ((n + 2) / 3) bytes);
 * returns its length. */
static size_t b64_encode(const void *p, size_t n, char *out)
{
    const unsigned char *in = p;
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
                     in[i + 2];

        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 |
                     (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);

        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

static json_t *b64_string(const void *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    json_t *j;

    if (!out)
        return NULL;
    j = json_stringn_nocheck(out, b64_encode(p, n, out));
    free(out);
    return j;
}

char *etcd_text_put(const char *key, const void *val, size_t len,
                    size_t *text_len)
{
    size_t klen = strlen(key), o = 0;
    char *t = malloc(32 + 4 * ((klen + 2) / 3) + 4 * ((len + 2) / 3));

    if (!t)
        return NULL;
    /* Base64 holds no character JSON escapes: the text is final. */
    memcpy(t + o, "{\"key\":\"", 8);
    o += 8;
    o += b64_encode(key, klen, t + o);
    memcpy(t + o, "\",\"value\":\"", 11);
    o += 11;
    o += b64_encode(val, len, t + o);
    memcpy(t + o, "\"}", 3); /* with the NUL */
    *text_len = o + 2;
    return t;
}

/* 1 + the value of each base64 digit, 0 for other bytes. */
static unsigned char b64_digit[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_digits_init(void)
{
    for (int i = 0; i < 64; i++)
        b64_digit[(unsigned char)b64_alphabet[i]] = (unsigned char)(i + 1);
}

/* Decodes s[0..n) into a malloc'd, NUL-terminated buffer. RDV_EPROTO on
 * bad input, RDV_ENOMEM. */
static int b64_decode(const char *s, size_t n, void **out, size_t *outlen)
{
    unsigned char *buf;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;

    pthread_once(&b64_once, b64_digits_init);
    while (n && s[n - 1] == '=')
        n--;
    if (!(buf = malloc(n / 4 * 3 + 3)))
        return RDV_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned v = b64_digit[(unsigned char)s[i]];

        if (!v) {
            free(buf);
            return RDV_EPROTO;
        }
        acc = acc << 6 | (v - 1);
        if ((bits += 6) >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return RDV_OK;
}

/* obj[field] = base64(p[0..n)); -1 on out of memory. */
static int set_bytes(json_t *obj, const char *field, const void *p, size_t n)
{
    return json_object_set_new(obj, field, b64_string(p, n));
}

/* key, and range_end when end != NULL ("\0" when end_len is 0). */
static json_t *key_range(const char *key, size_t klen, const char *end,
                         size_t end_len)
{
    json_t *o = json_object();

    if (!o || set_bytes(o, "key", key, klen) ||
        (end && set_bytes(o, "range_end", end_len ? end : "", end_len ?
                                                              end_len : 1))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *etcd_req_range(const char *key, size_t klen, const char *end,
                       size_t end_len, int keys_only, int count_only)
{
    json_t *o = key_range(key, klen, end, end_len);

    if (o && ((keys_only && json_object_set_new(o, "keys_only", json_true())) ||
              (count_only &&
               json_object_set_new(o, "count_only", json_true())))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *etcd_req_put(const char *key, size_t klen, const void *val,
                     size_t len, int64_t lease)
{
    json_t *o = key_range(key, klen, NULL, 0);

    if (o && (set_bytes(o, "value", val, len) ||
              (lease && json_object_set_new(o, "lease", json_integer(lease))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *etcd_req_delete(const char *key, size_t klen, const char *end,
                        size_t end_len)
{
    return key_range(key, klen, end, end_len);
}

int etcd_txn_add(json_t **txn, const char *kind, json_t *op)
{
    json_t *list;

    if (!*txn && !(*txn = json_object()))
        goto fail;
    if (!(list = json_object_get(*txn, "success"))) {
        if (json_object_set_new(*txn, "success", json_array()) ||
            !(list = json_object_get(*txn, "success")))
            goto fail;
    }
    if (!op || json_array_append_new(list, json_pack("{s:o}", kind, op)))
        return -1;
    return 0;
fail:
    json_decref(op);
    return -1;
}

json_t *etcd_req_guarded_put(const char *key, const char *target,
                             int64_t rev, const void *val, size_t len)
{
    size_t klen = strlen(key);
    const char *field = strcmp(target, "CREATE") == 0 ? "create_revision"
                                                      : "mod_revision";
    json_t *cmp = key_range(key, klen, NULL, 0);
    json_t *put = etcd_req_put(key, klen, val, len, 0);
    json_t *read = key_range(key, klen, NULL, 0);

    if (!cmp || !put || !read ||
        json_object_set_new(cmp, "target", json_string(target)) ||
        json_object_set_new(cmp, "result", json_string("EQUAL")) ||
        json_object_set_new(cmp, field, json_integer(rev))) {
        json_decref(cmp);
        json_decref(put);
        json_decref(read);
        return NULL;
    }
    return json_pack("{s:[o], s:[{s:o}], s:[{s:o}]}", "compare", cmp,
                     "success", "request_put", put, "failure",
                     "request_range", read);
}

json_t *etcd_req_watch(const char *key, size_t klen, const char *end,
                       size_t end_len, int64_t start_rev)
{
    json_t *o = key_range(key, klen, end, end_len);

    if (!o || json_object_set_new(o, "start_revision",
                                  json_integer(start_rev))) {
        json_decref(o);
        return NULL;
    }
    return json_pack("{s:o}", "create_request", o);
}

char *etcd_prefix_end(const char *prefix, size_t plen, size_t *len)
{
    char *end = malloc(plen + 1);

    if (!end)
        return NULL;
    memcpy(end, prefix, plen);
    while (plen && (unsigned char)end[plen - 1] == 0xff)
        plen--;
    if (plen)
        end[plen - 1]++;
    *len = plen;
    return end;
}

/* ---- replies ---------------------------------------------------------- */

int64_t etcd_json_int(json_t *obj, const char *field)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL;

    if (json_is_integer(v))
        return json_integer_value(v);
    return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

int64_t etcd_reply_revision(json_t *reply)
{
    return etcd_json_int(json_object_get(reply, "header"), "revision");
}

/* obj[field] base64-decoded; an absent field is empty. */
static int get_bytes(json_t *obj, const char *field, void **out, size_t *len)
{
    json_t *v = json_object_get(obj, field);

    if (!v)
        return b64_decode("", 0, out, len);
    if (!json_is_string(v))
        return RDV_EPROTO;
    return b64_decode(json_string_value(v), json_string_length(v), out, len);
}

int etcd_kv_read(json_t *obj, int want_value, etcd_kv *kv)
{
    void *key = NULL;
    int rc;

    memset(kv, 0, sizeof *kv);
    if (!json_is_object(obj) || !json_object_get(obj, "key"))
        return RDV_EPROTO;
    if ((rc = get_bytes(obj, "key", &key, &kv->klen)))
        return rc;
    kv->key = key;
    if (want_value && (rc = get_bytes(obj, "value", &kv->val, &kv->vlen))) {
        etcd_kv_free(kv);
        return rc;
    }
    kv->create_rev = etcd_json_int(obj, "create_revision");
    kv->mod_rev = etcd_json_int(obj, "mod_revision");
    return RDV_OK;
}

int etcd_kv_value(json_t *obj, void **val, size_t *len)
{
    return get_bytes(obj, "value", val, len);
}

void etcd_kv_free(etcd_kv *kv)
{
    free(kv->key);
    free(kv->val);
    memset(kv, 0, sizeof *kv);
}

json_t *etcd_reply_kvs(json_t *reply)
{
    return json_object_get(reply, "kvs");
}

json_t *etcd_txn_kvs(json_t *reply, size_t i)
{
    json_t *r = json_array_get(json_object_get(reply, "responses"), i);

    return json_object_get(json_object_get(r, "response_range"), "kvs");
}
