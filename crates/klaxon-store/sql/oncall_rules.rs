//! Notification rules as the on-call store keeps them: a rule must use its own user's contact
//! method, is kept once (a copy would page twice at once), and the facts that say whether a
//! person can be paged. Helpers of `oncall.rs`, which holds the trait's implementation.
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::UserId;
use klaxon_domain::reach::PersonFacts;
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::insert_event;
use super::*;

pub(super) fn rule_from(row: &DbRow) -> StoreResult<NotificationRule> {
    Ok(NotificationRule {
        id: get_id(row, "id")?,
        user_id: get_id(row, "user_id")?,
        contact_method_id: get_id(row, "contact_method_id")?,
        delay_minutes: get_u32(row, "delay_minutes")?,
        urgency: get_parsed(row, "urgency")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// `NotFound` unless the rule's contact method is its user's: nobody routes their pages to
/// someone else's phone. Key-share locked until commit, so it cannot be deleted in between.
pub(super) async fn check_rule_method(
    tx: &mut Transaction<'_, Db>,
    r: &NotificationRule,
) -> StoreResult<()> {
    let owner: Option<DbUuid> = sqlx::query_scalar(concat!(
        "SELECT user_id FROM contact_methods WHERE id = $1",
        for_key_share!()
    ))
    .bind(db_id(r.contact_method_id))
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    if owner != Some(db_id(r.user_id)) {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Another of the user's rules with the same method, delay and urgency.
pub(super) async fn same_rule(
    tx: &mut Transaction<'_, Db>,
    r: &NotificationRule,
) -> StoreResult<Option<NotificationRule>> {
    let row = sqlx::query(
        "SELECT * FROM notification_rules WHERE user_id = $1 AND contact_method_id = $2
         AND delay_minutes = $3 AND urgency = $4 AND id <> $5 ORDER BY id LIMIT 1",
    )
    .bind(db_id(r.user_id))
    .bind(db_id(r.contact_method_id))
    .bind(i64::from(r.delay_minutes))
    .bind(r.urgency.as_str())
    .bind(db_id(r.id))
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    row.as_ref().map(rule_from).transpose()
}

/// Inserts a rule with its event, unless the user has one just like it: then that one stands
/// and nothing is written.
pub(super) async fn insert_rule(
    tx: &mut Transaction<'_, Db>,
    r: &NotificationRule,
    e: &NewEvent,
) -> StoreResult<NotificationRule> {
    check_rule_method(tx, r).await?;
    if let Some(existing) = same_rule(tx, r).await? {
        return Ok(existing);
    }
    sqlx::query(
        "INSERT INTO notification_rules (id, user_id, contact_method_id, delay_minutes,
         urgency, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(db_id(r.id))
    .bind(db_id(r.user_id))
    .bind(db_id(r.contact_method_id))
    .bind(i64::from(r.delay_minutes))
    .bind(r.urgency.as_str())
    .bind(to_millis(r.created_at))
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    insert_event(tx, e).await?;
    Ok(r.clone())
}

/// What reaching each of `users` depends on (see `OnCallStore::reach_people`).
pub(super) async fn reach_people(
    pool: &sqlx::Pool<Db>,
    users: &[UserId],
) -> StoreResult<Vec<PersonFacts>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    // Medium incidents page by the high rules, and rules are never stored as medium.
    let rows = sqlx::query(concat!(
        "SELECT u.id, u.name, u.deactivated_at,
                (SELECT COUNT(*) FROM contact_methods m WHERE m.user_id = u.id) AS methods,
                (SELECT COUNT(*) FROM notification_rules r
                 WHERE r.user_id = u.id AND r.urgency <> 'low') AS high_rules,
                (SELECT COUNT(*) FROM notification_rules r
                 WHERE r.user_id = u.id AND r.urgency = 'low') AS low_rules
             FROM users u WHERE u.id ",
        in_list!("$1"),
        " ORDER BY u.id",
    ))
    .bind(db_ids(users))
    .fetch_all(pool)
    .await
    .map_err(map_err)?;
    rows.iter()
        .map(|row| {
            Ok(PersonFacts {
                id: get_id(row, "id")?,
                name: get(row, "name")?,
                active: get_opt_ts(row, "deactivated_at")?.is_none(),
                contact_methods: get_u32(row, "methods")?,
                high_rules: get_u32(row, "high_rules")?,
                low_rules: get_u32(row, "low_rules")?,
            })
        })
        .collect()
}
