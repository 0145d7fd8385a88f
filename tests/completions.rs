//! The committed bash completions (completions/*.bash, made by `cargo xtask completions`)
//! loaded into a real bash, the way bash-completion loads them: the tool's completion function
//! is called with `COMP_WORDS`/`COMP_CWORD` set as bash sets them at a Tab press, and must offer
//! our long options, `--format`'s values and the queue names.
//!
//! `cargo xtask completions --check` (run by `cargo xtask test`) makes sure the committed files
//! are the generated ones; this test makes sure what is generated works. Without bash, each test
//! says SKIPPED and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

const BASH: &str = "/bin/bash";

/// Loads bash-completion (when installed) and then the completion file, looks up the function
/// `complete -p` registered for the tool, and calls it for the command line `words` (the last
/// word is the one being completed). Prints one candidate per line.
const DRIVER: &str = r#"
if [ -f /usr/share/bash-completion/bash_completion ]; then
    . /usr/share/bash-completion/bash_completion
fi
file=$1; shift
. "$file" || exit 3
spec=$(complete -p "$1") || exit 4
function=${spec##*-F }
function=${function%% *}
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
cur=${COMP_WORDS[COMP_CWORD]}
prev=${COMP_WORDS[COMP_CWORD-1]}
COMPREPLY=()
"$function" "$1" "$cur" "$prev" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
"#;

fn completion_file(tool: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(format!("{tool}.bash"))
}

/// The candidates bash's completion function offers for `words`, or None without bash.
fn complete(words: &[&str]) -> Option<Vec<String>> {
    if !Path::new(BASH).exists() {
        eprintln!("SKIPPED: {BASH} is not installed");
        return None;
    }
    let file = completion_file(words[0]);
    assert!(
        file.exists(),
        "{} is missing: run `cargo xtask completions`",
        file.display()
    );
    let output = Command::new(BASH)
        .arg("--norc")
        .arg("--noprofile")
        .arg("-c")
        .arg(DRIVER)
        .arg("bash")
        .arg(&file)
        .args(words)
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "bash failed for {words:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

fn assert_offers(words: &[&str], expected: &[&str]) {
    let Some(offered) = complete(words) else {
        return;
    };
    assert_eq!(offered, expected, "completing {words:?}");
}

#[test]
fn postsuper_completes_long_options() {
    assert_offers(&["postsuper", "--dry"], &["--dry-run"]);
    assert_offers(&["postsuper", "-d", "ALL", "--old"], &["--older-than"]);
}

#[test]
fn postsuper_completes_queue_names_after_an_action() {
    assert_offers(&["postsuper", "-d", "ALL", "hol"], &["hold"]);
    assert_offers(&["postsuper", "-s", "def"], &["deferred", "defer"]);
}

#[test]
fn postsuper_completes_format_values() {
    assert_offers(
        &["postsuper", "-H", "ALL", "--format", ""],
        &["text", "json"],
    );
}

#[test]
fn qshape_completes_queue_names() {
    assert_offers(&["qshape", "def"], &["deferred"]);
    assert_offers(&["qshape", "-s", "-p", "ho"], &["hold"]);
}

#[test]
fn qshape_completes_its_extensions() {
    assert_offers(&["qshape", "--format", "pro"], &["prometheus"]);
    assert_offers(&["qshape", "--per"], &["--per-message"]);
}

#[test]
fn postqueue_completes_its_extensions() {
    assert_offers(&["postqueue", "--sum"], &["--summary"]);
    assert_offers(&["postqueue", "--all"], &["--all-instances"]);
    assert_offers(&["postqueue", "--summary", "--format", "j"], &["json"]);
}

#[test]
fn mailq_completes_sendmail_modes() {
    assert_offers(&["mailq", "-b", "p"], &["p"]);
    assert_offers(&["mailq", "-B", "8"], &["8BITMIME"]);
}
