//! An alert's details made readable: the tool's free-form JSON (PagerDuty's `custom_details`,
//! Alertmanager's labels and annotations) as rows of dotted keys and text values, for the alert
//! page and for the pages sent to people; and which of a tool's links may be followed.
use serde_json::Value;

/// One leaf of the details: `disk.free` → `3%`, `hosts[1]` → `db-2`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DetailRow {
    pub key: String,
    pub value: String,
}

/// The rows of `details`, at most `max` of them, and how many there are in all.
///
/// Objects give `parent.child` keys, arrays `list[0]`; an empty object or array is one row
/// (`{}`, `[]`); strings are shown as they are, other values as JSON. Details that are not an
/// object (PagerDuty allows a bare string) are one row with an empty key; `null` gives none.
pub fn flatten(details: &Value, max: usize) -> (Vec<DetailRow>, usize) {
    let mut rows = Vec::new();
    let mut total = 0;
    walk(details, "", max, &mut rows, &mut total);
    (rows, total)
}

fn walk(v: &Value, key: &str, max: usize, rows: &mut Vec<DetailRow>, total: &mut usize) {
    let mut leaf = |value: String| {
        *total += 1;
        if rows.len() < max {
            rows.push(DetailRow {
                key: key.to_owned(),
                value,
            });
        }
    };
    match v {
        Value::Null if key.is_empty() => {}
        Value::Object(m) if m.is_empty() => leaf("{}".into()),
        Value::Array(a) if a.is_empty() => leaf("[]".into()),
        Value::String(s) => leaf(s.clone()),
        Value::Null | Value::Bool(_) | Value::Number(_) => leaf(v.to_string()),
        Value::Object(m) => {
            for (k, child) in m {
                let next = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                walk(child, &next, max, rows, total);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                walk(child, &format!("{key}[{i}]"), max, rows, total);
            }
        }
    }
}

/// `raw` when it is an absolute http or https URL, the only links Klaxon makes followable
/// (a tool's `javascript:` or `data:` link is shown as text, never as a link).
pub fn web_href(raw: &str) -> Option<&str> {
    let s = raw.trim();
    let (scheme, rest) = s.split_once("://")?;
    let ok = (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(v: &Value) -> Vec<(String, String)> {
        flatten(v, usize::MAX)
            .0
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect()
    }

    #[test]
    fn nested_details_become_dotted_keys() {
        let v = json!({"disk": {"free": "3%", "mount": "/var"}, "hosts": ["db-1", {"name": "db-2"}],
                       "ok": false, "n": 3, "none": null, "empty": {}, "list": []});
        assert_eq!(
            pairs(&v),
            [
                ("disk.free", "3%"),
                ("disk.mount", "/var"),
                ("empty", "{}"),
                ("hosts[0]", "db-1"),
                ("hosts[1].name", "db-2"),
                ("list", "[]"),
                ("n", "3"),
                ("none", "null"),
                ("ok", "false"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn bare_values_and_the_cap() {
        assert_eq!(
            pairs(&json!("just text")),
            [(String::new(), "just text".into())]
        );
        assert!(pairs(&Value::Null).is_empty());
        let many = json!({"a": 1, "b": 2, "c": {"d": 3, "e": 4}});
        let (rows, total) = flatten(&many, 2);
        assert_eq!((rows.len(), total), (2, 4));
        assert_eq!(rows[1].key, "b");
    }

    #[test]
    fn only_web_links_are_followable() {
        assert_eq!(
            web_href(" https://grafana.example.com/d/1 "),
            Some("https://grafana.example.com/d/1")
        );
        assert_eq!(web_href("HTTP://x.example"), Some("HTTP://x.example"));
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "/relative",
            "https://",
            "ftp://x",
            "https://a b",
        ] {
            assert_eq!(web_href(bad), None, "{bad}");
        }
    }
}
