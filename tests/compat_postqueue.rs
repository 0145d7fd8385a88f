//! Live compatibility of `postqueue -p`, `postqueue -j` and `mailq` with real Postfix 3.7:
//! queues built by real Postfix daemons in private instances, listed by the real tools and by
//! ours on the same spool, byte for byte (stdout, stderr, exit status), with the master
//! running and stopped, under two time zones; plus the usage and error paths.
//!
//! Needs root and an installed Postfix; otherwise every test records SKIP (and fails under
//! `CI=true`). Results go to `$PQT_COMPAT_RESULTS` as JSON lines.

mod common;

use common::*;

const SUITE: &str = "postqueue";

/// Starts an instance, lets `build` inject mail, waits for `settle`, checks the real listing
/// holds `expect`, then compares with the master running and after stopping it.
fn live_scenario(
    report: &mut Report,
    name: &str,
    options: InstanceOptions,
    settle: Settle,
    expect: &[&str],
    build: impl FnOnce(&mut PostfixInstance),
) {
    let mut pf = PostfixInstance::new(name, options);
    pf.start();
    build(&mut pf);
    pf.settle(settle);
    assert_listing_contains(&pf.etc, expect);
    compare_listings(report, &pf.etc, "running");
    pf.stop();
    compare_listings(report, &pf.etc, "stopped");
}

fn deferred(n: usize) -> Settle {
    Settle {
        deferred: Some(n),
        ..Settle::default()
    }
}

#[test]
fn empty_queue() {
    scenario(SUITE, "empty_queue", |report| {
        live_scenario(
            report,
            "empty",
            InstanceOptions::default(),
            deferred(0),
            &["Mail queue is empty"],
            |_| {},
        );
    });
}

/// Reasons right-aligned at column 78 (75 and 76 bytes), flush left past it (77 bytes and a
/// 266-byte one), several reasons in one message, quotes, backslashes and UTF-8 in reasons.
#[test]
fn deferred_reasons() {
    scenario(SUITE, "deferred_reasons", |report| {
        let r75 = reason_of_length(75);
        let r77 = reason_of_length(77);
        live_scenario(
            report,
            "reasons",
            InstanceOptions::default(),
            deferred(8),
            &[&format!(" ({r75})"), &format!("\n({r77})"), SLOW_REASON],
            |pf| {
                let mut smtp = pf.smtp();
                let from = b"alice@sender.example";
                for domain in [
                    "r75.example",
                    "r76.example",
                    "r77.example",
                    "long.example",
                    "quote.example",
                    "utf8.example",
                    "example.org",
                ] {
                    let rcpt = format!("user@{domain}");
                    smtp.send(
                        from,
                        "",
                        &[rcpt.as_bytes()],
                        &message("alice@sender.example", &format!("to {domain}")),
                    );
                }
                smtp.send(
                    b"bob@sender.example",
                    "",
                    &[
                        b"a@slow.example",
                        b"b@r75.example",
                        b"c@r76.example",
                        b"d@r77.example",
                        b"e@example.net",
                        b"f@slow.example",
                    ],
                    &message("bob@sender.example", "several reasons"),
                );
                smtp.quit();
            },
        );
    });
}

/// `error:` bounces a recipient; the bounce (null sender, shown as MAILER-DAEMON) is itself
/// deferred. Also a null sender given over SMTP.
#[test]
fn error_bounce_null_sender() {
    scenario(SUITE, "error_bounce_null_sender", |report| {
        live_scenario(
            report,
            "bounce",
            InstanceOptions::default(),
            deferred(4),
            &["MAILER-DAEMON", "carol@sender.example"],
            |pf| {
                pf.sendmail(
                    &["-f", "carol@sender.example", "user@bad.example"],
                    &message("carol@sender.example", "bounce me"),
                );
                pf.settle(deferred(1));
                pf.sendmail(
                    &[
                        "-f",
                        "dave@sender.example",
                        "x@bad.example",
                        "y@slow.example",
                    ],
                    &message("dave@sender.example", "half bounced"),
                );
                pf.settle(deferred(3));
                let mut smtp = pf.smtp();
                smtp.send(
                    b"",
                    "",
                    &[b"postmaster@r76.example"],
                    &message("MAILER-DAEMON", "null sender over smtp"),
                );
                smtp.quit();
                pf.settle(deferred(4));
            },
        );
    });
}

