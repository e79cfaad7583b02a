//! `orbflow dev` as a newcomer uses it: one process on SQLite serving the
//! API, with the token it prints, the CLI client pushing and publishing a
//! workflow, and its scheduler firing the workflow's cron trigger.

use std::process::Command;
use std::time::{Duration, Instant};

use orbflow_testkit::daemon::{free_port, start_dev};
use serde_json::Value;

/// What the client printed: exit code, stdout, stderr.
type Printed = (Option<i32>, String, String);

/// The CLI client against `orbflow dev` on `port`: (exit code, stdout, stderr).
fn client_text(port: u16, token: &str) -> impl Fn(&[&str]) -> Printed {
    let token = token.to_owned();
    move |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
            .args(args)
            .env("ORBFLOW_API_URL", format!("http://127.0.0.1:{port}"))
            .env("ORBFLOW_TOKEN", &token)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// `runs get` prints the steps in the order they started (not by name);
/// `runs list` a table, its `--status` in any case.
fn timeline_and_table(dir: &std::path::Path, client: &dyn Fn(&[&str]) -> Printed) {
    let file = dir.join("chain.yaml");
    std::fs::write(
        &file,
        "schemaVersion: 1\nname: chain\nsteps:\n  - { key: zeta, action: DELAY, config: { duration: 50ms } }\n  - { key: alpha, action: DELAY, config: { duration: 50ms } }\n  - { key: mid, action: TRANSFORM, config: { value: 1 } }\n",
    )
    .unwrap();
    assert_eq!(client(&["workflows", "push", &file.to_string_lossy()]).0, Some(0));
    assert_eq!(client(&["workflows", "publish", "chain"]).0, Some(0));
    let (code, out, e) = client(&["runs", "start", "chain", "--wait"]);
    assert_eq!(code, Some(0), "{e}");
    let run: Value = serde_json::from_str(&out).unwrap();
    let id = run["id"].as_str().unwrap();
    let (code, text, e) = client(&["runs", "get", id]);
    assert_eq!(code, Some(0), "{e}");
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("STEP"))
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(rows, ["zeta", "alpha", "mid"], "{text}");
    assert!(text.starts_with(&format!("run {id} COMPLETED in ")), "{text}");
    let (code, json, _) = client(&["runs", "get", id, "--output", "json"]);
    assert_eq!(code, Some(0));
    let record: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(record["stepExecutions"]["mid"]["status"], "COMPLETED");
    let (code, table, e) = client(&[
        "runs",
        "list",
        "--workflow",
        "chain",
        "--status",
        "completed",
        "--since",
        "1h",
    ]);
    assert_eq!(code, Some(0), "{e}");
    assert!(table.starts_with("ID"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(" chain ") && row.contains(" COMPLETED "), "{row}");
    let (code, table, _) = client(&["runs", "list", "--workflow", "chain", "--until", "1h"]);
    assert_eq!(code, Some(0));
    assert!(!table.contains(id), "created within the hour: {table}");
    let (code, _, e) = client(&["runs", "list", "--status", "done"]);
    assert_eq!(code, Some(2), "{e}");
    // the trigger type, in any case, as the API filters it
    let (code, table, e) = client(&["runs", "list", "--workflow", "chain", "--trigger-type", "Manual"]);
    assert_eq!(code, Some(0), "{e}");
    assert!(table.contains(id), "started by hand: {table}");
    let (code, table, e) = client(&["runs", "list", "--workflow", "chain", "--trigger-type", "webhook"]);
    assert_eq!(code, Some(0), "{e}");
    assert!(!table.contains(id), "not by a webhook: {table}");
    let (code, _, e) = client(&["runs", "list", "--trigger-type", "cron"]);
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("`cron` is not a trigger type (manual, schedule, webhook, event)"),
        "{e}"
    );
}

