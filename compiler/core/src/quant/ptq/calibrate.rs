//! Activation ranges from calibration data: min/max, a percentile clip, or
//! the clip that minimises the int8 quantization error (MSE).

use crate::ir::QParams;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    MinMax,
    Percentile,
    Mse,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::choice::parse(s, "calibration method", &[("minmax", Method::MinMax), ("percentile", Method::Percentile), ("mse", Method::Mse)])
    }
}

/// What calibration saw of one tensor.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub min: f32,
    pub max: f32,
    /// A deterministic sample of the values (every k-th, capped).
    pub sample: Vec<f32>,
    seen: u64,
}

const SAMPLE_CAP: usize = 1 << 17;

impl Stats {
    pub fn add(&mut self, values: &[f32]) {
        for &v in values {
            if self.seen == 0 {
                self.min = v;
                self.max = v;
            }
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            // Thin the sample as more values arrive, deterministically.
            let stride = self.seen / SAMPLE_CAP as u64 + 1;
            if self.seen % stride == 0 && self.sample.len() < 4 * SAMPLE_CAP {
                self.sample.push(v);
            }
            self.seen += 1;
        }
    }
}

/// Asymmetric int8 parameters covering [lo, hi] (widened to include 0).
pub fn qparams(lo: f32, hi: f32) -> QParams {
    let lo = lo.min(0.0);
    let hi = hi.max(0.0);
    let mut scale = (hi - lo) / 255.0;
    if scale <= 0.0 || !scale.is_finite() {
        scale = 1.0 / 255.0; // a constant-zero tensor
    }
    let zp = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i32;
    QParams { scale, zero_point: zp }
}

fn mse(sample: &[f32], q: QParams) -> f64 {
    sample
        .iter()
        .map(|&x| {
            let r = ((x / q.scale).round() as i32 + q.zero_point).clamp(-128, 127);
            let d = (r - q.zero_point) as f32 * q.scale - x;
            (d as f64) * (d as f64)
        })
        .sum::<f64>()
}

pub fn choose(s: &Stats, method: Method) -> QParams {
    match method {
        Method::MinMax => qparams(s.min, s.max),
        Method::Percentile => {
            let mut v = s.sample.clone();
            v.sort_by(|a, b| a.total_cmp(b));
            if v.is_empty() {
                return qparams(s.min, s.max);
            }
            let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
            qparams(at(0.0001), at(0.9999))
        }
        Method::Mse => {
            let mut best = qparams(s.min, s.max);
            let mut best_err = mse(&s.sample, best);
            for k in 1..60 {
                let f = 1.0 - k as f32 * 0.015;
                let q = qparams(s.min * f, s.max * f);
                let e = mse(&s.sample, q);
                if e < best_err {
                    best = q;
                    best_err = e;
                }
            }
            best
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_exact_and_range_covered() {
        let q = qparams(-1.0, 3.0);
        assert!(((-128 - q.zero_point) as f32 * q.scale + 1.0).abs() < q.scale);
        assert!(((127 - q.zero_point) as f32 * q.scale - 3.0).abs() < q.scale);
        let relu = qparams(0.0, 6.0);
        assert_eq!(relu.zero_point, -128);
    }

    #[test]
    fn percentile_and_mse_clip_an_outlier() {
        let mut s = Stats::default();
        let mut v: Vec<f32> = (0..20000).map(|i| ((i % 200) as f32 - 100.0) / 100.0).collect();
        v.push(50.0);
        s.add(&v);
        assert!(choose(&s, Method::MinMax).scale > 0.19);
        assert!(choose(&s, Method::Percentile).scale < 0.01);
        assert!(choose(&s, Method::Mse).scale < choose(&s, Method::MinMax).scale);
    }
}