/// One recipient delivered by `discard:` (its `R` becomes `D`), one bounced, three deferred.
#[test]
fn partial_delivery() {
    scenario(SUITE, "partial_delivery", |report| {
        live_scenario(
            report,
            "partial",
            InstanceOptions::default(),
            deferred(3),
            &["stay@slow.example"],
            |pf| {
                pf.sendmail(
                    &[
                        "-f",
                        "mixed@sender.example",
                        "gone@discard.example",
                        "stay@slow.example",
                        "nope@bad.example",
                        "far@long.example",
                        "other@example.org",
                    ],
                    &message("mixed@sender.example", "partial delivery"),
                );
                let mut smtp = pf.smtp();
                smtp.send(
                    b"smtp@sender.example",
                    "",
                    &[b"a@discard.example", b"b@r75.example", b"c@discard.example"],
                    &message("smtp@sender.example", "partial over smtp"),
                );
                smtp.quit();
            },
        );
    });
}

/// `postsuper -h` (hold, `!`), `postsuper -e` (forced expiry, `#`, group x bit) and both
/// (`!#`), next to an untouched deferred message.
#[test]
fn hold_and_expire() {
    scenario(SUITE, "hold_and_expire", |report| {
        let mut pf = PostfixInstance::new("hold", InstanceOptions::default());
        pf.start();
        let mut smtp = pf.smtp();
        for (subject, rcpt) in [
            ("hold-me", &b"h@slow.example"[..]),
            ("expire-me", b"e@r75.example"),
            ("hold-and-expire", b"he@long.example"),
            ("untouched", b"u@example.org"),
        ] {
            smtp.send(
                b"carol@sender.example",
                "",
                &[rcpt, b"second@r77.example"],
                &message("carol@sender.example", subject),
            );
        }
        smtp.quit();
        pf.settle(deferred(4));
        let id = |subject: &str| {
            pf.find_by_subject(subject, &["deferred"])
                .unwrap_or_else(|| panic!("no queue file for {subject}"))
        };
        let (hold, expire, both) = (id("hold-me"), id("expire-me"), id("hold-and-expire"));
        pf.postsuper(&["-h", &hold]);
        pf.postsuper(&["-e", &expire]);
        pf.postsuper(&["-h", &both]);
        pf.postsuper(&["-e", &both]);
        pf.settle(Settle {
            deferred: Some(2),
            hold: Some(2),
            ..Settle::default()
        });
        assert_listing_contains(
            &pf.etc,
            &[
                &format!("{hold}!"),
                &format!("{expire}#"),
                &format!("{both}!#"),
            ],
        );
        compare_listings(report, &pf.etc, "running");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped");
    });
}

/// A message parked in active/ by a pipe transport that never returns; one of its recipients
/// already has a defer-log reason, one has none yet. Then the instance is stopped, so the file
/// stays in active/.
#[test]
fn active_queue() {
    scenario(SUITE, "active_queue", |report| {
        let mut pf = PostfixInstance::new("active", InstanceOptions::default());
        pf.start();
        let mut smtp = pf.smtp();
        smtp.send(
            b"eve@sender.example",
            "",
            &[b"parked@sleep.example", b"late@slow.example"],
            &message("eve@sender.example", "stuck in active"),
        );
        smtp.quit();
        pf.wait_for_sleeper();
        pf.settle(Settle {
            active: 1,
            deferred: Some(0),
            ..Settle::default()
        });
        assert_listing_contains(&pf.etc, &["*", "parked@sleep.example"]);
        compare_listings(report, &pf.etc, "running");
        pf.stop();
        assert_eq!(pf.count("active"), 1, "the message left active/");
        compare_listings(report, &pf.etc, "stopped");
    });
}

/// Files written by postdrop: no `C` record (size = file size), owned by the submitter. First
/// with a master that has no pickup service (so they stay), then with the instance stopped.
#[test]
fn maildrop_queue() {
    scenario(SUITE, "maildrop_queue", |report| {
        let options = InstanceOptions {
            pickup: false,
            ..InstanceOptions::default()
        };
        let mut pf = PostfixInstance::new("maildrop", options);
        pf.start();
        pf.sendmail(
            &["-f", "dropper@sender.example", "target@example.org"],
            &message("dropper@sender.example", "maildrop one"),
        );
        pf.sendmail(
            &["-f", "<>", "target2@example.org", "target3@slow.example"],
            &message("MAILER-DAEMON", "maildrop null sender"),
        );
        pf.sendmail(
            &["-t", "-f", "headers@sender.example"],
            b"From: headers@sender.example\nTo: to1@example.org, to2@example.net\n\
              Cc: cc1@example.org\nSubject: maildrop -t\n\nbody\n",
        );
        pf.settle(Settle {
            maildrop: 3,
            deferred: Some(0),
            ..Settle::default()
        });
        assert_listing_contains(&pf.etc, &["dropper@sender.example", "MAILER-DAEMON"]);
        compare_listings(report, &pf.etc, "running (no pickup)");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped");
        // Submitted while the mail system is down: postdrop still writes the file.
        pf.sendmail(
            &["-f", "offline@sender.example", "while-down@example.org"],
            &message("offline@sender.example", "maildrop while down"),
        );
        assert_eq!(pf.count("maildrop"), 4);
        assert_listing_contains(&pf.etc, &["offline@sender.example"]);
        compare_listings(report, &pf.etc, "stopped, one more submitted while down");
    });
}

