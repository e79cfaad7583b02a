//! GENERATE_CONTENT and MODERATE_CONTENT against local peers speaking the
//! providers' documented shapes: OpenAI Chat Completions and Moderations
//! (`{error: {message, type, code}}` errors, `x-ratelimit-reset-*`),
//! Anthropic Messages (`{type: "error", error: {type, message}}`, 529
//! overloaded, `retry-after`).

use std::time::Duration;

mod peer;

use orbflow_actions::generate::GenerateContent;
use orbflow_actions::moderate::ModerateContent;
use orbflow_actions::net::HttpPolicy;
use orbflow_actions::{Action, ActionContext, ActionError, Outcome};
use peer::{Reply, Server};
use serde_json::{Value, json};

const KEY: &str = "sk-test-0123456789abcdef";
const POLICY: HttpPolicy = HttpPolicy { allow_private: true };

async fn generate(config: Value, connection: Option<Value>) -> Result<Outcome, ActionError> {
    let (mut ctx, _) = ActionContext::for_test(config);
    ctx.connection = connection;
    GenerateContent::new(&POLICY).execute(ctx).await
}

async fn moderate(config: Value, connection: Option<Value>) -> Result<Value, ActionError> {
    let (mut ctx, _) = ActionContext::for_test(config);
    ctx.connection = connection;
    match ModerateContent::new(&POLICY).execute(ctx).await? {
        Outcome::Completed(v) => Ok(v),
        other => panic!("{other:?}"),
    }
}

fn completed(o: Outcome) -> Value {
    match o {
        Outcome::Completed(v) => v,
        other => panic!("{other:?}"),
    }
}

fn openai_answer() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1764000000, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Thanks for the kind words!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28}
    })
}

#[tokio::test]
async fn openai_chat_completions_get_the_prompt_and_give_text_model_and_usage() {
    let server = Server::start(|_, _| Reply::json(200, &openai_answer())).await;
    let conn = json!({"provider": "openai", "baseUrl": server.url("/v1"), "apiKey": KEY, "model": "gpt-4o-mini"});
    let out = completed(
        generate(
            json!({"prompt": "Reply to: love it", "system": "Be brief.", "maxTokens": 50, "temperature": 0.3, "outputVariable": "reply"}),
            Some(conn),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        out,
        json!({
            "reply": "Thanks for the kind words!", "model": "gpt-4o-mini-2024-07-18",
            "usage": {"inputTokens": 21, "outputTokens": 7}, "finishReason": "stop", "provider": "openai"
        })
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert!(r.header("traceparent").is_none(), "no trace in a test context");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Reply to: love it"}], "max_tokens": 50, "temperature": 0.3})
    );
}

#[tokio::test]
async fn a_step_model_overrides_the_connections_and_azure_keys_go_in_their_header() {
    let server = Server::start(|_, _| Reply::json(200, &openai_answer())).await;
    let conn =
        json!({"baseUrl": server.url("/openai/v1"), "apiKey": KEY, "apiKeyHeader": "api-key", "model": "gpt-4o"});
    let out = completed(
        generate(json!({"prompt": "p", "model": "o-mini"}), Some(conn))
            .await
            .unwrap(),
    );
    assert_eq!(out["text"], "Thanks for the kind words!", "default outputVariable");
    let r = &server.requests()[0];
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.header("api-key"), Some(KEY));
    assert_eq!(r.header("authorization"), None);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["model"], "o-mini");
    // a local server with no key: no credential header at all
    let conn = json!({"baseUrl": server.url("/v1"), "model": "llama3.2"});
    generate(json!({"prompt": "p"}), Some(conn)).await.unwrap();
    let r = &server.requests()[1];
    assert_eq!((r.header("authorization"), r.header("api-key")), (None, None));
}

#[tokio::test]
async fn anthropic_messages_get_version_key_and_required_max_tokens() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            &json!({
                "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "Glad you like it."}],
                "stop_reason": "end_turn", "usage": {"input_tokens": 12, "output_tokens": 5}
            }),
        )
    })
    .await;
    let conn = json!({"provider": "anthropic", "baseUrl": server.url(""), "apiKey": KEY, "model": "claude-sonnet-4-5"});
    let out = completed(
        generate(json!({"prompt": "hi", "system": "Be kind."}), Some(conn))
            .await
            .unwrap(),
    );
    assert_eq!(
        out,
        json!({"text": "Glad you like it.", "model": "claude-sonnet-4-5", "usage": {"inputTokens": 12, "outputTokens": 5}, "finishReason": "end_turn", "provider": "anthropic"})
    );
    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "system": "Be kind.", "messages": [{"role": "user", "content": "hi"}]})
    );
}

