//! `cargo xtask bench`, postsuper part: times `postsuper -d ALL`, `-h ALL`, `-H ALL` and
//! `-r ALL` — ours, the real Postfix one and an unlink/rename floor — on a scratch copy of each
//! generated queue, and checks after every run that the summary line's count and the queue left
//! behind are what Postfix's postsuper produces.
//!
//! Method (perf-anchors.md, "postsuper and the mutation floors"): every timed run starts from
//! the same queue, synced to disk (syncfs before the run, not timed; syncfs after it, timed
//! separately). The scratch spool is a real copy, never a `cp -al` hard-link copy: a hard link
//! has nlink 2 (mail_open_ok warns about that for by-ID lookups), and unlinking one of two
//! links frees no blocks, so `-d ALL` would be timed on less work than a real queue needs.
//! Copying is slow (minutes at 1M), so one copy serves all the rename runs: `-h ALL`, `-H ALL`
//! and `-r ALL` run as a chain, each on what the one before left (as perf-anchors did), and an
//! untimed pass of renames then moves every file back where it was. `-d ALL` consumes its copy,
//! so each delete run gets a fresh one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, FileTimes, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use postfix_queue::queue_id::is_valid_queue_id;
use serde_json::{json, Value};

use crate::floor::{self, DELETE_ALL_QUEUES};
use crate::process::run_measured;

pub const REAL_POSTSUPER: &str = "/usr/sbin/postsuper";
/// Next to the postqueue part's results.json, so that either part can be rerun alone.
pub const RESULTS_FILE: &str = "postsuper-results.json";
const SCRATCH: &str = "postsuper-scratch";
/// The issue's target: ours within this factor of the floor.
const TARGET_FLOOR_RATIO: f64 = 1.1;
const MESSAGE_QUEUES: [&str; 5] = ["maildrop", "incoming", "active", "deferred", "hold"];
/// Top-level spool directories the scratch copy leaves out: the master's pid file and sockets.
const NOT_COPIED: [&str; 3] = ["pid", "public", "private"];
/// Room to leave on the filesystem beyond the scratch copy itself.
const SPARE_BYTES: u64 = 4 << 30;

/// One of the mass operations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Delete,
    Hold,
    Release,
    Requeue,
}

impl Op {
    /// In the order they run: the rename chain, then the deletes (which consume copies).
    pub const ALL: [Op; 4] = [Op::Hold, Op::Release, Op::Requeue, Op::Delete];

    pub fn parse(text: &str) -> Result<Op> {
        Ok(match text.trim().trim_start_matches('-') {
            "d" => Op::Delete,
            "h" => Op::Hold,
            "H" => Op::Release,
            "r" => Op::Requeue,
            other => bail!("not a postsuper operation: {other:?} (use d, h, H or r)"),
        })
    }

    fn flag(self) -> &'static str {
        match self {
            Op::Delete => "-d",
            Op::Hold => "-h",
            Op::Release => "-H",
            Op::Requeue => "-r",
        }
    }

    fn name(self) -> String {
        format!("{} ALL", self.flag())
    }

    /// The summary line's text before the count.
    fn summary(self) -> &'static str {
        match self {
            Op::Delete => "Deleted",
            Op::Hold => "Placed on hold",
            Op::Release => "Released from hold",
            Op::Requeue => "Requeued",
        }
    }

    fn floor_description(self) -> &'static str {
        match self {
            Op::Delete => "unlinkat every file",
            Op::Hold => "renameat into hold/",
            Op::Release => "renameat into deferred/<hash>/",
            Op::Requeue => "renameat into maildrop/",
        }
    }

    /// The queue state the operation is timed on.
    fn before(self) -> Stage {
        match self {
            Op::Delete | Op::Hold => Stage::Original,
            Op::Release => Stage::Held,
            Op::Requeue => Stage::Released,
        }
    }

    fn after(self) -> Stage {
        match self {
            Op::Delete => Stage::Deleted,
            Op::Hold => Stage::Held,
            Op::Release => Stage::Released,
            Op::Requeue => Stage::Requeued,
        }
    }

    /// What the floor does for this operation, on `threads` threads; returns the files it
    /// unlinked or renamed.
    fn floor(self, spool: &Path, threads: usize) -> Result<u64> {
        match self {
            Op::Delete => floor::unlink_all(spool, DELETE_ALL_QUEUES, threads),
            Op::Hold => floor::rename_all(
                spool,
                &["incoming", "active", "deferred"],
                "hold",
                false,
                threads,
            ),
            Op::Release => floor::rename_all(spool, &["hold"], "deferred", true, threads),
            Op::Requeue => floor::rename_all(
                spool,
                &["incoming", "active", "deferred", "hold"],
                "maildrop",
                false,
                threads,
            ),
        }
    }
}

/// Where the scratch queue is in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Original,
    Held,
    Released,
    Requeued,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Real,
    Ours,
    Floor(usize),
}

