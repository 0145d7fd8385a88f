//! `cargo xtask bench`: times our postqueue against the real Postfix postqueue (through a
//! showq-only Postfix instance on the same spool) and against a read floor, our postsuper's
//! mass operations against the real postsuper and an unlink/rename floor (bench_postsuper.rs),
//! and our qshape against Postfix's and an envelope-read floor (bench_qshape.rs), on generated
//! queues of 100k and 1M messages, and writes docs/benchmarks.md.
//!
//! Method (perf-anchors.md): warm page cache, one warm-up run, then the median of 3; stdout to
//! /dev/null; peak RSS from wait4(2). The warm-up runs write their output to files instead, and
//! those are compared byte for byte, so the benchmark also checks that ours prints exactly what
//! Postfix prints.
//!
//! Each part keeps its results per size under target/bench/<size> (results.json for postqueue,
//! postsuper-results.json for postsuper, qshape-results.json for qshape), so `--only` reruns
//! one part and the page still shows the others' last results.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::bench_postsuper::{self, Op, PostsuperOptions};
use crate::bench_qshape::{self, QshapeOptions};
use crate::floor;
use crate::gen::{self, GenOptions, MANIFEST};
use crate::process::{self, run_measured};

const REAL_POSTQUEUE: &str = "/usr/sbin/postqueue";
const MASTER: &str = "/usr/lib/postfix/sbin/master";
/// The result we promise: at least this many times faster than Postfix at 1M messages.
const TARGET_SPEEDUP: f64 = 8.0;
const RESULTS_FILE: &str = "results.json";

const USAGE: &str = "usage: cargo xtask bench [--sizes 100000,1000000] [--quick] \
[--only postqueue|postsuper|qshape] [--postsuper-ops d,h,H,r] [--delete-runs N] [--render-only]";

/// Which part of the benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Postqueue,
    Postsuper,
    Qshape,
}

#[derive(Debug, Clone)]
struct BenchOptions {
    sizes: Vec<u64>,
    runs: usize,
    /// None: every part.
    only: Option<Part>,
    postsuper_ops: Vec<Op>,
    delete_runs: Option<usize>,
    /// Only rewrite docs/benchmarks.md from the stored results.
    render_only: bool,
}

impl BenchOptions {
    fn runs_part(&self, part: Part) -> bool {
        self.only.is_none_or(|only| only == part)
    }
}

fn parse_args(args: &[String]) -> Result<BenchOptions> {
    let mut sizes = None;
    let mut quick = false;
    let mut only = None;
    let mut postsuper_ops = Op::ALL.to_vec();
    let mut delete_runs = None;
    let mut render_only = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => {
                let list = args
                    .next()
                    .context("--sizes needs a value, e.g. 100000,1000000")?;
                sizes = Some(
                    list.split(',')
                        .map(crate::parse_count)
                        .collect::<Result<Vec<u64>>>()?,
                );
            }
            "--quick" => quick = true,
            "--render-only" => render_only = true,
            "--only" => {
                only = Some(match args.next().map(String::as_str) {
                    Some("postqueue") => Part::Postqueue,
                    Some("postsuper") => Part::Postsuper,
                    Some("qshape") => Part::Qshape,
                    other => bail!(
                        "--only needs postqueue, postsuper or qshape (got {other:?})\n{USAGE}"
                    ),
                });
            }
            "--postsuper-ops" => {
                let list = args
                    .next()
                    .context("--postsuper-ops needs a value, e.g. d,h,H,r")?;
                postsuper_ops = list.split(',').map(Op::parse).collect::<Result<_>>()?;
            }
            "--delete-runs" => {
                let value = args.next().context("--delete-runs needs a number")?;
                let runs: usize = value.parse().context("--delete-runs")?;
                if runs == 0 {
                    bail!("--delete-runs must be at least 1");
                }
                delete_runs = Some(runs);
            }
            other => bail!("bench: unknown argument {other:?}\n{USAGE}"),
        }
    }
    // --quick is a smoke test of the harness: a small queue and one timed run.
    let default_sizes = if quick {
        vec![10_000]
    } else {
        vec![100_000, 1_000_000]
    };
    Ok(BenchOptions {
        sizes: sizes.unwrap_or(default_sizes),
        runs: if quick { 1 } else { 3 },
        only,
        postsuper_ops,
        delete_runs,
        render_only,
    })
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse_args(args)?;
    let bench_root = process::target_directory().join("bench");
    fs::create_dir_all(&bench_root)?;
    if options.render_only {
        return write_page(&bench_root);
    }
    let bin = process::build_release()?;
    // Measure private copies: a `cargo build` elsewhere in the workspace during a long run
    // would otherwise swap the binary between measurements.
    let ours = bench_root.join("postqueue-under-test");
    if options.runs_part(Part::Postqueue) {
        let _ = fs::remove_file(&ours);
        fs::copy(bin.join("postqueue"), &ours).context("copy the postqueue binary")?;
    }
    // In a directory of its own, so that its argv[0] (its name in messages) stays "postsuper".
    let ours_postsuper = bench_root.join("postsuper-under-test/postsuper");
    let postsuper = options.runs_part(Part::Postsuper) && postsuper_runnable();
    if postsuper {
        fs::create_dir_all(bench_root.join("postsuper-under-test"))?;
        let _ = fs::remove_file(&ours_postsuper);
        fs::copy(bin.join("postsuper"), &ours_postsuper).context("copy the postsuper binary")?;
    }
    let real = real_postfix_available();
    if let (Err(why), true) = (&real, options.runs_part(Part::Postqueue)) {
        println!("bench: the real postqueue is not measured: {why}");
    }
    let real_postsuper = Path::new(bench_postsuper::REAL_POSTSUPER).exists();
    if postsuper && !real_postsuper {
        println!(
            "bench: the real postsuper is not measured: {} is not installed",
            bench_postsuper::REAL_POSTSUPER
        );
    }
    // Also in a directory of its own: qshape's messages name it by $0.
    let ours_qshape = bench_root.join("qshape-under-test/qshape");
    let qshape = options.runs_part(Part::Qshape)
        && match bench_qshape::runnable() {
            Ok(()) => true,
            Err(why) => {
                println!("bench: qshape is not measured: {why}");
                false
            }
        };
    if qshape {
        fs::create_dir_all(bench_root.join("qshape-under-test"))?;
        let _ = fs::remove_file(&ours_qshape);
        fs::copy(bin.join("qshape"), &ours_qshape).context("copy the qshape binary")?;
    }
    let qshape_options = QshapeOptions {
        runs: options.runs,
        real: bench_qshape::real_available(),
    };
    if qshape && !qshape_options.real {
        println!(
            "bench: Postfix's qshape is not measured: {} (or perl) is not installed",
            bench_qshape::REAL_QSHAPE
        );
    }
    let postsuper_options = PostsuperOptions {
        ops: options.postsuper_ops.clone(),
        runs: options.runs,
        delete_runs: options.delete_runs,
        real: real_postsuper,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let commit = git_commit();
    for &size in &options.sizes {
        let directory = bench_root.join(size.to_string());
        if options.runs_part(Part::Postqueue) {
            let mut result = bench_size(size, &directory, &ours, real.is_ok(), options.runs)?;
            result["commit"] = Value::String(commit.clone());
            fs::write(
                directory.join(RESULTS_FILE),
                serde_json::to_string_pretty(&result)?,
            )?;
        }
        if postsuper {
            ensure_queue(size, &directory)?;
            let spool = directory.join("spool");
            ensure_owned_by_postfix(&directory, &spool)?;
            let cpu = process::CpuSnapshot::now();
            let mut result = bench_postsuper::bench_size(
                size,
                &directory,
                &ours_postsuper,
                &postsuper_options,
                threads,
            )?;
            bench_postsuper::stamp(&mut result, &commit);
            // Per measurement: operations kept from an earlier run keep their own.
            let load = other_load(&cpu);
            if let Some(measurements) = result["measurements"].as_array_mut() {
                for measurement in measurements {
                    measurement["other_load"] = load.clone();
                }
            }
            let path = directory.join(bench_postsuper::RESULTS_FILE);
            // Operations not run this time keep their last results.
            let previous = fs::read_to_string(&path)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok());
            bench_postsuper::keep_other_operations(&mut result, previous.as_ref());
            fs::write(&path, serde_json::to_string_pretty(&result)?)?;
        }
        if qshape {
            let facts = ensure_queue(size, &directory)?;
            ensure_owned_by_postfix(&directory, &directory.join("spool"))?;
            let cpu = process::CpuSnapshot::now();
            let mut result = bench_qshape::bench_size(
                size,
                &directory,
                facts,
                &ours_qshape,
                &qshape_options,
                threads,
            )?;
            result["commit"] = Value::String(commit.clone());
            result["other_load"] = other_load(&cpu);
            fs::write(
                directory.join(bench_qshape::RESULTS_FILE),
                serde_json::to_string_pretty(&result)?,
            )?;
        }
    }
    write_page(&bench_root)
}

