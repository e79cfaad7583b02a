//! Workspaces and API tokens: `Admin::{create_workspace, ensure_workspace,
//! workspace_by_slug, workspace, insert_token, token_by_hash, touch_token,
//! tokens, revoke_token}`.

use chrono::Duration;
use orbflow_engine::Error;
use orbflow_engine::admin::Admin;
use uuid::Uuid;

use crate::fixtures::{token, with_nanos, workspace};

conformance!(create_workspace, |s| {
    let ws = s.create_workspace("acme", "Acme Inc.").await.unwrap();
    assert_eq!((ws.slug.as_str(), ws.name.as_str()), ("acme", "Acme Inc."));
    assert_eq!(s.workspace(ws.id).await.unwrap(), Some(ws.clone()), "as stored");
    assert_err!(s.create_workspace("acme", "Other").await, Error::Duplicate(_));
    assert_eq!(
        s.workspace_by_slug("acme").await.unwrap(),
        Some(ws),
        "the first one is kept"
    );
    let other = s.create_workspace("acme2", "Acme Inc.").await.unwrap();
    assert_eq!(other.name, "Acme Inc.", "names need not be unique");
});

conformance!(ensure_workspace, |s| {
    let made = s.ensure_workspace("team").await.unwrap();
    assert_eq!(
        (made.slug.as_str(), made.name.as_str()),
        ("team", "team"),
        "named after its slug"
    );
    assert_eq!(s.ensure_workspace("team").await.unwrap(), made, "idempotent");
    let existing = s.create_workspace("named", "A Name").await.unwrap();
    assert_eq!(
        s.ensure_workspace("named").await.unwrap(),
        existing,
        "an existing one is returned as is"
    );
    // concurrent creators get the same one
    let (a, b) = tokio::join!(s.ensure_workspace("raced"), s.ensure_workspace("raced"));
    assert_eq!(a.unwrap(), b.unwrap());
});

conformance!(workspace_by_slug, |s| {
    let ws = s.create_workspace("acme", "Acme").await.unwrap();
    s.create_workspace("acme_x", "Other").await.unwrap();
    assert_eq!(s.workspace_by_slug("acme").await.unwrap(), Some(ws));
    assert!(s.workspace_by_slug("nope").await.unwrap().is_none());
    assert!(
        s.workspace_by_slug("acme%").await.unwrap().is_none(),
        "exact, not a pattern"
    );
    assert!(s.workspace_by_slug("ACME").await.unwrap().is_none(), "case-sensitive");
});

conformance!(workspace, |s| {
    let ws = s.create_workspace("acme", "Acme").await.unwrap();
    assert_eq!(s.workspace(ws.id).await.unwrap(), Some(ws));
    assert!(s.workspace(Uuid::now_v7()).await.unwrap().is_none());
});

conformance!(insert_token, |s| {
    let ws = workspace(&s, "ws").await;
    let t = token(ws.id, "ci");
    s.insert_token(&t, "hash-1").await.unwrap();
    assert_eq!(
        s.token_by_hash("hash-1").await.unwrap(),
        Some(t.clone()),
        "every field round-trips"
    );
    let mut twin = token(ws.id, "twin");
    assert_err!(s.insert_token(&twin, "hash-1").await, Error::Duplicate(_));
    twin.id = t.id;
    assert!(s.insert_token(&twin, "hash-2").await.is_err(), "a token id is unique");
    assert_eq!(s.tokens(ws.id).await.unwrap(), [t]);
});

conformance!(token_by_hash, |s| {
    let ws = workspace(&s, "ws").await;
    let (a, b) = (token(ws.id, "a"), token(ws.id, "b"));
    s.insert_token(&a, "hash-a").await.unwrap();
    s.insert_token(&b, "hash-b").await.unwrap();
    assert_eq!(s.token_by_hash("hash-a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.token_by_hash("hash-b").await.unwrap(), Some(b));
    assert!(s.token_by_hash("hash-c").await.unwrap().is_none());
    assert!(
        s.token_by_hash("hash-%").await.unwrap().is_none(),
        "exact, not a pattern"
    );
    // revoked ones too
    let at = orbflow_store::now();
    assert!(s.revoke_token(ws.id, a.id, at).await.unwrap());
    assert_eq!(s.token_by_hash("hash-a").await.unwrap().unwrap().revoked_at, Some(at));
});

conformance!(touch_token, |s| {
    let ws = workspace(&s, "ws").await;
    let (a, b) = (token(ws.id, "a"), token(ws.id, "b"));
    s.insert_token(&a, "hash-a").await.unwrap();
    s.insert_token(&b, "hash-b").await.unwrap();
    let at = orbflow_store::now();
    s.touch_token(a.id, at).await.unwrap();
    assert_eq!(s.token_by_hash("hash-a").await.unwrap().unwrap().last_used_at, Some(at));
    assert_eq!(s.token_by_hash("hash-b").await.unwrap(), Some(b), "only that token");
    let later = at + Duration::seconds(3);
    s.touch_token(a.id, later).await.unwrap();
    assert_eq!(
        s.token_by_hash("hash-a").await.unwrap().unwrap().last_used_at,
        Some(later)
    );
    s.touch_token(Uuid::now_v7(), later).await.unwrap();
    s.touch_token(a.id, with_nanos(later)).await.unwrap();
    assert_eq!(
        s.token_by_hash("hash-a").await.unwrap().unwrap().last_used_at,
        Some(later),
        "kept to the microsecond"
    );
});

conformance!(tokens, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    assert!(s.tokens(ws.id).await.unwrap().is_empty());
    let mut mine = Vec::new();
    for (i, name) in ["first", "second", "third"].into_iter().enumerate() {
        let t = token(ws.id, name);
        s.insert_token(&t, &format!("h{i}")).await.unwrap();
        s.insert_token(&token(other.id, name), &format!("other{i}"))
            .await
            .unwrap();
        mine.push(t);
    }
    assert_eq!(
        s.tokens(ws.id).await.unwrap(),
        mine,
        "the workspace's own, oldest first"
    );
    let at = orbflow_store::now();
    s.revoke_token(ws.id, mine[0].id, at).await.unwrap();
    let listed = s.tokens(ws.id).await.unwrap();
    assert_eq!(
        (listed.len(), listed[0].revoked_at),
        (3, Some(at)),
        "revoked ones are listed"
    );
});

conformance!(revoke_token, |s| {
    let ws = workspace(&s, "ws").await;
    let other = workspace(&s, "elsewhere").await;
    let t = token(ws.id, "ci");
    s.insert_token(&t, "hash").await.unwrap();
    let at = orbflow_store::now();
    assert!(
        !s.revoke_token(other.id, t.id, at).await.unwrap(),
        "not another workspace's token"
    );
    assert_eq!(s.token_by_hash("hash").await.unwrap().unwrap().revoked_at, None);
    assert!(
        !s.revoke_token(ws.id, Uuid::now_v7(), at).await.unwrap(),
        "no such token"
    );
    assert!(s.revoke_token(ws.id, t.id, with_nanos(at)).await.unwrap());
    assert_eq!(s.token_by_hash("hash").await.unwrap().unwrap().revoked_at, Some(at));
    // revoking again keeps the first revocation
    assert!(!s.revoke_token(ws.id, t.id, at + Duration::seconds(5)).await.unwrap());
    assert_eq!(s.token_by_hash("hash").await.unwrap().unwrap().revoked_at, Some(at));
});
