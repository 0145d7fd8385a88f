//! `--all-instances` on postqueue (`-j`, `-p`, `--summary`) and qshape (text, JSON,
//! Prometheus): two real private Postfix instances, the first naming the second in
//! `multi_instance_directories`; every result must carry the instance it came from.

mod common;

use std::path::Path;

use common::{InstanceOptions, Invocation, PostfixInstance, Settle};

const OUR_QSHAPE: &str = env!("CARGO_BIN_EXE_qshape");
const OUR_POSTSUPER: &str = env!("CARGO_BIN_EXE_postsuper");

/// An instance without qmgr (mail stays in incoming), with `count` messages to `domain`.
fn instance(name: &str, domain: &str, count: usize) -> PostfixInstance {
    let mut instance = PostfixInstance::new(
        name,
        InstanceOptions {
            qmgr: false,
            ..InstanceOptions::default()
        },
    );
    instance.start();
    for n in 0..count {
        instance.sendmail(
            &["-f", "sender@example.org", &format!("user{n}@{domain}")],
            &common::message("sender@example.org", &format!("{name} {n}")),
        );
    }
    instance.settle(Settle {
        incoming: count,
        ..Settle::default()
    });
    instance.stop();
    instance
}

fn label(etc: &Path) -> String {
    etc.display().to_string()
}

