
use model::hybrid::{Hybrid, NoLink};

/// Runs the hybrid on every item of input.bin with no link to the cloud and
/// writes each decision (label i32, source i32, score f32) to output.bin, as
/// templates/c/main_hybrid.c; exits QEMU.
pub fn run(arena: &mut Arena, trace: bool, profile: bool) -> ! {
    let f = open_files(trace);
    let mut harness = Harness {
        trace: f.trace,
        profile,
    };
    let mut hybrid = Hybrid::new(arena, NoLink);
    let mut buf = [0i8; INPUT_BYTES[0]];
    for _ in 0..f.items {
        if !semihosting::read(f.input, &mut buf) {
            fail("short read from input.bin");
        }
        let d = hybrid.infer_bytes(&buf, &mut harness);
        let mut record = [0i8; 12];
        let fields = [
            d.label.to_le_bytes(),
            (d.source as i32).to_le_bytes(),
            d.score.to_bits().to_le_bytes(),
        ];
        for (o, b) in record.iter_mut().zip(fields.iter().flatten()) {
            *o = *b as i8;
        }
        if !semihosting::write(f.output, &record) {
            fail("short write to output.bin");
        }
    }
    finish(f)
}
