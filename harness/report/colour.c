/*
 * harness/report/colour.c - verdict words in colour (see colour.h).
 *
 * Choices: the tone follows the verdict word the text starts with, so
 * every report (run, matrix, conform) colours the words it already
 * prints and none keeps a copy of the rule; plain ANSI SGR codes (30-37),
 * which every terminal takes, and a reset right after the word.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/colour.h"

int rdv_term_redraws(FILE *f)
{
    const char *term = getenv("TERM");

    if (term && strcmp(term, "dumb") == 0)
        return 0;
    return isatty(fileno(f));
}

int rdv_colour_enabled(FILE *f)
{
    const char *no = getenv("NO_COLOR");

    if (no && *no)
        return 0;
    return rdv_term_redraws(f);
}

/* The SGR code for text's first word, or NULL. */
static const char *tone_of(const char *text)
{
    static const struct {
        const char *word, *sgr;
    } tones[] = {
        {"PASS", "32"}, {"ok", "32"},   {"FAIL", "31"}, {"ERROR", "31"},
        {"SKIP", "33"}, {"skip", "33"}, {"N/A", "33"},
    };
    size_t len = strcspn(text, " :");

    for (size_t i = 0; i < sizeof tones / sizeof tones[0]; i++)
        if (strlen(tones[i].word) == len &&
            strncmp(text, tones[i].word, len) == 0)
            return tones[i].sgr;
    return NULL;
}

void rdv_colour_put(FILE *f, const char *text, int width)
{
    const char *sgr = rdv_colour_enabled(f) ? tone_of(text) : NULL;
    int len = (int)strlen(text);

    if (sgr)
        fprintf(f, "\033[%sm%s\033[0m", sgr, text);
    else
        fputs(text, f);
    for (; len < width; len++)
        fputc(' ', f);
}
