//! Fuzz target `main_cf`: arbitrary text as main.cf, then lookups of plain, generated and
//! expansion-heavy parameters (the defaults use the 3.x conditional and relational forms).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfix_queue::Config;

/// Single-letter names are what short inputs define; the rest expand through defaults.
const NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "x",
    "smtputf8_enable",
    "relay_domains",
    "fast_flush_domains",
    "mydestination",
    "syslog_name",
    "compatibility_level",
    "queue_directory",
    "hash_queue_names",
    "hash_queue_depth",
    "duplicate_filter_limit",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let config = Config::parse(&text);
    for name in NAMES {
        let _ = config.get(name);
        let _ = config.get_bool(name);
        let _ = config.get_int(name, 0);
        let _ = config.get_list(name);
    }
    // An undefined name expands to nothing (unless the input defines it: libFuzzer learns
    // string constants from comparisons).
    if !text.contains("undefined_parameter") {
        assert_eq!(config.get("undefined_parameter"), "");
    }
});
