//! The hybrid on the device: edge + router compiled into one program; its
//! decisions (label, source, router score) are compared with a Rust-side
//! computation: the int8 reference for edge and router, and the edge label
//! for every input routed while the cloud cannot be reached.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hybridc::driver::{self, CompileOptions, HybridOptions, QuantOptions};
use hybridc::verify::{self, npy, RunOptions};

fn fixtures() -> PathBuf {
    common::fixtures().join("..")
}

/// MNIST test images as float32 model inputs (value / 255).
fn images(n: usize) -> npy::Array {
    let a = npy::read(&fixtures().join("mnist/test_x_u8.npy")).unwrap();
    let per: usize = a.shape[1..].iter().product();
    let data = a.data[..n * per].iter().flat_map(|&b| (b as f32 / 255.0).to_le_bytes()).collect();
    let mut shape = a.shape.clone();
    shape[0] = n;
    npy::Array { shape, descr: "<f4".into(), data }
}

fn calib(dir: &Path) -> PathBuf {
    let a = npy::read(&fixtures().join("mnist/calib_u8.npy")).unwrap();
    let data: Vec<u8> = a.data.iter().flat_map(|&b| (b as f32 / 255.0).to_le_bytes()).collect();
    let p = dir.join("calib.npy");
    npy::write(&p, &a.shape, "<f4", &data).unwrap();
    p
}

pub fn hybrid_options(router: Option<&str>, route: Option<&str>, threshold: Option<f32>) -> HybridOptions {
    HybridOptions {
        router: router.map(|r| fixtures().join(r)),
        route: route.map(String::from),
        binds: vec![],
        threshold,
    }
}

fn compile(dir: &Path, target: &str, h: &HybridOptions) -> PathBuf {
    let out = dir.join(format!("hybrid-{target}"));
    driver::compile(&CompileOptions {
        model: fixtures().join("mnist/cnn_small.onnx"),
        target: target.into(),
        out: out.clone(),
        outputs: vec![],
        sram: None,
        flash: None,
        quant: QuantOptions { calib: Some(calib(dir)), ..Default::default() },
        hybrid: Some(h.clone()),
        kernels: Default::default(),
    })
    .expect("compile");
    out
}

/// (edge label, router score) per input from the int8 reference.
fn reference_decisions(dir: &Path, h: &HybridOptions, x: &npy::Array) -> Vec<(i32, f32)> {
    let q = QuantOptions { calib: Some(calib(dir)), ..Default::default() };
    let c = driver::lower_any(&fixtures().join("mnist/cnn_small.onnx"), &[], &q, Some(h)).unwrap();
    let info = c.hybrid.clone().unwrap();
    let g = &c.graph;
    let find = |n: &str| g.outputs.iter().copied().find(|&t| g.tensors[t].name == n).unwrap();
    let (e, r) = (find(&info.edge_output), find(&info.router_output));
    let per = x.data.len() / x.shape[0];
    (0..x.shape[0])
        .map(|i| {
            let v = hybridc::reference::run(g, &c.params, &[&x.data[i * per..(i + 1) * per]]).unwrap();
            let logits = hybridc::reference::f32s(v[e].as_ref().unwrap());
            let label = (0..logits.len()).fold(0, |b, k| if logits[k] > logits[b] { k } else { b }) as i32;
            (label, hybridc::reference::f32s(v[r].as_ref().unwrap())[0])
        })
        .collect()
}

fn run(project: &Path, x: &npy::Array, gateway: Option<String>) -> verify::RunResult {
    let opts = RunOptions { project: project.to_path_buf(), trace: false, profile: false, timeout: Duration::from_secs(300), gateway };
    verify::run_project(&opts, x, Path::new("test images")).expect("run")
}

/// Without a link, every routed input falls back to the edge's label.
fn no_link(target: &str, h: HybridOptions) {
    let dir = tempfile::tempdir().unwrap();
    let x = images(120);
    let proj = compile(dir.path(), target, &h);
    let r = run(&proj, &x, None);
    let want = reference_decisions(dir.path(), &h, &x);
    let threshold = r.manifest.hybrid.as_ref().unwrap().threshold;
    let mut routed = 0;
    for (k, (d, (label, score))) in r.decisions.iter().zip(&want).enumerate() {
        assert_eq!(d.router_score.to_bits(), score.to_bits(), "input {k}: router score {} vs reference {score}", d.router_score);
        assert_eq!(d.label, *label, "input {k}: label");
        let expect_source = if *score > threshold { 2 } else { 0 };
        assert_eq!(d.source, expect_source, "input {k}: source");
        routed += (*score > threshold) as usize;
    }
    assert!(routed > 0 && routed < x.shape[0], "the test should route some inputs, not all: {routed}");
}

#[test]
fn learned_router_without_link_falls_back_on_host() {
    no_link("host", hybrid_options(Some("router/router.onnx"), None, Some(0.53)));
}

#[test]
fn learned_router_without_link_falls_back_on_cortex_m4() {
    no_link("cortex-m4", hybrid_options(Some("router/router.onnx"), None, Some(0.53)));
}

#[test]
fn entropy_baseline_without_link() {
    no_link("host", hybrid_options(None, Some("entropy"), Some(0.05)));
}

#[test]
fn max_softmax_baseline_without_link() {
    no_link("host", hybrid_options(None, Some("max-softmax"), Some(0.02)));
}
