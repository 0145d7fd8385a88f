//! `cargo xtask test`: every check CI runs, in one command — rustfmt, clippy, the committed man
//! pages and completions against what `cargo xtask man`/`completions` generate (and the pages
//! through `mandoc -Tlint`), the whole test suite with real Postfix as the oracle — then
//! docs/compat.md from the compat tests' results.
//!
//! Every step runs even when an earlier one failed, so one run shows all problems; the exit
//! status is decided once at the end.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};

use crate::compat;
use crate::process::{self, cargo};

const POSTFIX: &str = "/usr/sbin/postfix";
/// Debian packages the compatibility tests drive: Postfix itself, libfaketime for pinned clocks,
/// mandoc for checking the man pages.
const PACKAGES: &[(&str, &str)] = &[
    ("postfix", POSTFIX),
    ("faketime", "/usr/bin/faketime"),
    ("mandoc", "/usr/bin/mandoc"),
    // promtool checks qshape's --format prometheus output.
    ("prometheus", "/usr/bin/promtool"),
];

/// The cargo-deb that `cargo xtask test` installs when it is missing.
const CARGO_DEB_VERSION: &str = "3.8.0";

struct Step {
    name: &'static str,
    ok: bool,
    note: String,
}

pub fn run(args: &[String]) -> Result<ExitCode> {
    if let Some(extra) = args.first() {
        anyhow::bail!("test takes no arguments (got {extra:?})");
    }
    let root = crate::workspace_root();
    let in_ci = std::env::var("CI").is_ok_and(|value| value == "true" || value == "1");
    let mut steps = Vec::new();

    heading("cargo fmt --all --check");
    let ok = cargo()
        .args(["fmt", "--all", "--check"])
        .status()?
        .success();
    steps.push(Step {
        name: "fmt",
        ok,
        note: if ok {
            String::new()
        } else {
            "run `cargo fmt --all`".into()
        },
    });

    heading("cargo clippy --workspace --all-targets -- -D warnings");
    let ok = cargo()
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        .status()?
        .success();
    steps.push(Step {
        name: "clippy",
        ok,
        note: String::new(),
    });

    heading("Postfix (the reference implementation)");
    let postfix = ensure_packages(in_ci);
    let reference = postfix_version().map_or_else(
        || "Postfix 3.7".to_string(),
        |version| format!("Postfix {version}"),
    );
    steps.push(postfix);

    heading("man pages and completions (cargo xtask man --check, completions --check)");
    steps.extend(generated_checks());

    heading("cargo-deb (tests/deb_package.rs builds the Debian package)");
    steps.push(ensure_cargo_deb(in_ci));

    let results = process::target_directory().join("compat/results.jsonl");
    if let Some(parent) = results.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::remove_file(&results) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).context("remove old compat results"),
    }

    heading("cargo test --workspace");
    let outcome = run_cargo_test(&results)?;
    steps.push(Step {
        name: "test",
        ok: outcome.success,
        note: format!(
            "{} passed, {} failed, {} ignored",
            outcome.passed, outcome.failed, outcome.ignored
        ),
    });

    let page = root.join("docs/compat.md");
    match compat::render_file(&results, &page, &reference) {
        Ok(totals) => steps.push(Step {
            name: "compat",
            ok: true,
            note: format!(
                "docs/compat.md: {} PASS, {} FAIL, {} SKIP (against {reference})",
                totals.pass, totals.fail, totals.skip
            ),
        }),
        Err(error) => steps.push(Step {
            name: "compat",
            ok: false,
            note: format!("{error:#}"),
        }),
    }

    // The README's other command: it must keep working on a fresh machine too.
    heading("cargo xtask demo (the README's first command)");
    let ok = Command::new(std::env::current_exe().context("locate xtask")?)
        .arg("demo")
        .status()
        .context("run xtask demo")?
        .success();
    steps.push(Step {
        name: "demo",
        ok,
        note: String::new(),
    });

    let all_ok = steps.iter().all(|step| step.ok);
    heading("xtask test: summary");
    for step in &steps {
        println!(
            "  {:<8} {:<7} {}",
            step.name,
            if step.ok { "ok" } else { "FAILED" },
            step.note
        );
    }
    // CI judges a run by its closing lines: end with cargo test's own summary, totalled over
    // every test binary (each one's line is printed above, as cargo printed it).
    println!("cargo test, all test binaries:");
    println!(
        "test result: {}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out",
        if outcome.success && outcome.failed == 0 {
            "ok"
        } else {
            "FAILED"
        },
        outcome.passed,
        outcome.failed,
        outcome.ignored,
        outcome.filtered
    );
    let _ = std::io::stdout().flush();
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The committed man pages and completions must be what the tools' commands generate now, and
/// the pages must pass `mandoc -Tlint` (warnings and worse) when mandoc is installed.
fn generated_checks() -> Vec<Step> {
    let mut steps = Vec::new();
    for (name, task, files) in [
        ("man", "man", crate::man::generate()),
        (
            "complete",
            "completions",
            Ok(crate::completions::generate()),
        ),
    ] {
        let step = match files.and_then(|files| crate::generated::sync(task, &files, true)) {
            Ok(code) if code == ExitCode::SUCCESS => Step {
                name,
                ok: true,
                note: String::new(),
            },
            Ok(_) => Step {
                name,
                ok: false,
                note: format!("stale files: run `cargo xtask {task}` and commit them"),
            },
            Err(error) => Step {
                name,
                ok: false,
                note: format!("{error:#}"),
            },
        };
        steps.push(step);
    }
    steps.push(mandoc_lint());
    steps
}

