//! Firmware harness (cortex-m-rt): runs the model (or the hybrid, linked
//! to the cloud over the UART with the `uart` feature) over every item of input.bin, read over Arm
//! semihosting, and writes output.bin (and trace.bin); with profiling, marks
//! each layer for hybridc's QEMU profiler. `run` follows (run_firmware.rs or
//! run_firmware_hybrid.rs).
#![no_std]

use core::sync::atomic::{AtomicU32, Ordering};

use model::{Arena, Observer, INPUT_BYTES, LAYERS};

/// Arm semihosting calls, as QEMU serves them.
pub mod semihosting {
    const OPEN: u32 = 0x01;
    const CLOSE: u32 = 0x02;
    const WRITEC: u32 = 0x03;
    const WRITE: u32 = 0x05;
    const READ: u32 = 0x06;
    const FLEN: u32 = 0x0C;
    const EXIT_EXTENDED: u32 = 0x20;

    fn call(op: u32, args: &[u32]) -> i32 {
        let result: i32;
        // SAFETY: `bkpt 0xab` hands the request to the debugger (QEMU), which
        // reads the argument block and the buffers it points to, all of
        // which outlive the call; READ writes only into the buffer given.
        unsafe {
            core::arch::asm!("bkpt #0xab", inout("r0") op => result, in("r1") args.as_ptr(), options(nostack));
        }
        result
    }

    /// Opens a file; `path` ends with a NUL. Mode 1: read binary, 5: write binary.
    pub fn open(path: &[u8], mode: u32) -> Option<u32> {
        let h = call(OPEN, &[path.as_ptr() as u32, mode, path.len() as u32 - 1]);
        (h >= 0).then_some(h as u32)
    }

    pub fn close(h: u32) {
        call(CLOSE, &[h]);
    }

    /// Length of an open file.
    pub fn flen(h: u32) -> i32 {
        call(FLEN, &[h])
    }

    /// Reads into `buf`; true when it was filled.
    pub fn read(h: u32, buf: &mut [i8]) -> bool {
        call(READ, &[h, buf.as_mut_ptr() as u32, buf.len() as u32]) == 0
    }

    /// Writes `buf`; true when all of it was written.
    pub fn write(h: u32, buf: &[i8]) -> bool {
        call(WRITE, &[h, buf.as_ptr() as u32, buf.len() as u32]) == 0
    }

    /// Prints a message on the debug console (QEMU's stderr).
    pub fn print(msg: &str) {
        for b in msg.bytes() {
            call(WRITEC, &[&b as *const u8 as u32]);
        }
    }

    /// Ends the program with `status` as QEMU's exit status.
    pub fn exit(status: u32) -> ! {
        loop {
            call(EXIT_EXTENDED, &[0x20026, status]);
        }
    }
}

/// The profiler watches stores into this array to attribute instructions to layers.
#[export_name = "hyb_prof_marks"]
static PROF_MARKS: [AtomicU32; LAYERS + 1] = [const { AtomicU32::new(0) }; LAYERS + 1];

/// Marks the start of region `region`; never inlined, so its code stays in
/// the one address range the profiler watches.
#[inline(never)]
#[export_name = "hyb_prof_mark"]
pub fn prof_mark(region: usize) {
    if let Some(m) = PROF_MARKS.get(region) {
        m.store(1, Ordering::Relaxed);
    }
}

/// Files and item count of a run: input.bin, output.bin, trace.bin.
struct Files {
    input: u32,
    output: u32,
    trace: Option<u32>,
    items: usize,
}

/// Opens the files; exits QEMU when input.bin is not whole items.
fn open_files(trace: bool) -> Files {
    let input =
        semihosting::open(b"input.bin\0", 1).unwrap_or_else(|| fail("cannot open input.bin"));
    let output =
        semihosting::open(b"output.bin\0", 5).unwrap_or_else(|| fail("cannot open output.bin"));
    let trace = match trace {
        true => Some(
            semihosting::open(b"trace.bin\0", 5).unwrap_or_else(|| fail("cannot open trace.bin")),
        ),
        false => None,
    };
    let item: usize = INPUT_BYTES.iter().sum();
    let len = semihosting::flen(input);
    if len < 0 || item == 0 || !(len as usize).is_multiple_of(item) {
        fail("input.bin is not a whole number of input items");
    }
    Files { input, output, trace, items: len as usize / item }
}

/// Closes the files and exits QEMU with status 0.
fn finish(f: Files) -> ! {
    for h in [Some(f.input), Some(f.output), f.trace].into_iter().flatten() {
        semihosting::close(h);
    }
    semihosting::exit(0)
}

struct Harness {
    trace: Option<u32>,
    profile: bool,
}

impl Observer for Harness {
    fn layer_start(&mut self, layer: usize) {
        if self.profile {
            prof_mark(layer);
        }
    }
    fn layer_done(&mut self, _layer: usize, output: &[i8]) {
        if let Some(h) = self.trace {
            if !semihosting::write(h, output) {
                fail("short write to trace.bin");
            }
        }
    }
}

fn fail(msg: &str) -> ! {
    semihosting::print("hybridc firmware: ");
    semihosting::print(msg);
    semihosting::print("\n");
    semihosting::exit(2)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    semihosting::print("hybridc firmware: panic\n");
    semihosting::exit(101)
}

#[cortex_m_rt::exception]
unsafe fn HardFault(_frame: &cortex_m_rt::ExceptionFrame) -> ! {
    semihosting::print("hybridc firmware: HardFault\n");
    semihosting::exit(101)
}
