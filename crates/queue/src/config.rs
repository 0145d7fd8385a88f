//! Postfix configuration as the queue tools read it: locating main.cf (`-c`, `MAIL_CONFIG`,
//! `/etc/postfix`), its line syntax, `$name` expansion with the 3.x conditional forms, and the
//! built-in defaults of every parameter the tools use.
//!
//! Spec: format-and-postqueue.md §1 (Postfix `mail_conf.c`, `readlline.c`, `mac_expand.c`).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Debian's compile-time configuration directory.
pub const DEFAULT_CONFIG_DIRECTORY: &str = "/etc/postfix";
/// The environment variable that names a non-default configuration directory.
pub const CONFIG_ENVIRONMENT_VARIABLE: &str = "MAIL_CONFIG";

/// Built-in defaults (Postfix 3.7 `mail_params.h`, Debian paths) for the parameters the tools
/// read. Values may reference other parameters; they are expanded like main.cf values.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("config_directory", DEFAULT_CONFIG_DIRECTORY),
    ("queue_directory", "/var/spool/postfix"),
    ("daemon_directory", "/usr/lib/postfix/sbin"),
    ("command_directory", "/usr/sbin"),
    ("data_directory", "/var/lib/postfix"),
    ("mail_owner", "postfix"),
    ("setgid_group", "postdrop"),
    ("mail_name", "Postfix"),
    ("compatibility_level", "0"),
    ("hash_queue_names", "deferred, defer"),
    ("hash_queue_depth", "1"),
    ("enable_long_queue_ids", "no"),
    ("empty_address_recipient", "MAILER-DAEMON"),
    ("duplicate_filter_limit", "1000"),
    ("smtputf8_enable", "${{$compatibility_level} <level {1} ? {no} : {yes}}"),
    ("authorized_mailq_users", "static:anyone"),
    ("authorized_flush_users", "static:anyone"),
    ("fast_flush_domains", "$relay_domains"),
    ("relay_domains", "${{$compatibility_level} <level {2} ? {$mydestination} : {}}"),
    ("mydestination", "$myhostname, localhost.$mydomain, localhost"),
    ("parent_domain_matches_subdomains", "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps"),
    ("showq_service_name", "showq"),
    ("flush_service_name", "flush"),
    ("queue_service_name", "qmgr"),
    ("pickup_service_name", "pickup"),
    ("trigger_timeout", "10s"),
    ("import_environment", "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME"),
    ("alternate_config_directories", ""),
    ("multi_instance_directories", ""),
    ("multi_instance_enable", "no"),
    ("syslog_name", "${multi_instance_name?{$multi_instance_name}:{postfix}}"),
    ("syslog_facility", "mail"),
    ("maillog_file", ""),
    ("maillog_file_prefixes", "/var, /dev/stdout"),
    ("postlog_service_name", "postlog"),
    ("mail_version", "3.7.11"),
    ("sendmail_path", "/usr/sbin/sendmail"),
];

/// A configuration problem, worded as Postfix words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// main.cf could not be opened: `open PATH: REASON`.
    Open { path: PathBuf, reason: String },
    /// A boolean parameter that is neither yes nor no.
    BadBoolean { name: String, value: String },
    /// A numerical parameter that is not a number.
    BadNumber { name: String, value: String },
    /// A numerical parameter below its minimum.
    TooSmall { name: String, value: i64, min: i64 },
    /// A string parameter shorter than its minimum (usually: empty).
    BadStringLength {
        name: String,
        value: String,
        min: usize,
    },
    /// A main.cf line that is not `name = value`.
    Syntax {
        path: PathBuf,
        line: usize,
        reason: &'static str,
        text: String,
    },
    /// A non-default configuration directory that an untrusted caller may not use. Postfix
    /// prints an `error:` line, then a `fatal:` line; `Display` gives the fatal one.
    UnauthorizedDirectory {
        directory: PathBuf,
        default_main_cf: PathBuf,
    },
    /// The default main.cf, needed to authorise a directory, cannot be opened.
    OpenDefault { path: PathBuf, reason: String },
    /// mail_owner or setgid_group is unusable, as Postfix's start-up checks word it.
    Account {
        config_directory: PathBuf,
        name: &'static str,
        problem: String,
    },
}

