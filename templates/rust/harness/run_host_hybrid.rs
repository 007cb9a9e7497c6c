
use std::net::TcpStream;
use std::time::Duration;

use model::hybrid::{exchange, Hybrid, Offload, OffloadError};

/// The link to `hybridc gateway` named by HYB_GATEWAY (host:port), as
/// runtime-c/platform/offload_tcp.c: connects on first use and again after
/// a failure; with no gateway named, every routed input falls back.
struct TcpLink {
    gateway: Option<String>,
    stream: Option<TcpStream>,
}

impl Offload for TcpLink {
    fn offload(&mut self, frame: &[u8]) -> Result<i32, OffloadError> {
        let gateway = self.gateway.as_deref().ok_or(OffloadError::NoLink)?;
        if self.stream.is_none() {
            let s = TcpStream::connect(gateway).map_err(|_| OffloadError::NoLink)?;
            // The gateway answers within its cloud timeout.
            s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|_| OffloadError::NoLink)?;
            self.stream = Some(s);
        }
        let Some(mut s) = self.stream.as_ref() else {
            return Err(OffloadError::NoLink);
        };
        let mut w = s;
        let r = exchange(
            frame,
            |f| w.write_all(f).is_ok(),
            || {
                let mut b = [0u8; 1];
                matches!(s.read(&mut b), Ok(1)).then_some(b[0])
            },
        );
        if r == Err(OffloadError::NoLink) {
            self.stream = None;
        }
        r
    }
}

/// Runs the hybrid on every item, asking the gateway named by HYB_GATEWAY
/// (if any), and writes each decision (label i32, source i32, score f32),
/// as templates/c/main_hybrid.c; returns the process exit status.
pub fn run(trace: bool) -> i32 {
    let (input, mut tracer, mut arena) = match start(trace) {
        Ok(s) => s,
        Err(status) => return status,
    };
    let link = TcpLink {
        gateway: std::env::var("HYB_GATEWAY").ok(),
        stream: None,
    };
    let mut hybrid = Hybrid::new(&mut arena, link);
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
