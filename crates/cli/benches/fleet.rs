//! `just bench` = `cargo bench -p orbflow-cli --bench fleet`: the acceptance
//! benchmark of issue 10 (docs/BENCHMARKS.md). In one run, on this machine,
//! each workload runs on
//!
//! - the embedded default (engine and worker in this process, SQLite file);
//! - the fleet: 1, 2 and 4 release-built `orbflow worker --concurrency 8`
//!   processes on the machine's Postgres and Redis (ORBFLOW_TEST_DATABASE_URL,
//!   ORBFLOW_TEST_REDIS_URL; a fresh schema and key prefix per workload);
//! - BullMQ (`bench/bullmq/bench.mjs`) with 1, 2 and 4 `Worker`s, on a
//!   `redis-server` of its own started here;
//!
//! then SQL statements per step (SeaORM's metric callback, an in-process
//! engine over Postgres) and the machine's own limits (pgbench,
//! redis-benchmark). TRIGGER_WEBHOOK steps (and BullMQ's processor) call an
//! HTTP peer on 127.0.0.1. Progress goes to stderr; the final markdown tables,
//! with each orbflow figure's ratio to BullMQ's, to stdout.
//!
//! Environment: `ORBFLOW_BENCH` (comma-separated workload names or their first
//! dash-separated parts, e.g. `chain,loop`, plus `sql` and `limits`; default
//! everything), `ORBFLOW_BENCH_WORKERS` (default
//! `1,2,4`), `ORBFLOW_BENCH_TIMEOUT_SECS` (per workload and setup, default 240).

#[path = "../../worker/benches/support/mod.rs"]
mod support;

mod acceptance;

use std::time::{Duration, Instant};

use acceptance::bullmq::{self, BullCase, BullRedis};
use acceptance::fleet_run::{self, FleetCase};
use acceptance::report::{self, Row, Setup};
use acceptance::sql_count;
use orbflow_testkit::TestDb;
use support::inproc::{self, InProc};
use support::workloads::{self, Workload};

/// What to run, and against what.
#[derive(Debug)]
struct Config {
    db: String,
    redis: String,
    selection: Vec<String>,
    workers: Vec<usize>,
    timeout: Duration,
}

impl Config {
    fn from_env() -> Option<Self> {
        let db = std::env::var("ORBFLOW_TEST_DATABASE_URL").ok()?;
        let redis = std::env::var("ORBFLOW_TEST_REDIS_URL").ok()?;
        let workers = std::env::var("ORBFLOW_BENCH_WORKERS")
            .unwrap_or_else(|_| "1,2,4".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        Some(Self {
            db,
            redis,
            selection: workloads::selection(),
            workers,
            timeout: workloads::timeout(),
        })
    }

    fn selected(&self, name: &str) -> bool {
        workloads::selected(&self.selection, name)
    }
}

/// What every workload needs.
struct Ctx<'a> {
    config: &'a Config,
    rt: &'a tokio::runtime::Runtime,
    peer: &'a str,
    bull: &'a BullRedis,
}

/// One workload on every setup, BullMQ right after the fleet of the same size.
fn run_workload(ctx: &Ctx<'_>, workload: &Workload) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut push = |setup, outcome| {
        let row = Row {
            workload: workload.name.clone(),
            setup,
            outcome,
        };
        eprintln!("{}", report::progress(&row));
        rows.push(row);
    };
    let db = TestDb::sqlite();
    let embedded = InProc {
        url: &db.url,
        concurrency: 8,
        timeout: ctx.config.timeout,
        sql: None,
    };
    push(Setup::Embedded, ctx.rt.block_on(inproc::run(workload, &embedded)));
    for &workers in &ctx.config.workers {
        let fleet = FleetCase {
            workload,
            workers,
            redis: &ctx.config.redis,
            timeout: ctx.config.timeout,
        };
        push(Setup::Fleet(workers), ctx.rt.block_on(fleet_run::run(&fleet)));
        let bull = BullCase {
            workload: &workload.name,
            workers,
            redis: &ctx.bull.url,
            peer: ctx.peer,
            timeout: ctx.config.timeout,
        };
        push(Setup::BullMq(workers), bullmq::run(&bull));
    }
    rows
}

/// A line of `cmd`'s output, or `?`.
fn output_of(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn bullmq_version() -> String {
    std::fs::read_to_string(bullmq::dir().join("node_modules/bullmq/package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let Some(config) = Config::from_env() else {
        println!("skipped: the fleet bench needs ORBFLOW_TEST_DATABASE_URL and ORBFLOW_TEST_REDIS_URL");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let load_before = load_average();
    let peer = orbflow_testkit::peer::keep_alive_peer();
    let peer_url = format!("{}/hook", peer.base());
    let bull = BullRedis::start(&config.redis);
    eprintln!("BullMQ on {}; HTTP peer {}", bull.note, peer_url);
    let ctx = Ctx {
        config: &config,
        rt: &rt,
        peer: &peer_url,
        bull: &bull,
    };
    let mut rows = Vec::new();
    for w in workloads::acceptance(&peer_url) {
        if config.selected(&w.name) {
            rows.extend(run_workload(&ctx, &w));
        }
    }
    let sql: Vec<sql_count::SqlFigures> = if config.selected("sql") {
        workloads::acceptance(&peer_url)
            .iter()
            .filter(|w| !w.name.starts_with("loop"))
            .map(|w| rt.block_on(sql_count::count(w, config.timeout)))
            .collect()
    } else {
        Vec::new()
    };
    let limits = if config.selected("limits") {
        acceptance::limits::measure(&config.db, &config.redis)
    } else {
        Vec::new()
    };
    let bull_redis = bull.note.clone();
    drop(bull);

    println!(
        "\n## orbflow vs BullMQ, {} (commit {}, {} cores)\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        output_of("git", &["rev-parse", "--short", "HEAD"]),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "BullMQ {} on node {}, Redis: {bull_redis}. orbflow / BullMQ is steps/s over BullMQ's steps/s with as many workers \
         (embedded: 1). Load average {load_before} at the start, {} at the end.\n",
        bullmq_version(),
        output_of("node", &["--version"]),
        load_average()
    );
    println!("{}", report::figures(&rows));
    if !sql.is_empty() {
        println!("SQL statements per step (in-process engine over Postgres, 8 worker tasks):\n");
        println!("{}", report::sql(&sql));
    }
    for l in &limits {
        println!("- {l}");
    }
    println!(
        "\nHTTP peer requests: {}. Total time: {:.0} s.",
        peer.requests.load(std::sync::atomic::Ordering::Relaxed),
        t.elapsed().as_secs_f64()
    );
}
