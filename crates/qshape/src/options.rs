//! qshape's command line as Perl's Getopt::Std reads it (`lhc:psw:b:t:m:n:N:`), its usage text
//! and exit status 255, the numeric rules Perl applies to option values (with Perl's
//! "isn't numeric" warnings), and finding the queue directory through `postconf`.
//! Our extensions are long options, which qshape would reject, so no qshape command line
//! changes meaning.
//!
//! Spec: postsuper-and-qshape.md §3.1, §3.2.

use std::path::PathBuf;
use std::process::ExitCode;

use postfix_queue::shape::{perl_looks_like_number, perl_number};

/// Output formats (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Prometheus,
}

/// The command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub senders: bool,
    pub parents: bool,
    pub linear: bool,
    /// Raw option values, as Perl keeps them (`None` = given without a value).
    pub min_subdomains: Option<Option<String>>,
    pub buckets: Option<Option<String>>,
    pub tick: Option<Option<String>>,
    pub width: Option<Option<String>>,
    pub batch_messages: Option<Option<String>>,
    pub batch_rows: Option<Option<String>>,
    pub config_directory: Option<Option<String>>,
    pub queues: Vec<String>,
    pub format: Format,
    pub output_file: Option<PathBuf>,
    pub per_message: bool,
    /// `--all-instances`: the default instance and every `multi_instance_directories` entry.
    pub all_instances: bool,
    /// Rows kept in machine output (`--top`); 0 = all.
    pub top: Option<usize>,
}

/// The numeric settings after qshape's acceptance rules.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub width: f64,
    pub buckets: f64,
    pub tick: f64,
    pub min_subdomains: f64,
    pub batch_messages: f64,
    pub batch_rows: f64,
}

/// Our long options; any other is rejected the way qshape rejects it.
const KNOWN_LONG: [&str; 6] = [
    "format",
    "output",
    "per-message",
    "top",
    "help",
    "all-instances",
];

const LONG_USAGE: &str = "\
Our extensions (long options; qshape itself has none):
\t--format text|json|prometheus   output format (default text, qshape's table)
\t--output FILE     write the report to FILE atomically (temporary file, then rename)
\t--per-message     count messages instead of recipients (one per domain per message)
\t--top N           machine output: keep the N largest domains, sum the rest as \"other\"
\t--all-instances   the default instance and each multi_instance_directories entry
\t--help            this text
";

fn usage(program: &str) -> String {
    format!(
        "Usage: {program} [ -s ] [ -p ] [ -m <min_subdomains> ] [ -l ]\n\
\t[ -b <bucket_count> ] [ -t <bucket_time> ] [ -w <terminal_width> ]\n\
\t[ -N <batch_msg_count> ] [ -n <batch_top_domains> ]\n\
\t[ -c <config_directory> ] [ <queue_name> ... ]\n\
The 's' option shows sender domain counts.\n\
The 'p' option shows address counts by for parent domains.\n\
Parent domains are shown with a leading '.' before the domain name.\n\
Parent domains are only shown if the domain is not a TLD, and at\n\
least <min_subdomains> (default 5) subdomains are shown in the output.\n\n\
The bucket age ranges in units of <bucket_time> minutes are\n\
[0,1), [1,2), [2,4), [4,8), [8, 16), ... i.e.:\n\
\tthe first bucket is [0, bucket_time) minutes\n\
\tthe second bucket is [bucket_time, 2*bucket_time) minutes\n\
\tthe third bucket is [2*bucket_time, 4*bucket_time) minutes...\n\
'-l' makes the ages linear, the number of buckets shown is <bucket_count>\n\n\
The default summary is for the incoming and active queues. An explicit\n\
list of queue names can be given on the command line. Non-absolute queue\n\
names are interpreted relative to the Postfix queue directory. Use\n\
<config_directory> to specify a non-default Postfix instance.  Values of\n\
the main.cf queue_directory parameter that use variable expansions are\n\
not supported. If necessary, use explicit absolute paths for all queues.\n"
    )
}

/// qshape's `__WARN__` handler during start-up: the warning (unless `-h` was seen), then the
/// usage text, and exit 255 (Perl's `die`).
fn die_with_usage(program: &str, warning: Option<&str>) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    use std::io::Write;
    if let Some(warning) = warning {
        let _ = write!(stderr, "{program}: {warning}");
    }
    let _ = write!(stderr, "{}", usage(program));
    ExitCode::from(255)
}

