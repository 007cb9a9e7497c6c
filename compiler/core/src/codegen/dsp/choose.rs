//! Memory-aware kernel choice (docs/memory.md): each DSP layer has
//! variants, fastest first, that trade estimated cycles (`cost`) for
//! scratch, and last the portable kernel (no scratch). The compiler picks
//! per layer the variants that minimise the estimated cycles with the arena
//! within a budget: a cap on every layer's scratch, lowered until the
//! arena fits, then each layer raised back to its fastest variant that
//! still fits. Without a budget, the default is the smallest arena whose
//! estimated cycles stay within `DEFAULT_SLOWDOWN` of the fastest plan's.

use anyhow::{bail, Result};
use serde::Serialize;

use super::cost;
use crate::codegen::project::{dsp_layers, kernel_needs};
use crate::ir::Graph;
use crate::plan::{self, KernelNeeds, Plan};

/// How much slower (estimated) than the fastest plan the default may be:
/// about the cost model's error, so the default keeps the fastest plan's
/// speed as far as the estimates can tell.
pub const DEFAULT_SLOWDOWN: f64 = 0.02;

/// One way to run a layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// The kernel (its C function) and what sets the variant apart.
    pub name: String,
    pub scratch_bytes: usize,
    pub est_cycles: u64,
    #[serde(skip)]
    pub needs: Option<KernelNeeds>,
}

/// Per op its variants (fastest first, the portable kernel last), empty
/// for ops no DSP kernel runs.
pub fn variants(g: &Graph) -> Vec<Vec<Variant>> {
    let work = |i: usize| {
        let op = &g.ops[i];
        op.kind.macs(g, op).max(g.tensors[op.output].bytes() as u64)
    };
    let mut per_op: Vec<Vec<Variant>> = vec![Vec::new(); g.ops.len()];
    let mut kernels = vec![None; g.ops.len()];
    for level in 0.. {
        let mut any = false;
        for (i, d) in dsp_layers(g, &vec![level; g.ops.len()]).into_iter().enumerate() {
            let Some(d) = d else { continue };
            any = true;
            kernels[i] = Some(d.kernel);
            let needs = kernel_needs(&d);
            let note = if d.note.is_empty() { String::new() } else { format!(" ({})", d.note) };
            per_op[i].push(Variant {
                name: format!("{}{note}", d.kernel.c_name()),
                scratch_bytes: needs.scratch,
                est_cycles: cost::cycles(d.kernel, work(i).saturating_sub(d.skipped_macs), d.overhead),
                needs: Some(needs),
            });
        }
        if !any {
            break;
        }
    }
    for (i, v) in per_op.iter_mut().enumerate() {
        if let Some(k) = kernels[i] {
            v.push(Variant { name: "portable".into(), scratch_bytes: 0, est_cycles: cost::portable_cycles(k, work(i)), needs: None });
        }
    }
    per_op
}

/// The plan with its variants and why each layer runs the one it does.
pub struct Choice {
    pub plan: Plan,
    pub variants: Vec<Vec<Variant>>,
    /// Per op: the variant's index (0 for ops without variants).
    pub levels: Vec<usize>,
    /// Per op: why that variant (empty for ops without variants).
    pub why: Vec<String>,
    pub est_cycles: u64,
    /// The budget it was chosen under (the default's arena without one).
    pub budget: usize,
}

fn plan_of(g: &Graph, vars: &[Vec<Variant>], levels: &[usize]) -> (Plan, u64) {
    let needs: Vec<Option<KernelNeeds>> = vars.iter().zip(levels).map(|(v, &l)| v.get(l).and_then(|v| v.needs)).collect();
    let cycles = vars.iter().zip(levels).map(|(v, &l)| v.get(l).map_or(0, |v| v.est_cycles)).sum();
    let mut p = plan::plan_with_kernels(g, &needs);
    p.kernel_levels = levels.to_vec();
    (p, cycles)
}

/// Per op the fastest variant with at most `cap` bytes of scratch.
fn capped(vars: &[Vec<Variant>], cap: usize) -> Vec<usize> {
    vars.iter().map(|v| v.iter().position(|v| v.scratch_bytes <= cap).unwrap_or(0)).collect()
}

/// The points of the scratch-cap sweep: (levels, plan, estimated cycles),
/// from the fastest (no cap) to every layer on its least scratch.
pub fn sweep(g: &Graph, vars: &[Vec<Variant>]) -> Vec<(Vec<usize>, Plan, u64)> {
    // No cap first: a graph with no DSP layer still has its one point.
    let mut caps: Vec<usize> = vars.iter().flatten().map(|v| v.scratch_bytes).chain([usize::MAX]).collect();
    caps.sort_unstable_by(|a, b| b.cmp(a));
    caps.dedup();
    caps.into_iter().map(|cap| capped(vars, cap)).fold(Vec::new(), |mut pts: Vec<(Vec<usize>, Plan, u64)>, levels| {
        if pts.last().is_none_or(|p| p.0 != levels) {
            let (p, c) = plan_of(g, vars, &levels);
            pts.push((levels, p, c));
        }
        pts
    })
}

