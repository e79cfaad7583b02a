//! Workspace connections through the real HTTP API, on SQLite and
//! Postgres: set (settings checked against the kind, credentials only as
//! secret templates, one default per kind), list, delete, isolation;
//! publish refusing what a workflow's steps would lack; a Slack step
//! posting with its workspace's connection to a local peer that answers
//! like chat.postMessage.

#[macro_use]
mod common;

use common::{Harness, problem};
use reqwest::Method;
use serde_json::{Value, json};

const BOT_TOKEN: &str = "xoxb-777-s3cr3t-bot";

async fn put(h: &Harness, token: &str, name: &str, body: Value) -> common::Res {
    h.send(
        h.http
            .request(Method::PUT, format!("{}/v1/connections/{name}", h.base))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

async fn put_secret(h: &Harness, name: &str, value: &str) {
    let r = h
        .send(
            h.http
                .request(Method::PUT, format!("{}/v1/secrets/{name}", h.base))
                .bearer_auth(&h.token)
                .json(&json!({ "value": value })),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", r.text);
}

fn smtp(from: &str) -> Value {
    json!({"kind": "smtp", "settings": {"host": "127.0.0.1", "port": 2525, "tls": "none", "from": from}})
}

both!(connections_are_set_checked_listed_and_deleted_per_workspace);
async fn connections_are_set_checked_listed_and_deleted_per_workspace(h: Harness) {
    let slack = json!({"kind": "slack", "settings": {"token": "{{ secrets.SLACK_BOT_TOKEN }}", "channel": "#alerts"}});
    let r = put(&h, &h.token, "slack-main", slack.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["kind"], "slack");
    assert_eq!(r.body["settings"]["token"], "{{ secrets.SLACK_BOT_TOKEN }}");
    assert_eq!(r.body["default"], false);
    assert_eq!(put(&h, &h.token, "slack-main", slack).await.status, 200);

    // one default per kind: the second default takes over
    let mut first = smtp("a@example.com");
    first["default"] = json!(true);
    assert_eq!(put(&h, &h.token, "mail-a", first).await.status, 201);
    let mut second = smtp("b@example.com");
    second["default"] = json!(true);
    assert_eq!(put(&h, &h.token, "mail-b", second).await.status, 201);
    let list = h.get("/v1/connections").await;
    assert_eq!(list.status, 200);
    let rows: Vec<(String, bool)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["default"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            ("mail-a".to_owned(), false),
            ("mail-b".to_owned(), true),
            ("slack-main".to_owned(), false)
        ]
    );
    assert_eq!(
        h.get("/v1/connections/mail-b").await.body["settings"]["from"],
        "b@example.com"
    );

    // checked: kind, schema, credentials, name
    let r = put(&h, &h.token, "x", json!({"kind": "fax", "settings": {}})).await;
    problem(&r, 422, "invalid-connection");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("kinds: bluesky, inbox_webhook, llm, mastodon, moderation, slack, smtp, x"),
        "{}",
        r.text
    );
    let r = put(
        &h,
        &h.token,
        "x",
        json!({"kind": "smtp", "settings": {"host": "h", "prot": 1}}),
    )
    .await;
    problem(&r, 422, "invalid-connection");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("`from`") && detail.contains("`prot`"), "{detail}");
    let r = put(
        &h,
        &h.token,
        "x",
        json!({"kind": "smtp", "settings": {"host": "h", "from": "a@b.c", "password": "hunter2"}}),
    )
    .await;
    problem(&r, 422, "invalid-connection");
    assert!(
        r.body["detail"].as_str().unwrap().contains("settings.password"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("hunter2"), "{}", r.text);
    let r = put(
        &h,
        &h.token,
        "x",
        json!({"kind": "slack", "settings": {"channel": "#a"}}),
    )
    .await;
    problem(&r, 422, "invalid-connection");
    problem(&put(&h, &h.token, "Bad_Name", smtp("a@b.c")).await, 400, "invalid-path");

    // another workspace sees none of it
    let other = h.token_in("globex", &["*"]).await;
    let r = h
        .send(h.http.get(format!("{}/v1/connections", h.base)).bearer_auth(&other))
        .await;
    assert_eq!(r.body["items"], json!([]));
    let r = h
        .send(
            h.http
                .get(format!("{}/v1/connections/mail-b", h.base))
                .bearer_auth(&other),
        )
        .await;
    problem(&r, 404, "not-found");
    // permissions
    let reader = h.token_in("acme", &["connections:read"]).await;
    problem(&put(&h, &reader, "mail-c", smtp("c@d.e")).await, 403, "forbidden");
    // delete
    let r = h.send(h.req(Method::DELETE, "/v1/connections/mail-a")).await;
    assert_eq!(r.status, 204);
    problem(&h.get("/v1/connections/mail-a").await, 404, "not-found");
    problem(
        &h.send(h.req(Method::DELETE, "/v1/connections/mail-a")).await,
        404,
        "not-found",
    );
    // the catalog says which kind each action needs
    let actions = h.get("/v1/actions").await;
    let kind_of = |name: &str| {
        actions.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["connection"].clone())
    };
    assert_eq!(kind_of("SEND_SLACK_MESSAGE"), Some(json!("slack")));
    assert_eq!(kind_of("SEND_EMAIL"), Some(json!("smtp")));
    assert_eq!(kind_of("TRANSFORM"), Some(Value::Null));
}

