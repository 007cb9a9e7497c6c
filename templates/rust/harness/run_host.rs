
use model::{Model, OUTPUT_BYTES};

/// Runs every item; returns the process exit status.
pub fn run(trace: bool) -> i32 {
    let (input, mut tracer, mut arena) = match start(trace) {
        Ok(s) => s,
        Err(status) => return status,
    };
    let mut model = Model::new(&mut arena);
    let mut output = Vec::new();
    for chunk in input.chunks_exact(INPUT_BYTES.iter().sum()) {
        let mut at = 0;
        for (k, &n) in INPUT_BYTES.iter().enumerate() {
            for (d, &s) in model.input_bytes(k).iter_mut().zip(&chunk[at..at + n]) {
                *d = s as i8;
            }
            at += n;
        }
        model.run(&mut tracer);
        for k in 0..OUTPUT_BYTES.len() {
            output.extend(model.output_bytes(k).iter().map(|&b| b as u8));
        }
    }
    finish(&output)
}
