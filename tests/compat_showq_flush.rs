//! Live compatibility of the parts of `postqueue` and `mailq` that talk to Postfix's daemons:
//! the showq protocol used by users who cannot read the queue (suite "showq"), and
//! `postqueue -f`, `-s site`, `-i queue_id` and `mailq -q` (suite "flush").
//!
//! The real postqueue is installed `root:postdrop 2555`; ours is copied next to it in the same
//! form (set-gid postdrop) so that an unprivileged user reaches `public/` the same way. A
//! non-root user may only name a config directory listed in the *default* main.cf's
//! `alternate_config_directories`; rather than touching the machine's /etc/postfix, each such
//! command runs in a private mount namespace where a temporary directory with that setting is
//! bind-mounted over /etc/postfix. Real and ours always run under the same conditions.
//!
//! Needs root and an installed Postfix; otherwise every test records SKIP (and fails under
//! `CI=true`). Results go to `$PQT_COMPAT_RESULTS` as JSON lines.

mod common;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::*;

const SHOWQ: &str = "showq";
const FLUSH: &str = "flush";

/// How long a flushed message may take to reach the sink.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long we watch that a message which was *not* flushed stays put.
const QUIET_PERIOD: Duration = Duration::from_secs(2);

// ------------------------------------------------------------------------------------------
// Set-gid copies of ours, users, and the private /etc/postfix
// ------------------------------------------------------------------------------------------

fn group_id(name: &str) -> u32 {
    let c_name = std::ffi::CString::new(name).expect("group name has no NUL");
    // SAFETY: getgrnam returns null or a pointer to static storage that we read at once.
    let entry = unsafe { libc::getgrnam(c_name.as_ptr()) };
    assert!(!entry.is_null(), "group {name} does not exist");
    // SAFETY: non-null, points at a valid group struct.
    unsafe { (*entry).gr_gid }
}

/// Our postqueue and mailq installed like the real postqueue: `root:postdrop`, mode 2555, in a
/// directory everybody can reach. Removed on drop.
#[derive(Debug)]
struct SetgidCopies {
    dir: tempfile::TempDir,
    postqueue: PathBuf,
    mailq: PathBuf,
}

impl SetgidCopies {
    /// A copy of the real postqueue *without* the set-gid bit, next to ours.
    fn plain_real_postqueue(&self) -> PathBuf {
        let to = self.dir.path().join("real-postqueue-not-setgid");
        if !to.exists() {
            fs::copy(REAL_POSTQUEUE, &to).expect("copy the real postqueue");
            set_mode(&to, 0o755);
        }
        to
    }

    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pqt-")
            .tempdir_in("/tmp")
            .expect("create directory for the set-gid copies");
        set_mode(dir.path(), 0o755);
        let postdrop = group_id("postdrop");
        let copy = |from: &str, name: &str| {
            let to = dir.path().join(name);
            fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {from}: {e}"));
            std::os::unix::fs::chown(&to, Some(0), Some(postdrop))
                .unwrap_or_else(|e| panic!("chown {}: {e}", to.display()));
            // chown clears the set-gid bit, so the mode comes last.
            set_mode(&to, 0o2555);
            to
        };
        let postqueue = copy(OUR_POSTQUEUE, "postqueue");
        let mailq = copy(OUR_MAILQ, "mailq");
        Self {
            dir,
            postqueue,
            mailq,
        }
    }
}

/// A directory to bind-mount over /etc/postfix: a main.cf whose only job is to authorise the
/// test instance's config directories (`alternate_config_directories`), plus the metadata
/// files Postfix programs look for there.
fn fake_default_config(root: &Path, authorised: &[&Path]) -> PathBuf {
    let dir = root.join("fake-etc-postfix");
    fs::create_dir_all(&dir).expect("mkdir fake /etc/postfix");
    set_mode(&dir, 0o755);
    let list: Vec<String> = authorised.iter().map(|p| p.display().to_string()).collect();
    fs::write(
        dir.join("main.cf"),
        format!(
            "# stands in for /etc/postfix inside a private mount namespace\n\
             compatibility_level = 3.6\n\
             alternate_config_directories = {}\n",
            list.join(", ")
        ),
    )
    .expect("write fake main.cf");
    for name in ["dynamicmaps.cf", "postfix-files"] {
        let from = Path::new("/etc/postfix").join(name);
        if from.exists() {
            fs::copy(&from, dir.join(name)).expect("copy /etc/postfix metadata");
        }
    }
    for name in ["dynamicmaps.cf.d", "postfix-files.d"] {
        fs::create_dir_all(dir.join(name)).expect("mkdir .d");
    }
    backdate_config(&dir);
    dir
}

/// Who runs a command.
#[derive(Debug, Clone, Copy)]
enum Who<'a> {
    Root,
    /// A local user; with `Some(dir)`, in a mount namespace where `dir` is /etc/postfix (so the
    /// instance's config directory is authorised), else against the machine's /etc/postfix.
    User(&'a str, Option<&'a Path>),
    /// A uid (and gid) without a password entry, in the mount namespace.
    Stranger(u32, &'a Path),
}

impl Who<'_> {
    fn label(&self) -> String {
        match self {
            Who::Root => "as root".to_string(),
            Who::User(name, Some(_)) => format!("as {name}"),
            Who::User(name, None) => format!("as {name}, -c DIR not authorised"),
            Who::Stranger(uid, _) => format!("as uid {uid} without a passwd entry"),
        }
    }

    fn is_root(&self) -> bool {
        matches!(self, Who::Root)
    }
}

/// Which program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Postqueue,
    Mailq,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Postqueue => "postqueue",
            Tool::Mailq => "mailq",
        }
    }
}

/// The shell run inside the namespace: mount the fake config, then drop to the user.
/// `$0` is the directory to mount, `$1` and `$2` the uid and gid, the rest the command.
const NAMESPACE_SCRIPT: &str = "mount --bind \"$0\" /etc/postfix && \
     exec setpriv --reuid=\"$1\" --regid=\"$2\" --clear-groups -- \"${@:3}\"";

/// Wraps `inner` so that it runs as `who`.
fn wrap(inner: Invocation, who: Who) -> Invocation {
    match who {
        Who::Root => inner,
        Who::User(name, None) => inner.run_as(name),
        Who::User(_, Some(fake_etc)) | Who::Stranger(_, fake_etc) => {
            let (uid, gid) = match who {
                Who::User(name, _) => user_ids(name),
                Who::Stranger(uid, _) => (uid, uid),
                Who::Root => unreachable!(),
            };
            let mut outer = inner.clone();
            outer.program = "unshare".into();
            let mut args: Vec<OsString> = vec![
                "-m".into(),
                "--".into(),
                "/bin/bash".into(),
                "-c".into(),
                NAMESPACE_SCRIPT.into(),
                fake_etc.as_os_str().to_owned(),
                uid.to_string().into(),
                gid.to_string().into(),
            ];
            args.push(inner.program.clone());
            args.extend(inner.args.iter().cloned());
            outer.args = args;
            outer
        }
    }
}

