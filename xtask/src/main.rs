//! cargo xtask: project automation — `gen-queue`, `demo`, `test`, `bench`, `install`, `man`,
//! `completions`, `deb` — in plain Rust so it runs wherever cargo does, with no scripts or extra
//! tools to install.

mod bench;
mod bench_postsuper;
mod bench_qshape;
mod compat;
mod completions;
mod deb;
mod demo;
mod floor;
mod gen;
mod generated;
mod install;
mod man;
mod process;
mod rng;
mod test;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  gen-queue --messages N --out DIR [--long-ids] [--seed S] [--now EPOCH] [--threads T] [--owner U]
            write a realistic Postfix queue to DIR/spool and a main.cf to DIR/etc
  demo      generate a 10,000-message queue in target/demo and show the tools on it
  test      fmt check, clippy, the whole test suite (real Postfix as oracle); renders docs/compat.md
  bench [--sizes 100000,1000000] [--quick] [--only postqueue|postsuper|qshape]
        [--postsuper-ops d,h,H,r] [--delete-runs N] [--render-only]
            time our postqueue against the real one and a read floor, our postsuper -d/-h/-H/-r
            ALL against the real one and an unlink/rename floor, and our qshape against the real
            one and an envelope-read floor; writes docs/benchmarks.md
  man [--check]
            generate man/*.1 from the tools' clap commands and our prose; --check fails when a
            committed page is stale
  completions [--check]
            generate bash, zsh and fish completions into completions/; --check as for man
  install [--prefix DIR] [--group GROUP] [--no-setgid]
            build and install postqueue (PREFIX/sbin) and mailq (PREFIX/bin), root:postdrop 2555
            like Postfix's postqueue; PREFIX defaults to /usr/local
  deb [CARGO-DEB OPTIONS]
            generate man pages and completions, then build the Debian package with cargo-deb
            (target/debian/postfix-queue-tools_*.deb; installs under /usr/lib/postfix-queue-tools)";

pub const GEN_QUEUE_USAGE: &str = "\
usage: cargo xtask gen-queue --messages N --out DIR [--long-ids] [--seed S] [--now EPOCH]
                             [--threads T] [--owner USER]

Writes DIR/spool (a queue directory) and DIR/etc/main.cf (queue_directory = DIR/spool), so that
`postqueue -c DIR/etc -p` lists it. N accepts suffixes: 10k, 1M. As root, the files are given to
user postfix when it exists (--owner overrides), as in a real queue: postqueue reads the queue as
Postfix's mail_owner and skips files that user cannot open.";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<std::process::ExitCode> {
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return Ok(std::process::ExitCode::from(2));
    };
    match command.as_str() {
        "gen-queue" => {
            let options = gen::parse_args(rest)?;
            let summary = gen::generate(&options)?;
            println!("gen-queue: {}", summary.describe());
            println!(
                "gen-queue: list it with `postqueue -c {} -p`",
                options.out.join("etc").display()
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        "demo" => demo::run(rest).map(|()| std::process::ExitCode::SUCCESS),
        "test" => test::run(rest),
        "bench" => bench::run(rest).map(|()| std::process::ExitCode::SUCCESS),
        "install" => install::run(rest).map(|()| std::process::ExitCode::SUCCESS),
        "man" => man::run(rest),
        "completions" => completions::run(rest),
        "deb" => deb::run(rest).map(|()| std::process::ExitCode::SUCCESS),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

/// The workspace root: xtask lives one level below it.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.clone(), |root| root.to_path_buf())
}

/// `10000`, `10_000`, `10k`, `1M`.
pub fn parse_count(text: &str) -> Result<u64> {
    let cleaned = text.trim().replace('_', "");
    let (digits, scale) = match cleaned.chars().last() {
        Some('k' | 'K') => (&cleaned[..cleaned.len() - 1], 1_000),
        Some('m' | 'M') => (&cleaned[..cleaned.len() - 1], 1_000_000),
        _ => (cleaned.as_str(), 1),
    };
    let value: u64 = digits
        .parse()
        .with_context(|| format!("not a count: {text:?}"))?;
    Ok(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accept_suffixes() -> Result<()> {
        assert_eq!(parse_count("100000")?, 100_000);
        assert_eq!(parse_count("1M")?, 1_000_000);
        assert_eq!(parse_count("10k")?, 10_000);
        assert_eq!(parse_count("1_000")?, 1_000);
        assert!(parse_count("lots").is_err());
        Ok(())
    }
}
