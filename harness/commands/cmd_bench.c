/*
 * harness/commands/cmd_bench.c - `rdv bench <what>`: picks the benchmark. Each
 * one lives in its own file (bench_store.c, bench_rendezvous.c,
 * bench_store_rdv.c, bench_collectives.c) and parses its own options;
 * the collective benchmarks share one entry point that reads the
 * collective's name from argv[0].
 */
#include <stdio.h>
#include <string.h>

#include "commands/commands.h"

typedef struct bench_kind {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} bench_kind;

static const bench_kind kinds[] = {
    {"store", rdv_cmd_bench_store,
     "store operation latency and throughput"},
    {"rendezvous", rdv_cmd_bench_rendezvous,
     "rendezvous time against N, per store and backend"},
    {"store-rendezvous", rdv_cmd_bench_store_rendezvous,
     "N processes on a store alone: set own key, wait for all, get all"},
    {"allreduce", rdv_cmd_bench_collectives,
     "allreduce latency and bus bandwidth against message size"},
    {"broadcast", rdv_cmd_bench_collectives,
     "broadcast latency and bandwidth against message size"},
    {"barrier", rdv_cmd_bench_collectives, "barrier latency"},
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

static void bench_help(FILE *f)
{
    fputs("usage: rdv bench <what> [options]   (rdv bench <what> --help)\n"
          "\n", f);
    for (size_t i = 0; i < NKINDS; i++)
        fprintf(f, "  %-16s %s\n", kinds[i].name, kinds[i].summary);
    fputs("\n" RDV_EXIT_HELP_BENCH, f);
}

int rdv_cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        bench_help(stderr);
        return RDV_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        bench_help(stdout);
        return RDV_EXIT_OK;
    }
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(argv[1], kinds[i].name) == 0)
            return kinds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "rdv bench: unknown benchmark '%s'\n\n", argv[1]);
    bench_help(stderr);
    return RDV_EXIT_USAGE;
}
