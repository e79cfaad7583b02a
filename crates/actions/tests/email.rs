//! SEND_EMAIL against a real SMTP server on 127.0.0.1 (aiosmtpd, started by
//! the test from `peer/smtp_peer.py`): recipients, headers, text and HTML
//! parts, AUTH; a 451 retried, a 550 and a refused login fatal.
//!
//! The server runs on `ORBFLOW_TEST_PYTHON` (default `python3`) with
//! aiosmtpd installed; without it the tests say they were skipped, and
//! under `CI=true` they fail (`.ci/run` installs it).

#[path = "peer/smtp.rs"]
mod smtp;

use orbflow_actions::email::SendEmail;
use orbflow_actions::net::HttpPolicy;
use orbflow_actions::{Action, ActionContext, ActionError, Outcome};
use serde_json::{Value, json};
use smtp::Smtp;

async fn send(config: Value, connection: Option<Value>, allow_private: bool) -> Result<Outcome, ActionError> {
    let (mut ctx, _) = ActionContext::for_test(config);
    ctx.idempotency_key = "0192f0c1-run:send".into();
    ctx.connection = connection;
    SendEmail::new(&HttpPolicy { allow_private }).execute(ctx).await
}

#[tokio::test]
async fn a_message_with_every_part_reaches_the_server() {
    let Some(smtp) = Smtp::start(true) else { return };
    let config = json!({
        "to": ["ann@example.org", "Bob Builder <bob@example.org>"],
        "cc": "carol@example.org",
        "bcc": "hidden@example.org",
        "replyTo": "support@orbflow.example",
        "subject": "Daily digest: 3 mentions",
        "body": "3 new mentions today",
        "html": "<p><b>3</b> new mentions today</p>"
    });
    let out = send(config, Some(smtp.connection(true)), true).await.unwrap();
    let Outcome::Completed(out) = out else {
        panic!("{out:?}")
    };
    let id = out["messageId"].as_str().unwrap().to_owned();
    assert_eq!(
        out["accepted"],
        json!([
            "ann@example.org",
            "bob@example.org",
            "carol@example.org",
            "hidden@example.org"
        ])
    );
    let m = smtp.next();
    assert_eq!(m["from"], "bot@orbflow.example");
    assert_eq!(m["login"], "bot");
    assert_eq!(
        m["to"],
        json!([
            "ann@example.org",
            "bob@example.org",
            "carol@example.org",
            "hidden@example.org"
        ])
    );
    let data = m["data"].as_str().unwrap();
    for header in [
        "Subject: Daily digest: 3 mentions",
        "Reply-To: support@orbflow.example",
        "Cc: carol@example.org",
        "From: \"Orbflow Bot\" <bot@orbflow.example>",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "3 new mentions today",
        "<p><b>3</b> new mentions today</p>",
    ] {
        assert!(data.contains(header), "{header} missing in:\n{data}");
    }
    assert!(data.contains(&format!("Message-ID: {id}")), "{id} in:\n{data}");
    assert!(!data.contains("hidden@example.org"), "bcc in the headers:\n{data}");
}

#[tokio::test]
async fn a_451_is_retried_and_the_retry_is_accepted_with_the_same_message_id() {
    let Some(smtp) = Smtp::start(false) else { return };
    let config = json!({"to": "busy@example.org", "subject": "s", "body": "b"});
    let first = send(config.clone(), Some(smtp.connection(false)), true).await;
    let Err(ActionError::Retryable { message, .. }) = first else {
        panic!("a 451 is retryable: {first:?}")
    };
    assert!(message.contains("451"), "{message}");
    let second = send(config, Some(smtp.connection(false)), true).await.unwrap();
    let Outcome::Completed(out) = second else { panic!() };
    let m = smtp.next();
    assert_eq!(m["to"], json!(["busy@example.org"]));
    let id = out["messageId"].as_str().unwrap();
    assert!(m["data"].as_str().unwrap().contains(&format!("Message-ID: {id}")));
}

