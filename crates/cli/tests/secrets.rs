//! `orbflow secrets` and `orbflow connections` as an operator uses them
//! against `orbflow dev`: a value set from stdin reaches a run of its
//! workspace and never the listing; the key `orbflow dev` creates; a key
//! change that would strand the stored values stops the process at start,
//! and `orbflow secrets rotate` re-seals them under the new key; a Slack
//! connection whose webhook is a secret, used by default.

use std::io::Write as _;
use std::process::{Command, Stdio};

use orbflow_testkit::daemon::{free_port, start_dev};
use orbflow_testkit::peer::scripted_server;
use serde_json::Value;

/// base64 of 32 bytes of 0x01: a second key, for the rotation.
const NEW_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
/// base64 of 32 bytes of 0x02: a key that sealed nothing.
const STRANGER_KEY: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

struct Out {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

/// Runs `orbflow ARGS` with `envs`, `stdin` on its standard input.
fn orbflow(args: &[&str], envs: &[(&str, &str)], stdin: &str) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args(args)
        .env_remove("ORBFLOW_SECRETS_KEY")
        .env_remove("ORBFLOW_SECRETS_KEY_FILE")
        .env_remove("ORBFLOW_SECRETS_OLD_KEYS")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code(),
        json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn stop(mut dev: std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &dev.id().to_string()]).status();
    assert!(dev.wait().unwrap().success());
}

