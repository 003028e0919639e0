//! Minimal `.npy` (NumPy format 1.0/2.0) reading and writing for little-endian f32 arrays in C
//! order: how the features CLI hands tensors to training and how fixtures are stored.

use std::path::Path;

use crate::error::{DetectError, Result, io_err};

const MAGIC: &[u8] = b"\x93NUMPY";

/// A dense f32 array.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyF32 {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

/// Encodes an f32 array as `.npy` 1.0 bytes.
pub fn to_bytes(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // magic(6) + version(2) + len(2) + header + '\n' must be a multiple of 64.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes an f32 array to `path`.
pub fn write(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_bytes(shape, data)).map_err(io_err(path))
}

/// Reads an f32 array from `path`.
pub fn read(path: impl AsRef<Path>) -> Result<NpyF32> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    from_bytes(&bytes).map_err(|reason| DetectError::Npy {
        path: path.to_path_buf(),
        reason,
    })
}

/// Decodes `.npy` bytes holding a little-endian f32 C-order array.
pub fn from_bytes(bytes: &[u8]) -> std::result::Result<NpyF32, String> {
    if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("format version {v} is not supported")),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated or non-UTF-8 header")?;
    if !header.contains("'descr': '<f4'") {
        return Err(format!(
            "only little-endian float32 ('<f4') is supported; header: {header}"
        ));
    }
    if header.contains("'fortran_order': True") {
        return Err("Fortran-order arrays are not supported".into());
    }
    let open = header.find("'shape': (").ok_or("header has no shape")? + "'shape': (".len();
    let close = open + header[open..].find(')').ok_or("unterminated shape")?;
    let shape = header[open..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension {s:?}"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[start + header_len..];
    if body.len() != 4 * count {
        return Err(format!(
            "shape {shape:?} needs {} data bytes, found {}",
            4 * count,
            body.len()
        ));
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(NpyF32 { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_errors_are_clear() {
        let b = to_bytes(&[2, 3], &[0.0; 6]);
        assert_eq!((b.len() - 24) % 64, 0);
        assert!(from_bytes(b"nope").unwrap_err().contains("magic"));
        let mut f8 = to_bytes(&[1], &[1.0]);
        let at = f8.windows(3).position(|w| w == b"<f4").unwrap();
        f8[at + 2] = b'8';
        assert!(from_bytes(&f8).unwrap_err().contains("float32"));
        let short = to_bytes(&[4], &[1.0; 4]);
        assert!(
            from_bytes(&short[..short.len() - 1])
                .unwrap_err()
                .contains("data bytes")
        );
    }

    proptest::proptest! {
        #[test]
        fn round_trip(shape in proptest::collection::vec(0usize..5, 0..4), seed in proptest::num::f32::NORMAL) {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| seed * i as f32).collect();
            let back = from_bytes(&to_bytes(&shape, &data)).unwrap();
            proptest::prop_assert_eq!(back, NpyF32 { shape, data });
        }
    }
}
