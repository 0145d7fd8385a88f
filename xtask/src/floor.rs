//! The benchmark's floors: the least work a queue tool must do, done in process on 1 or N
//! threads, so the figure is the kernel's cost, not ours (perf-anchors.md "Scan floors" and
//! "postsuper and the mutation floors", after shared/tools/queue-floor.c).
//!
//! - read: list every queue and defer-log directory, then open and read each file (to the end,
//!   or only its first block, as a lister that stops at the envelope needs);
//! - envelope read (qshape): open each file of some queues, read its first 4 KB and, when the
//!   size record puts the end of the content beyond that, one more 4 KB at the extracted
//!   segment (qshape seeks past the content with the size record and reads the records there);
//! - unlink: `unlinkat` every file of the queues `postsuper -d ALL` empties;
//! - rename: `renameat` every queue file of some queues into another queue (flat, like hold/
//!   and maildrop/, or hashed, like deferred/), as `postsuper -h/-H/-r ALL` do.
//!
//! Directories are the work items (one per flat queue and one per hash subdirectory, handed out
//! in turn so two threads share a big queue); files are found with readdir's `d_type` (no stat)
//! and reached with `openat`/`unlinkat`/`renameat` relative to their directory's fd.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
use postfix_queue::queue_id::{hash_key, is_valid_queue_id};

/// The directories a listing reads: every queue showq lists, and the defer logs.
const DIRECTORIES: &[&str] = &[
    "maildrop", "active", "incoming", "deferred", "hold", "defer",
];

/// What `postsuper -d ALL` empties: its default queue list (trace/ is not in it).
pub const DELETE_ALL_QUEUES: &[&str] = &[
    "defer", "bounce", "maildrop", "incoming", "active", "deferred", "hold", "flush",
];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FloorCount {
    pub files: u64,
    pub bytes: u64,
}

/// Reads every file under the queue directories of `spool` on `threads` threads: to the end,
/// or only the first `limit` bytes (one read) when `limit` is given.
pub fn read_all(spool: &Path, threads: usize, limit: Option<usize>) -> Result<FloorCount> {
    let directories = list_directories(spool, DIRECTORIES)?;
    let parts = on_threads(&directories, threads, |directories| {
        let mut count = FloorCount::default();
        let mut buffer = vec![0u8; limit.unwrap_or(64 * 1024)];
        for directory in directories {
            read_directory(directory, &mut buffer, limit.is_some(), &mut count)
                .with_context(|| format!("read {}", directory.display()))?;
        }
        Ok(count)
    })?;
    Ok(parts
        .iter()
        .fold(FloorCount::default(), |total, part| FloorCount {
            files: total.files + part.files,
            bytes: total.bytes + part.bytes,
        }))
}

/// What the envelope floor did: files opened, bytes read, and how many files needed the second
/// read at the extracted segment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeCount {
    pub files: u64,
    pub bytes: u64,
    pub second_reads: u64,
}

/// The first read of the envelope floor, and the size of the second one.
pub const ENVELOPE_BLOCK: usize = 4096;

/// The least a qshape must read: every regular file under the `queues` of `spool` (their
/// subdirectories included) is opened and its first [`ENVELOPE_BLOCK`] bytes read; with
/// `extracted`, a file whose size record (`C`, the first record: content length, data offset,
/// ...) puts the end of the content at or beyond what the first read returned gets one
/// `pread` of [`ENVELOPE_BLOCK`] bytes there, where the extracted segment's records are.
/// Without `extracted` it is the plain first-block floor over the same files.
pub fn read_envelopes(
    spool: &Path,
    queues: &[&str],
    threads: usize,
    extracted: bool,
) -> Result<EnvelopeCount> {
    let directories = list_directories(spool, queues)?;
    let parts = on_threads(&directories, threads, |directories| {
        let mut count = EnvelopeCount::default();
        let mut buffer = vec![0u8; ENVELOPE_BLOCK];
        for directory in directories {
            open_each_regular_file(directory, |file| {
                let read = pread_retrying(&file, &mut buffer, 0)?;
                count.files += 1;
                count.bytes += read as u64;
                if !extracted {
                    return Ok(());
                }
                if let Some(end) = content_end(&buffer[..read]) {
                    if end >= read as u64 {
                        count.bytes += pread_retrying(&file, &mut buffer, end)? as u64;
                        count.second_reads += 1;
                    }
                }
                Ok(())
            })?;
        }
        Ok(count)
    })?;
    Ok(parts
        .iter()
        .fold(EnvelopeCount::default(), |total, part| EnvelopeCount {
            files: total.files + part.files,
            bytes: total.bytes + part.bytes,
            second_reads: total.second_reads + part.second_reads,
        }))
}