/// Files cleanup has finished while no qmgr runs: they wait in incoming/ (one force-expired).
#[test]
fn incoming_queue() {
    scenario(SUITE, "incoming_queue", |report| {
        let options = InstanceOptions {
            qmgr: false,
            ..InstanceOptions::default()
        };
        let mut pf = PostfixInstance::new("incoming", options);
        pf.start();
        pf.sendmail(
            &[
                "-f",
                "in1@sender.example",
                "a@example.org",
                "b@slow.example",
            ],
            &message("in1@sender.example", "incoming one"),
        );
        let mut smtp = pf.smtp();
        smtp.send(
            b"in2@sender.example",
            "",
            &[b"c@example.org"],
            &message("in2@sender.example", "incoming two"),
        );
        smtp.quit();
        pf.settle(Settle {
            incoming: 2,
            deferred: Some(0),
            ..Settle::default()
        });
        let id = pf
            .find_by_subject("incoming two", &["incoming"])
            .expect("incoming two is queued");
        pf.postsuper(&["-e", &id]);
        assert_listing_contains(&pf.etc, &[&format!("{id}#")]);
        compare_listings(report, &pf.etc, "running (no qmgr)");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped");
    });
}

/// UTF-8 envelopes (SMTPUTF8 over SMTP, and sendmail's autodetection), listed with
/// `smtputf8_enable = yes`, then the same spool with `= no` (every non-ASCII byte is `?`).
#[test]
fn utf8_addresses() {
    scenario(SUITE, "utf8_addresses", |report| {
        let mut pf = PostfixInstance::new("utf8", InstanceOptions::default());
        pf.start();
        let mut smtp = pf.smtp();
        smtp.send(
            "jösé@exämple.test".as_bytes(),
            "SMTPUTF8",
            &[
                "ünïcødé@dömäin.example".as_bytes(),
                "用户@例子.example".as_bytes(),
                "x@utf8.example".as_bytes(),
            ],
            "From: <jösé@exämple.test>\nSubject: utf8 smtp\n\nbody\n".as_bytes(),
        );
        smtp.quit();
        pf.sendmail(
            &["-f", "σπύρος@παράδειγμα.example", "ελένη@utf8.example"],
            "Subject: utf8 sendmail\n\nbody\n".as_bytes(),
        );
        // Raw Latin-1 bytes (not UTF-8): cleanup bounces the message, and the bounce to
        // `j\xe9r\xf4me@...` (null sender) is deferred, its recipient shown with `?`.
        pf.sendmail_bytes(
            &[
                b"-f",
                b"j\xe9r\xf4me@sender.example",
                b"l\xe4tin@example.org",
                b"x@bad.example",
            ],
            b"Subject: latin1\n\nbody\n",
        );
        pf.settle(deferred(3));
        assert_listing_contains(&pf.etc, &["jösé@exämple.test", "σπύρος", "j?r?me@"]);
        compare_listings(report, &pf.etc, "running, smtputf8_enable=yes");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped, smtputf8_enable=yes");
        pf.set_main_cf(&[("smtputf8_enable", "no")]);
        pf.start();
        pf.settle(deferred(3));
        assert_listing_contains(&pf.etc, &["j??s??@ex??mple.test"]);
        compare_listings(report, &pf.etc, "running, smtputf8_enable=no");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped, smtputf8_enable=no");
    });
}

