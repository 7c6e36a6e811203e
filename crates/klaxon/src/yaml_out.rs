//! A small YAML writer for documents of plain JSON values: block mappings in the order
//! `order(parent key)` gives, short lists of scalars in flow style, strings quoted only when
//! they must be, text of several lines as a literal block. Not a general YAML emitter.

use serde_json::Value;

/// The fields of a mapping, by its parent's key, in the order people write them (others
/// follow, by name).
pub type Order = fn(&str) -> &'static [&'static str];

fn sorted<'a>(
    parent: &str,
    m: &'a serde_json::Map<String, Value>,
    order: Order,
) -> Vec<(&'a str, &'a Value)> {
    let rank = |k: &str| {
        order(parent)
            .iter()
            .position(|o| *o == k)
            .unwrap_or(usize::MAX)
    };
    let mut all: Vec<(&str, &Value)> = m.iter().map(|(k, v)| (k.as_str(), v)).collect();
    all.sort_by(|a, b| (rank(a.0), a.0).cmp(&(rank(b.0), b.0)));
    all
}

/// A string as YAML: plain when it reads back as the same string, else double-quoted
/// (JSON's escapes are YAML's).
pub fn string(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() && !c.is_ascii_digit())
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c.is_alphanumeric() || " _-./@+".contains(c))
        && !["true", "false", "yes", "no", "on", "off", "y", "n", "null"]
            .contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

/// Text of several lines as a literal block (`|`), when it reads back the same: no
/// leading white space, no white space at a line's end, no characters YAML would read
/// as line breaks or refuse. The indicator keeps its last line break, or not.
fn block(s: &str) -> Option<(&'static str, Vec<&str>)> {
    let safe = s.contains('\n')
        && !s.starts_with(char::is_whitespace)
        && s.chars().all(|c| {
            (c == '\n' || c == '\t' || !c.is_control())
                && !['\u{85}', '\u{2028}', '\u{2029}', '\u{feff}'].contains(&c)
        })
        && s.split('\n').all(|l| !l.ends_with(char::is_whitespace));
    if !safe {
        return None;
    }
    let (indicator, body) = match s.strip_suffix('\n') {
        None => ("|-", s),
        Some(body) if body.ends_with('\n') => ("|+", body),
        Some(body) => ("|", body),
    };
    Some((indicator, body.split('\n').collect()))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(string(s)),
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(m) if m.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// A list of scalars on one line (`[commander, scribe]`) when it is short.
fn flow(a: &[Value], room: usize) -> Option<String> {
    let items: Option<Vec<String>> = a
        .iter()
        .map(|v| match v {
            Value::Array(_) | Value::Object(_) => None,
            other => scalar(other),
        })
        .collect();
    let line = format!("[{}]", items?.join(", "));
    (line.len() <= room).then_some(line)
}

const WIDTH: usize = 96;

fn mapping(
    parent: &str,
    m: &serde_json::Map<String, Value>,
    indent: usize,
    order: Order,
    out: &mut Vec<String>,
) {
    let pad = " ".repeat(indent);
    for (k, v) in sorted(parent, m, order) {
        let key = string(k);
        if let Some((indicator, lines)) = v.as_str().and_then(block) {
            out.push(format!("{pad}{key}: {indicator}"));
            for line in lines {
                if line.is_empty() {
                    out.push(String::new());
                } else {
                    out.push(format!("{pad}  {line}"));
                }
            }
            continue;
        }
        if let Some(s) = scalar(v) {
            out.push(format!("{pad}{key}: {s}"));
            continue;
        }
        match v {
            Value::Array(a) => {
                let room = WIDTH.saturating_sub(indent + key.len() + 2);
                match flow(a, room) {
                    Some(line) => out.push(format!("{pad}{key}: {line}")),
                    None => {
                        out.push(format!("{pad}{key}:"));
                        sequence(k, a, indent + 2, order, out);
                    }
                }
            }
            _ => {
                out.push(format!("{pad}{key}:"));
                value(k, v, indent + 2, order, out);
            }
        }
    }
}

fn sequence(parent: &str, a: &[Value], indent: usize, order: Order, out: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    for item in a {
        if let Some(s) = scalar(item) {
            out.push(format!("{pad}- {s}"));
            continue;
        }
        let mut inner = Vec::new();
        value(parent, item, indent + 2, order, &mut inner);
        if let Some(first) = inner.first_mut() {
            // `- ` takes the place of the first line's indent.
            *first = format!("{pad}- {}", &first[indent + 2..]);
        }
        out.extend(inner);
    }
}

fn value(parent: &str, v: &Value, indent: usize, order: Order, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => mapping(parent, m, indent, order, out),
        Value::Array(a) if !a.is_empty() => sequence(parent, a, indent, order, out),
        other => out.push(format!(
            "{}{}",
            " ".repeat(indent),
            scalar(other).unwrap_or_default()
        )),
    }
}

/// A whole document, ending with a line end.
pub fn document(v: &Value, order: Order) -> String {
    let mut out = Vec::new();
    value("", v, 0, order, &mut out);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_are_written_only_when_they_read_back() {
        for s in [
            "a\nb",
            "a\nb\n",
            "a\n\n",
            "a\n\n\n",
            "a\n  b\n\nc",
            " a\nb",
            "a \nb",
            "a\r\nb",
            "a\u{2028}\nb",
            "\na",
            "#a\n- b: c",
        ] {
            let v = json!({ "text": s });
            let text = document(&v, |_| &[]);
            let back: Value = klaxon_domain::yaml::typed("doc", &text).unwrap();
            assert_eq!(back, v, "{text}");
        }
    }
}
