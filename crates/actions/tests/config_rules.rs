//! Every rule an action enforces on its config when it runs is also a rule
//! of validation (DESIGN.md §5): `orbflow validate` reports it with its path,
//! line and column, in words rather than as a raw JSON Schema sentence.

use orbflow_actions::control::Delay;
use orbflow_actions::{Action, ActionContext, Registry};
use orbflow_model::Diagnostic;
use orbflow_model::dsl::{self, Format};
use serde_json::{Value, json};

fn registry() -> Registry {
    Registry::specs_only().expect("catalog")
}

/// Validates one step (YAML lines indented by 4 under `- key: s`).
fn check_step(step: &str) -> Vec<Diagnostic> {
    let yaml = format!("schemaVersion: 1\nname: t\nsteps:\n  - key: s\n{step}");
    match dsl::load(&yaml, Format::Yaml, &registry()) {
        Ok(_) => Vec::new(),
        Err(d) => d.0,
    }
}

/// The single error of a step, asserted to be a readable `invalid-config`
/// at `path` containing `msg`.
#[track_caller]
fn one_error(step: &str, path: &str, msg: &str) -> Diagnostic {
    let d = check_step(step);
    assert_eq!(d.len(), 1, "one error expected for\n{step}\ngot {d:#?}");
    let e = d.into_iter().next().unwrap();
    assert_eq!((e.path.as_str(), e.code), (path, "invalid-config"), "{e:?}");
    assert!(e.message.contains(msg), "{path}: {:?} lacks {msg:?}", e.message);
    for raw in ["anyOf", "oneOf", "allOf", "is not valid under"] {
        assert!(!e.message.contains(raw), "raw schema wording in {:?}", e.message);
    }
    e
}

#[test]
fn delay_needs_exactly_one_of_duration_and_until() {
    let e = one_error(
        "    action: DELAY\n    config: {}\n",
        "steps[0].config",
        "needs exactly one of `duration` or `until`",
    );
    assert_eq!((e.line, e.column), (Some(6), Some(13)), "located at the config");
    one_error(
        "    action: DELAY\n",
        "steps[0].config",
        "needs exactly one of `duration` or `until`",
    );
    one_error(
        "    action: DELAY\n    config: { duration: null }\n",
        "steps[0].config",
        "needs exactly one of",
    );
    one_error(
        "    action: DELAY\n    config: { duration: 10s, until: \"2026-12-01T09:00:00Z\" }\n",
        "steps[0].config",
        "takes only one of `duration` and `until`",
    );
}

#[test]
fn delay_values_are_checked() {
    let e = one_error(
        "    action: DELAY\n    config:\n      duration: 10 minutes\n",
        "steps[0].config.duration",
        "`10 minutes` is not a duration",
    );
    assert_eq!((e.line, e.column), (Some(7), Some(17)));
    one_error(
        "    action: DELAY\n    config: { duration: 367d }\n",
        "steps[0].config.duration",
        "at most 366 days",
    );
    one_error(
        "    action: DELAY\n    config: { duration: 31622400001 }\n",
        "steps[0].config.duration",
        "maximum",
    );
    one_error(
        "    action: DELAY\n    config: { duration: -5 }\n",
        "steps[0].config.duration",
        "minimum",
    );
    one_error(
        "    action: DELAY\n    config: { until: tomorrow }\n",
        "steps[0].config.until",
        "`tomorrow` is not an RFC 3339 date-time",
    );
    for ok in [
        "{ duration: 10m }",
        "{ duration: 600000 }",
        "{ duration: 0 }",
        "{ until: \"2026-12-01T09:00:00+01:00\" }",
        "{ duration: \"{{ input.wait }}\" }",
        "{ until: \"{{ input.when }}\" }",
    ] {
        assert_eq!(
            check_step(&format!("    action: DELAY\n    config: {ok}\n")),
            vec![],
            "{ok}"
        );
    }
}

/// What validation says of a DELAY config is what the action does with it.
#[tokio::test]
async fn delay_validation_agrees_with_the_runtime() {
    for cfg in [
        json!({}),
        json!({"duration": null}),
        json!({"until": null}),
        json!({"duration": "10m"}),
        json!({"duration": 1000}),
        json!({"duration": "367d"}),
        json!({"duration": 31_622_400_001_u64}),
        json!({"duration": "1s", "until": "2026-01-01T00:00:00Z"}),
        json!({"until": "2026-01-01T00:00:00Z"}),
        json!({"until": "2026-01-01 00:00"}),
        json!({"duration": null, "until": "2026-01-01T00:00:00Z"}),
    ] {
        let step = format!("    action: DELAY\n    config: {cfg}\n");
        let valid = check_step(&step).is_empty();
        let (ctx, _) = ActionContext::for_test(cfg.clone());
        let runs = Delay.execute(ctx).await.is_ok();
        assert_eq!(valid, runs, "{cfg}: validation says {valid}, the action {runs}");
    }
}

