//! The scan: candidates in File::Find order, read on all cores in batches. Without interim
//! reports each worker adds into its own table and the tables are merged once at the end;
//! with them (at a terminal), the messages are added in walk order so that a report after
//! every N messages shows what qshape's would.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use rayon::prelude::*;

use postfix_queue::shape::{
    counts_mode, is_candidate_name, read_envelope, Buckets, Counting, Envelope, Shape, Verdict,
};
use postfix_queue_cli::output::{Output, WriteStop};

use crate::progress;
use crate::walk::{Candidate, Found, Walk};

/// Candidates read per parallel step: enough to keep every core busy, few enough that memory
/// stays flat however large the queue.
const BATCH: usize = 4096;

/// What a scan produced.
#[derive(Debug)]
pub struct Scanned {
    pub shape: Shape,
    /// Messages counted per queue argument.
    pub messages_per_queue: Vec<u64>,
    pub files_seen: u64,
}

/// One worker's state: its table and reusable buffers.
struct Worker {
    shape: Shape,
    envelope: Envelope,
    scratch: Vec<u8>,
    per_queue: Vec<u64>,
}

/// Looks at one candidate as qshape's `qenv` does (name, lstat, mode, records).
fn examine(
    candidate: &Candidate,
    envelope: &mut Envelope,
    scratch: &mut Vec<u8>,
) -> Result<bool, String> {
    let base = match candidate.name.iter().rposition(|&b| b == b'/') {
        Some(slash) => &candidate.name[slash + 1..],
        None => &candidate.name[..],
    };
    if !is_candidate_name(base) {
        return Ok(false);
    }
    let Some(file) = open(candidate) else {
        return Ok(false);
    };
    let Ok(metadata) = file.metadata() else {
        return Ok(false);
    };
    if !metadata.file_type().is_file() || !counts_mode(metadata.mode()) {
        return Ok(false);
    }
    match read_envelope(&file, metadata.mtime(), envelope, scratch) {
        Verdict::Counted => Ok(true),
        Verdict::Skipped => Ok(false),
        Verdict::Damaged(why) => Err(format!("{}: {why}, skipped", candidate.path().display())),
    }
}

/// Opens a candidate without following a symlink or blocking on a fifo (the `lstat` test
/// then happens on the open file).
fn open(candidate: &Candidate) -> Option<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let flags =
        libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let (directory, name) = match &candidate.directory.handle {
        Some(handle) => (handle.as_raw_fd(), candidate.name.clone()),
        None => match &candidate.directory.path {
            Some(path) => {
                let mut full = path.as_os_str().as_encoded_bytes().to_vec();
                full.push(b'/');
                full.extend_from_slice(&candidate.name);
                (libc::AT_FDCWD, full)
            }
            None => (libc::AT_FDCWD, candidate.name.clone()),
        },
    };
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid directory descriptor (or AT_FDCWD) and C string; a new descriptor is
    // owned by the File.
    let fd = unsafe { libc::openat(directory, name.as_ptr(), flags) };
    (fd >= 0).then(|| unsafe { File::from_raw_fd(fd) })
}

