//! C `asctime(localtime(t))`, which is what Postfix prints: English names, `%3d` day, the
//! local zone from `TZ` (or /etc/localtime), whatever the locale.

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Broken-down local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    pub month: usize,
    pub day: i32,
    pub weekday: usize,
    pub hour: i32,
    pub minute: i32,
    pub second: i32,
}

/// The local time of an epoch second, through the C library so that every `TZ` form Postfix
/// accepts is read the same way.
pub fn local_time(epoch: i64) -> Option<LocalTime> {
    let time = libc::time_t::try_from(epoch).ok()?;
    // SAFETY: `tm` is plain old data; localtime_r fills it and returns null on failure.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let result = unsafe { libc::localtime_r(&time, &mut tm) };
    if result.is_null() {
        return None;
    }
    Some(LocalTime {
        year: i64::from(tm.tm_year) + 1900,
        month: usize::try_from(tm.tm_mon).ok()?.min(11),
        day: tm.tm_mday,
        weekday: usize::try_from(tm.tm_wday).ok()?.min(6),
        hour: tm.tm_hour,
        minute: tm.tm_min,
        second: tm.tm_sec,
    })
}

/// Loads `TZ` once, as the C library wants before `localtime_r` in a long-running process.
pub fn init_timezone() {
    extern "C" {
        fn tzset();
    }
    // SAFETY: tzset only reads the environment and updates libc's zone state.
    unsafe { tzset() }
}

/// `asctime` text without the newline: `Sun Nov 29 18:18:49 2026`.
pub fn asctime(epoch: i64) -> String {
    match local_time(epoch) {
        Some(t) => format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            DAYS[t.weekday], MONTHS[t.month], t.day, t.hour, t.minute, t.second, t.year
        ),
        // glibc's asctime returns NULL for years it cannot print; Postfix would crash. Print
        // something harmless and clearly wrong instead.
        None => "??? ??? ?? ??:??:?? ????".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_layout() {
        std::env::set_var("TZ", "UTC");
        init_timezone();
        assert_eq!(asctime(1795976329), "Sun Nov 29 18:18:49 2026");
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
    }
}
