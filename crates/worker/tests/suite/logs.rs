//! What actions log reaches the run log: LOG_EVENT's line and data, with
//! the attempt, in the transaction that records the outcome, whether the
//! step ran in a slot or inline; secret values never.

use crate::common;

use std::collections::HashMap;

use common::Harness;
use orbflow_engine::EngineConfig;
use orbflow_engine::store::Store;
use serde_json::json;

const SECRET: &str = "tok-9f8e7d";

fn with_secret() -> EngineConfig {
    EngineConfig {
        secrets: HashMap::from([("API_TOKEN".to_owned(), SECRET.to_owned())]),
        ..EngineConfig::default()
    }
}

// `first` runs in a slot (the run's first step); `second` runs inline, in
// the transaction that records `first`
const WORKFLOW: &str = r#"schemaVersion: 1
name: logs
steps:
  - key: first
    action: LOG_EVENT
    config:
      level: warn
      message: "calling with {{ secrets.API_TOKEN }} now"
      data: {token: "{{ secrets.API_TOKEN }}", nested: [{n: 1}, "x-{{ secrets.API_TOKEN }}"]}
  - key: second
    action: LOG_EVENT
    config: {message: "plain line"}
"#;

both_with!(log_event_lines_reach_the_run_log_redacted, super::with_secret());
async fn log_event_lines_reach_the_run_log_redacted(h: Harness) {
    let id = h.start(WORKFLOW, json!({})).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    let logs = h.store.logs(id).await.unwrap();
    for l in &logs {
        assert!(!l.message.contains(SECRET), "{}", l.message);
        assert!(
            !l.data.as_ref().is_some_and(|d| d.to_string().contains(SECRET)),
            "{:?}",
            l.data
        );
    }
    let of = |step: &str| -> Vec<&orbflow_engine::store::LogRecord> {
        logs.iter().filter(|l| l.step_path.as_deref() == Some(step)).collect()
    };
    let first = of("first");
    let line = first
        .iter()
        .find(|l| l.message == "calling with *** now")
        .unwrap_or_else(|| panic!("no LOG_EVENT line in {first:#?}"));
    assert_eq!((line.level.as_str(), line.attempt), ("warn", Some(1)));
    assert_eq!(line.data, Some(json!({"token": "***", "nested": [{"n": 1}, "x-***"]})));
    // written with the outcome: after the attempt started, before it completed
    let pos = |m: &str| first.iter().position(|l| l.message.starts_with(m));
    let (started, logged, completed) = (pos("step started"), pos("calling with"), pos("step completed"));
    assert!(started < logged && logged < completed, "{first:#?}");
    let second = of("second");
    let line = second
        .iter()
        .find(|l| l.message == "plain line")
        .unwrap_or_else(|| panic!("no line of the inline step in {second:#?}"));
    assert_eq!(
        (line.level.as_str(), line.attempt, &line.data),
        ("info", Some(1), &None)
    );
}
