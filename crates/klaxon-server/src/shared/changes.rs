//! The body of an `*.updated` event: which fields a change really changed, from what to what.
use serde_json::{Map, Value, json};

/// Sets `slot` to `new` when one is given, recording `{"from", "to"}` under `field` in
/// `changes` when the value really changes: the body of an `*.updated` event.
pub(crate) fn set_noting<T: serde::Serialize>(
    changes: &mut Map<String, Value>,
    field: &str,
    slot: &mut T,
    new: Option<T>,
) {
    let Some(new) = new else { return };
    let (from, to) = (json!(slot), json!(new));
    if from != to {
        changes.insert(field.to_owned(), json!({"from": from, "to": to}));
    }
    *slot = new;
}

/// What applying or syncing did (or, on a dry run, would do) to one thing kept as code (an
/// SLO from OpenSLO, a runbook from a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    /// The same as what is kept: nothing written.
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        }
    }
}
