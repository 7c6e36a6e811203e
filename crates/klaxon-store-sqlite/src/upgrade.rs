//! SQLite upgrades that rebuild tables keep what points at them.
use std::borrow::Cow;

use sqlx::migrate::Migrator;

use klaxon_store::IncidentStore;

use crate::SqliteStore;

/// A store in `dir` migrated up to, not including, `version`.
async fn store_before(dir: &std::path::Path, version: i64) -> SqliteStore {
    let _ = std::fs::remove_dir_all(dir);
    let store = SqliteStore::open_without_migrating(&dir.join("k.db"))
        .await
        .unwrap();
    let before: Vec<_> = crate::MIGRATOR
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect();
    let old = Migrator {
        migrations: Cow::Owned(before),
        ..Migrator::DEFAULT
    };
    old.run(&store.writer).await.unwrap();
    store
}

/// Runs each statement: test data, made here.
async fn run_all(store: &SqliteStore, sql: Vec<String>) {
    for q in sql {
        sqlx::query(sqlx::AssertSqlSafe(q))
            .execute(&store.writer)
            .await
            .unwrap();
    }
}

/// Migration 6 rebuilds `incidents`; the rows pointing at it (alerts, notifications) must
/// come through untouched, not nulled or deleted by their foreign keys' actions.
#[tokio::test]
async fn rebuilding_incidents_keeps_what_points_at_them() {
    let dir = std::env::temp_dir().join(format!("klaxon-upgrade-{}", std::process::id()));
    let store = store_before(&dir, 20261121000006).await;
    for sql in [
        "INSERT INTO users (id, email, name, role, password_hash, created_at)
         VALUES ('00000000-0000-7000-8000-000000000001', 'a@x.org', 'A', 'admin', 'h', 0)",
        "INSERT INTO services (id, name, description, urgency_rule, grouping, auto_resolve,
         created_at, updated_at)
         VALUES ('00000000-0000-7000-8000-000000000002', 's', '', 'high', '{\"kind\":\"none\"}', 1, 0, 0)",
        "INSERT INTO incidents (id, number, title, status, urgency, service_id, alert_count,
         opened_by_alert, group_values, created_at, acknowledged_at)
         VALUES ('00000000-0000-7000-8000-000000000003', 7, 'disk', 'acknowledged', 'high',
         '00000000-0000-7000-8000-000000000002', 1, 1, '{}', 1000, 2000)",
        "INSERT INTO alerts (id, service_id, incident_id, dedup_key, status, severity, summary,
         content, count, in_maintenance, created_at, last_seen_at)
         VALUES ('00000000-0000-7000-8000-000000000004', '00000000-0000-7000-8000-000000000002',
         '00000000-0000-7000-8000-000000000003', 'k', 'acknowledged', 'critical', 'disk',
         '{}', 1, 0, 1000, 1000)",
        "INSERT INTO contact_methods (id, user_id, kind, label, address, created_at)
         VALUES ('00000000-0000-7000-8000-000000000005', '00000000-0000-7000-8000-000000000001',
         'webhook', 'hook', 'http://127.0.0.1:1/', 0)",
        "INSERT INTO notifications (id, incident_id, user_id, contact_method_id, kind,
         address, dedup_key, payload, status, attempts, run_at, created_at)
         VALUES ('00000000-0000-7000-8000-000000000006', '00000000-0000-7000-8000-000000000003',
         '00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000005',
         'webhook', 'http://127.0.0.1:1/', 'd', '{}', 'sent', 1, 1000, 1000)",
    ] {
        sqlx::query(sql).execute(&store.writer).await.unwrap();
    }
    store.migrate().await.unwrap();

    let i = store
        .incident("00000000-0000-7000-8000-000000000003".parse().unwrap())
        .await
        .unwrap();
    assert_eq!((i.number, i.title.as_str(), i.alert_count), (7, "disk", 1));
    assert_eq!(
        i.status,
        klaxon_domain::incident::IncidentStatus::Acknowledged
    );
    assert_eq!(i.detected_at, Some(i.created_at));
    let alert_incident: Option<String> = sqlx::query_scalar("SELECT incident_id FROM alerts")
        .fetch_one(&store.writer)
        .await
        .unwrap();
    assert_eq!(
        alert_incident.as_deref(),
        Some("00000000-0000-7000-8000-000000000003")
    );
    let notifications: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&store.writer)
        .await
        .unwrap();
    assert_eq!(notifications, 1);
    let broken: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&store.writer)
        .await
        .unwrap();
    assert!(broken.is_empty());
    let fk_on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&store.writer)
        .await
        .unwrap();
    assert_eq!(
        fk_on, 1,
        "foreign keys are enforced again after the migration"
    );
    store.writer.close().await;
    store.reader.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Migration 34 rebuilds `slo_counts` to allow five-minute slices and fills them from the