/// The pieces every comparison needs.
#[derive(Debug)]
struct Context<'a> {
    copies: &'a SetgidCopies,
}

impl Context<'_> {
    /// The real and our invocations of `tool args`, as `who`, in time zone `tz`.
    fn pair(&self, tool: Tool, args: &[&str], who: Who, tz: &str) -> (Invocation, Invocation) {
        let real = real_for(tool).args(args).env("TZ", tz);
        let ours = ours_for(self, tool, who).args(args).env("TZ", tz);
        (wrap(real, who), wrap(ours, who))
    }

    fn ours(&self, tool: Tool, args: &[&str], who: Who) -> Invocation {
        self.pair(tool, args, who, "UTC").1
    }

    fn real(&self, tool: Tool, args: &[&str], who: Who) -> Invocation {
        self.pair(tool, args, who, "UTC").0
    }
}

/// The real program (unwrapped).
fn real_for(tool: Tool) -> Invocation {
    let program = match tool {
        Tool::Postqueue => REAL_POSTQUEUE,
        Tool::Mailq => REAL_MAILQ,
    };
    Invocation::new(program).env("TZ", "UTC")
}

/// Our program (unwrapped) for `who`: the set-gid copy for anyone but root.
fn ours_for(ctx: &Context, tool: Tool, who: Who) -> Invocation {
    let program: PathBuf = match (tool, who.is_root()) {
        (Tool::Postqueue, true) => OUR_POSTQUEUE.into(),
        (Tool::Mailq, true) => OUR_MAILQ.into(),
        (Tool::Postqueue, false) => ctx.copies.postqueue.clone(),
        (Tool::Mailq, false) => ctx.copies.mailq.clone(),
    };
    Invocation::new(program).env("TZ", "UTC")
}

/// `postqueue -c $INSTANCE/etc -p (as nobody)`: the command as reported.
fn describe(tool: Tool, args: &[&str], who: Who) -> String {
    anonymize_paths(&format!(
        "{} {} ({})",
        tool.name(),
        args.join(" "),
        who.label()
    ))
}

/// Runs real and ours once each (the real one a second time when `repeat` and the first two
/// runs disagree, in case the queue moved) and records the comparison.
#[allow(clippy::too_many_arguments)]
fn compare(
    report: &mut Report,
    ctx: &Context,
    suite: &str,
    label: &str,
    tool: Tool,
    args: &[&str],
    who: Who,
    tz: &str,
    repeat: bool,
) -> (Outcome, Outcome) {
    let (real, ours) = ctx.pair(tool, args, who, tz);
    let tz_note = if tz == "UTC" {
        String::new()
    } else {
        format!(", TZ={tz}")
    };
    let case = format!("{label} ({}{tz_note})", who.label());
    compare_built(
        report,
        suite,
        &case,
        &real,
        &ours,
        &describe(tool, args, who),
        repeat,
    )
}

/// [`compare`] for invocations built by the caller.
fn compare_built(
    report: &mut Report,
    suite: &str,
    case: &str,
    real: &Invocation,
    ours: &Invocation,
    command: &str,
    repeat: bool,
) -> (Outcome, Outcome) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let real_outcome = real.run();
        let ours_outcome = ours.run();
        if repeat && real_outcome != ours_outcome && attempt < 4 {
            let again = real.run();
            if again != real_outcome {
                // The queue moved under us (qmgr at work); try the round again.
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        }
        report.check(
            suite,
            case,
            &real_outcome,
            &ours_outcome,
            Compare::Everything,
            command,
        );
        return (real_outcome, ours_outcome);
    }
}

fn deferred(n: usize) -> Settle {
    Settle {
        deferred: Some(n),
        ..Settle::default()
    }
}

fn etc_arg(pf: &PostfixInstance) -> String {
    pf.etc.to_string_lossy().into_owned()
}

// ------------------------------------------------------------------------------------------
// 1. Listings as an unprivileged user, through the showq daemon
// ------------------------------------------------------------------------------------------

/// Deferred mail with assorted reasons, a held and a force-expired message, a null sender
/// (given over SMTP, and a bounce) and UTF-8 addresses.
fn fill_queue(pf: &PostfixInstance) {
    let mut smtp = pf.smtp();
    // (sender, MAIL FROM parameters, recipients, subject)
    type Send<'a> = (&'a [u8], &'a str, Vec<&'a [u8]>, &'a str);
    let sends: Vec<Send> = vec![
        (
            b"alice@sender.example",
            "",
            vec![b"user@r75.example", b"user@r77.example"],
            "reasons one",
        ),
        (
            b"bob@sender.example",
            "",
            vec![b"a@long.example", b"b@quote.example", b"c@slow.example"],
            "reasons two",
        ),
        (
            "jösé@exämple.test".as_bytes(),
            "SMTPUTF8",
            vec![
                "ünïcødé@dömäin.example".as_bytes(),
                "用户@utf8.example".as_bytes(),
            ],
            "utf8",
        ),
        (
            b"carol@sender.example",
            "",
            vec![b"h@slow.example"],
            "hold-me",
        ),
        (
            b"dave@sender.example",
            "",
            vec![b"e@r76.example", b"f@example.org"],
            "expire-me",
        ),
        (b"", "", vec![b"postmaster@r76.example"], "null sender"),
    ];
    for (from, parameters, rcpts, subject) in sends {
        smtp.send(
            from,
            parameters,
            &rcpts,
            &message(&String::from_utf8_lossy(from), subject),
        );
    }
    smtp.quit();
    pf.sendmail(
        &["-f", "erin@sender.example", "user@bad.example"],
        &message("erin@sender.example", "bounce me"),
    );
    pf.settle(deferred(7));
    let id = |subject: &str| {
        pf.find_by_subject(subject, &["deferred"])
            .unwrap_or_else(|| panic!("no queue file for {subject}"))
    };
    let (hold, expire) = (id("hold-me"), id("expire-me"));
    pf.postsuper(&["-h", &hold]);
    pf.postsuper(&["-e", &expire]);
    pf.settle(Settle {
        deferred: Some(6),
        hold: Some(1),
        ..Settle::default()
    });
    assert_listing_contains(
        &pf.etc,
        &[
            &format!("{hold}!"),
            &format!("{expire}#"),
            "MAILER-DAEMON",
            "jösé@exämple.test",
        ],
    );
}

