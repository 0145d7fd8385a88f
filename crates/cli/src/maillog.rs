//! The mail log as Postfix's command-line programs write it: every message line also goes to
//! syslog (`postfix/postsuper[pid]: ...`) or, when `maillog_file` is set, to the postlog
//! service (`public/postlog`, a UNIX datagram socket), falling back to appending to the file
//! itself when that service does not answer (`maillog_client.c`, `msg_logger.c`).
//!
//! Installed once per process by the programs that log this way (postsuper); `Program`'s
//! message functions call [`record`] after writing stderr.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use postfix_queue::error::strerror;
use postfix_queue::Config;

/// Where the lines go.
#[derive(Debug)]
enum Target {
    Syslog,
    Postlog {
        socket: Option<UnixDatagram>,
        file: PathBuf,
        hostname: String,
    },
}

#[derive(Debug)]
struct MailLog {
    /// `syslog_name/program`, e.g. `postfix/postsuper`.
    tag: String,
    target: Target,
}

static MAILLOG: OnceLock<Mutex<MailLog>> = OnceLock::new();

/// Sets up logging for `program` from main.cf: syslog, or postlog with the file fallback.
/// Returns a fatal message when `maillog_file` is outside `maillog_file_prefixes`.
pub fn install(config: &Config, program: &str) -> Result<(), String> {
    let tag = format!("{}/{program}", config.get("syslog_name"));
    let file = config.get("maillog_file");
    let target = if file.is_empty() {
        Target::Syslog
    } else {
        let prefixes = config.get_list("maillog_file_prefixes");
        if !prefixes
            .iter()
            .any(|prefix| file.starts_with(prefix.as_str()))
        {
            return Err(format!(
                "maillog_file value '{file}' does not match any prefix in maillog_file_prefixes"
            ));
        }
        let socket_path = format!(
            "{}/public/{}",
            config.get("queue_directory"),
            config.get("postlog_service_name")
        );
        let socket = UnixDatagram::unbound()
            .ok()
            .filter(|socket| socket.connect(&socket_path).is_ok());
        // myhostname defaults to the system's host name, as in Postfix.
        let mut hostname = config.get("myhostname");
        if hostname.is_empty() {
            hostname = system_hostname();
        }
        let hostname = hostname.split('.').next().unwrap_or_default().to_string();
        Target::Postlog {
            socket,
            file: PathBuf::from(file),
            hostname: if hostname.is_empty() {
                "amnesiac".into()
            } else {
                hostname
            },
        }
    };
    let _ = MAILLOG.set(Mutex::new(MailLog { tag, target }));
    Ok(())
}

/// Whether a program installed the mail log (postqueue and mailq do not).
pub fn installed() -> bool {
    MAILLOG.get().is_some()
}

/// Logs one line at `level` ("" for info, "warning", "error", "fatal"). Returns the fatal
/// message Postfix dies with when the log file cannot be written.
pub fn record(level: &str, text: &str) -> Result<(), String> {
    let Some(maillog) = MAILLOG.get() else {
        return Ok(());
    };
    let Ok(mut maillog) = maillog.lock() else {
        return Ok(());
    };
    let tag = maillog.tag.clone();
    match &mut maillog.target {
        Target::Syslog => {
            syslog(&tag, level, text);
            Ok(())
        }
        Target::Postlog {
            socket,
            file,
            hostname,
        } => {
            let severity = if level.is_empty() {
                String::new()
            } else {
                format!("{level}: ")
            };
            let line = format!(
                "{} {hostname} {tag}[{}]: {severity}{text}",
                timestamp(),
                std::process::id()
            );
            if let Some(socket) = socket {
                if socket.send(line.as_bytes()).is_ok() {
                    return Ok(());
                }
            }
            append(file, &line)
        }
    }
}

/// `logwriter_one_shot`: open the file (or create it, exclusively, mode 0600, as Postfix's
/// `safe_open` does, mode 0644 before the umask), append the line, close.
fn append(file: &PathBuf, line: &str) -> Result<(), String> {
    let open_failed = |what: &str, error: std::io::Error| {
        format!(
            "open logfile '{}': {what}: {}",
            file.display(),
            strerror(&error)
        )
    };
    let existing = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file);
    let mut handle = match existing {
        Ok(handle) => handle,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o644)
            .open(file)
            .map_err(|error| open_failed("cannot create file exclusively", error))?,
        Err(error) => return Err(open_failed("cannot open file", error)),
    };
    handle
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|error| {
            format!(
                "logfile '{}' write error: {}",
                file.display(),
                strerror(&error)
            )
        })
}

fn system_hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer.
    if unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } != 0 {
        return String::new();
    }
    let length = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

/// `%b %d %H:%M:%S` in local time, as msg_logger stamps each line.
fn timestamp() -> String {
    let mut buffer = [0u8; 64];
    // SAFETY: time, localtime_r and strftime get valid pointers into local storage, and the
    // format is a NUL-terminated literal.
    let length = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        libc::strftime(
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            c"%b %d %H:%M:%S".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

fn syslog(tag: &str, level: &str, text: &str) {
    if !std::path::Path::new("/dev/log").exists() {
        return;
    }
    let priority = match level {
        "" => libc::LOG_INFO,
        "warning" => libc::LOG_WARNING,
        "error" => libc::LOG_ERR,
        _ => libc::LOG_CRIT,
    };
    let message = if level.is_empty() {
        text.to_string()
    } else {
        format!("{level}: {text}")
    };
    let (Ok(tag), Ok(message)) = (CString::new(tag), CString::new(message.replace('\0', "?")))
    else {
        return;
    };
    // SAFETY: the strings outlive the calls; "%s" keeps the message from being a format.
    unsafe {
        libc::openlog(tag.as_ptr(), libc::LOG_PID, libc::LOG_MAIL);
        libc::syslog(priority, c"%s".as_ptr(), message.as_ptr());
        libc::closelog();
    }
}
