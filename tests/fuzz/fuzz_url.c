/*
 * tests/fuzz/fuzz_url.c - the store-URL parser (rdv/url.h), which reads
 * what users type: --store, RDV_STORE, MASTER_ADDR.
 *
 * Properties: a URL that parses renders (rdv_url_format) to text that
 * parses to the same components, and renders the same again; a refused
 * one is RDV_EINVAL with a message; the login, option and redaction
 * helpers hold the same on whatever parsed; redaction never grows past
 * its buffer.
 */
#include "fuzz.h"
#include "rdv/status.h"
#include "rdv/url.h"

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const rdv_url *a, const rdv_url *b, const char *text)
{
    FUZZ_CHECK(same_str(a->scheme, b->scheme) &&
                   a->has_authority == b->has_authority &&
                   same_str(a->user, b->user) &&
                   same_str(a->password, b->password) &&
                   same_str(a->host, b->host) && a->port == b->port &&
                   same_str(a->path, b->path) && a->noptions == b->noptions,
               "'%s' renders to a URL that parses differently", text);
    for (size_t i = 0; i < a->noptions; i++)
        FUZZ_CHECK(same_str(a->options[i].key, b->options[i].key) &&
                       same_str(a->options[i].value, b->options[i].value),
                   "option %zu of '%s' changes in a round trip", i, text);
}

static void check_parsed(rdv_url *u, const char *text)
{
    static char buf[65536], again[65536];
    char err[512];
    const char *user, *password;
    rdv_url v = {0};
    int rc;

    if (rdv_url_format(u, buf, sizeof buf) != RDV_OK)
        return; /* does not fit: nothing to compare */
    rc = rdv_url_parse(buf, &v, err, sizeof err);
    FUZZ_CHECK(rc == RDV_OK, "'%s' renders to '%s', which fails: %s", text,
               buf, err);
    check_same(u, &v, text);
    FUZZ_CHECK(rdv_url_format(&v, again, sizeof again) == RDV_OK &&
                   strcmp(buf, again) == 0,
               "rendering is not stable: '%s' then '%s'", buf, again);
    rdv_url_free(&v);

    rc = rdv_url_login(u, &user, &password, err, sizeof err);
    FUZZ_CHECK(rc == RDV_OK || (rc == RDV_EINVAL && fuzz_msg_ok(err, sizeof err)),
               "login of '%s': %d", text, rc);
    FUZZ_CHECK(rdv_url_port(u) >= -1 && rdv_url_port(u) <= 65535,
               "port %d of '%s'", rdv_url_port(u), text);
    rc = rdv_url_with_option(text, "timeout_ms", "5", buf, sizeof buf, err,
                             sizeof err);
    FUZZ_CHECK(rc == RDV_OK || (rc == RDV_EINVAL && fuzz_msg_ok(err, sizeof err)),
               "with_option on '%s': %d", text, rc);
    if (rc == RDV_OK) {
        rc = rdv_url_parse(buf, &v, err, sizeof err);
        FUZZ_CHECK(rc == RDV_OK, "'%s' with an option, '%s', fails: %s",
                   text, buf, err);
        FUZZ_CHECK(same_str(rdv_url_option(&v, "timeout_ms"), "5"),
                   "the option added to '%s' is not read back", text);
        rdv_url_free(&v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    char err[512], red[64];
    rdv_url u = {0};
    int rc;

    err[0] = '\0';
    rc = rdv_url_parse(text, &u, err, sizeof err);
    if (rc == RDV_OK) {
        FUZZ_CHECK(u.scheme && u.host && u.path && u.redacted,
                   "'%s' parsed with a NULL field", text);
        check_parsed(&u, text);
    } else {
        FUZZ_CHECK(rc == RDV_EINVAL && fuzz_msg_ok(err, sizeof err),
                   "'%s' refused with %d and message '%s'", text, rc, err);
    }
    rdv_url_free(&u);
    /* Small on purpose: truncation must still end in a NUL. */
    FUZZ_CHECK(rdv_url_redact(text, red, sizeof red) == red &&
                   memchr(red, '\0', sizeof red),
               "redact of '%s' overran", text);
    free(text);
    return 0;
}