fn listing_as_users(name: &str, options: InstanceOptions) {
    scenario(SHOWQ, name, |report| {
        let copies = SetgidCopies::new();
        let ctx = Context { copies: &copies };
        let mut pf = PostfixInstance::new(name, options);
        let fake_etc = fake_default_config(&pf.root, &[&pf.etc]);
        pf.start();
        fill_queue(&pf);
        let etc = etc_arg(&pf);
        for user in ["nobody", "postfix"] {
            let who = Who::User(user, Some(&fake_etc));
            for tz in TIME_ZONES {
                for mode in ["-p", "-j"] {
                    compare(
                        report,
                        &ctx,
                        SHOWQ,
                        &format!("postqueue {mode}, master running"),
                        Tool::Postqueue,
                        &["-c", &etc, mode],
                        who,
                        tz,
                        true,
                    );
                }
                compare(
                    report,
                    &ctx,
                    SHOWQ,
                    "mailq, master running",
                    Tool::Mailq,
                    &["-C", &etc],
                    who,
                    tz,
                    true,
                );
            }
        }
        // import_environment may also set variables (`name=value`), for everyone.
        pf.write_main_cf_variant(
            &["import_environment"],
            "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ=Asia/Kolkata \
             XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME\n",
        );
        for who in [Who::Root, Who::User("nobody", Some(&fake_etc))] {
            compare(
                report,
                &ctx,
                SHOWQ,
                "postqueue -p, master running, import_environment has TZ=Asia/Kolkata",
                Tool::Postqueue,
                &["-c", &etc, "-p"],
                who,
                "America/New_York",
                true,
            );
        }
        pf.restore_main_cf();
        pf.stop();
    });
}

#[test]
fn listing_as_nobody_short_ids() {
    listing_as_users("nobody_listing_short_ids", InstanceOptions::default());
}

#[test]
fn listing_as_nobody_long_ids() {
    listing_as_users(
        "nobody_listing_long_ids",
        InstanceOptions {
            long_queue_ids: true,
            ..InstanceOptions::default()
        },
    );
}

// ------------------------------------------------------------------------------------------
// 2. Access control, mail system down, unauthorised config directory
// ------------------------------------------------------------------------------------------

