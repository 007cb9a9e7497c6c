//! Golden tests on the four MLPerf Tiny int8 models:
//! - the Rust int8 reference equals TensorFlow Lite Micro, byte for byte,
//!   on every golden input (outputs, and logits through `--outputs`);
//! - the generated C, built for the host and run as Cortex-M4, M7, M33 and
//!   M55 firmware under QEMU (the DSP kernels on Armv7E-M and Armv8-M),
//!   equals the reference byte for byte on every layer's output (the first
//!   diverging layer is reported), and its outputs equal TensorFlow Lite
//!   Micro's.

mod common;

use common::check::{check_c_vs_reference, check_c_vs_reference_with, check_reference_vs_tflm};
use common::{golden_cases, Golden, MODELS};
use hybridc_core::lower as driver;

fn model_path(model: &str) -> std::path::PathBuf {
    common::fixtures().join(format!("{model}_int8.onnx"))
}

fn logits_of(model: &str) -> Option<Vec<String>> {
    MODELS.iter().find(|(m, _)| *m == model).unwrap().1.map(|n| vec![n.to_string()])
}

/// Reference == TFLite Micro on outputs and logits.
fn reference_golden(model: &str) {
    let cases = golden_cases(model);
    check_reference_vs_tflm(&model_path(model), &[], &cases, |g| Some(&g.output));
    if let Some(outs) = logits_of(model) {
        check_reference_vs_tflm(&model_path(model), &outs, &cases, |g| g.logits.as_ref());
    }
}

/// Generated C on `target` == reference (every layer) == TFLite Micro (outputs).
fn c_golden(model: &str, target: &str) {
    let (path, cases) = (model_path(model), golden_cases(model));
    let c = driver::lower(&path, &[]).expect("lower");
    check_c_vs_reference(&path, target, &c, &[], &cases, |g| Some(&g.output));
    if let Some(outs) = logits_of(model) {
        let cl = driver::lower(&path, &outs).expect("lower");
        check_c_vs_reference(&path, target, &cl, &outs, &cases, |g| g.logits.as_ref());
    }
}

/// The same for the DSP build under arena budgets, which take other kernel
/// variants (smaller depthwise bands, direct fully connected reads, portable
/// layers): the least arena any choice allows, and halfway to the default.
fn c_golden_budgets(model: &str, target: &str) {
    use hybridc_core::codegen::dsp::choose::{choose, least_arena};
    let (path, cases) = (model_path(model), golden_cases(model));
    let c = driver::lower(&path, &[]).expect("lower");
    let least = least_arena(&c.graph);
    let default = choose(&c.graph, None).unwrap().plan.arena_bytes;
    for budget in [least, (least + default) / 2] {
        check_c_vs_reference_with(&path, target, &c, &[], &cases, |g| Some(&g.output), Some(budget as u64));
    }
}

crate::model_tests!([
    reference_equals_tflite_micro: reference_golden(),
    host_c_equals_reference: c_golden("host"),
    cortex_m4_under_qemu_equals_reference: c_golden("cortex-m4"),
    cortex_m4_under_arena_budgets_equals_reference: c_golden_budgets("cortex-m4"),
    cortex_m7_under_qemu_equals_reference: c_golden("cortex-m7"),
    cortex_m33_under_qemu_equals_reference: c_golden("cortex-m33"),
    cortex_m55_under_qemu_equals_reference: c_golden("cortex-m55")
] ad_fcae, ic_resnet8, kws_dscnn, vww_mbnv1);
