//! Start-up shared by the tools, in Postfix's order: read main.cf (with the check that an
//! untrusted caller may use a non-default directory), apply `mail_params_init`'s checks, print
//! the "overriding earlier entry" warnings, clean the environment's `TZ` as
//! `import_environment` says, and chdir to the queue directory.
//!
//! Spec: format-and-postqueue.md §1 (Postfix `mail_conf.c`, `mail_params.c`).

use std::path::Path;

use postfix_queue::config::ConfigError;
use postfix_queue::error::strerror;
use postfix_queue::Config;

use crate::{Outcome, Program};

/// Whether Postfix would distrust this process's environment and command line (`unsafe()`):
/// a process that is not plain root and runs with other effective ids than its real ones, as
/// a set-gid postqueue does for every ordinary user.
pub fn untrusted() -> bool {
    // SAFETY: these getters have no preconditions.
    unsafe {
        if libc::getuid() == 0 && libc::geteuid() == 0 {
            return false;
        }
        libc::geteuid() != libc::getuid() || libc::getegid() != libc::getgid()
    }
}

/// Reads and checks the configuration; on failure returns the fatal outcome with `status`,
/// after printing any `error:` line Postfix prints first.
/// `untrusted` is Postfix's `unsafe()` for this program: postqueue passes [`untrusted()`];
/// mailq passes false, because Postfix's sendmail is not set-gid and so never checks
/// `MAIL_CONFIG` itself (the postqueue it runs does).
pub fn read_config(
    program: &Program,
    directory: &Path,
    status: u8,
    untrusted: bool,
) -> Result<Config, Outcome> {
    let fail = |error: ConfigError| {
        if let Some(line) = error.preceding_error() {
            program.error(&line);
        }
        Outcome::Fatal {
            message: error.to_string(),
            status,
        }
    };
    let (config, warnings) = Config::load_checked(directory, untrusted).map_err(fail)?;
    for warning in warnings {
        program.warning(&warning);
    }
    config.validate().map_err(fail)?;
    if untrusted {
        // Sets TZ too: only `TZ=value` from import_environment survives.
        clean_environment(&config);
    } else {
        apply_imported_time_zone(&config);
    }
    Ok(config)
}

/// A set-gid program trusts nothing it inherited: like Postfix's `clean_env`, keep only the
/// `NAME=value` settings of `import_environment` (plain names would be inherited values,
/// which `safe_getenv` refuses in a set-id process).
fn clean_environment(config: &Config) {
    let imported = config.get_list("import_environment");
    let keep: Vec<(String, String)> = imported
        .iter()
        .filter_map(|item| {
            item.split_once('=')
                .map(|(name, value)| (name.to_string(), value.to_string()))
        })
        .collect();
    for (name, _) in std::env::vars_os() {
        std::env::remove_var(name);
    }
    for (name, value) in keep {
        std::env::set_var(name, value);
    }
    crate::time::init_timezone();
}

/// Gives up a set-gid group for good (real, effective and saved) once it is no longer
/// needed, e.g. after the connection to a daemon is open.
pub fn drop_group_privilege() -> std::io::Result<()> {
    // SAFETY: getgid, getegid and setresgid have no memory-safety preconditions.
    unsafe {
        let gid = libc::getgid();
        if libc::getegid() != gid && libc::setresgid(gid, gid, gid) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// chdir to `queue_directory`, as every tool does before touching the queue.
pub fn enter_queue_directory(config: &Config, status: u8) -> Result<(), Outcome> {
    let queue_directory = config.get("queue_directory");
    std::env::set_current_dir(&queue_directory).map_err(|error| Outcome::Fatal {
        message: format!("chdir {queue_directory}: {}", strerror(&error)),
        status,
    })
}

/// Postfix cleans its environment down to `import_environment` before printing times, so `TZ`
/// counts only when that list keeps it (`TZ`, restoring the inherited value) or sets it
/// (`TZ=zone`); the last mention wins. (A set-id run goes through `clean_environment`.)
fn apply_imported_time_zone(config: &Config) {
    // clean_env: clear everything, then apply the list in order; a plain name restores the
    // inherited value, `NAME=value` sets it.
    let inherited = std::env::var_os("TZ");
    let mut time_zone: Option<std::ffi::OsString> = None;
    for item in config.get_list("import_environment") {
        match item.split_once('=') {
            Some(("TZ", value)) => time_zone = Some(value.into()),
            None if item == "TZ" => {
                if let Some(value) = &inherited {
                    time_zone = Some(value.clone());
                }
            }
            _ => {}
        }
    }
    match time_zone {
        Some(value) => std::env::set_var("TZ", value),
        None => std::env::remove_var("TZ"),
    }
    crate::time::init_timezone();
}
