//! The examples that notify, run end to end with `orbflow run` against
//! local peers speaking the providers' protocols: mention-triage posts a
//! negative mention to a Slack incoming webhook; daily-digest mails its
//! digest through an SMTP server (aiosmtpd) given as the operator's
//! connection (`ORBFLOW_CONNECTION_SMTP`).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

#[path = "../../actions/tests/peer/smtp.rs"]
mod smtp;

use orbflow_testkit::peer::scripted_server;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const NEGATIVE: &str = r#"{"text": "The update broke everything, terrible support", "platform": "linkedin"}"#;

fn triage(webhook: &str) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([
            "run",
            "examples/mention-triage.yaml",
            "--input",
            NEGATIVE,
            "--output",
            "json",
        ])
        .current_dir(root())
        .env("ORBFLOW_SECRET_SLACK_WEBHOOK", webhook)
        .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
        .output()
        .unwrap();
    let run = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, run)
}

#[test]
fn mention_triage_alerts_slack_on_a_negative_mention() {
    let (port, seen) = scripted_server(vec![(200, "Content-Type: text/plain\r\n", "ok")]);
    let (out, run) = triage(&format!("http://127.0.0.1:{port}/services/T000/B000/XXXX"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["steps"]["alert"]["status"], "COMPLETED", "{run}");
    assert_eq!(run["steps"]["alert"]["output"], serde_json::json!({"ok": true}));
    let got = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("Slack got the message");
    assert_eq!(got.request_line, "POST /services/T000/B000/XXXX HTTP/1.1");
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"text": "Negative mention (linkedin): The update broke everything, terrible support"})
    );
    assert!(
        got.head.to_ascii_lowercase().contains("content-type: application/json"),
        "{}",
        got.head
    );
    assert_eq!(run["output"]["negative"], true);
}

#[test]
fn a_slack_refusal_fails_the_alert_without_showing_the_webhook() {
    let (port, _seen) = scripted_server(vec![(404, "Content-Type: text/plain\r\n", "channel_not_found")]);
    let (out, run) = triage(&format!("http://127.0.0.1:{port}/services/T000/B000/XXXX"));
    // `alert` has onError: continue, so the run completes with it FAILED
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let alert = &run["steps"]["alert"];
    assert_eq!(alert["status"], "FAILED", "{run}");
    assert_eq!(alert["attempts"], 1, "a 404 is fatal: {run}");
    let message = alert["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("404") && message.contains("channel_not_found"),
        "{message}"
    );
    assert!(!run.to_string().contains("XXXX"), "the webhook URL is a secret: {run}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("XXXX"));
}

fn digest(connection: &str) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([
            "run",
            "examples/daily-digest.yaml",
            "--input",
            r#"{"to": "social-team@example.com", "accounts": ["@orbflow@mastodon.social", "orbflow.bsky.social"], "mentions": 12, "negative": 2}"#,
            "--output",
            "json",
        ])
        .current_dir(root())
        .env("ORBFLOW_CONNECTION_SMTP", connection)
        .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
        .output()
        .unwrap();
    let run = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, run)
}

#[test]
fn daily_digest_mails_its_digest_through_the_operators_smtp_connection() {
    let Some(smtp) = smtp::Smtp::start(true) else { return };
    let connection = smtp.connection(true).to_string();
    let (out, run) = digest(&connection);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["output"]["sent"], true);
    let send = &run["steps"]["send"]["output"];
    assert_eq!(send["accepted"], serde_json::json!(["social-team@example.com"]));
    let m = smtp.next();
    assert_eq!(m["to"], serde_json::json!(["social-team@example.com"]));
    assert_eq!(m["login"], "bot");
    let data = m["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: Social digest: 12 mentions, 2 negative"),
        "{data}"
    );
    assert!(data.contains("there were"), "{data}");
    assert!(
        data.contains(&format!("Message-ID: {}", send["messageId"].as_str().unwrap())),
        "{data}"
    );
    // the operator's password never shows
    assert!(!run.to_string().contains(smtp::PASSWORD) && !stderr.contains(smtp::PASSWORD));
}

#[test]
fn a_bad_operator_connection_is_refused_at_start_naming_its_variable() {
    let (out, _) = digest(r#"{"host": "127.0.0.1"}"#);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ORBFLOW_CONNECTION_SMTP") && stderr.contains("`from`"),
        "{stderr}"
    );
}

