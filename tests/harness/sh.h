/*
 * tests/harness/sh.h - running the real `rdv` binary from a test: one
 * command line through the shell, its output and its exit code. Shared
 * by the tests that judge rdv from the outside.
 */
#ifndef RDV_TEST_SH_H
#define RDV_TEST_SH_H

#include <stddef.h>

typedef struct result {
    int code;  /* the exit status, -1 when killed by a signal */
    char *out; /* stdout and stderr together; free() it */
} result;

/* Runs a shell command line and collects its output and exit code. */
result sh(const char *cmd);
/* Runs `rdv ARGS 2>&1` (RDV_BIN). */
result rdv(const char *args);
/* A fresh directory under $TMPDIR (or /tmp), and removing one. */
void tmpdir(char *buf, size_t cap);
void rm_rf(const char *dir);
/* 1 when rdv's check table says "<check> <spaces> <verdict>" (PASS,
 * FAIL, SKIP) somewhere in out. */
int check_is(const char *out, const char *check, const char *verdict);
/* 1 in quick mode (RDV_TEST_QUICK, set by the ASan and memcheck passes):
 * a test there covers each code path once and leaves the repeats, other
 * seeds and other targets of the same path to the release pass. */
int quick_mode(void);

#endif
