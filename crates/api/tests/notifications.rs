//! The in-app inbox through the real HTTP API, on SQLite and Postgres:
//! CREATE_NOTIFICATION steps write to the run's workspace, listed newest
//! first by recipient and read state with cursor paging, marked read and
//! unread; another workspace's notification is a 404; one notification per
//! run step however often it is created.

#[macro_use]
mod common;

use common::{Harness, problem};
use orbflow_engine::admin::Admin;
use orbflow_engine::admin::NewNotification;
use orbflow_engine::store::Store;
use reqwest::Method;
use serde_json::{Value, json};

const INBOX: &str = r#"schemaVersion: 1
name: inbox
steps:
  - key: each
    type: loop
    forEach: "input.users"
    as: user
    steps:
      - key: tell
        action: CREATE_NOTIFICATION
        config:
          userId: "{{ user }}"
          title: "Post published"
          message: "Your post {{ input.post }} is live"
          level: warning
          link: "/posts/{{ input.post }}"
          data: { post: "{{ input.post }}" }
"#;

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

both!(notifications_are_created_by_runs_listed_and_marked);
async fn notifications_are_created_by_runs_listed_and_marked(h: Harness) {
    h.publish("inbox", INBOX).await;
    let run = h
        .run("inbox", json!({"users": ["ann", "bob", "ann"], "post": 42}))
        .await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let made: Vec<String> = run["output"]["each"]
        .as_array()
        .expect("one output per item")
        .iter()
        .map(|o| o["notificationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(made.len(), 3);

    let all = h.get("/v1/notifications").await;
    assert_eq!(all.status, 200, "{}", all.text);
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(ids(&all.body), newest_first);
    let n = &all.body["items"][0];
    assert_eq!(n["recipient"], "ann");
    assert_eq!(n["title"], "Post published");
    assert_eq!(n["body"], "Your post 42 is live");
    assert_eq!(n["level"], "warning");
    assert_eq!(n["link"], "/posts/42");
    assert_eq!(n["data"], json!({"post": 42}));
    assert_eq!(n["runId"], run["id"]);
    assert_eq!(n["read"], false);

    // by recipient, paged
    let first = h.get("/v1/notifications?recipient=ann&limit=1").await;
    assert_eq!(ids(&first.body), [made[2].clone()]);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = h
        .get(&format!("/v1/notifications?recipient=ann&limit=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second.body), [made[0].clone()]);
    let cursor = second.body["nextCursor"].as_str().unwrap().to_owned();
    let last = h
        .get(&format!("/v1/notifications?recipient=ann&limit=1&cursor={cursor}"))
        .await;
    assert_eq!(last.body["items"], json!([]));
    assert_eq!(last.body["nextCursor"], Value::Null);

    // read, unread
    let read = h
        .send(h.req(Method::POST, &format!("/v1/notifications/{}/read", made[1])))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.body["read"], true);
    let at = read.body["readAt"].clone();
    assert!(at.is_string());
    let again = h
        .send(h.req(Method::POST, &format!("/v1/notifications/{}/read", made[1])))
        .await;
    assert_eq!(again.body["readAt"], at, "a second read keeps the first time");
    let unread = h.get("/v1/notifications?unread=true").await;
    assert_eq!(ids(&unread.body), [made[2].clone(), made[0].clone()]);
    let back = h
        .send(h.req(Method::POST, &format!("/v1/notifications/{}/unread", made[1])))
        .await;
    assert_eq!(back.body["read"], false);
    assert_eq!(back.body["readAt"], Value::Null);
    assert_eq!(
        h.get(&format!("/v1/notifications/{}", made[1])).await.body["read"],
        false
    );

    // another workspace: none of it
    let other = h.token_in("globex", &["*"]).await;
    let as_other =
        |method: Method, path: String| h.send(h.http.request(method, format!("{}{path}", h.base)).bearer_auth(&other));
    assert_eq!(
        as_other(Method::GET, "/v1/notifications".into()).await.body["items"],
        json!([])
    );
    problem(
        &as_other(Method::GET, format!("/v1/notifications/{}", made[0])).await,
        404,
        "not-found",
    );
    problem(
        &as_other(Method::POST, format!("/v1/notifications/{}/read", made[0])).await,
        404,
        "not-found",
    );
    // permissions, bad ids and cursors
    let reader = h.token_in("acme", &["notifications:read"]).await;
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/notifications/{}/read", h.base, made[0]))
                .bearer_auth(&reader),
        )
        .await;
    problem(&r, 403, "forbidden");
    assert_eq!(h.get("/v1/notifications/not-a-uuid").await.status, 400);
    problem(&h.get("/v1/notifications?cursor=zzz").await, 400, "invalid-cursor");
}

both!(one_notification_per_run_step_however_often_it_is_created);
async fn one_notification_per_run_step_however_often_it_is_created(h: Harness) {
    let ws = h.store.workspace_by_slug("acme").await.unwrap().unwrap().id;
    let n = NewNotification {
        recipient: "ann".into(),
        title: "t".into(),
        body: "b".into(),
        level: orbflow_model::NotificationLevel::Info,
        link: None,
        data: None,
        run_id: None,
        step_path: Some("tell".into()),
        dedup_key: "run-1:tell".into(),
    };
    let (first, created) = h.store.create_notification(ws, &n).await.unwrap();
    assert!(created);
    let (second, created) = h.store.create_notification(ws, &n).await.unwrap();
    assert!(!created);
    assert_eq!(first, second);
    let page = h.get("/v1/notifications").await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
}
