
use model::{Model, OUTPUT_BYTES};

/// Runs every item of input.bin and exits QEMU.
pub fn run(arena: &mut Arena, trace: bool, profile: bool) -> ! {
    let f = open_files(trace);
    let mut harness = Harness {
        trace: f.trace,
        profile,
    };
    let mut model = Model::new(arena);
    for _ in 0..f.items {
        for k in 0..INPUT_BYTES.len() {
            if !semihosting::read(f.input, model.input_bytes(k)) {
                fail("short read from input.bin");
            }
        }
        model.run(&mut harness);
        for k in 0..OUTPUT_BYTES.len() {
            if !semihosting::write(f.output, model.output_bytes(k)) {
                fail("short write to output.bin");
            }
        }
    }
    finish(f)
}
