/*
 * hyb_profile: QEMU 7.2 TCG plugin (API v1) that counts the Thumb-2
 * instructions a hybridc firmware executes, per profiling region and per
 * Cortex-M4 cost class. It only counts; the Rust side applies the costs.
 *
 * Load:
 *   qemu-system-arm ... -plugin ./libhyb_profile.so,out=PATH,
 *       mark_lo=0xLO,mark_hi=0xHI,marks=0xMARKS[,nmarks=N]
 *   (7.2 also takes the deprecated "arg=out=PATH" spelling, with a warning.)
 * Regions: a store by an instruction in [mark_lo, mark_hi) (the code of
 * hyb_prof_mark) into hyb_prof_marks[] at address marks selects region
 * (vaddr - marks) / 4. Before the first mark the region is 4294967295.
 *
 * Output (file out=PATH; without out= it goes to QEMU's -d plugin log):
 *   hyb_profile v1
 *   region <id> insns <n> alu <n> ... other <n>
 * One line per region that executed anything, ids ascending as unsigned
 * 32-bit (so 4294967295 comes last). Every line has every key, in order:
 *   insns alu it simd mul mla smlad smlaxy smull ldr str ldrd strd
 *   ldm ldm_regs stm stm_regs push push_regs pop pop_regs div
 *   branch branch_taken branch_not_taken tbb pc_load
 *   fpu fpu_ldst fpu_ldst_regs mve other
 * *_regs: registers transferred (fpu_ldst_regs: 32-bit words).
 * branch_taken + branch_not_taken == branch; taken means the next executed
 * pc != pc + size. pc_load: loads/pops writing pc, also in their own class.
 * Single vCPU assumed (exec callbacks share state without locks).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define HYB_KEYS(X)                                                         \
    X(INSNS, "insns") X(ALU, "alu") X(IT, "it") X(SIMD, "simd")             \
    X(MUL, "mul") X(MLA, "mla") X(SMLAD, "smlad") X(SMLAXY, "smlaxy")       \
    X(SMULL, "smull") X(LDR, "ldr") X(STR, "str") X(LDRD, "ldrd")           \
    X(STRD, "strd") X(LDM, "ldm") X(LDM_REGS, "ldm_regs") X(STM, "stm")     \
    X(STM_REGS, "stm_regs") X(PUSH, "push") X(PUSH_REGS, "push_regs")       \
    X(POP, "pop") X(POP_REGS, "pop_regs") X(DIV, "div")                     \
    X(BRANCH, "branch") X(BR_TAKEN, "branch_taken")                         \
    X(BR_NOT_TAKEN, "branch_not_taken") X(TBB, "tbb") X(PC_LOAD, "pc_load") \
    X(FPU, "fpu") X(FPU_LDST, "fpu_ldst") X(FPU_LDST_REGS, "fpu_ldst_regs") \
    X(MVE, "mve") X(OTHER, "other")
#define AS_ENUM(e, s) K_##e,
#define AS_NAME(e, s) s,
/* K_SCRATCH absorbs register counts of classes that have none (no branch). */
enum key { HYB_KEYS(AS_ENUM) K_COUNT, K_SCRATCH = K_COUNT, K_SLOTS };
static const char *const key_name[K_COUNT] = { HYB_KEYS(AS_NAME) };

/* Static facts about one instruction, computed once at translation. */
struct insn_info {
    uint32_t pc;
    uint32_t enc;     /* hw1 << 16 | hw2 (hw2 = 0 for 16-bit) */
    uint8_t size;     /* 2 or 4, from the encoding */
    uint8_t cls;      /* enum key */
    uint8_t regs_key; /* K_*_REGS, or K_SCRATCH */
    uint8_t regs;
    uint8_t pc_load;
};

struct region {
    uint32_t id;
    uint64_t c[K_SLOTS];
};

/* ---- decoder: first matching (mask, value) row wins ---- */