#[tokio::test]
async fn a_550_and_a_refused_login_are_fatal() {
    let Some(smtp) = Smtp::start(true) else { return };
    let rejected = send(
        json!({"to": "reject@example.org", "subject": "s", "body": "b"}),
        Some(smtp.connection(true)),
        true,
    )
    .await;
    let Err(ActionError::Fatal { message }) = rejected else {
        panic!("a 550 is fatal: {rejected:?}")
    };
    assert!(
        message.contains("550") && message.contains("smtp://127.0.0.1"),
        "{message}"
    );
    let mut wrong = smtp.connection(true);
    wrong["password"] = json!("not-it");
    let refused = send(
        json!({"to": "a@example.org", "subject": "s", "body": "b"}),
        Some(wrong),
        true,
    )
    .await;
    let Err(ActionError::Fatal { message }) = refused else {
        panic!("a refused login is fatal: {refused:?}")
    };
    assert!(message.contains("535"), "{message}");
    assert!(!message.contains("not-it"), "{message}");
}

#[tokio::test]
async fn a_dead_server_is_retryable_a_private_one_refused_by_default() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conn = json!({"host": "127.0.0.1", "port": port, "tls": "none", "from": "bot@orbflow.example"});
    let config = json!({"to": "a@example.org", "subject": "s", "body": "b"});
    let dead = send(config.clone(), Some(conn.clone()), true).await.unwrap_err();
    assert!(dead.is_retryable(), "{dead}");
    let refused = send(config.clone(), Some(conn), false).await.unwrap_err();
    assert!(!refused.is_retryable(), "{refused}");
    assert!(refused.to_string().contains("ORBFLOW_HTTP_ALLOW_PRIVATE"), "{refused}");
    let none = send(config, None, true).await.unwrap_err();
    assert!(none.to_string().contains("needs an smtp connection"), "{none}");
}

struct Stored;

#[async_trait::async_trait]
impl orbflow_actions::email::EmailTemplates for Stored {
    async fn get(&self, name: &str) -> Result<Option<orbflow_actions::email::EmailTemplate>, ActionError> {
        Ok((name == "welcome").then(|| orbflow_actions::email::EmailTemplate {
            subject: "Welcome, {{ data.name }}".into(),
            text: Some("Hello {{ data.name }}, you have {{ data.count }} new mentions.".into()),
            html: Some("<p>Hello <b>{{ data.name }}</b></p>".into()),
        }))
    }
}

#[tokio::test]
async fn a_stored_template_is_rendered_with_the_steps_data() {
    let Some(smtp) = Smtp::start(false) else { return };
    let send_with = |config: Value| {
        let conn = smtp.connection(false);
        async move {
            let (mut ctx, _) = ActionContext::for_test(config);
            ctx.connection = Some(conn);
            ctx.email_templates = Some(std::sync::Arc::new(Stored));
            SendEmail::new(&HttpPolicy { allow_private: true }).execute(ctx).await
        }
    };
    let out = send_with(json!({"to": "ann@example.org", "templateId": "welcome", "data": {"name": "Ann", "count": 3}}))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Completed(_)));
    let data = smtp.next()["data"].as_str().unwrap().to_owned();
    for part in [
        "Subject: Welcome, Ann",
        "Hello Ann, you have 3 new mentions.",
        "<p>Hello <b>Ann</b></p>",
        "multipart/alternative",
    ] {
        assert!(data.contains(part), "{part} missing in:\n{data}");
    }
    // the config's own subject wins
    send_with(json!({"to": "ann@example.org", "subject": "Custom", "templateId": "welcome", "data": {"name": "A", "count": 1}}))
        .await
        .unwrap();
    assert!(smtp.next()["data"].as_str().unwrap().contains("Subject: Custom"));
    let missing = send_with(json!({"to": "ann@example.org", "templateId": "nope"}))
        .await
        .unwrap_err();
    assert!(
        !missing.is_retryable() && missing.to_string().contains("`nope` does not exist"),
        "{missing}"
    );
    // a template reading data the step did not give fails, fatally
    let err = send_with(json!({"to": "ann@example.org", "templateId": "welcome"}))
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("failed to render"),
        "{err}"
    );
}
