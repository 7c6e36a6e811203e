//! The condition language of uptime checks, after Gatus's: `<left> <op> <right>`, all of a
//! check's conditions must hold.
//!
//! ```text
//! [STATUS] == 200                      [STATUS] < 400        [STATUS] == any(200, 204)
//! [RESPONSE_TIME] < 300                (milliseconds; or 1s, 500ms)
//! [BODY] == pat(*ok*)                  (the body contains "ok"; * is any run of characters)
//! [BODY].status == UP                  (a JSON path: .name and [index])
//! len([BODY].items) > 0                has([BODY].data) == true
//! [CERTIFICATE_EXPIRATION] > 7d        (a bare number is days; or 48h)
//! [CONNECTED] == true                  (TCP, and HTTP: the connection opened)
//! ```
//!
//! Conditions are parsed once, at the edge, into [`Condition`]; evaluating one against a
//! [`Probe`] is a pure function.
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Invalid;

/// Longest condition text taken.
pub const TEXT_MAX: usize = 500;

/// The value names a condition can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Status,
    ResponseTime,
    Body,
    CertificateExpiration,
    Connected,
}

impl Placeholder {
    const ALL: [(Placeholder, &'static str); 5] = [
        (Self::Status, "[STATUS]"),
        (Self::ResponseTime, "[RESPONSE_TIME]"),
        (Self::Body, "[BODY]"),
        (Self::CertificateExpiration, "[CERTIFICATE_EXPIRATION]"),
        (Self::Connected, "[CONNECTED]"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("", |(_, n)| n)
    }

    /// Whether a TCP check can read it (TCP has no answer to look into).
    pub fn for_tcp(self) -> bool {
        matches!(self, Self::Connected | Self::ResponseTime)
    }
}

/// One step of a JSON path: `.name` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// What the left side reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Left {
    /// A placeholder; a path only after `[BODY]`.
    Value(Placeholder, Vec<PathStep>),
    /// `len(...)`: characters of a text, items of a list or object.
    Len(Placeholder, Vec<PathStep>),
    /// `has([BODY].path)`: whether the path exists.
    Has(Vec<PathStep>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Two-character operators first, so `<=` is not read as `<`.
    const ALL: [(Op, &'static str); 6] = [
        (Self::Eq, "=="),
        (Self::Ne, "!="),
        (Self::Le, "<="),
        (Self::Ge, ">="),
        (Self::Lt, "<"),
        (Self::Gt, ">"),
    ];

    fn ordering(self) -> bool {
        !matches!(self, Self::Eq | Self::Ne)
    }

    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Self::Eq => o == Equal,
            Self::Ne => o != Equal,
            Self::Lt => o == Less,
            Self::Le => o != Greater,
            Self::Gt => o == Greater,
            Self::Ge => o != Less,
        }
    }
}

/// What the left side is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Right {
    Int(i64),
    /// A duration, in milliseconds.
    Millis(i64),
    Bool(bool),
    Text(String),
    /// `pat(...)`: `*` matches any run of characters.
    Pattern(String),
    /// `any(a, b, ...)`: equal to one of them.
    Any(Vec<String>),
}

/// One parsed condition. Stored and shown as its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    text: String,
    pub left: Left,
    pub op: Op,
    pub right: Right,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Condition::parse("conditions", &s).map_err(|e| serde::de::Error::custom(e.reason))
    }
}

const PLACEHOLDERS_HELP: &str =
    "use [STATUS], [RESPONSE_TIME], [BODY], [CERTIFICATE_EXPIRATION] or [CONNECTED]";

