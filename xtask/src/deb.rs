//! `cargo xtask deb [CARGO-DEB OPTIONS]`: the Debian package, with cargo-deb, from
//! `[package.metadata.deb]` in the root Cargo.toml.
//!
//! It first (re)generates the man pages and shell completions the package ships (`cargo xtask
//! man`, `cargo xtask completions`) when this xtask has those commands. When some generated
//! file is still missing, it builds the `without-generated` variant (the same package without
//! man pages and completions) and says so, rather than failing.
//!
//! The package installs beside Postfix, never over it: everything under
//! /usr/lib/postfix-queue-tools, opted into with PATH (README.md, Install).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::process::cargo;

/// The root package, which holds the four binaries and the deb metadata.
pub const PACKAGE: &str = "postfix-queue-tools";
/// The tools the package ships, each with a man page and three completions.
pub const TOOLS: &[&str] = &["postqueue", "mailq", "postsuper", "qshape"];
/// `[package.metadata.deb.variants.*]` without the generated files.
pub const VARIANT_WITHOUT_GENERATED: &str = "without-generated";
/// xtask commands that write the generated files, in order.
const GENERATORS: &[&str] = &["man", "completions"];

pub const USAGE: &str = "\
usage: cargo xtask deb [CARGO-DEB OPTIONS]

Generates the man pages and completions (cargo xtask man / completions, when present), then
runs `cargo deb --package postfix-queue-tools` with the options given (e.g. --output DIR,
--install, --no-build). Needs cargo-deb: cargo install cargo-deb.";

/// The generated files the full package ships, relative to the workspace root.
pub fn generated_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for tool in TOOLS {
        files.push(PathBuf::from(format!("man/{tool}.1")));
        files.push(PathBuf::from(format!("completions/{tool}.bash")));
        files.push(PathBuf::from(format!("completions/_{tool}")));
        files.push(PathBuf::from(format!("completions/{tool}.fish")));
    }
    files
}

/// Those of [`generated_files`] that do not exist under `root`.
pub fn missing_generated_files(root: &Path) -> Vec<PathBuf> {
    generated_files()
        .into_iter()
        .filter(|file| !root.join(file).is_file())
        .collect()
}

/// Whether `cargo deb` runs.
pub fn cargo_deb_available() -> bool {
    cargo()
        .args(["deb", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

pub fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    if !cargo_deb_available() {
        bail!("cargo-deb is not installed (cargo install cargo-deb)");
    }
    let root = crate::workspace_root();
    for generator in GENERATORS {
        generate(generator)?;
    }
    let missing = missing_generated_files(&root);
    let mut command = cargo();
    command.args(["deb", "--package", PACKAGE]);
    if !missing.is_empty() {
        let names: Vec<String> = missing
            .iter()
            .map(|file| file.display().to_string())
            .collect();
        eprintln!(
            "xtask: warning: building the package without man pages and completions \
             (variant {VARIANT_WITHOUT_GENERATED}): missing {}",
            names.join(", ")
        );
        command.args(["--variant", VARIANT_WITHOUT_GENERATED]);
    }
    command.args(args);
    println!("xtask deb: {}", describe(&command));
    let status = command.status().context("run cargo deb")?;
    if !status.success() {
        bail!("cargo deb failed ({status})");
    }
    Ok(())
}

/// Runs `cargo xtask GENERATOR` (this very binary) when this xtask has that command; one that
/// does not (an older checkout) is skipped with a note.
fn generate(generator: &str) -> Result<()> {
    let exe = std::env::current_exe().context("find the xtask executable")?;
    let output = Command::new(&exe)
        .arg(generator)
        .current_dir(crate::workspace_root())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run xtask {generator}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains(&format!("unknown command {generator:?}")) {
        println!("xtask deb: no `cargo xtask {generator}` here; using the files already present");
        return Ok(());
    }
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{stderr}");
    if !output.status.success() {
        bail!("cargo xtask {generator} failed ({})", output.status);
    }
    Ok(())
}

fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned()),
    );
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `["source", "destination", "mode"]` lines of the assets list after `header`.
    fn assets_after(manifest: &str, header: &str) -> Vec<String> {
        let Some(start) = manifest.find(header) else {
            return Vec::new();
        };
        let section = &manifest[start..];
        let Some(list) = section.find("assets = [") else {
            return Vec::new();
        };
        section[list..]
            .lines()
            .skip(1)
            .map(str::trim)
            .take_while(|line| *line != "]")
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_tool_has_a_man_page_and_three_completions() {
        let files = generated_files();
        assert_eq!(files.len(), TOOLS.len() * 4);
        assert!(files.contains(&PathBuf::from("man/postqueue.1")));
        assert!(files.contains(&PathBuf::from("completions/_qshape")));
        assert!(files.contains(&PathBuf::from("completions/mailq.fish")));
        assert!(files.contains(&PathBuf::from("completions/postsuper.bash")));
    }

    #[test]
    fn missing_files_are_listed() -> Result<()> {
        let root = std::env::temp_dir().join(format!("xtask-deb-{}", std::process::id()));
        std::fs::create_dir_all(root.join("man"))?;
        std::fs::write(root.join("man/postqueue.1"), ".TH POSTQUEUE 1\n")?;
        let missing = missing_generated_files(&root);
        std::fs::remove_dir_all(&root)?;
        assert_eq!(missing.len(), generated_files().len() - 1);
        assert!(!missing.contains(&PathBuf::from("man/postqueue.1")));
        Ok(())
    }

    /// The variant is the full package less the generated files: the two lists must not drift.
    #[test]
    fn variant_is_the_package_without_generated_files() -> Result<()> {
        let manifest = std::fs::read_to_string(crate::workspace_root().join("Cargo.toml"))?;
        let full = assets_after(&manifest, "[package.metadata.deb]");
        let variant = assets_after(
            &manifest,
            &format!("[package.metadata.deb.variants.{VARIANT_WITHOUT_GENERATED}]"),
        );
        assert!(!full.is_empty(), "no assets in [package.metadata.deb]");
        let expected: Vec<String> = full
            .iter()
            .filter(|line| !line.starts_with("[\"man/") && !line.starts_with("[\"completions/"))
            .cloned()
            .collect();
        assert_eq!(variant, expected);
        for tool in TOOLS {
            assert!(
                full.iter()
                    .any(|line| line.starts_with(&format!("[\"target/release/{tool}\""))),
                "{tool} is not packaged"
            );
        }
        Ok(())
    }
}
