//! `.npy` files in and out (npyz), with errors that name the file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{bail, Context, Result};
use npyz::WriterBuilder;

pub struct Array {
    pub shape: Vec<usize>,
    pub descr: String,
    pub data: Vec<u8>,
}

fn descr(dt: &npyz::DType) -> String {
    match dt {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => format!("{other:?}"),
    }
}

/// Reads an int8 or float32 array as raw little-endian bytes.
pub fn read(path: &Path) -> Result<Array> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let file_len = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    check_shape(&mut f, file_len).with_context(|| format!("{} is not a valid .npy file", path.display()))?;
    let npy = npyz::NpyFile::new(std::io::BufReader::new(f))
        .with_context(|| format!("{} is not a valid .npy file", path.display()))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let d = descr(&npy.dtype());
    if npy.order() != npyz::Order::C {
        bail!("{} is stored in Fortran order; save it C-contiguous (np.ascontiguousarray)", path.display());
    }
    let data: Vec<u8> = match d.as_str() {
        "|i1" | "<i1" | "i1" => npy.into_vec::<i8>().map(|v| v.into_iter().map(|x| x as u8).collect()),
        "<f4" => npy.into_vec::<f32>().map(|v| v.into_iter().flat_map(|x| x.to_le_bytes()).collect()),
        "|u1" | "<u1" => npy.into_vec::<u8>(),
        "<i8" => npy.into_vec::<i64>().map(|v| v.into_iter().flat_map(|x| x.to_le_bytes()).collect()),
        other => bail!("{} holds dtype {other}; hybridc reads int8 (|i1) or float32 (<f4) arrays", path.display()),
    }
    .with_context(|| format!("{} is truncated or corrupt", path.display()))?;
    let descr = match d.as_str() {
        "<i1" | "i1" => "|i1".to_string(),
        "<u1" => "|u1".to_string(),
        _ => d,
    };
    Ok(Array { shape, descr, data })
}

/// The header's shape is the user's: its element count must fit in the
/// file before the npy reader multiplies it out or allocates for it. Leaves
/// `f` at its start.
fn check_shape(f: &mut File, file_len: u64) -> Result<()> {
    use std::io::{Read, Seek};
    let mut head = [0u8; 12];
    let n = f.read(&mut head)?;
    let (len_at, len_bytes) = match head.get(6) {
        Some(1) => (8, 2),
        _ => (8, 4),
    };
    if n < 10 || &head[..6] != b"\x93NUMPY" {
        bail!("no .npy magic");
    }
    let hlen = head[len_at..len_at + len_bytes].iter().rev().fold(0u64, |a, &b| a << 8 | b as u64);
    let mut text = vec![0u8; hlen.min(1 << 16) as usize];
    f.seek(std::io::SeekFrom::Start((len_at + len_bytes) as u64))?;
    f.read_exact(&mut text).context("truncated header")?;
    let text = String::from_utf8_lossy(&text);
    let shape = text.split("'shape':").nth(1).and_then(|t| t.split(')').next()).map(|t| t.trim().trim_start_matches('(')).unwrap_or("");
    let mut count: u64 = 1;
    for d in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d: u64 = d.parse().with_context(|| format!("dimension '{d}' in the header"))?;
        count = count.checked_mul(d).filter(|&c| c <= file_len).with_context(|| format!("its header declares shape ({shape}), more values than the file's {file_len} bytes hold"))?;
    }
    f.seek(std::io::SeekFrom::Start(0))?;
    Ok(())
}

/// Writes raw bytes as an array of the given numpy dtype ("|i1" or "<f4").
pub fn write(path: &Path, shape: &[usize], descr: &str, data: &[u8]) -> Result<()> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut w = BufWriter::new(f);
    match descr {
        "|i1" | "<i1" => {
            let mut npy = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(&mut w).begin_nd()?;
            npy.extend(data.iter().map(|&b| b as i8))?;
            npy.finish()?;
        }
        "<f4" => {
            let mut npy = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(&mut w).begin_nd()?;
            npy.extend(data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])))?;
            npy.finish()?;
        }
        "<i8" => {
            let mut npy = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(&mut w).begin_nd()?;
            npy.extend(data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))))?;
            npy.finish()?;
        }
        other => bail!("cannot write dtype {other}"),
    }
    Ok(())
}