#[test]
fn access_control_and_down() {
    scenario(SHOWQ, "access_control_and_down", |report| {
        let copies = SetgidCopies::new();
        let ctx = Context { copies: &copies };
        let mut pf = PostfixInstance::new("acl", InstanceOptions::default());
        let fake_etc = fake_default_config(&pf.root, &[&pf.etc]);
        pf.start();
        let mut smtp = pf.smtp();
        let id = smtp.send(
            b"acl@sender.example",
            "",
            &[b"someone@slow.example"],
            &message("acl@sender.example", "acl"),
        );
        smtp.quit();
        pf.settle(deferred(1));
        let etc = etc_arg(&pf);
        let nobody = Who::User("nobody", Some(&fake_etc));
        let postfix = Who::User("postfix", Some(&fake_etc));

        // authorized_mailq_users: only a value starting with `static:` lets everybody in;
        // otherwise it is a string list of user names.
        let mailq_acls = [
            "root",
            "static:anyone",
            "nobody",
            "!nobody",
            "daemon, root",
            "static:nobody",
            "NOBODY",
            "root, nobody",
            "root nobody",
            "!nobody, static:anyone",
            "!root, nobody",
            "",
        ];
        for acl in mailq_acls {
            pf.write_main_cf_variant(&[], &format!("authorized_mailq_users = {acl}\n"));
            let label = |what: &str| format!("{what}, authorized_mailq_users = {acl:?}");
            for mode in ["-p", "-j"] {
                compare(
                    report,
                    &ctx,
                    SHOWQ,
                    &label(&format!("postqueue {mode}")),
                    Tool::Postqueue,
                    &["-c", &etc, mode],
                    nobody,
                    "UTC",
                    true,
                );
            }
            compare(
                report,
                &ctx,
                SHOWQ,
                &label("mailq"),
                Tool::Mailq,
                &["-C", &etc],
                nobody,
                "UTC",
                true,
            );
        }
        // A uid that has no name is "unknown" to the ACL.
        let stranger = Who::Stranger(54321, &fake_etc);
        for acl in [
            "static:anyone",
            "root",
            "unknown",
            "!unknown, static:anyone",
        ] {
            pf.write_main_cf_variant(&[], &format!("authorized_mailq_users = {acl}\n"));
            compare(
                report,
                &ctx,
                SHOWQ,
                &format!("postqueue -p, authorized_mailq_users = {acl:?}"),
                Tool::Postqueue,
                &["-c", &etc, "-p"],
                stranger,
                "UTC",
                true,
            );
        }
        pf.write_main_cf_variant(&[], "authorized_flush_users = root\n");
        compare(
            report,
            &ctx,
            FLUSH,
            "postqueue -f, authorized_flush_users = \"root\"",
            Tool::Postqueue,
            &["-c", &etc, "-f"],
            stranger,
            "UTC",
            false,
        );
        // The mail owner is exempt.
        pf.write_main_cf_variant(&[], "authorized_mailq_users = root\n");
        compare(
            report,
            &ctx,
            SHOWQ,
            "postqueue -p, authorized_mailq_users = \"root\"",
            Tool::Postqueue,
            &["-c", &etc, "-p"],
            postfix,
            "UTC",
            true,
        );

        pf.restore_main_cf();

        // The config directory from MAIL_CONFIG instead of -c: for a set-gid program it is
        // just as untrusted.
        for (who, tool, args) in [
            (nobody, Tool::Postqueue, vec!["-p"]),
            (nobody, Tool::Postqueue, vec!["-j"]),
            (nobody, Tool::Mailq, vec![]),
            (Who::User("nobody", None), Tool::Postqueue, vec!["-p"]),
            (Who::User("nobody", None), Tool::Mailq, vec![]),
        ] {
            let real = wrap(real_for(tool).args(&args).env("MAIL_CONFIG", &etc), who);
            let ours = wrap(
                ours_for(&ctx, tool, who)
                    .args(&args)
                    .env("MAIL_CONFIG", &etc),
                who,
            );
            let shown = [tool.name()]
                .into_iter()
                .chain(args.iter().copied())
                .collect::<Vec<_>>()
                .join(" ");
            let command = format!("MAIL_CONFIG=$INSTANCE/etc {shown} ({})", who.label());
            compare_built(
                report,
                SHOWQ,
                &format!("MAIL_CONFIG=DIR {shown} ({})", who.label()),
                &real,
                &ours,
                &command,
                true,
            );
        }

        // Not installed set-gid (a plain copy of the real postqueue, and our binary as
        // built): public/ is closed to nobody, so every request meets EACCES.
        let plain_real = copies.plain_real_postqueue();
        for args in [
            vec!["-c", &etc, "-p"],
            vec!["-c", &etc, "-j"],
            vec!["-c", &etc, "-f"],
            vec!["-c", &etc, "-i", "NOSUCHID"],
            vec!["-c", &etc, "-s", "example.net"],
        ] {
            let suite = if args[2] == "-p" || args[2] == "-j" {
                SHOWQ
            } else {
                FLUSH
            };
            let real = wrap(
                Invocation::new(&plain_real).args(&args).env("TZ", "UTC"),
                nobody,
            );
            let ours = wrap(
                Invocation::new(OUR_POSTQUEUE).args(&args).env("TZ", "UTC"),
                nobody,
            );
            compare_built(
                report,
                suite,
                &format!(
                    "postqueue {}, not installed set-gid (as nobody)",
                    args[2..].join(" ")
                ),
                &real,
                &ours,
                &format!(
                    "postqueue -c $INSTANCE/etc {} (mode 755 copies, as nobody)",
                    args[2..].join(" ")
                ),
                false,
            );
        }

        // authorized_flush_users, with the flush daemon up. `-s example.net` is not in
        // fast_flush_domains, so an accepted user gets the "not configured" refusal.
        for acl in ["root", "static:anyone", "nobody", "!nobody", "daemon"] {
            pf.write_main_cf_variant(&[], &format!("authorized_flush_users = {acl}\n"));
            for args in [
                vec!["-c", &etc, "-f"],
                vec!["-c", &etc, "-s", "example.net"],
                vec!["-c", &etc, "-i", &id],
                vec!["-c", &etc, "-i", "NOSUCHID"],
            ] {
                compare(
                    report,
                    &ctx,
                    FLUSH,
                    &format!(
                        "postqueue {}, master running, authorized_flush_users = {acl:?}",
                        args[2..].join(" ").replace(id.as_str(), "ID")
                    ),
                    Tool::Postqueue,
                    &args,
                    nobody,
                    "UTC",
                    false,
                );
            }
            compare(
                report,
                &ctx,
                FLUSH,
                &format!("mailq -q, master running, authorized_flush_users = {acl:?}"),
                Tool::Mailq,
                &["-C", &etc, "-q"],
                nobody,
                "UTC",
                false,
            );
        }
        pf.restore_main_cf();
        pf.settle(deferred(1));

        // Master stopped: no way in for anyone but root -- and, in ours, the mail owner, who
        // can read the queue and gets root's listing (deviation P10 in docs/deviations.md).
        // So ours as postfix is compared with the real tool as root.
        pf.stop();
        for (label, tool, args) in [
            (
                "postqueue -p",
                Tool::Postqueue,
                vec!["-c", etc.as_str(), "-p"],
            ),
            (
                "postqueue -j",
                Tool::Postqueue,
                vec!["-c", etc.as_str(), "-j"],
            ),
            ("mailq", Tool::Mailq, vec!["-C", etc.as_str()]),
        ] {
            let (real_as_root, _) = ctx.pair(tool, &args, Who::Root, "UTC");
            let (_, ours_as_owner) = ctx.pair(tool, &args, postfix, "UTC");
            compare_built(
                report,
                SHOWQ,
                &format!(
                    "{label}, master stopped (ours as postfix vs real as root: deviation P10)"
                ),
                &real_as_root,
                &ours_as_owner,
                &describe(tool, &args, postfix),
                false,
            );
        }
        for who in [nobody] {
            for mode in ["-p", "-j"] {
                compare(
                    report,
                    &ctx,
                    SHOWQ,
                    &format!("postqueue {mode}, master stopped"),
                    Tool::Postqueue,
                    &["-c", &etc, mode],
                    who,
                    "UTC",
                    false,
                );
            }
            compare(
                report,
                &ctx,
                SHOWQ,
                "mailq, master stopped",
                Tool::Mailq,
                &["-C", &etc],
                who,
                "UTC",
                false,
            );
        }
        pf.write_main_cf_variant(&[], "authorized_mailq_users = root\n");
        compare(
            report,
            &ctx,
            SHOWQ,
            "postqueue -p, master stopped, authorized_mailq_users = \"root\"",
            Tool::Postqueue,
            &["-c", &etc, "-p"],
            nobody,
            "UTC",
            false,
        );
        pf.restore_main_cf();

        // No bind mount: the machine's /etc/postfix does not authorise the directory.
        let unauthorised = Who::User("nobody", None);
        let cases: Vec<(&str, Tool, Vec<&str>)> = vec![
            (SHOWQ, Tool::Postqueue, vec!["-c", &etc, "-p"]),
            (SHOWQ, Tool::Postqueue, vec!["-c", &etc, "-j"]),
            (SHOWQ, Tool::Mailq, vec!["-C", &etc]),
            (FLUSH, Tool::Postqueue, vec!["-c", &etc, "-f"]),
            (
                FLUSH,
                Tool::Postqueue,
                vec!["-c", &etc, "-s", "example.net"],
            ),
            (FLUSH, Tool::Postqueue, vec!["-c", &etc, "-i", "NOSUCHID"]),
            (FLUSH, Tool::Mailq, vec!["-C", &etc, "-q"]),
        ];
        for (suite, tool, args) in cases {
            let shown: Vec<&str> = args
                .iter()
                .map(|a| if *a == etc { "DIR" } else { a })
                .collect();
            compare(
                report,
                &ctx,
                suite,
                &format!("{} {}", tool.name(), shown.join(" ")),
                tool,
                &args,
                unauthorised,
                "UTC",
                false,
            );
        }
    });
}

// ------------------------------------------------------------------------------------------
// 3. A showq server that misbehaves
// ------------------------------------------------------------------------------------------

/// A stand-in for the showq daemon: a UNIX listener at `public/showq` that answers every
/// connection with the current `payload` and then hangs up.
#[derive(Debug)]
struct FakeShowq {
    path: PathBuf,
    payload: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeShowq {
    fn start(path: &Path) -> Self {
        let _ = fs::remove_file(path);
        let listener =
            UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        set_mode(path, 0o666);
        let payload = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let payload = Arc::clone(&payload);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let bytes = payload.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
                    // The client may give up early; that is its business.
                    let _ = stream.write_all(&bytes);
                    let _ = stream.shutdown(std::net::Shutdown::Write);
                }
            })
        };
        Self {
            path: path.to_path_buf(),
            payload,
            stop,
            thread: Some(thread),
        }
    }

    fn serve(&self, bytes: Vec<u8>) {
        *self.payload.lock().unwrap_or_else(|e| e.into_inner()) = bytes;
    }
}

