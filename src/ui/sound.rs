//! Sounds a visitor notices in a noisy hall: a bright rising two-note chime when a badge or
//! a visit is saved, a low double buzz when a code is refused (as check-in scanners do).
//!
//! The controller decides which cue a result calls for (`app::controller::cue_for`).
//! The tones are synthesised here ([`samples`], pure, tested); a dedicated thread plays them
//! through rodio (ALSA), opening the default output device at the first sound. A kiosk
//! without a sound device works as before: the failure is logged once, never shown.

use std::num::NonZero;
use std::sync::mpsc::{self, Sender};

pub use crate::app::controller::Cue;
use crate::app::controller::Speaker;

pub const SAMPLE_RATE: u32 = 44_100;

/// One note: frequency (Hz), length (ms), and whether it is a buzz (odd harmonics).
struct Note {
    hz: f32,
    ms: u32,
    buzz: bool,
}

fn notes(cue: Cue) -> &'static [Option<Note>] {
    // `None` is a rest of 60 ms.
    match cue {
        // E6 then A6: short and rising, heard over a crowd.
        Cue::Saved => &[
            Some(Note {
                hz: 1318.5,
                ms: 90,
                buzz: false,
            }),
            Some(Note {
                hz: 1760.0,
                ms: 150,
                buzz: false,
            }),
        ],
        // Two low buzzes: nothing like the chime, even through a cheap speaker.
        Cue::Refused => &[
            Some(Note {
                hz: 220.0,
                ms: 150,
                buzz: true,
            }),
            None,
            Some(Note {
                hz: 220.0,
                ms: 150,
                buzz: true,
            }),
        ],
    }
}

/// The cue as mono samples at [`SAMPLE_RATE`], scaled by `volume` (0–100). Each note fades
/// in and out over 5 ms so that it does not click.
pub fn samples(cue: Cue, volume: u8) -> Vec<f32> {
    let gain = f32::from(volume.min(100)) / 100.0 * 0.6;
    let rate = SAMPLE_RATE as f32;
    let fade = (rate * 0.005) as usize;
    let mut out = Vec::new();
    for note in notes(cue) {
        let Some(note) = note else {
            out.extend(std::iter::repeat_n(0.0, (rate * 0.06) as usize));
            continue;
        };
        let length = (rate * note.ms as f32 / 1000.0) as usize;
        for i in 0..length {
            let t = i as f32 / rate;
            let phase = std::f32::consts::TAU * note.hz * t;
            let wave = if note.buzz {
                // A soft square: the first odd harmonics.
                (phase.sin() + (3.0 * phase).sin() / 3.0 + (5.0 * phase).sin() / 5.0) * 0.8
            } else {
                phase.sin()
            };
            let envelope = (i.min(length - 1 - i) as f32 / fade as f32).min(1.0);
            out.push(wave * envelope * gain);
        }
    }
    out
}

/// Plays cues on their own thread; cheap to call from the kiosk's worker.
pub struct Sounds {
    cues: Option<Sender<Cue>>,
}

impl Sounds {
    /// No thread and no device at volume 0.
    pub fn start(volume: u8) -> Self {
        if volume == 0 {
            return Self { cues: None };
        }
        let (cues, received) = mpsc::channel::<Cue>();
        let spawned = std::thread::Builder::new()
            .name("badge-kiosk-sound".into())
            .spawn(move || {
                // The device is opened at the first cue, on this thread (a cpal stream is
                // not `Send` everywhere), and kept open.
                let mut device: Option<rodio::MixerDeviceSink> = None;
                let mut unavailable = false;
                for cue in received {
                    if device.is_none() && !unavailable {
                        match rodio::DeviceSinkBuilder::open_default_sink() {
                            Ok(mut opened) => {
                                opened.log_on_drop(false);
                                device = Some(opened);
                            }
                            Err(error) => {
                                tracing::warn!(%error, "no sound device: the kiosk runs silently");
                                unavailable = true;
                            }
                        }
                    }
                    if let Some(device) = &device {
                        if let (Some(channels), Some(rate)) = (NonZero::new(1), NonZero::new(SAMPLE_RATE)) {
                            device
                                .mixer()
                                .add(rodio::buffer::SamplesBuffer::new(channels, rate, samples(cue, volume)));
                        }
                    }
                }
            });
        match spawned {
            Ok(_) => Self { cues: Some(cues) },
            Err(error) => {
                tracing::warn!(%error, "the sound thread did not start: the kiosk runs silently");
                Self { cues: None }
            }
        }
    }
}

impl Speaker for Sounds {
    fn play(&self, cue: Cue) {
        if let Some(cues) = &self.cues {
            // The thread only stops with the process.
            let _ = cues.send(cue);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(samples: &[f32]) -> f32 {
        samples.iter().fold(0.0, |peak, s| peak.max(s.abs()))
    }

    /// Zero crossings per second: the pitch a listener hears, roughly.
    fn crossings_per_second(samples: &[f32]) -> f32 {
        let crossings = samples.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
        crossings as f32 / (samples.len() as f32 / SAMPLE_RATE as f32)
    }

    #[test]
    fn saved_and_refused_are_short_and_distinct() {
        let saved = samples(Cue::Saved, 100);
        let refused = samples(Cue::Refused, 100);
        let seconds = |s: &[f32]| s.len() as f32 / SAMPLE_RATE as f32;
        assert!((0.2..0.5).contains(&seconds(&saved)), "{}", seconds(&saved));
        assert!((0.2..0.5).contains(&seconds(&refused)), "{}", seconds(&refused));
        // The chime is high, the buzz low.
        assert!(crossings_per_second(&saved) > 2000.0);
        assert!(crossings_per_second(&refused) < 1000.0);
        // The buzz has a silent gap between its two notes.
        let gap = (0.15 * SAMPLE_RATE as f32) as usize + 100;
        assert_eq!(peak(&refused[gap..gap + 1000]), 0.0);
    }

    #[test]
    fn volume_scales_and_nothing_clips_or_clicks() {
        for cue in [Cue::Saved, Cue::Refused] {
            let loud = samples(cue, 100);
            let soft = samples(cue, 25);
            assert!(peak(&loud) <= 1.0 && peak(&loud) > 0.4, "{}", peak(&loud));
            assert!((peak(&soft) * 4.0 - peak(&loud)).abs() < 0.01);
            assert_eq!(peak(&samples(cue, 0)), 0.0);
            // Notes start and end at silence: no click.
            assert!(loud[0].abs() < 1e-3 && loud[loud.len() - 1].abs() < 1e-2);
        }
    }

    #[test]
    fn volume_zero_starts_nothing() {
        let sounds = Sounds::start(0);
        assert!(sounds.cues.is_none());
        sounds.play(Cue::Saved);
    }
}
