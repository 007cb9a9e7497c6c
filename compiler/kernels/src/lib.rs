#![no_std]
#![forbid(unsafe_code)]
//! hybridc's kernels: the int8 and float32 kernels with their parameters,
//! TFLite Micro's semantics. One source: hybridc's reference interpreter
//! runs them, and every generated Rust crate carries this crate's files. Every kernel works on the whole arena with the byte offsets of
//! its operands, so a layer may write over an input as the memory plan
//! allows (outputs are written pixel by pixel in raster order). Kernels are
//! `#[inline(always)]`: each layer's call gets its own copy, specialised for
//! the layer's constant parameters.

pub mod add;
pub mod conv;
pub mod elementwise;
pub mod fixedpoint;
pub mod float;
pub mod floatmath;
pub mod frame;
pub mod fully_connected;
pub mod pool;
pub mod resize;
pub mod shape;
pub mod softmax;

/// Reads the little-endian f32 at `at` of the arena.
#[inline(always)]
pub fn read_f32(arena: &[i8], at: usize) -> f32 {
    let b = &arena[at..at + 4];
    f32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
}

/// Writes `v` little-endian at `at` of the arena.
#[inline(always)]
pub fn write_f32(arena: &mut [i8], at: usize, v: f32) {
    for (d, s) in arena[at..at + 4].iter_mut().zip(v.to_le_bytes()) {
        *d = s as i8;
    }
}

/// Where an int8 operand lives: in the arena at a byte offset, or in flash
/// (a constant tensor).
#[derive(Clone, Copy)]
pub enum S8 {
    Arena(usize),
    Const(&'static [i8]),
}

impl S8 {
    /// Element `i` of the operand.
    #[inline(always)]
    pub fn get(&self, arena: &[i8], i: usize) -> i8 {
        match *self {
            S8::Arena(at) => arena[at + i],
            S8::Const(c) => c[i],
        }
    }
}

/// The flat index of `i` under `s` (per dim, the stride).
#[inline(always)]
pub fn dot(s: &[usize; 4], i: [usize; 4]) -> usize {
    i[0] * s[0] + i[1] * s[1] + i[2] * s[2] + i[3] * s[3]
}

/// Calls `f` with every index of `shape` in row-major order.
#[inline(always)]
pub fn for4(shape: &[usize; 4], mut f: impl FnMut([usize; 4])) {
    for i0 in 0..shape[0] {
        for i1 in 0..shape[1] {
            for i2 in 0..shape[2] {
                for i3 in 0..shape[3] {
                    f([i0, i1, i2, i3]);
                }
            }
        }
    }
}
