/* Reader for the project's vector files (tests/vectors/NAME.txt):
 * blocks separated by blank lines, "# vector: ID" naming a block, other
 * "#" lines are comments, data lines are "name = hex". */
#ifndef PERC_TEST_VECTORS_H
#define PERC_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#define TV_MAX_FIELDS 40

typedef struct tv_field {
    char name[64];
    uint8_t *data;
    size_t len;
} tv_field;

typedef struct tv_block {
    char id[128];
    tv_field fields[TV_MAX_FIELDS];
    size_t n_fields;
} tv_block;

typedef struct tv_file {
    tv_block *blocks;
    size_t n_blocks;
} tv_file;

/* Loads tests/vectors/<name>; returns 0 or -1 (with a message on stderr). */
int tv_load(const char *name, tv_file *out);
/* Parses vector text held in memory (perc-tool's output, say). */
int tv_parse(const char *text, tv_file *out);
void tv_free(tv_file *f);
const tv_block *tv_find(const tv_file *f, const char *id);
/* NULL when absent. */
const tv_field *tv_get(const tv_block *b, const char *name);

#endif
