//! Our prose for mailq(1).

use super::Prose;

pub const PROSE: Prose = Prose {
    description: r#"
`mailq` lists the messages waiting in the Postfix queue. In Postfix, `mailq` is the `sendmail`
command in its mailq mode; this one, from postfix-queue-tools, reads sendmail's options exactly
as Postfix 3.7's sendmail does in that mode, checks them and the configuration the same way, and
then:
- lists the queue (the default, or `-bp`) by running this project's `postqueue -p`, so that the
output and the exit status are those of `postqueue -p`;
- flushes the queue with `-q`, as `postqueue -f` does;
- for the modes that are not about the queue (`-bi` and `-I`, `-bm`, `-bd`, `-bl`, `-bs`), runs
Postfix's own sendmail (the `sendmail_path` parameter) with the same arguments, after giving up
any set-gid group, so that Postfix itself does what it does best.

Postfix installs its own `mailq` as a link to its sendmail. Install this one where it does not
replace that file, unless replacing it is what you want.
"#,
    exit_status: r#"
= `0`
The queue was listed or flushed, or there was nothing to do (`-bh`, `-bH`, `-q` with an
interval).
= `69`
An error of the postqueue run behind the listing or the flush: the mail system is down, the user
may not see the queue, and so on (see postqueue(1)).
= `75`
mailq itself refused the command line or the configuration, for example an operand in listing
mode (`display queue mode requires no recipient`): Postfix's sendmail exits with 75 (EX_TEMPFAIL)
in these cases, and so does this one.

In the modes handed to Postfix's sendmail, the exit status is that sendmail's.
"#,
    environment: r#"
= `MAIL_CONFIG`
The Postfix configuration directory, when `-C` is not given; `/etc/postfix` by default. `-C` sets
it for the postqueue run.
= `TZ`
The time zone of the arrival times in the listing, as postqueue(1) describes.
= `POSTQUEUE_THREADS`
An extension of postqueue(1): how many threads read the queue files for the listing.
"#,
    files: r#"
= `/etc/postfix/main.cf`
The configuration; `sendmail_path` names Postfix's sendmail for the modes that are not about the
queue (`/usr/sbin/sendmail` when empty).
= `/var/spool/postfix`
The default `queue_directory`, where the listing is read (see postqueue(1)).
"#,
    examples: r#"
The listing, of the default instance and of another one:
```
mailq
mailq -C /etc/postfix-out
MAIL_CONFIG=/etc/postfix-out mailq
```
Only the closing line, with the queue's size and number of messages:
```
mailq | tail -n 1
```
Deliver all queued mail now:
```
mailq -q
```
"#,
    compatibility: r#"
This mailq accepts the same options as Postfix 3.7.11's sendmail in mailq mode, with the same
checks, messages and exit statuses; its listing is byte for byte that of Postfix's `mailq`,
because both come from `postqueue -p`. This is checked by running both on the same queues.

It has no extensions of its own: postqueue(1)'s long options are not sendmail options. For a
filtered listing or a summary, run `postqueue -p` with them.
"#,
    deviations: r#"
- The modes that are not about the queue (alias rebuilding, delivery, daemon start, stand-alone
SMTP) are not reimplemented: mailq runs Postfix's own sendmail for them, with the same arguments
and with `mailq` as its name, after giving up any set-gid group. The result is Postfix's, but it
needs Postfix's sendmail to be installed.
- The listing and the flush are those of this project's postqueue, with its deviations (see
postqueue(1)).

The file `docs/deviations.md` of postfix-queue-tools explains them (P6, and P1 to P10).
"#,
    see_also: &[
        ("postqueue", "1"),
        ("postsuper", "1"),
        ("qshape", "1"),
        ("sendmail", "1"),
        ("postconf", "5"),
    ],
};
