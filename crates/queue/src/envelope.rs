//! What one queue file says about its message, extracted exactly as showq extracts it: sender,
//! arrival time, size, live recipients and the defer log's reasons.
//!
//! Spec: format-and-postqueue.md §3.6, §5, §13.1 (Postfix `showq.c`, `showq_report`).

use std::io::{BufRead, Seek};

use crate::logfile::parse_logfile;
use crate::record::{atol, kind, RecordReader};
use crate::text::{c_string, present_address, printable};

/// The queues showq lists, in the order it lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    Maildrop,
    Active,
    Incoming,
    Deferred,
    Hold,
}

impl Queue {
    pub const SHOWQ_ORDER: [Queue; 5] = [
        Queue::Maildrop,
        Queue::Active,
        Queue::Incoming,
        Queue::Deferred,
        Queue::Hold,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Queue::Maildrop => "maildrop",
            Queue::Active => "active",
            Queue::Incoming => "incoming",
            Queue::Deferred => "deferred",
            Queue::Hold => "hold",
        }
    }

    pub fn from_name(name: &str) -> Option<Queue> {
        Queue::SHOWQ_ORDER
            .into_iter()
            .find(|queue| queue.name() == name)
    }
}

/// One listed message, with every string already in showq's printable, quoted form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub queue: Queue,
    pub id: Vec<u8>,
    /// Epoch seconds: the `T` record, or the file's mtime when that is absent or zero.
    pub arrival_time: i64,
    /// The `C` record's data size, or the file size.
    pub size: i64,
    pub forced_expire: bool,
    pub sender: Vec<u8>,
    /// Defer-log recipients first (in log order), then queue-file recipients not in the log.
    pub recipients: Vec<Recipient>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Vec<u8>,
    /// Empty for queue-file recipients; never empty for defer-log recipients.
    pub reason: Vec<u8>,
}

/// The file facts showq takes from `lstat`.
#[derive(Debug, Clone, Copy)]
pub struct FileFacts {
    pub size: i64,
    pub mtime: i64,
    pub mode: u32,
}

/// Settings that change how entries read.
#[derive(Debug, Clone)]
pub struct ShowqSettings {
    pub empty_address: Vec<u8>,
    pub utf8_enabled: bool,
    /// 0 = no cap; a negative value (which showq accepts) means the filter never fills.
    pub duplicate_filter_limit: i64,
}

/// The group-execute bit: the message was forced to expire (spec §2.3).
pub const MODE_FORCED_EXPIRE: u32 = 0o010;

/// Reads one queue file like showq's `showq_report` (3.12 rules where 3.7 is undefined).
/// `defer_log` is called once, after the sender, for the message's defer logfile bytes.
/// Returns `None` for a file that has no sender record before it ends or breaks.
pub fn extract_entry<R: BufRead + Seek>(
    queue: Queue,
    id: &[u8],
    reader: &mut RecordReader<R>,
    facts: FileFacts,
    settings: &ShowqSettings,
    defer_log: impl FnOnce() -> Option<Vec<u8>>,
    warnings: &mut Vec<String>,
) -> Option<Entry> {
    let id_text = String::from_utf8_lossy(id);
    let mut arrival_time: i64 = 0;
    let mut size = facts.size;
    let mut size_ok = false;
    let mut entry: Option<Entry> = None;
    let mut duplicate_filter: Option<std::collections::HashSet<Vec<u8>>> = None;
    let mut defer_log = Some(defer_log);
    let mut data = Vec::with_capacity(256);
    loop {
        let record_kind = match reader.next_record(&mut data) {
            Ok(Some(record_kind)) => record_kind,
            Ok(None) => break,
            Err(error) => {
                warnings.push(format!("{}/{id_text}: {error}", queue.name()));
                break;
            }
        };
        match record_kind {
            // A NUL type byte ends Postfix's read loop (rec_get returns 0).
            0 => break,
            kind::TIME if arrival_time == 0 => arrival_time = atol(&data),
            kind::SIZE if !size_ok => {
                let payload = c_string(&data);
                let digits_only = payload.iter().all(|&b| b.is_ascii_digit() || b == b' ');
                let value = atol(payload);
                size_ok = digits_only && value >= 0;
                if size_ok {
                    size = value;
                } else {
                    let mut shown = printable(payload, settings.utf8_enabled);
                    shown.truncate(100);
                    warnings.push(format!(
                        "{id_text}: malformed size record: {} -- using file size instead",
                        String::from_utf8_lossy(&shown)
                    ));
                    size = facts.size;
                }
            }
            kind::FROM => {
                let sender = present_address(&data, &settings.empty_address, settings.utf8_enabled);
                if entry.is_some() {
                    // 3.7 is undefined here; 3.12 closes the entry and leaves the file.
                    warnings.push(format!(
                        "{id_text}: duplicate sender address: {} -- skipping remainder of this file",
                        String::from_utf8_lossy(&sender)
                    ));
                    break;
                }
                let mut listed = Entry {
                    queue,
                    id: id.to_vec(),
                    arrival_time: if arrival_time > 0 {
                        arrival_time
                    } else {
                        facts.mtime
                    },
                    size,
                    forced_expire: facts.mode & MODE_FORCED_EXPIRE != 0,
                    sender,
                    recipients: Vec::new(),
                };
                if let Some(log) = defer_log.take().and_then(|open| open()) {
                    let (log_entries, _) = parse_logfile(&log, settings.utf8_enabled);
                    let mut filter = std::collections::HashSet::new();
                    for log_entry in log_entries {
                        if settings.duplicate_filter_limit == 0
                            || (filter.len() as i64) < settings.duplicate_filter_limit
                        {
                            filter.insert(log_entry.address.clone());
                        }
                        listed.recipients.push(Recipient {
                            address: log_entry.address,
                            reason: log_entry.reason,
                        });
                    }
                    duplicate_filter = Some(filter);
                }
                entry = Some(listed);
            }
            kind::RCPT => {
                let Some(listed) = entry.as_mut() else {
                    // 3.12: a recipient before any sender makes showq skip the file silently.
                    warnings.push(format!(
                        "{id_text}: missing sender address -- skipping remainder of this file"
                    ));
                    return None;
                };
                let address =
                    present_address(&data, &settings.empty_address, settings.utf8_enabled);
                if duplicate_filter
                    .as_ref()
                    .is_none_or(|filter| !filter.contains(&address))
                {
                    listed.recipients.push(Recipient {
                        address,
                        reason: Vec::new(),
                    });
                }
            }
            kind::MESSAGE if size_ok => {
                {
                    // Skip the content: the size is the distance from here to the `X` record.
                    if let Err(error) = reader.skip_forward(size as u64) {
                        warnings.push(format!("{}/{id_text}: {error}", queue.name()));
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    entry
}
