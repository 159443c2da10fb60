/*
 * url_format.c - the way back from a parsed store URL to text: edits of
 * the parsed form (host, options), rendering it as a URL to open, and
 * masking the secrets of a URL for messages (see rdv/url.h).
 *
 * Choices:
 * - Rendering percent-encodes only what the grammar of url.c would
 *   misread in that component ('%', '?', '@', '/', ':' in a user, '&'
 *   and '=' in an option...) plus bytes that are not printable ASCII,
 *   so a rendered URL stays readable and parses back to the same parts.
 * - Masking works on text, not on the parsed form, so a URL that does
 *   not even parse can be named in its own error message. On text that
 *   is malformed it errs towards masking too much: the password runs
 *   from the first ':' after "//" to the last '@'.
 * - Leaving passwords out (for lines a user runs again) works on the
 *   parsed form instead: the result must parse, and the password then
 *   comes from the environment (rdv_url_login).
 * - Both write through one bounded writer that counts what it would
 *   have written, as snprintf does, so a caller can size a buffer
 *   exactly and truncation is detected, never silent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/status.h"
#include "url_internal.h"

#define MASK "***"

/* Writes into buf[0..cap) and counts every byte it was asked to write. */
typedef struct writer {
    char *buf;
    size_t cap, n;
} writer;

static void put(writer *w, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++, w->n++)
        if (w->n + 1 < w->cap)
            w->buf[w->n] = s[i];
}

static void puts_(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Terminates the text and returns how long it wanted to be. */
static size_t finish(writer *w)
{
    if (w->cap)
        w->buf[w->n < w->cap ? w->n : w->cap - 1] = '\0';
    return w->n;
}

/* s with '%', non-printable bytes and the bytes of reserved escaped. */
static void put_encoded(writer *w, const char *s, const char *reserved)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '%' || *c <= ' ' || *c >= 0x7f || strchr(reserved, *c)) {
            char esc[3] = {'%', hex[*c >> 4], hex[*c & 15]};

            put(w, esc, 3);
        } else {
            put(w, (const char *)c, 1);
        }
    }
}

static void render_authority(writer *w, const rdv_url *u)
{
    char port[16];

    puts_(w, "//");
    if (u->user || u->password) {
        put_encoded(w, u->user ? u->user : "", ":@/?[]");
        if (u->password) {
            puts_(w, ":");
            put_encoded(w, u->password, "@/?");
        }
        puts_(w, "@");
    }
    if (strchr(u->host, ':')) { /* IPv6: brackets keep its ':' apart */
        puts_(w, "[");
        put_encoded(w, u->host, "@/?[]");
        puts_(w, "]");
    } else {
        put_encoded(w, u->host, ":@/?[]");
    }
    if (u->port > 0) {
        snprintf(port, sizeof port, ":%d", u->port);
        puts_(w, port);
    }
}

static size_t render(const rdv_url *u, char *buf, size_t cap)
{
    writer w = {buf, cap, 0};
    const char *path = u->path ? u->path : "";

    puts_(&w, u->scheme ? u->scheme : "");
    puts_(&w, ":");
    if (u->has_authority) {
        render_authority(&w, u);
    } else if (path[0] == '/' && path[1] == '/') {
        puts_(&w, "%2F"); /* not to be read as the start of a host */
        path++;
    }
    put_encoded(&w, path, "?");
    for (size_t i = 0; i < u->noptions; i++) {
        puts_(&w, i ? "&" : "?");
        put_encoded(&w, u->options[i].key, "&=");
        puts_(&w, "=");
        put_encoded(&w, u->options[i].value, "&=");
    }
    return finish(&w);
}

int rdv_url_format(const rdv_url *u, char *buf, size_t cap)
{
    return render(u, buf, cap) < cap ? RDV_OK : RDV_EINVAL;
}

int rdv_url_set_host(rdv_url *u, const char *host, int port)
{
    char *copy;

    if (port != -1 && (port < 1 || port > 65535))
        return RDV_EINVAL;
    /* With a host, a path that does not start with '/' would run into
     * the port ("plugin:./x.so" has no place for a host). */
    if (!u->has_authority && u->path && u->path[0] && u->path[0] != '/')
        return RDV_EINVAL;
    if (!(copy = strdup(host ? host : "")))
        return RDV_ENOMEM;
    free(u->host);
    u->host = copy;
    u->port = port;
    u->has_authority = 1;
    return RDV_OK;
}

