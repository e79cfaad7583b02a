//! The fleet's step queue: a Redis list per deployment prefix. `push` is
//! `LPUSH`; `pop` is a blocking `BRPOP`, so an idle worker wakes the moment a
//! job arrives instead of polling. Delivery is at least once and may lose a
//! job (a worker killed between `BRPOP` and its claim, a flushed Redis): the
//! database is the source of truth and the engine's reconciler enqueues such
//! steps again. Duplicates are harmless: a claim is a compare-and-set.
//!
//! Keys: `{prefix}queue` (the list).

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
    client: redis::Client,
    key: String,
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
            client,
            key: format!("{prefix}queue"),
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
