//! What every backend does the same way around SQL values: how a database failure becomes a
//! [`StoreError`], and how JSON text columns are read and written.

use herald_core::StoreError;

/// Wraps a database failure.
pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// Maps a unique-constraint violation to `Conflict`, anything else to `Backend`.
pub(crate) fn conflict_or_backend(
    entity: &'static str,
    message: String,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { entity, message },
        _ => backend(error),
    }
}

/// Maps a foreign-key violation (the row it references is missing) to `NotFound`, anything
/// else to `Backend`.
pub(crate) fn not_found_or_backend(entity: &'static str, id: &str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::not_found(entity, id),
        _ => backend(error),
    }
}

/// Decodes a JSON text column.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Encodes a value for a JSON text column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain data structs to a string cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}
