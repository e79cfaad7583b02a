//! What `orbflow run` shows on stderr with stderr piped: one line per
//! notable transition in the order it happened (no line per plain
//! completion), `--verbose`'s run log, the summary and a readable run error;
//! stdout stays the run record with `--output json`.

use std::path::PathBuf;
use std::process::{Command, Output};

use orbflow_testkit::peer::scripted_server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn orbflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args(args)
        .current_dir(root())
        .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
        .env_remove("RUST_LOG")
        .env_remove("ORBFLOW_LOG")
        .output()
        .expect("run orbflow")
}

fn write_tmp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orbflow-run-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `fetch` answers 503 twice then 200 (3 attempts, 150 ms apart); `notify`
/// fails with `onError: continue`; `check` then takes its else branch, so
/// `sent` is SKIPPED; `tail` is a plain completion.
fn mixed(port: u16) -> String {
    format!(
        r#"schemaVersion: 1
name: mixed
steps:
  - key: fetch
    action: TRIGGER_WEBHOOK
    config: {{url: "http://127.0.0.1:{port}/x"}}
    retry: {{maxAttempts: 3, backoff: fixed, initialInterval: 150ms, jitter: false}}
  - key: notify
    action: SEND_EMAIL
    config: {{to: a@example.com, subject: s, body: b}}
    onError: continue
  - key: check
    type: condition
    if: "steps.notify.status == 'COMPLETED'"
    then:
      - {{key: sent, action: TRANSFORM, config: {{value: 1}}}}
    else:
      - {{key: unsent, action: LOG_EVENT, config: {{message: "not sent, noted", level: info}}}}
  - key: tail
    action: TRANSFORM
    config: {{value: 2}}
"#
    )
}

fn busy_server() -> u16 {
    scripted_server(vec![
        (503, "", "busy"),
        (503, "", "busy"),
        (200, "content-type: application/json\r\n", "{}"),
    ])
    .0
}

/// The lines of `err` holding `needle`, by position.
fn position(err: &str, needle: &str) -> usize {
    err.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{err}"))
}