impl Condition {
    /// Parses `text`; a refusal names `field` and says what is wrong.
    pub fn parse(field: &str, text: &str) -> Result<Self, Invalid> {
        let bad = |why: String| Invalid::new(field, why);
        let text = text.trim();
        if text.is_empty() {
            return Err(bad("must not be empty".into()));
        }
        if text.chars().count() > TEXT_MAX || text.chars().any(char::is_control) {
            return Err(bad(format!("one line of at most {TEXT_MAX} characters")));
        }
        let Some((at, op, op_text)) = find_op(text) else {
            return Err(bad(format!(
                "{text:?} has no operator (==, !=, <, <=, >, >=): write it as [STATUS] == 200"
            )));
        };
        let left = parse_left(text[..at].trim()).map_err(bad)?;
        let raw_right = text[at + op_text.len()..].trim();
        if raw_right.is_empty() {
            return Err(bad(format!("nothing to compare with after {op_text}")));
        }
        let right = parse_right(&left, op, raw_right).map_err(bad)?;
        let left_text = text[..at].trim();
        Ok(Self {
            text: format!("{left_text} {op_text} {raw_right}"),
            left,
            op,
            right,
        })
    }

    /// The placeholder it reads.
    pub fn placeholder(&self) -> Placeholder {
        match &self.left {
            Left::Value(p, _) | Left::Len(p, _) => *p,
            Left::Has(_) => Placeholder::Body,
        }
    }
}

fn find_op(text: &str) -> Option<(usize, Op, &'static str)> {
    let mut best: Option<(usize, Op, &'static str)> = None;
    for (op, s) in Op::ALL {
        if let Some(i) = text.find(s)
            && best.is_none_or(|(b, _, bs)| i < b || (i == b && s.len() > bs.len()))
        {
            best = Some((i, op, s));
        }
    }
    best
}

fn parse_left(s: &str) -> Result<Left, String> {
    if s.is_empty() {
        return Err("nothing before the operator: start with a placeholder, e.g. [STATUS]".into());
    }
    let func = |name: &str| {
        s.strip_prefix(name)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .map(str::trim)
    };
    if let Some(inner) = func("len") {
        let (p, path) = parse_value(inner)?;
        if !matches!(p, Placeholder::Body) {
            return Err(format!("len() reads [BODY], not {}", p.name()));
        }
        return Ok(Left::Len(p, path));
    }
    if let Some(inner) = func("has") {
        let (p, path) = parse_value(inner)?;
        if p != Placeholder::Body || path.is_empty() {
            return Err("has() takes a path into the body, e.g. has([BODY].data)".into());
        }
        return Ok(Left::Has(path));
    }
    let (p, path) = parse_value(s)?;
    Ok(Left::Value(p, path))
}

fn parse_value(s: &str) -> Result<(Placeholder, Vec<PathStep>), String> {
    let close = s.find(']').filter(|_| s.starts_with('['));
    let Some(close) = close else {
        return Err(format!("{s:?} is not a placeholder: {PLACEHOLDERS_HELP}"));
    };
    let name = s[..=close].to_ascii_uppercase();
    let Some(p) = Placeholder::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(p, _)| *p)
    else {
        return Err(format!(
            "{} is not a placeholder: {PLACEHOLDERS_HELP}",
            &s[..=close]
        ));
    };
    let rest = &s[close + 1..];
    if rest.is_empty() {
        return Ok((p, Vec::new()));
    }
    if p != Placeholder::Body {
        return Err(format!("only [BODY] takes a path, not {}", p.name()));
    }
    Ok((p, parse_path(rest)?))
}

/// `.a.b[0].c` or `[0].a`.
fn parse_path(mut s: &str) -> Result<Vec<PathStep>, String> {
    let mut steps = Vec::new();
    let bad = || "a JSON path is .name and [index] steps, e.g. [BODY].data[0].status".to_owned();
    while !s.is_empty() {
        if let Some(r) = s.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key.contains([' ', ']']) {
                return Err(bad());
            }
            steps.push(PathStep::Key(key.to_owned()));
            s = &r[end..];
        } else if let Some(r) = s.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            let i = r[..end].trim().parse::<usize>().map_err(|_| bad())?;
            steps.push(PathStep::Index(i));
            s = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    Ok(steps)
}

