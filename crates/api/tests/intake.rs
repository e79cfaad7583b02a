//! Triggers through the real HTTP API: webhooks under each signature scheme
//! (valid deliveries and the negatives: tampered body, wrong secret, stale
//! timestamp, missing header), delivery de-duplication, events with CEL
//! filters accepted once, and schedules.

#[macro_use]
mod common;

use base64::Engine as _;
use common::{Harness, Setup, TestDb, problem};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn hooks_yaml() -> String {
    r#"
schemaVersion: 1
name: hooks
triggers:
  - { type: webhook, key: sw, verify: { scheme: standard-webhooks, secret: SW } }
  - { type: webhook, key: gh, verify: { scheme: github, secret: GH } }
  - { type: webhook, key: st, verify: { scheme: stripe, secret: ST, tolerance: 2m } }
  - { type: webhook, key: hm, verify: { scheme: hmac-sha256, secret: HM, header: X-Sig } }
  - { type: webhook, key: hmts, verify: { scheme: hmac-sha256, secret: HM, header: X-Sig, timestampHeader: X-Timestamp, tolerance: 5m } }
  - { type: webhook, key: open, verify: { scheme: none } }
  - { type: webhook, key: nosecret, verify: { scheme: github, secret: MISSING } }
steps:
  - key: echo
    action: TRANSFORM
    config: { value: "{{ trigger.data.body }}" }
"#
    .to_owned()
}

async fn harness(db: TestDb) -> Harness {
    let secrets = [
        ("SW", SW_SECRET),
        ("GH", "It's a Secret to Everybody"),
        ("ST", "whsec_stripe_test"),
        ("HM", "generic-key"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Harness::start(
        db,
        Setup {
            secrets,
            ..Setup::default()
        },
    )
    .await
}

macro_rules! with_secrets {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::harness(super::common::TestDb::sqlite()).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::common::TestDb::postgres().await {
                    super::$name(super::harness(db).await).await;
                }
            }
        }
    };
}

async fn deliver(h: &Harness, key: &str, headers: &[(&str, String)], body: &str) -> common::Res {
    let mut req = h
        .http
        .post(format!("{}/hooks/acme/hooks/{key}", h.base))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    h.send(req).await
}

