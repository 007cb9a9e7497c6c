//! An installed hybridc needs no source tree: it carries its C runtime,
//! templates, targets and kernels crate (compiler/core/src/files.rs). The
//! binary is copied into an empty directory with one model and its golden
//! vectors and run from there, with `HYBRIDC_ROOT` and `CARGO_MANIFEST_DIR`
//! unset: a C project for the host and for Cortex-M4 (under QEMU, profiled,
//! which builds the QEMU plugin from the embedded sources) and a Rust crate
//! for the host must give TFLite Micro's outputs. And the binary holds no
//! path into the checkout it was built from, so it cannot reach back into it.

mod common;

use std::path::Path;
use std::process::Command;

fn hybridc(dir: &Path, args: &[&str]) {
    let out = Command::new(dir.join("hybridc"))
        .args(args)
        .current_dir(dir)
        .env_remove("HYBRIDC_ROOT")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("run the copied hybridc");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "hybridc {}: {text}", args.join(" "));
}

#[test]
fn a_copied_binary_compiles_and_runs_from_another_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = common::fixtures();
    std::fs::copy(env!("CARGO_BIN_EXE_hybridc"), d.join("hybridc")).unwrap();
    std::fs::copy(f.join("ad_fcae_int8.onnx"), d.join("model.onnx")).unwrap();
    std::fs::copy(f.join("vectors/ad_fcae_inputs_int8.npy"), d.join("x.npy")).unwrap();
    let want = common::load_i8(&f.join("vectors/ad_fcae_tflm_outputs_int8.npy"));
    for (target, emit) in [("host", "c"), ("cortex-m4", "c"), ("host", "rust")] {
        let (proj, out) = (format!("{target}-{emit}"), format!("{target}-{emit}.npy"));
        hybridc(d, &["compile", "model.onnx", "--target", target, "--emit", emit, "-o", &proj]);
        let mut run = vec!["run", &proj, "--input", "x.npy", "--output", &out];
        if target != "host" {
            run.extend(["--profile", "profile.json"]);
        }
        hybridc(d, &run);
        assert_eq!(common::load_i8(&d.join(&out)), want, "{target} {emit}: outputs differ from TFLite Micro");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let (exe, root) = (std::fs::read(d.join("hybridc")).unwrap(), root.to_str().unwrap().as_bytes().to_vec());
    let holds = exe.windows(root.len()).any(|w| w == root);
    assert!(!holds, "the binary holds the path of its checkout {} (built with debug info?)", String::from_utf8_lossy(&root));
    let profile: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("profile.json")).unwrap()).unwrap();
    assert!(profile["instructions"].as_u64().is_some_and(|n| n > 0), "no instructions counted: {profile}");
}
