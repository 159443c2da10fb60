/*
 * rdv/url.h - the one store-URL parser. Every scheme (hash, file, redis,
 * unix, plugin) gets the same parsed form, so nobody parses strings:
 * the stores read their configuration from it, and the harness and the
 * fault library ask it for a scheme, a server or a path.
 *
 *   scheme ":" [ "//" [ [user] [":" password] "@" ] host [":" port] ]
 *   path [ "?" key "=" value { "&" key "=" value } ]
 *
 * Components are percent-decoded; rdv_url_format() encodes them again,
 * so a parsed URL renders back to one that parses to the same thing.
 *
 * Options: a backend reads its options with rdv_url_option*(), which
 * marks them used; rdv_url_check_unused() then rejects typos such as
 * "hash:?shraed=1" instead of ignoring them. A caller that only looks
 * (the harness, the fault library) may ignore the marks.
 *
 * Secrets: a message must never show a password or a token.
 * rdv_url_redact() masks the password before '@' and the value of every
 * password= and token= option (tcp://'s shared token), and
 * the parsed form keeps such a copy of the text it was given (redacted)
 * for messages; every error text written here uses it.
 *
 * Memory: every string in an rdv_url is malloc'd and owned by it until
 * rdv_url_free(). Nothing here keeps global state: all of it is safe
 * across threads and fork for distinct rdv_url objects.
 */
#ifndef RDV_URL_H
#define RDV_URL_H

#include <stddef.h>

#include "rdv/export.h"

RDV_API_BEGIN

#define RDV_URL_MAX_OPTIONS 16

typedef struct rdv_url_opt {
    char *key;
    char *value;
    int used; /* read through rdv_url_option*() */
} rdv_url_opt;

/* Read the fields directly; change them only through rdv_url_set_*(). */
typedef struct rdv_url {
    char *scheme;      /* "file"; lower case, never NULL */
    int has_authority; /* "//" was present */
    char *user;        /* NULL when absent ("" for "redis://:pw@h") */
    char *password;    /* NULL when absent */
    char *host;        /* "" when absent; brackets of [::1] removed */
    int port;          /* -1 when absent: see rdv_url_port() */
    char *path;        /* "" when absent */
    rdv_url_opt options[RDV_URL_MAX_OPTIONS]; /* in URL order */
    size_t noptions;
    char *redacted;    /* the URL as given to rdv_url_parse(), password
                        * masked, for messages (edits leave it alone) */
} rdv_url;

/* Parses text into *u. RDV_OK; RDV_EINVAL with a message in errbuf
 * naming the bad part and the URL (password masked; a URL over 160
 * bytes shown as its head...tail, so the reason is never cut off);
 * RDV_ENOMEM. A percent-encoded NUL (%00) anywhere and an option given
 * twice are RDV_EINVAL: one would cut a component short, the other
 * leaves the reader to guess which value counts (exec: excepted: its
 * options are its adapter's arguments, where a repeat is a list). On
 * failure u holds nothing (rdv_url_free() is still allowed). errbuf may
 * be NULL. */
int rdv_url_parse(const char *text, rdv_url *u, char *errbuf, size_t errlen);
/* Frees every string of u and zeroes it. A zeroed u is allowed. */
void rdv_url_free(rdv_url *u);

/* The port: the one written in the URL, else the scheme's default
 * (redis: 6379, tcp: 29500), else -1 (no port and no default, as for
 * file:). */
int rdv_url_port(const rdv_url *u);

/* The value of option key (marking every occurrence used), or NULL when
 * absent; the last occurrence wins. The string belongs to u. */
const char *rdv_url_option(rdv_url *u, const char *key);

/* Reads an integer option in [min, max]; *out = dflt when absent.
 * RDV_EINVAL names the option and the URL when it is not such a number. */
int rdv_url_option_long(rdv_url *u, const char *key, long min, long max,
                        long dflt, long *out, char *errbuf, size_t errlen);

