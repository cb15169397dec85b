//! Progress on a terminal (indicatif on stderr); plain lines when verbose and not a terminal;
//! nothing otherwise.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use crate::image::{Progress, Silent};

/// A spinner or a byte bar for the current step.
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress for Bar {
    fn begin(&self, message: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        bar.set_message(message.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Some(old) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).replace(bar) {
            old.finish_and_clear();
        }
    }

    fn message(&self, message: &str) {
        let mut guard = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        let bar = guard.get_or_insert_with(|| {
            let b = ProgressBar::new_spinner();
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        bar.set_message(message.to_string());
    }

    fn position(&self, done: u64) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            b.set_position(done);
        }
    }

    fn end(&self, message: &str) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
        if !message.is_empty() {
            eprintln!("{message}");
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
