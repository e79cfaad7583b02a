//! The Redis step queue against the machine's real Redis
//! (`ORBFLOW_TEST_REDIS_URL`, Redis 7 for `BLMPOP`), each test under its own
//! key prefix. Unset outside CI: skipped with a message; under `CI=true`: a
//! failure.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orbflow_engine::Job;
use orbflow_engine::queue::Queue;
use orbflow_queue::RedisQueue;
use orbflow_testkit::proxy::{TcpProxy, authority};
use uuid::Uuid;

async fn queue() -> Option<(RedisQueue, String, String)> {
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
    let prefix = format!("orbflow-test-{}:", Uuid::now_v7().simple());
    let q = tokio::time::timeout(Duration::from_secs(5), RedisQueue::connect(&url, &prefix))
        .await
        .expect("redis reachable in 5s")
        .expect("redis reachable");
    Some((q, prefix, url))
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

fn jobs(n: usize) -> Vec<Job> {
    let run_id = Uuid::now_v7();
    (0..n)
        .map(|i| Job {
            run_id,
            path: format!("step{i}"),
        })
        .collect()
}

/// `pop_many` bounded in time, so a broken queue fails instead of hanging.
async fn pop_many(q: &RedisQueue, max: usize) -> Vec<Job> {
    tokio::time::timeout(Duration::from_secs(10), q.pop_many(max))
        .await
        .expect("jobs are waiting")
}

/// How many times the server has run `command` so far (`INFO commandstats`;
/// the count is server-wide, so a bound must leave room for other tests).
async fn calls(url: &str, command: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_batch_of_2500_comes_out_once_each_in_fifo_order() {
    let Some((q, prefix, url)) = queue().await else { return };
    let all = jobs(2_500);
    q.push_many(all.clone()).await;
    assert_eq!(q.try_len().await.unwrap(), 2_500);
    let mut out = Vec::new();
    let mut sizes = Vec::new();
    for max in [1, 10, 100, 999, 1_000].into_iter().cycle() {
        if out.len() == all.len() {
            break;
        }
        let batch = pop_many(&q, max).await;
        assert!(!batch.is_empty(), "never an empty batch");
        assert!(batch.len() <= max, "{} jobs for max {max}", batch.len());
        sizes.push(batch.len());
        out.extend(batch);
    }
    assert_eq!(out.len(), all.len(), "every job once");
    assert_eq!(out, all, "oldest first");
    assert!(sizes.contains(&1_000), "a full batch when enough wait: {sizes:?}");
    assert_eq!(q.try_len().await.unwrap(), 0);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn push_many_is_one_lpush_per_chunk_and_order_holds_across_calls() {
    let Some((q, prefix, url)) = queue().await else { return };
    let all = jobs(2_500);
    let before = calls(&url, "lpush").await;
    q.push_many(all[..2_000].to_vec()).await;
    let lpushes = calls(&url, "lpush").await - before;
    // two LPUSH (chunks of 1000); the bound leaves room for other tests
    // pushing meanwhile, far below one LPUSH per job
    assert!((2..500).contains(&lpushes), "2000 jobs took {lpushes} LPUSH");
    // push and push_many share one order
    q.push(all[2_000].clone()).await;
    q.push_many(all[2_001..].to_vec()).await;
    let mut out = Vec::new();
    while out.len() < all.len() {
        out.extend(pop_many(&q, 700).await);
    }
    assert_eq!(out, all);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn pop_many_never_returns_more_than_max() {
    let Some((q, prefix, url)) = queue().await else { return };
    q.push_many(jobs(50)).await;
    for max in [1, 2, 3, 7, 13] {
        let batch = pop_many(&q, max).await;
        assert_eq!(batch.len(), max, "enough wait: exactly max");
    }
    // 24 left; a max above what waits returns what waits
    assert_eq!(pop_many(&q, 100).await.len(), 24);
    q.push_many(jobs(3)).await;
    assert_eq!(pop_many(&q, 0).await.len(), 1, "a max of 0 counts as 1");
    cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_many_waits_for_a_later_push() {
    let Some((q, prefix, url)) = queue().await else { return };
    let q = Arc::new(q);
    let batch = jobs(5);
    let pusher = {
        let q = q.clone();
        let batch = batch.clone();
        tokio::spawn(async move {
            // longer than one blocking pop's own wait: pop_many asks again
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            q.push_many(batch).await;
        })
    };
    let started = Instant::now();
    let got = pop_many(&q, 8).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1_400),
        "returned before the push, after {:?}",
        started.elapsed()
    );
    assert_eq!(got, batch, "the whole batch, in order");
    pusher.await.unwrap();
    cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_pop_loses_no_job() {
    let Some((q, prefix, url)) = queue().await else { return };
    let q = Arc::new(q);
    let all = jobs(4);
    // the caller gives up while the blocking pop is on the server …
    let gave_up = tokio::time::timeout(Duration::from_millis(200), q.try_pop_many(10, Duration::from_secs(2))).await;
    assert!(gave_up.is_err(), "nothing to take yet");
    // … which then receives the jobs pushed next
    let other = RedisQueue::connect(&url, &prefix).await.unwrap();
    other.push_many(all.clone()).await;
    // they come back to the head of the list, in order
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < all.len() && Instant::now() < deadline {
        out.extend(other.try_pop_many(10, Duration::from_millis(500)).await.unwrap());
    }
    assert_eq!(out, all, "every job back, oldest first");
    cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_share_a_batch_without_duplicates() {
    let Some((q, prefix, url)) = queue().await else { return };
    let all = jobs(1_000);
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            let prefix = prefix.clone();
            tokio::spawn(async move {
                let q = RedisQueue::connect(&url, &prefix).await.unwrap();
                let mut got = Vec::new();
                loop {
                    let batch = q.try_pop_many(64, Duration::from_millis(300)).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    assert!(batch.len() <= 64);
                    got.extend(batch);
                }
            })
        })
        .collect();
    q.push_many(all.clone()).await;
    let mut seen = HashSet::new();
    for c in consumers {
        for j in c.await.unwrap() {
            assert!(seen.insert(j.path.clone()), "{} delivered twice", j.path);
        }
    }
    assert_eq!(seen.len(), all.len(), "every job delivered");
    cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_of_many_jobs_reaches_every_subscriber_in_order() {
    let Some((q, prefix, url)) = queue().await else { return };
    let listener = Arc::new(RedisQueue::connect(&url, &prefix).await.unwrap());
    let l = listener.clone();
    let received = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 50 {
            got.extend(l.next_cancel().await);
        }
        got
    });
    // subscribed once the server counts a subscriber on the channel
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(format!("{prefix}cancel"))
            .query_async(&mut c)
            .await
            .unwrap();
        if n > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "subscribed in 5s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancel = jobs(50);
    q.broadcast_cancel(&cancel).await;
    let got = tokio::time::timeout(Duration::from_secs(5), received)
        .await
        .expect("every cancellation delivered")
        .unwrap();
    assert_eq!(got, cancel);
    cleanup(&url, &prefix).await;
}

/// Redis stops answering (a proxy the test cuts drops every connection and
/// refuses new ones): pops and pushes end with an error instead of hanging;
/// once Redis answers again the queue reconnects by itself, and the jobs
/// pushed before the outage come out once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_an_error_and_the_queue_reconnects_after_it() {
    let Some((_, prefix, url)) = queue().await else { return };
    let mut proxy = TcpProxy::to(&authority(&url));
    let q = RedisQueue::connect(&proxy.url(&url), &prefix).await.unwrap();
    let before = jobs(3);
    q.try_push_many(&before).await.unwrap();
    // one pop first, so the blocking connection exists when Redis goes away
    let first = q.try_pop_many(1, Duration::from_millis(200)).await.unwrap();
    assert_eq!(first, before[..1]);
    proxy.cut();
    let bounded = Duration::from_secs(10);
    let popped = tokio::time::timeout(bounded, q.try_pop_many(10, Duration::from_millis(200)))
        .await
        .expect("a pop during the outage ends");
    assert!(popped.is_err(), "{popped:?}");
    let pushed = tokio::time::timeout(bounded, q.try_push(&jobs(1)[0]))
        .await
        .expect("a push during the outage ends");
    assert!(pushed.is_err(), "{pushed:?}");
    proxy.restore();
    let mut got = Vec::new();
    let deadline = Instant::now() + bounded;
    while got.len() < 2 && Instant::now() < deadline {
        match q.try_pop_many(10, Duration::from_millis(200)).await {
            Ok(more) => got.extend(more),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(got, before[1..], "the rest, once each, in order");
    assert_eq!(q.try_len().await.unwrap(), 0);
    cleanup(&url, &prefix).await;
}
