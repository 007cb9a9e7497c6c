//! Float-graph clean-up before quantization: values tract proves constant
//! become initializers (shape arithmetic from exporters), Dropout/Identity
//! disappear, BatchNormalization folds into the Conv before it (or becomes
//! a depthwise 1x1 Conv where there is none) and a zero
//! Pad folds into the Conv after it.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::proto::{self, consumers, floats, is_graph_output, set_initializer};
use crate::frontend::float_oracle::Fact;

pub fn canonicalize(model: &mut pb::ModelProto, facts: &HashMap<String, Fact>) -> Result<()> {
    let g = model.graph.as_mut().context("no graph")?;
    fold_constants(g, facts)?;
    bypass(g, &["Identity", "Dropout"]);
    fold_batch_norm(g)?;
    batch_norm_as_depthwise(g, facts);
    fold_pad(g)?;
    remove_dead(g);
    Ok(())
}

/// Replaces every node whose outputs tract knows as constants by initializers.
fn fold_constants(g: &mut pb::GraphProto, facts: &HashMap<String, Fact>) -> Result<()> {
    let mut keep = vec![];
    for n in std::mem::take(&mut g.node) {
        if n.op_type == "Constant" {
            if let Some(t) = n.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.clone()) {
                set_initializer(g, pb::TensorProto { name: n.output[0].clone(), ..t });
                continue;
            }
        }
        let konsts: Option<Vec<Arc<Tensor>>> =
            n.output.iter().map(|o| facts.get(o).and_then(|f| f.konst.clone())).collect();
        match konsts {
            Some(ks) if !n.output.is_empty() && n.op_type != "DequantizeLinear" => {
                for (name, k) in n.output.iter().zip(ks) {
                    set_initializer(g, to_proto(name, &k)?);
                }
            }
            _ => keep.push(n),
        }
    }
    g.node = keep;
    Ok(())
}

