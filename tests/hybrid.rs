//! The hybrid on the device: edge + router compiled into one program; its
//! decisions (label, source, router score) are compared with a Rust-side
//! computation: the int8 reference for edge and router, and the edge label
//! for every input routed while the cloud cannot be reached.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{example, example_inputs, free_port, Proc};
use hybridc_core::codegen::Emit;
use hybridc_core::lower::{self as driver, CompileOptions, HybridOptions, QuantOptions};
use hybridc_core::npy;
use hybridc_verify::{self as verify, RunOptions};

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
        route: route.map(|r| r.parse().expect("a route")),
        threshold,
        ..Default::default()
    }
}

fn compile(dir: &Path, target: &str, h: &HybridOptions) -> PathBuf {
    let out = dir.join(format!("hybrid-{target}"));
    hybridc_verify::compile::compile(&CompileOptions { quant: QuantOptions { calib: Some(calib(dir)), ..Default::default() }, hybrid: Some(h.clone()), ..CompileOptions::new(fixtures().join("mnist/cnn_small.onnx"), &target, out.clone()) })
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
            let v = hybridc_core::reference::run(g, &[&x.data[i * per..(i + 1) * per]]).unwrap();
            let logits = hybridc_core::reference::f32s(v[e].as_ref().unwrap());
            let label = (0..logits.len()).fold(0, |b, k| if logits[k] > logits[b] { k } else { b }) as i32;
            (label, hybridc_core::reference::f32s(v[r].as_ref().unwrap())[0])
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

// The whole path: device (host or Cortex-M4 firmware under QEMU), gateway,
// cloud server, all on loopback, on the bundled example.

fn compile_example(dir: &Path, target: &str, threshold: f32, emit: Emit) -> PathBuf {
    let out = dir.join(format!("example-{target}"));
    let o = CompileOptions { quant: QuantOptions { calib: Some(example().join("calib.npy")), ..Default::default() }, hybrid: Some(HybridOptions { router: Some(example().join("router.onnx")), threshold: Some(threshold), ..Default::default() }), ..CompileOptions::new(example().join("edge.onnx"), &target, out.clone()) };
    hybridc_verify::compile::compile_emit(&o, emit).expect("compile");
    out
}

/// The Rust-side decisions: int8 reference for edge and router, tract for
/// the cloud on the dequantized int8 query the device sends.
fn expected(x: &npy::Array, threshold: f32, cloud_up: bool) -> Vec<(i32, i32)> {
    let q = QuantOptions { calib: Some(example().join("calib.npy")), ..Default::default() };
    let h = HybridOptions { router: Some(example().join("router.onnx")), threshold: Some(threshold), ..Default::default() };
    let c = driver::lower_any(&example().join("edge.onnx"), &[], &q, Some(&h)).unwrap();
    let info = c.hybrid.clone().unwrap();
    let g = &c.graph;
    let find = |n: &str| g.outputs.iter().copied().find(|&t| g.tensors[t].name == n).unwrap();
    let (e, r, qt) = (find(&info.edge_output), find(&info.router_output), find(&info.query_tensor));
    let cloud_model = hybridc_core::frontend::read_model(&example().join("cloud.onnx")).unwrap();
    let cloud = hybridc_core::frontend::float_oracle::FloatRunner::new(&cloud_model, &["logits".to_string()]).unwrap();
    let qp = g.tensors[qt].quant.unwrap();
    let argmax = |v: &[f32]| (0..v.len()).fold(0, |b, k| if v[k] > v[b] { k } else { b }) as i32;
    let per = x.data.len() / x.shape[0];
    (0..x.shape[0])
        .map(|i| {
            let v = hybridc_core::reference::run(g, &[&x.data[i * per..(i + 1) * per]]).unwrap();
            let edge = argmax(&hybridc_core::reference::f32s(v[e].as_ref().unwrap()));
            let score = hybridc_core::reference::f32s(v[r].as_ref().unwrap())[0];
            if score <= threshold {
                return (edge, 0);
            }
            if !cloud_up {
                return (edge, 2);
            }
            let query: Vec<f32> = v[qt].as_ref().unwrap().iter().map(|&b| (b as i8 as i32 - qp.zero_point) as f32 * qp.scale).collect();
            (argmax(&cloud.run(&query).unwrap()[0]), 1)
        })
        .collect()
}

fn with_cloud(target: &str, emit: Emit) {
    let dir = tempfile::tempdir().unwrap();
    let threshold = 0.3;
    let proj = compile_example(dir.path(), target, threshold, emit);
    let server = hybridc_cloud::serve::spawn(&example().join("cloud.onnx"), "cloud", "127.0.0.1:0").unwrap();
    let url = hybridc_cloud::serve::model_url(server.addr, "cloud");
    let gw = hybridc_cloud::gateway::spawn("127.0.0.1:0", &url, Duration::from_secs(5), None).unwrap();
    let x = example_inputs(80);
    let r = run(&proj, &x, Some(format!("127.0.0.1:{}", gw.port())));
    let want = expected(&x, threshold, true);
    let got: Vec<(i32, i32)> = r.decisions.iter().map(|d| (d.label, d.source)).collect();
    assert_eq!(got, want, "device decisions differ from the Rust-side computation");
    assert!(got.iter().any(|d| d.1 == 1), "no input went to the cloud");

    // The cloud stops: every routed input falls back to the edge, nothing hangs.
    server.stop();
    let start = std::time::Instant::now();
    let r = run(&proj, &x, Some(format!("127.0.0.1:{}", gw.port())));
    let got: Vec<(i32, i32)> = r.decisions.iter().map(|d| (d.label, d.source)).collect();
    assert_eq!(got, expected(&x, threshold, false), "decisions with the cloud down");
    assert!(start.elapsed() < Duration::from_secs(120));
}

// Each backend's firmware (C, and the Rust crate: its TCP link on the
// host, its UART link in the Cortex-M4 firmware) on each target.
macro_rules! with_cloud_tests {
    ($($name:ident: $target:expr, $emit:expr;)*) => {$(
        #[test]
        fn $name() {
            with_cloud($target, $emit);
        }
    )*};
}

with_cloud_tests! {
    cortex_m4_firmware_gateway_and_cloud: "cortex-m4", Emit::C;
    host_gateway_and_cloud: "host", Emit::C;
    rust_cortex_m4_firmware_gateway_and_cloud: "cortex-m4", Emit::Rust;
    rust_host_gateway_and_cloud: "host", Emit::Rust;
}

// The cloud as KServe's own Python ModelServer serves it: onnxruntime in a
// `kserve.Model` (tests/kserve_server.py) whose metadata lists no input, as
// custom predictors' metadata often does; `tests/setup.sh --tests` installs kserve.

/// tests/kserve_server.py serving the example's cloud model as "cloud" on a
/// free port, once ready; its log goes to `dir`. Returns the model's URL.
fn start_kserve(dir: &Path) -> (Proc, String) {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/kserve_server.py");
    let log_path = dir.join("kserve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new("python3")
        .arg(&script)
        .args([&port.to_string(), "cloud", example().join("cloud.onnx").to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("FAILING: python3 is needed for the KServe test (tests/setup.sh --tests installs what it needs)");
    let mut server = Proc(child);
    let t = Instant::now();
    while http_status(port, "/v2/models/cloud/ready") != Some(200) {
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(status) = server.0.try_wait().unwrap() {
            let log = log();
            assert!(
                !log.contains("No module named"),
                "FAILING: kserve or onnxruntime is not installed: python3 -m pip install kserve onnxruntime (tests/setup.sh --tests does it)\n{log}"
            );
            panic!("tests/kserve_server.py exited ({status}):\n{log}");
        }
        assert!(t.elapsed() < Duration::from_secs(120), "KServe's ModelServer never became ready:\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, format!("http://127.0.0.1:{port}/v2/models/cloud"))
}

/// The status of a plain HTTP GET on loopback, None if it cannot connect.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// `hybridc run PROJECT --cloud URL [--cloud-input-name NAME]` on `x`: the
/// (label, source) of each input from `--details`, and what it printed on stderr.
fn run_cli_with_cloud(dir: &Path, project: &Path, x: &npy::Array, url: &str, input_name: Option<&str>) -> (Vec<(i32, i32)>, String) {
    let (xs, labels, details) = (dir.join("x.npy"), dir.join("labels.npy"), dir.join("details.json"));
    npy::write(&xs, &x.shape, &x.descr, &x.data).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hybridc"));
    cmd.arg("run").arg(project).arg("--input").arg(&xs).arg("--output").arg(&labels).arg("--details").arg(&details).args(["--cloud", url]);
    if let Some(name) = input_name {
        cmd.args(["--cloud-input-name", name]);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("hybridc");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "hybridc run failed:\n{stderr}");
    let rows: serde_json::Value = serde_json::from_slice(&std::fs::read(&details).unwrap()).unwrap();
    let source = |s: &str| ["edge", "cloud", "edge-fallback"].iter().position(|&n| n == s).expect("a source") as i32;
    let got = rows.as_array().unwrap().iter().map(|r| (r["label"].as_i64().unwrap() as i32, source(r["source"].as_str().unwrap()))).collect();
    (got, stderr)
}

#[test]
fn cortex_m4_firmware_gateway_and_kserve_model_server() {
    let dir = tempfile::tempdir().unwrap();
    let threshold = 0.3;
    let proj = compile_example(dir.path(), "cortex-m4", threshold, Emit::C);
    let (_server, url) = start_kserve(dir.path());

    // The input name given: the cloud's labels (onnxruntime in KServe) are tract's.
    let x = example_inputs(80);
    let (got, stderr) = run_cli_with_cloud(dir.path(), &proj, &x, &url, Some("image"));
    assert_eq!(got, expected(&x, threshold, true), "device decisions differ from the Rust-side computation\n{stderr}");
    assert!(got.iter().any(|d| d.1 == 1), "no input went to the cloud\n{stderr}");

    // Not given: the metadata names no input, the gateway says to pass it,
    // and the routed inputs fall back to the edge.
    let x = example_inputs(20);
    let (got, stderr) = run_cli_with_cloud(dir.path(), &proj, &x, &url, None);
    assert!(stderr.contains("names no input") && stderr.contains("--input-name"), "{stderr}");
    assert_eq!(got, expected(&x, threshold, false), "decisions without the input name");
    assert!(got.iter().any(|d| d.1 == 2), "no input was routed among the first 20");
}

/// `tune` end to end on the bundled example: the chosen point lies on the
/// router's curve and meets the goal; the JSON has the documented keys.
#[test]
fn tune_on_the_bundled_example() {
    use hybridc_verify::tune::{self, latency::parse_link, sweep::Goal};
    let o = tune::TuneOptions {
        edge: example().join("edge.onnx"),
        router: example().join("router.onnx"),
        cloud: example().join("cloud.onnx"),
        data: example().join("val_x.npy"),
        labels: example().join("val_y.npy"),
        target: "cortex-m7".into(),
        link: parse_link("nbiot").unwrap(),
        goal: Goal::MatchCloud,
        calib: Some(example().join("calib.npy")),
        edge_ms: Some(2.5),
        cloud_ms: 10.0,
        at_threshold: None,
        binds: vec![],
        scores: None,
    };
    let report = tune::tune(&o).unwrap();
    let r = serde_json::to_value(&report).unwrap();
    assert_eq!(serde_json::from_value::<tune::TuneReport>(r.clone()).unwrap(), report, "the JSON reads back");
    for k in ["threshold", "query_rate", "accuracy", "latency_ms", "cloud_only", "curves"] {
        assert!(!r[k].is_null(), "missing {k}");
    }
    let cloud_acc = r["cloud_only"]["accuracy"].as_f64().unwrap();
    assert!(r["accuracy"].as_f64().unwrap() >= cloud_acc);
    assert!(r["latency_ms"].as_f64().unwrap() < r["cloud_only"]["latency_ms"].as_f64().unwrap());
    let curve = r["curves"]["router"].as_array().unwrap();
    assert!(curve.iter().any(|p| p["threshold"] == r["threshold"] && p["accuracy"] == r["accuracy"]));
    // The figure is a self-contained SVG.
    let svg = tune::figure(&report);
    assert!(svg.starts_with("<svg") && svg.contains("learned router") && svg.trim_end().ends_with("</svg>"));

    // `compile --tuned` with this JSON: the threshold compiled in, and the
    // operating point and curve in report.html.
    let dir = tempfile::tempdir().unwrap();
    let tuned = dir.path().join("tuned.json");
    std::fs::write(&tuned, serde_json::to_string(&r).unwrap()).unwrap();
    let out = dir.path().join("p");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_hybridc"))
        .arg("compile")
        .arg(example().join("edge.onnx"))
        .arg("--router")
        .arg(example().join("router.onnx"))
        .arg("--calib")
        .arg(example().join("calib.npy"))
        .arg("--tuned")
        .arg(&tuned)
        .args(["--target", "host", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains(&format!("data-key=\"tune.threshold\" data-value=\"{}\"", r["threshold"])), "report.html lacks the tuned threshold");
    assert!(page.contains("id=\"tune-curve\"><svg") && page.contains("learned router"));
}

// Router fidelity: routers as the paper builds them, on the edge's rank-2
// penultimate features (tests/fixtures/router/make_router.py), against
// onnxruntime's float router scores on 1,000 images.

/// The bundled example's validation then test images (1,000).
fn fidelity_inputs() -> npy::Array {
    let (a, b) = (npy::read(&example().join("val_x.npy")).unwrap(), npy::read(&example().join("test_x.npy")).unwrap());
    npy::Array { shape: [&[a.shape[0] + b.shape[0]], &a.shape[1..]].concat(), descr: a.descr, data: [a.data, b.data].concat() }
}

/// A two-output edge (logits, features) and `router`, bound by name.
fn compile_feature_router(dir: &Path, target: &str, router: &str, precision: &str) -> (PathBuf, std::process::Output) {
    let fx = fixtures().join("router");
    let out = dir.join(format!("{router}-{precision}-{target}"));
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_hybridc"))
        .arg("compile")
        .arg(fx.join("edge_feat.onnx"))
        .arg("--calib")
        .arg(example().join("calib.npy"))
        .arg("--router")
        .arg(fx.join(format!("{router}.onnx")))
        .args(["--bind", "logits=logits", "--bind", "feat=/Flatten_output_0", "--scores", "logits", "--router-precision", precision, "--target", target, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "compile {router}: {}", String::from_utf8_lossy(&r.stderr));
    (out, r)
}

/// The lowest share of inputs on which `got` decides as `want` over the
/// thresholds that give `want` 10, 20, 30, 40 and 50 % query rates.
fn agreement(want: &[f32], got: &[f32]) -> f64 {
    let mut sorted = want.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    [0.1, 0.2, 0.3, 0.4, 0.5]
        .iter()
        .map(|rate| {
            let t = sorted[((want.len() as f64) * (1.0 - rate)) as usize];
            want.iter().zip(got).filter(|(w, g)| (**w > t) == (**g > t)).count() as f64 / want.len() as f64
        })
        .fold(1.0, f64::min)
}

fn onnxruntime_scores(name: &str) -> Vec<f32> {
    hybridc_core::reference::f32s(&npy::read(&fixtures().join(format!("router/{name}.npy"))).unwrap().data)
}

/// `--router-precision auto` (the default): the device decides as the float
/// edge + float router on >= 99 % of the inputs at every 10-50 % query rate,
/// for the paper's router and for one whose int8 form loses most (a Concat
/// of features and logits * 0.01; int8 there agrees on 84-93 %); Cortex-M4
/// gives the host's scores bit for bit. The router runs in float32 here; what
/// disagreement is left comes from the int8 edge's features (docs/hybrid.md).
#[test]
fn routers_on_edge_features_decide_as_the_float_router() {
    let dir = tempfile::tempdir().unwrap();
    let x = fidelity_inputs();
    for (router, scores) in [("router_paper", "scores"), ("router_concat", "scores_concat")] {
        let (proj, _) = compile_feature_router(dir.path(), "host", router, "auto");
        let r = run(&proj, &x, None);
        let got: Vec<f32> = r.decisions.iter().map(|d| d.router_score).collect();
        let a = agreement(&onnxruntime_scores(scores), &got);
        println!("{router}: decision agreement with onnxruntime's float router >= {:.2} %", 100.0 * a);
        assert!(a >= 0.99, "{router}: the device decides as the float router on only {:.2} % of the inputs", 100.0 * a);
        if router == "router_concat" {
            let (m4, _) = compile_feature_router(dir.path(), "cortex-m4", router, "auto");
            let n = 200;
            let per = x.data.len() / x.shape[0];
            let few = npy::Array { shape: [&[n], &x.shape[1..]].concat(), descr: x.descr.clone(), data: x.data[..n * per].to_vec() };
            let on_m4: Vec<u32> = run(&m4, &few, None).decisions.iter().map(|d| d.router_score.to_bits()).collect();
            let host: Vec<u32> = got[..n].iter().map(|s| s.to_bits()).collect();
            assert_eq!(on_m4, host, "Cortex-M4 router scores differ from the host's");
        }
    }
}

/// `--router-precision int8` keeps that router in int8: the compile warns,
/// naming each router layer under 20 dB (report.json lists the warnings),
/// and the decisions do drift from the float router's.
#[test]
fn int8_router_that_loses_too_much_is_named_in_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let (proj, out) = compile_feature_router(dir.path(), "host", "router_concat", "int8");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hybridc: warning: router layer 'router/h1' (FullyConnected) stays int8 at"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(proj.join("report.json")).unwrap()).unwrap();
    assert!(report["warnings"].as_array().is_some_and(|w| !w.is_empty()), "report.json has no warnings");
    let r = run(&proj, &fidelity_inputs(), None);
    let got: Vec<f32> = r.decisions.iter().map(|d| d.router_score).collect();
    assert!(agreement(&onnxruntime_scores("scores_concat"), &got) < 0.99, "the int8 router should drift here");
}
