//! `cargo xtask gen-queue`: writes a realistic Postfix queue (queue files through the library's
//! `QueueWriter`, defer logs, a main.cf pointing at it) for the demo, benchmarks and manual tests.
//!
//! The workload model follows what busy outbound relays look like (and the shape used for the
//! project's performance anchors): a few hundred recipient domains with Zipf popularity, mostly
//! 1-3 recipients with a few 50-recipient list messages, content of a few KB with some large
//! attachments, ages spread over five days, and nearly everything deferred with a reason that
//! depends on the destination.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use postfix_queue::writer::{
    build_queue_file, FileStyle, MessageSpec, QueueWriter, RecipientSpec, RecipientState,
};
use postfix_queue::{Layout, Queue};

use crate::rng::{Rng, Zipf};

/// Name of the file, next to `spool/` and `etc/`, that records how a queue was generated; the
/// benchmark trusts a cached queue only when it is present.
pub const MANIFEST: &str = "gen-queue.txt";

const DOMAIN_COUNT: usize = 300;
const FIVE_DAYS: i64 = 5 * 86_400;

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub messages: u64,
    pub out: PathBuf,
    pub long_ids: bool,
    pub seed: u64,
    /// The "current time" ages are measured back from.
    pub now: i64,
    pub threads: usize,
    pub quiet: bool,
    /// The user to give the files to afterwards (as root only): Postfix's mail_owner, because
    /// showq (and ours, as root) reads the queue as that user and skips what it cannot open.
    pub owner: Option<String>,
}

impl GenOptions {
    pub fn new(messages: u64, out: PathBuf) -> Self {
        Self {
            messages,
            out,
            long_ids: false,
            seed: 1,
            now: unix_now(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            quiet: false,
            owner: default_owner(),
        }
    }
}

/// What a generation run wrote.
#[derive(Debug, Default, Clone)]
pub struct GenSummary {
    /// Messages per queue, in showq order (maildrop, active, incoming, deferred, hold).
    pub per_queue: [u64; 5],
    pub forced_expired: u64,
    pub incomplete: u64,
    pub recipients: u64,
    pub defer_entries: u64,
    pub queue_file_bytes: u64,
    pub elapsed: Duration,
}

impl GenSummary {
    fn add(&mut self, other: &GenSummary) {
        for (mine, theirs) in self.per_queue.iter_mut().zip(other.per_queue) {
            *mine += theirs;
        }
        self.forced_expired += other.forced_expired;
        self.incomplete += other.incomplete;
        self.recipients += other.recipients;
        self.defer_entries += other.defer_entries;
        self.queue_file_bytes += other.queue_file_bytes;
    }

    pub fn messages(&self) -> u64 {
        self.per_queue.iter().sum()
    }

