//! `postqueue --summary` (our extension, modelled on Exim's exiqsumm): one row per recipient
//! domain with the number of messages, their volume, the oldest and newest arrival and the most
//! common deferral reason; as a table (comfy-table) or JSON.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use postfix_queue::Entry;

/// What one message contributes, computed on the worker that read it.
#[derive(Debug, Clone, Default)]
pub struct Item {
    size: i64,
    arrival: i64,
    /// Each recipient domain once, with the deferral reasons of its recipients there.
    domains: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

impl Item {
    pub fn of(entry: &Entry) -> Self {
        let mut domains: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        for recipient in &entry.recipients {
            let domain = domain_of(&recipient.address);
            let at = *index.entry(domain.clone()).or_insert_with(|| {
                domains.push((domain, Vec::new()));
                domains.len() - 1
            });
            if !recipient.reason.is_empty() {
                domains[at].1.push(recipient.reason.clone());
            }
        }
        Self {
            size: entry.size,
            arrival: entry.arrival_time,
            domains,
        }
    }
}

/// The domain of an address as postqueue shows it: after the last `@`, lower case, without a
/// trailing dot; an address without `@` is its own row.
fn domain_of(address: &[u8]) -> Vec<u8> {
    let domain = match address.iter().rposition(|&b| b == b'@') {
        Some(at) => &address[at + 1..],
        None => address,
    };
    let text = String::from_utf8_lossy(domain).to_lowercase();
    text.trim_end_matches('.').as_bytes().to_vec()
}

/// A row ready to print: (instance, domain), its numbers, its most common deferral reason.
type SortedRow<'a> = (&'a (String, Vec<u8>), &'a Stats, Option<String>);

#[derive(Debug, Default, Clone)]
struct Stats {
    messages: u64,
    bytes: u64,
    oldest: i64,
    newest: i64,
    reasons: HashMap<Vec<u8>, u64>,
}

/// The summary being built, across instances.
#[derive(Debug, Default)]
pub struct Summary {
    rows: BTreeMap<(String, Vec<u8>), Stats>,
    instances: HashSet<String>,
}

impl Summary {
    pub fn add(&mut self, instance: Option<&str>, item: &Item) {
        let instance = instance.unwrap_or_default().to_string();
        self.instances.insert(instance.clone());
        for (domain, reasons) in &item.domains {
            let stats = self
                .rows
                .entry((instance.clone(), domain.clone()))
                .or_insert_with(|| Stats {
                    oldest: i64::MAX,
                    newest: i64::MIN,
                    ..Stats::default()
                });
            stats.messages += 1;
            stats.bytes = stats.bytes.saturating_add(item.size.max(0) as u64);
            stats.oldest = stats.oldest.min(item.arrival);
            stats.newest = stats.newest.max(item.arrival);
            for reason in reasons {
                *stats.reasons.entry(reason.clone()).or_default() += 1;
            }
        }
    }

    /// Rows by message count (most first), then instance and domain.
    fn sorted(&self) -> Vec<SortedRow<'_>> {
        let mut rows: Vec<_> = self
            .rows
            .iter()
            .map(|(key, stats)| {
                let reason = stats
                    .reasons
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(reason, _)| String::from_utf8_lossy(reason).into_owned());
                (key, stats, reason)
            })
            .collect();
        rows.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(b.0)));
        rows
    }

    /// The table, or "Mail queue is empty" as postqueue says it.
    pub fn text(&self, labelled: bool) -> String {
        if self.rows.is_empty() {
            return "Mail queue is empty\n".to_string();
        }
        let terminal = std::io::stdout().is_terminal();
        let mut table = Table::new();
        if terminal {
            table
                .load_preset(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            table.load_preset(presets::ASCII_MARKDOWN);
        }
        let mut header = Vec::new();
        if labelled {
            header.push("Instance");
        }
        header.extend([
            "Domain",
            "Messages",
            "Volume",
            "Oldest",
            "Newest",
            "Most common deferral reason",
        ]);
        table.set_header(header);
        for ((instance, domain), stats, reason) in self.sorted() {
            let mut row = Vec::new();
            if labelled {
                row.push(Cell::new(instance));
            }
            row.push(Cell::new(String::from_utf8_lossy(domain)));
            row.push(Cell::new(stats.messages).set_alignment(CellAlignment::Right));
            row.push(Cell::new(human_size(stats.bytes)).set_alignment(CellAlignment::Right));
            row.push(Cell::new(local_time(stats.oldest)));
            row.push(Cell::new(local_time(stats.newest)));
            row.push(Cell::new(reason.unwrap_or_else(|| "-".into())));
            table.add_row(row);
        }
        format!("{table}\n")
    }

    /// One JSON object per row (JSON Lines, like `postqueue -j`).
    pub fn json(&self, labelled: bool) -> String {
        let mut out = String::new();
        for ((instance, domain), stats, reason) in self.sorted() {
            let mut object = serde_json::json!({
                "domain": String::from_utf8_lossy(domain),
                "messages": stats.messages,
                "bytes": stats.bytes,
                "oldest_arrival": stats.oldest,
                "newest_arrival": stats.newest,
                "top_reason": reason,
            });
            if labelled {
                object["instance"] = serde_json::Value::from(instance.as_str());
            }
            out.push_str(&object.to_string());
            out.push('\n');
        }
        out
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `YYYY-MM-DD HH:MM` in local time.
fn local_time(epoch: i64) -> String {
    let mut buffer = [0u8; 64];
    // SAFETY: localtime_r and strftime get valid pointers into local storage and a literal
    // NUL-terminated format.
    let length = unsafe {
        let time = epoch as libc::time_t;
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&time, &mut tm).is_null() {
            return epoch.to_string();
        }
        libc::strftime(
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            c"%Y-%m-%d %H:%M".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use postfix_queue::{Queue, Recipient};

    fn entry(size: i64, arrival: i64, recipients: &[(&str, &str)]) -> Entry {
        Entry {
            queue: Queue::Deferred,
            id: b"A".to_vec(),
            arrival_time: arrival,
            size,
            forced_expire: false,
            sender: b"s@x".to_vec(),
            recipients: recipients
                .iter()
                .map(|(a, r)| Recipient {
                    address: a.as_bytes().to_vec(),
                    reason: r.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn one_row_per_domain_counting_messages_once() {
        let mut summary = Summary::default();
        summary.add(
            None,
            &Item::of(&entry(
                1000,
                100,
                &[
                    ("a@Ex.com", "timeout"),
                    ("b@ex.com.", "timeout"),
                    ("c@other.org", ""),
                ],
            )),
        );
        summary.add(
            None,
            &Item::of(&entry(3000, 50, &[("d@ex.com", "refused")])),
        );
        let json = summary.json(false);
        let rows: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(rows[0]["domain"], "ex.com");
        assert_eq!(rows[0]["messages"], 2);
        assert_eq!(rows[0]["bytes"], 4000);
        assert_eq!(rows[0]["oldest_arrival"], 50);
        assert_eq!(rows[0]["newest_arrival"], 100);
        assert_eq!(rows[0]["top_reason"], "timeout");
        assert_eq!(rows[1]["domain"], "other.org");
        assert_eq!(rows[1]["top_reason"], serde_json::Value::Null);
        assert!(Summary::default()
            .text(false)
            .starts_with("Mail queue is empty"));
    }
}