/// How busy the rest of the machine was while a part ran: the CPU other processes used and
/// the CPU the hypervisor stole, as average cores busy.
fn other_load(since: &process::CpuSnapshot) -> Value {
    let load = since.others_since();
    println!(
        "bench: meanwhile other processes used {:.2} cores on average, kernel threads {:.2}, \
         steal {:.2}",
        load.processes, load.kernel_threads, load.steal
    );
    json!({
        "other_processes_cores": load.processes,
        "kernel_threads_cores": load.kernel_threads,
        "steal_cores": load.steal,
    })
}

/// A sentence on the other load of each size's run, for a part's section ("" when none was
/// recorded).
pub(crate) fn render_other_load(results: &[Value]) -> String {
    let cells: Vec<String> = results
        .iter()
        .filter_map(|result| {
            Some(format!(
                "{}: {}",
                human(result["size"].as_u64()?),
                describe_load(&result["other_load"])?
            ))
        })
        .collect();
    if cells.is_empty() {
        return String::new();
    }
    format!(
        "{} {}.\n",
        load_preamble(results[0]["threads"].as_u64().unwrap_or(1)),
        cells.join("; ")
    )
}

/// "0.02 cores (kernel threads 0.01, steal 0.00)", from a stored other_load.
pub(crate) fn describe_load(load: &Value) -> Option<String> {
    Some(format!(
        "{:.2} cores (kernel threads {:.2}, steal {:.2})",
        load["other_processes_cores"].as_f64()?,
        load["kernel_threads_cores"].as_f64().unwrap_or(0.0),
        load["steal_cores"].as_f64().unwrap_or(0.0)
    ))
}

pub(crate) fn load_preamble(threads: u64) -> String {
    format!(
        "Load from other processes while this part ran: the machine's CPU time (/proc/stat) \
         less xtask's and its children's and less the kernel threads' (writeback and discard, \
         which our own work causes too), as average cores busy out of {threads}; more than a \
         few hundredths means the run shared the machine. Per size:"
    )
}

fn write_page(bench_root: &Path) -> Result<()> {
    let page = render_page(bench_root)?;
    let path = crate::workspace_root().join("docs/benchmarks.md");
    fs::write(&path, &page).with_context(|| format!("write {}", path.display()))?;
    println!("bench: wrote {}", path.display());
    Ok(())
}

/// postsuper (ours and Postfix's) must run as root: it changes to the mail owner itself.
fn postsuper_runnable() -> bool {
    if process::is_root() {
        return true;
    }
    println!("bench: postsuper is not measured: postsuper must run as root");
    false
}

