//! The fleet's step queue: a Redis list per deployment prefix, worked in
//! batches. A batch is pushed with one `LPUSH key j1 j2 …` (chunks of
//! [`PUSH_CHUNK`] jobs, all chunks in one pipelined round trip) and taken with
//! one blocking `BLMPOP timeout 1 key RIGHT COUNT max` (Redis 7), so a worker
//! with eight free slots takes up to eight jobs in one round trip, and an
//! idle worker wakes the moment a job arrives instead of polling. Jobs are
//! pushed on the left and popped on the right: first in, first out.
//!
//! The blocking pop runs on its own connection (a blocking command holds
//! the connection it is sent on) in a task of its own, so a caller that
//! stops waiting (a worker shutting down) loses nothing: jobs the server
//! handed over after the caller left go back to the head of the list
//! (`RPUSH`, in reverse), where they are next.
//!
//! Delivery is at least once and may lose a job (a worker killed between
//! the pop and its claim, a flushed Redis): the database is the source of
//! truth and the engine's reconciler enqueues such steps again. Duplicates
//! are harmless: a claim is a compare-and-set.
//!
//! Cancellation of running attempts crosses processes on the pub/sub channel
//! `{prefix}cancel` (one message `run_id|path` per attempt, all of one call
//! published in one pipelined round trip): every worker subscribes and stops
//! the attempts it runs. Pub/sub is fire-and-forget; a worker that misses a
//! message finishes its attempt and its write-back is refused (the run is
//! terminal, the lease token gone).
//!
//! Keys: `{prefix}queue` (the list), channel `{prefix}cancel`.

use std::sync::Arc;
use std::time::Duration;

use orbflow_engine::Job;
use orbflow_engine::queue::Queue;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use tokio::sync::{Mutex, oneshot};
use uuid::Uuid;

use crate::Result;

/// Jobs per `LPUSH` (one command's arguments stay bounded).
pub const PUSH_CHUNK: usize = 1000;

/// The step list's key after the prefix: jobs wait in `{prefix}queue` (what
/// an autoscaler watching the queue's length reads).
pub const QUEUE_KEY: &str = "queue";

/// How long one blocking pop waits before [`Queue::pop_many`] asks again.
const POP_WAIT: Duration = Duration::from_secs(1);

/// How much longer than its own wait a blocking pop may take to answer
/// before the connection counts as broken.
const POP_SLACK: Duration = Duration::from_secs(5);

/// The Redis step queue.
pub struct RedisQueue {
    conn: ConnectionManager,
    blocking: Arc<Mutex<Option<MultiplexedConnection>>>,
    subscription: Mutex<Option<redis::aio::PubSubStream>>,
    client: redis::Client,
    key: String,
    cancel_channel: String,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn encode(job: &Job) -> String {
    format!("{}|{}", job.run_id, job.path)
}

fn decode(s: &str) -> Option<Job> {
    let (id, path) = s.split_once('|')?;
    Some(Job {
        run_id: id.parse::<Uuid>().ok()?,
        path: path.to_owned(),
    })
}

/// One blocking `BLMPOP` on the dedicated connection (connecting first if
/// needed; after an error the next call connects again). Returns the raw
/// values, oldest first.
async fn blmpop(
    blocking: &Mutex<Option<MultiplexedConnection>>,
    client: &redis::Client,
    key: &str,
    max: usize,
    wait: Duration,
) -> Result<Vec<String>> {
    let mut guard = blocking.lock().await;
    if guard.is_none() {
        // the wait is bounded below, per command: no fixed response timeout
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        *guard = Some(client.get_multiplexed_async_connection_with_config(&config).await?);
    }
    let Some(conn) = guard.as_mut() else {
        return Ok(Vec::new());
    };
    // BLMPOP 0 would block forever
    let seconds = wait.as_secs_f64().max(0.001);
    let cmd = redis::cmd("BLMPOP")
        .arg(seconds)
        .arg(1)
        .arg(key)
        .arg("RIGHT")
        .arg("COUNT")
        .arg(max.max(1))
        .to_owned();
    let reply = tokio::time::timeout(wait + POP_SLACK, cmd.query_async::<Option<(String, Vec<String>)>>(conn)).await;
    match reply {
        Ok(Ok(got)) => Ok(got.map(|(_, values)| values).unwrap_or_default()),
        Ok(Err(e)) => {
            *guard = None; // reconnect next time
            Err(e.into())
        }
        Err(_) => {
            *guard = None;
            let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "blocking pop: no answer");
            Err(redis::RedisError::from(e).into())
        }
    }
}

/// Puts raw values taken by a pop nobody waits for any more back at the
/// head of the list (`RPUSH` in reverse), in their order.
async fn requeue(mut conn: ConnectionManager, key: String, values: Vec<String>) {
    if values.is_empty() {
        return;
    }
    let n = values.len();
    let back: Vec<String> = values.into_iter().rev().collect();
    let mut pipe = redis::pipe();
    for chunk in back.chunks(PUSH_CHUNK) {
        pipe.cmd("RPUSH").arg(&key).arg(chunk).ignore();
    }
    if let Err(e) = pipe.query_async::<()>(&mut conn).await {
        // the reconciler enqueues them again from the database
        tracing::warn!(error = %e, jobs = n, "putting back popped jobs failed");
    }
}

/// The receiving end of a pop task: if the caller stops waiting, values the
/// task already delivered go back to the queue (the task puts back what it
/// could not deliver itself).
struct PopReply {
    rx: oneshot::Receiver<Result<Vec<String>>>,
    conn: ConnectionManager,
    key: String,
}

