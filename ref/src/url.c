/*
 * url.c - parses store URLs into rdv_url (see url.h for the grammar).
 * Each component is copied and percent-decoded on its own, so a '%2F'
 * inside a password never splits the URL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/status.h"
#include "url.h"

static int url_fail(char *errbuf, size_t errlen, const char *text,
                    const char *what)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "malformed store URL '%s': %s", text, what);
    return RDV_EINVAL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies [s, s+n) percent-decoded into a new string; NULL on a bad
 * escape or out of memory (*bad tells which). */
static char *decode(const char *s, size_t n, int *bad)
{
    char *out = malloc(n + 1);
    size_t o = 0;

    *bad = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 ||
                (lo = hexval(s[i + 2])) < 0) {
                free(out);
                *bad = 1;
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int parse_authority(rdv_url *u, const char *a, size_t n,
                           char *errbuf, size_t errlen)
{
    const char *at = memchr(a, '@', n);
    const char *host = a, *end = a + n, *colon;
    int bad;

    if (at) {
        const char *pc = memchr(a, ':', (size_t)(at - a));

        if (pc) {
            u->user = decode(a, (size_t)(pc - a), &bad);
            u->password = decode(pc + 1, (size_t)(at - pc - 1), &bad);
        } else {
            u->user = decode(a, (size_t)(at - a), &bad);
        }
        if (bad || !u->user || (pc && !u->password))
            return url_fail(errbuf, errlen, u->text,
                            "bad percent-escape in the user or password");
        host = at + 1;
    }
    if (host < end && *host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));

        if (!rb)
            return url_fail(errbuf, errlen, u->text,
                            "IPv6 host is missing its closing ']'");
        u->host = decode(host + 1, (size_t)(rb - host - 1), &bad);
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return url_fail(errbuf, errlen, u->text,
                            "expected ':port' after the IPv6 host");
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        u->host = decode(host, (size_t)((colon ? colon : end) - host), &bad);
    }
    if (!u->host)
        return url_fail(errbuf, errlen, u->text, "bad host");
    if (colon) {
        char *e;
        long port;

        errno = 0;
        port = strtol(colon + 1, &e, 10);
        if (colon + 1 == end || e != end || errno || port < 1 || port > 65535)
            return url_fail(errbuf, errlen, u->text,
                            "port must be a number from 1 to 65535");
        u->port = (int)port;
    }
    return RDV_OK;
}

static int parse_query(rdv_url *u, const char *q, char *errbuf, size_t errlen)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        rdv_url_opt *o;
        int bad1 = 0, bad2 = 0;

        if (n == 0) {
            q++;
            continue;
        }
        if (u->noptions == RDV_URL_MAX_OPTIONS)
            return url_fail(errbuf, errlen, u->text, "too many options");
        if (!eq || eq == q)
            return url_fail(errbuf, errlen, u->text,
                            "options must be written key=value");
        o = &u->options[u->noptions++];
        o->key = decode(q, (size_t)(eq - q), &bad1);
        o->value = decode(eq + 1, n - (size_t)(eq - q) - 1, &bad2);
        if (!o->key || !o->value)
            return url_fail(errbuf, errlen, u->text,
                            "bad percent-escape in an option");
        q += n + (amp ? 1 : 0);
    }
    return RDV_OK;
}

int rdv_url_parse(const char *text, rdv_url *u, char *errbuf, size_t errlen)
{
    const char *colon, *rest, *query, *path_end;
    int rc, bad;

    memset(u, 0, sizeof *u);
    u->port = -1;
    if (!text || !*text)
        return url_fail(errbuf, errlen, text ? text : "(null)",
                        "the URL is empty");
    u->text = strdup(text);
    colon = strchr(text, ':');
    if (!u->text || !colon || colon == text)
        return url_fail(errbuf, errlen, text,
                        "expected 'scheme:' such as hash:, file:///dir, "
                        "redis://host:port");
    for (const char *c = text; c < colon; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '+' || *c == '-' || *c == '.'))
            return url_fail(errbuf, errlen, text,
                            "the scheme may hold only a-z 0-9 + - .");
    u->scheme = strndup(text, (size_t)(colon - text));
    rest = colon + 1;
    query = strchr(rest, '?');
    path_end = query ? query : rest + strlen(rest);
    if (strncmp(rest, "//", 2) == 0) {
        const char *a = rest + 2;
        const char *slash = memchr(a, '/', (size_t)(path_end - a));
        const char *a_end = slash ? slash : path_end;

        u->has_authority = 1;
        rc = parse_authority(u, a, (size_t)(a_end - a), errbuf, errlen);
        if (rc)
            return rc;
        rest = a_end;
    }
    u->path = decode(rest, (size_t)(path_end - rest), &bad);
    if (!u->scheme || !u->path)
        return url_fail(errbuf, errlen, text, bad ? "bad percent-escape "
                        "in the path" : "out of memory");
    if (!u->host)
        u->host = strdup("");
    if (query)
        return parse_query(u, query + 1, errbuf, errlen);
    return RDV_OK;
}

void rdv_url_free(rdv_url *u)
{
    free(u->scheme);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->path);
    for (size_t i = 0; i < u->noptions; i++) {
        free(u->options[i].key);
        free(u->options[i].value);
    }
    free(u->text);
    memset(u, 0, sizeof *u);
}

const char *rdv_url_option(rdv_url *u, const char *key)
{
    const char *found = NULL;

    /* The last occurrence wins, and every occurrence counts as used. */
    for (size_t i = 0; i < u->noptions; i++) {
        if (strcmp(u->options[i].key, key) == 0) {
            u->options[i].used = 1;
            found = u->options[i].value;
        }
    }
    return found;
}

int rdv_url_option_long(rdv_url *u, const char *key, long min, long max,
                        long dflt, long *out, char *errbuf, size_t errlen)
{
    const char *v = rdv_url_option(u, key);
    char *end;
    long x;

    *out = dflt;
    if (!v)
        return RDV_OK;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen,
                     "malformed store URL '%s': option %s=%s must be an "
                     "integer from %ld to %ld", u->text, key, v, min, max);
        return RDV_EINVAL;
    }
    *out = x;
    return RDV_OK;
}

int rdv_url_check_unused(const rdv_url *u, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < u->noptions; i++) {
        if (!u->options[i].used) {
            if (errbuf && errlen)
                snprintf(errbuf, errlen,
                         "malformed store URL '%s': unknown option '%s' "
                         "for %s:", u->text, u->options[i].key, u->scheme);
            return RDV_EINVAL;
        }
    }
    return RDV_OK;
}
