//! RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR, int8 (TFLite reference_ops),
//! from ONNX Resize (opset 10+) and Upsample over H and W of an NCHW tensor.
//! The input and output share their quantization, as TFLite's int8 resize
//! requires. Each axis's source coordinates are computed here, once: ONNX's
//! coordinate transformation and nearest rounding for nearest (equal to
//! TFLite's where the modes correspond, e.g. PyTorch's `asymmetric` +
//! `floor` is TFLite's default), TFLite's integer ResizeBilinear
//! coordinates (10 fractional bits) for linear, with `half_pixel` as
//! half_pixel_centers and `align_corners` as align_corners.

use crate::choice;
use anyhow::{anyhow, bail, Result};
use hybridc_kernels::resize as k;

use super::{emit, Built, CCode, CSite, OnnxOp, OpKind, Pending, RustCode, RustSite};
use crate::frontend::layout::NCHW_AS_NHWC;
use crate::frontend::{Act8, Importer, Val};
use crate::ir::{Activation, QParams};

pub static ONNX: &[OnnxOp] = &[
    OnnxOp { onnx: "Resize", import, keeps_scale: true },
    OnnxOp { onnx: "Upsample", import, keeps_scale: true },
];

#[derive(Debug, Clone)]
pub struct Resize {
    pub in_hwc: [usize; 3],
    pub out_hwc: [usize; 3],
    pub bilinear: bool,
    pub ys: Vec<i32>,
    pub xs: Vec<i32>,
}

impl Resize {
    pub fn kernel(&self) -> k::Resize<'_> {
        k::Resize { in_hwc: self.in_hwc, out_hwc: self.out_hwc, bilinear: self.bilinear, ys: &self.ys, xs: &self.xs }
    }
}

impl OpKind for Resize {
    fn name(&self) -> &'static str {
        if self.bilinear { "ResizeBilinear" } else { "ResizeNearestNeighbor" }
    }

    fn flash_bytes(&self) -> usize { 4 * (self.ys.len() + self.xs.len()) }

    fn eval(&self, arena: &mut [i8], at: &super::Offsets) {
        k::resize(&self.kernel(), arena, at.inputs[0], at.output);
    }

    fn c(&self, s: &CSite) -> CCode {
        let l = &s.l;
        let mut data = emit::c_array(l, "ys", "int32_t", &self.ys, false);
        data += &emit::c_array(l, "xs", "int32_t", &self.xs, false);
        data += &format!(
            "static const hyb_resize_params {l}_params = {{ .in_w = {}, .channels = {}, .out_h = {}, .out_w = {}, .bilinear = {}, .ys = {l}_ys, .xs = {l}_xs }};\n",
            self.in_hwc[1], self.in_hwc[2], self.out_hwc[0], self.out_hwc[1], self.bilinear as i32
        );
        s.code("hyb_resize_s8", data)
    }

    fn rust(&self, s: &mut RustSite) -> Result<RustCode> {
        let (input, output) = (s.input(0)?, s.output()?);
        let ys = s.array("YS", "i32", &self.ys);
        let xs = s.array("XS", "i32", &self.xs);
        let consts = format!(
            "const {}: Resize = Resize {{ in_hwc: {:?}, out_hwc: {:?}, bilinear: {}, ys: &{ys}, xs: &{xs} }};\n",
            s.l, self.in_hwc, self.out_hwc, self.bilinear
        );
        Ok(RustCode { consts, call: format!("resize(&{}, arena, {input}, {output});", s.l), uses: vec!["resize::resize".into(), "resize::Resize".into()] })
    }
}

/// How output coordinates map to input coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Coords {
    HalfPixel,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rounding {
    Floor,
    Ceil,
    RoundPreferFloor,
    RoundPreferCeil,
}

#[derive(Debug, Clone)]
struct PendingResize {
    x: Act8,
    bilinear: bool,
    coords: Coords,
    rounding: Rounding,
}

