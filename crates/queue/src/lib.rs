//! postfix-queue: the only code in this project that knows Postfix's on-disk formats.
//!
//! Configuration (`config`), queue IDs and hashed paths (`queue_id`), the record format
//! (`record`), defer logfiles (`logfile`), showq's envelope extraction (`envelope`), the walk in
//! showq order (`walk`), the ordered parallel scan (`scan`) and a queue-file writer for tests,
//! demos and benchmarks (`writer`). It never prints, never exits and never panics on input.

pub mod config;
pub mod envelope;
pub mod error;
pub mod identity;
pub mod logfile;
pub mod maintain;
pub mod pread;
pub mod queue_id;
pub mod record;
pub mod scan;
pub mod select;
pub mod shape;
pub mod showq;
pub mod text;
pub mod trigger;
pub mod walk;
pub mod writer;

pub use config::Config;
pub use envelope::{Entry, Queue, Recipient, ShowqSettings};
pub use error::Error;
pub use walk::Layout;

impl ShowqSettings {
    /// The settings showq reads from main.cf.
    pub fn from_config(config: &Config) -> Result<Self, config::ConfigError> {
        let empty_address = config.get("empty_address_recipient");
        if empty_address.is_empty() {
            return Err(config::ConfigError::BadStringLength {
                name: "empty_address_recipient".into(),
                value: empty_address,
                min: 1,
            });
        }
        Ok(Self {
            empty_address: empty_address.into_bytes(),
            utf8_enabled: config.get_bool("smtputf8_enable")?,
            duplicate_filter_limit: config
                .get_int("duplicate_filter_limit", i64::from(i32::MIN))?,
        })
    }
}