/// Scans the queue arguments. `interim` is called after every `batch` counted messages
/// (at a terminal); with `batch` 0 there are no interim reports and workers add into their
/// own tables.
#[allow(clippy::too_many_arguments)]
pub fn scan(
    program: &str,
    queues: &[String],
    buckets: &Buckets,
    counting: Counting,
    parents: bool,
    batch: f64,
    output: &mut Output,
    mut interim: impl FnMut(&Shape, &mut Output) -> Result<(), WriteStop>,
) -> Result<Scanned, WriteStop> {
    let columns = buckets.columns();
    let threads = rayon::current_num_threads().max(1);
    let new_worker = || Worker {
        shape: Shape::new(columns),
        envelope: Envelope::default(),
        scratch: Vec::new(),
        per_queue: vec![0; queues.len()],
    };
    let workers: Vec<Mutex<Worker>> = (0..threads).map(|_| Mutex::new(new_worker())).collect();
    // Perl's `%` truncates both operands to integers.
    let every = if batch > 0.0 { batch.trunc() as u64 } else { 0 };
    let mut ordered = (every > 0).then(new_worker);
    let mut files_seen = 0u64;
    let mut walk = Walk::new(queues);
    let mut pending: Vec<Candidate> = Vec::with_capacity(BATCH);
    loop {
        pending.clear();
        for found in walk.by_ref() {
            match found {
                Found::File(candidate) => {
                    pending.push(candidate);
                    if pending.len() == BATCH {
                        break;
                    }
                }
                Found::Unreadable { directory, error } => {
                    progress::suspend(|| {
                        eprintln!(
                            "Can't cd to {}: {}\n at {program} line 375.",
                            directory.display(),
                            postfix_queue::error::strerror(&error)
                        )
                    });
                }
                Found::Missing { top, error } => {
                    progress::suspend(|| {
                        eprintln!(
                            "Can't stat {top}: {}\n at {program} line 375.",
                            postfix_queue::error::strerror(&error)
                        )
                    });
                }
            }
        }
        if pending.is_empty() {
            break;
        }
        files_seen += pending.len() as u64;
        progress::scanned(files_seen);
        match &mut ordered {
            None => {
                let warnings: Vec<(usize, String)> = pending
                    .par_iter()
                    .enumerate()
                    .filter_map(|(index, candidate)| {
                        let slot = rayon::current_thread_index().unwrap_or(0) % threads;
                        let mut guard = workers[slot].lock().ok()?;
                        let worker = &mut *guard;
                        match examine(candidate, &mut worker.envelope, &mut worker.scratch) {
                            Ok(true) => {
                                let bucket = buckets.bucket(worker.envelope.arrival);
                                worker
                                    .shape
                                    .add(&worker.envelope, bucket, counting, parents);
                                worker.per_queue[candidate.queue] += 1;
                                None
                            }
                            Ok(false) => None,
                            Err(warning) => Some((index, warning)),
                        }
                    })
                    .collect();
                print_warnings(program, warnings);
            }
            Some(state) => {
                let read: Vec<Result<Option<Envelope>, String>> = pending
                    .par_iter()
                    .map_init(Vec::new, |scratch, candidate| {
                        let mut envelope = Envelope::default();
                        examine(candidate, &mut envelope, scratch)
                            .map(|counted| counted.then_some(envelope))
                    })
                    .collect();
                for (candidate, result) in pending.iter().zip(read) {
                    match result {
                        Ok(Some(envelope)) => {
                            let bucket = buckets.bucket(envelope.arrival);
                            state.shape.add(&envelope, bucket, counting, parents);
                            state.per_queue[candidate.queue] += 1;
                            if state.shape.messages % every == 0 {
                                interim(&state.shape, output)?;
                            }
                        }
                        Ok(None) => {}
                        Err(warning) => print_warnings(program, vec![(0, warning)]),
                    }
                }
            }
        }
    }
    let mut total = ordered.unwrap_or_else(new_worker);
    for worker in workers {
        if let Ok(worker) = worker.into_inner() {
            total.shape.merge(worker.shape);
            for (sum, add) in total.per_queue.iter_mut().zip(worker.per_queue) {
                *sum += add;
            }
        }
    }
    Ok(Scanned {
        shape: total.shape,
        messages_per_queue: total.per_queue,
        files_seen,
    })
}

/// Files qshape would have miscounted or looped on, in walk order.
fn print_warnings(program: &str, mut warnings: Vec<(usize, String)>) {
    if warnings.is_empty() {
        return;
    }
    warnings.sort();
    progress::suspend(|| {
        for (_, warning) in warnings {
            eprintln!("{program}: warning: {warning}");
        }
    });
}
