//! The motion channel: a 3-axis accelerometer (and, when there is one, a speed feed) scored per
//! second for the three things a crash does to a car that driving does not.
//!
//! * **Impact**: the acceleration with gravity removed peaks at several g (NHTSA frontal tests
//!   reach 30-60 g at the sills; a dashcam's ±16 g part clips), and the car's velocity changes by
//!   metres per second within a tenth of a second. Hard braking and cornering stay below ~1 g and
//!   change the velocity slowly, so the change over a short window is taken *relative to the
//!   second before it* ([`MotionParams::dv_window_s`], [`MotionParams::baseline_s`]): sustained
//!   braking cancels out, an impact does not. Potholes and door slams give short high peaks but
//!   little velocity change, which is why the peak alone must be larger than the Δv bar implies.
//! * **Rollover**: the gravity vector turns away from where it was while the car was upright and
//!   stays there ([`MotionParams::rollover_deg`] for [`MotionParams::rollover_hold_s`]).
//! * **Sudden stop**: the speed feed (GPS or CAN) drops faster than tyres can brake
//!   ([`MotionParams::stop_decel_g`] over at least [`MotionParams::stop_window_s`]).
//!
//! Gravity is tracked with a slow filter that only learns while the measured magnitude is close
//! to 1 g ([`MotionParams::gravity_gate_g`]), so an impact or a long braking does not drag it; the
//! sensor can be mounted in any orientation.
//!
//! Each second gets a score `r³ / (1 + r³)` where `r` is the largest ratio of a feature to its
//! bar: 0.5 exactly at a bar, ~0.9 at twice it, like a calibrated model probability (see
//! [`crate::decision`]).
//!
//! ```
//! use dashledger_detect::motion::{AccelSample, MotionParams, MotionScorer, MotionCause, G};
//!
//! let mut scorer = MotionScorer::new(MotionParams::default());
//! let mut seconds = Vec::new();
//! // Ten seconds at 100 Hz of a car standing still (gravity on z), with a 20 g, 60 ms
//! // deceleration pulse along x at t = 5.5 s.
//! for i in 0..1000 {
//!     let t = i as f64 / 100.0;
//!     let x = if (5.5..5.56).contains(&t) { -20.0 * G } else { 0.0 };
//!     seconds.extend(scorer.push(AccelSample { t, a: [x, 0.0, G] }));
//! }
//! seconds.extend(scorer.finish());
//! let hit: Vec<_> = seconds.iter().filter(|s| s.score >= 0.5).collect();
//! assert_eq!(hit.len(), 1);
//! assert_eq!(hit[0].second, 5);
//! assert_eq!(hit[0].cause, Some(MotionCause::Impact));
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Standard gravity, m/s².
pub const G: f32 = 9.806_65;
const G64: f64 = G as f64;

/// One accelerometer reading: time in seconds (any epoch; the agent uses unix time) and the
/// three axes in m/s², gravity included, in the sensor's own frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccelSample {
    /// Seconds.
    pub t: f64,
    /// m/s², gravity included.
    pub a: [f32; 3],
}

/// One speed reading (GPS RMC or the car's CAN bus): seconds, m/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedSample {
    /// Seconds, same epoch as the accelerometer's.
    pub t: f64,
    /// m/s.
    pub speed: f32,
}

/// The bars and filters of the motion scorer. The defaults are argued in `models/motion.md` and
/// measured on the real traces under `../shared/datasets/motion` (`detect/tests/motion_traces.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MotionParams {
    /// Impact bar on the peak acceleration with gravity removed, in g.
    pub impact_g: f32,
    /// Impact bar on the velocity change over `dv_window_s` relative to the baseline, m/s.
    pub dv_ms: f32,
    /// Length of the velocity-change window, seconds.
    pub dv_window_s: f32,
    /// Length of the baseline before the window (its mean acceleration is subtracted), seconds.
    pub baseline_s: f32,
    /// The sensor's full scale, in g: readings at ≥ 98 % of it count as clipped.
    pub range_g: f32,
    /// Clipped for at least this long, with at least half the Δv bar, is an impact, ms.
    pub saturation_ms: f32,
    /// Tilt of gravity from its upright direction that counts as rolled over, degrees.
    pub rollover_deg: f32,
    /// How long the tilt must last, seconds.
    pub rollover_hold_s: f32,
    /// Gravity is learnt only while | |a| - 1 g | is below this, in g.
    pub gravity_gate_g: f32,
    /// Time constant of the gravity filter, seconds.
    pub gravity_tau_s: f32,
    /// Sudden-stop bar on the deceleration from the speed feed, in g.
    pub stop_decel_g: f32,
    /// The deceleration is measured between speed readings at least this far apart, seconds.
    pub stop_window_s: f32,
}