impl Drop for PopReply {
    fn drop(&mut self) {
        self.rx.close();
        if let Ok(Ok(values)) = self.rx.try_recv()
            && !values.is_empty()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(requeue(self.conn.clone(), std::mem::take(&mut self.key), values));
        }
    }
}

impl RedisQueue {
    /// Connects to `url` with keys under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client.clone()).await?;
        Ok(Self {
            conn,
            blocking: Arc::new(Mutex::new(None)),
            subscription: Mutex::new(None),
            client,
            key: format!("{prefix}{QUEUE_KEY}"),
            cancel_channel: format!("{prefix}cancel"),
        })
    }

    /// Adds a job.
    pub async fn try_push(&self, job: &Job) -> Result<()> {
        let _: i64 = self.conn.clone().lpush(&self.key, encode(job)).await?;
        Ok(())
    }

    /// Adds `jobs` in order (the first is popped first): one `LPUSH` per
    /// [`PUSH_CHUNK`] jobs, every chunk in one pipelined round trip.
    pub async fn try_push_many(&self, jobs: &[Job]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for chunk in jobs.chunks(PUSH_CHUNK) {
            let values: Vec<String> = chunk.iter().map(encode).collect();
            pipe.cmd("LPUSH").arg(&self.key).arg(values).ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Waits up to `timeout` for a job.
    pub async fn try_pop(&self, timeout: Duration) -> Result<Option<Job>> {
        Ok(self.try_pop_many(1, timeout).await?.into_iter().next())
    }

    /// Waits up to `timeout` for jobs and takes up to `max` of them (at
    /// least one if any arrived; a `max` of 0 counts as 1), oldest first,
    /// with one `BLMPOP` on the blocking connection. Empty when the wait
    /// ended with none. Dropping the future loses no job: what the server
    /// hands over afterwards goes back to the head of the list.
    pub async fn try_pop_many(&self, max: usize, timeout: Duration) -> Result<Vec<Job>> {
        let (tx, rx) = oneshot::channel();
        let mut reply = PopReply {
            rx,
            conn: self.conn.clone(),
            key: self.key.clone(),
        };
        let blocking = self.blocking.clone();
        let client = self.client.clone();
        let key = self.key.clone();
        let conn = self.conn.clone();
        // its own task: the command completes even if the caller goes away
        tokio::spawn(async move {
            let got = blmpop(&blocking, &client, &key, max, timeout).await;
            if let Err(Ok(values)) = tx.send(got) {
                requeue(conn, key, values).await;
            }
        });
        match (&mut reply.rx).await {
            Ok(got) => Ok(got?.iter().filter_map(|v| decode(v)).collect()),
            Err(_) => Ok(Vec::new()), // the task died (runtime shutting down)
        }
    }

    /// Publishes the cancellation of running attempts to every subscriber,
    /// one message per attempt, in one pipelined round trip.
    pub async fn try_broadcast_cancel(&self, jobs: &[Job]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.publish(&self.cancel_channel, encode(job)).ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// The next cancellation broadcast (subscribing on first use; after an
    /// error the next call subscribes again).
    pub async fn try_next_cancel(&self) -> Result<Option<Job>> {
        use futures_util::StreamExt as _;
        let mut guard = self.subscription.lock().await;
        if guard.is_none() {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.cancel_channel).await?;
            *guard = Some(pubsub.into_on_message());
        }
        let Some(stream) = guard.as_mut() else { return Ok(None) };
        match stream.next().await {
            Some(msg) => Ok(msg.get_payload::<String>().ok().and_then(|p| decode(&p))),
            None => {
                *guard = None; // the connection ended: subscribe again
                Ok(None)
            }
        }
    }

    /// Whether the cancellation subscription is live (for tests and readiness).
    pub async fn subscribed(&self) -> bool {
        self.subscription.lock().await.is_some()
    }

    /// Jobs waiting.
    pub async fn try_len(&self) -> Result<usize> {
        Ok(self.conn.clone().llen(&self.key).await?)
    }
}

#[async_trait::async_trait]
impl Queue for RedisQueue {
    async fn push(&self, job: Job) {
        if let Err(e) = self.try_push(&job).await {
            // the reconciler enqueues it again from the database
            tracing::warn!(error = %e, run = %job.run_id, path = %job.path, "enqueue failed");
        }
    }

    async fn push_many(&self, jobs: Vec<Job>) {
        if let Err(e) = self.try_push_many(&jobs).await {
            // the reconciler enqueues them again from the database
            tracing::warn!(error = %e, jobs = jobs.len(), "enqueue failed");
        }
    }

    async fn broadcast_cancel(&self, jobs: &[Job]) {
        if let Err(e) = self.try_broadcast_cancel(jobs).await {
            tracing::warn!(error = %e, "broadcasting a cancellation failed; late write-backs are fenced");
        }
    }

    async fn next_cancel(&self) -> Vec<Job> {
        loop {
            match self.try_next_cancel().await {
                Ok(Some(j)) => return vec![j],
                Ok(None) => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cancellation subscription failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    async fn pop(&self) -> Job {
        loop {
            if let Some(j) = self.pop_many(1).await.pop() {
                return j;
            }
        }
    }

    async fn pop_many(&self, max: usize) -> Vec<Job> {
        loop {
            match self.try_pop_many(max, POP_WAIT).await {
                Ok(jobs) if !jobs.is_empty() => return jobs,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "redis pop failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_encoding() {
        let job = Job {
            run_id: Uuid::now_v7(),
            path: "each[3].double".into(),
        };
        assert_eq!(decode(&encode(&job)), Some(job));
        assert_eq!(decode("garbage"), None);
        assert_eq!(decode("not-a-uuid|x"), None);
    }
}
