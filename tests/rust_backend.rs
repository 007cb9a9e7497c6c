//! The Rust backend (`--emit rust`) on the four MLPerf Tiny int8 models:
//! the generated crate, built for the host and as Cortex-M4 firmware under
//! QEMU, equals the reference byte for byte on every layer's output (the
//! first diverging layer is reported) and TensorFlow Lite Micro on the
//! outputs; the crate passes clippy, rustfmt and rustdoc. A hybrid
//! (edge + router, the bundled mnist-hybrid example) as a Rust crate gives
//! byte-identical decisions to the C build, and its query frames equal C's
//! and hybridc's cloud-side encoder byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{example, example_inputs, first_diff, golden_cases, MODELS};
use hybridc_core::codegen::Emit;
use hybridc_core::lower::{self as driver, CompileOptions, HybridOptions, QuantOptions};
use hybridc_core::npy;
use hybridc_verify::{self as verify, RunOptions};

fn model_path(model: &str) -> PathBuf {
    common::fixtures().join(format!("{model}_int8.onnx"))
}

fn compile_rust(model: &str, target: &str, out: &Path, outputs: &[String]) {
    let o = CompileOptions { outputs: outputs.to_vec(), ..CompileOptions::new(model_path(model), &target, out.to_path_buf()) };
    hybridc_verify::compile::compile_emit(&o, Emit::Rust).expect("compile --emit rust");
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
    let m = hybridc_core::codegen::Manifest::read(&proj).unwrap();
    let mut shape = vec![cases.len()];
    shape.extend_from_slice(&m.inputs[0].shape[1..]);
    let arr = npy::Array { shape, descr: "|i1".into(), data: cases.iter().flat_map(|c| c.input.iter().map(|&v| v as u8)).collect() };
    let opts = RunOptions { project: proj, trace: true, profile: false, timeout: Duration::from_secs(600), gateway: None };
    let r = verify::run_project(&opts, &arr, Path::new("golden inputs")).expect("run");
    for (k, case) in cases.iter().enumerate() {
        let bytes: &[u8] = bytemuck::cast_slice(&case.input);
        let values = hybridc_core::reference::run(&c.graph, &[bytes]).expect("reference");
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

crate::model_tests!([
    host_rust_equals_reference_and_tflite_micro: rust_golden("host"),
    cortex_m4_rust_under_qemu_equals_reference_and_tflite_micro: rust_golden("cortex-m4")
] ad_fcae, ic_resnet8, kws_dscnn, vww_mbnv1);

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

// Hybrids: the bundled example (edge.onnx + router.onnx, float32 router ops).

const THRESHOLD: f32 = 0.3;

fn compile_hybrid(out: &Path, target: &str, emit: Emit) {
    let h = HybridOptions { router: Some(example().join("router.onnx")), threshold: Some(THRESHOLD), ..Default::default() };
    compile_hybrid_with(out, target, emit, h);
}

fn compile_hybrid_with(out: &Path, target: &str, emit: Emit, h: HybridOptions) {
    let o = CompileOptions { quant: QuantOptions { calib: Some(example().join("calib.npy")), ..Default::default() }, hybrid: Some(h), ..CompileOptions::new(example().join("edge.onnx"), &target, out.to_path_buf()) };
    hybridc_verify::compile::compile_emit(&o, emit).expect("compile hybrid");
}

fn decisions(project: &Path, x: &npy::Array) -> Vec<(i32, i32, u32)> {
    let opts = RunOptions { project: project.to_path_buf(), trace: false, profile: false, timeout: Duration::from_secs(600), gateway: None };
    let r = verify::run_project(&opts, x, Path::new("test images")).expect("run");
    r.decisions.iter().map(|d| (d.label, d.source, d.router_score.to_bits())).collect()
}

/// Rust hybrid on `target` (no link) == C hybrid on the host, decision for decision.
fn hybrid_equals_c(target: &str) {
    let dir = tempfile::tempdir().unwrap();
    let x = example_inputs(100);
    let c = dir.path().join("c");
    compile_hybrid(&c, "host", Emit::C);
    let want = decisions(&c, &x);
    let rs = dir.path().join("rust");
    compile_hybrid(&rs, target, Emit::Rust);
    let got = decisions(&rs, &x);
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "input {k}: Rust hybrid on {target} (label, source, score bits) differs from C");
    }
    assert_eq!(got.len(), 100);
    let routed = got.iter().filter(|d| d.1 == 2).count();
    assert!(routed > 0 && routed < 100, "the test should route some inputs, not all: {routed}");
    assert!(got.iter().all(|d| d.1 != 1), "no link: nothing comes from the cloud");
}

#[test]
fn host_rust_hybrid_equals_c_hybrid() {
    hybrid_equals_c("host");
}

