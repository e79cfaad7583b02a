//! The fleet's step queue: a Redis list per deployment prefix. `push` is
//! `LPUSH`; `pop` is a blocking `BRPOP`, so an idle worker wakes the moment a
//! job arrives instead of polling. Delivery is at least once and may lose a
//! job (a worker killed between `BRPOP` and its claim, a flushed Redis): the
//! database is the source of truth and the engine's reconciler enqueues such
//! steps again. Duplicates are harmless: a claim is a compare-and-set.
//!
//! Cancellation of running attempts crosses processes on the pub/sub channel
//! `{prefix}cancel` (one message `run_id|path` per attempt): every worker
//! subscribes and stops the attempts it runs. Pub/sub is fire-and-forget; a
//! worker that misses a message finishes its attempt and its write-back is
//! refused (the run is terminal, the lease token gone).
//!
//! Keys: `{prefix}queue` (the list), channel `{prefix}cancel`.

use std::time::Duration;

use orbflow_engine::Job;
use orbflow_engine::queue::Queue;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::Result;

/// The Redis step queue.
pub struct RedisQueue {
    conn: ConnectionManager,
    blocking: Mutex<Option<MultiplexedConnection>>,
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

impl RedisQueue {
    /// Connects to `url` with keys under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client.clone()).await?;
        Ok(Self {
            conn,
            blocking: Mutex::new(None),
            subscription: Mutex::new(None),
            client,
            key: format!("{prefix}queue"),
            cancel_channel: format!("{prefix}cancel"),
        })
    }

    /// Adds a job.
    pub async fn try_push(&self, job: &Job) -> Result<()> {
        let _: i64 = self.conn.clone().lpush(&self.key, encode(job)).await?;
        Ok(())
    }

    /// Waits up to `timeout` for a job.
    pub async fn try_pop(&self, timeout: Duration) -> Result<Option<Job>> {
        let mut guard = self.blocking.lock().await;
        if guard.is_none() {
            *guard = Some(self.client.get_multiplexed_async_connection().await?);
        }
        let Some(conn) = guard.as_mut() else { return Ok(None) };
        let got: Option<(String, String)> = match conn.brpop(&self.key, timeout.as_secs_f64()).await {
            Ok(v) => v,
            Err(e) => {
                *guard = None; // reconnect next time
                return Err(e.into());
            }
        };
        Ok(got.and_then(|(_, v)| decode(&v)))
    }

    /// Publishes the cancellation of running attempts to every subscriber.
    pub async fn try_broadcast_cancel(&self, jobs: &[Job]) -> Result<()> {
        for job in jobs {
            let _: i64 = self.conn.clone().publish(&self.cancel_channel, encode(job)).await?;
        }
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
            match self.try_pop(Duration::from_secs(1)).await {
                Ok(Some(j)) => return j,
                Ok(None) => {}
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
