//! Float-graph clean-up before quantization: values tract proves constant
//! become initializers (shape arithmetic from exporters), Dropout/Identity
//! disappear, BatchNormalization folds into the Conv, ConvTranspose or Gemm
//! before it (or becomes a depthwise 1x1 Conv where there is none) and a zero
//! Pad folds into the Conv after it.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::proto::{self, consumers, floats, is_graph_output, set_initializer};
use crate::frontend::float_oracle::Fact;

pub fn canonicalize(model: &mut pb::ModelProto, facts: &HashMap<String, Fact>) -> Result<()> {
    let opset = model.opset_import.iter().filter(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).max().unwrap_or(13);
    let g = model.graph.as_mut().context("no graph")?;
    fold_constants(g, facts)?;
    bypass(g, &["Identity", "Dropout"]);
    fold_batch_norm(g)?;
    batch_norm_as_depthwise(g, facts, opset);
    fold_pad(g)?;
    split_grouped_conv(g, opset)?;
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

/// The axis of a layer's weights that indexes its output channels, for the
/// layers a BatchNormalization after them folds into.
fn out_channel_axis(layer: &pb::NodeProto) -> Option<usize> {
    let int = |name: &str, default: i64| layer.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.i);
    match layer.op_type.as_str() {
        "Conv" => Some(0),
        "ConvTranspose" if int("group", 1) == 1 => Some(1),
        "Gemm" if int("transA", 0) == 0 => Some(if int("transB", 0) != 0 { 0 } else { 1 }),
        _ => None,
    }
}

/// Conv / ConvTranspose / Gemm -> BatchNormalization becomes one layer with
/// scaled weights and bias (PyTorch's Linear-BatchNorm1d too).
fn fold_batch_norm(g: &mut pb::GraphProto) -> Result<()> {
    loop {
        let found = g.node.iter().position(|bn| {
            bn.op_type == "BatchNormalization"
                && g.node.iter().any(|c| out_channel_axis(c).is_some() && c.output[0] == bn.input[0])
                && consumers(g, &bn.input[0]).len() == 1
                && !is_graph_output(g, &bn.input[0])
        });
        let Some(bpos) = found else { return Ok(()) };
        let bn = g.node[bpos].clone();
        let Some((scale, shift)) = bn_affine(g, &bn) else {
            return Ok(()); // not constant: leave it (it will run as its own op or fail clearly)
        };
        let cpos = g.node.iter().position(|c| out_channel_axis(c).is_some() && c.output[0] == bn.input[0]).unwrap();
        let layer = g.node[cpos].clone();
        let axis = out_channel_axis(&layer).unwrap_or(0);
        let (wshape, mut w) = floats(g, &layer.input[1])?.with_context(|| format!("{} weights are not constant", layer.op_type))?;
        let oc = wshape.get(axis).copied().unwrap_or(0);
        if scale.len() != oc {
            bail!("node '{}': BatchNormalization has {} channels, the {} before it {oc}", bn.name, scale.len(), layer.op_type);
        }
        let inner: usize = wshape[axis + 1..].iter().product();
        // Gemm adds beta * C: the folded shift goes into C / beta.
        let beta = layer.attribute.iter().find(|a| a.name == "beta").map_or(1.0, |a| a.f as f64);
        let mut b = match layer.input.get(2).filter(|s| !s.is_empty()) {
            Some(name) => floats(g, name)?.with_context(|| format!("{} bias is not constant", layer.op_type))?.1,
            None => vec![0.0; oc],
        };
        if b.len() != oc || (layer.op_type == "Gemm" && beta == 0.0) {
            return Ok(()); // a broadcast or unused bias: leave the BatchNormalization
        }
        let beta = if layer.op_type == "Gemm" { beta } else { 1.0 };
        for (i, x) in w.iter_mut().enumerate() {
            *x = (*x as f64 * scale[(i / inner) % oc]) as f32;
        }
        for c in 0..oc {
            b[c] = (b[c] as f64 * scale[c] + shift[c] / beta) as f32;
        }
        let wname = format!("{}#bnw", layer.output[0]);
        let bname = format!("{}#bnb", layer.output[0]);
        set_initializer(g, proto::f32_tensor(&wname, &wshape, &w));
        set_initializer(g, proto::f32_tensor(&bname, &[oc], &b));
        let c = &mut g.node[cpos];
        c.input = vec![c.input[0].clone(), wname, bname];
        c.output[0] = bn.output[0].clone();
        g.node.remove(bpos);
    }
}

