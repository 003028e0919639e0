//! Segment decoding with GStreamer: one pipeline, `filesrc ! decodebin`, then per stream
//!
//! * video: `videorate ! video/x-raw,framerate=1/1 ! videoconvert ! videoscale ! RGB WxH` → appsink
//!   (`videorate` first so only the sampled frames are converted and scaled);
//! * audio: `audioconvert ! audioresample ! audio/x-raw,format=F32LE,channels=1,rate=16000` → appsink,
//!
//! both appsinks with `sync=false` so the file decodes as fast as the CPU allows. Branches are
//! built when decodebin exposes a stream, so a file without audio decodes its video (and says so)
//! instead of stalling in preroll. Frames are copied out row by row honouring the row stride.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use crate::error::AgentError;

/// Audio sample rate the audio model expects.
pub const AUDIO_RATE: u32 = 16_000;

/// One sampled video frame, tightly packed RGB (no row padding).
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Presentation time in ns from the start of the segment.
    pub pts_ns: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, rows top to bottom.
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Frame({}x{} @ {} ms)",
            self.width,
            self.height,
            self.pts_ns / 1_000_000
        )
    }
}

/// What a segment decoded to.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// One frame per second of video.
    pub frames: Vec<Frame>,
    /// Mono F32 samples at [`AUDIO_RATE`], or `None` when the file has no audio stream.
    pub audio: Option<Vec<f32>>,
}

impl Decoded {
    /// The audio cut into 1-second windows; the last partial window is zero-padded (a remainder
    /// shorter than 0.25 s is dropped).
    pub fn audio_windows(&self) -> Vec<&[f32]> {
        self.audio
            .as_deref()
            .map_or_else(Vec::new, |a| a.chunks(AUDIO_RATE as usize).collect())
    }

    /// 1-second windows, each exactly [`AUDIO_RATE`] samples (owned, padded).
    pub fn padded_audio_windows(&self) -> Vec<Vec<f32>> {
        let n = AUDIO_RATE as usize;
        self.audio_windows()
            .into_iter()
            .filter(|w| w.len() >= n / 4)
            .map(|w| {
                let mut v = w.to_vec();
                v.resize(n, 0.0);
                v
            })
            .collect()
    }
}

/// Initialises GStreamer once (idempotent).
pub fn init() -> Result<(), AgentError> {
    gst::init().map_err(|e| AgentError::Decode {
        path: "<gstreamer>".into(),
        reason: format!("cannot initialise GStreamer: {e}"),
    })
}

/// Decoder options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Scale frames to this size (stretching); `None` keeps the native size so that the detector
    /// applies the model card's own resize rule (what the models were trained with).
    pub scale_to: Option<(u32, u32)>,
    /// Give up after this long (a hung decoder must not stall the agent).
    pub timeout: Duration,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            scale_to: None,
            timeout: Duration::from_secs(600),
        }
    }
}

/// What is left after streaming the frames out.
#[derive(Debug, Clone, Default)]
pub struct DecodeSummary {
    /// Frames delivered.
    pub frames: usize,
    /// Mono F32 samples at [`AUDIO_RATE`], or `None` when the file has no audio stream.
    pub audio: Option<Vec<f32>>,
}

#[derive(Default)]
struct Sinks {
    audio: Vec<f32>,
    has_video: bool,
    has_audio: bool,
    error: Option<String>,
}

fn make(name: &str) -> Result<gst::Element, String> {
    gst::ElementFactory::make(name).build().map_err(|_| {
        format!("GStreamer element `{name}` is missing (install gstreamer1.0-plugins-base/good)")
    })
}

fn link_branch(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    elements: &[gst::Element],
    sink: &gst::Element,
) -> Result<(), String> {
    let mut all: Vec<&gst::Element> = elements.iter().collect();
    all.push(sink);
    pipeline
        .add_many(all.iter().copied())
        .map_err(|e| format!("cannot add branch: {e}"))?;
    gst::Element::link_many(all.iter().copied()).map_err(|e| format!("cannot link branch: {e}"))?;
    for e in &all {
        e.sync_state_with_parent()
            .map_err(|e| format!("cannot start branch: {e}"))?;
    }
    let sinkpad = elements[0]
        .static_pad("sink")
        .ok_or("branch has no sink pad")?;
    pad.link(&sinkpad)
        .map_err(|e| format!("cannot link decoder output: {e:?}"))?;
    Ok(())
}