#[test]
fn secrets_set_from_stdin_reach_runs_and_survive_a_key_rotation() {
    let dir = std::env::temp_dir().join(format!("orbflow-secrets-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("o.db");
    let db_arg = db.to_string_lossy().into_owned();
    let port = free_port();
    let (dev, seen, token) = start_dev(&db, port, &[]);
    // dev made a key of its own, for its owner only
    let key_file = dir.join("o.db.key");
    assert!(seen.contains("created the secrets key"), "{seen}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let old_key = std::fs::read_to_string(&key_file).unwrap().trim().to_owned();
    let api = format!("http://127.0.0.1:{port}");
    let client = |args: &[&str], stdin: &str, token: &str| {
        orbflow(args, &[("ORBFLOW_API_URL", &api), ("ORBFLOW_TOKEN", token)], stdin)
    };

    // set: from stdin, one trailing newline dropped; again: replaced
    let set = client(&["secrets", "set", "GREETING"], "hello there\n", &token);
    assert_eq!(set.code, Some(0), "{}", set.stderr);
    assert!(set.stderr.contains("GREETING: created"), "{}", set.stderr);
    assert_eq!(set.json["name"], "GREETING");
    let set = client(&["secrets", "set", "GREETING"], "hello, world\n", &token);
    assert_eq!(set.code, Some(0), "{}", set.stderr);
    assert!(set.stderr.contains("GREETING: replaced"), "{}", set.stderr);
    let file = dir.join("value.txt");
    std::fs::write(&file, "from a file\n").unwrap();
    let set = client(
        &["secrets", "set", "FROM_FILE", "--file", &file.to_string_lossy()],
        "",
        &token,
    );
    assert_eq!(set.code, Some(0), "{}", set.stderr);
    // a bad name is the API's clear error, exit 2 (invalid input)
    let bad = client(&["secrets", "set", "9lives"], "x", &token);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("9lives"), "{}", bad.stderr);

    // the listing names them, never their values
    let list = client(&["secrets", "list"], "", &token);
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    let names: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["FROM_FILE", "GREETING"]);
    let listed = list.json.to_string();
    assert!(!listed.contains("hello") && !listed.contains("from a file"), "{listed}");

    // a run reads them: the value itself is *** in the output, what is
    // computed from it is not
    let wf = dir.join("greet.yaml");
    std::fs::write(
        &wf,
        "schemaVersion: 1\nname: greet\ntriggers:\n  - { type: manual }\nsteps:\n  - key: g\n    action: TRANSFORM\n    config:\n      value:\n        size: \"{{ size(secrets.GREETING) }}\"\n        file: \"{{ secrets.FROM_FILE }}\"\n        raw: \"{{ secrets.GREETING }}\"\n",
    )
    .unwrap();
    let run_greet = |token: &str| {
        let push = client(&["workflows", "push", &wf.to_string_lossy()], "", token);
        assert_eq!(push.code, Some(0), "{}", push.stderr);
        let publish = client(&["workflows", "publish", "greet"], "", token);
        assert_eq!(publish.code, Some(0), "{}", publish.stderr);
        let run = client(&["runs", "start", "greet", "--wait"], "", token);
        assert_eq!(run.code, Some(0), "{} {}", run.stderr, run.json);
        run.json
    };
    let run = run_greet(&token);
    assert_eq!(run["output"]["g"]["size"], 12, "{run}");
    assert_eq!(run["output"]["g"]["file"], "***", "{run}");
    assert_eq!(run["output"]["g"]["raw"], "***", "{run}");

    // delete: gone from the listing; a second delete is the API's 404
    assert_eq!(client(&["secrets", "set", "SCRATCH"], "x", &token).code, Some(0));
    let del = client(&["secrets", "delete", "SCRATCH"], "", &token);
    assert_eq!(del.code, Some(0), "{}", del.stderr);
    assert!(del.stderr.contains("SCRATCH: deleted"), "{}", del.stderr);
    let del = client(&["secrets", "delete", "SCRATCH"], "", &token);
    assert_eq!(del.code, Some(1), "{}", del.stderr);
    let list = client(&["secrets", "list"], "", &token);
    assert_eq!(list.json["items"].as_array().unwrap().len(), 2, "{}", list.json);
    stop(dev);

    // a new key alone would strand the stored value: dev refuses to start,
    // naming the key id the value needs
    let refused = orbflow(
        &[
            "dev",
            "--db",
            &db_arg,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        &[("ORBFLOW_SECRETS_KEY", NEW_KEY)],
        "",
    );
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("does not open the workspace secrets"),
        "{}",
        refused.stderr
    );

    // rotate: without a key, exit 2; with a key that opens nothing, exit 1
    // and nothing changes; with the old key listed, every value re-sealed
    let rotate = |envs: &[(&str, &str)]| orbflow(&["secrets", "rotate", "--db", &db_arg], envs, "");
    let none = rotate(&[]);
    assert_eq!(none.code, Some(2), "{}", none.stderr);
    assert!(none.stderr.contains("ORBFLOW_SECRETS_KEY"), "{}", none.stderr);
    let wrong = rotate(&[("ORBFLOW_SECRETS_KEY", STRANGER_KEY)]);
    assert_eq!(wrong.code, Some(1), "{}", wrong.stderr);
    let rotated = rotate(&[("ORBFLOW_SECRETS_KEY", NEW_KEY), ("ORBFLOW_SECRETS_OLD_KEYS", &old_key)]);
    assert_eq!(rotated.code, Some(0), "{}", rotated.stderr);
    assert!(rotated.stderr.contains("2 secret(s) re-sealed"), "{}", rotated.stderr);
    // nothing left under the old key: a second rotation re-seals none
    let again = rotate(&[("ORBFLOW_SECRETS_KEY", NEW_KEY), ("ORBFLOW_SECRETS_OLD_KEYS", &old_key)]);
    assert!(again.stderr.contains("0 secret(s) re-sealed"), "{}", again.stderr);

    // the new key alone now opens it: dev starts and the run still reads it
    let port2 = free_port();
    let (dev, _, token2) = start_dev(&db, port2, &[("ORBFLOW_SECRETS_KEY", NEW_KEY)]);
    let api2 = format!("http://127.0.0.1:{port2}");
    let run = orbflow(
        &["runs", "start", "greet", "--wait"],
        &[("ORBFLOW_API_URL", &api2), ("ORBFLOW_TOKEN", &token2)],
        "",
    );
    assert_eq!(run.code, Some(0), "{} {}", run.stderr, run.json);
    assert_eq!(run.json["output"]["g"]["size"], 12, "{}", run.json);
    stop(dev);
    // and the old key alone no longer does
    let refused = orbflow(
        &[
            "dev",
            "--db",
            &db_arg,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        &[("ORBFLOW_SECRETS_KEY", &old_key)],
        "",
    );
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_default_connection_posts_a_workflows_slack_messages() {
    let dir = std::env::temp_dir().join(format!("orbflow-conn-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let (dev, _, token) = start_dev(&dir.join("o.db"), port, &[("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")]);
    let api = format!("http://127.0.0.1:{port}");
    let client =
        |args: &[&str], stdin: &str| orbflow(args, &[("ORBFLOW_API_URL", &api), ("ORBFLOW_TOKEN", &token)], stdin);
    let (slack, seen) = scripted_server(vec![(200, "Content-Type: text/plain\r\n", "ok")]);
    let hook = format!("http://127.0.0.1:{slack}/services/T1/B1/secret-part");
    assert_eq!(client(&["secrets", "set", "SLACK_WEBHOOK"], &hook).code, Some(0));

    // settings: not JSON, or a credential in the clear: exit 2, nothing saved
    let bad = client(
        &["connections", "set", "team", "--kind", "slack", "--settings", "{nope"],
        "",
    );
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("--settings is not JSON"), "{}", bad.stderr);
    let clear = format!(r#"{{"webhookUrl": "{hook}"}}"#);
    let bad = client(
        &["connections", "set", "team", "--kind", "slack", "--settings", &clear],
        "",
    );
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("settings.webhookUrl"), "{}", bad.stderr);
    assert!(!bad.stderr.contains("secret-part"), "{}", bad.stderr);
    // from a file, made the default
    let file = dir.join("slack.json");
    std::fs::write(&file, r#"{"webhookUrl": "{{ secrets.SLACK_WEBHOOK }}"}"#).unwrap();
    let at = format!("@{}", file.display());
    let set = client(
        &[
            "connections",
            "set",
            "team",
            "--kind",
            "slack",
            "--settings",
            &at,
            "--default",
        ],
        "",
    );
    assert_eq!(set.code, Some(0), "{}", set.stderr);
    assert!(set.stderr.contains("team: created"), "{}", set.stderr);
    assert_eq!(set.json["default"], true);
    let list = client(&["connections", "list"], "");
    assert_eq!(list.json["items"][0]["name"], "team", "{}", list.json);
    let get = client(&["connections", "get", "team"], "");
    assert_eq!(get.json["settings"]["webhookUrl"], "{{ secrets.SLACK_WEBHOOK }}");

    // a step that names no webhook posts through the default connection
    let wf = dir.join("tell.yaml");
    std::fs::write(
        &wf,
        "schemaVersion: 1\nname: tell\nsteps:\n  - { key: say, action: SEND_SLACK_MESSAGE, config: { text: \"deploy done\" } }\n",
    )
    .unwrap();
    assert_eq!(client(&["workflows", "push", &wf.to_string_lossy()], "").code, Some(0));
    let publish = client(&["workflows", "publish", "tell"], "");
    assert_eq!(publish.code, Some(0), "{}", publish.stderr);
    let run = client(&["runs", "start", "tell", "--wait"], "");
    assert_eq!(run.code, Some(0), "{} {}", run.stderr, run.json);
    assert_eq!(
        run.json["stepExecutions"]["say"]["output"],
        serde_json::json!({"ok": true})
    );
    let got = seen.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /services/T1/B1/secret-part HTTP/1.1");
    assert_eq!(got.body, r#"{"text":"deploy done"}"#);

    // deleted: publishing again is refused with the reason
    let del = client(&["connections", "delete", "team"], "");
    assert_eq!(del.code, Some(0), "{}", del.stderr);
    std::fs::write(
        &wf,
        "schemaVersion: 1\nname: tell\nsteps:\n  - { key: say, action: SEND_SLACK_MESSAGE, config: { text: \"v2\" } }\n",
    )
    .unwrap();
    assert_eq!(client(&["workflows", "push", &wf.to_string_lossy()], "").code, Some(0));
    let refused = client(&["workflows", "publish", "tell"], "");
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("needs a `slack` connection"),
        "{}",
        refused.stderr
    );
    stop(dev);
    let _ = std::fs::remove_dir_all(&dir);
}