both!(publish_refuses_steps_whose_connection_is_missing);
async fn publish_refuses_steps_whose_connection_is_missing(h: Harness) {
    let yaml = r#"schemaVersion: 1
name: tell
steps:
  - key: named
    action: SEND_SLACK_MESSAGE
    config: { connection: slack-main, text: "hi" }
  - key: by_default
    action: SEND_SLACK_MESSAGE
    config: { text: "hi" }
  - key: own_hook
    action: SEND_SLACK_MESSAGE
    config: { webhookUrl: "https://hooks.example.invalid/x", text: "hi" }
"#;
    assert_eq!(h.post_yaml("/v1/workflows?slug=tell", yaml).await.status, 201);
    let publish = || h.post_json("/v1/workflows/tell/versions", Value::Null);
    let places = |r: &common::Res| -> Vec<(String, String, u64)> {
        r.body["errors"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap().to_owned(),
                    e["path"].as_str().unwrap().to_owned(),
                    e["line"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let r = publish().await;
    problem(&r, 422, "invalid-workflow");
    assert_eq!(
        places(&r),
        [
            ("unknown-connection".into(), "steps[0].config.connection".into(), 6),
            ("unknown-connection".into(), "steps[1].config".into(), 9),
        ],
        "{}",
        r.text
    );
    // a connection of another kind under that name
    assert_eq!(put(&h, &h.token, "slack-main", smtp("a@b.c")).await.status, 201);
    let r = publish().await;
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is a `smtp` connection"),
        "{}",
        r.text
    );
    // the right kind, made the default, reading a secret nobody set
    let slack = json!({"kind": "slack", "default": true, "settings": {"token": "{{ secrets.SLACK_BOT_TOKEN }}", "channel": "#a"}});
    assert_eq!(put(&h, &h.token, "slack-main", slack).await.status, 200);
    let r = publish().await;
    problem(&r, 422, "invalid-workflow");
    assert_eq!(
        places(&r),
        [
            ("unknown-secret".into(), "steps[0].config.connection".into(), 6),
            ("unknown-secret".into(), "steps[1].config".into(), 9),
        ],
        "{}",
        r.text
    );
    assert!(r.text.contains("reads secret `SLACK_BOT_TOKEN`"), "{}", r.text);
    put_secret(&h, "SLACK_BOT_TOKEN", BOT_TOKEN).await;
    let r = publish().await;
    assert_eq!(r.status, 201, "{}", r.text);
}

both!(publish_checks_social_accounts_and_refuses_platforms_without_a_provider);
async fn publish_checks_social_accounts_and_refuses_platforms_without_a_provider(h: Harness) {
    // LinkedIn has no provider: refused by validation, with its place
    let linkedin = "schemaVersion: 1\nname: li\nsteps:\n  - key: post\n    action: POST_TO_SOCIAL\n    config: { platform: linkedin, accountId: brand, content: hi }\n";
    assert_eq!(
        h.post_yaml("/v1/workflows?slug=li", linkedin).await.status,
        201,
        "a draft may be incomplete"
    );
    let r = h.post_json("/v1/workflows/li/versions", Value::Null).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let e = &r.body["errors"][0];
    assert_eq!(e["path"], "steps[0].config.platform", "{}", r.text);
    assert_eq!(e["line"], 6);
    assert!(e["message"].as_str().unwrap().contains("linkedin"), "{}", r.text);
    // the account a step names must be a connection of the platform's kind
    let yaml = "schemaVersion: 1\nname: social\nsteps:\n  - key: post\n    action: POST_TO_SOCIAL\n    config: { platform: mastodon, accountId: brand-mastodon, content: hi }\n  - key: reply\n    action: REPLY_TO_COMMENT\n    config: { platform: twitter, accountId: brand-mastodon, commentId: '1', content: hi }\n";
    assert_eq!(h.post_yaml("/v1/workflows?slug=social", yaml).await.status, 201);
    let publish = || h.post_json("/v1/workflows/social/versions", Value::Null);
    let r = publish().await;
    problem(&r, 422, "invalid-workflow");
    let paths: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["steps[0].config.accountId", "steps[1].config.accountId"],
        "{}",
        r.text
    );
    assert!(
        r.text.contains("connection `brand-mastodon` does not exist"),
        "{}",
        r.text
    );
    let mastodon = json!({"kind": "mastodon", "settings": {"instanceUrl": "https://mastodon.example", "accessToken": "{{ secrets.MASTODON_TOKEN }}"}});
    assert_eq!(put(&h, &h.token, "brand-mastodon", mastodon).await.status, 201);
    put_secret(&h, "MASTODON_TOKEN", "m-token").await;
    let r = publish().await;
    // the X reply names a mastodon account
    assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(1), "{}", r.text);
    assert!(
        r.text
            .contains("is a `mastodon` connection; REPLY_TO_COMMENT needs a `x` one"),
        "{}",
        r.text
    );
    // a credential in the clear is refused for social kinds too
    let clear = json!({"kind": "x", "settings": {"accessToken": "plain-token"}});
    assert_eq!(put(&h, &h.token, "brand-x", clear).await.status, 422);
    let x = json!({"kind": "x", "settings": {"accessToken": "{{ secrets.MASTODON_TOKEN }}"}});
    assert_eq!(put(&h, &h.token, "brand-x", x).await.status, 201);
    let fixed = yaml.replace(
        "platform: twitter, accountId: brand-mastodon",
        "platform: twitter, accountId: brand-x",
    );
    h.publish("social-fixed", &fixed.replace("name: social", "name: social-fixed"))
        .await;
}

