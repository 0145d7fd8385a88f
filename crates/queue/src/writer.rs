//! Writes queue files and defer logs the way Postfix's cleanup, postdrop and bounce daemons lay
//! them out, so tests, the demo and benchmarks make their own realistic queues.
//!
//! Spec: format-and-postqueue.md §2.1, §2.3, §3.4, §4.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::envelope::Queue;
use crate::queue_id::{long_id, short_id};
use crate::record::{kind, write_record};
use crate::walk::Layout;

/// Content lines longer than this are split into `L` fragments, as cleanup splits them.
const LINE_LENGTH_LIMIT: usize = 2048;

/// What happened to a recipient so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientState {
    /// Still to be delivered: an `R` record.
    Live,
    /// Delivered: the `R` type byte was rewritten to `D`.
    Done,
    /// Cancelled: a `/` record.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientSpec {
    pub address: Vec<u8>,
    pub state: RecipientState,
}

impl RecipientSpec {
    pub fn live(address: impl Into<Vec<u8>>) -> Self {
        Self {
            address: address.into(),
            state: RecipientState::Live,
        }
    }
}

/// Which program's layout to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStyle {
    /// cleanup's output: `C` size record, attributes, `O`/`R` pairs, extracted segment.
    Cleanup,
    /// postdrop's output in maildrop: no `C`, no `O`.
    Maildrop,
}

#[derive(Debug, Clone)]
pub struct MessageSpec {
    pub arrival_seconds: i64,
    pub arrival_microseconds: u32,
    pub sender: Vec<u8>,
    pub recipients: Vec<RecipientSpec>,
    /// Recipients cleanup found in the headers (`sendmail -t`), in the extracted segment.
    pub extracted_recipients: Vec<RecipientSpec>,
    /// The message text (headers, blank line, body); lines split on `\n`.
    pub content: Vec<u8>,
    pub style: FileStyle,
}

/// A built queue file and where its recipient records start (the `offset=` of defer logs).
#[derive(Debug, Clone)]
pub struct BuiltFile {
    pub bytes: Vec<u8>,
    pub recipient_offsets: Vec<u64>,
}

/// Lays out one queue file.
pub fn build_queue_file(spec: &MessageSpec) -> BuiltFile {
    let mut out = Vec::with_capacity(512 + spec.content.len());
    let mut recipient_offsets = Vec::new();
    let size_record_len = 2 + 95;
    if spec.style == FileStyle::Cleanup {
        out.resize(size_record_len, 0); // patched once the offsets are known
    }
    write_record(
        &mut out,
        kind::TIME,
        format!("{} {}", spec.arrival_seconds, spec.arrival_microseconds).as_bytes(),
    );
    if spec.style == FileStyle::Cleanup {
        write_record(
            &mut out,
            kind::ATTR,
            format!("create_time={}", spec.arrival_seconds).as_bytes(),
        );
    }
    write_record(&mut out, kind::ATTR, b"rewrite_context=local");
    write_record(&mut out, kind::FULL_NAME, b"");
    write_record(&mut out, kind::FROM, &spec.sender);
    write_recipients(
        &mut out,
        &spec.recipients,
        spec.style,
        &mut recipient_offsets,
    );
    write_record(&mut out, kind::MESSAGE, b"");
    let data_offset = out.len();
    for line in spec.content.split(|&b| b == b'\n') {
        let mut rest = line;
        while rest.len() > LINE_LENGTH_LIMIT {
            write_record(&mut out, kind::CONTINUED, &rest[..LINE_LENGTH_LIMIT]);
            rest = &rest[LINE_LENGTH_LIMIT..];
        }
        write_record(&mut out, kind::NORMAL, rest);
    }
    let extracted_offset = out.len();
    write_record(&mut out, kind::EXTRACTED, b"");
    write_recipients(
        &mut out,
        &spec.extracted_recipients,
        spec.style,
        &mut recipient_offsets,
    );
    write_record(&mut out, kind::END, b"");
    if spec.style == FileStyle::Cleanup {
        let data_size = extracted_offset - data_offset;
        let live = spec
            .recipients
            .iter()
            .chain(&spec.extracted_recipients)
            .count();
        let size = format!(
            "{data_size:15} {data_offset:15} {live:15} {:15} {data_size:15} {:15}",
            0, 0
        );
        let mut head = Vec::with_capacity(size_record_len);
        write_record(&mut head, kind::SIZE, size.as_bytes());
        out[..size_record_len].copy_from_slice(&head);
    }
    BuiltFile {
        bytes: out,
        recipient_offsets,
    }
}

