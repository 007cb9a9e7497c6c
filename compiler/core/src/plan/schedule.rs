//! Operator order: among the topological orders of the graph (up to a cap,
//! enumerated from the imported order), the one whose plan has the smallest
//! arena. Branching graphs (residual blocks) gain from computing the
//! shortcut before or after the main branch; chains have one order.

use crate::ir::Graph;

/// Orders tried at most (ResNet-8 has 9).
const MAX_ORDERS: usize = 64;

/// Reorders `g.ops` to the order with the smallest planned arena (the
/// imported order wins ties).
pub fn reorder(g: &mut Graph) {
    // Each trial plans the whole arena: on large graphs (hundreds of ops, e.g.
    // a RegNet's per-group convolutions) keep the imported order.
    if g.ops.len() > super::LARGE_GRAPH_OPS {
        return;
    }
    let orders = topological_orders(g, MAX_ORDERS);
    if orders.len() < 2 {
        return;
    }
    let mut best: Option<(usize, Vec<usize>)> = None;
    for order in orders {
        let trial = permuted(g, &order);
        let arena = super::plan(&trial).arena_bytes;
        if best.as_ref().map_or(true, |b| arena < b.0) {
            best = Some((arena, order));
        }
    }
    let order = best.unwrap().1;
    let mut ops: Vec<Option<crate::ir::Op>> = std::mem::take(&mut g.ops).into_iter().map(Some).collect();
    g.ops = order.iter().map(|&i| ops[i].take().unwrap()).collect();
}

/// The graph with its ops in `order` (weights are not needed for planning).
fn permuted(g: &Graph, order: &[usize]) -> Graph {
    let mut t = Graph { tensors: g.tensors.clone(), ops: vec![], inputs: g.inputs.clone(), outputs: g.outputs.clone() };
    t.ops = order.iter().map(|&i| g.ops[i].clone()).collect();
    t
}

/// Up to `cap` orders of the ops that respect data dependencies, in
/// lexicographic order of op indices (so the imported order comes first).
pub fn topological_orders(g: &Graph, cap: usize) -> Vec<Vec<usize>> {
    let n = g.ops.len();
    let producer: Vec<Option<usize>> = (0..g.tensors.len()).map(|t| g.ops.iter().position(|op| op.output == t)).collect();
    let preds: Vec<Vec<usize>> = g
        .ops
        .iter()
        .map(|op| op.inputs.iter().filter_map(|&t| producer[g.base(t)]).collect())
        .collect();
    let mut out = vec![];
    let mut order = Vec::with_capacity(n);
    let mut done = vec![false; n];
    fn dfs(preds: &[Vec<usize>], order: &mut Vec<usize>, done: &mut [bool], out: &mut Vec<Vec<usize>>, cap: usize) {
        if out.len() >= cap {
            return;
        }
        if order.len() == preds.len() {
            out.push(order.clone());
            return;
        }
        for i in 0..preds.len() {
            if !done[i] && preds[i].iter().all(|&p| done[p]) {
                done[i] = true;
                order.push(i);
                dfs(preds, order, done, out, cap);
                order.pop();
                done[i] = false;
            }
        }
    }
    dfs(&preds, &mut order, &mut done, &mut out, cap);
    out
}
