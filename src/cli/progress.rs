//! Progress on a terminal (indicatif on stderr); plain lines when verbose and not a terminal;
//! nothing otherwise.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use crate::image::{Progress, Silent};

/// A spinner or a byte bar for the current step, on stderr: the one progress bar of every command
/// (`check`, `build`, `rebuild`, `image`).
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bar {
    fn spinner() -> ProgressBar {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Progress for Bar {
    fn begin(&self, message: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => Bar::spinner(),
        };
        bar.set_prefix(message.to_string());
        if let Some(old) = self.lock().replace(bar) {
            old.finish_and_clear();
        }
    }

    fn message(&self, message: &str) {
        self.lock()
            .get_or_insert_with(Bar::spinner)
            .set_message(message.to_string());
    }

    fn position(&self, done: u64) {
        if let Some(b) = self.lock().as_ref() {
            b.set_position(done);
        }
    }

    fn end(&self, message: &str) {
        if let Some(b) = self.lock().take() {
            b.finish_and_clear();
        }
        if !message.is_empty() {
            eprintln!("{message}");
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = self.lock().take() {
            b.finish_and_clear();
        }
    }
}

/// Plain lines on stderr (for logs and CI with -v).
struct Lines;

impl Progress for Lines {
    fn begin(&self, message: &str, _: Option<u64>) {
        eprintln!("repro: {message}");
    }
    fn message(&self, message: &str) {
        eprintln!("repro: {message}");
    }
    fn end(&self, message: &str) {
        if !message.is_empty() {
            eprintln!("repro: {message}");
        }
    }
}

/// The progress of one command: a bar on a terminal, plain lines with `-v` elsewhere, else nothing.
pub fn for_terminal(verbose: bool) -> Arc<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bar {
            bar: Mutex::new(None),
        })
    } else if verbose {
        Arc::new(Lines)
    } else {
        Arc::new(Silent)
    }
}

/// The progress of a batch (`repro fleet run`): one bar counting jobs on a terminal, and a line
/// per finished job above it (plain lines when stderr is not a terminal).
pub struct Batch {
    bar: Option<ProgressBar>,
}

impl Batch {
    pub fn new(total: u64, done: u64) -> Batch {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} jobs [{elapsed}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix("fleet");
            bar.set_position(done);
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
            bar
        });
        Batch { bar }
    }

    /// What is running now.
    pub fn message(&self, message: &str) {
        if let Some(b) = &self.bar {
            b.set_message(message.to_string());
        }
    }

    /// A job finished: its line, and one more on the bar.
    pub fn finished(&self, line: &str) {
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }

    /// A line above the bar.
    pub fn line(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
