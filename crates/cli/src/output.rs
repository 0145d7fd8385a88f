//! Buffered stdout for listings: a write that fails with EPIPE ends the run quietly (exit 0,
//! as Postfix's tools do); any other write error is reported.

use std::io;

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
///
/// Writes go straight to file descriptor 1: Rust's `Stdout` silently swallows EBADF, where
/// Postfix reports `output write error: Bad file descriptor`.
#[derive(Debug)]
pub struct Output {
    buffer: Vec<u8>,
    flush_at: usize,
    closed_at_start: bool,
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
            closed_at_start: stdout_was_closed(),
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
        let result = if self.closed_at_start {
            Err(io::Error::from_raw_os_error(libc::EBADF))
        } else {
            let _lock = io::stdout().lock();
            write_all_fd1(&self.buffer)
        };
        self.buffer.clear();
        result.map_err(WriteStop::from)
    }
}

fn write_all_fd1(mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live slice.
        let written = unsafe { libc::write(1, bytes.as_ptr().cast(), bytes.len()) };
        if written < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        bytes = &bytes[written as usize..];
    }
    Ok(())
}

static STDOUT_REOPENED_BY_CALLER: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Says that a read-write /dev/null on stdout is real: Postfix's sendmail (not set-gid) reopens
/// a closed stdout read-write itself before it runs postqueue, so under mailq writes succeed.
pub fn trust_reopened_stdout() {
    STDOUT_REOPENED_BY_CALLER.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether stdout was closed when the program started. Rust's runtime replaces a closed fd 1
/// with /dev/null opened read-write before `main`; a shell redirection to /dev/null opens it
/// write-only. Postfix, run set-gid as it is installed, gets a read-only /dev/null from the C
/// library instead, so its first write fails with EBADF; we report the same.
fn stdout_was_closed() -> bool {
    if STDOUT_REOPENED_BY_CALLER.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    // SAFETY: fstat and fcntl on fd 1 only read kernel state into `stat`.
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &mut stat) != 0 {
            return true;
        }
        let is_dev_null =
            stat.st_mode & libc::S_IFMT == libc::S_IFCHR && stat.st_rdev == libc::makedev(1, 3);
        is_dev_null && libc::fcntl(1, libc::F_GETFL) & libc::O_ACCMODE == libc::O_RDWR
    }
}

/// Rust already ignores SIGPIPE in binaries; make sure of it, so EPIPE arrives as an error.
fn ignore_sigpipe() {
    // SAFETY: setting a signal disposition to SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}
