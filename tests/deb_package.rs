//! The Debian package (`[package.metadata.deb]` in Cargo.toml, built with cargo-deb) end to
//! end on this machine: built from this build's binaries, checked to ship nothing over the
//! postfix package, installed with `dpkg -i`, each tool run from /usr/lib/postfix-queue-tools/bin,
//! man pages rendered, completions and the opt-in profile checked, the systemd units verified
//! and the metrics service's command run in a sandbox like the unit's, Postfix's own tools
//! checked untouched, then `dpkg --purge` and a check that nothing of ours is left.
//!
//! It installs a package system-wide, so it runs only as root (it skips otherwise). Without
//! cargo-deb it skips, except under `CI=true`, where it fails (`cargo xtask test` installs
//! cargo-deb first).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use postfix_queue::writer::{FileStyle, MessageSpec, QueueWriter, RecipientSpec};
use postfix_queue::{Layout, Queue};

const PACKAGE: &str = "postfix-queue-tools";
const PREFIX: &str = "/usr/lib/postfix-queue-tools";
const BIN: &str = "/usr/lib/postfix-queue-tools/bin";
const DOC: &str = "/usr/share/doc/postfix-queue-tools";
const UNIT_DIR: &str = "/usr/lib/systemd/system";
const SERVICE: &str = "postfix-qshape-metrics.service";
const TIMER: &str = "postfix-qshape-metrics.timer";
const TEXTFILE_DIR: &str = "/var/lib/prometheus/node-exporter";
const PROM_FILE: &str = "/var/lib/prometheus/node-exporter/postfix_qshape.prom";

/// (tool, path to this build's binary).
const TOOLS: &[(&str, &str)] = &[
    ("postqueue", env!("CARGO_BIN_EXE_postqueue")),
    ("mailq", env!("CARGO_BIN_EXE_mailq")),
    ("postsuper", env!("CARGO_BIN_EXE_postsuper")),
    ("qshape", env!("CARGO_BIN_EXE_qshape")),
];
const SETGID_TOOLS: &[&str] = &["postqueue", "mailq"];