fn to_proto(name: &str, t: &Tensor) -> Result<pb::TensorProto> {
    let dims = t.shape().to_vec();
    Ok(match t.datum_type() {
        DatumType::F32 => proto::f32_tensor(name, &dims, &t.to_plain_array_view::<f32>()?.iter().copied().collect::<Vec<_>>()),
        DatumType::I32 => proto::i32_tensor(name, &dims, &t.to_plain_array_view::<i32>()?.iter().copied().collect::<Vec<_>>()),
        DatumType::I8 => proto::i8_tensor(name, &dims, &t.to_plain_array_view::<i8>()?.iter().copied().collect::<Vec<_>>()),
        _ => {
            let v: Vec<i64> = t.cast_to::<i64>()?.to_plain_array_view::<i64>()?.iter().copied().collect();
            proto::tensor(name, &dims, proto::INT64, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        }
    })
}

/// Removes single-input pass-through nodes, rewiring their readers.
fn bypass(g: &mut pb::GraphProto, ops: &[&str]) {
    loop {
        let Some(pos) = g.node.iter().position(|n| ops.contains(&n.op_type.as_str()) && !n.input.is_empty()) else {
            return;
        };
        let n = g.node.remove(pos);
        let (from, to) = (n.input[0].clone(), n.output[0].clone());
        if is_graph_output(g, &to) {
            // Keep the graph output's name: rename the producer's output instead.
            for m in g.node.iter_mut() {
                for o in m.output.iter_mut().filter(|o| **o == from) {
                    *o = to.clone();
                }
                for i in m.input.iter_mut().filter(|i| **i == from) {
                    *i = to.clone();
                }
            }
        } else {
            for m in g.node.iter_mut() {
                for i in m.input.iter_mut().filter(|i| **i == to) {
                    *i = from.clone();
                }
            }
        }
    }
}

/// A BatchNormalization with constant parameters as the per-channel affine
/// y = x * scale + shift.
fn bn_affine(g: &pb::GraphProto, bn: &pb::NodeProto) -> Option<(Vec<f64>, Vec<f64>)> {
    let eps = bn.attribute.iter().find(|a| a.name == "epsilon").map(|a| a.f).unwrap_or(1e-5) as f64;
    let get = |i: usize| bn.input.get(i).and_then(|name| floats(g, name).ok().flatten()).map(|(_, v)| v);
    let (gamma, beta, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
    let n = gamma.len();
    if [beta.len(), mean.len(), var.len()].iter().any(|&l| l != n) {
        return None;
    }
    let scale: Vec<f64> = (0..n).map(|c| gamma[c] as f64 / (var[c] as f64 + eps).sqrt()).collect();
    let shift = (0..n).map(|c| beta[c] as f64 - mean[c] as f64 * scale[c]).collect();
    Some((scale, shift))
}

/// Conv -> BatchNormalization becomes one Conv with scaled weights and bias.
fn fold_batch_norm(g: &mut pb::GraphProto) -> Result<()> {
    loop {
        let found = g.node.iter().position(|bn| {
            bn.op_type == "BatchNormalization"
                && g.node.iter().any(|c| c.op_type == "Conv" && c.output[0] == bn.input[0])
                && consumers(g, &bn.input[0]).len() == 1
                && !is_graph_output(g, &bn.input[0])
        });
        let Some(bpos) = found else { return Ok(()) };
        let bn = g.node[bpos].clone();
        let Some((scale, shift)) = bn_affine(g, &bn) else {
            return Ok(()); // not constant: leave it (it will run as its own op or fail clearly)
        };
        let cpos = g.node.iter().position(|c| c.op_type == "Conv" && c.output[0] == bn.input[0]).unwrap();
        let conv = g.node[cpos].clone();
        let (wshape, mut w) = floats(g, &conv.input[1])?.context("Conv weights are not constant")?;
        let oc = wshape[0];
        if scale.len() != oc {
            bail!("node '{}': BatchNormalization has {} channels, the Conv before it {oc}", bn.name, scale.len());
        }
        let per = w.len() / oc;
        let mut b = match conv.input.get(2).filter(|s| !s.is_empty()) {
            Some(name) => floats(g, name)?.context("Conv bias is not constant")?.1,
            None => vec![0.0; oc],
        };
        for c in 0..oc {
            for x in &mut w[c * per..(c + 1) * per] {
                *x = (*x as f64 * scale[c]) as f32;
            }
            b[c] = (b[c] as f64 * scale[c] + shift[c]) as f32;
        }
        let wname = format!("{}#bnw", conv.output[0]);
        let bname = format!("{}#bnb", conv.output[0]);
        set_initializer(g, proto::f32_tensor(&wname, &wshape, &w));
        set_initializer(g, proto::f32_tensor(&bname, &[oc], &b));
        let c = &mut g.node[cpos];
        c.input = vec![c.input[0].clone(), wname, bname];
        c.output[0] = bn.output[0].clone();
        g.node.remove(bpos);
    }
}

/// A BatchNormalization not after a Conv (constant parameters, on a 3-D or
/// 4-D input) becomes a depthwise 1x1 Conv: its per-channel affine as
/// weights and bias, run by the conv kernels.
fn batch_norm_as_depthwise(g: &mut pb::GraphProto, facts: &HashMap<String, Fact>) {
    for i in 0..g.node.len() {
        let bn = &g.node[i];
        let rank = facts.get(&bn.input[0]).and_then(|f| f.shape.as_ref()).map(|s| s.len());
        if bn.op_type != "BatchNormalization" || bn.output.len() != 1 || !matches!(rank, Some(3 | 4)) {
            continue;
        }
        let Some((scale, shift)) = bn_affine(g, bn) else { continue };
        let (rank, c, out) = (rank.unwrap_or(4), scale.len(), bn.output[0].clone());
        let mut wshape = vec![1; rank];
        wshape[0] = c;
        let (wname, bname) = (format!("{out}#bnw"), format!("{out}#bnb"));
        let w: Vec<f32> = scale.iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = shift.iter().map(|&v| v as f32).collect();
        let input = bn.input[0].clone();
        let name = bn.name.clone();
        set_initializer(g, proto::f32_tensor(&wname, &wshape, &w));
        set_initializer(g, proto::f32_tensor(&bname, &[c], &b));
        let mut conv = proto::node("Conv", &name, &[&input, &wname, &bname], &[&out]);
        conv.attribute.push(proto::int_attr("group", c as i64));
        g.node[i] = conv;
    }
}

/// A constant zero Pad on H and W only, read by one Conv, becomes Conv padding.
fn fold_pad(g: &mut pb::GraphProto) -> Result<()> {
    loop {
        let mut target = None;
        for (pi, p) in g.node.iter().enumerate() {
            if p.op_type != "Pad" || consumers(g, &p.output[0]).len() != 1 || is_graph_output(g, &p.output[0]) {
                continue;
            }
            let mode = p.attribute.iter().find(|a| a.name == "mode").map(|a| String::from_utf8_lossy(&a.s).to_string());
            if mode.as_deref().is_some_and(|m| m != "constant") {
                continue;
            }
            let Some(ci) = g.node.iter().position(|c| c.op_type == "Conv" && c.input[0] == p.output[0]) else { continue };
            let pads: Option<Vec<i64>> = match p.input.get(1) {
                Some(name) => g.initializer.iter().find(|t| &t.name == name).and_then(|t| {
                    crate::frontend::Constant::from_proto(t).ok().and_then(|c| c.as_i64())
                }),
                None => p.attribute.iter().find(|a| a.name == "pads").map(|a| a.ints.clone()),
            };
            let value_zero = match p.input.get(2).filter(|s| !s.is_empty()) {
                Some(name) => floats(g, name).ok().flatten().is_some_and(|(_, v)| v.iter().all(|&x| x == 0.0)),
                None => true,
            };
            if let Some(pads) = pads {
                // NCHW: [n0, c0, h0, w0, n1, c1, h1, w1]; only spatial padding folds.
                if pads.len() == 8 && value_zero && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 && pads[5] == 0 && pads.iter().all(|&x| x >= 0) {
                    target = Some((pi, ci, [pads[2], pads[3], pads[6], pads[7]]));
                    break;
                }
            }
        }
        let Some((pi, ci, extra)) = target else { return Ok(()) };
        let input = g.node[pi].input[0].clone();
        let conv = &mut g.node[ci];
        let mut pads = conv.attribute.iter().find(|a| a.name == "pads").map(|a| a.ints.clone()).unwrap_or(vec![0; 4]);
        for k in 0..4 {
            pads[k] += extra[k];
        }
        conv.attribute.retain(|a| a.name != "pads" && a.name != "auto_pad");
        conv.attribute.push(pb::AttributeProto { name: "pads".into(), r#type: 7, ints: pads, ..Default::default() });
        conv.input[0] = input;
        g.node.remove(pi);
    }
}

/// Drops nodes none of whose outputs is read or is a graph output.
fn remove_dead(g: &mut pb::GraphProto) {
    loop {
        let before = g.node.len();
        let used: std::collections::HashSet<String> = g
            .node
            .iter()
            .flat_map(|n| n.input.iter().cloned())
            .chain(g.output.iter().map(|o| o.name.clone()))
            .collect();
        g.node.retain(|n| n.output.iter().any(|o| used.contains(o)));
        if g.node.len() == before {
            break;
        }
    }
    let used: std::collections::HashSet<String> = g.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    g.initializer.retain(|t| used.contains(&t.name));
}
