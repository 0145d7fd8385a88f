//! Buffered stdout for listings: a write that fails with EPIPE ends the run quietly (exit 0,
//! as Postfix's tools do); any other write error is reported.

use std::io::{self, Write};

/// Why writing stopped.
#[derive(Debug)]
pub enum WriteStop {
    /// The reader went away: stop quietly.
    BrokenPipe,
    Failed(io::Error),
}

impl From<io::Error> for WriteStop {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Self::BrokenPipe
        } else {
            Self::Failed(error)
        }
    }
}

/// A large buffer in front of stdout; entries are appended and flushed in big writes.
#[derive(Debug)]
pub struct Output {
    buffer: Vec<u8>,
    flush_at: usize,
}

impl Default for Output {
    fn default() -> Self {
        Self::new()
    }
}

impl Output {
    pub fn new() -> Self {
        ignore_sigpipe();
        Self {
            buffer: Vec::with_capacity(128 * 1024),
            flush_at: 64 * 1024,
        }
    }

    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Writes the buffer out once it is large enough.
    pub fn maybe_flush(&mut self) -> Result<(), WriteStop> {
        if self.buffer.len() >= self.flush_at {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), WriteStop> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut stdout = io::stdout().lock();
        let result = stdout.write_all(&self.buffer).and_then(|()| stdout.flush());
        self.buffer.clear();
        result.map_err(WriteStop::from)
    }
}

/// Rust already ignores SIGPIPE in binaries; make sure of it, so EPIPE arrives as an error.
fn ignore_sigpipe() {
    // SAFETY: setting a signal disposition to SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}