impl Default for MotionParams {
    fn default() -> Self {
        Self {
            impact_g: 3.0,
            dv_ms: 2.0,
            dv_window_s: 0.15,
            baseline_s: 1.0,
            range_g: 16.0,
            saturation_ms: 50.0,
            rollover_deg: 45.0,
            rollover_hold_s: 2.0,
            gravity_gate_g: 0.15,
            gravity_tau_s: 2.0,
            stop_decel_g: 1.05,
            stop_window_s: 0.8,
        }
    }
}

impl MotionParams {
    /// Checks that every bar and window is positive and finite; names the first that is not.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("impact_g", self.impact_g),
            ("dv_ms", self.dv_ms),
            ("dv_window_s", self.dv_window_s),
            ("baseline_s", self.baseline_s),
            ("range_g", self.range_g),
            ("saturation_ms", self.saturation_ms),
            ("rollover_deg", self.rollover_deg),
            ("rollover_hold_s", self.rollover_hold_s),
            ("gravity_gate_g", self.gravity_gate_g),
            ("gravity_tau_s", self.gravity_tau_s),
            ("stop_decel_g", self.stop_decel_g),
            ("stop_window_s", self.stop_window_s),
        ];
        for (name, v) in fields {
            if !v.is_finite() || v <= 0.0 {
                return Err(format!("motion.{name} must be a positive number, got {v}"));
            }
        }
        if self.rollover_deg >= 180.0 {
            return Err(format!(
                "motion.rollover_deg must be below 180, got {}",
                self.rollover_deg
            ));
        }
        Ok(())
    }
}

/// What made a second's motion score high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MotionCause {
    /// Peak acceleration or velocity change over the bar.
    Impact,
    /// The sensor clipped while the velocity changed.
    Saturation,
    /// Gravity turned past the rollover bar and stayed.
    Rollover,
    /// The speed feed dropped faster than braking can.
    SuddenStop,
}

/// The motion features of one second, kept with the segment's result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MotionSecond {
    /// `floor(t)` of the samples in it.
    pub second: i64,
    /// Accelerometer samples in the second.
    pub samples: u32,
    /// Peak acceleration with gravity removed, g.
    pub peak_g: f32,
    /// Largest baseline-removed velocity change over the short window, m/s.
    pub dv_ms: f32,
    /// Largest change of the gravity-removed acceleration over 20 ms, g/s (recorded, not scored:
    /// potholes have it too).
    pub jerk_gps: f32,
    /// Largest tilt of gravity from upright, degrees.
    pub tilt_deg: f32,
    /// Time some axis was clipped at the sensor's range, ms.
    pub saturated_ms: f32,
    /// Largest deceleration from the speed feed ending in this second, g (None: no speed data).
    pub decel_g: Option<f32>,
    /// `r³ / (1 + r³)` of the largest feature-to-bar ratio `r`.
    pub score: f32,
    /// The feature behind a score of 0.5 or more.
    pub cause: Option<MotionCause>,
}

/// `r³ / (1 + r³)`: 0.5 at the bar (r = 1).
pub fn ratio_score(r: f32) -> f32 {
    if r.is_nan() || r <= 0.0 {
        return 0.0;
    }
    let r3 = f64::from(r).powi(3);
    (r3 / (1.0 + r3)) as f32
}

#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    second: i64,
    samples: u32,
    peak: f64,
    dv: f64,
    jerk: f64,
    tilt: f64,
    saturated: f64,
    rolled: bool,
    decel: Option<f64>,
}

