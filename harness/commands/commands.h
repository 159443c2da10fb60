/*
 * harness/commands/commands.h - the rdv subcommands. main.c dispatches to these;
 * each reads its options with common/cli_args.h, answers --help, and
 * returns the process exit code of common/exit_code.h: 0 ok, 1 a check
 * failed, 2 bad usage, 3 could not run.
 */
#ifndef RDV_HARNESS_COMMANDS_H
#define RDV_HARNESS_COMMANDS_H

#include "common/exit_code.h"

int rdv_cmd_run(int argc, char **argv);
int rdv_cmd_hunt(int argc, char **argv);
int rdv_cmd_shrink(int argc, char **argv);
int rdv_cmd_launch(int argc, char **argv);
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
