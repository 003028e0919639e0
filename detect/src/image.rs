//! Frame preprocessing: decoded RGB frame → the image model's input tensor.
//!
//! The rule (card `resize = "short-side-centre-crop"`), the reference for training's numpy twin:
//! 1. scale so the shorter side becomes `short_side`; the other side becomes
//!    `floor(len * short_side / short + 0.5)`;
//! 2. keep the centred `crop` x `crop` window of the scaled image (offset `(len - crop) / 2`,
//!    rounded down);
//! 3. every output pixel is a separable triangle-filter average: for output index `i` on an axis
//!    scaled by `s = in / out`, centre `c = (i + 0.5) * s`, radius `r = max(s, 1)`, source pixel
//!    `j` weighs `max(0, 1 - |j + 0.5 - c| / r)`, weights normalised to 1 (bilinear when enlarging,
//!    antialiased when shrinking). Rows first, then columns, in f64;
//! 4. the tensor is f32 `[1, 3, crop, crop]`, RGB, pixel value `v` mapped to
//!    `lo + v / 255 * (hi - lo)` for the card's `value_range = [lo, hi]` (`[0, 255]`: unchanged).

use std::path::Path;

use crate::card::ImageSpec;
use crate::error::{DetectError, Result, io_err};

/// A borrowed, decoded 8-bit RGB frame (e.g. a GStreamer `video/x-raw,format=RGB` buffer).
#[derive(Debug, Clone, Copy)]
pub struct RgbFrame<'a> {
    width: usize,
    height: usize,
    stride: usize,
    data: &'a [u8],
}

impl<'a> RgbFrame<'a> {
    /// Wraps `data` holding `height` rows of `stride` bytes, each starting with `width` RGB pixels.
    /// The last row may be just `3 * width` bytes long.
    pub fn new(width: usize, height: usize, stride: usize, data: &'a [u8]) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(DetectError::BadFrame(format!(
                "empty frame {width}x{height}"
            )));
        }
        if stride < 3 * width {
            return Err(DetectError::BadFrame(format!(
                "row stride {stride} is smaller than 3 * width ({})",
                3 * width
            )));
        }
        let need = stride * (height - 1) + 3 * width;
        if data.len() < need {
            return Err(DetectError::BadFrame(format!(
                "{width}x{height} frame with stride {stride} needs {need} bytes, got {}",
                data.len()
            )));
        }
        Ok(RgbFrame {
            width,
            height,
            stride,
            data,
        })
    }

    /// Wraps tightly packed rows (`stride = 3 * width`).
    pub fn packed(width: usize, height: usize, data: &'a [u8]) -> Result<Self> {
        Self::new(width, height, 3 * width, data)
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let o = y * self.stride + 3 * x;
        [self.data[o], self.data[o + 1], self.data[o + 2]]
    }
}

/// An owned, packed RGB image (for files: fixtures, the CLI, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes, row-major RGB.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Borrows it as a frame.
    pub fn as_frame(&self) -> RgbFrame<'_> {
        RgbFrame {
            width: self.width,
            height: self.height,
            stride: 3 * self.width,
            data: &self.data,
        }
    }

    /// Reads an 8-bit RGB or RGBA PNG, or a binary PPM (`P6`, maxval 255).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let bad = |reason: String| DetectError::BadFrame(format!("{}: {reason}", path.display()));
        if bytes.starts_with(b"P6") {
            return parse_ppm(&bytes).map_err(bad);
        }
        if bytes.starts_with(b"\x89PNG") {
            return parse_png(&bytes).map_err(bad);
        }
        Err(bad("not a PNG or binary PPM (P6) file".into()))
    }
}

fn parse_ppm(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    // Header: "P6" whitespace width whitespace height whitespace maxval single-whitespace data.
    let mut fields = Vec::new();
    let mut i = 2;
    while fields.len() < 3 {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'#') {
            if bytes[i] == b'#' {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let text = std::str::from_utf8(&bytes[start..i]).unwrap_or("");
        fields.push(
            text.parse::<usize>()
                .map_err(|_| "malformed PPM header".to_string())?,
        );
    }
    i += 1; // the single whitespace after maxval
    let (width, height, maxval) = (fields[0], fields[1], fields[2]);
    if maxval != 255 {
        return Err(format!("PPM maxval {maxval} is not supported (need 255)"));
    }
    let need = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(3))
        .ok_or("PPM too large")?;
    let data = bytes
        .get(i..i + need)
        .ok_or(format!("PPM data shorter than {need} bytes"))?;
    Ok(RgbImage {
        width,
        height,
        data: data.to_vec(),
    })
}

