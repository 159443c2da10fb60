/*
 * harness/run/error_quality.c - does an error message say who or what failed?
 *
 * The design asks every error to name a rank, a key or an address. These
 * are the shapes librdv's messages use for each: "rank 3" / "ranks 1, 3"
 * / "peer 3"; an IPv4 or [IPv6] address with a port; and a key, i.e. a
 * token with a '/' that has at least two characters before it
 * ("job/addr/3", "kv/counter"), which keeps "I/O" from counting.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "run/checks.h"

/* Calls visit(number) for each number listed after "rank", "ranks" or
 * "peer" ("ranks 1, 3 and 6"); stops early when visit returns 1. */
static int scan_ranks(const char *msg, int (*visit)(long n, void *arg),
                      void *arg)
{
    static const char *const words[] = {"rank", "peer"};

    for (size_t w = 0; w < 2; w++) {
        size_t wl = strlen(words[w]);

        for (const char *p = strstr(msg, words[w]); p;
             p = strstr(p + 1, words[w])) {
            const char *q = p + wl;

            if (p > msg && isalnum((unsigned char)p[-1]))
                continue;
            if (*q == 's')
                q++;
            while (*q == ' ' || *q == '#') {
                char *end;
                long n;

                while (*q == ' ' || *q == '#')
                    q++;
                if (!isdigit((unsigned char)*q))
                    break;
                n = strtol(q, &end, 10);
                if (visit(n, arg))
                    return 1;
                q = end;
                if (*q == ',')
                    q++;
                else if (strncmp(q, " and", 4) == 0)
                    q += 4;
                else
                    break;
            }
        }
    }
    return 0;
}

static int visit_any(long n, void *arg)
{
    (void)n, (void)arg;
    return 1;
}

static int visit_match(long n, void *arg)
{
    return n == *(const int *)arg;
}

static int names_address(const char *msg)
{
    for (const char *p = msg; *p; p++) {
        int dots = 0;
        const char *q = p;

        if (p > msg && (isdigit((unsigned char)p[-1]) || p[-1] == '.'))
            continue;
        while (isdigit((unsigned char)*q) || *q == '.')
            dots += *q++ == '.';
        if (dots == 3 && *q == ':' && isdigit((unsigned char)q[1]))
            return 1;
        if (*p == ']' && p[1] == ':' && isdigit((unsigned char)p[2]))
            return 1;
    }
    return 0;
}

static int names_key(const char *msg)
{
    for (const char *p = strchr(msg, '/'); p; p = strchr(p + 1, '/')) {
        int before = 0, after = 0;

        for (const char *b = p - 1; b >= msg && !isspace((unsigned char)*b) &&
                                    *b != '\'' && *b != '"';
             b--)
            before++;
        for (const char *a = p + 1; *a && !isspace((unsigned char)*a) &&
                                    *a != '\'' && *a != '"';
             a++)
            after++;
        if (before >= 2 && after >= 1 && p[1] != '/')
            return 1;
    }
    return 0;
}

int rdv_error_names_culprit(const char *msg)
{
    return scan_ranks(msg, visit_any, NULL) || names_address(msg) ||
           names_key(msg);
}

int rdv_error_names_rank(const char *msg, int rank)
{
    return scan_ranks(msg, visit_match, &rank);
}