impl ConfigError {
    /// The `error:` line Postfix prints before the fatal one, if any.
    pub fn preceding_error(&self) -> Option<String> {
        match self {
            Self::UnauthorizedDirectory { directory, .. } => Some(format!(
                "unauthorized configuration directory name: {}",
                directory.display()
            )),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, reason } => write!(f, "open {}: {reason}", path.display()),
            Self::BadBoolean { name, value } => {
                write!(f, "bad boolean configuration: {name} = {value}")
            }
            Self::BadNumber { name, value } => {
                write!(f, "bad numerical configuration: {name} = {value}")
            }
            Self::TooSmall { name, value, min } => {
                write!(f, "invalid {name} parameter value {value} < {min}")
            }
            Self::BadStringLength { name, value, min } => {
                write!(f, "bad string length {} < {min}: {name} = {value}", value.len())
            }
            Self::Syntax { path, line, reason, text } => {
                write!(f, "{}, line {line}: {reason}: \"{text}\"", path.display())
            }
            Self::UnauthorizedDirectory { directory, default_main_cf } => write!(
                f,
                "specify \"alternate_config_directories = {dir}\" or \"multi_instance_directories = {dir}\" in {}",
                default_main_cf.display(),
                dir = directory.display()
            ),
            Self::OpenDefault { path, reason } => write!(f, "open file {}: {reason}", path.display()),
            Self::Account { config_directory, name, problem } => write!(
                f,
                "file {}/main.cf: parameter {name}: {problem}",
                config_directory.display()
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The configuration directory as Postfix chooses it: `-c`, then `MAIL_CONFIG`, then the default.
pub fn config_directory(command_line: Option<&Path>) -> PathBuf {
    if let Some(directory) = command_line {
        return directory.to_path_buf();
    }
    // An empty MAIL_CONFIG is a directory name like any other to Postfix (getenv != NULL).
    match std::env::var_os(CONFIG_ENVIRONMENT_VARIABLE) {
        Some(directory) => PathBuf::from(directory),
        None => PathBuf::from(DEFAULT_CONFIG_DIRECTORY),
    }
}

/// Parsed main.cf plus the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct Config {
    explicit: HashMap<String, String>,
    directory: PathBuf,
}

impl Config {
    /// Reads `DIR/main.cf`. A missing file is an error, as it is for Postfix.
    pub fn load(directory: &Path) -> Result<Self, ConfigError> {
        Self::load_checked(directory, false).map(|(config, _)| config)
    }

    /// Reads `DIR/main.cf` as Postfix's `mail_conf_suck` does: an `untrusted` caller (not
    /// root, or set-gid) may use a non-default directory only when the default main.cf lists it
    /// in `alternate_config_directories` or `multi_instance_directories`. Syntax errors are
    /// fatal; redefinitions with a new value come back as warnings.
    pub fn load_checked(
        directory: &Path,
        untrusted: bool,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        if untrusted && directory != Path::new(DEFAULT_CONFIG_DIRECTORY) {
            check_directory_authorised(directory)?;
        }
        let path = directory.join("main.cf");
        let bytes = std::fs::read(&path).map_err(|error| ConfigError::Open {
            path: path.clone(),
            reason: crate::error::strerror(&error),
        })?;
        let mut config = Self {
            explicit: HashMap::new(),
            directory: directory.to_path_buf(),
        };
        // Postfix enters the directory before reading the file, so a main.cf line that sets
        // config_directory to something else is an "overriding" redefinition.
        config.explicit.insert(
            "config_directory".into(),
            directory.to_string_lossy().into_owned(),
        );
        let mut warnings = Vec::new();
        for (line, text) in logical_lines(&String::from_utf8_lossy(&bytes)) {
            let (name, value) = split_name_value(&text).map_err(|reason| ConfigError::Syntax {
                path: path.clone(),
                line,
                reason,
                text: text.clone(),
            })?;
            if let Some(old) = config.explicit.get(name) {
                if old != value {
                    warnings.push(format!(
                        "{}, line {line}: overriding earlier entry: {name}={old}",
                        path.display()
                    ));
                }
            }
            config.explicit.insert(name.to_string(), value.to_string());
        }
        Ok((config, warnings))
    }

    /// Parses main.cf text leniently (lines without `=` are ignored): for tests and tools.
    pub fn parse(text: &str) -> Self {
        let mut explicit = HashMap::new();
        for (_, line) in logical_lines(text) {
            if let Ok((name, value)) = split_name_value(&line) {
                explicit.insert(name.to_string(), value.to_string());
            }
        }
        Self {
            explicit,
            directory: PathBuf::new(),
        }
    }

    /// The start-up checks of Postfix's `mail_params_init` for the parameters these tools use:
    /// string minimum lengths, numbers, booleans, and the mail_owner and setgid_group accounts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.get_bool("smtputf8_enable")?;
        for (name, min) in REQUIRED_STRINGS {
            let value = self.get(name);
            if value.len() < *min {
                return Err(ConfigError::BadStringLength {
                    name: (*name).into(),
                    value,
                    min: *min,
                });
            }
        }
        self.get_int("hash_queue_depth", 1)?;
        self.get_bool("enable_long_queue_ids")?;
        self.check_accounts()
    }

    /// `check_mail_owner` and `check_sgid_group`.
    fn check_accounts(&self) -> Result<(), ConfigError> {
        let account = |name: &'static str, problem: String| ConfigError::Account {
            config_directory: self.directory.clone(),
            name,
            problem,
        };
        let owner = self.get("mail_owner");
        match crate::identity::lookup_user(&owner) {
            None => {
                return Err(account(
                    "mail_owner",
                    format!("unknown user name value: {owner}"),
                ))
            }
            Some((0, _)) => {
                return Err(account(
                    "mail_owner",
                    format!("user {owner} has privileged user ID"),
                ))
            }
            Some((_, 0)) => {
                return Err(account(
                    "mail_owner",
                    format!("user {owner} has privileged group ID"),
                ))
            }
            Some(_) => {}
        }
        let group = self.get("setgid_group");
        match crate::identity::lookup_group(&group) {
            None => Err(account(
                "setgid_group",
                format!("unknown group name: {group}"),
            )),
            Some(0) => Err(account(
                "setgid_group",
                format!("group {group} has privileged group ID"),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Sets a parameter as if main.cf had it (used by tests and tools).
    pub fn set(&mut self, name: &str, value: &str) {
        self.explicit.insert(name.to_string(), value.to_string());
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The raw (unexpanded) value: main.cf first, then the built-in default.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.explicit.get(name).map(String::as_str).or_else(|| {
            DEFAULTS
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| *value)
        })
    }

    /// The expanded value; an undefined parameter is the empty string.
    pub fn get(&self, name: &str) -> String {
        let mut out = String::new();
        if let Some(raw) = self.raw(name) {
            Expander {
                config: self,
                depth: 0,
                gave_up: false,
            }
            .expand_into(raw, &mut out);
        }
        out
    }

    pub fn get_bool(&self, name: &str) -> Result<bool, ConfigError> {
        let value = self.get(name);
        if value.eq_ignore_ascii_case("yes") {
            Ok(true)
        } else if value.eq_ignore_ascii_case("no") {
            Ok(false)
        } else {
            Err(ConfigError::BadBoolean {
                name: name.into(),
                value,
            })
        }
    }

    pub fn get_int(&self, name: &str, min: i64) -> Result<i64, ConfigError> {
        let value = self.get(name);
        // strtol into an int: leading whitespace and a sign are fine, trailing text is not.
        match value.trim_start().parse::<i64>() {
            Ok(number) if i32::try_from(number).is_err() => Err(ConfigError::BadNumber {
                name: name.into(),
                value,
            }),
            Ok(number) if number < min => Err(ConfigError::TooSmall {
                name: name.into(),
                value: number,
                min,
            }),
            Ok(number) => Ok(number),
            Err(_) => Err(ConfigError::BadNumber {
                name: name.into(),
                value,
            }),
        }
    }

    /// A list parameter split on commas and whitespace, as `mail_parm_split` does.
    pub fn get_list(&self, name: &str) -> Vec<String> {
        split_list(&self.get(name))
    }
}

/// Splits a Postfix list value on commas and whitespace.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || is_space_char(c))
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// String parameters that Postfix requires to be at least this long, in its checking order.
const REQUIRED_STRINGS: &[(&str, usize)] = &[
    ("mail_name", 1),
    ("syslog_name", 1),
    ("mail_owner", 1),
    ("setgid_group", 1),
    ("daemon_directory", 1),
    ("data_directory", 1),
    ("command_directory", 1),
    ("queue_directory", 1),
    ("hash_queue_names", 1),
    ("pickup_service_name", 1),
    ("queue_service_name", 1),
    ("showq_service_name", 1),
    ("flush_service_name", 1),
];

/// main.cf's logical lines with the number of the physical line each starts on (`readllines`):
/// comments and blank lines are skipped even inside a continued entry, and a line that starts
/// with whitespace continues the previous one, joined without a separator.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let trimmed = line.trim_start_matches(is_space_char);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let continues = line.starts_with(is_space_char);
        match lines.last_mut() {
            Some((_, previous)) if continues => previous.push_str(line),
            _ => lines.push((index + 1, line.to_string())),
        }
    }
    lines
}

/// `split_nameval`: `name = value` with whitespace trimmed, or Postfix's reason why not.
fn split_name_value(line: &str) -> Result<(&str, &str), &'static str> {
    let line = line.trim_start_matches(is_space_char);
    if line.is_empty() || line.starts_with('=') {
        return Err("missing attribute name");
    }
    let name_end = line
        .find(|c: char| is_space_char(c) || c == '=')
        .unwrap_or(line.len());
    let rest = line[name_end..].trim_start_matches(is_space_char);
    let Some(value) = rest.strip_prefix('=') else {
        return Err("missing '=' after attribute name");
    };
    Ok((&line[..name_end], value.trim_matches(is_space_char)))
}

