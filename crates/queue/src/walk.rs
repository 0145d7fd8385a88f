//! The queue directory layout and the walk in showq order: maildrop, active, incoming,
//! deferred, hold; raw readdir order inside each; one-character subdirectories descended
//! where readdir meets them.
//!
//! Spec: format-and-postqueue.md §2, §5, §12 (Postfix `showq.c`, `mail_scan_dir.c`).

use std::ffi::OsString;
use std::fs::ReadDir;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::envelope::Queue;
use crate::error::Error;
use crate::queue_id::queue_file_path;

/// Where queue files live and how they are hashed.
#[derive(Debug, Clone)]
pub struct Layout {
    pub queue_directory: PathBuf,
    hashed_queues: Vec<String>,
    pub hash_depth: usize,
    /// When set, files this user could not read are treated as unreadable (see `identity`).
    pub reader: Option<crate::identity::ReaderIdentity>,
}

impl Layout {
    pub fn new(
        queue_directory: impl Into<PathBuf>,
        hashed_queues: &[&str],
        hash_depth: usize,
    ) -> Self {
        Self {
            queue_directory: queue_directory.into(),
            hashed_queues: hashed_queues
                .iter()
                .map(|q| q.to_ascii_lowercase())
                .collect(),
            hash_depth,
            reader: None,
        }
    }

    /// The same layout, read with the permissions of `reader` (showq's mail_owner).
    pub fn reading_as(self, reader: Option<crate::identity::ReaderIdentity>) -> Self {
        Self { reader, ..self }
    }

    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let depth = config.get_int("hash_queue_depth", 1)?;
        let hashed: Vec<String> = config.get_list("hash_queue_names");
        let hashed: Vec<&str> = hashed.iter().map(String::as_str).collect();
        Ok(Self::new(
            config.get("queue_directory"),
            &hashed,
            depth as usize,
        ))
    }

    /// The same layout reached through another path to the queue directory (e.g. `.` after a
    /// chdir, which saves the kernel a path walk per file).
    pub fn relocated(self, queue_directory: impl Into<PathBuf>) -> Self {
        Self {
            queue_directory: queue_directory.into(),
            ..self
        }
    }

    /// Whether `queue` (any queue or logfile directory name) uses hashed subdirectories;
    /// Postfix matches the names case-insensitively.
    pub fn is_hashed(&self, queue: &str) -> bool {
        self.hashed_queues
            .iter()
            .any(|hashed| hashed.eq_ignore_ascii_case(queue))
    }

    /// The path of `name` in `queue`, relative to the queue directory, recomputed from the name.
    pub fn relative_path(&self, queue: &str, name: &[u8]) -> PathBuf {
        queue_file_path(queue, name, self.is_hashed(queue), self.hash_depth)
    }

    pub fn path(&self, queue: &str, name: &[u8]) -> PathBuf {
        self.queue_directory.join(self.relative_path(queue, name))
    }
}

/// A directory entry the walk found: a candidate queue file, not yet checked.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub queue: Queue,
    pub name: OsString,
    /// The directory it was found in, with an open handle for `openat`.
    pub directory: Arc<WalkedDirectory>,
    /// Whether readdir's `d_type` said "regular file" (no stat was needed to know).
    pub is_regular_file: bool,
}

/// A directory the walk is reading: its path relative to the queue directory, and a handle
/// that lets each file be opened with a one-component lookup.
#[derive(Debug)]
pub struct WalkedDirectory {
    pub relative: PathBuf,
    pub handle: Option<std::fs::File>,
}

/// Iterates candidates in showq order. A directory that cannot be opened ends the walk with an
/// error, as it ends showq.
#[derive(Debug)]
pub struct ShowqWalk {
    queue_directory: PathBuf,
    queues: std::vec::IntoIter<Queue>,
    current: Option<Queue>,
    stack: Vec<(ReadDir, Arc<WalkedDirectory>)>,
    previous_name: Option<OsString>,
    failed: bool,
    /// Anomalies showq would log (a readdir loop).
    pub warnings: Vec<String>,
}

impl ShowqWalk {
    pub fn new(layout: &Layout) -> Self {
        Self::with_queues(layout, &Queue::SHOWQ_ORDER)
    }

    pub fn with_queues(layout: &Layout, queues: &[Queue]) -> Self {
        Self {
            queue_directory: layout.queue_directory.clone(),
            queues: Vec::from(queues).into_iter(),
            current: None,
            stack: Vec::new(),
            previous_name: None,
            failed: false,
            warnings: Vec::new(),
        }
    }

    fn open(&self, relative: &Path) -> Result<(ReadDir, Arc<WalkedDirectory>), Error> {
        let path = self.queue_directory.join(relative);
        let reader = std::fs::read_dir(&path).map_err(|source| Error::OpenDirectory {
            path: relative.to_path_buf(),
            source,
        })?;
        let directory = WalkedDirectory {
            relative: relative.to_path_buf(),
            handle: std::fs::File::open(&path).ok(),
        };
        Ok((reader, Arc::new(directory)))
    }
}

impl Iterator for ShowqWalk {
    type Item = Result<Candidate, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let Some(queue) = self.current else {
                let queue = self.queues.next()?;
                let relative = PathBuf::from(queue.name());
                match self.open(&relative) {
                    Ok(opened) => self.stack.push(opened),
                    Err(error) => {
                        self.failed = true;
                        return Some(Err(error));
                    }
                }
                self.current = Some(queue);
                self.previous_name = None;
                continue;
            };
            let Some((reader, directory)) = self.stack.last_mut() else {
                self.current = None;
                continue;
            };
            let entry = match reader.next() {
                None => {
                    self.stack.pop();
                    if self.stack.is_empty() {
                        self.current = None;
                    }
                    continue;
                }
                Some(Err(source)) => {
                    self.failed = true;
                    return Some(Err(Error::ReadDirectory {
                        path: directory.relative.clone(),
                        source,
                    }));
                }
                Some(Ok(entry)) => entry,
            };
            let name = entry.file_name();
            let directory = Arc::clone(directory);
            // Every queue but maildrop is scanned recursively: a one-character name is taken to
            // be a hash subdirectory without a stat, exactly as showq does.
            if queue != Queue::Maildrop && name.as_bytes().len() == 1 {
                let relative = directory.relative.join(&name);
                match self.open(&relative) {
                    Ok(opened) => self.stack.push(opened),
                    Err(error) => {
                        self.failed = true;
                        return Some(Err(error));
                    }
                }
                continue;
            }
            if self.previous_name.as_ref() == Some(&name) {
                self.warnings.push(format!(
                    "readdir loop on queue {} id {}",
                    queue.name(),
                    name.to_string_lossy()
                ));
                self.stack.clear();
                self.current = None;
                continue;
            }
            self.previous_name = Some(name.clone());
            // d_type comes with the directory entry; DirEntry only stats when it is unknown.
            let is_regular_file = entry.file_type().is_ok_and(|kind| kind.is_file());
            return Some(Ok(Candidate {
                queue,
                name,
                directory,
                is_regular_file,
            }));
        }
    }
}
