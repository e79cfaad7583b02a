//! Two scheduler replicas over one Postgres database and one Redis: one
//! leads, the other waits; when the leader's Redis goes away (a proxy the
//! test cuts) it stops leading once its lease can no longer be trusted, the
//! other takes the lease over and the schedule keeps firing, each tick once.
//! Skipped (with a message) without ORBFLOW_TEST_DATABASE_URL /
//! ORBFLOW_TEST_REDIS_URL; under CI=true they must run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orbflow_engine::admin::{Admin, Page, RunFilter};
use orbflow_engine::store::Store;
use orbflow_engine::{Engine, EngineConfig};
use orbflow_queue::{Leases, RedisQueue};
use orbflow_scheduler::{Scheduler, SchedulerConfig};
use orbflow_testkit::TestDb;
use orbflow_testkit::daemon::{clear_redis_prefix, redis_prefix, redis_url};
use orbflow_testkit::proxy::{TcpProxy, authority};
use tokio_util::sync::CancellationToken;

/// Every second, one TRANSFORM step.
const EVERY_SECOND: &str = r#"{"schemaVersion":1,"name":"tick","triggers":[{"type":"schedule","cron":"* * * * * *"}],"steps":[{"key":"a","action":"TRANSFORM","config":{"value":1}}]}"#;

/// A replica named `name` whose Redis is reached at `redis`.
async fn replica(db: &TestDb, redis: &str, prefix: &str, name: &str) -> Scheduler {
    let store = orbflow_store::SeaStore::new(orbflow_store::connect(&db.url).await.unwrap());
    let engine = Arc::new(Engine::new(store, EngineConfig::default()));
    let queue = Arc::new(RedisQueue::connect(redis, prefix).await.unwrap());
    let lease = Duration::from_millis(1_000);
    let leases = Leases::connect(redis, prefix.to_owned(), lease / 5).await.unwrap();
    let config = SchedulerConfig {
        name: name.to_owned(),
        lease,
        tick: Duration::from_millis(100),
        ..SchedulerConfig::default()
    };
    Scheduler::new(engine, queue, leases, config)
}

/// The holder of the leader lease, as Redis has it (`owner|token`).
async fn leader(redis: &str, prefix: &str) -> Option<String> {
    let client = redis::Client::open(redis).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let v: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}lease:scheduler-leader"))
        .query_async(&mut c)
        .await
        .unwrap();
    v.and_then(|v| v.split_once('|').map(|(owner, _)| owner.to_owned()))
}

/// Waits (bounded) until `f` holds.
async fn until<F: std::future::Future<Output = bool>>(what: &str, limit: Duration, mut f: impl FnMut() -> F) {
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_replica_takes_over_when_the_leader_loses_redis() {
    let Some(db) = TestDb::postgres().await else { return };
    let Some(redis) = redis_url() else { return };
    let prefix = redis_prefix();
    let store = orbflow_store::SeaStore::new(orbflow_store::connect(&db.url).await.unwrap());
    let v = store
        .ensure_version("acme", "tick", "tick", EVERY_SECOND)
        .await
        .unwrap();
    let runs = || {
        let store = store.clone();
        async move {
            store
                .runs(
                    v.workspace_id,
                    &RunFilter::default(),
                    Page {
                        after: None,
                        limit: 1_000,
                    },
                )
                .await
                .unwrap()
        }
    };
    let mut proxy = TcpProxy::to(&authority(&redis));
    let shutdown = CancellationToken::new();
    let a = replica(&db, &proxy.url(&redis), &prefix, "replica-a").await;
    let a = tokio::spawn(a.run(shutdown.clone()));
    until("replica-a leads", Duration::from_secs(10), || async {
        leader(&redis, &prefix).await.as_deref() == Some("replica-a")
    })
    .await;
    let b = replica(&db, &redis, &prefix, "replica-b").await;
    let b = tokio::spawn(b.run(shutdown.clone()));
    until("ticks fire", Duration::from_secs(10), || async {
        runs().await.len() >= 2
    })
    .await;
    assert_eq!(leader(&redis, &prefix).await.as_deref(), Some("replica-a"), "b waits");

    proxy.cut();
    until("replica-b takes over", Duration::from_secs(15), || async {
        leader(&redis, &prefix).await.as_deref() == Some("replica-b")
    })
    .await;
    let at_takeover = runs().await.len();
    until("ticks fire under the new leader", Duration::from_secs(10), || async {
        runs().await.len() >= at_takeover + 2
    })
    .await;
    // a's Redis comes back: b keeps the lease
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(leader(&redis, &prefix).await.as_deref(), Some("replica-b"));

    shutdown.cancel();
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!(
        leader(&redis, &prefix).await,
        None,
        "the leader releases its lease on the way out"
    );
    // every run is a distinct tick: none fired twice
    let all = runs().await;
    let mut ticks: Vec<String> = all
        .iter()
        .map(|r| r.trigger_data.as_ref().unwrap()["firedAt"].to_string())
        .collect();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), all.len(), "{ticks:?}");
    assert!(
        all.iter()
            .all(|r| r.trigger_type == orbflow_model::TriggerType::Schedule)
    );
    clear_redis_prefix(&redis, &prefix);
}
