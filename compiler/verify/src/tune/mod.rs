//! `hybridc tune`: choose the router's threshold for a device and a link.
//! Edge and router outputs come from the int8 reference (the device's
//! bits), the cloud's from tract on what the device would send it (the
//! dequantized int8 input); the edge's latency from the firmware profile.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub mod latency;
pub mod plot;
mod report;
pub mod sweep;

pub use report::{figure, table, tuned_threshold, Baselines, Curves, Figures, Oracle, TuneReport};

use latency::{Link, Model};
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
    /// Router inputs bound to edge tensors, and the edge's class-score
    /// output when it has several (as `compile --bind/--scores`).
    pub binds: Vec<(String, String)>,
    pub scores: Option<String>,
}

impl TuneOptions {
    /// The hybrid as `compile` builds it, with this threshold.
    fn hybrid(&self, threshold: f32) -> HybridOptions {
        HybridOptions { router: Some(self.router.clone()), threshold: Some(threshold), binds: self.binds.clone(), scores: self.scores.clone(), ..Default::default() }
    }
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

pub fn tune(o: &TuneOptions) -> Result<TuneReport> {
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
    let hybrid = o.hybrid(0.5);
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
    let model = Model { link: o.link.clone(), edge_ms, cloud_ms: o.cloud_ms, payload_bytes: hybridc_kernels::frame::query_len(rank, query_bytes) };

    let learned: Vec<f64> = runs.iter().map(|r| r.router_score).collect();
    let max_softmax: Vec<f64> = runs.iter().map(|r| 1.0 - softmax(&r.edge_scores).iter().copied().fold(0.0, f64::max)).collect();
    let entropy: Vec<f64> = runs.iter().map(|r| -softmax(&r.edge_scores).iter().filter(|&&p| p > 0.0).map(|p| p * p.ln()).sum::<f64>()).collect();
    let router_curve = sweep::curve(&learned, &outcomes, &model);
    let ms_curve = sweep::curve(&max_softmax, &outcomes, &model);
    let ent_curve = sweep::curve(&entropy, &outcomes, &model);

    let nf = n as f64;
    let cloud_acc = outcomes.iter().filter(|o| o.cloud_correct).count() as f64 / nf;
    let cloud_only = Figures { accuracy: cloud_acc, latency_ms: model.cloud_only_ms() };
    let edge_only = Figures { accuracy: router_curve[0].accuracy, latency_ms: router_curve[0].latency_ms };
    let oracle_q = outcomes.iter().filter(|o| !o.edge_correct && o.cloud_correct).count() as f64 / nf;
    let oracle_acc = outcomes.iter().filter(|o| o.edge_correct || o.cloud_correct).count() as f64 / nf;
    let oracle = Oracle { query_rate: oracle_q, accuracy: oracle_acc, latency_ms: model.hybrid_ms(oracle_q) };
    let chosen = match o.at_threshold {
        Some(t) => sweep::evaluate(&learned, &outcomes, &model, t),
        None => sweep::choose(&router_curve, o.goal, cloud_acc)?,
    };
    let same_q = |c: &[Point]| sweep::at_query_rate(c, chosen.query_rate);

    Ok(TuneReport {
        goal: match o.at_threshold {
            Some(t) => format!("at threshold {t}"),
            None => format!("{:?}", o.goal),
        },
        chosen,
        cloud_only,
        edge_only,
        oracle,
        baselines_at_same_query_rate: Baselines { max_softmax: same_q(&ms_curve), entropy: same_q(&ent_curve) },
        latency_model: model,
        inputs: n,
        curves: Curves { router: router_curve, max_softmax: ms_curve, entropy: ent_curve },
    })
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
    crate::compile::compile(&CompileOptions { quant: QuantOptions { calib: Some(calib.to_path_buf()), ..Default::default() }, hybrid: Some(o.hybrid(f32::MAX)), ..CompileOptions::new(o.edge.clone(), &o.target, out.clone()) })?;
    let mut shape = data.shape.clone();
    shape[0] = 1;
    let one = npy::Array { shape, descr: data.descr.clone(), data: data.data[..per].to_vec() };
    let opts = RunOptions { project: out, trace: false, profile: true, timeout: Duration::from_secs(600), gateway: None };
    let r = run_project(&opts, &one, Path::new("tune input"))?;
    Ok(r.profile.context("no profile")?.latency_ms)
}