fn real_postfix_available() -> std::result::Result<(), String> {
    if !Path::new(REAL_POSTQUEUE).exists() || !Path::new(MASTER).exists() {
        return Err("Postfix is not installed".into());
    }
    if !process::is_root() {
        return Err("running the showq-only Postfix instance needs root".into());
    }
    Ok(())
}

/// Generates the queue unless a complete one is cached (its manifest is written last).
pub(crate) fn ensure_queue(size: u64, directory: &Path) -> Result<Value> {
    let manifest = directory.join(MANIFEST);
    if let Ok(text) = fs::read_to_string(&manifest) {
        if text.lines().any(|line| line == format!("messages={size}")) {
            println!(
                "bench: reusing the {size}-message queue in {}",
                directory.display()
            );
            return Ok(manifest_facts(&text));
        }
    }
    if directory.exists() {
        fs::remove_dir_all(directory)
            .with_context(|| format!("remove incomplete {}", directory.display()))?;
    }
    println!(
        "bench: generating a {size}-message queue in {}",
        directory.display()
    );
    let mut options = GenOptions::new(size, directory.to_path_buf());
    options.seed = 1;
    gen::generate(&options)?;
    let text = fs::read_to_string(&manifest)?;
    Ok(manifest_facts(&text))
}

fn manifest_facts(text: &str) -> Value {
    let mut facts = serde_json::Map::new();
    for line in text.lines() {
        if let Some((key, value)) = line.split_once('=') {
            let value = value
                .parse::<u64>()
                .map_or_else(|_| Value::String(value.to_string()), Value::from);
            facts.insert(key.to_string(), value);
        }
    }
    Value::Object(facts)
}

/// One timed measurement: `runs` timings plus the peak RSS over them.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    pub(crate) label: String,
    pub(crate) walls: Vec<Duration>,
    pub(crate) max_rss_kib: Option<i64>,
}

impl Timing {
    fn median(&self) -> f64 {
        let mut seconds: Vec<f64> = self.walls.iter().map(Duration::as_secs_f64).collect();
        seconds.sort_by(f64::total_cmp);
        seconds.get(seconds.len() / 2).copied().unwrap_or(f64::NAN)
    }

    pub(crate) fn to_json(&self) -> Value {
        let seconds: Vec<f64> = self.walls.iter().map(Duration::as_secs_f64).collect();
        json!({
            "label": self.label,
            "median_s": self.median(),
            "min_s": seconds.iter().copied().fold(f64::INFINITY, f64::min),
            "max_s": seconds.iter().copied().fold(0.0, f64::max),
            "runs": seconds.len(),
            "max_rss_kib": self.max_rss_kib,
        })
    }
}

fn bench_size(size: u64, directory: &Path, ours: &Path, real: bool, runs: usize) -> Result<Value> {
    let facts = ensure_queue(size, directory)?;
    let spool = directory.join("spool");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut timings = Vec::new();
    let mut checks = Vec::new();
    let mut showq_hwm = None;

    // Without the real tool, ours uses the generator's main.cf (and warns that the mail system
    // is down, which is harmless: the listing is the same).
    let instance = if real {
        Some(ShowqInstance::start(directory, &spool)?)
    } else {
        None
    };
    let config = instance
        .as_ref()
        .map_or_else(|| directory.join("etc"), |instance| instance.etc.clone());

    for (flag, format) in [("-p", "p"), ("-j", "j")] {
        let ours_out = directory.join(format!("ours-{format}.out"));
        for (label, thread_setting) in [
            (format!("ours postqueue {flag}"), None),
            (
                format!("ours postqueue {flag}, POSTQUEUE_THREADS=1"),
                Some("1"),
            ),
        ] {
            let make = |stdout: Stdio| {
                let mut command = Command::new(ours);
                command.arg("-c").arg(&config).arg(flag).stdout(stdout);
                command.stderr(Stdio::null());
                match thread_setting {
                    Some(value) => command.env("POSTQUEUE_THREADS", value),
                    None => command.env_remove("POSTQUEUE_THREADS"),
                };
                command
            };
            // Warm-up run: its output is kept for the comparison with Postfix.
            let mut warm = make(Stdio::from(File::create(&ours_out)?));
            run_checked(&mut warm, &label)?;
            timings.push(time_runs(&label, runs, &make)?);
        }
        if let Some(instance) = &instance {
            let real_out = directory.join(format!("real-{format}.out"));
            let label = format!("Postfix postqueue {flag} (showq)");
            let make = |stdout: Stdio| {
                let mut command = Command::new(REAL_POSTQUEUE);
                command
                    .arg("-c")
                    .arg(&instance.etc)
                    .arg(flag)
                    .stdout(stdout);
                command.stderr(Stdio::null());
                command
            };
            let mut warm = make(Stdio::from(File::create(&real_out)?));
            run_checked(&mut warm, &label)?;
            timings.push(time_runs(&label, runs, &make)?);
            let verdict = compare_files(&ours_out, &real_out)?;
            println!("bench: {size} postqueue {flag}: ours vs Postfix output: {verdict}");
            checks.push(json!({"what": format!("postqueue {flag}"), "verdict": verdict}));
            let _ = fs::remove_file(&real_out);
            showq_hwm = showq_hwm.max(instance.showq_peak_rss_kib());
        }
        let _ = fs::remove_file(&ours_out);
    }
    if instance.is_some() {
        drop(instance);
        // Our postqueue connects to public/showq only to learn whether to warn "Mail system is
        // down", but the master then starts a showq that scans the queue until its first write
        // fails: on a small machine that steals CPU from us. This row shows the cost of that.
        let label = "ours postqueue -p, Postfix master stopped".to_string();
        let make = |stdout: Stdio| {
            let mut command = Command::new(ours);
            command
                .arg("-c")
                .arg(directory.join("etc"))
                .arg("-p")
                .stdout(stdout)
                .stderr(Stdio::null())
                .env_remove("POSTQUEUE_THREADS");
            command
        };
        run_checked(&mut make(Stdio::null()), &label)?;
        timings.push(time_runs(&label, runs, &make)?);
    }
    let syscalls = strace_profile(ours, &directory.join("etc"), size);

    let mut floor_count = floor::FloorCount::default();
    // Reading whole files is the floor the brief asks for; the first 4 KB is what a lister
    // that stops at the envelope must read (perf-anchors.md "read4k").
    for (what, limit) in [
        ("open+read every file", None),
        ("open+read first 4 KB", Some(4096)),
    ] {
        for floor_threads in [1, threads] {
            let label = format!("floor: {what}, {floor_threads} thread(s)");
            let count = floor::read_all(&spool, floor_threads, limit)?; // warm-up
            if limit.is_none() {
                floor_count = count;
            }
            let mut walls = Vec::new();
            for _ in 0..runs {
                let started = Instant::now();
                floor::read_all(&spool, floor_threads, limit)?;
                walls.push(started.elapsed());
            }
            println!("bench: {size} {label}: {:.3} s", median(&walls));
            timings.push(Timing {
                label,
                walls,
                max_rss_kib: None,
            });
        }
    }

    Ok(json!({
        "size": size,
        "queue": facts,
        "threads": threads,
        "floor_files": floor_count.files,
        "floor_bytes": floor_count.bytes,
        "timings": timings.iter().map(Timing::to_json).collect::<Vec<_>>(),
        "checks": checks,
        "showq_peak_rss_kib": showq_hwm,
        "syscalls_per_message": syscalls,
        "measured_at": gen::unix_now(),
    }))
}

