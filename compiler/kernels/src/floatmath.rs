//! exp and log in float32 from +, -, *, / only, in a fixed order, so the
//! Rust reference and the C kernels (runtime-c/kernels/hyb_floatmath.h) give
//! the same bits on every target, whatever its libm. Accurate to about 2 ulp.
//! The Rust backend copies this file (without its tests) into every
//! generated crate (`src/kernels/floatmath.rs`), so it stays `no_std`.

// The same f32 as LOG2_E, written as in hyb_floatmath.h.
#[allow(clippy::approx_constant)]
const LOG2E: f32 = 1.442_695_f32;
const LN2_HI: f32 = 0.693_145_75_f32;
const LN2_LO: f32 = 1.428_606_8e-6_f32;

/// 2^n for n in [-126, 127], built from the exponent bits.
pub fn pow2i(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// e^x.
pub fn expf(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.7 {
        return f32::INFINITY;
    }
    if x < -87.3 {
        return 0.0;
    }
    let t = x * LOG2E + 0.5;
    let n = t as i32 - i32::from(t < 0.0 && t != (t as i32) as f32); // floor
    let nf = n as f32;
    let r = (x - nf * LN2_HI) - nf * LN2_LO;
    // exp(r) on |r| <= ln2/2 by its Taylor series to degree 7.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * pow2i(n)
}

/// The natural logarithm.
pub fn logf(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == 0.0 {
        return f32::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // Subnormals: scale into the normal range first.
    let (x, bias) = if x < f32::MIN_POSITIVE {
        (x * 16_777_216.0, -24)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127 + bias;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000); // [1, 2)
    if m > core::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let series = 1.0
        + z * (1.0 / 3.0 + z * (1.0 / 5.0 + z * (1.0 / 7.0 + z * (1.0 / 9.0 + z * (1.0 / 11.0)))));
    let ef = e as f32;
    ef * LN2_HI + (ef * LN2_LO + 2.0 * s * series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_libm() {
        for i in -2000..2000 {
            let x = i as f32 * 0.043;
            let (a, b) = (expf(x), x.exp());
            assert!(((a - b) / b).abs() < 1e-6, "exp({x}) = {a}, libm {b}");
        }
        for i in 1..4000 {
            let x = i as f32 * 0.0137 + 1e-6 * i as f32;
            let (a, b) = (logf(x), x.ln());
            assert!(
                (a - b).abs() < 2e-6 * b.abs().max(1.0),
                "log({x}) = {a}, libm {b}"
            );
        }
        assert_eq!(logf(0.0), f32::NEG_INFINITY);
        assert_eq!(expf(-200.0), 0.0);
    }
}
