
use model::hybrid::Hybrid;
#[cfg(not(feature = "uart"))]
use model::hybrid::NoLink;

/// The link over UART0 of QEMU's MPS2 boards (CMSDK APB UART at
/// 0x40004000 on mps2-an386 and mps2-an500), which `hybridc run --cloud`
/// connects to the gateway with `-serial tcp:...`, as
/// runtime-c/platform/offload_uart.c. Built with the `uart` feature.
#[cfg(feature = "uart")]
mod uart {
    use model::hybrid::{exchange, Offload, OffloadError};

    const DATA: usize = 0x4000_4000;
    const STATE: usize = DATA + 0x04;
    const CTRL: usize = DATA + 0x08;
    const BAUDDIV: usize = DATA + 0x10;
    const TX_FULL: u32 = 1;
    const RX_FULL: u32 = 2;
    /// A reply that does not come within this many polls makes the device
    /// use its own answer.
    const POLL_BUDGET: u32 = 50_000_000;

    fn read(reg: usize) -> u32 {
        // SAFETY: a register of the board's UART0, always mapped.
        unsafe { core::ptr::read_volatile(reg as *const u32) }
    }

    fn write(reg: usize, v: u32) {
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile(reg as *mut u32, v) }
    }

    pub struct UartLink {
        pub ready: bool,
    }

    impl Offload for UartLink {
        fn offload(&mut self, frame: &[u8]) -> Result<i32, OffloadError> {
            if !self.ready {
                write(BAUDDIV, 16);
                write(CTRL, 3); // TX and RX enabled
                self.ready = true;
            }
            let send = |f: &[u8]| {
                for &b in f {
                    while read(STATE) & TX_FULL != 0 {}
                    write(DATA, u32::from(b));
                }
                true
            };
            let get_byte = || (0..POLL_BUDGET).find(|_| read(STATE) & RX_FULL != 0).map(|_| read(DATA) as u8);
            exchange(frame, send, get_byte)
        }
    }
}

/// Runs the hybrid on every item of input.bin (asking the cloud over the
/// UART when built with `uart`, else with no link) and writes each decision
/// (label i32, source i32, score f32) to output.bin, as
/// templates/c/main_hybrid.c; exits QEMU.
pub fn run(arena: &mut Arena, trace: bool, profile: bool) -> ! {
    let f = open_files(trace);
    let mut harness = Harness {
        trace: f.trace,
        profile,
    };
    #[cfg(feature = "uart")]
    let link = uart::UartLink { ready: false };
    #[cfg(not(feature = "uart"))]
    let link = NoLink;
    let mut hybrid = Hybrid::new(arena, link);
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
