//! The hybrid's description: what the generated runtimes need to know of an
//! edge model and its router compiled into one program, also kept in the
//! manifest (hybridc.json).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Graph;

/// How the score that decides to query the cloud is made. Spelled in
/// hybridc.json and in `--route` as [`Route::as_str`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Route {
    /// A learned router (`--router ROUTER.onnx`).
    #[serde(rename = "router")]
    Router,
    /// 1 - the edge's largest softmax probability.
    #[serde(rename = "max-softmax")]
    MaxSoftmax,
    /// The entropy (nats) of the edge's softmax.
    #[serde(rename = "entropy")]
    Entropy,
}

impl Route {
    /// The routes that need no router model: scores of the edge's uncertainty.
    pub const BASELINES: [Route; 2] = [Route::MaxSoftmax, Route::Entropy];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Router => "router",
            Route::MaxSoftmax => "max-softmax",
            Route::Entropy => "entropy",
        }
    }

    /// Parses a `--route` value: one of the [`Route::BASELINES`].
    pub fn parse_baseline(s: &str) -> Result<Route, String> {
        match s.parse() {
            Ok(r) if Route::BASELINES.contains(&r) => Ok(r),
            _ => Err(format!("'{s}' is not max-softmax or entropy (a learned router is given with --router ROUTER.onnx)")),
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Route {
    type Err = String;

    fn from_str(s: &str) -> Result<Route, String> {
        [Route::Router, Route::MaxSoftmax, Route::Entropy]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown route '{s}' (router, max-softmax or entropy)"))
    }
}

/// What the generated hybrid runtime needs to know, also kept in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HybridInfo {
    /// Query the cloud when the router's score exceeds this (real units).
    pub threshold: f32,
    /// How the score is made.
    pub route: Route,
    /// FNV-1a hash of the model name, sent in every query frame.
    pub model_id: u32,
    /// Names of the edge output (classes), the router score and the int8
    /// input tensor sent to the cloud.
    pub edge_output: String,
    pub router_output: String,
    pub query_tensor: String,
}

impl HybridInfo {
    /// Indices in `g.outputs` of the edge output, the router score and the
    /// query tensor, as the generated runtimes address them.
    pub fn output_indices<K>(&self, g: &Graph<K>) -> Result<(usize, usize, usize), String> {
        let index = |name: &str| {
            g.outputs.iter().position(|&t| g.tensors[t].name == name).ok_or_else(|| format!("hybrid output '{name}' is not an output of the graph"))
        };
        Ok((index(&self.edge_output)?, index(&self.router_output)?, index(&self.query_tensor)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_keep_their_manifest_spelling() {
        for (r, s) in [(Route::Router, "router"), (Route::MaxSoftmax, "max-softmax"), (Route::Entropy, "entropy")] {
            assert_eq!(r.to_string(), s);
            assert_eq!(s.parse::<Route>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{s}\""));
        }
        assert!(Route::parse_baseline("router").is_err());
        assert_eq!(Route::parse_baseline("entropy"), Ok(Route::Entropy));
    }
}
