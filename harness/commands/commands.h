/*
 * harness/commands/commands.h - the rdv subcommands. main.c dispatches to these;
 * each parses its own options with getopt_long, answers --help, and
 * returns the process exit code: 0 ok, 1 a check failed, 2 bad usage.
 */
#ifndef RDV_HARNESS_COMMANDS_H
#define RDV_HARNESS_COMMANDS_H

enum { RDV_EXIT_OK = 0, RDV_EXIT_FAIL = 1, RDV_EXIT_USAGE = 2 };

int rdv_cmd_run(int argc, char **argv);
int rdv_cmd_matrix(int argc, char **argv);
int rdv_cmd_conform(int argc, char **argv);
int rdv_cmd_faults(int argc, char **argv);
int rdv_cmd_store_server(int argc, char **argv);
int rdv_cmd_bench(int argc, char **argv); /* dispatches to the four below */
int rdv_cmd_bench_store(int argc, char **argv);
int rdv_cmd_bench_rendezvous(int argc, char **argv);
int rdv_cmd_bench_store_rendezvous(int argc, char **argv);
int rdv_cmd_bench_collectives(int argc, char **argv);

#endif
