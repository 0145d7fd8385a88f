//! Turning walk candidates into listed entries, on one thread or many, always in showq order.
//!
//! The walk runs on the calling thread; candidates are numbered in batches, parsed on a rayon
//! pool, and released strictly in sequence, so the output never depends on thread timing.
//! Memory is bounded by two batches, not the queue size. Per message the common case costs
//! one `openat` + `fstat` + one `pread` (two when the extracted segment lies past the first
//! page) for the queue file, and `openat` + `fstat` + `read` for its defer log.
//! Spec: format-and-postqueue.md §5; perf-anchors.md for the floors.

use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use rayon::prelude::*;

use crate::envelope::{extract_entry, Entry, FileFacts, ShowqSettings};
use crate::error::{strerror, Error};
use crate::pread::{self, PreadReader};
use crate::queue_id::is_valid_queue_id;
use crate::record::RecordReader;
use crate::walk::{Candidate, Layout, ShowqWalk};

/// Candidates handed to the pool at once: big enough to keep every thread busy, small enough
/// that memory stays flat on a million-message queue.
const BATCH_SIZE: usize = 4096;
/// A file with extra hard links is worth a warning only once the state has lasted this long.
const LINK_WARNING_AGE_SECONDS: i64 = 60;

/// What inspecting one candidate produced.
#[derive(Debug, Default)]
pub struct Inspection {
    pub entry: Option<Entry>,
    /// Problems showq would log (to syslog, not stderr).
    pub warnings: Vec<String>,
}

/// Everything a scan reports, in order.
#[derive(Debug)]
pub enum ScanEvent<T = Entry> {
    /// A listed message, or what `scan_prepared`'s `prepare` made of it.
    Entry(T),
    Warning(String),
}

/// One candidate's outcome after `prepare` ran on the worker thread.
struct Prepared<T> {
    item: Option<T>,
    warnings: Vec<String>,
}

/// What every inspection in one scan shares.
#[derive(Debug)]
pub struct ScanContext<'a> {
    pub layout: &'a Layout,
    pub settings: &'a ShowqSettings,
    /// The time the scan started, for the "file has N links" age rule.
    pub now: i64,
    /// The defer logfile directory, opened once, so each log costs a short lookup.
    defer_directory: Option<File>,
}

impl<'a> ScanContext<'a> {
    pub fn new(layout: &'a Layout, settings: &'a ShowqSettings) -> Self {
        Self {
            layout,
            settings,
            now: now_seconds(),
            defer_directory: File::open(layout.queue_directory.join("defer")).ok(),
        }
    }
}

/// `mail_open_ok` + open + `showq_report` for one candidate.
///
/// The common case takes a short cut that gives the same answer with fewer system calls:
/// when readdir said "regular file" and the file sits where its name says it must, it is
/// opened relative to its directory (no symlinks followed) and checked with `fstat` on the
/// open file, instead of `lstat` by path and then `open` by path. Anything unusual falls back
/// to showq's exact sequence, so warnings and skips stay the same.
pub fn inspect(context: &ScanContext<'_>, candidate: &Candidate) -> Inspection {
    let mut inspection = Inspection::default();
    let name = candidate.name.as_bytes();
    if !is_valid_queue_id(name) {
        return inspection;
    }
    let layout = context.layout;
    let relative = layout.relative_path(candidate.queue.name(), name);
    let opened = if candidate.is_regular_file
        && relative.parent() == Some(candidate.directory.relative.as_path())
    {
        candidate
            .directory
            .handle
            .as_ref()
            .and_then(|directory| match open_at(directory, name) {
                Ok(file) => match file.metadata() {
                    Ok(metadata) if metadata.file_type().is_file() => Some(Ok((file, metadata))),
                    _ => None,
                },
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(Err(())),
                Err(_) => None,
            })
    } else {
        None
    };
    let (file, metadata) = match opened {
        Some(Ok(opened)) => opened,
        Some(Err(())) => return inspection, // vanished since readdir: skipped quietly
        None => match open_by_path(context, candidate, &relative, &mut inspection.warnings) {
            Some(opened) => opened,
            None => return inspection,
        },
    };
    // Only a file whose owner bits are exactly rwx is complete (spec §2.3).
    if metadata.mode() & 0o700 != 0o700 {
        return inspection;
    }
    if metadata.nlink() > 1 && metadata.ctime() < context.now - LINK_WARNING_AGE_SECONDS {
        inspection.warnings.push(format!(
            "{}: uid {}: file has {} links",
            relative.display(),
            metadata.uid(),
            metadata.nlink()
        ));
    }
    if layout
        .reader
        .as_ref()
        .is_some_and(|reader| !reader.can_read(&metadata))
    {
        inspection.warnings.push(format!(
            "open {} {}: Permission denied",
            candidate.queue.name(),
            candidate.name.to_string_lossy()
        ));
        return inspection;
    }
    let facts = FileFacts {
        size: metadata.size() as i64,
        mtime: metadata.mtime(),
        mode: metadata.mode(),
    };
    let defer_log = || read_defer_log(context, name);
    let mut reader = RecordReader::new(PreadReader::new(&file, pread::DEFAULT_CAPACITY));
    inspection.entry = extract_entry(
        candidate.queue,
        name,
        &mut reader,
        facts,
        context.settings,
        defer_log,
        &mut inspection.warnings,
    );
    inspection
}