/// Getopt::Std's `getopts("lhc:psw:b:t:m:n:N:")`, plus our long options.
pub fn parse(program: &str, args: &[String]) -> Result<Options, ExitCode> {
    let mut options = Options {
        senders: false,
        parents: false,
        linear: false,
        min_subdomains: None,
        buckets: None,
        tick: None,
        width: None,
        batch_messages: None,
        batch_rows: None,
        config_directory: None,
        queues: Vec::new(),
        format: Format::Text,
        output_file: None,
        per_message: false,
        all_instances: false,
        top: None,
    };
    let mut help = false;
    let mut index = 0;
    let mut pending: Option<String> = None;
    loop {
        let argument = match pending.take() {
            Some(rest) => rest,
            None => match args.get(index) {
                Some(argument) => argument.clone(),
                None => break,
            },
        };
        // /^-(.)(.*)/s: a dash and at least one more character.
        let Some(body) = argument.strip_prefix('-').filter(|body| !body.is_empty()) else {
            break;
        };
        if argument == "--" {
            index += 1;
            break;
        }
        if let Some(long) = body.strip_prefix('-') {
            let name = long.split_once('=').map_or(long, |(name, _)| name);
            if !KNOWN_LONG.contains(&name) {
                // As qshape: Getopt::Std sees an unknown option `-`.
                let warning = "Unknown option: -\n";
                return Err(die_with_usage(program, (!help).then_some(warning)));
            }
            index += 1;
            match long_option(&mut options, long, args, &mut index) {
                Ok(true) => help = true,
                Ok(false) => {}
                Err(message) => {
                    eprintln!("{program}: {message}");
                    return Err(ExitCode::from(2));
                }
            }
            continue;
        }
        let mut characters = body.chars();
        let first = characters.next().unwrap_or('-');
        let rest: String = characters.collect();
        let takes_value = match first {
            'l' | 'h' | 'p' | 's' => false,
            'c' | 'w' | 'b' | 't' | 'm' | 'n' | 'N' => true,
            _ => {
                // Getopt::Std warns, and qshape's handler turns the warning into the usage.
                let warning = format!("Unknown option: {first}\n");
                return Err(die_with_usage(program, (!help).then_some(warning.as_str())));
            }
        };
        if takes_value {
            index += 1;
            let value = if rest.is_empty() {
                let value = args.get(index).cloned();
                if value.is_some() {
                    index += 1;
                }
                value
            } else {
                Some(rest)
            };
            let slot = match first {
                'c' => &mut options.config_directory,
                'w' => &mut options.width,
                'b' => &mut options.buckets,
                't' => &mut options.tick,
                'm' => &mut options.min_subdomains,
                'n' => &mut options.batch_rows,
                _ => &mut options.batch_messages,
            };
            *slot = Some(value);
            continue;
        }
        match first {
            'l' => options.linear = true,
            'h' => help = true,
            'p' => options.parents = true,
            _ => options.senders = true,
        }
        if rest.is_empty() {
            index += 1;
        } else {
            pending = Some(format!("-{rest}"));
        }
    }
    if help {
        return Err(die_with_usage(program, None));
    }
    options.queues = if index < args.len() {
        args[index..].to_vec()
    } else {
        vec!["incoming".to_string(), "active".to_string()]
    };
    Ok(options)
}

/// One of our long options; true for `--help`. Values come as `--name=value` or
/// `--name value`.
fn long_option(
    options: &mut Options,
    long: &str,
    args: &[String],
    index: &mut usize,
) -> Result<bool, String> {
    let (name, inline) = match long.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (long, None),
    };
    let mut value = || -> Result<String, String> {
        if let Some(value) = inline.clone() {
            return Ok(value);
        }
        let value = args
            .get(*index)
            .cloned()
            .ok_or_else(|| format!("option '--{name}' requires an argument"))?;
        *index += 1;
        Ok(value)
    };
    match name {
        "format" => {
            options.format = match value()?.as_str() {
                "text" => Format::Text,
                "json" => Format::Json,
                "prometheus" => Format::Prometheus,
                other => {
                    return Err(format!(
                        "bad --format: \"{other}\" (use text, json or prometheus)"
                    ))
                }
            }
        }
        "output" => options.output_file = Some(PathBuf::from(value()?)),
        "per-message" => options.per_message = true,
        "all-instances" => options.all_instances = true,
        "top" => {
            let text = value()?;
            options.top = Some(
                text.parse()
                    .map_err(|_| format!("bad --top: \"{text}\" (use a number; 0 = all)"))?,
            );
        }
        "help" => {
            print!("{LONG_USAGE}");
            return Ok(true);
        }
        other => return Err(format!("unrecognized option '--{other}'")),
    }
    Ok(false)
}

