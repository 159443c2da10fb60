/*
 * url.c - parses store URLs into rdv_url and answers questions about the
 * parsed form (see rdv/url.h for the grammar and the contracts);
 * url_format.c edits it and renders it back.
 *
 * Choices:
 * - Each component is copied and percent-decoded on its own, so a '%2F'
 *   inside a password never splits the URL.
 * - The first '@' of the authority ends the login and the first ':' of
 *   the login ends the user, as in RFC 3986: a password may hold ':',
 *   and '@' or '/' in it must be written %40, %2F.
 * - The redacted copy is made before anything else, so every error,
 *   even for a URL that does not parse, names the URL without its
 *   password.
 * - Default ports live in one table here: a caller asks rdv_url_port()
 *   instead of knowing that redis means 6379.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdv/status.h"
#include "url_internal.h"

static const struct {
    const char *scheme;
    int port;
} default_ports[] = {
    {"redis", 6379},
    {"gloo+redis", 6379}, /* Gloo's RedisStore's default */
    {"tcp", 29500}, /* c10d's MASTER_PORT default */
};

/* A URL as a message shows it: a long one keeps its head and tail
 * ("file:///very/lo...?prefix=x"), so the reason after it is never cut
 * off by the message's size. */
#define URL_SHOWN_MAX 160
static const char *url_shown(const char *redacted, char *buf, size_t cap)
{
    size_t n;

    if (!redacted)
        return "(null)";
    n = strlen(redacted);
    if (n <= URL_SHOWN_MAX || cap < URL_SHOWN_MAX + 1)
        return redacted;
    snprintf(buf, cap, "%.100s...%s (%zu bytes)", redacted,
             redacted + n - 40, n);
    return buf;
}

/* Fills errbuf and returns RDV_EINVAL; u->redacted names the URL. */
static int url_fail(rdv_url *u, char *errbuf, size_t errlen,
                    const char *what)
{
    char shown[URL_SHOWN_MAX + 32];

    if (errbuf && errlen)
        snprintf(errbuf, errlen, "malformed store URL '%s': %s",
                 url_shown(u->redacted, shown, sizeof shown), what);
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
 * escape (*bad = 1), an escaped NUL (*bad = 2: every component is a C
 * string, so %00 would silently cut it), or out of memory (*bad = 0). */
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
            if (hi == 0 && lo == 0) {
                free(out);
                *bad = 2;
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

/* Decodes [s, s+n) into *dst; the error names what (a component). */
static int take(rdv_url *u, char **dst, const char *s, size_t n,
                const char *what, char *errbuf, size_t errlen)
{
    char msg[96];
    int bad;

    *dst = decode(s, n, &bad);
    if (*dst)
        return RDV_OK;
    if (!bad)
        return RDV_ENOMEM;
    if (bad == 2)
        snprintf(msg, sizeof msg, "a percent-encoded NUL (%%00) in the %s: "
                 "it would cut the %s short", what, what);
    else
        snprintf(msg, sizeof msg, "bad percent-escape in the %s", what);
    return url_fail(u, errbuf, errlen, msg);
}

static int parse_port(rdv_url *u, const char *s, const char *end,
                      char *errbuf, size_t errlen)
{
    char *e;
    long port;

    errno = 0;
    port = strtol(s, &e, 10);
    if (s == end || e != end || errno || port < 1 || port > 65535 ||
        *s < '0' || *s > '9')
        return url_fail(u, errbuf, errlen,
                        "port must be a number from 1 to 65535");
    u->port = (int)port;
    return RDV_OK;
}

static int parse_authority(rdv_url *u, const char *a, size_t n,
                           char *errbuf, size_t errlen)
{
    const char *at = memchr(a, '@', n);
    const char *host = a, *end = a + n, *colon;
    int rc;

    if (at) {
        const char *pc = memchr(a, ':', (size_t)(at - a));
        const char *user_end = pc ? pc : at;

        if ((rc = take(u, &u->user, a, (size_t)(user_end - a), "user",
                       errbuf, errlen)) ||
            (pc && (rc = take(u, &u->password, pc + 1,
                              (size_t)(at - pc - 1), "password", errbuf,
                              errlen))))
            return rc;
        host = at + 1;
    }
    if (host < end && *host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));

        if (!rb)
            return url_fail(u, errbuf, errlen,
                            "IPv6 host is missing its closing ']'");
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return url_fail(u, errbuf, errlen,
                            "expected ':port' after the IPv6 host");
        rc = take(u, &u->host, host + 1, (size_t)(rb - host - 1), "host",
                  errbuf, errlen);
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        rc = take(u, &u->host, host, (size_t)((colon ? colon : end) - host),
                  "host", errbuf, errlen);
    }
    if (rc == RDV_OK && colon)
        rc = parse_port(u, colon + 1, end, errbuf, errlen);
    return rc;
}

/* A repeated option is a mistake (which one was meant?), except where
 * the options are a program's arguments: exec: hands them to its adapter
 * in URL order, and a repeated one is a list there (EXEC_PROTOCOL.md). */
static int repeats_ok(const rdv_url *u)
{
    return strcmp(u->scheme, "exec") == 0;
}