/// Per output coordinate of an axis of `input` -> `output`: the three words
/// of the kernel (lower, upper, distance in 1/1024).
fn axis(input: usize, output: usize, bilinear: bool, coords: Coords, rounding: Rounding) -> Vec<i32> {
    let last = input as i64 - 1;
    let mut v = Vec::with_capacity(3 * output);
    for o in 0..output {
        if bilinear {
            // TFLite's ComputeInterpolationValuesInteger.
            let align = coords == Coords::AlignCorners && output > 1;
            let scale = if align { (input - 1) as f32 / (output - 1) as f32 } else { input as f32 / output as f32 };
            let scale_10 = (scale as f64 * 1024.0).round() as i64;
            let half = matches!(coords, Coords::HalfPixel | Coords::PytorchHalfPixel);
            let scaled = if half { o as i64 * scale_10 + scale_10 / 2 - (1 << 9) } else { o as i64 * scale_10 };
            let lower = (scaled / 1024).max(0);
            let upper = ((scaled + 1023) / 1024).min(last);
            v.extend([lower as i32, upper as i32, (scaled - 1024 * lower) as i32]);
        } else {
            let (i, out) = (input as f64, output as f64);
            let x = match coords {
                Coords::HalfPixel => (o as f64 + 0.5) * i / out - 0.5,
                Coords::PytorchHalfPixel if output > 1 => (o as f64 + 0.5) * i / out - 0.5,
                Coords::PytorchHalfPixel => 0.0,
                Coords::AlignCorners if output > 1 => o as f64 * (i - 1.0) / (out - 1.0),
                Coords::AlignCorners => 0.0,
                Coords::Asymmetric => o as f64 * i / out,
                Coords::TfHalfPixelForNn => (o as f64 + 0.5) * i / out,
            };
            let r = match rounding {
                Rounding::Floor => x.floor(),
                Rounding::Ceil => x.ceil(),
                Rounding::RoundPreferFloor => (x - 0.5).ceil(),
                Rounding::RoundPreferCeil => (x + 0.5).floor(),
            };
            let r = (r as i64).clamp(0, last) as i32;
            v.extend([r, r, 0]);
        }
    }
    v
}

impl Pending for PendingResize {
    fn finish(self: Box<Self>, im: &mut Importer, logical: &[usize], act: Activation, q: QParams) -> Result<Built> {
        super::same_quantization("Resize", act, self.x.q, q)?;
        let xin = im.storage(&self.x, &NCHW_AS_NHWC, "Resize")?;
        let in_hwc = im.g.tensors[xin].hwc();
        let out_hwc = [logical[2], logical[3], logical[1]];
        let ys = axis(in_hwc[0], out_hwc[0], self.bilinear, self.coords, self.rounding);
        let xs = axis(in_hwc[1], out_hwc[1], self.bilinear, self.coords, self.rounding);
        let op = Resize { in_hwc, out_hwc, bilinear: self.bilinear, ys, xs };
        Ok(Built { kind: Box::new(op), inputs: vec![xin], perm: NCHW_AS_NHWC.to_vec() })
    }
}

fn attr_s(im: &Importer, name: &str) -> Option<String> {
    im.node.attribute.iter().find(|a| a.name == name).map(|a| String::from_utf8_lossy(&a.s).to_string())
}

/// A constant float or int64 input, if present and not empty.
fn const_input(im: &Importer, i: usize) -> Result<Option<crate::frontend::Constant>> {
    match im.opt_input(i)? {
        Some(Val::Const(c)) if c.shape.iter().product::<usize>() > 0 => Ok(Some(c.clone())),
        Some(Val::Const(_)) | None => Ok(None),
        Some(_) => bail!("input {i} ('{}') of Resize must be a constant", im.node.input[i]),
    }
}

