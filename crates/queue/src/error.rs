//! The library's error type: what went wrong, on which path, worded so the tools can print it
//! the way Postfix does.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The C library's text for an errno, without Rust's " (os error N)" suffix, as Postfix's `%m`
/// prints it.
pub fn strerror(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Errors from reading a queue directory.
#[derive(Debug)]
pub enum Error {
    /// A queue directory (or hashed subdirectory) could not be opened; showq dies on this.
    OpenDirectory {
        path: PathBuf,
        source: io::Error,
    },
    /// Reading a directory failed part way.
    ReadDirectory {
        path: PathBuf,
        source: io::Error,
    },
    /// Any other I/O failure on a path.
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Config(crate::config::ConfigError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenDirectory { path, source } => {
                write!(f, "open directory {}: {}", path.display(), strerror(source))
            }
            Self::ReadDirectory { path, source } => {
                write!(f, "read directory {}: {}", path.display(), strerror(source))
            }
            Self::Io { path, source } => write!(f, "{}: {}", path.display(), strerror(source)),
            Self::Config(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::OpenDirectory { source, .. }
            | Self::ReadDirectory { source, .. }
            | Self::Io { source, .. } => Some(source),
            Self::Config(error) => Some(error),
        }
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(error: crate::config::ConfigError) -> Self {
        Self::Config(error)
    }
}
