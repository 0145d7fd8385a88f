//! The reports: qshape's table (`results` and `pdomain` in qshape.pl, byte for byte), and
//! the machine formats, JSON (schema in docs/qshape.schema.json) and the Prometheus text format
//! for node_exporter's textfile collector.

use std::io::Write;

use postfix_queue::shape::{Buckets, Counting, Row, Shape, Shown, TOTAL};

use crate::options::{Options, Settings};
use crate::scan::Scanned;

/// qshape's minimum domain column width.
const MIN_DOMAIN_WIDTH: f64 = 18.0;

/// The table's settings.
#[derive(Debug)]
pub struct TextReport<'a> {
    pub program: &'a str,
    pub buckets: &'a Buckets,
    pub width: f64,
    pub min_subdomains: f64,
    /// `-n` at a terminal (TOTAL counts as a row); 0 = every row.
    pub row_limit: f64,
    /// The clear-screen sequence, printed first when interim reports are on.
    pub clear: Option<&'a [u8]>,
}

impl TextReport<'_> {
    /// One report, as `results()` prints it.
    pub fn write(&self, out: &mut Vec<u8>, shape: &Shape) {
        let labels = self.buckets.labels();
        let total = shape.total();
        let mut widths = Vec::with_capacity(labels.len());
        let mut domain_width = self.width;
        for (column, label) in labels.iter().enumerate() {
            let count = total.get(column).copied().unwrap_or(0).to_string();
            let mut length = count.len();
            if label.len() >= length {
                length = label.len();
            }
            let length = if length > 2 { length + 1 } else { 3 };
            widths.push(length);
            domain_width -= length as f64;
        }
        if domain_width < MIN_DOMAIN_WIDTH {
            domain_width = MIN_DOMAIN_WIDTH;
        }
        if let Some(clear) = self.clear {
            out.extend_from_slice(clear);
        }
        let header: Vec<Vec<u8>> = labels.iter().map(|l| l.as_bytes().to_vec()).collect();
        row(out, b"", &header, &widths, domain_width);
        let mut stderr = std::io::stderr().lock();
        let mut printed = 0.0;
        for (shown, visibility) in shape.ordered_rows(self.min_subdomains) {
            if matches!(visibility, Shown::NoUndefined | Shown::YesUndefined) {
                let _ = writeln!(
                    stderr,
                    "Use of uninitialized value in numeric lt (<) at {} line 367.",
                    self.program
                );
            }
            if !matches!(visibility, Shown::Yes | Shown::YesUndefined) {
                continue;
            }
            if self.row_limit > 0.0 {
                printed += 1.0;
                if printed > self.row_limit {
                    break;
                }
            }
            let counts: Vec<Vec<u8>> = (0..widths.len())
                .map(|column| {
                    shown
                        .counts
                        .get(column)
                        .copied()
                        .unwrap_or(0)
                        .to_string()
                        .into_bytes()
                })
                .collect();
            row(out, &shown.name, &counts, &widths, domain_width);
            // A row with a count past the last column gives Perl's printf one argument too
            // many (possible only with -b below 1).
            if shown.counts.len() > widths.len() {
                let _ = writeln!(
                    stderr,
                    "Redundant argument in printf at {} line 332.",
                    self.program
                );
            }
        }
    }
}

/// `pdomain`: the name right-justified in the domain column (or cut from the left, marked
/// `+` or `.+`), then each cell right-justified in its column.
fn row(out: &mut Vec<u8>, name: &[u8], cells: &[Vec<u8>], widths: &[usize], domain_width: f64) {
    let length = name.len() as f64;
    if length > domain_width {
        // Perl's substr truncates fractional offsets and lengths toward zero.
        let (marker, keep): (&[u8], f64) = if name.first() == Some(&b'.') {
            (b".+", domain_width - 2.0)
        } else {
            (b"+", domain_width - 1.0)
        };
        let start = (length - keep).trunc().max(0.0) as usize;
        let keep = keep.trunc().max(0.0) as usize;
        out.extend_from_slice(marker);
        let end = (start + keep).min(name.len());
        out.extend_from_slice(&name[start.min(end)..end]);
    } else {
        let pad = (domain_width - length).trunc().max(0.0) as usize;
        out.resize(out.len() + pad, b' ');
        out.extend_from_slice(name);
    }
    for (cell, &width) in cells.iter().zip(widths) {
        if cell.len() < width {
            out.resize(out.len() + width - cell.len(), b' ');
        }
        out.extend_from_slice(cell);
    }
    out.push(b'\n');
}