fn parse_right(left: &Left, op: Op, s: &str) -> Result<Right, String> {
    let func = |name: &str| {
        s.strip_prefix(name)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
    };
    let kind = Kind::of(left);
    if let Some(pat) = func("pat") {
        if op.ordering() {
            return Err("pat() compares only with == or !=".into());
        }
        if !matches!(kind, Kind::Text | Kind::Int) {
            return Err(format!("pat() does not apply to {}", kind.what(left)));
        }
        return Ok(Right::Pattern(pat.to_owned()));
    }
    if let Some(list) = func("any") {
        if op.ordering() {
            return Err("any() compares only with == or !=".into());
        }
        let items: Vec<String> = list.split(',').map(|i| i.trim().to_owned()).collect();
        if items.iter().any(String::is_empty) {
            return Err("any() takes values separated by commas, e.g. any(200, 204)".into());
        }
        if kind == Kind::Int {
            for i in &items {
                i.parse::<i64>().map_err(|_| {
                    format!("{} compares with whole numbers, not {i:?}", kind.what(left))
                })?;
            }
        }
        return Ok(Right::Any(items));
    }
    match kind {
        Kind::Int => s
            .parse::<i64>()
            .map(Right::Int)
            .map_err(|_| format!("{} compares with a whole number, not {s:?}", kind.what(left))),
        Kind::Bool => {
            if op.ordering() {
                return Err(format!("{} compares only with == or !=", kind.what(left)));
            }
            match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Right::Bool(true)),
                "false" => Ok(Right::Bool(false)),
                _ => Err(format!("{} is true or false, not {s:?}", kind.what(left))),
            }
        }
        Kind::Millis { bare_unit } => parse_duration(s, bare_unit).map(Right::Millis).map_err(|_| {
            let bare = if bare_unit == DAY_MS { "days" } else { "milliseconds" };
            format!(
                "{} compares with a duration such as 300ms, 2s, 48h or 7d (a bare number is {bare}), not {s:?}",
                kind.what(left)
            )
        }),
        Kind::Text => Ok(Right::Text(s.to_owned())),
    }
}

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Millis { bare_unit: i64 },
    Text,
}

impl Kind {
    fn of(left: &Left) -> Self {
        match left {
            Left::Len(..) => Kind::Int,
            Left::Has(_) => Kind::Bool,
            Left::Value(p, _) => match p {
                Placeholder::Status => Kind::Int,
                Placeholder::Connected => Kind::Bool,
                Placeholder::ResponseTime => Kind::Millis { bare_unit: 1 },
                Placeholder::CertificateExpiration => Kind::Millis { bare_unit: DAY_MS },
                Placeholder::Body => Kind::Text,
            },
        }
    }

    fn what(self, left: &Left) -> String {
        match left {
            Left::Len(..) => "len()".into(),
            Left::Has(_) => "has()".into(),
            Left::Value(p, _) => p.name().into(),
        }
    }
}

/// `300`, `300ms`, `2s`, `5m`, `48h`, `7d`; a bare number counts in `bare_unit` milliseconds.
fn parse_duration(s: &str, bare_unit: i64) -> Result<i64, ()> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: i64 = s[..split].parse().map_err(|_| ())?;
    let unit = match s[split..].trim() {
        "" => bare_unit,
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        _ => return Err(()),
    };
    n.checked_mul(unit).ok_or(())
}

/// What one probe saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// Whether the connection opened (and, for HTTPS, TLS was agreed).
    pub connected: bool,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    pub response_ms: u64,
    /// The answer's body as text, when an HTTP answer came (read only if a condition needs it).
    pub body: Option<String>,
    /// When the server's certificate expires (HTTPS only).
    pub cert_expires_at: Option<Timestamp>,
    /// Why no answer came.
    pub error: Option<String>,
}

