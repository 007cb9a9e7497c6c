//! Ops and export patterns of real PyTorch models, one small float model
//! each (tests/fixtures/ops, built by make_op_models.py with onnxruntime's
//! float outputs): compiled with calibration for the host and Cortex-M4,
//! the C equals the reference on every layer, Cortex-M4 (DSP kernels) gives
//! the host's bytes, and the int8 output is within 20 dB SQNR of
//! onnxruntime's float output. Unsupported ops stop with a named error.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hybridc_core::lower::{self as driver, CompileOptions, QuantOptions};
use hybridc_core::npy;
use hybridc_verify::{self as verify, RunOptions};

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ops")
}

fn compile(model: &Path, calib: &Path, target: &str, out: &Path) {
    let quant = QuantOptions { calib: Some(calib.to_path_buf()), ..Default::default() };
    let opts = CompileOptions { quant, ..CompileOptions::new(model.to_path_buf(), target, out.to_path_buf()) };
    hybridc_verify::compile::compile(&opts).unwrap_or_else(|e| panic!("{}: {e:#}", model.display()));
}

fn run(project: &Path, x: &npy::Array, trace: bool) -> verify::RunResult {
    let opts = RunOptions { project: project.to_path_buf(), trace, profile: false, timeout: Duration::from_secs(600), gateway: None };
    verify::run_project(&opts, x, Path::new("inputs")).expect("run")
}

/// Signal-to-quantization-noise ratio of `got` against `want`, in dB.
fn sqnr(want: &[f32], got: &[f32]) -> f64 {
    let signal: f64 = want.iter().map(|&w| (w as f64).powi(2)).sum();
    let noise: f64 = want.iter().zip(got).map(|(&w, &g)| (w as f64 - g as f64).powi(2)).sum();
    10.0 * (signal / noise.max(1e-30)).log10()
}

/// `model` compiles for host and Cortex-M4; C == reference on every layer
/// of every sample, M4 == host, output SQNR >= 20 dB vs onnxruntime.
fn check(model: &str) {
    let d = ops_dir();
    let onnx = d.join(format!("{model}.onnx"));
    let calib = d.join(format!("{model}_x.npy"));
    let x = npy::read(&calib).unwrap();
    let want_arr = npy::read(&d.join(format!("{model}_y.npy"))).unwrap();
    let want = hybridc_core::reference::f32s(&want_arr.data);
    let dir = tempfile::tempdir().unwrap();
    let (host, m4) = (dir.path().join("host"), dir.path().join("m4"));
    compile(&onnx, &calib, "host", &host);
    let traced = run(&host, &x, true);
    // Outputs come in the order the model declares (NCHW feature maps too).
    assert_eq!(traced.manifest.outputs[0].shape[1..], want_arr.shape[1..], "{model}: output shape");
    let got = hybridc_core::reference::f32s(&traced.outputs[0]);
    let db = sqnr(&want, &got);
    println!("{model}: output SQNR {db:.1} dB vs onnxruntime float");
    assert!(db >= 20.0, "{model}: output SQNR {db:.1} dB < 20 dB");

    let c = driver::lower_with(&onnx, &[], &QuantOptions { calib: Some(calib.clone()), ..Default::default() }).unwrap();
    common::assert_trace_is_reference(model, &c.graph, &traced.trace, &x.data, x.shape[0]);

    compile(&onnx, &calib, "cortex-m4", &m4);
    let on_m4 = run(&m4, &x, false);
    assert_eq!(on_m4.outputs, traced.outputs, "{model}: Cortex-M4 outputs differ from the host's");
}

#[test]
fn conv1d_depthwise_conv1d_and_maxpool1d_ceil_mode() {
    check("conv1d");
}

#[test]
fn max_and_average_pool_with_ceil_mode() {
    check("pool_ceil");
}

#[test]
fn depthwise_conv_with_depth_multiplier_2() {
    check("dw_multiplier");
}

#[test]
fn hard_swish_hard_sigmoid_mul_and_silu() {
    check("hard_swish");
}

#[test]
fn resize_nearest_bilinear_and_align_corners() {
    check("resize");
}

#[test]
fn standalone_batch_norm() {
    check("batch_norm");
}

#[test]
fn standalone_batch_norm_1d() {
    check("batch_norm1d");
}

#[test]
fn batch_norm_1d_on_features_and_after_linear() {
    check("batch_norm_features");
}

#[test]
fn split_channel_shuffle_slice_and_nchw_feature_map_output() {
    check("shuffle_split");
}

#[test]
fn grouped_convolution() {
    check("grouped_conv");
}

#[test]
fn conv_transpose_stride_2_autoencoder() {
    check("conv_transpose");
}

/// An op hybridc does not compile stops with one line naming the node and
/// listing what is supported.
#[test]
fn lstm_is_named_and_refused() {
    let d = ops_dir();
    let out = tempfile::tempdir().unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_hybridc"))
        .args(["compile", "lstm.onnx", "--calib", "lstm_x.npy", "-o"])
        .arg(out.path().join("p"))
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("hybridc: error:"), "{err}");
    for want in ["'y'", "LSTM", "supported: Conv", "MaxPool"] {
        assert!(lines[0].contains(want), "missing {want:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// The new kernels in a generated Rust crate (`--emit rust`) give the C's bytes.
#[test]
fn rust_backend_equals_c_for_resize_conv_transpose_and_slices() {
    let d = ops_dir();
    let dir = tempfile::tempdir().unwrap();
    let hybridc = |args: &[&str]| {
        let r = Command::new(env!("CARGO_BIN_EXE_hybridc")).args(args).current_dir(dir.path()).output().unwrap();
        assert!(r.status.success(), "hybridc {args:?}: {}", String::from_utf8_lossy(&r.stderr));
    };
    for model in ["resize", "conv_transpose", "shuffle_split"] {
        let onnx = d.join(format!("{model}.onnx"));
        let x = d.join(format!("{model}_x.npy"));
        let (onnx, x) = (onnx.to_str().unwrap(), x.to_str().unwrap());
        hybridc(&["compile", onnx, "--calib", x, "-o", "c"]);
        hybridc(&["compile", onnx, "--calib", x, "--emit", "rust", "-o", "rs"]);
        hybridc(&["run", "c", "--input", x, "--output", "c.npy"]);
        hybridc(&["run", "rs", "--input", x, "--output", "rs.npy"]);
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(read("c.npy"), read("rs.npy"), "{model}: the Rust crate's outputs differ from the C's");
        for p in ["c", "rs"] {
            std::fs::remove_dir_all(dir.path().join(p)).unwrap();
        }
    }
}
