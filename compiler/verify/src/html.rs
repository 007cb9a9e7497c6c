//! report.html: one self-contained page (inline CSS and SVG, a few lines of
//! script, nothing fetched) of what report.json, and when they have run,
//! profile.json (`run --profile`) and tune.json (`compile --tuned`, `report
//! --tune`) hold about a compiled project. `hybridc report OUT` re-renders it.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use askama::Template;

use crate::profile::Profile;
use crate::report::{write_file, Report};
use crate::tune::{self, TuneReport};

pub const FILE: &str = "report.html";
pub const PROFILE_FILE: &str = "profile.json";
pub const TUNE_FILE: &str = "tune.json";

/// A figure of the summary: `value` is the number as report.json has it.
pub struct Figure {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    pub text: String,
}

pub struct LayerRow {
    pub index: usize,
    pub name: String,
    pub op: String,
    pub precision: &'static str,
    pub shape: String,
    pub macs: u64,
    pub macs_text: String,
    pub cycles: String,
    pub mac_per_cycle: String,
    pub sqnr: String,
    pub kernel: String,
    /// Why the compiler chose the layer's kernel variant (DSP builds).
    pub why: String,
    pub in_place: String,
}

#[derive(Template)]
#[template(path = "report/report.html", escape = "html")]
struct Page<'a> {
    model: &'a str,
    target: &'a str,
    kernels: &'a str,
    summary: Vec<Figure>,
    layers: Vec<LayerRow>,
    profiled: bool,
    cycles_svg: String,
    plan_svg: String,
    blocks: usize,
    tune_svg: String,
    tune: Vec<Figure>,
    warnings: &'a [String],
}

/// Thousands separated by commas, as the README's tables.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn figure(key: &'static str, label: &'static str, value: impl ToString, text: String) -> Figure {
    Figure { key, label, value: value.to_string(), text }
}

fn bytes(key: &'static str, label: &'static str, n: u64) -> Figure {
    figure(key, label, n, format!("{} B", grouped(n)))
}

fn summary(r: &Report, p: Option<&Profile>) -> Vec<Figure> {
    let mut f = vec![
        bytes("arena_bytes", "Arena (activations and scratch)", r.arena_bytes as u64),
        bytes("arena_lower_bound_bytes", "Arena lower bound", r.arena_lower_bound_bytes as u64),
        bytes("weights_bytes", "Weights", r.weights_bytes as u64),
        figure("macs", "MACs per inference", r.macs, grouped(r.macs)),
    ];
    if let Some(b) = r.arena_budget_bytes {
        f.push(bytes("arena_budget_bytes", "Arena budget the kernels were chosen under", b as u64));
    }
    if let Some(m) = &r.firmware {
        f.push(bytes("firmware.flash_bytes", "Flash (firmware)", m.flash_bytes));
        f.push(bytes("firmware.ram_bytes", "RAM (firmware, with stack)", m.ram_bytes));
    }
    if let Some(p) = p {
        f.push(figure("profile.cycles_estimate", "Estimated cycles", p.cycles_estimate, grouped(p.cycles_estimate)));
        f.push(figure("profile.latency_ms", "Estimated latency", p.latency_ms, format!("{:.3} ms at {} MHz", p.latency_ms, p.clock_hz / 1_000_000)));
        f.push(figure("profile.mac_per_cycle", "MAC/cycle", p.mac_per_cycle, format!("{:.3}", p.mac_per_cycle)));
    }
    f
}

