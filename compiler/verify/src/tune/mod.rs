//! `hybridc tune`: choose the router's threshold for a device and a link.
//! Edge and router outputs come from the int8 reference (the device's
//! bits), the cloud's from tract on what the device would send it (the
//! dequantized int8 input); the edge's latency from the firmware profile.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::json;

pub mod latency;
pub mod plot;
pub mod sweep;

use latency::{Link, Model};
use plot::{Marker, Series};
use sweep::{Goal, Outcome, Point};
use hybridc_core::lower::{CompileOptions, HybridOptions, QuantOptions};
use hybridc_core::frontend::float_oracle::FloatRunner;
use hybridc_core::ir::DType;
use hybridc_core::reference::f32s;
use crate::{run_project, RunOptions};
use hybridc_core::npy;

pub struct TuneOptions {
    pub edge: PathBuf,
    pub router: PathBuf,
    pub cloud: PathBuf,
    pub data: PathBuf,
    pub labels: PathBuf,
    pub target: String,
    pub link: Link,
    pub goal: Goal,
    /// Calibration data (default: the first 200 inputs of `data`).
    pub calib: Option<PathBuf>,
    /// Skip the firmware profile and use this edge latency (ms).
    pub edge_ms: Option<f64>,
    /// The cloud model's inference time per input (ms).
    pub cloud_ms: f64,
    /// Report this threshold's operating point instead of choosing one
    /// (e.g. a threshold tuned on validation data, evaluated on test data).
    pub at_threshold: Option<f64>,
}

/// Per input: the router's score and the edge's class scores (real units).
struct DeviceRun {
    router_score: f64,
    edge_scores: Vec<f64>,
}

