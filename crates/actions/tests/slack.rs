//! SEND_SLACK_MESSAGE against a local peer answering with Slack's
//! documented shapes: chat.postMessage's `{ok, channel, ts}` and
//! `{ok: false, error}`, HTTP 429 with `Retry-After`, and an incoming
//! webhook's `ok` / `invalid_payload` / `channel_not_found` text answers.

use std::time::Duration;

mod peer;

use orbflow_actions::net::HttpPolicy;
use orbflow_actions::slack::SendSlackMessage;
use orbflow_actions::{Action, ActionContext, ActionError, Outcome};
use peer::{Reply, Server};
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-123-456-s3cr3t";

async fn run(config: Value) -> Result<Outcome, ActionError> {
    let (ctx, _) = ActionContext::for_test(config);
    SendSlackMessage::new(&HttpPolicy { allow_private: true })
        .execute(ctx)
        .await
}

fn api(server: &Server, extra: Value) -> Value {
    let mut c = json!({
        "token": TOKEN,
        "apiUrl": server.url("/api"),
        "channel": "C0123",
        "text": "Negative mention: it broke",
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[tokio::test]
async fn chat_post_message_sends_the_message_and_returns_channel_and_ts() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            &json!({"ok": true, "channel": "C0123", "ts": "1712345678.000200", "message": {"text": "x"}}),
        )
    })
    .await;
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*it broke*"}}]);
    let out = run(api(&server, json!({"threadTs": "1712345600.000100", "blocks": blocks})))
        .await
        .unwrap();
    assert_eq!(
        out,
        Outcome::Completed(json!({"ok": true, "channel": "C0123", "ts": "1712345678.000200"}))
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/api/chat.postMessage"));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"channel": "C0123", "text": "Negative mention: it broke", "thread_ts": "1712345600.000100", "blocks": blocks})
    );
}

#[tokio::test]
async fn slack_error_codes_decide_fatal_or_retryable() {
    for (code, retryable) in [
        ("channel_not_found", false),
        ("invalid_auth", false),
        ("not_in_channel", false),
        ("internal_error", true),
        ("service_unavailable", true),
        ("ratelimited", true),
    ] {
        let server = Server::start(move |_, _| Reply::json(200, &json!({"ok": false, "error": code}))).await;
        let err = run(api(&server, json!({}))).await.unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{code}: {err}");
        let message = err.to_string();
        assert!(message.contains(&format!("`{code}`")), "{message}");
        assert!(!message.contains(TOKEN) && !message.contains("/api"), "{message}");
    }
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let server = Server::start(|_, _| {
        Reply::json(429, &json!({"ok": false, "error": "ratelimited"})).header("Retry-After", "7")
    })
    .await;
    match run(api(&server, json!({}))).await {
        Err(ActionError::Retryable { message, retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert!(message.contains("429"), "{message}");
        }
        other => panic!("expected a retry after 7s, got {other:?}"),
    }
}

#[tokio::test]
async fn server_errors_and_a_body_that_is_not_slacks_are_retryable_auth_errors_fatal() {
    let server = Server::start(|_, _| Reply::text(500, "upstream broke")).await;
    assert!(run(api(&server, json!({}))).await.unwrap_err().is_retryable());
    let server = Server::start(|_, _| Reply::text(200, "<html>proxy</html>")).await;
    assert!(run(api(&server, json!({}))).await.unwrap_err().is_retryable());
    // a proxy echoing the request must not leak the token into the error
    let server = Server::start(|r, _| Reply::text(403, &format!("denied: {:?}", r.header("authorization")))).await;
    let err = run(api(&server, json!({}))).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains(TOKEN), "{err}");
}

#[tokio::test]
async fn incoming_webhooks_post_the_text_and_map_their_text_errors() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/services/T1/B1/ok" => Reply::text(200, "ok"),
        "/services/T1/B1/gone" => Reply::text(404, "channel_not_found"),
        "/services/T1/B1/bad" => Reply::text(400, "invalid_payload"),
        "/services/T1/B1/busy" => Reply::text(429, "rate limited").header("Retry-After", "2"),
        _ => Reply::text(500, "rollup_error"),
    })
    .await;
    let hook = |path: &str| json!({"webhookUrl": server.url(path), "text": "hello", "threadTs": "1.5"});
    let out = run(hook("/services/T1/B1/ok")).await.unwrap();
    assert_eq!(out, Outcome::Completed(json!({"ok": true})));
    let sent: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(sent, json!({"text": "hello", "thread_ts": "1.5"}));
    assert!(server.requests()[0].header("authorization").is_none());

    let gone = run(hook("/services/T1/B1/gone")).await.unwrap_err();
    assert!(!gone.is_retryable());
    let message = gone.to_string();
    assert!(
        message.contains("404") && message.contains("channel_not_found"),
        "{message}"
    );
    assert!(
        !message.contains("/services/"),
        "the webhook URL is a credential: {message}"
    );
    assert!(!run(hook("/services/T1/B1/bad")).await.unwrap_err().is_retryable());
    match run(hook("/services/T1/B1/busy")).await {
        Err(ActionError::Retryable { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(2))),
        other => panic!("{other:?}"),
    }
    assert!(run(hook("/services/T1/B1/down")).await.unwrap_err().is_retryable());
}

#[tokio::test]
async fn private_addresses_are_refused_by_default_and_bad_configs_are_fatal() {
    let server = Server::start(|_, _| Reply::text(200, "ok")).await;
    let (ctx, _) = ActionContext::for_test(json!({"webhookUrl": server.url("/x"), "text": "t"}));
    let err = SendSlackMessage::new(&HttpPolicy { allow_private: false })
        .execute(ctx)
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("ORBFLOW_HTTP_ALLOW_PRIVATE"),
        "{err}"
    );
    assert!(server.requests().is_empty());
    let err = run(json!({"token": TOKEN, "text": "t"})).await.unwrap_err();
    assert!(err.to_string().contains("`token` needs `channel`"), "{err}");
    let err = run(json!({"text": "t"})).await.unwrap_err();
    assert!(err.to_string().contains("a slack connection"), "{err}");
}

#[tokio::test]
async fn a_dead_peer_is_retryable_and_a_cancel_stops_the_call() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = run(json!({"webhookUrl": format!("http://127.0.0.1:{port}/h"), "text": "t"}))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let server = Server::start(|_, _| Reply::text(200, "ok").delay(Duration::from_secs(30))).await;
    let (ctx, _) = ActionContext::for_test(json!({"webhookUrl": server.url("/slow"), "text": "t"}));
    let cancel = ctx.cancel.clone();
    let call = tokio::spawn(async move {
        SendSlackMessage::new(&HttpPolicy { allow_private: true })
            .execute(ctx)
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(r, Err(ActionError::Cancelled)), "{r:?}");
}
