//! Progress bars on stderr for long runs at a terminal (indicatif); nothing at all when stderr
//! is not a terminal, so scripts and logs see exactly Postfix's lines.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use postfix_queue::maintain::Operation;

/// Runs over fewer messages than this finish too fast for a bar to help.
const THRESHOLD: u64 = 3000;

static CURRENT: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn at_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn install(bar: ProgressBar) -> ProgressBar {
    if let Ok(mut current) = CURRENT.lock() {
        *current = Some(bar.clone());
    }
    bar
}

fn bar(length: u64, message: &'static str) -> Option<ProgressBar> {
    if length < THRESHOLD || !at_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} (eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message);
    Some(install(bar))
}

/// A bar for reading the candidates' envelopes.
pub fn examining(length: u64) -> Option<ProgressBar> {
    bar(length, "postsuper: selecting")
}

/// A bar for acting on the selected messages.
pub fn acting(length: u64) -> Option<ProgressBar> {
    bar(length, "postsuper: working")
}

/// A spinner with a count for an `ALL` walk, whose length is not known in advance; it appears
/// once the walk has passed [`THRESHOLD`] entries.
pub fn start_walk(operation: Operation) {
    if !at_terminal() {
        return;
    }
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template("{spinner} {msg}: {pos} entries ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    spinner.set_style(style);
    spinner.set_message(format!("postsuper: {operation:?} ALL").to_lowercase());
    install(spinner);
}

/// Called by the walk every so many entries with the running count.
pub fn walked(count: u64) {
    let Ok(current) = CURRENT.lock() else {
        return;
    };
    if let Some(bar) = current.as_ref() {
        if count >= THRESHOLD && bar.is_hidden() && at_terminal() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        bar.set_position(count);
    }
}

/// Runs `print` with the bar cleared, so lines never mix with it.
pub fn suspend<T>(print: impl FnOnce() -> T) -> T {
    let bar = CURRENT.lock().ok().and_then(|current| current.clone());
    match bar {
        Some(bar) if !bar.is_hidden() => bar.suspend(print),
        _ => print(),
    }
}

/// Removes the bar, if any.
pub fn finish() {
    if let Ok(mut current) = CURRENT.lock() {
        if let Some(bar) = current.take() {
            bar.finish_and_clear();
        }
    }
}