/// The postfix package's files that must never change: programs and man pages of the same
/// names as ours.
const POSTFIX_FILES: &[&str] = &[
    "/usr/sbin/postqueue",
    "/usr/sbin/postsuper",
    "/usr/sbin/qshape",
    "/usr/bin/mailq",
    "/usr/share/man/man1/postqueue.1.gz",
    "/usr/share/man/man1/postsuper.1.gz",
    "/usr/share/man/man1/qshape.1.gz",
    "/usr/share/man/man1/mailq.1.gz",
];

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// A line on the real stderr: libtest captures `eprintln!` of a passing test, and these
/// lines say what was (not) checked.
fn note(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn skip(why: &str) {
    use std::io::Write as _;
    let bar = "#".repeat(80);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n##  SKIPPED deb_package: {why}\n{bar}"
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("run {command:?}: {error}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(command: &Command, output: &Output) -> String {
    format!(
        "{command:?}: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// Runs and requires exit 0; returns stdout.
fn check(command: &mut Command) -> String {
    let output = run(command);
    assert!(output.status.success(), "{}", describe(command, &output));
    text(&output.stdout)
}

fn has_program(name: &str) -> bool {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .any(|dir| Path::new(dir).join(name).is_file())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn cargo_deb_available() -> bool {
    cargo()
        .args(["deb", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether dpkg knows anything of the package (installed, half-installed, config files).
fn package_present() -> bool {
    !matches!(package_status().as_str(), "" | "not-installed")
}

fn package_status() -> String {
    let output = run(Command::new("dpkg-query").args(["-W", "-f=${db:Status-Status}", PACKAGE]));
    text(&output.stdout).trim().to_string()
}

fn group_exists(name: &str) -> bool {
    run(Command::new("getent").args(["group", name]))
        .status
        .success()
}

/// What must stay as it was: each Postfix file's bytes, mode, owner and symlink target.
fn snapshot_postfix() -> BTreeMap<&'static str, String> {
    POSTFIX_FILES
        .iter()
        .filter_map(|path| {
            let metadata = std::fs::metadata(path).ok()?;
            let bytes = std::fs::read(path).ok()?;
            let link = std::fs::read_link(path)
                .map(|target| target.display().to_string())
                .unwrap_or_default();
            Some((
                *path,
                format!(
                    "{:o} {}:{} len {} hash {:016x} link {link:?}",
                    metadata.mode(),
                    metadata.uid(),
                    metadata.gid(),
                    bytes.len(),
                    fnv1a(&bytes)
                ),
            ))
        })
        .collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The generated files the full package ships; when one is missing we build the variant
/// without them, as `cargo xtask deb` does.
fn generated_files_present(root: &Path) -> bool {
    TOOLS.iter().all(|(tool, _)| {
        [
            format!("man/{tool}.1"),
            format!("completions/{tool}.bash"),
            format!("completions/_{tool}"),
            format!("completions/{tool}.fish"),
        ]
        .iter()
        .all(|file| root.join(file).is_file())
    })
}

/// Purges the package when the test ends early, so a failure never leaves it installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if package_present() {
            let _ = Command::new("dpkg")
                .args(["--purge", PACKAGE])
                .stdin(Stdio::null())
                .status();
        }
    }
}

/// The paths (files and symlinks, not directories) in a `dpkg -c` listing.
fn listed_files(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| {
            let mode = line.split_whitespace().next()?.to_string();
            let path = line.split_whitespace().nth(5)?;
            let path = path.strip_prefix('.').unwrap_or(path).to_string();
            (!mode.starts_with('d')).then_some((mode, path))
        })
        .collect()
}

/// One `Key=value` of a unit file (the last one, as systemd takes single-valued keys).
fn unit_value(unit: &str, key: &str) -> Option<String> {
    unit.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}=")))
        .map(str::to_string)
}

#[test]
fn deb_package_installs_beside_postfix_and_purges_cleanly() {
    if !is_root() {
        skip("not root: installing a package needs root (CI runs as root)");
        return;
    }
    if !has_program("dpkg") {
        assert!(!in_ci(), "CI=true but dpkg is missing");
        skip("not a Debian system (no dpkg)");
        return;
    }
    if !cargo_deb_available() {
        assert!(
            !in_ci(),
            "CI=true but cargo-deb is missing (cargo xtask test installs it: cargo install cargo-deb)"
        );
        skip("cargo-deb is not installed (cargo install cargo-deb)");
        return;
    }
    match package_status().as_str() {
        "not-installed" | "" | "config-files" => {}
        status if in_ci() => {
            note(&format!(
                "deb_package: {PACKAGE} is {status} here (an earlier run?); purging it"
            ));
            check(Command::new("dpkg").args(["--purge", PACKAGE]));
        }
        status => {
            skip(&format!(
                "{PACKAGE} is {status} on this machine; this test would replace and purge it"
            ));
            return;
        }
    }

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().expect("temporary directory");
    let postfix_before = snapshot_postfix();
    let postfix_installed = Path::new("/usr/sbin/postfix").exists();
    let textfile_dir_existed = Path::new(TEXTFILE_DIR).exists();

    // Build from this build's binaries: a target directory whose release/ holds them, and
    // --no-build, so no second (release) build runs inside the test.
    let staging = work.path().join("target");
    std::fs::create_dir_all(staging.join("release")).expect("staging directory");
    for (tool, binary) in TOOLS {
        std::fs::copy(binary, staging.join("release").join(tool)).expect("stage binary");
    }
    let out = work.path().join("debian");
    let full = generated_files_present(&root);
    let mut build = cargo();
    build
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &staging)
        .args([
            "deb",
            "--package",
            PACKAGE,
            "--no-build",
            "--fast",
            "--output",
        ])
        .arg(&out);
    if !full {
        note("deb_package: man pages or completions not generated; building the variant without them");
        build.args(["--variant", "without-generated"]);
    }
    check(&mut build);
    let deb = std::fs::read_dir(&out)
        .expect("cargo deb output")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| {
            path.extension().is_some_and(|ext| ext == "deb")
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(&format!("{PACKAGE}_")))
        })
        .expect("a postfix-queue-tools_*.deb");

    // The archive: only our paths, no set-id bits (the postinst adds set-gid), nothing the
    // postfix package ships.
    let listing = check(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files = listed_files(&listing);
    for (mode, path) in &files {
        let ours = path.starts_with(&format!("{PREFIX}/"))
            || path.starts_with(&format!("{DOC}/"))
            || path == &format!("{UNIT_DIR}/{SERVICE}")
            || path == &format!("{UNIT_DIR}/{TIMER}");
        assert!(ours, "the package ships {path} outside its own directories");
        assert!(
            !mode.contains('s') && !mode.contains('S'),
            "{path} has a set-id bit in the archive: {mode}"
        );
    }
    let file_paths: Vec<&str> = files.iter().map(|(_, path)| path.as_str()).collect();
    let mut expected: Vec<String> = TOOLS
        .iter()
        .map(|(tool, _)| format!("{BIN}/{tool}"))
        .collect();
    expected.extend([
        format!("{PREFIX}/profile.sh"),
        format!("{DOC}/README.Debian"),
        format!("{DOC}/copyright"),
        format!("{UNIT_DIR}/{SERVICE}"),
        format!("{UNIT_DIR}/{TIMER}"),
    ]);
    if full {
        for (tool, _) in TOOLS {
            expected.push(format!("{PREFIX}/man/man1/{tool}.1"));
            expected.push(format!(
                "{PREFIX}/share/bash-completion/completions/{tool}.bash"
            ));
            expected.push(format!("{PREFIX}/share/zsh/vendor-completions/_{tool}"));
            expected.push(format!(
                "{PREFIX}/share/fish/vendor_completions.d/{tool}.fish"
            ));
        }
    }
    for path in &expected {
        assert!(
            file_paths.contains(&path.as_str()),
            "{path} missing from the package:\n{listing}"
        );
    }
    if postfix_installed {
        let postfix_files = check(Command::new("dpkg").args(["-L", "postfix"]));
        for path in &file_paths {
            assert!(
                !postfix_files.lines().any(|line| line == *path),
                "{path} belongs to the postfix package"
            );
        }
    }

    // Install.
    let guard = Installed;
    check(Command::new("dpkg").arg("-i").arg(&deb));
    assert_eq!(package_status(), "installed");

    // Modes: postqueue and mailq root:postdrop 2555 when the group exists, like Postfix's
    // postqueue (dpkg-statoverride); otherwise 0755. postsuper and qshape 0755 root:root.
    let postdrop = group_exists("postdrop");
    for (tool, _) in TOOLS {
        let metadata = std::fs::metadata(format!("{BIN}/{tool}")).expect("installed tool");
        let mode = metadata.mode() & 0o7777;
        assert_eq!(metadata.uid(), 0, "{tool} owner");
        if SETGID_TOOLS.contains(tool) && postdrop {
            assert_eq!(mode, 0o2555, "{tool} mode {mode:o}");
            let postqueue_gid = std::fs::metadata("/usr/sbin/postqueue").map(|m| m.gid());
            if let Ok(gid) = postqueue_gid {
                assert_eq!(metadata.gid(), gid, "{tool} group: Postfix's postqueue's");
            }
        } else {
            assert_eq!(mode, 0o755, "{tool} mode {mode:o}");
            assert_eq!(metadata.gid(), 0, "{tool} group");
        }
    }
    if postdrop {
        let overrides = check(Command::new("dpkg-statoverride").arg("--list"));
        for tool in SETGID_TOOLS {
            assert!(
                overrides
                    .lines()
                    .any(|line| line == format!("root postdrop 2555 {BIN}/{tool}")),
                "no statoverride for {tool}:\n{overrides}"
            );
        }
    }

    // Each installed tool runs. A private queue: etc/main.cf and an empty spool.
    let etc = work.path().join("etc");
    let spool = work.path().join("spool");
    std::fs::create_dir_all(&etc).expect("etc");
    for queue in [
        "incoming", "active", "deferred", "hold", "maildrop", "defer", "bounce", "trace", "flush",
        "corrupt", "saved",
    ] {
        std::fs::create_dir_all(spool.join(queue)).expect("spool");
    }
    std::fs::write(
        etc.join("main.cf"),
        format!("queue_directory = {}\n", spool.display()),
    )
    .expect("main.cf");
    let postfix_user = run(Command::new("getent").args(["passwd", "postfix"]))
        .status
        .success();

    let usage = run(&mut Command::new(format!("{BIN}/postqueue")));
    assert_eq!(usage.status.code(), Some(69), "postqueue without a mode");
    assert!(
        text(&usage.stderr)
            .contains("postqueue: fatal: usage: postqueue -f | postqueue -i queueid"),
        "{}",
        text(&usage.stderr)
    );
    let usage = run(Command::new(format!("{BIN}/postsuper")).arg("-x"));
    assert_eq!(usage.status.code(), Some(1), "postsuper -x");
    assert!(
        text(&usage.stderr).contains("postsuper: fatal: usage: postsuper [-c config_dir]"),
        "{}",
        text(&usage.stderr)
    );
    if postfix_user {
        // The default mail_owner (postfix) must exist for Postfix's configuration checks.
        let listing = check(
            Command::new(format!("{BIN}/postqueue"))
                .arg("-p")
                .arg("-c")
                .arg(&etc),
        );
        assert_eq!(listing, "Mail queue is empty\n");
        let listing = check(Command::new(format!("{BIN}/mailq")).env("MAIL_CONFIG", &etc));
        assert_eq!(listing, "Mail queue is empty\n");
        check(
            Command::new(format!("{BIN}/postsuper"))
                .arg("-c")
                .arg(&etc)
                .arg("-s"),
        );
    }
    let deferred = spool.join("deferred");
    let metrics = check(
        Command::new(format!("{BIN}/qshape"))
            .args(["--format", "prometheus"])
            .arg(&deferred),
    );
    assert!(
        metrics.contains(&format!(
            "postfix_queue_depth{{queue=\"{}\"}} 0\n",
            deferred.display()
        )),
        "{metrics}"
    );

    // Man pages: each renders, and the PATH opt-in alone makes `man` find ours first
    // (man-db derives PREFIX/man from PREFIX/bin).
    if full && has_program("man") {
        for (tool, _) in TOOLS {
            let page = format!("{PREFIX}/man/man1/{tool}.1");
            let rendered = check(
                Command::new("man")
                    .arg("-l")
                    .arg(&page)
                    .env("MANPAGER", "cat")
                    .env("PAGER", "cat")
                    .env("MANWIDTH", "80"),
            );
            assert!(
                rendered.to_lowercase().contains(tool),
                "man -l {page}:\n{rendered}"
            );
            let found = check(
                Command::new("man")
                    .args(["-w", tool])
                    .env_remove("MANPATH")
                    .env("PATH", format!("{BIN}:/usr/sbin:/usr/bin:/sbin:/bin")),
            );
            assert_eq!(
                found.trim(),
                page,
                "man -w {tool} with our bin first in PATH"
            );
            let found = run(Command::new("man")
                .args(["-w", tool])
                .env_remove("MANPATH")
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
            assert!(
                !text(&found.stdout).contains(PREFIX),
                "man -w {tool} finds ours without the opt-in"
            );
        }
    }
    // Completions parse.
    if full {
        for (tool, _) in TOOLS {
            check(Command::new("bash").arg("-n").arg(format!(
                "{PREFIX}/share/bash-completion/completions/{tool}.bash"
            )));
            if has_program("zsh") {
                check(
                    Command::new("zsh")
                        .arg("-n")
                        .arg(format!("{PREFIX}/share/zsh/vendor-completions/_{tool}")),
                );
            }
            if has_program("fish") {
                check(Command::new("fish").arg("--no-execute").arg(format!(
                    "{PREFIX}/share/fish/vendor_completions.d/{tool}.fish"
                )));
            }
        }
    }
    // The opt-in file puts our tools first.
    let opted_in = check(Command::new("sh").arg("-c").arg(format!(
        ". {PREFIX}/profile.sh && command -v postqueue && command -v mailq && echo \"$XDG_DATA_DIRS\""
    )));
    let lines: Vec<&str> = opted_in.lines().collect();
    assert_eq!(lines[0], format!("{BIN}/postqueue"), "{opted_in}");
    assert_eq!(lines[1], format!("{BIN}/mailq"), "{opted_in}");
    assert!(
        lines[2].starts_with(&format!("{PREFIX}/share:")),
        "{opted_in}"
    );

    // Postfix's own tools: untouched, still the postfix package's, still running.
    assert_eq!(
        snapshot_postfix(),
        postfix_before,
        "Postfix's files changed"
    );
    if postfix_installed {
        for path in ["/usr/sbin/postqueue", "/usr/sbin/postsuper"] {
            let owner = check(Command::new("dpkg").args(["-S", path]));
            assert_eq!(owner.trim(), format!("postfix: {path}"));
        }
        let usage = run(&mut Command::new("/usr/sbin/postqueue"));
        assert_eq!(
            usage.status.code(),
            Some(69),
            "Postfix's postqueue without a mode"
        );
        assert!(text(&usage.stderr).contains("usage: postqueue"));
        let usage = run(Command::new("/usr/sbin/postsuper").arg("-x"));
        assert_eq!(usage.status.code(), Some(1), "Postfix's postsuper -x");
        assert!(text(&usage.stderr).contains("usage: postsuper"));
    }

    // The systemd units: installed, the timer not enabled, both valid.
    let service_path = format!("{UNIT_DIR}/{SERVICE}");
    let timer_path = format!("{UNIT_DIR}/{TIMER}");
    let service = std::fs::read_to_string(&service_path).expect("service unit");
    let timer = std::fs::read_to_string(&timer_path).expect("timer unit");
    let wants = format!("/etc/systemd/system/timers.target.wants/{TIMER}");
    assert!(
        std::fs::symlink_metadata(&wants).is_err(),
        "the timer is enabled on install"
    );
    if has_program("systemd-analyze") {
        check(Command::new("systemd-analyze").args(["verify", &service_path, &timer_path]));
    } else {
        for (unit, sections) in [
            (&service, &["[Unit]", "[Service]"][..]),
            (&timer, &["[Unit]", "[Timer]", "[Install]"][..]),
        ] {
            for section in sections {
                assert!(
                    unit.lines().any(|line| line.trim() == *section),
                    "{section}"
                );
            }
        }
        assert_eq!(
            unit_value(&timer, "WantedBy").as_deref(),
            Some("timers.target")
        );
    }
    let exec_start = unit_value(&service, "ExecStart").expect("ExecStart");
    let argv: Vec<&str> = exec_start.split_whitespace().collect();
    assert_eq!(argv[0], format!("{BIN}/qshape"));
    assert_eq!(
        unit_value(&service, "ReadWritePaths").as_deref(),
        Some(TEXTFILE_DIR)
    );
    assert_eq!(
        unit_value(&timer, "OnCalendar").as_deref(),
        Some("minutely")
    );

    // The service's command, run as the unit would (when this machine has a Postfix to
    // measure: the unit's ConditionPathExists): directory made as by ExecStartPre, then the
    // command in a sandbox like the unit's, when this machine allows mount namespaces.
    if Path::new("/etc/postfix/main.cf").exists() {
        std::fs::create_dir_all(TEXTFILE_DIR).expect("textfile directory");
        let capabilities = unit_value(&service, "CapabilityBoundingSet").expect("capabilities");
        let outcome = run_sandboxed(&argv, &capabilities);
        assert!(outcome.status.success(), "{}", text(&outcome.stderr));
        let written = std::fs::read_to_string(PROM_FILE).expect("the service's .prom file");
        assert!(
            written.contains("postfix_queue_depth{queue=\"incoming\"}")
                && written.contains("postfix_queue_depth{queue=\"hold\"}"),
            "{written}"
        );
        // The same command on a queue with one message, owned by postfix and mode 0700 like a
        // real one: it is counted only if the unit's capabilities let root read the queue.
        // Not under /tmp or /var/tmp (PrivateTmp hides them; a checkout, and so the target
        // directory, may well be under /tmp): under /var/lib, which the unit can read.
        let private = tempfile::Builder::new()
            .prefix("pqt-deb-test-")
            .tempdir_in("/var/lib")
            .expect("private queue");
        let private_etc = private_queue_with_one_message(private.path());
        let mut with_config: Vec<&str> = vec![argv[0], "-c", &private_etc];
        with_config.extend(&argv[1..]);
        let outcome = run_sandboxed(&with_config, &capabilities);
        assert!(outcome.status.success(), "{}", text(&outcome.stderr));
        let written = std::fs::read_to_string(PROM_FILE).expect("the service's .prom file");
        assert!(
            written.contains("postfix_queue_depth{queue=\"deferred\"} 1\n"),
            "the sandboxed service did not count the message:\n{written}"
        );
    }

    // Enable the timer as an admin would, so the purge has that to undo too.
    let enabled = has_program("systemctl")
        && run(Command::new("systemctl").args(["enable", TIMER]))
            .status
            .success();

    // Purge: nothing of ours left.
    check(Command::new("dpkg").args(["--purge", PACKAGE]));
    drop(guard);
    assert!(
        !package_present(),
        "dpkg still knows {PACKAGE}: {}",
        package_status()
    );
    for (_, path) in &files {
        assert!(
            std::fs::symlink_metadata(path).is_err(),
            "{path} is still there after the purge"
        );
    }
    for directory in [PREFIX, DOC] {
        assert!(!Path::new(directory).exists(), "{directory} is still there");
    }
    let overrides = check(Command::new("dpkg-statoverride").arg("--list"));
    assert!(
        !overrides.contains(PREFIX),
        "statoverrides left:\n{overrides}"
    );
    if enabled {
        assert!(
            std::fs::symlink_metadata(&wants).is_err(),
            "the timer's enable link is still there"
        );
    }
    for directory in [
        "/etc/systemd/system",
        "/var/lib/systemd/deb-systemd-helper-enabled",
        "/var/lib/systemd/deb-systemd-helper-masked",
    ] {
        let leftovers = files_named_like(Path::new(directory), "postfix-qshape-metrics");
        assert!(leftovers.is_empty(), "left in {directory}: {leftovers:?}");
    }
    assert!(!Path::new(PROM_FILE).exists(), "{PROM_FILE} is still there");
    if !textfile_dir_existed && !node_exporter_installed() {
        assert!(
            !Path::new(TEXTFILE_DIR).exists(),
            "{TEXTFILE_DIR}, made by the service, is still there"
        );
    }
    assert_eq!(
        snapshot_postfix(),
        postfix_before,
        "Postfix's files changed"
    );
    note(&format!(
        "deb_package: {} package built, installed, run and purged; man pages and completions {}; \
         service command {}; timer enabled, then undone by the purge: {}",
        if full { "full" } else { "without-generated" },
        if full { "checked" } else { "absent" },
        if Path::new("/etc/postfix/main.cf").exists() {
            "run"
        } else {
            "not run (no Postfix)"
        },
        if enabled {
            "yes"
        } else {
            "not tried (no systemctl)"
        },
    ));
}

/// A queue directory with one deferred message, and its main.cf; both owned by postfix (when
/// that user exists), directories 0700, as Postfix lays them out. Returns the etc directory.
fn private_queue_with_one_message(base: &Path) -> String {
    let spool = base.join("spool");
    let etc = base.join("etc");
    std::fs::create_dir_all(&etc).expect("etc");
    std::fs::write(
        etc.join("main.cf"),
        format!("queue_directory = {}\n", spool.display()),
    )
    .expect("main.cf");
    let writer = QueueWriter::new(Layout::new(&spool, &["deferred", "defer"], 1), false);
    writer.create_directories().expect("queue directories");
    let spec = MessageSpec {
        arrival_seconds: 1_790_000_000,
        arrival_microseconds: 123_456,
        sender: b"sender@example.org".to_vec(),
        recipients: vec![RecipientSpec::live("rcpt@example.com")],
        extracted_recipients: Vec::new(),
        content: b"Subject: test\n\nbody\n".to_vec(),
        style: FileStyle::Cleanup,
    };
    writer
        .add(Queue::Deferred, &spec, 0o700)
        .expect("queue file");
    let id = |flag: &str| -> Option<u32> {
        let output = run(Command::new("id").args([flag, "postfix"]));
        text(&output.stdout).trim().parse().ok()
    };
    if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
        chown_tree(&spool, uid, gid);
    }
    etc.display().to_string()
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir").flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

fn node_exporter_installed() -> bool {
    let output = run(Command::new("dpkg-query").args([
        "-W",
        "-f=${db:Status-Status}",
        "prometheus-node-exporter",
    ]));
    text(&output.stdout).trim() == "installed"
}

/// Entries under `directory` (recursively) whose name contains `needle`.
fn files_named_like(directory: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(directory) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(needle) {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            found.extend(files_named_like(&path, needle));
        }
    }
    found
}

/// Runs the service's command roughly as systemd would under the unit's hardening: a private
/// mount namespace with / read-only except the textfile directory (ProtectSystem=strict,
/// ReadWritePaths=), a private /tmp and empty /root and /home, the capability bounding set of
/// the unit, no new privileges. (The system call and address family filters are not
/// imitated; the unit's are checked against what qshape and postconf use by hand.) Where mount namespaces are not allowed
/// (unshare fails), runs the command as it is, and says so.
fn run_sandboxed(argv: &[&str], capabilities: &str) -> Output {
    let caps: Vec<String> = capabilities
        .split_whitespace()
        .map(|cap| format!("+{}", cap.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect();
    let sandbox_works = has_program("unshare")
        && has_program("setpriv")
        && run(Command::new("unshare").args(["-m", "true"]))
            .status
            .success();
    if !sandbox_works {
        note("deb_package: no mount namespaces here; running the service's command unsandboxed");
        return run(Command::new(argv[0]).args(&argv[1..]).current_dir("/"));
    }
    let script = format!(
        "set -e
mount --make-rprivate /
mount --bind {TEXTFILE_DIR} {TEXTFILE_DIR}
mount -o remount,bind,ro /
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /root
if [ -d /home ]; then mount -t tmpfs tmpfs /home; fi
if touch /usr/.pqt-write-test 2>/dev/null; then echo 'sandbox: / is writable' >&2; exit 99; fi
cd /
exec setpriv --bounding-set=-all,{} --inh-caps=-all --no-new-privs \"$@\"",
        caps.join(",")
    );
    run(Command::new("unshare")
        .args(["-m", "sh", "-c", &script, "sandbox"])
        .args(argv))
}