/// What one accelerometer sample contributes to its second.
#[derive(Debug, Clone, Copy)]
struct SampleFeatures {
    /// Time step from the previous sample, seconds.
    dt: f64,
    /// Acceleration with gravity removed, m/s².
    lin: [f64; 3],
    /// Baseline-removed velocity change over the short window, m/s.
    dv: f64,
    /// Change of `lin` over the last ~20 ms, g/s.
    jerk: f64,
    /// Tilt of gravity from upright, degrees.
    tilt: f64,
    /// Tilted past the rollover bar for the hold time.
    rolled: bool,
    /// Some axis at the sensor's range.
    clipped: bool,
}

/// Streaming per-second scorer: feed samples in time order with [`MotionScorer::push`] (and
/// speed readings with [`MotionScorer::push_speed`]); each call returns the seconds it
/// completed. Samples going back in time are dropped (a clock step) and counted.
#[derive(Debug, Clone)]
pub struct MotionScorer {
    p: MotionParams,
    last_t: Option<f64>,
    gravity: Option<[f64; 3]>,
    upright: Option<[f64; 3]>,
    fast: Option<[f64; 3]>,
    /// (t, cumulative ∫lin dt per axis, cumulative ∫dt)
    cum: VecDeque<(f64, [f64; 3])>,
    /// (t, gravity-removed acceleration) of the last ~20 ms, for the jerk.
    lin_hist: VecDeque<(f64, [f64; 3])>,
    tilted_since: Option<f64>,
    speeds: VecDeque<SpeedSample>,
    pending_decel: Vec<(i64, f64)>,
    acc: Option<Acc>,
    dropped: u64,
}

fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

fn angle_deg(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (na, nb) = (norm(a), norm(b));
    if na < 1e-9 || nb < 1e-9 {
        return 0.0;
    }
    let c = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb);
    c.clamp(-1.0, 1.0).acos().to_degrees()
}

fn towards(state: &mut [f64; 3], x: [f64; 3], k: f64) {
    for (s, v) in state.iter_mut().zip(x) {
        *s += (v - *s) * k;
    }
}

impl MotionScorer {
    /// A scorer with these bars (call [`MotionParams::validate`] first on user input).
    pub fn new(p: MotionParams) -> Self {
        Self {
            p,
            last_t: None,
            gravity: None,
            upright: None,
            fast: None,
            cum: VecDeque::new(),
            lin_hist: VecDeque::new(),
            tilted_since: None,
            speeds: VecDeque::new(),
            pending_decel: Vec::new(),
            acc: None,
            dropped: 0,
        }
    }

    /// The bars in use.
    pub fn params(&self) -> &MotionParams {
        &self.p
    }

    /// Samples dropped because their time went backwards or was not finite.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Adds a speed reading. A deceleration over the bar is credited to the second it ends in.
    pub fn push_speed(&mut self, s: SpeedSample) {
        if !s.t.is_finite() || !s.speed.is_finite() {
            return;
        }
        if self.speeds.back().is_some_and(|b| s.t <= b.t) {
            return;
        }
        let window = f64::from(self.p.stop_window_s);
        // The latest earlier reading at least `window` before this one, within 3 windows.
        let mut best: Option<f64> = None;
        for prev in self.speeds.iter().rev() {
            let dt = s.t - prev.t;
            if dt < window {
                continue;
            }
            if dt > 3.0 * window {
                break;
            }
            let d = f64::from(prev.speed - s.speed) / dt / G64;
            best = Some(best.map_or(d, |b: f64| b.max(d)));
        }
        self.speeds.push_back(s);
        while self
            .speeds
            .front()
            .is_some_and(|f| s.t - f.t > 4.0 * window)
        {
            self.speeds.pop_front();
        }
        if let Some(d) = best {
            let second = s.t.floor() as i64;
            match &mut self.acc {
                Some(acc) if acc.second == second => {
                    acc.decel = Some(acc.decel.map_or(d, |x| x.max(d)))
                }
                _ => self.pending_decel.push((second, d)),
            }
        }
    }