/// How one condition came out, with the value it saw (`500`, `1200 ms`, `no answer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConditionResult {
    pub condition: String,
    pub ok: bool,
    pub actual: String,
}

/// What a condition reads from a probe.
enum Seen {
    Int(i64),
    Bool(bool),
    Text(String),
    Missing(&'static str),
}

impl Seen {
    fn show(&self, millis: bool) -> String {
        match self {
            Seen::Int(n) if millis => show_ms(*n),
            Seen::Int(n) => n.to_string(),
            Seen::Bool(b) => b.to_string(),
            Seen::Text(t) => {
                let short: String = t.chars().take(80).collect();
                if short.len() < t.len() {
                    format!("{short:?}…")
                } else {
                    format!("{short:?}")
                }
            }
            Seen::Missing(why) => (*why).to_owned(),
        }
    }
}

fn show_ms(ms: i64) -> String {
    if ms.abs() >= DAY_MS {
        format!("{:.1} days", ms as f64 / DAY_MS as f64)
    } else {
        format!("{ms} ms")
    }
}

impl Condition {
    /// Whether the condition holds for `probe` at `now` (certificate expiry counts from it).
    pub fn evaluate(
        &self,
        probe: &Probe,
        body_json: Option<&serde_json::Value>,
        now: Timestamp,
    ) -> ConditionResult {
        let seen = self.read(probe, body_json, now);
        let millis = matches!(Kind::of(&self.left), Kind::Millis { .. });
        let ok = match &seen {
            Seen::Missing(_) => false,
            s => self.compare(s),
        };
        ConditionResult {
            condition: self.text.clone(),
            ok,
            actual: seen.show(millis),
        }
    }

    fn read(&self, probe: &Probe, json: Option<&serde_json::Value>, now: Timestamp) -> Seen {
        let body_at = |path: &[PathStep]| -> Result<serde_json::Value, &'static str> {
            let body = probe.body.as_deref().ok_or("no answer")?;
            if path.is_empty() {
                return Ok(serde_json::Value::String(body.to_owned()));
            }
            let mut v = json.ok_or("the body is not JSON")?;
            for step in path {
                v = match step {
                    PathStep::Key(k) => v.get(k.as_str()),
                    PathStep::Index(i) => v.get(*i),
                }
                .ok_or("no such path in the body")?;
            }
            Ok(v.clone())
        };
        match &self.left {
            Left::Value(Placeholder::Status, _) => probe
                .status
                .map_or(Seen::Missing("no answer"), |s| Seen::Int(i64::from(s))),
            Left::Value(Placeholder::ResponseTime, _) => {
                Seen::Int(i64::try_from(probe.response_ms).unwrap_or(i64::MAX))
            }
            Left::Value(Placeholder::Connected, _) => Seen::Bool(probe.connected),
            Left::Value(Placeholder::CertificateExpiration, _) => match probe.cert_expires_at {
                Some(t) => Seen::Int(t.duration_since(now).as_millis() as i64),
                None => Seen::Missing("no certificate"),
            },
            Left::Value(Placeholder::Body, path) => match body_at(path) {
                Ok(serde_json::Value::String(s)) => Seen::Text(s),
                Ok(v) => Seen::Text(v.to_string()),
                Err(why) => Seen::Missing(why),
            },
            Left::Len(_, path) => match body_at(path) {
                Ok(serde_json::Value::String(s)) => Seen::Int(s.chars().count() as i64),
                Ok(serde_json::Value::Array(a)) => Seen::Int(a.len() as i64),
                Ok(serde_json::Value::Object(o)) => Seen::Int(o.len() as i64),
                Ok(v) => Seen::Int(v.to_string().chars().count() as i64),
                Err(why) => Seen::Missing(why),
            },
            Left::Has(path) => match body_at(path) {
                Ok(_) => Seen::Bool(true),
                Err("no answer") => Seen::Missing("no answer"),
                Err(_) => Seen::Bool(false),
            },
        }
    }

