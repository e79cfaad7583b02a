//! Transactions that lost a race are run again: [`retry_races`].

use crate::Result;

/// Runs `op` again while it fails with a lost race (deadlock, serialization
/// failure, a compare-and-set that lost): a few times, with a short jittered
/// pause. Each try is a whole transaction, rolled back when it failed.
pub(crate) async fn retry_races<T, F, Fut>(mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    const TRIES: u32 = 8;
    let mut tried = 1;
    loop {
        match op().await {
            Err(e) if e.is_race() && tried < TRIES => {
                tracing::debug!(error = %e, tried, "transaction lost a race; retrying");
                let pause = rand::random_range(1..=5u64) * u64::from(tried);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                tried += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::Error;

    #[tokio::test]
    async fn a_lost_race_is_tried_again_until_it_succeeds() {
        let tries = AtomicU32::new(0);
        let r = retry_races(|| async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Error::Race("deadlock detected".into())),
                1 => Err(Error::Conflict("a".into())),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(tries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_errors_are_not_retried_and_races_give_up_eventually() {
        let tries = AtomicU32::new(0);
        let r: Result<()> = retry_races(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(Error::Store("connection refused".into()))
        })
        .await;
        assert!(matches!(r, Err(Error::Store(_))));
        assert_eq!(tries.load(Ordering::SeqCst), 1, "a fault is not a race");
        let tries = AtomicU32::new(0);
        let r: Result<()> = retry_races(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(Error::Race("deadlock detected".into()))
        })
        .await;
        assert!(matches!(r, Err(Error::Race(_))));
        assert_eq!(
            tries.load(Ordering::SeqCst),
            8,
            "eight tries, then the race is reported"
        );
    }
}
