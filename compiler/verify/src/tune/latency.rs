//! The latency model of a hybrid (the paper's): every input pays the edge
//! (and router) on the device; a queried input also pays the uplink of its
//! query frame, the round trip and the cloud's inference:
//!   t = t_edge + q * (payload_bits / uplink_bps + rtt + t_cloud)
//! Cloud-only pays the last three for every input (no edge inference).

use std::borrow::Cow;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// A network link: uplink rate and round-trip time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// A preset's name, or "custom".
    pub name: Cow<'static, str>,
    pub uplink_kbps: f64,
    pub rtt_ms: f64,
}

/// Presets. Figures are representative field values, not peak rates:
/// - nbiot: NB-IoT (3GPP Rel-13 Cat-NB1). Single-tone uplink peaks near
///   60 kbit/s at the physical layer; 3GPP TR 45.820 targets latency under
///   10 s for an exception report. We take 20 kbit/s effective uplink and a
///   1 s round trip (connected mode, good coverage).
/// - ltem: LTE-M (Cat-M1, 3GPP Rel-13), uplink peak 1 Mbit/s (GSMA "LTE-M
///   Deployment Guide"); we take 300 kbit/s effective and 150 ms round trip.
/// - lte: LTE Cat-4 uplink peak 50 Mbit/s; we take 5 Mbit/s and 50 ms.
/// - wifi: 802.11n on a microcontroller module; we take 10 Mbit/s and 10 ms.
pub const PRESETS: [Link; 4] = [
    Link { name: Cow::Borrowed("nbiot"), uplink_kbps: 20.0, rtt_ms: 1000.0 },
    Link { name: Cow::Borrowed("ltem"), uplink_kbps: 300.0, rtt_ms: 150.0 },
    Link { name: Cow::Borrowed("lte"), uplink_kbps: 5000.0, rtt_ms: 50.0 },
    Link { name: Cow::Borrowed("wifi"), uplink_kbps: 10000.0, rtt_ms: 10.0 },
];

/// Parses a preset name or `KBPS,RTT_MS`.
pub fn parse_link(s: &str) -> Result<Link> {
    if let Some(l) = PRESETS.iter().find(|l| l.name == s) {
        return Ok(l.clone());
    }
    let parts: Vec<&str> = s.split(',').collect();
    if let [k, r] = parts.as_slice() {
        if let (Ok(k), Ok(r)) = (k.trim().parse::<f64>(), r.trim().parse::<f64>()) {
            if k > 0.0 && r >= 0.0 {
                return Ok(Link { name: Cow::Borrowed("custom"), uplink_kbps: k, rtt_ms: r });
            }
        }
    }
    bail!("--link '{s}' is not nbiot, ltem, lte, wifi or KBPS,RTT_MS (e.g. 50,200)")
}

/// Everything the latency of one operating point depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub link: Link,
    /// Edge + router inference on the device, ms.
    pub edge_ms: f64,
    /// The cloud model's inference, ms.
    pub cloud_ms: f64,
    /// Bytes sent per query (the whole frame).
    pub payload_bytes: usize,
}

impl Model {
    /// One query's cost: uplink + round trip + cloud inference, ms.
    pub fn query_ms(&self) -> f64 {
        (self.payload_bytes * 8) as f64 / self.link.uplink_kbps + self.link.rtt_ms + self.cloud_ms
    }

    /// Mean latency at query rate `q`.
    pub fn hybrid_ms(&self, q: f64) -> f64 {
        self.edge_ms + q * self.query_ms()
    }

    pub fn cloud_only_ms(&self) -> f64 {
        self.query_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_cases() {
        // 1,000 bytes over 20 kbit/s = 400 ms, + 1,000 ms RTT + 5 ms cloud.
        let m = Model { link: parse_link("nbiot").unwrap(), edge_ms: 30.0, cloud_ms: 5.0, payload_bytes: 1000 };
        assert!((m.query_ms() - 1405.0).abs() < 1e-9);
        assert!((m.hybrid_ms(0.0) - 30.0).abs() < 1e-9);
        assert!((m.hybrid_ms(0.25) - (30.0 + 351.25)).abs() < 1e-9);
        assert!((m.cloud_only_ms() - 1405.0).abs() < 1e-9);
        let c = parse_link("100,20").unwrap();
        let m = Model { link: c, edge_ms: 2.0, cloud_ms: 0.0, payload_bytes: 125 };
        assert!((m.query_ms() - 30.0).abs() < 1e-9); // 1000 bits / 100 kbit/s = 10 ms
        assert!(parse_link("fast").is_err());
        assert!(parse_link("0,10").is_err());
    }
}
