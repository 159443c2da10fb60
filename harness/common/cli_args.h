/*
 * harness/common/cli_args.h - the one option reader of every rdv command
 * (run, hunt, matrix, conform, faults, bench, store-server; shrink reads
 * its replay line with it).
 *
 * getopt_long underneath, made strict and quiet:
 * - long options are taken only as spelled out: "--clause" is an unknown
 *   option, not an abbreviation of --clause-timeout (an abbreviation
 *   would change meaning the day another option starts the same way);
 * - options and arguments are read in order and nothing after the first
 *   argument that is not an option: a positional argument is an error;
 * - getopt prints nothing: each problem is one message, in err, naming
 *   the option as typed.
 */
#ifndef RDV_HARNESS_CLI_ARGS_H
#define RDV_HARNESS_CLI_ARGS_H

#include <getopt.h>
#include <stddef.h>

#include "common/exit_code.h"

typedef struct rdv_cli_args {
    const char *prog; /* "rdv run": the start of every message */
    int argc;
    char **argv;
    const struct option *longopts;
    char optstring[80]; /* "+:" and the short options */
    const char *arg;    /* the value of the option just returned */
    char err[512];
} rdv_cli_args;

/* Starts reading argv (argv[0] is the command's name). shortopts as for
 * getopt ("n:h"), may be "". */
void rdv_cli_args_init(rdv_cli_args *a, const char *prog, int argc,
                       char **argv, const char *shortopts,
                       const struct option *longopts);

/* The next option's code (its val, or its short letter), with its value
 * in a->arg; -1 when every argument was read; '?' with a message in
 * a->err for an unknown or abbreviated option, a missing value, a value
 * given to an option that takes none, or an argument that is not an
 * option. */
int rdv_cli_args_next(rdv_cli_args *a);

/* Prints "PROG: WHY" and "(see PROG --help)" on stderr (never the whole
 * usage text) and returns RDV_EXIT_USAGE. */
int rdv_cli_usage_error(const char *prog, const char *why);

#endif
