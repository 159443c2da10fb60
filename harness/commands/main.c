/*
 * harness/commands/main.c - the `rdv` command: one binary, one subcommand per
 * verb. Each subcommand reads its own options (common/cli_args.h) and
 * answers --help; this file only picks it.
 *
 * Exit status, for every subcommand: common/exit_code.h (0 ok, 1 a check
 * failed, 2 bad usage, 3 could not run). Subcommands are listed here only once their code exists: a
 * verb that is not built is an unknown verb, never a silent success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"

typedef struct rdv_verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} rdv_verb;

static const rdv_verb verbs[] = {
    {"run", rdv_cmd_run,
     "fork N ranks against a store, rendezvous, run collectives, check"},
    {"hunt", rdv_cmd_hunt,
     "run one run under schedules pct:A..B until one fails, replay it"},
    {"shrink", rdv_cmd_shrink,
     "make a failing replay line smaller: ranks, faults, depth, steps"},
    {"launch", rdv_cmd_launch,
     "start your program N times with env://, under faults, check"},
    {"matrix", rdv_cmd_matrix,
     "run stores x rank counts x seeds (x fault scenarios), table + JUnit"},
    {"conform", rdv_cmd_conform,
     "certify a store URL against the whole store contract"},
    {"faults", rdv_cmd_faults, "list the fault catalogue, check a spec"},
    {"bench", rdv_cmd_bench,
     "store latency/throughput, rendezvous time, collective bandwidth"},
    {"store-server", rdv_cmd_store_server, "serve tcp:// stores from memory"},
};

#define NVERBS (sizeof verbs / sizeof verbs[0])

static void print_help(FILE *f)
{
    fputs("usage: rdv <command> [options]   (rdv <command> --help)\n"
          "       rdv --version | --help\n\ncommands:\n", f);
    for (size_t i = 0; i < NVERBS; i++)
        fprintf(f, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
    fputs("\n" RDV_EXIT_HELP, f);
}

int main(int argc, char **argv)
{
    /* rdv's own stores take faults from --faults only: an RDV_FAULTS
     * inherited from a launcher would fault the harness itself (librdv
     * reads it, fault-injection/runtime/env_install.c). rdv launch sets
     * it for the programs it starts. */
    unsetenv("RDV_FAULTS");
    if (argc < 2) {
        print_help(stderr);
        return RDV_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return RDV_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("rdv %s\n", RDV_VERSION);
        return RDV_EXIT_OK;
    }
    for (size_t i = 0; i < NVERBS; i++)
        if (strcmp(argv[1], verbs[i].name) == 0)
            return verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "rdv: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return RDV_EXIT_USAGE;
}