fn labels_of(path: &Path) -> Result<Vec<i64>> {
    let a = npy::read(path)?;
    if a.descr != "<i8" || a.shape.len() != 1 {
        bail!("{} must hold int64 labels of shape [N] (got {} {:?})", path.display(), a.descr, a.shape);
    }
    Ok(a.data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

pub fn tune(o: &TuneOptions) -> Result<serde_json::Value> {
    let data = npy::read(&o.data)?;
    if data.descr != "<f4" || data.shape.is_empty() {
        bail!("{} must hold float32 inputs [N, ...] (got {} {:?})", o.data.display(), data.descr, data.shape);
    }
    let labels = labels_of(&o.labels)?;
    let n = data.shape[0];
    if labels.len() != n || n == 0 {
        bail!("{} holds {} inputs but {} holds {} labels; they must match", o.data.display(), n, o.labels.display(), labels.len());
    }
    let per = data.data.len() / n;
    let calib = match &o.calib {
        Some(c) => c.clone(),
        None => {
            let k = n.min(200);
            let p = std::env::temp_dir().join(format!("hybridc-tune-calib-{}.npy", std::process::id()));
            let mut shape = data.shape.clone();
            shape[0] = k;
            npy::write(&p, &shape, "<f4", &data.data[..k * per])?;
            p
        }
    };
    let hybrid = HybridOptions { router: Some(o.router.clone()), threshold: Some(0.5), ..Default::default() };
    let quant = QuantOptions { calib: Some(calib.clone()), ..Default::default() };
    let c = hybridc_core::lower::lower_any(&o.edge, &[], &quant, Some(&hybrid))?;
    let info = c.hybrid.clone().context("not a hybrid")?;
    let g = &c.graph;
    let find = |name: &str| g.outputs.iter().copied().find(|&t| g.tensors[t].name == name).with_context(|| format!("no output {name}"));
    let (edge_t, router_t, query_t) = (find(&info.edge_output)?, find(&info.router_output)?, find(&info.query_tensor)?);
    let real = |t: usize, bytes: &[u8]| -> Vec<f64> {
        let tensor = &g.tensors[t];
        match tensor.dtype {
            DType::F32 => f32s(bytes).iter().map(|&v| v as f64).collect(),
            _ => {
                let q = tensor.quant.expect("int8 tensors are quantized");
                bytes.iter().map(|&b| (b as i8 as i32 - q.zero_point) as f64 * q.scale as f64).collect()
            }
        }
    };

    let cloud_model = hybridc_core::frontend::read_model(&o.cloud)?;
    let cloud_out = cloud_model.graph.as_ref().and_then(|g| g.output.first()).map(|o| o.name.clone()).context("the cloud model has no output")?;
    let cloud = FloatRunner::new(&cloud_model, &[cloud_out])?;

    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(indicatif::ProgressStyle::with_template("tune: {bar:40} {pos}/{len} inputs ({eta})").expect("template"));
    let mut outcomes = Vec::with_capacity(n);
    let mut runs = Vec::with_capacity(n);
    for (i, label) in labels.iter().enumerate() {
        let values = hybridc_core::reference::run(g, &[&data.data[i * per..(i + 1) * per]])?;
        let edge_raw = values[edge_t].as_ref().context("edge output")?;
        let edge_scores = real(edge_t, edge_raw);
        // The device's argmax compares stored values: the first maximum wins.
        let edge_label = argmax(&edge_scores);
        let router_score = real(router_t, values[router_t].as_ref().context("router output")?)[0];
        let query: Vec<f32> = real(query_t, values[query_t].as_ref().context("query")?).iter().map(|&v| v as f32).collect();
        let cloud_scores: Vec<f64> = cloud.run(&query)?[0].iter().map(|&v| v as f64).collect();
        let cloud_label = argmax(&cloud_scores);
        outcomes.push(Outcome { edge_correct: edge_label as i64 == *label, cloud_correct: cloud_label as i64 == *label });
        runs.push(DeviceRun { router_score, edge_scores });
        bar.inc(1);
    }
    bar.finish_and_clear();

    let edge_ms = match o.edge_ms {
        Some(ms) => ms,
        None => profile_edge_ms(o, &calib, &data, per)?,
    };
    let query_bytes = g.tensors[query_t].bytes();
    let rank = g.tensors[query_t].onnx_shape.len();
    let model = Model { link: o.link, edge_ms, cloud_ms: o.cloud_ms, payload_bytes: 8 + 20 + 4 * rank + query_bytes + 4 };

    let learned: Vec<f64> = runs.iter().map(|r| r.router_score).collect();
    let max_softmax: Vec<f64> = runs.iter().map(|r| 1.0 - softmax(&r.edge_scores).iter().copied().fold(0.0, f64::max)).collect();
    let entropy: Vec<f64> = runs.iter().map(|r| -softmax(&r.edge_scores).iter().filter(|&&p| p > 0.0).map(|p| p * p.ln()).sum::<f64>()).collect();
    let router_curve = sweep::curve(&learned, &outcomes, &model);
    let ms_curve = sweep::curve(&max_softmax, &outcomes, &model);
    let ent_curve = sweep::curve(&entropy, &outcomes, &model);

    let nf = n as f64;
    let cloud_acc = outcomes.iter().filter(|o| o.cloud_correct).count() as f64 / nf;
    let cloud_only = Point { threshold: f64::NEG_INFINITY, query_rate: 1.0, accuracy: cloud_acc, latency_ms: model.cloud_only_ms() };
    let edge_only = router_curve[0];
    let oracle_q = outcomes.iter().filter(|o| !o.edge_correct && o.cloud_correct).count() as f64 / nf;
    let oracle_acc = outcomes.iter().filter(|o| o.edge_correct || o.cloud_correct).count() as f64 / nf;
    let oracle = Point { threshold: f64::NAN, query_rate: oracle_q, accuracy: oracle_acc, latency_ms: model.hybrid_ms(oracle_q) };
    let chosen = match o.at_threshold {
        Some(t) => sweep::evaluate(&learned, &outcomes, &model, t),
        None => sweep::choose(&router_curve, o.goal, cloud_acc)?,
    };
    let same_q = |c: &[Point]| sweep::at_query_rate(c, chosen.query_rate).map(|p| json!(p));

    Ok(json!({
        "goal": match o.at_threshold { Some(t) => format!("at threshold {t}"), None => format!("{:?}", o.goal) },
        "threshold": chosen.threshold,
        "query_rate": chosen.query_rate,
        "accuracy": chosen.accuracy,
        "latency_ms": chosen.latency_ms,
        "cloud_only": { "accuracy": cloud_only.accuracy, "latency_ms": cloud_only.latency_ms },
        "edge_only": { "accuracy": edge_only.accuracy, "latency_ms": edge_only.latency_ms },
        "oracle": { "query_rate": oracle.query_rate, "accuracy": oracle.accuracy, "latency_ms": oracle.latency_ms },
        "baselines_at_same_query_rate": { "max_softmax": same_q(&ms_curve), "entropy": same_q(&ent_curve) },
        "latency_model": model,
        "inputs": n,
        "curves": { "router": router_curve, "max_softmax": ms_curve, "entropy": ent_curve },
    }))
}

/// The edge + router's latency: estimated cycles of the compiled firmware
/// (one inference under QEMU with the profiler) at the target's clock.
fn profile_edge_ms(o: &TuneOptions, calib: &Path, data: &npy::Array, per: usize) -> Result<f64> {
    let t = hybridc_core::target::load(&o.target)?;
    if t.qemu.is_none() {
        bail!("target '{}' has no QEMU machine to profile the edge on; give --edge-ms", t.name);
    }
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("hybrid");
    crate::compile::compile(&CompileOptions { quant: QuantOptions { calib: Some(calib.to_path_buf()), ..Default::default() }, hybrid: Some(HybridOptions { router: Some(o.router.clone()), threshold: Some(f32::MAX), ..Default::default() }), ..CompileOptions::new(o.edge.clone(), &o.target, out.clone()) })?;
    let mut shape = data.shape.clone();
    shape[0] = 1;
    let one = npy::Array { shape, descr: data.descr.clone(), data: data.data[..per].to_vec() };
    let opts = RunOptions { project: out, trace: false, profile: true, timeout: Duration::from_secs(600), gateway: None };
    let r = run_project(&opts, &one, Path::new("tune input"))?;
    let p = r.profile.context("no profile")?;
    p["latency_ms"].as_f64().context("profile without latency")
}

/// The table `tune` prints.
pub fn table(r: &serde_json::Value) -> String {
    let row = |name: &str, v: &serde_json::Value| {
        format!(
            "| {name} | {} | {:.2} % | {:.1} |\n",
            v.get("query_rate").and_then(|q| q.as_f64()).map(|q| format!("{:.1} %", q * 100.0)).unwrap_or_else(|| "—".into()),
            v["accuracy"].as_f64().unwrap_or(f64::NAN) * 100.0,
            v["latency_ms"].as_f64().unwrap_or(f64::NAN)
        )
    };
    let mut s = String::from("| operating point | query rate | accuracy | mean latency ms |\n|---|---:|---:|---:|\n");
    s += &row("edge only", &json!({"query_rate": 0.0, "accuracy": r["edge_only"]["accuracy"], "latency_ms": r["edge_only"]["latency_ms"]}));
    s += &row("cloud only", &json!({"query_rate": 1.0, "accuracy": r["cloud_only"]["accuracy"], "latency_ms": r["cloud_only"]["latency_ms"]}));
    s += &row(&format!("learned router (threshold {:.4})", r["threshold"].as_f64().unwrap_or(f64::NAN)), r);
    for (k, name) in [("max_softmax", "max-softmax, same query rate"), ("entropy", "entropy, same query rate")] {
        if let Some(p) = r["baselines_at_same_query_rate"].get(k).filter(|p| !p.is_null()) {
            s += &row(name, p);
        }
    }
    s += &row("oracle", &r["oracle"]);
    s
}

/// The accuracy-latency figure.
pub fn figure(r: &serde_json::Value) -> Result<String> {
    let pts = |k: &str| -> Result<Vec<Point>> { Ok(serde_json::from_value(r["curves"][k].clone())?) };
    let (router, ms, ent) = (pts("router")?, pts("max_softmax")?, pts("entropy")?);
    let p = |v: &serde_json::Value, q: f64| Point {
        threshold: 0.0,
        query_rate: v.get("query_rate").and_then(|x| x.as_f64()).unwrap_or(q),
        accuracy: v["accuracy"].as_f64().unwrap_or(0.0),
        latency_ms: v["latency_ms"].as_f64().unwrap_or(0.0),
    };
    let link = r["latency_model"]["link"]["name"].as_str().unwrap_or("");
    Ok(plot::svg(
        &format!("accuracy vs latency ({link} link)"),
        &[
            Series { name: "learned router", color: "#d62728", points: &router },
            Series { name: "max-softmax", color: "#1f77b4", points: &ms },
            Series { name: "entropy", color: "#2ca02c", points: &ent },
        ],
        &[
            Marker { name: "edge only", color: "#7f7f7f", point: p(&r["edge_only"], 0.0) },
            Marker { name: "cloud only", color: "#000000", point: p(&r["cloud_only"], 1.0) },
            Marker { name: "oracle", color: "#9467bd", point: p(&r["oracle"], 0.0) },
            Marker { name: "chosen", color: "#ff7f0e", point: p(r, 0.0) },
        ],
    ))
}
