//! Property tests of the planner on random problems (a fixed-seed PRNG, so
//! every run checks the same cases) and of the in-place lag against a
//! brute-force simulation of raster-order writes.

use super::inplace::window_lag;
use super::problem::{Buffer, Problem, Tie};
use super::search::SplitMix;
use super::{align, place};

fn random_problem(rng: &mut SplitMix, with_ties: bool) -> Problem {
    let steps = 2 + rng.below(12);
    let n = 1 + rng.below(24);
    let mut p = Problem::default();
    for _ in 0..n {
        let first = rng.below(steps);
        let last = first + rng.below(steps - first);
        p.buffers.push(Buffer { size: align(1 + rng.below(5000)), first, last });
    }
    if with_ties {
        // Chains of in-place ops: each output starts where its input dies.
        let mut chain_end = n;
        for _ in 0..1 + rng.below(6) {
            let first = rng.below(steps);
            let len = 1 + rng.below(4);
            let mut step = first;
            let mut prev = None;
            for _ in 0..len {
                let last = (step + 1 + rng.below(3)).min(steps + 4);
                let size = align(1 + rng.below(3000));
                p.buffers.push(Buffer { size, first: step, last });
                let b = p.buffers.len() - 1;
                if let Some(a) = prev {
                    let exact = rng.below(3) == 0;
                    let lag = if exact || rng.below(2) == 0 { 0 } else { align(rng.below(size + 1)) };
                    p.ties.push(Tie { anchor: a, buffer: b, lag, exact });
                }
                prev = Some(b);
                step = last;
            }
            chain_end += len;
        }
        assert_eq!(chain_end, p.buffers.len());
    }
    p
}

#[test]
fn random_placements_never_overlap_live_buffers() {
    let mut rng = SplitMix(7);
    for case in 0..300 {
        let p = random_problem(&mut rng, case % 2 == 1);
        let offsets = place(&p);
        p.check(&offsets).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert!(offsets.iter().all(|o| o % super::ALIGN == 0), "case {case}: unaligned offset");
        assert!(p.extent(&offsets) >= p.lower_bound(), "case {case}: below the lower bound");
        assert_eq!(offsets, place(&p), "case {case}: not deterministic");
    }
}

#[test]
fn checker_rejects_overlaps_and_short_lags() {
    let b = |size, first, last| Buffer { size, first, last };
    let mut p = Problem { buffers: vec![b(100, 0, 2), b(100, 2, 3)], ties: vec![] };
    assert!(p.check(&[0, 100]).is_ok());
    assert!(p.check(&[0, 96]).is_err());
    p.ties.push(Tie { anchor: 0, buffer: 1, lag: 8, exact: false });
    assert!(p.check(&[8, 0]).is_ok());
    assert!(p.check(&[12, 0]).is_ok(), "further below is fine");
    assert!(p.check(&[4, 0]).is_err(), "output closer than its lag");
    assert!(p.check(&[0, 8]).is_err(), "output above its anchor");
    assert_eq!(p.lower_bound(), 108);
    p.ties[0] = Tie { anchor: 0, buffer: 1, lag: 0, exact: true };
    assert!(p.check(&[4, 4]).is_ok());
    assert!(p.check(&[8, 4]).is_err(), "a ring needs output == input");
    assert_eq!(p.lower_bound(), 100);
}

#[test]
fn exact_search_finds_the_optimum_where_greedy_does_not() {
    // Greedy-by-size puts the two 4-byte buffers side by side at 0 and 4;
    // the 8-byte one then sits above one of them.
    let b = |size, first, last| Buffer { size, first, last };
    let p = Problem { buffers: vec![b(8, 0, 0), b(4, 0, 1), b(4, 1, 2), b(8, 2, 2), b(4, 1, 1)], ties: vec![] };
    let offsets = place(&p);
    p.check(&offsets).unwrap();
    assert_eq!(p.extent(&offsets), p.lower_bound());
}

