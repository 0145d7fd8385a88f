//! `cargo xtask bench`, qshape part: times our qshape against Postfix's (the Perl
//! /usr/sbin/qshape) and against an envelope-read floor, for the default report (recipient
//! domains) and `-s` (sender domains), on the generated queues, and checks that both print the
//! same report.
//!
//! Both run as `qshape -c ETC [-s] SPOOL/incoming SPOOL/active SPOOL/deferred SPOOL/hold`:
//! the four queues that hold cleanup's queue files, about 98% of the generated messages (90% are
//! deferred). maildrop is left out: its files are in postdrop's format, which Postfix's qshape
//! does not read (deviation Q2), so it would only add a known difference. Absolute queue paths
//! keep either tool from running `postconf -h queue_directory`.
//!
//! Method (as the postqueue part): warm page cache, one untimed warm-up run per measurement
//! (its output kept for the check), then `runs` timed runs, the measurements taking turns run
//! by run so that noise spreads over all of them; stdout to /dev/null (not a terminal, so no
//! interim reports); peak RSS from wait4(2).
//!
//! The check knows the two documented differences (docs/deviations.md): Postfix's qshape does
//! not count force-expired messages (Q1) and orders rows with equal counts and name lengths at
//! random (Q3). So the header lines must be identical, and each row's total (column T, TOTAL
//! included) must be Postfix's plus exactly what the force-expired files of the queues add,
//! which xtask reads itself with a record reader written after qshape.pl's, independent of the
//! tool under test. The age columns are not compared: the runs are seconds apart, so messages
//! near a bucket boundary move between runs.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::bench::{human, push_check_rows, push_syscall_rows, seconds_of, Timing};
use crate::floor;
use crate::process::run_measured;

pub const REAL_QSHAPE: &str = "/usr/sbin/qshape";
/// Measures the tools' peak RSS (see the warm-up runs).
const GNU_TIME: &str = "/usr/bin/time";
/// Next to the other parts' results, so that each part can be rerun alone.
pub const RESULTS_FILE: &str = "qshape-results.json";
/// The queue arguments, in this order, for both tools and the floor.
pub const QUEUES: [&str; 4] = ["incoming", "active", "deferred", "hold"];
/// The targets at 1M messages: at least this many times faster than Postfix's qshape...
const TARGET_SPEEDUP: f64 = 10.0;
/// ...and within this factor of the envelope floor on as many threads.
const TARGET_FLOOR_RATIO: f64 = 1.3;

/// The two reports measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    /// The default: recipients by domain.
    Recipients,
    /// `-s`: senders by domain, one per message.
    Senders,
}

impl Report {
    const ALL: [Report; 2] = [Report::Recipients, Report::Senders];

    fn flags(self) -> &'static [&'static str] {
        match self {
            Report::Recipients => &[],
            Report::Senders => &["-s"],
        }
    }

    /// How the page names it.
    fn name(self) -> &'static str {
        match self {
            Report::Recipients => "qshape",
            Report::Senders => "qshape -s",
        }
    }

    fn file_tag(self) -> &'static str {
        match self {
            Report::Recipients => "recipients",
            Report::Senders => "senders",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Ours,
    /// Ours with `RAYON_NUM_THREADS=1`.
    OursOneThread,
    Real,
}

impl Tool {
    fn label(self, report: Report) -> String {
        match self {
            Tool::Ours => format!("ours {}", report.name()),
            Tool::OursOneThread => format!("ours {}, RAYON_NUM_THREADS=1", report.name()),
            Tool::Real => format!("Postfix {}", report.name()),
        }
    }
}

fn floor_label(extracted: bool, threads: usize) -> String {
    if extracted {
        format!("floor: open + first 4 KB + extracted segment, {threads} thread(s)")
    } else {
        format!("floor: open + first 4 KB only, {threads} thread(s)")
    }
}

#[derive(Debug, Clone)]
pub struct QshapeOptions {
    pub runs: usize,
    /// Whether Postfix's qshape is measured (installed).
    pub real: bool,
}

/// What the force-expired files of the queues add to our report and not to Postfix's
/// (deviation Q1): per row (TOTAL included), for each report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ForcedShare {
    messages: u64,
    recipients: u64,
    /// Rows of the default report.
    by_recipient: BTreeMap<String, u64>,
    /// Rows of `-s`.
    by_sender: BTreeMap<String, u64>,
}

impl ForcedShare {
    fn rows(&self, report: Report) -> &BTreeMap<String, u64> {
        match report {
            Report::Recipients => &self.by_recipient,
            Report::Senders => &self.by_sender,
        }
    }

    fn add(&mut self, sender: &[u8], recipients: &[Vec<u8>]) {
        self.messages += 1;
        *self.by_sender.entry("TOTAL".into()).or_default() += 1;
        *self.by_sender.entry(domain_row(sender)).or_default() += 1;
        for recipient in recipients {
            self.recipients += 1;
            *self.by_recipient.entry("TOTAL".into()).or_default() += 1;
            *self.by_recipient.entry(domain_row(recipient)).or_default() += 1;
        }
    }
}

/// The queues' files, as the check needs them: regular files per queue, and the force-expired
/// share.
#[derive(Debug, Default)]
struct Selection {
    files: BTreeMap<String, u64>,
    forced: ForcedShare,
}

impl Selection {
    fn files(&self) -> u64 {
        self.files.values().sum()
    }
}

