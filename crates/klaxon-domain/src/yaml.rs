//! YAML read into typed values, each refusal naming its place (`at.path.to.field`).
use serde::de::DeserializeOwned;

use crate::Invalid;

/// `text` read whole into `T`; an empty text reads as an empty mapping.
pub fn typed<T: DeserializeOwned>(at: &str, text: &str) -> Result<T, Invalid> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let de = yaml_serde::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| refusal(at, e))
}

/// A parsed YAML value read into `T`.
pub fn typed_value<T: DeserializeOwned>(at: &str, v: yaml_serde::Value) -> Result<T, Invalid> {
    serde_path_to_error::deserialize(v).map_err(|e| refusal(at, e))
}

fn refusal<E: std::fmt::Display>(at: &str, e: serde_path_to_error::Error<E>) -> Invalid {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    // A missing field is named by serde; the path stops at its parent.
    let place = match inner.strip_prefix("missing field `") {
        Some(rest) => {
            let name = rest.split('`').next().unwrap_or_default();
            if path == "." {
                format!("{at}.{name}")
            } else if path.starts_with('[') {
                format!("{at}{path}.{name}")
            } else {
                format!("{at}.{path}.{name}")
            }
        }
        None if path == "." => at.to_owned(),
        // An item of a list read whole: `workflows[1].name`, not `workflows.[1].name`.
        None if path.starts_with('[') => format!("{at}{path}"),
        None => format!("{at}.{path}"),
    };
    // yaml_serde adds "at line N column M" to some messages: kept, it helps.
    Invalid::new(place, inner)
}
