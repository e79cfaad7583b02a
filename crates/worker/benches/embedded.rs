//! `cargo bench -p orbflow-worker --bench embedded`: steps per second on the
//! embedded default (SQLite file, WAL, synchronous=NORMAL, in-process
//! worker) for a sequential chain at two sizes, a fan-out + join and loops,
//! with the ready-to-start latency (a step's `queued_at` → `started_at`) and
//! the step-to-step latency (its predecessor's `ended_at` → its
//! `started_at`), median and p99. `--quick` leaves loop-10000 out;
//! `ORBFLOW_BENCH=chain,loop-1000` selects workloads (a name, or its first
//! dash-separated parts). (`just bench`
//! runs the acceptance bench, `crates/cli/benches/fleet.rs`, which runs the
//! embedded default too, next to the fleet and BullMQ.)

#[allow(dead_code)] // shared with crates/cli/benches/fleet.rs, which uses all of it
mod support;

use orbflow_testkit::TestDb;
use support::inproc::{self, InProc};
use support::stats::Outcome;
use support::workloads::{self, Shape, Workload};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let case = |name: &str, shape, yaml| Workload {
        name: name.to_owned(),
        shape,
        yaml,
        runs: 1,
    };
    let mut cases = vec![
        (case("chain-100", Shape::Chain, workloads::chain(100)), 1),
        (case("chain-1000", Shape::Chain, workloads::chain(1000)), 1),
        (case("fan-out-1000+join", Shape::Fan, workloads::fan(1000)), 8),
        (case("loop-1000", Shape::Loop, workloads::looped(1000)), 8),
    ];
    if !quick {
        cases.push((case("loop-10000", Shape::Loop, workloads::looped(10_000)), 8));
    }
    let selection = workloads::selection();
    println!(
        "{:<20} {:>7} {:>9} {:>10} {:>19} {:>19}",
        "workload", "steps", "seconds", "steps/s", "ready p50/p99 ms", "step p50/p99 ms"
    );
    for (w, concurrency) in cases {
        if !workloads::selected(&selection, &w.name) {
            continue;
        }
        let db = TestDb::sqlite();
        let setup = InProc {
            url: &db.url,
            concurrency,
            timeout: workloads::timeout(),
            sql: None,
        };
        match rt.block_on(inproc::run(&w, &setup)) {
            Outcome::Done(f) => println!(
                "{:<20} {:>7} {:>9.3} {:>10.0} {:>9.3}/{:<9.3} {:>9.3}/{:<9.3}",
                w.name,
                f.steps,
                f.secs,
                f.steps_per_sec(),
                f.ready.p50,
                f.ready.p99,
                f.step_to_step.p50,
                f.step_to_step.p99
            ),
            Outcome::Timeout => println!("{:<20} timeout", w.name),
            Outcome::Failed(e) => println!("{:<20} failed: {e}", w.name),
        }
    }
}
