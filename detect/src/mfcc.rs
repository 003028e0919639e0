//! MFCC of 1-second audio windows: the reference implementation (training's numpy code in
//! `models/train/features.py` is checked against it by the parity tests).
//!
//! Per window of `window_samples` samples (a short last window is zero-padded):
//! frames of `win_length` samples every `hop_length` samples with no centring
//! (`1 + (window - win) / hop` frames), periodic Hann window, `n_fft`-point FFT power spectrum,
//! `n_mels` HTK-mel triangles (peak 1) between `f_min` and `f_max`, `ln(mel + log_offset)`,
//! orthonormal DCT-II, first `n_mfcc` coefficients. Arithmetic in f64, output f32, laid out
//! `[coefficient][frame]`.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

use crate::error::{DetectError, Result};

/// MFCC parameters, as stored in an audio model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfccParams {
    /// Samples per second of the mono input.
    pub sample_rate: u32,
    /// Samples per analysis window (one model input).
    pub window_samples: usize,
    /// FFT size (frames are zero-padded to it).
    pub n_fft: usize,
    /// Frame length in samples (Hann window length).
    pub win_length: usize,
    /// Frame step in samples.
    pub hop_length: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// Cepstral coefficients kept.
    pub n_mfcc: usize,
    /// Lowest mel band edge, Hz.
    pub f_min: f64,
    /// Highest mel band edge, Hz.
    pub f_max: f64,
    /// Added to mel energies before the natural log.
    pub log_offset: f64,
}

impl Default for MfccParams {
    fn default() -> Self {
        MfccParams {
            sample_rate: 16_000,
            window_samples: 16_000,
            n_fft: 512,
            win_length: 400,
            hop_length: 160,
            n_mels: 40,
            n_mfcc: 13,
            f_min: 0.0,
            f_max: 8_000.0,
            log_offset: 1e-6,
        }
    }
}

impl MfccParams {
    /// Frames per window.
    pub fn n_frames(&self) -> usize {
        if self.hop_length == 0 || self.window_samples < self.win_length {
            return 0;
        }
        1 + (self.window_samples - self.win_length) / self.hop_length
    }

    /// Values per window (`n_mfcc * n_frames`).
    pub fn len(&self) -> usize {
        self.n_mfcc * self.n_frames()
    }

