//! Shared setup of the per-op tests: an arena laid out by hand, and a check
//! that a kernel wrote its expected output and nothing else.
//!
//! Expected values in these tests are computed by hand from TFLite's
//! reference int8 semantics (the arithmetic is in each test's comments),
//! never by calling this crate.

#![allow(dead_code)] // each test file uses its own part

/// What the arena holds where no operand lies: an output byte the kernel
/// leaves unwritten, or a byte it writes outside its output, shows.
pub const FILL: i8 = 0x5A;

/// Where the tests put the first operand: not at 0, so that a kernel
/// ignoring an operand's offset is caught.
const FIRST: usize = 3;

/// Bytes left between operands.
const GAP: usize = 5;

/// An arena of `len` bytes holding `parts` (offset, bytes), FILL elsewhere.
pub fn arena(len: usize, parts: &[(usize, &[i8])]) -> Vec<i8> {
    let mut a = vec![FILL; len];
    for &(at, bytes) in parts {
        a[at..at + bytes.len()].copy_from_slice(bytes);
    }
    a
}

/// Runs `kernel` on `arena` and asserts that the arena then holds `expected`
/// at `out` and is otherwise unchanged (inputs intact, nothing written
/// outside the output).
pub fn expect_output(
    mut arena: Vec<i8>,
    out: usize,
    expected: &[i8],
    kernel: impl FnOnce(&mut [i8]),
) {
    let mut want = arena.clone();
    want[out..out + expected.len()].copy_from_slice(expected);
    kernel(&mut arena);
    assert_eq!(&arena[out..out + expected.len()], expected, "output");
    assert_eq!(arena, want, "the arena outside the output changed");
}

/// One input, one output of `expected.len()` bytes after it:
/// `kernel(arena, input offset, output offset)`.
pub fn unary(input: &[i8], expected: &[i8], kernel: impl FnOnce(&mut [i8], usize, usize)) {
    let out = FIRST + input.len() + GAP;
    let a = arena(out + expected.len() + GAP, &[(FIRST, input)]);
    expect_output(a, out, expected, |a| kernel(a, FIRST, out));
}

/// Two inputs and an output, one after the other:
/// `kernel(arena, a offset, b offset, output offset)`.
pub fn binary(
    a: &[i8],
    b: &[i8],
    expected: &[i8],
    kernel: impl FnOnce(&mut [i8], usize, usize, usize),
) {
    let at_b = FIRST + a.len() + GAP;
    let out = at_b + b.len() + GAP;
    let arena = arena(out + expected.len() + GAP, &[(FIRST, a), (at_b, b)]);
    expect_output(arena, out, expected, |arena| {
        kernel(arena, FIRST, at_b, out)
    });
}

/// The output written over the input (in place), at a nonzero offset.
pub fn in_place(input: &[i8], expected: &[i8], kernel: impl FnOnce(&mut [i8], usize)) {
    let a = arena(FIRST + input.len() + GAP, &[(FIRST, input)]);
    expect_output(a, FIRST, expected, |a| kernel(a, FIRST));
}
