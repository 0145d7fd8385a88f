//! qshape's command line described as a clap `Command`, for the man page and the shell
//! completions (`cargo xtask man`, `cargo xtask completions`). It is never used to parse:
//! [`crate::run`] reads the options as Perl's Getopt::Std does (see `options.rs`).

use clap::{Command, ValueHint};
use postfix_queue_cli::describe::{
    extension_flag, extension_valued, flag, format_option, queue_operands, valued, MESSAGE_QUEUES,
};

/// qshape's options: Postfix's letters first, then our long options (extensions).
pub fn command() -> Command {
    Command::new("qshape")
        .bin_name("qshape")
        .about("show the shape of the Postfix queue: messages by domain and by age")
        .override_usage(
            "qshape [-s] [-p] [-m min_subdomains] [-l] [-b bucket_count] [-t bucket_time] [-w terminal_width] [-N batch_msg_count] [-n batch_top_domains] [-c config_directory] [queue ...]\n\
qshape [options] --format json|prometheus [--top N] [--output file] [--per-message] [--all-instances] [queue ...]\n\
qshape -h",
        )
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(flag(
            's',
            "Count sender domains instead of recipient domains",
            "Count the domains of the senders (one per message) instead of the domains of \
the recipients still to be delivered.",
        ))
        .arg(flag(
            'p',
            "Add rows for parent domains (.example.com) that have enough subdomains",
            "Also show rows for parent domains, written with a leading dot \
(.example.com), adding up their subdomains. A parent is shown only when it is not a top-level \
domain and at least min_subdomains of its subdomains appear in the table (see -m).",
        ))
        .arg(valued(
            'm',
            "min_subdomains",
            ValueHint::Other,
            "With -p: the fewest subdomains a parent domain row needs (default 5)",
            "With -p: how many of its subdomains a parent domain needs in the table to get \
a row of its own (default 5).",
        ))
        .arg(valued(
            'b',
            "bucket_count",
            ValueHint::Other,
            "Number of age columns (default 10)",
            "The number of age columns after TOTAL (default 10).",
        ))
        .arg(valued(
            't',
            "bucket_time",
            ValueHint::Other,
            "Width in minutes of the first age column (default 5); each next column doubles",
            "The width, in minutes, of the first age column (default 5). Each further \
column covers twice the age range of the one before, unless -l is given.",
        ))
        .arg(flag(
            'l',
            "Linear age columns: each covers bucket_time minutes",
            "Make the age columns linear: each covers bucket_time more minutes than the one \
before, instead of doubling.",
        ))
        .arg(valued(
            'w',
            "terminal_width",
            ValueHint::Other,
            "Width of the table, when wider than 80 columns",
            "The width of the output; values of 80 or less leave it at 80 columns. Domain \
names too long to fit are cut short, ending in +.",
        ))
        .arg(valued(
            'N',
            "batch_msg_count",
            ValueHint::Other,
            "At a terminal: redraw the table every this many messages (default 1000)",
            "When the output is a terminal, show the table so far after every this many \
messages read (default 1000), so a long scan of a big queue shows results early.",
        ))
        .arg(valued(
            'n',
            "batch_top_domains",
            ValueHint::Other,
            "At a terminal: how many domains the interim tables show (default 20)",
            "When the output is a terminal, how many domains the interim tables show \
(default 20).",
        ))
        .arg(valued(
            'c',
            "config_directory",
            ValueHint::DirPath,
            "Use the Postfix instance whose configuration is in this directory",
            "Report on the Postfix instance whose main.cf is in this directory: its \
queue_directory is where queue names are looked up.",
        ))
        .arg(flag(
            'h',
            "Print the usage text and exit",
            "Print the usage text on standard error and exit with status 255, as qshape \
does.",
        ))
        .arg(format_option(
            &[
                ("text", "qshape's table (the default)"),
                ("json", "one JSON document"),
                (
                    "prometheus",
                    "Prometheus text exposition format, for node_exporter",
                ),
            ],
            "Output format: text, json or prometheus",
            "The output format: text, qshape's table (the default); json, one JSON document \
with the age bucket bounds in seconds, the counts per domain, the queues scanned with their \
message counts, and the scan time; or prometheus, the Prometheus text format for \
node_exporter's textfile collector, with postfix_queue_depth per queue, \
postfix_qshape_domain_addresses and postfix_qshape_domain_age per domain, \
postfix_qshape_scan_duration_seconds and postfix_qshape_last_scan_timestamp_seconds.",
        ))
        .arg(extension_valued(
            "output",
            "file",
            ValueHint::FilePath,
            "Write the report to this file atomically instead of standard output",
            "Write the report to this file instead of standard output: first to a temporary \
file in the same directory, then renamed over it, so that a reader such as node_exporter \
never sees half a report.",
        ))
        .arg(extension_flag(
            "per-message",
            "Count each message once per domain, instead of each recipient",
            "Count messages instead of recipients: a message with several recipients in \
one domain counts once for that domain.",
        ))
        .arg(extension_valued(
            "top",
            "N",
            ValueHint::Other,
            "json and prometheus: keep the N largest domains, add up the rest as other",
            "With --format json or prometheus: keep the N largest domains and add up the \
rest in one row named other; 0 keeps them all. Unless told otherwise, json keeps every \
domain and prometheus the 20 largest.",
        ))
        .arg(extension_flag(
            "all-instances",
            "Report on the default Postfix instance and every multi_instance_directories entry",
            "Report on the default Postfix instance and then on each instance whose \
configuration directory its main.cf lists in multi_instance_directories, labelling each \
result with its instance.",
        ))
        .arg(extension_flag(
            "help",
            "Print a summary of the extensions and exit",
            "Print a summary of these long options on standard output, then qshape's usage \
text, and exit as -h does.",
        ))
        .arg(queue_operands(
            MESSAGE_QUEUES,
            "Queues to report on (default: incoming active)",
            "The queues to report on: names relative to the queue directory, or absolute \
paths. Without operands qshape reports on incoming and active.",
        ))
}