/// An operator connection of an unknown kind, whose value is not JSON, or
/// with a field of the wrong type stops `orbflow run` before anything runs,
/// naming the variable (and, for an unknown kind, the kinds there are; for
/// a field, the field).
#[test]
fn operator_connections_of_no_kind_or_not_json_are_refused_at_start() {
    for (var, value, says) in [
        (
            "ORBFLOW_CONNECTION_PAGERDUTY",
            "{}",
            "ORBFLOW_CONNECTION_PAGERDUTY: no connection kind `pagerduty` (kinds: ",
        ),
        (
            "ORBFLOW_CONNECTION_SLACK",
            "webhook=https://x",
            "ORBFLOW_CONNECTION_SLACK is not JSON",
        ),
        ("ORBFLOW_CONNECTION_SMTP", "[1]", "ORBFLOW_CONNECTION_SMTP: "),
        // a field of the wrong type is named
        (
            "ORBFLOW_CONNECTION_SMTP",
            r#"{"host": "mail.test", "from": "ops@example.com", "port": "twenty-five"}"#,
            "ORBFLOW_CONNECTION_SMTP: port: ",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
            .args([
                "run",
                root().join("examples/hello.yaml").to_str().unwrap(),
                "--input",
                "{}",
            ])
            .env(var, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{var}: {stderr}");
        assert!(stderr.contains(says), "{var}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "nothing ran: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// ai-reply end to end: GENERATE_CONTENT asks an OpenAI-compatible peer
/// (the operator's `llm` connection), the built-in moderation passes the
/// draft, and REPLY_TO_COMMENT answers on a Mastodon peer as the account
/// of the operator's named connection `brand-mastodon`.
#[test]
fn ai_reply_drafts_with_a_model_and_replies_on_mastodon() {
    let (port, seen) = scripted_server(vec![
        (
            200,
            "Content-Type: application/json\r\n",
            r#"{"id": "chatcmpl-1", "model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Yes: orbflow runs embedded on SQLite, no servers needed."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 30, "completion_tokens": 12}}"#,
        ),
        (
            200,
            "Content-Type: application/json\r\n",
            r#"{"id": "110001", "url": "https://mastodon.example/@brand/110001", "in_reply_to_id": "109876"}"#,
        ),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([
            "run",
            "examples/ai-reply.yaml",
            "--input",
            r#"{"text": "Does orbflow run on a laptop?", "commentId": "109876"}"#,
            "--output",
            "json",
        ])
        .current_dir(root())
        .env(
            "ORBFLOW_CONNECTION_LLM",
            format!(
                r#"{{"baseUrl": "http://127.0.0.1:{port}/v1", "apiKey": "sk-e2e-secret", "model": "gpt-4o-mini"}}"#
            ),
        )
        .env(
            "ORBFLOW_CONNECTION_MASTODON__BRAND_MASTODON",
            format!(r#"{{"instanceUrl": "http://127.0.0.1:{port}", "accessToken": "mastodon-e2e-secret"}}"#),
        )
        .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let reply = "Yes: orbflow runs embedded on SQLite, no servers needed.";
    assert_eq!(
        run["output"],
        serde_json::json!({"reply": reply, "posted": true, "url": "https://mastodon.example/@brand/110001"})
    );
    assert_eq!(run["steps"]["screen"]["output"]["provider"], "builtin");
    assert_eq!(run["steps"]["hold"]["status"], "SKIPPED");
    let llm = seen.recv_timeout(Duration::from_secs(5)).expect("the model was asked");
    assert_eq!(llm.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert!(llm.head.contains("sk-e2e-secret"), "the key goes in the request");
    let body: Value = serde_json::from_str(&llm.body).unwrap();
    assert_eq!(
        body["messages"][1]["content"],
        "Reply to this mention: Does orbflow run on a laptop?"
    );
    let post = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("Mastodon got the reply");
    assert_eq!(post.request_line, "POST /api/v1/statuses HTTP/1.1");
    assert!(
        post.head.to_ascii_lowercase().contains("idempotency-key: "),
        "{}",
        post.head
    );
    let body: Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body, serde_json::json!({"status": reply, "in_reply_to_id": "109876"}));
    for secret in ["sk-e2e-secret", "mastodon-e2e-secret"] {
        assert!(
            !run.to_string().contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
    }
}

/// switch-platform as its header says: the mastodon case posts through the
/// operator's named connection `brand-mastodon`, the other cases are skipped.
#[test]
fn switch_platform_posts_on_mastodon_through_its_named_connection() {
    let (port, seen) = scripted_server(vec![(
        200,
        "Content-Type: application/json\r\n",
        r#"{"id": "110002", "url": "https://mastodon.example/@brand/110002"}"#,
    )]);
    let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([
            "run",
            "examples/switch-platform.yaml",
            "--input",
            r#"{"platform": "mastodon", "text": "hello"}"#,
            "--output",
            "json",
        ])
        .current_dir(root())
        .env(
            "ORBFLOW_CONNECTION_MASTODON__BRAND_MASTODON",
            format!(r#"{{"instanceUrl": "http://127.0.0.1:{port}", "accessToken": "switch-secret"}}"#),
        )
        .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["output"]["published"], true, "{run}");
    assert_eq!(run["steps"]["post_mastodon"]["output"]["postId"], "110002");
    for skipped in ["reply_bluesky", "post_x", "unsupported"] {
        assert_eq!(run["steps"][skipped]["status"], "SKIPPED", "{skipped}: {run}");
    }
    let post = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("Mastodon got the post");
    assert_eq!(post.request_line, "POST /api/v1/statuses HTTP/1.1");
    assert!(
        post.head.contains("switch-secret"),
        "the account's token authenticates the post"
    );
    let body: Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(body, serde_json::json!({"status": "hello"}));
    assert!(!run.to_string().contains("switch-secret") && !stderr.contains("switch-secret"));
}