    /// Adds an accelerometer sample; returns the second it completed, if it started a new one.
    pub fn push(&mut self, s: AccelSample) -> Option<MotionSecond> {
        let dt = self.time_step(s)?;
        let a = [f64::from(s.a[0]), f64::from(s.a[1]), f64::from(s.a[2])];
        let (g, up) = self.track_gravity(a, dt);
        let (tilt, rolled) = self.track_tilt(s.t, a, up, dt);
        let lin = [a[0] - g[0], a[1] - g[1], a[2] - g[2]];
        let (dv, jerk) = self.velocity_change_and_jerk(s.t, lin, dt);
        let clip = 0.98 * f64::from(self.p.range_g) * G64;
        let clipped = a.iter().any(|v| v.abs() >= clip);
        self.accumulate(
            s.t,
            &SampleFeatures {
                dt,
                lin,
                dv,
                jerk,
                tilt,
                rolled,
                clipped,
            },
        )
    }

    /// The time step from the previous sample, seconds (0 for the first); `None`, counted as
    /// dropped, for a sample that is not finite or goes back in time.
    fn time_step(&mut self, s: AccelSample) -> Option<f64> {
        if !s.t.is_finite() || s.a.iter().any(|v| !v.is_finite()) {
            self.dropped += 1;
            return None;
        }
        let dt = match self.last_t {
            Some(t0) if s.t <= t0 => {
                self.dropped += 1;
                return None;
            }
            // A gap (sensor stall) counts as one nominal step, so nothing integrates across it.
            Some(t0) => (s.t - t0).min(0.05),
            None => 0.0,
        };
        self.last_t = Some(s.t);
        Some(dt)
    }

    /// Updates the gravity estimate and the upright reference with the measured vector `a`
    /// (m/s²), taken `dt` after the previous sample; returns (gravity, upright). Both learn only
    /// while |a| is within the gate of 1 g.
    fn track_gravity(&mut self, a: [f64; 3], dt: f64) -> ([f64; 3], [f64; 3]) {
        let mag = norm(a);
        let p = self.p;
        let gate = f64::from(p.gravity_gate_g) * G64;
        let g = self.gravity.get_or_insert(a);
        if (mag - G64).abs() < gate && dt > 0.0 {
            towards(g, a, (dt / f64::from(p.gravity_tau_s)).min(1.0));
        }
        let g = *g;
        // The upright reference learns 30x slower, and only while not tilted from it.
        let up = self.upright.get_or_insert(g);
        if angle_deg(g, *up) < 20.0 && (mag - G64).abs() < gate && dt > 0.0 {
            towards(up, g, (dt / (30.0 * f64::from(p.gravity_tau_s))).min(1.0));
        }
        (g, *up)
    }

    /// Tilt from `up` of the measured vector's fast direction, degrees, and whether it has been
    /// past the rollover bar for the hold time at `t`.
    fn track_tilt(&mut self, t: f64, a: [f64; 3], up: [f64; 3], dt: f64) -> (f64, bool) {
        let p = self.p;
        // The fast direction of the measured vector (0.3 s), for the tilt.
        let fast = self.fast.get_or_insert(a);
        if dt > 0.0 {
            towards(fast, a, (dt / 0.3).min(1.0));
        }
        let tilt = angle_deg(*fast, up);
        let rolled = if tilt >= f64::from(p.rollover_deg) {
            let since = *self.tilted_since.get_or_insert(t);
            t - since >= f64::from(p.rollover_hold_s)
        } else {
            self.tilted_since = None;
            false
        };
        (tilt, rolled)
    }