    /// Whether a window yields no values (never for valid parameters).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the parameters are usable; the message says which one is not.
    pub fn check(&self) -> std::result::Result<(), String> {
        let nyquist = f64::from(self.sample_rate) / 2.0;
        if self.sample_rate == 0 {
            return Err("sample_rate must be > 0".into());
        }
        if self.hop_length == 0 {
            return Err("hop_length must be > 0".into());
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return Err(format!(
                "win_length {} must be in 1..=n_fft ({})",
                self.win_length, self.n_fft
            ));
        }
        if self.window_samples < self.win_length {
            return Err(format!(
                "window_samples {} is shorter than win_length {}",
                self.window_samples, self.win_length
            ));
        }
        if self.n_mfcc == 0 || self.n_mfcc > self.n_mels {
            return Err(format!(
                "n_mfcc {} must be in 1..=n_mels ({})",
                self.n_mfcc, self.n_mels
            ));
        }
        if !(self.f_min >= 0.0 && self.f_min < self.f_max && self.f_max <= nyquist) {
            return Err(format!(
                "need 0 <= f_min ({}) < f_max ({}) <= sample_rate / 2 ({nyquist})",
                self.f_min, self.f_max
            ));
        }
        if !(self.log_offset > 0.0 && self.log_offset.is_finite()) {
            return Err(format!("log_offset {} must be > 0", self.log_offset));
        }
        Ok(())
    }
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// A prepared MFCC computer (window, filterbank, DCT and FFT plan built once).
pub struct Mfcc {
    params: MfccParams,
    hann: Vec<f64>,
    /// Per mel band: first FFT bin and its weights.
    bands: Vec<(usize, Vec<f64>)>,
    /// `n_mfcc x n_mels`, row-major.
    dct: Vec<f64>,
    fft: Arc<dyn Fft<f64>>,
}

impl std::fmt::Debug for Mfcc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfcc")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Mfcc {
    /// Prepares the computation; fails with the reason if the parameters are unusable.
    pub fn new(params: MfccParams) -> Result<Self> {
        params.check().map_err(DetectError::BadAudio)?;
        let n = params.win_length as f64;
        let hann = (0..params.win_length)
            .map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n).cos())
            .collect();
        let n_bins = params.n_fft / 2 + 1;
        let (mel_lo, mel_hi) = (hz_to_mel(params.f_min), hz_to_mel(params.f_max));
        let points: Vec<f64> = (0..params.n_mels + 2)
            .map(|i| {
                let m = mel_lo + (mel_hi - mel_lo) * i as f64 / (params.n_mels + 1) as f64;
                mel_to_hz(m)
            })
            .collect();
        let bin_hz = f64::from(params.sample_rate) / params.n_fft as f64;
        let bands = (0..params.n_mels)
            .map(|m| {
                let (lo, c, hi) = (points[m], points[m + 1], points[m + 2]);
                let weights: Vec<f64> = (0..n_bins)
                    .map(|b| {
                        let f = b as f64 * bin_hz;
                        let up = (f - lo) / (c - lo);
                        let down = (hi - f) / (hi - c);
                        up.min(down).max(0.0)
                    })
                    .collect();
                let first = weights.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = weights
                    .iter()
                    .rposition(|&w| w > 0.0)
                    .map_or(first, |l| l + 1);
                (first, weights[first..last].to_vec())
            })
            .collect();
        let nm = params.n_mels as f64;
        let mut dct = Vec::with_capacity(params.n_mfcc * params.n_mels);
        for k in 0..params.n_mfcc {
            let scale = if k == 0 {
                (1.0 / nm).sqrt()
            } else {
                (2.0 / nm).sqrt()
            };
            for i in 0..params.n_mels {
                let angle = std::f64::consts::PI * k as f64 * (2.0 * i as f64 + 1.0) / (2.0 * nm);
                dct.push(angle.cos() * scale);
            }
        }
        let fft = FftPlanner::new().plan_fft_forward(params.n_fft);
        Ok(Mfcc {
            params,
            hann,
            bands,
            dct,
            fft,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &MfccParams {
        &self.params
    }

    /// MFCC of one window, `[n_mfcc][n_frames]` row-major. Fewer than `window_samples` samples
    /// are zero-padded; more, or non-finite samples, are an error.
    pub fn window(&self, samples: &[f32]) -> Result<Vec<f32>> {
        let p = &self.params;
        if samples.len() > p.window_samples {
            return Err(DetectError::BadAudio(format!(
                "window has {} samples, more than window_samples {}",
                samples.len(),
                p.window_samples
            )));
        }
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(DetectError::BadAudio(format!("sample {i} is not finite")));
        }
        let n_frames = p.n_frames();
        let mut logmel = vec![0f64; n_frames * p.n_mels];
        let mut buf = vec![Complex::new(0f64, 0f64); p.n_fft];
        let mut scratch = vec![Complex::new(0f64, 0f64); self.fft.get_inplace_scratch_len()];
        let mut power = vec![0f64; p.n_fft / 2 + 1];
        for t in 0..n_frames {
            let start = t * p.hop_length;
            for (k, slot) in buf.iter_mut().enumerate() {
                let v = if k < p.win_length {
                    samples.get(start + k).map_or(0.0, |&s| f64::from(s)) * self.hann[k]
                } else {
                    0.0
                };
                *slot = Complex::new(v, 0.0);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for (b, pw) in power.iter_mut().enumerate() {
                *pw = buf[b].re * buf[b].re + buf[b].im * buf[b].im;
            }
            for (m, (first, weights)) in self.bands.iter().enumerate() {
                let e: f64 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, pw)| w * pw)
                    .sum();
                logmel[t * p.n_mels + m] = (e + p.log_offset).ln();
            }
        }
        let mut out = vec![0f32; p.n_mfcc * n_frames];
        for k in 0..p.n_mfcc {
            let row = &self.dct[k * p.n_mels..(k + 1) * p.n_mels];
            for t in 0..n_frames {
                let frame = &logmel[t * p.n_mels..(t + 1) * p.n_mels];
                let c: f64 = row.iter().zip(frame).map(|(d, l)| d * l).sum();
                out[k * n_frames + t] = c as f32;
            }
        }
        Ok(out)
    }

    /// MFCC of every consecutive window of a stream (the last, short one zero-padded).
    pub fn stream(&self, samples: &[f32]) -> Result<Vec<Vec<f32>>> {
        windows(samples, self.params.window_samples)
            .map(|w| self.window(w))
            .collect()
    }
}

