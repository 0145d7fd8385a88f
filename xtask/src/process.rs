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