    /// Integrates the gravity-removed acceleration `lin` of the sample at `t`; returns the
    /// baseline-removed velocity change (m/s) and the jerk over the last ~20 ms (g/s).
    fn velocity_change_and_jerk(&mut self, t: f64, lin: [f64; 3], dt: f64) -> (f64, f64) {
        let p = self.p;
        // Cumulative integral of the gravity-removed acceleration.
        let prev = self.cum.back().map_or([0.0; 3], |c| c.1);
        let cum = [
            prev[0] + lin[0] * dt,
            prev[1] + lin[1] * dt,
            prev[2] + lin[2] * dt,
        ];
        self.cum.push_back((t, cum));
        let span = f64::from(p.dv_window_s) + f64::from(p.baseline_s);
        while self.cum.front().is_some_and(|c| t - c.0 > span + 0.05) {
            self.cum.pop_front();
        }
        let dv = self.delta_v(t, cum);
        self.lin_hist.push_back((t, lin));
        while self.lin_hist.front().is_some_and(|c| t - c.0 > 0.02) {
            self.lin_hist.pop_front();
        }
        let jerk = match self.lin_hist.front() {
            Some(&(t0, l0)) if t - t0 > 1e-4 => {
                norm([lin[0] - l0[0], lin[1] - l0[1], lin[2] - l0[2]]) / (t - t0) / G64
            }
            _ => 0.0,
        };
        (dv, jerk)
    }

    /// Adds a sample's features to its second `floor(t)`; if the sample starts a new second, the
    /// one in progress is closed and returned.
    fn accumulate(&mut self, t: f64, f: &SampleFeatures) -> Option<MotionSecond> {
        let second = t.floor() as i64;
        let mut done = None;
        if self.acc.is_some_and(|acc| acc.second != second) {
            done = self.acc.take().map(|acc| self.close(acc));
        }
        let pending = &mut self.pending_decel;
        let acc = self.acc.get_or_insert_with(|| {
            let mut acc = Acc {
                second,
                ..Acc::default()
            };
            for &(_, d) in pending.iter().filter(|(sec, _)| *sec == second) {
                acc.decel = Some(acc.decel.map_or(d, |x: f64| x.max(d)));
            }
            pending.retain(|(sec, _)| *sec > second);
            acc
        });
        acc.samples += 1;
        acc.peak = acc.peak.max(norm(f.lin) / G64);
        acc.dv = acc.dv.max(f.dv);
        acc.jerk = acc.jerk.max(f.jerk);
        acc.tilt = acc.tilt.max(f.tilt);
        acc.rolled |= f.rolled;
        if f.clipped {
            acc.saturated += f.dt * 1000.0;
        }
        done
    }

    /// Completes the second in progress (end of a trace or segment).
    pub fn finish(&mut self) -> Option<MotionSecond> {
        self.acc.take().map(|acc| self.close(acc))
    }

    /// Baseline-removed velocity change over the window ending now.
    fn delta_v(&self, t: f64, cum_now: [f64; 3]) -> f64 {
        let w = f64::from(self.p.dv_window_s);
        let b = f64::from(self.p.baseline_s);
        let at = |time: f64| -> Option<(f64, [f64; 3])> {
            let i = self.cum.partition_point(|c| c.0 < time);
            self.cum.get(i).copied()
        };
        let Some((t1, c1)) = at(t - w) else {
            return 0.0;
        };
        let (t0, c0) = match at(t - w - b) {
            Some(x) if t1 - x.0 > 0.25 * b => x,
            // Not enough history for a baseline yet: none.
            _ => (t1, c1),
        };
        let win = t - t1;
        if win <= 0.0 {
            return 0.0;
        }
        let v: [f64; 3] = std::array::from_fn(|i| {
            let base = if t1 > t0 {
                (c1[i] - c0[i]) / (t1 - t0)
            } else {
                0.0
            };
            (cum_now[i] - c1[i]) - base * win
        });
        norm(v)
    }