with_secrets!(standard_webhooks_and_github);
async fn standard_webhooks_and_github(h: Harness) {
    h.publish("hooks", &hooks_yaml()).await;
    // Standard Webhooks, signed now with the documentation's key
    let key = base64::engine::general_purpose::STANDARD
        .decode(SW_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let body = r#"{"test": 2432232314}"#;
    let now = chrono::Utc::now().timestamp().to_string();
    let sign = |id: &str, ts: &str, body: &str, key: &[u8]| {
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD
                .encode(hmac(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body.as_bytes()]))
        )
    };
    let headers = |id: &str, ts: &str, sig: String| {
        vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.to_owned()),
            ("webhook-signature", sig),
        ]
    };
    let ok = deliver(&h, "sw", &headers("msg_1", &now, sign("msg_1", &now, body, &key)), body).await;
    assert_eq!(ok.status, 202, "{}", ok.text);
    assert_eq!(ok.body["duplicate"], false);
    let run = h.wait_run(ok.body["runId"].as_str().unwrap()).await;
    assert_eq!(run["triggerType"], "webhook");
    assert_eq!(run["input"], json!({"test": 2432232314_i64}));
    assert_eq!(run["output"]["echo"], json!({"test": 2432232314_i64}));
    assert_eq!(run["triggerData"]["deliveryId"], "msg_1");
    let seen: Vec<&String> = run["triggerData"]["headers"].as_object().unwrap().keys().collect();
    assert!(
        !seen.iter().any(|k| k.as_str() == "webhook-signature"),
        "signatures stay out of trigger data: {seen:?}"
    );
    // the same delivery id again: the same run, nothing new
    let again = deliver(&h, "sw", &headers("msg_1", &now, sign("msg_1", &now, body, &key)), body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        (again.body["runId"].clone(), again.body["duplicate"].clone()),
        (ok.body["runId"].clone(), json!(true))
    );
    // negatives: tampered body, wrong secret, stale timestamp, missing header
    let sig = sign("msg_2", &now, body, &key);
    problem(
        &deliver(&h, "sw", &headers("msg_2", &now, sig.clone()), r#"{"test": 1}"#).await,
        401,
        "signature-invalid",
    );
    problem(
        &deliver(
            &h,
            "sw",
            &headers("msg_2", &now, sign("msg_2", &now, body, b"wrong")),
            body,
        )
        .await,
        401,
        "signature-invalid",
    );
    let stale = (chrono::Utc::now().timestamp() - 600).to_string();
    problem(
        &deliver(
            &h,
            "sw",
            &headers("msg_2", &stale, sign("msg_2", &stale, body, &key)),
            body,
        )
        .await,
        401,
        "timestamp-out-of-tolerance",
    );
    let r = deliver(
        &h,
        "sw",
        &[("webhook-id", "msg_2".into()), ("webhook-timestamp", now.clone())],
        body,
    )
    .await;
    problem(&r, 401, "signature-missing");
    assert!(r.body["detail"].as_str().unwrap().contains("webhook-signature"));
    // GitHub: the documentation's vector over HTTP
    let gh = deliver(
        &h,
        "gh",
        &[
            (
                "X-Hub-Signature-256",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".into(),
            ),
            ("X-GitHub-Delivery", "d-1".into()),
        ],
        "Hello, World!",
    )
    .await;
    assert_eq!(gh.status, 202, "{}", gh.text);
    let run = h.wait_run(gh.body["runId"].as_str().unwrap()).await;
    assert_eq!(
        run["output"]["echo"], "Hello, World!",
        "a body that is not JSON arrives as text"
    );
    assert_eq!(run["input"], json!({}));
    let bad = [(
        "X-Hub-Signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".into(),
    )];
    problem(
        &deliver(&h, "gh", &bad, "Hello, World?").await,
        401,
        "signature-invalid",
    );
    problem(&deliver(&h, "gh", &[], "Hello, World!").await, 401, "signature-missing");
    // the secret is not configured on the server: 503 without naming it
    let r = deliver(&h, "nosecret", &bad, "Hello, World!").await;
    problem(&r, 503, "unavailable");
    assert!(!r.text.contains("MISSING"), "{}", r.text);
    // unknown webhook, unknown workspace
    problem(&deliver(&h, "nope", &[], "{}").await, 404, "not-found");
    let r = h
        .send(h.http.post(format!("{}/hooks/other/hooks/open", h.base)).body("{}"))
        .await;
    problem(&r, 404, "not-found");
}

