//! TensorFlow Lite models in (`hybridc compile model.tflite`):
//! - the four MLPerf Tiny int8 `.tflite` files: the reference equals
//!   TensorFlow Lite Micro byte for byte on every golden input (outputs;
//!   logits from the `_logits` files and, on the full files, through
//!   `--outputs` with the TFLite tensor name), and the generated C on the
//!   host and as Cortex-M4 firmware under QEMU equals the reference on every
//!   layer;
//! - four models made by the TensorFlow converter (tests/tflite/make_models.py),
//!   checked the same way against TFLite Micro's outputs from the
//!   `tflite-micro` Python package, committed beside them;
//! - a TFLite file is recognised by content, whatever its name.

mod common;

use std::path::{Path, PathBuf};

use common::check::{check_c_vs_reference, check_reference_vs_tflm};
use common::{golden_cases, load_i8, Golden, MODELS};
use hybridc_core::lower as driver;

fn mlperf(model: &str, suffix: &str) -> PathBuf {
    common::fixtures().join(format!("{model}_int8{suffix}.tflite"))
}

fn converted_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tflite")
}

/// The converter-made model's inputs and TFLite Micro's outputs.
fn converted_cases(model: &str) -> Vec<Golden> {
    let d = converted_dir();
    let (shape, inputs) = load_i8(&d.join(format!("{model}_inputs_int8.npy")));
    let (_, outputs) = load_i8(&d.join(format!("{model}_tflm_outputs_int8.npy")));
    let n = shape[0];
    let (isz, osz) = (inputs.len() / n, outputs.len() / n);
    (0..n)
        .map(|i| Golden {
            label: format!("inputs[{i}]"),
            input: inputs[i * isz..(i + 1) * isz].to_vec(),
            output: outputs[i * osz..(i + 1) * osz].to_vec(),
            logits: None,
        })
        .collect()
}

fn logits_name(model: &str) -> Option<Vec<String>> {
    MODELS.iter().find(|(m, _)| *m == model).unwrap().1.map(|n| vec![n.to_string()])
}

/// Reference == TFLite Micro: outputs, the logits model, and the logits of
/// the full model selected by TFLite tensor name.
fn mlperf_reference(model: &str) {
    let cases = golden_cases(model);
    check_reference_vs_tflm(&mlperf(model, ""), &[], &cases, |g| Some(&g.output));
    if let Some(outs) = logits_name(model) {
        check_reference_vs_tflm(&mlperf(model, "_logits"), &[], &cases, |g| g.logits.as_ref());
        check_reference_vs_tflm(&mlperf(model, ""), &outs, &cases, |g| g.logits.as_ref());
    }
}

/// Generated C on `target` == reference (every layer) == TFLite Micro.
fn mlperf_c(model: &str, target: &str) {
    let cases = golden_cases(model);
    let path = mlperf(model, "");
    let c = driver::lower(&path, &[]).expect("lower");
    check_c_vs_reference(&path, target, &c, &[], &cases, |g| Some(&g.output));
    if logits_name(model).is_some() {
        let path = mlperf(model, "_logits");
        let c = driver::lower(&path, &[]).expect("lower");
        check_c_vs_reference(&path, target, &c, &[], &cases, |g| g.logits.as_ref());
    }
}

fn converted_reference(model: &str) {
    check_reference_vs_tflm(&converted_dir().join(format!("{model}.tflite")), &[], &converted_cases(model), |g| Some(&g.output));
}

fn converted_c(model: &str, target: &str) {
    let path = converted_dir().join(format!("{model}.tflite"));
    let c = driver::lower(&path, &[]).expect("lower");
    check_c_vs_reference(&path, target, &c, &[], &converted_cases(model), |g| Some(&g.output));
}

mod mlperf_tiny {
    use super::*;
    crate::model_tests!([
        reference_equals_tflite_micro: mlperf_reference(),
        host_c_equals_reference: mlperf_c("host"),
        cortex_m4_under_qemu_equals_reference: mlperf_c("cortex-m4")
    ] ad_fcae, ic_resnet8, kws_dscnn, vww_mbnv1);
}

mod converted {
    use super::*;
    crate::model_tests!([
        reference_equals_tflite_micro: converted_reference(),
        host_c_equals_reference: converted_c("host"),
        cortex_m4_under_qemu_equals_reference: converted_c("cortex-m4")
    ] cnn, elementwise, mlp, mean);
}

/// A TFLite file is told by its content ("TFL3" at bytes 4..8), not its name.
#[test]
fn tflite_recognised_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("model.bin");
    std::fs::copy(converted_dir().join("mlp.tflite"), &renamed).unwrap();
    check_reference_vs_tflm(&renamed, &[], &converted_cases("mlp"), |g| Some(&g.output));
}
