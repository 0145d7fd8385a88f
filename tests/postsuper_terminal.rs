//! postsuper's progress display: shown on stderr when stderr is a terminal and the run is long
//! (thousands of queue entries), and absent otherwise, so that scripts see Postfix's lines only.
//! The terminal comes from util-linux's `script`, which runs the command on a pseudo-terminal.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use postfix_queue::writer::{FileStyle, MessageSpec, QueueWriter, RecipientSpec};
use postfix_queue::{Layout, Queue};

const OURS: &str = env!("CARGO_BIN_EXE_postsuper");
const MESSAGES: usize = 4000;

fn usable() -> bool {
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let script = Command::new("script").arg("--version").output().is_ok();
    let postfix_user = std::fs::read_to_string("/etc/passwd")
        .map(|text| text.lines().any(|line| line.starts_with("postfix:")))
        .unwrap_or(false);
    if !(root && script && postfix_user) {
        eprintln!("skipped: needs root, util-linux's script and user postfix");
    }
    root && script && postfix_user
}

/// A queue of MESSAGES deferred messages owned by postfix, and a main.cf naming it.
fn make_queue(root: &Path) -> std::path::PathBuf {
    let spool = root.join("spool");
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).expect("etc");
    let writer = QueueWriter::new(Layout::new(&spool, &["deferred", "defer"], 1), false);
    writer.create_directories().expect("directories");
    for n in 0..MESSAGES {
        let spec = MessageSpec {
            arrival_seconds: 1_790_000_000 + n as i64,
            arrival_microseconds: (n * 211 % 1_000_000) as u32,
            sender: format!("sender{n}@example.org").into_bytes(),
            recipients: vec![RecipientSpec::live(format!("rcpt{n}@example.com"))],
            extracted_recipients: Vec::new(),
            content: b"Subject: test\n\nbody\n".to_vec(),
            style: FileStyle::Cleanup,
        };
        writer
            .add(Queue::Deferred, &spec, 0o700)
            .expect("queue file");
    }
    let status = Command::new("chown")
        .args(["-R", "postfix:postfix"])
        .arg(&spool)
        .status()
        .expect("chown");
    assert!(status.success());
    for dir in [root, spool.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(
        etc.join("main.cf"),
        format!(
            "queue_directory = {}\nmail_owner = postfix\ncompatibility_level = 3.6\n",
            spool.display()
        ),
    )
    .expect("main.cf");
    // Freshly written config files make Postfix-style programs wait; ours does not, but keep
    // the tree like the other tests'.
    etc
}

fn at_terminal(command: &str) -> String {
    let output = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .output()
        .expect("script");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn progress_only_at_a_terminal_and_only_for_long_runs() {
    if !usable() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("pqt-tty-")
        .tempdir()
        .expect("tempdir");
    let etc = make_queue(dir.path());
    let etc = etc.display();

    // Not a terminal: exactly Postfix's one summary line.
    let plain = Command::new(OURS)
        .args(["-c", &etc.to_string(), "-h", "ALL"])
        .output()
        .expect("postsuper");
    assert_eq!(
        String::from_utf8_lossy(&plain.stderr),
        format!("postsuper: Placed on hold: {MESSAGES} messages\n")
    );

    // At a terminal, an ALL walk shows a running count, then the same summary line.
    let shown = at_terminal(&format!("{OURS} -c {etc} -H ALL"));
    assert!(
        shown.contains("postsuper: release all:") && shown.contains("entries"),
        "no progress display in: {shown:?}"
    );
    assert!(shown.contains(&format!(
        "postsuper: Released from hold: {MESSAGES} messages"
    )));

    // A selection over thousands of messages shows a bar while reading them.
    let selecting = at_terminal(&format!(
        "{OURS} -c {etc} -h ALL --sender example --dry-run"
    ));
    assert!(selecting.contains("postsuper: selecting"), "{selecting:?}");
    assert!(selecting.contains(&format!("postsuper: would hold {MESSAGES} messages")));

    // A short run at a terminal stays quiet.
    let short = at_terminal(&format!("{OURS} -c {etc} -h NOSUCHID"));
    assert!(
        !short.contains("entries") && !short.contains('['),
        "{short:?}"
    );
    assert!(short.contains("postsuper: Placed on hold: 0 messages"));
}
