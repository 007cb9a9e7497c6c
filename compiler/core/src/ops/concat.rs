//! Concatenation along a storage axis, int8, each input requantized to the
//! output's scale where they differ (TFLite's Concatenation).

use anyhow::{anyhow, bail, Result};
use hybridc_kernels::shape as k;

use super::{Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::{Act8, Importer};
use crate::ir::{Activation, DType, QParams};
use crate::quant::fixedpoint::quantize_multiplier;

pub static ONNX: &[OnnxOp] = &[OnnxOp { onnx: "Concat", import, keeps_scale: false }];

/// One kernel call per input, each writing its chunks into the output.
#[derive(Debug, Clone)]
pub struct Concat {
    pub parts: Vec<k::ConcatPart>,
}

impl Concat {
    /// Where each input's first chunk lands in the output.
    fn starts(&self) -> impl Iterator<Item = (usize, &k::ConcatPart)> {
        self.parts.iter().scan(0, |at, p| {
            let start = *at;
            *at += p.inner;
            Some((start, p))
        })
    }
}

impl OpKind for Concat {
    fn name(&self) -> &'static str { "Concat" }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        for (k, (start, p)) in self.starts().enumerate() {
            k::concat_part(p, arena, hybridc_kernels::S8::Arena(at.inputs[k]), at.output + start);
        }
    }

    fn c(&self, s: &CSite) -> CCode {
        let l = &s.l;
        let items: Vec<String> = self
            .parts
            .iter()
            .map(|p| {
                let (m, sh) = p.requant.unwrap_or((0, 0));
                format!("{{ .inner = {}, .input_offset = {}, .requant = {}, .multiplier = {m}, .shift = {sh} }}", p.inner, p.input_offset, p.requant.is_some() as i32)
            })
            .collect();
        let (outer, output_offset) = self.parts.first().map_or((0, 0), |p| (p.outer, p.output_offset));
        let data = format!(
            "static const hyb_concat_input {l}_inputs[{}] = {{\n    {}\n}};\nstatic const hyb_concat_params {l}_params = {{ .outer = {outer}, .output_offset = {output_offset}, .num_inputs = {}, .inputs = {l}_inputs }};\n",
            items.len(),
            items.join(",\n    "),
            items.len()
        );
        let ptrs: Vec<String> = s.inputs.iter().map(|i| format!("(const int8_t *)({i})")).collect();
        CCode { data, call: format!("{{ const int8_t *const in[] = {{ {} }}; hyb_concat_s8(&{l}_params, in, {}); }}", ptrs.join(", "), s.output) }
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let output = s.output()?;
        let (mut consts, mut call) = (String::new(), String::new());
        for (k, (start, p)) in self.starts().enumerate() {
            let t = s.op.inputs[k];
            consts += &format!("const {}_{k}: ConcatPart = {p:?};\n", s.l);
            let operand = s.operand(t, DType::I8)?;
            call += &format!("concat_part(&{}_{k}, arena, {operand}, {});", s.l, output + start);
        }
        Ok(RustCode { consts, call, uses: vec!["shape::concat_part".into(), "shape::ConcatPart".into(), "S8".into()] })
    }
}

#[derive(Debug, Clone)]
struct PendingConcat {
    xs: Vec<Act8>,
    axis: usize,
}

impl Pending for PendingConcat {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        if act != Activation::None {
            bail!("an activation after Concat is not supported");
        }
        let perm = self.xs[0].perm.clone();
        let ids = self.xs.iter().map(|x| im.broadcast_operand(x, &x.logical.clone(), &perm)).collect::<Result<Vec<_>>>()?;
        let axis = perm.iter().position(|&d| d == self.axis).ok_or_else(|| anyhow!("Concat axis {} is not in the layout", self.axis))?;
        let out = crate::frontend::layout::storage_shape(logical, &perm);
        let outer: usize = out[..axis].iter().product();
        let inners: Vec<usize> = ids.iter().map(|&t| im.g.tensors[t].shape[axis..].iter().product()).collect();
        let stride = inners.iter().sum();
        let parts = self
            .xs
            .iter()
            .zip(inners)
            .map(|(x, inner)| k::ConcatPart {
                outer,
                inner,
                stride,
                input_offset: -x.q.zero_point,
                output_offset: q.zero_point,
                requant: (x.q != q).then(|| quantize_multiplier(x.q.scale as f64 / q.scale as f64)),
            })
            .collect();
        Ok(Built { kind: Box::new(Concat { parts }), inputs: ids, perm })
    }
}

fn import(im: &mut Importer) -> Result<()> {
    let xs: Vec<Act8> = (0..im.node.input.len()).map(|i| im.operand(i)).collect::<Result<_>>()?;
    let first = xs.first().ok_or_else(|| anyhow!("Concat needs inputs"))?;
    let rank = first.logical.len() as i64;
    let axis = im.attr_i("axis")?.ok_or_else(|| anyhow!("Concat needs an axis"))?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis < 0 || axis >= rank {
        bail!("Concat axis {axis} is out of range for rank {rank}");
    }
    let axis = axis as usize;
    let mut logical = first.logical.clone();
    for x in &xs[1..] {
        if x.logical.len() != logical.len() || (0..logical.len()).any(|d| d != axis && x.logical[d] != logical[d]) {
            bail!("Concat inputs {:?} and {:?} differ off the axis", logical, x.logical);
        }
        logical[axis] += x.logical[axis];
    }
    im.pending(Box::new(PendingConcat { xs, axis }), logical);
    Ok(())
}
