//! Memory figures read back from the firmware ELF with the `object` crate.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Everything stored in flash: vectors, code, const data, .data initialisers.
    pub flash_bytes: u64,
    /// Everything in RAM: stack, .data, .bss (the arena is in .bss).
    pub ram_bytes: u64,
    /// Size of each allocated section.
    pub sections: BTreeMap<String, u64>,
}

/// Address and size of a symbol.
pub fn symbol(elf: &[u8], name: &str) -> Option<(u64, u64)> {
    let file = object::File::parse(elf).ok()?;
    file.symbols().find(|s| s.name() == Ok(name)).map(|s| (s.address(), s.size()))
}

pub fn memory(path: &Path) -> Result<Memory> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = object::File::parse(&*data).with_context(|| format!("{} is not an ELF file", path.display()))?;
    let mut sections = BTreeMap::new();
    let (mut flash, mut ram) = (0u64, 0u64);
    for s in file.sections() {
        let SectionFlags::Elf { sh_flags, .. } = s.flags() else { continue };
        let sh_flags: u64 = sh_flags.0;
        const SHF_ALLOC: u64 = 2;
        const SHF_WRITE: u64 = 1;
        if sh_flags & SHF_ALLOC == 0 || s.size() == 0 {
            continue;
        }
        let name = s.name().unwrap_or("?").to_string();
        let writable = sh_flags & SHF_WRITE != 0;
        let loaded = s.kind() != object::SectionKind::UninitializedData;
        if writable {
            ram += s.size();
        }
        if loaded && (!writable || name == ".data") {
            flash += s.size();
        }
        sections.insert(name, s.size());
    }
    // The linker script's own figures, when present, are the budget's definition.
    let used = |name: &str| file.symbols().find(|s| s.name() == Ok(name)).map(|s| s.address());
    let flash = used("__hyb_flash_used").unwrap_or(flash);
    let ram = used("__hyb_sram_used").unwrap_or(ram);
    Ok(Memory { flash_bytes: flash, ram_bytes: ram, sections })
}
