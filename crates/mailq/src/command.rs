//! mailq's command line (Postfix sendmail's options, read in mailq mode) described as a clap
//! `Command`, for the man page and the shell completions. It is never used to parse:
//! [`crate::run`] reads the options with sendmail's getopt rules.

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Arg, ArgAction, Command, ValueHint};
use postfix_queue_cli::describe::{flag, valued, OPERANDS};

/// The heading of the options that only matter in the modes handed to Postfix's sendmail.
const SENDMAIL_MODES: &str = "Options of the other sendmail modes";

/// mailq's options: the ones about the queue first, then the rest of sendmail's.
pub fn command() -> Command {
    let other = |arg: Arg| arg.help_heading(SENDMAIL_MODES);
    Command::new("mailq")
        .bin_name("mailq")
        .about("list the Postfix mail queue (sendmail's mailq mode)")
        .override_usage(
            "mailq [-v] [-C config_dir]\n\
mailq [-v] [-C config_dir] -q\n\
mailq [sendmail option ...] [recipient ...]",
        )
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("b")
                .short('b')
                .value_name("mode")
                .num_args(1)
                .action(ArgAction::Set)
                .value_parser(PossibleValuesParser::new([
                    PossibleValue::new("p").help("list the queue (mailq's default)"),
                    PossibleValue::new("i").help("rebuild the alias database, like newaliases"),
                    PossibleValue::new("m").help("read a message from standard input and send it"),
                    PossibleValue::new("d").help("start the mail system"),
                    PossibleValue::new("l").help("start the mail system (as d)"),
                    PossibleValue::new("s").help("speak SMTP on standard input and output"),
                    PossibleValue::new("v")
                        .help("in delivery mode: verify the recipients and mail a report instead"),
                    PossibleValue::new("h").help("no effect (Sendmail's host status)"),
                    PossibleValue::new("H").help("no effect (Sendmail's host status)"),
                ]))
                .help("Mode of operation; mailq lists the queue (-bp) unless told otherwise")
                .long_help(
                    "Mode of operation, written together with the option (-bp). mailq lists \
the queue (p) unless another mode is given. The modes that are not about the queue (i, m, d, \
l, s) are carried out by Postfix's own sendmail, to which mailq hands the whole command line; \
v only changes what delivery mode does.",
                ),
        )
        .arg(valued(
            'C',
            "config_dir",
            ValueHint::AnyPath,
            "Use the Postfix configuration in this directory (or this main.cf)",
            "Read the Postfix configuration from this directory, or from this main.cf file, \
instead of the one MAIL_CONFIG names or /etc/postfix. Unless you are root, a directory other \
than the default must be listed in alternate_config_directories (or \
multi_instance_directories) of the default main.cf.",
        ))
        .arg(
            Arg::new("q")
                .short('q')
                .value_name("interval|Rsite|Iqueue_id")
                .num_args(0..=1)
                .action(ArgAction::Append)
                .value_hint(ValueHint::Other)
                .help("Without a value: ask Postfix to deliver all queued mail now (postqueue -f)")
                .long_help(
                    "Alone, -q flushes the queue as postqueue -f does. -qRsite and \
-qIqueue_id ask for the delivery of the mail for one site or of one message, and are accepted \
only in delivery mode (-bm), where Postfix's sendmail carries them out. With a time interval \
(-q30m), mailq does nothing and exits with status 0: Postfix takes the interval between queue \
runs from queue_run_delay.",
                ),
        )
        .arg(
            flag(
                'v',
                "Verbose: passed on to postqueue, which accepts it without output",
                "Verbose. In the listing and flush modes mailq passes it on to postqueue, \
which accepts it and prints no debugging traces; in the other modes Postfix's sendmail gets \
it.",
            )
            .action(ArgAction::Count),
        )
        .arg(other(valued(
            'A',
            "value",
            ValueHint::Other,
            "No effect (Sendmail's -Am and -Ac)",
            "No effect; accepted for Sendmail compatibility (-Am, -Ac).",
        )))
        .arg(other(
            valued(
                'B',
                "body_type",
                ValueHint::Other,
                "Body type of the message: 7BIT or 8BITMIME",
                "The MIME body type of the message sent: 7BIT or 8BITMIME. Any other value \
is an error, in every mode.",
            )
            .value_parser(PossibleValuesParser::new(["7BIT", "8BITMIME"])),
        ))
        .arg(other(valued(
            'F',
            "full_name",
            ValueHint::Other,
            "The sender's full name, for a message without a From: header",
            "The sender's full name, used when the message has no From: header.",
        )))
        .arg(other(flag(
            'G',
            "Gateway (relay) submission rather than a user's first submission",
            "The message is relayed (a gateway submission), not submitted by a user for the \
first time, so its addresses are not completed as a user's would be.",
        )))
        .arg(other(flag(
            'I',
            "Rebuild the alias database, like newaliases",
            "Rebuild the alias database, as newaliases does (through Postfix's sendmail).",
        )))
        .arg(other(valued(
            'L',
            "label",
            ValueHint::Other,
            "No effect (Sendmail's logging label; see syslog_name)",
            "No effect; Postfix takes its logging label from syslog_name.",
        )))
        .arg(other(valued(
            'N',
            "dsn",
            ValueHint::Other,
            "Delivery status notifications: never, or a list of success, failure, delay",
            "Which delivery status notifications the sender wants: never, or a \
comma-separated list of success, failure and delay. A value that is none of these is ignored \
with a warning.",
        )))
        .arg(other(valued(
            'O',
            "option=value",
            ValueHint::Other,
            "No effect (Sendmail option; use main.cf)",
            "No effect; set the equivalent parameter in main.cf instead.",
        )))
        .arg(other(
            valued(
                'R',
                "return",
                ValueHint::Other,
                "What a bounce returns of the message: full or hdrs",
                "How much of the message a bounce returns: full (all of it, up to \
bounce_size_limit) or hdrs (the headers only). Another value is ignored with a warning.",
            )
            .value_parser(PossibleValuesParser::new(["full", "hdrs"])),
        ))
        .arg(other(flag(
            'U',
            "No effect (Sendmail's initial user submission)",
            "No effect; accepted for Sendmail compatibility.",
        )))
        .arg(other(valued(
            'V',
            "envid",
            ValueHint::Other,
            "Envelope ID for delivery status notifications",
            "The envelope ID that delivery status notifications quote (printable ASCII, at \
most 100 characters; a bad value is ignored with a warning).",
        )))
        .arg(other(valued(
            'X',
            "Vxy",
            ValueHint::Other,
            "Only -XV[xy]: personalised envelope senders (VERP)",
            "Only -XV is accepted, optionally followed by two delimiter characters from \
-=+: each recipient gets its own envelope sender (VERP). Anything else after -X is an error.",
        )))
        .arg(other(flag(
            'c',
            "No effect (Sendmail compatibility)",
            "No effect; accepted for Sendmail compatibility.",
        )))
        .arg(other(valued(
            'e',
            "mode",
            ValueHint::Other,
            "No effect (Sendmail's error mode)",
            "No effect; accepted for Sendmail compatibility.",
        )))
        .arg(other(valued(
            'f',
            "sender",
            ValueHint::EmailAddress,
            "Envelope sender address of the message sent",
            "The envelope sender address of the message sent: where delivery problems are \
reported.",
        )))
        .arg(other(valued(
            'h',
            "hop_count",
            ValueHint::Other,
            "No effect (see hopcount_limit)",
            "No effect; Postfix limits hops with hopcount_limit.",
        )))
        .arg(other(flag(
            'i',
            "A line with a single dot does not end the message",
            "When the message is read from standard input, a line with a single dot does \
not end it.",
        )))
        .arg(other(flag(
            'm',
            "No effect (Sendmail compatibility)",
            "No effect; accepted for Sendmail compatibility.",
        )))
        .arg(other(flag(
            'n',
            "Not supported: an error, as with Postfix's sendmail",
            "Not supported: mailq stops with an error, as Postfix's sendmail does.",
        )))
        .arg(other(valued(
            'o',
            "option",
            ValueHint::Other,
            "Sendmail -o settings: -oi as -i, -oAfile for the alias database, others ignored",
            "Sendmail-style settings: -oi is -i, -oAfile names the alias database that -bi \
and -I rebuild; the others (-om, -o7, -o8, ...) have no effect.",
        )))
        .arg(other(valued(
            'p',
            "protocol",
            ValueHint::Other,
            "No effect (Sendmail compatibility)",
            "No effect; accepted for Sendmail compatibility.",
        )))
        .arg(other(valued(
            'r',
            "sender",
            ValueHint::EmailAddress,
            "Old name of -f",
            "The same as -f.",
        )))
        .arg(other(flag(
            't',
            "Take the recipients from the message headers (delivery mode only)",
            "Take the recipients from the To:, Cc: and Bcc: headers of the message, besides \
those on the command line. Only in delivery mode; an error otherwise.",
        )))
        .arg(other(flag(
            'x',
            "No effect (Sendmail compatibility)",
            "No effect; accepted for Sendmail compatibility.",
        )))
        .arg(
            Arg::new("recipient")
                .value_name("recipient")
                .num_args(0..)
                .action(ArgAction::Append)
                .value_hint(ValueHint::EmailAddress)
                .help("Recipients, in delivery mode only")
                .long_help(
                    "Recipients of the message, in delivery mode (-bm) only; in the listing \
and flush modes any operand is an error.",
                )
                .help_heading(OPERANDS),
        )
}