enum extra { X_NONE, X_LIST8, X_LIST9, X_LIST16, X_PC, X_VFP1, X_VFPN };
struct pat {
    uint32_t mask, val;
    uint8_t cls, extra;
};
#define P16(m, v, c, x) { (m), (v), K_##c, (x) }
#define P32(m1, v1, m2, v2, c, x) \
    { (uint32_t)(m1) << 16 | (m2), (uint32_t)(v1) << 16 | (v2), K_##c, (x) }

static const struct pat pat16[] = {
    P16(0xFF0F, 0xBF00, OTHER, X_NONE),  /* NOP/YIELD/WFE/WFI/SEV */
    P16(0xFF00, 0xBF00, IT, X_NONE),
    P16(0xFFC0, 0x4340, MUL, X_NONE),    /* MULS */
    P16(0xFC00, 0x4000, ALU, X_NONE),    /* AND..MVN */
    P16(0xFF87, 0x4487, BRANCH, X_NONE), /* ADD pc, Rm */
    P16(0xFF87, 0x4687, BRANCH, X_NONE), /* MOV pc, Rm */
    P16(0xFF00, 0x4700, BRANCH, X_NONE), /* BX/BLX(NS) */
    P16(0xFC00, 0x4400, ALU, X_NONE),    /* ADD/CMP/MOV high regs */
    P16(0xF800, 0x4800, LDR, X_NONE),    /* LDR literal */
    P16(0xFC00, 0x5000, STR, X_NONE),    /* STR/STRH reg */
    P16(0xFE00, 0x5400, STR, X_NONE),    /* STRB reg */
    P16(0xF000, 0x5000, LDR, X_NONE),    /* LDR/LDRH/LDRB/LDRSB/LDRSH reg */
    P16(0xE800, 0x6000, STR, X_NONE),    /* STR/STRB imm */
    P16(0xE800, 0x6800, LDR, X_NONE),    /* LDR/LDRB imm */
    P16(0xF800, 0x8000, STR, X_NONE),    /* STRH imm */
    P16(0xF800, 0x8800, LDR, X_NONE),    /* LDRH imm */
    P16(0xF800, 0x9000, STR, X_NONE),    /* STR sp-relative */
    P16(0xF800, 0x9800, LDR, X_NONE),    /* LDR sp-relative */
    P16(0xF000, 0xA000, ALU, X_NONE),    /* ADR, ADD Rd, sp, #imm */
    P16(0xFFEC, 0xB660, OTHER, X_NONE),  /* CPS */
    P16(0xFF00, 0xB000, ALU, X_NONE),    /* ADD/SUB sp, #imm */
    P16(0xF500, 0xB100, BRANCH, X_NONE), /* CBZ/CBNZ */
    P16(0xFF00, 0xB200, ALU, X_NONE),    /* SXTH/SXTB/UXTH/UXTB */
    P16(0xFE00, 0xB400, PUSH, X_LIST9),
    P16(0xFFC0, 0xBA80, OTHER, X_NONE),  /* HLT */
    P16(0xFF00, 0xBA00, ALU, X_NONE),    /* REV/REV16/REVSH */
    P16(0xFE00, 0xBC00, POP, X_LIST9),
    P16(0xF800, 0xC000, STM, X_LIST8),
    P16(0xF800, 0xC800, LDM, X_LIST8),
    P16(0xFE00, 0xDE00, OTHER, X_NONE),  /* UDF, SVC */
    P16(0xF000, 0xD000, BRANCH, X_NONE), /* B<cond> */
    P16(0xF800, 0xE000, BRANCH, X_NONE), /* B */
    P16(0xC000, 0x0000, ALU, X_NONE),    /* shifts, add/sub, mov/cmp imm */
};

static const struct pat pat32[] = {
    /* load/store multiple */
    P32(0xFFFF, 0xE8BD, 0, 0, POP, X_LIST16),   /* LDMIA sp! */
    P32(0xFFFF, 0xE92D, 0, 0, PUSH, X_LIST16),  /* STMDB sp! */
    P32(0xFFD0, 0xE890, 0, 0, LDM, X_LIST16),   /* LDMIA */
    P32(0xFFD0, 0xE910, 0, 0, LDM, X_LIST16),   /* LDMDB */
    P32(0xFFD0, 0xE880, 0, 0, STM, X_LIST16),   /* STMIA */
    P32(0xFFD0, 0xE900, 0, 0, STM, X_LIST16),   /* STMDB */
    /* dual, exclusive, acquire/release, table branch */
    P32(0xFFFF, 0xE97F, 0xFFFF, 0xE97F, OTHER, X_NONE), /* SG */
    P32(0xFFF0, 0xE840, 0xF03F, 0xF000, OTHER, X_NONE), /* TT* */
    P32(0xFFF0, 0xE840, 0, 0, STR, X_NONE),     /* STREX */
    P32(0xFFF0, 0xE850, 0, 0, LDR, X_NONE),     /* LDREX */
    P32(0xFFF0, 0xE8C0, 0, 0, STR, X_NONE),     /* STREXB/H, STL* */
    P32(0xFFF0, 0xE8D0, 0x00E0, 0, TBB, X_NONE), /* TBB/TBH */
    P32(0xFFF0, 0xE8D0, 0, 0, LDR, X_NONE),     /* LDREXB/H, LDA* */
    P32(0xFF50, 0xE950, 0, 0, LDRD, X_NONE),    /* LDRD offset/pre/literal */
    P32(0xFF70, 0xE870, 0, 0, LDRD, X_NONE),    /* LDRD post */
    P32(0xFF50, 0xE940, 0, 0, STRD, X_NONE),
    P32(0xFF70, 0xE860, 0, 0, STRD, X_NONE),
    /* data processing, shifted register */
    P32(0xFFE0, 0xEAC0, 0, 0, SIMD, X_NONE),    /* PKHBT/PKHTB */
    P32(0xFE00, 0xEA00, 0, 0, ALU, X_NONE),
    /* coprocessor space: coproc 8-11 is FP, 14/15 is MVE (M55) */
    P32(0xEF00, 0xEF00, 0, 0, MVE, X_NONE),     /* vector data processing */
    P32(0xFFFF, 0xEC9F, 0x0E00, 0x0A00, OTHER, X_NONE),   /* VSCCLRM */
    P32(0xFFE0, 0xEC40, 0x0C00, 0x0800, FPU, X_NONE),     /* VMOV 64-bit */
    P32(0xFF20, 0xED00, 0x0C00, 0x0800, FPU_LDST, X_VFP1), /* VLDR/VSTR */
    P32(0xFE00, 0xEC00, 0x0C00, 0x0800, FPU_LDST, X_VFPN), /* VLDM/VSTM/VPUSH/VPOP */
    P32(0xEF00, 0xEE00, 0x0C00, 0x0800, FPU, X_NONE),     /* VFP ops, VMOV, VMRS, VSEL.. */
    P32(0xEC00, 0xEC00, 0x0E00, 0x0E00, MVE, X_NONE),     /* VLDRW, VMLADAV.. */
    P32(0xEC00, 0xEC00, 0, 0, OTHER, X_NONE),             /* other coprocessors */
    /* branches and miscellaneous control */
    P32(0xF800, 0xF000, 0xD000, 0xD000, BRANCH, X_NONE),  /* BL */
    P32(0xF800, 0xF000, 0xD000, 0x9000, BRANCH, X_NONE),  /* B.W */
    P32(0xFB80, 0xF380, 0xD000, 0x8000, OTHER, X_NONE),   /* MSR/MRS/hints/barriers */
    P32(0xF800, 0xF000, 0xD000, 0x8000, BRANCH, X_NONE),  /* B<cond>.W */
    P32(0xF800, 0xF000, 0xF000, 0xC000, BRANCH, X_NONE),  /* LE/WLS (v8.1-M) */
    P32(0xFF80, 0xF000, 0xFFFF, 0xE001, ALU, X_NONE),     /* DLS/DLSTP */
    P32(0xFFC0, 0xF000, 0xFFFF, 0xE801, MVE, X_NONE),     /* VCTP */
    P32(0xF800, 0xF000, 0x8000, 0x8000, OTHER, X_NONE),   /* BF* etc. */
    /* data processing, immediate */
    P32(0xFF50, 0xF300, 0x8000, 0, SIMD, X_NONE), /* SSAT/USAT(16) */
    P32(0xF800, 0xF000, 0x8000, 0, ALU, X_NONE),  /* incl. MOVW/MOVT/BFI/UBFX */
    /* single loads/stores */
    P32(0xFF70, 0xF860, 0, 0, OTHER, X_NONE),             /* undefined size */
    P32(0xFF10, 0xF800, 0, 0, STR, X_NONE),               /* STR/STRB/STRH */
    P32(0xFF70, 0xF850, 0xF000, 0xF000, LDR, X_PC),       /* LDR pc */
    P32(0xFF70, 0xF850, 0, 0, LDR, X_NONE),               /* LDR */
    P32(0xFE50, 0xF810, 0xF000, 0xF000, OTHER, X_NONE),   /* PLD/PLI */
    P32(0xFE50, 0xF810, 0, 0, LDR, X_NONE),               /* LDRB/LDRH/LDRS* */
    /* data processing, register */
    P32(0xFF80, 0xFA00, 0xF0F0, 0xF000, ALU, X_NONE),     /* shift by reg */
    P32(0xFFE0, 0xFA20, 0xF080, 0xF080, SIMD, X_NONE),    /* [SU]XT(A)B16 */
    P32(0xFF80, 0xFA00, 0xF080, 0xF080, ALU, X_NONE),     /* [SU]XT(A)[BH] */
    P32(0xFF80, 0xFA80, 0xF080, 0xF000, SIMD, X_NONE),    /* parallel add/sub */
    P32(0xFFF0, 0xFA80, 0xF0C0, 0xF080, SIMD, X_NONE),    /* QADD/QSUB/QDADD.. */
    P32(0xFFF0, 0xFA90, 0xF0C0, 0xF080, ALU, X_NONE),     /* REV/RBIT.. */
    P32(0xFFF0, 0xFAA0, 0xF0C0, 0xF080, SIMD, X_NONE),    /* SEL */
    P32(0xFFF0, 0xFAB0, 0xF0C0, 0xF080, ALU, X_NONE),     /* CLZ */
    /* multiplies (Ra == 15 selects the non-accumulating form) */
    P32(0xFFF0, 0xFB00, 0xF0F0, 0xF000, MUL, X_NONE),     /* MUL */
    P32(0xFFF0, 0xFB00, 0x00E0, 0, MLA, X_NONE),          /* MLA, MLS */
    P32(0xFFF0, 0xFB10, 0x00C0, 0, SMLAXY, X_NONE),       /* SMLAxy, SMULxy */
    P32(0xFFF0, 0xFB20, 0x00E0, 0, SMLAD, X_NONE),        /* SMLAD(X), SMUAD(X) */
    P32(0xFFF0, 0xFB30, 0x00E0, 0, SMLAXY, X_NONE),       /* SMLAWx, SMULWx */
    P32(0xFFF0, 0xFB40, 0x00E0, 0, SMLAD, X_NONE),        /* SMLSD(X), SMUSD(X) */
    P32(0xFFF0, 0xFB50, 0xF0E0, 0xF000, MUL, X_NONE),     /* SMMUL(R) */
    P32(0xFFF0, 0xFB50, 0x00E0, 0, MLA, X_NONE),          /* SMMLA(R) */
    P32(0xFFF0, 0xFB60, 0x00E0, 0, MLA, X_NONE),          /* SMMLS(R) */
    P32(0xFFF0, 0xFB70, 0x00F0, 0, SIMD, X_NONE),         /* USAD8, USADA8 */
    P32(0xFFF0, 0xFB90, 0x00F0, 0x00F0, DIV, X_NONE),     /* SDIV */
    P32(0xFFF0, 0xFBB0, 0x00F0, 0x00F0, DIV, X_NONE),     /* UDIV */
    P32(0xFF80, 0xFB80, 0, 0, SMULL, X_NONE),  /* [SU]MULL, [SU]MLAL(xy/D), UMAAL */
};

static const struct pat *find_pat(const struct pat *t, size_t n, uint32_t w)
{
    for (size_t i = 0; i < n; i++) {
        if ((w & t[i].mask) == t[i].val) {
            return &t[i];
        }
    }
    return NULL;
}

/* Top five bits 0b11101/0b11110/0b11111 start a 32-bit instruction. */
static int thumb_size(uint16_t hw1)
{
    return (hw1 >> 11) >= 0x1D ? 4 : 2;
}

static void classify(struct insn_info *ii, uint16_t hw1, uint16_t hw2)
{
    const struct pat *p = ii->size == 4
        ? find_pat(pat32, sizeof pat32 / sizeof *pat32, ii->enc)
        : find_pat(pat16, sizeof pat16 / sizeof *pat16, hw1);
    int extra = p ? p->extra : X_NONE;
    int cls = p ? p->cls : K_OTHER;
    int loads = cls == K_LDM || cls == K_POP;

    ii->cls = (uint8_t)cls;
    switch (extra) {
    case X_LIST8:
        ii->regs = (uint8_t)__builtin_popcount(hw1 & 0xFF);
        break;
    case X_LIST9: /* bit 8 is lr for PUSH, pc for POP */
        ii->regs = (uint8_t)__builtin_popcount(hw1 & 0x1FF);
        ii->pc_load = loads && (hw1 & 0x100);
        break;
    case X_LIST16:
        ii->regs = (uint8_t)__builtin_popcount(hw2);
        ii->pc_load = loads && (hw2 & 0x8000);
        break;
    case X_PC:
        ii->pc_load = 1;
        break;
    case X_VFP1: /* coproc 11 is a double: two words */
        ii->regs = (hw2 & 0x0F00) == 0x0B00 ? 2 : 1;
        break;
    case X_VFPN: /* imm8 counts words for both precisions */
        ii->regs = (uint8_t)(hw2 & 0xFF);
        break;
    }
    switch (cls) {
    case K_LDM: ii->regs_key = K_LDM_REGS; break;
    case K_STM: ii->regs_key = K_STM_REGS; break;
    case K_PUSH: ii->regs_key = K_PUSH_REGS; break;
    case K_POP: ii->regs_key = K_POP_REGS; break;
    case K_FPU_LDST: ii->regs_key = K_FPU_LDST_REGS; break;
    default: ii->regs_key = K_SCRATCH; ii->regs = 0; break;
    }
}

/* ---- small open-addressing map, touched only off the hot path ---- */

struct map {
    uint64_t *keys;
    void **vals;
    size_t cap, len;
};

static size_t map_find(const struct map *m, uint64_t key)
{
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull >> 20) & (m->cap - 1);
    while (m->vals[i] && m->keys[i] != key) {
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

static void *map_get(const struct map *m, uint64_t key)
{
    return m->cap ? m->vals[map_find(m, key)] : NULL;
}

static int map_put(struct map *m, uint64_t key, void *val)
{
    if (2 * (m->len + 1) > m->cap) {
        struct map n = { 0 };
        n.cap = m->cap ? 2 * m->cap : 1024;
        n.keys = calloc(n.cap, sizeof *n.keys);
        n.vals = calloc(n.cap, sizeof *n.vals);
        if (!n.keys || !n.vals) {
            free(n.keys);
            free(n.vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (m->vals[i]) {
                size_t j = map_find(&n, m->keys[i]);
                n.keys[j] = m->keys[i];
                n.vals[j] = m->vals[i];
                n.len++;
            }
        }
        free(m->keys);
        free(m->vals);
        *m = n;
    }
    size_t i = map_find(m, key);
    m->len += !m->vals[i];
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

/* ---- state ---- */

static const char *out_path;
static uint64_t mark_lo, mark_hi, marks_addr, nmarks = UINT64_MAX;
static int have_marks;

static pthread_mutex_t trans_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map insn_map;   /* pc -> struct insn_info * */
static struct map region_map; /* region id -> struct region * */
static uint64_t n_size_diff, n_short_data;

/* Hot-path state; one vCPU, so plain globals. */
static struct region *cur;
static uint64_t *pend;     /* counters of the region of a pending branch */
static uint64_t pend_fall; /* that branch's fall-through pc */

static struct region *region_get(uint32_t id)
{
    struct region *r = map_get(&region_map, id);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r || map_put(&region_map, id, r)) {
            free(r);
            return cur; /* out of memory: keep counting somewhere */
        }
        r->id = id;
    }
    return r;
}

/* ---- callbacks ---- */

static void on_exec(unsigned int vcpu, void *ud)
{
    const struct insn_info *ii = ud;
    uint64_t *c = cur->c;
    (void)vcpu;

    if (pend) {
        pend[ii->pc == pend_fall ? K_BR_NOT_TAKEN : K_BR_TAKEN]++;
        pend = NULL;
    }
    c[K_INSNS]++;
    c[ii->cls]++;
    c[ii->regs_key] += ii->regs;
    c[K_PC_LOAD] += ii->pc_load;
    if (ii->cls == K_BRANCH) {
        pend = c;
        pend_fall = ii->pc + ii->size;
    }
}

/* Runs after the store; the store itself was already counted in the old
 * region, which is what we want: it belongs to the caller's side. */
static void on_mark_store(unsigned int vcpu, qemu_plugin_meminfo_t info,
                          uint64_t vaddr, void *ud)
{
    (void)vcpu;
    (void)ud;
    if (!qemu_plugin_mem_is_store(info) || vaddr < marks_addr ||
        ((vaddr - marks_addr) & 3)) {
        return;
    }
    uint64_t idx = (vaddr - marks_addr) / 4;
    if (idx < nmarks && idx < UINT32_MAX) {
        cur = region_get((uint32_t)idx);
    }
}

static struct insn_info *info_for(const struct qemu_plugin_insn *insn)
{
    const uint8_t *d = qemu_plugin_insn_data(insn);
    size_t qsize = qemu_plugin_insn_size(insn);
    uint32_t pc = (uint32_t)qemu_plugin_insn_vaddr(insn);
    uint16_t hw1 = 0, hw2 = 0;
    int size = 2;

    /* QEMU's size can include the next insn's first halfword near a page
     * end, so only the encoding decides. */
    if (qsize >= 2) {
        hw1 = (uint16_t)(d[0] | d[1] << 8);
        size = thumb_size(hw1);
    }
    if (size == 4 && qsize >= 4) {
        hw2 = (uint16_t)(d[2] | d[3] << 8);
    } else if (size == 4) {
        n_short_data++;
    }
    n_size_diff += qsize != (size_t)size;

    uint32_t enc = (uint32_t)hw1 << 16 | hw2;
    struct insn_info *ii = map_get(&insn_map, pc);
    if (ii && ii->enc == enc && ii->size == size) {
        return ii;
    }
    ii = calloc(1, sizeof *ii); /* code changed or first sight */
    if (!ii) {
        return NULL;
    }
    ii->pc = pc;
    ii->enc = enc;
    ii->size = (uint8_t)size;
    classify(ii, hw1, hw2);
    map_put(&insn_map, pc, ii); /* on failure ii is still usable, uncached */
    return ii;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;

    pthread_mutex_lock(&trans_lock);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        struct insn_info *ii = info_for(insn);
        if (!ii) {
            continue;
        }
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_exec,
                                               QEMU_PLUGIN_CB_NO_REGS, ii);
        if (have_marks && ii->pc >= mark_lo && ii->pc < mark_hi) {
            qemu_plugin_register_vcpu_mem_cb(insn, on_mark_store,
                                             QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_W, NULL);
        }
    }
    pthread_mutex_unlock(&trans_lock);
}

