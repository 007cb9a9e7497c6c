//! The DSP 3x3 depthwise kernel (runtime-c/kernels/dsp/depthwise3x3_s8.h),
//! as the compiler instantiates it, against the portable one on random
//! layers under QEMU (cortex-m4): both strides, odd sizes, bands, clamps,
//! shifts and zero points the MLPerf models do not have (so the C, non-ReLU
//! and per-channel-shift paths run), input channels known to be constant
//! (the sparse path), out of place and in place (output `window_lag` bytes
//! below the input).

use std::fmt::Write;
use std::time::Duration;

use hybridc_core::codegen::depthwise3x3_c;
use hybridc_core::ops::inplace::window_lag;
use hybridc_kernels::conv::Conv;
use hybridc_core::plan::search::SplitMix;
use hybridc_core::target;
use hybridc_verify::firmware;

fn list<T: std::fmt::Display>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

/// One random layer as a C test function `case{i}`, and the scratch words
/// and in-place buffer bytes it needs. The DSP side is what the compiler
/// generates for the layer (`depthwise3x3_c`), with the band forced.
fn case(g: &mut SplitMix, i: usize) -> Option<(String, usize, usize)> {
    let mut r = |lo: i64, hi: i64| lo + g.below((hi - lo + 1) as usize) as i64;
    let s = r(1, 2) as usize;
    let c = [4, 8, 12, 16, 32][r(0, 4) as usize];
    let (in_h, in_w) = (r(1, 14) as usize, if r(0, 1) == 0 { r(1, 14) } else { r(15, 40) } as usize);
    let (pad_t, pad_l) = (r(0, 1) as usize, r(0, 1) as usize);
    let (pad_b, pad_r) = (r(0, 2 - pad_t as i64) as usize, r(0, 2 - pad_l as i64) as usize);
    if in_h + pad_t + pad_b < 3 || in_w + pad_l + pad_r < 3 {
        return None;
    }
    let (out_h, out_w) = ((in_h + pad_t + pad_b - 3) / s + 1, (in_w + pad_l + pad_r - 3) / s + 1);
    let band = if r(0, 1) == 0 { out_h } else { [2, 4, 6][r(0, 2) as usize].min(out_h) };
    let (in_off, zp) = (r(-127, 128) as i32, if r(0, 1) == 0 { -128 } else { r(-128, 127) as i32 });
    let (lo, hi) = match r(0, 3) {
        0 => (-128, 127),
        1 | 2 => (zp.max(-128), 127),
        _ => (zp.max(-128), (zp + r(1, 100) as i32).min(127)),
    };
    let shift0 = r(0, 4) == 0;
    // Shifts over a narrow window too, so that a layer-wide shift fits.
    let (s_lo, s_hi) = if r(0, 1) == 0 { (1, 10) } else { let lo = r(1, 6); (lo, lo + r(0, 6)) };
    let mut w: Vec<i8> = (0..9 * c).map(|_| r(-127, 127) as i8).collect();
    let dead = r(0, c as i64 - 1) as usize;
    if r(0, 5) == 0 {
        (0..9).for_each(|t| w[t * c + dead] = 0);
    }
    let bias: Vec<i32> = (0..c).map(|_| r(-20000, 20000) as i32).collect();
    let mult: Vec<i32> = (0..c).map(|_| r(1 << 30, (1 << 31) - 1) as i32).collect();
    let shift: Vec<i32> = (0..c).map(|_| if shift0 && r(0, 1) == 0 { 0 } else { -r(s_lo, s_hi) as i32 }).collect();
    // Input channels known to be constant (a dead channel of the producer): the sparse path.
    let known: Vec<Option<i8>> = if r(0, 2) == 0 { (0..c).map(|_| (r(0, 1) == 0).then(|| r(-128, 127) as i8)).collect() } else { Vec::new() };
    let (n_in, n_out) = (in_h * in_w * c, out_h * out_w * c);
    let input: Vec<i8> = (0..n_in).map(|k| known.get(k % c).copied().flatten().unwrap_or_else(|| r(-128, 127) as i8)).collect();
    // In place: the least safe lag, or any larger one (partial overlaps).
    let least = window_lag([in_h, in_w, c], [out_h, out_w, c], [s, s], [pad_t, pad_l]).next_multiple_of(4);
    let lag = if r(0, 1) == 0 { least } else { r(least as i64, n_in.max(least) as i64) as usize / 4 * 4 }.max(least);
    let p = Conv {
        depthwise: true,
        in_hwc: [in_h, in_w, c],
        out_hwc: [out_h, out_w, c],
        kernel: [3, 3],
        stride: [s, s],
        dilation: [1, 1],
        pad: [pad_t, pad_l],
        depth_multiplier: 1,
        input_offset: in_off,
        output_offset: zp,
        multiplier: &mult,
        shift: &shift,
        act: [lo, hi],
        weights: &w,
        bias: &bias,
    };
    let l = format!("L{i}");
    let (data, args, scratch) = depthwise3x3_c(&l, &p, &known, Some(band))?;
    let ch = if data.contains(&format!("{l}_chan[")) { format!("{l}_chan") } else { "0".to_string() };
    let text = format!(
        "{data}static __attribute__((noinline)) void dsp{i}(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch, int32_t *hyb_dsp_col) {{
    hyb_dsp_depthwise3x3_s8(in, out, w, ch, {args});
}}
static int case{i}(void) {{
    static const int8_t wt[] = {{{}}}; static const int32_t b[] = {{{}}}, m[] = {{{}}}, sh[] = {{{}}};
    static const int8_t in[] = {{{}}};
    static int8_t want[{n_out}], got[{n_out} + 4] __attribute__((aligned(4)));
    const hyb_conv_params p = {{.in_h = {in_h}, .in_w = {in_w}, .in_c = {c}, .out_h = {out_h}, .out_w = {out_w}, .out_c = {c},
        .k_h = 3, .k_w = 3, .stride_h = {s}, .stride_w = {s}, .dil_h = 1, .dil_w = 1, .pad_top = {pad_t}, .pad_left = {pad_l},
        .depth_multiplier = 1, .input_offset = {in_off}, .output_offset = {zp}, .act_min = {lo}, .act_max = {hi},
        .multiplier = m, .shift = sh, .weights = wt, .bias = b}};
    hyb_depthwise_conv_s8(&p, in, want);
    memset(got, 0x5a, sizeof got);
    dsp{i}(in, got, {l}_weights, {ch}, scratch);
    int bad = memcmp(want, got, {n_out}) || got[{n_out}] != 0x5a;
    memset(buf, 0x33, sizeof buf);
    memcpy(buf + {lag}, in, {n_in});
    dsp{i}(buf + {lag}, buf, {l}_weights, {ch}, scratch);
    return bad | (memcmp(want, buf, {n_out}) ? 2 : 0);
}}
",
        list(&w),
        list(&bias),
        list(&mult),
        list(&shift),
        list(&input),
    );
    Some((text, scratch, lag + n_in.max(n_out)))
}

