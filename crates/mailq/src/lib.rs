//! mailq: Postfix sendmail's mailq mode. Like Postfix's sendmail it reads its own options (in
//! two passes: `-C` first, then the rest), reads and checks main.cf, enters the queue
//! directory, and then hands over: the listing and flush modes go to our postqueue; modes that
//! are not about the queue (newaliases, delivery, daemon) go to Postfix's own sendmail, which
//! does them exactly.
//!
//! Spec: format-and-postqueue.md §9 (Postfix `sendmail.c`).

mod command;
pub use command::command;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use postfix_queue::config::{config_directory, Config, DEFAULT_CONFIG_DIRECTORY};
use postfix_queue_cli::getopt::{Opt, Parser};
use postfix_queue_cli::startup::{enter_queue_directory, read_config};
use postfix_queue_cli::status::EX_TEMPFAIL;
use postfix_queue_cli::{Outcome, Program};

const PROGRAM: Program = Program::new("mailq");
/// sendmail's option letters (Postfix `sendmail.c`); mailq accepts the same ones.
const SENDMAIL_OPTIONS: &str = "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx";
/// sendmail's `verp_delimiter_filter` default: the characters allowed as VERP delimiters.
const VERP_FILTER: &str = "-=+";

/// What sendmail was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ListQueue,
    FlushQueue,
    Enqueue,
    NewAliases,
    Daemon,
    StandAlone,
    Ignore,
}

/// Runs mailq with `args` (without argv\[0]).
pub fn run(args: &[String]) -> ExitCode {
    match plan(args) {
        // sendmail's cleanup hook makes its own fatal errors exit EX_TEMPFAIL (spec §9).
        Err(outcome) => PROGRAM.finish(outcome),
        Ok(Plan::Exit) => ExitCode::SUCCESS,
        Ok(Plan::Postqueue(postqueue_args)) => {
            postfix_queue_cli::output::trust_reopened_stdout();
            pq_postqueue::run(&postqueue_args)
        }
        Ok(Plan::Sendmail { path }) => {
            // We may run set-gid postdrop; Postfix's sendmail is not, and must not inherit it.
            if postfix_queue_cli::startup::drop_group_privilege().is_err() {
                return PROGRAM.finish(fatal("setresgid: cannot drop group privileges"));
            }
            let error = std::process::Command::new(&path)
                .arg0("mailq")
                .args(args)
                .exec();
            PROGRAM.finish(fatal(format!(
                "execvp {}: {}",
                path.display(),
                postfix_queue::error::strerror(&error)
            )))
        }
    }
}

enum Plan {
    Exit,
    Postqueue(Vec<String>),
    Sendmail { path: PathBuf },
}

fn fatal(message: impl Into<String>) -> Outcome {
    Outcome::Fatal {
        message: message.into(),
        status: EX_TEMPFAIL,
    }
}