with_secrets!(stripe_hmac_and_none);
async fn stripe_hmac_and_none(h: Harness) {
    h.publish("hooks", &hooks_yaml()).await;
    let body = r#"{"id": "evt_1", "type": "charge.succeeded"}"#;
    let stripe = |t: i64, body: &str, key: &str| {
        format!(
            "t={t},v1={}",
            hex(&hmac(
                key.as_bytes(),
                &[t.to_string().as_bytes(), b".", body.as_bytes()]
            ))
        )
    };
    let now = chrono::Utc::now().timestamp();
    let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = deliver(
        &h,
        "st",
        &[
            ("Stripe-Signature", stripe(now, body, "whsec_stripe_test")),
            ("traceparent", caller.to_owned()),
        ],
        body,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    // the delivery's run joins the sender's trace
    let run = h.wait_run(r.body["runId"].as_str().unwrap()).await;
    assert_eq!(run["traceId"], "0af7651916cd43dd8448eb211c80319c", "{run}");
    // the event id in the body de-duplicates
    let r2 = deliver(
        &h,
        "st",
        &[("Stripe-Signature", stripe(now, body, "whsec_stripe_test"))],
        body,
    )
    .await;
    assert_eq!((r2.status, r2.body["runId"].clone()), (200, r.body["runId"].clone()));
    problem(
        &deliver(&h, "st", &[("Stripe-Signature", stripe(now, body, "nope"))], body).await,
        401,
        "signature-invalid",
    );
    problem(
        &deliver(
            &h,
            "st",
            &[("Stripe-Signature", stripe(now - 180, body, "whsec_stripe_test"))],
            body,
        )
        .await,
        401,
        "timestamp-out-of-tolerance",
    );
    problem(
        &deliver(
            &h,
            "st",
            &[("Stripe-Signature", stripe(now, body, "whsec_stripe_test"))],
            r#"{"id": "evt_2"}"#,
        )
        .await,
        401,
        "signature-invalid",
    );
    problem(&deliver(&h, "st", &[], body).await, 401, "signature-missing");
    // generic HMAC in the configured header; Idempotency-Key de-duplicates
    let sig = hex(&hmac(b"generic-key", &[b"{\"a\": 1}"]));
    let r = deliver(
        &h,
        "hm",
        &[("X-Sig", sig.clone()), ("Idempotency-Key", "i-1".into())],
        "{\"a\": 1}",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r2 = deliver(
        &h,
        "hm",
        &[("X-Sig", sig.clone()), ("Idempotency-Key", "i-1".into())],
        "{\"a\": 1}",
    )
    .await;
    assert_eq!(r2.body["runId"], r.body["runId"]);
    problem(
        &deliver(&h, "hm", &[("X-Sig", sig)], "{\"a\": 2}").await,
        401,
        "signature-invalid",
    );
    problem(&deliver(&h, "hm", &[], "{\"a\": 1}").await, 401, "signature-missing");
    // `none` accepts anything, and without a delivery id every call is a run
    let a = deliver(&h, "open", &[], "{\"x\": 1}").await;
    let b = deliver(&h, "open", &[], "{\"x\": 1}").await;
    assert_eq!((a.status, b.status), (202, 202));
    assert_ne!(a.body["runId"], b.body["runId"]);
    // archiving stops the webhooks
    assert_eq!(
        h.post_json("/v1/workflows/hooks/archive", Value::Null).await.status,
        200
    );
    problem(&deliver(&h, "open", &[], "{}").await, 404, "not-found");
}

both!(events_start_filtered_runs_once);
async fn events_start_filtered_runs_once(h: Harness) {
    let yaml = |name: &str, filter: &str| {
        format!(
            "schemaVersion: 1\nname: {name}\ntriggers:\n  - type: event\n    event: mention.received\n    filter: \"{filter}\"\nsteps:\n  - key: got\n    action: TRANSFORM\n    config: {{ value: \"{{{{ trigger.data.data.platform }}}}\" }}\n"
        )
    };
    h.publish("masto", &yaml("masto", "event.data.platform == 'mastodon'"))
        .await;
    h.publish("any", &yaml("any", "true")).await;
    let r = h
        .post_json(
            "/v1/events",
            json!({"type": "mention.received", "id": "e-1", "data": {"platform": "mastodon"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["duplicate"], false);
    let runs = r.body["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 2);
    for id in &runs {
        let run = h.wait_run(id.as_str().unwrap()).await;
        assert_eq!(run["triggerType"], "event");
        assert_eq!(run["triggerData"]["id"], "e-1");
        assert_eq!(run["output"]["got"], "mastodon");
    }
    // the same id again: accepted once
    let again = h
        .post_json(
            "/v1/events",
            json!({"type": "mention.received", "id": "e-1", "data": {"platform": "mastodon"}}),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["runs"], json!(runs));
    // the filter decides
    let r = h
        .post_json(
            "/v1/events",
            json!({"type": "mention.received", "data": {"platform": "x"}}),
        )
        .await;
    assert_eq!(r.body["runs"].as_array().unwrap().len(), 1);
    // a subscriber whose inputs reject the data is named, the others run
    let strict = "schemaVersion: 1\nname: strict\ninputs:\n  type: object\n  required: [platform]\n  properties: { platform: { type: integer } }\ntriggers:\n  - { type: event, event: mention.received }\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";
    h.publish("strict", strict).await;
    let r = h
        .post_json(
            "/v1/events",
            json!({"type": "mention.received", "data": {"platform": "x"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["runs"].as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body["rejected"].as_array().unwrap().len(), 1, "{}", r.text);
    assert!(
        r.body["rejected"][0]["reason"].as_str().unwrap().contains("/platform"),
        "{}",
        r.text
    );
    // another type starts nothing; a bad type is refused
    let r = h.post_json("/v1/events", json!({"type": "other", "data": {}})).await;
    assert_eq!(r.body["runs"], json!([]));
    problem(
        &h.post_json("/v1/events", json!({"type": "bad type!", "data": {}}))
            .await,
        422,
        "invalid-event",
    );
    problem(
        &h.post_json("/v1/events", json!({"data": {}})).await,
        400,
        "invalid-body",
    );
    // another workspace's events do not reach these workflows
    let other = h.token_in("other", &["*"]).await;
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/events", h.base))
                .bearer_auth(&other)
                .json(&json!({"type": "mention.received", "data": {"platform": "mastodon"}})),
        )
        .await;
    assert_eq!(r.body["runs"], json!([]), "{}", r.text);
}

both!(schedules_list_toggle_and_preview);
async fn schedules_list_toggle_and_preview(h: Harness) {
    let yaml = "schemaVersion: 1\nname: cron\ntriggers:\n  - { type: schedule, cron: \"30 1 * * *\", timezone: Europe/London }\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";
    h.publish("cron", yaml).await;
    let r = h.get("/v1/schedules?workflow=cron").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let s = &items[0];
    assert_eq!(
        (s["cron"].as_str(), s["timezone"].as_str(), s["enabled"].as_bool()),
        (Some("30 1 * * *"), Some("Europe/London"), Some(true))
    );
    let id = s["id"].as_str().unwrap();
    let r = h.post_json(&format!("/v1/schedules/{id}/disable"), Value::Null).await;
    assert_eq!(r.body["enabled"], false, "{}", r.text);
    let r = h.post_json(&format!("/v1/schedules/{id}/enable"), Value::Null).await;
    assert_eq!(r.body["enabled"], true);
    assert!(r.body["nextFireAt"].is_string());
    // preview across the October DST change in London
    let r = h
        .get(&format!("/v1/schedules/{id}/preview?count=2&from=2025-10-25T12:00:00Z"))
        .await;
    assert_eq!(
        r.body["times"],
        json!(["2025-10-26T01:30:00+01:00", "2025-10-27T01:30:00+00:00"]),
        "{}",
        r.text
    );
    problem(
        &h.get(&format!("/v1/schedules/{id}/preview?count=0")).await,
        400,
        "invalid-count",
    );
    problem(
        &h.get(&format!("/v1/schedules/{id}/preview?count=101")).await,
        400,
        "invalid-count",
    );
    let r = h
        .post_json(
            "/v1/schedules/preview",
            json!({"cron": "0 9 * * 1-5", "timezone": "UTC", "from": "2026-12-04T10:00:00Z", "count": 1}),
        )
        .await;
    assert_eq!(r.body["times"], json!(["2026-12-07T09:00:00+00:00"]), "{}", r.text);
    problem(
        &h.post_json("/v1/schedules/preview", json!({"cron": "61 * * * *"}))
            .await,
        422,
        "invalid-cron",
    );
    // another workspace sees neither the list nor the schedule
    let other = h.token_in("other", &["*"]).await;
    let r = h
        .send(h.http.get(format!("{}/v1/schedules/{id}", h.base)).bearer_auth(&other))
        .await;
    problem(&r, 404, "not-found");
    let r = h
        .send(h.http.get(format!("{}/v1/schedules", h.base)).bearer_auth(&other))
        .await;
    assert_eq!(r.body["items"], json!([]));
    // publishing a version without the trigger removes the schedule
    let etag = h
        .get("/v1/workflows/cron/draft")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = h
        .send(
            h.req(reqwest::Method::PUT, "/v1/workflows/cron/draft")
                .header("content-type", "application/yaml")
                .header("if-match", etag)
                .body(
                    "schemaVersion: 1\nname: cron\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 2 } }\n",
                ),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        h.post_json("/v1/workflows/cron/versions", Value::Null).await.status,
        201
    );
    assert_eq!(h.get("/v1/schedules").await.body["items"], json!([]));
}

both!(trigger_data_keeps_allowlisted_headers_only);
async fn trigger_data_keeps_allowlisted_headers_only(h: Harness) {
    h.publish("crm", common::CRM).await;
    let mut req = h
        .http
        .post(format!("{}/hooks/acme/crm/in", h.base))
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/1")
        .header("x-github-delivery", "d-9")
        .header("x-github-event", "push")
        .header("idempotency-key", "i-9")
        .body("{\"n\": 1}");
    for secret in [
        "authorization",
        "cookie",
        "x-api-key",
        "x-auth-token",
        "x-signature-256",
        "x-hub-signature",
        "x-hub-signature-256",
        "webhook-signature",
        "stripe-signature",
        "x-sig",
        "x-custom-secret",
        "proxy-authorization",
    ] {
        req = req.header(secret, format!("hunter2-{secret}"));
    }
    let r = h.send(req).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let run = h.wait_run(r.body["runId"].as_str().unwrap()).await;
    let kept = run["triggerData"]["headers"].as_object().unwrap();
    let mut names: Vec<&str> = kept.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "content-type",
            "idempotency-key",
            "user-agent",
            "x-github-delivery",
            "x-github-event"
        ],
        "{kept:?}"
    );
    assert!(!run.to_string().contains("hunter2"), "{run}");
}

with_secrets!(replays_cannot_change_the_unsigned_delivery_id);
async fn replays_cannot_change_the_unsigned_delivery_id(h: Harness) {
    h.publish("hooks", &hooks_yaml()).await;
    // GitHub: the signature covers the body only; X-GitHub-Delivery is not signed
    let gh_sig = (
        "X-Hub-Signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_owned(),
    );
    let first = deliver(
        &h,
        "gh",
        &[gh_sig.clone(), ("X-GitHub-Delivery", "d-1".into())],
        "Hello, World!",
    )
    .await;
    assert_eq!(first.status, 202, "{}", first.text);
    for replay in [
        vec![gh_sig.clone(), ("X-GitHub-Delivery", "d-2".into())],
        vec![gh_sig.clone()],
        vec![gh_sig.clone(), ("Idempotency-Key", "fresh".into())],
    ] {
        let r = deliver(&h, "gh", &replay, "Hello, World!").await;
        assert_eq!((r.status, &r.body["runId"]), (200, &first.body["runId"]), "{}", r.text);
        assert_eq!(r.body["duplicate"], true);
    }
    // HMAC without a timestamp: the same signed body is the same delivery
    let sig = hex(&hmac(b"generic-key", &[b"{\"a\": 1}"]));
    let a = deliver(
        &h,
        "hm",
        &[("X-Sig", sig.clone()), ("Idempotency-Key", "i-1".into())],
        "{\"a\": 1}",
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.text);
    for other in ["i-2", "x"] {
        let r = deliver(
            &h,
            "hm",
            &[("X-Sig", sig.clone()), ("X-Webhook-Id", other.into())],
            "{\"a\": 1}",
        )
        .await;
        assert_eq!((r.status, &r.body["runId"]), (200, &a.body["runId"]), "{}", r.text);
    }
    // HMAC with a signed timestamp: a replay is the same run; an old one is refused
    let now = chrono::Utc::now().timestamp();
    let signed = |t: i64, body: &str| {
        hex(&hmac(
            b"generic-key",
            &[t.to_string().as_bytes(), b".", body.as_bytes()],
        ))
    };
    let with_ts = |t: i64, body: &str| vec![("X-Sig", signed(t, body)), ("X-Timestamp", t.to_string())];
    let r1 = deliver(&h, "hmts", &with_ts(now, "{\"a\": 1}"), "{\"a\": 1}").await;
    assert_eq!(r1.status, 202, "{}", r1.text);
    let mut again = with_ts(now, "{\"a\": 1}");
    again.push(("Idempotency-Key", "new".into()));
    let r2 = deliver(&h, "hmts", &again, "{\"a\": 1}").await;
    assert_eq!((r2.status, &r2.body["runId"]), (200, &r1.body["runId"]));
    // the same body sent later is a new delivery (a new timestamp)
    let r3 = deliver(&h, "hmts", &with_ts(now + 1, "{\"a\": 1}"), "{\"a\": 1}").await;
    assert_eq!(r3.status, 202, "{}", r3.text);
    assert_ne!(r3.body["runId"], r1.body["runId"]);
    problem(
        &deliver(&h, "hmts", &with_ts(now - 600, "{\"a\": 1}"), "{\"a\": 1}").await,
        401,
        "timestamp-out-of-tolerance",
    );
    // the timestamp is signed: moving it to now breaks the signature
    let moved = vec![
        ("X-Sig", signed(now - 600, "{\"a\": 1}")),
        ("X-Timestamp", now.to_string()),
    ];
    problem(
        &deliver(&h, "hmts", &moved, "{\"a\": 1}").await,
        401,
        "signature-invalid",
    );
    let no_ts = vec![("X-Sig", signed(now, "{\"a\": 1}"))];
    problem(
        &deliver(&h, "hmts", &no_ts, "{\"a\": 1}").await,
        401,
        "signature-missing",
    );
    // Standard Webhooks: the signed webhook-id is the key (a new id needs a new signature)
    let key = base64::engine::general_purpose::STANDARD
        .decode(SW_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let ts = now.to_string();
    let sw_sig = |id: &str| {
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD
                .encode(hmac(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", b"{}"]))
        )
    };
    let sw = |id: &str, sig: String| {
        vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.clone()),
            ("webhook-signature", sig),
        ]
    };
    let s1 = deliver(&h, "sw", &sw("msg_9", sw_sig("msg_9")), "{}").await;
    assert_eq!(s1.status, 202, "{}", s1.text);
    problem(
        &deliver(&h, "sw", &sw("msg_10", sw_sig("msg_9")), "{}").await,
        401,
        "signature-invalid",
    );
}

/// Event filters run on the blocking pool: while three events whose filter
/// is a nested comprehension over a large list are being evaluated, a cheap
/// route still answers, within a generous bound and before any of them
/// unless a filter budget stopped it first (then it is listed in
/// `rejected`). 1,000 items (a million inner steps per event) keep a debug
/// build busy for several seconds per event; 4,000 took minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_event_filters_do_not_hold_the_runtime() {
    let h = Harness::start(TestDb::sqlite(), Setup::default()).await;
    let yaml = "schemaVersion: 1\nname: storm\ntriggers:\n  - type: event\n    event: storm\n    filter: \"event.data.l.exists(x, event.data.l.exists(y, x + y == -1))\"\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";
    h.publish("storm", yaml).await;
    // a failing filter is named in `rejected`, the event is accepted
    let r = h
        .post_json("/v1/events", json!({"type": "storm", "data": {"l": "not a list"}}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["runs"], json!([]));
    assert!(
        r.body["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("filter failed"),
        "{}",
        r.text
    );
    let list: Vec<i64> = (0..4000).collect();
    let slow = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let mut storm = Vec::new();
    for i in 0..3 {
        let req = slow
            .post(format!("{}/v1/events", h.base))
            .bearer_auth(&h.token)
            .json(&json!({"type": "storm", "id": format!("storm-{i}"), "data": {"l": list}}));
        storm.push(tokio::spawn(async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body, std::time::Instant::now())
        }));
    }
    // let the storm reach the filters
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = quick.get(format!("{}/healthz", h.base)).send().await;
        assert_eq!(
            r.map(|r| r.status().as_u16()).ok(),
            Some(200),
            "/healthz must answer within 5 s while filters run"
        );
        let r = quick
            .get(format!("{}/v1/workspace", h.base))
            .bearer_auth(&h.token)
            .send()
            .await;
        assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(200));
    }
    for t in storm {
        let (status, body, _) = t.await.unwrap();
        assert_eq!(status, 202, "{body}");
        // 4,000 × 4,000 iterations: stopped by the expression budget, and
        // the event is rejected for this subscription only
        assert_eq!(body["runs"], json!([]), "{body}");
        let reason = body["rejected"][0]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("filter failed") && reason.contains("exceeded its"),
            "{body}"
        );
    }
}