    pub fn describe(&self) -> String {
        let names = Queue::SHOWQ_ORDER.map(Queue::name);
        let queues: Vec<String> = names
            .iter()
            .zip(self.per_queue)
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        format!(
            "{} messages ({}), {} forced to expire, {} still being written; {} recipients, \
             {} defer-log entries, {:.1} MB of queue files, in {:.1} s",
            self.messages(),
            queues.join(", "),
            self.forced_expired,
            self.incomplete,
            self.recipients,
            self.defer_entries,
            self.queue_file_bytes as f64 / 1e6,
            self.elapsed.as_secs_f64()
        )
    }
}

/// `postfix` when we are root and that user exists; otherwise the files stay ours.
fn default_owner() -> Option<String> {
    if !crate::process::is_root() {
        return None;
    }
    let known = std::process::Command::new("id")
        .args(["-u", "postfix"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    known.then(|| "postfix".to_string())
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Parses `gen-queue`'s arguments.
pub fn parse_args(args: &[String]) -> Result<GenOptions> {
    let mut messages = None;
    let mut out = None;
    let mut options = GenOptions::new(0, PathBuf::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--messages" => messages = Some(crate::parse_count(&value("--messages")?)?),
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--long-ids" => options.long_ids = true,
            "--seed" => options.seed = value("--seed")?.parse().context("--seed")?,
            "--now" => options.now = value("--now")?.parse().context("--now")?,
            "--threads" => options.threads = value("--threads")?.parse().context("--threads")?,
            "--owner" => options.owner = Some(value("--owner")?),
            "-h" | "--help" => {
                println!("{}", crate::GEN_QUEUE_USAGE);
                std::process::exit(0);
            }
            other => bail!(
                "gen-queue: unknown argument {other:?}\n{}",
                crate::GEN_QUEUE_USAGE
            ),
        }
    }
    options.messages = messages.context("gen-queue: --messages N is required")?;
    options.out = out.context("gen-queue: --out DIR is required")?;
    options.threads = options.threads.max(1);
    Ok(options)
}

/// Writes the queue under `options.out/spool`, and a main.cf pointing at it and a master.cf
/// without services under `options.out/etc`.
pub fn generate(options: &GenOptions) -> Result<GenSummary> {
    let started = Instant::now();
    let spool = options.out.join("spool");
    if spool.exists() && fs::read_dir(&spool)?.next().is_some() {
        bail!(
            "{} already holds a queue; remove it first (generating into it would mix queues)",
            spool.display()
        );
    }
    fs::create_dir_all(&spool).with_context(|| format!("create {}", spool.display()))?;
    let out = fs::canonicalize(&options.out)?;
    let spool = out.join("spool");
    let writer = QueueWriter::new(
        Layout::new(&spool, &["deferred", "defer"], 1),
        options.long_ids,
    );
    writer
        .create_directories()
        .with_context(|| format!("create queue directories in {}", spool.display()))?;
    write_main_cf(&out, &spool, options.long_ids)?;

    let model = Model::new();
    let threads = options.threads.max(1) as u64;
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let mut summary = std::thread::scope(|scope| -> Result<GenSummary> {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (writer, model, done) = (&writer, &model, &done);
                scope.spawn(move || write_share(writer, model, options, thread, threads, done))
            })
            .collect();
        let progress = (!options.quiet)
            .then(|| scope.spawn(|| report_progress(&done, &finished, options.messages, started)));
        let mut total = GenSummary::default();
        let mut failure = None;
        for worker in workers {
            match worker.join() {
                Ok(Ok(part)) => total.add(&part),
                Ok(Err(error)) => failure = Some(error),
                Err(_) => failure = Some(anyhow::anyhow!("a generator thread panicked")),
            }
        }
        finished.store(true, Ordering::Relaxed);
        if let Some(progress) = progress {
            let _ = progress.join();
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(total),
        }
    })?;
    if let Some(owner) = &options.owner {
        // One chown(1) after the fact is as fast as chowning each file as it is written.
        let status = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{owner}:{owner}"))
            .arg(&spool)
            .status()
            .context("run chown")?;
        if !status.success() {
            bail!("chown -R {owner} {} failed ({status})", spool.display());
        }
    }
    summary.elapsed = started.elapsed();
    write_manifest(&out, options, &summary)?;
    Ok(summary)
}

fn report_progress(done: &AtomicU64, finished: &AtomicBool, total: u64, started: Instant) {
    let mut last_report = Instant::now();
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            eprintln!(
                "gen-queue: {}/{} messages ({:.0} s)",
                done.load(Ordering::Relaxed),
                total,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// One thread's share: messages `thread`, `thread + threads`, ...
fn write_share(
    writer: &QueueWriter,
    model: &Model,
    options: &GenOptions,
    thread: u64,
    threads: u64,
    done: &AtomicU64,
) -> Result<GenSummary> {
    let mut summary = GenSummary::default();
    let mut index = thread;
    while index < options.messages {
        let mut rng = Rng::for_item(options.seed, index);
        let plan = model.plan(&mut rng, options.now);
        // QueueWriter names its temporary file "<microseconds>.<pid>", so threads of one
        // process must never share a microseconds value: each owns one residue class.
        let slots = 1_000_000 / threads;
        let microseconds = (rng.below(slots) * threads + thread) as u32;
        let spec = MessageSpec {
            arrival_microseconds: microseconds,
            ..plan.spec
        };
        let id = writer
            .add(plan.queue, &spec, plan.mode)
            .with_context(|| format!("write message {index} into {}", plan.queue.name()))?;
        let queue_slot = Queue::SHOWQ_ORDER
            .iter()
            .position(|&queue| queue == plan.queue)
            .unwrap_or(0);
        summary.per_queue[queue_slot] += 1;
        summary.forced_expired += u64::from(plan.mode & 0o010 != 0);
        summary.incomplete += u64::from(plan.mode & 0o700 != 0o700);
        summary.recipients += (spec.recipients.len() + spec.extracted_recipients.len()) as u64;
        if plan.defer_log {
            // The defer log's offset= names the recipient's R record: rebuild the file's
            // layout (cheap next to the file system work) to learn those offsets.
            let built = build_queue_file(&spec);
            summary.queue_file_bytes += built.bytes.len() as u64;
            let live = spec
                .recipients
                .iter()
                .chain(&spec.extracted_recipients)
                .zip(&built.recipient_offsets)
                .filter(|(recipient, _)| recipient.state == RecipientState::Live);
            for (recipient, &offset) in live {
                let attempts = if rng.chance(0.05) { 2 } else { 1 };
                for attempt in 0..attempts {
                    let reason = model.reason(&recipient.address, attempt, &mut rng);
                    writer
                        .append_defer_log(id.as_bytes(), &recipient.address, offset, &reason)
                        .with_context(|| format!("append defer log for {id}"))?;
                    summary.defer_entries += 1;
                }
            }
        } else {
            summary.queue_file_bytes += approximate_size(&spec);
        }
        done.fetch_add(1, Ordering::Relaxed);
        index += threads;
    }
    Ok(summary)
}

/// Roughly the file size (for the summary only) without laying the file out again.
fn approximate_size(spec: &MessageSpec) -> u64 {
    let recipients: usize = spec
        .recipients
        .iter()
        .chain(&spec.extracted_recipients)
        .map(|recipient| 2 * recipient.address.len() + 30)
        .sum();
    let lines = spec.content.iter().filter(|&&b| b == b'\n').count();
    (spec.content.len() + 2 * lines + recipients + 200) as u64
}

fn write_main_cf(out: &Path, spool: &Path, long_ids: bool) -> Result<()> {
    let etc = out.join("etc");
    fs::create_dir_all(&etc)?;
    let main_cf = etc.join("main.cf");
    let text = format!(
        "# Written by `cargo xtask gen-queue`: lists the generated queue in {spool}.\n\
         # Use it as `postqueue -c {etc} -p` or `MAIL_CONFIG={etc} mailq`.\n\
         queue_directory = {spool}\n\
         compatibility_level = 3.6\n\
         enable_long_queue_ids = {long}\n{accounts}",
        spool = spool.display(),
        etc = etc.display(),
        long = if long_ids { "yes" } else { "no" },
        accounts = stand_in_accounts(),
    );
    fs::write(&main_cf, text).with_context(|| format!("write {}", main_cf.display()))?;
    // Postfix's postconf (which qshape runs) warns when a configuration directory has no
    // master.cf; this one defines no services, since no Postfix runs on a generated queue.
    let master_cf = etc.join("master.cf");
    fs::write(
        &master_cf,
        "# Written by `cargo xtask gen-queue`: no services, no Postfix runs on this queue.\n",
    )
    .with_context(|| format!("write {}", master_cf.display()))?;
    backdate(&[&main_cf, &master_cf, &etc])
}

/// Accounts for main.cf when a non-root user generates the queue. The files are that user's,
/// so that user is the queue's mail owner: Postfix's tools (and ours) let the mail owner read
/// the queue directly while no showq runs. Where Postfix is not installed, `setgid_group`
/// (postdrop) needs a stand-in too, or the tools refuse to start; Postfix requires it to differ
/// from the owner's group and from nobody's.
fn stand_in_accounts() -> String {
    if crate::process::is_root() {
        // As root the files go to postfix (see `default_owner`), the default mail_owner.
        return String::new();
    }
    let output = |args: &[&str]| {
        std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let user = output(&["id", "-un"]);
    if user.is_empty() {
        return String::new();
    }
    let mut lines = format!(
        "# The queue files belong to {user}, so {user} is this queue's mail owner.\n\
         mail_owner = {user}\n"
    );
    if output(&["getent", "group", "postdrop"]).is_empty() {
        let own_group: u32 = output(&["id", "-g"]).parse().unwrap_or(0);
        let groups = fs::read_to_string("/etc/group").unwrap_or_default();
        if let Some(group) = pick_setgid_group(&groups, own_group) {
            lines.push_str(&format!(
                "# Postfix is not installed here: a stand-in for its postdrop group.\n\
                 setgid_group = {group}\n"
            ));
        }
    }
    lines
}

/// A group for setgid_group: postdrop if it exists, else a common unprivileged group that is
/// not the owner's own group and not nogroup.
fn pick_setgid_group(etc_group: &str, owner_gid: u32) -> Option<String> {
    let groups: Vec<(&str, u32)> = etc_group
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let gid = fields.nth(1)?.parse().ok()?;
            Some((name, gid))
        })
        .filter(|&(_, gid)| gid != 0 && gid != owner_gid && gid != 65_534)
        .collect();
    ["postdrop", "users", "staff", "mail", "daemon"]
        .iter()
        .find_map(|wanted| groups.iter().find(|(name, _)| name == wanted))
        .or_else(|| groups.first())
        .map(|(name, _)| name.to_string())
}

/// Postfix programs re-read a config file changed within the last second and wait for it to
/// settle (testing-with-postfix.md fact 1); an old mtime keeps the real tools fast.
pub fn backdate(paths: &[&Path]) -> Result<()> {
    let past = SystemTime::now() - Duration::from_secs(120);
    for path in paths {
        let file = fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        file.set_modified(past)
            .with_context(|| format!("set mtime of {}", path.display()))?;
    }
    Ok(())
}

fn write_manifest(out: &Path, options: &GenOptions, summary: &GenSummary) -> Result<()> {
    // key=value lines: the benchmark reads the counts back for its page.
    let text = format!(
        "messages={}\nseed={}\nlong_ids={}\nnow={}\nthreads={}\nowner={}\nrecipients={}\n\
         defer_entries={}\nqueue_file_bytes={}\nforced_expired={}\nincomplete={}\n\
         elapsed_s={:.1}\nsummary={}\n",
        options.messages,
        options.seed,
        options.long_ids,
        options.now,
        options.threads,
        options.owner.as_deref().unwrap_or("(generating user)"),
        summary.recipients,
        summary.defer_entries,
        summary.queue_file_bytes,
        summary.forced_expired,
        summary.incomplete,
        summary.elapsed.as_secs_f64(),
        summary.describe()
    );
    fs::write(out.join(MANIFEST), text).context("write the generation manifest")
}

/// What to write for one message.
struct Plan {
    queue: Queue,
    mode: u32,
    defer_log: bool,
    spec: MessageSpec,
}

/// The fixed parts of the workload: names, reasons, text. Built once, shared by all threads.
struct Model {
    domains: Vec<String>,
    domain_popularity: Zipf,
    domain_rank: std::collections::HashMap<String, usize>,
    /// Per domain: which deferral story its mail servers tell.
    domain_reason: Vec<usize>,
    text: Vec<u8>,
    base64: Vec<u8>,
}

const WORDS: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "contoso",
    "fabrikam",
    "northwind",
    "tailspin",
    "wingtip",
    "litware",
    "proseware",
    "lucerne",
    "woodgrove",
    "fourthcoffee",
    "wideworld",
    "blueyonder",
    "margie",
    "treyresearch",
    "cohowinery",
    "alpineski",
    "southridge",
    "datum",
    "humongous",
    "relecloud",
    "adatum",
    "vandelay",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "soylent",
    "massive",
    "gringotts",
    "oscorp",
    "wonka",
    "monarch",
    "sirius",
    "aperture",
    "blackmesa",
    "nakatomi",
    "dunder",
    "pied-piper",
    "bluth",
    "kramerica",
    "prestige",
    "zorg",
    "veridian",
    "spacely",
    "cogswell",
    "gekko",
    "ollivander",
    "dharma",
    "abstergo",
    "virtucon",
    "duff",
    "krusty",
    "mooby",
    "nuka",
    "planet-express",
];
const TLDS: &[&str] = &[
    ".com", ".net", ".org", ".de", ".co.uk", ".fr", ".nl", ".example", ".io", ".com.au",
];
const BIG_PROVIDERS: &[&str] = &[
    "gmail.example",
    "outlook.example",
    "yahoo.example",
    "hotmail.example",
    "icloud.example",
    "web.example.de",
    "orange.example.fr",
    "aol.example",
];
const FIRST_NAMES: &[&str] = &[
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "wei",
    "fatima",
    "olga",
    "raj",
    "yuki",
    "pierre",
    "ingrid",
    "carlos",
    "amara",
    "lars",
];
const LAST_NAMES: &[&str] = &[
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "nguyen",
    "schmidt",
    "dubois",
    "rossi",
    "kowalski",
    "tanaka",
    "okafor",
    "larsen",
    "van-der-berg",
    "oconnor",
    "haddad",
    "petrov",
    "silva",
    "kim",
];
const ROLES: &[&str] = &[
    "info",
    "sales",
    "support",
    "billing",
    "noreply",
    "postmaster",
    "hr",
    "jobs",
    "office",
    "newsletter",
    "admin",
    "orders",
];
/// Rare but real: 8-bit local parts (SMTPUTF8) and local parts that need quoting.
const ODD_LOCAL_PARTS: &[&str] = &[
    "jürgen.müller",
    "josé.garcía",
    "zoë",
    "björn",
    "john smith",
    "o'brien",
    "first..last",
];
const SUBJECTS: &[&str] = &[
    "Your order has shipped",
    "Invoice",
    "Re: meeting tomorrow",
    "Weekly newsletter",
    "Password reset request",
    "Fwd: quarterly figures",
    "Delivery Status Notification",
    "Your account statement is ready",
    "Re: Re: project update",
    "Special offer just for you",
];
const LOREM: &[&str] = &[
    "the", "queue", "message", "delivery", "server", "please", "find", "attached", "report",
    "regards", "thanks", "for", "your", "order", "we", "will", "update", "you", "soon", "meeting",
    "schedule", "account", "invoice", "payment", "received", "shipping", "tracking", "number",
    "customer", "service", "team", "and", "of", "to", "in", "is", "that", "on", "with", "as",
];
const REASON_STORIES: usize = 11;

impl Model {
    fn new() -> Self {
        let mut rng = Rng::new(0x9e37_79b9);
        let mut domains: Vec<String> = BIG_PROVIDERS.iter().map(|d| d.to_string()).collect();
        let mut seen: std::collections::HashSet<String> = domains.iter().cloned().collect();
        let mut round = 0;
        while domains.len() < DOMAIN_COUNT {
            for (i, word) in WORDS.iter().enumerate() {
                if domains.len() >= DOMAIN_COUNT {
                    break;
                }
                let tld = TLDS[(i + round * 3) % TLDS.len()];
                let name = match round {
                    0 => format!("{word}{tld}"),
                    1 => format!("mail.{word}{tld}"),
                    2 => format!("{word}-group{tld}"),
                    _ => format!("{word}{round}{tld}"),
                };
                if seen.insert(name.clone()) {
                    domains.push(name);
                }
            }
            round += 1;
        }
        // The big providers throttle and greylist; small domains time out, refuse, or lack DNS.
        let domain_reason = (0..domains.len())
            .map(|rank| match rank {
                0 => 4,
                1 => 1,
                2 => 7,
                _ => rng.index(REASON_STORIES),
            })
            .collect();
        Self {
            domain_popularity: Zipf::new(domains.len(), 1.0),
            domain_rank: domains
                .iter()
                .enumerate()
                .map(|(rank, domain)| (domain.clone(), rank))
                .collect(),
            domains,
            domain_reason,
            text: lorem_text(&mut rng, 64 * 1024),
            base64: base64_text(&mut rng, 256 * 1024),
        }
    }

