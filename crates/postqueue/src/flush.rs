//! `postqueue -f`, `-s site` and `-i queue_id`: who may ask, what is sent to which daemon, and
//! the exact refusals.
//!
//! Spec: format-and-postqueue.md §10 (Postfix `postqueue.c` `flush_queue`, `flush_site`,
//! `flush_file`).

use std::time::Duration;

use postfix_queue::trigger::{self, domain_list_match, flush_request, flush_status};
use postfix_queue::Config;
use postfix_queue_cli::Outcome;

use crate::{check_acl, fatal, PROGRAM};

const DOWN: &str = "Cannot flush mail queue - mail system is down";
/// postqueue drains its event loop for up to 2 s after the triggers, so that the daemons
/// have read them before it exits.
const TRIGGER_LINGER: Duration = Duration::from_secs(2);
/// How long a flush request may take (Postfix's IPC timeout).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3600);

/// `-f`: ask qmgr to retry everything now, then wake pickup for the maildrop.
pub fn flush_queue(config: &Config) -> Outcome {
    if let Err(outcome) = check_acl(config, "authorized_flush_users", "flush the mail queue") {
        return outcome;
    }
    for (service, request) in [
        ("queue_service_name", trigger::QMGR_FLUSH_ALL),
        ("pickup_service_name", trigger::WAKEUP),
    ] {
        if let Err(warning) = trigger::trigger(&config.get(service), request, TRIGGER_LINGER) {
            if let Some(warning) = warning {
                PROGRAM.warning(&warning);
            }
            return fatal(DOWN);
        }
    }
    Outcome::Success
}

/// `-s site`: the flush daemon retries the mail it logged for `site`, if the site is one of
/// `fast_flush_domains`.
pub fn flush_site(config: &Config, site: &str) -> Outcome {
    if let Err(outcome) = check_acl(config, "authorized_flush_users", "flush the mail queue") {
        return outcome;
    }
    let domains = config.get_list("fast_flush_domains");
    let parent_matches = config
        .get_list("parent_domain_matches_subdomains")
        .iter()
        .any(|name| name == "fast_flush_domains");
    let status = match domain_list_match(&domains, site, parent_matches) {
        Some(true) => send(config, &[("request", "send_site"), ("site", site)]),
        Some(false) => flush_status::DENY,
        None => -1,
    };
    match status {
        flush_status::OK => Outcome::Success,
        flush_status::BAD => fatal(format!("Invalid request: \"{site}\"")),
        -1 => fatal(DOWN),
        flush_status::DENY => fatal(format!(
            "Flush service is not configured for destination \"{site}\""
        )),
        other => fatal(format!("Unknown flush server reply status {other}")),
    }
}

/// `-i queue_id`: the flush daemon retries that one message if it is deferred.
pub fn flush_file(config: &Config, id: &str) -> Outcome {
    if let Err(outcome) = check_acl(config, "authorized_flush_users", "flush the mail queue") {
        return outcome;
    }
    match send(config, &[("request", "send_file"), ("queue_id", id)]) {
        flush_status::OK => Outcome::Success,
        flush_status::BAD => fatal(format!("Invalid request: \"{id}\"")),
        -1 => fatal(DOWN),
        other => fatal(format!("Unexpected flush server reply status {other}")),
    }
}

/// One request to the flush service; -1 (after Postfix's warning) when it cannot be asked.
fn send(config: &Config, attributes: &[(&str, &str)]) -> i64 {
    match flush_request(&config.get("flush_service_name"), attributes, FLUSH_TIMEOUT) {
        Ok(status) => status,
        Err(warning) => {
            PROGRAM.warning(&warning);
            -1
        }
    }
}
