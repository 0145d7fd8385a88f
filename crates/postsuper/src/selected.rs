//! Actions narrowed by selection (`--sender`, `--domain`, ...), with `--dry-run` and
//! `--format json`: find the candidates, read their envelopes in parallel, keep the matching
//! ones, then act on each only if it is still the same message (queue, inode, arrival time).
//!
//! Spec: postsuper-and-qshape.md §2.4 (races), §4 (what users ask for); issue 4 items 3-5.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use rayon::prelude::*;

use postfix_queue::maintain::{queue_info, show, Done, Maintenance, Operation};
use postfix_queue::queue_id::is_valid_queue_id;
use postfix_queue::select::{examine, open_queue_file, read_arrival, read_headers, Examined};
use postfix_queue::{Config, Queue, ShowqSettings};
use postfix_queue_cli::Outcome;

use crate::{fatal, print_notice, progress, Format, Request, PROGRAM};

/// A message file the action might apply to.
struct Candidate {
    queue: String,
    id: Vec<u8>,
    path: Vec<u8>,
}

pub(crate) fn run(
    config: &Config,
    request: &Request,
    maintenance: &mut Maintenance<'_>,
    operation: Operation,
    ids: Option<Vec<String>>,
) -> Result<(), Outcome> {
    let settings = ShowqSettings::from_config(config).map_err(|error| fatal(error.to_string()))?;
    let mut queues: Vec<&str> = Vec::new();
    for queue in &request.queues {
        // Release never consults the queue table (spec §1.2); everything else dies on a
        // name it does not know.
        if operation == Operation::Release {
            if queue == "hold" {
                queues.push(queue);
            }
            continue;
        }
        if queue_info(queue)?.message_queue && operation.searches(queue) {
            queues.push(queue);
        }
    }
    let mut candidates = Vec::new();
    match ids {
        None => {
            for queue in &queues {
                list_message_files(
                    queue,
                    queue.as_bytes(),
                    queue != &"maildrop",
                    &mut candidates,
                );
            }
        }
        Some(ids) => {
            for id in ids {
                if !is_valid_queue_id(id.as_bytes()) {
                    print_notice(postfix_queue::maintain::Notice::Warning(format!(
                        "invalid mail queue id: {id}"
                    )));
                    continue;
                }
                for queue in &queues {
                    if let Some((path, _)) = maintenance.locate(queue, id.as_bytes()) {
                        candidates.push(Candidate {
                            queue: queue.to_string(),
                            id: id.as_bytes().to_vec(),
                            path,
                        });
                        break;
                    }
                }
            }
        }
    }
    // The same message named twice (an ID repeated on stdin) is one candidate: a dry run must
    // list what a real run would do, and a real run acts once.
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|candidate| seen.insert(candidate.path.clone()));
    let selected = select(request, maintenance, &settings, candidates);
    act(request, maintenance, operation, selected)
}

/// The message files under `directory`, descending into one-character hash directories.
fn list_message_files(queue: &str, directory: &[u8], recurse: bool, out: &mut Vec<Candidate>) {
    let Ok(entries) = std::fs::read_dir(std::ffi::OsStr::from_bytes(directory)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().as_bytes().to_vec();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let mut path = directory.to_vec();
        path.push(b'/');
        path.extend_from_slice(&name);
        if file_type.is_dir() {
            if recurse && name.len() == 1 {
                list_message_files(queue, &path, recurse, out);
            }
            continue;
        }
        if file_type.is_file() && is_valid_queue_id(&name) {
            out.push(Candidate {
                queue: queue.to_string(),
                id: name,
                path,
            });
        }
    }
}

/// Reads the candidates' envelopes on all cores and keeps those that match, in order.
fn select(
    request: &Request,
    maintenance: &Maintenance<'_>,
    settings: &ShowqSettings,
    candidates: Vec<Candidate>,
) -> Vec<(Candidate, Examined)> {
    let layout = maintenance.layout().clone();
    let selection = &request.selection;
    let now = now_seconds();
    let bar = progress::examining(candidates.len() as u64);
    let selected = candidates
        .into_par_iter()
        .filter_map(|candidate| {
            if let Some(bar) = &bar {
                bar.inc(1);
            }
            let queue = Queue::from_name(&candidate.queue)?;
            let examined = examine(
                &layout,
                settings,
                queue,
                &candidate.id,
                &candidate.path,
                false,
            )?;
            if !selection.matches_envelope(&examined.entry, now, &settings.empty_address) {
                return None;
            }
            if selection.needs_headers() {
                let file = open_queue_file(&layout, &candidate.path)?;
                if !selection.matches_headers(&read_headers(&file)?) {
                    return None;
                }
            }
            Some((candidate, examined))
        })
        .collect();
    progress::finish();
    selected
}

fn verb(operation: Operation) -> &'static str {
    match operation {
        Operation::Delete => "delete",
        Operation::Expire | Operation::ExpireRelease => "expire",
        Operation::Hold => "hold",
        Operation::Release => "release",
        Operation::Requeue => "requeue",
    }
}

