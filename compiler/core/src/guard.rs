//! Panics in code hybridc does not own (tract's analysis of a malformed
//! model) become errors naming what was being done, never a crash.

use anyhow::{anyhow, Result};

/// Runs `f`, turning a panic into an error "`what`: <panic message>".
pub fn no_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(anyhow!("{what} failed on this model ({}); the model is probably malformed: check it with onnx.checker", panic_message(&payload))),
    }
}

/// The text of a panic's payload.
pub fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}
