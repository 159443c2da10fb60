/*
 * tests/fuzz/fuzz.h - what every fuzz target shares.
 *
 * A target is one function, LLVMFuzzerTestOneInput, that feeds bytes to
 * one parser of librdv and checks properties of what comes back, not
 * only that nothing crashed: a parse that succeeds re-encodes to
 * something that parses to the same value, and a parse that fails says
 * why with the status its contract names. A broken property aborts
 * with a message, which libFuzzer reports as a crash and keeps the
 * input for.
 *
 * The same sources build two ways (tests/fuzz/CMakeLists.txt): with
 * clang and -fsanitize=fuzzer as libFuzzer targets (the fuzz preset),
 * and in every other build against replay.c, which runs each file of
 * the target's corpus once, so the seeds and every input that once
 * broke a parser stay in the normal suite (and under ASan and
 * valgrind).
 */
#ifndef RDV_TESTS_FUZZ_H
#define RDV_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts, naming the broken property, when cond is false. */
#define FUZZ_CHECK(cond, ...)                                              \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__,      \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* data as a NUL-terminated string (malloc'd; bytes after an inner NUL
 * are cut off, as a C caller would see them). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* An error message must say something, and end inside its buffer. */
static inline int fuzz_msg_ok(const char *msg, size_t cap)
{
    return msg[0] != '\0' && memchr(msg, '\0', cap) != NULL;
}

#endif
