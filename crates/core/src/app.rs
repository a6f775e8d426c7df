//! Apps: the tenants. Nothing crosses from one app to another.

use crate::Millis;
use serde::Serialize;

/// A tenant: its own users, groups, certificates and devices. The secret is never part of this
/// struct: it lives sealed in the store and is read only to authenticate and sign tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct App {
    /// Herald-assigned id, e.g. `app_4f9c2a1b7d3e`.
    pub id: String,
    /// A label chosen by the operator.
    pub name: String,
    /// When the app was created.
    #[schema(value_type = i64)]
    pub created_at: Millis,
}
