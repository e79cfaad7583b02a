//! Leases against the machine's real Redis (`ORBFLOW_TEST_REDIS_URL`), each
//! test under its own key prefix. Unset outside CI: skipped with a message;
//! under `CI=true`: a failure.

use std::time::Duration;

use orbflow_queue::Leases;

async fn leases() -> Option<(Leases, String, String)> {
    let url = match std::env::var("ORBFLOW_TEST_REDIS_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("ORBFLOW_TEST_REDIS_URL must be set when CI=true")
        }
        _ => {
            println!("skipped: ORBFLOW_TEST_REDIS_URL not set");
            return None;
        }
    };
    let prefix = format!("orbflow-test-{}:", uuid::Uuid::now_v7().simple());
    let l = tokio::time::timeout(
        Duration::from_secs(5),
        Leases::connect(&url, prefix.clone(), Duration::from_millis(50)),
    )
    .await
    .expect("redis reachable in 5s")
    .expect("redis reachable");
    Some((l, prefix, url))
}

async fn cleanup(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut c)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL").arg(keys).query_async(&mut c).await.unwrap();
    }
}

#[tokio::test]
async fn a_lease_has_one_holder_and_tokens_grow() {
    let Some((l, prefix, url)) = leases().await else { return };
    let a = l
        .acquire("leader", "a", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("free lease");
    assert!(a.is_trusted());
    assert!(
        l.acquire("leader", "b", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "held: nobody else gets it"
    );
    let other = l
        .acquire("other", "b", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("another lease");
    assert!(other.token > a.token, "one counter for every lease: tokens only grow");
    assert!(l.release(a.clone()).await.unwrap());
    assert!(!l.release(a).await.unwrap(), "releasing twice does nothing");
    let b = l
        .acquire("leader", "b", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("released lease");
    assert!(b.token > other.token);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn renew_and_release_act_only_on_the_held_token() {
    let Some((l, prefix, url)) = leases().await else { return };
    let mut a = l
        .acquire("job", "a", Duration::from_millis(1000))
        .await
        .unwrap()
        .unwrap();
    assert!(l.renew(&mut a).await.unwrap());
    let ttl = l.ttl("job").await.unwrap().unwrap();
    assert!(
        ttl > Duration::from_millis(500) && ttl <= Duration::from_millis(1000),
        "{ttl:?}"
    );
    // a pauses past its lease; b takes over
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!a.is_trusted(), "past ttl - margin the holder must not act");
    let b = l
        .acquire("job", "b", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("expired lease is free");
    assert!(b.token > a.token);
    // a wakes up: it can neither extend nor delete b's lease
    assert!(!l.renew(&mut a).await.unwrap());
    assert!(!l.release(a).await.unwrap());
    assert!(l.ttl("job").await.unwrap().is_some(), "b still holds it");
    // the same owner name with an old token is not the holder either
    let mut forged = b.clone();
    forged.token -= 1;
    assert!(!l.renew(&mut forged).await.unwrap());
    assert!(l.release(b).await.unwrap());
    assert!(l.ttl("job").await.unwrap().is_none());
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn the_trust_window_ends_before_the_lease() {
    let Some((l, prefix, url)) = leases().await else { return };
    let a = l.acquire("w", "a", Duration::from_millis(200)).await.unwrap().unwrap();
    let window = a.trusted_until().saturating_duration_since(std::time::Instant::now());
    assert!(
        window <= Duration::from_millis(150),
        "ttl 200ms - margin 50ms: {window:?}"
    );
    cleanup(&url, &prefix).await;
}
