//! Progress on stderr for long commands (`sync`, `hub issue`): an indicatif bar on a terminal;
//! elsewhere (logs, CI, tests reading stderr) a plain line at each tenth, never `\r` redraws.

use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

use indicatif::{ProgressBar, ProgressStyle};

pub(super) struct Progress {
    /// Shown before the counts in plain lines, e.g. "synced".
    label: &'static str,
    terminal: bool,
    /// Made on the first update, once the total is known.
    bar: OnceLock<ProgressBar>,
    /// Plain mode: the last tenth a line was printed for.
    printed_tenth: Mutex<Option<u64>>,
}

impl Progress {
    pub(super) fn new(label: &'static str) -> Self {
        Progress {
            label,
            terminal: std::io::stderr().is_terminal(),
            bar: OnceLock::new(),
            printed_tenth: Mutex::new(None),
        }
    }

    /// `done` of `total`, with `detail` (e.g. "3 refused") after the counts.
    pub(super) fn update(&self, done: u64, total: u64, detail: &str) {
        if total == 0 {
            return;
        }
        let done = done.min(total);
        if self.terminal {
            let bar = self.bar.get_or_init(|| {
                let style = ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg} ({elapsed}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("#>-");
                ProgressBar::new(total).with_style(style)
            });
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(detail.to_owned());
            return;
        }
        let tenth = done * 10 / total;
        let Ok(mut printed) = self.printed_tenth.lock() else {
            return;
        };
        if *printed != Some(tenth) {
            *printed = Some(tenth);
            if detail.is_empty() {
                eprintln!("{} {done}/{total}", self.label);
            } else {
                eprintln!("{} {done}/{total} ({detail})", self.label);
            }
        }
    }

    /// A line of its own that does not tear the bar.
    pub(super) fn say(&self, line: &str) {
        match self.bar.get() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Leaves the bar at its last state, with what follows on the next line.
    pub(super) fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.abandon();
        }
    }
}