#[test]
fn trigger_webhook_rules() {
    let step = |config: &str| format!("    action: TRIGGER_WEBHOOK\n    config: {config}\n");
    one_error(
        &step("{ url: \"ftp://example.com/\" }"),
        "steps[0].config.url",
        "must be an absolute http or https URL",
    );
    one_error(
        &step("{ url: \"example.com/hook\" }"),
        "steps[0].config.url",
        "http or https URL",
    );
    one_error(
        &step("{ url: \"https://e.com\", timeout: 0 }"),
        "steps[0].config.timeout",
        "minimum",
    );
    one_error(
        &step("{ url: \"https://e.com\", timeout: 0s }"),
        "steps[0].config.timeout",
        "greater than 0",
    );
    one_error(
        &step("{ url: \"https://e.com\", method: FETCH }"),
        "steps[0].config.method",
        "`FETCH` is not one of `GET`, `POST`, `PUT`, `PATCH`, `DELETE` or `HEAD`",
    );
    one_error(
        &step("{ url: \"https://e.com\", headers: { \"Bad Name\": x } }"),
        "steps[0].config.headers",
        "`Bad Name` is not a valid HTTP header name",
    );
    let e = one_error(
        &step("{ url: \"https://e.com\", headers: { Authorization: \"Bearer s3cr\\u00e9t\" } }"),
        "steps[0].config.headers.Authorization",
        "is not a valid HTTP header value",
    );
    assert!(
        !e.message.contains("s3cr"),
        "a header value is never repeated: {}",
        e.message
    );
    for ok in [
        "{ url: \"https://example.com/x\", timeout: 5s, headers: { X-Api-Key: abc } }",
        "{ url: \"{{ secrets.HOOK_URL }}\", headers: { Authorization: \"Bearer {{ secrets.T }}\" } }",
        "{ url: \"https://{{ input.host }}/x\", timeout: \"{{ input.t }}\" }",
    ] {
        assert_eq!(check_step(&step(ok)), vec![], "{ok}");
    }
}

#[test]
fn other_actions_rules() {
    one_error(
        "    action: SEND_EMAIL\n    config: { to: a@example.com, subject: s }\n",
        "steps[0].config",
        "needs at least one of `body`, `html` or `templateId`",
    );
    one_error(
        "    action: SEND_EMAIL\n    config: { to: a@example.com, body: b }\n",
        "steps[0].config",
        "missing required config field `subject`",
    );
    one_error(
        "    action: SEND_EMAIL\n    config: { to: [], subject: s, body: b }\n",
        "steps[0].config.to",
        "less than 1 item",
    );
    one_error(
        "    action: SEND_SLACK_MESSAGE\n    config: { token: x, webhookUrl: \"https://h.example/\", channel: C, text: hi }\n",
        "steps[0].config",
        "takes only one of `webhookUrl` and `token`",
    );
    one_error(
        "    action: SEND_SLACK_MESSAGE\n    config: { token: x, text: hi }\n",
        "steps[0].config",
        "missing required config field `channel`",
    );
    one_error(
        "    action: SEND_SLACK_MESSAGE\n    config: { webhookUrl: hooks.slack.com/x, text: hi }\n",
        "steps[0].config.webhookUrl",
        "http or https URL",
    );
    one_error(
        "    action: SCHEDULE_POST\n    config: { platform: mastodon, accountId: a, content: c, publishAt: soon }\n",
        "steps[0].config.publishAt",
        "`soon` is not an RFC 3339 date-time",
    );
    one_error(
        "    action: POST_TO_SOCIAL\n    config: { platform: myspace, accountId: a, content: c }\n",
        "steps[0].config.platform",
        "`myspace` is not one of `mastodon`, `bluesky`, `x` or `twitter`",
    );
    one_error(
        "    action: POST_TO_SOCIAL\n    config: { platform: mastodon, accountId: a, content: c, mediaUrls: [\"file:///etc/passwd\"] }\n",
        "steps[0].config.mediaUrls[0]",
        "http or https URL",
    );
    one_error(
        "    action: CREATE_NOTIFICATION\n    config: { userId: u, title: t, message: m, level: loud }\n",
        "steps[0].config.level",
        "`loud` is not one of `info`, `warning` or `error`",
    );
    one_error(
        "    action: UPDATE_DATABASE\n    config: { table: t, operation: delete }\n",
        "steps[0].config",
        "missing required config field `where`",
    );
    one_error(
        "    action: UPDATE_DATABASE\n    config: { table: t, operation: insert }\n",
        "steps[0].config",
        "missing required config field `data`",
    );
}

/// Every catalog example passes the config rules (the docs show them; some
/// name steps of a larger workflow, so only config problems count here).
#[test]
fn catalog_examples_validate() {
    let r = registry();
    for s in r.specs().filter(|s| !s.block) {
        let cfg: Value = s.example.clone();
        let step = format!("    action: {}\n    config: {cfg}\n", s.name);
        let config_problems: Vec<Diagnostic> = check_step(&step)
            .into_iter()
            .filter(|d| d.code == "invalid-config" || d.code == "unknown-field")
            .collect();
        assert_eq!(config_problems, vec![], "{}", s.name);
    }
}