/// `mandoc -Tlint -W warning man/*.1` must print nothing.
fn mandoc_lint() -> Step {
    const MANDOC: &str = "/usr/bin/mandoc";
    let name = "mandoc";
    if !Path::new(MANDOC).exists() {
        println!("mandoc is not installed: the man pages are not linted");
        return Step {
            name,
            ok: true,
            note: "skipped (no mandoc)".into(),
        };
    }
    let root = crate::workspace_root();
    let mut pages: Vec<_> = std::fs::read_dir(root.join("man"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "1"))
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    let output = Command::new(MANDOC)
        .args(["-Tlint", "-W", "warning"])
        .args(&pages)
        .output();
    match output {
        Ok(output)
            if output.status.success() && output.stdout.is_empty() && output.stderr.is_empty() =>
        {
            println!("mandoc -Tlint: {} pages clean", pages.len());
            Step {
                name,
                ok: true,
                note: format!("{} pages clean", pages.len()),
            }
        }
        Ok(output) => {
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            Step {
                name,
                ok: false,
                note: "mandoc -Tlint -W warning man/*.1 complains".into(),
            }
        }
        Err(error) => Step {
            name,
            ok: false,
            note: format!("run mandoc: {error}"),
        },
    }
}

fn heading(title: &str) {
    println!("\n==== {title} ====");
    let _ = std::io::stdout().flush();
}

/// Installs what the compatibility tests need when we can (root on Debian), and says what
/// happens when we cannot: tests skip locally, but in CI a missing Postfix is a failure.
fn ensure_packages(in_ci: bool) -> Step {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(package, _)| *package)
        .collect();
    let debian = Path::new("/etc/debian_version").exists();
    if !missing.is_empty() && process::is_root() && debian {
        println!("installing {} with apt-get", missing.join(", "));
        if let Err(error) = apt_install(&missing) {
            eprintln!(
                "xtask: warning: installing {}: {error:#}",
                missing.join(", ")
            );
        }
    }
    if Path::new(POSTFIX).exists() {
        let version = postfix_version().unwrap_or_else(|| "unknown version".into());
        println!("found {POSTFIX} ({version})");
        return Step {
            name: "postfix",
            ok: true,
            note: format!("present ({version})"),
        };
    }
    let why = if !process::is_root() {
        "not root, so it cannot be installed here"
    } else if !debian {
        "not Debian, so xtask does not install it"
    } else {
        "apt-get install postfix failed"
    };
    println!();
    println!("################################################################################");
    println!("##  SKIPPED: Postfix is not installed ({why}).");
    println!("##  The compatibility tests against real Postfix will report SKIP.");
    println!("##  Run `cargo xtask test` as root on Debian (or `apt-get install postfix`).");
    println!("################################################################################");
    Step {
        name: "postfix",
        ok: !in_ci,
        note: if in_ci {
            format!("missing ({why}); CI=true requires it")
        } else {
            format!("missing ({why}); compat tests skipped")
        },
    }
}

