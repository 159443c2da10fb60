/*
 * spec/spec_internal.h - what the spec parser (spec.c) and its value readers
 * (spec_values.c) share: the cursor, the atoms a value is made of, and
 * the error helpers that prefix "line L, column C: ".
 */
#ifndef RDV_FAULT_SPEC_INTERNAL_H
#define RDV_FAULT_SPEC_INTERNAL_H

#include "fault_internal.h"

typedef struct parser {
    const char *s;
    size_t i;
    int line;
    size_t bol; /* index where the current line begins */
    char *err;
    size_t errlen;
} parser;

typedef struct atom {
    const char *text; /* raw text (inside the quotes for a quoted atom) */
    size_t len;
    int col, line;
    int quoted;
} atom;

#define ATOMS_MAX 16

/* Column of index i on the current line (1-based). */
int rdv_spec_col(const parser *ps, size_t i);
/* Writes "line L, column C: <fmt>" into the error buffer; RDV_EINVAL. */
int rdv_spec_fail_at(parser *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "expected <what>, got <what is at the cursor>"; RDV_EINVAL. */
int rdv_spec_fail_expected(parser *ps, const char *what);
/* Reads the atoms of one parameter's value by its type into f. */
int rdv_spec_set_param(parser *ps, rdv_fault *f, rdv_fault_param pi,
                       const atom *as, size_t n);

#endif
