//! The files qshape looks at, in the order Perl's File::Find visits them: for each queue
//! argument, the directory's non-directory entries in readdir order, then each subdirectory
//! (readdir order) the same way, depth first; symbolic links are not followed.
//!
//! The order matters only for the interim reports at a terminal, which show the counts after
//! every N messages; it is kept anyway so that those reports match qshape's.

use std::ffi::OsStr;
use std::fs::{File, ReadDir};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file to look at: its directory (open, for `openat`) and name, and which queue argument
/// it came from.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub directory: Arc<Directory>,
    pub name: Vec<u8>,
    pub queue: usize,
}

impl Candidate {
    /// The path as qshape would name it (relative to the queue directory, or absolute).
    pub fn path(&self) -> PathBuf {
        match &self.directory.path {
            Some(directory) => directory.join(OsStr::from_bytes(&self.name)),
            None => PathBuf::from(OsStr::from_bytes(&self.name)),
        }
    }
}

#[derive(Debug)]
pub struct Directory {
    /// None for a queue argument that is itself a file (its name is the whole path).
    pub path: Option<PathBuf>,
    pub handle: Option<File>,
}

/// What the walk reports besides candidates.
#[derive(Debug)]
pub enum Found {
    File(Candidate),
    /// A queue argument that does not exist (File::Find's "Can't stat").
    Missing {
        top: String,
        error: std::io::Error,
    },
    /// A directory that cannot be read (File::Find's "Can't cd to").
    Unreadable {
        directory: PathBuf,
        error: std::io::Error,
    },
}

/// Iterates the candidates of all queue arguments, in File::Find order.
pub struct Walk {
    tops: std::vec::IntoIter<(usize, String)>,
    /// Directories being read: the open reader and the subdirectories still to visit.
    stack: Vec<Level>,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("depth", &self.stack.len())
            .finish()
    }
}

struct Level {
    queue: usize,
    directory: Arc<Directory>,
    reader: Option<ReadDir>,
    subdirectories: std::collections::VecDeque<PathBuf>,
}

impl Walk {
    pub fn new(queues: &[String]) -> Self {
        let tops: Vec<(usize, String)> = queues.iter().cloned().enumerate().collect();
        Self {
            tops: tops.into_iter(),
            stack: Vec::new(),
        }
    }

    fn open_level(queue: usize, path: PathBuf) -> Result<Level, (PathBuf, std::io::Error)> {
        let reader = match std::fs::read_dir(&path) {
            Ok(reader) => reader,
            Err(error) => return Err((path, error)),
        };
        let handle = File::open(&path).ok();
        Ok(Level {
            queue,
            directory: Arc::new(Directory {
                path: Some(path),
                handle,
            }),
            reader: Some(reader),
            subdirectories: std::collections::VecDeque::new(),
        })
    }
}

impl Iterator for Walk {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        loop {
            if let Some(level) = self.stack.last_mut() {
                // First the directory's files, as they come.
                if let Some(reader) = &mut level.reader {
                    match reader.next() {
                        Some(Ok(entry)) => {
                            let is_directory = match entry.file_type() {
                                Ok(kind) => kind.is_dir(),
                                Err(_) => false,
                            };
                            if is_directory {
                                level.subdirectories.push_back(entry.path());
                                continue;
                            }
                            return Some(Found::File(Candidate {
                                directory: Arc::clone(&level.directory),
                                name: entry.file_name().as_bytes().to_vec(),
                                queue: level.queue,
                            }));
                        }
                        Some(Err(_)) | None => {
                            level.reader = None;
                        }
                    }
                    continue;
                }
                // Then its subdirectories, one at a time, depth first.
                match level.subdirectories.pop_front() {
                    Some(path) => {
                        let queue = level.queue;
                        match Self::open_level(queue, path) {
                            Ok(next) => self.stack.push(next),
                            Err((directory, error)) => {
                                return Some(Found::Unreadable { directory, error })
                            }
                        }
                    }
                    None => {
                        self.stack.pop();
                    }
                }
                continue;
            }
            let (queue, top) = self.tops.next()?;
            let metadata = match std::fs::symlink_metadata(&top) {
                Ok(metadata) => metadata,
                Err(error) => return Some(Found::Missing { top, error }),
            };
            if metadata.is_dir() {
                match Self::open_level(queue, PathBuf::from(&top)) {
                    Ok(level) => self.stack.push(level),
                    Err((directory, error)) => return Some(Found::Unreadable { directory, error }),
                }
                continue;
            }
            // A queue argument that is a file is looked at by itself.
            let path = Path::new(&top);
            let directory = Directory {
                path: None,
                handle: None,
            };
            return Some(Found::File(Candidate {
                directory: Arc::new(directory),
                name: path.as_os_str().as_bytes().to_vec(),
                queue,
            }));
        }
    }
}
