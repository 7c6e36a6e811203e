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