/// Local parts that need quoting (`quote_822_local`), given over SMTP; a reason with `"` and
/// `\` exercises the JSON escaping of `-j`.
#[test]
fn quoted_local_parts() {
    scenario(SUITE, "quoted_local_parts", |report| {
        live_scenario(
            report,
            "quoted",
            InstanceOptions::default(),
            deferred(2),
            &[
                "\"quoted local\"@example.org",
                "\"sender with space\"@sender.example",
            ],
            |pf| {
                let mut smtp = pf.smtp();
                smtp.send(
                    b"\"sender with space\"@sender.example",
                    "",
                    &[
                        b"\"quoted local\"@example.org",
                        b"\"john \\\"jj\\\" doe\"@quote.example",
                        b"\"back\\\\slash\"@example.org",
                        b"\"a b\"@slow.example",
                        b"\"dot.\"@example.org",
                        b"user+tag@example.org",
                        b"o'brien@example.org",
                        b"a%b@example.org",
                    ],
                    &message("sender@sender.example", "quoted local parts"),
                );
                smtp.send(
                    b"\"x..y\"@sender.example",
                    "",
                    &[b"\"(paren)\"@quote.example", b"\"semi;colon\"@example.org"],
                    &message("sender@sender.example", "more quoting"),
                );
                smtp.quit();
            },
        );
    });
}

/// One message with 1000 recipients over several reasons; its defer log holds 1000 entries.
/// The listing is larger than a pipe buffer, so it also serves the `| head -c 10` check.
#[test]
fn thousand_recipients() {
    scenario(SUITE, "thousand_recipients", |report| {
        let mut pf = PostfixInstance::new("bulk", InstanceOptions::default());
        pf.start();
        let domains = [
            "slow.example",
            "r75.example",
            "example.org",
            "sub.example.com",
            "long.example",
            "deep.deeper.example.net",
            "r77.example",
        ];
        let recipients: Vec<String> = (0..1000)
            .map(|i| format!("recipient-number-{i:04}@{}", domains[i % domains.len()]))
            .collect();
        let refs: Vec<&[u8]> = recipients.iter().map(|r| r.as_bytes()).collect();
        let mut smtp = pf.smtp();
        smtp.send(
            b"bulk@sender.example",
            "",
            &refs,
            &message("bulk@sender.example", "one thousand recipients"),
        );
        smtp.send(
            b"small@sender.example",
            "",
            &[b"one@slow.example"],
            &message("small@sender.example", "small one"),
        );
        smtp.quit();
        pf.settle(deferred(2));
        assert_listing_contains(&pf.etc, &["recipient-number-0999@", "-- "]);
        compare_listings(report, &pf.etc, "running");
        early_close(report, &pf.etc, "running");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped");
        early_close(report, &pf.etc, "stopped");
    });
}

/// The reader goes away after 10 bytes (`| head -c 10`): both must end quietly with exit 0.
fn early_close(report: &mut Report, etc: &std::path::Path, state: &str) {
    let pairs = [
        (
            "postqueue",
            "postqueue -p | head -c 10",
            real_postqueue(etc, "-p", "UTC"),
            our_postqueue(etc, "-p", "UTC"),
        ),
        (
            "postqueue",
            "postqueue -j | head -c 10",
            real_postqueue(etc, "-j", "UTC"),
            our_postqueue(etc, "-j", "UTC"),
        ),
        (
            "mailq",
            "mailq | head -c 10",
            real_mailq(etc, "UTC"),
            our_mailq(etc, "UTC"),
        ),
    ];
    for (suite, label, real, ours) in pairs {
        let real_outcome = real.run_reading_only(10);
        let ours_outcome = ours.run_reading_only(10);
        report.check(
            suite,
            &format!("{label}, master {state}"),
            &real_outcome,
            &ours_outcome,
            Compare::Everything,
            &format!("real: {} | ours: {}", real.describe(), ours.describe()),
        );
    }
}

/// `sendmail -t`: recipients from To:, Cc: and Bcc: end up in the extracted segment.
#[test]
fn sendmail_t() {
    scenario(SUITE, "sendmail_t", |report| {
        live_scenario(
            report,
            "sendmail-t",
            InstanceOptions::default(),
            deferred(2),
            &["to1@slow.example", "bcc@r75.example"],
            |pf| {
                pf.sendmail(
                    &["-t", "-f", "headers@sender.example"],
                    b"From: headers@sender.example\nTo: to1@slow.example, \"Two\" <to2@example.org>\n\
                      Cc: cc@r76.example\nBcc: bcc@r75.example\nSubject: sendmail -t\n\nbody\n",
                );
                pf.sendmail(
                    &["-t", "-f", "extra@sender.example", "cmdline@long.example"],
                    b"From: extra@sender.example\nTo: hdr@slow.example\nSubject: -t plus argument\n\nbody\n",
                );
            },
        );
    });
}

