/* hyb_io.h - the only I/O a hybridc firmware uses.
 *
 * Two implementations, chosen at link time:
 *   runtime-c/platform/semihost.c  bare metal under QEMU (Arm semihosting)
 *   runtime-c/platform/host_io.c   host build (stdio)
 * Paths are relative to the directory QEMU (or the host binary) runs in.
 */
#ifndef HYB_IO_H
#define HYB_IO_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HYB_NORETURN __attribute__((noreturn))
#else
#define HYB_NORETURN
#endif

/* Exit status used by the bare-metal fault handlers (see targets/README.md). */
#define HYB_EXIT_FAULT 101

typedef struct hyb_file hyb_file; /* opaque */

/* mode is "rb" or "wb" ("r"/"w" are accepted as synonyms); NULL on failure. */
hyb_file *hyb_fopen(const char *path, const char *mode);
/* File length in bytes, -1 on error. */
long hyb_flen(hyb_file *f);
/* Bytes read (short only at end of file), -1 on error. */
long hyb_fread(hyb_file *f, void *buf, unsigned long n);
/* Bytes written, -1 on error. */
long hyb_fwrite(hyb_file *f, const void *buf, unsigned long n);
void hyb_fclose(hyb_file *f);
/* One line of log (newline added): QEMU's stderr / the host's stderr. */
void hyb_puts(const char *s);
/* Never returns; under QEMU it ends the emulation with this exit status. */
void hyb_exit(int code) HYB_NORETURN;

/* The test harnesses' input.bin and output.bin; logs and returns 0 when
 * either cannot be opened. */
static inline int hyb_open_io(hyb_file **in, hyb_file **out) {
    *in = hyb_fopen("input.bin", "rb");
    *out = hyb_fopen("output.bin", "wb");
    if (!*in || !*out) {
        hyb_puts("hybridc firmware: cannot open input.bin or output.bin");
        return 0;
    }
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* HYB_IO_H */