/// A BatchNormalization not after a layer it folds into (constant
/// parameters, on a 2-D to 4-D input) becomes a depthwise 1x1 Conv: its
/// per-channel affine as weights and bias, run by the conv kernels. A 2-D
/// [N, C] input (BatchNorm1d on features) is seen as [N, C, 1] for it.
fn batch_norm_as_depthwise(g: &mut pb::GraphProto, facts: &HashMap<String, Fact>, opset: i64) {
    let mut i = 0;
    while i < g.node.len() {
        let bn = &g.node[i];
        let rank = facts.get(&bn.input[0]).and_then(|f| f.shape.as_ref()).map(|s| s.len());
        if bn.op_type != "BatchNormalization" || bn.output.len() != 1 || !matches!(rank, Some(2..=4)) {
            i += 1;
            continue;
        }
        let Some((scale, shift)) = bn_affine(g, bn) else {
            i += 1;
            continue;
        };
        let (rank, c, out) = (rank.unwrap_or(4), scale.len(), bn.output[0].clone());
        let (input, name) = (bn.input[0].clone(), bn.name.clone());
        let mut wshape = vec![1; rank.max(3)];
        wshape[0] = c;
        let (wname, bname) = (format!("{out}#bnw"), format!("{out}#bnb"));
        let w: Vec<f32> = scale.iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = shift.iter().map(|&v| v as f32).collect();
        set_initializer(g, proto::f32_tensor(&wname, &wshape, &w));
        set_initializer(g, proto::f32_tensor(&bname, &[c], &b));
        let mut nodes = vec![];
        // [N, C] <-> [N, C, 1]: axes as an input from opset 13, an attribute before.
        let axes = format!("{out}#axes");
        let reshape = |op: &str, from: &str, to: &str| {
            let mut n = proto::node(op, &format!("{name}#{}", op.to_lowercase()), &[from], &[to]);
            if opset >= 13 {
                n.input.push(axes.clone());
            } else {
                n.attribute.push(pb::AttributeProto { name: "axes".into(), r#type: 7, ints: vec![2], ..Default::default() });
            }
            n
        };
        let (conv_in, conv_out) = if rank == 2 {
            set_initializer(g, proto::tensor(&axes, &[1], proto::INT64, 2i64.to_le_bytes().to_vec()));
            let (x3, y3) = (format!("{out}#3d"), format!("{out}#conv"));
            nodes.push(reshape("Unsqueeze", &input, &x3));
            (x3, y3)
        } else {
            (input, out.clone())
        };
        let mut conv = proto::node("Conv", &name, &[&conv_in, &wname, &bname], &[&conv_out]);
        conv.attribute.push(proto::int_attr("group", c as i64));
        nodes.push(conv);
        if rank == 2 {
            nodes.push(reshape("Squeeze", &conv_out, &out));
        }
        let n = nodes.len();
        g.node.splice(i..=i, nodes);
        i += n;
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

/// A grouped convolution (1 < group < channels, as RegNet and ResNeXt have)
/// becomes Split -> one Conv per group -> Concat over channels: the int8
/// kernels run regular and depthwise convolutions, and Split and Concat
/// move bytes without requantizing (the Concat's inputs share its scale).
fn split_grouped_conv(g: &mut pb::GraphProto, opset: i64) -> Result<()> {
    let mut i = 0;
    while i < g.node.len() {
        let n = g.node[i].clone();
        let group = n.attribute.iter().find(|a| a.name == "group").map_or(1, |a| a.i);
        let weights = if n.op_type == "Conv" && group > 1 { floats(g, &n.input[1])? } else { None };
        let Some((wshape, w)) = weights else {
            i += 1;
            continue;
        };
        let (oc, icg) = (wshape[0], wshape.get(1).copied().unwrap_or(1));
        let groups = group as usize;
        if icg == 1 {
            i += 1; // depthwise (with any depth multiplier): its own kernels
            continue;
        }
        if oc % groups != 0 {
            bail!("node '{}' (Conv): {oc} output channels do not split into {groups} groups", crate::frontend::node_label(&n));
        }
        let bias = match n.input.get(2).filter(|b| !b.is_empty()) {
            Some(b) => Some(floats(g, b)?.context("Conv bias is not constant")?.1),
            None => None,
        };
        let (ocg, per) = (oc / groups, w.len() / oc);
        let out = n.output[0].clone();
        let parts: Vec<String> = (0..groups).map(|k| format!("{out}#g{k}in")).collect();
        let mut split = proto::node("Split", &format!("{}#split", n.name), &[&n.input[0]], &parts.iter().map(String::as_str).collect::<Vec<_>>());
        split.attribute.push(proto::int_attr("axis", 1));
        let sizes = vec![icg as i64; groups];
        if opset >= 13 {
            let name = format!("{out}#gsizes");
            set_initializer(g, proto::tensor(&name, &[groups], proto::INT64, sizes.iter().flat_map(|v| v.to_le_bytes()).collect()));
            split.input.push(name);
        } else {
            split.attribute.push(pb::AttributeProto { name: "split".into(), r#type: 7, ints: sizes, ..Default::default() });
        }
        let mut nodes = vec![split];
        let mut outs = vec![];
        for k in 0..groups {
            let (wn, bn, on) = (format!("{out}#g{k}w"), format!("{out}#g{k}b"), format!("{out}#g{k}"));
            let mut ws = wshape.clone();
            ws[0] = ocg;
            set_initializer(g, proto::f32_tensor(&wn, &ws, &w[k * ocg * per..(k + 1) * ocg * per]));
            let mut inputs = vec![parts[k].as_str(), wn.as_str()];
            if let Some(b) = &bias {
                set_initializer(g, proto::f32_tensor(&bn, &[ocg], &b[k * ocg..(k + 1) * ocg]));
                inputs.push(bn.as_str());
            }
            let mut c = proto::node("Conv", &format!("{}#g{k}", n.name), &inputs, &[&on]);
            c.attribute = n.attribute.iter().filter(|a| a.name != "group").cloned().collect();
            nodes.push(c);
            outs.push(on);
        }
        let mut cat = proto::node("Concat", &format!("{}#concat", n.name), &outs.iter().map(String::as_str).collect::<Vec<_>>(), &[&out]);
        cat.attribute.push(proto::int_attr("axis", 1));
        nodes.push(cat);
        let len = nodes.len();
        g.node.splice(i..=i, nodes);
        i += len;
    }
    Ok(())
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