    fn plan(&self, rng: &mut Rng, now: i64) -> Plan {
        let queue = rng.weighted(&[
            (Queue::Deferred, 0.90),
            (Queue::Hold, 0.03),
            (Queue::Active, 0.025),
            (Queue::Incoming, 0.025),
            (Queue::Maildrop, 0.02),
        ]);
        let age = match queue {
            Queue::Deferred | Queue::Hold => 600 + rng.below((FIVE_DAYS - 600) as u64) as i64,
            Queue::Active => rng.below(FIVE_DAYS as u64) as i64,
            Queue::Incoming => rng.below(60) as i64,
            Queue::Maildrop => rng.below(3_600) as i64,
        };
        let style = if queue == Queue::Maildrop {
            FileStyle::Maildrop
        } else {
            FileStyle::Cleanup
        };
        let count = match queue {
            Queue::Maildrop => 1 + rng.below(3) as usize,
            _ => rng.weighted(&[(1usize, 70.0), (2, 18.0), (3, 11.5), (50, 0.5)]),
        };
        let retried = matches!(queue, Queue::Deferred | Queue::Hold | Queue::Active);
        let mut recipients: Vec<RecipientSpec> = (0..count)
            .map(|_| {
                let mut recipient = RecipientSpec::live(self.recipient_address(rng));
                // Earlier attempts delivered some recipients of multi-recipient mail.
                if retried && count > 1 {
                    let done = if count >= 50 { 0.6 } else { 0.3 };
                    if rng.chance(done) {
                        recipient.state = RecipientState::Done;
                    } else if rng.chance(0.01) {
                        recipient.state = RecipientState::Cancelled;
                    }
                }
                recipient
            })
            .collect();
        if !recipients.iter().any(|r| r.state == RecipientState::Live) {
            recipients[0].state = RecipientState::Live;
        }
        let sender = self.sender_address(rng);
        let content = self.content(rng, &sender, &recipients, now - age);
        // `sendmail -t`: cleanup found the recipients in the headers.
        let extracted = style == FileStyle::Cleanup && rng.chance(0.01);
        let (recipients, extracted_recipients) = if extracted {
            (Vec::new(), recipients)
        } else {
            (recipients, Vec::new())
        };
        let mode = match queue {
            // postdrop creates 0644 and adds 0700 when done (format-and-postqueue.md §2.3).
            Queue::Maildrop => 0o744,
            Queue::Deferred | Queue::Hold if rng.chance(0.005) => 0o710,
            // cleanup still writing: showq skips it quietly.
            Queue::Incoming if rng.chance(0.02) => 0o600,
            _ => 0o700,
        };
        let defer_log = match queue {
            Queue::Deferred => true,
            Queue::Hold | Queue::Active => rng.chance(0.5),
            Queue::Incoming | Queue::Maildrop => false,
        };
        Plan {
            queue,
            mode,
            defer_log,
            spec: MessageSpec {
                arrival_seconds: now - age,
                arrival_microseconds: 0,
                sender,
                recipients,
                extracted_recipients,
                content,
                style,
            },
        }
    }