/// minutes already kept: the sums a step reads come out the same across the upgrade.
#[tokio::test]
async fn five_minute_slices_are_filled_from_the_minutes() {
    let dir = std::env::temp_dir().join(format!("klaxon-upgrade-34-{}", std::process::id()));
    let store = store_before(&dir, 20261121000034).await;
    let slo = "00000000-0000-7000-8000-000000000012";
    let mut sql = vec![
        "INSERT INTO services (id, name, description, urgency_rule, grouping, auto_resolve,
         created_at, updated_at)
         VALUES ('00000000-0000-7000-8000-000000000011', 's', '', 'high', '{\"kind\":\"none\"}', 1, 0, 0)"
            .to_owned(),
        format!(
            "INSERT INTO slos (id, service_id, name, description, objective, window_days, sli_kind,
             sli, at_risk, budget_status, status_since, created_at, updated_at)
             VALUES ('{slo}', '00000000-0000-7000-8000-000000000011', 'api', '', 99.9, 30,
             'pushed', '{{\"kind\":\"pushed\"}}', 0.25, 'healthy', 0, 0, 0)"
        ),
    ];
    // Minutes 0, 1 and 4 fall in the first five minutes, minute 7 in the second; the hour
    // row is left as it is.
    for (minute, good, total) in [(0, 1.0, 2.0), (1, 3.0, 4.0), (4, 5.0, 6.0), (7, 7.0, 8.0)] {
        sql.push(format!(
            "INSERT INTO slo_counts VALUES ('{slo}', 'minute', {}, {good}, {total})",
            minute * 60_000
        ));
    }
    sql.push(format!(
        "INSERT INTO slo_counts VALUES ('{slo}', 'hour', 0, 16.0, 20.0)"
    ));
    run_all(&store, sql).await;
    store.migrate().await.unwrap();
    let rows: Vec<(String, i64, f64, f64)> = sqlx::query_as(
        "SELECT resolution, slice, good, total FROM slo_counts ORDER BY resolution, slice",
    )
    .fetch_all(&store.writer)
    .await
    .unwrap();
    let fives: Vec<_> = rows.iter().filter(|r| r.0 == "five_minutes").collect();
    assert_eq!(
        fives,
        [
            &("five_minutes".to_owned(), 0, 9.0, 12.0),
            &("five_minutes".to_owned(), 300_000, 7.0, 8.0)
        ]
    );
    assert_eq!(rows.iter().filter(|r| r.0 == "minute").count(), 4);
    assert_eq!(rows.iter().filter(|r| r.0 == "hour").count(), 1);
    // The rebuilt table still cascades from its SLO.
    sqlx::query("DELETE FROM slos")
        .execute(&store.writer)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM slo_counts")
        .fetch_one(&store.writer)
        .await
        .unwrap();
    assert_eq!(left, 0);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Migration 35 fills `insight_pages` from the notifications already kept: one row for each
/// that counts as a page.
#[tokio::test]
async fn insight_pages_are_filled_from_the_notifications() {
    let dir = std::env::temp_dir().join(format!("klaxon-upgrade-35-{}", std::process::id()));
    let store = store_before(&dir, 20261121000035).await;
    let (user, incident) = (
        "00000000-0000-7000-8000-000000000021",
        "00000000-0000-7000-8000-000000000022",
    );
    let mut sql = vec![
        format!(
            "INSERT INTO users (id, email, name, role, password_hash, created_at)
             VALUES ('{user}', 'ada@example.com', 'Ada', 'responder', '', 0)"
        ),
        format!(
            "INSERT INTO incidents (id, number, title, status, urgency, opened_by_alert,
             group_values, created_at)
             VALUES ('{incident}', 1, 'down', 'triggered', 'high', 0, '{{}}', 0)"
        ),
    ];
    // At 1000: two methods sent (one page), a stakeholder update, one pending; at 2000: one
    // failed; at 3000: one cancelled; at 4000: a test page without an incident.
    for (i, (at, key, status, about)) in [
        (1000, "page:a", "sent", true),
        (1000, "page:b", "sending", true),
        (1000, "update:c", "sent", true),
        (1000, "page:d", "pending", true),
        (2000, "page:e", "failed", true),
        (3000, "page:f", "cancelled", true),
        (4000, "test:g", "sent", false),
    ]
    .into_iter()
    .enumerate()
    {
        let about = if about {
            format!("'{incident}'")
        } else {
            "NULL".into()
        };
        sql.push(format!(
            "INSERT INTO notifications (id, incident_id, user_id, kind, address, dedup_key,
             payload, status, run_at, created_at)
             VALUES ('00000000-0000-7000-8000-0000000001{i:02}', {about}, '{user}', 'email',
             'ada@example.com', '{key}', '{{}}', '{status}', {at}, {at})"
        ));
    }
    run_all(&store, sql).await;
    store.migrate().await.unwrap();
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT created_at, user_id, incident_id, notification_id FROM insight_pages
         ORDER BY created_at, notification_id",
    )
    .fetch_all(&store.writer)
    .await
    .unwrap();
    let row = |at: i64, i: u32| {
        (
            at,
            user.to_owned(),
            incident.to_owned(),
            format!("00000000-0000-7000-8000-0000000001{i:02}"),
        )
    };
    assert_eq!(rows, [row(1000, 0), row(1000, 1), row(2000, 4)]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