fn counting_name(counting: Counting) -> &'static str {
    match counting {
        Counting::Recipients => "recipients",
        Counting::Senders => "senders",
        Counting::Messages => "messages",
    }
}

/// The rows machine output shows: every row but TOTAL (parents only as qshape would show
/// them), largest first, at most `top` (the rest summed as "other").
fn machine_rows(shape: &Shape, settings: &Settings, top: Option<usize>) -> (Vec<Row>, Option<Row>) {
    let rows: Vec<Row> = shape
        .rows(settings.min_subdomains)
        .into_iter()
        .filter(|row| row.name.as_slice() != TOTAL)
        .collect();
    let top = top.unwrap_or(0);
    if top == 0 || rows.len() <= top {
        return (rows, None);
    }
    let mut kept = Vec::with_capacity(top);
    let mut other = Row {
        name: b"other".to_vec(),
        counts: vec![0; shape.total().len()],
    };
    for row in rows {
        // Parent rows overlap their children: they never go into "other".
        if kept.len() < top {
            kept.push(row);
        } else if row.name.first() != Some(&b'.') {
            for (sum, add) in other.counts.iter_mut().zip(&row.counts) {
                *sum += add;
            }
        }
    }
    (kept, Some(other))
}

fn bucket_list(buckets: &Buckets) -> Vec<serde_json::Value> {
    let labels = buckets.labels();
    buckets
        .bounds_seconds()
        .into_iter()
        .enumerate()
        .map(|(index, (lower, upper))| {
            serde_json::json!({
                "label": labels.get(index + 1).cloned().unwrap_or_default(),
                "min_seconds": lower,
                "max_seconds": upper,
            })
        })
        .collect()
}

fn row_json(row: &Row) -> serde_json::Value {
    serde_json::json!({
        "domain": String::from_utf8_lossy(&row.name),
        "total": row.counts.first().copied().unwrap_or(0),
        "buckets": row.counts.iter().skip(1).copied().collect::<Vec<u64>>(),
    })
}

/// One instance's results, for the machine formats.
#[derive(Debug)]
pub struct Scan {
    /// With `--all-instances`: the instance's configuration directory.
    pub instance: Option<String>,
    pub scanned: Scanned,
    pub elapsed: f64,
}

/// One JSON document (docs/qshape.schema.json); with `--all-instances`, an array of them,
/// each with its `instance`.
pub fn json(
    out: &mut Vec<u8>,
    options: &Options,
    settings: &Settings,
    buckets: &Buckets,
    scans: &[Scan],
    counting: Counting,
    all_instances: bool,
) {
    let documents: Vec<serde_json::Value> = scans
        .iter()
        .map(|scan| {
            let scanned = &scan.scanned;
            let (rows, other) = machine_rows(&scanned.shape, settings, options.top);
            let total = scanned.shape.total();
            let mut document = serde_json::json!({
                "version": 1,
                "generated_at": buckets.now,
                "scan_seconds": scan.elapsed,
                "files_scanned": scanned.files_seen,
                "counting": counting_name(counting),
                "parents": options.parents,
                "queues": options.queues.iter().zip(&scanned.messages_per_queue).map(|(queue, messages)| {
                    serde_json::json!({"name": queue, "messages": messages})
                }).collect::<Vec<_>>(),
                "buckets": bucket_list(buckets),
                "total": {
                    "total": total.first().copied().unwrap_or(0),
                    "buckets": total.iter().skip(1).copied().collect::<Vec<u64>>(),
                },
                "domains": rows.iter().map(row_json).collect::<Vec<_>>(),
                "other": other.as_ref().map(row_json),
            });
            if let Some(instance) = &scan.instance {
                document["instance"] = serde_json::Value::from(instance.as_str());
            }
            document
        })
        .collect();
    let value = if all_instances {
        serde_json::Value::Array(documents)
    } else {
        documents.into_iter().next().unwrap_or_default()
    };
    let _ = serde_json::to_writer_pretty(&mut *out, &value);
    out.push(b'\n');
}