fn video_branch(
    scale_to: Option<(u32, u32)>,
    state: Arc<Mutex<Sinks>>,
    tx: std::sync::mpsc::SyncSender<Frame>,
) -> Result<(Vec<gst::Element>, gst::Element), String> {
    let queue = make("queue")?;
    let rate = make("videorate")?;
    let rate_caps = make("capsfilter")?;
    rate_caps.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("framerate", gst::Fraction::new(1, 1))
            .build(),
    );
    let convert = make("videoconvert")?;
    let scale = make("videoscale")?;
    scale.set_property("add-borders", false);
    let caps = match scale_to {
        Some((w, h)) => gst::Caps::builder("video/x-raw")
            .field("format", "RGB")
            .field("width", w as i32)
            .field("height", h as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
        None => gst::Caps::builder("video/x-raw")
            .field("format", "RGB")
            .build(),
    };
    let sink = gst_app::AppSink::builder()
        .caps(&caps)
        .sync(false)
        .max_buffers(4)
        .build();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                match frame_from_sample(&sample) {
                    // Blocks while the consumer is busy: memory stays at a couple of frames.
                    Ok(f) => tx.send(f).map_err(|_| gst::FlowError::Flushing)?,
                    Err(e) => {
                        state.lock().unwrap_or_else(|p| p.into_inner()).error = Some(e);
                        return Err(gst::FlowError::Error);
                    }
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok((vec![queue, rate, rate_caps, convert, scale], sink.upcast()))
}

fn frame_from_sample(sample: &gst::Sample) -> Result<Frame, String> {
    let caps = sample.caps().ok_or("video sample without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("bad video caps: {e}"))?;
    let buffer = sample.buffer().ok_or("video sample without buffer")?;
    let pts_ns = buffer.pts().map_or(0, |t| t.nseconds());
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|_| "cannot map video frame".to_string())?;
    let (w, h) = (info.width(), info.height());
    let stride = frame.plane_stride()[0] as usize;
    let data = frame
        .plane_data(0)
        .map_err(|e| format!("cannot read video plane: {e}"))?;
    let row = w as usize * 3;
    let mut rgb = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        let start = y * stride;
        rgb.extend_from_slice(
            data.get(start..start + row)
                .ok_or("video plane shorter than its stride says")?,
        );
    }
    Ok(Frame {
        pts_ns,
        width: w,
        height: h,
        rgb,
    })
}

fn audio_branch(state: Arc<Mutex<Sinks>>) -> Result<(Vec<gst::Element>, gst::Element), String> {
    let queue = make("queue")?;
    let convert = make("audioconvert")?;
    let resample = make("audioresample")?;
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("channels", 1i32)
        .field("rate", AUDIO_RATE as i32)
        .build();
    let sink = gst_app::AppSink::builder()
        .caps(&caps)
        .sync(false)
        .max_buffers(16)
        .build();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buffer) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.audio.extend(
                    map.as_slice()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok((vec![queue, convert, resample], sink.upcast()))
}