impl Options {
    /// The numeric settings, with qshape's acceptance rules and Perl's warnings for values
    /// that are not numbers (lines 181-184 of qshape.pl).
    pub fn settings(&self, program: &str) -> Settings {
        let accept = |value: &Option<Option<String>>, line: u32, name: char, limit: f64| {
            let value = value.as_ref()?;
            let Some(text) = value else {
                eprintln!(
                    "Use of uninitialized value $opts{{\"{name}\"}} in numeric gt (>) at {program} line {line}."
                );
                return None;
            };
            if !perl_looks_like_number(text) {
                eprintln!(
                    "Argument \"{text}\" isn't numeric in numeric gt (>) at {program} line {line}."
                );
            }
            let number = perl_number(text.as_bytes());
            (number > limit).then_some(number)
        };
        let width = accept(&self.width, 181, 'w', 80.0).unwrap_or(80.0);
        let buckets = accept(&self.buckets, 182, 'b', 0.0).unwrap_or(10.0);
        let tick = accept(&self.tick, 183, 't', 0.0).unwrap_or(5.0);
        let min_subdomains = accept(&self.min_subdomains, 184, 'm', 0.0).unwrap_or(5.0);
        // -N and -n are used as given (only at a terminal).
        let raw = |value: &Option<Option<String>>, default: f64| match value {
            None => default,
            Some(None) => 0.0,
            Some(Some(text)) => perl_number(text.as_bytes()),
        };
        Settings {
            width,
            buckets,
            tick,
            min_subdomains,
            batch_messages: raw(&self.batch_messages, 1000.0),
            batch_rows: raw(&self.batch_rows, 20.0),
        }
    }
}

/// When a queue name is relative, ask `postconf -h queue_directory` (with `MAIL_CONFIG` from
/// `-c`) and chdir there, as qshape does, with its messages and exit codes.
pub fn enter_queue_directory(program: &str, options: &Options) -> Result<(), ExitCode> {
    if options.queues.iter().all(|queue| queue.starts_with('/')) {
        return Ok(());
    }
    if let Some(Some(directory)) = &options.config_directory {
        std::env::set_var("MAIL_CONFIG", directory);
    }
    let queue_directory = match std::process::Command::new("postconf")
        .args(["-h", "queue_directory"])
        .stderr(std::process::Stdio::inherit())
        .output()
    {
        Ok(output) if output.status.success() => {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            if text.ends_with('\n') {
                text.pop();
            }
            text
        }
        Ok(_) => {
            eprintln!("{program}: postconf failed");
            return Err(ExitCode::from(1));
        }
        // No Postfix here to ask: read main.cf ourselves (deviation Q6).
        Err(_) => own_queue_directory(program)?,
    };
    if queue_directory.contains('$') {
        let warning =
            format!("'queue_directory' variable expansion not supported: {queue_directory}\n");
        return Err(die_with_usage(program, Some(&warning)));
    }
    if let Err(error) = std::env::set_current_dir(&queue_directory) {
        eprintln!(
            "{program}: chdir({queue_directory}): {}",
            postfix_queue::error::strerror(&error)
        );
        // Perl's die exits with errno.
        let status = error.raw_os_error().unwrap_or(255).clamp(1, 255);
        return Err(ExitCode::from(status as u8));
    }
    Ok(())
}

fn own_queue_directory(program: &str) -> Result<String, ExitCode> {
    let directory = postfix_queue::config::config_directory(None);
    match postfix_queue::Config::load(&directory) {
        Ok(config) => Ok(config
            .raw("queue_directory")
            .map(str::to_string)
            .unwrap_or_else(|| config.get("queue_directory"))),
        Err(error) => {
            eprintln!("postconf: fatal: {error}");
            eprintln!("{program}: postconf failed");
            Err(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn getopt_std_rules() {
        let options = parse(
            "qshape",
            &strings(&["-sp", "-b5", "-t", "0.5", "deferred", "-l"]),
        )
        .expect("parses");
        assert!(options.senders && options.parents && !options.linear);
        assert_eq!(options.buckets, Some(Some("5".into())));
        assert_eq!(options.tick, Some(Some("0.5".into())));
        assert_eq!(options.queues, vec!["deferred", "-l"]);
        let options = parse("qshape", &strings(&["-b"])).expect("parses");
        assert_eq!(options.buckets, Some(None));
        assert_eq!(options.queues, vec!["incoming", "active"]);
        let options = parse("qshape", &strings(&["--", "-s"])).expect("parses");
        assert_eq!(options.queues, vec!["-s"]);
        let options = parse(
            "qshape",
            &strings(&["--format=json", "--per-message", "--top", "5", "hold"]),
        )
        .expect("parses");
        assert_eq!(options.format, Format::Json);
        assert!(options.per_message);
        assert_eq!(options.top, Some(5));
        assert_eq!(options.queues, vec!["hold"]);
    }

    #[test]
    fn settings_follow_perl_comparisons() {
        let options = parse(
            "qshape",
            &strings(&["-w", "50", "-b", "0", "-t", "0.5", "-m", "abc"]),
        )
        .expect("parses");
        let settings = options.settings("qshape");
        assert_eq!(settings.width, 80.0);
        assert_eq!(settings.buckets, 10.0);
        assert_eq!(settings.tick, 0.5);
        assert_eq!(settings.min_subdomains, 5.0);
    }
}