    fn local_part(&self, rng: &mut Rng) -> String {
        let first = FIRST_NAMES[rng.index(FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.index(LAST_NAMES.len())];
        match rng.weighted(&[
            (0, 45.0),
            (1, 20.0),
            (2, 12.0),
            (3, 10.0),
            (4, 8.0),
            (5, 4.7),
            (6, 0.3),
        ]) {
            0 => format!("{first}.{last}"),
            1 => format!("{first}{}", rng.below(10_000)),
            2 => format!("{}{last}", &first[..1]),
            3 => ROLES[rng.index(ROLES.len())].to_string(),
            4 => (0..8)
                .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.index(36)]))
                .collect(),
            5 => format!(
                "{first}.{last}+{}-notifications-{}",
                last,
                rng.below(1_000_000)
            ),
            _ => ODD_LOCAL_PARTS[rng.index(ODD_LOCAL_PARTS.len())].to_string(),
        }
    }

    fn recipient_address(&self, rng: &mut Rng) -> Vec<u8> {
        let domain = &self.domains[self.domain_popularity.sample(rng)];
        format!("{}@{domain}", self.local_part(rng)).into_bytes()
    }

    fn sender_address(&self, rng: &mut Rng) -> Vec<u8> {
        let domain = &self.domains[rng.index(self.domains.len())];
        match rng.weighted(&[(0, 4.0), (1, 10.0), (2, 86.0)]) {
            // Bounces and other notifications: the null sender, listed as MAILER-DAEMON.
            0 => Vec::new(),
            // Mailing lists with VERP return paths.
            1 => format!(
                "bounce-{}-{}={}@lists.{domain}",
                rng.below(100_000),
                self.local_part(rng).replace(['@', ' '], "."),
                self.domains[rng.index(self.domains.len())]
            )
            .into_bytes(),
            _ => format!("{}@{domain}", self.local_part(rng)).into_bytes(),
        }
    }

    /// A deferral reason for `address`, in Postfix's wording; the story depends on the domain so
    /// that one destination's mail shares its reason, as in a real queue.
    fn reason(&self, address: &[u8], attempt: u32, rng: &mut Rng) -> Vec<u8> {
        let domain = address
            .iter()
            .rposition(|&b| b == b'@')
            .map_or(&b""[..], |at| &address[at + 1..]);
        let domain = String::from_utf8_lossy(domain);
        let rank = self.domain_rank.get(domain.as_ref()).copied().unwrap_or(0);
        let story = (self.domain_reason[rank] + attempt as usize) % REASON_STORIES;
        let mx = format!("mx{}.{domain}", 1 + rank % 3);
        let ip = match rank % 4 {
            0 => format!("192.0.2.{}", 1 + rank % 250),
            1 => format!("198.51.100.{}", 1 + rank % 250),
            2 => format!("203.0.113.{}", 1 + rank % 250),
            _ => format!("2001:db8::{:x}", 1 + rank),
        };
        let text = match story {
            0 => format!("connect to {mx}[{ip}]:25: Connection timed out"),
            1 => format!(
                "host {mx}[{ip}] said: 451 4.7.1 Greylisting in action, please come back later \
                 (in reply to RCPT TO command)"
            ),
            2 => format!(
                "Host or domain name not found. Name service error for name={domain} type=MX: \
                 Host not found, try again"
            ),
            3 => format!("connect to {domain}[{ip}]:25: Connection refused"),
            4 => format!(
                "host {mx}[{ip}] said: 421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily \
                 deferred due to unexpected volume or user complaints - 4.16.55.1; see \
                 https://postmaster.{domain}/errors/421-ts04 (in reply to MAIL FROM command)"
            ),
            5 => format!(
                "delivery temporarily suspended: connect to {mx}[{ip}]:25: Connection timed out"
            ),
            6 => format!(
                "conversation with {mx}[{ip}] timed out while receiving the initial server \
                 greeting"
            ),
            7 => format!(
                "host {mx}[{ip}] said: 452 4.2.2 The email account that you tried to reach is \
                 over quota. Please direct the recipient to https://support.{domain}/mail/?p={} \
                 (in reply to RCPT TO command)",
                rng.below(1000)
            ),
            8 => "mail transport unavailable".to_string(),
            9 => format!(
                "lost connection with {mx}[{ip}] while sending end of data -- message may be \
                 sent more than once"
            ),
            _ => format!(
                "TLS is required, but host {mx}[{ip}] refused to start TLS: 454 4.7.0 TLS not \
                 available due to local problem"
            ),
        };
        text.into_bytes()
    }

    fn content(
        &self,
        rng: &mut Rng,
        sender: &[u8],
        recipients: &[RecipientSpec],
        arrival: i64,
    ) -> Vec<u8> {
        let large = rng.chance(0.01);
        let target = if large {
            rng.log_uniform(30_000.0, 300_000.0)
        } else {
            rng.log_uniform(2_000.0, 20_000.0)
        } as usize;
        let sender = if sender.is_empty() {
            "MAILER-DAEMON@mail.example.net".to_string()
        } else {
            String::from_utf8_lossy(sender).into_owned()
        };
        let to = recipients
            .first()
            .map_or("undisclosed-recipients:;".to_string(), |r| {
                String::from_utf8_lossy(&r.address).into_owned()
            });
        let date = rfc2822_date(arrival);
        let mut head = String::with_capacity(1024);
        let _ = write!(
            head,
            "Received: from client{}.example.net (client{}.example.net [192.0.2.{}])\n\
             \tby mail.example.net (Postfix) with ESMTPS id {:010X}\n\
             \tfor <{to}>; {date}\n",
            rng.below(100),
            rng.below(100),
            1 + rng.below(250),
            rng.below(1 << 40),
        );
        if rng.chance(0.5) {
            head.push_str("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net;\n\ts=mail; h=from:to:subject:date:message-id; bh=");
            let start = rng.index(self.base64.len() - 400);
            for chunk in self.base64[start..start + 344]
                .split(|&b| b == b'\n')
                .take(4)
            {
                head.push_str(&String::from_utf8_lossy(chunk));
                head.push_str("\n\t ");
            }
            head.push_str("b=x\n");
        }
        let _ = write!(
            head,
            "Message-Id: <{:016x}@mail.example.net>\nDate: {date}\nFrom: <{sender}>\nTo: <{to}>\n\
             Subject: {} #{}\nMIME-Version: 1.0\n",
            rng.next_u64(),
            SUBJECTS[rng.index(SUBJECTS.len())],
            rng.below(100_000),
        );
        let mut content = head.into_bytes();
        if large {
            // A multipart message with a base64 attachment: long runs of 76-character lines.
            content.extend_from_slice(
                b"Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\n",
            );
            self.append_slice(&self.text, rng, &mut content, 1_500);
            content.extend_from_slice(
                b"\n--b1\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n",
            );
            let fill = target.saturating_sub(content.len() + 8);
            self.append_slice(&self.base64, rng, &mut content, fill);
            content.extend_from_slice(b"\n--b1--\n");
        } else if rng.chance(0.005) {
            // HTML mail written as one line: longer than cleanup's 2048-byte line limit, so it
            // is stored as `L` fragments.
            content.extend_from_slice(b"Content-Type: text/html; charset=utf-8\n\n<html><body>");
            let fill = target.saturating_sub(content.len() + 20);
            let mut line = Vec::with_capacity(fill);
            self.append_slice(&self.text, rng, &mut line, fill);
            for byte in &mut line {
                if *byte == b'\n' {
                    *byte = b' ';
                }
            }
            content.extend_from_slice(&line);
            content.extend_from_slice(b"</body></html>\n");
        } else {
            content.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\n\n");
            let fill = target.saturating_sub(content.len());
            self.append_slice(&self.text, rng, &mut content, fill);
        }
        content
    }

    /// Appends `length` bytes of `source`, starting at a random line, wrapping around.
    fn append_slice(&self, source: &[u8], rng: &mut Rng, out: &mut Vec<u8>, length: usize) {
        let mut start = rng.index(source.len());
        start = source[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(0, |newline| start + newline + 1);
        let mut left = length;
        while left > 0 {
            let take = left.min(source.len() - start);
            out.extend_from_slice(&source[start..start + take]);
            left -= take;
            start = 0;
        }
    }
}