/// sendmail's argument processing for argv\[0] = mailq.
fn plan(args: &[String]) -> Result<Plan, Outcome> {
    // Pass one: only -C, before the configuration is read; getopt already complains here.
    let mut parser = Parser::new(PROGRAM.name, args, SENDMAIL_OPTIONS);
    loop {
        if parser.current_argument() == Some("-q") {
            parser.skip_argument();
            continue;
        }
        match parser.next_option() {
            None => break,
            Some(Opt::Bad { diagnostic }) => eprintln!("{diagnostic}"),
            Some(Opt::Flag('C', Some(value))) => {
                let directory = config_dir_from_option(&value);
                // SAFETY: geteuid has no preconditions.
                if directory != Path::new(DEFAULT_CONFIG_DIRECTORY)
                    && unsafe { libc::geteuid() } != 0
                {
                    if let Err(error) =
                        postfix_queue::config::check_directory_authorised(&directory)
                    {
                        if let Some(line) = error.preceding_error() {
                            PROGRAM.error(&line);
                        }
                        return Err(fatal(error.to_string()));
                    }
                }
                std::env::set_var(
                    postfix_queue::config::CONFIG_ENVIRONMENT_VARIABLE,
                    &directory,
                );
            }
            // The plain parser never yields long options.
            Some(Opt::Flag(..) | Opt::Long(..)) => {}
        }
    }
    let directory = config_directory(None);
    let config = read_config(&PROGRAM, &directory, EX_TEMPFAIL, false)?;
    enter_queue_directory(&config, EX_TEMPFAIL)?;

    // Pass two: the options that choose and check the mode.
    let mut mode = Mode::ListQueue;
    let mut verbose = 0usize;
    let mut extract_recipients = false;
    let mut verify = false;
    let mut dsn_notify = false;
    let mut dsn_return = false;
    let mut queue_interval = false;
    let mut site_to_flush = false;
    let mut id_to_flush = false;
    let mut parser = Parser::new(PROGRAM.name, args, SENDMAIL_OPTIONS);
    loop {
        match parser.current_argument() {
            Some("-q") => {
                if mode == Mode::Daemon {
                    PROGRAM.warning("ignoring -q option in daemon mode");
                } else {
                    mode = Mode::FlushQueue;
                }
                parser.skip_argument();
                continue;
            }
            Some("-XV") => {
                parser.skip_argument();
                continue;
            }
            Some(arg) if arg.starts_with("-V") && arg.len() == 4 => {
                PROGRAM.warning(&format!(
                    "option {arg} is deprecated with Postfix 2.3; specify -X{} instead",
                    &arg[1..]
                ));
            }
            _ => {}
        }
        let Some(option) = parser.next_option() else {
            break;
        };
        let (letter, value) = match option {
            Opt::Bad { diagnostic } => {
                eprintln!("{diagnostic}");
                return Err(fatal("usage: mailq [options]"));
            }
            Opt::Flag(letter, value) => (letter, value.unwrap_or_default()),
            Opt::Long(..) => continue,
        };
        let first = value.chars().next();
        match letter {
            'n' => return Err(fatal("-n option not supported")),
            'B' if value != "8BITMIME" && value != "7BIT" => {
                return Err(fatal("-B option needs 8BITMIME or 7BIT"));
            }
            'I' => mode = Mode::NewAliases,
            'N' => {
                dsn_notify = valid_dsn_notify(&value);
                if !dsn_notify {
                    PROGRAM.warning("bad -N option value -- ignored");
                }
            }
            'R' => {
                dsn_return =
                    value.eq_ignore_ascii_case("FULL") || value.eq_ignore_ascii_case("HDRS");
                if !dsn_return {
                    PROGRAM.warning("bad -R option value -- ignored");
                }
            }
            'V' if value.len() > 100 => PROGRAM.warning("too long -V option value -- ignored"),
            'V' if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) => {
                PROGRAM.warning("bad syntax in -V option value -- ignored");
            }
            'X' => match first {
                Some('V') => {
                    let delimiters = &value[1..];
                    if delimiters.chars().count() != 2
                        || !delimiters.chars().all(|c| VERP_FILTER.contains(c))
                    {
                        return Err(fatal(format!(
                            "-V requires two characters from {VERP_FILTER}"
                        )));
                    }
                }
                other => {
                    return Err(fatal(format!(
                        "unsupported: -X{}",
                        other.map(String::from).unwrap_or_default()
                    )))
                }
            },
            'b' => match first {
                Some('d' | 'l') => {
                    if mode == Mode::FlushQueue {
                        PROGRAM.warning("ignoring -q option in daemon mode");
                    }
                    mode = Mode::Daemon;
                }
                Some('h' | 'H') => mode = Mode::Ignore,
                Some('i') => mode = Mode::NewAliases,
                Some('m') => mode = Mode::Enqueue,
                Some('p') => mode = Mode::ListQueue,
                Some('s') => mode = Mode::StandAlone,
                Some('v') => verify = true,
                other => {
                    return Err(fatal(format!(
                        "unsupported: -b{}",
                        other.map(String::from).unwrap_or_default()
                    )))
                }
            },
            'o' if first == Some('A') && value.len() == 1 => {
                return Err(fatal("-oA requires pathname"))
            }
            'q' => match first {
                Some(digit) if digit.is_ascii_digit() => queue_interval = true,
                Some('R') if value.len() == 1 => return Err(fatal("specify: -qRsitename")),
                Some('R') => site_to_flush = true,
                Some('I') if value.len() == 1 => return Err(fatal("specify: -qIqueueid")),
                Some('I') => id_to_flush = true,
                other => {
                    return Err(fatal(format!(
                        "-q{} is not implemented",
                        other.map(String::from).unwrap_or_default()
                    )));
                }
            },
            't' => extract_recipients = true,
            'v' => verbose += 1,
            _ => {}
        }
    }
    if extract_recipients && mode != Mode::Enqueue {
        return Err(fatal("-t can be used only in delivery mode"));
    }
    if site_to_flush && mode != Mode::Enqueue {
        return Err(fatal("-qR can be used only in delivery mode"));
    }
    if id_to_flush && mode != Mode::Enqueue {
        return Err(fatal("-qI can be used only in delivery mode"));
    }
    if verify {
        if extract_recipients {
            return Err(fatal("-t option cannot be used with -bv"));
        }
        if dsn_notify {
            return Err(fatal("-N option cannot be used with -bv"));
        }
        if dsn_return {
            return Err(fatal("-R option cannot be used with -bv"));
        }
        if verbose == 1 {
            return Err(fatal("-v option cannot be used with -bv"));
        }
    }
    if queue_interval && mode != Mode::Daemon {
        return Ok(Plan::Exit);
    }
    let has_operands = parser.operands_start() < args.len();
    let verbose_flags = std::iter::repeat_n("-v".to_string(), verbose);
    match mode {
        Mode::ListQueue => {
            if has_operands {
                return Err(fatal("display queue mode requires no recipient"));
            }
            Ok(Plan::Postqueue(
                std::iter::once("-p".to_string())
                    .chain(verbose_flags)
                    .collect(),
            ))
        }
        Mode::FlushQueue => {
            if has_operands {
                return Err(fatal("flush queue mode requires no recipient"));
            }
            Ok(Plan::Postqueue(
                std::iter::once("-f".to_string())
                    .chain(verbose_flags)
                    .collect(),
            ))
        }
        Mode::Ignore => Ok(Plan::Exit),
        Mode::Enqueue | Mode::NewAliases | Mode::Daemon | Mode::StandAlone => Ok(Plan::Sendmail {
            path: sendmail_path(&config),
        }),
    }
}

/// `-C` names the directory, or main.cf inside it.
fn config_dir_from_option(value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.file_name().is_some_and(|name| name == "main.cf") {
        path.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        path.to_path_buf()
    }
}

/// Postfix's own sendmail, for the modes that are not about the queue.
fn sendmail_path(config: &Config) -> PathBuf {
    let configured = config.get("sendmail_path");
    PathBuf::from(if configured.is_empty() {
        "/usr/sbin/sendmail".to_string()
    } else {
        configured
    })
}

/// `dsn_notify_mask`: NEVER alone, or a list of SUCCESS, FAILURE, DELAY.
fn valid_dsn_notify(value: &str) -> bool {
    let words: Vec<&str> = value.split(',').map(str::trim).collect();
    if words.len() == 1 && words[0].eq_ignore_ascii_case("NEVER") {
        return true;
    }
    !words.is_empty()
        && words.iter().all(|word| {
            ["SUCCESS", "FAILURE", "DELAY"]
                .iter()
                .any(|known| word.eq_ignore_ascii_case(known))
        })
}
