//! Who reads the queue. Real showq runs as the mail_owner (the daemon, or the stand-alone child
//! after it drops privileges), so a file that user cannot open is skipped even when postqueue
//! runs as root. Reading as root, we apply the same permission rule to keep listings equal.
//!
//! Spec: format-and-postqueue.md §2.3 (last bullet).

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;

/// A user's uid and primary gid, from the password database.
pub fn lookup_user(user: &str) -> Option<(u32, u32)> {
    let name = CString::new(user).ok()?;
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: passwd is plain old data, filled in by getpwnam_r.
    let mut passwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid and the buffer length is its real length.
    let status = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut passwd,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        )
    };
    if status != 0 || result.is_null() {
        return None;
    }
    Some((passwd.pw_uid, passwd.pw_gid))
}

/// A group's gid, from the group database.
pub fn lookup_group(group: &str) -> Option<u32> {
    let name = CString::new(group).ok()?;
    let mut buffer = vec![0u8; 64 * 1024];
    // SAFETY: group is plain old data, filled in by getgrnam_r.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid and the buffer length is its real length.
    let status = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        )
    };
    if status != 0 || result.is_null() {
        return None;
    }
    Some(entry.gr_gid)
}

/// A user's uid and every group it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderIdentity {
    pub uid: u32,
    pub groups: Vec<u32>,
}

impl ReaderIdentity {
    /// Looks up a user by name in the password and group databases.
    pub fn lookup(user: &str) -> Option<Self> {
        let name = CString::new(user).ok()?;
        let (uid, gid) = lookup_user(user)?;
        let mut groups: Vec<libc::gid_t> = vec![0; 256];
        let mut count: libc::c_int = groups.len() as libc::c_int;
        // SAFETY: `groups` has room for `count` entries; getgrouplist updates `count`.
        let found =
            unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        groups.truncate(if found < 0 { 0 } else { count.max(0) as usize });
        if !groups.contains(&gid) {
            groups.push(gid);
        }
        Some(Self { uid, groups })
    }

    /// Whether this user may open a file with these attributes for reading (the kernel's
    /// owner / group / other rule; this user is never root).
    pub fn can_read(&self, metadata: &std::fs::Metadata) -> bool {
        let mode = metadata.mode();
        if self.uid == 0 {
            return true;
        }
        if metadata.uid() == self.uid {
            mode & 0o400 != 0
        } else if self.groups.contains(&metadata.gid()) {
            mode & 0o040 != 0
        } else {
            mode & 0o004 != 0
        }
    }
}

/// `check_user_acl_byuid`: whether the user `uid` may use a feature guarded by `acl` (a
/// Postfix string list such as `authorized_mailq_users`). A value starting with `static:`
/// permits everyone. Otherwise the user's name (`unknown` without a password entry) is matched
/// against the list: plain names, `!name` to refuse, first match decides. `Err` holds the name
/// for Postfix's refusal message.
pub fn user_acl_permits(acl: &str, uid: u32) -> Result<(), String> {
    if acl.starts_with("static:") {
        return Ok(());
    }
    let name = user_name(uid).unwrap_or_else(|| "unknown".to_string());
    for pattern in crate::config::split_list(acl) {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest.to_string()),
            None => (false, pattern),
        };
        // String lists compare names without regard to case.
        let matched = pattern.starts_with("static:") || pattern.eq_ignore_ascii_case(&name);
        if matched {
            return if negated { Err(name) } else { Ok(()) };
        }
    }
    Err(name)
}

/// The login name of `uid`, from the password database.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: passwd is plain old data, filled in by getpwuid_r.
    let mut passwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid and the buffer length is its real length.
    let status = unsafe {
        libc::getpwuid_r(
            uid,
            &mut passwd,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        )
    };
    if status != 0 || result.is_null() || passwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buffer`, NUL-terminated, while `buffer` lives.
    let name = unsafe { std::ffi::CStr::from_ptr(passwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}