fn pread_retrying(file: &OwnedFd, buffer: &mut [u8], offset: u64) -> Result<usize> {
    let offset = libc::off_t::try_from(offset).context("offset out of range")?;
    loop {
        // SAFETY: buffer is a live, writable slice of the given length; fd is open.
        let read = unsafe {
            libc::pread(
                file.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                offset,
            )
        };
        if read >= 0 {
            return Ok(read as usize);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error).context("read");
        }
    }
}

/// Where the content ends (the extracted segment begins), from a queue file's first record:
/// `C`, a length (base-128, low bits first), then "content-length data-offset ...". None when
/// the file does not start with a whole size record (postdrop's format, or still being
/// written).
pub fn content_end(head: &[u8]) -> Option<u64> {
    let (&kind, mut rest) = head.split_first()?;
    if kind != b'C' {
        return None;
    }
    let mut length = 0usize;
    let mut shift = 0;
    loop {
        let (&byte, after) = rest.split_first()?;
        rest = after;
        length |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    let text = std::str::from_utf8(rest.get(..length)?).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let content: u64 = fields.next()?.parse().ok()?;
    let offset: u64 = fields.next()?.parse().ok()?;
    offset.checked_add(content)
}

/// Unlinks every file (anything but a directory) under the `queues` of `spool`, subdirectories
/// included, on `threads` threads; returns how many were removed.
pub fn unlink_all(spool: &Path, queues: &[&str], threads: usize) -> Result<u64> {
    let directories = list_directories(spool, queues)?;
    let parts = on_threads(&directories, threads, |directories| {
        let mut removed = 0;
        for directory in directories {
            for_each_file(directory, |dirfd, name| {
                // SAFETY: dirfd is open during the call; name is NUL-terminated.
                if unsafe { libc::unlinkat(dirfd, name.as_ptr(), 0) } == 0 {
                    removed += 1;
                    return Ok(());
                }
                ignore_not_found(io::Error::last_os_error())
                    .with_context(|| format!("unlink {name:?} in {}", directory.display()))
            })?;
        }
        Ok(removed)
    })?;
    Ok(parts.iter().sum())
}

/// Renames every file with a valid queue ID under the `sources` queues of `spool` (their
/// subdirectories included) into queue `target`, on `threads` threads; returns how many were
/// moved. A hashed target gets one level of subdirectories, named after the first character of
/// the ID's hash key (hash_queue_depth = 1); they must exist already, as they do in a queue
/// Postfix (or gen-queue) set up.
pub fn rename_all(
    spool: &Path,
    sources: &[&str],
    target: &str,
    target_hashed: bool,
    threads: usize,
) -> Result<u64> {
    let target_directory = spool.join(target);
    let target_handle = File::open(&target_directory)
        .with_context(|| format!("open {}", target_directory.display()))?;
    // Subdirectory fds by their one-character name; a flat target uses its own fd.
    let mut subdirectories: Vec<Option<File>> = (0..256).map(|_| None).collect();
    if target_hashed {
        for entry in std::fs::read_dir(&target_directory)? {
            let entry = entry?;
            let name = entry.file_name();
            if let [byte] = name.as_bytes() {
                if entry.file_type()?.is_dir() {
                    subdirectories[usize::from(*byte)] = Some(File::open(entry.path())?);
                }
            }
        }
    }
    let directories = list_directories(spool, sources)?;
    let parts = on_threads(&directories, threads, |directories| {
        let mut moved = 0;
        for directory in directories {
            for_each_file(directory, |dirfd, name| {
                let bytes = name.to_bytes();
                if !is_valid_queue_id(bytes) {
                    return Ok(());
                }
                let target_fd = if target_hashed {
                    let key = hash_key(bytes)[0];
                    match &subdirectories[usize::from(key)] {
                        Some(handle) => handle.as_raw_fd(),
                        None => bail!("{target}/{} does not exist", char::from(key)),
                    }
                } else {
                    target_handle.as_raw_fd()
                };
                // SAFETY: both fds are open during the call; name is NUL-terminated.
                if unsafe { libc::renameat(dirfd, name.as_ptr(), target_fd, name.as_ptr()) } == 0 {
                    moved += 1;
                    return Ok(());
                }
                ignore_not_found(io::Error::last_os_error()).with_context(|| {
                    format!("rename {name:?} from {} to {target}", directory.display())
                })
            })?;
        }
        Ok(moved)
    })?;
    Ok(parts.iter().sum())
}

/// A file that vanished meanwhile is no error (Postfix's tools treat it the same way).
fn ignore_not_found(error: io::Error) -> io::Result<()> {
    if error.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(error)
    }
}