fn act(
    request: &Request,
    maintenance: &mut Maintenance<'_>,
    operation: Operation,
    selected: Vec<(Candidate, Examined)>,
) -> Result<(), Outcome> {
    let mut stdout = std::io::stdout().lock();
    let mut would = 0usize;
    let mut would_release = 0usize;
    let mut changed = 0usize;
    let bar = progress::acting(selected.len() as u64);
    for (done, (candidate, examined)) in selected.into_iter().enumerate() {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        if done % 256 == 0 {
            maintenance.refresh_live();
        }
        let id = show(&candidate.id);
        let result = if request.dry_run {
            would += 1;
            if operation == Operation::ExpireRelease && candidate.queue == "hold" {
                would_release += 1;
            }
            "dry-run"
        } else {
            match still_the_same(&candidate, &examined) {
                None => {
                    changed += 1;
                    print_notice(postfix_queue::maintain::Notice::Warning(format!(
                        "{id}: changed since selection, skipped"
                    )));
                    "changed"
                }
                Some(metadata) => match maintenance.apply(
                    operation,
                    &candidate.queue,
                    &candidate.id,
                    &candidate.path,
                    &metadata,
                )? {
                    Done::Yes => "done",
                    Done::No => "gone",
                    Done::LeftAlone => "left-alone",
                },
            }
        };
        let line = match request.format {
            Format::Json => {
                let mut object = serde_json::json!({
                    "id": id,
                    "queue": candidate.queue,
                    "action": verb(operation),
                    "result": result,
                });
                if let Some(instance) = &request.instance {
                    object["instance"] = serde_json::Value::from(instance.as_str());
                }
                Some(object.to_string())
            }
            Format::Text if request.dry_run => Some(id.clone()),
            Format::Text => None,
        };
        if let Some(line) = line {
            progress::suspend(|| {
                let _ = writeln!(stdout, "{line}");
            });
        }
    }
    let _ = stdout.flush();
    progress::finish();
    if request.dry_run {
        PROGRAM.info(&format!(
            "would {} {would} message{}",
            verb(operation),
            crate::plural(would)
        ));
        if operation == Operation::ExpireRelease {
            PROGRAM.info(&format!(
                "would release {would_release} message{}",
                crate::plural(would_release)
            ));
        }
    }
    if changed > 0 {
        PROGRAM.warning(&format!(
            "{changed} message{} changed since selection and {} left alone",
            crate::plural(changed),
            if changed == 1 { "was" } else { "were" }
        ));
    }
    Ok(())
}

/// The check just before acting: the file at the selected path is still a complete regular
/// file with the same inode, and its `T` record gives the same arrival time (a short queue ID
/// can be reused by a new message with the same inode).
fn still_the_same(candidate: &Candidate, examined: &Examined) -> Option<std::fs::Metadata> {
    let path = std::ffi::OsStr::from_bytes(&candidate.path);
    let metadata = std::fs::symlink_metadata(path).ok()?;
    if !metadata.file_type().is_file()
        || metadata.ino() != examined.inode
        || metadata.mode() & 0o700 != 0o700
    {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    (read_arrival(&file).unwrap_or(0) == examined.arrival).then_some(metadata)
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use postfix_queue::writer::{build_queue_file, FileStyle, MessageSpec, RecipientSpec};
    use postfix_queue::Layout;
    use std::os::unix::fs::PermissionsExt;

    fn queue_file(arrival: i64) -> Vec<u8> {
        build_queue_file(&MessageSpec {
            arrival_seconds: arrival,
            arrival_microseconds: 5,
            sender: b"a@example.org".to_vec(),
            recipients: vec![RecipientSpec::live("b@example.com")],
            extracted_recipients: Vec::new(),
            content: b"Subject: x\n\nbody\n".to_vec(),
            style: FileStyle::Cleanup,
        })
        .bytes
    }

    fn write(path: &std::path::Path, bytes: &[u8], mode: u32) {
        std::fs::write(path, bytes).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn a_file_is_still_the_same_only_with_the_same_inode_arrival_and_completeness() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ABCDE12345");
        write(&path, &queue_file(1_700_000_000), 0o700);
        let layout = Layout::new(dir.path(), &[], 1);
        let settings = ShowqSettings {
            empty_address: b"MAILER-DAEMON".to_vec(),
            utf8_enabled: true,
            duplicate_filter_limit: 1000,
        };
        let candidate = Candidate {
            queue: "deferred".into(),
            id: b"ABCDE12345".to_vec(),
            path: path.as_os_str().as_bytes().to_vec(),
        };
        let examined = examine(
            &layout,
            &settings,
            Queue::Deferred,
            &candidate.id,
            &candidate.path,
            false,
        )
        .expect("examined");
        assert_eq!(examined.arrival, 1_700_000_000);
        assert!(still_the_same(&candidate, &examined).is_some());

        // Same inode, but a new message was written into it (another arrival time).
        std::fs::write(&path, queue_file(1_700_000_999)).expect("rewrite");
        assert!(still_the_same(&candidate, &examined).is_none());

        // The same bytes again, but under a new inode (a new file with the reused name).
        let other = dir.path().join("other");
        write(&other, &queue_file(1_700_000_000), 0o700);
        std::fs::rename(&other, &path).expect("rename");
        assert!(still_the_same(&candidate, &examined).is_none());

        // The original inode back, but incomplete (owner bits not rwx).
        let examined = examine(
            &layout,
            &settings,
            Queue::Deferred,
            &candidate.id,
            &candidate.path,
            false,
        )
        .expect("examined again");
        assert!(still_the_same(&candidate, &examined).is_some());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(still_the_same(&candidate, &examined).is_none());

        // Gone.
        std::fs::remove_file(&path).expect("remove");
        assert!(still_the_same(&candidate, &examined).is_none());
    }
}
