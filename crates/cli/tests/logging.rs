//! The log subscriber every command installs: JSON lines on a pipe, the
//! attempt's fields on every line an action logs, secrets redacted, bad
//! settings refused.

use std::process::{Command, Output};

fn orbflow(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orbflow"));
    cmd.args(args).env_remove("RUST_LOG").env_remove("ORBFLOW_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run orbflow")
}

fn workflow(name: &str, yaml: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("orbflow-logging-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, yaml).unwrap();
    p
}

const SECRET: &str = "s3cr3t-Value-42";

const LOGS: &str = r#"schemaVersion: 1
name: logs
steps:
  - key: note
    action: LOG_EVENT
    config:
      level: warn
      message: "calling with {{ secrets.API_TOKEN }} now"
      data: {token: "{{ secrets.API_TOKEN }}", n: 1}
"#;

#[test]
fn an_actions_line_is_json_with_its_attempt_and_no_secret() {
    let wf = workflow("logs.yaml", LOGS);
    let out = orbflow(
        &["run", wf.to_str().unwrap(), "--output", "json"],
        &[("ORBFLOW_SECRET_API_TOKEN", SECRET), ("ORBFLOW_LOG_FORMAT", "json")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(SECRET), "a secret reached the log: {stderr}");
    // `orbflow run` logs warnings by default: the LOG_EVENT line is one
    let lines: Vec<serde_json::Value> = stderr.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let line = lines
        .iter()
        .find(|l| l["message"] == "calling with *** now")
        .unwrap_or_else(|| panic!("no LOG_EVENT line in {stderr}"));
    assert_eq!(line["level"], "WARN");
    let data: serde_json::Value = serde_json::from_str(line["data"].as_str().unwrap()).unwrap();
    assert_eq!(data, serde_json::json!({"token": "***", "n": 1}));
    let span = &line["spans"][0];
    assert_eq!(span["name"], "attempt");
    assert_eq!(span["run_id"], run["id"]);
    assert_eq!(
        (span["step"].as_str(), span["attempt"].as_i64()),
        (Some("note"), Some(1))
    );
    assert_eq!(span["action"], "LOG_EVENT");
    // the run's trace id, as `run … started` announced it
    let trace = span["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace id on {line}"));
    assert_eq!(trace.len(), 32, "{trace}");
    assert!(
        stderr.contains(&format!(", trace {trace})")),
        "the start line names the same trace: {stderr}"
    );
}

#[test]
fn the_filter_and_the_text_format_apply() {
    let wf = workflow("logs-text.yaml", LOGS);
    // errors only: the warning is filtered out
    let out = orbflow(
        &["run", wf.to_str().unwrap()],
        &[("ORBFLOW_SECRET_API_TOKEN", SECRET), ("ORBFLOW_LOG", "error")],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("calling with"));
    // text: a readable line with the attempt's fields
    let out = orbflow(
        &["run", wf.to_str().unwrap()],
        &[("ORBFLOW_SECRET_API_TOKEN", SECRET), ("ORBFLOW_LOG_FORMAT", "text")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("calling with *** now"))
        .unwrap_or_else(|| panic!("no line in {stderr}"));
    assert!(
        line.contains("WARN") && line.contains("step=note") && line.contains("attempt{"),
        "{line}"
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(line).is_err(),
        "text, not JSON"
    );
    assert!(!stderr.contains(SECRET));
}

#[test]
fn bad_log_settings_are_refused_naming_the_variable() {
    for (var, value, says) in [
        (
            "ORBFLOW_LOG_FORMAT",
            "xml",
            "ORBFLOW_LOG_FORMAT: `xml` is not `json` or `text`",
        ),
        ("ORBFLOW_LOG", "a=b=c", "ORBFLOW_LOG: invalid log filter `a=b=c`"),
        ("RUST_LOG", "a=b=c", "RUST_LOG: invalid log filter `a=b=c`"),
    ] {
        let out = orbflow(&["schema"], &[(var, value)]);
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        assert!(out.stdout.is_empty(), "{var}={value}: nothing ran");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{var}={value}: {stderr}");
    }
}

#[test]
fn bad_otel_settings_are_refused_naming_the_variable() {
    let wf = workflow("otel.yaml", LOGS);
    for (env, says) in [
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ][..],
            "OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\"",
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "zipkin")][..],
            "OTEL_TRACES_EXPORTER=\"zipkin\"",
        ),
    ] {
        let out = orbflow(&["run", wf.to_str().unwrap()], env);
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        assert!(out.stdout.is_empty(), "{env:?}: nothing ran");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{env:?}: {stderr}");
    }
}

/// `s` without its ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.clone().next() == Some('[') {
            for c in chars.by_ref().skip(1) {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// On a terminal (a pty, through `script`) the default format is text and
/// every log line first clears the line, so that a status line drawn in
/// place gives way to it.
#[test]
fn on_a_terminal_each_log_line_clears_the_line_first() {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true: this test needs `script` (util-linux)"
        );
        eprintln!("skipped: no `script` to give orbflow a terminal");
        return;
    }
    let wf = workflow("logs-tty.yaml", LOGS);
    let cmd = format!(
        "'{}' run '{}' --output json",
        env!("CARGO_BIN_EXE_orbflow"),
        wf.to_str().unwrap()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("RUST_LOG")
        .env_remove("ORBFLOW_LOG")
        .env_remove("ORBFLOW_LOG_FORMAT")
        .env("ORBFLOW_SECRET_API_TOKEN", SECRET)
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("orbflow run on a terminal did not exit");
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(!tty.contains(SECRET), "a secret reached the log: {tty:?}");
    let at = tty
        .find("calling with *** now")
        .unwrap_or_else(|| panic!("no log line on the terminal: {tty:?}"));
    // the line the log writes: from its clearing sequence to the message
    let clear = tty[..at]
        .rfind("\r\x1b[2K")
        .unwrap_or_else(|| panic!("the log line does not clear the line: {tty:?}"));
    let line = strip_ansi(&tty[clear + 5..at]);
    assert!(!line.contains(['\r', '\n']), "{line:?} in {tty:?}");
    // text, not JSON: a timestamp first, then the level
    assert!(line.starts_with("20") && line.contains("WARN"), "{line:?} in {tty:?}");
}