#[test]
fn piped_stderr_has_the_notable_transitions_in_order_and_a_summary() {
    let wf = write_tmp("mixed.yaml", &mixed(busy_server()));
    let o = orbflow(&["run", &wf.to_string_lossy()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // the transitions, in the order they happened
    let retry1 = position(&err, "fetch RETRYING after attempt 1/3 failed");
    let retry2 = position(&err, "fetch RETRYING after attempt 2/3 failed");
    let done = position(&err, "fetch COMPLETED after 3 attempts");
    let failed = position(&err, "notify FAILED (continued): ");
    let skipped = position(&err, "sent SKIPPED");
    let summary = position(&err, "COMPLETED in ");
    assert!(
        retry1 < retry2 && retry2 < done && done < failed && failed < skipped && skipped < summary,
        "out of order:\n{err}"
    );
    assert!(
        err.lines().nth(retry1).unwrap().contains("503"),
        "the retry says why:\n{err}"
    );
    // each once, and no line for a plain completion
    assert_eq!(err.matches("RETRYING").count(), 2, "{err}");
    assert_eq!(err.matches("sent SKIPPED").count(), 1, "{err}");
    for plain in ["tail", "unsent", "check"] {
        assert!(
            !err.lines().any(|l| l.contains(&format!(" {plain} COMPLETED"))),
            "{plain}: a plain completion has no line:\n{err}"
        );
    }
    // the summary: counts, the continued failure's reason, the slowest steps
    assert!(
        err.contains("steps: 4 completed, 1 failed (continued), 1 skipped"),
        "{err}"
    );
    let reason = err
        .lines()
        .find(|l| l.trim_start().starts_with("failed (continued): notify"))
        .unwrap_or_else(|| panic!("no reason line:\n{err}"));
    assert!(reason.len() > "  failed (continued): notify: ".len() + 5, "{reason}");
    assert!(!reason.contains("{\""), "a reason in words: {reason}");
    let slowest = err
        .lines()
        .find(|l| l.trim_start().starts_with("slowest: "))
        .unwrap_or_else(|| panic!("no slowest line:\n{err}"));
    // fetch spans two 150 ms waits: the slowest by far
    assert!(slowest.trim_start().starts_with("slowest: fetch 0."), "{slowest}");
    assert_eq!(slowest.matches("s,").count(), 2, "three steps: {slowest}");
}

#[test]
fn a_failed_run_says_which_step_and_why_in_words() {
    let p = write_tmp(
        "doomed.yaml",
        "schemaVersion: 1\nname: doomed\nsteps:\n  - {key: mail, action: SEND_EMAIL, config: {to: a@example.com, subject: s, body: b}}\n  - {key: after, action: TRANSFORM, config: {value: 1}}\n",
    );
    for extra in [&[][..], &["--output", "json"][..]] {
        let mut args = vec!["run", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = orbflow(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let verdict = err
            .lines()
            .find(|l| l.starts_with("run FAILED: "))
            .unwrap_or_else(|| panic!("no verdict:\n{err}"));
        assert!(verdict.starts_with("run FAILED: step `mail` failed: "), "{verdict}");
        let record: serde_json::Value = if extra.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&o.stdout).unwrap()
        };
        if !record.is_null() {
            let message = record["steps"]["mail"]["error"]["message"].as_str().unwrap();
            assert!(verdict.ends_with(message), "{verdict} / {message}");
        }
        assert!(!err.contains("{\"message\""), "no raw JSON on stderr:\n{err}");
        assert!(err.contains("mail FAILED: "), "{err}");
        assert!(err.contains("after CANCELLED"), "{err}");
        assert!(err.contains("steps: 1 failed, 1 cancelled"), "{err}");
    }
}

#[test]
fn verbose_streams_the_run_log() {
    let wf = write_tmp("verbose.yaml", &mixed(busy_server()));
    let o = orbflow(&["run", &wf.to_string_lossy(), "-v"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for needle in [
        "INFO  fetch#1: step started (TRIGGER_WEBHOOK, attempt 1)",
        "WARN  fetch#1: attempt 1 failed, retrying in 150ms",
        "INFO  fetch#3: step started (TRIGGER_WEBHOOK, attempt 3)",
        "INFO  unsent#1: not sent, noted",
        "ERROR notify#1: step failed: ",
        "sent SKIPPED",
        "INFO  tail#1: step completed",
    ] {
        assert!(err.contains(needle), "{needle:?} missing:\n{err}");
    }
    // each with its time offset, in order
    let started = position(&err, "fetch#1: step started");
    let third = position(&err, "fetch#3: step started");
    let noted = position(&err, "unsent#1: not sent, noted");
    assert!(started < third && third < noted, "{err}");
    assert!(err.lines().nth(noted).unwrap().trim_start().starts_with('+'), "{err}");
}

#[test]
fn output_json_keeps_stdout_the_run_record() {
    let wf = write_tmp("json.yaml", &mixed(busy_server()));
    let o = orbflow(&["run", &wf.to_string_lossy(), "--output", "json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is exactly the run record");
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "id", "output", "status", "steps"]);
    assert_eq!(r["status"], "COMPLETED");
    assert_eq!(r["steps"]["fetch"]["attempts"], 3);
    assert_eq!(r["steps"]["notify"]["status"], "FAILED");
    assert_eq!(r["steps"]["sent"]["status"], "SKIPPED");
    for (k, s) in r["steps"].as_object().unwrap() {
        let mut f: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        f.sort_unstable();
        assert_eq!(f, ["attempts", "error", "output", "status"], "{k}");
    }
    // the summary still goes to stderr
    assert!(err.contains("steps: 4 completed"), "{err}");
}