both!(publish_asks_for_an_llm_connection_only_where_sentiment_uses_the_model);
async fn publish_asks_for_an_llm_connection_only_where_sentiment_uses_the_model(h: Harness) {
    let yaml = "schemaVersion: 1\nname: mood\nsteps:\n  - key: quick\n    action: ANALYZE_SENTIMENT\n    config: { text: hi }\n  - key: deep\n    action: ANALYZE_SENTIMENT\n    config: { text: hi, provider: llm }\n";
    assert_eq!(h.post_yaml("/v1/workflows?slug=mood", yaml).await.status, 201);
    let r = h.post_json("/v1/workflows/mood/versions", Value::Null).await;
    problem(&r, 422, "invalid-workflow");
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", r.text);
    assert_eq!(errors[0]["path"], "steps[1].config");
    assert_eq!(errors[0]["code"], "unknown-connection");
    assert!(r.text.contains("needs a `llm` connection"), "{}", r.text);
    let llm =
        json!({"kind": "llm", "default": true, "settings": {"baseUrl": "https://llm.example.com/v1", "model": "m"}});
    assert_eq!(put(&h, &h.token, "local-llm", llm).await.status, 201);
    let r = h.post_json("/v1/workflows/mood/versions", Value::Null).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// A peer answering like Slack's chat.postMessage; it records each request.
async fn slack_peer() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                // the head, then the body up to its length
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text[..end]
                            .lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                            .and_then(|(_, v)| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
                let body = r#"{"ok":true,"channel":"C0ALERTS","ts":"1712345678.000100"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, rx)
}

both!(a_slack_step_posts_with_its_workspaces_connection);
async fn a_slack_step_posts_with_its_workspaces_connection(h: Harness) {
    let (port, mut seen) = slack_peer().await;
    put_secret(&h, "SLACK_BOT_TOKEN", BOT_TOKEN).await;
    let conn = json!({"kind": "slack", "default": true, "settings": {
        "token": "{{ secrets.SLACK_BOT_TOKEN }}",
        "apiUrl": format!("http://127.0.0.1:{port}/api"),
        "channel": "#alerts"
    }});
    assert_eq!(put(&h, &h.token, "slack-main", conn).await.status, 201);
    let yaml = r#"schemaVersion: 1
name: alert
steps:
  - key: post
    action: SEND_SLACK_MESSAGE
    config: { text: "Negative mention: {{ input.text }}" }
  - key: reply
    action: SEND_SLACK_MESSAGE
    config: { connection: slack-main, channel: C0OTHER, threadTs: "{{ steps.post.output.ts }}", text: "details" }
"#;
    h.publish("alert", yaml).await;
    let run = h.run("alert", json!({"text": "it broke"})).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(
        run["stepExecutions"]["post"]["output"],
        json!({"ok": true, "channel": "C0ALERTS", "ts": "1712345678.000100"})
    );
    assert!(!run.to_string().contains(BOT_TOKEN), "{run}");
    let first = seen.recv().await.unwrap();
    let second = seen.recv().await.unwrap();
    for req in [&first, &second] {
        assert!(req.starts_with("POST /api/chat.postMessage HTTP/1.1"), "{req}");
        assert!(
            req.to_ascii_lowercase()
                .contains(&format!("authorization: bearer {BOT_TOKEN}").to_ascii_lowercase()),
            "{req}"
        );
    }
    let body = |req: &str| -> Value { serde_json::from_str(req.split("\r\n\r\n").nth(1).unwrap()).unwrap() };
    assert_eq!(
        body(&first),
        json!({"channel": "#alerts", "text": "Negative mention: it broke"})
    );
    assert_eq!(
        body(&second),
        json!({"channel": "C0OTHER", "text": "details", "thread_ts": "1712345678.000100"})
    );
    // a connection deleted after publishing: the step fails, saying which
    let r = h.send(h.req(Method::DELETE, "/v1/connections/slack-main")).await;
    assert_eq!(r.status, 204);
    let run = h.run("alert", json!({"text": "again"})).await;
    assert_eq!(run["status"], "FAILED", "{run}");
    let message = run["stepExecutions"]["post"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("a slack connection"), "{message}");
}

both!(concurrent_defaults_leave_exactly_one);
async fn concurrent_defaults_leave_exactly_one(h: Harness) {
    let puts = (0..12).map(|i| {
        let mut body = smtp(&format!("n{i}@example.org"));
        body["default"] = json!(true);
        let token = h.token.clone();
        let h = &h;
        async move { put(h, &token, &format!("mail-{i}"), body).await }
    });
    for a in futures_util::future::join_all(puts).await {
        assert_eq!(a.status, 201, "{}", a.text);
    }
    let list = h.get("/v1/connections").await;
    let defaults = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["default"] == true)
        .count();
    assert_eq!(defaults, 1, "{}", list.text);
}