/// Walks the queues once (lstat per file; untimed) and reads the force-expired files: those
/// both qshapes' name and mode tests would pass but for the force-expire bit, mode 0010.
fn scan_selection(spool: &Path) -> Result<Selection> {
    let mut selection = Selection::default();
    let mut contents = Vec::new();
    for queue in QUEUES {
        let mut files = 0;
        let mut pending = vec![spool.join(queue)];
        while let Some(directory) = pending.pop() {
            let entries = match fs::read_dir(&directory) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => {
                    return Err(error).with_context(|| format!("list {}", directory.display()))
                }
            };
            for entry in entries {
                let entry = entry?;
                let metadata = entry.metadata()?;
                if metadata.is_dir() {
                    pending.push(entry.path());
                    continue;
                }
                if !metadata.is_file() {
                    continue;
                }
                files += 1;
                let mode = metadata.mode();
                let candidate = {
                    let name = entry.file_name();
                    let name = name.as_bytes();
                    name.len() >= 6 && name.iter().all(u8::is_ascii_alphanumeric)
                };
                // Ours counts (mode & 0723) == 0700, Postfix's (mode & 0733) == 0700.
                if !candidate || mode & 0o723 != 0o700 || mode & 0o010 == 0 {
                    continue;
                }
                contents.clear();
                File::open(entry.path())
                    .and_then(|mut file| std::io::Read::read_to_end(&mut file, &mut contents))
                    .with_context(|| format!("read {}", entry.path().display()))?;
                if let Some((sender, recipients)) = qshape_envelope(&contents) {
                    selection.forced.add(&sender, &recipients);
                }
            }
        }
        selection.files.insert(queue.to_string(), files);
    }
    Ok(selection)
}

/// One record as qshape.pl's `rec_get` reads it: type, up to three length bytes (base 128, low
/// bits first), data; None at the end of the file or on a short record.
fn next_record<'a>(file: &'a [u8], at: &mut usize) -> Option<(u8, &'a [u8])> {
    let kind = *file.get(*at)?;
    *at += 1;
    let mut length = 0usize;
    let mut shift = 0;
    loop {
        let byte = *file.get(*at)?;
        *at += 1;
        length |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 14 {
            return None;
        }
    }
    let data = file.get(*at..*at + length)?;
    *at += length;
    Some((kind, data))
}

/// The leading decimal digits of a record as a number (Perl's numeric value of such a text).
fn leading_number(data: &[u8]) -> u64 {
    let text = std::str::from_utf8(data).unwrap_or("");
    let text = text.trim_start();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    text[..digits].parse().unwrap_or(0)
}

/// qshape.pl's `qenv` for a cleanup queue file (first record `C`, then `T`): the sender and
/// the pending recipients (`R` records) of a file it counts, None for a file it skips.
/// Follows `p` pointers, skips the content by the size record's first number, and wants the
/// `X` record after it and an `E` record with a sender and a recipient.
fn qshape_envelope(file: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut at = 0;
    let (kind, data) = next_record(file, &mut at)?;
    if kind != b'C' {
        // postdrop's and older formats do not occur in the queues measured.
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    let fields: Vec<&str> = text.split_ascii_whitespace().take(3).collect();
    let content = (fields.len() == 3
        && fields.iter().all(|f| f.bytes().all(|b| b.is_ascii_digit())))
    .then(|| fields[0].parse::<usize>().ok())
    .flatten()?;
    if next_record(file, &mut at)?.0 != b'T' {
        return None;
    }
    let mut sender: Option<Vec<u8>> = None;
    let mut recipients = Vec::new();
    let mut jumps = 0;
    while let Some((kind, data)) = next_record(file, &mut at) {
        match kind {
            b'p' => {
                let target = leading_number(data);
                if target > 0 {
                    jumps += 1;
                    if jumps > 1000 {
                        return None;
                    }
                    at = usize::try_from(target).ok()?;
                }
            }
            b'R' => recipients.push(data.to_vec()),
            b'S' => sender = Some(data.to_vec()),
            b'M' => {
                sender.as_ref()?;
                at += content;
                if next_record(file, &mut at)?.0 != b'X' {
                    return None;
                }
            }
            b'E' => {
                let sender = sender?;
                return (!recipients.is_empty()).then_some((sender, recipients));
            }
            _ => {}
        }
    }
    None
}

/// The row an address counts in: its domain (after the last `@`) in lower case, or
/// `MAILER-DAEMON` for the null address. (qshape also folds `..` and trims one dot at either
/// end; generated addresses have neither.)
fn domain_row(address: &[u8]) -> String {
    if address.is_empty() {
        return "MAILER-DAEMON".into();
    }
    let domain = match address.iter().rposition(|&b| b == b'@') {
        Some(at) => &address[at + 1..],
        None => address,
    };
    String::from_utf8_lossy(domain).to_ascii_lowercase()
}

/// A text report: its header line and each row's total (column T) by row name as printed
/// (rows whose printed names are equal are added up).
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    header: String,
    totals: BTreeMap<String, u64>,
    /// The width of the name field: qshape right-aligns names in it and shortens longer ones.
    name_width: usize,
}

fn parse_report(text: &str) -> Result<Parsed> {
    let mut lines = text.lines();
    let header = lines.next().context("an empty report")?.to_string();
    let mut totals = BTreeMap::new();
    let mut name_width = 0;
    for line in lines {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(total)) = (fields.next(), fields.next()) else {
            continue;
        };
        if name_width == 0 {
            name_width = line.find(name).unwrap_or(0) + name.len();
        }
        let total: u64 = total
            .parse()
            .with_context(|| format!("not a report row: {line:?}"))?;
        *totals.entry(name.to_string()).or_default() += total;
    }
    Ok(Parsed {
        header,
        totals,
        name_width,
    })
}