fn parse_png(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    if info.bit_depth != png::BitDepth::Eight {
        return Err(format!(
            "PNG bit depth {:?} is not supported (need 8)",
            info.bit_depth
        ));
    }
    let (width, height) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => {
            return Err(format!(
                "PNG colour type {other:?} is not supported (need RGB/RGBA)"
            ));
        }
    };
    let mut data = Vec::with_capacity(width * height * 3);
    for row in buf.chunks(info.line_size).take(height) {
        for px in row[..width * channels].chunks(channels) {
            data.extend_from_slice(&px[..3]);
        }
    }
    Ok(RgbImage {
        width,
        height,
        data,
    })
}

/// Size after scaling the shorter side to `short` (aspect kept, other side rounded half up).
pub fn resized_size(width: usize, height: usize, short: usize) -> (usize, usize) {
    let scaled = |long: usize, short_len: usize| {
        (long as f64 * short as f64 / short_len as f64 + 0.5).floor() as usize
    };
    if width <= height {
        (short, scaled(height, width))
    } else {
        (scaled(width, height), short)
    }
}

/// Triangle-filter weights of `count` output samples starting at `offset` of a resize of
/// `in_len` samples to `out_len`: per output, the first source index and the weights.
fn axis_weights(
    in_len: usize,
    out_len: usize,
    offset: usize,
    count: usize,
) -> Vec<(usize, Vec<f64>)> {
    let scale = in_len as f64 / out_len as f64;
    let radius = scale.max(1.0);
    (offset..offset + count)
        .map(|i| {
            let centre = (i as f64 + 0.5) * scale;
            let lo = ((centre - radius).floor().max(0.0)) as usize;
            let hi = ((centre + radius).ceil() as usize).min(in_len);
            let mut w: Vec<f64> = (lo..hi)
                .map(|j| (1.0 - (j as f64 + 0.5 - centre).abs() / radius).max(0.0))
                .collect();
            let sum: f64 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|x| *x /= sum);
                (lo, w)
            } else {
                // Unreachable for radius >= 1; nearest pixel as a guard.
                ((centre.floor() as usize).min(in_len - 1), vec![1.0])
            }
        })
        .collect()
}