/// Decodes `path`, handing each 1-fps RGB frame to `on_frame` as soon as it is decoded (on the
/// calling thread; decoding continues meanwhile, at most two frames ahead). Returns the audio.
/// `on_frame` failing stops the decoder and returns its message.
pub fn decode_each(
    path: &Path,
    options: &DecodeOptions,
    mut on_frame: impl FnMut(Frame) -> Result<(), String>,
) -> Result<DecodeSummary, AgentError> {
    let fail = |reason: String| AgentError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    init()?;
    if !path.is_file() {
        return Err(fail("file does not exist".into()));
    }
    let state = Arc::new(Mutex::new(Sinks::default()));
    let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(2);
    let pipeline = file_pipeline(path, options.scale_to, &state, tx).map_err(fail)?;
    let mut frames = 0usize;
    let result = pump(&pipeline, &rx, &state, options.timeout, &mut |frame| {
        frames += 1;
        on_frame(frame)
    });
    // Unblock a streaming thread waiting on a full channel before stopping the pipeline.
    drop(rx);
    let _ = pipeline.set_state(gst::State::Null);
    result.map_err(fail)?;

    let mut st = std::mem::take(&mut *state.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(e) = st.error.take() {
        return Err(fail(e));
    }
    if !st.has_video || frames == 0 {
        return Err(fail(
            "no video stream (or no decodable frame) in the file".into(),
        ));
    }
    Ok(DecodeSummary {
        frames,
        audio: st.has_audio.then_some(st.audio),
    })
}

/// `filesrc location=path ! decodebin`, with the video branch (frames into `tx`) and the audio
/// branch linked as decodebin exposes the first stream of each kind.
fn file_pipeline(
    path: &Path,
    scale_to: Option<(u32, u32)>,
    state: &Arc<Mutex<Sinks>>,
    tx: std::sync::mpsc::SyncSender<Frame>,
) -> Result<gst::Pipeline, String> {
    let pipeline = gst::Pipeline::new();
    let src = make("filesrc")?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let decodebin = make("decodebin")?;
    pipeline
        .add_many([&src, &decodebin])
        .map_err(|e| e.to_string())?;
    src.link(&decodebin).map_err(|e| e.to_string())?;

    let tx = Mutex::new(Some(tx));
    let weak = pipeline.downgrade();
    let st = state.clone();
    decodebin.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let Some(name) = caps.structure(0).map(|s| s.name().to_string()) else {
            return;
        };
        let mut guard = st.lock().unwrap_or_else(|p| p.into_inner());
        let result = if name.starts_with("video/") && !guard.has_video {
            guard.has_video = true;
            drop(guard);
            match tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                Some(tx) => video_branch(scale_to, st.clone(), tx)
                    .and_then(|(els, sink)| link_branch(&pipeline, pad, &els, &sink)),
                None => Ok(()),
            }
        } else if name.starts_with("audio/") && !guard.has_audio {
            guard.has_audio = true;
            drop(guard);
            audio_branch(st.clone())
                .and_then(|(els, sink)| link_branch(&pipeline, pad, &els, &sink))
        } else {
            Ok(())
        };
        if let Err(e) = result {
            st.lock()
                .unwrap_or_else(|p| p.into_inner())
                .error
                .get_or_insert(e);
        }
    });
    Ok(pipeline)
}

/// Plays `pipeline` and hands every frame from `rx` to `on_frame` until end of stream (the
/// frames still queued included), a pipeline error (a branch's own error first), `on_frame`
/// failing, or `timeout`.
fn pump(
    pipeline: &gst::Pipeline,
    rx: &std::sync::mpsc::Receiver<Frame>,
    state: &Mutex<Sinks>,
    timeout: Duration,
    on_frame: &mut dyn FnMut(Frame) -> Result<(), String>,
) -> Result<(), String> {
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| "the pipeline refused to start".to_string())?;
    let bus = pipeline.bus().ok_or("pipeline without bus")?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if std::time::Instant::now() >= deadline {
            return Err(format!("decoding took longer than {timeout:?}"));
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(frame) => {
                on_frame(frame)?;
                continue;
            }
            Err(
                std::sync::mpsc::RecvTimeoutError::Timeout
                | std::sync::mpsc::RecvTimeoutError::Disconnected,
            ) => {}
        }
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(5),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                while let Ok(frame) = rx.try_recv() {
                    on_frame(frame)?;
                }
                return Ok(());
            }
            gst::MessageView::Error(e) => {
                let debug = e.debug().map(|d| format!(" ({d})")).unwrap_or_default();
                let own = state.lock().unwrap_or_else(|p| p.into_inner()).error.take();
                return Err(own.unwrap_or_else(|| format!("{}{debug}", e.error())));
            }
            _ => {}
        }
    }
}

/// Keeps the first and last of a stream of frames (an accident's thumbnails), by move: no frame
/// is copied while streaming.
#[derive(Debug, Default)]
pub struct FirstLast {
    first: Option<Frame>,
    last: Option<Frame>,
}

impl FirstLast {
    /// Takes the next frame.
    pub fn push(&mut self, frame: Frame) {
        if self.first.is_none() {
            self.first = Some(frame);
        } else {
            self.last = Some(frame);
        }
    }

    /// The first and last frames (the same one twice for a one-frame stream); `None` for none.
    pub fn finish(self) -> Option<(Frame, Frame)> {
        let first = self.first?;
        let last = self.last.unwrap_or_else(|| first.clone());
        Some((first, last))
    }
}

/// Decodes `path` completely into memory (frames and audio). For short clips and tests; the
/// daemon streams with [`decode_each`].
pub fn decode(path: &Path, options: &DecodeOptions) -> Result<Decoded, AgentError> {
    let mut frames = Vec::new();
    let summary = decode_each(path, options, |f| {
        frames.push(f);
        Ok(())
    })?;
    Ok(Decoded {
        frames,
        audio: summary.audio,
    })
}
