//! Options named on the command line: one table of names per enum serves
//! parsing, display and the error that lists the choices.

/// The value named `s` in `choices`, or an error naming `what` and the choices.
pub fn parse<T: Copy>(s: &str, what: &str, choices: &[(&str, T)]) -> Result<T, String> {
    match choices.iter().find(|(name, _)| *name == s) {
        Some(&(_, v)) => Ok(v),
        None => {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            Err(format!("unknown {what} '{s}' (use {})", names.join(", ")))
        }
    }
}

/// The name of `v` in `choices`.
pub fn name<T: PartialEq>(v: &T, choices: &[(&'static str, T)]) -> &'static str {
    choices.iter().find(|(_, c)| c == v).map_or("?", |(n, _)| n)
}
