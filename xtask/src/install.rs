//! `cargo xtask install [--prefix DIR] [--group GROUP] [--no-setgid]`: builds the tools in
//! release mode and installs them the way Postfix installs its own postqueue: owned by root,
//! group `setgid_group` (postdrop), mode 2555, so that ordinary users reach `public/showq` and
//! `public/flush` through the group, exactly like Postfix's binary. mailq runs postqueue
//! in-process, so it gets the same bits.
//!
//! The default prefix is /usr/local (sbin/postqueue, bin/mailq), which does not shadow the
//! postfix package's /usr/sbin/postqueue and /usr/bin/mailq unless the admin puts it first in
//! PATH on purpose.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Where each tool goes under the prefix, as Debian places Postfix's.
const TOOLS: &[(&str, &str)] = &[("postqueue", "sbin"), ("mailq", "bin")];
/// Root-only tools: installed 0755 root:root, like Postfix's postsuper (no set-id bits; it
/// refuses to run set-uid anyway).
const ROOT_TOOLS: &[(&str, &str)] = &[("postsuper", "sbin"), ("qshape", "sbin")];
/// root, group postdrop, set-gid, read and execute for all: Postfix's postqueue mode.
const SETGID_MODE: u32 = 0o2555;

struct Options {
    prefix: PathBuf,
    group: String,
    setgid: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        prefix: PathBuf::from("/usr/local"),
        group: "postdrop".into(),
        setgid: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--prefix" => options.prefix = PathBuf::from(args.next().context("--prefix needs a directory")?),
            "--group" => options.group = args.next().context("--group needs a group name")?.clone(),
            "--no-setgid" => options.setgid = false,
            other => bail!("install: unknown option {other:?} (usage: cargo xtask install [--prefix DIR] [--group GROUP] [--no-setgid])"),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let release = crate::process::build_release()?;
    let gid = if options.setgid {
        Some(group_id(&options.group)?)
    } else {
        None
    };
    for (tool, directory) in TOOLS {
        let target_directory = options.prefix.join(directory);
        std::fs::create_dir_all(&target_directory)
            .with_context(|| format!("create {}", target_directory.display()))?;
        let target = target_directory.join(tool);
        install_file(&release.join(tool), &target, gid)?;
        println!(
            "install: {} ({})",
            target.display(),
            if gid.is_some() {
                format!("root:{} 2555", options.group)
            } else {
                "0755".into()
            }
        );
    }
    for (tool, directory) in ROOT_TOOLS {
        let target = options.prefix.join(directory).join(tool);
        install_file(&release.join(tool), &target, None)?;
        println!("install: {} (0755)", target.display());
    }
    if !options.setgid {
        println!("install: not set-gid: only root and the mail owner can list the queue with these copies");
    }
    Ok(())
}

/// Copies through a temporary name and renames, so a running copy is never overwritten in
/// place; ownership and mode are set before the rename, so the set-gid bit is never on a file
/// whose content is still being written.
fn install_file(source: &Path, target: &Path, gid: Option<u32>) -> Result<()> {
    let temporary = target.with_extension("xtask-new");
    std::fs::copy(source, &temporary)
        .with_context(|| format!("copy {} to {}", source.display(), temporary.display()))?;
    match gid {
        Some(gid) => {
            std::os::unix::fs::chown(&temporary, Some(0), Some(gid)).with_context(|| {
                format!("chown root:{gid} {} (run as root)", temporary.display())
            })?;
            std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(SETGID_MODE))?;
        }
        None => std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755))?,
    }
    std::fs::rename(&temporary, target)
        .with_context(|| format!("rename to {}", target.display()))?;
    Ok(())
}

fn group_id(name: &str) -> Result<u32> {
    let c_name = CString::new(name)?;
    // SAFETY: getgrnam returns a pointer into static storage or null; we copy the gid at once.
    let entry = unsafe { libc::getgrnam(c_name.as_ptr()) };
    if entry.is_null() {
        bail!("group {name:?} does not exist (is Postfix installed? its setgid_group is usually postdrop)");
    }
    // SAFETY: non-null pointer returned by getgrnam.
    Ok(unsafe { (*entry).gr_gid })
}
