//! Threshold sweeps: for a score per input (query when score > threshold),
//! the accuracy, query rate and mean latency of every distinct operating
//! point, and the choice of one for a goal.

use anyhow::{bail, Result};
use serde::Serialize;

use super::latency::Model;

/// What is known of one input.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub edge_correct: bool,
    pub cloud_correct: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Point {
    pub threshold: f64,
    pub query_rate: f64,
    pub accuracy: f64,
    pub latency_ms: f64,
}

/// Every operating point of `scores`, from no query to all queried.
pub fn curve(scores: &[f64], outcomes: &[Outcome], m: &Model) -> Vec<Point> {
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let edge_right = outcomes.iter().filter(|o| o.edge_correct).count() as i64;
    let mut correct = edge_right;
    let mut points = vec![];
    let mut k = 0;
    // Threshold above the highest score: nothing queried.
    let top = order.first().map(|&i| scores[i]).unwrap_or(0.0);
    points.push(point(top + 1.0, 0, correct, n, m));
    while k < n {
        // Query every input with this score (ties move together).
        let s = scores[order[k]];
        while k < n && scores[order[k]] == s {
            let o = outcomes[order[k]];
            correct += o.cloud_correct as i64 - o.edge_correct as i64;
            k += 1;
        }
        // Halfway to the next lower score, so that exactly these k are above it.
        let t = if k < n { (s + scores[order[k]]) / 2.0 } else { s - 1.0 };
        points.push(point(t, k, correct, n, m));
    }
    points
}

fn point(threshold: f64, queried: usize, correct: i64, n: usize, m: &Model) -> Point {
    let q = queried as f64 / n.max(1) as f64;
    Point { threshold, query_rate: q, accuracy: correct as f64 / n.max(1) as f64, latency_ms: m.hybrid_ms(q) }
}

/// The user's goal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Goal {
    /// Least latency with accuracy at least cloud-only's.
    MatchCloud,
    /// Best accuracy within a mean latency (ms).
    MaxAccAtLatency(f64),
    /// Best accuracy within a query rate.
    MaxAccAtQuery(f64),
}

pub fn parse_goal(s: &str) -> Result<Goal> {
    if s == "match-cloud" {
        return Ok(Goal::MatchCloud);
    }
    let num = |p: &str| s.strip_prefix(p).and_then(|v| v.parse::<f64>().ok());
    if let Some(v) = num("max-acc-at-latency=").filter(|v| *v > 0.0) {
        return Ok(Goal::MaxAccAtLatency(v));
    }
    if let Some(v) = num("max-acc-at-query=").filter(|v| (0.0..=1.0).contains(v)) {
        return Ok(Goal::MaxAccAtQuery(v));
    }
    bail!("--goal '{s}' is not match-cloud, max-acc-at-latency=MS or max-acc-at-query=Q (0..1)")
}

/// Picks the operating point for `goal`; `cloud_acc` is cloud-only accuracy.
pub fn choose(points: &[Point], goal: Goal, cloud_acc: f64) -> Result<Point> {
    let better_acc = |a: &&Point, b: &&Point| a.accuracy.total_cmp(&b.accuracy).then(b.latency_ms.total_cmp(&a.latency_ms));
    let pick = match goal {
        Goal::MatchCloud => {
            let ok: Vec<&Point> = points.iter().filter(|p| p.accuracy >= cloud_acc - 1e-12).collect();
            match ok.iter().min_by(|a, b| a.latency_ms.total_cmp(&b.latency_ms).then(b.accuracy.total_cmp(&a.accuracy))) {
                Some(p) => Some(**p),
                None => points.iter().max_by(better_acc).copied(),
            }
        }
        Goal::MaxAccAtLatency(ms) => points.iter().filter(|p| p.latency_ms <= ms).max_by(better_acc).copied(),
        Goal::MaxAccAtQuery(q) => points.iter().filter(|p| p.query_rate <= q + 1e-12).max_by(better_acc).copied(),
    };
    match pick {
        Some(p) => Ok(p),
        None => bail!("no operating point meets {goal:?}; the least latency is {:.1} ms", points.iter().map(|p| p.latency_ms).fold(f64::INFINITY, f64::min)),
    }
}

/// The operating point of one threshold (query when score > threshold).
pub fn evaluate(scores: &[f64], outcomes: &[Outcome], m: &Model, threshold: f64) -> Point {
    let n = scores.len();
    let (mut queried, mut correct) = (0, 0i64);
    for (s, o) in scores.iter().zip(outcomes) {
        let q = *s > threshold;
        queried += q as usize;
        correct += if q { o.cloud_correct } else { o.edge_correct } as i64;
    }
    point(threshold, queried, correct, n, m)
}

/// The point of `points` with the largest query rate not above `q`.
pub fn at_query_rate(points: &[Point], q: f64) -> Option<Point> {
    points.iter().filter(|p| p.query_rate <= q + 1e-12).max_by(|a, b| a.query_rate.total_cmp(&b.query_rate)).copied()
}

#[cfg(test)]
mod tests {
    use super::super::latency::{parse_link, Model};
    use super::*;

    fn model() -> Model {
        Model { link: parse_link("100,0").unwrap(), edge_ms: 10.0, cloud_ms: 0.0, payload_bytes: 1250 } // query = 100 ms
    }

    #[test]
    fn synthetic_case_with_a_known_best_threshold() {
        // Four inputs: the two highest-scored are the edge's mistakes that
        // the cloud gets right; querying them (threshold between 0.6 and 0.8)
        // reaches cloud accuracy at q = 0.5.
        let scores = [0.9, 0.8, 0.6, 0.1];
        let o = |e, c| Outcome { edge_correct: e, cloud_correct: c };
        let outcomes = [o(false, true), o(false, true), o(true, true), o(true, true)];
        let pts = curve(&scores, &outcomes, &model());
        assert_eq!(pts.len(), 5);
        assert_eq!(pts[0].query_rate, 0.0);
        assert_eq!(pts[0].accuracy, 0.5);
        let best = choose(&pts, Goal::MatchCloud, 1.0).unwrap();
        assert_eq!(best.query_rate, 0.5);
        assert_eq!(best.accuracy, 1.0);
        assert!((best.threshold - 0.7).abs() < 1e-12);
        assert!((best.latency_ms - 60.0).abs() < 1e-9);
        // A 30 ms budget allows one query in four at most (10 + 25 ms > 30): none.
        let p = choose(&pts, Goal::MaxAccAtLatency(30.0), 1.0).unwrap();
        assert_eq!(p.query_rate, 0.0);
        let p = choose(&pts, Goal::MaxAccAtQuery(0.25), 1.0).unwrap();
        assert_eq!((p.query_rate, p.accuracy), (0.25, 0.75));
    }

    #[test]
    fn ties_move_together() {
        let o = Outcome { edge_correct: true, cloud_correct: true };
        let pts = curve(&[0.5, 0.5, 0.2], &[o, o, o], &model());
        assert_eq!(pts.iter().map(|p| p.query_rate).collect::<Vec<_>>(), vec![0.0, 2.0 / 3.0, 1.0]);
    }

    #[test]
    fn goals_parse() {
        assert_eq!(parse_goal("max-acc-at-query=0.2").unwrap(), Goal::MaxAccAtQuery(0.2));
        assert!(parse_goal("max-acc-at-query=2").is_err());
        assert!(parse_goal("fastest").is_err());
    }
}
