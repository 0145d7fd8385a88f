//! What the tools' clap `Command`s share. Those commands only *describe* the command lines,
//! for the man pages and shell completions that `cargo xtask man` and `cargo xtask
//! completions` generate; the tools themselves parse with Postfix's getopt rules
//! ([`crate::getopt`]), which no clap parser reproduces.
//!
//! Here: the help headings, the option builders, and the selection options postqueue and
//! postsuper both take.

use clap::builder::PossibleValue;
use clap::{Arg, ArgAction, ValueHint};

/// The heading of our extensions: long options only, none of which Postfix has.
pub const EXTENSIONS: &str = "Extensions";
/// The heading of the operands after the options.
pub const OPERANDS: &str = "Operands";

/// Option letters, to name an argument by its letter (clap ids are `&'static str`).
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The argument id of an option letter: the letter itself.
fn letter_id(letter: char) -> &'static str {
    match LETTERS.find(letter) {
        Some(at) => &LETTERS[at..at + 1],
        None => "?",
    }
}

/// A Postfix option without a value.
pub fn flag(letter: char, help: &'static str, long_help: &'static str) -> Arg {
    Arg::new(letter_id(letter))
        .short(letter)
        .action(ArgAction::SetTrue)
        .help(help)
        .long_help(long_help)
}

/// A Postfix option that takes a value (`-c config_dir`); it may be repeated.
pub fn valued(
    letter: char,
    value_name: &'static str,
    hint: ValueHint,
    help: &'static str,
    long_help: &'static str,
) -> Arg {
    Arg::new(letter_id(letter))
        .short(letter)
        .value_name(value_name)
        .value_hint(hint)
        .num_args(1)
        .action(ArgAction::Append)
        .help(help)
        .long_help(long_help)
}

/// One of our long options without a value, under [`EXTENSIONS`].
pub fn extension_flag(name: &'static str, help: &'static str, long_help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
        .long_help(long_help)
        .help_heading(EXTENSIONS)
}

/// One of our long options with a value, under [`EXTENSIONS`].
pub fn extension_valued(
    name: &'static str,
    value_name: &'static str,
    hint: ValueHint,
    help: &'static str,
    long_help: &'static str,
) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name(value_name)
        .value_hint(hint)
        .num_args(1)
        .action(ArgAction::Set)
        .help(help)
        .long_help(long_help)
        .help_heading(EXTENSIONS)
}

/// `--format` with its choices, each with a one-line description.
pub fn format_option(
    choices: &[(&'static str, &'static str)],
    help: &'static str,
    long_help: &'static str,
) -> Arg {
    let values: Vec<PossibleValue> = choices
        .iter()
        .map(|(name, help)| PossibleValue::new(*name).help(*help))
        .collect();
    extension_valued("format", "format", ValueHint::Other, help, long_help)
        .value_parser(clap::builder::PossibleValuesParser::new(values))
}

/// Postfix's message queues, with a word on each, for completions and man pages.
pub const MESSAGE_QUEUES: &[(&str, &str)] = &[
    (
        "maildrop",
        "mail submitted on this host, waiting for pickup",
    ),
    ("incoming", "mail waiting for the queue manager"),
    ("active", "mail the queue manager is delivering"),
    ("deferred", "mail waiting for another delivery attempt"),
    ("hold", "mail on hold"),
];

/// Postfix's per-message and per-destination log directories, likewise.
pub const LOG_QUEUES: &[(&str, &str)] = &[
    ("trace", "per-message delivery reports that were asked for"),
    ("defer", "per-message logs of deferral reasons"),
    ("bounce", "per-message logs of failed recipients"),
    ("flush", "fast flush logs, one per destination"),
];

/// Trailing queue-name operands, offered by the completions from `queues`.
pub fn queue_operands<'a>(
    queues: impl IntoIterator<Item = &'a (&'static str, &'static str)>,
    help: &'static str,
    long_help: &'static str,
) -> Arg {
    let values: Vec<PossibleValue> = queues
        .into_iter()
        .map(|(name, help)| PossibleValue::new(*name).help(*help))
        .collect();
    Arg::new("queue")
        .value_name("queue")
        .num_args(0..)
        .action(ArgAction::Append)
        .value_parser(clap::builder::PossibleValuesParser::new(values))
        .help(help)
        .long_help(long_help)
        .help_heading(OPERANDS)
}

/// The message selection postqueue (`-p`, `-j`, `--summary`) and postsuper (with an action)
/// take: every option given must hold for a message to be selected.
pub fn selection_options() -> Vec<Arg> {
    vec![
        extension_valued(
            "sender",
            "regex",
            ValueHint::Other,
            "Select messages whose envelope sender matches the regular expression",
            "Select messages whose envelope sender matches the regular expression \
(Rust regex syntax; it may match anywhere in the address, so anchor it with ^ and $ to match \
the whole address; case matters unless the expression starts with (?i)). The null sender \
matches both as <> and as MAILER-DAEMON.",
        ),
        extension_valued(
            "recipient",
            "regex",
            ValueHint::Other,
            "Select messages with a recipient still to be delivered that matches the regular expression",
            "Select messages that have at least one recipient still to be delivered whose \
address matches the regular expression (same rules as --sender).",
        ),
        extension_valued(
            "domain",
            "domain",
            ValueHint::Hostname,
            "Select messages with a recipient still to be delivered in this domain or a subdomain",
            "Select messages that have at least one recipient still to be delivered in this \
domain or in one of its subdomains; case does not matter, and a leading @ or a trailing dot \
is ignored.",
        ),
        extension_valued(
            "older-than",
            "duration",
            ValueHint::Other,
            "Select messages that arrived at least this long ago (90m, 3d, 1h30m)",
            "Select messages that arrived at least this long ago. A duration is a number with \
a unit, or several in a row: s (seconds), m (minutes), h (hours), d (days), w (weeks), as in \
90m, 3d or 1h30m; a bare number counts seconds.",
        ),
        extension_valued(
            "newer-than",
            "duration",
            ValueHint::Other,
            "Select messages that arrived at most this long ago (90m, 3d, 1h30m)",
            "Select messages that arrived at most this long ago (durations as for \
--older-than).",
        ),
        extension_valued(
            "min-size",
            "size",
            ValueHint::Other,
            "Select messages of at least this many bytes (k, M, G suffixes)",
            "Select messages of at least this size, the size the queue listing shows: a \
number of bytes, optionally followed by k, M or G (multiples of 1024).",
        ),
        extension_valued(
            "max-size",
            "size",
            ValueHint::Other,
            "Select messages of at most this many bytes (k, M, G suffixes)",
            "Select messages of at most this size (sizes as for --min-size).",
        ),
        extension_valued(
            "reason",
            "regex",
            ValueHint::Other,
            "Select messages with a recipient whose deferral reason matches the regular expression",
            "Select messages that have a recipient whose deferral reason (the text the \
listing shows in parentheses) matches the regular expression.",
        ),
        extension_valued(
            "header",
            "regex",
            ValueHint::Other,
            "Select messages with a header line that matches the regular expression",
            "Select messages with a header line that matches the regular expression; folded \
header lines are joined first. This is the only selection that reads the message content, so \
it needs root or the mail owner.",
        ),
    ]
}
