//! The golden checks shared by the ONNX and TFLite suites: the reference
//! against TensorFlow Lite Micro's outputs, and the generated C (host or
//! QEMU) against the reference on every layer.

use std::path::Path;
use std::time::Duration;

use super::{first_diff, Golden};
use hybridc_core::lower::{self as driver, CompileOptions, Compiled};
use hybridc_core::npy;
use hybridc_verify::{self as verify, RunOptions};

/// The reference's value of every tensor, as int8.
pub fn reference_run(c: &Compiled, input: &[i8]) -> Vec<Option<Vec<i8>>> {
    let bytes: &[u8] = bytemuck::cast_slice(input);
    let values = hybridc_core::reference::run(&c.graph, &[bytes]).expect("reference run");
    values.into_iter().map(|v| v.map(|b| b.into_iter().map(|x| x as i8).collect())).collect()
}

/// The reference equals TFLite Micro (`expect`) on every case that has an
/// expected output; at least 8 cases are checked.
pub fn check_reference_vs_tflm(model: &Path, outputs: &[String], cases: &[Golden], expect: impl Fn(&Golden) -> Option<&Vec<i8>>) -> Compiled {
    let c = driver::lower(model, outputs).expect("lower");
    let out_id = c.graph.outputs[0];
    let mut checked = 0;
    for case in cases {
        let Some(want) = expect(case) else { continue };
        let values = reference_run(&c, &case.input);
        let got = values[out_id].as_ref().expect("output computed");
        if let Some((i, g, w)) = first_diff(got, want) {
            panic!("{} {}: reference differs from TFLite Micro at element {i}: {g} vs {w}", model.display(), case.label);
        }
        checked += 1;
    }
    assert!(checked >= 8, "{}: only {checked} golden cases checked", model.display());
    c
}

/// Compiles for `target`, runs every case with layer tracing, and compares
/// every layer with the reference and the outputs with TFLite Micro.
pub fn check_c_vs_reference(
    model: &Path,
    target: &str,
    c: &Compiled,
    outputs: &[String],
    cases: &[Golden],
    tflm: impl Fn(&Golden) -> Option<&Vec<i8>>,
) {
    check_c_vs_reference_with(model, target, c, outputs, cases, tflm, None)
}

/// The same, the DSP build's kernel variants chosen under `arena_budget`.
pub fn check_c_vs_reference_with(
    model: &Path,
    target: &str,
    c: &Compiled,
    outputs: &[String],
    cases: &[Golden],
    tflm: impl Fn(&Golden) -> Option<&Vec<i8>>,
    arena_budget: Option<u64>,
) {
    let name = model.display();
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    hybridc_verify::compile::compile(&CompileOptions { outputs: outputs.to_vec(), arena_budget, ..CompileOptions::new(model.to_path_buf(), target, proj.clone()) })
        .expect("compile");
    let m = hybridc_core::codegen::Manifest::read(&proj).unwrap();
    let item_shape = &m.inputs[0].shape;
    let mut shape = vec![cases.len()];
    shape.extend_from_slice(&item_shape[1..]);
    let arr = npy::Array { shape, descr: "|i1".into(), data: cases.iter().flat_map(|c| c.input.iter().map(|&v| v as u8)).collect() };
    let opts = RunOptions { project: proj, trace: true, profile: false, timeout: Duration::from_secs(600), gateway: None };
    let r = verify::run_project(&opts, &arr, Path::new("golden inputs")).expect("run");
    for (k, case) in cases.iter().enumerate() {
        let values = reference_run(c, &case.input);
        for (l, op) in c.graph.ops.iter().enumerate() {
            let want = values[op.output].as_ref().unwrap();
            let got: Vec<i8> = r.trace[k][l].iter().map(|&b| b as i8).collect();
            if let Some((i, g, w)) = first_diff(&got, want) {
                panic!(
                    "{name} on {target} {}: generated C diverges from the reference first at layer {l} '{}' ({}), element {i}: {g} vs {w}",
                    case.label,
                    op.name,
                    op.kind.name()
                );
            }
        }
        let out_bytes = m.outputs[0].bytes;
        let got: Vec<i8> = r.outputs[0][k * out_bytes..(k + 1) * out_bytes].iter().map(|&b| b as i8).collect();
        let want = values[c.graph.outputs[0]].as_ref().unwrap();
        assert_eq!(first_diff(&got, want), None, "{name} on {target} {}: output differs from the reference", case.label);
        if let Some(t) = tflm(case) {
            assert_eq!(first_diff(&got, t), None, "{name} on {target} {}: output differs from TFLite Micro", case.label);
        }
    }
}
