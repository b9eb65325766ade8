//! The one way async code reaches SQLite: the kiosk's queue, the hub's store and the hub's
//! issuing ledger all run their database work here, on a blocking thread under the store's
//! lock, so the runtime threads that carry HTTP never wait on the disk. Each caller words the
//! failures for its own users.

use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum BlockingError<E> {
    /// An earlier call panicked while holding the lock.
    #[error("the database is unavailable after an internal error")]
    Poisoned,
    /// The blocking thread panicked or the runtime is shutting down.
    #[error("the database worker stopped: {0}")]
    Stopped(tokio::task::JoinError),
    /// The work itself failed.
    #[error("{0}")]
    Work(E),
}

/// Runs `work` on the value behind `shared`'s lock, on a blocking thread.
pub async fn with_lock<S, T, E>(
    shared: &Arc<Mutex<S>>,
    work: impl FnOnce(&mut S) -> Result<T, E> + Send + 'static,
) -> Result<T, BlockingError<E>>
where
    S: Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    with_lock_in(Arc::clone(shared), itself, work).await
}

/// Runs `work` on the value behind the lock that `part` finds in `owner` (e.g. the hub
/// state's store), on a blocking thread.
pub async fn with_lock_in<O, S, T, E>(
    owner: Arc<O>,
    part: fn(&O) -> &Mutex<S>,
    work: impl FnOnce(&mut S) -> Result<T, E> + Send + 'static,
) -> Result<T, BlockingError<E>>
where
    O: Send + Sync + 'static,
    S: 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let mut guard = part(&owner).lock().map_err(|_| BlockingError::Poisoned)?;
        work(&mut guard).map_err(BlockingError::Work)
    })
    .await
    .map_err(BlockingError::Stopped)?
}

fn itself<T>(value: &T) -> &T {
    value
}
