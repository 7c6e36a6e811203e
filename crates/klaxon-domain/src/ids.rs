//! Typed identifiers. UUID v7, so they sort by creation time on both backends.
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id whose time part comes from `now` (the injected clock), not the wall clock.
            pub fn new(now: jiff::Timestamp, random: [u8; 10]) -> Self {
                Self(v7(now, random))
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    UserId,
    ApiTokenId,
    SessionId,
    JobId,
    ServiceId,
    IntegrationId,
    MaintenanceWindowId,
    AlertId,
    IncidentId,
    EscalationPolicyId,
    ContactMethodId,
    NotificationRuleId,
    NotificationId,
    ScheduleId,
    OverrideId,
    RoleAssignmentId,
    TaskId,
    WebhookId,
    DeliveryId,
    StatusPageId,
    ComponentId,
    StatusIncidentId,
    StatusUpdateId,
    CheckId,
    SubscriberId,
    SloId,
    ActionItemId,
    PostmortemId,
    PostmortemCommentId,
    RunbookId,
    RunId,
    RunnerId,
    WorkflowId,
    WorkflowRunId,
    DrillId,
    DrillScenarioId,
);

/// Builds a v7 UUID from a timestamp and caller-supplied randomness (the domain does no I/O).
fn v7(now: jiff::Timestamp, random: [u8; 10]) -> Uuid {
    let ms = u64::try_from(now.as_millisecond()).unwrap_or(0);
    let mut rand = [0u8; 10];
    rand.copy_from_slice(&random);
    uuid::Builder::from_unix_timestamp_millis(ms, &rand).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time() {
        let a = UserId::new("2026-01-01T00:00:00Z".parse().unwrap(), [9; 10]);
        let b = UserId::new("2026-01-01T00:00:01Z".parse().unwrap(), [0; 10]);
        assert!(a < b);
        assert_eq!(a.0.get_version_num(), 7);
        assert_eq!(a.to_string().parse::<UserId>().unwrap(), a);
    }
}
