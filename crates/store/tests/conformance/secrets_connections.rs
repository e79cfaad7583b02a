//! A workspace's secrets, connections and email templates:
//! `Admin::{put_secret, secrets, delete_secret, put_connection, connections,
//! delete_connection, put_email_template, email_templates,
//! delete_email_template}` and `Store::{workspace_secrets, connection,
//! email_template}`.

use std::collections::HashMap;

use orbflow_engine::Error;
use orbflow_engine::admin::Admin;
use orbflow_engine::store::Store;
use serde_json::json;

use crate::fixtures::{connection, email_template, secret_keys, workspace};

conformance!(put_secret, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    assert_err!(s.put_secret(ws.id, "TOKEN", "v").await, Error::State(_));
    assert!(
        s.secrets(ws.id).await.unwrap().is_empty(),
        "without a key nothing is stored"
    );
    let keyed = s.with_keys(&secret_keys());
    assert!(
        keyed
            .put_secret(ws.id, "TOKEN", "first-value-of-the-token")
            .await
            .unwrap(),
        "new"
    );
    let first = keyed.secrets(ws.id).await.unwrap();
    assert!(
        !keyed
            .put_secret(ws.id, "TOKEN", "second-value-of-the-token")
            .await
            .unwrap(),
        "replaced"
    );
    assert!(
        keyed
            .put_secret(other.id, "TOKEN", "the-other-workspaces-token")
            .await
            .unwrap(),
        "names are per workspace"
    );
    let listed = keyed.secrets(ws.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].created_at, first[0].created_at, "first set");
    assert!(listed[0].updated_at >= first[0].updated_at, "last set");
    assert_eq!(
        keyed.workspace_secrets(ws.id).await.unwrap(),
        HashMap::from([("TOKEN".to_owned(), "second-value-of-the-token".to_owned())]),
        "the last value"
    );
    // sealed: the stored value does not hold the secret (values long enough
    // that the base64 of the ciphertext cannot hold them by chance: a
    // two-letter value such as "v2" turns up in ~50 random base64
    // characters about once in a hundred rows, and failed CI that way)
    {
        use orbflow_store::entity::workspace_secrets;
        use sea_orm::EntityTrait;
        let rows = workspace_secrets::Entity::find().all(s.connection()).await.unwrap();
        assert!(
            rows.iter()
                .all(|r| !r.sealed.contains("value-of-the-token") && !r.sealed.contains("workspaces-token"))
        );
    }
});

conformance!(secrets, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    let keyed = s.with_keys(&secret_keys());
    assert!(keyed.secrets(ws.id).await.unwrap().is_empty());
    for name in ["ZETA", "ALPHA", "MID"] {
        keyed.put_secret(ws.id, name, "value").await.unwrap();
    }
    keyed.put_secret(other.id, "OTHER", "value").await.unwrap();
    let names: Vec<String> = keyed
        .secrets(ws.id)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.name)
        .collect();
    assert_eq!(names, ["ALPHA", "MID", "ZETA"], "by name, this workspace's only");
    // listing needs no key
    assert_eq!(s.secrets(ws.id).await.unwrap().len(), 3);
});

conformance!(delete_secret, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    let keyed = s.with_keys(&secret_keys());
    keyed.put_secret(ws.id, "A", "1").await.unwrap();
    keyed.put_secret(ws.id, "B", "2").await.unwrap();
    assert!(
        !keyed.delete_secret(other.id, "A").await.unwrap(),
        "not another workspace's"
    );
    assert!(keyed.delete_secret(ws.id, "A").await.unwrap());
    assert!(!keyed.delete_secret(ws.id, "A").await.unwrap(), "none left");
    assert_eq!(
        keyed.workspace_secrets(ws.id).await.unwrap(),
        HashMap::from([("B".to_owned(), "2".to_owned())])
    );
    assert!(keyed.put_secret(ws.id, "A", "3").await.unwrap(), "new again");
});

