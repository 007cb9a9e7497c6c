//! Host harness: runs the model (or the hybrid, with a TCP link to the
//! gateway named by HYB_GATEWAY) over every item of input.bin (items back to back), appends each item's
//! outputs (or decision) to output.bin and, when tracing, every layer's
//! output to trace.bin. `run` follows (run_host.rs or run_host_hybrid.rs).

use std::fs::File;
use std::io::{Read, Write};

use model::{Arena, Observer, INPUT_BYTES};

/// Copies every layer's output to trace.bin, when tracing.
struct Tracer(Option<File>);

impl Observer for Tracer {
    fn layer_done(&mut self, _layer: usize, output: &[i8]) {
        if let Some(f) = &mut self.0 {
            let bytes: Vec<u8> = output.iter().map(|&b| b as u8).collect();
            f.write_all(&bytes).expect("cannot write trace.bin");
        }
    }
}

/// input.bin, the tracer and a zeroed arena; or the exit status.
fn start(trace: bool) -> Result<(Vec<u8>, Tracer, Box<Arena>), i32> {
    let mut input = Vec::new();
    if File::open("input.bin")
        .and_then(|mut f| f.read_to_end(&mut input))
        .is_err()
    {
        eprintln!("hybridc harness: cannot read input.bin");
        return Err(2);
    }
    let item: usize = INPUT_BYTES.iter().sum();
    if item == 0 || !input.len().is_multiple_of(item) {
        eprintln!("hybridc harness: input.bin is not a whole number of input items");
        return Err(2);
    }
    let tracer = Tracer(trace.then(|| File::create("trace.bin").expect("cannot create trace.bin")));
    Ok((input, tracer, Box::new(Arena::new())))
}

/// Writes output.bin; returns the exit status.
fn finish(output: &[u8]) -> i32 {
    if std::fs::write("output.bin", output).is_err() {
        eprintln!("hybridc harness: cannot write output.bin");
        return 2;
    }
    0
}
