//! The insights roll-ups against a plain read of the rows they stand for.
use super::*;
use std::collections::BTreeSet;

/// A small deterministic generator: the run is random in shape but the same every time.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The pages as a plain read of the notifications finds them: one per person, incident and
/// instant among those sent, being sent or failed, about an incident and not an update.
async fn plain_pages(
    s: &Arc<dyn Store>,
    ids: &[NotificationId],
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, UserId, IncidentId)> {
    let mut pages = BTreeSet::new();
    for id in ids {
        let n = match s.notification(*id).await {
            Ok(n) => n,
            Err(StoreError::NotFound) => continue, // deleted with its incident
            Err(e) => panic!("{e}"),
        };
        let counts = matches!(
            n.status,
            NotificationStatus::Sent | NotificationStatus::Sending | NotificationStatus::Failed
        ) && !n.dedup_key.starts_with("update:");
        if let (true, Some(incident)) = (counts, n.incident_id)
            && n.created_at >= from
            && n.created_at < to
        {
            pages.insert((n.created_at, n.user_id, incident));
        }
    }
    pages.into_iter().collect()
}

async fn read_pages(
    s: &Arc<dyn Store>,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, UserId, IncidentId)> {
    s.insight_pages(from, to)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.at, p.user_id, p.incident_id))
        .collect()
}

/// The pages the on-call report reads (a roll-up kept by triggers) equal a plain read of the
/// notifications after a random run of everything that changes them: a person's
/// notifications on each of their methods at one instant, claims, sends, retries, failures,
/// unbegun claims released, begun ones abandoned, cancellations, test pages and stakeholder
/// updates. (Nothing deletes notifications today but their incident's or person's deletion,
/// which nothing does either; the triggers follow deletes all the same.)
pub async fn insight_pages_equal_the_notifications_behind_them(s: Arc<dyn Store>) {
    let ada = person(&s, "ada@example.com").await;
    let bob = person(&s, "bob@example.com").await;
    let mut methods = Vec::new();
    for m in [
        new_method(ada.id, ContactKind::Email, "ada@example.com"),
        new_method(ada.id, ContactKind::Sms, "+15550100"),
        new_method(bob.id, ContactKind::Email, "bob@example.com"),
    ] {
        methods.push(create_method(&s, &m).await);
    }
    let m = monitored(&s, "api", Grouping::None, true).await;
    let mut incidents = Vec::new();
    for key in ["a", "b", "c"] {
        let ack = apply_all(&s, vec![m.trigger(key, key, mins(0))]).await;
        incidents.push(ack[0].incident_id.unwrap());
    }

    let mut dice = Dice(0x2545_f491_4f6c_dd1d);
    let mut ids = Vec::new();
    for round in 1..=30i64 {
        let now = mins(round);
        // Someone is paged about an incident: one notification per method, one instant.
        for _ in 0..=dice.roll(2) {
            let incident = incidents[dice.roll(incidents.len() as u64) as usize];
            let who = if dice.roll(2) == 0 { ada.id } else { bob.id };
            let key = match dice.roll(6) {
                0 => "update",
                1 => "test",
                _ => "page",
            };
            for m in methods.iter().filter(|m| m.user_id == who) {
                let mut n = new_notification(
                    m,
                    (key != "test").then_some(incident),
                    &format!("{key}:{round}:{}:{}", ids.len(), m.id),
                    now,
                );
                n.created_at = now;
                ids.push(queue(&s, n).await.id);
            }
        }
        if round == 12 {
            // Pending pages about an acknowledged incident are cancelled by the next claim.
            s.set_incident_status(
                incidents[0],
                IncidentStatus::Acknowledged,
                now,
                ev(
                    SubjectType::Incident,
                    incidents[0],
                    EventKind::IncidentAcknowledged,
                    json!({}),
                ),
            )
            .await
            .unwrap();
        }
        let claimed = s
            .claim_notifications(now, mins(round + 1), 4)
            .await
            .unwrap();
        for n in claimed.due {
            let result = match dice.roll(5) {
                0 => SendResult::Sent { at: now },
                1 => SendResult::Failed {
                    error: "refused".into(),
                },
                2 => SendResult::Retry {
                    at: mins(round + 2),
                    error: "busy".into(),
                },
                // Begun and never finished: failed as abandoned by a later claim.
                3 => {
                    assert!(s.start_sending(&[n.id], n.run_at, now).await.unwrap());
                    continue;
                }
                // Never begun: released by a later claim.
                _ => continue,
            };
            let e = note_ev(&n, EventKind::NotificationSent);
            assert!(s.finish_notification(n.id, result, e).await.unwrap());
        }
        assert_eq!(
            read_pages(&s, mins(0), mins(100)).await,
            plain_pages(&s, &ids, mins(0), mins(100)).await,
            "round {round}"
        );
    }
    // A part of the period: its ends are a closed start and an open end.
    assert_eq!(
        read_pages(&s, mins(5), mins(20)).await,
        plain_pages(&s, &ids, mins(5), mins(20)).await
    );
    let all = read_pages(&s, mins(0), mins(100)).await;
    assert!(all.len() > 10, "the run raised pages: {}", all.len());
}