conformance!(workspace_secrets, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    let keys = secret_keys();
    let keyed = s.with_keys(&keys);
    assert!(keyed.workspace_secrets(ws.id).await.unwrap().is_empty());
    keyed.put_secret(ws.id, "A", "1 \u{e9} {{x}}").await.unwrap();
    keyed.put_secret(ws.id, "B", "").await.unwrap();
    keyed.put_secret(other.id, "C", "theirs").await.unwrap();
    assert_eq!(
        keyed.workspace_secrets(ws.id).await.unwrap(),
        HashMap::from([
            ("A".to_owned(), "1 \u{e9} {{x}}".to_owned()),
            ("B".to_owned(), String::new())
        ]),
        "opened, this workspace's only"
    );
    assert!(
        s.workspace_secrets(ws.id).await.unwrap().is_empty(),
        "empty without a key"
    );
    // another store on the same key opens them too; another key does not
    assert_eq!(s.with_keys(&keys).workspace_secrets(other.id).await.unwrap().len(), 1);
    assert!(s.with_keys(&secret_keys()).workspace_secrets(ws.id).await.is_err());
});

conformance!(put_connection, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    assert!(
        s.put_connection(ws.id, &connection("mail", "smtp", true))
            .await
            .unwrap(),
        "new"
    );
    let first = s.connections(ws.id).await.unwrap().remove(0);
    let mut changed = connection("mail", "smtp", true);
    changed.settings = json!({"host": "changed"});
    assert!(!s.put_connection(ws.id, &changed).await.unwrap(), "replaced");
    let got = s.connections(ws.id).await.unwrap().remove(0);
    assert_eq!(
        (got.settings, got.created_at),
        (json!({"host": "changed"}), first.created_at)
    );
    assert!(got.updated_at >= first.updated_at);
    // a new default of the kind takes over; other kinds and workspaces keep theirs
    s.put_connection(ws.id, &connection("chat", "slack", true))
        .await
        .unwrap();
    s.put_connection(other.id, &connection("theirs", "smtp", true))
        .await
        .unwrap();
    s.put_connection(ws.id, &connection("backup", "smtp", true))
        .await
        .unwrap();
    let defaults: Vec<(String, bool)> = s
        .connections(ws.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.is_default))
        .collect();
    assert_eq!(
        defaults,
        [("backup".into(), true), ("chat".into(), true), ("mail".into(), false)]
    );
    assert!(s.connections(other.id).await.unwrap()[0].is_default);
    // a non-default one leaves the default alone
    s.put_connection(ws.id, &connection("third", "smtp", false))
        .await
        .unwrap();
    assert_eq!(
        Store::connection(&*s, ws.id, "smtp", None).await.unwrap().unwrap().name,
        "backup"
    );
});

conformance!(connections, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    assert!(s.connections(ws.id).await.unwrap().is_empty());
    for (name, kind) in [("zeta", "smtp"), ("alpha", "slack"), ("mid", "smtp")] {
        s.put_connection(ws.id, &connection(name, kind, false)).await.unwrap();
    }
    s.put_connection(other.id, &connection("other", "smtp", false))
        .await
        .unwrap();
    let listed = s.connections(ws.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["alpha", "mid", "zeta"], "by name, this workspace's only");
    let want = connection("alpha", "slack", false);
    assert_eq!(
        (listed[0].kind.as_str(), &listed[0].settings),
        ("slack", &want.settings),
        "as written"
    );
});

conformance!(delete_connection, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    s.put_connection(ws.id, &connection("mail", "smtp", true))
        .await
        .unwrap();
    assert!(
        !s.delete_connection(other.id, "mail").await.unwrap(),
        "not another workspace's"
    );
    assert!(s.delete_connection(ws.id, "mail").await.unwrap());
    assert!(!s.delete_connection(ws.id, "mail").await.unwrap(), "none left");
    assert!(s.connections(ws.id).await.unwrap().is_empty());
    assert!(
        Store::connection(&*s, ws.id, "smtp", None).await.unwrap().is_none(),
        "no default left"
    );
});