/// `mail_conf_checkdir`: the directory must be listed in the default main.cf.
pub fn check_directory_authorised(directory: &Path) -> Result<(), ConfigError> {
    let default_main_cf = Path::new(DEFAULT_CONFIG_DIRECTORY).join("main.cf");
    let bytes = std::fs::read(&default_main_cf).map_err(|error| ConfigError::OpenDefault {
        path: default_main_cf.clone(),
        reason: crate::error::strerror(&error),
    })?;
    let wanted = directory.to_string_lossy();
    let listed = logical_lines(&String::from_utf8_lossy(&bytes))
        .into_iter()
        .any(|(_, line)| {
            matches!(split_name_value(&line), Ok((name, value))
            if (name == "alternate_config_directories" || name == "multi_instance_directories")
                && split_list(value).iter().any(|listed| *listed == wanted))
        });
    if listed {
        Ok(())
    } else {
        Err(ConfigError::UnauthorizedDirectory {
            directory: directory.to_path_buf(),
            default_main_cf,
        })
    }
}

fn is_space_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

/// `mac_expand` with recursion, for the forms main.cf uses.
struct Expander<'a> {
    config: &'a Config,
    depth: u32,
    /// Set once nesting is unreasonable; every later step then stops at once, so a
    /// self-referencing value costs linear time, not exponential.
    gave_up: bool,
}