/// `enable_long_queue_ids = yes`: the wide layout, with hold, forced expiry and a bounce.
#[test]
fn long_queue_ids() {
    scenario(SUITE, "long_queue_ids", |report| {
        let options = InstanceOptions {
            long_queue_ids: true,
            ..InstanceOptions::default()
        };
        let mut pf = PostfixInstance::new("long-ids", options);
        pf.start();
        let mut smtp = pf.smtp();
        for (subject, rcpts) in [
            ("long one", vec![&b"a@slow.example"[..], b"b@r76.example"]),
            ("long held", vec![b"c@r75.example"]),
            (
                "long expired",
                vec![b"d@long.example", b"e@discard.example"],
            ),
        ] {
            smtp.send(
                b"longid@sender.example",
                "",
                &rcpts,
                &message("longid@sender.example", subject),
            );
        }
        smtp.quit();
        pf.sendmail(
            &["-f", "bouncer@sender.example", "x@bad.example"],
            &message("bouncer@sender.example", "long bounce"),
        );
        pf.settle(deferred(4));
        let held = pf
            .find_by_subject("long held", &["deferred"])
            .expect("long held is queued");
        let expired = pf
            .find_by_subject("long expired", &["deferred"])
            .expect("long expired is queued");
        pf.postsuper(&["-h", &held]);
        pf.postsuper(&["-e", &expired]);
        pf.settle(Settle {
            deferred: Some(3),
            hold: Some(1),
            ..Settle::default()
        });
        assert_listing_contains(
            &pf.etc,
            &[
                "----Queue ID-----",
                &format!("{held}!"),
                &format!("{expired}#"),
            ],
        );
        compare_listings(report, &pf.etc, "running");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped");
    });
}

/// `hash_queue_depth = 2`: deferred/X/Y/ID and defer/X/Y/ID.
#[test]
fn hash_queue_depth_2() {
    scenario(SUITE, "hash_queue_depth_2", |report| {
        let options = InstanceOptions {
            hash_queue_depth: 2,
            ..InstanceOptions::default()
        };
        live_scenario(
            report,
            "depth2",
            options,
            deferred(6),
            &["(", "depth@sender.example"],
            |pf| {
                let mut smtp = pf.smtp();
                for i in 0..6 {
                    let rcpt = format!("n{i}@{}", ["slow.example", "r75.example"][i % 2]);
                    smtp.send(
                        b"depth@sender.example",
                        "",
                        &[rcpt.as_bytes()],
                        &message("depth@sender.example", &format!("depth two {i}")),
                    );
                }
                smtp.quit();
            },
        );
    });
}

/// Arrival times months and days in the past (daylight saving time in New York), from a whole
/// instance run under libfaketime and fed over SMTP, then more mail on the real clock.
#[test]
fn old_arrival_times() {
    scenario(SUITE, "old_arrival_times", |report| {
        if faketime_library().is_none() {
            report.note(
                SUITE,
                "",
                "libfaketime not installed (apt-get install faketime)",
            );
            return;
        }
        // Long lifetimes, so that the restarts (each retries what is due) do not bounce the
        // old mail as expired; 100d is Postfix's upper limit.
        let options = InstanceOptions {
            extra_main_cf: vec![
                ("maximal_queue_lifetime".into(), "100d".into()),
                ("bounce_queue_lifetime".into(), "100d".into()),
            ],
            ..InstanceOptions::default()
        };
        let mut pf = PostfixInstance::new("old", options);
        let mut expected = 0;
        for (offset, label) in [(Some("-60d"), "60 days ago"), (Some("-2d"), "2 days ago")] {
            pf.start_with_clock(offset);
            // A restart retries the mail of the previous phase; let that finish first.
            pf.settle(deferred(expected));
            let mut smtp = pf.smtp();
            smtp.send(
                b"old@sender.example",
                "",
                &[b"x@slow.example", b"y@r76.example"],
                &message("old@sender.example", label),
            );
            smtp.quit();
            expected += 1;
            pf.settle(deferred(expected));
            pf.stop();
        }
        pf.start();
        // The restart on the real clock retries the old mail at once (its retry time has
        // passed); wait until every deferred file has a retry time in the future again.
        pf.settle_retried(expected);
        pf.sendmail(
            &["-f", "new@sender.example", "z@r75.example"],
            &message("new@sender.example", "today"),
        );
        expected += 1;
        pf.settle(deferred(expected));
        let listing = real_listing(&pf.etc);
        assert_eq!(
            listing.matches("old@sender.example").count(),
            2,
            "setup check: both old messages are listed:\n{listing}"
        );
        assert_listing_contains(&pf.etc, &["new@sender.example"]);
        compare_listings(report, &pf.etc, "running");
        pf.stop();
        compare_listings(report, &pf.etc, "stopped");
    });
}