/// Applies the card's rule to a frame: returns the `[3, crop, crop]` tensor data (CHW, f32).
pub fn preprocess(frame: &RgbFrame<'_>, spec: &ImageSpec) -> Result<Vec<f32>> {
    let crop = spec.crop;
    if crop == 0 || spec.short_side < crop {
        return Err(DetectError::BadFrame(format!(
            "short_side {} must be at least crop {crop} > 0",
            spec.short_side
        )));
    }
    let (nw, nh) = resized_size(frame.width, frame.height, spec.short_side);
    let wx = axis_weights(frame.width, nw, (nw - crop) / 2, crop);
    let wy = axis_weights(frame.height, nh, (nh - crop) / 2, crop);
    let row_lo = wy.iter().map(|(s, _)| *s).min().unwrap_or(0);
    let row_hi = wy.iter().map(|(s, w)| s + w.len()).max().unwrap_or(0);
    // Horizontal pass over the rows the vertical pass needs: rows[r][x][c].
    let mut rows = vec![0f64; (row_hi - row_lo) * crop * 3];
    for y in row_lo..row_hi {
        let out = &mut rows[(y - row_lo) * crop * 3..(y - row_lo + 1) * crop * 3];
        for (x, (start, weights)) in wx.iter().enumerate() {
            let mut acc = [0f64; 3];
            for (k, w) in weights.iter().enumerate() {
                let px = frame.pixel(start + k, y);
                for c in 0..3 {
                    acc[c] += f64::from(px[c]) * w;
                }
            }
            out[x * 3..x * 3 + 3].copy_from_slice(&acc);
        }
    }
    let [lo, hi] = spec.value_range;
    let (lo, gain) = (f64::from(lo), (f64::from(hi) - f64::from(lo)) / 255.0);
    let plane = crop * crop;
    let mut tensor = vec![0f32; 3 * plane];
    for (y, (start, weights)) in wy.iter().enumerate() {
        for x in 0..crop {
            let mut acc = [0f64; 3];
            for (k, w) in weights.iter().enumerate() {
                let o = ((start + k - row_lo) * crop + x) * 3;
                for c in 0..3 {
                    acc[c] += rows[o + c] * w;
                }
            }
            for c in 0..3 {
                let v = if gain == 1.0 && lo == 0.0 {
                    acc[c]
                } else {
                    lo + acc[c] * gain
                };
                tensor[c * plane + y * crop + x] = v as f32;
            }
        }
    }
    Ok(tensor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(short: usize, crop: usize) -> ImageSpec {
        ImageSpec {
            short_side: short,
            crop,
            ..ImageSpec::default()
        }
    }

    #[test]
    fn resized_size_keeps_aspect() {
        assert_eq!(resized_size(640, 360, 256), (455, 256));
        assert_eq!(resized_size(360, 640, 256), (256, 455));
        assert_eq!(resized_size(100, 100, 256), (256, 256));
    }

    #[test]
    fn constant_frame_stays_constant_any_size() {
        for (w, h) in [(640, 360), (100, 80), (224, 224), (1280, 720)] {
            let data = [10u8, 200, 77].repeat(w * h);
            let t = preprocess(&RgbFrame::packed(w, h, &data).unwrap(), &spec(256, 224)).unwrap();
            assert_eq!(t.len(), 3 * 224 * 224);
            for (c, want) in [10.0f32, 200.0, 77.0].iter().enumerate() {
                let plane = &t[c * 224 * 224..(c + 1) * 224 * 224];
                assert!(
                    plane.iter().all(|v| (v - want).abs() < 1e-3),
                    "{w}x{h} c{c}"
                );
            }
        }
    }

    #[test]
    fn identity_when_sizes_match() {
        // 4x4 frame, short side 4, crop 4: weights are exactly one source pixel each.
        let data: Vec<u8> = (0..48).map(|i| (i * 5) as u8).collect();
        let t = preprocess(&RgbFrame::packed(4, 4, &data).unwrap(), &spec(4, 4)).unwrap();
        for y in 0..4 {
            for x in 0..4 {
                for c in 0..3 {
                    assert_eq!(t[c * 16 + y * 4 + x], f32::from(data[(y * 4 + x) * 3 + c]));
                }
            }
        }
    }

    #[test]
    fn stride_padding_is_ignored_and_value_range_applies() {
        let packed: Vec<u8> = (0..(6 * 5 * 3)).map(|i| (i % 251) as u8).collect();
        let mut strided = Vec::new();
        for row in packed.chunks(18) {
            strided.extend_from_slice(row);
            strided.extend_from_slice(&[255, 255]);
        }
        let a = preprocess(&RgbFrame::packed(6, 5, &packed).unwrap(), &spec(4, 4)).unwrap();
        let b = preprocess(&RgbFrame::new(6, 5, 20, &strided).unwrap(), &spec(4, 4)).unwrap();
        assert_eq!(a, b);
        let unit = ImageSpec {
            value_range: [0.0, 1.0],
            ..spec(4, 4)
        };
        let c = preprocess(&RgbFrame::packed(6, 5, &packed).unwrap(), &unit).unwrap();
        assert!(a.iter().zip(&c).all(|(x, y)| (x / 255.0 - y).abs() < 1e-6));
    }

    #[test]
    fn bad_frames_are_rejected() {
        assert!(RgbFrame::new(0, 5, 0, &[]).is_err());
        assert!(
            RgbFrame::new(4, 4, 8, &[0; 64])
                .unwrap_err()
                .to_string()
                .contains("stride")
        );
        assert!(
            RgbFrame::new(4, 4, 12, &[0; 40])
                .unwrap_err()
                .to_string()
                .contains("needs 48")
        );
        let data = [0u8; 12];
        let frame = RgbFrame::packed(2, 2, &data).unwrap();
        assert!(preprocess(&frame, &spec(2, 4)).is_err());
    }

    #[test]
    fn ppm_round_trip_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ppm");
        let mut bytes = b"P6\n# comment\n2 1\n255\n".to_vec();
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        std::fs::write(&p, &bytes).unwrap();
        let img = RgbImage::open(&p).unwrap();
        assert_eq!(
            (img.width, img.height, img.data.clone()),
            (2, 1, vec![1, 2, 3, 4, 5, 6])
        );
        std::fs::write(&p, b"P6\n2 2\n255\n\x01").unwrap();
        assert!(
            RgbImage::open(&p)
                .unwrap_err()
                .to_string()
                .contains("shorter")
        );
        std::fs::write(&p, b"GIF89a").unwrap();
        assert!(
            RgbImage::open(&p)
                .unwrap_err()
                .to_string()
                .contains("not a PNG")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn output_stays_within_input_range(w in 1usize..40, h in 1usize..40, seed in 0u8..255) {
            let data: Vec<u8> = (0..w * h * 3).map(|i| (i as u8).wrapping_mul(seed).wrapping_add(7)).collect();
            let lo = f32::from(*data.iter().min().unwrap());
            let hi = f32::from(*data.iter().max().unwrap());
            let t = preprocess(&RgbFrame::packed(w, h, &data).unwrap(), &spec(20, 16)).unwrap();
            proptest::prop_assert_eq!(t.len(), 3 * 16 * 16);
            proptest::prop_assert!(t.iter().all(|v| *v >= lo - 1e-3 && *v <= hi + 1e-3));
        }
    }
}