/// Postfix gives up on nesting deeper than this; so do we, with an empty result.
const MAX_EXPANSION_DEPTH: u32 = 100;

impl Expander<'_> {
    fn expand_into(&mut self, text: &str, out: &mut String) {
        if self.gave_up || self.depth > MAX_EXPANSION_DEPTH {
            self.gave_up = true;
            return;
        }
        self.depth += 1;
        let bytes = text.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] != b'$' {
                let next = text[index..].find('$').map_or(bytes.len(), |at| index + at);
                out.push_str(&text[index..next]);
                index = next;
                continue;
            }
            index += 1;
            match bytes.get(index) {
                Some(b'$') => {
                    out.push('$');
                    index += 1;
                }
                Some(&open @ (b'{' | b'(')) => {
                    let close = if open == b'{' { b'}' } else { b')' };
                    match matching_close(bytes, index, open, close) {
                        Some(end) => {
                            self.expand_expression(&text[index + 1..end], out);
                            index = end + 1;
                        }
                        None => {
                            // Unbalanced: Postfix reports a syntax error; keep the text as is.
                            out.push_str(&text[index - 1..]);
                            index = bytes.len();
                        }
                    }
                }
                Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => {
                    let end = bytes[index..]
                        .iter()
                        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                        .map_or(bytes.len(), |at| index + at);
                    self.lookup_into(&text[index..end], out);
                    index = end;
                }
                _ => out.push('$'),
            }
        }
        self.depth -= 1;
    }

    fn lookup(&mut self, name: &str) -> String {
        let mut value = String::new();
        self.lookup_into(name, &mut value);
        value
    }

    fn lookup_into(&mut self, name: &str, out: &mut String) {
        if let Some(raw) = self.config.raw(name) {
            let raw = raw.to_string();
            self.expand_into(&raw, out);
        }
    }

    /// The inside of `${...}`: a name, `name?text`, `name:text`, `name?{a}:{b}`, or a
    /// relational `{x} op {y} ? {a} : {b}`.
    fn expand_expression(&mut self, inner: &str, out: &mut String) {
        let trimmed = inner.trim_start();
        let (condition, rest): (bool, &str) = if trimmed.starts_with('{') {
            let Some((left, after_left)) = curly_payload(trimmed) else {
                return;
            };
            let after_left = after_left.trim_start();
            let op_len = after_left
                .find(|c: char| !"<>!=?+-*/~&|%".contains(c))
                .unwrap_or(after_left.len());
            // `?` and `:` end the operator only when they come after a real operator.
            let mut operator = &after_left[..op_len];
            while operator.ends_with(['?', ':']) {
                operator = &operator[..operator.len() - 1];
            }
            let mut after_op = &after_left[operator.len()..];
            let suffix_len = after_op
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(after_op.len());
            let suffix = &after_op[..suffix_len];
            after_op = after_op[suffix_len..].trim_start();
            let Some((right, after_right)) = curly_payload(after_op) else {
                return;
            };
            let left = {
                let mut value = String::new();
                self.expand_into(left, &mut value);
                value
            };
            let right = {
                let mut value = String::new();
                self.expand_into(right, &mut value);
                value
            };
            (
                compare(&left, operator, suffix, &right),
                after_right.trim_start(),
            )
        } else {
            let name_end = trimmed
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(trimmed.len());
            let name = &trimmed[..name_end];
            let rest = trimmed[name_end..].trim_start();
            if rest.is_empty() {
                self.lookup_into(name, out);
                return;
            }
            (!self.lookup(name).is_empty(), rest)
        };
        let (if_true, if_false) = split_ternary(rest);
        let chosen = if condition { if_true } else { if_false };
        if let Some(text) = chosen {
            self.expand_into(text, out);
        }
    }
}

