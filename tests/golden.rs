//! Golden tests on the four MLPerf Tiny int8 models:
//! - the Rust int8 reference equals TensorFlow Lite Micro, byte for byte,
//!   on every golden input (outputs, and logits through `--outputs`);
//! - the generated C, built for the host and run as Cortex-M4, M7, M33 and
//!   M55 firmware under QEMU (the DSP kernels on Armv7E-M and Armv8-M),
//!   equals the reference byte for byte on every layer's output (the first
//!   diverging layer is reported), and its outputs equal TensorFlow Lite
//!   Micro's.

mod common;

use std::time::Duration;

use common::{first_diff, golden_cases, Golden, MODELS};
use hybridc_core::lower::{self as driver, CompileOptions, Compiled};
use hybridc_core::npy;
use hybridc_verify::{self as verify, RunOptions};

fn model_path(model: &str) -> std::path::PathBuf {
    common::fixtures().join(format!("{model}_int8.onnx"))
}

/// The reference's value of every tensor, as int8.
fn reference_run(c: &Compiled, input: &[i8]) -> Vec<Option<Vec<i8>>> {
    let bytes: &[u8] = bytemuck::cast_slice(input);
    let values = hybridc_core::reference::run(&c.graph, &[bytes]).expect("reference run");
    values.into_iter().map(|v| v.map(|b| b.into_iter().map(|x| x as i8).collect())).collect()
}

/// Reference values of every case.
fn reference(c: &Compiled, cases: &[Golden]) -> Vec<Vec<Vec<Option<Vec<i8>>>>> {
    cases.iter().map(|case| vec![reference_run(c, &case.input)]).collect()
}

fn check_reference_vs_tflm(model: &str, outputs: &[String], expect: impl Fn(&Golden) -> Option<&Vec<i8>>) -> Compiled {
    let c = driver::lower(&model_path(model), outputs).expect("lower");
    let out_id = c.graph.outputs[0];
    let mut checked = 0;
    for case in golden_cases(model) {
        let Some(want) = expect(&case) else { continue };
        let values = reference_run(&c, &case.input);
        let got = values[out_id].as_ref().expect("output computed");
        if let Some((i, g, w)) = first_diff(got, want) {
            panic!("{model} {}: reference differs from TFLite Micro at element {i}: {g} vs {w}", case.label);
        }
        checked += 1;
    }
    assert!(checked >= 12, "{model}: only {checked} golden cases checked");
    c
}

/// Compiles for `target`, runs every case with layer tracing, and compares
/// every layer with the reference and the outputs with TFLite Micro.
fn check_c_vs_reference(
    model: &str,
    target: &str,
    c: &Compiled,
    outputs: &[String],
    tflm: impl Fn(&Golden) -> Option<&Vec<i8>>,
    arena_budget: Option<u64>,
) {
    let cases = golden_cases(model);
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    hybridc_verify::compile::compile(&CompileOptions { outputs: outputs.to_vec(), arena_budget, ..CompileOptions::new(model_path(model), &target, proj.clone()) })
    .expect("compile");
    let m = hybridc_core::codegen::Manifest::read(&proj).unwrap();
    let item_shape = &m.inputs[0].shape;
    let mut shape = vec![cases.len()];
    shape.extend_from_slice(&item_shape[1..]);
    let arr = npy::Array {
        shape,
        descr: "|i1".into(),
        data: cases.iter().flat_map(|c| c.input.iter().map(|&v| v as u8)).collect(),
    };
    let opts = RunOptions { project: proj, trace: true, profile: false, timeout: Duration::from_secs(600), gateway: None };
    let r = verify::run_project(&opts, &arr, std::path::Path::new("golden inputs")).expect("run");
    let refs = reference(c, &cases);
    for (k, case) in cases.iter().enumerate() {
        let values = &refs[k][0];
        for (l, op) in c.graph.ops.iter().enumerate() {
            let want = values[op.output].as_ref().unwrap();
            let got: Vec<i8> = r.trace[k][l].iter().map(|&b| b as i8).collect();
            if let Some((i, g, w)) = first_diff(&got, want) {
                panic!(
                    "{model} on {target} {}: generated C diverges from the reference first at layer {l} '{}' ({}), element {i}: {g} vs {w}",
                    case.label, op.name, op.kind.name()
                );
            }
        }
        let out_bytes = m.outputs[0].bytes;
        let got: Vec<i8> = r.outputs[0][k * out_bytes..(k + 1) * out_bytes].iter().map(|&b| b as i8).collect();
        let want = values[c.graph.outputs[0]].as_ref().unwrap();
        assert_eq!(first_diff(&got, want), None, "{model} on {target} {}: output differs from the reference", case.label);
        if let Some(t) = tflm(case) {
            assert_eq!(first_diff(&got, t), None, "{model} on {target} {}: output differs from TFLite Micro", case.label);
        }
    }
}

fn logits_of(model: &str) -> Option<Vec<String>> {
    MODELS.iter().find(|(m, _)| *m == model).unwrap().1.map(|n| vec![n.to_string()])
}

/// Reference == TFLite Micro on outputs and logits.
fn reference_golden(model: &str) {
    check_reference_vs_tflm(model, &[], |g| Some(&g.output));
    if let Some(outs) = logits_of(model) {
        check_reference_vs_tflm(model, &outs, |g| g.logits.as_ref());
    }
}

/// Generated C on `target` == reference (every layer) == TFLite Micro (outputs).
fn c_golden(model: &str, target: &str) {
    let c = driver::lower(&model_path(model), &[]).expect("lower");
    check_c_vs_reference(model, target, &c, &[], |g| Some(&g.output), None);
    if let Some(outs) = logits_of(model) {
        let cl = driver::lower(&model_path(model), &outs).expect("lower");
        check_c_vs_reference(model, target, &cl, &outs, |g| g.logits.as_ref(), None);
    }
}

/// The same for the DSP build under arena budgets, which take other kernel
/// variants (smaller depthwise bands, direct fully connected reads, portable
/// layers): the least arena any choice allows, and halfway to the default.
fn c_golden_budgets(model: &str, target: &str) {
    use hybridc_core::codegen::dsp::choose::{choose, least_arena};
    let c = driver::lower(&model_path(model), &[]).expect("lower");
    let least = least_arena(&c.graph);
    let default = choose(&c.graph, None).unwrap().plan.arena_bytes;
    for budget in [least, (least + default) / 2] {
        check_c_vs_reference(model, target, &c, &[], |g| Some(&g.output), Some(budget as u64));
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
