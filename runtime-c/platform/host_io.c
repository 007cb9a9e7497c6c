/* hyb_io for the host build: a thin layer over stdio. */
#include "hyb_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hyb_file {
    FILE *fp;
};

hyb_file *hyb_fopen(const char *path, const char *mode)
{
    const char *m;
    hyb_file *f;

    if (strcmp(mode, "rb") == 0 || strcmp(mode, "r") == 0)
        m = "rb";
    else if (strcmp(mode, "wb") == 0 || strcmp(mode, "w") == 0)
        m = "wb";
    else
        return NULL;
    f = (hyb_file *)malloc(sizeof *f);
    if (f == NULL)
        return NULL;
    f->fp = fopen(path, m);
    if (f->fp == NULL) {
        free(f);
        return NULL;
    }
    return f;
}

long hyb_flen(hyb_file *f)
{
    long here, len;

    if (f == NULL || (here = ftell(f->fp)) < 0)
        return -1;
    if (fseek(f->fp, 0, SEEK_END) != 0)
        return -1;
    len = ftell(f->fp);
    /* Restore the position so flen can be called between reads. */
    if (fseek(f->fp, here, SEEK_SET) != 0)
        return -1;
    return len;
}

long hyb_fread(hyb_file *f, void *buf, unsigned long n)
{
    size_t got;

    if (f == NULL)
        return -1;
    got = fread(buf, 1, n, f->fp);
    if (got < n && ferror(f->fp))
        return -1;
    return (long)got;
}

long hyb_fwrite(hyb_file *f, const void *buf, unsigned long n)
{
    if (f == NULL || fwrite(buf, 1, n, f->fp) != n)
        return -1;
    return (long)n;
}

void hyb_fclose(hyb_file *f)
{
    if (f == NULL)
        return;
    fclose(f->fp);
    free(f);
}

void hyb_puts(const char *s)
{
    fputs(s, stderr);
    fputc('\n', stderr);
}

void hyb_exit(int code)
{
    exit(code); /* flushes and closes stdio streams */
}
