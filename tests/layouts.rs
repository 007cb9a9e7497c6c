//! Layouts of PyTorch exports (tests/fixtures/layouts, see make_layouts.py):
//! a 3-channel NCHW float input (quantized straight into NHWC), a channel
//! shuffle (Shape arithmetic, 5-D Reshape, Transpose: an int8 data
//! transpose), and a Reshape fed by Shape/Slice/Squeeze/Cast/Div/Mul/
//! ConstantOfShape arithmetic (folded at compile time). Each is compiled with
//! --calib and run: the C equals the reference on every layer, and the
//! output is within 20 dB SQNR of onnxruntime's float output.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hybridc_core::lower::{self as driver, CompileOptions, QuantOptions};
use hybridc_core::npy;
use hybridc_verify::{self as verify, RunOptions};

fn dir() -> PathBuf {
    common::fixtures().join("../layouts")
}

fn quant(model: &str) -> QuantOptions {
    QuantOptions { calib: Some(dir().join(format!("{model}_calib.npy"))), ..Default::default() }
}

fn sqnr_db(got: &[f32], want: &[f32]) -> f64 {
    let signal: f64 = want.iter().map(|&w| (w as f64).powi(2)).sum();
    let noise: f64 = got.iter().zip(want).map(|(&g, &w)| (g as f64 - w as f64).powi(2)).sum();
    10.0 * (signal / noise.max(1e-30)).log10()
}

/// Compiles `model` for `target`, runs its test inputs with layer tracing,
/// and checks every layer against the reference and the output against
/// onnxruntime. Returns the outputs' bytes.
fn check(model: &str, target: &str) -> Vec<Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = dir().join(format!("{model}.onnx"));
    let proj = tmp.path().join("proj");
    let m = hybridc_verify::compile::compile(&CompileOptions { quant: quant(model), ..CompileOptions::new(onnx.clone(), &target, proj.clone()) })
        .expect("compile");
    let x = npy::read(&dir().join(format!("{model}_x.npy"))).unwrap();
    // `run` takes the input as the model declares it (NCHW).
    let mut declared = vec![1];
    declared.extend_from_slice(&x.shape[1..]);
    assert_eq!(m.inputs[0].shape, declared, "{model}: the manifest's input is not the model's NCHW shape");
    let opts = RunOptions { project: proj.clone(), trace: true, profile: false, timeout: Duration::from_secs(600), gateway: None };
    let r = verify::run_project(&opts, &x, Path::new("test inputs")).expect("run");

    let c = driver::lower_with(&onnx, &[], &quant(model)).unwrap();
    common::assert_c_equals_reference(model, &c, &r, &x);
    let got = hybridc_core::reference::f32s(&r.outputs[0]);
    let want = hybridc_core::reference::f32s(&npy::read(&dir().join(format!("{model}_float_out.npy"))).unwrap().data);
    assert_eq!(got.len(), want.len());
    let db = sqnr_db(&got, &want);
    println!("{model} on {target}: output SQNR {db:.1} dB against onnxruntime float");
    assert!(db >= 20.0, "{model}: output SQNR {db:.1} dB against onnxruntime float is below 20 dB");
    r.outputs
}

/// The op kinds of the lowered model.
fn kinds(model: &str) -> Vec<&'static str> {
    let c = driver::lower_with(&dir().join(format!("{model}.onnx")), &[], &quant(model)).unwrap();
    c.graph.ops.iter().map(|o| o.kind.name()).collect()
}

#[test]
fn rgb_nchw_input_is_quantized_into_nhwc() {
    check("rgb_cnn", "host");
    // The layout change is the input Quantize itself: the only Transpose is
    // the flatten's (NHWC feature map into ONNX order before the Linear).
    let k = kinds("rgb_cnn");
    assert_eq!(k[0], "Quantize");
    assert_eq!(k.iter().filter(|&&o| o == "Transpose").count(), 1, "{k:?}");
}

#[test]
fn rgb_nchw_input_on_cortex_m4_equals_host() {
    let host = check("rgb_cnn", "host");
    let m4 = check("rgb_cnn", "cortex-m4");
    assert_eq!(host, m4, "Cortex-M4 outputs differ from the host's");
}

#[test]
fn channel_shuffle_moves_data_with_int8_transposes() {
    check("channel_shuffle", "host");
    assert!(kinds("channel_shuffle").contains(&"Transpose"));
}

#[test]
fn reshape_fed_by_shape_arithmetic() {
    check("shape_arith", "host");
}
