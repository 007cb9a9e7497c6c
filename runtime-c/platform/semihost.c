/* hyb_io for bare-metal Cortex-M under QEMU, over Arm semihosting.
 *
 * Self-contained (no rdimon): each request is "bkpt 0xAB" with the operation
 * in r0 and a pointer to its argument block in r1; the result comes back in
 * r0. QEMU must run with "-semihosting-config enable=on,target=native", and
 * then file paths are relative to QEMU's working directory.
 * Also provides newlib's _exit/_write so exit(), abort() and printf() work.
 */
#include "hyb_io.h"

#include <stdint.h>
#include <string.h>

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_READ = 0x06,
    SYS_FLEN = 0x0C,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
};

/* SYS_OPEN modes (index into the fopen mode table of the spec). */
enum { OPEN_RB = 1, OPEN_WB = 5 };

/* Reason codes for SYS_EXIT / SYS_EXIT_EXTENDED. */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

#define HYB_MAX_FILES 8

static int32_t sh_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    /* "memory": the host reads and writes the buffers the block points to. */
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

/* A fixed pool: the firmware never needs more than a few files at once,
 * and this keeps malloc out of the bare-metal image. */
struct hyb_file {
    int32_t handle;
    int used;
};
static hyb_file files[HYB_MAX_FILES];

hyb_file *hyb_fopen(const char *path, const char *mode)
{
    uint32_t block[3];
    uint32_t m;
    int32_t h;
    int i;

    if (strcmp(mode, "rb") == 0 || strcmp(mode, "r") == 0)
        m = OPEN_RB;
    else if (strcmp(mode, "wb") == 0 || strcmp(mode, "w") == 0)
        m = OPEN_WB;
    else
        return NULL;
    for (i = 0; i < HYB_MAX_FILES && files[i].used; i++)
        ;
    if (i == HYB_MAX_FILES)
        return NULL;
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = m;
    block[2] = (uint32_t)strlen(path);
    h = sh_call(SYS_OPEN, block);
    if (h == -1)
        return NULL;
    files[i].handle = h;
    files[i].used = 1;
    return &files[i];
}

long hyb_flen(hyb_file *f)
{
    uint32_t block[1];

    if (f == NULL)
        return -1;
    block[0] = (uint32_t)f->handle;
    return sh_call(SYS_FLEN, block);
}

long hyb_fread(hyb_file *f, void *buf, unsigned long n)
{
    unsigned long done = 0;
    uint32_t block[3];

    if (f == NULL)
        return -1;
    /* SYS_READ returns the number of bytes NOT read; loop over short reads
     * and stop when a call makes no progress (end of file). */
    while (done < n) {
        unsigned long want = n - done;
        int32_t left;

        block[0] = (uint32_t)f->handle;
        block[1] = (uint32_t)(uintptr_t)((char *)buf + done);
        block[2] = (uint32_t)want;
        left = sh_call(SYS_READ, block);
        if (left < 0 || (unsigned long)left > want)
            return -1;
        if ((unsigned long)left == want)
            break;
        done += want - (unsigned long)left;
    }
    return (long)done;
}

long hyb_fwrite(hyb_file *f, const void *buf, unsigned long n)
{
    uint32_t block[3];

    if (f == NULL)
        return -1;
    block[0] = (uint32_t)f->handle;
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = (uint32_t)n;
    /* Returns the number of bytes NOT written; anything but 0 is a failure. */
    if (sh_call(SYS_WRITE, block) != 0)
        return -1;
    return (long)n;
}

void hyb_fclose(hyb_file *f)
{
    uint32_t block[1];

    if (f == NULL || !f->used)
        return;
    block[0] = (uint32_t)f->handle;
    sh_call(SYS_CLOSE, block);
    f->used = 0;
}

/* SYS_WRITE0 goes to QEMU's semihosting console (its stderr unless a
 * chardev is configured); no handle to open, so it works even from the
 * fault handlers. */
void hyb_puts(const char *s)
{
    sh_call(SYS_WRITE0, s);
    sh_call(SYS_WRITE0, "\n");
}

void hyb_exit(int code)
{
    uint32_t block[2];

    /* SYS_EXIT_EXTENDED carries the status, so qemu-system-arm exits with it. */
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    sh_call(SYS_EXIT_EXTENDED, block);
    /* Fallback for hosts without it: on AArch32, SYS_EXIT takes the reason
     * itself in r1 and can only tell success (0) from failure (1). */
    sh_call(SYS_EXIT, (const void *)(uintptr_t)(code == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                          : ADP_STOPPED_RUNTIME_ERROR));
    for (;;)
        ;
}

/* newlib hooks: exit()/abort() end up here instead of nosys's endless loop. */
void _exit(int code)
{
    hyb_exit(code);
}

/* newlib hook: stdout/stderr (printf, assert messages) to the console. */
int _write(int fd, const char *buf, int len)
{
    char chunk[65];
    int done = 0;

    if (fd != 1 && fd != 2)
        return -1;
    while (done < len) {
        int k = len - done < 64 ? len - done : 64;

        memcpy(chunk, buf + done, (size_t)k);
        chunk[k] = '\0'; /* SYS_WRITE0 wants a NUL-terminated string */
        sh_call(SYS_WRITE0, chunk);
        done += k;
    }
    return len;
}