/// Every directory under the `queues` of `spool` (missing queues are skipped): the queue
/// directories themselves and their subdirectories, each a work item.
fn list_directories(spool: &Path, queues: &[&str]) -> Result<Vec<PathBuf>> {
    let mut directories = Vec::new();
    for name in queues {
        let top = spool.join(name);
        match std::fs::symlink_metadata(&top) {
            Ok(metadata) if metadata.is_dir() => push_tree(&top, &mut directories)
                .with_context(|| format!("list {}", top.display()))?,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).with_context(|| format!("list {}", top.display())),
        }
    }
    Ok(directories)
}

/// Runs `work` on `threads` threads; each takes directories from one shared queue (a work item
/// at a time) until none is left. Returns each thread's result.
pub(crate) fn on_threads<T: Send>(
    directories: &[PathBuf],
    threads: usize,
    work: impl Fn(&mut dyn Iterator<Item = &PathBuf>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut items = std::iter::from_fn(|| {
                        directories.get(next.fetch_add(1, Ordering::Relaxed))
                    });
                    work(&mut items)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a floor thread panicked"))?
            })
            .collect()
    })
}

/// Calls `each(dirfd, name)` for every entry of `directory` that is not a directory, by
/// readdir's `d_type` (no stat per file).
fn for_each_file(
    directory: &Path,
    mut each: impl FnMut(libc::c_int, &CString) -> Result<()>,
) -> Result<()> {
    let handle = File::open(directory)?;
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            continue;
        }
        let name = CString::new(entry.file_name().as_bytes())?;
        each(handle.as_raw_fd(), &name)?;
    }
    Ok(())
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
    open_each_regular_file(directory, |file| {
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
        Ok(())
    })
}

/// Opens each regular file of one directory (not its subdirectories) relative to the
/// directory's descriptor, as readdir's `d_type` names them (no stat per file), and hands it
/// to `each`. A file gone between readdir and open is passed over.
fn open_each_regular_file(
    directory: &Path,
    mut each: impl FnMut(OwnedFd) -> Result<()>,
) -> Result<()> {
    let handle = File::open(directory)?;
    let dirfd = handle.as_raw_fd();
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = CString::new(entry.file_name().as_bytes())?;
        // SAFETY: dirfd is open for the life of `handle`; name is NUL-terminated.
        let fd = unsafe { libc::openat(dirfd, name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            ignore_not_found(io::Error::last_os_error())
                .with_context(|| format!("open {name:?} in {}", directory.display()))?;
            continue;
        }
        // SAFETY: fd was just returned by openat and is owned by nothing else.
        each(unsafe { OwnedFd::from_raw_fd(fd) })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every regular file of the queue and log directories, and their bytes, by a plain walk.
    fn files_and_bytes(spool: &Path) -> (u64, u64) {
        let mut directories = Vec::new();
        for name in DIRECTORIES {
            let path = spool.join(name);
            if path.is_dir() {
                push_tree(&path, &mut directories).expect("walk");
            }
        }
        let mut totals = (0, 0);
        for directory in directories {
            for entry in std::fs::read_dir(directory).expect("read_dir").flatten() {
                let metadata = entry.metadata().expect("metadata");
                if metadata.is_file() {
                    totals.0 += 1;
                    totals.1 += metadata.len();
                }
            }
        }
        totals
    }

    #[test]
    fn read_all_opens_every_file_once() -> Result<()> {
        let root = std::env::temp_dir().join(format!("xtask-floor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut options = crate::gen::GenOptions::new(500, root.clone());
        options.quiet = true;
        options.owner = None;
        crate::gen::generate(&options)?;
        let spool = root.join("spool");
        let (files, bytes) = files_and_bytes(&spool);
        assert!(files > 500, "messages and defer logs: {files}");
        let whole = read_all(&spool, 2, None)?;
        assert_eq!(whole, FloorCount { files, bytes });
        let first_block = read_all(&spool, 1, Some(4096))?;
        assert_eq!(first_block.files, files);
        assert!(first_block.bytes < bytes && first_block.bytes <= 4096 * files);
        std::fs::remove_dir_all(&root)?;
        Ok(())
    }
}