#[tokio::test]
async fn rate_limits_and_outages_retry_after_the_providers_wait_and_client_errors_are_fatal() {
    let cases: Vec<(Reply, Option<Duration>, bool, &str)> = vec![
        (
            Reply::json(429, &json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}))
                .header("x-ratelimit-reset-requests", "2s")
                .header("x-ratelimit-reset-tokens", "6m0s"),
            Some(Duration::from_secs(360)),
            true,
            "429: requests: Rate limit reached for requests",
        ),
        (
            Reply::json(529, &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
            None,
            true,
            "529: overloaded_error: Overloaded",
        ),
        (
            Reply::json(503, &json!({"error": {"message": "down"}})).header("retry-after", "9"),
            Some(Duration::from_secs(9)),
            true,
            "503: down",
        ),
        (
            Reply::json(401, &json!({"error": {"message": format!("Incorrect API key provided: {KEY}."), "type": "invalid_request_error", "code": "invalid_api_key"}})),
            None,
            false,
            "401: invalid_request_error: Incorrect API key provided: [redacted].",
        ),
        (
            Reply::json(400, &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: 300000 > 64000"}})),
            None,
            false,
            "400: invalid_request_error: max_tokens: 300000 > 64000",
        ),
    ];
    for (reply, wait, retryable, says) in cases {
        let server = Server::start(move |_, _| reply.clone()).await;
        let conn = json!({"baseUrl": server.url("/v1"), "apiKey": KEY, "model": "m"});
        let e = generate(json!({"prompt": "p"}), Some(conn)).await.unwrap_err();
        assert_eq!(e.is_retryable(), retryable, "{e}");
        assert!(e.to_string().contains(says), "{e}");
        assert!(!e.to_string().contains(KEY), "the key is never quoted: {e}");
        if let ActionError::Retryable { retry_after, .. } = &e {
            assert_eq!(*retry_after, wait, "{e}");
        }
    }
}

#[tokio::test]
async fn generate_content_explains_what_is_missing() {
    let e = generate(json!({"prompt": "p"}), None).await.unwrap_err();
    assert!(!e.is_retryable());
    assert!(
        e.to_string().contains("GENERATE_CONTENT needs an `llm` connection"),
        "{e}"
    );
    let e = generate(
        json!({"prompt": "p", "outputVariable": "model"}),
        Some(json!({"model": "m"})),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("`outputVariable` cannot be `model`"), "{e}");
    // a 200 that is not the API's answer may be a proxy's: retried
    let server = Server::start(|_, _| Reply::text(200, "<html>captive portal</html>")).await;
    let conn = json!({"baseUrl": server.url("/v1"), "model": "m"});
    let e = generate(json!({"prompt": "p"}), Some(conn)).await.unwrap_err();
    assert!(
        e.is_retryable() && e.to_string().contains("the answer has no `choices`"),
        "{e}"
    );
    // private addresses are refused unless allowed
    let (mut ctx, _) = ActionContext::for_test(json!({"prompt": "p"}));
    ctx.connection = Some(json!({"baseUrl": server.url("/v1"), "model": "m"}));
    let e = GenerateContent::new(&HttpPolicy::default())
        .execute(ctx)
        .await
        .unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("ORBFLOW_HTTP_ALLOW_PRIVATE"),
        "{e}"
    );
}

#[tokio::test]
async fn moderation_uses_the_providers_verdict_narrowed_to_the_categories_asked() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            &json!({
                "id": "modr-1", "model": "omni-moderation-2024-09-26",
                "results": [{
                    "flagged": true,
                    "categories": {"harassment": true, "harassment/threatening": false, "hate": false, "violence": false, "sexual": false},
                    "category_scores": {"harassment": 0.91, "harassment/threatening": 0.02, "hate": 0.01, "violence": 0.03, "sexual": 0.0}
                }]
            }),
        )
    })
    .await;
    let conn = json!({"baseUrl": server.url("/v1"), "apiKey": KEY, "model": "omni-moderation-latest"});
    let out = moderate(json!({"text": "you idiot"}), Some(conn.clone()))
        .await
        .unwrap();
    assert_eq!(out["flagged"], true);
    assert_eq!(out["provider"], "openai-compatible");
    assert_eq!(out["model"], "omni-moderation-2024-09-26");
    assert_eq!(out["flaggedCategories"], json!(["harassment"]));
    assert_eq!(out["categoryScores"]["harassment"], 0.91);
    let r = &server.requests()[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/moderations"));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, json!({"input": "you idiot", "model": "omni-moderation-latest"}));
    // narrowed to categories that were not flagged: not flagged
    let out = moderate(
        json!({"text": "x", "categories": ["hate", "violence"]}),
        Some(conn.clone()),
    )
    .await
    .unwrap();
    assert_eq!(out["flagged"], false);
    assert_eq!(out["categories"], json!({"hate": false, "violence": false}));
    // `provider: builtin` keeps the text on the worker
    let out = moderate(json!({"text": "lovely day", "provider": "builtin"}), Some(conn))
        .await
        .unwrap();
    assert_eq!(
        (out["provider"].as_str(), out["flagged"].as_bool()),
        (Some("builtin"), Some(false))
    );
    assert_eq!(server.requests().len(), 2, "the builtin run made no call");
}