/// cargo-deb, which the package test (tests/deb_package.rs) needs: installed with `cargo
/// install` when missing, but only as root or in CI, where the machine is ours to change (it
/// builds for minutes and writes to ~/.cargo/bin). Elsewhere the test skips; in CI it fails.
fn ensure_cargo_deb(in_ci: bool) -> Step {
    if crate::deb::cargo_deb_available() {
        println!("found cargo-deb");
        return Step {
            name: "cargo-deb",
            ok: true,
            note: "present".into(),
        };
    }
    if process::is_root() || in_ci {
        println!("installing cargo-deb {CARGO_DEB_VERSION} with cargo install");
        match cargo()
            .args([
                "install",
                "--locked",
                "--version",
                CARGO_DEB_VERSION,
                "cargo-deb",
            ])
            .stdin(Stdio::null())
            .status()
        {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("xtask: warning: cargo install cargo-deb failed ({status})"),
            Err(error) => eprintln!("xtask: warning: cargo install cargo-deb: {error}"),
        }
        if crate::deb::cargo_deb_available() {
            return Step {
                name: "cargo-deb",
                ok: true,
                note: format!("installed {CARGO_DEB_VERSION}"),
            };
        }
    }
    println!("cargo-deb is missing: the Debian package test will skip (cargo install cargo-deb)");
    Step {
        name: "cargo-deb",
        ok: !in_ci,
        note: if in_ci {
            "missing; CI=true requires it".into()
        } else {
            "missing; the package test skips".into()
        },
    }
}

fn apt_install(packages: &[&str]) -> Result<()> {
    // Answer debconf's postfix questions up front: a local-only mail system, nothing listening
    // on the network, so the install never stops to ask.
    if packages.contains(&"postfix") && Path::new("/usr/bin/debconf-set-selections").exists() {
        let mut child = Command::new("debconf-set-selections")
            .stdin(Stdio::piped())
            .spawn()
            .context("run debconf-set-selections")?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(
                b"postfix postfix/main_mailer_type select Local only\n\
                  postfix postfix/mailname string localhost\n",
            )?;
        }
        child.wait()?;
    }
    let status = Command::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("run apt-get update")?;
    if !status.success() {
        anyhow::bail!("apt-get update failed ({status})");
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("run apt-get install")?;
    if !status.success() {
        anyhow::bail!("apt-get install failed ({status})");
    }
    Ok(())
}

fn postfix_version() -> Option<String> {
    let output = Command::new("/usr/sbin/postconf")
        .args(["-d", "-h", "mail_version"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !version.is_empty()).then_some(version)
}

#[derive(Debug, Default)]
struct TestOutcome {
    success: bool,
    passed: u64,
    failed: u64,
    ignored: u64,
    filtered: u64,
}

/// Runs the suite with stdout streamed through (and its `test result:` lines counted).
fn run_cargo_test(results: &Path) -> Result<TestOutcome> {
    let mut child = cargo()
        .args(["test", "--workspace", "--no-fail-fast"])
        .env("PQT_COMPAT_RESULTS", results)
        .stdout(Stdio::piped())
        .spawn()
        .context("run cargo test")?;
    let mut outcome = TestOutcome::default();
    if let Some(stdout) = child.stdout.take() {
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stdout).split(b'\n') {
            let line = line.context("read cargo test output")?;
            out.write_all(&line)?;
            out.write_all(b"\n")?;
            let text = String::from_utf8_lossy(&line);
            if let Some(counts) = text.trim().strip_prefix("test result: ") {
                add_counts(&mut outcome, counts);
            }
        }
        out.flush()?;
    }
    outcome.success = child.wait()?.success();
    Ok(outcome)
}

/// Adds `ok. 5 passed; 1 failed; 2 ignored; 0 measured; 3 filtered out; finished in 0.01s`.
fn add_counts(outcome: &mut TestOutcome, counts: &str) {
    let counts = counts.split_once(". ").map_or(counts, |(_, rest)| rest);
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(number), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match label {
            "passed" => outcome.passed += number,
            "failed" => outcome.failed += number,
            "ignored" => outcome.ignored += number,
            "filtered" => outcome.filtered += number,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_summary_lines() {
        let mut outcome = TestOutcome::default();
        add_counts(
            &mut outcome,
            "ok. 5 passed; 1 failed; 2 ignored; 0 measured; 3 filtered out; finished in 0.01s",
        );
        add_counts(
            &mut outcome,
            "FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        assert_eq!(
            (
                outcome.passed,
                outcome.failed,
                outcome.ignored,
                outcome.filtered
            ),
            (6, 3, 2, 3)
        );
    }
}
