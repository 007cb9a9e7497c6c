//! Memory plan of the MLPerf Tiny models against the goals (issue 7), and
//! the in-place C kernels against the out-of-place ones on random shapes.

mod common;

use std::process::Command;

use hybridc_core::lower as driver;
use hybridc_core::plan::search::SplitMix;

/// (model, TFLite Micro's arena, our goal)
const GOALS: [(&str, usize, usize); 4] = [
    ("ic_resnet8", 49_152, 40_000),
    ("kws_dscnn", 16_000, 9_000),
    ("vww_mbnv1", 73_728, 55_296),
    ("ad_fcae", 768, 768),
];

#[test]
fn arenas_meet_the_goals_and_respect_the_bounds() {
    for (model, tflm, goal) in GOALS {
        let c = driver::lower(&common::fixtures().join(format!("{model}_int8.onnx")), &[]).expect("lower");
        let p = &c.plan;
        assert!(p.arena_bytes <= goal.min(tflm), "{model}: arena {} over the goal {goal}", p.arena_bytes);
        assert!(p.arena_bytes >= p.lower_bound_bytes, "{model}: arena below its own lower bound");
        assert!(p.lower_bound_bytes <= p.plain_lower_bound_bytes, "{model}: in-place bound above the plain one");
        // The plan is deterministic.
        let again = driver::lower(&common::fixtures().join(format!("{model}_int8.onnx")), &[]).unwrap();
        assert_eq!(p.offsets, again.plan.offsets, "{model}: plan not deterministic");
    }
}

/// One random same-shape stride-1 convolution as C data and a check.
fn case_c(rng: &mut SplitMix, i: usize, depthwise: bool) -> String {
    let r = |rng: &mut SplitMix, n: usize| rng.below(n) as i64;
    let (kh, kw) = (1 + rng.below(4), 1 + rng.below(4));
    let (dh, dw) = (1 + rng.below(2), 1 + rng.below(2));
    let (pt, pl) = (rng.below((kh - 1) * dh + 1), rng.below((kw - 1) * dw + 1));
    let (h, w, c) = (1 + rng.below(7), 1 + rng.below(7), 1 + rng.below(6));
    let nw = if depthwise { kh * kw * c } else { c * kh * kw * c };
    let list = |rng: &mut SplitMix, n: usize, f: &dyn Fn(&mut SplitMix) -> i64| {
        (0..n).map(|_| f(rng).to_string()).collect::<Vec<_>>().join(",")
    };
    let weights = list(rng, nw, &|g| r(g, 255) - 127);
    let bias = list(rng, c, &|g| r(g, 4001) - 2000);
    let mult = list(rng, c, &|g| (1 << 30) + r(g, 1 << 30));
    let shift = list(rng, c, &|g| -r(g, 9));
    let input = list(rng, h * w * c, &|g| r(g, 256) - 128);
    let ring = (pt * w + pl + 1) * c;
    let f = if depthwise { "hyb_depthwise_conv_s8" } else { "hyb_conv_s8" };
    format!(
        "{{ static const int8_t wt[] = {{{weights}}}; static const int32_t b[] = {{{bias}}}, m[] = {{{mult}}}, s[] = {{{shift}}};
  static const int8_t in[] = {{{input}}}; static int8_t want[{n}], buf[{n}], ring[{ring}];
  const hyb_conv_params p = {{ .in_h = {h}, .in_w = {w}, .in_c = {c}, .out_h = {h}, .out_w = {w}, .out_c = {c},
    .k_h = {kh}, .k_w = {kw}, .stride_h = 1, .stride_w = 1, .dil_h = {dh}, .dil_w = {dw}, .pad_top = {pt}, .pad_left = {pl},
    .depth_multiplier = 1, .input_offset = {io}, .output_offset = {oo}, .act_min = -128, .act_max = 127,
    .multiplier = m, .shift = s, .weights = wt, .bias = b }};
  {f}(&p, in, want); memcpy(buf, in, sizeof buf); {f}_inplace(&p, buf, ring);
  if (memcmp(want, buf, sizeof buf)) {{ printf(\"case {i} ({f}) differs\\n\"); bad = 1; }} }}\n",
        n = h * w * c,
        io = r(rng, 256) - 127,
        oo = r(rng, 256) - 128,
    )
}

#[test]
fn inplace_kernels_equal_the_plain_ones() {
    let mut rng = SplitMix(3);
    let cases: String = (0..120).map(|i| case_c(&mut rng, i, i % 2 == 0)).collect();
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.c");
    std::fs::write(&main, format!("#include <stdio.h>\n#include <string.h>\n#include \"hyb_inplace.h\"\nint main(void) {{ int bad = 0;\n{cases} return bad; }}\n")).unwrap();
    let k = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runtime-c/kernels");
    let exe = dir.path().join("t");
    let cc = hybridc_verify::host::compiler().expect("host C compiler");
    let out = cc
        .to_command()
        .args(hybridc_core::target::RUNTIME_CFLAGS)
        .arg("-I")
        .arg(&k)
        .args([main, k.join("conv_s8.c"), k.join("depthwise_conv_s8.c"), k.join("conv_inplace_s8.c"), k.join("fixedpoint.c")])
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stdout));
}

/// (model, TFLite Micro + CMSIS-NN's arena_used on a Cortex-M4, issue 18)
const CMSIS_NN_ARENAS: [(&str, usize); 4] = [("ic_resnet8", 54_996), ("kws_dscnn", 22_820), ("vww_mbnv1", 100_708), ("ad_fcae", 2_580)];

#[test]
fn dsp_builds_fit_budgets_and_stay_under_tflm_cmsis_nn() {
    use hybridc_core::codegen::dsp::choose::{choose, least_arena};
    for (model, cmsis) in CMSIS_NN_ARENAS {
        let g = driver::lower(&common::fixtures().join(format!("{model}_int8.onnx")), &[]).expect("lower").graph;
        let default = choose(&g, None).unwrap();
        assert!(default.plan.arena_bytes <= cmsis, "{model}: DSP arena {} over TFLM + CMSIS-NN's {cmsis}", default.plan.arena_bytes);
        // A budget is a constraint: met when at least the least arena, refused below it.
        let least = least_arena(&g);
        let at = choose(&g, Some(least)).unwrap();
        assert!(at.plan.arena_bytes <= least, "{model}: {} over the budget {least}", at.plan.arena_bytes);
        assert!(at.est_cycles >= default.est_cycles, "{model}: the least arena estimated faster than the default");
        let err = choose(&g, Some(least - 1)).err().expect("a budget below the least arena is refused").to_string();
        assert!(err.contains(&least.to_string()) && err.contains("layer L"), "{model}: {err}");
    }
}