#[tokio::test]
async fn without_a_connection_moderation_runs_the_builtin_classifier() {
    let out = moderate(json!({"text": "I know where you live, you idiot"}), None)
        .await
        .unwrap();
    assert_eq!(out["provider"], "builtin");
    assert_eq!(out["flagged"], true);
    assert_eq!(
        out["flaggedCategories"],
        json!(["harassment", "harassment/threatening"])
    );
    assert_eq!(out["model"], Value::Null);
    let out = moderate(json!({"text": "Thanks, this was really helpful!"}), None)
        .await
        .unwrap();
    assert_eq!(out["flagged"], false);
    let e = moderate(json!({"text": "x", "categories": ["weather"]}), None)
        .await
        .unwrap_err();
    assert!(!e.is_retryable() && e.to_string().contains("category `weather`"), "{e}");
    let big = "a".repeat(100 * 1024 + 1);
    let e = moderate(json!({"text": big}), None).await.unwrap_err();
    assert!(e.to_string().contains("over the 102400-byte limit"), "{e}");
}

#[tokio::test]
async fn a_moderation_provider_error_is_typed() {
    let server =
        Server::start(|_, _| Reply::json(429, &json!({"error": {"message": "slow down"}})).header("retry-after", "4"))
            .await;
    let conn = json!({"baseUrl": server.url("/v1"), "apiKey": KEY});
    let e = moderate(json!({"text": "x"}), Some(conn)).await.unwrap_err();
    assert_eq!(
        e,
        ActionError::Retryable {
            message: format!("MODERATE_CONTENT POST http://{}/… answered 429: slow down", server.addr),
            retry_after: Some(Duration::from_secs(4)),
        }
    );
}

async fn sentiment(config: Value, connection: Option<Value>) -> Result<Outcome, ActionError> {
    let (mut ctx, _) = ActionContext::for_test(config);
    ctx.connection = connection;
    orbflow_actions::Registry::builtin(&orbflow_actions::CatalogConfig { http: POLICY })
        .unwrap()
        .execute("ANALYZE_SENTIMENT", ctx)
        .await
}

#[tokio::test]
async fn sentiment_uses_the_model_when_asked_and_the_lexicon_otherwise() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            &json!({"model": "gpt-4o-mini", "choices": [{"message": {"role": "assistant", "content": "```json\n{\"score\": -0.72}\n```"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 40, "completion_tokens": 9}}),
        )
    })
    .await;
    let conn = json!({"baseUrl": server.url("/v1"), "apiKey": KEY, "model": "gpt-4o-mini"});
    let out = completed(
        sentiment(
            json!({"text": "Not great, honestly.", "provider": "llm"}),
            Some(conn.clone()),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        out,
        json!({"score": -0.72, "label": "negative", "provider": "llm", "model": "gpt-4o-mini", "usage": {"inputTokens": 40, "outputTokens": 9}})
    );
    let body: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(
        body["messages"][0]["content"],
        orbflow_actions::sentiment_model::SYSTEM_PROMPT
    );
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "Not great, honestly."})
    );
    assert_eq!(body["temperature"], 0.0);
    // offline by default, even with a connection at hand: no call
    let out = completed(sentiment(json!({"text": "I love it!"}), Some(conn)).await.unwrap());
    assert_eq!(out["label"], "positive");
    assert!(
        out.get("provider").is_none() && out["positive"].as_u64() > Some(0),
        "{out}"
    );
    assert_eq!(server.requests().len(), 1);
    // a model that chats instead of answering the object: retried
    let chatty = Server::start(|_, _| {
        Reply::json(
            200,
            &json!({"model": "m", "choices": [{"message": {"content": "It sounds fairly negative to me."}}]}),
        )
    })
    .await;
    let e = sentiment(
        json!({"text": "meh", "provider": "llm"}),
        Some(json!({"baseUrl": chatty.url("/v1"), "model": "m"})),
    )
    .await
    .unwrap_err();
    assert!(
        e.is_retryable() && e.to_string().contains("did not answer {\"score\": -1..1}"),
        "{e}"
    );
    let e = sentiment(json!({"text": "meh", "provider": "llm"}), None)
        .await
        .unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("needs an `llm` connection"),
        "{e}"
    );
}
