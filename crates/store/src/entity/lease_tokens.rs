//! The `lease_tokens` table. A named, monotonically increasing fencing-token counter.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `lease_tokens`. A named, monotonically increasing fencing-token counter.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "lease_tokens")]
pub struct Model {
    /// Counter name (e.g. `scheduler-leader`, `step-lease`).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub name: String,
    /// Last token handed out; incremented atomically.
    pub value: i64,
}

/// Foreign-key relations of `lease_tokens`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