    fn close(&self, acc: Acc) -> MotionSecond {
        let p = &self.p;
        let mut best = (0.0f64, None);
        let mut consider = |r: f64, cause: MotionCause| {
            if r > best.0 {
                best = (r, Some(cause));
            }
        };
        consider(acc.peak / f64::from(p.impact_g), MotionCause::Impact);
        consider(acc.dv / f64::from(p.dv_ms), MotionCause::Impact);
        if acc.saturated >= f64::from(p.saturation_ms) && acc.dv >= 0.5 * f64::from(p.dv_ms) {
            consider(2.0, MotionCause::Saturation);
        }
        if acc.rolled {
            consider(2.0, MotionCause::Rollover);
        }
        if let Some(d) = acc.decel {
            consider(d / f64::from(p.stop_decel_g), MotionCause::SuddenStop);
        }
        let score = ratio_score(best.0 as f32);
        MotionSecond {
            second: acc.second,
            samples: acc.samples,
            peak_g: acc.peak as f32,
            dv_ms: acc.dv as f32,
            jerk_gps: acc.jerk as f32,
            tilt_deg: acc.tilt as f32,
            saturated_ms: acc.saturated as f32,
            decel_g: acc.decel.map(|d| d as f32),
            score,
            cause: if score >= 0.5 { best.1 } else { None },
        }
    }
}

/// Scores a whole trace (samples and speeds each in time order); one entry per second that has
/// accelerometer samples.
pub fn score_trace(
    p: MotionParams,
    samples: &[AccelSample],
    speeds: &[SpeedSample],
) -> Vec<MotionSecond> {
    let mut scorer = MotionScorer::new(p);
    let mut out = Vec::new();
    let mut si = 0;
    for s in samples {
        while si < speeds.len() && speeds[si].t <= s.t {
            scorer.push_speed(speeds[si]);
            si += 1;
        }
        out.extend(scorer.push(*s));
    }
    out.extend(scorer.finish());
    out
}

