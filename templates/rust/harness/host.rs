//! Host harness: runs the model over every item of input.bin (items back to
//! back), appends each item's outputs to output.bin and, when tracing, every
//! layer's output to trace.bin.

use std::fs::File;
use std::io::{Read, Write};

use model::{Arena, Model, Observer, INPUT_BYTES, OUTPUT_BYTES};

struct Tracer(File);

impl Observer for Tracer {
    fn layer_done(&mut self, _layer: usize, output: &[i8]) {
        let bytes: Vec<u8> = output.iter().map(|&b| b as u8).collect();
        self.0.write_all(&bytes).expect("cannot write trace.bin");
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
    let item: usize = INPUT_BYTES.iter().sum();
    if item == 0 || !input.len().is_multiple_of(item) {
        eprintln!("hybridc harness: input.bin is not a whole number of input items");
        return 2;
    }
    let mut output = Vec::new();
    let mut tracer = match trace {
        true => Some(Tracer(
            File::create("trace.bin").expect("cannot create trace.bin"),
        )),
        false => None,
    };
    let mut arena = Box::new(Arena::new());
    let mut model = Model::new(&mut arena);
    for chunk in input.chunks_exact(item) {
        let mut at = 0;
        for (k, &n) in INPUT_BYTES.iter().enumerate() {
            for (d, &s) in model.input_bytes(k).iter_mut().zip(&chunk[at..at + n]) {
                *d = s as i8;
            }
            at += n;
        }
        match &mut tracer {
            Some(t) => model.run(t),
            None => model.run(&mut ()),
        }
        for k in 0..OUTPUT_BYTES.len() {
            output.extend(model.output_bytes(k).iter().map(|&b| b as u8));
        }
    }
    if std::fs::write("output.bin", &output).is_err() {
        eprintln!("hybridc harness: cannot write output.bin");
        return 2;
    }
    0
}
