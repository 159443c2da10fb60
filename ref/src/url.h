/*
 * url.h - the one store-URL parser. Every scheme (hash, file, redis,
 * unix, plugin) gets the same parsed form, so no backend parses strings.
 *
 *   scheme ":" [ "//" [ [user] [":" password] "@" ] host [":" port] ]
 *   path [ "?" key "=" value { "&" key "=" value } ]
 *
 * Components are percent-decoded. A backend reads its options with
 * rdv_url_option*(), which marks them used; rdv_url_check_unused() then
 * rejects typos such as "hash:?shraed=1" instead of ignoring them.
 */
#ifndef RDV_URL_H
#define RDV_URL_H

#include <stddef.h>

#define RDV_URL_MAX_OPTIONS 16

typedef struct rdv_url_opt {
    char *key;
    char *value;
    int used;
} rdv_url_opt;

typedef struct rdv_url {
    char *scheme;      /* "file" */
    int has_authority; /* "//" was present */
    char *user;        /* NULL when absent */
    char *password;    /* NULL when absent */
    char *host;        /* "" when absent; brackets of [::1] removed */
    int port;          /* -1 when absent */
    char *path;        /* "" when absent */
    rdv_url_opt options[RDV_URL_MAX_OPTIONS];
    size_t noptions;
    char *text;        /* the original URL, for messages */
} rdv_url;

/* RDV_OK, or RDV_EINVAL with a message naming the bad part. */
int rdv_url_parse(const char *text, rdv_url *u, char *errbuf, size_t errlen);
void rdv_url_free(rdv_url *u);

/* The option's value (marking it used), or NULL when absent. */
const char *rdv_url_option(rdv_url *u, const char *key);

/* Reads an integer option in [min, max]; *out = dflt when absent.
 * RDV_EINVAL names the option and the URL when it is not such a number. */
int rdv_url_option_long(rdv_url *u, const char *key, long min, long max,
                        long dflt, long *out, char *errbuf, size_t errlen);

/* RDV_EINVAL naming the first option no backend asked for. */
int rdv_url_check_unused(const rdv_url *u, char *errbuf, size_t errlen);

#endif
