//! postsuper's command line described as a clap `Command`, for the man page and the shell
//! completions (`cargo xtask man`, `cargo xtask completions`). It is never used to parse:
//! [`crate::run`] reads the options with Postfix's getopt rules.

use clap::{ArgAction, Command, ValueHint};
use postfix_queue_cli::describe::{
    extension_flag, flag, format_option, queue_operands, selection_options, valued, LOG_QUEUES,
    MESSAGE_QUEUES,
};

/// How the per-message actions take their argument.
const TARGET: &str = "queue_id|ALL|-";

/// postsuper's options: Postfix's letters first, then our long options (extensions).
pub fn command() -> Command {
    Command::new("postsuper")
        .bin_name("postsuper")
        .about("maintain the Postfix queue: delete, hold, release, requeue or expire mail, repair the queue")
        .override_usage(
            "postsuper [-psSv] [-c config_dir] [queue ...]\n\
postsuper [-v] [-c config_dir] -d|-e|-f|-h|-H|-r queue_id|ALL|- ... [selection ...] [--dry-run] [--format text|json] [queue ...]",
        )
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(valued(
            'c',
            "config_dir",
            ValueHint::DirPath,
            "Use the Postfix configuration in this directory (an absolute path)",
            "Read main.cf from this directory instead of the one MAIL_CONFIG names or \
/etc/postfix. The path must be absolute.",
        ))
        .arg(valued(
            'd',
            TARGET,
            ValueHint::Other,
            "Delete the message with this queue ID, ALL messages, or the IDs read from stdin (-)",
            "Delete the message with this queue ID from the queues named (all of them by \
default), together with its logs. ALL, in capitals, deletes every message in those queues; \
- reads queue IDs from standard input, one per line. The option may be repeated.",
        ))
        .arg(valued(
            'e',
            TARGET,
            ValueHint::Other,
            "Force the message to expire: it is returned to the sender at its next delivery attempt",
            "Force the message to expire: at its next delivery attempt the queue manager \
returns it to the sender as undeliverable, with the reasons recorded so far. A message on hold \
stays there until it is released. ALL and - as for -d.",
        ))
        .arg(valued(
            'f',
            TARGET,
            ValueHint::Other,
            "Force the message to expire, and release it if it is on hold",
            "As -e, and release the message from hold as -H does, so that it is returned to \
the sender soon. ALL and - as for -d.",
        ))
        .arg(valued(
            'h',
            TARGET,
            ValueHint::Other,
            "Put the message on hold: no delivery attempts until it is released",
            "Put the message on hold: Postfix makes no delivery attempts until it is \
released with -H (or -f). ALL and - as for -d.",
        ))
        .arg(valued(
            'H',
            TARGET,
            ValueHint::Other,
            "Release the message from hold",
            "Release the message from hold, back into the deferred queue, where it waits for \
its next delivery attempt. ALL and - as for -d.",
        ))
        .arg(flag(
            'p',
            "Purge temporary files left behind by Postfix processes that crashed",
            "Remove the temporary files that Postfix processes leave behind when they are \
interrupted or crash.",
        ))
        .arg(valued(
            'r',
            TARGET,
            ValueHint::Other,
            "Requeue the message: run it through pickup and cleanup again",
            "Requeue the message: it goes back to the maildrop queue, so that pickup and \
cleanup process it once more and current address rewriting, transport and content filter \
settings apply to its recipients still to be delivered. ALL and - as for -d.",
        ))
        .arg(flag(
            's',
            "Check and repair the queue's structure (the default with no action given)",
            "Check the queue's structure and repair it: files in the wrong hash \
subdirectory are moved, and message files whose name no longer matches their inode number \
are renamed. With no action at all, postsuper does -s and -p. When such renames happen, \
actions by queue ID are refused, because the IDs given may have changed.",
        ))
        .arg(flag(
            'S',
            "As -s, and also check long queue IDs against their inode numbers",
            "As -s, and also check that long queue IDs match their file's inode number; on \
an intact queue this finds nothing, which is why Postfix calls it redundant.",
        ))
        .arg(
            flag(
                'v',
                "Verbose: accepted, without Postfix's debugging output",
                "Verbose. Postfix logs traces of its internals; this postsuper accepts the \
option and prints none (see DEVIATIONS). It may be repeated.",
            )
            .action(ArgAction::Count),
        )
        .args(selection_options())
        .arg(extension_flag(
            "dry-run",
            "Change nothing: list the queue IDs an action would touch, and count them",
            "Change nothing: print the queue ID of each message the action would touch on \
standard output, and on standard error how many there are. Needs an action (-d, -e, -f, -h, \
-H or -r).",
        ))
        .arg(extension_flag(
            "all-instances",
            "With --dry-run: list each Postfix instance (the default and multi_instance_directories)",
            "With --dry-run only: run the listing on the instance named by -c (or the default) \
and on every instance in its multi_instance_directories, each under a line `instance DIR:` \
(text) or with an \"instance\" field (json).",
        ))
        .arg(format_option(
            &[
                ("text", "Postfix's messages (the default)"),
                ("json", "one JSON object per message acted on"),
            ],
            "What to print for each message acted on: text or json",
            "text (the default) prints what Postfix's postsuper prints. json also prints, \
on standard output, one JSON object per message acted on, with its queue ID, queue, action \
and result (done, gone, left-alone, changed, or dry-run). Needs an action.",
        ))
        .arg(queue_operands(
            MESSAGE_QUEUES.iter().chain(LOG_QUEUES),
            "Queues to work on (default: all of them)",
            "Restrict the actions and repairs to these queues, named relative to the queue \
directory. Without operands postsuper works on all of them.",
        ))
}