fn layer_rows(r: &Report, p: Option<&Profile>) -> Vec<LayerRow> {
    r.layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let lp = p.and_then(|p| p.layers.get(i));
            let float = l.float_op();
            LayerRow {
                index: i,
                name: l.name.clone(),
                op: float.unwrap_or(&l.op).to_string(),
                precision: if float.is_some() { "float32" } else { "int8" },
                shape: format!("{:?}", l.output_shape),
                macs: l.macs,
                macs_text: grouped(l.macs),
                cycles: lp.map(|lp| grouped(lp.cycles_estimate)).unwrap_or_default(),
                mac_per_cycle: lp.filter(|lp| lp.macs > 0).map(|lp| format!("{:.3}", lp.mac_per_cycle)).unwrap_or_default(),
                sqnr: l.sqnr_db.map(|db| format!("{db:.2}")).unwrap_or_default(),
                kernel: l.kernel.as_ref().map(|k| k.variant.clone()).or_else(|| r.kernels.clone()).unwrap_or_default(),
                why: l.kernel.as_ref().map(|k| format!("{} ({} B scratch, ~{} cycles estimated)", k.why, k.scratch_bytes, grouped(k.est_cycles))).unwrap_or_default(),
                in_place: match l.in_place {
                    hybridc_core::plan::inplace::Mode::Off => String::new(),
                    hybridc_core::plan::inplace::Mode::Lag { lag } => format!("over its input (lag {lag} B)"),
                    hybridc_core::plan::inplace::Mode::Ring { ring } => format!("over its input (ring {ring} B)"),
                },
            }
        })
        .collect()
}

/// One horizontal bar per layer: estimated cycles when profiled, else MACs.
fn cycles_svg(rows: &[LayerRow], p: Option<&Profile>) -> String {
    let values: Vec<u64> = match p {
        Some(p) => p.layers.iter().map(|l| l.cycles_estimate).collect(),
        None => rows.iter().map(|r| r.macs).collect(),
    };
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (label_w, bar_w, row_h) = (260.0, 560.0, 16.0);
    let h = row_h * values.len() as f64 + 10.0;
    let mut s = format!(r#"<svg id="cycles-chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{h}" font-size="11">"#, label_w + bar_w + 110.0);
    for (i, (v, r)) in values.iter().zip(rows).enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let w = bar_w * *v as f64 / max;
        let _ = write!(
            s,
            r#"<text x="{x}" y="{ty}" text-anchor="end">{i} {op}</text><rect class="bar" data-layer="{i}" data-value="{v}" x="{label_w}" y="{y}" width="{w:.1}" height="{bh}"><title>{name}: {vt}</title></rect><text x="{tx:.1}" y="{ty}">{vt}</text>"#,
            x = label_w - 6.0,
            ty = y + 11.0,
            op = esc(&r.op),
            bh = row_h - 3.0,
            name = esc(&r.name),
            vt = grouped(*v),
            tx = label_w + w + 4.0,
        );
    }
    s + "</svg>"
}

/// The arena plan: x the schedule step, y the offset (0 at the bottom), one
/// rectangle per buffer; in-place outputs and scratch marked; the lower bound
/// as a dashed line.
fn plan_svg(r: &Report) -> String {
    let steps = r.layers.len().max(1) as f64;
    let arena = r.arena_bytes.max(1) as f64;
    let (l, t, w, h) = (80.0, 20.0, 820.0, 420.0);
    let sx = |step: f64| l + step / steps * w;
    let sy = |off: f64| t + h - off / arena * h;
    let mut s = format!(
        r##"<svg id="arena-plan" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-size="11"><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fdd0a2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#e6550d" stroke-width="2"/></pattern></defs><rect x="{l}" y="{t}" width="{w}" height="{h}" fill="none" stroke="#999"/>"##,
        l + w + 20.0,
        t + h + 40.0
    );
    let in_place: Vec<bool> = r.layers.iter().map(|l| l.in_place != hybridc_core::plan::inplace::Mode::Off).collect();
    for (k, b) in r.plan.iter().enumerate() {
        // A tensor written in place of its input starts at its producer's step.
        let tied = b.kind == "tensor" && in_place.get(b.first_step).copied().unwrap_or(false) && r.layers.get(b.first_step).is_some_and(|l| l.output == b.name);
        let class = if tied { "block in-place" } else { &*format!("block {}", b.kind) };
        let _ = write!(
            s,
            r#"<rect class="{class}" data-block="{k}" data-first="{f}" data-last="{la}" data-offset="{o}" data-bytes="{by}" x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}"><title>{kind} {name}: {by} B at {o}, steps {f}-{la}</title></rect>"#,
            f = b.first_step,
            la = b.last_step,
            o = b.offset,
            by = b.bytes,
            x = sx(b.first_step as f64),
            y = sy((b.offset + b.bytes) as f64),
            bw = (sx(b.last_step as f64 + 1.0) - sx(b.first_step as f64)).max(1.0),
            bh = (b.bytes as f64 / arena * h).max(0.5),
            kind = b.kind,
            name = esc(&b.name),
        );
    }
    let lb = sy(r.arena_lower_bound_bytes as f64);
    let _ = write!(
        s,
        r##"<line id="lower-bound" data-value="{v}" x1="{l}" x2="{x2}" y1="{lb:.1}" y2="{lb:.1}" stroke="#d62728" stroke-dasharray="6 4"/><text x="{tx}" y="{ty:.1}" fill="#d62728" text-anchor="end">lower bound {vt} B</text>"##,
        v = r.arena_lower_bound_bytes,
        x2 = l + w,
        tx = l + w - 4.0,
        ty = lb - 4.0,
        vt = grouped(r.arena_lower_bound_bytes as u64),
    );
    let _ = write!(
        s,
        r#"<text x="{lx}" y="{t1}" text-anchor="end">{a} B</text><text x="{lx}" y="{t2}" text-anchor="end">0</text><text x="{mx}" y="{t3}" text-anchor="middle">schedule step (layer)</text></svg>"#,
        lx = l - 6.0,
        t1 = t + 10.0,
        a = grouped(r.arena_bytes as u64),
        t2 = t + h,
        mx = l + w / 2.0,
        t3 = t + h + 30.0,
    );
    s
}