impl Tool {
    fn label(self, op: Op) -> String {
        match self {
            Tool::Real => format!("Postfix postsuper {}", op.name()),
            Tool::Ours => format!("ours postsuper {}", op.name()),
            Tool::Floor(threads) => {
                format!("floor: {}, {threads} thread(s)", op.floor_description())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct PostsuperOptions {
    pub ops: Vec<Op>,
    pub runs: usize,
    /// Timed `-d ALL` runs per tool; None: `runs`, but 1 from 1M messages on (each needs a
    /// fresh copy, minutes each at that size).
    pub delete_runs: Option<usize>,
    /// Whether the real postsuper is measured (installed, and we are root).
    pub real: bool,
}

/// Facts about one queue of the original, counted by the scan.
#[derive(Debug, Default, Clone, Copy)]
struct QueueFacts {
    /// Every file that is not a directory.
    files: u64,
    /// Regular files whose name is a queue ID (the ones postsuper's mass renames move).
    valid: u64,
    /// Regular files whose owner bits are rwx: the messages `-d ALL` counts.
    ready: u64,
}

/// The generated queue as it was copied: its files per directory, and what each operation must
/// report and leave behind. Deliberately no per-file table: xtask's own memory must stay small,
/// because a child started with vfork (as std's Command does) inherits its parent's RSS high
/// water mark into its own ru_maxrss, which would then no longer be the tool's.
#[derive(Debug)]
struct Original {
    queues: BTreeMap<String, QueueFacts>,
    per_directory: BTreeMap<PathBuf, u64>,
    bytes: u64,
}

impl Original {
    fn scan(spool: &Path) -> Result<Self> {
        let mut original = Original {
            queues: BTreeMap::new(),
            per_directory: BTreeMap::new(),
            bytes: 0,
        };
        for queue in copied_queues(spool)? {
            let mut facts = QueueFacts::default();
            let is_message_queue = MESSAGE_QUEUES.contains(&queue.as_str());
            let mut pending = vec![PathBuf::from(&queue)];
            while let Some(relative) = pending.pop() {
                let mut files = 0;
                for entry in fs::read_dir(spool.join(&relative))? {
                    let entry = entry?;
                    // lstat: the scan needs modes and sizes; it runs once, untimed.
                    let metadata = entry.metadata()?;
                    if metadata.is_dir() {
                        pending.push(relative.join(entry.file_name()));
                        continue;
                    }
                    files += 1;
                    original.bytes += metadata.blocks() * 512;
                    if !is_message_queue || !metadata.is_file() {
                        continue;
                    }
                    if is_valid_queue_id(entry.file_name().as_bytes()) {
                        facts.valid += 1;
                    }
                    if metadata.mode() & 0o700 == 0o700 {
                        facts.ready += 1;
                    }
                }
                facts.files += files;
                original.per_directory.insert(relative, files);
            }
            original.queues.insert(queue, facts);
        }
        Ok(original)
    }

    fn facts(&self, queue: &str) -> QueueFacts {
        self.queues.get(queue).copied().unwrap_or_default()
    }

    fn files(&self) -> u64 {
        self.queues.values().map(|facts| facts.files).sum()
    }

    /// Valid-named files `-h ALL` moves (incoming, active, deferred) into hold.
    fn held(&self) -> u64 {
        ["incoming", "active", "deferred"]
            .iter()
            .map(|queue| self.facts(queue).valid)
            .sum()
    }

    /// What the summary line must say.
    fn expected_count(&self, op: Op) -> u64 {
        match op {
            Op::Delete => MESSAGE_QUEUES
                .iter()
                .map(|queue| self.facts(queue).ready)
                .sum(),
            Op::Hold => self.held(),
            Op::Release | Op::Requeue => self.held() + self.facts("hold").valid,
        }
    }

    /// What the floor must have unlinked or renamed.
    fn expected_floor_count(&self, op: Op) -> u64 {
        match op {
            Op::Delete => DELETE_ALL_QUEUES
                .iter()
                .map(|queue| self.facts(queue).files)
                .sum(),
            _ => self.expected_count(op),
        }
    }

    /// Files per queue at `stage`. Files with names that are not queue IDs stay where they are
    /// (postsuper warns "bogus file name" and skips them).
    fn expected_queues(&self, stage: Stage) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<String, u64> = self
            .queues
            .iter()
            .map(|(queue, facts)| (queue.clone(), facts.files))
            .collect();
        let invalid = |queue: &str| self.facts(queue).files - self.facts(queue).valid;
        let mut set = |queue: &str, value: u64| {
            if value > 0 || counts.contains_key(queue) {
                counts.insert(queue.to_string(), value);
            }
        };
        let hold = self.facts("hold");
        match stage {
            Stage::Original => {}
            Stage::Held => {
                for queue in ["incoming", "active", "deferred"] {
                    set(queue, invalid(queue));
                }
                set("hold", hold.files + self.held());
            }
            Stage::Released => {
                for queue in ["incoming", "active"] {
                    set(queue, invalid(queue));
                }
                set("hold", invalid("hold"));
                set("deferred", invalid("deferred") + hold.valid + self.held());
            }
            Stage::Requeued => {
                for queue in ["incoming", "active", "deferred", "hold"] {
                    set(queue, invalid(queue));
                }
                set(
                    "maildrop",
                    self.facts("maildrop").files + hold.valid + self.held(),
                );
            }
            Stage::Deleted => {
                for queue in DELETE_ALL_QUEUES {
                    set(queue, 0);
                }
            }
        }
        counts
    }
}

/// The top-level directories of `spool` that the copy takes: every queue and log directory.
fn copied_queues(spool: &Path) -> Result<Vec<String>> {
    let mut queues = Vec::new();
    for entry in fs::read_dir(spool).with_context(|| format!("list {}", spool.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() && !NOT_COPIED.contains(&name.as_str()) {
            queues.push(name);
        }
    }
    queues.sort();
    Ok(queues)
}

/// Files (anything but directories) per directory and per queue, by readdir's d_type only.
#[derive(Debug, Default)]
struct Census {
    per_queue: BTreeMap<String, u64>,
    per_directory: BTreeMap<PathBuf, u64>,
}

fn census(spool: &Path) -> Result<Census> {
    let mut census = Census::default();
    for queue in copied_queues(spool)? {
        let mut total = 0;
        let mut pending = vec![PathBuf::from(&queue)];
        while let Some(relative) = pending.pop() {
            let mut files = 0;
            for entry in fs::read_dir(spool.join(&relative))? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    pending.push(relative.join(entry.file_name()));
                } else {
                    files += 1;
                }
            }
            total += files;
            census.per_directory.insert(relative, files);
        }
        census.per_queue.insert(queue, total);
    }
    Ok(census)
}

/// "hold 0 (want 3026), deferred 97945 (want 90029)" for the queues that differ.
fn describe_difference(have: &BTreeMap<String, u64>, want: &BTreeMap<String, u64>) -> String {
    let mut queues: Vec<&String> = have.keys().chain(want.keys()).collect();
    queues.sort();
    queues.dedup();
    queues
        .into_iter()
        .filter_map(|queue| {
            let (h, w) = (
                have.get(queue).copied().unwrap_or(0),
                want.get(queue).copied().unwrap_or(0),
            );
            (h != w).then(|| format!("{queue} {h} (want {w})"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The scratch queue the operations run on, with its own main.cf.
struct Scratch {
    source: PathBuf,
    root: PathBuf,
    spool: PathBuf,
    etc: PathBuf,
    stderr: PathBuf,
    threads: usize,
    /// None: unknown (after a failed or wrong run) or no copy yet.
    stage: Option<Stage>,
    copy_seconds: Vec<f64>,
}

impl Scratch {
    fn new(directory: &Path, source: &Path, long_ids: bool, threads: usize) -> Result<Self> {
        let root = directory.join(SCRATCH);
        fs::create_dir_all(&root)?;
        let root = fs::canonicalize(&root)?;
        let spool = root.join("spool");
        let etc = root.join("etc");
        fs::create_dir_all(&etc)?;
        let main_cf = etc.join("main.cf");
        fs::write(
            &main_cf,
            format!(
                "# Written by `cargo xtask bench`: postsuper on a scratch copy of the benchmark \
                 queue.\n\
                 # No Postfix master runs on it. The files belong to postfix, the default \
                 mail_owner.\n\
                 queue_directory = {}\n\
                 compatibility_level = 3.6\n\
                 enable_long_queue_ids = {}\n",
                spool.display(),
                if long_ids { "yes" } else { "no" },
            ),
        )?;
        crate::gen::backdate(&[&main_cf, &etc])?;
        Ok(Self {
            source: source.to_path_buf(),
            stderr: root.join("stderr.txt"),
            root,
            spool,
            etc,
            threads,
            stage: None,
            copy_seconds: Vec::new(),
        })
    }

    /// A new copy of the original queue, synced to disk.
    fn fresh_copy(&mut self, original: &Original) -> Result<()> {
        self.stage = None;
        if self.spool.exists() {
            self.remove_spool()?;
        }
        let started = Instant::now();
        copy_spool(&self.source, &self.spool, self.threads)?;
        let copied = started.elapsed();
        let synced = syncfs(&self.root)?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "bench: copied {} files ({:.0} MB) to {} in {:.1} s (+ syncfs {:.1} s)",
            original.files(),
            original.bytes as f64 / 1e6,
            self.spool.display(),
            copied.as_secs_f64(),
            synced.as_secs_f64()
        );
        self.copy_seconds.push(seconds);
        let census = census(&self.spool)?;
        if census.per_directory != original.per_directory {
            bail!(
                "the copy in {} differs from {}: {}",
                self.spool.display(),
                self.source.display(),
                describe_difference(
                    &census.per_queue,
                    &original.expected_queues(Stage::Original)
                )
            );
        }
        self.stage = Some(Stage::Original);
        Ok(())
    }

    /// Back to the original queue: renames every message file back home (untimed), or copies
    /// again when that cannot be done (after `-d`, or a run that lost or misplaced files).
    fn restore(&mut self, original: &Original) -> Result<()> {
        if !self.spool.exists() {
            return self.fresh_copy(original);
        }
        // After a failed or wrong run: where the files are, if the counts tell.
        let stage = match self.stage {
            Some(stage) => Some(stage),
            None => {
                let census = census(&self.spool)?;
                [
                    Stage::Original,
                    Stage::Held,
                    Stage::Released,
                    Stage::Requeued,
                ]
                .into_iter()
                .find(|&stage| census.per_queue == original.expected_queues(stage))
            }
        };
        match stage {
            Some(Stage::Original) if self.stage.is_some() => return Ok(()),
            None | Some(Stage::Deleted) => return self.fresh_copy(original),
            Some(_) => {}
        }
        let started = Instant::now();
        let all_found =
            match stage.map(|stage| move_home(&self.source, &self.spool, stage, self.threads)) {
                Some(Ok(all_found)) => all_found,
                Some(Err(error)) => {
                    println!("bench: moving the files back failed: {error:#}");
                    false
                }
                None => false,
            };
        let census = census(&self.spool)?;
        if all_found && census.per_directory == original.per_directory {
            println!(
                "bench: moved the files back home in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            self.stage = Some(Stage::Original);
            return Ok(());
        }
        println!(
            "bench: the scratch queue no longer matches the original ({}); copying it again",
            describe_difference(
                &census.per_queue,
                &original.expected_queues(Stage::Original)
            )
        );
        self.fresh_copy(original)
    }

    /// Brings the scratch queue to `stage` (untimed): restore, then the floor's renames.
    fn prepare(&mut self, original: &Original, stage: Stage) -> Result<()> {
        if self.stage == Some(stage) {
            return Ok(());
        }
        self.restore(original)?;
        let steps: &[Op] = match stage {
            Stage::Original => &[],
            Stage::Held => &[Op::Hold],
            Stage::Released => &[Op::Hold, Op::Release],
            Stage::Requeued => &[Op::Hold, Op::Release, Op::Requeue],
            Stage::Deleted => &[Op::Delete],
        };
        for &op in steps {
            self.stage = None;
            op.floor(&self.spool, self.threads)?;
            let census = census(&self.spool)?;
            let want = original.expected_queues(op.after());
            if census.per_queue != want {
                bail!(
                    "preparing {stage:?}: the floor's {} left {}",
                    op.name(),
                    describe_difference(&census.per_queue, &want)
                );
            }
            self.stage = Some(op.after());
        }
        Ok(())
    }

    fn remove_spool(&mut self) -> Result<()> {
        self.stage = None;
        // Unlinking on all cores first: remove_dir_all alone takes minutes at 1M files.
        let queues = copied_queues(&self.spool)?;
        let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
        floor::unlink_all(&self.spool, &queues, self.threads)?;
        fs::remove_dir_all(&self.spool).with_context(|| format!("remove {}", self.spool.display()))
    }

    fn remove(mut self) -> Result<()> {
        if self.spool.exists() {
            self.remove_spool()?;
        }
        fs::remove_dir_all(&self.root).with_context(|| format!("remove {}", self.root.display()))
    }
}

/// Copies the queue directories of `source` to `target` (created; it must not exist): every
/// directory and file written anew with the original's owner, mode and times, on `threads`
/// threads. Files are copied with std::io::copy, which uses copy_file_range(2).
fn copy_spool(source: &Path, target: &Path, threads: usize) -> Result<()> {
    let copy_attributes = |from: &fs::Metadata, to: &Path| -> Result<()> {
        std::os::unix::fs::chown(to, Some(from.uid()), Some(from.gid()))?;
        fs::set_permissions(to, fs::Permissions::from_mode(from.mode() & 0o7777))?;
        Ok(())
    };
    fs::create_dir(target).with_context(|| format!("create {}", target.display()))?;
    copy_attributes(&fs::metadata(source)?, target)?;
    let mut directories = Vec::new();
    for queue in copied_queues(source)? {
        let mut pending = vec![source.join(queue)];
        while let Some(directory) = pending.pop() {
            let relative = directory.strip_prefix(source)?;
            let copy = target.join(relative);
            fs::create_dir(&copy).with_context(|| format!("create {}", copy.display()))?;
            copy_attributes(&fs::symlink_metadata(&directory)?, &copy)?;
            for entry in fs::read_dir(&directory)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    pending.push(entry.path());
                }
            }
            directories.push(directory);
        }
    }
    floor::on_threads(&directories, threads, |directories| {
        for directory in directories {
            let copy = target.join(directory.strip_prefix(source)?);
            for entry in fs::read_dir(directory)? {
                let entry = entry?;
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    continue;
                }
                if !kind.is_file() {
                    bail!("{}: not a regular file", entry.path().display());
                }
                copy_file(&entry.path(), &copy.join(entry.file_name()))
                    .with_context(|| format!("copy {}", entry.path().display()))?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    let mut input = File::open(from)?;
    let metadata = input.metadata()?;
    let mut output = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    io::copy(&mut input, &mut output)?;
    std::os::unix::fs::fchown(&output, Some(metadata.uid()), Some(metadata.gid()))?;
    output.set_permissions(fs::Permissions::from_mode(metadata.mode() & 0o7777))?;
    output.set_times(
        FileTimes::new()
            .set_accessed(metadata.accessed()?)
            .set_modified(metadata.modified()?),
    )?;
    Ok(())
}

/// Where a message file that was copied into `home` (e.g. `deferred/A`) is at `stage`,
/// relative to the spool. Names that are not queue IDs never move.
fn location(stage: Stage, home: &Path, name: &[u8]) -> PathBuf {
    let queue = home.components().next().map_or_else(String::new, |c| {
        c.as_os_str().to_string_lossy().into_owned()
    });
    let moved_by = |queues: &[&str]| queues.contains(&queue.as_str()) && is_valid_queue_id(name);
    let file = std::ffi::OsStr::from_bytes(name);
    match stage {
        Stage::Held if moved_by(&["incoming", "active", "deferred"]) => {
            Path::new("hold").join(file)
        }
        Stage::Released if moved_by(&["incoming", "active", "deferred", "hold"]) => {
            let key = postfix_queue::queue_id::hash_key(name);
            let subdirectory = std::ffi::OsStr::from_bytes(&key[..1]);
            Path::new("deferred").join(subdirectory).join(file)
        }
        Stage::Requeued if moved_by(&["incoming", "active", "deferred", "hold"]) => {
            Path::new("maildrop").join(file)
        }
        _ => home.join(file),
    }
}

/// Renames every message file from where it is at `stage` back to the directory it was copied
/// into, as listed in the `source` spool (read only). Returns false when a file was not where
/// it should be.
fn move_home(source: &Path, spool: &Path, stage: Stage, threads: usize) -> Result<bool> {
    let mut homes = Vec::new();
    for queue in MESSAGE_QUEUES {
        let top = source.join(queue);
        if top.is_dir() {
            let mut pending = vec![top];
            while let Some(directory) = pending.pop() {
                for entry in fs::read_dir(&directory)? {
                    let entry = entry?;
                    if entry.file_type()?.is_dir() {
                        pending.push(entry.path());
                    }
                }
                homes.push(directory);
            }
        }
    }
    let found = floor::on_threads(&homes, threads, |homes| {
        let mut all_found = true;
        for home in homes {
            let relative = home.strip_prefix(source)?;
            let target = spool.join(relative);
            for entry in fs::read_dir(home)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    continue;
                }
                let name = entry.file_name();
                let now = location(stage, relative, name.as_bytes());
                if now == relative.join(&name) {
                    continue;
                }
                if let Err(error) = fs::rename(spool.join(&now), target.join(&name)) {
                    if error.kind() != io::ErrorKind::NotFound {
                        return Err(error).with_context(|| format!("move {} back", now.display()));
                    }
                    all_found = false;
                }
            }
        }
        Ok(all_found)
    })?;
    Ok(found.into_iter().all(|all_found| all_found))
}

fn syncfs(path: &Path) -> Result<Duration> {
    let handle = File::open(path)?;
    let started = Instant::now();
    // SAFETY: syncfs only reads the fd, which is open for the call.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error()).context("syncfs");
    }
    Ok(started.elapsed())
}

/// The count in `<program>: <summary>: N message(s)`, if the line is there.
fn summary_count(stderr: &str, summary: &str) -> Option<u64> {
    stderr.lines().find_map(|line| {
        let (_, rest) = line.split_once(": ")?;
        let count = rest.strip_prefix(summary)?.strip_prefix(": ")?;
        let (number, unit) = count.split_once(' ')?;
        unit.starts_with("message").then_some(())?;
        number.parse().ok()
    })
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    sync_after: Duration,
    max_rss_kib: Option<i64>,
    count: u64,
}

#[derive(Debug, Clone)]
struct Measurement {
    op: Op,
    tool: Tool,
    expected: u64,
    samples: Vec<Sample>,
    /// Why the tool failed, or what it got wrong; no more runs after that.
    failure: Option<String>,
}

impl Measurement {
    fn to_json(&self) -> Value {
        let walls: Vec<f64> = self.samples.iter().map(|s| s.wall.as_secs_f64()).collect();
        let syncs: Vec<Duration> = self.samples.iter().map(|s| s.sync_after).collect();
        let (tool, threads) = match self.tool {
            Tool::Real => ("real", None),
            Tool::Ours => ("ours", None),
            Tool::Floor(threads) => ("floor", Some(threads)),
        };
        json!({
            "op": self.op.name(),
            "tool": tool,
            "threads": threads,
            "label": self.tool.label(self.op),
            "walls_s": walls,
            "median_s": (!walls.is_empty()).then(|| crate::bench::median_of(&walls)),
            "min_s": walls.iter().copied().reduce(f64::min),
            "max_s": walls.iter().copied().reduce(f64::max),
            "runs": walls.len(),
            "max_rss_kib": self.samples.iter().filter_map(|s| s.max_rss_kib).max(),
            "sync_after_median_s": (!syncs.is_empty()).then(|| crate::bench::median(&syncs)),
            "counts": self.samples.iter().map(|s| s.count).collect::<Vec<_>>(),
            "expected": self.expected,
            "failure": self.failure,
        })
    }
}

/// Runs the postsuper benchmark on the queue in `directory` (generated and owned by postfix
/// already) and returns its results.
pub fn bench_size(
    size: u64,
    directory: &Path,
    ours: &Path,
    options: &PostsuperOptions,
    threads: usize,
) -> Result<Value> {
    let spool = directory.join("spool");
    let long_ids = fs::read_to_string(directory.join("etc/main.cf"))
        .unwrap_or_default()
        .contains("enable_long_queue_ids = yes");
    let started = Instant::now();
    let original = Original::scan(&spool)?;
    println!(
        "bench: {size} postsuper: scanned the queue ({} files, {:.0} MB) in {:.1} s",
        original.files(),
        original.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let stale = directory.join(SCRATCH);
    if stale.exists() {
        println!("bench: removing {} left by an earlier run", stale.display());
        let mut scratch = Scratch::new(directory, &spool, long_ids, threads)?;
        scratch.stage = None;
        scratch.remove()?;
    }
    check_free_space(directory, original.bytes)?;
    let mut scratch = Scratch::new(directory, &spool, long_ids, threads)?;
    let outcome = run_all(size, &mut scratch, &original, ours, options, threads);
    // The scratch copy goes even when a run failed: it is as big as the cached queue.
    let copy_seconds = scratch.copy_seconds.clone();
    let removed = scratch.remove();
    let measurements = outcome?;
    removed?;

    let expected: serde_json::Map<String, Value> = Op::ALL
        .iter()
        .map(|&op| (op.name(), json!(original.expected_count(op))))
        .collect();
    let incomplete: u64 = MESSAGE_QUEUES
        .iter()
        .map(|queue| original.facts(queue).files - original.facts(queue).ready)
        .sum();
    Ok(json!({
        "size": size,
        "threads": threads,
        "runs": options.runs,
        "delete_runs": delete_runs(options, size),
        "scratch_files": original.files(),
        "scratch_bytes": original.bytes,
        "copies_s": copy_seconds,
        "expected": expected,
        "incomplete": incomplete,
        "measurements": measurements.iter().map(Measurement::to_json).collect::<Vec<_>>(),
        "measured_at": crate::gen::unix_now(),
    }))
}

/// Marks the result and each of its measurements with the commit measured.
pub fn stamp(result: &mut Value, commit: &str) {
    result["commit"] = json!(commit);
    if let Some(measurements) = result["measurements"].as_array_mut() {
        for measurement in measurements {
            measurement["commit"] = json!(commit);
        }
    }
}

/// Carries over from `previous` (the last results for the same size) the measurements of the
/// operations this run did not measure, so that `--postsuper-ops` reruns part of the table.
pub fn keep_other_operations(result: &mut Value, previous: Option<&Value>) {
    let Some(old) = previous.and_then(|previous| previous["measurements"].as_array()) else {
        return;
    };
    let old_commit = previous.map_or(Value::Null, |previous| previous["commit"].clone());
    let Some(measurements) = result["measurements"].as_array_mut() else {
        return;
    };
    let measured: Vec<Value> = measurements.iter().map(|m| m["op"].clone()).collect();
    for measurement in old {
        if measured.contains(&measurement["op"]) {
            continue;
        }
        let mut kept = measurement.clone();
        if kept["commit"].is_null() {
            kept["commit"] = old_commit.clone();
        }
        measurements.push(kept);
    }
    // In the order the page lists them.
    measurements.sort_by_key(|m| {
        Op::ALL
            .iter()
            .position(|op| m["op"].as_str() == Some(op.name().as_str()))
            .unwrap_or(Op::ALL.len())
    });
}

fn delete_runs(options: &PostsuperOptions, size: u64) -> usize {
    options
        .delete_runs
        .unwrap_or(if size >= 1_000_000 { 1 } else { options.runs })
}

fn check_free_space(directory: &Path, needed: u64) -> Result<()> {
    let path = std::ffi::CString::new(directory.as_os_str().as_bytes())?;
    // SAFETY: statvfs is plain old data; zeroed is valid and statvfs overwrites it.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated and stats points to a live local.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(io::Error::last_os_error()).context("statvfs");
    }
    let free = stats.f_bavail as u64 * stats.f_frsize as u64;
    if free < needed + SPARE_BYTES {
        bail!(
            "the postsuper benchmark needs a {:.1} GB scratch copy of the queue plus {:.0} GB \
             to spare, but only {:.1} GB is free on the filesystem of {}",
            needed as f64 / 1e9,
            SPARE_BYTES as f64 / 1e9,
            free as f64 / 1e9,
            directory.display()
        );
    }
    Ok(())
}

fn run_all(
    size: u64,
    scratch: &mut Scratch,
    original: &Original,
    ours: &Path,
    options: &PostsuperOptions,
    threads: usize,
) -> Result<Vec<Measurement>> {
    let mut tools = Vec::new();
    if options.real {
        tools.push(Tool::Real);
    }
    tools.push(Tool::Ours);
    tools.push(Tool::Floor(1));
    if threads > 1 {
        tools.push(Tool::Floor(threads));
    }
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|op| options.ops.contains(op))
        .collect();
    let mut measurements: Vec<Measurement> = ops
        .iter()
        .flat_map(|&op| {
            tools.iter().map(move |&tool| Measurement {
                op,
                tool,
                expected: match tool {
                    Tool::Floor(_) => original.expected_floor_count(op),
                    _ => original.expected_count(op),
                },
                samples: Vec::new(),
                failure: None,
            })
        })
        .collect();

    let renames: Vec<Op> = ops.iter().copied().filter(|&op| op != Op::Delete).collect();
    if !renames.is_empty() {
        // Untimed warm-up: the first renames into hold/ and maildrop/ grow those directories
        // (perf-anchors.md "Directory growth costs"); every timed run then sees them grown.
        scratch.prepare(original, Stage::Requeued)?;
        for round in 0..options.runs {
            for &tool in &tools {
                for &op in &renames {
                    let index = measurement_index(&measurements, op, tool);
                    if measurements[index].failure.is_some() {
                        continue;
                    }
                    scratch.prepare(original, op.before())?;
                    step(
                        size,
                        scratch,
                        original,
                        ours,
                        &mut measurements[index],
                        round,
                    )?;
                }
            }
        }
    }
    if ops.contains(&Op::Delete) {
        for round in 0..delete_runs(options, size) {
            for &tool in &tools {
                let index = measurement_index(&measurements, Op::Delete, tool);
                if measurements[index].failure.is_some() {
                    continue;
                }
                scratch.prepare(original, Stage::Original)?;
                step(
                    size,
                    scratch,
                    original,
                    ours,
                    &mut measurements[index],
                    round,
                )?;
            }
        }
    }
    Ok(measurements)
}

fn measurement_index(measurements: &[Measurement], op: Op, tool: Tool) -> usize {
    measurements
        .iter()
        .position(|m| m.op == op && m.tool == tool)
        .unwrap_or_default()
}

/// One timed run of `measurement`'s tool and operation on the prepared scratch queue, then the
/// checks. A tool that fails, or reports or leaves the wrong thing, is recorded as such.
fn step(
    size: u64,
    scratch: &mut Scratch,
    original: &Original,
    ours: &Path,
    measurement: &mut Measurement,
    round: usize,
) -> Result<()> {
    let (op, tool) = (measurement.op, measurement.tool);
    let label = tool.label(op);
    syncfs(&scratch.root)?;
    scratch.stage = None;
    let (wall, max_rss_kib, reported) = match tool {
        Tool::Real | Tool::Ours => {
            let program = if tool == Tool::Real {
                Path::new(REAL_POSTSUPER)
            } else {
                ours
            };
            let mut command = Command::new(program);
            command
                .arg("-c")
                .arg(&scratch.etc)
                .arg(op.flag())
                .arg("ALL")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&scratch.stderr)?);
            let measured = run_measured(&mut command)?;
            let stderr = String::from_utf8_lossy(&fs::read(&scratch.stderr)?).into_owned();
            if !measured.status.success() {
                let who = if tool == Tool::Real {
                    "Postfix"
                } else {
                    "ours"
                };
                let failure = format!("{who} failed: {} ({})", excerpt(&stderr), measured.status);
                println!("bench: {size} {label}: {failure}");
                measurement.failure = Some(failure);
                return Ok(());
            }
            (
                measured.wall,
                Some(measured.max_rss_kib),
                summary_count(&stderr, op.summary()),
            )
        }
        Tool::Floor(threads) => {
            let started = Instant::now();
            let count = op.floor(&scratch.spool, threads)?;
            (started.elapsed(), None, Some(count))
        }
    };
    let sync_after = syncfs(&scratch.root)?;
    let count = reported.unwrap_or(0);
    measurement.samples.push(Sample {
        wall,
        sync_after,
        max_rss_kib,
        count,
    });
    let census = census(&scratch.spool)?;
    let want = original.expected_queues(op.after());
    let mut problems = Vec::new();
    match reported {
        Some(count) if count == measurement.expected => {}
        Some(count) => problems.push(format!(
            "reported {count}, expected {}",
            measurement.expected
        )),
        None => problems.push(format!("no \"{}: N messages\" line", op.summary())),
    }
    if census.per_queue == want {
        scratch.stage = Some(op.after());
    } else {
        problems.push(format!(
            "left the queue wrong: {}",
            describe_difference(&census.per_queue, &want)
        ));
    }
    println!(
        "bench: {size} {label}{}: {:.3} s (+ syncfs {:.3} s), count {count} {}",
        if round == 0 {
            String::new()
        } else {
            format!(" (run {})", round + 1)
        },
        wall.as_secs_f64(),
        sync_after.as_secs_f64(),
        if problems.is_empty() {
            "ok".to_string()
        } else {
            format!("WRONG: {}", problems.join("; "))
        }
    );
    if !problems.is_empty() {
        measurement.failure = Some(format!("wrong result: {}", problems.join("; ")));
    }
    Ok(())
}

/// The first lines of a tool's stderr, on one line.
fn excerpt(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let mut text = lines
        .iter()
        .take(3)
        .copied()
        .collect::<Vec<_>>()
        .join(" / ");
    if lines.len() > 3 {
        text.push_str(" / …");
    }
    if text.chars().count() > 300 {
        text = text.chars().take(300).collect::<String>() + "…";
    }
    if text.is_empty() {
        "no output".to_string()
    } else {
        text
    }
}

fn measurement<'a>(
    result: &'a Value,
    op: Op,
    tool: &str,
    threads: Option<u64>,
) -> Option<&'a Value> {
    result["measurements"].as_array()?.iter().find(|m| {
        m["op"].as_str() == Some(op.name().as_str())
            && m["tool"].as_str() == Some(tool)
            && (threads.is_none() || m["threads"].as_u64() == threads)
    })
}

