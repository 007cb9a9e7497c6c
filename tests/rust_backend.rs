//! The Rust backend (`--emit rust`) on the four MLPerf Tiny int8 models:
//! the generated crate, built for the host and as Cortex-M4 firmware under
//! QEMU, equals the reference byte for byte on every layer's output (the
//! first diverging layer is reported) and TensorFlow Lite Micro on the
//! outputs; the crate passes clippy, rustfmt and rustdoc.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{first_diff, golden_cases, MODELS};
use hybridc::codegen::Emit;
use hybridc::driver::{self, CompileOptions};
use hybridc::verify::{self, npy, RunOptions};

fn model_path(model: &str) -> PathBuf {
    common::fixtures().join(format!("{model}_int8.onnx"))
}

fn compile_rust(model: &str, target: &str, out: &Path, outputs: &[String]) {
    let o = CompileOptions {
        model: model_path(model),
        target: target.into(),
        out: out.to_path_buf(),
        outputs: outputs.to_vec(),
        sram: None,
        flash: None,
        quant: Default::default(),
        hybrid: None,
        kernels: Default::default(),
    };
    driver::compile_emit(&o, Emit::Rust).expect("compile --emit rust");
}

/// Rust crate on `target` == reference (every layer) == TFLite Micro (outputs and logits).
fn rust_golden(model: &str, target: &str) {
    check(model, target, &[]);
    if let Some(logits) = MODELS.iter().find(|(m, _)| *m == model).unwrap().1 {
        check(model, target, &[logits.to_string()]);
    }
}

fn check(model: &str, target: &str, outputs: &[String]) {
    let c = driver::lower(&model_path(model), outputs).expect("lower");
    let cases = golden_cases(model);
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("crate");
    compile_rust(model, target, &proj, outputs);
    let m = hybridc::codegen::Manifest::read(&proj).unwrap();
    let mut shape = vec![cases.len()];
    shape.extend_from_slice(&m.inputs[0].shape[1..]);
    let arr = npy::Array { shape, descr: "|i1".into(), data: cases.iter().flat_map(|c| c.input.iter().map(|&v| v as u8)).collect() };
    let opts = RunOptions { project: proj, trace: true, profile: false, timeout: Duration::from_secs(600), gateway: None };
    let r = verify::run_project(&opts, &arr, Path::new("golden inputs")).expect("run");
    for (k, case) in cases.iter().enumerate() {
        let bytes: &[u8] = bytemuck::cast_slice(&case.input);
        let values = hybridc::reference::run(&c.graph, &c.params, &[bytes]).expect("reference");
        for (l, op) in c.graph.ops.iter().enumerate() {
            let want: Vec<i8> = values[op.output].as_ref().unwrap().iter().map(|&b| b as i8).collect();
            let got: Vec<i8> = r.trace[k][l].iter().map(|&b| b as i8).collect();
            if let Some((i, g, w)) = first_diff(&got, &want) {
                panic!(
                    "{model} (Rust) on {target} {}: diverges from the reference first at layer {l} '{}' ({}), element {i}: {g} vs {w}",
                    case.label, op.name, op.kind.name()
                );
            }
        }
        let n = m.outputs[0].bytes;
        let got: Vec<i8> = r.outputs[0][k * n..(k + 1) * n].iter().map(|&b| b as i8).collect();
        let tflm = if outputs.is_empty() { Some(&case.output) } else { case.logits.as_ref() };
        if let Some(t) = tflm {
            assert_eq!(first_diff(&got, t), None, "{model} (Rust) on {target} {}: output differs from TFLite Micro", case.label);
        }
    }
}

macro_rules! rust_golden_tests {
    ($($model:ident),*) => {$(
        mod $model {
            #[test]
            fn host_rust_equals_reference_and_tflite_micro() {
                super::rust_golden(stringify!($model), "host");
            }
            #[test]
            fn cortex_m4_rust_under_qemu_equals_reference_and_tflite_micro() {
                super::rust_golden(stringify!($model), "cortex-m4");
            }
        }
    )*};
}

rust_golden_tests!(ad_fcae, ic_resnet8, kws_dscnn, vww_mbnv1);

/// Runs cargo in `dir` with the shared build directory; panics with its output on failure.
fn cargo_ok(dir: &Path, args: &[&str]) {
    let out = verify::rust::cargo(dir).env("CARGO_TARGET_DIR", dir.join("target")).args(args).output().expect("cargo");
    assert!(out.status.success(), "cargo {} in {} failed:\n{}", args.join(" "), dir.display(), String::from_utf8_lossy(&out.stderr));
}

/// The crate is clean for clippy (host and thumbv7em), rustfmt and rustdoc.
#[test]
fn generated_crate_passes_clippy_fmt_and_doc() {
    let dir = tempfile::tempdir().unwrap();
    for (model, target) in [("kws_dscnn", "cortex-m4"), ("ic_resnet8", "host")] {
        let proj = dir.path().join(model);
        compile_rust(model, target, &proj, &[]);
        cargo_ok(&proj, &["fmt", "--check"]);
        cargo_ok(&proj, &["clippy", "--quiet", "--", "-D", "warnings"]);
        cargo_ok(&proj, &["doc", "--quiet", "--no-deps"]);
        if target != "host" {
            cargo_ok(&proj, &["clippy", "--quiet", "--target", "thumbv7em-none-eabihf", "--", "-D", "warnings"]);
            cargo_ok(&proj.join("harness"), &["clippy", "--quiet", "--release", "--", "-D", "warnings"]);
        }
    }
}
