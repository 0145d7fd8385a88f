//! Our prose for qshape(1).

use super::Prose;

pub const PROSE: Prose = Prose {
    description: r#"
`qshape` shows how the mail in the Postfix queue is spread over destinations and over time: one
row per recipient domain (or sender domain, with `-s`), giving the total and then the count in
each age range, youngest first. It shows at a glance which destination holds mail up, and since
when. It is a reimplementation of the qshape script that comes with Postfix 3.7, from
postfix-queue-tools: with qshape's options it prints the same tables, byte for byte, and takes
its options and reports its errors the same way; it reads the queue files in parallel, which
makes it many times faster on large queues.

The heading line names the columns: `T` for the totals, then the upper end of each age range in
minutes, the last one followed by `+` for everything older. By default the first range covers
5 minutes (`-t`) and each next one twice as much (`-l` makes them equal), over 10 columns
(`-b`). The `TOTAL` row comes first, then the domains, the largest total first. Counts are of
recipients still to be delivered, or of senders with `-s`.

qshape reads the queue files itself, so it needs root or the mail owner. Queue names are taken
relative to `queue_directory`, which qshape asks `postconf` for (or reads from main.cf when
`postconf` is not installed); absolute paths are used as they are. Without operands it reports on
the incoming and active queues. When standard output is a terminal, it shows the table so far
every `-N` messages, so that a slow scan of a big queue gives results early.

The extensions, long options listed under EXTENSIONS, give JSON or Prometheus output for
monitoring, written atomically to a file if asked; count messages instead of recipients; and
cover every Postfix instance of the host.
"#,
    exit_status: r#"
= `0`
The report was written. A queue directory that does not exist is reported on standard error and
skipped.
= `1`
`postconf` failed, the configuration could not be read, or the report could not be written (to
the `--output` file or to standard output).
= `2`
A bad value for `--format` or `--top`, or a long option without its value.
= `255`
The usage text was printed: `-h`, `--help`, an unknown option, or a `queue_directory` that uses
`$` expansions. qshape dies this way, and so does this one.
= another value
Changing to the queue directory failed: the status is the system's error number, as Perl's
`die` makes it.
"#,
    environment: r#"
= `MAIL_CONFIG`
The Postfix configuration directory whose `queue_directory` is used; `-c` sets it for the
`postconf` run.
= `PATH`
Where `postconf` is found.
= `RAYON_NUM_THREADS`
How many threads read queue files; one per CPU by default.
= `TERM`
At a terminal, the interim tables clear the screen first with clear(1), which needs it.
"#,
    files: r#"
= `/etc/postfix/main.cf`
The configuration; qshape needs its `queue_directory`.
= `/var/spool/postfix`
The default `queue_directory`, with the queues `maildrop`, `incoming`, `active`, `deferred` and
`hold`.
= {file} of `--output`
Written first as `.`{file}`.`{pid}`.tmp` in the same directory, then renamed over {file}.
"#,
    examples: r#"
Recipient domains of the deferred queue, by age:
```
qshape deferred
```
Sender domains of the deferred and held mail, with parent domains that have three subdomains
or more:
```
qshape -s -p -m 3 deferred hold
```
One column per hour over the last day:
```
qshape -l -t 60 -b 24 deferred
```
The five largest domains, from the JSON output:
```
qshape --format json deferred | jq '.domains[:5]'
```
Metrics for the textfile collector of the Prometheus node_exporter (the directory its
`--collector.textfile.directory` names), refreshed every minute by a systemd timer. The
service, `/etc/systemd/system/postfix-qshape.service`:
```
[Unit]
Description=Postfix queue shape for node_exporter

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/qshape --format prometheus \
    --output /var/lib/prometheus/node-exporter/postfix_qshape.prom \
    incoming active deferred hold
```
The timer, `/etc/systemd/system/postfix-qshape.timer`:
```
[Unit]
Description=Refresh the Postfix queue shape metrics every minute

[Timer]
OnCalendar=minutely

[Install]
WantedBy=timers.target
```
Then:
```
systemctl daemon-reload
systemctl enable --now postfix-qshape.timer
```
Because `--output` replaces the file in one rename, node_exporter never reads half a report.
Alert on `node_textfile_mtime_seconds` to notice when the timer stops.

Messages rather than recipients, over every instance of the host:
```
qshape --per-message --all-instances deferred
```
"#,
    compatibility: r#"
With qshape's options only, this qshape behaves as the one in Postfix 3.7.11 (Debian 12): the
same tables byte for byte, the same usage text, the same warnings for option values that are not
numbers, and the same exit statuses, except where DEVIATIONS says otherwise. This is checked by
running both on the same queues.

The extensions are long options only. qshape rejects every long option, so no command line that
works with Postfix's qshape changes its meaning here.
"#,
    deviations: r#"
- Messages forced to expire (`postsuper -e`) are counted; qshape 3.7 misses them until they
leave the queue.
- Files that postdrop writes to the maildrop queue are read properly (arrival time, sender,
recipients); qshape 3.7 skips them, or with `-s` counts them as `MAILER-DAEMON` in the oldest
column, with Perl warnings.
- Rows with the same count and the same name length are sorted by name; qshape 3.7 prints them
in an order that changes from run to run.
- With `-p`, address literals (`[192.0.2.1]`) get no parent domain rows; qshape 3.7 makes up
parents such as `.0.2.1]`.
- Damaged queue files (a loop of pointer records, a first record that is not a queue file's)
are skipped with a warning on standard error; qshape 3.7 may loop forever, or count them as
`MAILER-DAEMON` with `-s`.
- Without `postconf` (Postfix not installed), main.cf is read directly for `queue_directory`.
- The long options `--format`, `--output`, `--per-message`, `--top`, `--all-instances` and
`--help` are ours; any other long option is rejected as qshape rejects it (`Unknown option: -`,
the usage text, status 255).

The file `docs/deviations.md` of postfix-queue-tools explains each difference (Q1 to Q7).
"#,
    see_also: &[
        ("postqueue", "1"),
        ("postsuper", "1"),
        ("mailq", "1"),
        ("postconf", "1"),
        ("postconf", "5"),
        ("systemd.timer", "5"),
    ],
};