#[test]
fn cortex_m4_rust_hybrid_under_qemu_equals_c_hybrid() {
    hybrid_equals_c("cortex-m4");
}

/// The entropy and max-softmax baselines (float softmax, log, reductions)
/// in Rust decide as in C.
#[test]
fn host_rust_baselines_equal_c() {
    let x = example_inputs(100);
    for (route, threshold) in [("entropy", 0.05), ("max-softmax", 0.02)] {
        let dir = tempfile::tempdir().unwrap();
        let h = HybridOptions { route: Some(route.parse().unwrap()), threshold: Some(threshold), ..Default::default() };
        let (c, rs) = (dir.path().join("c"), dir.path().join("rust"));
        compile_hybrid_with(&c, "host", Emit::C, h.clone());
        compile_hybrid_with(&rs, "host", Emit::Rust, h);
        assert_eq!(decisions(&rs, &x), decisions(&c, &x), "{route}: Rust decisions differ from C");
    }
}

/// int8 Add (broadcast), Mul and Concat with constant tensors as operands:
/// the Rust crate's outputs equal the C build's byte for byte.
#[test]
fn host_rust_constant_operands_equal_c() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/consts");
    let dir = tempfile::tempdir().unwrap();
    let x = npy::read(&fx.join("consts_x.npy")).unwrap();
    let mut outs = vec![];
    for emit in [Emit::C, Emit::Rust] {
        let out = dir.path().join(format!("{emit:?}"));
        let o = CompileOptions { quant: QuantOptions { calib: Some(fx.join("consts_cal.npy")), ..Default::default() }, ..CompileOptions::new(fx.join("consts.onnx"), "host", out.clone()) };
        hybridc_verify::compile::compile_emit(&o, emit).expect("compile");
        let opts = RunOptions { project: out, trace: false, profile: false, timeout: Duration::from_secs(600), gateway: None };
        outs.push(verify::run_project(&opts, &x, Path::new("consts_x.npy")).expect("run").outputs);
    }
    assert_eq!(outs[0], outs[1], "Rust outputs differ from C");
}

/// A program over the generated hybrid crate: prints a query frame built
/// from fixed data, then runs 20 images through a link that records every
/// frame and answers 7, printing each decision and frame in hex.
const FRAME_MAIN: &str = r#"
use model::hybrid::{query_frame, Hybrid, Offload, OffloadError, MODEL_ID};
struct Recorder(Vec<Vec<u8>>);
impl Offload for Recorder {
    fn offload(&mut self, frame: &[u8]) -> Result<i32, OffloadError> {
        self.0.push(frame.to_vec());
        Ok(7)
    }
}
fn hex(b: &[u8]) -> String { b.iter().map(|x| format!("{x:02x}")).collect() }
fn main() {
    let data: Vec<i8> = (0..37).map(|i| (i * 53 % 256) as u8 as i8).collect();
    let mut buf = [0u8; 256];
    let n = query_frame(&mut buf, MODEL_ID, 0xDEADBEEF, (0.0123, -17), &[1, 37], &data);
    println!("{}", hex(&buf[..n]));
    let input = std::fs::read("input.bin").unwrap();
    let mut arena = Box::new(model::Arena::new());
    let mut h = Hybrid::new(&mut arena, Recorder(vec![]));
    for item in input.chunks_exact(model::INPUT_BYTES[0]) {
        let bytes: Vec<i8> = item.iter().map(|&b| b as i8).collect();
        let d = h.infer_bytes(&bytes, &mut ());
        println!("{} {} {}", d.label, d.source as i32, d.score.to_bits());
    }
    for f in &h.link().0 {
        println!("{}", hex(f));
    }
}
"#;