/// Writes output pixels in raster order over a shared byte array, failing
/// if any pixel reads an input byte an earlier (or its own) write clobbered.
fn raster_writes_are_safe(in_hwc: [usize; 3], out_hwc: [usize; 3], k: [usize; 2], s: [usize; 2], pad: [usize; 2], lag: usize) -> bool {
    let [in_h, in_w, in_c] = in_hwc;
    let [out_h, out_w, out_c] = out_hwc;
    let (in_off, out_off) = (lag as isize, 0isize);
    let mut clobbered = vec![false; lag + in_h * in_w * in_c + out_h * out_w * out_c];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let q = (oy * out_w + ox) as isize;
            for i in 0..out_c as isize {
                clobbered[(out_off + q * out_c as isize + i) as usize] = true;
            }
            for ky in 0..k[0] {
                for kx in 0..k[1] {
                    let iy = (oy * s[0] + ky) as isize - pad[0] as isize;
                    let ix = (ox * s[1] + kx) as isize - pad[1] as isize;
                    if iy < 0 || ix < 0 || iy >= in_h as isize || ix >= in_w as isize {
                        continue;
                    }
                    let base = in_off + (iy * in_w as isize + ix) * in_c as isize;
                    if (0..in_c as isize).any(|c| clobbered[(base + c) as usize]) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

#[test]
fn window_lag_is_the_least_safe_distance() {
    let mut rng = SplitMix(11);
    for case in 0..400 {
        let k = [1 + rng.below(4), 1 + rng.below(4)];
        let s = [1 + rng.below(2), 1 + rng.below(2)];
        let pad = [rng.below(k[0]), rng.below(k[1])];
        let in_hwc = [k[0] + rng.below(7), k[1] + rng.below(7), 1 + rng.below(5)];
        let out_h = (in_hwc[0] + pad[0] + rng.below(k[0]) - k[0]) / s[0] + 1;
        let out_w = (in_hwc[1] + pad[1] + rng.below(k[1]) - k[1]) / s[1] + 1;
        let out_hwc = [out_h, out_w, 1 + rng.below(6)];
        let lag = window_lag(in_hwc, out_hwc, s, pad);
        let what = format!("case {case}: in {in_hwc:?} out {out_hwc:?} k {k:?} s {s:?} pad {pad:?} lag {lag}");
        assert!(raster_writes_are_safe(in_hwc, out_hwc, k, s, pad, lag), "{what}: unsafe");
        if lag > 0 {
            assert!(!raster_writes_are_safe(in_hwc, out_hwc, k, s, pad, lag - 1), "{what}: not the least");
        }
    }
}


/// On the MLPerf Tiny models as planned: wherever an op's output overlaps
/// one of its inputs, the overlap follows the op's rule (ring: exactly on
/// input 0; Add: output not above the input; windowed ops: raster-order
/// writes never clobber a byte still to be read).
#[test]
fn model_plans_respect_the_overlap_rules() {
    use super::inplace::Mode;
    use crate::ops::{add::Binary, conv::Conv, pool::Pool};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlperf-tiny");
    for model in ["ic_resnet8", "kws_dscnn", "vww_mbnv1", "ad_fcae"] {
        let c = crate::lower::lower(&dir.join(format!("{model}_int8.onnx")), &[]).unwrap();
        let (g, plan) = (&c.graph, &c.plan);
        for (step, op) in g.ops.iter().enumerate() {
            let out = plan.offsets[op.output].unwrap();
            for &t in &op.inputs {
                let at = plan.offsets[t].unwrap();
                let disjoint = at + g.tensors[t].bytes() <= out || out + g.tensors[op.output].bytes() <= at;
                if disjoint {
                    continue;
                }
                let what = format!("{model} layer {step} ({})", op.kind.name());
                if let Mode::Ring { .. } = plan.modes[step] {
                    assert_eq!(at, out, "{what}: a ring op writes exactly over its input");
                    continue;
                }
                assert!(out <= at, "{what}: output above an input it overlaps");
                let (in_hwc, out_hwc) = (g.tensors[t].hwc(), g.tensors[op.output].hwc());
                let (k, s, pad) = if let Some(cv) = op.kind.downcast::<Conv>() {
                    (cv.p.kernel, cv.p.stride, cv.p.pad)
                } else if let Some(p) = op.kind.downcast::<Pool>() {
                    (p.p.kernel, p.p.stride, p.p.pad)
                } else if op.kind.is::<Binary>() {
                    continue;
                } else {
                    panic!("{what}: this op may not overlap its input")
                };
                assert!(raster_writes_are_safe(in_hwc, out_hwc, k, s, pad, at - out), "{what}: clobbers its input");
            }
        }
    }
}

#[test]
fn resnet8_is_scheduled_in_its_smallest_order() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlperf-tiny/ic_resnet8_int8.onnx");
    let c = crate::lower::lower(&path, &[]).unwrap();
    let orders = super::schedule::topological_orders(&c.graph, 64);
    assert_eq!(orders.len(), 9, "two residual blocks with a shortcut convolution: 3 x 3 orders");
    for order in orders {
        let mut g = c.graph.clone();
        g.ops = order.iter().map(|&i| c.graph.ops[i].clone()).collect();
        assert!(super::plan(&g).arena_bytes >= c.plan.arena_bytes, "order {order:?} plans smaller");
    }
}

/// The DSP kernels' scratch, planned into the arena: each layer's scratch
/// lies inside the arena and overlaps no tensor live at that layer (checked
/// here from the tensors' lifetimes, not from the planner's own problem),
/// and only DSP kernels that can run exactly in place get a ring (output
/// exactly over the input), with no ring buffer.
#[test]
fn kernel_scratch_avoids_every_live_tensor() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlperf-tiny");
    for model in ["ic_resnet8", "kws_dscnn", "vww_mbnv1"] {
        let c = crate::lower::lower(&dir.join(format!("{model}_int8.onnx")), &[]).unwrap();
        let g = &c.graph;
        let kernels = crate::codegen::dsp_kernels(g);
        let plan = super::plan_with_kernels(g, &kernels);
        for (step, k) in kernels.iter().enumerate() {
            if let Some(k) = k {
                let ring = matches!(plan.modes[step], super::inplace::Mode::Ring { .. });
                assert!(!ring || k.exact_in_place, "{model} layer {step}: a ring for a DSP kernel that cannot run exactly in place");
                assert!(plan.ring_scratch[step].is_none(), "{model} layer {step}: a ring buffer for a DSP kernel");
            }
        }
        let scratch: Vec<usize> = kernels.iter().map(|k| k.map_or(0, |k| k.scratch)).collect();
        assert!(scratch.iter().any(|&s| s > 0), "{model}: no DSP layer asks for scratch");
        let life = super::lifetimes(g);
        for (step, &bytes) in scratch.iter().enumerate().filter(|(_, &b)| b > 0) {
            let at = plan.op_scratch[step].unwrap_or_else(|| panic!("{model} layer {step}: scratch not planned"));
            assert!(at + bytes <= plan.arena_bytes, "{model} layer {step}: scratch beyond the arena");
            for (t, l) in life.iter().enumerate() {
                let Some(b) = l.filter(|b| b.first <= step && step <= b.last) else { continue };
                let o = plan.offsets[t].unwrap();
                assert!(o + b.size <= at || at + bytes <= o, "{model} layer {step}: scratch overlaps live tensor {t}");
            }
        }
    }
}
