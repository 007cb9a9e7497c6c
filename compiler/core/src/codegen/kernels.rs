//! Which kernel implementation a project uses: the portable C kernels
//! (runtime-c/kernels, the reference every target can run) or the
//! per-layer specialised kernels for cores with the DSP extension.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};

use crate::target::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    Portable,
    Dsp,
    /// DSP kernels when the target lists the "dsp" feature, else portable.
    #[default]
    Auto,
}

impl Kernels {
    /// Whether the project for `target` uses the DSP kernels.
    pub fn use_dsp(self, target: &Target) -> Result<bool> {
        // The depthwise kernel keeps constants in FPU registers (VMOV), so the
        // DSP kernels also need the FPU (every Cortex-M target here has one).
        let has = target.has("dsp") && target.has("fpu") && !target.is_host();
        match self {
            Kernels::Portable => Ok(false),
            Kernels::Auto => Ok(has),
            Kernels::Dsp if has => Ok(true),
            Kernels::Dsp => bail!(
                "target '{}' lacks the DSP extension or the FPU the DSP kernels use, so it cannot use --kernels dsp; use --kernels portable or auto",
                target.name
            ),
        }
    }
}

const NAMES: &[(&str, Kernels)] = &[("portable", Kernels::Portable), ("dsp", Kernels::Dsp), ("auto", Kernels::Auto)];

impl FromStr for Kernels {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::choice::parse(s, "kernels", NAMES)
    }
}

impl fmt::Display for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(crate::choice::name(self, NAMES))
    }
}
