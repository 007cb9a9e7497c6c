
use model::hybrid::{Hybrid, NoLink};

/// Runs the hybrid with no link on every item and writes each decision
/// (label i32, source i32, score f32), as templates/c/main_hybrid.c; returns
/// the process exit status.
pub fn run(trace: bool) -> i32 {
    let (input, mut tracer, mut arena) = match start(trace) {
        Ok(s) => s,
        Err(status) => return status,
    };
    let mut hybrid = Hybrid::new(&mut arena, NoLink);
    let mut output = Vec::new();
    for chunk in input.chunks_exact(INPUT_BYTES[0]) {
        let bytes: Vec<i8> = chunk.iter().map(|&b| b as i8).collect();
        let d = hybrid.infer_bytes(&bytes, &mut tracer);
        output.extend_from_slice(&d.label.to_le_bytes());
        output.extend_from_slice(&(d.source as i32).to_le_bytes());
        output.extend_from_slice(&d.score.to_le_bytes());
    }
    finish(&output)
}
