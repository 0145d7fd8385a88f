//! Turning walk candidates into listed entries, on one thread or many, always in showq order.
//!
//! The walk runs on the calling thread; candidates are numbered in batches, parsed on a rayon
//! pool, and released strictly in sequence, so the output never depends on thread timing.
//! Memory is bounded by the batch size, not the queue size. Spec: format-and-postqueue.md §5.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use rayon::prelude::*;

use crate::envelope::{extract_entry, Entry, FileFacts, ShowqSettings};
use crate::error::{strerror, Error};
use crate::queue_id::is_valid_queue_id;
use crate::record::RecordReader;
use crate::walk::{Candidate, Layout, ShowqWalk};

/// Files up to this size are read with one `read`; larger ones are streamed so that the
/// content can be skipped with a seek.
const WHOLE_FILE_LIMIT: u64 = 64 * 1024;
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
pub enum ScanEvent {
    Entry(Entry),
    Warning(String),
}

/// `mail_open_ok` + open + `showq_report` for one candidate.
pub fn inspect(
    layout: &Layout,
    settings: &ShowqSettings,
    candidate: &Candidate,
    now: i64,
) -> Inspection {
    let mut inspection = Inspection::default();
    let name = candidate.name.as_bytes();
    if !is_valid_queue_id(name) {
        return inspection;
    }
    let queue_name = candidate.queue.name();
    let relative = layout.relative_path(queue_name, name);
    let path = layout.queue_directory.join(&relative);
    let metadata = match std::fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return inspection,
        Err(error) => {
            inspection
                .warnings
                .push(format!("{}: {}", relative.display(), strerror(&error)));
            return inspection;
        }
    };
    if !metadata.file_type().is_file() {
        inspection.warnings.push(format!(
            "{}: uid {}: not a regular file",
            relative.display(),
            metadata.uid()
        ));
        return inspection;
    }
    // Only a file whose owner bits are exactly rwx is complete (spec §2.3).
    if metadata.mode() & 0o700 != 0o700 {
        return inspection;
    }
    if metadata.nlink() > 1 && metadata.ctime() < now - LINK_WARNING_AGE_SECONDS {
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
            "open {queue_name} {}: Permission denied",
            candidate.name.to_string_lossy()
        ));
        return inspection;
    }
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return inspection,
        Err(error) => {
            inspection.warnings.push(format!(
                "open {queue_name} {}: {}",
                candidate.name.to_string_lossy(),
                strerror(&error)
            ));
            return inspection;
        }
    };
    let facts = FileFacts {
        size: metadata.size() as i64,
        mtime: metadata.mtime(),
        mode: metadata.mode(),
    };
    let defer_log = || read_defer_log(layout, name);
    let id = name;
    inspection.entry = if metadata.size() <= WHOLE_FILE_LIMIT {
        let mut bytes = Vec::new();
        if let Err(error) = read_known_size(&file, metadata.size(), &mut bytes) {
            inspection.warnings.push(format!(
                "{}: read error: {}",
                relative.display(),
                strerror(&error)
            ));
        }
        let mut reader = RecordReader::new(Cursor::new(bytes.as_slice()));
        extract_entry(
            candidate.queue,
            id,
            &mut reader,
            facts,
            settings,
            defer_log,
            &mut inspection.warnings,
        )
    } else {
        let mut reader = RecordReader::new(BufReader::with_capacity(16 * 1024, file));
        extract_entry(
            candidate.queue,
            id,
            &mut reader,
            facts,
            settings,
            defer_log,
            &mut inspection.warnings,
        )
    };
    inspection
}

/// Scans the queues in showq order and hands every event to `sink` in that order. `threads`
/// of 1 is the sequential reference path. Stops early when `sink` breaks; returns the walk's
/// error (a queue directory that cannot be opened) after the events that preceded it.
pub fn scan(
    layout: &Layout,
    settings: &ShowqSettings,
    walk: ShowqWalk,
    threads: usize,
    mut sink: impl FnMut(ScanEvent) -> ControlFlow<()>,
) -> Result<(), Error> {
    let now = now_seconds();
    let pool = if threads == 1 {
        None
    } else {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|error| Error::Io {
                    path: layout.queue_directory.clone(),
                    source: std::io::Error::other(error),
                })?,
        )
    };
    let mut walk = walk;
    let mut batch: Vec<Candidate> = Vec::with_capacity(BATCH_SIZE);
    loop {
        let mut walk_error = None;
        batch.clear();
        for item in walk.by_ref() {
            match item {
                Ok(candidate) => batch.push(candidate),
                Err(error) => {
                    walk_error = Some(error);
                    break;
                }
            }
            if batch.len() == BATCH_SIZE {
                break;
            }
        }
        let inspections: Vec<Inspection> = match &pool {
            None => batch
                .iter()
                .map(|candidate| inspect(layout, settings, candidate, now))
                .collect(),
            // `collect` on an indexed parallel iterator keeps the input order: the sequence
            // numbers are the batch positions.
            Some(pool) => pool.install(|| {
                batch
                    .par_iter()
                    .map(|candidate| inspect(layout, settings, candidate, now))
                    .collect()
            }),
        };
        for inspection in inspections {
            for warning in inspection.warnings {
                if sink(ScanEvent::Warning(warning)).is_break() {
                    return Ok(());
                }
            }
            if let Some(entry) = inspection.entry {
                if sink(ScanEvent::Entry(entry)).is_break() {
                    return Ok(());
                }
            }
        }
        for warning in walk.warnings.drain(..) {
            if sink(ScanEvent::Warning(warning)).is_break() {
                return Ok(());
            }
        }
        if let Some(error) = walk_error {
            return Err(error);
        }
        if batch.len() < BATCH_SIZE {
            return Ok(());
        }
    }
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
fn read_defer_log(layout: &Layout, name: &[u8]) -> Option<Vec<u8>> {
    let file = File::open(layout.path("defer", name)).ok()?;
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

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
