//! Our prose for postqueue(1).

use super::Prose;

pub const PROSE: Prose = Prose {
    description: r#"
`postqueue` lists the messages waiting in the Postfix queue, and asks the Postfix daemons to
deliver queued mail now. It is a reimplementation of the `postqueue` command of Postfix 3.7,
from postfix-queue-tools: with Postfix's own options it writes the same output, byte for byte,
prints the same messages and exits with the same status.

Exactly one of `-f`, `-i`, `-j`, `-p`, `-s` or `--summary` says what to do. Listing never
changes the queue, and is safe while Postfix runs.

Root and the mail owner (the `mail_owner` parameter, usually `postfix`) read the queue files
directly, in parallel and with the mail owner's permissions, as Postfix's `showq` service does:
the listing is the same, only faster on large queues. When Postfix is not running they say so
(`Mail system is down -- accessing queue directly`) and list the queue all the same. Other users
get the listing from the `showq` service over the `public/showq` socket, as with Postfix; that
needs the set-gid installation (group `postdrop`), a running Postfix, and a user that
`authorized_mailq_users` allows. The flush requests `-f`, `-i` and `-s` are allowed to root, the
mail owner and the users `authorized_flush_users` allows.

Our extensions are long options, listed under EXTENSIONS. The selection options narrow `-p`, `-j`
and `--summary` to the messages that match every selection option given; `--summary` prints one
row per recipient domain instead of one entry per message; `--all-instances` covers every
Postfix instance of the host.
"#,
    exit_status: r#"
= `0`
The listing was written (an empty queue too, and also when the reader stopped reading early), or
the flush request was accepted.
= `69`
Any error: a usage error, a user that `authorized_mailq_users` or `authorized_flush_users` does
not allow, an invalid site or queue ID, a mail system that is down, a malformed answer from
`showq`, a configuration problem, a write error. Postfix 3.7's postqueue exits with 69
(EX_UNAVAILABLE) in all these cases, and so does this one.
"#,
    environment: r#"
= `MAIL_CONFIG`
The Postfix configuration directory, when `-c` is not given; `/etc/postfix` by default.
= `TZ`
The time zone of the arrival times in the listing. As with Postfix, it counts only when the
`import_environment` parameter passes it on, as its default value does.
= `POSTQUEUE_THREADS`
An extension: how many threads read queue files when the queue is read directly. `1` reads one
file after the other; unset or `0` means one thread per CPU (or `RAYON_NUM_THREADS`). The order
of the output does not depend on it.

When the set-gid postqueue runs for a user other than root, it trusts nothing it inherited, as
Postfix's does: only the `NAME=value` settings of `import_environment` remain, and `MAIL_CONFIG`
may name only a directory that the default main.cf lists in `alternate_config_directories`.
"#,
    files: r#"
= `/etc/postfix/main.cf`
The configuration: `queue_directory`, `mail_owner`, `enable_long_queue_ids` and the other
parameters Postfix's postqueue reads, with Postfix 3.7's defaults.
= `/var/spool/postfix`
The default `queue_directory`. The listing reads the queues `maildrop`, `incoming`, `active`,
`deferred` and `hold`, and the deferral reasons in `defer`.
= `public/showq`
The socket of Postfix's listing service, for users who cannot read the queue.
= `public/qmgr`, `public/pickup`, `public/flush`
Where `-f`, `-s` and `-i` send their requests.
= `pid/master.pid`
Locked by the Postfix master while it runs: how postqueue knows whether the mail system is up.
"#,
    examples: r#"
The listing, as `mailq` prints it, and the same as JSON Lines:
```
postqueue -p
postqueue -j
```
Only the messages for one domain that have waited for more than a day:
```
postqueue -p --domain example.com --older-than 1d
```
Requeue the deferred messages whose delivery timed out:
```
postqueue -j --reason 'Connection timed out' |
    jq -r 'select(.queue_name == "deferred") | .queue_id' | postsuper -r -
```
One row per recipient domain, for every instance of the host, or as JSON:
```
postqueue --summary --all-instances
postqueue --summary --format json
```
Deliver all queued mail now, the mail for one site, or one message:
```
postqueue -f
postqueue -s example.com
postqueue -i 3AE7298C5A2
```
List another Postfix instance's queue:
```
postqueue -c /etc/postfix-out -p
```
"#,
    compatibility: r#"
With Postfix's options only, this postqueue behaves as the one in Postfix 3.7.11 (Debian 12):
the same standard output byte for byte, `-j`'s JSON included; the same messages on standard
error and in the mail log; the same exit status. This is checked by running both on the same
queues.

The extensions are long options only. Postfix's postqueue has no long options and rejects them,
so no command line that works with Postfix changes its meaning here, and scripts written for
Postfix's postqueue run unchanged. The few deliberate differences follow under DEVIATIONS.
"#,
    deviations: r#"
- Damaged queue files with records out of order (a second sender record, or a recipient before
the sender): Postfix 3.7's result is undefined. Here the entry ends at the second sender, and a
file with a recipient first is skipped, as in Postfix 3.12; the listing goes on.
- `-v` is accepted, but prints none of Postfix's debugging traces.
- Output to a pipe or a file is written in blocks of 64 KiB rather than once per message: the
same bytes in the same order.
- Warnings about single queue files go to syslog as `postfix/showq`, where Postfix's `showq`
would log them, never to standard error.
- `-s` with `fast_flush_domains` entries that are lookup tables (`hash:...`) or files: treated
as a failed lookup (the mail system is down). Domain names, `.domain`, `!` and `static:` work as
in Postfix.
- `authorized_mailq_users` and `authorized_flush_users`: only `static:` entries, user names and
`!name` are understood; tables and files match nobody.
- Started with standard output closed and not installed set-gid: the write error the set-gid
Postfix postqueue reports.
- The mail owner, while Postfix is down: gets the listing after the `Mail system is down`
warning, as root does, where Postfix refuses.

The file `docs/deviations.md` of postfix-queue-tools explains each of them (P1 to P10).
"#,
    see_also: &[
        ("mailq", "1"),
        ("postsuper", "1"),
        ("qshape", "1"),
        ("postconf", "5"),
        ("postcat", "1"),
        ("postmulti", "1"),
        ("showq", "8"),
        ("flush", "8"),
        ("jq", "1"),
    ],
};
