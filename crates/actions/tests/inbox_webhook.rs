//! CREATE_NOTIFICATION's delivery to the workspace's `inbox_webhook`
//! connection, against a receiver on 127.0.0.1: the event, its Standard
//! Webhooks headers and a signature the receiver can check; a 5xx is
//! retryable, a 4xx fatal, a private address refused by default.

use std::sync::Arc;

mod peer;

use orbflow_actions::net::HttpPolicy;
use orbflow_actions::notifications::{CreateNotification, Inbox, InboxItem};
use orbflow_actions::{Action, ActionContext, ActionError, Outcome};
use peer::{Reply, Server};
use serde_json::{Value, json};

struct One;

#[async_trait::async_trait]
impl Inbox for One {
    async fn create(&self, _item: InboxItem) -> Result<String, ActionError> {
        Ok("0192f0c1-aaaa-7bbb-8ccc-000000000001".into())
    }
}

const SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=";

async fn notify(url: &str, allow_private: bool) -> Result<Outcome, ActionError> {
    let (mut ctx, _) =
        ActionContext::for_test(json!({"userId": "ann", "title": "Flagged", "message": "Look", "level": "warning"}));
    ctx.inbox = Some(Arc::new(One));
    ctx.connection = Some(json!({"url": url, "secret": SECRET}));
    CreateNotification::new(&HttpPolicy { allow_private })
        .execute(ctx)
        .await
}

/// HMAC-SHA256 over `{id}.{ts}.{body}` with the decoded secret, computed
/// here as a receiver would.
fn expected_signature(id: &str, ts: &str, body: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit as _, Mac as _};
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    assert_eq!(key, b"secret-key-for-tests");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn each_notification_is_posted_signed_to_the_receiver() {
    let server = Server::start(|_, _| Reply::new(204)).await;
    let out = notify(&server.url("/hooks/inbox"), true).await.unwrap();
    assert_eq!(
        out,
        Outcome::Completed(json!({"notificationId": "0192f0c1-aaaa-7bbb-8ccc-000000000001", "delivered": true}))
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hooks/inbox"));
    let event: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(event["type"], "notification.created");
    assert_eq!(event["data"]["id"], "0192f0c1-aaaa-7bbb-8ccc-000000000001");
    assert_eq!(event["data"]["recipient"], "ann");
    assert_eq!(event["data"]["level"], "warning");
    let id = r.header("webhook-id").unwrap();
    assert_eq!(id, "0192f0c1-aaaa-7bbb-8ccc-000000000001");
    let ts = r.header("webhook-timestamp").unwrap();
    assert!(ts.parse::<i64>().is_ok(), "{ts}");
    assert_eq!(
        r.header("webhook-signature").unwrap(),
        expected_signature(id, ts, &r.body)
    );
}

#[tokio::test]
async fn receiver_failures_decide_retry_and_private_addresses_are_refused() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/busy" => Reply::new(503),
        _ => Reply::new(410),
    })
    .await;
    assert!(notify(&server.url("/busy"), true).await.unwrap_err().is_retryable());
    let gone = notify(&server.url("/gone"), true).await.unwrap_err();
    assert!(!gone.is_retryable() && gone.to_string().contains("410"), "{gone}");
    let refused = notify(&server.url("/busy"), false).await.unwrap_err();
    assert!(
        !refused.is_retryable() && refused.to_string().contains("ORBFLOW_HTTP_ALLOW_PRIVATE"),
        "{refused}"
    );
    assert_eq!(server.requests().len(), 2, "the refused one never left");
}
