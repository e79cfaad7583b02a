//! The workspace data store: `Store::write_records` and
//! `Admin::{records, record, replace_record, delete_record}`.

use orbflow_engine::Error;
use orbflow_engine::admin::{Admin, Page, RecordOp, RecordWrite};
use orbflow_engine::store::Store;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{Db, workspace};

fn write(collection: &str, op: RecordOp, data: Option<Value>, filter: Option<Value>, key: Option<&str>) -> RecordWrite {
    RecordWrite {
        collection: collection.into(),
        op,
        data,
        filter,
        dedup_key: key.map(str::to_owned),
    }
}

fn insert(data: Value) -> RecordWrite {
    write("leads", RecordOp::Insert, Some(data), None, None)
}

/// Inserts `data` into `leads`; its id.
async fn put(s: &Db, ws: Uuid, data: Value) -> Uuid {
    let out = s.write_records(ws, &insert(data)).await.unwrap();
    serde_json::from_value(out["records"][0]["id"].clone()).unwrap()
}

async fn all(s: &Db, ws: Uuid) -> Vec<Value> {
    let page = Page {
        after: None,
        limit: 1000,
    };
    s.records(ws, "leads", page)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.data)
        .collect()
}

conformance!(write_records, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    // insert: the record as written
    let out = s
        .write_records(ws, &insert(json!({"name": "a", "score": 1})))
        .await
        .unwrap();
    assert_eq!(out["affected"], 1);
    assert_eq!(out["records"][0]["data"], json!({"name": "a", "score": 1}));
    let id: Uuid = serde_json::from_value(out["records"][0]["id"].clone()).unwrap();
    assert_eq!(
        s.record(ws, "leads", id).await.unwrap().unwrap().data,
        json!({"name": "a", "score": 1})
    );
    put(&s, ws, json!({"name": "b", "score": 1})).await;
    put(&s, other, json!({"name": "a", "score": 1})).await;
    // update: merges into every match, this workspace's only
    let upd = write(
        "leads",
        RecordOp::Update,
        Some(json!({"score": 2})),
        Some(json!({"score": 1})),
        None,
    );
    let out = s.write_records(ws, &upd).await.unwrap();
    assert_eq!(out["affected"], 2);
    assert_eq!(
        all(&s, ws).await,
        [json!({"name": "a", "score": 2}), json!({"name": "b", "score": 2})]
    );
    assert_eq!(
        all(&s, other).await,
        [json!({"name": "a", "score": 1})],
        "another workspace's are not matched"
    );
    // upsert: inserts filter + data when nothing matches, else updates
    let ups = write(
        "leads",
        RecordOp::Upsert,
        Some(json!({"score": 5})),
        Some(json!({"name": "c"})),
        None,
    );
    let out = s.write_records(ws, &ups).await.unwrap();
    assert_eq!(
        (out["affected"].clone(), out["records"][0]["data"].clone()),
        (json!(1), json!({"name": "c", "score": 5}))
    );
    let ups = write(
        "leads",
        RecordOp::Upsert,
        Some(json!({"score": 6})),
        Some(json!({"name": "c"})),
        None,
    );
    s.write_records(ws, &ups).await.unwrap();
    assert_eq!(all(&s, ws).await.len(), 3);
    assert_eq!(all(&s, ws).await[2], json!({"name": "c", "score": 6}));
    // delete: the records as they were
    let del = write("leads", RecordOp::Delete, None, Some(json!({"name": "a"})), None);
    let out = s.write_records(ws, &del).await.unwrap();
    assert_eq!(out["records"], json!([{"id": id, "data": {"name": "a", "score": 2}}]));
    assert!(s.record(ws, "leads", id).await.unwrap().is_none());
    assert_eq!(
        all(&s, other).await.len(),
        1,
        "another workspace's record with the same data stays"
    );
    // collections are apart
    let other_coll = write("other", RecordOp::Delete, None, Some(json!({})), None);
    assert_eq!(s.write_records(ws, &other_coll).await.unwrap()["affected"], 0);
    assert_eq!(all(&s, ws).await.len(), 2);
    // once per dedup key: the second write returns the first's result, writing nothing
    let once = write("leads", RecordOp::Insert, Some(json!({"n": 1})), None, Some("run:step"));
    let first = s.write_records(ws, &once).await.unwrap();
    let again = write("leads", RecordOp::Insert, Some(json!({"n": 2})), None, Some("run:step"));
    assert_eq!(s.write_records(ws, &again).await.unwrap(), first);
    assert_eq!(all(&s, ws).await.len(), 3);
    let theirs = s.write_records(other, &once).await.unwrap();
    assert_ne!(theirs, first, "dedup keys are per workspace");
});

