//! `cargo xtask completions [--check]`: bash, zsh and fish completions for the four tools,
//! generated with clap_complete from each tool's `command()` into completions/.
//!
//! Install them where the shells look (Debian paths):
//! bash `/usr/share/bash-completion/completions/<tool>` (the file without `.bash`),
//! zsh `/usr/share/zsh/vendor-completions/_<tool>`,
//! fish `/usr/share/fish/vendor_completions.d/<tool>.fish`.

use std::process::ExitCode;

use anyhow::Result;
use clap_complete::{Generator, Shell};

use crate::generated::{self, Generated};

const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

pub fn run(args: &[String]) -> Result<ExitCode> {
    let check = generated::parse_check("completions", args)?;
    generated::sync("completions", &generate(), check)
}

/// Every completion file, in memory.
pub fn generate() -> Vec<Generated> {
    let mut files = Vec::new();
    for (name, command) in generated::tools() {
        for shell in SHELLS {
            let mut command = command.clone();
            let mut bytes = Vec::new();
            clap_complete::generate(shell, &mut command, name, &mut bytes);
            if shell == Shell::Fish {
                fish_operands(&command, name, &mut bytes);
            }
            files.push(Generated {
                path: format!("completions/{}", shell.file_name(name)),
                bytes,
            });
        }
    }
    files
}

/// clap_complete's fish generator leaves out operands; the queue names are what matter most
/// there, so offer the operands' possible values ourselves, in the same style.
fn fish_operands(command: &clap::Command, name: &str, out: &mut Vec<u8>) {
    let quote = |text: &str| format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"));
    for operand in command.get_positionals() {
        for value in operand.get_possible_values() {
            if value.is_hide_set() {
                continue;
            }
            let mut line = format!("complete -c {name} -a {}", quote(value.get_name()));
            if let Some(help) = value.get_help() {
                line.push_str(&format!(" -d {}", quote(&help.to_string())));
            }
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shells_for_four_tools() {
        let files = generate();
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(files.len(), 12);
        for wanted in [
            "completions/postqueue.bash",
            "completions/_postsuper",
            "completions/qshape.fish",
            "completions/mailq.bash",
        ] {
            assert!(paths.contains(&wanted), "{wanted} in {paths:?}");
        }
    }

    #[test]
    fn bash_offers_queue_names_and_extensions() {
        let files = generate();
        let text = |path: &str| {
            let file = files
                .iter()
                .find(|file| file.path == path)
                .expect("generated");
            String::from_utf8_lossy(&file.bytes).into_owned()
        };
        let postsuper = text("completions/postsuper.bash");
        assert!(postsuper.contains("--dry-run"));
        assert!(postsuper.contains(" hold "));
        let qshape = text("completions/qshape.bash");
        assert!(qshape.contains("deferred"));
        assert!(qshape.contains("prometheus"));
    }

    #[test]
    fn fish_offers_queue_names() {
        let files = generate();
        let fish = files
            .iter()
            .find(|file| file.path == "completions/qshape.fish")
            .expect("generated");
        let text = String::from_utf8_lossy(&fish.bytes);
        assert!(text.contains(
            "complete -c qshape -a 'deferred' -d 'mail waiting for another delivery attempt'\n"
        ));
    }
}