/// Splits `?a`, `:b`, `?{a}:{b}`, `?{a}` or `:{b}` into its true and false results.
fn split_ternary(rest: &str) -> (Option<&str>, Option<&str>) {
    let mut if_true = None;
    let mut if_false = None;
    let mut rest = rest;
    if let Some(after) = rest.strip_prefix('?') {
        let after = after.trim_start();
        if after.starts_with('{') {
            if let Some((payload, tail)) = curly_payload(after) {
                if_true = Some(payload);
                rest = tail.trim_start();
            } else {
                return (None, None);
            }
        } else {
            return (Some(after), None);
        }
    }
    if let Some(after) = rest.strip_prefix(':') {
        let after = after.trim_start();
        if after.starts_with('{') {
            if_false = curly_payload(after).map(|(payload, _)| payload);
        } else {
            if_false = Some(after);
        }
    }
    (if_true, if_false)
}

/// `{payload}` at the start of `text`, with nested braces; returns the payload (trimmed of
/// surrounding whitespace as Postfix does) and what follows the closing brace.
fn curly_payload(text: &str) -> Option<(&str, &str)> {
    if !text.starts_with('{') {
        return None;
    }
    let end = matching_close(text.as_bytes(), 0, b'{', b'}')?;
    Some((text[1..end].trim(), &text[end + 1..]))
}