// ------------------------------------------------------------------------------------------
// Usage and error paths
// ------------------------------------------------------------------------------------------

#[test]
fn usage_and_errors() {
    scenario(SUITE, "usage_and_errors", |report| {
        let pf = PostfixInstance::new("usage", InstanceOptions::default());
        pf.create_spool();
        // Something to list (a maildrop file: no master runs here).
        pf.sendmail(
            &["-f", "usage@sender.example", "r@example.org"],
            &message("usage@sender.example", "usage"),
        );
        let etc = pf.etc.to_string_lossy().into_owned();
        // A config whose queue_directory does not exist: postqueue's chdir fails.
        let bad_queue = pf.root.join("etc-badqueue");
        std::fs::create_dir(&bad_queue).expect("mkdir etc-badqueue");
        std::fs::write(
            bad_queue.join("main.cf"),
            "compatibility_level = 3.6\nqueue_directory = /nonexistent-pqt-queue\n",
        )
        .expect("write main.cf");
        backdate_config(&bad_queue);
        let bad_queue = bad_queue.to_string_lossy().into_owned();
        // A config directory without main.cf.
        let no_main_cf = pf.root.join("etc-empty");
        std::fs::create_dir(&no_main_cf).expect("mkdir etc-empty");
        let no_main_cf = no_main_cf.to_string_lossy().into_owned();

        let postqueue_cases: Vec<(&str, Vec<&str>)> = vec![
            ("bad option -z", vec!["-c", &etc, "-z"]),
            ("no mode", vec!["-c", &etc]),
            ("extra operand", vec!["-c", &etc, "-p", "extra"]),
            ("two modes -p -j", vec!["-c", &etc, "-p", "-j"]),
            ("mode twice -p -p", vec!["-c", &etc, "-p", "-p"]),
            ("bad option -x before -p", vec!["-c", &etc, "-x", "-p"]),
            ("-c /nonexistent", vec!["-c", "/nonexistent", "-p"]),
            ("-c /nonexistent -j", vec!["-c", "/nonexistent", "-j"]),
            (
                "-c directory without main.cf",
                vec!["-c", &no_main_cf, "-p"],
            ),
            (
                "queue_directory missing (chdir)",
                vec!["-c", &bad_queue, "-p"],
            ),
            (
                "queue_directory missing (chdir) -j",
                vec!["-c", &bad_queue, "-j"],
            ),
            ("-c without argument", vec!["-p", "-c"]),
            (
                "options after -- are operands",
                vec!["-c", &etc, "--", "-p"],
            ),
            ("clustered options -pc DIR", vec!["-pc", &etc]),
        ];
        for (label, args) in postqueue_cases {
            let real = Invocation::new(REAL_POSTQUEUE).args(&args).env("TZ", "UTC");
            let ours = Invocation::new(OUR_POSTQUEUE).args(&args).env("TZ", "UTC");
            compare_invocations(
                report,
                "postqueue",
                label,
                &real,
                &ours,
                Compare::Everything,
            );
        }
        let mailq_cases: Vec<(&str, Vec<&str>)> = vec![
            ("mailq extra", vec!["-C", &etc, "extra"]),
            ("mailq -z", vec!["-C", &etc, "-z"]),
            ("mailq -C /nonexistent", vec!["-C", "/nonexistent"]),
            ("mailq (master stopped)", vec!["-C", &etc]),
            // sendmail options that mean nothing when listing, and ones that clash with it.
            ("mailq -oi", vec!["-C", &etc, "-oi"]),
            ("mailq -i", vec!["-C", &etc, "-i"]),
            ("mailq -f someone", vec!["-C", &etc, "-f", "someone"]),
            (
                "mailq -Ffull -N never -R hdrs",
                vec!["-C", &etc, "-Ffull", "-N", "never", "-R", "hdrs"],
            ),
            ("mailq -bp", vec!["-C", &etc, "-bp"]),
            ("mailq -t", vec!["-C", &etc, "-t"]),
            ("mailq -n", vec!["-C", &etc, "-n"]),
            ("mailq -X /dev/null", vec!["-C", &etc, "-X", "/dev/null"]),
            ("mailq -I", vec!["-C", &etc, "-I"]),
            ("mailq -q5m", vec!["-C", &etc, "-q5m"]),
            ("mailq -qRsite", vec!["-C", &etc, "-qRsite"]),
            ("mailq -q (flush, mail system down)", vec!["-C", &etc, "-q"]),
        ];
        for (label, args) in mailq_cases {
            let real = Invocation::new(REAL_MAILQ).args(&args).env("TZ", "UTC");
            let ours = Invocation::new(OUR_MAILQ).args(&args).env("TZ", "UTC");
            compare_invocations(report, "mailq", label, &real, &ours, Compare::Everything);
        }

        // The config directory from the environment instead of -c / -C.
        let pairs = [
            (
                "postqueue",
                "MAIL_CONFIG=DIR postqueue -p",
                Invocation::new(REAL_POSTQUEUE).arg("-p"),
                Invocation::new(OUR_POSTQUEUE).arg("-p"),
            ),
            (
                "mailq",
                "MAIL_CONFIG=DIR mailq",
                Invocation::new(REAL_MAILQ),
                Invocation::new(OUR_MAILQ),
            ),
        ];
        for (suite, label, real, ours) in pairs {
            let real = real.env("MAIL_CONFIG", &etc).env("TZ", "UTC");
            let ours = ours.env("MAIL_CONFIG", &etc).env("TZ", "UTC");
            compare_invocations(report, suite, label, &real, &ours, Compare::Everything);
        }

        // stdout closed (`>&-`) or full (`>/dev/full`): a write error other than EPIPE is fatal.
        for to in [StdoutTo::Closed, StdoutTo::DevFull] {
            let what = match to {
                StdoutTo::Closed => "stdout closed (>&-)",
                _ => "stdout is /dev/full",
            };
            for mode in ["-p", "-j"] {
                compare_invocations(
                    report,
                    "postqueue",
                    &format!("{what}, postqueue {mode}"),
                    &real_postqueue(&pf.etc, mode, "UTC").stdout_to(to),
                    &our_postqueue(&pf.etc, mode, "UTC").stdout_to(to),
                    Compare::Everything,
                );
            }
            compare_invocations(
                report,
                "mailq",
                &format!("{what}, mailq"),
                &real_mailq(&pf.etc, "UTC").stdout_to(to),
                &our_mailq(&pf.etc, "UTC").stdout_to(to),
                Compare::Everything,
            );
        }

        // Non-root callers with a non-default config directory are compared in
        // compat_showq_flush.rs, with our binaries installed set-gid postdrop as Postfix's
        // postqueue is: the directory check depends on running set-gid (Postfix's unsafe()).
    });
}

