//! What `hybridc tune` found (its `--json` file), the table it prints and
//! its accuracy-latency figure.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::latency::Model;
use super::plot::{self, Marker, Series};
use super::sweep::Point;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneReport {
    /// The goal as Rust prints [`super::sweep::Goal`], or "at threshold T".
    pub goal: String,
    /// The learned router's chosen operating point (its fields are the
    /// report's `threshold`, `query_rate`, `accuracy` and `latency_ms`).
    #[serde(flatten)]
    pub chosen: Point,
    pub cloud_only: Figures,
    /// The learned router's threshold above every score: nothing queried.
    pub edge_only: Figures,
    pub oracle: Oracle,
    pub baselines_at_same_query_rate: Baselines,
    pub latency_model: Model,
    pub inputs: usize,
    pub curves: Curves,
}

/// Accuracy and mean latency when every input is answered one way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub accuracy: f64,
    pub latency_ms: f64,
}

/// Querying exactly the inputs the edge gets wrong and the cloud right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Oracle {
    pub query_rate: f64,
    pub accuracy: f64,
    pub latency_ms: f64,
}

/// The router-less baselines' points at the chosen query rate (none when
/// a baseline has no point at or below it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    pub max_softmax: Option<Point>,
    pub entropy: Option<Point>,
}

/// Every operating point of each score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    pub router: Vec<Point>,
    pub max_softmax: Vec<Point>,
    pub entropy: Vec<Point>,
}

/// A point of the figure and the table (the threshold is not shown).
fn at(query_rate: f64, accuracy: f64, latency_ms: f64) -> Point {
    Point { threshold: 0.0, query_rate, accuracy, latency_ms }
}

impl TuneReport {
    fn edge_point(&self) -> Point {
        at(0.0, self.edge_only.accuracy, self.edge_only.latency_ms)
    }

    fn cloud_point(&self) -> Point {
        at(1.0, self.cloud_only.accuracy, self.cloud_only.latency_ms)
    }

    fn oracle_point(&self) -> Point {
        at(self.oracle.query_rate, self.oracle.accuracy, self.oracle.latency_ms)
    }
}

/// The table `tune` prints.
pub fn table(r: &TuneReport) -> String {
    let row = |name: &str, p: &Point| format!("| {name} | {:.1} % | {:.2} % | {:.1} |\n", p.query_rate * 100.0, p.accuracy * 100.0, p.latency_ms);
    let mut s = String::from("| operating point | query rate | accuracy | mean latency ms |\n|---|---:|---:|---:|\n");
    s += &row("edge only", &r.edge_point());
    s += &row("cloud only", &r.cloud_point());
    s += &row(&format!("learned router (threshold {:.4})", r.chosen.threshold), &r.chosen);
    let baselines = &r.baselines_at_same_query_rate;
    for (p, name) in [(baselines.max_softmax, "max-softmax, same query rate"), (baselines.entropy, "entropy, same query rate")] {
        if let Some(p) = p {
            s += &row(name, &p);
        }
    }
    s += &row("oracle", &r.oracle_point());
    s
}

/// The accuracy-latency figure.
pub fn figure(r: &TuneReport) -> String {
    plot::svg(
        &format!("accuracy vs latency ({} link)", r.latency_model.link.name),
        &[
            Series { name: "learned router", color: "#d62728", points: &r.curves.router },
            Series { name: "max-softmax", color: "#1f77b4", points: &r.curves.max_softmax },
            Series { name: "entropy", color: "#2ca02c", points: &r.curves.entropy },
        ],
        &[
            Marker { name: "edge only", color: "#7f7f7f", point: r.edge_point() },
            Marker { name: "cloud only", color: "#000000", point: r.cloud_point() },
            Marker { name: "oracle", color: "#9467bd", point: r.oracle_point() },
            Marker { name: "chosen", color: "#ff7f0e", point: at(r.chosen.query_rate, r.chosen.accuracy, r.chosen.latency_ms) },
        ],
    )
}

/// The threshold of a `hybridc tune --json` file (`compile --tuned`). Only
/// the threshold is read, so that any JSON holding one will do.
pub fn tuned_threshold(path: &Path) -> Result<f32> {
    #[derive(Deserialize)]
    struct Tuned {
        threshold: f64,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let t: Tuned = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a tune report with a numeric 'threshold' (write it with hybridc tune --json)", path.display()))?;
    Ok(t.threshold as f32)
}
