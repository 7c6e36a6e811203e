//! Timeline events: every state change writes one, in the same transaction as the change.
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{ApiTokenId, UserId};

/// Who caused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// Klaxon itself: the engine, start-up, maintenance.
    System,
    User(UserId),
    /// A script acting through an API token.
    Token(ApiTokenId),
}

impl Actor {
    /// The stored form: `system`, `user:<id>`, `token:<id>`.
    pub fn encode(&self) -> String {
        match self {
            Actor::System => "system".to_owned(),
            Actor::User(id) => format!("user:{id}"),
            Actor::Token(id) => format!("token:{id}"),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        match s.split_once(':') {
            None if s == "system" => Some(Actor::System),
            Some(("user", id)) => id.parse().ok().map(Actor::User),
            Some(("token", id)) => id.parse().ok().map(Actor::Token),
            _ => None,
        }
    }
}

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    User,
    ApiToken,
    Job,
    System,
}

impl SubjectType {
    pub const ALL: [SubjectType; 4] = [Self::User, Self::ApiToken, Self::Job, Self::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiToken => "api_token",
            Self::Job => "job",
            Self::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The typed kinds of event. The stored name is stable: it is part of the API and of webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.logged_in")]
    UserLoggedIn,
    #[serde(rename = "user.logged_out")]
    UserLoggedOut,
    #[serde(rename = "user.login_failed")]
    UserLoginFailed,
    #[serde(rename = "api_token.created")]
    ApiTokenCreated,
    #[serde(rename = "api_token.revoked")]
    ApiTokenRevoked,
    #[serde(rename = "job.dead")]
    JobDead,
    #[serde(rename = "system.bootstrapped")]
    SystemBootstrapped,
    #[serde(rename = "system.note")]
    SystemNote,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        Self::UserCreated,
        Self::UserLoggedIn,
        Self::UserLoggedOut,
        Self::UserLoginFailed,
        Self::ApiTokenCreated,
        Self::ApiTokenRevoked,
        Self::JobDead,
        Self::SystemBootstrapped,
        Self::SystemNote,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserLoggedIn => "user.logged_in",
            Self::UserLoggedOut => "user.logged_out",
            Self::UserLoginFailed => "user.login_failed",
            Self::ApiTokenCreated => "api_token.created",
            Self::ApiTokenRevoked => "api_token.revoked",
            Self::JobDead => "job.dead",
            Self::SystemBootstrapped => "system.bootstrapped",
            Self::SystemNote => "system.note",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event about to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub subject_type: SubjectType,
    pub subject_id: String,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: EventKind,
    pub data: serde_json::Value,
}

impl NewEvent {
    pub fn new(
        subject_type: SubjectType,
        subject_id: impl fmt::Display,
        at: Timestamp,
        actor: Actor,
        kind: EventKind,
        data: serde_json::Value,
    ) -> Self {
        Self {
            subject_type,
            subject_id: subject_id.to_string(),
            at,
            actor,
            kind,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for t in SubjectType::ALL {
            assert_eq!(SubjectType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn actor_round_trips() {
        let u = Actor::User(UserId(uuid::Uuid::nil()));
        for a in [
            Actor::System,
            u,
            Actor::Token(ApiTokenId(uuid::Uuid::max())),
        ] {
            assert_eq!(Actor::decode(&a.encode()), Some(a));
        }
        assert_eq!(Actor::decode("user:nope"), None);
        assert_eq!(Actor::decode("robot"), None);
    }
}
