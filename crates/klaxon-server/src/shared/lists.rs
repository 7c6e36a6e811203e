//! Whole lists and names read for pickers and answers people read: every service, escalation
//! policy and active user, and users' names. Plain store reads, shared by the capabilities.
use std::collections::HashMap;

use klaxon_domain::ids::UserId;
use klaxon_domain::page::Limit;
use klaxon_store::{EscalationPolicy, Service, Store, User};

use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;

/// Every service, by name order of the store's pages.
pub(crate) async fn all_services(state: &AppState) -> Result<Vec<Service>, ApiError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_services(after, Limit::MAX).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Every active user, oldest first: the people pickers offer (a deactivated user cannot be
/// scheduled, targeted or paged; pages that name one look their name up separately).
pub(crate) async fn all_users(state: &AppState) -> Result<Vec<User>, ApiError> {
    let mut users = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_users(after, Limit::MAX).await?;
        users.extend(page.items.into_iter().filter(User::active));
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(users),
        }
    }
}

/// Every escalation policy, for the pages that pick one.
pub(crate) async fn all_policies(state: &AppState) -> Result<Vec<EscalationPolicy>, ApiError> {
    let mut policies = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_escalation_policies(after, Limit::MAX)
            .await?;
        policies.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(policies),
        }
    }
}

/// The names of these users; one deleted since shows as its id.
pub(crate) async fn user_names_or_ids(
    state: &AppState,
    ids: Vec<UserId>,
) -> Result<HashMap<UserId, String>, ApiError> {
    let mut names = user_names(state.store.as_ref(), ids.clone()).await?;
    // A user deleted meanwhile is shown by id.
    for id in ids {
        names.entry(id).or_insert_with(|| id.to_string());
    }
    Ok(names)
}

/// Names of `users`, for answers people read; a user who is gone has none.
pub(crate) async fn user_names(
    store: &dyn Store,
    users: Vec<UserId>,
) -> ApiResult<HashMap<UserId, String>> {
    let mut names = HashMap::new();
    for id in users {
        if names.contains_key(&id) {
            continue;
        }
        match store.user(id).await {
            Ok(u) => {
                names.insert(id, u.name);
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(names)
}
