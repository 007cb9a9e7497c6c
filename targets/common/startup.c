/* hybridc bare-metal startup for the QEMU Cortex-M targets (M4, M7, M33, M55).
 *
 * One file for every core: the differences (FPU/MVE enable, v8-M stack
 * limit, SecureFault) are keyed on the compiler's predefined macros, so the
 * target's -mcpu/-mfpu flags select them. The linker script places
 * .isr_vector where QEMU fetches the reset vector and defines the symbols
 * used below. Output and exit go through hyb_io (semihost.c).
 */
#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_top[], __stack_limit[];
extern uint32_t __hyb_ram_start[], __hyb_ram_end[];
extern uint32_t __hyb_flash_start[], __hyb_flash_end[];
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

int main(void);
void hyb_puts(const char *s);
void hyb_exit(int code) __attribute__((noreturn));
typedef struct hyb_file hyb_file; /* hyb_io.h */
hyb_file *hyb_fopen(const char *path, const char *mode);
long hyb_fwrite(hyb_file *f, const void *buf, unsigned long n);
void hyb_fclose(hyb_file *f);

#define HYB_EXIT_FAULT 101 /* keep in sync with hyb_io.h */

#define REG(addr) (*(volatile uint32_t *)(addr))
#define SCB_CFSR REG(0xE000ED28u)
#define SCB_HFSR REG(0xE000ED2Cu)
#define SCB_MMFAR REG(0xE000ED34u)
#define SCB_BFAR REG(0xE000ED38u)
#define CFSR_MMARVALID (1u << 7)
#define CFSR_BFARVALID (1u << 15)
#define SCB_CPACR REG(0xE000ED88u)
#define SCB_MPU_CTRL REG(0xE000ED94u)
#define SCB_MPU_RBAR REG(0xE000ED9Cu)
#define SCB_MPU_RASR REG(0xE000EDA0u)
/* CFSR bits meaning the stack ran out: MSTKERR, STKERR, STKOF (v8-M). */
#define CFSR_STACK_BITS ((1u << 4) | (1u << 12) | (1u << 20))

#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define HYB_V8M 1
#endif

void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((naked)); /* never returns */
void hyb_fault_report(const uint32_t *frame, uint32_t exc_return)
    __attribute__((noreturn, used));

/* Exceptions nothing should raise in a hybridc firmware all go to
 * Fault_Handler, which reports and ends the run. They are weak so a
 * firmware that wants, say, SysTick can define its own handler. */
#define HYB_WEAK_FAULT __attribute__((weak, alias("Fault_Handler")))
void NMI_Handler(void) HYB_WEAK_FAULT;
void HardFault_Handler(void) HYB_WEAK_FAULT;
void MemManage_Handler(void) HYB_WEAK_FAULT;
void BusFault_Handler(void) HYB_WEAK_FAULT;
void UsageFault_Handler(void) HYB_WEAK_FAULT;
void SecureFault_Handler(void) HYB_WEAK_FAULT;
void SVC_Handler(void) HYB_WEAK_FAULT;
void DebugMon_Handler(void) HYB_WEAK_FAULT;
void PendSV_Handler(void) HYB_WEAK_FAULT;
void SysTick_Handler(void) HYB_WEAK_FAULT;

/* The 16 system entries only: the firmware enables no external IRQs.
 * A struct so the initial-SP word can be a data pointer (ISO C has no
 * object-to-function pointer conversion). */
struct hyb_vector_table {
    uint32_t *initial_sp; /* loaded into MSP by the core at reset */
    void (*handler[15])(void);
};

__attribute__((section(".isr_vector"), used))
const struct hyb_vector_table hyb_vectors = {
    __stack_top,
    {
        Reset_Handler,
        NMI_Handler,
        HardFault_Handler,
        MemManage_Handler,
        BusFault_Handler,
        UsageFault_Handler,
#ifdef HYB_V8M
        SecureFault_Handler, /* v8-M Mainline with the Security Extension */
#else
        0,
#endif
        0, 0, 0,
        SVC_Handler,
        DebugMon_Handler,
        0,
        PendSV_Handler,
        SysTick_Handler,
    },
};