/// Syscalls per message of one run of ours (`strace -c -f`), the most frequent first; null
/// when strace is not installed. strace slows the run down, so it is not timed.
fn strace_profile(ours: &Path, config: &Path, size: u64) -> Value {
    let args = [OsStr::new("-c"), config.as_os_str(), OsStr::new("-p")];
    let rows = strace_per_message(ours, &args, size);
    if let Value::Array(rows) = &rows {
        println!("bench: {size} syscalls per message (ours -p, strace -c -f): {rows:?}");
    }
    rows
}

/// Runs `program args` once under `strace -c -f` (default thread counts, output to /dev/null)
/// and returns its 8 most frequent system calls, each per message; null when strace is not
/// installed or the run fails.
pub(crate) fn strace_per_message(program: &Path, args: &[&OsStr], messages: u64) -> Value {
    let strace = Path::new("/usr/bin/strace");
    if !strace.exists() || messages == 0 {
        return Value::Null;
    }
    let report = std::env::temp_dir().join(format!("xtask-strace-{}.txt", std::process::id()));
    let status = Command::new(strace)
        .args(["-c", "-f", "-o"])
        .arg(&report)
        .arg(program)
        .args(args)
        .env_remove("POSTQUEUE_THREADS")
        .env_remove("RAYON_NUM_THREADS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let text = fs::read_to_string(&report).unwrap_or_default();
    let _ = fs::remove_file(&report);
    if !status.is_ok_and(|status| status.success()) {
        return Value::Null;
    }
    Value::Array(
        parse_strace_summary(&text)
            .into_iter()
            .take(8)
            .map(|(name, calls)| {
                json!({"syscall": name, "per_message": calls as f64 / messages as f64})
            })
            .collect(),
    )
}

/// `(syscall, calls)` from strace -c's table, most calls first.
fn parse_strace_summary(text: &str) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "% time  seconds  usecs/call  calls  [errors]  syscall"
            if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
                return None;
            }
            let name = fields.last()?;
            if *name == "total" {
                return None;
            }
            Some((name.to_string(), fields[3].parse().ok()?))
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    rows
}

pub(crate) fn median(walls: &[Duration]) -> f64 {
    let seconds: Vec<f64> = walls.iter().map(Duration::as_secs_f64).collect();
    median_of(&seconds)
}

