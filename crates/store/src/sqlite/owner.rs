//! One process owns an embedded database. It holds an exclusive lock on `<database>.lock` for
//! as long as its store lives, so a second Herald on the same data folder is refused instead
//! of sending the same pushes. Because no other process can be sending them, the leases found
//! at open were left by a process that died: they are void, and the work resumes at once
//! instead of after the lease.

use crate::OpenError;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The lock, released when the store (and so this value) is dropped or the process dies.
#[derive(Debug)]
pub(super) struct OwnerLock {
    _file: File,
}

/// Takes the lock of the database file at `database`; `None` for an in-memory database.
pub(super) fn lock(database: &Path) -> Result<Option<OwnerLock>, OpenError> {
    if database.as_os_str().is_empty() || database == Path::new(":memory:") {
        return Ok(None);
    }
    let mut path = database.as_os_str().to_owned();
    path.push(".lock");
    let path = PathBuf::from(path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| OpenError::Lock {
            path: path.clone(),
            cause: error.to_string(),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(OwnerLock { _file: file })),
        Err(TryLockError::WouldBlock) => Err(OpenError::InUse(path)),
        Err(TryLockError::Error(error)) => Err(OpenError::Lock {
            path,
            cause: error.to_string(),
        }),
    }
}

/// Releases the leases a dead process left: their jobs are claimable now.
pub(super) const VOID_LEASES: &str = "UPDATE deliveries SET lease_until = 0 \
     WHERE state IN ('queued', 'in_flight') AND state = 'in_flight'";