const FRAME_C: &str = r#"
#include <stdio.h>
#include "hyb_frame.h"
int main(void) {
    int8_t data[37]; uint8_t buf[256]; uint32_t dims[2] = {1, 37};
    for (int i = 0; i < 37; i++) data[i] = (int8_t)(uint8_t)(i * 53 % 256);
    uint32_t n = hyb_frame_query(buf, sizeof buf, MODEL_ID, 0xDEADBEEFu, 0.0123f, -17, 2, dims, data, 37);
    for (uint32_t i = 0; i < n; i++) printf("%02x", buf[i]);
    printf("\n");
    return 0;
}
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Query frames from the Rust crate equal C's hyb_frame_query and hybridc's
/// cloud-side encoder byte for byte; an Offload implementation gets every
/// routed input's frame (sequence numbers 1, 2, ..., the int8 query) and its
/// label is the decision's, from the cloud.
#[test]
fn rust_hybrid_query_frames_equal_c_and_the_gateways_encoder() {
    use hybridc_cloud::frame::{Frame, Query};
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("rust");
    compile_hybrid(&proj, "host", Emit::Rust);
    let m = hybridc_core::codegen::Manifest::read(&proj).unwrap();
    let info = m.hybrid.clone().unwrap();

    // The program over the crate.
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    let crate_name = hybridc_core::codegen::rust::crate_name(&m.model);
    std::fs::write(
        app.join("Cargo.toml"),
        format!("[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nmodel = {{ path = \"{}\", package = \"{crate_name}\" }}\n\n[workspace]\n", proj.display()),
    )
    .unwrap();
    std::fs::write(app.join("src/main.rs"), FRAME_MAIN).unwrap();
    cargo_ok(&app, &["build", "--quiet", "--release"]);
    let x = example_inputs(20);
    std::fs::write(app.join("input.bin"), &x.data).unwrap();
    let out = std::process::Command::new(app.join("target/release/app")).current_dir(&app).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let rust_frame = unhex(lines[0]);

    // The same frame from C.
    let hyb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runtime-c/hybrid");
    std::fs::write(dir.path().join("frame.c"), FRAME_C).unwrap();
    let exe = dir.path().join("frame_c");
    let cc = std::process::Command::new("cc")
        .args(hybridc_core::target::RUNTIME_CFLAGS)
        .args(["-O2", &format!("-DMODEL_ID={}u", info.model_id), "-I"])
        .arg(&hyb)
        .arg(dir.path().join("frame.c"))
        .arg(hyb.join("hyb_frame.c"))
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(cc.success());
    let c_out = std::process::Command::new(&exe).output().unwrap();
    assert_eq!(rust_frame, unhex(String::from_utf8(c_out.stdout).unwrap().trim()), "Rust and C query frames differ");

    // And from the gateway's encoder.
    let data: Vec<i8> = (0..37).map(|i| (i * 53 % 256) as u8 as i8).collect();
    let q = Query { model_id: info.model_id, seq: 0xDEADBEEF, scale: 0.0123, zero_point: -17, dims: vec![1, 37], data };
    assert_eq!(rust_frame, Frame::Query(q).encode(), "Rust query frame differs from hybridc's encoder");

    // The hybrid through a link: every routed input's frame, decoded, is the query.
    let q = QuantOptions { calib: Some(example().join("calib.npy")), ..Default::default() };
    let h = HybridOptions { router: Some(example().join("router.onnx")), threshold: Some(THRESHOLD), ..Default::default() };
    let c = driver::lower_any(&example().join("edge.onnx"), &[], &q, Some(&h)).unwrap();
    let g = &c.graph;
    let qt = g.outputs.iter().copied().find(|&t| g.tensors[t].name == info.query_tensor).unwrap();
    let per = x.data.len() / x.shape[0];
    let (decisions, frames) = lines[1..].split_at(20);
    let mut seq = 0;
    for (i, d) in decisions.iter().enumerate() {
        let f: Vec<&str> = d.split(' ').collect();
        let score = f32::from_bits(f[2].parse().unwrap());
        if score > THRESHOLD {
            assert_eq!((f[0], f[1]), ("7", "1"), "input {i}: a routed input takes the cloud's label");
            let v = hybridc_core::reference::run(g, &[&x.data[i * per..(i + 1) * per]]).unwrap();
            let want: Vec<i8> = v[qt].as_ref().unwrap().iter().map(|&b| b as i8).collect();
            let (frame, n) = Frame::decode(&unhex(frames[seq])).expect("a well-formed frame");
            seq += 1;
            let Frame::Query(got) = frame else { panic!("not a query frame") };
            assert_eq!(n, unhex(frames[seq - 1]).len());
            assert_eq!((got.model_id, got.seq), (info.model_id, seq as u32));
            assert_eq!(got.data, want, "input {i}: the frame carries the int8 query tensor");
        } else {
            assert_eq!(f[1], "0", "input {i}: not routed");
        }
    }
    assert!(seq > 0 && seq == frames.len(), "{seq} routed inputs, {} frames", frames.len());
}

/// The hybrid crate is clean for clippy, rustfmt and rustdoc.
#[test]
fn generated_hybrid_crate_passes_clippy_fmt_and_doc() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("hybrid");
    compile_hybrid(&proj, "cortex-m4", Emit::Rust);
    cargo_ok(&proj, &["fmt", "--check"]);
    cargo_ok(&proj, &["clippy", "--quiet", "--", "-D", "warnings"]);
    cargo_ok(&proj, &["doc", "--quiet", "--no-deps"]);
    cargo_ok(&proj, &["clippy", "--quiet", "--target", "thumbv7em-none-eabihf", "--", "-D", "warnings"]);
    cargo_ok(&proj.join("harness"), &["clippy", "--quiet", "--release", "--", "-D", "warnings"]);
}