    fn compare(&self, seen: &Seen) -> bool {
        let text = match seen {
            Seen::Int(n) => n.to_string(),
            Seen::Bool(b) => b.to_string(),
            Seen::Text(t) => t.clone(),
            Seen::Missing(_) => return false,
        };
        let eq = |want: &str| match (text.parse::<f64>(), want.parse::<f64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => text == want,
        };
        match &self.right {
            Right::Pattern(p) => glob(p, &text) == (self.op == Op::Eq),
            Right::Any(items) => items.iter().any(|i| eq(i)) == (self.op == Op::Eq),
            Right::Bool(b) => (text == b.to_string()) == (self.op == Op::Eq),
            Right::Int(n) | Right::Millis(n) => match seen {
                Seen::Int(v) => self.op.holds(v.cmp(n)),
                _ => false,
            },
            Right::Text(want) if !self.op.ordering() => eq(want) == (self.op == Op::Eq),
            Right::Text(want) => match (text.parse::<f64>(), want.parse::<f64>()) {
                (Ok(a), Ok(b)) => a.partial_cmp(&b).is_some_and(|o| self.op.holds(o)),
                _ => false,
            },
        }
    }
}

/// `*` matches any run of characters (none too); everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Condition {
        Condition::parse("conditions[0]", s).unwrap()
    }

    fn err(s: &str) -> String {
        let e = Condition::parse("conditions[2]", s).unwrap_err();
        assert_eq!(e.field, "conditions[2]");
        e.reason
    }

    fn now() -> Timestamp {
        "2026-11-21T09:00:00Z".parse().unwrap()
    }

    fn http(status: u16, ms: u64, body: &str) -> Probe {
        Probe {
            connected: true,
            status: Some(status),
            response_ms: ms,
            body: Some(body.into()),
            ..Probe::default()
        }
    }

    fn holds(cond: &str, p: &Probe) -> bool {
        let json = p.body.as_deref().and_then(|b| serde_json::from_str(b).ok());
        c(cond).evaluate(p, json.as_ref(), now()).ok
    }

    #[test]
    fn parses_into_a_typed_tree() {
        let s = c("[STATUS]==200");
        assert_eq!(s.left, Left::Value(Placeholder::Status, vec![]));
        assert_eq!((s.op, &s.right), (Op::Eq, &Right::Int(200)));
        assert_eq!(s.to_string(), "[STATUS] == 200");
        assert_eq!(c("[RESPONSE_TIME] <= 2s").right, Right::Millis(2000));
        assert_eq!(c("[RESPONSE_TIME] < 300").right, Right::Millis(300));
        assert_eq!(
            c("[CERTIFICATE_EXPIRATION] > 7").right,
            Right::Millis(7 * DAY_MS)
        );
        assert_eq!(
            c("[CERTIFICATE_EXPIRATION] > 48h").right,
            Right::Millis(48 * 3_600_000)
        );
        let j = c("[BODY].data[1].status == UP");
        assert_eq!(
            j.left,
            Left::Value(
                Placeholder::Body,
                vec![
                    PathStep::Key("data".into()),
                    PathStep::Index(1),
                    PathStep::Key("status".into())
                ]
            )
        );
        assert_eq!(
            c("[body] == pat(*ok*)").right,
            Right::Pattern("*ok*".into())
        );
        assert_eq!(
            c("[STATUS] == any(200, 204)").right,
            Right::Any(vec!["200".into(), "204".into()])
        );
        assert_eq!(
            c("len([BODY].items) >= 1").left,
            Left::Len(Placeholder::Body, vec![PathStep::Key("items".into())])
        );
        assert_eq!(
            c("has([BODY].data) == true").left,
            Left::Has(vec![PathStep::Key("data".into())])
        );
        assert_eq!(c("[CONNECTED] == TRUE").right, Right::Bool(true));
        // Stored as text, read back the same.
        let back: Condition = serde_json::from_value(serde_json::to_value(&j).unwrap()).unwrap();
        assert_eq!(back, j);
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert!(err("[STATUSS] == 200").contains("[STATUSS] is not a placeholder"));
        assert!(err("STATUS == 200").contains("is not a placeholder"));
        assert!(err("[STATUS] 200").contains("no operator"));
        assert!(err("[STATUS] ==").contains("nothing to compare"));
        assert!(err("[STATUS] == ok").contains("whole number"));
        assert!(err("[RESPONSE_TIME] < soon").contains("duration"));
        assert!(err("[CONNECTED] == yes").contains("true or false"));
        assert!(err("[CONNECTED] < true").contains("only with == or !="));
        assert!(err("[BODY] < pat(*a*)").contains("pat() compares only"));
        assert!(err("[STATUS].x == 1").contains("only [BODY] takes a path"));
        assert!(err("[BODY].a[x] == 1").contains("JSON path"));
        assert!(err("has([BODY]) == true").contains("has() takes a path"));
        assert!(err("").contains("empty"));
        assert!(err("== 200").contains("nothing before"));
    }

    #[test]
    fn evaluates_against_a_probe() {
        let p = http(200, 120, r#"{"status":"UP","items":[1,2],"n":5}"#);
        assert!(holds("[STATUS] == 200", &p));
        assert!(!holds("[STATUS] != 200", &p));
        assert!(holds("[STATUS] < 300", &p));
        assert!(holds("[STATUS] == any(204, 200)", &p));
        assert!(holds("[STATUS] == pat(2*)", &p));
        assert!(holds("[RESPONSE_TIME] < 300", &p));
        assert!(!holds("[RESPONSE_TIME] < 100ms", &p));
        assert!(holds("[BODY].status == UP", &p));
        assert!(!holds("[BODY].status == DOWN", &p));
        assert!(holds("[BODY].n > 4", &p));
        assert!(holds("[BODY].items[1] == 2", &p));
        assert!(!holds("[BODY].items[5] == 2", &p));
        assert!(holds("len([BODY].items) == 2", &p));
        assert!(holds("has([BODY].status) == true", &p));
        assert!(holds("has([BODY].gone) == false", &p));
        assert!(holds("[BODY] == pat(*UP*)", &p));
        assert!(!holds("[BODY] == pat(*DOWN*)", &p));
        assert!(holds("[CONNECTED] == true", &p));
        let down = Probe {
            error: Some("connection refused".into()),
            ..Probe::default()
        };
        let r = c("[STATUS] == 200").evaluate(&down, None, now());
        assert_eq!((r.ok, r.actual.as_str()), (false, "no answer"));
        assert!(
            !holds("[STATUS] != 200", &down),
            "no value never satisfies a condition"
        );
        assert!(holds("[CONNECTED] == false", &down));
        let r = c("[BODY].status == UP").evaluate(&http(200, 1, "plain"), None, now());
        assert_eq!((r.ok, r.actual.as_str()), (false, "the body is not JSON"));
    }

    #[test]
    fn certificate_expiry_counts_from_now() {
        let p = Probe {
            connected: true,
            status: Some(200),
            cert_expires_at: Some("2026-11-26T09:00:00Z".parse().unwrap()),
            ..Probe::default()
        };
        assert!(holds("[CERTIFICATE_EXPIRATION] > 4d", &p));
        let r = c("[CERTIFICATE_EXPIRATION] > 7d").evaluate(&p, None, now());
        assert_eq!((r.ok, r.actual.as_str()), (false, "5.0 days"));
        assert!(!holds("[CERTIFICATE_EXPIRATION] > 1", &http(200, 1, "")));
    }

    #[test]
    fn globs() {
        assert!(glob("*ok*", "all ok here"));
        assert!(glob("ok*", "ok"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("ok", "ok!"));
        assert!(!glob("ab*ba", "aba"));
    }
}
