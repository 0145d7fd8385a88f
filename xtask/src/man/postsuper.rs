//! Our prose for postsuper(1).

use super::Prose;

pub const PROSE: Prose = Prose {
    description: r#"
`postsuper` maintains the Postfix queue: it deletes messages, puts them on hold and releases
them, requeues them, forces them to expire, and checks and repairs the structure of the queue
directories. It is a reimplementation of the `postsuper` command of Postfix 3.7, from
postfix-queue-tools: with Postfix's own options it prints the same lines, exits with the same
status and leaves the same files in the queue.

Only root may run it. It makes its changes as the mail owner (the `mail_owner` parameter), so
that what it creates belongs to that user, as with Postfix.

The actions `-d`, `-e`, `-f`, `-h`, `-H` and `-r` each take a queue ID; or `ALL`, in capitals,
for every message in the queues named; or `-`, for queue IDs read from standard input, one per
line. Actions may be given several times; they run in command-line order, after any repair
(`-s`, `-S`, `-p`). Each message acted on is reported on standard error (`3AE7298C5A2: removed`),
and each kind of action ends with a count (`postsuper: Deleted: 12 messages`); the same lines go
to the mail log. Without any option, postsuper runs `-s` and `-p`. The operands name the queues
to work on; without them, postsuper works on all of them.

The extensions, long options listed under EXTENSIONS, narrow an action to the messages that
match every selection option given, show with `--dry-run` what an action would touch, and report
each message acted on as JSON with `--format json`. A selected message is acted on only if it is
still the same file, in the same queue, with the same inode and arrival time, as when it was
selected; otherwise it is skipped (`changed since selection, skipped`), because short queue IDs
are reused.

While Postfix runs, postsuper leaves alone what Postfix itself could lose or deliver twice if it
were moved or deleted: messages a delivery agent is delivering (for `-d` and `-r`), messages in
the active queue (for `-h` and `-r`), and files still being written (for `ALL`). It names each
one, and says at the end how many it left alone; run it again a little later for those. With
Postfix stopped, it does exactly what Postfix's postsuper does.

At a terminal, long runs show a progress bar on standard error.
"#,
    exit_status: r#"
= `0`
Done. Warnings about single messages, such as the ones left alone, do not change the status.
= `1`
A fatal error: not run by root, a usage error, a bad selection option, an unknown queue name, a
problem with the configuration or the queue directory, or actions by queue ID refused because a
repair renamed files (`CHECK YOUR QUEUE IDS AND RE-ISSUE THE COMMAND`). After a fatal error in
the middle of a repair, postsuper warns that the operation is incomplete.
= the signal number
Interrupted by SIGINT, SIGQUIT, SIGTERM or SIGHUP: postsuper exits with the signal's number, 2
for Control-C, as Postfix's does.
"#,
    environment: r#"
= `MAIL_CONFIG`
The Postfix configuration directory, when `-c` is not given; `/etc/postfix` by default.
= `TZ`
The time zone of the lines written to `maillog_file`, as the `import_environment` parameter
passes it on.
= `RAYON_NUM_THREADS`
How many threads read message envelopes for the selection options and share the work of large
`ALL` actions; one per CPU by default.
"#,
    files: r#"
= `/etc/postfix/main.cf`
The configuration: `queue_directory`, `mail_owner`, `hash_queue_names`, `enable_long_queue_ids`,
`maillog_file` and the logging parameters.
= `/var/spool/postfix`
The default `queue_directory`: the message queues `maildrop`, `incoming`, `active`, `deferred`
and `hold`, the per-message logs in `defer`, `bounce` and `trace`, and the fast flush logs in
`flush`.
= `pid/master.pid`
Locked by the Postfix master while it runs: whether postsuper must take the precautions of a
live queue.
= `/proc/locks`
Which message files a delivery agent holds locked.
"#,
    examples: r#"
Delete all mail from one sender; first look at what would go:
```
postsuper -d ALL --sender '^spammer@example\.net$' --dry-run
postsuper -d ALL --sender '^spammer@example\.net$'
```
Hold everything older than three days for one domain, and release it later:
```
postsuper -h ALL --domain example.com --older-than 3d
postsuper -H ALL --domain example.com
```
Delete the bounces that wait on unknown users:
```
postsuper -d ALL --sender '^<>$' --reason 'User unknown'
```
Requeue a list of queue IDs taken from a listing, if they arrived within the last hour:
```
postqueue -j | jq -r 'select(.queue_name == "deferred") | .queue_id' |
    postsuper -r - --newer-than 1h
```
A cron job (in `/etc/cron.d/postfix-cleanup`) that deletes every night the bounces that have
waited in the deferred queue for more than five days. The options come before the queue name,
because the first operand ends the options:
```
30 4 * * * root /usr/local/sbin/postsuper -d ALL --sender '^<>$' --older-than 5d deferred
```
Release everything on hold, with one JSON object per message for a log:
```
postsuper -H ALL --format json
```
Check and repair the queue, as after restoring it from a backup:
```
postsuper -s
```
"#,
    compatibility: r#"
With Postfix's options only, this postsuper behaves as the one in Postfix 3.7.11 (Debian 12): the
same lines on standard error and in the mail log, the same exit status, and the same files left
in the queue, except where DEVIATIONS says otherwise. This is checked by running both on the same
queues.

The extensions are long options only. Postfix's postsuper has no long options and rejects them,
so no command line that works with Postfix changes its meaning here.
"#,
    deviations: r#"
- A rename onto a name that already exists (possible only when queue file names no longer match
their inodes, for example after copying a queue): Postfix replaces the other file, and a message
is lost. Here the file stays where it is, with a warning.
- While Postfix runs: messages being delivered are not deleted or requeued, messages in the
active queue are not held or requeued, and files still being written are not touched by `ALL`
actions. Postfix's postsuper acts on them, and can then report a deletion that does not stop the
delivery, or cause a message to be delivered twice or lost. Each one is named, and the number
left alone is given at the end.
- The selection options, `--dry-run` and `--format` do not exist in Postfix; a selected message is
acted on only if it is still the same file as when it was selected.
- `-v` is accepted, but prints none of Postfix's debugging traces.
- `-s` and a name of at most four characters ending in `#FIX`: not taken for a repair name, as in
Postfix 3.12 (Postfix 3.7 reads outside the name).

With `maillog_file` set, the lines go to the `postlog` service, or, when it does not answer, are
appended to the file by postsuper itself, in Postfix's format. The file `docs/deviations.md` of
postfix-queue-tools explains each difference (S1 to S6).
"#,
    see_also: &[
        ("postqueue", "1"),
        ("mailq", "1"),
        ("qshape", "1"),
        ("postconf", "5"),
        ("postcat", "1"),
        ("qmgr", "8"),
        ("jq", "1"),
    ],
};