/// The index of the bracket that closes the one at `open_at`; `None` when it never closes.
fn matching_close(bytes: &[u8], open_at: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, &byte) in bytes[open_at..].iter().enumerate() {
        if byte == open {
            depth += 1;
        } else if byte == close {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(open_at + offset);
            }
        }
    }
    None
}

fn compare(left: &str, operator: &str, suffix: &str, right: &str) -> bool {
    if suffix == "level" {
        let ordering = compare_levels(left, right);
        return match operator {
            "<" => ordering.is_lt(),
            "<=" => ordering.is_le(),
            ">" => ordering.is_gt(),
            ">=" => ordering.is_ge(),
            "==" => ordering.is_eq(),
            "!=" => ordering.is_ne(),
            _ => false,
        };
    }
    match operator {
        "==" => left == right,
        "!=" => left != right,
        _ => match (left.trim().parse::<i64>(), right.trim().parse::<i64>()) {
            (Ok(l), Ok(r)) => match operator {
                "<" => l < r,
                "<=" => l <= r,
                ">" => l > r,
                ">=" => l >= r,
                _ => false,
            },
            _ => false,
        },
    }
}

/// Compatibility levels compare as major.minor.patch numbers (`3.6` > `2` > `1`).
fn compare_levels(left: &str, right: &str) -> std::cmp::Ordering {
    let parse = |level: &str| -> Vec<u64> {
        level
            .trim()
            .split('.')
            .map(|part| part.parse().unwrap_or(0))
            .collect()
    };
    let (mut l, mut r) = (parse(left), parse(right));
    let width = l.len().max(r.len());
    l.resize(width, 0);
    r.resize(width, 0);
    l.cmp(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_cf_syntax() {
        let config = Config::parse(
            "# comment\nqueue_directory = /a\n  # inner comment\nhash_queue_names = deferred,\n  defer\n\nqueue_directory=/b\n  \n",
        );
        assert_eq!(config.get("queue_directory"), "/b");
        assert_eq!(config.get("hash_queue_names"), "deferred,  defer");
        assert_eq!(
            config.get_list("hash_queue_names"),
            vec!["deferred", "defer"]
        );
    }

    #[test]
    fn expansion_forms() {
        let mut config = Config::parse("a = x\nb = $a-${a}-$(a)\nc = ${a?yes}${nothing?no}\nd = ${nothing:dflt}${a:no}\ne = ${a?{T}:{F}}${nothing?{T}:{F}}\n");
        assert_eq!(config.get("b"), "x-x-x");
        assert_eq!(config.get("c"), "yes");
        assert_eq!(config.get("d"), "dflt");
        assert_eq!(config.get("e"), "TF");
        assert_eq!(config.get("undefined_thing"), "");
        config.set("compatibility_level", "3.6");
        assert_eq!(config.get("smtputf8_enable"), "yes");
        assert_eq!(config.get("relay_domains"), "");
        config.set("compatibility_level", "0");
        assert_eq!(config.get("smtputf8_enable"), "no");
        config.set("compatibility_level", "1");
        config.set("myhostname", "h.example");
        config.set("mydomain", "example");
        assert_eq!(
            config.get("fast_flush_domains"),
            "h.example, localhost.example, localhost"
        );
    }

    #[test]
    fn self_reference_does_not_hang() {
        let config = Config::parse("a = $a$a\n");
        assert_eq!(config.get("a"), "");
    }

    #[test]
    fn typed_values() {
        let config = Config::parse("x = Yes\ny = maybe\nn = 12\nm = 1x\n");
        assert_eq!(config.get_bool("x"), Ok(true));
        assert!(config.get_bool("y").is_err());
        assert_eq!(config.get_int("n", 0), Ok(12));
        assert!(config.get_int("m", 0).is_err());
    }
}