conformance!(connection, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    assert!(
        Store::connection(&*s, ws.id, "smtp", None).await.unwrap().is_none(),
        "no default yet"
    );
    s.put_connection(ws.id, &connection("plain", "smtp", false))
        .await
        .unwrap();
    assert!(
        Store::connection(&*s, ws.id, "smtp", None).await.unwrap().is_none(),
        "a non-default one is not the default"
    );
    s.put_connection(ws.id, &connection("mail", "smtp", true))
        .await
        .unwrap();
    s.put_connection(ws.id, &connection("chat", "slack", true))
        .await
        .unwrap();
    s.put_connection(other.id, &connection("theirs", "smtp", true))
        .await
        .unwrap();
    let listed = s.connections(ws.id).await.unwrap();
    let mail = listed.iter().find(|c| c.name == "mail").unwrap();
    assert_eq!(
        Store::connection(&*s, ws.id, "smtp", None).await.unwrap().as_ref(),
        Some(mail),
        "the kind's default"
    );
    assert_eq!(
        Store::connection(&*s, ws.id, "slack", None)
            .await
            .unwrap()
            .unwrap()
            .name,
        "chat"
    );
    assert_eq!(
        Store::connection(&*s, ws.id, "smtp", Some("plain"))
            .await
            .unwrap()
            .unwrap()
            .name,
        "plain",
        "by name"
    );
    assert!(
        Store::connection(&*s, ws.id, "slack", Some("plain"))
            .await
            .unwrap()
            .is_none(),
        "by name, of its kind only"
    );
    assert!(
        Store::connection(&*s, ws.id, "smtp", Some("nope"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Store::connection(&*s, ws.id, "smtp", Some("theirs"))
            .await
            .unwrap()
            .is_none(),
        "not another workspace's"
    );
    assert!(
        Store::connection(&*s, other.id, "smtp", Some("plain"))
            .await
            .unwrap()
            .is_none(),
        "nor from another workspace"
    );
    assert_eq!(
        Store::connection(&*s, other.id, "smtp", None)
            .await
            .unwrap()
            .unwrap()
            .name,
        "theirs"
    );
});

conformance!(put_email_template, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    assert!(
        s.put_email_template(ws.id, &email_template("welcome", "Hi"))
            .await
            .unwrap(),
        "new"
    );
    let first = s.email_template(ws.id, "welcome").await.unwrap().unwrap();
    let mut changed = email_template("welcome", "Hello again");
    changed.text = None;
    changed.html = Some("<p>hi</p>".into());
    assert!(!s.put_email_template(ws.id, &changed).await.unwrap(), "replaced");
    let got = s.email_template(ws.id, "welcome").await.unwrap().unwrap();
    assert_eq!(
        (got.subject.as_str(), got.text, got.html),
        ("Hello again", None, changed.html)
    );
    assert_eq!(got.created_at, first.created_at, "first set");
    assert!(got.updated_at >= first.updated_at, "last set");
    assert!(
        s.put_email_template(other.id, &email_template("welcome", "x"))
            .await
            .unwrap(),
        "per workspace"
    );
});

conformance!(email_templates, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    assert!(s.email_templates(ws.id).await.unwrap().is_empty());
    for name in ["zeta", "alpha", "mid"] {
        s.put_email_template(ws.id, &email_template(name, name)).await.unwrap();
    }
    s.put_email_template(other.id, &email_template("other", "x"))
        .await
        .unwrap();
    let listed = s.email_templates(ws.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["alpha", "mid", "zeta"], "by name, this workspace's only");
    assert_eq!(listed[0].text, email_template("alpha", "alpha").text);
});

conformance!(delete_email_template, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    s.put_email_template(ws.id, &email_template("welcome", "Hi"))
        .await
        .unwrap();
    assert!(
        !s.delete_email_template(other.id, "welcome").await.unwrap(),
        "not another workspace's"
    );
    assert!(s.delete_email_template(ws.id, "welcome").await.unwrap());
    assert!(!s.delete_email_template(ws.id, "welcome").await.unwrap(), "none left");
    assert!(s.email_template(ws.id, "welcome").await.unwrap().is_none());
});

conformance!(email_template, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    s.put_email_template(ws.id, &email_template("welcome", "Hi"))
        .await
        .unwrap();
    let got = s.email_template(ws.id, "welcome").await.unwrap().expect("found");
    let want = email_template("welcome", "Hi");
    assert_eq!(
        (got.name, got.subject, got.text, got.html),
        (want.name, want.subject, want.text, want.html)
    );
    assert!(s.email_template(ws.id, "nope").await.unwrap().is_none());
    assert!(
        s.email_template(other.id, "welcome").await.unwrap().is_none(),
        "not another workspace's"
    );
});