int rdv_url_set_option(rdv_url *u, const char *key, const char *value)
{
    size_t kept = 0, same = 0;
    char *k, *v;

    if (!key || !*key || !value)
        return RDV_EINVAL;
    for (size_t i = 0; i < u->noptions; i++)
        same += strcmp(u->options[i].key, key) == 0;
    if (u->noptions - same >= RDV_URL_MAX_OPTIONS)
        return RDV_EINVAL;
    k = strdup(key);
    v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return RDV_ENOMEM;
    }
    for (size_t i = 0; i < u->noptions; i++) {
        if (strcmp(u->options[i].key, key) == 0) {
            free(u->options[i].key);
            free(u->options[i].value);
        } else {
            u->options[kept++] = u->options[i];
        }
    }
    u->options[kept++] = (rdv_url_opt){.key = k, .value = v};
    u->noptions = kept;
    return RDV_OK;
}

int rdv_url_with_option(const char *text, const char *key,
                        const char *value, char *out, size_t cap,
                        char *errbuf, size_t errlen)
{
    rdv_url u;
    int rc;

    if ((rc = rdv_url_parse(text, &u, errbuf, errlen)))
        return rc;
    if ((rc = rdv_url_set_option(&u, key, value)) && errbuf && errlen)
        snprintf(errbuf, errlen, "store URL '%s': cannot set option '%s': "
                 "%s", u.redacted, key ? key : "(null)",
                 rc == RDV_ENOMEM ? "out of memory"
                                  : "empty key, or too many options");
    else if (!rc && (rc = rdv_url_format(&u, out, cap)) && errbuf && errlen)
        snprintf(errbuf, errlen, "store URL '%s' with %s=... is longer than "
                 "%zu bytes", u.redacted, key, cap ? cap - 1 : 0);
    rdv_url_free(&u);
    return rc;
}

/* From "//" on: the login's password, up to the last '@'. Returns where
 * the copy goes on (text itself when there is nothing to mask). */
static const char *mask_login(writer *w, const char *text)
{
    const char *colon = strchr(text, ':'), *a, *at, *pc;

    if (!colon || strncmp(colon + 1, "//", 2) != 0)
        return text;
    a = colon + 3;
    if (!(at = strrchr(a, '@')) || !(pc = memchr(a, ':', (size_t)(at - a))))
        return text;
    put(w, text, (size_t)(pc + 1 - text));
    puts_(w, MASK);
    return at;
}

/* The options whose values are secrets: redis's password, the tcp://
 * store's shared token. */
static const char *const secret_options[] = {"password=", "token="};

/* The secret option key p starts with, or NULL. */
static const char *secret_at(const char *p)
{
    for (size_t i = 0; i < sizeof secret_options / sizeof *secret_options;
         i++)
        if (strncmp(p, secret_options[i], strlen(secret_options[i])) == 0)
            return secret_options[i];
    return NULL;
}

static size_t redact(const char *text, char *buf, size_t cap)
{
    writer w = {buf, cap, 0};
    const char *p, *key;

    if (!text) {
        puts_(&w, "(null)");
        return finish(&w);
    }
    p = mask_login(&w, text);
    while (*p) {
        int starts_option = p > text && (p[-1] == '?' || p[-1] == '&');

        if (starts_option && (key = secret_at(p))) {
            puts_(&w, key);
            puts_(&w, MASK);
            p += strlen(key);
            p += strcspn(p, "&");
        } else {
            put(&w, p++, 1);
        }
    }
    return finish(&w);
}

const char *rdv_url_redact(const char *text, char *buf, size_t cap)
{
    redact(text, buf, cap);
    return buf;
}

char *rdv_url_redact_dup(const char *text)
{
    size_t n = redact(text, NULL, 0);
    char *out = malloc(n + 1);

    if (out)
        redact(text, out, n + 1);
    return out;
}

/* Leaves out every option named key; returns how many went. */
static int drop_option(rdv_url *u, const char *key)
{
    size_t kept = 0;
    int dropped = 0;

    for (size_t i = 0; i < u->noptions; i++) {
        if (strcmp(u->options[i].key, key) == 0) {
            free(u->options[i].key);
            free(u->options[i].value);
            dropped++;
        } else {
            u->options[kept++] = u->options[i];
        }
    }
    u->noptions = kept;
    return dropped;
}

int rdv_url_strip_passwords(const char *text, char *buf, size_t cap)
{
    rdv_url u;
    int dropped = 0, rc;

    if (!text || rdv_url_parse(text, &u, NULL, 0)) {
        redact(text, buf, cap);
        return RDV_EINVAL;
    }
    if (u.password) {
        free(u.password);
        u.password = NULL;
        dropped++;
    }
    if (u.user && !u.user[0]) { /* ":pw@host": no user either */
        free(u.user);
        u.user = NULL;
    }
    dropped += drop_option(&u, "password");
    /* tcp://'s token has no other source: masked, the line shows it is
     * needed. */
    rc = rdv_url_option(&u, "token") ? rdv_url_set_option(&u, "token", MASK)
                                     : RDV_OK;
    if (rc == RDV_OK)
        rc = rdv_url_format(&u, buf, cap);
    rdv_url_free(&u);
    if (rc) {
        redact(text, buf, cap);
        return RDV_EINVAL;
    }
    return dropped;
}
