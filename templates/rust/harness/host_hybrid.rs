//! Host harness of a hybrid: runs the hybrid with no link to the cloud over
//! every item of input.bin and appends each decision (label i32, source i32,
//! score f32) to output.bin, as templates/c/main_hybrid.c; when tracing,
//! every layer's output to trace.bin.

use std::fs::File;
use std::io::{Read, Write};

use model::hybrid::{Hybrid, NoLink};
use model::{Arena, Observer, INPUT_BYTES};

struct Tracer(Option<File>);

impl Observer for Tracer {
    fn layer_done(&mut self, _layer: usize, output: &[i8]) {
        if let Some(f) = &mut self.0 {
            let bytes: Vec<u8> = output.iter().map(|&b| b as u8).collect();
            f.write_all(&bytes).expect("cannot write trace.bin");
        }
    }
}

/// Runs every item; returns the process exit status.
pub fn run(trace: bool) -> i32 {
    let mut input = Vec::new();
    if File::open("input.bin")
        .and_then(|mut f| f.read_to_end(&mut input))
        .is_err()
    {
        eprintln!("hybridc harness: cannot read input.bin");
        return 2;
    }
    let item = INPUT_BYTES[0];
    if item == 0 || !input.len().is_multiple_of(item) {
        eprintln!("hybridc harness: input.bin is not a whole number of input items");
        return 2;
    }
    let mut tracer =
        Tracer(trace.then(|| File::create("trace.bin").expect("cannot create trace.bin")));
    let mut arena = Box::new(Arena::new());
    let mut hybrid = Hybrid::new(&mut arena, NoLink);
    let mut output = Vec::new();
    for chunk in input.chunks_exact(item) {
        let bytes: Vec<i8> = chunk.iter().map(|&b| b as i8).collect();
        let d = hybrid.infer_bytes(&bytes, &mut tracer);
        output.extend_from_slice(&d.label.to_le_bytes());
        output.extend_from_slice(&(d.source as i32).to_le_bytes());
        output.extend_from_slice(&d.score.to_le_bytes());
    }
    if std::fs::write("output.bin", &output).is_err() {
        eprintln!("hybridc harness: cannot write output.bin");
        return 2;
    }
    0
}