static int cmp_region(const void *a, const void *b)
{
    uint32_t x = (*(struct region *const *)a)->id;
    uint32_t y = (*(struct region *const *)b)->id;
    return (x > y) - (x < y);
}

static void write_report(FILE *f)
{
    struct region **rs = calloc(region_map.len + 1, sizeof *rs);
    size_t n = 0;

    fprintf(f, "hyb_profile v1\n");
    if (!rs) {
        return;
    }
    for (size_t i = 0; i < region_map.cap; i++) {
        struct region *r = region_map.vals[i];
        if (r && r->c[K_INSNS]) {
            rs[n++] = r;
        }
    }
    qsort(rs, n, sizeof *rs, cmp_region);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "region %u", (unsigned)rs[i]->id);
        for (int k = 0; k < K_COUNT; k++) {
            fprintf(f, " %s %llu", key_name[k],
                    (unsigned long long)rs[i]->c[k]);
        }
        fputc('\n', f);
    }
    free(rs);
}

static void on_exit_cb(qemu_plugin_id_t id, void *ud)
{
    char msg[160];
    (void)id;
    (void)ud;

    if (pend) { /* a branch was the last thing run: nothing followed it */
        pend[K_BR_NOT_TAKEN]++;
        pend = NULL;
    }
    if (out_path) {
        FILE *f = fopen(out_path, "w");
        if (f) {
            write_report(f);
            fclose(f);
        } else {
            snprintf(msg, sizeof msg, "hyb_profile: cannot write %s\n",
                     out_path);
            qemu_plugin_outs(msg);
        }
    } else {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            write_report(f);
            fclose(f);
            qemu_plugin_outs(buf);
            free(buf);
        }
    }
    snprintf(msg, sizeof msg,
             "hyb_profile: %zu regions, %llu translated insns with qemu size != decoded,"
             " %llu without a second halfword\n",
             region_map.len, (unsigned long long)n_size_diff,
             (unsigned long long)n_short_data);
    qemu_plugin_outs(msg);
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    *v = strtoull(s, &end, 0);
    return *s && !*end ? 0 : -1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    int got = 0;

    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *v = eq ? eq + 1 : "";
        size_t kl = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        int bad = 0;