/* RDV_EINVAL naming the first option no backend asked for; else RDV_OK. */
int rdv_url_check_unused(const rdv_url *u, char *errbuf, size_t errlen);

/* Where a password comes from when the URL has none, so it need not be
 * written where it would be shown: $RDV_REDIS_PASSWORD, else redis-cli's
 * $REDISCLI_AUTH (an empty value counts as unset). */
#define RDV_URL_PASSWORD_ENV "RDV_REDIS_PASSWORD"
#define RDV_URL_PASSWORD_ENV_REDIS "REDISCLI_AUTH"

/* The login a URL gives, for servers that take one (redis://, unix://):
 * user and password written before '@' ("user:password@", ":password@")
 * or as the options user= and password= (marked used); when the URL
 * gives no password, the one of the environment (RDV_URL_PASSWORD_ENV,
 * then RDV_URL_PASSWORD_ENV_REDIS), so "redis://alice@host" takes
 * alice's password from there. *user is NULL for the default user and
 * *password NULL for no login; both belong to u or to the environment:
 * copy them before u is freed or the environment changes. RDV_EINVAL
 * with a message when a user comes without any password or either is
 * given twice (before '@' and as an option). */
int rdv_url_login(rdv_url *u, const char **user, const char **password,
                  char *errbuf, size_t errlen);

/* Replaces the host (brackets not included; NULL means "") and the port
 * (-1: none) and marks the URL as having an authority, as when a proxy
 * stands in for the server. RDV_OK, RDV_EINVAL (port outside 1..65535
 * and not -1) or RDV_ENOMEM (then u is unchanged). */
int rdv_url_set_host(rdv_url *u, const char *host, int port);

/* Sets option key to value: every earlier occurrence goes and one
 * key=value is appended (so it wins). RDV_OK, RDV_EINVAL (empty key, or
 * RDV_URL_MAX_OPTIONS already) or RDV_ENOMEM (then u is unchanged). */
int rdv_url_set_option(rdv_url *u, const char *key, const char *value);

/* Renders u as a URL string (with its real password: for the URL to
 * open, not for messages) into buf, percent-encoding what the grammar
 * would otherwise misread. RDV_OK, or RDV_EINVAL when it does not fit in
 * cap bytes (buf then holds a truncated, NUL-terminated prefix). */
int rdv_url_format(const rdv_url *u, char *buf, size_t cap);

/* text with option key set to value (see rdv_url_set_option), rendered
 * into out: the way to add an option to a URL held as text. RDV_OK;
 * RDV_EINVAL (text does not parse, or the result exceeds cap) or
 * RDV_ENOMEM, with a message in errbuf naming the URL (masked). */
int rdv_url_with_option(const char *text, const char *key,
                        const char *value, char *out, size_t cap,
                        char *errbuf, size_t errlen);

/* Copies text into buf (cap bytes, always NUL-terminated, truncated if
 * need be) with every secret replaced by "***": the password before '@'
 * and the value of each password= and token= option. Works on malformed
 * URLs too (then it masks generously: a ':' after "//" and before the
 * last '@' starts a password). NULL text gives "(null)". Returns buf, so it can
 * be an argument of printf: "redis://alice:***@host:6379/0". */
const char *rdv_url_redact(const char *text, char *buf, size_t cap);

/* Renders text (a URL that parses) into buf without its passwords, for
 * a line a user may copy and run (a replay line): the password before
 * '@' and the password= option are left out, so the command takes the
 * password from the environment (see RDV_URL_PASSWORD_ENV); other
 * secrets (token=) are masked as rdv_url_redact() does. Returns the
 * number of passwords left out (0: the line runs as it is), or
 * RDV_EINVAL when text does not parse or the result exceeds cap; then
 * buf holds rdv_url_redact(text), so it is still safe to show. */
int rdv_url_strip_passwords(const char *text, char *buf, size_t cap);

RDV_API_END
#endif
