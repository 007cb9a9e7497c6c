//! Per-layer SQNR of the int8 reference against tract's float result on the
//! calibration data: 10 log10(sum f^2 / sum (f - dequantized q)^2), in dB.

use std::collections::HashMap;

use anyhow::Result;

use crate::lower::Compiled;
use crate::quant::ptq::insert::float_name;
use crate::quant::ptq::Quantized;

/// SQNR per IR op (None where the op has no float counterpart).
pub fn per_layer(c: &Compiled, q: &Quantized, samples: &[Vec<f32>]) -> Result<Vec<Option<f64>>> {
    let g = &c.graph;
    let index: HashMap<&str, usize> = q.points.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
    let target: Vec<Option<usize>> = g
        .ops
        .iter()
        .map(|op| {
            let name = g.tensors[op.output].name.as_str();
            if g.tensors[op.output].quant.is_none() {
                return None;
            }
            index.get(name).or_else(|| index.get(float_name(name))).copied()
        })
        .collect();
    let mut signal = vec![0f64; g.ops.len()];
    let mut noise = vec![0f64; g.ops.len()];
    for x in samples {
        let float = q.runner.run(x)?;
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let values = crate::reference::run(g, &[&bytes])?;
        for (k, op) in g.ops.iter().enumerate() {
            let (Some(i), Some(v)) = (target[k], values[op.output].as_ref()) else { continue };
            let t = &g.tensors[op.output];
            let Some(qp) = t.quant else { continue };
            for (&f, &b) in t.to_storage_order(&float[i]).iter().zip(v.iter()) {
                let d = (b as i8 as i32 - qp.zero_point) as f64 * qp.scale as f64;
                signal[k] += (f as f64) * (f as f64);
                noise[k] += (f as f64 - d) * (f as f64 - d);
            }
        }
    }
    Ok((0..g.ops.len())
        .map(|k| {
            target[k].map(|_| if noise[k] == 0.0 { 99.0 } else { 10.0 * (signal[k] / noise[k]).max(1e-12).log10() })
        })
        .collect())
}
