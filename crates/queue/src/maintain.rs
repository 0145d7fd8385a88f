//! postsuper's changes to a queue: the per-ID operations (delete, hold, release, requeue,
//! expire), the `super()` walk that repairs the tree and runs the `ALL` operations, and the
//! live-queue guard that keeps those changes from losing or duplicating mail while Postfix runs.
//!
//! Paths are relative to the queue directory (the caller has chdir'ed there), and every message
//! shows them that way, as Postfix does. Nothing here prints: lines go to the caller's `Notice`
//! sink, and what Postfix would die on comes back as [`Fatal`].
//!
//! Spec: postsuper-and-qshape.md §1.2-§1.6, §2 (Postfix `postsuper.c`, `mail_open_ok.c`).

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

use crate::error::strerror;
use crate::queue_id::{hash_key, is_valid_queue_id, LONG_ID_ALPHABET};
use crate::walk::Layout;

/// Owner bits of a complete queue file (`MAIL_QUEUE_STAT_READY`).
const READY: u32 = 0o700;
/// The group-execute bit that marks a message as force-expired.
const EXPIRE_BIT: u32 = 0o010;
/// postsuper -p removes incomplete message files older than this (`MAX_TEMP_AGE`, since 3.5).
const MAX_TEMP_AGE: i64 = 7 * 24 * 60 * 60;
/// "file has N links" is only worth a warning once it has lasted this long.
const LINK_WARNING_AGE: i64 = 60;
/// What `fix_queue_id` appends to a renamed file until the second pass strips it.
const FIX_SUFFIX: &[u8] = b"#FIX";

/// The queues postsuper visits when none are named, in its order: log directories first, so
/// that repairs find message logs at their proper level (spec §1.2, §1.6 point 4).
pub const DEFAULT_QUEUES: [&str; 8] = [
    "defer", "bounce", "maildrop", "incoming", "active", "deferred", "hold", "flush",
];
/// Per-message log directories, in the order `-d` removes them.
const LOG_QUEUES: [&str; 3] = ["bounce", "defer", "trace"];

/// What postsuper knows about a queue directory name (`queue_info`).
#[derive(Debug, Clone, Copy)]
pub struct QueueInfo {
    pub name: &'static str,
    /// Holds message files (expected owner bits rwx), not per-message logs.
    pub message_queue: bool,
    /// Hash subdirectories may be entered (everywhere except maildrop).
    pub recurse: bool,
}

const QUEUE_INFO: [QueueInfo; 9] = [
    QueueInfo::new("maildrop", true, false),
    QueueInfo::new("incoming", true, true),
    QueueInfo::new("active", true, true),
    QueueInfo::new("deferred", true, true),
    QueueInfo::new("hold", true, true),
    QueueInfo::new("trace", false, true),
    QueueInfo::new("defer", false, true),
    QueueInfo::new("bounce", false, true),
    QueueInfo::new("flush", false, true),
];

impl QueueInfo {
    const fn new(name: &'static str, message_queue: bool, recurse: bool) -> Self {
        Self {
            name,
            message_queue,
            recurse,
        }
    }
}

/// `find_queue_info`: the facts for a queue name, or Postfix's fatal for any other name.
pub fn queue_info(name: &str) -> Result<QueueInfo, Fatal> {
    QUEUE_INFO
        .iter()
        .find(|info| info.name == name)
        .copied()
        .ok_or_else(|| Fatal(format!("invalid directory name: {name}")))
}

/// A line for the user (and the mail log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `postsuper: text`
    Info(String),
    /// `postsuper: warning: text`
    Warning(String),
    /// Entries a walk has visited so far (every [`PROGRESS_STEP`]), for a progress display.
    Progress(u64),
}

/// How often (in entries) a walk on a live queue re-reads the lock table, so that what it
/// knows about deliveries in progress stays fresh on long runs.
const LOCK_REFRESH_STEP: u64 = 256;

/// How often a walk reports [`Notice::Progress`].
pub const PROGRESS_STEP: u64 = 1024;

/// What Postfix would end the run with (`msg_fatal`); the text is the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// postsuper's counters, reported at the end of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub requeued: usize,
    pub held: usize,
    pub released: usize,
    pub deleted: usize,
    pub expired: usize,
    /// `#FIX` names whose suffix was stripped (second half of an inode repair).
    pub inode_fixed: usize,
    /// Files renamed to `NEWID#FIX` because their name did not match their inode.
    pub inode_mismatch: usize,
    /// Files moved to their proper hash level.
    pub position_mismatch: usize,
    /// Files the live-queue guard left alone (see [`LiveQueue`]).
    pub left_alone: usize,
}

impl Counters {
    /// Whether a repair renamed anything, which makes by-ID actions unsafe and an interrupted
    /// run worth a warning.
    pub fn repair_started(&self) -> bool {
        self.inode_mismatch > 0 || self.inode_fixed > 0 || self.position_mismatch > 0
    }
}

/// The repair half of a walk (`-s`, `-S`, `-p`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Repair {
    pub purge: bool,
    pub structure: bool,
    /// `-S`: also renumber long IDs whose inode part is wrong.
    pub redundant: bool,
}

impl Repair {
    pub fn any(&self) -> bool {
        self.purge || self.structure || self.redundant
    }
}

/// One of postsuper's message operations, by ID or `ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Delete,
    Expire,
    /// `-f`: expire, and release when held.
    ExpireRelease,
    Hold,
    Release,
    Requeue,
}

impl Operation {
    /// Whether the operation looks at `queue` (a message queue) when searching for an ID or
    /// walking for `ALL` (spec §1.2 table).
    pub fn searches(self, queue: &str) -> bool {
        match self {
            Operation::Delete => true,
            Operation::Expire | Operation::Requeue => queue != "maildrop",
            Operation::ExpireRelease => queue != "maildrop",
            Operation::Hold => queue != "maildrop" && queue != "hold",
            Operation::Release => queue == "hold",
        }
    }
}