pub(crate) fn median_of(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn run_checked(command: &mut Command, label: &str) -> Result<()> {
    let measured = run_measured(command)?;
    if !measured.status.success() {
        bail!("{label} failed: {}", measured.status);
    }
    Ok(())
}

fn time_runs(label: &str, runs: usize, make: &dyn Fn(Stdio) -> Command) -> Result<Timing> {
    let mut walls = Vec::new();
    let mut max_rss = 0;
    for _ in 0..runs {
        let measured = run_measured(&mut make(Stdio::null()))?;
        if !measured.status.success() {
            bail!("{label} failed: {}", measured.status);
        }
        walls.push(measured.wall);
        max_rss = max_rss.max(measured.max_rss_kib);
    }
    println!(
        "bench: {label}: {:.3} s (median of {runs}), peak RSS {:.1} MB",
        median(&walls),
        max_rss as f64 / 1024.0
    );
    Ok(Timing {
        label: label.to_string(),
        walls,
        max_rss_kib: Some(max_rss),
    })
}

/// "identical (N bytes)" or where the outputs first differ.
fn compare_files(ours: &Path, real: &Path) -> Result<String> {
    let mut a = BufReader::with_capacity(1 << 20, File::open(ours)?);
    let mut b = BufReader::with_capacity(1 << 20, File::open(real)?);
    let (mut chunk_a, mut chunk_b) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let (mut offset, mut line) = (0u64, 1u64);
    loop {
        let read_a = read_full(&mut a, &mut chunk_a)?;
        let read_b = read_full(&mut b, &mut chunk_b)?;
        let common = read_a.min(read_b);
        if let Some(at) = (0..common).find(|&i| chunk_a[i] != chunk_b[i]) {
            line += chunk_a[..at].iter().filter(|&&c| c == b'\n').count() as u64;
            return Ok(format!(
                "DIFFERENT (first difference at byte {}, line {line})",
                offset + at as u64
            ));
        }
        if read_a != read_b {
            return Ok(format!(
                "DIFFERENT (one output ends at byte {})",
                offset + common as u64
            ));
        }
        if read_a == 0 {
            return Ok(format!("identical ({offset} bytes)"));
        }
        line += chunk_a[..common].iter().filter(|&&c| c == b'\n').count() as u64;
        offset += common as u64;
    }
}

fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn git_commit() -> String {
    Command::new("git")
        // "-dirty" marks numbers measured on uncommitted changes.
        .args(["describe", "--always", "--dirty"])
        .current_dir(crate::workspace_root())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or_else(
            || "unknown".into(),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_string(),
        )
}

/// A Postfix master that runs only showq, on the benchmark's spool: the real postqueue needs a
/// showq server, and no qmgr or pickup may touch the queue. Started with `master -w`, never
/// `postfix start`, which would run `postsuper -s` and rename files
/// (testing-with-postfix.md facts 4, 5, 13). Stopped when dropped.
struct ShowqInstance {
    etc: PathBuf,
    spool: PathBuf,
    master_pid: Option<i32>,
}

impl ShowqInstance {
    fn start(directory: &Path, spool: &Path) -> Result<Self> {
        let spool = fs::canonicalize(spool)?;
        let etc = directory.join("showq-etc");
        let data = directory.join("showq-data");
        fs::create_dir_all(&etc)?;
        fs::create_dir_all(&data)?;
        let mut instance = Self {
            etc: fs::canonicalize(&etc)?,
            spool: spool.clone(),
            master_pid: None,
        };
        instance.stop_leftover();
        prepare_spool(directory, &spool, &data)?;
        let main_cf = instance.etc.join("main.cf");
        let master_cf = instance.etc.join("master.cf");
        let long_ids = fs::read_to_string(directory.join("etc/main.cf"))
            .unwrap_or_default()
            .contains("enable_long_queue_ids = yes");
        fs::write(
            &main_cf,
            format!(
                "# Written by `cargo xtask bench`: a showq-only instance on the benchmark spool.\n\
                 queue_directory = {}\n\
                 data_directory = {}\n\
                 compatibility_level = 3.6\n\
                 enable_long_queue_ids = {}\n\
                 myhostname = localhost.localdomain\n\
                 mydestination =\n\
                 inet_interfaces = loopback-only\n",
                spool.display(),
                fs::canonicalize(&data)?.display(),
                if long_ids { "yes" } else { "no" },
            ),
        )?;
        fs::write(
            &master_cf,
            "# showq only: no qmgr or pickup, so the queue does not change while measured.\n\
             showq     unix  n       -       n       -       -       showq\n",
        )?;
        gen::backdate(&[&main_cf, &master_cf, &instance.etc])?;
        let status = Command::new(MASTER)
            .arg("-c")
            .arg(&instance.etc)
            .arg("-w")
            .stdin(Stdio::null())
            .status()
            .context("start the Postfix master")?;
        if !status.success() {
            bail!(
                "`{MASTER} -c {} -w` failed ({status}); Postfix logs to syslog, which may be \
                 absent: add maillog_file to {} to see why",
                instance.etc.display(),
                main_cf.display()
            );
        }
        instance.master_pid = read_master_pid(&spool);
        println!(
            "bench: started a showq-only Postfix master (pid {}) for {}",
            instance
                .master_pid
                .map_or("?".into(), |pid| pid.to_string()),
            spool.display()
        );
        Ok(instance)
    }

    /// A master that an interrupted earlier run of this benchmark left on this spool.
    fn stop_leftover(&mut self) {
        if let Some(pid) = read_master_pid(&self.spool) {
            if is_postfix_master(pid) {
                println!("bench: stopping a leftover master (pid {pid}) from an earlier run");
                self.master_pid = Some(pid);
                self.stop();
            }
        }
    }

    fn stop(&mut self) {
        let Some(pid) = self.master_pid.take() else {
            return;
        };
        if !is_postfix_master(pid) {
            return;
        }
        // SAFETY: kill has no memory-safety preconditions; pid is the master we started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The highest VmHWM of the master's showq children (showq is not our child, so wait4
    /// cannot see it).
    fn showq_peak_rss_kib(&self) -> Option<i64> {
        let master = self.master_pid?;
        let mut peak = None;
        for entry in fs::read_dir("/proc").ok()?.flatten() {
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ..."
            let Some((comm_part, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            if !comm_part.ends_with("(showq") {
                continue;
            }
            let ppid = rest
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i32>().ok());
            if ppid != Some(master) {
                continue;
            }
            let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let hwm = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.split_whitespace().next()?.parse::<i64>().ok());
            peak = peak.max(hwm);
        }
        peak
    }
}

impl Drop for ShowqInstance {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_master_pid(spool: &Path) -> Option<i32> {
    fs::read_to_string(spool.join("pid/master.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn is_postfix_master(pid: i32) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("master"))
        .unwrap_or(false)
}

/// gen-queue gives the files to postfix when it runs as root; older or non-root caches get it
/// here, once. Postfix's tools act on the queue as postfix (mail_owner).
pub(crate) fn ensure_owned_by_postfix(directory: &Path, spool: &Path) -> Result<()> {
    let marker = directory.join("owned-by-postfix");
    let postfix_uid = process::output_text(Command::new("id").args(["-u", "postfix"]))?;
    let postfix_uid: u32 = postfix_uid.trim().parse().context("uid of postfix")?;
    let generated_as_postfix = fs::read_to_string(directory.join(MANIFEST))
        .is_ok_and(|manifest| manifest.lines().any(|line| line == "owner=postfix"));
    let owned = (marker.exists() || generated_as_postfix)
        && fs::metadata(spool.join("deferred"))?.uid() == postfix_uid;
    if !owned {
        println!("bench: chown -R postfix:postfix {}", spool.display());
        let status = Command::new("chown")
            .args(["-R", "postfix:postfix"])
            .arg(spool)
            .status()?;
        if !status.success() {
            bail!("chown -R postfix:postfix {} failed", spool.display());
        }
        fs::write(&marker, "")?;
    }
    Ok(())
}

/// Makes the spool look like an installed one to Postfix: owned by postfix, every parent
/// searchable, and the pid/, public/, private/ directories the master needs.
fn prepare_spool(directory: &Path, spool: &Path, data: &Path) -> Result<()> {
    ensure_owned_by_postfix(directory, spool)?;
    for (name, owner, mode) in [
        ("pid", "root:root", 0o755),
        ("public", "postfix:postdrop", 0o2710),
        ("private", "postfix:postfix", 0o700),
    ] {
        let path = spool.join(name);
        fs::create_dir_all(&path)?;
        let status = Command::new("chown").arg(owner).arg(&path).status()?;
        if !status.success() {
            bail!("chown {owner} {} failed", path.display());
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    let status = Command::new("chown")
        .arg("postfix:postfix")
        .arg(data)
        .status()?;
    if !status.success() {
        bail!("chown postfix {} failed", data.display());
    }
    fs::set_permissions(data, fs::Permissions::from_mode(0o700))?;
    // The postfix user must reach the spool through every parent (fact 4).
    for ancestor in spool.ancestors().skip(1) {
        let Ok(metadata) = fs::metadata(ancestor) else {
            continue;
        };
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o055 != 0o055 {
            fs::set_permissions(ancestor, fs::Permissions::from_mode(mode | 0o755))?;
        }
    }
    Ok(())
}

/// Machine facts for the page.
fn machine() -> Vec<(String, String)> {
    let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or("unknown".into(), |kib| {
            format!("{:.0} GiB", kib / 1024.0 / 1024.0)
        });
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bench = process::target_directory().join("bench");
    let filesystem = filesystem_of(&bench).unwrap_or_else(|| "unknown".into());
    let postfix = Command::new("/usr/sbin/postconf")
        .args(["-d", "-h", "mail_version"])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .filter(|version| !version.is_empty())
        .unwrap_or_else(|| "not installed".into());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default();
    vec![
        ("cores (nproc)".into(), cores.to_string()),
        ("CPU".into(), cpu),
        ("memory".into(), memory),
        ("kernel".into(), kernel),
        ("filesystem of target/bench".into(), filesystem),
        ("Postfix".into(), postfix),
        ("rustc".into(), rustc),
    ]
}

/// Type and options of the mount holding `path` (longest matching mount point).
fn filesystem_of(path: &Path) -> Option<String> {
    let path = fs::canonicalize(path).ok()?;
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 4 && path.starts_with(fields[1])).then(|| {
                (
                    fields[1].len(),
                    format!("{} ({}) on {}", fields[2], fields[3], fields[1]),
                )
            })
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, description)| description)
}

fn render_page(bench_root: &Path) -> Result<String> {
    let (mut postqueue, mut postsuper, mut qshape): (Vec<Value>, Vec<Value>, Vec<Value>) =
        (Vec::new(), Vec::new(), Vec::new());
    for entry in fs::read_dir(bench_root)?.flatten() {
        for (file, results) in [
            (RESULTS_FILE, &mut postqueue),
            (bench_postsuper::RESULTS_FILE, &mut postsuper),
            (bench_qshape::RESULTS_FILE, &mut qshape),
        ] {
            if let Ok(text) = fs::read_to_string(entry.path().join(file)) {
                if let Ok(value) = serde_json::from_str::<Value>(&text) {
                    results.push(value);
                }
            }
        }
    }
    for results in [&mut postqueue, &mut postsuper, &mut qshape] {
        results.sort_by_key(|result| result["size"].as_u64().unwrap_or(0));
    }
    Ok(render(&postqueue, &postsuper, &qshape, &machine()))
}

pub(crate) fn seconds_of(result: &Value, label: &str) -> Option<f64> {
    result["timings"]
        .as_array()?
        .iter()
        .find(|timing| timing["label"] == label)?["median_s"]
        .as_f64()
}

fn render(
    postqueue: &[Value],
    postsuper: &[Value],
    qshape: &[Value],
    machine: &[(String, String)],
) -> String {
    let mut page = String::new();
    page.push_str("# Benchmarks\n\n");
    page.push_str(
        "<!-- Generated by `cargo xtask bench`; rerun it rather than editing by hand. -->\n\n",
    );
    page.push_str(
        "Our `postqueue -p` / `-j`, `postsuper -d/-h/-H/-r ALL` and `qshape` against \
         Postfix's own and against the kernel's floor for the same work, on generated queues. \
         Reproduce with `cargo xtask bench --sizes 100000,1000000` (as root, with Postfix \
         installed); `--only postqueue`, `--only postsuper` or `--only qshape` reruns one part, \
         and the page keeps the other parts' last results (`--render-only` rewrites the page \
         from them).\n\n\
         Queues come from `cargo xtask gen-queue --seed 1` (cached in `target/bench/<size>`): \
         Zipf(1) over 300 recipient domains, 1/2/3/50 recipients (70/18/11.5/0.5%), content \
         2–20 KB log-uniform plus 1% attachments of 30–300 KB, ages over 5 days, 90% deferred \
         (each with a defer log), the rest in hold, active, incoming and maildrop, 0.5% forced \
         to expire, 0.06% still being written.\n\n",
    );
    page.push_str("## Machine\n\n| | |\n|---|---|\n");
    for (key, value) in machine {
        let _ = writeln!(page, "| {key} | {value} |");
    }
    page.push('\n');
    page.push_str(&render_postqueue(postqueue));
    page.push('\n');
    page.push_str(&bench_postsuper::render_section(postsuper));
    page.push('\n');
    page.push_str(&bench_qshape::render_section(qshape));
    page
}

fn render_postqueue(results: &[Value]) -> String {
    let mut page = String::new();
    page.push_str(
        "## postqueue\n\n\
         Our `postqueue -p` / `-j` against Postfix's own (`postqueue` talking to `showq`) and \
         against a read floor.\n\n",
    );
    page.push_str(
        "### Method\n\n\
         - **Ours**: `target/release/postqueue -c ETC -p|-j`, with the default thread count \
         (all cores) and with `POSTQUEUE_THREADS=1`.\n\
         - **Postfix**: `/usr/sbin/postqueue -c ETC -p|-j` against a Postfix master started \
         with `master -c ETC -w` whose master.cf holds only the `showq` service, on the same \
         spool (owned by `postfix`). The time is postqueue's wall time, which includes showq's \
         work: postqueue waits for showq's last line.\n\
         - **Floor**: xtask lists every queue and defer-log directory and `openat` + `read`s \
         every file to the end (1 thread, and all cores), in process. A lister must at least \
         open the queue file and its defer log, so this is the kernel's share of the job.\n\
         - Warm page cache (dropping it would disturb other users of the machine): every \
         measurement has one warm-up run, then the median of 3 runs is reported, with min–max. \
         Wall time of the whole process, start-up included; stdout to /dev/null. Peak RSS is \
         the child's own `ru_maxrss` from wait4(2); for Postfix it is postqueue's, and showq's \
         `VmHWM` is given separately.\n\
         - Correctness: the warm-up runs' outputs are kept and compared byte for byte, ours \
         against Postfix's.\n\
         - Ours is timed while the showq-only master runs, as on a live server; one extra row \
         times it with the master stopped (our postqueue's check for a running showq makes the \
         master start a showq process that scans the queue in parallel until its first write \
         fails).\n\
         - The machine may be shared with other jobs; min–max shows the noise.\n\n",
    );
    if results.is_empty() {
        page.push_str("No postqueue results yet: run `cargo xtask bench --only postqueue`.\n");
        return page;
    }

    page.push_str("### Queues\n\n| queue | messages | recipients | defer-log entries | queue-file MB | files read by the floor | MB read by the floor | generated in |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for result in results {
        let queue = &result["queue"];
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} | {:.0} | {} | {:.0} | {} s |",
            human(result["size"].as_u64().unwrap_or(0)),
            queue["messages"],
            queue["recipients"],
            queue["defer_entries"],
            queue["queue_file_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            result["floor_files"],
            result["floor_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            queue["elapsed_s"].as_str().unwrap_or("?"),
        );
    }

    page.push_str("\n### Results\n\n| queue | measurement | median s | min–max s | runs | peak RSS MB | messages/s |\n|---:|---|---:|---:|---:|---:|---:|\n");
    for result in results {
        let size = result["size"].as_u64().unwrap_or(0);
        for timing in result["timings"].as_array().map_or(&[][..], Vec::as_slice) {
            let median = timing["median_s"].as_f64().unwrap_or(f64::NAN);
            let rss = timing["max_rss_kib"]
                .as_f64()
                .map_or("–".to_string(), |kib| format!("{:.1}", kib / 1024.0));
            let _ = writeln!(
                page,
                "| {} | {} | {:.3} | {:.3}–{:.3} | {} | {} | {:.0} |",
                human(size),
                timing["label"].as_str().unwrap_or("?"),
                median,
                timing["min_s"].as_f64().unwrap_or(f64::NAN),
                timing["max_s"].as_f64().unwrap_or(f64::NAN),
                timing["runs"],
                rss,
                size as f64 / median,
            );
        }
        if let Some(hwm) = result["showq_peak_rss_kib"].as_f64() {
            let _ = writeln!(
                page,
                "| {} | Postfix showq daemon (VmHWM) | | | | {:.1} | |",
                human(size),
                hwm / 1024.0
            );
        }
    }

    let threads = results[0]["threads"].as_u64().unwrap_or(1);
    page.push_str("\n### Ratios\n\n");
    let _ = writeln!(
        page,
        "real/ours > 1 means ours is faster; ours/floor is how far ours is above the floor with \
         the same number of threads ({threads} = all cores).\n"
    );
    page.push_str(
        "| queue | real/ours `-p` | real/ours `-j` | real/ours `-p`, 1 thread | real/ours `-p`, \
         master stopped | ours/floor `-p` | ours/floor `-p`, 1 thread | ours/4 KB floor `-p` | \
         real/4 KB floor (best possible real/ours) |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let floor_all = format!("floor: open+read every file, {threads} thread(s)");
    let floor_one = "floor: open+read every file, 1 thread(s)";
    let floor_4k = format!("floor: open+read first 4 KB, {threads} thread(s)");
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
        _ => "–".to_string(),
    };
    for result in results {
        let get = |label: &str| seconds_of(result, label);
        let real_p = get("Postfix postqueue -p (showq)");
        let ours_p = get("ours postqueue -p");
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            human(result["size"].as_u64().unwrap_or(0)),
            ratio(real_p, ours_p),
            ratio(
                get("Postfix postqueue -j (showq)"),
                get("ours postqueue -j")
            ),
            ratio(real_p, get("ours postqueue -p, POSTQUEUE_THREADS=1")),
            ratio(real_p, get("ours postqueue -p, Postfix master stopped")),
            ratio(ours_p, get(&floor_all)),
            ratio(
                get("ours postqueue -p, POSTQUEUE_THREADS=1"),
                get(floor_one)
            ),
            ratio(ours_p, get(&floor_4k)),
            ratio(real_p, get(&floor_4k)),
        );
    }

    if results
        .iter()
        .any(|result| result["syscalls_per_message"].is_array())
    {
        page.push_str(
            "\n### Where our time goes\n\nSystem calls per message in one run of our \
             `postqueue -p` (all cores, Postfix master stopped) under `strace -c -f`; the most \
             frequent first. The floor needs about 2 `openat`, 2 `read` and 2 `close` per \
             message (queue file and defer log) and nothing else.\n\n| queue | system calls per \
             message |\n|---:|---|\n",
        );
        push_syscall_rows(&mut page, results);
    }

    page.push_str("\n### Output check\n\n| queue | listing | ours vs Postfix |\n|---:|---|---|\n");
    push_check_rows(&mut page, results);

    page.push_str("\n### Verdict\n\n");
    let target = results
        .iter()
        .find(|result| result["size"].as_u64() == Some(1_000_000))
        .or_else(|| results.last());
    if let Some(result) = target {
        let size = result["size"].as_u64().unwrap_or(0);
        let real = seconds_of(result, "Postfix postqueue -p (showq)");
        let ours = seconds_of(result, "ours postqueue -p");
        let caveat = if size == 1_000_000 {
            String::new()
        } else {
            format!(" (measured at {}, not 1M)", human(size))
        };
        match (real, ours) {
            (Some(real), Some(ours)) => {
                let speedup = real / ours;
                let _ = writeln!(
                    page,
                    "Target: ours at least {TARGET_SPEEDUP:.0}× faster than the real postqueue at \
                     1M messages. **{}**: `postqueue -p` {:.2} s vs Postfix {:.2} s = {speedup:.1}×{caveat}.",
                    if speedup >= TARGET_SPEEDUP { "Met" } else { "Not met" },
                    ours,
                    real
                );
                let threads = result["threads"].as_u64().unwrap_or(1);
                if let Some(floor) = seconds_of(
                    result,
                    &format!("floor: open+read first 4 KB, {threads} thread(s)"),
                ) {
                    let _ = writeln!(
                        page,
                        "\nFor scale: on this machine merely opening every queue file and defer \
                         log and reading its first 4 KB takes {floor:.2} s on {threads} threads, \
                         so a lister that opens and reads every one of them cannot be more than \
                         {:.1}× faster than Postfix here.",
                        real / floor
                    );
                }
            }
            _ => page.push_str(
                "Postfix was not measured (not root, or not installed), so there is no verdict.\n",
            ),
        }
    }
    let _ = writeln!(
        page,
        "\nMeasured at commit {} (each size's numbers come from one run; sizes may come from \
         separate runs).",
        results
            .iter()
            .filter_map(|result| result["commit"].as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", "),
    );
    page
}

pub(crate) fn human(size: u64) -> String {
    match size {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The rows of a "system calls per message" table: per size that has a strace profile, its
/// system calls with their counts per message, most frequent first.
pub(crate) fn push_syscall_rows(page: &mut String, results: &[Value]) {
    for result in results {
        let Some(rows) = result["syscalls_per_message"].as_array() else {
            continue;
        };
        let cells: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "{} {:.2}",
                    row["syscall"].as_str().unwrap_or("?"),
                    row["per_message"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        let _ = writeln!(
            page,
            "| {} | {} |",
            human(result["size"].as_u64().unwrap_or(0)),
            cells.join(", ")
        );
    }
}

/// The rows of an output-check table: per size, each comparison made and its verdict.
pub(crate) fn push_check_rows(page: &mut String, results: &[Value]) {
    for result in results {
        for check in result["checks"].as_array().map_or(&[][..], Vec::as_slice) {
            let _ = writeln!(
                page,
                "| {} | {} | {} |",
                human(result["size"].as_u64().unwrap_or(0)),
                check["what"].as_str().unwrap_or("?"),
                check["verdict"].as_str().unwrap_or("?")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_ratios_and_verdict() {
        let result = json!({
            "size": 1_000_000,
            "queue": {"messages": 1_000_000, "recipients": 1_650_000, "defer_entries": 1_500_000,
                      "queue_file_bytes": 9e9, "elapsed_s": "120.0"},
            "threads": 2,
            "floor_files": 1_900_000,
            "floor_bytes": 9e9,
            "timings": [
                {"label": "ours postqueue -p", "median_s": 2.0, "min_s": 1.9, "max_s": 2.1, "runs": 3, "max_rss_kib": 8000},
                {"label": "Postfix postqueue -p (showq)", "median_s": 24.0, "min_s": 23.0, "max_s": 25.0, "runs": 3, "max_rss_kib": 7000},
                {"label": "floor: open+read every file, 2 thread(s)", "median_s": 1.0, "min_s": 1.0, "max_s": 1.0, "runs": 3, "max_rss_kib": null}
            ],
            "checks": [{"what": "postqueue -p", "verdict": "identical (5 bytes)"}],
            "showq_peak_rss_kib": 7200,
            "commit": "abc1234",
        });
        let page = render(&[result], &[], &[], &[("cores (nproc)".into(), "2".into())]);
        assert!(page.contains("| 1M | 12.0× |"), "{page}");
        assert!(page.contains("**Met**"));
        assert!(page.contains("identical (5 bytes)"));
    }

    #[test]
    fn reads_strace_summary() {
        let text = "% time     seconds  usecs/call     calls    errors syscall\n\
                    ------ ----------- ----------- --------- --------- ----------------\n \
                    51.37    9.784932       49418       198         8 futex\n \
                    15.23    2.900606           7    385511           read\n  \
                    9.34    1.778894           8    199960      7222 openat\n\
                    ------ ----------- ----------- --------- --------- ----------------\n\
                    100.00   19.05                    585669      7230 total\n";
        assert_eq!(
            parse_strace_summary(text),
            vec![
                ("read".to_string(), 385_511),
                ("openat".to_string(), 199_960),
                ("futex".to_string(), 198)
            ]
        );
    }

    #[test]
    fn compare_reports_first_difference() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-cmp-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("a"), "one\ntwo\nthree\n")?;
        fs::write(dir.join("b"), "one\ntwo\nthrex\n")?;
        fs::write(dir.join("c"), "one\ntwo\nthree\n")?;
        assert_eq!(
            compare_files(&dir.join("a"), &dir.join("b"))?,
            "DIFFERENT (first difference at byte 12, line 3)"
        );
        assert!(compare_files(&dir.join("a"), &dir.join("c"))?.starts_with("identical"));
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
