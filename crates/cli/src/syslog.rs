//! Logging to syslog as Postfix's programs do (`postfix/postqueue[pid]: ...`), for the messages
//! that real Postfix sends only to the log. Silently does nothing where there is no syslog.

use std::ffi::CString;

/// Logs one line at LOG_MAIL|LOG_WARNING with the `postfix/PROG` tag.
pub fn log(program: &str, text: &str) {
    if !std::path::Path::new("/dev/log").exists() {
        return;
    }
    let Ok(tag) = CString::new(format!("postfix/{program}")) else {
        return;
    };
    let Ok(message) = CString::new(text.replace('\0', "?")) else {
        return;
    };
    // SAFETY: the strings outlive the calls; "%s" keeps the message from being a format.
    unsafe {
        libc::openlog(tag.as_ptr(), libc::LOG_PID, libc::LOG_MAIL);
        libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), message.as_ptr());
        libc::closelog();
    }
}