/// Consecutive non-overlapping windows of `len` samples; the last may be shorter (callers pad it).
pub fn windows(samples: &[f32], len: usize) -> impl Iterator<Item = &[f32]> {
    samples.chunks(len.max(1))
}

/// Reads a mono WAV file (16-bit PCM or 32-bit float) at `sample_rate` as samples in [-1, 1].
pub fn read_wav(path: impl AsRef<std::path::Path>, sample_rate: u32) -> Result<Vec<f32>> {
    let path = path.as_ref();
    let bad = |reason: String| DetectError::BadAudio(format!("{}: {reason}", path.display()));
    let mut reader = hound::WavReader::open(path).map_err(|e| bad(e.to_string()))?;
    let spec = reader.spec();
    if spec.channels != 1 {
        return Err(bad(format!("{} channels; need mono", spec.channels)));
    }
    if spec.sample_rate != sample_rate {
        return Err(bad(format!(
            "{} Hz; need {sample_rate} Hz",
            spec.sample_rate
        )));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => reader
            .samples::<i16>()
            .map(|s| {
                s.map(|v| f32::from(v) / 32768.0)
                    .map_err(|e| bad(e.to_string()))
            })
            .collect(),
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .map(|s| s.map_err(|e| bad(e.to_string())))
            .collect(),
        (f, b) => Err(bad(format!(
            "{b}-bit {f:?} samples; need 16-bit PCM or 32-bit float"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / 16_000.0).sin()) as f32)
            .collect()
    }

    #[test]
    fn shape_and_padding() {
        let m = Mfcc::new(MfccParams::default()).unwrap();
        assert_eq!(m.params().n_frames(), 98);
        let full = m.window(&sine(440.0, 16_000)).unwrap();
        assert_eq!(full.len(), 13 * 98);
        // A short window equals the same samples explicitly zero-padded.
        let mut short = sine(440.0, 10_000);
        let a = m.window(&short).unwrap();
        short.resize(16_000, 0.0);
        assert_eq!(a, m.window(&short).unwrap());
        assert_eq!(m.stream(&sine(440.0, 40_000)).unwrap().len(), 3);
    }

    #[test]
    fn silence_is_the_log_floor() {
        let m = Mfcc::new(MfccParams::default()).unwrap();
        let out = m.window(&[]).unwrap();
        // ln(1e-6) in every band: only c0 is non-zero, = ln(1e-6) * sqrt(n_mels).
        let c0 = (1e-6f64).ln() * 40f64.sqrt();
        assert!((f64::from(out[0]) - c0).abs() < 1e-3);
        assert!(out[98..].iter().all(|v| v.abs() < 1e-4));
    }

    #[test]
    fn louder_sound_raises_c0_and_pitch_changes_shape() {
        let m = Mfcc::new(MfccParams::default()).unwrap();
        let a = m.window(&sine(440.0, 16_000)).unwrap();
        let quiet: Vec<f32> = sine(440.0, 16_000).iter().map(|s| s * 0.1).collect();
        let b = m.window(&quiet).unwrap();
        assert!(a[10] > b[10] + 1.0);
        let c = m.window(&sine(3000.0, 16_000)).unwrap();
        let diff: f32 = a[98..]
            .iter()
            .zip(&c[98..])
            .map(|(x, y)| (x - y).abs())
            .sum();
        assert!(diff > 10.0);
    }

    #[test]
    fn bad_input_and_params_are_rejected() {
        let m = Mfcc::new(MfccParams::default()).unwrap();
        assert!(m.window(&vec![0.0; 16_001]).is_err());
        assert!(
            m.window(&[0.0, f32::NAN])
                .unwrap_err()
                .to_string()
                .contains("sample 1")
        );
        let bad = MfccParams {
            n_mfcc: 50,
            ..MfccParams::default()
        };
        assert!(Mfcc::new(bad).unwrap_err().to_string().contains("n_mfcc"));
        let bad = MfccParams {
            f_max: 9000.0,
            ..MfccParams::default()
        };
        assert!(Mfcc::new(bad).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn any_finite_window_gives_finite_output(v in proptest::collection::vec(-1.0f32..1.0, 0..16_000)) {
            let m = Mfcc::new(MfccParams::default()).unwrap();
            let out = m.window(&v).unwrap();
            proptest::prop_assert_eq!(out.len(), 13 * 98);
            proptest::prop_assert!(out.iter().all(|x| x.is_finite()));
        }
    }
}
