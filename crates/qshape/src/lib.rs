//! qshape: Postfix's queue shape report (qshape.pl), with the same options, messages and
//! tables, read in parallel; plus JSON and Prometheus output for monitoring (long options).
//!
//! Spec: postsuper-and-qshape.md §3 (qshape.pl 3.7.11).

mod command;
mod options;
mod progress;
mod render;
mod scan;
mod walk;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use postfix_queue::shape::{Buckets, Counting};
use postfix_queue_cli::output::{Output, WriteStop};

pub use command::command;
pub use options::{Format, Options};

/// Runs qshape. `program` is argv\[0] as invoked (qshape's `$0`), `args` the rest.
pub fn run(program: &str, args: &[String]) -> ExitCode {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let options = match options::parse(program, args) {
        Ok(options) => options,
        Err(code) => return code,
    };
    // qshape asks postconf for the queue directory (and may die there) before it looks at
    // the numeric options (and warns about them).
    if !options.all_instances {
        if let Err(code) = options::enter_queue_directory(program, &options) {
            return code;
        }
    }
    let settings = options.settings(program);
    let buckets = Buckets {
        count: settings.buckets,
        tick: settings.tick,
        linear: options.linear,
        now,
    };
    let counting = if options.senders {
        Counting::Senders
    } else if options.per_message {
        Counting::Messages
    } else {
        Counting::Recipients
    };
    // Interim reports are qshape's terminal feature for one instance's text table.
    let at_terminal =
        std::io::stdout().is_terminal() && options.format == Format::Text && !options.all_instances;
    let (batch, row_limit, clear) = if at_terminal {
        (
            settings.batch_messages,
            settings.batch_rows,
            clear_screen_sequence(),
        )
    } else {
        (0.0, 0.0, Vec::new())
    };
    let report = render::TextReport {
        program,
        buckets: &buckets,
        width: settings.width,
        min_subdomains: settings.min_subdomains,
        row_limit,
        clear: (batch > 0.0).then_some(clear.as_slice()),
    };
    let mut output = Output::new();
    let instances: Vec<Option<String>> = if options.all_instances {
        match instance_directories(&options) {
            Ok(directories) => directories.into_iter().map(Some).collect(),
            Err(message) => {
                eprintln!("{program}: fatal: {message}");
                return ExitCode::from(1);
            }
        }
    } else {
        vec![None]
    };
    let start_directory = std::env::current_dir().ok();
    let mut scans = Vec::new();
    for instance in instances {
        if let Some(directory) = &instance {
            let mut instance_options = options.clone();
            instance_options.config_directory = Some(Some(directory.clone()));
            if let Some(start) = &start_directory {
                let _ = std::env::set_current_dir(start);
            }
            if let Err(code) = options::enter_queue_directory(program, &instance_options) {
                return code;
            }
        }
        let started = std::time::Instant::now();
        let interim = |shape: &postfix_queue::shape::Shape, output: &mut Output| {
            progress::suspend(|| {
                report.write(output.buffer(), shape);
                output.flush()
            })
        };
        let scanned = scan::scan(
            program,
            &options.queues,
            &buckets,
            counting,
            options.parents,
            batch,
            &mut output,
            interim,
        );
        progress::finish();
        let scanned = match scanned {
            Ok(scanned) => scanned,
            Err(stop) => return write_stop(program, stop),
        };
        scans.push(render::Scan {
            instance,
            scanned,
            elapsed: started.elapsed().as_secs_f64(),
        });
    }
    let mut document = Vec::new();
    match options.format {
        Format::Text => {
            for scan in &scans {
                if let Some(instance) = &scan.instance {
                    document.extend_from_slice(format!("instance {instance}:\n").as_bytes());
                }
                report.write(&mut document, &scan.scanned.shape);
            }
        }
        Format::Json => render::json(
            &mut document,
            &options,
            &settings,
            &buckets,
            &scans,
            counting,
            options.all_instances,
        ),
        Format::Prometheus => render::prometheus(
            &mut document,
            &options,
            &settings,
            &buckets,
            &scans,
            counting,
        ),
    }
    if let Some(path) = &options.output_file {
        return match write_atomically(path, &document) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!(
                    "{program}: fatal: write {}: {}",
                    path.display(),
                    postfix_queue::error::strerror(&error)
                );
                ExitCode::from(1)
            }
        };
    }
    output.buffer().extend_from_slice(&document);
    match output.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(stop) => write_stop(program, stop),
    }
}

fn write_stop(program: &str, stop: WriteStop) -> ExitCode {
    match stop {
        WriteStop::BrokenPipe => ExitCode::SUCCESS,
        WriteStop::Failed(error) => {
            eprintln!(
                "{program}: fatal: write error: {}",
                postfix_queue::error::strerror(&error)
            );
            ExitCode::from(1)
        }
    }
}

/// `--all-instances`: the configuration directory (from `-c`, `MAIL_CONFIG` or the default)
/// and each entry of its `multi_instance_directories`.
fn instance_directories(options: &Options) -> Result<Vec<String>, String> {
    let directory = match &options.config_directory {
        Some(Some(directory)) => std::path::PathBuf::from(directory),
        _ => postfix_queue::config::config_directory(None),
    };
    let config = postfix_queue::Config::load(&directory).map_err(|error| error.to_string())?;
    let mut directories = vec![directory.display().to_string()];
    directories.extend(config.get_list("multi_instance_directories"));
    Ok(directories)
}

/// What `` `clear` `` prints for this terminal, as qshape takes it.
fn clear_screen_sequence() -> Vec<u8> {
    std::process::Command::new("clear")
        .stderr(std::process::Stdio::inherit())
        .output()
        .map(|output| output.stdout)
        .unwrap_or_default()
}

/// Writes `bytes` to a temporary file in the target's directory, then renames it over the
/// target, so a reader (node_exporter's textfile collector) never sees a partial file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = directory.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}