fn import(im: &mut Importer) -> Result<()> {
    let x = im.deq(0)?;
    if x.logical.len() != 4 {
        bail!("Resize is supported on 4-D NCHW tensors only, input is {:?}", x.logical);
    }
    let upsample = im.node.op_type == "Upsample";
    // Upsample: (X, scales); Resize opset 10: (X, scales); 11+: (X, roi, scales, sizes).
    let (scales, sizes) = if upsample || im.node.input.len() == 2 {
        (const_input(im, 1)?, None)
    } else {
        (const_input(im, 2)?, const_input(im, 3)?)
    };
    let out: Vec<usize> = match (sizes, scales) {
        (Some(s), _) => {
            let v = s.as_i64().ok_or_else(|| anyhow!("Resize sizes must be int64"))?;
            v.iter().map(|&d| usize::try_from(d).map_err(|_| anyhow!("Resize size {d} is negative"))).collect::<Result<_>>()?
        }
        (None, Some(s)) => {
            let v = s.as_f32().ok_or_else(|| anyhow!("Resize scales must be float32"))?;
            if v.len() != 4 || v.iter().any(|s| !s.is_finite() || *s <= 0.0 || *s > 1024.0) {
                bail!("Resize scales {v:?} are not 4 positive values");
            }
            x.logical.iter().zip(&v).map(|(&d, &s)| (d as f64 * s as f64).floor() as usize).collect()
        }
        (None, None) => bail!("Resize needs constant scales or sizes"),
    };
    if out.len() != 4 || out[0] != x.logical[0] || out[1] != x.logical[1] || out[2] == 0 || out[3] == 0 {
        bail!("Resize from {:?} to {out:?}: only H and W may change", x.logical);
    }
    if out[2] > 1 << 15 || out[3] > 1 << 15 || x.logical[2] > 1 << 15 || x.logical[3] > 1 << 15 {
        bail!("Resize to {out:?}: sizes above 32768 are not supported");
    }
    let mode = attr_s(im, "mode").unwrap_or_else(|| "nearest".into());
    let bilinear = match mode.as_str() {
        "nearest" => false,
        "linear" | "bilinear" => true,
        other => bail!("Resize mode '{other}' is not supported (nearest, linear)"),
    };
    let default_coords = if upsample || im.node.input.len() == 2 { "asymmetric" } else { "half_pixel" };
    let coords = choice::parse(
        attr_s(im, "coordinate_transformation_mode").as_deref().unwrap_or(default_coords),
        "Resize coordinate_transformation_mode",
        &[
            ("half_pixel", Coords::HalfPixel),
            ("pytorch_half_pixel", Coords::PytorchHalfPixel),
            ("align_corners", Coords::AlignCorners),
            ("asymmetric", Coords::Asymmetric),
            ("tf_half_pixel_for_nn", Coords::TfHalfPixelForNn),
        ],
    )
    .map_err(anyhow::Error::msg)?;
    if bilinear && coords == Coords::TfHalfPixelForNn {
        bail!("Resize coordinate_transformation_mode 'tf_half_pixel_for_nn' is not supported with mode '{mode}'");
    }
    let default_rounding = if upsample || im.node.input.len() == 2 { "floor" } else { "round_prefer_floor" };
    let rounding = choice::parse(
        attr_s(im, "nearest_mode").as_deref().unwrap_or(default_rounding),
        "Resize nearest_mode",
        &[("floor", Rounding::Floor), ("ceil", Rounding::Ceil), ("round_prefer_floor", Rounding::RoundPreferFloor), ("round_prefer_ceil", Rounding::RoundPreferCeil)],
    )
    .map_err(anyhow::Error::msg)?;
    if im.attr_i("antialias")?.unwrap_or(0) != 0 {
        bail!("Resize with antialias is not supported");
    }
    if attr_s(im, "keep_aspect_ratio_policy").is_some_and(|p| p != "stretch") || im.attr_ints("axes")?.is_some() {
        bail!("Resize with axes or keep_aspect_ratio_policy is not supported");
    }
    im.pending(Box::new(PendingResize { x, bilinear, coords, rounding }), out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_asymmetric_floor_is_pytorch_upsample() {
        // 2 -> 4: source = floor(o / 2).
        assert_eq!(axis(2, 4, false, Coords::Asymmetric, Rounding::Floor), [0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 0]);
    }

    #[test]
    fn bilinear_half_pixel_is_tflite_integer_coordinates() {
        // scale_10 = 512, scaled = 512 o - 256 (kernels/tests/resize.rs).
        assert_eq!(axis(2, 4, true, Coords::HalfPixel, Rounding::Floor), [0, 0, -256, 0, 1, 256, 0, 1, 768, 1, 1, 256]);
        // align_corners 2 -> 3: scale 0.5, scaled = 512 o.
        assert_eq!(axis(2, 3, true, Coords::AlignCorners, Rounding::Floor), [0, 0, 0, 0, 1, 512, 1, 1, 0]);
    }
}
