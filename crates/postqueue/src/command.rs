//! postqueue's command line described as a clap `Command`, for the man page and the shell
//! completions (`cargo xtask man`, `cargo xtask completions`). It is never used to parse:
//! [`crate::run`] reads the options with Postfix's getopt rules.

use clap::{Command, ValueHint};
use postfix_queue_cli::describe::{extension_flag, flag, format_option, selection_options, valued};

/// postqueue's options: Postfix's letters first, then our long options (extensions).
pub fn command() -> Command {
    Command::new("postqueue")
        .bin_name("postqueue")
        .about("list the Postfix mail queue, or ask Postfix to deliver queued mail now")
        .override_usage(
            "postqueue [-v] [-c config_dir] [--all-instances] -p|-j [selection ...]\n\
postqueue [-v] [-c config_dir] [--all-instances] --summary [--format text|json] [selection ...]\n\
postqueue [-v] [-c config_dir] -f\n\
postqueue [-v] [-c config_dir] -i queue_id\n\
postqueue [-v] [-c config_dir] -s site",
        )
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(valued(
            'c',
            "config_dir",
            ValueHint::DirPath,
            "Use the Postfix configuration in this directory",
            "Read main.cf from this directory instead of the one MAIL_CONFIG names or \
/etc/postfix. When postqueue is installed set-gid and run by someone other than root, the \
directory must be listed in alternate_config_directories (or multi_instance_directories) of \
the default main.cf.",
        ))
        .arg(flag(
            'f',
            "Flush: ask the queue manager to try to deliver all queued mail now",
            "Flush the queue: ask the queue manager to retry every deferred message now, \
and the pickup service to take in what waits in the maildrop queue. Retrying undeliverable \
mail too often slows down the delivery of everything else.",
        ))
        .arg(valued(
            'i',
            "queue_id",
            ValueHint::Other,
            "Ask for delivery of the message with this queue ID now",
            "Ask the flush service to deliver the message with this queue ID now. A message \
that is in neither the deferred nor the incoming queue is left alone, and postqueue still \
reports success.",
        ))
        .arg(flag(
            'j',
            "List the queue as JSON, one object per message",
            "List the queue as JSON Lines: one object per message, with its queue name, \
queue ID, arrival time, size, whether it is forced to expire, sender, and its recipients still \
to be delivered with their deferral reasons. Programs reading it should ignore members they \
do not know.",
        ))
        .arg(flag(
            'p',
            "List the queue in the classic sendmail format (what mailq prints)",
            "List the queue in the sendmail-style format that mailq prints: queue ID, size, \
arrival time and sender of each message, then the recipients still to be delivered, each \
after the reason of its last failed delivery. A * after the queue ID marks a message in the \
active queue, ! one on hold, # one forced to expire.",
        ))
        .arg(valued(
            's',
            "site",
            ValueHint::Hostname,
            "Ask for delivery of the mail queued for this site now (fast flush)",
            "Ask the flush service to deliver the mail queued for this destination now. \
The site must be a host name or an address literal in brackets, and eligible for the fast \
flush service (fast_flush_domains).",
        ))
        .arg(
            flag(
                'v',
                "Verbose: accepted, without Postfix's debugging output",
                "Verbose. Postfix prints debugging traces of its internals; this postqueue \
accepts the option and prints none (see DEVIATIONS). It may be repeated.",
            )
            .action(clap::ArgAction::Count),
        )
        .args(selection_options())
        .arg(extension_flag(
            "summary",
            "Summarise the queue per recipient domain instead of listing each message",
            "Instead of listing each message, print one row per recipient domain: the number \
of messages and their volume, the oldest and the newest arrival, and the most common deferral \
reason. Selection options narrow what is counted. Use it instead of -p or -j, not together \
with them.",
        ))
        .arg(format_option(
            &[
                ("text", "a table (the default)"),
                ("json", "one JSON document"),
            ],
            "How --summary prints its report: text or json",
            "How --summary prints its report: text, a table (the default), or json, one JSON \
document for programs.",
        ))
        .arg(extension_flag(
            "all-instances",
            "List the default Postfix instance and every multi_instance_directories entry",
            "Work on the default Postfix instance and then on each instance whose \
configuration directory its main.cf lists in multi_instance_directories, labelling each \
result with its instance. Works with -p, -j and --summary.",
        ))
}
