/*
 * harness/common/cli_args.c - strict getopt_long for every rdv command.
 *
 * Choices:
 * - "+" in front of the short options stops getopt permuting argv, so
 *   optind before a call is the element the call reads: that is how an
 *   abbreviated long option is caught (the text typed is compared with
 *   the option getopt matched) and how a stray argument is reported.
 * - ":" and opterr = 0 keep getopt silent; every message is made here,
 *   once, from the text typed.
 */
#include <stdio.h>
#include <string.h>

#include "common/cli_args.h"

void rdv_cli_args_init(rdv_cli_args *a, const char *prog, int argc,
                       char **argv, const char *shortopts,
                       const struct option *longopts)
{
    memset(a, 0, sizeof *a);
    a->prog = prog;
    a->argc = argc;
    a->argv = argv;
    a->longopts = longopts;
    snprintf(a->optstring, sizeof a->optstring, "+:%s", shortopts);
    opterr = 0;
    optind = 0; /* glibc: start over, whatever was read before */
}

/* The long option named by the len bytes at name, or NULL. */
static const struct option *long_named(const struct option *opts,
                                       const char *name, size_t len)
{
    for (; opts && opts->name; opts++)
        if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
            return opts;
    return NULL;
}

/* What was wrong with the option at argv[at] that getopt refused. */
static int refused(rdv_cli_args *a, int c, int at)
{
    const char *typed = at < a->argc ? a->argv[at] : "";
    size_t len = strcspn(typed, "=");
    const struct option *o;

    if (strncmp(typed, "--", 2) != 0) {
        snprintf(a->err, sizeof a->err, c == ':' ? "option '-%c' needs a "
                 "value" : "unknown option '-%c'", optopt);
        return '?';
    }
    o = long_named(a->longopts, typed + 2, len - 2);
    if (c == ':')
        snprintf(a->err, sizeof a->err, "option '%.*s' needs a value",
                 (int)len, typed);
    else if (o && o->has_arg == no_argument && typed[len] == '=')
        snprintf(a->err, sizeof a->err, "option '%.*s' takes no value",
                 (int)len, typed);
    else
        snprintf(a->err, sizeof a->err, "unknown option '%.*s'", (int)len,
                 typed);
    return '?';
}

int rdv_cli_args_next(rdv_cli_args *a)
{
    int at = optind ? optind : 1, idx = -1, c;

    a->arg = NULL;
    c = getopt_long(a->argc, a->argv, a->optstring, a->longopts, &idx);
    if (c == -1) {
        if (optind < a->argc) {
            snprintf(a->err, sizeof a->err, "unexpected argument '%s'",
                     a->argv[optind]);
            return '?';
        }
        return -1;
    }
    if (c == '?' || c == ':')
        return refused(a, c, at);
    if (idx >= 0) {
        const char *typed = a->argv[at] + 2;
        size_t len = strcspn(typed, "=");

        if (len != strlen(a->longopts[idx].name)) {
            snprintf(a->err, sizeof a->err, "unknown option '--%.*s' "
                     "(options are spelled out in full: --%s?)", (int)len,
                     typed, a->longopts[idx].name);
            return '?';
        }
    }
    a->arg = optarg;
    return c;
}

int rdv_cli_usage_error(const char *prog, const char *why)
{
    fprintf(stderr, "%s: %s\n(see %s --help)\n", prog, why, prog);
    return RDV_EXIT_USAGE;
}