conformance!(write_records_refusals, |s| {
    let ws = workspace(&s, "ws").await.id;
    for w in [
        insert(json!([1])),
        write("leads", RecordOp::Insert, None, None, None),
        write("leads", RecordOp::Update, Some(json!({"a": 1})), None, None),
        write("leads", RecordOp::Delete, None, Some(json!("x")), None),
        insert(json!({"big": "x".repeat(orbflow_store::records::MAX_RECORD_BYTES)})),
    ] {
        assert_err!(s.write_records(ws, &w).await, Error::InvalidInput(_));
    }
    assert!(all(&s, ws).await.is_empty(), "nothing written");
    // a refused write with a dedup key does not consume it
    let keyed = write("leads", RecordOp::Insert, Some(json!(1)), None, Some("k"));
    assert_err!(s.write_records(ws, &keyed).await, Error::InvalidInput(_));
    let keyed = write("leads", RecordOp::Insert, Some(json!({"ok": true})), None, Some("k"));
    assert_eq!(s.write_records(ws, &keyed).await.unwrap()["affected"], 1);
    // past the record limit
    {
        use orbflow_store::entity::workspace_records as wr;
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let now = orbflow_store::now();
        let missing = orbflow_store::records::MAX_RECORDS - 1;
        let rows: Vec<wr::ActiveModel> = (0..missing)
            .map(|i| wr::ActiveModel {
                id: Set(Uuid::now_v7()),
                workspace_id: Set(ws),
                collection: Set("bulk".into()),
                data: Set(json!({"i": i})),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
        for chunk in rows.chunks(500) {
            wr::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(s.connection())
                .await
                .unwrap();
        }
    }
    assert_err!(
        s.write_records(ws, &insert(json!({"one": "more"}))).await,
        Error::InvalidInput(_)
    );
    let other = workspace(&s, "elsewhere").await.id;
    put(&s, other, json!({"theirs": true})).await;
});

conformance!(records, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(put(&s, ws, json!({"i": i})).await);
    }
    put(&s, other, json!({"i": 9})).await;
    let other_coll = write("else", RecordOp::Insert, Some(json!({"i": 8})), None, None);
    s.write_records(ws, &other_coll).await.unwrap();
    let page = |after, limit| Page { after, limit };
    let listed = s.records(ws, "leads", page(None, 100)).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids,
        "oldest first, this collection's only"
    );
    assert_eq!(
        (listed[0].collection.as_str(), &listed[0].data),
        ("leads", &json!({"i": 0}))
    );
    let p1: Vec<Uuid> = s
        .records(ws, "leads", page(None, 2))
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(p1, ids[..2]);
    let p2: Vec<Uuid> = s
        .records(ws, "leads", page(Some(p1[1]), 2))
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(p2, ids[2..4]);
    let p3: Vec<Uuid> = s
        .records(ws, "leads", page(Some(p2[1]), 9))
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(p3, ids[4..]);
    assert!(s.records(ws, "leads", page(Some(ids[4]), 9)).await.unwrap().is_empty());
    assert_eq!(
        s.records(other, "leads", page(None, 100)).await.unwrap().len(),
        1,
        "per workspace"
    );
});

conformance!(record, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let id = put(&s, ws, json!({"a": [1, null]})).await;
    let got = s.record(ws, "leads", id).await.unwrap().expect("found");
    assert_eq!(
        (got.id, got.collection.as_str(), &got.data),
        (id, "leads", &json!({"a": [1, null]}))
    );
    assert_eq!(got.created_at, got.updated_at);
    assert!(
        s.record(ws, "other", id).await.unwrap().is_none(),
        "of that collection only"
    );
    assert!(
        s.record(other, "leads", id).await.unwrap().is_none(),
        "not another workspace's"
    );
    assert!(s.record(ws, "leads", Uuid::now_v7()).await.unwrap().is_none());
});

conformance!(replace_record, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let id = put(&s, ws, json!({"a": 1, "b": 2})).await;
    let before = s.record(ws, "leads", id).await.unwrap().unwrap();
    let got = s
        .replace_record(ws, "leads", id, &json!({"c": 3}))
        .await
        .unwrap()
        .expect("replaced");
    assert_eq!(
        (got.id, &got.data, got.created_at),
        (id, &json!({"c": 3}), before.created_at),
        "replaced, not merged"
    );
    assert!(got.updated_at >= before.updated_at);
    assert_eq!(s.record(ws, "leads", id).await.unwrap(), Some(got.clone()), "as stored");
    assert!(
        s.replace_record(other, "leads", id, &json!({"x": 1}))
            .await
            .unwrap()
            .is_none(),
        "not another workspace's"
    );
    assert!(
        s.replace_record(ws, "other", id, &json!({"x": 1}))
            .await
            .unwrap()
            .is_none(),
        "nor another collection's"
    );
    assert!(
        s.replace_record(ws, "leads", Uuid::now_v7(), &json!({"x": 1}))
            .await
            .unwrap()
            .is_none()
    );
    assert_err!(
        s.replace_record(ws, "leads", id, &json!([1])).await,
        Error::InvalidInput(_)
    );
    assert_eq!(
        s.record(ws, "leads", id).await.unwrap(),
        Some(got),
        "unchanged by the refused ones"
    );
});

conformance!(delete_record, |s| {
    let ws = workspace(&s, "ws").await.id;
    let other = workspace(&s, "elsewhere").await.id;
    let id = put(&s, ws, json!({"a": 1})).await;
    let kept = put(&s, ws, json!({"a": 2})).await;
    assert!(
        !s.delete_record(other, "leads", id).await.unwrap(),
        "not another workspace's"
    );
    assert!(
        !s.delete_record(ws, "other", id).await.unwrap(),
        "nor another collection's"
    );
    assert!(s.delete_record(ws, "leads", id).await.unwrap());
    assert!(!s.delete_record(ws, "leads", id).await.unwrap(), "none left");
    assert!(s.record(ws, "leads", id).await.unwrap().is_none());
    assert!(s.record(ws, "leads", kept).await.unwrap().is_some(), "only that one");
});