#define KEY(s) (kl == sizeof(s) - 1 && !strncmp(argv[i], s, kl))
        if (KEY("out")) {
            out_path = v;
        } else if (KEY("mark_lo")) {
            bad = parse_u64(v, &mark_lo);
            got |= 1;
        } else if (KEY("mark_hi")) {
            bad = parse_u64(v, &mark_hi);
            got |= 2;
        } else if (KEY("marks")) {
            bad = parse_u64(v, &marks_addr);
            got |= 4;
        } else if (KEY("nmarks")) {
            bad = parse_u64(v, &nmarks);
        } else {
            bad = 1;
        }
#undef KEY
        if (bad) {
            fprintf(stderr, "hyb_profile: bad argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (got != 0 && got != 7) {
        fprintf(stderr, "hyb_profile: mark_lo, mark_hi and marks go together\n");
        return -1;
    }
    /* Symbol addresses of Thumb functions carry bit 0; code does not. */
    mark_lo &= ~1ull;
    mark_hi &= ~1ull;
    have_marks = got == 7 && mark_lo < mark_hi;
    if (info->system_emulation && info->system.smp_vcpus > 1) {
        fprintf(stderr, "hyb_profile: warning: counts assume one vCPU\n");
    }

    cur = region_get(UINT32_MAX);
    if (!cur) {
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