fn write_recipients(
    out: &mut Vec<u8>,
    recipients: &[RecipientSpec],
    style: FileStyle,
    offsets: &mut Vec<u64>,
) {
    for recipient in recipients {
        if style == FileStyle::Cleanup {
            let mut orcpt = b"dsn_orig_rcpt=rfc822;".to_vec();
            orcpt.extend_from_slice(&recipient.address);
            write_record(out, kind::ATTR, &orcpt);
            write_record(out, kind::ORIGINAL_RCPT, &recipient.address);
        }
        offsets.push(out.len() as u64);
        let record_kind = match recipient.state {
            RecipientState::Live => kind::RCPT,
            RecipientState::Done => kind::DONE,
            RecipientState::Cancelled => kind::DELETED_RCPT,
        };
        write_record(out, record_kind, &recipient.address);
    }
}

/// Creates queue files in a queue directory the way Postfix does: a temporary name first, the
/// ID from the arrival microseconds and the inode, then a rename into the (hashed) queue.
#[derive(Debug)]
pub struct QueueWriter {
    layout: Layout,
    long_ids: bool,
}

impl QueueWriter {
    pub fn new(layout: Layout, long_ids: bool) -> Self {
        Self { layout, long_ids }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Creates every queue and logfile directory (mode 0700, as `mail_queue_mkdirs` does).
    pub fn create_directories(&self) -> io::Result<()> {
        for directory in [
            "maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer", "bounce",
            "trace", "flush",
        ] {
            create_dir_mode(&self.layout.queue_directory.join(directory))?;
        }
        Ok(())
    }

    /// Writes a message into `queue` with permission `mode` (0700 = complete, 0710 = forced
    /// to expire, 0600 = still being written) and returns its queue ID.
    pub fn add(&self, queue: Queue, spec: &MessageSpec, mode: u32) -> io::Result<String> {
        let built = build_queue_file(spec);
        let temporary = self.layout.queue_directory.join(queue.name()).join(format!(
            "{}.{}",
            spec.arrival_microseconds,
            std::process::id()
        ));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&built.bytes)?;
        let inode = file.metadata()?.ino();
        let id = if self.long_ids {
            long_id(
                spec.arrival_seconds.max(0) as u64,
                spec.arrival_microseconds,
                inode,
            )
        } else {
            short_id(spec.arrival_microseconds, inode)
        };
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        drop(file);
        let target = self.place(queue.name(), id.as_bytes())?;
        fs::rename(&temporary, &target)?;
        Ok(id)
    }

    /// Writes raw bytes as queue file `name` (for damaged or hand-made files).
    pub fn add_raw(
        &self,
        queue: &str,
        name: &[u8],
        bytes: &[u8],
        mode: u32,
    ) -> io::Result<PathBuf> {
        let target = self.place(queue, name)?;
        let mut file = File::create(&target)?;
        file.write_all(bytes)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        Ok(target)
    }

    /// Appends a defer-log entry for `id`, as the bounce daemon does for a delayed recipient.
    pub fn append_defer_log(
        &self,
        id: &[u8],
        recipient: &[u8],
        offset: u64,
        reason: &[u8],
    ) -> io::Result<()> {
        let target = self.place("defer", id)?;
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(target)?;
        file.write_all(&crate::logfile::format_entry(
            recipient, offset, "4.4.1", "delayed", reason,
        ))
    }

    /// The path for `name` in `queue`, with its hash subdirectories created.
    fn place(&self, queue: &str, name: &[u8]) -> io::Result<PathBuf> {
        let target = self.layout.path(queue, name);
        if let Some(parent) = target.parent() {
            create_dir_mode(parent)?;
        }
        Ok(target)
    }
}

fn create_dir_mode(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.is_dir() {
            create_dir_mode(parent)?;
        }
    }
    match fs::create_dir(path) {
        Ok(()) => fs::set_permissions(path, fs::Permissions::from_mode(0o700)),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordReader;
    use std::io::Cursor;

    #[test]
    fn size_record_points_at_the_extracted_segment() {
        let spec = MessageSpec {
            arrival_seconds: 1795976329,
            arrival_microseconds: 237981,
            sender: b"a@example.com".to_vec(),
            recipients: vec![RecipientSpec::live("r1@example.org")],
            extracted_recipients: vec![],
            content: b"Subject: x\n\nhello".to_vec(),
            style: FileStyle::Cleanup,
        };
        let built = build_queue_file(&spec);
        let mut reader = RecordReader::new(Cursor::new(built.bytes.as_slice()));
        let mut data = Vec::new();
        assert_eq!(reader.next_record(&mut data).ok().flatten(), Some(b'C'));
        let fields: Vec<u64> = String::from_utf8_lossy(&data)
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        assert_eq!(fields.len(), 6);
        assert_eq!(built.bytes[fields[1] as usize + fields[0] as usize], b'X');
        assert_eq!(built.bytes[fields[1] as usize - 2], b'M');
    }
}
