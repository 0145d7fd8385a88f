//! Running other programs from xtask: cargo steps with their output passed through, and timed
//! children whose own peak RSS comes from wait4(2).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The cargo that runs us (cargo sets `CARGO`), so nested builds use the same toolchain.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(crate::workspace_root());
    command
}

/// Builds the root package's binaries in release mode and returns target/release.
pub fn build_release() -> Result<PathBuf> {
    let status = cargo()
        .args([
            "build",
            "--release",
            "--package",
            "postfix-queue-tools",
            "--bins",
        ])
        .status()
        .context("run cargo build --release")?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    Ok(target_directory().join("release"))
}

/// The workspace's target directory (CARGO_TARGET_DIR is honoured, as cargo honours it).
pub fn target_directory() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(directory) => {
            let directory = PathBuf::from(directory);
            if directory.is_absolute() {
                directory
            } else {
                crate::workspace_root().join(directory)
            }
        }
        None => crate::workspace_root().join("target"),
    }
}

/// One finished child: how long it ran, its exit status and its own peak RSS.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    pub status: ExitStatus,
    /// ru_maxrss of this child alone, in KiB.
    pub max_rss_kib: i64,
}

/// Runs `command` to completion, timing it from spawn to reap.
pub fn run_measured(command: &mut Command) -> Result<Measured> {
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("start {:?}", command.get_program()))?;
    let pid = libc::pid_t::try_from(child.id()).context("child pid out of range")?;
    let mut status = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value that wait4 overwrites.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; status and usage point to live locals. The
        // std Child handle is dropped afterwards without waiting, so nobody reaps it twice.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error).context("wait4");
        }
    }
    let wall = started.elapsed();
    drop(child);
    Ok(Measured {
        wall,
        status: ExitStatus::from_raw(status),
        max_rss_kib: usage.ru_maxrss,
    })
}

/// The peak RSS of this process's own address space so far (VmHWM, KiB): what a child started
/// with vfork inherits into its ru_maxrss when it execs. (ru_maxrss of this process would be
/// larger: it carries cargo's, inherited the same way.)
pub fn own_max_rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU use of the whole machine, of its kernel threads and of this process (with its reaped
/// children) at one moment, to tell afterwards how much CPU other processes took meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    at: Instant,
    /// user + nice + system + irq + softirq of all CPUs, in seconds (/proc/stat).
    busy: f64,
    /// steal: time the hypervisor gave this VM's CPUs to others.
    steal: f64,
    /// Kernel threads (children of kthreadd): writeback, discard and such, which our own I/O
    /// causes too.
    kernel: f64,
    /// user + system of this process and its reaped children.
    own: f64,
}

/// What other processes used between two snapshots, in average cores busy.
#[derive(Debug, Clone, Copy)]
pub struct OtherLoad {
    /// User-space processes other than this one and its children.
    pub processes: f64,
    pub kernel_threads: f64,
    pub steal: f64,
}

impl CpuSnapshot {
    pub fn now() -> Self {
        let (busy, steal) = machine_cpu_seconds().unwrap_or((0.0, 0.0));
        Self {
            at: Instant::now(),
            busy,
            steal,
            kernel: kernel_thread_seconds(),
            own: own_cpu_seconds(),
        }
    }

    pub fn others_since(&self) -> OtherLoad {
        let later = Self::now();
        let wall = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let kernel = later.kernel - self.kernel;
        let others = (later.busy - self.busy) - (later.own - self.own) - kernel;
        OtherLoad {
            processes: (others / wall).max(0.0),
            kernel_threads: (kernel / wall).max(0.0),
            steal: ((later.steal - self.steal) / wall).max(0.0),
        }
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    if hz > 0.0 {
        hz
    } else {
        100.0
    }
}

fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    let hz = clock_ticks_per_second();
    // user nice system idle iowait irq softirq steal ...
    let field = |index: usize| ticks.get(index).copied().unwrap_or(0.0);
    let busy = field(0) + field(1) + field(2) + field(5) + field(6);
    Some((busy / hz, field(7) / hz))
}

/// utime + stime of kthreadd and its children, in seconds.
fn kernel_thread_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut ticks = 0.0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ... utime stime": fields after the comm, from 3 on.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ppid: u32 = fields.get(1).and_then(|f| f.parse().ok()).unwrap_or(0);
        if pid != 2 && ppid != 2 {
            continue;
        }
        let field = |index: usize| {
            fields
                .get(index)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15, i.e. 11 and 12 after the comm.
        ticks += field(11) + field(12);
    }
    ticks / clock_ticks_per_second()
}

fn own_cpu_seconds() -> f64 {
    let seconds = |who| {
        // SAFETY: rusage is plain old data; zeroed is a valid value that getrusage overwrites.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: usage points to a live local.
        if unsafe { libc::getrusage(who, &mut usage) } != 0 {
            return 0.0;
        }
        let time = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        time(usage.ru_utime) + time(usage.ru_stime)
    };
    seconds(libc::RUSAGE_SELF) + seconds(libc::RUSAGE_CHILDREN)
}

/// Output of a command, failing when it does not exit 0.
pub fn output_text(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("run {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            command.get_program(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether we run as root (installs and chown need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
