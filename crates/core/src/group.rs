//! Groups: a named set of users; a group message fans out to every member but the sender.

use crate::Millis;
use serde::Serialize;

/// A group of an app with its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// Caller-chosen or Herald-assigned id, unique in the app.
    pub id: String,
    /// Display name; the default title of group notifications.
    pub name: String,
    /// Member user ids, sorted.
    pub members: Vec<String>,
    /// When the group was created.
    #[schema(value_type = i64)]
    pub created_at: Millis,
}
