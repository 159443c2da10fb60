/*
 * helpers.h - small things the fault-injection tests share: parsing a
 * plan that must parse, a monotonic clock in ms, reading a file, and
 * running a program (the real rdv binary) with its output captured.
 */
#ifndef RDV_TEST_FAULT_HELPERS_H
#define RDV_TEST_FAULT_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rdv/fault.h"

static inline rdv_fault_plan *plan_of(const char *spec)
{
    char err[512];
    rdv_fault_plan *p = NULL;

    cr_assert_eq(rdv_fault_plan_parse(spec, &p, err, sizeof err), RDV_OK,
                 "'%s': %s", spec, err);
    return p;
}

static inline double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The whole file, NUL-terminated and malloc'd; *len its size. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    char *buf;
    long n;

    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Runs argv (argv[0] a path), returns its exit status and its
 * stdout+stderr in *out (malloc'd). */
static inline int run_capture(char *const argv[], char **out)
{
    char path[] = "/tmp/rdv-fault-outXXXXXX";
    int fd = mkstemp(path), st;
    size_t len;
    pid_t pid;

    cr_assert_geq(fd, 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], argv);
        exit(127);
    }
    close(fd);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    *out = slurp(path, &len);
    unlink(path);
    cr_assert(WIFEXITED(st), "%s did not exit: status 0x%x", argv[0], st);
    return WEXITSTATUS(st);
}

#endif
