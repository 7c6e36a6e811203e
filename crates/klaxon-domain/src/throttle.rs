//! Storm control for notifications: what is due for one contact method goes out as one
//! message, and slow channels (a phone, a mailbox) get at most one message a minute.
//!
//! A storm of 500 alerts must not send 500 SMS. Like GoAlert, Klaxon bundles: notifications due
//! at once for one contact method become one message listing the incidents, and a method that
//! was messaged less than its gap ago waits until the gap is over, collecting what comes
//! meanwhile into that next message.
use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::contact::ContactKind;
use crate::ids::{ContactMethodId, NotificationId};

/// The least time between two messages to one contact method of this kind. People read SMS,
/// calls and mail one at a time; machines (webhooks, chat) take what comes.
pub fn min_gap(kind: ContactKind) -> Option<SignedDuration> {
    match kind {
        ContactKind::Sms | ContactKind::Voice | ContactKind::Email => {
            Some(SignedDuration::from_mins(1))
        }
        ContactKind::Webhook
        | ContactKind::Slack
        | ContactKind::Teams
        | ContactKind::Mattermost => None,
    }
}

/// A claimed notification, as far as bundling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub id: NotificationId,
    pub method: Option<ContactMethodId>,
    pub kind: ContactKind,
    /// Test notifications and stakeholder updates are never bundled with pages.
    pub test: bool,
}

/// What to do with claimed notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send `lead` as one message that also carries `with` (empty: a message of its own).
    Send {
        lead: NotificationId,
        with: Vec<NotificationId>,
    },
    /// Too soon after the last message to this method: back to pending until `until`.
    Defer {
        id: NotificationId,
        until: Timestamp,
    },
}

/// Bundles and throttles `due` (in the order they should be read: oldest first). `last_sent`
/// holds each method's latest message.
pub fn plan(
    due: &[Due],
    last_sent: &BTreeMap<ContactMethodId, Timestamp>,
    now: Timestamp,
) -> Vec<Decision> {
    let mut groups: BTreeMap<ContactMethodId, Vec<&Due>> = BTreeMap::new();
    let mut out = Vec::new();
    for d in due {
        match (d.method, d.test) {
            (Some(m), false) => groups.entry(m).or_default().push(d),
            _ => out.push(Decision::Send {
                lead: d.id,
                with: Vec::new(),
            }),
        }
    }
    for (method, group) in groups {
        let wait_until = min_gap(group[0].kind)
            .zip(last_sent.get(&method))
            .and_then(|(gap, last)| last.checked_add(gap).ok())
            .filter(|until| *until > now);
        match wait_until {
            Some(until) => out.extend(group.iter().map(|d| Decision::Defer { id: d.id, until })),
            None => out.push(Decision::Send {
                lead: group[0].id,
                with: group[1..].iter().map(|d| d.id).collect(),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<T: From<uuid::Uuid>>(n: u8) -> T {
        T::from(uuid::Uuid::from_bytes([n; 16]))
    }

    fn due(n: u8, method: u8, kind: ContactKind) -> Due {
        Due {
            id: id(n),
            method: Some(id(method)),
            kind,
            test: false,
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_storm_for_one_method_is_one_message() {
        let storm: Vec<Due> = (1..=50).map(|n| due(n, 200, ContactKind::Sms)).collect();
        let plan = plan(&storm, &BTreeMap::new(), at("2026-01-01T00:00:00Z"));
        assert_eq!(plan.len(), 1);
        let Decision::Send { lead, with } = &plan[0] else {
            panic!("{plan:?}")
        };
        assert_eq!(*lead, id(1));
        assert_eq!(with.len(), 49);
    }

    #[test]
    fn slow_channels_wait_out_their_gap_and_fast_ones_do_not() {
        let now = at("2026-01-01T00:00:30Z");
        let last = BTreeMap::from([
            (id(200), at("2026-01-01T00:00:00Z")),
            (id(201), at("2026-01-01T00:00:00Z")),
        ]);
        let due = [
            due(1, 200, ContactKind::Sms),
            due(2, 200, ContactKind::Sms),
            due(3, 201, ContactKind::Webhook),
        ];
        let plan = plan(&due, &last, now);
        let until = at("2026-01-01T00:01:00Z");
        assert!(plan.contains(&Decision::Defer { id: id(1), until }));
        assert!(plan.contains(&Decision::Defer { id: id(2), until }));
        assert!(plan.contains(&Decision::Send {
            lead: id(3),
            with: vec![]
        }));
        // Once the minute is over, what waited goes out as one message.
        let later = at("2026-01-01T00:01:00Z");
        assert_eq!(
            super::plan(&due[..2], &last, later),
            vec![Decision::Send {
                lead: id(1),
                with: vec![id(2)]
            }]
        );
    }

    #[test]
    fn tests_and_methodless_notifications_go_alone() {
        let mut t = due(1, 200, ContactKind::Email);
        t.test = true;
        let mut orphan = due(2, 200, ContactKind::Email);
        orphan.method = None;
        let plan = plan(
            &[t, orphan, due(3, 200, ContactKind::Email)],
            &BTreeMap::new(),
            at("2026-01-01T00:00:00Z"),
        );
        assert_eq!(plan.len(), 3);
        assert!(
            plan.iter()
                .all(|d| matches!(d, Decision::Send { with, .. } if with.is_empty()))
        );
    }
}