static int parse_query(rdv_url *u, const char *q, char *errbuf, size_t errlen)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        rdv_url_opt *o;
        int rc;

        if (n == 0) {
            q++;
            continue;
        }
        if (u->noptions == RDV_URL_MAX_OPTIONS)
            return url_fail(u, errbuf, errlen, "too many options");
        if (!eq || eq == q)
            return url_fail(u, errbuf, errlen,
                            "options must be written key=value");
        o = &u->options[u->noptions++];
        if ((rc = take(u, &o->key, q, (size_t)(eq - q), "option", errbuf,
                       errlen)) ||
            (rc = take(u, &o->value, eq + 1, n - (size_t)(eq - q) - 1,
                       "option", errbuf, errlen)))
            return rc;
        for (size_t i = 0; i + 1 < u->noptions && !repeats_ok(u); i++)
            if (!strcmp(u->options[i].key, o->key)) {
                char msg[160];

                snprintf(msg, sizeof msg, "option '%.64s' is given twice "
                         "(which one was meant?)", o->key);
                return url_fail(u, errbuf, errlen, msg);
            }
        q += n + (amp ? 1 : 0);
    }
    return RDV_OK;
}

/* The scheme: what comes before the first ':', made of a-z 0-9 + - . */
static int parse_scheme(rdv_url *u, const char *text, const char **rest,
                        char *errbuf, size_t errlen)
{
    const char *colon = strchr(text, ':');

    if (!colon || colon == text)
        return url_fail(u, errbuf, errlen,
                        "expected 'scheme:' such as hash:, file:///dir, "
                        "redis://host:port");
    for (const char *c = text; c < colon; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '+' || *c == '-' || *c == '.'))
            return url_fail(u, errbuf, errlen,
                            "the scheme may hold only a-z 0-9 + - .");
    *rest = colon + 1;
    return take(u, &u->scheme, text, (size_t)(colon - text), "scheme",
                errbuf, errlen);
}

static int parse(const char *text, rdv_url *u, char *errbuf, size_t errlen)
{
    const char *rest, *query, *path_end;
    int rc;

    if (!*text)
        return url_fail(u, errbuf, errlen, "the URL is empty");
    if ((rc = parse_scheme(u, text, &rest, errbuf, errlen)))
        return rc;
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
    if ((rc = take(u, &u->path, rest, (size_t)(path_end - rest), "path",
                   errbuf, errlen)))
        return rc;
    if (!u->host && !(u->host = strdup("")))
        return RDV_ENOMEM;
    return query ? parse_query(u, query + 1, errbuf, errlen) : RDV_OK;
}

int rdv_url_parse(const char *text, rdv_url *u, char *errbuf, size_t errlen)
{
    int rc;

    memset(u, 0, sizeof *u);
    u->port = -1;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    u->redacted = rdv_url_redact_dup(text);
    if (!u->redacted)
        rc = RDV_ENOMEM;
    else if (!text)
        rc = url_fail(u, errbuf, errlen, "the URL is NULL");
    else
        rc = parse(text, u, errbuf, errlen);
    if (rc == RDV_ENOMEM && errbuf && errlen)
        snprintf(errbuf, errlen, "store URL: out of memory");
    if (rc)
        rdv_url_free(u);
    return rc;
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
    free(u->redacted);
    memset(u, 0, sizeof *u);
    u->port = -1;
}

int rdv_url_port(const rdv_url *u)
{
    if (u->port > 0)
        return u->port;
    for (size_t i = 0; i < sizeof default_ports / sizeof default_ports[0];
         i++)
        if (u->scheme && strcmp(u->scheme, default_ports[i].scheme) == 0)
            return default_ports[i].port;
    return -1;
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
        char what[160];

        snprintf(what, sizeof what, "option %s=%s must be an integer from "
                 "%ld to %ld", key, v, min, max);
        return url_fail(u, errbuf, errlen, what);
    }
    *out = x;
    return RDV_OK;
}

int rdv_url_check_unused(const rdv_url *u, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < u->noptions; i++) {
        if (!u->options[i].used) {
            char shown[URL_SHOWN_MAX + 32];

            if (errbuf && errlen)
                snprintf(errbuf, errlen,
                         "malformed store URL '%s': unknown option '%.64s' "
                         "for %s:",
                         url_shown(u->redacted, shown, sizeof shown),
                         u->options[i].key, u->scheme);
            return RDV_EINVAL;
        }
    }
    return RDV_OK;
}

/* The password the environment gives when the URL gives none: rdv's
 * own variable first, then redis-cli's. NULL when neither is set (an
 * empty value counts as unset, as for redis-cli). */
static const char *env_password(void)
{
    static const char *const names[] = {RDV_URL_PASSWORD_ENV,
                                        RDV_URL_PASSWORD_ENV_REDIS};

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = getenv(names[i]);

        if (v && *v)
            return v;
    }
    return NULL;
}

int rdv_url_login(rdv_url *u, const char **user, const char **password,
                  char *errbuf, size_t errlen)
{
    const char *pw = rdv_url_option(u, "password");
    const char *opt_user = rdv_url_option(u, "user");
    const char *url_user = u->user && u->user[0] ? u->user : NULL;
    const char *env_pw = pw || u->password ? NULL : env_password();

    *user = *password = NULL;
    if (u->user && !u->password && !env_pw)
        return url_fail(u, errbuf, errlen, "'user@' without a password: "
                        "write redis://:password@host or "
                        "redis://user:password@host, or set "
                        RDV_URL_PASSWORD_ENV " or "
                        RDV_URL_PASSWORD_ENV_REDIS);
    if ((pw && u->password) || (opt_user && url_user))
        return url_fail(u, errbuf, errlen, "the password or user is given "
                        "twice (before '@' and as an option)");
    pw = pw ? pw : u->password ? u->password : env_pw;
    opt_user = opt_user ? opt_user : url_user;
    if (opt_user && !pw)
        return url_fail(u, errbuf, errlen, "option user= needs a "
                        "password= too (or " RDV_URL_PASSWORD_ENV ")");
    *user = opt_user;
    *password = pw;
    return RDV_OK;
}
