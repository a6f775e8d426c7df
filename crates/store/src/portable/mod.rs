//! The store roles whose SQL is the same on SQLite and PostgreSQL, written once.
//!
//! This folder is no module of the crate by itself: each backend includes it
//! (`#[path = "../portable/mod.rs"] mod portable;`), so it is compiled once per backend, against
//! what that backend's module provides:
//!
//! - `Backend`, the store type, with `pool` (the connections that read), `sealer`, `write()`
//!   (a transaction; on SQLite `BEGIN IMMEDIATE` on the one writing connection, in the
//!   writers' queue) and `writer()` (the writing connection, for one statement that is a
//!   transaction by itself);
//! - `Db`, the sqlx database;
//! - `dialect`, the few things the two databases do their own way: row locks (PostgreSQL's
//!   writers run side by side; SQLite's one writer holds the whole database) and statements
//!   over lists (PostgreSQL binds arrays, SQLite binds each element).
//!
//! Statements use `$1` placeholders, which both databases accept. Every statement is scoped by
//! the app id, secret values are sealed before they are bound, and every change of more than
//! one row runs in one `write()` transaction.

use super::{Backend, Db, dialect};

mod apps;
mod certificates;
pub(crate) mod deliveries;
pub(crate) mod devices;
mod groups;
pub(crate) mod messages;
mod meta;
mod users;

/// A connection of this backend's database.
type Connection = <Db as sqlx::Database>::Connection;
/// A row of this backend's database.
type DbRow = <Db as sqlx::Database>::Row;
