#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perc/hex.h"

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static tv_block *new_block(tv_file *f)
{
    tv_block *nb = realloc(f->blocks, (f->n_blocks + 1) * sizeof *nb);
    if (!nb)
        return NULL;
    f->blocks = nb;
    memset(&nb[f->n_blocks], 0, sizeof *nb);
    return &nb[f->n_blocks++];
}

static int add_field(tv_block *b, const char *name, const char *hex)
{
    if (b->n_fields >= TV_MAX_FIELDS)
        return -1;
    tv_field *fl = &b->fields[b->n_fields];
    size_t cap = strlen(hex) / 2 + 1;
    fl->data = malloc(cap);
    if (!fl->data || perc_hex_decode(hex, fl->data, cap, &fl->len) != PERC_OK) {
        free(fl->data);
        fl->data = NULL;
        return -1;
    }
    snprintf(fl->name, sizeof fl->name, "%s", name);
    b->n_fields++;
    return 0;
}

int tv_parse(const char *text, tv_file *out)
{
    memset(out, 0, sizeof *out);
    char *copy = strdup(text);
    if (!copy)
        return -1;
    tv_block *cur = NULL;
    int rc = 0;
    /* line by line; a blank line ends the current block */
    for (char *line = copy; line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *t = trim(line);
        if (*t == '\0') {
            cur = NULL;
        } else if (*t == '#') {
            const char *tag = "# vector:";
            if (strncmp(t, tag, strlen(tag)) == 0) {
                if (!cur && !(cur = new_block(out)))
                    rc = -1;
                else
                    snprintf(cur->id, sizeof cur->id, "%s", trim(t + strlen(tag)));
            }
        } else {
            char *eq = strchr(t, '=');
            if (!eq) {
                fprintf(stderr, "vectors: line without '=': %s\n", t);
                rc = -1;
                break;
            }
            *eq = '\0';
            if (!cur && !(cur = new_block(out)))
                rc = -1;
            else if (add_field(cur, trim(t), trim(eq + 1)) != 0) {
                fprintf(stderr, "vectors: bad field %s\n", trim(t));
                rc = -1;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (rc != 0)
        tv_free(out);
    return rc;
}

int tv_load(const char *name, tv_file *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", PERC_VECTORS_DIR, name);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "vectors: cannot open %s\n", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!text || fread(text, 1, (size_t)size, fp) != (size_t)size) {
        free(text);
        fclose(fp);
        return -1;
    }
    text[size] = '\0';
    fclose(fp);
    int rc = tv_parse(text, out);
    free(text);
    return rc;
}

void tv_free(tv_file *f)
{
    for (size_t i = 0; i < f->n_blocks; i++)
        for (size_t j = 0; j < f->blocks[i].n_fields; j++)
            free(f->blocks[i].fields[j].data);
    free(f->blocks);
    memset(f, 0, sizeof *f);
}

const tv_block *tv_find(const tv_file *f, const char *id)
{
    for (size_t i = 0; i < f->n_blocks; i++)
        if (strcmp(f->blocks[i].id, id) == 0)
            return &f->blocks[i];
    return NULL;
}

const tv_field *tv_get(const tv_block *b, const char *name)
{
    for (size_t i = 0; i < b->n_fields; i++)
        if (strcmp(b->fields[i].name, name) == 0)
            return &b->fields[i];
    return NULL;
}
