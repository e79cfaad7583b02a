//! `orbflow dev` as a newcomer uses it: one process on SQLite serving the
//! API, with the token it prints, the CLI client pushing and publishing a
//! workflow, and its scheduler firing the workflow's cron trigger.

use std::process::Command;
use std::time::{Duration, Instant};

mod peers;

use peers::{free_port, start_dev};
use serde_json::Value;

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
        let (code, page, e) = client(&["runs", "list", "--workflow", "tick", "--status", "COMPLETED"]);
        assert_eq!(code, Some(0), "{e}");
        fired = page["items"].as_array().and_then(|a| a.first().cloned());
        assert!(start.elapsed() < Duration::from_secs(30), "no scheduled run completed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = fired.unwrap();
    assert_eq!(run["triggerType"], "schedule");
    assert_eq!(run["output"]["t"], "schedule");
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
    let (code, tokens, e) = client(&["runs", "list", "--workflow", "tick", "--limit", "1"]);
    assert_eq!(code, Some(0), "the kept token still works: {e} {tokens}");
    let _ = Command::new("kill").args(["-TERM", &again.id().to_string()]).status();
    assert!(again.wait().unwrap().success());
    // a token that no longer validates (another database) is replaced
    let other = dir.join("other.db");
    std::fs::copy(&kept, dir.join("other.db.token")).unwrap();
    let (mut third, seen, fresh) = start_dev(&other, free_port(), &[]);
    assert_ne!(fresh, token);
    assert!(seen.contains("kept in"), "{seen}");
    let _ = Command::new("kill").args(["-TERM", &third.id().to_string()]).status();
    assert!(third.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}
