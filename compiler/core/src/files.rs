//! hybridc's own files, embedded in the binary: the C runtime
//! (`runtime-c/`), the templates read at run time (`templates/`), the
//! targets (`targets/`) and the kernels crate's sources, which every
//! generated Rust crate carries. An installed `hybridc` so needs no source
//! tree. `$HYBRIDC_ROOT` (a checkout's root) overrides them all, to try
//! runtime changes without rebuilding hybridc.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use include_dir::{include_dir, Dir};

static RUNTIME_C: Dir = include_dir!("$CARGO_MANIFEST_DIR/../../runtime-c");
static TEMPLATES: Dir = include_dir!("$CARGO_MANIFEST_DIR/../../templates");
static TARGETS: Dir = include_dir!("$CARGO_MANIFEST_DIR/../../targets");
static KERNELS: Dir = include_dir!("$CARGO_MANIFEST_DIR/../kernels/src");

/// Where the kernels crate's sources are in a checkout (and under `$HYBRIDC_ROOT`).
const KERNELS_PATH: &str = "compiler/kernels/src";

fn override_root() -> Option<PathBuf> {
    std::env::var_os("HYBRIDC_ROOT").filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// The embedded tree holding `path` (its first component names it), and the rest of the path.
fn embedded(path: &str) -> Result<(&'static Dir<'static>, &str)> {
    let (top, rest) = path.split_once('/').unwrap_or((path, ""));
    let dir = match top {
        "runtime-c" => &RUNTIME_C,
        "templates" => &TEMPLATES,
        "targets" => &TARGETS,
        "kernels" => &KERNELS,
        _ => bail!("internal error: '{path}' is not one of hybridc's files"),
    };
    Ok((dir, rest))
}

/// The path of `path` under `$HYBRIDC_ROOT`.
fn on_disk(root: &Path, path: &str) -> PathBuf {
    match path.strip_prefix("kernels/") {
        Some(rest) => root.join(KERNELS_PATH).join(rest),
        None => root.join(path),
    }
}

/// The bytes of one of hybridc's files, e.g. `runtime-c/kernels/conv_s8.c`,
/// `targets/cortex-m4.toml` or `kernels/conv.rs` (the kernels crate).
pub fn read(path: &str) -> Result<Cow<'static, [u8]>> {
    if let Some(root) = override_root() {
        let p = on_disk(&root, path);
        return std::fs::read(&p).map(Cow::Owned).with_context(|| format!("cannot read {} ($HYBRIDC_ROOT is set)", p.display()));
    }
    let (dir, rest) = embedded(path)?;
    match dir.get_file(rest) {
        Some(f) => Ok(Cow::Borrowed(f.contents())),
        None => bail!("internal error: hybridc carries no file {path}"),
    }
}

/// One of hybridc's text files.
pub fn read_text(path: &str) -> Result<String> {
    String::from_utf8(read(path)?.into_owned()).with_context(|| format!("{path} is not UTF-8"))
}

/// Whether hybridc has the file.
pub fn exists(path: &str) -> bool {
    match override_root() {
        Some(root) => on_disk(&root, path).is_file(),
        None => embedded(path).map(|(d, rest)| d.get_file(rest).is_some()).unwrap_or(false),
    }
}

/// Names of the files directly in one of hybridc's folders, sorted.
pub fn list(dir_path: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = if let Some(root) = override_root() {
        let p = on_disk(&root, dir_path);
        std::fs::read_dir(&p)
            .with_context(|| format!("cannot list {}", p.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect()
    } else {
        let (dir, rest) = embedded(dir_path)?;
        let sub = if rest.is_empty() { Some(dir) } else { dir.get_dir(rest) };
        let sub = sub.with_context(|| format!("internal error: hybridc carries no folder {dir_path}"))?;
        sub.files().filter_map(|f| f.path().file_name()?.to_str().map(str::to_string)).collect()
    };
    names.sort();
    Ok(names)
}

/// Writes one of hybridc's files to `to`.
pub fn copy(path: &str, to: &Path) -> Result<()> {
    std::fs::write(to, read(path)?).with_context(|| format!("cannot write {}", to.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_files_are_there() {
        assert!(super::read_text("targets/cortex-m4.toml").unwrap().contains("cortex-m4"));
        assert!(super::list("runtime-c/kernels").unwrap().contains(&"conv_s8.c".to_string()));
        assert!(super::list("kernels").unwrap().contains(&"lib.rs".to_string()));
        assert!(super::read("runtime-c/nothing.c").is_err());
    }
}