fn tune_figures(t: &TuneReport) -> Vec<Figure> {
    let pct = |v: f64| format!("{:.2} %", 100.0 * v);
    vec![
        figure("tune.threshold", "Router threshold", t.chosen.threshold, format!("{:.4}", t.chosen.threshold)),
        figure("tune.query_rate", "Queried to the cloud", t.chosen.query_rate, pct(t.chosen.query_rate)),
        figure("tune.accuracy", "Accuracy", t.chosen.accuracy, pct(t.chosen.accuracy)),
        figure("tune.latency_ms", "Mean latency", t.chosen.latency_ms, format!("{:.2} ms", t.chosen.latency_ms)),
        figure("tune.cloud_only.accuracy", "Cloud-only accuracy", t.cloud_only.accuracy, pct(t.cloud_only.accuracy)),
        figure("tune.cloud_only.latency_ms", "Cloud-only latency", t.cloud_only.latency_ms, format!("{:.2} ms", t.cloud_only.latency_ms)),
    ]
}

/// Text for HTML and SVG (the template escapes its own fields).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(serde_json::from_str(&text).with_context(|| format!("{} is not what hybridc wrote", path.display()))?))
}

/// Renders `dir/report.html` from the project's report.json and, when
/// present, its profile.json and tune.json.
pub fn render(dir: &Path) -> Result<()> {
    let report: Report = read_json(&dir.join("report.json"))?
        .with_context(|| format!("{} holds no report.json: is it a folder `hybridc compile` wrote?", dir.display()))?;
    let profile: Option<Profile> = read_json(&dir.join(PROFILE_FILE))?;
    let tuned: Option<TuneReport> = read_json(&dir.join(TUNE_FILE))?;
    let model = hybridc_core::codegen::Manifest::read(dir)?.model;
    write_file(&dir.join(FILE), page(&model, &report, profile.as_ref(), tuned.as_ref())?)
}

fn page(model: &str, r: &Report, p: Option<&Profile>, t: Option<&TuneReport>) -> Result<String> {
    let layers = layer_rows(r, p);
    Ok(Page {
        model,
        target: &r.target,
        kernels: r.kernels.as_deref().unwrap_or(""),
        summary: summary(r, p),
        cycles_svg: cycles_svg(&layers, p),
        layers,
        profiled: p.is_some(),
        plan_svg: plan_svg(r),
        blocks: r.plan.len(),
        tune_svg: t.map(tune::figure).unwrap_or_default(),
        tune: t.map(tune_figures).unwrap_or_default(),
        warnings: &r.warnings,
    }
    .render()?)
}