/// The live-queue guard: set when the Postfix master runs on this queue. It makes postsuper
/// leave alone what Postfix itself could lose or duplicate (docs/deviations.md S2, S3):
/// message files still being written (owner bits not rwx) in mass operations, messages a
/// delivery agent is working on (a lock in /proc/locks) for delete and requeue, and messages
/// in `active` (which qmgr holds in memory) for hold and requeue.
#[derive(Debug, Clone, Default)]
pub struct LiveQueue {
    /// (device, inode) of every file with a flock lock when the guard was made.
    locked: HashSet<(u64, u64)>,
}

impl LiveQueue {
    /// Reads /proc/locks. Delivery agents hold a shared flock on the message they deliver.
    pub fn new() -> Self {
        let mut guard = Self::default();
        guard.refresh();
        guard
    }

    /// Re-reads the lock table; long runs call this now and then.
    pub fn refresh(&mut self) {
        self.locked = std::fs::read_to_string("/proc/locks")
            .map(|text| parse_proc_locks(&text))
            .unwrap_or_default();
    }

    /// Whether some process (a delivery agent) holds a lock on the file.
    fn in_delivery(&self, file: &FileId) -> bool {
        self.locked.contains(&(file.device, file.inode))
    }
}

/// The (device, inode) pairs of the FLOCK lines in /proc/locks (`MAJ:MIN:INODE`, the device
/// numbers in hex).
pub fn parse_proc_locks(text: &str) -> HashSet<(u64, u64)> {
    text.lines()
        .filter(|line| line.contains("FLOCK"))
        .filter_map(|line| {
            let field = line
                .split_whitespace()
                .find(|f| f.matches(':').count() == 2)?;
            let mut parts = field.split(':');
            let major = u64::from_str_radix(parts.next()?, 16).ok()?;
            let minor = u64::from_str_radix(parts.next()?, 16).ok()?;
            let inode = parts.next()?.parse::<u64>().ok()?;
            Some((libc::makedev(major as u32, minor as u32), inode))
        })
        .collect()
}

/// Whether the master process runs on the queue directory we are in: it keeps an exclusive
/// lock on `pid/master.pid` for as long as it lives.
pub fn master_is_running() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(pid_file) = std::fs::File::open("pid/master.pid") else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; a lock we get is released at once.
    unsafe {
        if libc::flock(pid_file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0 {
            libc::flock(pid_file.as_raw_fd(), libc::LOCK_UN);
            false
        } else {
            io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
        }
    }
}

/// The queue settings postsuper uses, and the state of one run.
pub struct Maintenance<'a> {
    layout: Layout,
    /// `hash_queue_names` as postsuper's own walk matches it: exactly (`strcmp`).
    exact_hashed: Vec<String>,
    long_ids: bool,
    live: Option<LiveQueue>,
    now: i64,
    pub counters: Counters,
    /// Directory entries the walks have visited.
    visited: u64,
    notify: &'a mut dyn FnMut(Notice),
}

impl std::fmt::Debug for Maintenance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maintenance")
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// How an operation on one located message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Yes,
    /// Not found, lost a race, or nothing to do.
    No,
    /// The live-queue guard kept us off it.
    LeftAlone,
}