#[test]
fn results_are_labelled_with_their_instance() {
    if !common::live_postfix_available("multi-instance", "all instances") {
        return;
    }
    let second = instance("second", "two.example", 2);
    let mut first = instance("first", "one.example", 3);
    first.set_main_cf(&[(
        "multi_instance_directories",
        second.etc.to_str().expect("utf-8 path"),
    )]);
    let (first_label, second_label) = (label(&first.etc), label(&second.etc));

    // postqueue -j: every object names its instance, and each instance's mail is its own.
    let listing = Invocation::new(common::OUR_POSTQUEUE)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "-j",
            "--all-instances",
        ])
        .run();
    assert_eq!(listing.status, 0, "{}", listing.summary());
    let mut per_instance = std::collections::BTreeMap::<String, Vec<String>>::new();
    for line in listing.stdout_text().lines() {
        let object: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let instance = object["instance"]
            .as_str()
            .expect("instance field")
            .to_string();
        let recipient = object["recipients"][0]["address"]
            .as_str()
            .expect("recipient")
            .to_string();
        per_instance.entry(instance).or_default().push(recipient);
    }
    assert_eq!(per_instance.len(), 2, "{per_instance:?}");
    assert!(per_instance[&first_label]
        .iter()
        .all(|r| r.ends_with("@one.example")));
    assert_eq!(per_instance[&first_label].len(), 3);
    assert!(per_instance[&second_label]
        .iter()
        .all(|r| r.ends_with("@two.example")));
    assert_eq!(per_instance[&second_label].len(), 2);

    // postqueue -p: one listing per instance, each under its heading, each with its own total.
    let classic = Invocation::new(common::OUR_POSTQUEUE)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "-p",
            "--all-instances",
        ])
        .run()
        .stdout_text();
    assert!(
        classic.contains(&format!("instance {first_label}:\n")),
        "{classic}"
    );
    assert!(
        classic.contains(&format!("instance {second_label}:\n")),
        "{classic}"
    );
    assert!(classic.contains("in 3 Requests."), "{classic}");
    assert!(classic.contains("in 2 Requests."), "{classic}");

    // postqueue --summary: an instance field per row.
    let summary = Invocation::new(common::OUR_POSTQUEUE)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "--summary",
            "--format",
            "json",
            "--all-instances",
        ])
        .run();
    assert_eq!(summary.status, 0, "{}", summary.summary());
    let rows: Vec<serde_json::Value> = summary
        .stdout_text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON row"))
        .collect();
    let find = |domain: &str| {
        rows.iter()
            .find(|row| row["domain"] == domain)
            .unwrap_or_else(|| panic!("no row for {domain}: {rows:?}"))
    };
    assert_eq!(find("one.example")["instance"], first_label.as_str());
    assert_eq!(find("one.example")["messages"], 3);
    assert_eq!(find("two.example")["instance"], second_label.as_str());
    assert_eq!(find("two.example")["messages"], 2);

    // qshape: a table per instance, and a postfix_instance label in Prometheus.
    let table = Invocation::new(OUR_QSHAPE)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "--all-instances",
            "incoming",
        ])
        .run()
        .stdout_text();
    assert!(
        table.contains(&format!("instance {first_label}:\n")),
        "{table}"
    );
    assert!(
        table.contains(&format!("instance {second_label}:\n")),
        "{table}"
    );
    let metrics = Invocation::new(OUR_QSHAPE)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "--all-instances",
            "--format",
            "prometheus",
            "incoming",
        ])
        .run();
    assert_eq!(metrics.status, 0, "{}", metrics.summary());
    let text = metrics.stdout_text();
    for (instance, domain, count) in [
        (&first_label, "one.example", 3),
        (&second_label, "two.example", 2),
    ] {
        let sample = format!(
            "postfix_qshape_domain_addresses{{postfix_instance=\"{instance}\",count=\"recipients\",domain=\"{domain}\"}} {count}"
        );
        assert!(text.contains(&sample), "missing {sample} in:\n{text}");
        let depth = format!(
            "postfix_queue_depth{{postfix_instance=\"{instance}\",queue=\"incoming\"}} {count}"
        );
        assert!(text.contains(&depth), "missing {depth} in:\n{text}");
    }
    // Each metric family is declared once, whatever the number of instances.
    assert_eq!(
        text.matches("# TYPE postfix_qshape_domain_addresses gauge")
            .count(),
        1
    );
    let json = Invocation::new(OUR_QSHAPE)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "--all-instances",
            "--format",
            "json",
            "incoming",
        ])
        .run();
    let documents: serde_json::Value = serde_json::from_str(&json.stdout_text()).expect("JSON");
    let documents = documents.as_array().expect("an array with --all-instances");
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[0]["instance"], first_label.as_str());
    assert_eq!(documents[0]["total"]["total"], 3);
    assert_eq!(documents[1]["instance"], second_label.as_str());
    assert_eq!(documents[1]["total"]["total"], 2);

    // postsuper's selection listing (a dry run): each message with its instance; nothing
    // changes, and without --dry-run the option is refused. With the instances stopped,
    // postsuper writes their mail logs itself, as the mail owner (as Postfix's does).
    let (uid, gid) = common::postfix_ids();
    for instance in [&first, &second] {
        common::chown_tree(&instance.root.join("maillog"), uid, Some(gid));
    }
    let dry = Invocation::new(OUR_POSTSUPER)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "-d",
            "ALL",
            "--dry-run",
            "--format",
            "json",
            "--all-instances",
        ])
        .run();
    assert_eq!(dry.status, 0, "{}", dry.summary());
    let mut listed = std::collections::BTreeMap::<String, usize>::new();
    for line in dry.stdout_text().lines() {
        let object: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert_eq!(object["result"], "dry-run");
        *listed
            .entry(object["instance"].as_str().expect("instance").to_string())
            .or_default() += 1;
    }
    assert_eq!(listed.get(&first_label), Some(&3), "{listed:?}");
    assert_eq!(listed.get(&second_label), Some(&2), "{listed:?}");
    assert_eq!(first.count("incoming"), 3);
    assert_eq!(second.count("incoming"), 2);
    let text = Invocation::new(OUR_POSTSUPER)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "-h",
            "ALL",
            "--dry-run",
            "--all-instances",
        ])
        .run();
    let stdout = text.stdout_text();
    assert!(
        stdout.contains(&format!("instance {first_label}:\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("instance {second_label}:\n")),
        "{stdout}"
    );
    assert_eq!(
        text.stderr_text().matches("postsuper: would hold").count(),
        2
    );
    let refused = Invocation::new(OUR_POSTSUPER)
        .args([
            "-c",
            first.etc.to_str().expect("path"),
            "-d",
            "ALL",
            "--all-instances",
        ])
        .run();
    assert_eq!(refused.status, 1);
    assert!(refused
        .stderr_text()
        .contains("--all-instances works only with --dry-run"));
    assert_eq!(first.count("incoming"), 3);
}