impl Drop for FakeShowq {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = UnixStream::connect(&self.path);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// attr0 encoding: `name\0value\0` for each pair.
fn attrs(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in pairs {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

const HEADER: &[u8] = b"protocol\0mail_queue_list_protocol\0\0";

/// One whole message in 3.7's shape: properties, sender, (recipient, reason) pairs, and the
/// terminating NUL.
fn showq_message(
    queue: &str,
    id: &str,
    time: &str,
    size: &str,
    forced_expire: &str,
    sender: &[u8],
    recipients: &[(&[u8], &[u8])],
) -> Vec<u8> {
    let mut out = message_head(queue, id, time, size, forced_expire, sender);
    for (recipient, reason) in recipients {
        out.extend(attrs(&[("recipient", recipient), ("reason", reason)]));
    }
    out.push(0);
    out
}

fn message_head(
    queue: &str,
    id: &str,
    time: &str,
    size: &str,
    forced_expire: &str,
    sender: &[u8],
) -> Vec<u8> {
    attrs(&[
        ("queue_name", queue.as_bytes()),
        ("queue_id", id.as_bytes()),
        ("time", time.as_bytes()),
        ("size", size.as_bytes()),
        ("forced_expire", forced_expire.as_bytes()),
        ("sender", sender),
    ])
}

fn first_message() -> Vec<u8> {
    showq_message(
        "deferred",
        "4F1A2B3C4D",
        "1700000000",
        "1234",
        "0",
        b"alice@sender.example",
        &[
            (
                b"bob@example.org",
                b"connect to mx.example.org: Connection refused",
            ),
            (
                b"carol@example.org",
                b"connect to mx.example.org: Connection refused",
            ),
            (b"dave@example.net", b""),
        ],
    )
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The streams served, by name: well-formed ones first (the listing must match), then ones
/// that break off or go wrong at various points.
fn showq_streams() -> Vec<(&'static str, Vec<u8>)> {
    let first = first_message();
    let second_head = message_head("hold", "5A6B7C8D9E", "1700003600", "2048", "1", b"");
    let second_whole = showq_message(
        "hold",
        "5A6B7C8D9E",
        "1700003600",
        "2048",
        "1",
        b"",
        &[(b"erin@example.com", b"reason of the second message")],
    );
    let active = showq_message(
        "active",
        "6B7C8D9E0F",
        "1700007200",
        "99",
        "0",
        b"frank@sender.example",
        &[],
    );
    let odd_bytes = showq_message(
        "deferred",
        "7C8D9E0F1A",
        "1700010800",
        "512",
        "0",
        b"ctl\x01\x7fchars@sender.example",
        &[
            (
                "ünïcødé@dömäin.example".as_bytes(),
                b"tab\there, bad utf8 \xff\xfe, newline? no",
            ),
            (b"latin1-\xe9@example.org", "Mailbox für Jürgen".as_bytes()),
        ],
    );
    let odd_numbers = showq_message(
        "deferred",
        "8D9E0F1A2B",
        "1700014400",
        "+42",
        "2",
        b"numbers@sender.example",
        &[(b"n@example.org", b"")],
    );
    let mut streams: Vec<(&'static str, Vec<u8>)> = vec![
        ("valid: empty listing", concat(&[HEADER, b"\0"])),
        (
            "valid: deferred, hold+expired, active with no recipients",
            concat(&[HEADER, &first, &second_whole, &active, b"\0"]),
        ),
        (
            "valid: control bytes, invalid UTF-8, TAB in reason",
            concat(&[HEADER, &odd_bytes, b"\0"]),
        ),
        (
            "valid: size \"+42\", forced_expire \"2\"",
            concat(&[HEADER, &odd_numbers, b"\0"]),
        ),
    ];
    let broken: Vec<(&'static str, Vec<u8>)> = vec![
        ("closed before the protocol header", Vec::new()),
        (
            "wrong protocol name",
            b"protocol\0some_other_protocol\0\0".to_vec(),
        ),
        ("closed after the protocol header", HEADER.to_vec()),
        (
            "closed after one whole message (no list terminator)",
            concat(&[HEADER, &first]),
        ),
        (
            "closed after queue_name of the second message",
            concat(&[HEADER, &first, &attrs(&[("queue_name", b"hold")])]),
        ),
        (
            "closed inside an attribute name of the second message",
            concat(&[
                HEADER,
                &first,
                &attrs(&[("queue_name", b"hold")]),
                b"queue_i",
            ]),
        ),
        (
            "closed inside an attribute value of the second message",
            concat(&[
                HEADER,
                &first,
                &attrs(&[("queue_name", b"hold")]),
                b"queue_id\x005A6B",
            ]),
        ),
        (
            "closed after the sender of the second message",
            concat(&[HEADER, &first, &second_head]),
        ),
        (
            "closed after a recipient of the second message",
            concat(&[
                HEADER,
                &first,
                &second_head,
                &attrs(&[("recipient", b"erin@example.com"), ("reason", b"why")]),
            ]),
        ),
        (
            "closed between recipient and reason",
            concat(&[
                HEADER,
                &first,
                &second_head,
                &attrs(&[("recipient", b"erin@example.com")]),
            ]),
        ),
        (
            "non-numeric time in the second message",
            concat(&[
                HEADER,
                &first,
                &attrs(&[
                    ("queue_name", b"hold"),
                    ("queue_id", b"5A6B7C8D9E"),
                    ("time", b"yesterday"),
                ]),
            ]),
        ),
        (
            "unexpected attribute in the second message",
            concat(&[
                HEADER,
                &first,
                &attrs(&[("queue_name", b"hold"), ("bogus", b"x")]),
            ]),
        ),
        (
            "recipient without reason, then the terminator",
            concat(&[
                HEADER,
                &first,
                &message_head("hold", "5A6B7C8D9E", "1700003600", "2048", "0", b"s@x"),
                &attrs(&[("recipient", b"erin@example.com")]),
                b"\0\0",
            ]),
        ),
        (
            "second message without a sender",
            concat(&[
                HEADER,
                &first,
                &attrs(&[
                    ("queue_name", b"hold"),
                    ("queue_id", b"5A6B7C8D9E"),
                    ("time", b"1700003600"),
                    ("size", b"2048"),
                    ("forced_expire", b"0"),
                ]),
                b"\0\0",
            ]),
        ),
    ];
    streams.extend(broken);
    streams
}

#[test]
fn malformed_showq_stream() {
    scenario(SHOWQ, "malformed_showq_stream", |report| {
        let copies = SetgidCopies::new();
        let ctx = Context { copies: &copies };
        // Never started: a spool with public/ (postfix:postdrop 0710) and no daemons.
        let pf = PostfixInstance::new("fake-showq", InstanceOptions::default());
        pf.create_spool();
        let fake_etc = fake_default_config(&pf.root, &[&pf.etc]);
        let server = FakeShowq::start(&pf.spool.join("public/showq"));
        let etc = etc_arg(&pf);
        let nobody = Who::User("nobody", Some(&fake_etc));
        for (name, bytes) in showq_streams() {
            server.serve(bytes);
            for mode in ["-p", "-j"] {
                compare(
                    report,
                    &ctx,
                    SHOWQ,
                    &format!("fake showq, {name}: postqueue {mode}"),
                    Tool::Postqueue,
                    &["-c", &etc, mode],
                    nobody,
                    "UTC",
                    false,
                );
            }
        }
        // mailq goes the same way (once, on the brief's own case).
        let (name, bytes) = showq_streams()
            .into_iter()
            .find(|(name, _)| name.starts_with("closed after queue_name"))
            .expect("the stream that breaks off after queue_name");
        server.serve(bytes);
        compare(
            report,
            &ctx,
            SHOWQ,
            &format!("fake showq, {name}: mailq"),
            Tool::Mailq,
            &["-C", &etc],
            nobody,
            "UTC",
            false,
        );
        drop(server);
    });
}

// ------------------------------------------------------------------------------------------
// 4. Flushing a live instance
// ------------------------------------------------------------------------------------------

/// An instance whose mail for flag.example and site.example goes through a pipe that defers
/// (exit 75) until a flag file exists, and then writes the message to `sink/<queue id>`.
/// Retry timers are an hour, so nothing is retried unless somebody asks.
struct FlushRig {
    pf: PostfixInstance,
    flag: PathBuf,
    sink: PathBuf,
}

impl FlushRig {
    fn new(name: &str) -> Self {
        let options = InstanceOptions {
            extra_main_cf: [
                ("minimal_backoff_time", "3600s"),
                ("maximal_backoff_time", "7200s"),
                ("queue_run_delay", "3600s"),
                ("fast_flush_domains", "site.example"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..InstanceOptions::default()
        };
        let pf = PostfixInstance::new(name, options);
        let flag = pf.root.join("flag");
        let sink = pf.root.join("sink");
        fs::create_dir(&sink).expect("mkdir sink");
        set_mode(&sink, 0o777);
        let script = pf.root.join("flagpipe.sh");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\n\
                 if [ -e {flag} ]; then\n\
                 \tcat > {sink}/.$1 && mv {sink}/.$1 {sink}/$1 && exit 0\n\
                 \texit 75\n\
                 fi\n\
                 echo \"flag not set, try again later\"\n\
                 exit 75\n",
                flag = flag.display(),
                sink = sink.display()
            ),
        )
        .expect("write flag pipe");
        set_mode(&script, 0o755);
        let mut master_cf = fs::read_to_string(pf.etc.join("master.cf")).expect("read master.cf");
        let _ = writeln!(
            master_cf,
            "flagpipe unix - n n - - pipe user=nobody argv={} ${{queue_id}}",
            script.display()
        );
        fs::write(pf.etc.join("master.cf"), master_cf).expect("write master.cf");
        let mut transport = fs::read_to_string(pf.etc.join("transport")).expect("read transport");
        transport.push_str("flag.example\tflagpipe:\nsite.example\tflagpipe:\n");
        fs::write(pf.etc.join("transport"), transport).expect("write transport");
        backdate_config(&pf.etc);
        Self { pf, flag, sink }
    }

    fn delivered(&self, id: &str) -> bool {
        self.sink.join(id).exists()
    }

    fn set_flag(&self, on: bool) {
        if on {
            fs::write(&self.flag, "").expect("create flag");
        } else {
            let _ = fs::remove_file(&self.flag);
        }
    }

    /// Waits until all of `ids` sit in deferred/ with nothing in flight, and the flush log of
    /// site.example names `site_id`.
    fn wait_deferred(&self, ids: &[&str], site_id: &str) {
        let spool = &self.pf.spool;
        let flush_log = spool.join("flush/site_example");
        let ok = wait_until(SETTLE_TIMEOUT, || {
            let in_deferred = queue_ids(spool, "deferred");
            ids.iter().all(|id| in_deferred.iter().any(|d| d == id))
                && self.pf.count("active") == 0
                && self.pf.count("incoming") == 0
                && fs::read_to_string(&flush_log).is_ok_and(|t| t.contains(site_id))
        });
        assert!(
            ok,
            "mail was not deferred (or not logged for fast flush): deferred {:?}\n{}",
            queue_ids(spool, "deferred"),
            self.pf.maillog_tail()
        );
        // Let qmgr and the delivery agents finish their bookkeeping.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Whether `id` reaches the sink within the delivery timeout.
    fn wait_delivered(&self, id: &str) -> bool {
        wait_until(DELIVERY_TIMEOUT, || self.delivered(id))
    }
}

/// What one round of flushing did, in words that do not depend on queue IDs, so that the real
/// tool's round and ours compare directly.
#[derive(Debug, Default)]
struct RoundResult {
    /// (flush command, its outcome)
    outcomes: Vec<(&'static str, Outcome)>,
    /// (flush command, what happened to the mail)
    effects: Vec<(&'static str, String)>,
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// Defers three messages (two to flag.example, one to site.example), raises the flag and then
/// flushes: `-i` the first, `-s site.example`, and `-f` for the last one; after each step
/// records which messages were delivered.
fn flush_round(rig: &FlushRig, run: &dyn Fn(&[&str]) -> Outcome, tag: &str) -> RoundResult {
    let pf = &rig.pf;
    let etc = etc_arg(pf);
    rig.set_flag(false);
    let mut smtp = pf.smtp();
    let mut send = |rcpt: &[u8], subject: &str| {
        smtp.send(
            b"flusher@sender.example",
            "",
            &[rcpt],
            &message("flusher@sender.example", &format!("{tag} {subject}")),
        )
    };
    let first = send(b"one@flag.example", "first");
    let second = send(b"two@flag.example", "second");
    let site = send(b"three@site.example", "site");
    smtp.quit();
    rig.wait_deferred(&[&first, &second, &site], &site);
    rig.set_flag(true);
    // Nothing moves by itself.
    std::thread::sleep(QUIET_PERIOD);
    let untouched = [&first, &second, &site].iter().all(|id| !rig.delivered(id));
    assert!(
        untouched,
        "mail was delivered before any flush (retry timers too short?)\n{}",
        pf.maillog_tail()
    );

    let mut result = RoundResult::default();
    let outcome = run(&["-c", &etc, "-i", &first]);
    result.outcomes.push(("-i ID", outcome));
    let flushed = rig.wait_delivered(&first);
    std::thread::sleep(QUIET_PERIOD);
    result.effects.push((
        "-i ID",
        format!(
            "the flushed message delivered: {}\nthe other flag.example message delivered: {}\n\
             the site.example message delivered: {}\n",
            yes_no(flushed),
            yes_no(rig.delivered(&second)),
            yes_no(rig.delivered(&site))
        ),
    ));

    let outcome = run(&["-c", &etc, "-s", "site.example"]);
    result.outcomes.push(("-s site.example", outcome));
    let flushed = rig.wait_delivered(&site);
    std::thread::sleep(QUIET_PERIOD);
    result.effects.push((
        "-s site.example",
        format!(
            "the site.example message delivered: {}\n\
             the remaining flag.example message delivered: {}\n",
            yes_no(flushed),
            yes_no(rig.delivered(&second))
        ),
    ));

    let outcome = run(&["-c", &etc, "-f"]);
    result.outcomes.push(("-f", outcome));
    let flushed = rig.wait_delivered(&second);
    result.effects.push((
        "-f",
        format!(
            "the remaining flag.example message delivered: {}\n",
            yes_no(flushed)
        ),
    ));
    result
}

fn effect_outcome(text: &str) -> Outcome {
    Outcome {
        stdout: text.as_bytes().to_vec(),
        stderr: Vec::new(),
        status: 0,
        timed_out: false,
    }
}

#[test]
fn flush_live() {
    scenario(FLUSH, "flush_live", |report| {
        let copies = SetgidCopies::new();
        let ctx = Context { copies: &copies };
        let mut rig = FlushRig::new("flush-live");
        let fake_etc = fake_default_config(&rig.pf.root, &[&rig.pf.etc]);
        rig.pf.start();
        let nobody = Who::User("nobody", Some(&fake_etc));

        let expected = |step: &str| -> &'static str {
            match step {
                "-i ID" => {
                    "the flushed message delivered: yes\n\
                     the other flag.example message delivered: no\n\
                     the site.example message delivered: no\n"
                }
                "-s site.example" => {
                    "the site.example message delivered: yes\n\
                     the remaining flag.example message delivered: no\n"
                }
                _ => "the remaining flag.example message delivered: yes\n",
            }
        };
        for who in [Who::Root, nobody] {
            let real = flush_round(
                &rig,
                &|args| ctx.real(Tool::Postqueue, args, who).run(),
                &format!("real {}", who.label()),
            );
            let ours = flush_round(
                &rig,
                &|args| ctx.ours(Tool::Postqueue, args, who).run(),
                &format!("ours {}", who.label()),
            );
            for ((step, real_outcome), (_, ours_outcome)) in
                real.outcomes.iter().zip(&ours.outcomes)
            {
                let command = format!("postqueue -c $INSTANCE/etc {step} ({})", who.label());
                report.check(
                    FLUSH,
                    &format!("postqueue {step}, master running ({})", who.label()),
                    real_outcome,
                    ours_outcome,
                    Compare::Everything,
                    &command,
                );
            }
            for ((step, real_effect), (_, ours_effect)) in real.effects.iter().zip(&ours.effects) {
                let label = format!("postqueue {step}: mail delivered ({})", who.label());
                if real_effect != expected(step) {
                    report.harness_failure(
                        FLUSH,
                        &label,
                        &format!("real Postfix did not do what the setup expects: {real_effect:?}"),
                    );
                }
                report.check(
                    FLUSH,
                    &label,
                    &effect_outcome(real_effect),
                    &effect_outcome(ours_effect),
                    Compare::Everything,
                    "queue state after the flush (sink of the flag-controlled pipe)",
                );
            }
        }

        // Requests with nothing (left) to do, and the site checks against a live flush
        // daemon, compared directly.
        let etc = etc_arg(&rig.pf);
        let cases: Vec<(Tool, Vec<&str>)> = vec![
            (Tool::Postqueue, vec!["-c", &etc, "-f"]),
            (Tool::Postqueue, vec!["-c", &etc, "-i", "NOSUCHID"]),
            (Tool::Postqueue, vec!["-c", &etc, "-i", "bad.id"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "site.example"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "SITE.EXAMPLE"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "sub.site.example"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "site.example."]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", ".site.example"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "example.net"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "[127.0.0.1]"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "bad_host!"]),
            (Tool::Mailq, vec!["-C", &etc, "-q"]),
            (Tool::Mailq, vec!["-C", &etc, "-qRsite.example"]),
            (Tool::Mailq, vec!["-C", &etc, "-qINOSUCHID"]),
        ];
        for who in [Who::Root, nobody] {
            for (tool, args) in &cases {
                compare(
                    report,
                    &ctx,
                    FLUSH,
                    &format!("{} {}, master running", tool.name(), args[2..].join(" ")),
                    *tool,
                    args,
                    who,
                    "UTC",
                    false,
                );
            }
        }

        // authorized_flush_users = root: nobody is turned away before anything is sent.
        rig.pf
            .write_main_cf_variant(&[], "authorized_flush_users = root\n");
        for (tool, args) in [
            (Tool::Postqueue, vec!["-c", &etc, "-f"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "site.example"]),
            (Tool::Postqueue, vec!["-c", &etc, "-i", "NOSUCHID"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "bad_host!"]),
            (Tool::Mailq, vec!["-C", &etc, "-q"]),
        ] {
            compare(
                report,
                &ctx,
                FLUSH,
                &format!(
                    "{} {}, authorized_flush_users = \"root\"",
                    tool.name(),
                    args[2..].join(" ")
                ),
                tool,
                &args,
                nobody,
                "UTC",
                false,
            );
        }
        rig.pf.restore_main_cf();
        rig.pf.stop();
        // Keep the rig alive until here, so the instance is stopped by Drop on a panic.
        drop(rig);
    });
}

// ------------------------------------------------------------------------------------------
// 5. Flushing while the mail system is down
// ------------------------------------------------------------------------------------------

/// The checks postqueue makes on `-s` and `-i` arguments before asking any daemon, with
/// fast_flush_domains naming the well-formed ones (so they get as far as "down").
fn flush_argument_checks(
    report: &mut Report,
    ctx: &Context,
    pf: &PostfixInstance,
    fake_etc: &Path,
) {
    let etc = etc_arg(pf);
    let long_label = format!("{}.example", "a".repeat(64));
    let long_name = format!("{}.example", ["abcdefghij"; 25].join("."));
    let long_bad_site = format!("{}!", "b".repeat(120));
    let long_bad_id = format!("{}.x", "C".repeat(120));
    let long_id = "D".repeat(255);
    let too_long_id = "E".repeat(256);
    pf.write_main_cf_variant(
        &[],
        &format!("fast_flush_domains = example.net, [1.2.3.4], {long_label}, {long_name}\n"),
    );
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("-s [ipv6:::1]", vec!["-s", "[ipv6:::1]"]),
        ("-s [::1]", vec!["-s", "[::1]"]),
        ("-s [1.2.3.4.5]", vec!["-s", "[1.2.3.4.5]"]),
        ("-s [300.1.1.1]", vec!["-s", "[300.1.1.1]"]),
        ("-s [1.2.3.4", vec!["-s", "[1.2.3.4"]),
        ("-s 1.2.3.4", vec!["-s", "1.2.3.4"]),
        ("-s \"\" (empty)", vec!["-s", ""]),
        ("-s example.net.", vec!["-s", "example.net."]),
        ("-s -example.net", vec!["-s", "-example.net"]),
        ("-s exa_mple.net", vec!["-s", "exa_mple.net"]),
        ("-s 64-byte label", vec!["-s", &long_label]),
        ("-s 260-byte name", vec!["-s", &long_name]),
        (
            "-s 121-byte invalid site (message cut at 100)",
            vec!["-s", &long_bad_site],
        ),
        ("-i \"\" (empty)", vec!["-i", ""]),
        ("-i 255-byte ID", vec!["-i", &long_id]),
        ("-i 256-byte ID", vec!["-i", &too_long_id]),
        (
            "-i 122-byte invalid ID (message cut at 100)",
            vec!["-i", &long_bad_id],
        ),
    ];
    for who in [Who::Root, Who::User("nobody", Some(fake_etc))] {
        for (label, tail) in &cases {
            let mut args = vec!["-c", etc.as_str()];
            args.extend(tail.iter().copied());
            let (real, ours) = ctx.pair(Tool::Postqueue, &args, who, "UTC");
            compare_built(
                report,
                FLUSH,
                &format!("postqueue {label}, never started ({})", who.label()),
                &real,
                &ours,
                &describe(Tool::Postqueue, &args, who),
                false,
            );
        }
    }
    // An address literal with colons in fast_flush_domains: a pattern that starts with `[`
    // is never a type:table lookup.
    pf.write_main_cf_variant(&[], "fast_flush_domains = [ipv6:::1], example.com\n");
    for who in [Who::Root, Who::User("nobody", Some(fake_etc))] {
        for site in ["[ipv6:::1]", "example.com", "example.org"] {
            compare(
                report,
                ctx,
                FLUSH,
                &format!(
                    "postqueue -s {site}, never started, fast_flush_domains = [ipv6:::1], \
                     example.com"
                ),
                Tool::Postqueue,
                &["-c", &etc, "-s", site],
                who,
                "UTC",
                false,
            );
        }
    }
    pf.restore_main_cf();
}

fn flush_down_matrix(
    report: &mut Report,
    ctx: &Context,
    pf: &PostfixInstance,
    state: &str,
    fake_etc: &Path,
) {
    let etc = etc_arg(pf);
    let nobody = Who::User("nobody", Some(fake_etc));
    for (config, extra) in [
        ("fast_flush_domains unset", ""),
        (
            "fast_flush_domains = example.net, [1.2.3.4]",
            "fast_flush_domains = example.net, [1.2.3.4]\n",
        ),
    ] {
        pf.write_main_cf_variant(&[], extra);
        let cases: Vec<(Tool, Vec<&str>)> = vec![
            (Tool::Postqueue, vec!["-c", &etc, "-f"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "example.net"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "bad_host!"]),
            (Tool::Postqueue, vec!["-c", &etc, "-s", "[1.2.3.4]"]),
            (Tool::Postqueue, vec!["-c", &etc, "-i", "NOSUCHID"]),
            (Tool::Postqueue, vec!["-c", &etc, "-i", "bad.id"]),
            (Tool::Mailq, vec!["-C", &etc, "-q"]),
            (Tool::Mailq, vec!["-C", &etc, "-qRexample.net"]),
            (Tool::Mailq, vec!["-C", &etc, "-qINOSUCHID"]),
        ];
        for who in [Who::Root, nobody] {
            for (tool, args) in &cases {
                compare(
                    report,
                    ctx,
                    FLUSH,
                    &format!("{} {}, {state}, {config}", tool.name(), args[2..].join(" ")),
                    *tool,
                    args,
                    who,
                    "UTC",
                    false,
                );
            }
        }
    }
    pf.restore_main_cf();
}

#[test]
fn flush_mail_system_down() {
    scenario(FLUSH, "flush_mail_system_down", |report| {
        let copies = SetgidCopies::new();
        let ctx = Context { copies: &copies };
        let mut pf = PostfixInstance::new("flush-down", InstanceOptions::default());
        let fake_etc = fake_default_config(&pf.root, &[&pf.etc]);
        pf.create_spool();
        // Something to list: postdrop works without a master.
        pf.sendmail(
            &["-f", "down@sender.example", "someone@example.net"],
            &message("down@sender.example", "while down"),
        );
        let sockets: Vec<String> = fs::read_dir(pf.spool.join("public"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            sockets.is_empty(),
            "setup: a never-started spool should have no sockets in public/: {sockets:?}"
        );
        flush_down_matrix(report, &ctx, &pf, "never started (no sockets)", &fake_etc);
        flush_argument_checks(report, &ctx, &pf, &fake_etc);
        // Listing with no public/showq at all (ENOENT rather than ECONNREFUSED): root falls
        // back to the stand-alone showq, anybody else is told the system is down.
        let etc = etc_arg(&pf);
        for who in [Who::Root, Who::User("nobody", Some(&fake_etc))] {
            for (tool, args) in [
                (Tool::Postqueue, vec!["-c", &etc, "-p"]),
                (Tool::Postqueue, vec!["-c", &etc, "-j"]),
                (Tool::Mailq, vec!["-C", &etc]),
            ] {
                compare(
                    report,
                    &ctx,
                    SHOWQ,
                    &format!(
                        "{} {}, never started (no sockets)",
                        tool.name(),
                        args[2..].join(" ")
                    ),
                    tool,
                    &args,
                    who,
                    "UTC",
                    false,
                );
            }
        }
        pf.start();
        pf.stop();
        assert!(
            pf.spool.join("public/qmgr").exists(),
            "setup: the stopped master left no public/qmgr"
        );
        flush_down_matrix(report, &ctx, &pf, "stopped (sockets refuse)", &fake_etc);
    });
}