/// showq's own sequence: `lstat` the computed path, check it, then open it.
fn open_by_path(
    context: &ScanContext<'_>,
    candidate: &Candidate,
    relative: &std::path::Path,
    warnings: &mut Vec<String>,
) -> Option<(File, std::fs::Metadata)> {
    let path = context.layout.queue_directory.join(relative);
    let metadata = match std::fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => {
            warnings.push(format!("{}: {}", relative.display(), strerror(&error)));
            return None;
        }
    };
    if !metadata.file_type().is_file() {
        warnings.push(format!(
            "{}: uid {}: not a regular file",
            relative.display(),
            metadata.uid()
        ));
        return None;
    }
    if metadata.mode() & 0o700 != 0o700 {
        return None; // incomplete: showq skips it before opening
    }
    match File::open(&path) {
        Ok(file) => Some((file, metadata)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            warnings.push(format!(
                "open {} {}: {}",
                candidate.queue.name(),
                candidate.name.to_string_lossy(),
                strerror(&error)
            ));
            None
        }
    }
}

/// `openat(directory, name)` for reading, never following a symlink or taking a terminal.
fn open_at(directory: &File, name: &[u8]) -> std::io::Result<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    let flags =
        libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
    // SAFETY: the directory fd is open for the duration of the call and `name` is a valid
    // C string; a successful openat returns a new fd that we then own.
    let fd = unsafe { libc::openat(directory.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a freshly opened descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Scans the queues in showq order and hands every event to `sink` in that order. `threads`
/// of 1 is the sequential reference path; 0 means one per core. Stops early when `sink`
/// breaks; returns the walk's error (a queue directory that cannot be opened) after the events
/// that preceded it.
///
/// With threads, batch N+1 is parsed on the pool while the caller's thread hands batch N to
/// `sink` (rendering output), so formatting overlaps with the file system work.
pub fn scan(
    layout: &Layout,
    settings: &ShowqSettings,
    walk: ShowqWalk,
    threads: usize,
    sink: impl FnMut(ScanEvent) -> ControlFlow<()>,
) -> Result<(), Error> {
    scan_prepared(layout, settings, walk, threads, Some, sink)
}

/// [`scan`], with `prepare` applied to each entry on the worker threads (e.g. filtering and
/// rendering it; `None` drops the entry), so that the calling thread only has to hand the
/// results on in order.
pub fn scan_prepared<T: Send>(
    layout: &Layout,
    settings: &ShowqSettings,
    walk: ShowqWalk,
    threads: usize,
    prepare: impl Fn(Entry) -> Option<T> + Sync,
    mut sink: impl FnMut(ScanEvent<T>) -> ControlFlow<()>,
) -> Result<(), Error> {
    let context = ScanContext::new(layout, settings);
    let inspect_and_prepare = |candidate: &Candidate| {
        let inspection = inspect(&context, candidate);
        Prepared {
            item: inspection.entry.and_then(&prepare),
            warnings: inspection.warnings,
        }
    };
    let mut walk = walk;
    if threads == 1 {
        loop {
            let (batch, walk_error) = next_batch(&mut walk);
            let inspections = batch.iter().map(inspect_and_prepare);
            if deliver(inspections, &mut walk, &mut sink).is_break() {
                return Ok(());
            }
            if let Some(error) = walk_error {
                return Err(error);
            }
            if batch.len() < BATCH_SIZE {
                return Ok(());
            }
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|error| Error::Io {
            path: layout.queue_directory.clone(),
            source: std::io::Error::other(error),
        })?;
    let parse = |batch: &[Candidate]| -> Vec<Prepared<T>> {
        // `collect` on an indexed parallel iterator keeps input order: the sequence numbers
        // are the batch positions.
        batch.par_iter().map(&inspect_and_prepare).collect()
    };
    pool.in_place_scope(|scope| {
        let (batch, mut walk_error) = next_batch(&mut walk);
        let mut more = batch.len() == BATCH_SIZE && walk_error.is_none();
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Prepared<T>>>(1);
        let spawn = |batch: Vec<Candidate>| {
            let sender = sender.clone();
            let parse = &parse;
            scope.spawn(move |_| {
                // The receiver only goes away when the sink stopped the scan early.
                let _ = sender.send(parse(&batch));
            });
        };
        spawn(batch);
        loop {
            let next = if more {
                let (batch, error) = next_batch(&mut walk);
                more = batch.len() == BATCH_SIZE && error.is_none();
                walk_error = error;
                Some(batch)
            } else {
                None
            };
            let Ok(inspections) = receiver.recv() else {
                return Ok(());
            };
            let launched = next.map(&spawn).is_some();
            if deliver(inspections.into_iter(), &mut walk, &mut sink).is_break() {
                // Let any launched batch finish into a receiver nobody reads.
                drop(receiver);
                return Ok(());
            }
            if !launched {
                return walk_error.map_or(Ok(()), Err);
            }
        }
    })
}

/// Up to `BATCH_SIZE` candidates, and the walk's error if it stopped on one.
fn next_batch(walk: &mut ShowqWalk) -> (Vec<Candidate>, Option<Error>) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    for item in walk.by_ref() {
        match item {
            Ok(candidate) => batch.push(candidate),
            Err(error) => return (batch, Some(error)),
        }
        if batch.len() == BATCH_SIZE {
            break;
        }
    }
    (batch, None)
}

/// Hands one batch's results, then the walk's pending warnings, to the sink in order.
fn deliver<T>(
    prepared: impl Iterator<Item = Prepared<T>>,
    walk: &mut ShowqWalk,
    sink: &mut impl FnMut(ScanEvent<T>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    for outcome in prepared {
        for warning in outcome.warnings {
            sink(ScanEvent::Warning(warning))?;
        }
        if let Some(item) = outcome.item {
            sink(ScanEvent::Entry(item))?;
        }
    }
    for warning in walk.warnings.drain(..) {
        sink(ScanEvent::Warning(warning))?;
    }
    ControlFlow::Continue(())
}

/// Reads a file whose size we already know from `lstat`, without the extra `statx` and
/// `lseek` that `read_to_end` spends on a size hint (two syscalls per message add up on a
/// million-message queue). It stops at the expected size without the extra read that would
/// confirm EOF: a complete queue file only changes in place, never grows, and showq reading
/// a file that changes under it gets no stronger guarantee.
fn read_known_size(mut file: &File, expected: u64, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    bytes.clear();
    bytes.resize(expected as usize, 0);
    let mut filled = 0;
    while filled < bytes.len() {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                bytes.truncate(filled);
                return Err(error);
            }
        }
    }
    bytes.truncate(filled);
    Ok(())
}

/// The message's defer logfile, if there is one that showq (as the mail owner) could read.
fn read_defer_log(context: &ScanContext<'_>, name: &[u8]) -> Option<Vec<u8>> {
    let layout = context.layout;
    let file = match &context.defer_directory {
        Some(directory) => {
            let relative = layout.relative_path("defer", name);
            let inside = relative.strip_prefix("defer").ok()?;
            open_at_path(directory, inside).ok()?
        }
        None => File::open(layout.path("defer", name)).ok()?,
    };
    let metadata = file.metadata().ok()?;
    if layout
        .reader
        .as_ref()
        .is_some_and(|reader| !reader.can_read(&metadata))
    {
        return None;
    }
    let mut bytes = Vec::new();
    read_known_size(&file, metadata.len(), &mut bytes).ok()?;
    Some(bytes)
}

/// `openat` with a relative multi-component path (`3/ID` under `defer/`).
fn open_at_path(directory: &File, relative: &std::path::Path) -> std::io::Result<File> {
    open_at(directory, relative.as_os_str().as_bytes())
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