/// What a MEMS G-sensor makes of a lab accelerometer's trace: averaged over each of its own
/// sample periods (its anti-alias filter and output data rate), clipped at its full scale,
/// gravity added on the `gravity_axis`, and quantised to its resolution. `trace` is (t, [g; 3])
/// at a higher rate; the result is in m/s² at `rate_hz`.
pub fn mems_resample(
    trace: &[(f64, [f32; 3])],
    rate_hz: f64,
    range_g: f32,
    lsb_g: f32,
    gravity: [f32; 3],
) -> Vec<AccelSample> {
    let mut out = Vec::new();
    let Some(&(t_first, _)) = trace.first() else {
        return out;
    };
    let period = 1.0 / rate_hz;
    let mut k = 0i64;
    let mut i = 0;
    while i < trace.len() {
        let end = t_first + (k + 1) as f64 * period;
        let mut sum = [0.0f64; 3];
        let mut n = 0u32;
        while i < trace.len() && trace[i].0 < end {
            for (s, v) in sum.iter_mut().zip(trace[i].1) {
                *s += f64::from(v);
            }
            n += 1;
            i += 1;
        }
        if n > 0 {
            let a: [f32; 3] = std::array::from_fn(|ax| {
                let g = (sum[ax] / f64::from(n)) as f32 + gravity[ax];
                let g = g.clamp(-range_g, range_g);
                (g / lsb_g).round() * lsb_g * G
            });
            out.push(AccelSample { t: end, a });
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn still(t0: f64, secs: f64, hz: f64) -> Vec<AccelSample> {
        let n = (secs * hz) as usize;
        (0..n)
            .map(|i| AccelSample {
                t: t0 + i as f64 / hz,
                a: [0.0, 0.0, G],
            })
            .collect()
    }

    fn flagged(v: &[MotionSecond]) -> Vec<(i64, Option<MotionCause>)> {
        v.iter()
            .filter(|s| s.score >= 0.5)
            .map(|s| (s.second, s.cause))
            .collect()
    }

    #[test]
    fn a_standing_car_scores_nothing() {
        let out = score_trace(MotionParams::default(), &still(100.0, 20.0, 100.0), &[]);
        assert_eq!(out.len(), 20);
        assert!(out.iter().all(|s| s.score < 0.01 && s.samples == 100));
        assert_eq!(out[0].second, 100);
    }

    #[test]
    fn sustained_hard_braking_is_not_an_impact() {
        // 0.9 g of braking for 3 s, ramped in over 0.3 s (ABS stop from ~95 km/h).
        let mut v = still(0.0, 4.0, 200.0);
        for i in 0..(200 * 4) {
            let t = 4.0 + i as f64 / 200.0;
            let ramp = ((t - 4.0) / 0.3).min(1.0) as f32;
            let b = if t < 7.0 { 0.9 * ramp } else { 0.0 };
            v.push(AccelSample {
                t,
                a: [-b * G, 0.0, G],
            });
        }
        let out = score_trace(MotionParams::default(), &v, &[]);
        assert!(flagged(&out).is_empty(), "{out:?}");
        let max_dv = out.iter().map(|s| s.dv_ms).fold(0.0, f32::max);
        // A 0.3-s ramp to 0.9 g is the hardest onset of braking; it stays well below the 2 m/s bar.
        assert!(max_dv < 1.5, "baseline removal failed: {max_dv}");
    }

    #[test]
    fn a_short_pothole_spike_is_not_an_impact_but_a_crash_pulse_is() {
        // Pothole: 2.5 g for 10 ms on z.
        let mut v = still(0.0, 3.0, 400.0);
        for s in v.iter_mut().filter(|s| (1.5..1.51).contains(&s.t)) {
            s.a[2] += 2.5 * G;
        }
        assert!(flagged(&score_trace(MotionParams::default(), &v, &[])).is_empty());
        // Crash: a 100 ms half-sine of 15 g peak on x (Δv ≈ 9.4 m/s).
        for s in v.iter_mut().filter(|s| (2.2..2.3).contains(&s.t)) {
            let ph = (s.t - 2.2) / 0.1 * std::f64::consts::PI;
            s.a[0] -= 15.0 * G * ph.sin() as f32;
        }
        let out = score_trace(MotionParams::default(), &v, &[]);
        assert_eq!(flagged(&out), vec![(2, Some(MotionCause::Impact))]);
        assert!(out[2].dv_ms > 8.0 && out[2].dv_ms < 11.0, "{:?}", out[2]);
        assert!(out[2].peak_g > 14.0);
    }

    #[test]
    fn clipping_with_a_velocity_change_is_an_impact() {
        let p = MotionParams {
            range_g: 4.0,
            impact_g: 50.0, // peak bar out of reach: only saturation can fire
            dv_ms: 2.0,
            ..MotionParams::default()
        };
        let mut v = still(0.0, 3.0, 400.0);
        for s in v.iter_mut().filter(|s| (1.2..1.26).contains(&s.t)) {
            s.a[0] = -4.0 * G;
        }
        let out = score_trace(p, &v, &[]);
        assert_eq!(out[1].cause, Some(MotionCause::Saturation), "{:?}", out[1]);
        assert!(out[1].saturated_ms >= 50.0);
    }

    #[test]
    fn rollover_needs_the_tilt_to_last() {
        let p = MotionParams::default();
        // Upright 10 s, then on its side (gravity on y) for 5 s.
        let mut v = still(0.0, 10.0, 100.0);
        for i in 0..500 {
            v.push(AccelSample {
                t: 10.0 + i as f64 / 100.0,
                a: [0.0, G, 0.0],
            });
        }
        let out = score_trace(p, &v, &[]);
        let f = flagged(&out);
        assert!(
            f.iter()
                .any(|&(s, c)| c == Some(MotionCause::Rollover) && s == 12),
            "{f:?}"
        );
        assert!(f.iter().all(|&(s, _)| s >= 10));
        // A 1-s tilt (a hard bump, a steep driveway) is not a rollover.
        let mut v = still(0.0, 10.0, 100.0);
        for s in v.iter_mut().filter(|s| (5.0..6.0).contains(&s.t)) {
            s.a = [0.0, G, 0.0];
        }
        let out = score_trace(p, &v, &[]);
        assert!(
            !flagged(&out)
                .iter()
                .any(|&(_, c)| c == Some(MotionCause::Rollover))
        );
    }

    #[test]
    fn any_mounting_orientation_works() {
        // Sensor mounted upside down and rotated: gravity along -x.
        let mut v: Vec<AccelSample> = (0..1000)
            .map(|i| AccelSample {
                t: i as f64 / 100.0,
                a: [-G, 0.0, 0.0],
            })
            .collect();
        let quiet = score_trace(MotionParams::default(), &v, &[]);
        assert!(flagged(&quiet).is_empty());
        for s in v.iter_mut().filter(|s| (6.0..6.08).contains(&s.t)) {
            s.a[2] += 12.0 * G;
        }
        let out = score_trace(MotionParams::default(), &v, &[]);
        assert_eq!(flagged(&out), vec![(6, Some(MotionCause::Impact))]);
    }

    #[test]
    fn sudden_stop_from_the_speed_feed() {
        let acc = still(0.0, 10.0, 50.0);
        // 1-Hz GPS: 15 m/s, then 0 one second later at t = 6 (1.53 g); braking 0.7 g elsewhere.
        let speeds: Vec<SpeedSample> = (0..10)
            .map(|i| SpeedSample {
                t: i as f64,
                speed: if i < 6 { 15.0 } else { 0.0 },
            })
            .collect();
        let out = score_trace(MotionParams::default(), &acc, &speeds);
        assert_eq!(flagged(&out), vec![(6, Some(MotionCause::SuddenStop))]);
        assert!((out[6].decel_g.unwrap() - 1.53).abs() < 0.01);
        let gentle: Vec<SpeedSample> = (0..10)
            .map(|i| SpeedSample {
                t: i as f64,
                speed: (20.0 - 7.0 * i as f32).max(0.0),
            })
            .collect();
        let out = score_trace(MotionParams::default(), &acc, &gentle);
        assert!(flagged(&out).is_empty(), "{out:?}");
    }

    #[test]
    fn bad_samples_are_dropped_and_counted() {
        let mut s = MotionScorer::new(MotionParams::default());
        s.push(AccelSample {
            t: 1.0,
            a: [0.0, 0.0, G],
        });
        s.push(AccelSample {
            t: 0.5,
            a: [0.0, 0.0, G],
        });
        s.push(AccelSample {
            t: 1.1,
            a: [f32::NAN, 0.0, G],
        });
        assert_eq!(s.dropped(), 2);
        assert_eq!(s.finish().unwrap().samples, 1);
    }

    #[test]
    fn params_are_validated() {
        assert!(MotionParams::default().validate().is_ok());
        let bad = MotionParams {
            dv_ms: 0.0,
            ..MotionParams::default()
        };
        assert!(bad.validate().unwrap_err().contains("motion.dv_ms"));
        let bad = MotionParams {
            rollover_deg: 200.0,
            ..MotionParams::default()
        };
        assert!(bad.validate().unwrap_err().contains("rollover_deg"));
    }

    #[test]
    fn mems_model_averages_clips_and_adds_gravity() {
        // 10 kHz trace: 40 g for 2 ms on x.
        let trace: Vec<(f64, [f32; 3])> = (0..1000)
            .map(|i| {
                let t = i as f64 / 10_000.0;
                let x = if (0.05..0.052).contains(&t) {
                    40.0
                } else {
                    0.0
                };
                (t, [x, 0.0, 0.0])
            })
            .collect();
        let s = mems_resample(&trace, 400.0, 16.0, 1.0 / 2048.0, [0.0, 0.0, 1.0]);
        assert_eq!(s.len(), 40);
        // 2 ms of 40 g in a 2.5 ms period: ~32 g averaged, clipped to 16 g.
        let peak = s.iter().map(|x| x.a[0]).fold(0.0, f32::max);
        assert!((peak - 16.0 * G).abs() < 0.01, "{peak}");
        assert!((s[0].a[2] - G).abs() < 0.01);
    }

    proptest::proptest! {
        #[test]
        fn scores_stay_probabilities(noise in proptest::collection::vec(-30.0f32..30.0, 50..400)) {
            let v: Vec<AccelSample> = noise
                .iter()
                .enumerate()
                .map(|(i, &n)| AccelSample { t: i as f64 / 100.0, a: [n, -n * 0.5, G + n] })
                .collect();
            for s in score_trace(MotionParams::default(), &v, &[]) {
                proptest::prop_assert!((0.0..=1.0).contains(&s.score));
                proptest::prop_assert!(s.peak_g.is_finite() && s.dv_ms.is_finite());
            }
        }
    }
}
