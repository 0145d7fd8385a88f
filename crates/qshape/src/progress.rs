//! A running count on stderr while a long scan runs at a terminal, between qshape's own
//! interim reports (which it clears before printing); nothing when stderr is not a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Scans of fewer files finish before a display would help.
const THRESHOLD: u64 = 5000;

static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Reports the number of files looked at so far.
pub fn scanned(files: u64) {
    if files < THRESHOLD || !std::io::stderr().is_terminal() {
        return;
    }
    let Ok(mut bar) = BAR.lock() else {
        return;
    };
    let bar = bar.get_or_insert_with(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} qshape: {pos} files ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar
    });
    bar.set_position(files);
}

/// Runs `print` with the display cleared.
pub fn suspend<T>(print: impl FnOnce() -> T) -> T {
    let bar = BAR.lock().ok().and_then(|bar| bar.clone());
    match bar {
        Some(bar) => bar.suspend(print),
        None => print(),
    }
}

/// Removes the display.
pub fn finish() {
    if let Ok(mut bar) = BAR.lock() {
        if let Some(bar) = bar.take() {
            bar.finish_and_clear();
        }
    }
}
