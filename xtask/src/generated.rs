//! Files generated from the tools' clap `Command`s and committed (man pages, completions):
//! writing them, and `--check`, which regenerates them in memory and fails when a committed
//! file differs, so CI notices when someone changes an option and forgets to regenerate.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};

/// One generated file: its path relative to the workspace root, and its bytes.
#[derive(Debug)]
pub struct Generated {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The four tools, each with the `Command` that describes its command line.
pub fn tools() -> [(&'static str, clap::Command); 4] {
    [
        ("postqueue", pq_postqueue::command()),
        ("mailq", pq_mailq::command()),
        ("postsuper", pq_postsuper::command()),
        ("qshape", pq_qshape::command()),
    ]
}

/// `[--check]`: whether to check instead of write.
pub fn parse_check(task: &str, args: &[String]) -> Result<bool> {
    match args {
        [] => Ok(false),
        [flag] if flag == "--check" => Ok(true),
        _ => bail!("usage: cargo xtask {task} [--check] (got {args:?})"),
    }
}

/// The files that differ from what is committed (missing files included).
pub fn stale(files: &[Generated]) -> Result<Vec<&Generated>> {
    let root = crate::workspace_root();
    let mut stale = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        match std::fs::read(&path) {
            Ok(bytes) if bytes == file.bytes => {}
            Ok(_) => stale.push(file),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => stale.push(file),
            Err(error) => {
                return Err(error).with_context(|| format!("read {}", path.display()));
            }
        }
    }
    Ok(stale)
}

/// Writes the files that changed, or with `check` reports each stale one and fails.
pub fn sync(task: &str, files: &[Generated], check: bool) -> Result<ExitCode> {
    let root = crate::workspace_root();
    let stale = stale(files)?;
    if check {
        if stale.is_empty() {
            println!("{task}: {} files up to date", files.len());
            return Ok(ExitCode::SUCCESS);
        }
        for file in &stale {
            if root.join(&file.path).exists() {
                eprintln!(
                    "xtask: {} is stale (it differs from what `cargo xtask {task}` generates); \
run `cargo xtask {task}` and commit the result",
                    file.path
                );
            } else {
                eprintln!(
                    "xtask: {} is missing; run `cargo xtask {task}` and commit the result",
                    file.path
                );
            }
        }
        return Ok(ExitCode::FAILURE);
    }
    for file in &stale {
        let path = root.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create {}", parent.display()))?;
        }
        std::fs::write(&path, &file.bytes).with_context(|| format!("write {}", path.display()))?;
        println!("{task}: wrote {}", file.path);
    }
    println!("{task}: {} files, {} rewritten", files.len(), stale.len());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_consistent() {
        for (name, command) in tools() {
            assert_eq!(command.get_name(), name);
            // clap's own checks (duplicate letters, bad value ranges...).
            command.debug_assert();
        }
    }

    #[test]
    fn check_is_the_only_argument() {
        assert!(!parse_check("man", &[]).expect("no arguments"));
        assert!(parse_check("man", &["--check".to_string()]).expect("--check"));
        assert!(parse_check("man", &["--write".to_string()]).is_err());
    }
}