#[test]
fn dsp_depthwise3x3_equals_the_portable_kernel() {
    let t = target::load("cortex-m4").unwrap();
    let mut g = SplitMix(7);
    let (mut body, mut calls, mut scratch, mut buf) = (String::new(), String::new(), 0, 0);
    for i in 0..120 {
        if let Some((text, s, b)) = case(&mut g, i) {
            body += &text;
            (scratch, buf) = (scratch.max(s), buf.max(b));
            writeln!(calls, "    if (case{i}()) {{ hyb_puts(\"dsp depthwise case {i} differs\"); bad = 1; }}").unwrap();
        }
    }
    let src = format!(
        "#include <string.h>\n#include \"hyb_kernels.h\"\n#include \"hyb_io.h\"\n{}#include \"dsp/depthwise3x3_s8.h\"\n\
         static int32_t scratch[{scratch}] __attribute__((aligned(8)));\nstatic int8_t buf[{buf}] __attribute__((aligned(16)));\n\
         {body}int main(void) {{\n    int bad = 0;\n{calls}    return bad;\n}}\n",
        hybridc_core::codegen::dsp_limits_c()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.c"), src).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (k, elf) = (root.join("runtime-c/kernels"), dir.path().join("test.elf"));
    let out = std::process::Command::new(&t.cc)
        .args(t.c_flags())
        .args(["-Wall", "-I"])
        .arg(&k)
        .arg("-I")
        .arg(root.join("runtime-c/include"))
        .arg(dir.path().join("test.c"))
        .args([k.join("depthwise_conv_s8.c"), k.join("fixedpoint.c"), root.join("runtime-c/platform/semihost.c")])
        .arg(root.join("targets").join(t.startup.as_ref().unwrap()))
        .arg(format!("-T{}", root.join("targets").join(t.linker_script.as_ref().unwrap()).display()))
        .args(&t.ldflags)
        .arg("-o")
        .arg(&elf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    firmware::run(&t, &elf, dir.path(), &[], Duration::from_secs(300)).unwrap();
}