#ifndef HYB_V8M
/* QEMU's mps2 boards (M4/M7) back the holes in the address map with RAZ/WI
 * "reserved" devices, so a wild pointer reads zeros and a stack overflow
 * silently walks down into the code. An MPU with no background region makes
 * every access outside flash (read-only) and RAM (no execute) fault instead.
 * ARMv7-M regions must be power-of-two sized and aligned (the linker script
 * regions are); otherwise the fence is skipped. */
static uint32_t mpu_size_field(uint32_t base, uint32_t len)
{
    if (len < 32u || (len & (len - 1u)) || (base & (len - 1u)))
        return 0;
    return ((uint32_t)__builtin_ctz(len) - 1u) << 1;
}

static void mpu_fence(void)
{
    uint32_t fb = (uint32_t)(uintptr_t)__hyb_flash_start;
    uint32_t rb = (uint32_t)(uintptr_t)__hyb_ram_start;
    uint32_t fs = mpu_size_field(fb, (uint32_t)(uintptr_t)__hyb_flash_end - fb);
    uint32_t rs = mpu_size_field(rb, (uint32_t)(uintptr_t)__hyb_ram_end - rb);
    const uint32_t normal_wb = (1u << 17) | (1u << 16); /* C=1 B=1: unaligned OK */

    if (!fs || !rs)
        return;
    SCB_MPU_RBAR = fb | (1u << 4) | 0u; /* VALID, region 0 */
    SCB_MPU_RASR = (6u << 24) | normal_wb | fs | 1u; /* read-only */
    SCB_MPU_RBAR = rb | (1u << 4) | 1u; /* VALID, region 1 */
    SCB_MPU_RASR = (1u << 28) | (3u << 24) | normal_wb | rs | 1u; /* XN, RW */
    /* The board's APB peripherals (UART0 carries offload frames): 64 KiB, device, XN. */
    SCB_MPU_RBAR = 0x40000000u | (1u << 4) | 2u; /* VALID, region 2 */
    SCB_MPU_RASR = (1u << 28) | (3u << 24) | (1u << 16) | (15u << 1) | 1u;
    /* ENABLE only: no background map; off inside HardFault/NMI. */
    SCB_MPU_CTRL = 1u;
    __asm__ volatile("dsb\n\tisb" : : : "memory");
}
#endif

/* Stack high-water mark (`hybridc bench`'s RAM): the stack is painted at
 * reset below the reset handler's frame, and after main returns the
 * lowest word no longer holding the paint marks the deepest use. */
#define HYB_STACK_PAINT 0x5AC3A55Au

static void __attribute__((noinline)) paint_stack(void)
{
    uint32_t *p = __stack_limit, *sp;

    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while (p < sp - 16)
        *p++ = HYB_STACK_PAINT;
}

static char *put_dec(char *p, uint32_t v);

/* Writes the bytes of stack used to stack.txt (the run's directory). */
static void report_stack(void)
{
    const uint32_t *p = __stack_limit;
    char text[12], *end;
    hyb_file *f;

    while (p < __stack_top && *p == HYB_STACK_PAINT)
        p++;
    end = put_dec(text, (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p));
    f = hyb_fopen("stack.txt", "wb");
    if (f) {
        hyb_fwrite(f, text, (unsigned long)(end - text));
        hyb_fclose(f);
    }
}

