//! The in-app inbox: `Store::create_notification` and
//! `Admin::{notifications, notification, mark_notification}`.

use chrono::Duration;
use orbflow_engine::admin::{Admin, NotificationFilter, Page};
use orbflow_engine::store::Store;
use uuid::Uuid;

use crate::fixtures::{inserted_run, notification, with_nanos, workspace};

conformance!(create_notification, |s| {
    let (v, run) = inserted_run(&s, "ws", "wf").await;
    let ws = v.workspace_id;
    let other = workspace(&s, "elsewhere").await.id;
    let mut n = notification("alice", "run:step");
    n.run_id = Some(run.id);
    let (id, created) = s.create_notification(ws, &n).await.unwrap();
    assert!(created);
    let got = s.notification(ws, id).await.unwrap().expect("stored");
    assert_eq!(
        (
            got.recipient.as_str(),
            got.title.as_str(),
            got.body.as_str(),
            got.level.as_str()
        ),
        (
            n.recipient.as_str(),
            n.title.as_str(),
            n.body.as_str(),
            n.level.as_str()
        )
    );
    assert_eq!(
        (got.link, got.data, got.run_id, got.step_path),
        (n.link.clone(), n.data.clone(), n.run_id, n.step_path.clone())
    );
    assert_eq!((got.id, got.read_at), (id, None), "unread");
    // once per dedup key: the second create returns the first one
    let mut again = notification("bob", "run:step");
    again.title = "changed".into();
    assert_eq!(s.create_notification(ws, &again).await.unwrap(), (id, false));
    assert_eq!(
        s.notification(ws, id).await.unwrap().unwrap().recipient,
        "alice",
        "not rewritten"
    );
    // keys are per workspace
    let (theirs, created) = s.create_notification(other, &again).await.unwrap();
    assert!(created);
    assert_ne!(theirs, id);
    let (next, created) = s
        .create_notification(ws, &notification("alice", "run:other"))
        .await
        .unwrap();
    assert!(created && next != id);
});

conformance!(notifications, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let mut made = Vec::new();
    for (i, who) in ["alice", "bob", "alice", "alice", "bob"].into_iter().enumerate() {
        made.push(
            s.create_notification(ws, &notification(who, &format!("k{i}")))
                .await
                .unwrap()
                .0,
        );
    }
    s.create_notification(other, &notification("alice", "k0"))
        .await
        .unwrap();
    s.mark_notification(ws, made[2], Some(orbflow_store::now()))
        .await
        .unwrap();
    let ids = |v: Vec<orbflow_engine::admin::NotificationRecord>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    let page = |after, limit| Page { after, limit };
    let every = NotificationFilter::default();
    let newest_first: Vec<Uuid> = made.iter().rev().copied().collect();
    assert_eq!(
        ids(s.notifications(ws, &every, page(None, 100)).await.unwrap()),
        newest_first,
        "this workspace's, newest first"
    );
    let p1 = ids(s.notifications(ws, &every, page(None, 2)).await.unwrap());
    assert_eq!(p1, newest_first[..2]);
    let p2 = ids(s.notifications(ws, &every, page(Some(p1[1]), 2)).await.unwrap());
    assert_eq!(p2, newest_first[2..4]);
    let p3 = ids(s.notifications(ws, &every, page(Some(p2[1]), 9)).await.unwrap());
    assert_eq!(p3, newest_first[4..]);
    let alice = NotificationFilter {
        recipient: Some("alice".into()),
        unread_only: false,
    };
    assert_eq!(
        ids(s.notifications(ws, &alice, page(None, 100)).await.unwrap()),
        [made[3], made[2], made[0]]
    );
    let unread = NotificationFilter {
        recipient: Some("alice".into()),
        unread_only: true,
    };
    assert_eq!(
        ids(s.notifications(ws, &unread, page(None, 100)).await.unwrap()),
        [made[3], made[0]]
    );
    let unread_all = NotificationFilter {
        recipient: None,
        unread_only: true,
    };
    assert_eq!(
        ids(s.notifications(ws, &unread_all, page(None, 100)).await.unwrap()).len(),
        4
    );
    assert_eq!(
        ids(s.notifications(other, &every, page(None, 100)).await.unwrap()).len(),
        1
    );
});

conformance!(notification, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let (id, _) = s.create_notification(ws, &notification("alice", "k")).await.unwrap();
    assert_eq!(s.notification(ws, id).await.unwrap().map(|n| n.id), Some(id));
    assert!(
        s.notification(other, id).await.unwrap().is_none(),
        "not another workspace's"
    );
    assert!(s.notification(ws, Uuid::now_v7()).await.unwrap().is_none());
});

conformance!(mark_notification, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let (id, _) = s.create_notification(ws, &notification("alice", "k")).await.unwrap();
    let (kept, _) = s.create_notification(ws, &notification("alice", "k2")).await.unwrap();
    let at = orbflow_store::now();
    assert!(
        s.mark_notification(other, id, Some(at)).await.unwrap().is_none(),
        "not another workspace's"
    );
    assert_eq!(
        s.notification(ws, id).await.unwrap().unwrap().read_at,
        None,
        "left unread"
    );
    let read = s.mark_notification(ws, id, Some(at)).await.unwrap().expect("marked");
    assert_eq!((read.id, read.read_at), (id, Some(at)));
    assert_eq!(s.notification(ws, id).await.unwrap(), Some(read.clone()), "as stored");
    assert_eq!(
        s.notification(ws, kept).await.unwrap().unwrap().read_at,
        None,
        "only that one"
    );
    // read again: SeaStore keeps the first time it was read
    let again = s
        .mark_notification(ws, id, Some(at + Duration::seconds(5)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.read_at, Some(at));
    let unread = s.mark_notification(ws, id, None).await.unwrap().unwrap();
    assert_eq!(unread.read_at, None, "marked unread");
    assert!(
        s.mark_notification(ws, Uuid::now_v7(), Some(at))
            .await
            .unwrap()
            .is_none()
    );
    // a finer time than the store keeps: the same microsecond on both backends
    let read = s
        .mark_notification(ws, kept, Some(with_nanos(at)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.read_at, Some(at), "kept to the microsecond");
    assert_eq!(s.notification(ws, kept).await.unwrap().unwrap().read_at, Some(at));
    assert!(s.mark_notification(ws, Uuid::now_v7(), None).await.unwrap().is_none());
});
