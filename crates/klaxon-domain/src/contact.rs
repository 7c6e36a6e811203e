//! How people are reached: contact methods, the rules that use them, and the notifications
//! those rules produce.
use jiff::{SignedDuration, Timestamp};

use crate::Invalid;
use crate::auth::EmailAddress;

crate::named_enum! {
    /// The channel a contact method speaks.
    pub enum ContactKind (field = "kind") {
        Email = "email",
        Sms = "sms",
        Voice = "voice",
        /// A generic JSON webhook, HMAC-signed.
        Webhook = "webhook",
        /// Incoming-webhook URLs of these chat tools.
        Slack = "slack",
        Teams = "teams",
        Mattermost = "mattermost",
    }
}

impl ContactKind {
    /// Its address is a URL Klaxon posts to.
    pub fn is_url(self) -> bool {
        matches!(
            self,
            ContactKind::Webhook
                | ContactKind::Slack
                | ContactKind::Teams
                | ContactKind::Mattermost
        )
    }
}

pub const LABEL_MAX: usize = 100;
pub const URL_MAX: usize = 2000;

/// Checks and normalises an address for its kind: an e-mail address, an E.164 phone number
/// (`+` and 8 to 15 digits; spaces, dots, dashes and brackets are dropped), or an http(s) URL.
pub fn address(kind: ContactKind, raw: &str) -> Result<String, Invalid> {
    let raw = raw.trim();
    match kind {
        ContactKind::Email => EmailAddress::parse(raw)
            .map(|e| e.as_str().to_owned())
            .map_err(|_| Invalid::new("address", "is not an e-mail address")),
        ContactKind::Sms | ContactKind::Voice => {
            let digits: String = raw
                .chars()
                .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
                .collect();
            let ok = digits.strip_prefix('+').is_some_and(|d| {
                (8..=15).contains(&d.len())
                    && d.chars().all(|c| c.is_ascii_digit())
                    && !d.starts_with('0')
            });
            if ok {
                Ok(digits)
            } else {
                Err(Invalid::new(
                    "address",
                    "must be a phone number in international form, like +14155550123",
                ))
            }
        }
        ContactKind::Webhook
        | ContactKind::Slack
        | ContactKind::Teams
        | ContactKind::Mattermost => {
            let rest = raw
                .strip_prefix("https://")
                .or_else(|| raw.strip_prefix("http://"));
            let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            match host {
                _ if raw.len() > URL_MAX => Err(Invalid::new(
                    "address",
                    format!("must be at most {URL_MAX} characters"),
                )),
                Some(h) if !h.is_empty() && !raw.chars().any(char::is_whitespace) => {
                    Ok(raw.to_owned())
                }
                _ => Err(Invalid::new(
                    "address",
                    "must be an http:// or https:// URL",
                )),
            }
        }
    }
}

/// Notification rules wait at most a day after the page.
pub const RULE_DELAY_MAX_MINUTES: u32 = 1440;

pub fn rule_delay(minutes: u32) -> Result<u32, Invalid> {
    if minutes > RULE_DELAY_MAX_MINUTES {
        return Err(Invalid::new(
            "delay_minutes",
            format!("must be between 0 and {RULE_DELAY_MAX_MINUTES}"),
        ));
    }
    Ok(minutes)
}

crate::named_enum! {
    /// Where a notification is in its life. `sending` is claimed by a sender; a sender that
    /// dies there leaves the outcome unknown, and the notification becomes `failed` rather
    /// than being sent again.
    pub enum NotificationStatus (field = "status") {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
        /// The incident was acknowledged or resolved before a delayed rule fired.
        Cancelled = "cancelled",
    }
}

/// What a provider's answer means for a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The provider surely did not take it (refused connection, 429, 5xx): try again later.
    Retry(String),
    /// It will never work (4xx, bad address), or we cannot know whether it arrived (a timeout
    /// after the request went out): never resend blindly.
    Failed(String),
}

/// Retries of notifications that surely did not go out: few and soon, since a page that
/// arrives an hour late is worth little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    pub max_attempts: u32,
    pub base: SignedDuration,
    pub cap: SignedDuration,
}

impl Default for SendPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: SignedDuration::from_secs(5),
            cap: SignedDuration::from_mins(2),
        }
    }
}

impl SendPolicy {
    /// When attempt `attempt` (1-based, just failed) is tried again, or `None` when it was the
    /// last.
    pub fn retry_at(&self, attempt: u32, now: Timestamp) -> Option<Timestamp> {
        if attempt >= self.max_attempts {
            return None;
        }
        let factor = 1i64 << attempt.saturating_sub(1).min(20);
        let delay = SignedDuration::from_secs(self.base.as_secs().saturating_mul(factor));
        Some(now.saturating_add(delay.min(self.cap)).unwrap_or(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_per_kind() {
        assert_eq!(
            address(ContactKind::Email, " Ada@Example.com ").unwrap(),
            "ada@example.com"
        );
        assert_eq!(
            address(ContactKind::Sms, "+1 (415) 555-0123").unwrap(),
            "+14155550123"
        );
        for bad in [
            "4155550123",
            "+0123456789",
            "+1234",
            "+1415555012345678",
            "+1415abc0123",
        ] {
            assert_eq!(
                address(ContactKind::Voice, bad).unwrap_err().field,
                "address"
            );
        }
        assert!(address(ContactKind::Slack, "https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(address(ContactKind::Webhook, "http://127.0.0.1:9000/hook").is_ok());
        for bad in ["ftp://x", "https://", "hooks.slack.com", "https://a b"] {
            assert!(address(ContactKind::Webhook, bad).is_err(), "{bad}");
        }
        assert!(address(ContactKind::Email, "nobody").is_err());
    }

    #[test]
    fn sends_retry_a_few_times_then_stop() {
        let p = SendPolicy::default();
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            p.retry_at(1, now),
            Some("2026-01-01T00:00:05Z".parse().unwrap())
        );
        assert_eq!(
            p.retry_at(3, now),
            Some("2026-01-01T00:00:20Z".parse().unwrap())
        );
        assert_eq!(p.retry_at(5, now), None);
        assert!(rule_delay(1441).is_err());
    }
}