impl<'a> Maintenance<'a> {
    /// `hashed_exact` is `hash_queue_names` split into names; `layout` gives the library's
    /// (case-insensitive) hashing for computed paths.
    pub fn new(
        layout: Layout,
        hashed_exact: Vec<String>,
        long_ids: bool,
        live: Option<LiveQueue>,
        notify: &'a mut dyn FnMut(Notice),
    ) -> Self {
        Self {
            layout,
            exact_hashed: hashed_exact,
            long_ids,
            live,
            now: now_seconds(),
            counters: Counters::default(),
            visited: 0,
            notify,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Re-reads the lock table of a live queue.
    pub fn refresh_live(&mut self) {
        if let Some(live) = &mut self.live {
            live.refresh();
        }
    }

    fn info(&mut self, text: String) {
        (self.notify)(Notice::Info(text));
    }

    fn warn(&mut self, text: String) {
        (self.notify)(Notice::Warning(text));
    }

    fn path(&self, queue: &str, id: &[u8]) -> Vec<u8> {
        self.layout
            .relative_path(queue, id)
            .as_os_str()
            .as_bytes()
            .to_vec()
    }

    // --------------------------------------------------------------------------------------
    // File operations with postsuper's error rules
    // --------------------------------------------------------------------------------------

    /// `postremove`: ENOENT is quiet, anything else is fatal. True when removed.
    fn remove(&mut self, path: &[u8]) -> Result<bool, Fatal> {
        match unlink(path) {
            Ok(()) => Ok(true),
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(error) => Err(Fatal(format!(
                "remove file {}: {}",
                show(path),
                strerror(&error)
            ))),
        }
    }

    /// `postrename`, except that it never replaces an existing file (deviation S1): creates
    /// missing directories and retries once; a vanished source is a lost race (false).
    fn rename(&mut self, old: &[u8], new: &[u8]) -> Result<bool, Fatal> {
        let fatal = |error: &io::Error| {
            Fatal(format!(
                "rename file {} as {}: {}",
                show(old),
                show(new),
                strerror(error)
            ))
        };
        let mut result = self.sane_rename(old, new);
        if let Err(error) = &result {
            if error.raw_os_error() == Some(libc::ENOENT) {
                if let Err(error) = make_parent_dirs(new) {
                    if error.raw_os_error() == Some(libc::ENOENT) {
                        return Ok(false);
                    }
                    return Err(fatal(&error));
                }
                result = self.sane_rename(old, new);
            }
        }
        match result {
            Ok(()) => Ok(true),
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(error) if error.raw_os_error() == Some(libc::EEXIST) => {
                self.warn(format!(
                    "{}: not renamed: {} already exists",
                    show(old),
                    show(new)
                ));
                Ok(false)
            }
            Err(error) => Err(fatal(&error)),
        }
    }

    /// `sane_rename`: a failed rename whose source is gone and whose target exists is taken
    /// as done (Postfix's work-around for NFS replaying a rename), with its info line.
    fn sane_rename(&mut self, old: &[u8], new: &[u8]) -> io::Result<()> {
        let error = match rename_noreplace(old, new) {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let exists = |path: &[u8]| std::fs::metadata(std::ffi::OsStr::from_bytes(path)).is_ok();
        if !exists(old) && exists(new) {
            self.info(format!(
                "sane_rename({},{}): worked around spurious NFS error",
                show(old),
                show(new)
            ));
            return Ok(());
        }
        Err(error)
    }

    /// `postexpire`: set the group-execute bit through a descriptor that is surely the queue
    /// file (no symlink, one link). Ok(true) when newly expired.
    fn expire(&mut self, path: &[u8]) -> Result<bool, Fatal> {
        let file = match safe_open_existing(path) {
            Ok(file) => file,
            Err(SafeOpenError::Gone) => return Ok(false),
            Err(SafeOpenError::Refused(why)) => {
                self.warn(format!("expire file {}: {why}", show(path)));
                return Ok(false);
            }
        };
        let Ok(metadata) = file.metadata() else {
            return Ok(false);
        };
        let mode = metadata.mode();
        if mode & 0o700 != READY || mode & EXPIRE_BIT != 0 {
            return Ok(false);
        }
        if let Err(error) = file.set_permissions(std::fs::Permissions::from_mode(
            (mode | EXPIRE_BIT) & 0o7777,
        )) {
            self.warn(format!(
                "expire file {}: cannot set permission: {}",
                show(path),
                strerror(&error)
            ));
            return Ok(false);
        }
        Ok(true)
    }

    /// `mail_open_ok`: the file for `id` at its computed path in `queue`, if it is a complete
    /// regular file. Warns as Postfix does about odd files.
    pub fn locate(&mut self, queue: &str, id: &[u8]) -> Option<(Vec<u8>, Metadata)> {
        let path = self.path(queue, id);
        let metadata = match std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(&path)) {
            Ok(metadata) => metadata,
            Err(error) => {
                if error.raw_os_error() != Some(libc::ENOENT) {
                    self.warn(format!("{}: {}", show(&path), strerror(&error)));
                }
                return None;
            }
        };
        if !metadata.file_type().is_file() {
            self.warn(format!(
                "{}: uid {}: not a regular file",
                show(&path),
                metadata.uid()
            ));
            return None;
        }
        if metadata.mode() & 0o700 != READY {
            return None;
        }
        if metadata.nlink() > 1 && metadata.ctime() < self.now - LINK_WARNING_AGE {
            self.warn(format!(
                "{}: uid {}: file has {} links",
                show(&path),
                metadata.uid(),
                metadata.nlink()
            ));
        }
        Some((path, metadata))
    }

    /// The live-queue guard's verdict on a message file about to be changed by `operation`:
    /// false (with a warning, counted) when it must be left alone.
    fn guard(
        &mut self,
        queue: &str,
        path: &[u8],
        metadata: &Metadata,
        operation: Operation,
    ) -> bool {
        match leave_alone(
            self.live.as_ref(),
            queue,
            path,
            &FileId::of(metadata),
            operation,
        ) {
            None => true,
            Some(warning) => {
                self.counters.left_alone += 1;
                self.warn(warning);
                false
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // By queue ID
    // --------------------------------------------------------------------------------------

    /// Runs `operation` on the message named `id`, searching `queues` as Postfix does:
    /// the queues the operation applies to, in list order, twice (release: once).
    pub fn by_id(
        &mut self,
        operation: Operation,
        queues: &[String],
        id: &str,
    ) -> Result<(), Fatal> {
        if operation == Operation::ExpireRelease {
            self.by_id(Operation::Expire, queues, id)?;
            return self.by_id(Operation::Release, queues, id);
        }
        if !is_valid_queue_id(id.as_bytes()) {
            self.warn(format!("invalid mail queue id: {id}"));
            return Ok(());
        }
        let tries = if operation == Operation::Release {
            1
        } else {
            2
        };
        for _ in 0..tries {
            for queue in queues {
                // Release never consults the queue table; every other operation does, and
                // dies on a name it does not know.
                if operation == Operation::Release {
                    if queue != "hold" {
                        continue;
                    }
                } else if !queue_info(queue)?.message_queue || !operation.searches(queue) {
                    continue;
                }
                let Some((path, metadata)) = self.locate(queue, id.as_bytes()) else {
                    continue;
                };
                if self.apply(operation, queue, id.as_bytes(), &path, &metadata)? == Done::Yes {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// One operation on one located, complete message file, with the per-message line and the
    /// count. Used by the by-ID search and by selections.
    pub fn apply(
        &mut self,
        operation: Operation,
        queue: &str,
        id: &[u8],
        path: &[u8],
        metadata: &Metadata,
    ) -> Result<Done, Fatal> {
        let id_text = show(id);
        if !self.guard(queue, path, metadata, operation) {
            return Ok(Done::LeftAlone);
        }
        let done = match operation {
            Operation::Delete => {
                // Logs first, and only while the message file exists (spec §1.4).
                for log_queue in LOG_QUEUES {
                    let log_path = self.path(log_queue, id);
                    self.remove(&log_path)?;
                }
                let removed = self.remove(path)?;
                if removed {
                    self.counters.deleted += 1;
                    self.info(format!("{id_text}: removed"));
                }
                removed
            }
            Operation::Requeue => {
                let target = self.path("maildrop", id);
                let moved = self.rename(path, &target)?;
                if moved {
                    if let Err(error) = touch_now(&target) {
                        self.warn(format!(
                            "{}: reset time stamps: {}",
                            show(&target),
                            strerror(&error)
                        ));
                    }
                    self.counters.requeued += 1;
                    self.info(format!("{id_text}: requeued"));
                }
                moved
            }
            Operation::Hold => {
                let target = self.path("hold", id);
                let moved = self.rename(path, &target)?;
                if moved {
                    self.counters.held += 1;
                    self.info(format!("{id_text}: placed on hold"));
                }
                moved
            }
            Operation::Release => {
                let target = self.path("deferred", id);
                let moved = self.rename(path, &target)?;
                if moved {
                    self.counters.released += 1;
                    self.info(format!("{id_text}: released from hold"));
                }
                moved
            }
            Operation::Expire => {
                let expired = self.expire(path)?;
                if expired {
                    self.counters.expired += 1;
                    self.info(format!("{id_text}: expired"));
                }
                expired
            }
            Operation::ExpireRelease => {
                let expired = self.apply(Operation::Expire, queue, id, path, metadata)?;
                if queue == "hold" {
                    // The file is still at `path`: expiring does not move it.
                    return self.apply(Operation::Release, queue, id, path, metadata);
                }
                expired == Done::Yes
            }
        };
        Ok(if done { Done::Yes } else { Done::No })
    }

    // --------------------------------------------------------------------------------------
    // The super() walk
    // --------------------------------------------------------------------------------------

    /// One `super()` walk over `queues`: repairs, and at most one `ALL` operation.
    pub fn walk(
        &mut self,
        queues: &[String],
        repair: Repair,
        mass: Option<Operation>,
    ) -> Result<(), Fatal> {
        for queue in queues {
            let info = queue_info(queue)?;
            let wanted_depth = if self.exact_hashed.iter().any(|name| name == queue) {
                self.layout.hash_depth
            } else {
                0
            };
            if wanted_depth > 0 && !info.recurse {
                return Err(Fatal(format!("{queue} queue must not be hashed")));
            }
            let step = WalkStep {
                queue,
                info,
                wanted_depth,
                repair,
                mass,
            };
            self.walk_directory(&step, queue.as_bytes(), 0)?;
        }
        Ok(())
    }

    fn walk_directory(
        &mut self,
        step: &WalkStep<'_>,
        directory: &[u8],
        depth: usize,
    ) -> Result<(), Fatal> {
        // Read as we go, like scan_dir: memory stays flat however large the directory.
        let reader =
            std::fs::read_dir(std::ffi::OsStr::from_bytes(directory)).map_err(|error| {
                Fatal(format!(
                    "scan_dir_push: open directory {}: {}",
                    show(directory),
                    strerror(&error)
                ))
            })?;
        // -d ALL, and -h/-H/-r ALL on a stopped queue, work on runs of plain entries on all
        // cores (the kernel unlinks and renames faster from two threads); entries the
        // operation does not touch are passed over without an lstat; everything else goes
        // one by one through the full rules.
        let parallel_delete = step.mass == Some(Operation::Delete);
        let quick_moves = self.quick_move_target(step).is_some();
        let untouched = self.untouched_queue(step);
        let mut batch: Vec<Vec<u8>> = Vec::new();
        for entry in reader {
            // scan_dir stops at a read error as at the end.
            let Ok(entry) = entry else {
                break;
            };
            let name = entry.file_name().as_bytes().to_vec();
            if name.len() == 1 && step.info.recurse {
                self.run_batch(step, directory, &mut batch)?;
                let mut subdirectory = directory.to_vec();
                subdirectory.push(b'/');
                subdirectory.extend_from_slice(&name);
                self.walk_directory(step, &subdirectory, depth + 1)?;
                continue;
            }
            let plain =
                || entry.file_type().is_ok_and(|kind| kind.is_file()) && is_valid_queue_id(&name);
            if parallel_delete || (quick_moves && plain()) {
                batch.push(name);
                if batch.len() >= BATCH_LIMIT {
                    self.run_batch(step, directory, &mut batch)?;
                }
            } else if untouched && plain() {
                self.visited += 1;
                if self.visited % PROGRESS_STEP == 0 {
                    (self.notify)(Notice::Progress(self.visited));
                }
            } else {
                self.run_batch(step, directory, &mut batch)?;
                self.walk_entry(step, directory, name)?;
            }
        }
        self.run_batch(step, directory, &mut batch)?;
        if depth > 0 && depth > step.wanted_depth {
            if let Err(error) = std::fs::remove_dir(std::ffi::OsStr::from_bytes(directory)) {
                if error.raw_os_error() != Some(libc::ENOENT) {
                    return Err(Fatal(format!(
                        "remove directory {}: {}",
                        show(directory),
                        strerror(&error)
                    )));
                }
            }
        }
        Ok(())
    }

    /// A run of entries of one directory that need no rule but the mass operation's own
    /// (`-d ALL`: rules 1-2; `-h`/`-H`/`-r ALL` on a stopped queue: the move), done on all
    /// cores through the directory's descriptor; outcomes are applied (counted, warned
    /// about) in readdir order.
    fn run_batch(
        &mut self,
        step: &WalkStep<'_>,
        directory: &[u8],
        batch: &mut Vec<Vec<u8>>,
    ) -> Result<(), Fatal> {
        use rayon::prelude::*;
        if batch.is_empty() {
            return Ok(());
        }
        let handle =
            std::fs::File::open(std::ffi::OsStr::from_bytes(directory)).map_err(|error| {
                Fatal(format!(
                    "scan_dir_push: open directory {}: {}",
                    show(directory),
                    strerror(&error)
                ))
            })?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&handle);
        let before = self.visited;
        self.visited += batch.len() as u64;
        if self.visited / PROGRESS_STEP != before / PROGRESS_STEP {
            (self.notify)(Notice::Progress(self.visited));
        }
        let parallel = batch.len() >= PARALLEL_BATCH_MIN;
        if step.mass == Some(Operation::Delete) {
            self.refresh_live();
            let live = self.live.as_ref();
            let work = |name: &Vec<u8>| {
                delete_entry(
                    fd,
                    directory,
                    name,
                    step.queue,
                    step.info.message_queue,
                    live,
                )
            };
            let outcomes: Vec<Deletion> = if parallel {
                batch.par_iter().map(work).collect()
            } else {
                batch.iter().map(work).collect()
            };
            batch.clear();
            for outcome in outcomes {
                match outcome {
                    Deletion::Counted => self.counters.deleted += 1,
                    Deletion::Quiet => {}
                    Deletion::Warning(text) => self.warn(text),
                    Deletion::LeftAlone(text) => {
                        self.counters.left_alone += 1;
                        self.warn(text);
                    }
                    Deletion::Fatal(fatal) => return Err(fatal),
                }
            }
            return Ok(());
        }
        let Some(target_queue) = self.quick_move_target(step) else {
            return Ok(());
        };
        let targets: Vec<Vec<u8>> = batch
            .iter()
            .map(|name| self.path(target_queue, name))
            .collect();
        let work = |(name, target): (&Vec<u8>, &Vec<u8>)| move_entry(fd, directory, name, target);
        let outcomes: Vec<Moved> = if parallel {
            batch.par_iter().zip(targets.par_iter()).map(work).collect()
        } else {
            batch.iter().zip(targets.iter()).map(work).collect()
        };
        batch.clear();
        for outcome in outcomes {
            let done = match outcome {
                Moved::Done => true,
                Moved::DoneWithInfo(text) => {
                    self.info(text);
                    true
                }
                Moved::Gone => false,
                Moved::Warning(text) => {
                    self.warn(text);
                    false
                }
                Moved::Fatal(fatal) => return Err(fatal),
            };
            if done {
                match target_queue {
                    "hold" => self.counters.held += 1,
                    "deferred" => self.counters.released += 1,
                    _ => self.counters.requeued += 1,
                }
            }
        }
        Ok(())
    }

    /// Whether an `ALL` operation (without repairs) leaves this queue's plain entries alone:
    /// a log queue, or a message queue it does not act on (`-h ALL` in hold, `-H ALL`
    /// anywhere but hold, ...). For an entry readdir says is a regular file with a queue ID
    /// for a name, every rule then comes out as "nothing to do", so it needs no `lstat`.
    fn untouched_queue(&self, step: &WalkStep<'_>) -> bool {
        let queue = step.queue;
        let touched = match step.mass {
            None | Some(Operation::Delete) => return false,
            Some(Operation::Hold) => queue != "maildrop" && queue != "hold",
            Some(Operation::Release) => queue == "hold",
            Some(Operation::Requeue | Operation::Expire | Operation::ExpireRelease) => {
                queue != "maildrop"
            }
        };
        let acts_here = step.info.message_queue && touched;
        !step.repair.any() && !acts_here
    }

    /// Where `-h ALL`, `-H ALL` or `-r ALL` moves the entries of this queue when nothing else
    /// applies: on a stopped queue (no live guard), without repairs, in a message queue the
    /// operation moves from. Such an entry, if readdir says it is a regular file with a queue
    /// ID for a name, needs no `lstat`: the rules come down to "it is moved".
    fn quick_move_target(&self, step: &WalkStep<'_>) -> Option<&'static str> {
        let queue = step.queue;
        if step.repair.any() || self.live.is_some() || !step.info.message_queue {
            return None;
        }
        match step.mass {
            Some(Operation::Hold) if queue != "maildrop" && queue != "hold" => Some("hold"),
            Some(Operation::Release) if queue == "hold" => Some("deferred"),
            Some(Operation::Requeue) if queue != "maildrop" => Some("maildrop"),
            _ => None,
        }
    }

    /// The rules of spec §1.6 point 3, in order, for one directory entry.
    fn walk_entry(
        &mut self,
        step: &WalkStep<'_>,
        directory: &[u8],
        mut name: Vec<u8>,
    ) -> Result<(), Fatal> {
        if self.visited % LOCK_REFRESH_STEP == 0 {
            self.refresh_live();
        }
        self.visited += 1;
        if self.visited % PROGRESS_STEP == 0 {
            (self.notify)(Notice::Progress(self.visited));
        }
        let queue = step.queue;
        let message_queue = step.info.message_queue;
        let mut actual_path = join(directory, &name);
        let Ok(metadata) = std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(&actual_path))
        else {
            return Ok(());
        };
        let ready = metadata.mode() & 0o700 == READY;
        // 1. Alien directories go, if they can.
        if metadata.file_type().is_dir() {
            if let Err(error) = std::fs::remove_dir(std::ffi::OsStr::from_bytes(&actual_path)) {
                if error.raw_os_error() != Some(libc::ENOENT) {
                    self.warn(format!(
                        "remove subdirectory {}: {}",
                        show(&actual_path),
                        strerror(&error)
                    ));
                }
            }
            return Ok(());
        }
        // 2. -d ALL removes everything it meets: see `run_batch`, which takes its entries.
        // 3. Non-files always go; stale temporary files go with -p.
        if !metadata.file_type().is_file()
            || (step.repair.purge
                && message_queue
                && !ready
                && self.now > metadata.mtime() + MAX_TEMP_AGE)
        {
            self.remove(&actual_path)?;
            return Ok(());
        }
        // 4. Finish an interrupted inode repair: strip `#FIX`.
        if step.repair.structure && name.len() > FIX_SUFFIX.len() && name.ends_with(FIX_SUFFIX) {
            let stripped = name[..name.len() - FIX_SUFFIX.len()].to_vec();
            if !is_valid_queue_id(&stripped) {
                self.warn(format!("bogus file name: {}", show(&actual_path)));
                return Ok(());
            }
            if message_queue {
                match inode_of_name(&stripped) {
                    None => {
                        self.warn(format!("bogus file name: {}", show(&actual_path)));
                        return Ok(());
                    }
                    Some((inode, _)) if inode != metadata.ino() => {
                        self.warn(format!("name/inode mismatch: {}", show(&actual_path)));
                        return Ok(());
                    }
                    Some(_) => {}
                }
            }
            let wanted = self.path(queue, &stripped);
            if !self.rename(&actual_path, &wanted)? {
                return Ok(());
            }
            if message_queue {
                self.counters.inode_fixed += 1;
            }
            actual_path = wanted;
            name = stripped;
        }
        // 5. Names that are not queue IDs are left alone (live temp files among them).
        if !is_valid_queue_id(&name) {
            self.warn(format!("bogus file name: {}", show(&actual_path)));
            return Ok(());
        }
        // 6. A name that does not match the inode is renamed to one that does.
        if step.repair.structure && message_queue {
            let Some((inode, long_name)) = inode_of_name(&name) else {
                self.warn(format!("bogus file name: {}", show(&actual_path)));
                return Ok(());
            };
            if (long_name && !self.long_ids)
                || (inode != metadata.ino() && (!long_name || step.repair.redundant))
            {
                self.counters.inode_mismatch += 1;
                self.fix_queue_id(&actual_path, queue, &name, &metadata)?;
                return Ok(());
            }
        }
        // 7. -r ALL: into maildrop, mtime kept.
        if step.mass == Some(Operation::Requeue) && message_queue && queue != "maildrop" {
            if !self.guard(queue, &actual_path, &metadata, Operation::Requeue) {
                return Ok(());
            }
            let wanted = self.path("maildrop", &name);
            if self.rename(&actual_path, &wanted)? {
                self.counters.requeued += 1;
            }
            return Ok(());
        }
        // 8. -e ALL / -f ALL: expire in place, and go on (for -f's release).
        if matches!(
            step.mass,
            Some(Operation::Expire | Operation::ExpireRelease)
        ) && message_queue
            && ready
            && queue != "maildrop"
            && self.expire(&actual_path)?
        {
            self.counters.expired += 1;
        }
        // 9. -h ALL.
        if step.mass == Some(Operation::Hold)
            && message_queue
            && queue != "maildrop"
            && queue != "hold"
        {
            if !self.guard(queue, &actual_path, &metadata, Operation::Hold) {
                return Ok(());
            }
            let wanted = self.path("hold", &name);
            if self.rename(&actual_path, &wanted)? {
                self.counters.held += 1;
            }
            return Ok(());
        }
        // 10. -H ALL / -f ALL: out of hold into deferred.
        if matches!(
            step.mass,
            Some(Operation::Release | Operation::ExpireRelease)
        ) && queue == "hold"
        {
            if !self.guard(queue, &actual_path, &metadata, Operation::Release) {
                return Ok(());
            }
            let wanted = self.path("deferred", &name);
            if self.rename(&actual_path, &wanted)? {
                self.counters.released += 1;
            }
            return Ok(());
        }
        // 11. A file at the wrong hash level moves to the right one.
        if step.repair.structure {
            let wanted = self.path(queue, &name);
            if wanted != actual_path {
                self.counters.position_mismatch += 1;
                self.rename(&actual_path, &wanted)?;
            }
        }
        Ok(())
    }

    /// `fix_queue_id`: a new ID from the old time digits and the real inode; logs first, then
    /// the message, each to `NEWID#FIX` so an interrupted run can be finished.
    fn fix_queue_id(
        &mut self,
        actual_path: &[u8],
        queue: &str,
        id: &[u8],
        metadata: &Metadata,
    ) -> Result<(), Fatal> {
        let inode = metadata.ino();
        let new_id: Vec<u8> = match long_separator(id) {
            None => {
                let mut new_id = id[..id.len().min(5)].to_vec();
                new_id.extend_from_slice(format!("{inode:X}").as_bytes());
                new_id
            }
            Some(separator) if self.long_ids => {
                let mut new_id = id[..separator].to_vec();
                new_id.push(b'z');
                new_id.extend_from_slice(&encode_base(inode, 51));
                new_id
            }
            Some(_) => {
                let mut new_id = hash_key(id);
                new_id.extend_from_slice(format!("{inode:X}").as_bytes());
                new_id
            }
        };
        for log_queue in LOG_QUEUES {
            let old_path = self.path(log_queue, id);
            let mut new_path = self.path(log_queue, &new_id);
            new_path.extend_from_slice(FIX_SUFFIX);
            self.rename(&old_path, &new_path)?;
        }
        let mut new_path = self.path(queue, &new_id);
        new_path.extend_from_slice(FIX_SUFFIX);
        self.rename(actual_path, &new_path)?;
        Ok(())
    }
}

/// What the live guard and the counters need to know about a file.
#[derive(Debug, Clone, Copy)]
struct FileId {
    device: u64,
    inode: u64,
    mode: u32,
}

impl FileId {
    fn of(metadata: &Metadata) -> Self {
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            mode: metadata.mode(),
        }
    }
}

/// `lstat` of a name in an open directory.
fn stat_at(directory: libc::c_int, name: &[u8]) -> io::Result<FileId> {
    let name = c_path(name)?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a valid descriptor (or AT_FDCWD), a C string, and room for the result.
    let result = unsafe {
        libc::fstatat(
            directory,
            name.as_ptr(),
            stat.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so the buffer is filled in.
    let stat = unsafe { stat.assume_init() };
    Ok(FileId {
        device: stat.st_dev,
        inode: stat.st_ino,
        mode: stat.st_mode,
    })
}

fn unlink_at(directory: libc::c_int, name: &[u8], flags: libc::c_int) -> io::Result<()> {
    let name = c_path(name)?;
    // SAFETY: a valid descriptor and C string.
    if unsafe { libc::unlinkat(directory, name.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// What moving one entry (`-h`/`-H`/`-r ALL` on a stopped queue) did.
enum Moved {
    Done,
    /// Done, by `sane_rename`'s work-around, which says so.
    DoneWithInfo(String),
    /// The source was gone: a lost race, not counted.
    Gone,
    Warning(String),
    Fatal(Fatal),
}

/// `postrename` (with `sane_rename` and the no-replace rule) for an entry of an open
/// directory, as [`Maintenance::rename`] does it by path.
fn move_entry(directory: libc::c_int, directory_path: &[u8], name: &[u8], target: &[u8]) -> Moved {
    let source = join(directory_path, name);
    let attempt = || -> io::Result<()> {
        let old = c_path(name)?;
        let new = c_path(target)?;
        // SAFETY: valid descriptors and C strings.
        let result = unsafe {
            libc::renameat2(
                directory,
                old.as_ptr(),
                libc::AT_FDCWD,
                new.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            let error = io::Error::last_os_error();
            if matches!(error.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
                // No RENAME_NOREPLACE here: the path-based fallback.
                return rename_noreplace(&source, target);
            }
            Err(error)
        }
    };
    let sane = |result: io::Result<()>| -> Result<Option<String>, io::Error> {
        match result {
            Ok(()) => Ok(None),
            Err(error) => {
                let exists =
                    |path: &[u8]| std::fs::metadata(std::ffi::OsStr::from_bytes(path)).is_ok();
                if !exists(&source) && exists(target) {
                    Ok(Some(format!(
                        "sane_rename({},{}): worked around spurious NFS error",
                        show(&source),
                        show(target)
                    )))
                } else {
                    Err(error)
                }
            }
        }
    };
    let fatal = |error: &io::Error| {
        Moved::Fatal(Fatal(format!(
            "rename file {} as {}: {}",
            show(&source),
            show(target),
            strerror(error)
        )))
    };
    let mut result = sane(attempt());
    if let Err(error) = &result {
        if error.raw_os_error() == Some(libc::ENOENT) {
            if let Err(error) = make_parent_dirs(target) {
                if error.raw_os_error() == Some(libc::ENOENT) {
                    return Moved::Gone;
                }
                return fatal(&error);
            }
            result = sane(attempt());
        }
    }
    match result {
        Ok(None) => Moved::Done,
        Ok(Some(info)) => Moved::DoneWithInfo(info),
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Moved::Gone,
        Err(error) if error.raw_os_error() == Some(libc::EEXIST) => Moved::Warning(format!(
            "{}: not renamed: {} already exists",
            show(&source),
            show(target)
        )),
        Err(error) => fatal(&error),
    }
}

/// Entries collected before a batch is run, so memory stays flat in huge directories.
const BATCH_LIMIT: usize = 4096;

/// Entries in a run before a batch is spread over threads.
const PARALLEL_BATCH_MIN: usize = 64;

/// What `-d ALL` did with one entry.
enum Deletion {
    /// A complete message file was removed.
    Counted,
    /// Removed (not a message), or already gone.
    Quiet,
    Warning(String),
    LeftAlone(String),
    Fatal(Fatal),
}

/// `-d ALL` for one entry (spec §1.6 rules 1-2): directories are rmdir'ed, everything else
/// unlinked; complete message files count.
fn delete_entry(
    directory: libc::c_int,
    directory_path: &[u8],
    name: &[u8],
    queue: &str,
    message_queue: bool,
    live: Option<&LiveQueue>,
) -> Deletion {
    let path = || join(directory_path, name);
    let Ok(file) = stat_at(directory, name) else {
        return Deletion::Quiet;
    };
    if file.mode & libc::S_IFMT == libc::S_IFDIR {
        return match unlink_at(directory, name, libc::AT_REMOVEDIR) {
            Err(error) if error.raw_os_error() != Some(libc::ENOENT) => Deletion::Warning(format!(
                "remove subdirectory {}: {}",
                show(&path()),
                strerror(&error)
            )),
            _ => Deletion::Quiet,
        };
    }
    if message_queue {
        if let Some(warning) = leave_alone(live, queue, &path(), &file, Operation::Delete) {
            return Deletion::LeftAlone(warning);
        }
    }
    match unlink_at(directory, name, 0) {
        Ok(()) if message_queue && file.mode & 0o700 == READY => Deletion::Counted,
        Ok(()) => Deletion::Quiet,
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Deletion::Quiet,
        Err(error) => Deletion::Fatal(Fatal(format!(
            "remove file {}: {}",
            show(&path()),
            strerror(&error)
        ))),
    }
}

/// The live-queue guard (see [`LiveQueue`]): why a message file must be left alone, if so.
fn leave_alone(
    live: Option<&LiveQueue>,
    queue: &str,
    path: &[u8],
    file: &FileId,
    operation: Operation,
) -> Option<String> {
    let live = live?;
    let why = if file.mode & 0o700 != READY {
        // cleanup or postdrop is still writing it: deleting or moving it can lose a message
        // whose client is then told it was queued.
        "still being written"
    } else if matches!(operation, Operation::Delete | Operation::Requeue) && live.in_delivery(file)
    {
        // A delivery agent holds it (in any queue: qmgr puts a message it finds locked back
        // into incoming): the delivery completes whatever we do, so a requeue would deliver it
        // twice and a deletion would be a false report.
        "being delivered"
    } else if queue == "active" && matches!(operation, Operation::Hold | Operation::Requeue) {
        // qmgr has every active message in memory and delivers from that copy; moved out and
        // back in (hold, release, flush) it would be loaded a second time and delivered twice.
        "in the queue manager's hands"
    } else {
        return None;
    };
    Some(format!("{}: {why}, left alone", show(path)))
}

struct WalkStep<'q> {
    queue: &'q str,
    info: QueueInfo,
    wanted_depth: usize,
    repair: Repair,
    mass: Option<Operation>,
}

/// `MQID_GET_INUM`: the inode a queue file name claims, and whether the name is long.
/// Short names: `strtoul` of everything after the 5 time digits, in hex (which also takes a
/// `0x` prefix, as the C library does); long names: base 51 after the `z`.
pub fn inode_of_name(name: &[u8]) -> Option<(u64, bool)> {
    match long_separator(name) {
        Some(separator) => {
            let digits = &name[separator + 1..];
            let mut value: u64 = 0;
            for &symbol in digits {
                let digit = LONG_ID_ALPHABET.iter().position(|&a| a == symbol)? as u64;
                if digit >= 51 {
                    return None;
                }
                value = value.checked_mul(51)?.checked_add(digit)?;
            }
            Some((value, true))
        }
        None => {
            let mut digits = name.get(5..).unwrap_or_default();
            if digits.len() > 2
                && digits[0] == b'0'
                && (digits[1] | 0x20) == b'x'
                && digits[2].is_ascii_hexdigit()
            {
                digits = &digits[2..];
            }
            let mut value: u64 = 0;
            for &symbol in digits {
                let digit = (symbol as char).to_digit(16)? as u64;
                value = value.checked_mul(16)?.checked_add(digit)?;
            }
            Some((value, false))
        }
    }
}

fn long_separator(name: &[u8]) -> Option<usize> {
    name.iter().rposition(|&b| b == b'z').filter(|&at| at >= 10)
}

fn encode_base(mut value: u64, base: u64) -> Vec<u8> {
    let mut digits = Vec::new();
    while value > 0 || digits.is_empty() {
        digits.push(LONG_ID_ALPHABET[(value % base) as usize]);
        value /= base;
    }
    digits.reverse();
    digits
}

fn join(directory: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(directory.len() + name.len() + 1);
    path.extend_from_slice(directory);
    path.push(b'/');
    path.extend_from_slice(name);
    path
}

/// A path or name as Postfix prints it (its bytes; invalid UTF-8 replaced for display).
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn c_path(path: &[u8]) -> io::Result<CString> {
    CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn unlink(path: &[u8]) -> io::Result<()> {
    let path = c_path(path)?;
    // SAFETY: a valid C string.
    if unsafe { libc::unlink(path.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// rename(2) that fails with EEXIST instead of replacing the target.
fn rename_noreplace(old: &[u8], new: &[u8]) -> io::Result<()> {
    let old_c = c_path(old)?;
    let new_c = c_path(new)?;
    // SAFETY: valid C strings; AT_FDCWD resolves them like rename(2).
    let result = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            old_c.as_ptr(),
            libc::AT_FDCWD,
            new_c.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if result == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if !matches!(error.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
        return Err(error);
    }
    // A file system without RENAME_NOREPLACE: look first, then rename.
    if std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(new)).is_ok() {
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    std::fs::rename(
        std::ffi::OsStr::from_bytes(old),
        std::ffi::OsStr::from_bytes(new),
    )
}

/// `mail_queue_mkdirs`: the directories above `path`, mode 0700.
fn make_parent_dirs(path: &[u8]) -> io::Result<()> {
    let Some(slash) = path.iter().rposition(|&b| b == b'/') else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(std::ffi::OsStr::from_bytes(&path[..slash]))
}

fn touch_now(path: &[u8]) -> io::Result<()> {
    let path = c_path(path)?;
    // SAFETY: a valid C string; a null times pointer means "now".
    if unsafe { libc::utimes(path.as_ptr(), std::ptr::null()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

enum SafeOpenError {
    Gone,
    Refused(String),
}

/// `safe_open` of an existing file for writing: no symlink, exactly one link, the same file
/// by `lstat` as by `fstat`.
fn safe_open_existing(path: &[u8]) -> Result<std::fs::File, SafeOpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    let os_path = std::ffi::OsStr::from_bytes(path);
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(os_path)
    {
        Ok(file) => file,
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => {
            return Err(SafeOpenError::Gone)
        }
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(SafeOpenError::Refused("file is a symbolic link".into()))
        }
        Err(error) => {
            return Err(SafeOpenError::Refused(format!(
                "cannot open file: {}",
                strerror(&error)
            )))
        }
    };
    let opened = file.metadata().map_err(|error| {
        SafeOpenError::Refused(format!("cannot open file: {}", strerror(&error)))
    })?;
    if opened.nlink() != 1 {
        return Err(SafeOpenError::Refused(format!(
            "file has {} hard links",
            opened.nlink()
        )));
    }
    if opened.file_type().is_dir() {
        return Err(SafeOpenError::Refused("file is a directory".into()));
    }
    match std::fs::symlink_metadata(os_path) {
        Err(error) => Err(SafeOpenError::Refused(format!(
            "file status changed unexpectedly: {}",
            strerror(&error)
        ))),
        Ok(now)
            if now.dev() != opened.dev()
                || now.ino() != opened.ino()
                || now.nlink() != opened.nlink()
                || now.mode() != opened.mode() =>
        {
            Err(SafeOpenError::Refused(
                "file status changed unexpectedly".into(),
            ))
        }
        Ok(_) => Ok(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_of_short_and_long_names() {
        assert_eq!(inode_of_name(b"12345996069"), Some((0x996069, false)));
        assert_eq!(inode_of_name(b"12345"), Some((0, false)));
        assert_eq!(inode_of_name(b"123450x1F"), Some((0x1F, false)));
        assert_eq!(inode_of_name(b"12345G"), None);
        assert_eq!(inode_of_name(b"4jcwSV5FMMz1SRl7"), Some((10010644, true)));
        assert_eq!(inode_of_name(b"4jcwSV5FMMz1SR_7"), None);
        // The last `z` is the separator, even at the very end: an empty inode reads as 0.
        assert_eq!(inode_of_name(b"4jcwSV5FMMz1SRlz"), Some((0, true)));
    }

    #[test]
    fn proc_locks_lines() {
        let text = "1: FLOCK  ADVISORY  READ  4242 08:01:1234 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 77 08:01:99 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 5 fd:00:7 0 EOF\n";
        let locked = parse_proc_locks(text);
        assert!(locked.contains(&(libc::makedev(8, 1), 1234)));
        assert!(locked.contains(&(libc::makedev(0xfd, 0), 7)));
        assert!(!locked.contains(&(libc::makedev(8, 1), 99)));
        assert_eq!(locked.len(), 2);
    }

    #[test]
    fn operations_search_the_documented_queues() {
        assert!(Operation::Delete.searches("maildrop"));
        assert!(!Operation::Requeue.searches("maildrop"));
        assert!(!Operation::Hold.searches("hold"));
        assert!(Operation::Hold.searches("active"));
        assert!(Operation::Release.searches("hold"));
        assert!(!Operation::Release.searches("deferred"));
    }
}
