//! Accumulators past 2^31. The reference defines the int32 accumulator of
//! FullyConnected, Conv and depthwise Conv to wrap (`wrapping_add` in
//! hybridc-kernels); the C kernels wrap too because every C build takes
//! `-fwrapv` (`hybridc_core::target::RUNTIME_CFLAGS`).
//!
//! Each model is one int8 layer (tests/overflow_model.py writes it) with one
//! constant weight per output channel and about 70,000 taps per output: an
//! input of 127 with input zero point -128 adds 255 * 127 per tap, so the
//! sum leaves the int32 range. The test works out every accumulator in i64
//! itself, checks that the reference's outputs follow the wrapped sum and
//! not the exact one (a saturating or 64-bit accumulator fails it), then
//! builds the C for the host and for Cortex-M4 with the portable and with
//! the DSP kernels and requires the reference's bytes from each. (The DSP
//! code generator leaves a layer whose accumulator can pass 2^30 to the
//! portable kernel, see `requant_exact`; the DSP build checks that route.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hybridc_core::codegen::Kernels;
use hybridc_core::lower as driver;
use hybridc_core::npy;
use hybridc_core::plan::search::SplitMix;
use hybridc_verify::RunOptions;

const IN_SCALE: f32 = 0.5;
const IN_ZP: i64 = -128;
const W_SCALE: f32 = 0.25;
/// IN_SCALE * W_SCALE / OUT_SCALE = 100 / 2^31: an accumulator of +-2^31
/// requantizes to +-100, so the wrapped and the exact sums give far apart outputs.
const OUT_SCALE: f32 = 2_684_354.5;
const OUT_ZP: i64 = 0;
/// Per output channel: past +2^31; past -2^31; past +2^31 before the bias
/// (the C kernels add it last), back in range after; never near (a control).
const WEIGHTS: [i8; 4] = [127, -127, 127, 3];
const BIAS: [i32; 4] = [0, 0, -2_000_000_000, 0];

/// `kind` as tests/overflow_model.py takes it; `input` is NHWC for the convolutions,
/// whose kernel covers the whole input (one output pixel).
fn check(kind: &str, input: &[usize]) {
    let dir = tempfile::tempdir().unwrap();
    let model = write_model(dir.path(), kind, input);
    let n: usize = input.iter().product();
    let mut g = SplitMix(17);
    // All 127 (every sum at its largest), all -128 (only the biases), and
    // two random inputs: near the top of the range, and anywhere.
    let cases: Vec<Vec<i8>> = vec![
        vec![127; n],
        vec![-128; n],
        (0..n).map(|_| (100 + g.below(28)) as i8).collect(),
        (0..n).map(|_| g.below(256) as u8 as i8).collect(),
    ];

    let c = driver::lower(&model, &[]).expect("lower");
    let (mut above, mut below, mut wrapped_outputs) = (0, 0, 0);
    let mut want: Vec<u8> = vec![];
    for (k, x) in cases.iter().enumerate() {
        let values = hybridc_core::reference::run(&c.graph, &[bytemuck::cast_slice(x)]).expect("reference run");
        let got = values[c.graph.outputs[0]].clone().expect("output computed");
        for (o, acc) in accumulators(kind, input, x).into_iter().enumerate() {
            above += (acc > i32::MAX as i64) as usize;
            below += (acc < i32::MIN as i64) as usize;
            let wrapped = acc as i32 as i64;
            let r = got[o] as i8 as i64;
            assert!(
                (r - requantize(wrapped)).abs() <= 1,
                "{kind} case {k} channel {o}: the reference gives {r}, the wrapped accumulator {wrapped} gives {}",
                requantize(wrapped)
            );
            if wrapped != acc {
                assert!((r - requantize(acc)).abs() > 1, "{kind} case {k} channel {o}: the wrap does not change the output");
                wrapped_outputs += 1;
            }
        }
        want.extend(got);
    }
    assert!(above > 0 && below > 0 && wrapped_outputs >= 2, "{kind}: no accumulator left the int32 range both ways");

    let x = npy::Array {
        shape: [&[cases.len()], &input[1..]].concat(),
        descr: "|i1".into(),
        data: cases.iter().flat_map(|x| x.iter().map(|&v| v as u8)).collect(),
    };
    for (target, kernels) in [("host", Kernels::Portable), ("cortex-m4", Kernels::Portable), ("cortex-m4", Kernels::Dsp)] {
        let proj = dir.path().join(format!("{target}-{kernels:?}"));
        let o = driver::CompileOptions { kernels, ..driver::CompileOptions::new(&model, target, &proj) };
        hybridc_verify::compile::compile(&o).expect("compile");
        let opts = RunOptions { project: proj, trace: false, profile: false, timeout: Duration::from_secs(600), gateway: None };
        let r = hybridc_verify::run_project(&opts, &x, Path::new("inputs")).expect("run");
        assert_eq!(r.outputs[0], want, "{kind} on {target} with {kernels:?} kernels: the C differs from the reference");
    }
}

/// Writes the model with tests/overflow_model.py (numpy and onnx).
fn write_model(dir: &Path, kind: &str, input: &[usize]) -> PathBuf {
    let spec = serde_json::json!({
        "kind": kind, "input": input, "weights": WEIGHTS, "bias": BIAS, "in_scale": IN_SCALE, "in_zp": IN_ZP,
        "w_scale": W_SCALE, "out_scale": OUT_SCALE, "out_zp": OUT_ZP,
    });
    let (spec_path, model) = (dir.join(format!("{kind}.json")), dir.join(format!("{kind}.onnx")));
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/overflow_model.py");
    let out = Command::new("python3").arg(script).arg(&spec_path).arg(&model).output().expect("python3 (tests/run.sh installs numpy and onnx)");
    assert!(out.status.success(), "overflow_model.py failed: {}", String::from_utf8_lossy(&out.stderr));
    model
}

/// Every output channel's exact sum (bias included): the weights are constant
/// per channel, so it is the weight times the sum of the inputs it sees
/// (depthwise: its own channel, every C-th value in NHWC order).
fn accumulators(kind: &str, input: &[usize], x: &[i8]) -> Vec<i64> {
    let c = input[input.len() - 1];
    let sees = |i: usize, o: usize| kind != "depthwise" || i % c == o;
    (0..WEIGHTS.len())
        .map(|o| {
            let s: i64 = x.iter().enumerate().filter(|&(i, _)| sees(i, o)).map(|(_, &v)| v as i64 - IN_ZP).sum();
            WEIGHTS[o] as i64 * s + BIAS[o] as i64
        })
        .collect()
}

/// The int8 output of an accumulator, in float (within 1 of the fixed-point result).
fn requantize(acc: i64) -> i64 {
    let m = IN_SCALE as f64 * W_SCALE as f64 / OUT_SCALE as f64;
    ((acc as f64 * m).round() as i64 + OUT_ZP).clamp(-128, 127)
}

#[test]
fn fully_connected_accumulator_wraps() {
    check("fc", &[1, 70_000]);
}

#[test]
fn conv_accumulator_wraps() {
    check("conv", &[1, 33, 33, 64]);
}

#[test]
fn depthwise_accumulator_wraps() {
    check("depthwise", &[1, 260, 260, 4]);
}