#[test]
fn dev_serves_the_api_and_fires_schedules() {
    let dir = std::env::temp_dir().join(format!("orbflow-dev-api-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let db = dir.join("o.db");
    let (mut dev, seen, token) = start_dev(&db, port, &[]);
    assert!(seen.contains(&format!("kept in {}.token", db.display())), "{seen}");
    let client = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
            .args(args)
            .env("ORBFLOW_API_URL", format!("http://127.0.0.1:{port}"))
            .env("ORBFLOW_TOKEN", &token)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), v, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let file = dir.join("tick.yaml");
    std::fs::write(
        &file,
        "schemaVersion: 1\nname: tick\ntriggers:\n  - { type: schedule, cron: \"* * * * * *\" }\nsteps:\n  - { key: t, action: TRANSFORM, config: { value: \"{{ trigger.type }}\" } }\n",
    )
    .unwrap();
    let (code, _, e) = client(&["workflows", "push", &file.to_string_lossy()]);
    assert_eq!(code, Some(0), "{e}");
    let (code, v, e) = client(&["workflows", "publish", "tick"]);
    assert_eq!((code, v["number"].as_i64()), (Some(0), Some(1)), "{e}");
    // the scheduler inside dev fires the per-second trigger
    let mut fired = None;
    let start = Instant::now();
    while fired.is_none() {
        let (code, page, e) = client(&[
            "runs",
            "list",
            "--workflow",
            "tick",
            "--status",
            "COMPLETED",
            "--output",
            "json",
        ]);
        assert_eq!(code, Some(0), "{e}");
        fired = page["items"].as_array().and_then(|a| a.first().cloned());
        assert!(start.elapsed() < Duration::from_secs(30), "no scheduled run completed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = fired.unwrap();
    assert_eq!(run["triggerType"], "schedule");
    assert_eq!(run["output"]["t"], "schedule");
    timeline_and_table(&dir, &client_text(port, &token));
    let _ = Command::new("kill").args(["-TERM", &dev.id().to_string()]).status();
    let status = dev.wait().unwrap();
    assert!(status.success());
    // the token is kept beside the database, for its owner only
    let kept = dir.join("o.db.token");
    assert_eq!(std::fs::read_to_string(&kept).unwrap().trim(), token);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // a restart reuses it: no second never-expiring token
    let (mut again, seen, second) = start_dev(&db, port, &[]);
    assert_eq!(second, token, "{seen}");
    assert!(seen.contains("reused from"), "{seen}");
    let (code, tokens, e) = client(&["runs", "list", "--workflow", "tick", "--limit", "1", "--output", "json"]);
    assert_eq!(code, Some(0), "the kept token still works: {e} {tokens}");
    let _ = Command::new("kill").args(["-TERM", &again.id().to_string()]).status();
    let status = again.wait().unwrap();
    assert!(status.success(), "{status:?}: {seen}");
    // a token that no longer validates (another database) is replaced
    let other = dir.join("other.db");
    std::fs::copy(&kept, dir.join("other.db.token")).unwrap();
    let (mut third, seen, fresh) = start_dev(&other, free_port(), &[]);
    assert_ne!(fresh, token);
    assert!(seen.contains("kept in"), "{seen}");
    let _ = Command::new("kill").args(["-TERM", &third.id().to_string()]).status();
    let status = third.wait().unwrap();
    assert!(status.success(), "{status:?}: {seen}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM right after `orbflow dev` says it is up is a graceful stop: the
/// handlers are installed before the start-up lines (they used to be
/// installed on the first poll, after them, and a quick SIGTERM killed it).
#[test]
fn a_sigterm_right_after_start_up_stops_dev_gracefully() {
    let dir = std::env::temp_dir().join(format!("orbflow-sigterm-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for n in 0..5 {
        let (mut dev, seen, _) = start_dev(&dir.join(format!("{n}.db")), free_port(), &[]);
        let _ = Command::new("kill").args(["-TERM", &dev.id().to_string()]).status();
        let status = dev.wait().unwrap();
        assert!(status.success(), "start {n}: {status:?}\n{seen}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