/// Word-wrapped filler text (72-column lines) for message bodies.
fn lorem_text(rng: &mut Rng, length: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(length + 100);
    let mut column = 0;
    while text.len() < length {
        let word = LOREM[rng.index(LOREM.len())].as_bytes();
        if column + word.len() + 1 > 72 {
            text.push(b'\n');
            column = 0;
        } else if column > 0 {
            text.push(b' ');
            column += 1;
        }
        text.extend_from_slice(word);
        column += word.len();
    }
    text.push(b'\n');
    text
}

/// Random base64 in 76-column lines, the shape of an encoded attachment.
fn base64_text(rng: &mut Rng, length: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = Vec::with_capacity(length + 80);
    while text.len() < length {
        text.extend((0..76).map(|_| ALPHABET[rng.index(ALPHABET.len())]));
        text.push(b'\n');
    }
    text
}

/// `Tue, 25 Nov 2026 14:03:07 +0000`, without a date crate: days-from-civil in reverse
/// (Howard Hinnant's algorithm).
fn rfc2822_date(epoch: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = epoch.div_euclid(86_400);
    let seconds = epoch.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_values() {
        assert_eq!(rfc2822_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc2822_date(1_795_976_460),
            "Sun, 29 Nov 2026 18:21:00 +0000"
        );
    }

    #[test]
    fn setgid_stand_in_avoids_the_owner_group() {
        let groups = "root:x:0:\ndaemon:x:1:\nusers:x:100:\nalice:x:1000:\nnogroup:x:65534:\n";
        assert_eq!(pick_setgid_group(groups, 1000).as_deref(), Some("users"));
        assert_eq!(pick_setgid_group(groups, 100).as_deref(), Some("daemon"));
        assert_eq!(pick_setgid_group("root:x:0:\n", 0), None);
    }

    #[test]
    fn plans_are_reproducible() {
        let model = Model::new();
        let a = model.plan(&mut Rng::for_item(3, 42), 1_795_976_460);
        let b = model.plan(&mut Rng::for_item(3, 42), 1_795_976_460);
        assert_eq!(a.spec.content, b.spec.content);
        assert_eq!(a.spec.recipients, b.spec.recipients);
        assert_eq!(a.queue, b.queue);
    }

    #[test]
    fn small_queue_has_the_intended_shape() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-gen-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut options = GenOptions::new(400, dir.clone());
        options.quiet = true;
        options.threads = 3;
        options.owner = None;
        let summary = generate(&options)?;
        assert_eq!(summary.messages(), 400);
        assert!(summary.per_queue[3] > 300, "{:?}", summary.per_queue);
        assert!(summary.defer_entries >= summary.per_queue[3]);
        assert!(fs::read_to_string(dir.join("etc/main.cf"))?.contains("queue_directory"));
        assert!(dir.join("etc/master.cf").is_file());
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
