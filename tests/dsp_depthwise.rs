//! The DSP 3x3 depthwise kernel (runtime-c/kernels/dsp/depthwise3x3_s8.h)
//! against the portable one on random layers under QEMU (cortex-m4): both
//! strides, odd sizes, bands, clamps and zero points the MLPerf models do not
//! have (so the C and non-ReLU paths run), out of place and in place (output
//! `window_lag` bytes below the input).

use std::fmt::Write;
use std::time::Duration;

use hybridc::plan::inplace::window_lag;
use hybridc::plan::search::SplitMix;
use hybridc::target;
use hybridc::verify::firmware;

fn list<T: std::fmt::Display>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

/// One random layer as a C test function `case{i}`, and the scratch words it needs.
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
    // As dw3x3_pw and dw3x3_offsets_fit (layout.rs).
    let mut pw = ((out_w.next_multiple_of(2) - 1) * s + 3).next_multiple_of(2);
    if s == 1 && pad_l == 1 && out_w % 2 == 1 && in_w <= out_w {
        pw -= 2;
    }
    if 4 * (4 * s + (2 * s + 1) * (pw / 2)) + 8 > 1020 || 9 * c + out_w * c > 4095 {
        return None;
    }
    let band = if r(0, 1) == 0 { out_h } else { [2, 4, 6][r(0, 2) as usize].min(out_h) };
    let (in_off, zp) = (r(-127, 128), if r(0, 1) == 0 { -128 } else { r(-128, 127) });
    let (lo, hi) = match r(0, 3) {
        0 => (-128, 127),
        1 | 2 => (zp.max(-128), 127),
        _ => (zp.max(-128), (zp + r(1, 100)).min(127)),
    };
    let shift0 = r(0, 4) == 0;
    // Shifts over a narrow window too, so that a layer-wide shift fits.
    let (s_lo, s_hi) = if r(0, 1) == 0 { (1, 10) } else { let lo = r(1, 6); (lo, lo + r(0, 6)) };
    let mut w: Vec<i64> = (0..9 * c).map(|_| r(-127, 127)).collect();
    let dead = r(0, c as i64 - 1) as usize;
    if r(0, 5) == 0 {
        (0..9).for_each(|t| w[t * c + dead] = 0);
    }
    let bias: Vec<i64> = (0..c).map(|_| r(-20000, 20000)).collect();
    let mult: Vec<i64> = (0..c).map(|_| r(1 << 30, (1 << 31) - 1)).collect();
    let shift: Vec<i64> = (0..c).map(|_| if shift0 && r(0, 1) == 0 { 0 } else { -r(s_lo, s_hi) }).collect();
    let relu = (lo >= zp) as i32;
    let taps = |ch: usize| (0..9).map(|t| w[t * c + ch]).collect::<Vec<i64>>();
    let constant = |ch: usize| hybridc::quant::fixedpoint::multiply_by_quantized_multiplier(bias[ch] as i32, mult[ch] as i32, shift[ch] as i32) as i64;
    // Channel records as `dw3x3_uniform` (mod.rs): under a ReLU floor with the
    // full range, a layer-wide shift S from the same order, the weights
    // scaled by 2^k, k = 1 + S - s.
    let bound = |ch: usize| bias[ch].abs() + (-128 + in_off).abs().max((127 + in_off).abs()) * taps(ch).iter().map(|v| v.abs()).sum::<i64>();
    let uniform = |big_s: i64| -> Option<Vec<String>> {
        let half_s = 1i64 << (big_s - 1);
        (0..c)
            .map(|ch| {
                if taps(ch).iter().all(|&t| t == 0) {
                    let v = constant(ch).clamp(-256, 256);
                    return Some(format!("{{{},{},1,{}}}", v << (big_s + 2), 1i64 << 30, half_s + (zp << big_s)));
                }
                let s_ch = -shift[ch];
                if s_ch >= big_s {
                    return None;
                }
                let (d, b) = (big_s - s_ch, bound(ch));
                let k = 1 + d;
                let round = (1i64 << (d - 1)) + if s_ch > 0 { half_s } else { 0 } + (zp << big_s);
                if k > 8 || b << k >= 1i64 << 31 || (b << d) + round.abs() + 1 >= 1i64 << 31 {
                    return None;
                }
                let folded = (bias[ch] + in_off * taps(ch).iter().sum::<i64>()) << k;
                Some(format!("{{{folded},{},{k},{round}}}", mult[ch]))
            })
            .collect()
    };
    let full = relu == 1 && (lo, hi) == (-128, 127);
    let found = [10, 11, 9, 12, 8, 13, 7, 14, 6, 15, 5, 16, 4, 17, 3, 18, 2, 19, 1, 20]
        .into_iter()
        .filter(|_| full)
        .find_map(|s| Some((s, uniform(s)?)));
    // Else the records of `channels` (mod.rs): doubled folded bias, or a constant for a dead channel.
    let mut chans = Vec::new();
    let mut sh0 = false;
    let big_s = found.as_ref().map_or(0, |f| f.0);
    if let Some((_, recs)) = found {
        chans = recs;
    }
    for ch in 0..c {
        if big_s > 0 {
            break;
        }
        let taps = taps(ch);
        let rec = |b: i64, m: i64, rs: i64| format!("{{{b},{m},{rs},{}}}", if rs > 0 { 1 << (rs - 1) } else { 0 } + (zp << rs));
        if taps.iter().all(|&t| t == 0) {
            let v = constant(ch);
            chans.push(rec(8 * v.clamp(-1 << 20, 1 << 20), 1 << 30, 1));
            continue;
        }
        sh0 |= shift[ch] == 0;
        chans.push(rec(2 * (bias[ch] + in_off * taps.iter().sum::<i64>()), mult[ch], -shift[ch]));
    }
    // Weight words as dw3x3_weights: bytes (w0, w1, w1, w2) of each kernel row.
    let dw = (0..c).flat_map(|ch| {
        let w = &w;
        (0..3).map(move |k| {
            let b = |j: usize| (w[(3 * k + j) * c + ch] as u8) as u32;
            (b(0) | b(1) << 8 | b(1) << 16 | b(2) << 24) as i32
        })
    });
    let (n_in, n_out) = (in_h * in_w * c, out_h * out_w * c);
    // In place: the least safe lag, or any larger one (partial overlaps).
    let least = window_lag([in_h, in_w, c], [out_h, out_w, c], [s, s], [pad_t, pad_l]).next_multiple_of(4);
    let lag = if r(0, 1) == 0 { least } else { r(least as i64, n_in.max(least) as i64) as usize / 4 * 4 }.max(least);
    let input: Vec<i64> = (0..n_in).map(|_| r(-128, 127)).collect();
    let scratch = c * ((band - 1) * s + 3) * pw / 2 + 1;
    let text = format!(
        "static __attribute__((noinline)) void dsp{i}(const int8_t *in, int8_t *out, const int32_t *w, const hyb_dsp_chan *ch) {{
    hyb_dsp_depthwise3x3_s8(in, out, w, ch, scratch, {in_h}, {in_w}, {c}, {out_h}, {out_w}, {s}, {pad_t}, {pad_l}, {pw}, {band}, {}, (hyb_dsp_outq){{{lo}, {hi}, {}}}, {relu}, {big_s}, 0);
}}
static int case{i}(void) {{
    static const int8_t wt[] = {{{}}}; static const int32_t b[] = {{{}}}, m[] = {{{}}}, sh[] = {{{}}}, dw[] = {{{}}};
    static const hyb_dsp_chan ch[] = {{{}}};
    static const int8_t in[] = {{{}}};
    static int8_t want[{n_out}], got[{n_out} + 4];
    const hyb_conv_params p = {{.in_h = {in_h}, .in_w = {in_w}, .in_c = {c}, .out_h = {out_h}, .out_w = {out_w}, .out_c = {c},
        .k_h = 3, .k_w = 3, .stride_h = {s}, .stride_w = {s}, .dil_h = 1, .dil_w = 1, .pad_top = {pad_t}, .pad_left = {pad_l},
        .depth_multiplier = 1, .input_offset = {in_off}, .output_offset = {zp}, .act_min = {lo}, .act_max = {hi},
        .multiplier = m, .shift = sh, .weights = wt, .bias = b}};
    hyb_depthwise_conv_s8(&p, in, want);
    memset(got, 0x5a, sizeof got);
    dsp{i}(in, got, dw, ch);
    int bad = memcmp(want, got, {n_out}) || got[{n_out}] != 0x5a;
    memset(buf, 0x33, sizeof buf);
    memcpy(buf + {lag}, in, {n_in});
    dsp{i}(buf + {lag}, buf, dw, ch);
    return bad | (memcmp(want, buf, {n_out}) ? 2 : 0);
}}
",
        -in_off,
        sh0 as i32,
        list(&w),
        list(&bias),
        list(&mult),
        list(&shift),
        list(dw),
        chans.join(","),
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
        "#include <string.h>\n#include \"hyb_kernels.h\"\n#include \"hyb_io.h\"\n#include \"dsp/depthwise3x3_s8.h\"\n\
         static int32_t scratch[{scratch}] __attribute__((aligned(8)));\nstatic int8_t buf[{buf}] __attribute__((aligned(16)));\n\
         {body}int main(void) {{\n    int bad = 0;\n{calls}    return bad;\n}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.c"), src).unwrap();
    let root = target::root();
    let (k, elf) = (root.join("runtime-c/kernels"), dir.path().join("test.elf"));
    let out = std::process::Command::new(&t.cc)
        .args(&t.cflags)
        .args(["-std=c11", "-Wall", "-I"])
        .arg(&k)
        .arg("-I")
        .arg(root.join("runtime-c/include"))
        .arg(dir.path().join("test.c"))
        .args([k.join("depthwise_conv_s8.c"), k.join("fixedpoint.c"), root.join("runtime-c/platform/semihost.c")])
        .arg(target::targets_dir().join(t.startup.as_ref().unwrap()))
        .arg(format!("-T{}", target::targets_dir().join(t.linker_script.as_ref().unwrap()).display()))
        .args(&t.ldflags)
        .arg("-o")
        .arg(&elf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    firmware::run(&t, &elf, dir.path(), &[], Duration::from_secs(300)).unwrap();
}