void Reset_Handler(void)
{
    uint32_t *src, *dst;
    void (**fn)(void);
    int code;

#ifdef HYB_V8M
    /* Hardware stack-limit check: an overflow raises a UsageFault (STKOF)
     * that the fault handler reports, instead of corrupting memory. */
    __asm__ volatile("msr msplim, %0" : : "r"(__stack_limit));
#else
    mpu_fence();
#endif
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CP10/CP11 full access turns on the FPU, and on the M55 also MVE;
     * before this any FP/vector instruction (even compiler-generated, e.g.
     * a vectorised copy loop) is a NOCP UsageFault. The "memory" clobber
     * keeps the copy loops below after the barrier. */
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" : : : "memory");
#endif

    for (src = __data_load, dst = __data_start; dst < __data_end;)
        *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;)
        *dst++ = 0;
    /* C++-style constructors; we link with -nostartfiles, so no crt0 does it. */
    for (fn = __init_array_start; fn < __init_array_end; fn++)
        (*fn)();

    paint_stack();
    code = main();
    report_stack();
    hyb_exit(code);
}

/* The report runs on its own small stack: the main one may have overflowed,
 * and reusing it could overwrite the stacked frame before it is read. It
 * sits in .bss, above the v8-M stack limit. */
#define HYB_FAULT_STACK_BYTES 1024
uint64_t hyb_fault_stack[HYB_FAULT_STACK_BYTES / 8];

/* Find the stacked exception frame (MSP or PSP, per EXC_RETURN bit 2),
 * switch to the fault stack and report. movw/movt instead of a literal pool
 * keeps this free of data. */
void Fault_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mov r1, lr\n\t"
        "movw r2, #:lower16:hyb_fault_stack\n\t"
        "movt r2, #:upper16:hyb_fault_stack\n\t"
        "add r2, r2, %0\n\t"
        "mov sp, r2\n\t"
        "b hyb_fault_report\n\t"
        : : "i"(HYB_FAULT_STACK_BYTES));
}

static char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

static char *put_hex(char *p, uint32_t v)
{
    int i;

    *p++ = '0';
    *p++ = 'x';
    for (i = 28; i >= 0; i -= 4)
        *p++ = "0123456789abcdef"[(v >> i) & 0xFu];
    return p;
}

static char *put_dec(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* One line on the console, then exit HYB_EXIT_FAULT so a crashed firmware
 * ends the emulation with a failure instead of hanging. */
void hyb_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    static const char *const names[16] = {
        0, 0, "NMI", "HardFault", "MemManage", "BusFault", "UsageFault",
        "SecureFault", 0, 0, 0, "SVCall", "DebugMonitor", 0, "PendSV", "SysTick",
    };
    char line[200];
    char *p = line;
    uint32_t ipsr, cfsr = SCB_CFSR;

    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;

    p = put_str(p, "hybridc firmware: ");
    if (ipsr < 16 && names[ipsr]) {
        p = put_str(p, names[ipsr]);
    } else {
        p = put_str(p, "unexpected exception ");
        p = put_dec(p, ipsr);
    }
    p = put_str(p, " at pc=");
    /* Only trust the frame if it lies in RAM (it may not after an overflow). */
    if (frame >= __hyb_ram_start && frame + 8 <= __hyb_ram_end) {
        p = put_hex(p, frame[6]);
        p = put_str(p, " lr=");
        p = put_hex(p, frame[5]);
    } else {
        p = put_str(p, "unknown (bad stack ");
        p = put_hex(p, (uint32_t)(uintptr_t)frame);
        p = put_str(p, ")");
    }
    p = put_str(p, " cfsr=");
    p = put_hex(p, cfsr);
    p = put_str(p, " hfsr=");
    p = put_hex(p, SCB_HFSR);
    /* The faulting data address, when the core recorded one. */
    if (cfsr & CFSR_MMARVALID) {
        p = put_str(p, " addr=");
        p = put_hex(p, SCB_MMFAR);
    } else if (cfsr & CFSR_BFARVALID) {
        p = put_str(p, " addr=");
        p = put_hex(p, SCB_BFAR);
    }
    p = put_str(p, " exc_return=");
    p = put_hex(p, exc_return);
    if (cfsr & CFSR_STACK_BITS)
        p = put_str(p, " (stack overflow)");
    *p = '\0';

    hyb_puts(line);
    hyb_exit(HYB_EXIT_FAULT);
}