/// main.cf variations, each listed by both with the master stopped: syntax (continuation
/// lines, duplicates, a line without `=`, `$name` and `${name?{...}:{...}}` expansion), bad
/// values of the parameters postqueue and showq read, and parameters that change the listing.
#[test]
fn config_edge_cases() {
    scenario(SUITE, "config_edge_cases", |report| {
        let pf = PostfixInstance::new("config", InstanceOptions::default());
        pf.create_spool();
        pf.sendmail(
            &["-f", "<>", "r@example.org"],
            &message("MAILER-DAEMON", "null sender"),
        );
        pf.sendmail(
            &["-f", "jösé@exämple.test", "ünï@example.org"],
            "Subject: utf8\n\nbody\n".as_bytes(),
        );
        let root = pf.root.display().to_string();
        let spool = pf.spool.display().to_string();
        let main_cf = pf.etc.join("main.cf").display().to_string();
        let q = "queue_directory";
        let cases: Vec<(&str, Vec<&str>, String)> = vec![
            (
                "duplicate queue_directory line, same value",
                vec![],
                format!("{q} = {spool}\n"),
            ),
            (
                "duplicate queue_directory line, different value",
                vec![q],
                format!("{q} = /nonexistent\n{q} = {spool}\n"),
            ),
            (
                "config_directory set in main.cf",
                vec![],
                "config_directory = /nonexistent\n".into(),
            ),
            ("line without '='", vec![], "garbage line\n".into()),
            ("unknown parameter", vec![], "frobnicate = 1\n".into()),
            (
                "whitespace around name and value",
                vec![q],
                format!("{q}\t=   {spool}   \n"),
            ),
            (
                "value continued on the next line",
                vec![q],
                format!("{q} = {root}\n  /spool\n"),
            ),
            (
                "comment inside a continued value",
                vec![q],
                format!("{q} = {root}\n# a comment\n\n  /spool\n"),
            ),
            (
                "$name expansion",
                vec![q],
                format!("pqt_root = {root}\n{q} = $pqt_root/spool\n"),
            ),
            (
                "${name?{..}:{..}} expansion",
                vec![q],
                format!(
                    "pqt_root = {root}\n{q} = ${{pqt_root?{{$pqt_root/spool}}:{{/nonexistent}}}}\n"
                ),
            ),
            ("queue_directory empty", vec![q], format!("{q} =\n")),
            (
                "queue_directory is a file",
                vec![q],
                format!("{q} = {main_cf}\n"),
            ),
            (
                "queue_directory relative",
                vec![q],
                format!("{q} = relative/spool\n"),
            ),
            (
                "enable_long_queue_ids = yes (short IDs, long layout)",
                vec!["enable_long_queue_ids"],
                "enable_long_queue_ids = yes\n".into(),
            ),
            (
                "enable_long_queue_ids = maybe",
                vec!["enable_long_queue_ids"],
                "enable_long_queue_ids = maybe\n".into(),
            ),
            (
                "smtputf8_enable = maybe",
                vec!["smtputf8_enable"],
                "smtputf8_enable = maybe\n".into(),
            ),
            (
                "smtputf8_enable unset, compatibility_level = 0",
                vec!["smtputf8_enable", "compatibility_level"],
                "compatibility_level = 0\n".into(),
            ),
            (
                "hash_queue_depth = abc",
                vec!["hash_queue_depth"],
                "hash_queue_depth = abc\n".into(),
            ),
            (
                "hash_queue_depth = 0",
                vec!["hash_queue_depth"],
                "hash_queue_depth = 0\n".into(),
            ),
            (
                "hash_queue_names empty",
                vec![],
                "hash_queue_names =\n".into(),
            ),
            (
                "hash_queue_names with hold (hold files stay flat here)",
                vec![],
                "hash_queue_names = deferred, defer, hold\n".into(),
            ),
            (
                "duplicate_filter_limit = -1",
                vec![],
                "duplicate_filter_limit = -1\n".into(),
            ),
            (
                "duplicate_filter_limit = x",
                vec![],
                "duplicate_filter_limit = x\n".into(),
            ),
            (
                "empty_address_recipient = nobody-here",
                vec![],
                "empty_address_recipient = nobody-here\n".into(),
            ),
            ("mail_name = Fooix", vec![], "mail_name = Fooix\n".into()),
            (
                "showq_service_name = nosuch",
                vec![],
                "showq_service_name = nosuch\n".into(),
            ),
            (
                "daemon_directory = /nonexistent",
                vec![],
                "daemon_directory = /nonexistent\n".into(),
            ),
        ];
        for (label, remove, extra) in cases {
            pf.write_main_cf_variant(&remove, &extra);
            for mode in ["-p", "-j"] {
                compare_invocations(
                    report,
                    "postqueue",
                    &format!("{label}, postqueue {mode}"),
                    &real_postqueue(&pf.etc, mode, "UTC"),
                    &our_postqueue(&pf.etc, mode, "UTC"),
                    Compare::Everything,
                );
            }
            compare_invocations(
                report,
                "mailq",
                &format!("{label}, mailq"),
                &real_mailq(&pf.etc, "UTC"),
                &our_mailq(&pf.etc, "UTC"),
                Compare::Everything,
            );
        }
        pf.restore_main_cf();
    });
}

/// hold/ is missing: showq dies after listing the queues before it, postqueue prints what it
/// got and then `fatal: malformed showq server response` (master stopped: stand-alone showq).
#[test]
fn missing_hold_directory() {
    scenario(SUITE, "missing_hold_directory", |report| {
        let mut pf = PostfixInstance::new("nohold", InstanceOptions::default());
        pf.start();
        pf.sendmail(
            &["-f", "before@sender.example", "a@slow.example"],
            &message("before@sender.example", "listed before hold"),
        );
        pf.settle(deferred(1));
        pf.stop();
        // And one in maildrop, listed first.
        pf.sendmail(
            &["-f", "drop@sender.example", "b@example.org"],
            &message("drop@sender.example", "in maildrop"),
        );
        std::fs::remove_dir(pf.spool.join("hold")).expect("remove hold/");
        compare_listings(report, &pf.etc, "stopped, no hold/");
    });
}