/// A row name as qshape's `pdomain` prints it in a field of `width` bytes: a longer name keeps
/// its end, after `+` (or `.+` for a parent row).
fn printed_name(name: &str, width: usize) -> String {
    let bytes = name.as_bytes();
    if width < 2 || bytes.len() <= width {
        return name.to_string();
    }
    let (prefix, keep) = if bytes[0] == b'.' {
        (".+", width - 2)
    } else {
        ("+", width - 1)
    };
    format!(
        "{prefix}{}",
        String::from_utf8_lossy(&bytes[bytes.len() - keep..])
    )
}

/// Whether `ours` is `theirs` plus exactly `share` in every row's total, with the same header;
/// and what the page says about it.
fn compare_reports(
    ours: &Parsed,
    theirs: &Parsed,
    share: &BTreeMap<String, u64>,
    theirs_name: &str,
) -> (bool, String) {
    let mut problems = Vec::new();
    if ours.header != theirs.header {
        problems.push(format!(
            "header differs: {:?} vs {:?}",
            ours.header.trim(),
            theirs.header.trim()
        ));
    }
    // The share by printed name: long domains are shortened in the report.
    let mut printed_share: BTreeMap<String, u64> = BTreeMap::new();
    for (name, count) in share {
        *printed_share
            .entry(printed_name(name, ours.name_width))
            .or_default() += count;
    }
    let mut names: Vec<&String> = ours
        .totals
        .keys()
        .chain(theirs.totals.keys())
        .chain(printed_share.keys())
        .collect();
    names.sort();
    names.dedup();
    let mut wrong_rows = 0;
    for name in &names {
        let have = ours.totals.get(*name).copied().unwrap_or(0) as i64;
        let base = theirs.totals.get(*name).copied().unwrap_or(0) as i64;
        let want = printed_share.get(*name).copied().unwrap_or(0) as i64;
        if have - base != want {
            wrong_rows += 1;
            if wrong_rows <= 5 {
                problems.push(format!(
                    "{name}: ours {have}, {theirs_name} {base} (want a difference of {want})"
                ));
            }
        }
    }
    if wrong_rows > 5 {
        problems.push(format!("{} more rows", wrong_rows - 5));
    }
    let total = |parsed: &Parsed| parsed.totals.get("TOTAL").copied().unwrap_or(0);
    if problems.is_empty() && share.is_empty() {
        (
            true,
            format!("match: same header, {} rows, same row totals", names.len()),
        )
    } else if problems.is_empty() {
        let difference = total(ours) - total(theirs);
        let detail = if difference == 0 {
            "same totals".to_string()
        } else {
            format!(
                "TOTAL {} vs {} (+{difference}: the force-expired share, Q1)",
                total(ours),
                total(theirs)
            )
        };
        (
            true,
            format!(
                "match: same header, {} rows, every row's T = {theirs_name}'s + its \
                 force-expired share; {detail}",
                names.len()
            ),
        )
    } else {
        (false, format!("DIFFERENT: {}", problems.join("; ")))
    }
}

/// One process measurement (a tool and a report).
struct Process {
    tool: Tool,
    report: Report,
    walls: Vec<Duration>,
    /// Of the timed runs, from wait4: at least xtask's own (see `rss_by_gnu_time`).
    max_rss_kib: i64,
    /// Of the warm-up run, from GNU time.
    gnu_time_rss_kib: Option<i64>,
}

