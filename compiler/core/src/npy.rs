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
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
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
