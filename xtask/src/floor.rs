//! The benchmark's read floor: the least work any queue lister must do — list every queue and
//! defer-log directory, then open and read each file (to the end, or only its first block, as
//! a lister that stops at the envelope needs) — on 1 or N threads.
//!
//! Files are opened with openat(2) relative to their directory and read into one reused
//! buffer, so the figure is the kernel's cost, not ours (perf-anchors.md "Scan floors").

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};

/// The directories a listing reads: every queue showq lists, and the defer logs.
const DIRECTORIES: &[&str] = &[
    "maildrop", "active", "incoming", "deferred", "hold", "defer",
];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FloorCount {
    pub files: u64,
    pub bytes: u64,
}

/// Reads every file under the queue directories of `spool` on `threads` threads: to the end,
/// or only the first `limit` bytes (one read) when `limit` is given.
pub fn read_all(spool: &Path, threads: usize, limit: Option<usize>) -> Result<FloorCount> {
    // Work items are directories: one per flat queue and one per hash subdirectory, handed out
    // in turn so two threads share a big queue.
    let mut directories = Vec::new();
    for name in DIRECTORIES {
        let top = spool.join(name);
        let entries = match std::fs::read_dir(&top) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("list {}", top.display())),
        };
        directories.push(top.clone());
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                push_tree(&entry.path(), &mut directories)?;
            }
        }
    }
    let next = AtomicUsize::new(0);
    let threads = threads.max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<FloorCount> {
                    let mut count = FloorCount::default();
                    let mut buffer = vec![0u8; limit.unwrap_or(64 * 1024)];
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(directory) = directories.get(index) else {
                            return Ok(count);
                        };
                        read_directory(directory, &mut buffer, limit.is_some(), &mut count)
                            .with_context(|| format!("read {}", directory.display()))?;
                    }
                })
            })
            .collect();
        let mut total = FloorCount::default();
        for worker in workers {
            let part = worker
                .join()
                .map_err(|_| anyhow::anyhow!("a floor thread panicked"))??;
            total.files += part.files;
            total.bytes += part.bytes;
        }
        Ok(total)
    })
}

/// Adds `directory` and its subdirectories (hash levels deeper than one).
fn push_tree(directory: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    out.push(directory.to_path_buf());
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            push_tree(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Opens and reads each regular file of one directory (not its subdirectories).
fn read_directory(
    directory: &Path,
    buffer: &mut [u8],
    first_block_only: bool,
    count: &mut FloorCount,
) -> Result<()> {
    let handle = File::open(directory)?;
    let dirfd = handle.as_raw_fd();
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        // d_type from getdents: no stat per file.
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = CString::new(entry.file_name().as_bytes())?;
        // SAFETY: dirfd is open for the life of `handle`; name is NUL-terminated.
        let fd = unsafe { libc::openat(dirfd, name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::NotFound {
                continue;
            }
            return Err(error).with_context(|| format!("open {:?}", entry.file_name()));
        }
        // SAFETY: fd was just returned by openat and is owned by nothing else.
        let file = unsafe { OwnedFd::from_raw_fd(fd) };
        loop {
            // SAFETY: buffer is a live, writable slice of the given length.
            let read =
                unsafe { libc::read(file.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
            if read < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error).context("read");
            }
            if read == 0 {
                break;
            }
            count.bytes += read as u64;
            if first_block_only {
                break;
            }
        }
        count.files += 1;
    }
    Ok(())
}