/// Runs the qshape benchmark on the queue in `directory` (generated already) and returns its
/// results.
pub fn bench_size(
    size: u64,
    directory: &Path,
    facts: Value,
    ours: &Path,
    options: &QshapeOptions,
    threads: usize,
) -> Result<Value> {
    let spool = fs::canonicalize(directory.join("spool"))?;
    let etc = fs::canonicalize(directory.join("etc"))?;
    let started = Instant::now();
    let selection = scan_selection(&spool)?;
    println!(
        "bench: {size} qshape: {} files in {}; {} force-expired messages with {} recipients \
         (scanned in {:.1} s)",
        selection.files(),
        QUEUES.join(", "),
        selection.forced.messages,
        selection.forced.recipients,
        started.elapsed().as_secs_f64()
    );

    // With `rss`, the tool runs under GNU time, which writes its peak RSS (KiB) there.
    let command = |tool: Tool, report: Report, rss: Option<&Path>| {
        let program = match tool {
            Tool::Ours | Tool::OursOneThread => ours,
            Tool::Real => Path::new(REAL_QSHAPE),
        };
        let mut command = match rss {
            Some(file) => {
                let mut command = Command::new(GNU_TIME);
                command.args(["-f", "%M", "-o"]).arg(file).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.arg("-c").arg(&etc).args(report.flags());
        for queue in QUEUES {
            command.arg(spool.join(queue));
        }
        match tool {
            Tool::OursOneThread => command.env("RAYON_NUM_THREADS", "1"),
            _ => command.env_remove("RAYON_NUM_THREADS"),
        };
        command
    };

    let mut processes = Vec::new();
    for report in Report::ALL {
        processes.push(Process {
            tool: Tool::Ours,
            report,
            walls: Vec::new(),
            max_rss_kib: 0,
            gnu_time_rss_kib: None,
        });
        if report == Report::Recipients {
            processes.push(Process {
                tool: Tool::OursOneThread,
                report,
                walls: Vec::new(),
                max_rss_kib: 0,
                gnu_time_rss_kib: None,
            });
        }
        if options.real {
            processes.push(Process {
                tool: Tool::Real,
                report,
                walls: Vec::new(),
                max_rss_kib: 0,
                gnu_time_rss_kib: None,
            });
        }
    }
    let output_of = |tool: Tool, report: Report, stream: &str| {
        let who = match tool {
            Tool::Ours => "ours",
            Tool::OursOneThread => "ours-1",
            Tool::Real => "real",
        };
        directory.join(format!("qshape-{who}-{}.{stream}", report.file_tag()))
    };

    // Warm-up runs, untimed: their outputs are kept for the check, and GNU time gives their
    // peak RSS. A child of xtask (started with vfork) inherits xtask's own peak RSS into its
    // ru_maxrss; GNU time's child is forked from GNU time, which is small.
    let gnu_time = Path::new(GNU_TIME).exists();
    let rss_file = directory.join("qshape-rss.txt");
    for process in &mut processes {
        let label = process.tool.label(process.report);
        let stdout = output_of(process.tool, process.report, "out");
        let stderr = output_of(process.tool, process.report, "err");
        let _ = fs::remove_file(&rss_file);
        let measured = run_measured(
            command(
                process.tool,
                process.report,
                gnu_time.then_some(rss_file.as_path()),
            )
            .stdout(Stdio::from(File::create(&stdout)?))
            .stderr(Stdio::from(File::create(&stderr)?)),
        )?;
        if !measured.status.success() {
            bail!(
                "{label} failed ({}): {}",
                measured.status,
                fs::read_to_string(&stderr).unwrap_or_default().trim()
            );
        }
        process.gnu_time_rss_kib = fs::read_to_string(&rss_file)
            .ok()
            .and_then(|text| text.lines().last()?.trim().parse().ok());
        println!(
            "bench: {size} {label}: warm-up {:.3} s, peak RSS {} (GNU time)",
            measured.wall.as_secs_f64(),
            process
                .gnu_time_rss_kib
                .map_or("?".into(), |kib| format!("{:.1} MB", kib as f64 / 1024.0))
        );
    }
    let _ = fs::remove_file(&rss_file);
    let rss_by_gnu_time = processes.iter().all(|p| p.gnu_time_rss_kib.is_some());
    let mut floor_counts = BTreeMap::new();
    let floors: Vec<(bool, usize)> = [true, false]
        .into_iter()
        .flat_map(|extracted| {
            let mut counts = vec![1, threads];
            counts.dedup();
            counts.into_iter().map(move |t| (extracted, t))
        })
        .collect();
    for &(extracted, floor_threads) in &floors {
        let count = floor::read_envelopes(&spool, &QUEUES, floor_threads, extracted)?;
        floor_counts.insert(extracted, count);
    }

    // Timed runs, the measurements taking turns.
    let mut floor_walls: Vec<Vec<Duration>> = vec![Vec::new(); floors.len()];
    for run in 0..options.runs {
        for process in &mut processes {
            let label = process.tool.label(process.report);
            let measured = run_measured(
                command(process.tool, process.report, None)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            )?;
            if !measured.status.success() {
                bail!("{label} failed: {}", measured.status);
            }
            process.walls.push(measured.wall);
            process.max_rss_kib = process.max_rss_kib.max(measured.max_rss_kib);
            println!(
                "bench: {size} {label}: run {} {:.3} s, peak RSS {:.1} MB",
                run + 1,
                measured.wall.as_secs_f64(),
                measured.max_rss_kib as f64 / 1024.0
            );
        }
        for (index, &(extracted, floor_threads)) in floors.iter().enumerate() {
            let started = Instant::now();
            floor::read_envelopes(&spool, &QUEUES, floor_threads, extracted)?;
            floor_walls[index].push(started.elapsed());
            println!(
                "bench: {size} {}: run {} {:.3} s",
                floor_label(extracted, floor_threads),
                run + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let mut timings: Vec<Timing> = processes
        .iter()
        .map(|process| Timing {
            label: process.tool.label(process.report),
            walls: process.walls.clone(),
            max_rss_kib: Some(if rss_by_gnu_time {
                process.gnu_time_rss_kib.unwrap_or(0)
            } else {
                process.max_rss_kib
            }),
        })
        .collect();
    for (index, &(extracted, floor_threads)) in floors.iter().enumerate() {
        timings.push(Timing {
            label: floor_label(extracted, floor_threads),
            walls: floor_walls[index].clone(),
            max_rss_kib: None,
        });
    }

    // The checks, on the warm-up outputs.
    let mut checks = Vec::new();
    let mut counted = serde_json::Map::new();
    for report in Report::ALL {
        let ours_text = fs::read_to_string(output_of(Tool::Ours, report, "out"))?;
        let ours_report = parse_report(&ours_text)?;
        if report == Report::Senders {
            counted.insert(
                "ours".into(),
                json!(ours_report.totals.get("TOTAL").copied().unwrap_or(0)),
            );
        }
        let mut comparisons = Vec::new();
        if options.real {
            comparisons.push((Tool::Real, selection.forced.rows(report).clone(), "Postfix"));
        }
        if report == Report::Recipients {
            comparisons.push((Tool::OursOneThread, BTreeMap::new(), "1 thread"));
        }
        for (other, share, other_name) in comparisons {
            let other_text = fs::read_to_string(output_of(other, report, "out"))?;
            let other_report = parse_report(&other_text)?;
            if report == Report::Senders && other == Tool::Real {
                counted.insert(
                    "real".into(),
                    json!(other_report.totals.get("TOTAL").copied().unwrap_or(0)),
                );
            }
            let (ok, mut verdict) =
                compare_reports(&ours_report, &other_report, &share, other_name);
            for (tool, name) in [(Tool::Ours, "ours"), (other, other_name)] {
                let stderr = fs::read_to_string(output_of(tool, report, "err")).unwrap_or_default();
                if let Some(first) = stderr.lines().next() {
                    let _ = write!(
                        verdict,
                        "; {name} wrote {} line(s) to stderr, first: {first:?}",
                        stderr.lines().count()
                    );
                }
            }
            let what = match other {
                Tool::Real => format!("{}: ours vs Postfix", report.name()),
                _ => format!("{}: ours vs ours with RAYON_NUM_THREADS=1", report.name()),
            };
            println!("bench: {size} {what}: {verdict}");
            checks.push(json!({"what": what, "ok": ok, "verdict": verdict}));
        }
    }
    for process in &processes {
        for stream in ["out", "err"] {
            let _ = fs::remove_file(output_of(process.tool, process.report, stream));
        }
    }

    let messages = counted
        .get("ours")
        .and_then(Value::as_u64)
        .unwrap_or(selection.files());
    let mut arguments: Vec<&OsStr> = vec![OsStr::new("-c"), etc.as_os_str()];
    let queue_paths: Vec<PathBuf> = QUEUES.iter().map(|queue| spool.join(queue)).collect();
    arguments.extend(queue_paths.iter().map(|path| path.as_os_str()));
    let syscalls = crate::bench::strace_per_message(ours, &arguments, messages);
    if let Value::Array(rows) = &syscalls {
        println!("bench: {size} syscalls per message (ours qshape, strace -c -f): {rows:?}");
    }

    let extracted = floor_counts.get(&true).copied().unwrap_or_default();
    Ok(json!({
        "size": size,
        "queue": facts,
        "threads": threads,
        "runs": options.runs,
        "queues": QUEUES,
        "files": selection.files,
        "selected_files": selection.files(),
        "forced_expired_messages": selection.forced.messages,
        "forced_expired_recipients": selection.forced.recipients,
        "messages_counted": counted,
        "floor": {
            "files": extracted.files,
            "bytes": extracted.bytes,
            "second_reads": extracted.second_reads,
        },
        "timings": timings.iter().map(Timing::to_json).collect::<Vec<_>>(),
        "checks": checks,
        "syscalls_per_message": syscalls,
        // A child started with vfork (as std's Command does) inherits this as its own peak
        // RSS, so the tools' peak RSS cannot be measured below it.
        "xtask_max_rss_kib": crate::process::own_max_rss_kib(),
        "rss_by_gnu_time": rss_by_gnu_time,
        "measured_at": crate::gen::unix_now(),
    }))
}

/// Whether the qshape part can run: both tools must read queue files that belong to postfix
/// with mode 0700, which root can.
pub fn runnable() -> std::result::Result<(), String> {
    if crate::process::is_root() {
        Ok(())
    } else {
        Err("reading queue files (mode 0700, owner postfix) needs root".into())
    }
}

/// Whether the real qshape can run here: the script and the perl it needs.
pub fn real_available() -> bool {
    let executable = |path: &str| {
        fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
    };
    executable(REAL_QSHAPE) && executable("/usr/bin/perl")
}

/// The qshape section of docs/benchmarks.md.
pub fn render_section(results: &[Value]) -> String {
    let mut page = String::new();
    page.push_str("## qshape\n\n");
    page.push_str(
        "Our `qshape` and `qshape -s` against Postfix's own (the Perl script) and against an \
         envelope-read floor. Reproduce with `cargo xtask bench --only qshape --sizes \
         100000,1000000` (as root, with Postfix installed).\n\n",
    );
    let queues = QUEUES.join(" ");
    let _ = write!(
        page,
        "### Method\n\n\
         - Both run as `qshape -c ETC [-s] SPOOL/incoming SPOOL/active SPOOL/deferred \
         SPOOL/hold` (ETC is the generator's, whose `queue_directory` is SPOOL): ours is \
         `target/release/qshape`, built by the benchmark, on all cores (and once more with \
         `RAYON_NUM_THREADS=1`); Postfix's is `{REAL_QSHAPE}`. The queue arguments ({queues}) \
         hold about 98% of the messages (deferred alone 90%); maildrop is left out because its \
         files are in postdrop's format, which Postfix's qshape does not read (deviation Q2). \
         The paths are absolute, so neither tool runs `postconf -h queue_directory`.\n\
         - **Floor** (in process, `xtask/src/floor.rs` `read_envelopes`): readdir with \
         `d_type` over the same queues, then per regular file `openat`, one read of its first \
         4 KB, and, when the size record (the first record) puts the end of the content at or \
         beyond what that read returned, one `pread` of 4 KB at the end of the content, where \
         the extracted segment's records are (qshape seeks there with the size record and \
         reads the `X` record). That is what a qshape must read; ours also `fstat`s each file \
         (qshape's mode test), which the floor does not. The floor on 1 thread and on all \
         cores; for scale also the first-4-KB-only floor over the same files.\n\
         - Warm page cache, as in the postqueue part (dropping it would disturb other users): \
         every measurement has one untimed warm-up run first (the tools' warm-up outputs are \
         kept for the check), then the median of the timed runs is reported, with min–max; \
         the measurements take turns run by run, so noise spreads over all of them. Wall time \
         of the whole process, start-up included; stdout to /dev/null (not a terminal, so no \
         interim reports). Peak RSS comes from GNU time (`/usr/bin/time -f %M`) on the warm-up \
         run, as in perf-anchors.md: the `ru_maxrss` that wait4(2) gives xtask for its own \
         child includes xtask's peak RSS (a child started with vfork inherits it when it \
         execs), which is more than our qshape's. Without GNU time it is wait4's, and a figure \
         at or below xtask's is shown as \"≤ xtask's\".\n\
         - Correctness, on the warm-up outputs: the header line must be identical, and every \
         row's total (column T, TOTAL included) must be Postfix's plus exactly what the \
         queues' force-expired messages (mode 0710) add: Postfix's qshape does not count them, \
         ours does (deviation Q1). xtask reads those files itself, with a record reader \
         written after qshape.pl's (not the tool under test's). Rows are compared by name, \
         since Postfix orders ties at random (Q3). The age columns are not compared: the runs \
         are seconds apart, and messages near a bucket boundary move between them. Ours with \
         1 thread must give the same row totals as ours on all cores.\n\
         - Ours with `RAYON_NUM_THREADS=1` reads on one rayon thread while the main thread \
         walks the directories between batches of 4096 files, so it is one thread at a time, \
         but not the same work split as the floor's single thread.\n\
         - The machine may be shared with other jobs; min–max shows the noise.\n\n"
    );
    if results.is_empty() {
        page.push_str("No qshape results yet: run `cargo xtask bench --only qshape`.\n");
        return page;
    }

    page.push_str(
        "### Queues\n\n| queue | messages | files in the queues measured | force-expired \
         messages | their recipients | messages counted, ours / Postfix (`-s` TOTAL) | files \
         with a second floor read | MB read by the floor |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for result in results {
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {:.0} |",
            human(result["size"].as_u64().unwrap_or(0)),
            result["queue"]["messages"],
            result["selected_files"],
            result["forced_expired_messages"],
            result["forced_expired_recipients"],
            result["messages_counted"]["ours"]
                .as_u64()
                .map_or("–".into(), |n| n.to_string()),
            result["messages_counted"]["real"]
                .as_u64()
                .map_or("–".into(), |n| n.to_string()),
            result["floor"]["second_reads"],
            result["floor"]["bytes"].as_f64().unwrap_or(0.0) / 1e6,
        );
    }

    page.push_str(
        "\n### Results\n\n| queue | measurement | median s | min–max s | runs | peak RSS MB | \
         files/s |\n|---:|---|---:|---:|---:|---:|---:|\n",
    );
    for result in results {
        let files = result["selected_files"].as_f64().unwrap_or(f64::NAN);
        for timing in result["timings"].as_array().map_or(&[][..], Vec::as_slice) {
            let median = timing["median_s"].as_f64().unwrap_or(f64::NAN);
            let _ = writeln!(
                page,
                "| {} | {} | {:.3} | {:.3}–{:.3} | {} | {} | {:.0} |",
                human(result["size"].as_u64().unwrap_or(0)),
                timing["label"].as_str().unwrap_or("?"),
                median,
                timing["min_s"].as_f64().unwrap_or(f64::NAN),
                timing["max_s"].as_f64().unwrap_or(f64::NAN),
                timing["runs"],
                match (
                    timing["max_rss_kib"].as_f64(),
                    result["xtask_max_rss_kib"].as_f64()
                ) {
                    (None, _) => "–".to_string(),
                    (Some(kib), Some(own)) if kib <= own && result["rss_by_gnu_time"] != true => {
                        format!("≤ {:.1}", own / 1024.0)
                    }
                    (Some(kib), _) => format!("{:.1}", kib / 1024.0),
                },
                files / median,
            );
        }
    }

    let load = crate::bench::render_other_load(results);
    if !load.is_empty() {
        page.push('\n');
        page.push_str(&load);
    }

    let threads = results[0]["threads"].as_u64().unwrap_or(1) as usize;
    page.push_str("\n### Ratios\n\n");
    let _ = writeln!(
        page,
        "real/ours > 1 means ours is faster; ours/floor is how far ours is above the floor \
         (open + first 4 KB + extracted segment) with the same number of threads ({threads} = \
         all cores); real/floor is the most any qshape that reads the files could gain over \
         Postfix's here.\n"
    );
    page.push_str(
        "| queue | report | real/ours | ours/floor | ours/floor, 1 thread | ours/4 KB-only \
         floor | real/floor |\n|---:|---|---:|---:|---:|---:|---:|\n",
    );
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    };
    for result in results {
        let threads = result["threads"].as_u64().unwrap_or(1) as usize;
        let get = |label: &str| seconds_of(result, label);
        let floor_all = get(&floor_label(true, threads));
        for report in Report::ALL {
            let ours = get(&Tool::Ours.label(report));
            let real = get(&Tool::Real.label(report));
            let one_thread = match report {
                Report::Recipients => ratio(
                    get(&Tool::OursOneThread.label(report)),
                    get(&floor_label(true, 1)),
                ),
                Report::Senders => "–".to_string(),
            };
            let _ = writeln!(
                page,
                "| {} | `{}` | {} | {} | {one_thread} | {} | {} |",
                human(result["size"].as_u64().unwrap_or(0)),
                report.name(),
                ratio(real, ours),
                ratio(ours, floor_all),
                ratio(ours, get(&floor_label(false, threads))),
                ratio(real, floor_all),
            );
        }
    }

    if results
        .iter()
        .any(|result| result["syscalls_per_message"].is_array())
    {
        page.push_str(
            "\n### Where our time goes\n\nSystem calls per counted message in one run of our \
             `qshape` (all cores) under `strace -c -f`, the most frequent first. The floor \
             needs 1 `openat`, 1 or 2 reads and 1 `close` per file and nothing else.\n\n\
             | queue | system calls per message |\n|---:|---|\n",
        );
        push_syscall_rows(&mut page, results);
    }

    page.push_str("\n### Output check\n\n| queue | comparison | result |\n|---:|---|---|\n");
    push_check_rows(&mut page, results);

    page.push_str("\n### Verdict\n\n");
    let _ = writeln!(
        page,
        "Targets at 1M messages: ours at least {TARGET_SPEEDUP:.0}× faster than Postfix's \
         qshape, and within {TARGET_FLOOR_RATIO}× of the floor (open + first 4 KB + extracted \
         segment) on as many threads; judged at the largest size measured if 1M was not.\n"
    );
    let result = results
        .iter()
        .find(|result| result["size"].as_u64() == Some(1_000_000))
        .or_else(|| results.last());
    if let Some(result) = result {
        let size = result["size"].as_u64().unwrap_or(0);
        let threads = result["threads"].as_u64().unwrap_or(1) as usize;
        let floor = seconds_of(result, &floor_label(true, threads));
        let outputs_ok = result["checks"]
            .as_array()
            .is_none_or(|checks| checks.iter().all(|check| check["ok"] == true));
        for report in Report::ALL {
            let ours = seconds_of(result, &Tool::Ours.label(report));
            let real = seconds_of(result, &Tool::Real.label(report));
            let speed = match (real, ours) {
                (Some(real), Some(ours)) => format!(
                    "{}: {ours:.2} s vs Postfix {real:.2} s = {:.1}×",
                    if real / ours >= TARGET_SPEEDUP {
                        "**Met**"
                    } else {
                        "**Not met**"
                    },
                    real / ours
                ),
                _ => "Postfix's qshape was not measured".to_string(),
            };
            let near = match (ours, floor) {
                (Some(ours), Some(floor)) => format!(
                    "{}: {ours:.2} s vs floor {floor:.2} s = {:.2}×",
                    if ours / floor <= TARGET_FLOOR_RATIO {
                        "**Met**"
                    } else {
                        "**Not met**"
                    },
                    ours / floor
                ),
                _ => "no floor".to_string(),
            };
            let _ = writeln!(
                page,
                "- `{}` at {}: speed-up {speed}; floor {near}.",
                report.name(),
                human(size)
            );
        }
        if !outputs_ok {
            page.push_str("\n**The outputs did not match** (see the output check above).\n");
        }
        let real = seconds_of(result, &Tool::Real.label(Report::Recipients));
        let first_block = seconds_of(result, &floor_label(false, threads));
        if let (Some(real), Some(floor)) = (real, floor) {
            let _ = write!(
                page,
                "\nFor scale: on this machine merely opening every file of these queues and \
                 reading its envelope and its extracted segment takes {floor:.2} s on {threads} \
                 threads, so a qshape that reads what it must cannot be more than {:.1}× faster \
                 than Postfix's here",
                real / floor
            );
            match first_block {
                Some(first_block) => {
                    let _ = writeln!(
                        page,
                        "; without the second read (the first 4 KB only, {first_block:.2} s) it \
                         could be {:.1}×, but then it would not see the extracted segment, \
                         where `sendmail -t` recipients are and whose `X` record qshape checks.",
                        real / first_block
                    );
                }
                None => page.push_str(".\n"),
            }
        }
    }
    let commits: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|result| result["commit"].as_str())
        .collect();
    let _ = writeln!(
        page,
        "\nMeasured at commit {} (each size's numbers come from one run; sizes may come from \
         separate runs).",
        commits.into_iter().collect::<Vec<_>>().join(", ")
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as Postfix writes it: type, length in base 128 (low bits first), data.
    fn record(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        let mut length = data.len();
        loop {
            let byte = (length & 0x7f) as u8;
            length >>= 7;
            if length == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(data);
        out
    }

    /// A cleanup queue file with the given content, sender and recipients (`D` = done).
    fn queue_file(content: &[u8], sender: &str, recipients: &[(u8, &str)]) -> Vec<u8> {
        let mut envelope = Vec::new();
        envelope.extend(record(b'T', b"1795976460 0"));
        envelope.extend(record(b'S', sender.as_bytes()));
        for (kind, address) in recipients {
            envelope.extend(record(*kind, address.as_bytes()));
        }
        envelope.extend(record(b'M', b""));
        // The size record has a fixed width, so its length does not depend on the offset.
        let size = |offset: usize| {
            record(
                b'C',
                format!("{:>15} {:>15} {:>15} {:>15}", content.len(), offset, 1, 0).as_bytes(),
            )
        };
        let offset = size(0).len() + envelope.len();
        let mut file = size(offset);
        file.extend(envelope);
        file.extend_from_slice(content);
        file.extend(record(b'X', b""));
        file.extend(record(b'E', b""));
        file
    }

    #[test]
    fn envelope_follows_qshape() {
        let content = record(b'N', b"R fake@recipient.example looks like a record");
        let file = queue_file(
            &content,
            "",
            &[
                (b'R', "a@Gmail.Example"),
                (b'D', "done@x.example"),
                (b'R', "b@y.example"),
            ],
        );
        let (sender, recipients) = qshape_envelope(&file).expect("counted");
        assert!(sender.is_empty());
        assert_eq!(
            recipients,
            vec![b"a@Gmail.Example".to_vec(), b"b@y.example".to_vec()]
        );
        assert_eq!(floor::content_end(&file), Some((file.len() - 4) as u64));
        let mut share = ForcedShare::default();
        share.add(&sender, &recipients);
        assert_eq!(share.by_recipient["gmail.example"], 1);
        assert_eq!(share.by_recipient["TOTAL"], 2);
        assert_eq!(share.by_sender["MAILER-DAEMON"], 1);
        // No pending recipient: not counted. Truncated: not counted.
        assert_eq!(
            qshape_envelope(&queue_file(b"", "s@a.example", &[(b'D', "d@b.example")])),
            None
        );
        assert_eq!(qshape_envelope(&file[..file.len() - 2]), None);
    }

    #[test]
    fn reports_compare_by_row_totals() -> Result<()> {
        let real = parse_report(
            "                T  5 10\n      TOTAL 7  0  7\n  a.example 4  0  4\n  b.example 3  0  3\n",
        )?;
        let ours = parse_report(
            "                T  5 10\n      TOTAL 9  1  8\n  a.example 4  0  4\n  b.example 4  0  4\n  c.example 1  1  0\n",
        )?;
        let share: BTreeMap<String, u64> = [("TOTAL", 2), ("b.example", 1), ("c.example", 1)]
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect();
        let (ok, verdict) = compare_reports(&ours, &real, &share, "Postfix");
        assert!(ok, "{verdict}");
        assert!(verdict.contains("TOTAL 9 vs 7 (+2"), "{verdict}");
        let (ok, verdict) = compare_reports(&ours, &real, &BTreeMap::new(), "Postfix");
        assert!(!ok);
        assert!(
            verdict.contains("c.example: ours 1, Postfix 0"),
            "{verdict}"
        );
        Ok(())
    }

    /// Long names are shortened as qshape prints them; the share follows.
    #[test]
    fn long_names_compare_as_printed() -> Result<()> {
        assert_eq!(printed_name("lists.example.org", 11), "+xample.org");
        assert_eq!(printed_name(".lists.example.org", 11), ".+ample.org");
        assert_eq!(printed_name("a.example", 11), "a.example");
        let real = parse_report("       T  5\n      TOTAL 3  3\n+xample.org 3  3\n")?;
        let ours = parse_report("       T  5\n      TOTAL 4  4\n+xample.org 4  4\n")?;
        assert_eq!(ours.name_width, 11);
        let share: BTreeMap<String, u64> = [("TOTAL", 1), ("lists.example.org", 1)]
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect();
        let (ok, verdict) = compare_reports(&ours, &real, &share, "Postfix");
        assert!(ok, "{verdict}");
        Ok(())
    }

    /// The floor and the force-expired scan on a small generated queue.
    #[test]
    fn floor_and_scan_on_a_generated_queue() -> Result<()> {
        let root = std::env::temp_dir().join(format!("xtask-qshape-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let mut options = crate::gen::GenOptions::new(3000, root.clone());
        options.quiet = true;
        options.owner = None;
        let summary = crate::gen::generate(&options)?;
        let spool = root.join("spool");
        let selection = scan_selection(&spool)?;
        // Every queue but maildrop (per_queue is in showq order: maildrop first).
        assert_eq!(selection.files(), summary.messages() - summary.per_queue[0]);
        assert!(summary.forced_expired > 0);
        assert_eq!(selection.forced.messages, summary.forced_expired);
        assert!(selection.forced.recipients >= selection.forced.messages);
        let with = floor::read_envelopes(&spool, &QUEUES, 2, true)?;
        let without = floor::read_envelopes(&spool, &QUEUES, 1, false)?;
        assert_eq!(with.files, selection.files());
        assert_eq!(without.files, selection.files());
        assert_eq!(without.second_reads, 0);
        // Content is 2-20 KB: most files need the second read, the smallest do not.
        assert!(with.second_reads > with.files / 2, "{with:?}");
        assert!(with.second_reads < with.files, "{with:?}");
        fs::remove_dir_all(&root)?;
        Ok(())
    }

    #[test]
    fn section_has_ratios_and_verdict() {
        let timing = |label: &str, median: f64| {
            json!({"label": label, "median_s": median, "min_s": median, "max_s": median,
                   "runs": 3, "max_rss_kib": 4000})
        };
        let result = json!({
            "size": 1_000_000, "threads": 2, "commit": "abc1234",
            "queue": {"messages": 1_000_000},
            "selected_files": 980_000, "forced_expired_messages": 4609,
            "forced_expired_recipients": 7000,
            "messages_counted": {"ours": 975_000, "real": 970_391},
            "floor": {"files": 980_000, "bytes": 8e9, "second_reads": 900_000},
            "timings": [
                timing("ours qshape", 3.0),
                timing("Postfix qshape", 36.0),
                timing("ours qshape -s", 3.0),
                timing("Postfix qshape -s", 24.0),
                timing("floor: open + first 4 KB + extracted segment, 2 thread(s)", 2.5),
            ],
            "checks": [{"what": "qshape: ours vs Postfix", "ok": true, "verdict": "match"}],
            "other_load": {"other_processes_cores": 0.013, "kernel_threads_cores": 0.002,
                           "steal_cores": 0.0},
        });
        let page = render_section(&[result]);
        assert!(
            page.contains("| 1M | `qshape` | 12.00× | 1.20× |"),
            "{page}"
        );
        assert!(page.contains("`qshape` at 1M: speed-up **Met**"), "{page}");
        assert!(
            page.contains(
                "`qshape -s` at 1M: speed-up **Not met**: 3.00 s vs Postfix 24.00 s = 8.0×"
            ),
            "{page}"
        );
        assert!(!page.contains("did not match"), "{page}");
        assert!(
            page.contains("1M: 0.01 cores (kernel threads 0.00, steal 0.00)."),
            "{page}"
        );
    }
}