/// A label value in the exposition format: backslash, double quote and newline escaped.
fn label(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn seconds_label(value: Option<f64>) -> String {
    match value {
        Some(seconds) => postfix_queue::shape::perl_format(seconds),
        None => "+Inf".into(),
    }
}

/// A row's name and counts.
type NamedCounts = (Vec<u8>, Vec<u64>);

/// The Prometheus text exposition format, with names in the postfix_exporter family; with
/// `--all-instances`, every sample carries a `postfix_instance` label.
pub fn prometheus(
    out: &mut Vec<u8>,
    options: &Options,
    settings: &Settings,
    buckets: &Buckets,
    scans: &[Scan],
    counting: Counting,
) {
    use std::fmt::Write as _;
    let top = Some(options.top.unwrap_or(20));
    let kind = counting_name(counting);
    let bounds = buckets.bounds_seconds();
    let instance_label = |scan: &Scan| match &scan.instance {
        Some(instance) => format!("postfix_instance=\"{}\",", label(instance.as_bytes())),
        None => String::new(),
    };
    let prepared: Vec<(String, Vec<NamedCounts>)> = scans
        .iter()
        .map(|scan| {
            let (rows, other) = machine_rows(&scan.scanned.shape, settings, top);
            let mut all_rows = vec![(TOTAL.to_vec(), scan.scanned.shape.total().to_vec())];
            all_rows.extend(rows.into_iter().map(|row| (row.name, row.counts)));
            if let Some(other) = other {
                all_rows.push((b"other".to_vec(), other.counts));
            }
            (instance_label(scan), all_rows)
        })
        .collect();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# HELP postfix_queue_depth Messages in each scanned queue directory (as qshape counts them)."
    );
    let _ = writeln!(text, "# TYPE postfix_queue_depth gauge");
    for (scan, (instance, _)) in scans.iter().zip(&prepared) {
        for (queue, messages) in options.queues.iter().zip(&scan.scanned.messages_per_queue) {
            let _ = writeln!(
                text,
                "postfix_queue_depth{{{instance}queue=\"{}\"}} {messages}",
                label(queue.as_bytes())
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP postfix_qshape_domain_addresses Addresses per domain over the scanned queues (count=recipients, senders or messages); domain=\"TOTAL\" is all of them, domain=\"other\" the domains beyond the top N."
    );
    let _ = writeln!(text, "# TYPE postfix_qshape_domain_addresses gauge");
    for (instance, rows) in &prepared {
        for (name, counts) in rows {
            let _ = writeln!(
                text,
                "postfix_qshape_domain_addresses{{{instance}count=\"{kind}\",domain=\"{}\"}} {}",
                label(name),
                counts.first().copied().unwrap_or(0)
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP postfix_qshape_domain_age Addresses per domain and age bucket (qshape's columns): age between age_min_seconds and age_max_seconds."
    );
    let _ = writeln!(text, "# TYPE postfix_qshape_domain_age gauge");
    for (instance, rows) in &prepared {
        for (name, counts) in rows {
            for (column, (lower, upper)) in bounds.iter().enumerate() {
                let _ = writeln!(
                    text,
                    "postfix_qshape_domain_age{{{instance}count=\"{kind}\",domain=\"{}\",age_min_seconds=\"{}\",age_max_seconds=\"{}\"}} {}",
                    label(name),
                    seconds_label(Some(*lower)),
                    seconds_label(*upper),
                    counts.get(column + 1).copied().unwrap_or(0)
                );
            }
        }
    }
    let _ = writeln!(
        text,
        "# HELP postfix_qshape_scan_duration_seconds How long the scan took."
    );
    let _ = writeln!(text, "# TYPE postfix_qshape_scan_duration_seconds gauge");
    for (scan, (instance, _)) in scans.iter().zip(&prepared) {
        let instance = instance.trim_end_matches(',');
        let _ = writeln!(
            text,
            "postfix_qshape_scan_duration_seconds{} {:.6}",
            if instance.is_empty() {
                String::new()
            } else {
                format!("{{{instance}}}")
            },
            scan.elapsed
        );
    }
    let _ = writeln!(
        text,
        "# HELP postfix_qshape_last_scan_timestamp_seconds When the scan started (Unix time)."
    );
    let _ = writeln!(
        text,
        "# TYPE postfix_qshape_last_scan_timestamp_seconds gauge"
    );
    let _ = writeln!(
        text,
        "postfix_qshape_last_scan_timestamp_seconds {}",
        buckets.now
    );
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_from_the_left_with_markers() {
        let mut out = Vec::new();
        let one = [b"1".to_vec()];
        row(
            &mut out,
            b"subdomainname.another.long.example.com",
            &one,
            &[3],
            20.0,
        );
        row(&mut out, b".another.long.example.com", &one, &[3], 20.0);
        row(&mut out, b"short.example", &one, &[3], 20.0);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "+er.long.example.com  1\n.+r.long.example.com  1\n       short.example  1\n"
        );
    }
}