/// The fastest sweep point within `budget`, then each layer raised back to
/// its fastest variant that keeps the arena within it, largest gain first.
fn fit(g: &Graph, vars: &[Vec<Variant>], points: &[(Vec<usize>, Plan, u64)], budget: usize) -> (Vec<usize>, Plan, u64) {
    let start = points.iter().filter(|p| p.1.arena_bytes <= budget).min_by_key(|p| p.2).unwrap();
    let (mut levels, mut best, mut cycles) = (start.0.clone(), start.1.clone(), start.2);
    let mut order: Vec<usize> = (0..vars.len()).filter(|&i| levels[i] > 0).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(vars[i][levels[i]].est_cycles.saturating_sub(vars[i][0].est_cycles)));
    for i in order {
        for l in 0..levels[i] {
            let mut trial = levels.clone();
            trial[i] = l;
            let (p, c) = plan_of(g, vars, &trial);
            if p.arena_bytes <= budget && c < cycles {
                (levels, best, cycles) = (trial, p, c);
                break;
            }
        }
    }
    (levels, best, cycles)
}

/// Sweep points below the default's that it tries to reach (each a full
/// raising pass: a few seconds on MobileNetV1).
const DEFAULT_TRIES: usize = 3;

/// Variants for the DSP build of `g` with the arena at most `budget` bytes
/// (None: the default, see the module). Errs, naming the layer where the
/// most memory is live, when no choice fits the budget.
pub fn choose(g: &Graph, budget: Option<usize>) -> Result<Choice> {
    let default = budget.is_none();
    let vars = variants(g);
    let points = sweep(g, &vars);
    let fastest = points[0].2;
    let least = points.iter().min_by_key(|p| p.1.arena_bytes).unwrap();
    let budget = match budget {
        Some(b) if b < least.1.arena_bytes => {
            bail!(
                "the arena budget of {b} bytes is below the least arena any choice of kernels allows, {} bytes (most memory live at layer {}); raise --arena-budget/--sram to at least that",
                least.1.arena_bytes,
                peak_layer(g)
            )
        }
        Some(b) => b,
        None => {
            let ok = points.iter().filter(|p| p.2 as f64 <= fastest as f64 * (1.0 + DEFAULT_SLOWDOWN));
            ok.map(|p| p.1.arena_bytes).min().unwrap()
        }
    };
    let (mut levels, mut best, mut cycles) = fit(g, &vars, &points, budget);
    // The default: the raising may keep the speed at a smaller arena (a
    // layer's scratch in memory dead at it), so try the next sweep points
    // below while it does.
    let mut budget = budget;
    if default {
        let below = points.iter().map(|p| p.1.arena_bytes).filter(|&a| a < budget);
        let mut below: Vec<usize> = below.collect();
        below.sort_unstable_by(|a, b| b.cmp(a));
        for b in below.into_iter().take(DEFAULT_TRIES) {
            let (l, p, c) = fit(g, &vars, &points, b);
            if c as f64 > fastest as f64 * (1.0 + DEFAULT_SLOWDOWN) {
                break;
            }
            (levels, best, cycles, budget) = (l, p, c, b);
        }
    }
    let why = vars
        .iter()
        .zip(&levels)
        .map(|(v, &l)| match l {
            _ if v.is_empty() => String::new(),
            0 => "fastest variant".into(),
            _ => format!(
                "fastest variant whose scratch keeps the arena within the {budget}-byte budget ({} has {} bytes of scratch)",
                v[0].name, v[0].scratch_bytes
            ),
        })
        .collect();
    Ok(Choice { plan: best, variants: vars, levels, why, est_cycles: cycles, budget })
}

/// The least arena any choice of variants allows `g`.
pub fn least_arena(g: &Graph) -> usize {
    sweep(g, &variants(g)).iter().map(|p| p.1.arena_bytes).min().unwrap_or(0)
}

/// The op at the schedule step where the most tensor bytes are live, as
/// "L<step> (<op>)".
fn peak_layer(g: &Graph) -> String {
    let life = plan::lifetimes(g);
    let live = |s: usize| life.iter().flatten().filter(|b| b.first <= s && s <= b.last).map(|b| b.size).sum::<usize>();
    let s = (0..g.ops.len()).max_by_key(|&s| live(s)).unwrap_or(0);
    format!("L{s} ({})", g.ops.get(s).map_or(String::new(), |op| op.kind.name().to_string()))
}