fn median_seconds(result: &Value, op: Op, tool: &str, threads: Option<u64>) -> Option<f64> {
    let found = measurement(result, op, tool, threads)?;
    if found["failure"].is_string() && found["tool"] != "floor" {
        // A wrong result's time does not count; a floor never fails without aborting.
        return None;
    }
    found["median_s"].as_f64()
}

/// The postsuper section of docs/benchmarks.md.
pub fn render_section(results: &[Value]) -> String {
    let mut page = String::new();
    page.push_str("## postsuper\n\n");
    page.push_str(
        "Our `postsuper -d ALL` / `-h ALL` / `-H ALL` / `-r ALL` against Postfix's own and \
         against an unlink/rename floor. Reproduce with `cargo xtask bench --only postsuper \
         --sizes 100000,1000000` (as root, with Postfix installed).\n\n",
    );
    page.push_str(
        "### Method\n\n\
         - Both postsupers run as `postsuper -c ETC <op> ALL` on a scratch copy of the generated \
         queue (`target/bench/<size>/postsuper-scratch`; ETC's main.cf has `queue_directory` = \
         that copy, files owned by `postfix`, the default `mail_owner`). No Postfix master runs \
         on it; postsuper works on a stopped queue. Ours is `target/release/postsuper`, built by \
         the benchmark.\n\
         - The copy is a real one (each file written anew, with its owner, mode and times), \
         never a `cp -al` hard-link copy: hard-linked files have 2 links, and unlinking one of \
         two links frees no blocks, so `-d ALL` would be timed on less work than a real queue \
         needs. Copying is slow, so one copy serves every rename run: `-h ALL`, `-H ALL`, \
         `-r ALL` run as a chain, each on what the previous one left (`-h` moves incoming, \
         active and deferred into hold; `-H` moves hold into deferred; `-r` moves all of them \
         into maildrop), and an untimed pass of renames then moves every file back where it \
         was. A run that fails leaves the queue as it was or wrong; the next run's state is then \
         prepared by the floor's renames (or a new copy). `-d ALL` consumes its copy: each \
         delete run gets a fresh one (3 runs per tool, 1 from 1M messages on unless \
         `--delete-runs N`). Copies made just after a mass delete take about twice as long: \
         ext4 without a journal (this one) passes over inodes freed in the last 30 s when it \
         allocates new ones.\n\
         - Before each timed run: `syncfs` (untimed, so the copy's or the previous run's dirty \
         blocks are written out first). After it: `syncfs` again, timed separately (column \
         \"then syncfs\": the deferred cost of freeing blocks, on this `discard` filesystem).\n\
         - An untimed warm-up chain (by the floor) first grows hold/ and maildrop/ to full size: \
         the first run into an empty directory pays for growing it (perf-anchors.md, \
         \"Directory growth costs\"), and a long-lived queue has grown directories.\n\
         - Wall time of the whole process (start-up included), stdout to /dev/null, stderr kept \
         for the check; peak RSS from wait4(2) (xtask keeps no per-file table: a child started \
         with vfork inherits its parent's peak RSS into its own). Tools take turns run by run, \
         so that noise spreads over all of them.\n\
         - Correctness, after every run: the summary line (`Deleted: N messages`, `Placed on \
         hold: N messages`, `Released from hold: …`, `Requeued: …`) must give the expected \
         count, and every queue directory must hold exactly the files postsuper leaves. \
         Expected: `-h ALL` every file with a queue-ID name in incoming, active and deferred; \
         `-H ALL` and `-r ALL` those plus hold's; `-d ALL` the messages postsuper counts — \
         complete files (owner bits rwx) in all five message queues, maildrop included. `-d \
         ALL` also removes the files still being written (mode 0600, not counted) and every \
         defer log (its default queue list includes defer, bounce and flush).\n\
         - Floors (in process, `xtask/src/floor.rs`, like shared/tools/queue-floor.c): readdir \
         with `d_type` (no stat), and `unlinkat`/`renameat` relative to directory fds, with \
         directories as work items on 1 thread and on all cores. `-d ALL`: unlink every file \
         of the directories `-d ALL` empties (defer, bounce, maildrop, incoming, active, \
         deferred, hold, flush). `-h`: rename incoming, active and deferred/* into hold/. `-H`: \
         hold/ into deferred/<hash>/. `-r`: incoming, active, deferred/* and hold/ into \
         maildrop/.\n\
         - Deletes are noisy (see min–max): this filesystem is mounted with `discard`, so \
         freeing a file's blocks sends TRIMs to the virtual disk, whose latency varies \
         (perf-anchors.md: `-d` wall time is about 3× its CPU time).\n\
         - The machine may be shared with other jobs; min–max shows the noise.\n\n",
    );
    if results.is_empty() {
        page.push_str("No postsuper results yet: run `cargo xtask bench --only postsuper`.\n");
        return page;
    }

    page.push_str(
        "### Scratch copies\n\n| queue | files copied | MB on disk | expected counts | files \
         still being written | copies made | copy + syncfs, median s |\n\
         |---:|---:|---:|---|---:|---:|---:|\n",
    );
    for result in results {
        let copies: Vec<f64> = result["copies_s"]
            .as_array()
            .map(|copies| copies.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let expected: Vec<String> = Op::ALL
            .iter()
            .filter_map(|op| {
                result["expected"][op.name()]
                    .as_u64()
                    .map(|count| format!("`{}` {count}", op.name()))
            })
            .collect();
        let _ = writeln!(
            page,
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            crate::bench::human(result["size"].as_u64().unwrap_or(0)),
            result["scratch_files"],
            result["scratch_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            expected.join(", "),
            result["incomplete"],
            copies.len(),
            if copies.is_empty() {
                "–".to_string()
            } else {
                format!("{:.1}", crate::bench::median_of(&copies))
            },
        );
    }

    page.push_str(
        "\n### Results\n\n| queue | operation | measurement | median s | min–max s | runs | \
         then syncfs, median s | peak RSS MB | messages/s | count (expected) |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for result in results {
        let size = crate::bench::human(result["size"].as_u64().unwrap_or(0));
        for m in result["measurements"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
        {
            let expected = m["expected"].as_u64().unwrap_or(0);
            let counts: Vec<u64> = m["counts"]
                .as_array()
                .map(|counts| counts.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            let mut check = match counts.first() {
                Some(_) if counts.iter().all(|&c| c == expected) => format!("{expected} ok"),
                Some(_) => format!(
                    "{} ({expected})",
                    counts
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!("– ({expected})"),
            };
            if let Some(failure) = m["failure"].as_str() {
                let _ = write!(check, " **{}**", failure.replace('|', "\\|"));
            }
            let seconds = |key: &str| m[key].as_f64();
            let _ = writeln!(
                page,
                "| {size} | `{}` | {} | {} | {} | {} | {} | {} | {} | {check} |",
                m["op"].as_str().unwrap_or("?"),
                m["label"].as_str().unwrap_or("?"),
                seconds("median_s").map_or("–".into(), |s| format!("{s:.3}")),
                match (seconds("min_s"), seconds("max_s")) {
                    (Some(min), Some(max)) => format!("{min:.3}–{max:.3}"),
                    _ => "–".into(),
                },
                m["runs"],
                seconds("sync_after_median_s").map_or("–".into(), |s| format!("{s:.3}")),
                m["max_rss_kib"]
                    .as_f64()
                    .map_or("–".into(), |kib| format!("{:.1}", kib / 1024.0)),
                seconds("median_s").map_or("–".into(), |s| format!("{:.0}", expected as f64 / s)),
            );
        }
    }

    let mut loads = Vec::new();
    for result in results {
        let mut seen: Vec<(String, String)> = Vec::new();
        for m in result["measurements"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
        {
            let Some(text) = crate::bench::describe_load(&m["other_load"]) else {
                continue;
            };
            let op = format!("`{}`", m["op"].as_str().unwrap_or("?"));
            match seen.iter_mut().find(|(_, t)| *t == text) {
                Some((ops, _)) if !ops.contains(&op) => {
                    ops.push_str(", ");
                    ops.push_str(&op);
                }
                Some(_) => {}
                None => seen.push((op, text)),
            }
        }
        let size = crate::bench::human(result["size"].as_u64().unwrap_or(0));
        loads.extend(
            seen.into_iter()
                .map(|(ops, text)| format!("{size} {ops}: {text}")),
        );
    }
    if !loads.is_empty() {
        let _ = writeln!(
            page,
            "\n{} {}.",
            crate::bench::load_preamble(results[0]["threads"].as_u64().unwrap_or(1)),
            loads.join("; ")
        );
    }

    page.push_str(
        "\n### Ratios\n\nreal/ours > 1 means ours is faster. ours/floor is how far ours is above \
         the floor: 1.0× is the kernel's cost alone.\n\n",
    );
    let threads = results[0]["threads"].as_u64().unwrap_or(1);
    let _ = writeln!(
        page,
        "| queue | operation | real/ours | ours/floor, 1 thread | ours/floor, {threads} threads | \
         real/floor, 1 thread | real/floor, {threads} threads |\n\
         |---:|---|---:|---:|---:|---:|---:|"
    );
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    };
    for result in results {
        let threads = result["threads"].as_u64().unwrap_or(1);
        for op in Op::ALL {
            if measurement(result, op, "floor", None).is_none() {
                continue;
            }
            let real = median_seconds(result, op, "real", None);
            let ours = median_seconds(result, op, "ours", None);
            let floor_one = median_seconds(result, op, "floor", Some(1));
            let floor_all = median_seconds(result, op, "floor", Some(threads));
            let _ = writeln!(
                page,
                "| {} | `{}` | {} | {} | {} | {} | {} |",
                crate::bench::human(result["size"].as_u64().unwrap_or(0)),
                op.name(),
                ratio(real, ours),
                ratio(ours, floor_one),
                ratio(ours, floor_all),
                ratio(real, floor_one),
                ratio(real, floor_all),
            );
        }
    }

    page.push_str("\n### Verdict\n\n");
    let _ = writeln!(
        page,
        "Target: ours within {TARGET_FLOOR_RATIO}× of the floor (the faster of its 1-thread and \
         all-core runs) at 1M messages; an operation not measured at 1M is judged at the largest \
         size it was measured at.\n"
    );
    for op in Op::ALL {
        let best_floor = |result: &Value| {
            let threads = result["threads"].as_u64().unwrap_or(1);
            [Some(1), Some(threads)]
                .into_iter()
                .filter_map(|t| median_seconds(result, op, "floor", t))
                .reduce(f64::min)
        };
        let Some((result, floor)) = results
            .iter()
            .rev()
            .filter_map(|result| Some((result, best_floor(result)?)))
            .max_by_key(|(result, _)| result["size"].as_u64() == Some(1_000_000))
        else {
            continue;
        };
        let verdict = match median_seconds(result, op, "ours", None) {
            Some(ours) => {
                let real = median_seconds(result, op, "real", None).map_or(String::new(), |real| {
                    format!("; Postfix {real:.2} s, real/ours {:.2}×", real / ours)
                });
                format!(
                    "**{}**: ours {ours:.2} s vs floor {floor:.2} s = {:.2}×{real}",
                    if ours / floor <= TARGET_FLOOR_RATIO {
                        "Met"
                    } else {
                        "Not met"
                    },
                    ours / floor
                )
            }
            None => match measurement(result, op, "ours", None) {
                Some(found) => format!(
                    "not measured: {}",
                    found["failure"].as_str().unwrap_or("no run")
                ),
                None => "not measured".to_string(),
            },
        };
        let _ = writeln!(
            page,
            "- `{}` at {}: {verdict}",
            op.name(),
            crate::bench::human(result["size"].as_u64().unwrap_or(0))
        );
    }
    let _ = writeln!(
        page,
        "\nMeasured at commit {} (an operation's numbers at one size come from one run; sizes \
         and operations may come from separate runs).",
        commits(results).join(", ")
    );
    page
}

/// The commits the results were measured at, each once.
fn commits(results: &[Value]) -> Vec<&str> {
    let mut commits = std::collections::BTreeSet::new();
    for result in results {
        commits.extend(result["commit"].as_str());
        for measurement in result["measurements"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
        {
            commits.extend(measurement["commit"].as_str());
        }
    }
    commits.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_summary_lines() {
        let stderr = "postsuper: warning: bogus file name: incoming/1.2\n\
                      postsuper: Placed on hold: 94919 messages\n";
        assert_eq!(summary_count(stderr, "Placed on hold"), Some(94_919));
        assert_eq!(
            summary_count("postsuper: Deleted: 1 message\n", "Deleted"),
            Some(1)
        );
        assert_eq!(summary_count(stderr, "Deleted"), None);
        assert_eq!(
            summary_count("postsuper: fatal: not yet\n", "Deleted"),
            None
        );
    }

    #[test]
    fn operations_parse() -> Result<()> {
        assert_eq!(Op::parse("H")?, Op::Release);
        assert_eq!(Op::parse("-d")?, Op::Delete);
        assert!(Op::parse("x").is_err());
        Ok(())
    }

    fn small_queue(test: &str) -> Result<(PathBuf, Original)> {
        let root = std::env::temp_dir().join(format!("xtask-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let spool = root.join("spool");
        for directory in [
            "deferred/A",
            "deferred/B",
            "defer/A",
            "hold",
            "incoming",
            "active",
            "maildrop",
            "bounce",
            "flush",
            "pid",
        ] {
            fs::create_dir_all(spool.join(directory))?;
        }
        let write = |path: &str, mode: u32| -> Result<()> {
            let path = spool.join(path);
            fs::write(&path, b"x")?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            Ok(())
        };
        write("deferred/A/A1", 0o700)?;
        write("deferred/B/B2", 0o700)?;
        write("defer/A/A1", 0o600)?;
        write("hold/A3", 0o700)?;
        write("incoming/B4", 0o600)?; // still being written
        write("active/A5", 0o700)?;
        write("maildrop/F6", 0o744)?;
        write("pid/master.pid", 0o644)?;
        let original = Original::scan(&spool)?;
        Ok((root, original))
    }

    #[test]
    fn expectations_follow_postsuper() -> Result<()> {
        let (root, original) = small_queue("expect")?;
        assert_eq!(original.expected_count(Op::Hold), 4);
        assert_eq!(original.expected_count(Op::Release), 5);
        assert_eq!(original.expected_count(Op::Requeue), 5);
        assert_eq!(original.expected_count(Op::Delete), 5);
        assert_eq!(original.expected_floor_count(Op::Delete), 7);
        let held = original.expected_queues(Stage::Held);
        assert_eq!(held["hold"], 5);
        assert_eq!(held["deferred"], 0);
        assert_eq!(held["defer"], 1);
        assert!(!held.contains_key("pid"));
        assert_eq!(original.expected_queues(Stage::Requeued)["maildrop"], 6);
        assert_eq!(original.expected_queues(Stage::Deleted)["defer"], 0);
        fs::remove_dir_all(&root)?;
        Ok(())
    }

    /// The floors reach each stage the expectations describe, and the restore pass and the
    /// copy bring the queue back.
    #[test]
    fn floors_and_restore_round_trip() -> Result<()> {
        let (root, original) = small_queue("floors")?;
        let spool = root.join("spool");
        let copy = root.join("copy");
        copy_spool(&spool, &copy, 2)?;
        assert_eq!(census(&copy)?.per_directory, original.per_directory);
        assert_eq!(
            fs::metadata(copy.join("maildrop/F6"))?.mode() & 0o7777,
            0o744
        );
        assert!(!copy.join("pid").exists());
        for op in [Op::Hold, Op::Release, Op::Requeue] {
            assert_eq!(op.floor(&spool, 2)?, original.expected_floor_count(op));
            assert_eq!(
                census(&spool)?.per_queue,
                original.expected_queues(op.after()),
                "{op:?}"
            );
        }
        // The restore pass reads the original layout from the copy.
        assert!(move_home(&copy, &spool, Stage::Requeued, 2)?);
        assert_eq!(census(&spool)?.per_directory, original.per_directory);
        Op::Hold.floor(&spool, 1)?;
        assert!(!move_home(&copy, &spool, Stage::Released, 1)?);
        assert_eq!(
            Op::Delete.floor(&copy, 1)?,
            original.expected_floor_count(Op::Delete)
        );
        assert_eq!(
            census(&copy)?.per_queue,
            original.expected_queues(Stage::Deleted)
        );
        fs::remove_dir_all(&root)?;
        Ok(())
    }

    /// A stand-in for our postsuper: a shell script.
    fn fake_postsuper(root: &Path, script: &str) -> Result<PathBuf> {
        let directory = root.join("fake");
        fs::create_dir_all(&directory)?;
        let path = directory.join("postsuper");
        fs::write(&path, format!("#!/bin/sh\n{script}\n"))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        Ok(path)
    }

    /// A failing postsuper is recorded, not fatal, and the floors still run every operation
    /// (the floor prepares each state the failed run did not leave).
    #[test]
    fn failing_ours_is_recorded() -> Result<()> {
        let (root, original) = small_queue("failing")?;
        let ours = fake_postsuper(&root, "echo 'postsuper: fatal: not yet' >&2; exit 1")?;
        let options = PostsuperOptions {
            ops: Op::ALL.to_vec(),
            runs: 2,
            delete_runs: Some(2),
            real: false,
        };
        let mut scratch = Scratch::new(&root, &root.join("spool"), false, 2)?;
        let measurements = run_all(10, &mut scratch, &original, &ours, &options, 2)?;
        scratch.remove()?;
        assert_eq!(measurements.len(), 12);
        for m in &measurements {
            if m.tool == Tool::Ours {
                assert_eq!(
                    m.failure.as_deref(),
                    Some("ours failed: postsuper: fatal: not yet (exit status: 1)")
                );
                assert!(m.samples.is_empty());
            } else {
                assert_eq!(m.failure, None, "{m:?}");
                assert_eq!(m.samples.len(), 2, "{m:?}");
                assert!(m.samples.iter().all(|s| s.count == m.expected));
            }
        }
        assert!(!root.join(SCRATCH).exists());
        fs::remove_dir_all(&root)?;
        Ok(())
    }

    /// A postsuper that claims success without doing the work is caught.
    #[test]
    fn wrong_results_are_caught() -> Result<()> {
        let (root, original) = small_queue("wrong")?;
        let ours = fake_postsuper(&root, "echo 'postsuper: Placed on hold: 4 messages' >&2")?;
        let options = PostsuperOptions {
            ops: vec![Op::Hold],
            runs: 1,
            delete_runs: None,
            real: false,
        };
        let mut scratch = Scratch::new(&root, &root.join("spool"), false, 1)?;
        let measurements = run_all(10, &mut scratch, &original, &ours, &options, 1)?;
        scratch.remove()?;
        let ours = measurements
            .iter()
            .find(|m| m.tool == Tool::Ours)
            .context("ours")?;
        assert_eq!(ours.samples.len(), 1);
        let failure = ours.failure.as_deref().unwrap_or_default();
        assert!(
            failure.starts_with("wrong result: left the queue wrong: active 1 (want 0)"),
            "{failure}"
        );
        fs::remove_dir_all(&root)?;
        Ok(())
    }

    #[test]
    fn other_operations_keep_their_results() {
        let previous = json!({"commit": "old", "measurements": [
            {"op": "-h ALL", "tool": "real", "median_s": 1.0},
            {"op": "-d ALL", "tool": "real", "median_s": 9.0},
        ]});
        let mut result =
            json!({"measurements": [{"op": "-h ALL", "tool": "real", "median_s": 2.0}]});
        stamp(&mut result, "new");
        keep_other_operations(&mut result, Some(&previous));
        let measurements = result["measurements"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(measurements.len(), 2);
        assert_eq!(measurements[0]["median_s"], 2.0);
        assert_eq!(measurements[0]["commit"], "new");
        assert_eq!(measurements[1]["op"], "-d ALL");
        assert_eq!(measurements[1]["commit"], "old");
    }

    #[test]
    fn section_shows_failures_and_ratios() {
        let result = json!({
            "size": 100_000, "threads": 2, "commit": "abc1234",
            "scratch_files": 192_000, "scratch_bytes": 1.5e9, "copies_s": [20.0],
            "expected": {"-h ALL": 94_919}, "incomplete": 62,
            "measurements": [
                {"op": "-h ALL", "tool": "real", "threads": null, "label": "Postfix postsuper -h ALL",
                 "median_s": 2.4, "min_s": 2.3, "max_s": 2.5, "runs": 3, "counts": [94_919, 94_919, 94_919],
                 "expected": 94_919, "failure": null, "max_rss_kib": 7000, "sync_after_median_s": 0.1},
                {"op": "-h ALL", "tool": "ours", "threads": null, "label": "ours postsuper -h ALL",
                 "median_s": null, "runs": 0, "counts": [], "expected": 94_919,
                 "failure": "ours failed: postsuper: fatal: not yet (exit status: 1)"},
                {"op": "-h ALL", "tool": "floor", "threads": 1, "label": "floor: renameat into hold/, 1 thread(s)",
                 "median_s": 2.0, "min_s": 2.0, "max_s": 2.0, "runs": 3, "counts": [94_919],
                 "expected": 94_919, "failure": null},
            ],
        });
        let page = render_section(&[result]);
        assert!(
            page.contains("ours failed: postsuper: fatal: not yet"),
            "{page}"
        );
        assert!(
            page.contains("| 100k | `-h ALL` | – | – | – | 1.20× |"),
            "{page}"
        );
        assert!(
            page.contains("`-h ALL` at 100k: not measured: ours failed"),
            "{page}"
        );
    }
}
