//! The command-line contract of DESIGN.md §6, against the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use orbflow_testkit::peer::hanging_server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn orbflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run orbflow")
}

fn orbflow_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn orbflow");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn examples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| format!("examples/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    v.sort();
    v
}

fn write_tmp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orbflow-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn every_example_validates() {
    let ex = examples();
    assert!(ex.len() >= 5);
    let mut args = vec!["validate"];
    args.extend(ex.iter().map(String::as_str));
    let o = orbflow(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "validate prints no data on success");
    for e in &ex {
        assert!(stderr(&o).contains(&format!("{e}: valid")), "{}", stderr(&o));
    }
}

#[test]
fn a_directory_stands_for_its_workflow_files() {
    let o = orbflow(&["validate", "examples"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for e in examples() {
        assert!(stderr(&o).contains(&format!("{e}: valid")), "{e}: {}", stderr(&o));
    }
    // a bad file in a directory fails it; other files there are not read
    let dir = std::env::temp_dir().join(format!("orbflow-validate-dir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("b.yml"), BAD).unwrap();
    std::fs::write(
        dir.join("a.json"),
        r#"{"schemaVersion": 1, "name": "a", "steps": [{"key": "x", "action": "TRANSFORM", "config": {"value": 1}}]}"#,
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a workflow").unwrap();
    let o = orbflow(&["validate", &dir.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let a = err.find("a.json: valid").unwrap_or_else(|| panic!("{err}"));
    let b = err
        .find("b.yml:5:13: steps[0].action")
        .unwrap_or_else(|| panic!("{err}"));
    assert!(a < b, "name order: {err}");
    assert!(!err.contains("notes.txt"), "{err}");
    // a directory without workflows is an error, not a silent success
    let o = orbflow(&["validate", &dir.join("sub").to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no workflow files"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

const BAD: &str = "schemaVersion: 1\nname: bad\nsteps:\n  - key: a\n    action: TRANSFROM\n    dependson: []\n  - key: b\n    dependsOn: [zz]\n    action: TRANSFORM\n    config: { value: 1 }\n";

#[test]
fn invalid_files_exit_2_with_one_located_error_per_line() {
    let p = write_tmp("bad.yaml", BAD);
    let file = p.to_string_lossy().into_owned();
    let o = orbflow(&["validate", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    let lines: Vec<String> = stderr(&o).lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            format!("{file}:5:13: steps[0].action: unknown action `TRANSFROM` (did you mean `TRANSFORM`?)"),
            format!("{file}:6:5: steps[0].dependson: unknown field `dependson` (did you mean `dependsOn`?)"),
            format!("{file}:8:17: steps[1].dependsOn[0]: no step has key `zz`"),
        ]
    );
}

#[test]
fn json_format_lists_every_error() {
    let p = write_tmp("bad-json.yaml", BAD);
    let o = orbflow(&["validate", "--format", "json", &p.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stdout is JSON");
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["path"], "steps[0].action");
    assert_eq!(arr[0]["line"], 5);
    assert_eq!(arr[0]["column"], 13);
    assert_eq!(arr[0]["code"], "unknown-action");
    assert_eq!(arr[2]["code"], "unknown-dependency");
    for e in arr {
        for k in ["path", "line", "column", "code", "message"] {
            assert!(e.get(k).is_some(), "{k} missing in {e}");
        }
    }
}

#[test]
fn one_bad_file_among_good_ones_fails_the_command() {
    let p = write_tmp("bad2.yaml", BAD);
    let o = orbflow(&["validate", "examples/hello.yaml", &p.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("examples/hello.yaml: valid"));
}

#[test]
fn missing_files_and_future_versions_are_clear_errors() {
    let o = orbflow(&["validate", "does/not/exist.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("does/not/exist.yaml:1:1: (root): cannot read file"),
        "{}",
        stderr(&o)
    );
    let p = write_tmp("v9.yaml", "schemaVersion: 9\nname: x\nsteps: []\n");
    let o = orbflow(&["validate", &p.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(":1:16: schemaVersion: schemaVersion 9 is not supported"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn malformed_inputs_never_crash_the_validator() {
    let corpus = root().join("crates/model/tests/fuzz-corpus");
    for entry in std::fs::read_dir(corpus).unwrap() {
        let path = entry.unwrap().path();
        let o = orbflow(&["validate", &path.to_string_lossy()]);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0 | 2)),
            "{}: exit {code:?}\n{}",
            path.display(),
            stderr(&o)
        );
    }
}

#[test]
fn fmt_yaml_json_yaml_is_lossless() {
    for ex in examples() {
        let yaml = orbflow(&["fmt", &ex, "--to", "yaml"]);
        assert_eq!(yaml.status.code(), Some(0), "{ex}: {}", stderr(&yaml));
        let json = orbflow(&["fmt", &ex, "--to", "json"]);
        assert_eq!(json.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("fmt --to json prints JSON");
        assert_eq!(v["schemaVersion"], 1);
        let p = write_tmp(
            &format!("{}.json", Path::new(&ex).file_stem().unwrap().to_string_lossy()),
            &stdout(&json),
        );
        let back = orbflow(&["fmt", &p.to_string_lossy(), "--to", "yaml"]);
        assert_eq!(
            stdout(&back),
            stdout(&yaml),
            "{ex}: YAML -> JSON -> YAML changed the document"
        );
        // canonical YAML is a fixed point
        let again = orbflow_stdin(&["fmt", "-", "--to", "yaml"], &stdout(&yaml));
        assert_eq!(stdout(&again), stdout(&yaml));
    }
}

#[test]
fn fmt_keeps_ui_through_yaml_json_yaml() {
    let yaml = r##"schemaVersion: 1
name: canvas
ui: { zoom: 1.5, viewport: { y: 12, x: -40 } }
steps:
  - key: first
    action: TRANSFORM
    config: { value: 1 }
    ui: { position: { x: 10, y: 20 }, colour: "#ff0000", notes: [ "a", { b: null } ] }
  - key: check
    type: condition
    if: "steps.first.output == 1"
    ui: { note: "if/else" }
    then:
      - { key: yes_branch, action: TRANSFORM, config: { value: 1 }, ui: { lane: 1 } }
  - key: each
    type: loop
    forEach: "[1, 2]"
    ui: { size: { w: 400, h: 200 } }
    steps:
      - { key: double, action: TRANSFORM, config: { value: "{{ item * 2 }}" }, ui: { zeta: 1, alpha: 2 } }
"##;
    let src = write_tmp("canvas-ui.yaml", yaml);
    let valid = orbflow(&["validate", &src.to_string_lossy()]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    let json = orbflow(&["fmt", &src.to_string_lossy(), "--to", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("fmt --to json prints JSON");
    assert_eq!(
        v["ui"],
        serde_json::json!({ "zoom": 1.5, "viewport": { "y": 12, "x": -40 } })
    );
    assert_eq!(
        v["steps"][0]["ui"],
        serde_json::json!({ "position": { "x": 10, "y": 20 }, "colour": "#ff0000", "notes": ["a", { "b": null }] })
    );
    assert_eq!(v["steps"][1]["ui"], serde_json::json!({ "note": "if/else" }));
    assert_eq!(v["steps"][1]["then"][0]["ui"], serde_json::json!({ "lane": 1 }));
    assert_eq!(
        v["steps"][2]["ui"],
        serde_json::json!({ "size": { "w": 400, "h": 200 } })
    );
    // key order inside `ui` is kept as written
    let compact = serde_json::to_string(&v["steps"][2]["steps"][0]["ui"]).unwrap();
    assert_eq!(compact, r#"{"zeta":1,"alpha":2}"#);
    assert_eq!(
        serde_json::to_string(&v["ui"]["viewport"]).unwrap(),
        r#"{"y":12,"x":-40}"#
    );
    // YAML -> JSON -> YAML is lossless, `ui` included
    let direct = orbflow(&["fmt", &src.to_string_lossy(), "--to", "yaml"]);
    assert_eq!(direct.status.code(), Some(0), "{}", stderr(&direct));
    assert!(stdout(&direct).contains("ui:"), "{}", stdout(&direct));
    let p = write_tmp("canvas-ui.json", &stdout(&json));
    let back = orbflow(&["fmt", &p.to_string_lossy(), "--to", "yaml"]);
    assert_eq!(back.status.code(), Some(0), "{}", stderr(&back));
    assert_eq!(
        stdout(&back),
        stdout(&direct),
        "YAML -> JSON -> YAML changed the document"
    );
    let again = orbflow_stdin(&["fmt", "-", "--to", "json"], &stdout(&back));
    assert_eq!(stdout(&again), stdout(&json));
}

#[test]
fn fmt_rejects_malformed_input() {
    let o = orbflow_stdin(&["fmt", "-"], "schemaVersion: 1\nname: [\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("-:"), "{}", stderr(&o));
}

#[test]
fn schema_is_the_generated_one() {
    let o = orbflow(&["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let docs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/workflow.schema.json")).unwrap()).unwrap();
    assert_eq!(printed, docs);
    assert_eq!(printed["properties"]["schemaVersion"]["const"], 1);
}

#[test]
fn actions_lists_the_catalog() {
    let o = orbflow(&["actions"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 17, "header + 16 actions:\n{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("TRIGGER_WEBHOOK") && l.contains("ready") && l.contains("http:request"))
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("GENERATE_CONTENT") && l.contains("ready") && l.contains("ai:generate"))
    );
    let o = orbflow(&["actions", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 16);
    for a in arr {
        assert_eq!(a["configSchema"]["type"], "object", "{}", a["name"]);
        assert!(a["category"].is_string() && a["example"].is_object());
    }
}

#[test]
fn completions_cover_every_subcommand() {
    let o = orbflow(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bash = stdout(&o);
    assert!(bash.contains("_orbflow()"), "{bash}");
    for sub in ["run", "validate", "secrets", "connections", "workflows", "completions"] {
        assert!(bash.contains(sub), "{sub} missing");
    }
    let zsh = stdout(&orbflow(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef orbflow"), "{zsh}");
    let o = orbflow(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("possible values"), "{}", stderr(&o));
}

#[test]
fn actions_name_shows_one_action() {
    let o = orbflow(&["actions", "send_slack_message"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("SEND_SLACK_MESSAGE\n"), "{out}");
    for want in [
        "status:       ready",
        "permissions:  notify:slack",
        "connection:   slack",
        "config schema:",
        "\"webhookUrl\"",
    ] {
        assert!(out.contains(want), "{want} missing in:\n{out}");
    }
    let o = orbflow(&["actions", "CREATE_NOTIFICATION"]);
    assert!(
        stdout(&o).contains("connection:   inbox_webhook (optional)"),
        "{}",
        stdout(&o)
    );
    let o = orbflow(&["actions", "SEND_EMAIL", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["name"], "SEND_EMAIL");
    assert_eq!(v["connection"]["kind"], "smtp");
    let o = orbflow(&["actions", "SEND_EMIAL"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `SEND_EMAIL`"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn graph_shows_conditions_switches_and_loops() {
    let o = orbflow(&["graph", "examples/mention-triage.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = stdout(&o);
    assert!(m.starts_with("flowchart TD\n"));
    assert!(
        m.contains("s_triage{\"triage<br/>if steps.sentiment.output.score < -0.3\"}"),
        "{m}"
    );
    assert!(m.contains("s_triage -- \"then\" -->"), "{m}");
    assert!(m.contains("s_triage -- \"else\" -->"), "{m}");
    assert!(m.contains("s_route -- \"default\" -->"), "{m}");
    assert!(m.contains("s_route -- \"#quot;mastodon#quot;\" -->"), "{m}");
    assert!(m.contains("subgraph s_tag_each_body"), "{m}");
    assert!(
        m.contains("s_triage --> s_tag_each") && m.contains("s_route --> s_tag_each"),
        "the join has both edges:\n{m}"
    );
    let o = orbflow(&["graph", "examples/mention-triage.yaml", "--format", "dot"]);
    let d = stdout(&o);
    assert!(d.starts_with("digraph workflow {"));
    assert!(d.contains("\"triage\" [shape=diamond"), "{d}");
    assert!(d.contains("subgraph \"cluster_tag_each\""), "{d}");
    assert!(d.contains("\"triage\" -> \"flag_negative\" [label=\"then\"];"), "{d}");
    assert!(d.trim_end().ends_with('}'));
    graphviz_reads(&d, 0);
    let p = write_tmp("bad-graph.yaml", BAD);
    assert_eq!(orbflow(&["graph", &p.to_string_lossy()]).status.code(), Some(2));
}

/// Graphviz's `dot` parses `text` and lays out `nodes` nodes (at least);
/// required under CI=true (`.ci/run` installs it), skipped otherwise.
fn graphviz_reads(text: &str, nodes: usize) {
    use std::io::Write as _;
    let Ok(mut child) = Command::new("dot")
        .arg("-Tplain")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "graphviz's dot is required under CI=true"
        );
        println!("skipped: graphviz's dot is not installed");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dot refused:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let laid_out = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("node "))
        .count();
    assert!(laid_out >= nodes, "{laid_out} nodes laid out:\n{text}");
}

#[test]
fn steps_named_like_keywords_draw() {
    let p = write_tmp(
        "keywords.yaml",
        "schemaVersion: 1\nname: kw\nsteps:\n  - {key: node, action: TRANSFORM, config: {value: 1}}\n  - {key: end, action: TRANSFORM, config: {value: 2}}\n  - key: graph\n    type: condition\n    if: \"true\"\n    then:\n      - {key: subgraph, action: TRANSFORM, config: {value: 3}}\n  - key: edge\n    type: loop\n    forEach: \"[1, 2]\"\n    steps:\n      - {key: strict, action: TRANSFORM, config: {value: 4}}\n",
    );
    let file = p.to_string_lossy().into_owned();
    let o = orbflow(&["graph", &file, "--format", "dot"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    graphviz_reads(&stdout(&o), 6);
    let o = orbflow(&["graph", &file]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = stdout(&o);
    // no Mermaid statement starts with a step key: `end` would close a block
    for line in m.lines().skip(1).map(str::trim) {
        let first = line.split([' ', '[', '{', '(']).next().unwrap();
        assert!(
            first.starts_with("s_") || first == "subgraph" || line == "end",
            "{line:?} in\n{m}"
        );
    }
    assert_eq!(
        m.lines().filter(|l| l.trim() == "end").count(),
        1,
        "only the loop's subgraph closes:\n{m}"
    );
    assert!(m.contains("s_end[\"end<br/>TRANSFORM\"]"), "{m}");
}

#[test]
fn cron_next_follows_the_dst_policy() {
    let o = orbflow(&[
        "cron",
        "next",
        "30 1 * * *",
        "--tz",
        "Europe/London",
        "--from",
        "2025-10-25T12:00:00Z",
        "--count",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "2025-10-26T01:30:00+01:00\n2025-10-27T01:30:00+00:00\n2025-10-28T01:30:00+00:00\n"
    );
    let o = orbflow(&[
        "cron",
        "next",
        "30 1 * * *",
        "--tz",
        "Europe/London",
        "--from",
        "2025-03-29T12:00:00Z",
        "--count",
        "2",
    ]);
    assert_eq!(stdout(&o), "2025-03-30T02:00:00+01:00\n2025-03-31T01:30:00+01:00\n");
    let o = orbflow(&["cron", "next", "61 * * * *"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("orbflow: "), "{}", stderr(&o));
    let o = orbflow(&["cron", "next", "0 * * * *", "--tz", "Mars/Olympus"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn run_prints_the_run_record_and_exits_by_status() {
    let o = orbflow(&[
        "run",
        "examples/hello.yaml",
        "--input",
        r#"{"name": "Ada"}"#,
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stdout is exactly the run record");
    assert_eq!(r["status"], "COMPLETED");
    assert!(r["id"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(r["error"], serde_json::Value::Null);
    assert_eq!(r["output"]["greeting"], "Hello, Ada!");
    for (key, s) in r["steps"].as_object().unwrap() {
        assert_eq!(s["status"], "COMPLETED", "{key}");
        assert_eq!(s["attempts"], 1);
        assert!(s.get("output").is_some() && s.get("error").is_some());
    }
    assert!(stderr(&o).contains("COMPLETED"), "progress goes to stderr");
    // a failing step: exit 1, the error in the record
    let p = write_tmp(
        "fails.yaml",
        "schemaVersion: 1\nname: fails\nsteps:\n  - {key: mail, action: SEND_EMAIL, config: {to: a@example.com, subject: s, body: b}}\n",
    );
    let o = orbflow(&["run", &p.to_string_lossy(), "--output", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["steps"]["mail"]["status"], "FAILED");
    // invalid input and invalid workflows: exit 2, nothing on stdout
    let o = orbflow(&[
        "run",
        "examples/hello.yaml",
        "--input",
        r#"{"name": 5}"#,
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("invalid input"), "{}", stderr(&o));
    let o = orbflow(&["run", "examples/hello.yaml", "--input", "{not json"]);
    assert_eq!(o.status.code(), Some(2));
    let bad = write_tmp("bad-run.yaml", BAD);
    let o = orbflow(&["run", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown action"), "{}", stderr(&o));
}

#[test]
fn run_input_from_a_file_and_a_kept_database() {
    let input = write_tmp("input.json", r#"{"name": "file"}"#);
    let db = std::env::temp_dir().join(format!("orbflow-cli-run-{}.db", std::process::id()));
    let o = orbflow(&[
        "run",
        "examples/hello.yaml",
        "--input",
        &format!("@{}", input.display()),
        "--db",
        &db.to_string_lossy(),
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["output"]["greeting"], "Hello, file!");
    assert!(db.exists(), "--db keeps the database");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
}

#[test]
fn dev_imports_examples_serves_the_api_and_stops_cleanly_on_sigterm() {
    let db = std::env::temp_dir().join(format!("orbflow-cli-dev-{}.db", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([
            "dev",
            "--db",
            &db.to_string_lossy(),
            "--listen",
            "127.0.0.1:0",
            "--import",
            "examples",
        ])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    // wait for the start-up line, then stop it
    let mut seen = String::new();
    let start = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    while !seen.contains("development token") || !seen.ends_with('\n') {
        use std::io::Read;
        let n = err.read(&mut buf).unwrap();
        assert!(
            n > 0 && start.elapsed() < std::time::Duration::from_secs(30),
            "dev did not start: {seen}"
        );
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // the API it serves answers the token it printed, in workspace `default`
    let addr = seen
        .split("API on http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let token = seen
        .split("development token (")
        .nth(1)
        .and_then(|t| t.split("): ").nth(1))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let get = |auth: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /v1/workflows?limit=200 HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let ok = get(&format!("Authorization: Bearer {token}\r\n"));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains("\"slug\":\"hello\""), "imported workflows are listed: {ok}");
    assert!(get("").starts_with("HTTP/1.1 401"));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    use std::io::Read;
    let _ = err.read_to_string(&mut rest);
    assert!(status.success(), "{seen}{rest}");
    let n = examples().len();
    assert!(
        seen.contains(&format!("imported {n} workflow(s) from examples")),
        "{seen}"
    );
    assert!(rest.contains("orbflow dev: stopped"), "{rest}");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
}

#[test]
fn documents_over_the_limit_once_aliases_are_expanded_exit_2() {
    // 600 KB of text naming one 600 KB string a hundred times
    let big = "x".repeat(600 * 1024);
    let copies = vec!["*big"; 99].join(", ");
    let text = format!(
        "schemaVersion: 1\nname: bomb\nsteps:\n  - key: a\n    action: TRANSFORM\n    config:\n      value:\n        big: &big \"{big}\"\n        copies: [{copies}]\n"
    );
    let p = write_tmp("bomb.yaml", &text);
    let file = p.to_string_lossy().into_owned();
    for cmd in ["validate", "run"] {
        let o = orbflow(&[cmd, &file, "--output", "json"][..if cmd == "run" { 4 } else { 2 }]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{cmd}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{file}:9:")) && err.contains("once its aliases are expanded"),
            "{cmd}: a located, clear error: {err}"
        );
    }
}

#[test]
fn sigint_and_sigterm_cancel_an_embedded_run() {
    use std::time::{Duration, Instant};
    for signal in ["-INT", "-TERM"] {
        let (port, conns) = hanging_server();
        let p = write_tmp(
            "hang.yaml",
            &format!(
                "schemaVersion: 1\nname: hang\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/', timeout: 10m}}}}\n  - {{key: after, action: TRANSFORM, config: {{value: 1}}}}\n"
            ),
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_orbflow"))
            .args(["run", &p.to_string_lossy(), "--output", "json"])
            .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(
            conns.recv_timeout(Duration::from_secs(30)),
            Ok(true),
            "{signal}: the request reached the stub"
        );
        let pid = child.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("{signal}: orbflow run did not exit");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{signal}: {}", stderr(&o));
        assert!(stderr(&o).contains("cancelling run"), "{signal}: {}", stderr(&o));
        let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(r["status"], "CANCELLED", "{signal}");
        assert_eq!(r["steps"]["call"]["status"], "CANCELLED", "{signal}");
        assert_eq!(r["steps"]["after"]["status"], "CANCELLED", "{signal}");
        assert_eq!(
            conns.recv_timeout(Duration::from_secs(10)),
            Ok(false),
            "{signal}: the attempt was cancelled and its connection closed"
        );
    }
}

#[test]
fn token_create_refuses_unknown_permissions_before_touching_the_database() {
    let db = std::env::temp_dir().join(format!("orbflow-token-{}.db", std::process::id()));
    let dbs = db.to_string_lossy().into_owned();
    for bad in ["RUNS:READ", "*:*", ":", "runs:fly"] {
        let out = orbflow(&[
            "token",
            "create",
            "--workspace",
            "acme",
            "--permissions",
            bad,
            "--db",
            &dbs,
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("is not a permission"), "{bad}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "no secret printed for {bad}");
    }
    assert!(!db.exists(), "nothing was written");
    let out = orbflow(&[
        "token",
        "create",
        "--workspace",
        "acme",
        "--permissions",
        "runs:*,workflows:read",
        "--db",
        &dbs,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("orb_"));
    let _ = std::fs::remove_file(&db);
}

#[test]
fn worker_settings_out_of_range_are_refused_before_connecting() {
    for (flag, value) in [
        ("--inline-batch", "0"),
        ("--inline-window-ms", "-1"),
        ("--concurrency", "x"),
    ] {
        let out = orbflow(&[
            "worker",
            &format!("{flag}={value}"),
            "--database-url",
            "postgres://127.0.0.1:1/none",
            "--redis-url",
            "redis://127.0.0.1:1",
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", stderr(&out));
        assert!(stderr(&out).contains(flag), "{flag} {value}: {}", stderr(&out));
    }
}

/// The client's flags, anywhere on the line; a missing token says how to get one.
#[test]
fn client_flags_go_anywhere_and_a_missing_token_is_explained() {
    // a closed port: the call fails, but only once the flags were taken
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{closed}");
    for args in [
        vec!["runs", "get", "x", "--api-url", &url, "--token", "orb_t"],
        vec!["runs", "--api-url", &url, "get", "x", "--token", "orb_t"],
        vec!["workflows", "list", "--token", "orb_t", "--api-url", &url],
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orbflow"));
        let o = cmd
            .args(&args)
            .env_remove("ORBFLOW_TOKEN")
            .env_remove("ORBFLOW_API_URL")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("calling the API at {url}")),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args(["runs", "get", "x", "--api-url", &url])
        .env_remove("ORBFLOW_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no API token: pass --token or set ORBFLOW_TOKEN"),
        "{}",
        stderr(&o)
    );
}

/// A secret that is not set fails its step with how to set it.
#[test]
fn a_missing_secret_says_how_to_set_it() {
    let o = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([
            "run",
            "examples/webhook-crm.yaml",
            "--output",
            "json",
            "--input",
            r#"{"email": "ada@example.com"}"#,
        ])
        .current_dir(root())
        .env_remove("ORBFLOW_SECRET_CRM_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let run: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let message = run["steps"]["upsert_contact"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    for hint in [
        "secret `CRM_API_TOKEN` is not set",
        "`orbflow secrets set CRM_API_TOKEN`",
        "ORBFLOW_SECRET_CRM_API_TOKEN",
    ] {
        assert!(message.contains(hint), "{hint}: {run}");
    }
}
