//! `cargo xtask demo`: one command that shows a newcomer the tools working, with no Postfix
//! installed and no root: a generated 10,000-message queue listed by our postqueue and mailq,
//! shaped by our qshape, and (as root, which postsuper requires) a postsuper dry run on it.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::gen::{self, GenOptions};
use crate::process;

const DEMO_MESSAGES: u64 = 10_000;

pub fn run(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("demo takes no arguments (got {extra:?})");
    }
    let demo = process::target_directory().join("demo");
    if demo.exists() {
        // The demo is disposable: a fresh queue every time keeps the output self-explanatory.
        std::fs::remove_dir_all(&demo).with_context(|| format!("remove {}", demo.display()))?;
    }
    banner(&format!(
        "1. Generating a {DEMO_MESSAGES}-message Postfix queue in {}",
        demo.display()
    ));
    let mut options = GenOptions::new(DEMO_MESSAGES, demo.clone());
    options.quiet = true;
    let summary = gen::generate(&options)?;
    println!("{}", summary.describe());
    let etc = demo.join("etc");

    banner("2. Building the tools (cargo build --release)");
    let bin = process::build_release()?;

    banner(&format!(
        "3. postqueue -c {} -p   (head and summary line)",
        etc.display()
    ));
    println!("(No Postfix is running for this queue, so postqueue warns \"Mail system is down\" and reads it directly, as the real one does.)\n");
    // gen-queue names the generating user as the queue's mail_owner when that is not root, so
    // the listing works without root: Postfix lets the mail owner read the queue directly.
    let listing = run_tool(&bin, "postqueue", &etc, &["-p"])?;
    let lines: Vec<&str> = listing.lines().collect();
    for line in lines.iter().take(24) {
        println!("{line}");
    }
    if lines.len() > 25 {
        println!("[... {} more lines ...]", lines.len() - 25);
    }
    if let Some(last) = lines.last() {
        println!("{last}");
    }

    banner(&format!(
        "4. postqueue -c {} -j   (first 3 of {} JSON lines)",
        etc.display(),
        summary.messages() - summary.incomplete
    ));
    let json = run_tool(&bin, "postqueue", &etc, &["-j"])?;
    for line in json.lines().take(3) {
        println!("{line}");
    }

    banner(&format!("5. MAIL_CONFIG={} mailq   (head)", etc.display()));
    let mailq = capture(Command::new(bin.join("mailq")).env("MAIL_CONFIG", &etc))?;
    for line in mailq.lines().take(12) {
        println!("{line}");
    }

    banner(&format!(
        "6. qshape -c {} deferred   (the ten biggest domains, by age in minutes)",
        etc.display()
    ));
    let shape = run_tool(&bin, "qshape", &etc, &["deferred"])?;
    for line in shape.lines().take(12) {
        println!("{line}");
    }

    banner(&format!(
        "7. postsuper -c {} --dry-run --older-than 2d -h ALL deferred   (first 5 IDs)",
        etc.display()
    ));
    // Like Postfix's, our postsuper is for the superuser only; the dry run changes nothing.
    // SAFETY: getuid has no preconditions and cannot fail.
    if unsafe { libc::getuid() } == 0 {
        let dry_run = run_tool(
            &bin,
            "postsuper",
            &etc,
            &["--dry-run", "--older-than", "2d", "-h", "ALL", "deferred"],
        )?;
        for line in dry_run.lines().take(5) {
            println!("{line}");
        }
    } else {
        println!("(postsuper is reserved for the superuser, as Postfix's is: run the demo as root to see this step.)");
    }

    banner("Done");
    println!("Try it yourself:");
    println!(
        "  {} -c {} -p | less",
        bin.join("postqueue").display(),
        etc.display()
    );
    println!(
        "  POSTQUEUE_THREADS=1 {} -c {} -j | head",
        bin.join("postqueue").display(),
        etc.display()
    );
    println!(
        "  {} -c {} --format prometheus deferred hold",
        bin.join("qshape").display(),
        etc.display()
    );
    println!("  cargo xtask gen-queue --messages 100k --out /tmp/q   # a bigger queue of your own");
    Ok(())
}

fn banner(title: &str) {
    println!("\n=== {title} ===");
}

/// Runs one of our tools on the demo queue's configuration directory (`-c ETC`).
fn run_tool(bin: &Path, tool: &str, etc: &Path, args: &[&str]) -> Result<String> {
    capture(Command::new(bin.join(tool)).arg("-c").arg(etc).args(args))
}

/// Runs a command, shows its stderr (postqueue's expected warning, postsuper's "would hold" line)
/// and returns its stdout.
fn capture(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("run {:?}", command.get_program()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines() {
        println!("[stderr] {line}");
    }
    if !output.status.success() {
        bail!(
            "{} exited with {}",
            Path::new(command.get_program()).display(),
            output.status
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
