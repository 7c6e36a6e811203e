//! The escalation policy form, for adding and editing: what was typed (kept when the form is
//! shown again), the buttons that add and remove levels, the request it makes, and the form as
//! the template shows it. Levels are numbered as the form shows them, from 1; errors from the
//! API (which counts the levels it was given) are renamed to the form's.
use klaxon_domain::escalation::{LEVELS_MAX, Level, Target};
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::page::Limit;
use klaxon_store::{EscalationPolicy, ScheduleRecord, User};

use super::api::CreatePolicy;
use crate::shared::error::ApiError;
use crate::shared::lists::all_users;
use crate::shared::state::AppState;
use crate::shared::web::FormErrors;

/// One level as typed (or as saved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LevelDraft {
    delay: String,
    users: Vec<String>,
    schedules: Vec<String>,
}

impl LevelDraft {
    fn new() -> Self {
        Self {
            delay: "15".into(),
            ..Self::default()
        }
    }

    fn is_blank(&self) -> bool {
        self.delay.trim().is_empty() && self.users.is_empty() && self.schedules.is_empty()
    }
}

/// Level `n` (from 1) of the form, made if the form named it first.
fn level_mut(levels: &mut Vec<LevelDraft>, n: usize) -> &mut LevelDraft {
    if levels.len() < n {
        levels.resize(n, LevelDraft::default());
    }
    &mut levels[n - 1]
}

/// What the form's buttons ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FormAction {
    Save,
    AddLevel,
    /// Level N (from 1).
    RemoveLevel(usize),
}

/// The policy form's values, kept when it is shown again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PolicyDraft {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) repeat: String,
    pub(super) levels: Vec<LevelDraft>,
}

impl PolicyDraft {
    pub(super) fn empty() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            repeat: "0".into(),
            levels: vec![LevelDraft::new()],
        }
    }

    pub(super) fn of(p: &EscalationPolicy) -> Self {
        Self {
            name: p.name.clone(),
            description: p.description.clone(),
            repeat: p.plan.repeat.to_string(),
            levels: p
                .plan
                .levels
                .iter()
                .map(|l| LevelDraft {
                    delay: l.delay_minutes.to_string(),
                    users: l
                        .targets
                        .iter()
                        .filter_map(|t| match t {
                            Target::User(u) => Some(u.to_string()),
                            Target::Schedule(_) => None,
                        })
                        .collect(),
                    schedules: l
                        .targets
                        .iter()
                        .filter_map(|t| match t {
                            Target::Schedule(s) => Some(s.to_string()),
                            Target::User(_) => None,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Reads the form: `delayN`, `usersN` and `schedulesN` (repeated) for level N from 1,
    /// `levels` (how many the form showed) and `action`.
    pub(super) fn from_pairs(pairs: Vec<(String, String)>) -> (String, FormAction, Self) {
        let mut csrf = String::new();
        let mut action = FormAction::Save;
        let mut shown = 0usize;
        let mut d = Self {
            name: String::new(),
            description: String::new(),
            repeat: String::new(),
            levels: Vec::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => csrf = v,
                "name" => d.name = v,
                "description" => d.description = v,
                "repeat" => d.repeat = v,
                "levels" => shown = v.trim().parse().unwrap_or(0).min(LEVELS_MAX + 1),
                "action" => {
                    action = match v.as_str() {
                        "add_level" => FormAction::AddLevel,
                        r => r
                            .strip_prefix("remove:")
                            .and_then(|n| n.parse().ok())
                            .map_or(FormAction::Save, FormAction::RemoveLevel),
                    }
                }
                _ => {
                    let slot = |prefix: &str| {
                        k.strip_prefix(prefix)
                            .and_then(|n| n.parse::<usize>().ok())
                            .filter(|n| (1..=LEVELS_MAX + 1).contains(n))
                    };
                    if let Some(n) = slot("delay") {
                        level_mut(&mut d.levels, n).delay = v;
                    } else if let Some(n) = slot("users") {
                        level_mut(&mut d.levels, n).users.push(v);
                    } else if let Some(n) = slot("schedules") {
                        level_mut(&mut d.levels, n).schedules.push(v);
                    }
                }
            }
        }
        if d.levels.len() < shown {
            d.levels.resize(shown, LevelDraft::default());
        }
        (csrf, action, d)
    }

    /// The API's request, and for each of its levels the form's level (blank ones are left
    /// out). Errors name the form's levels.
    pub(super) fn to_request(&self) -> Result<(CreatePolicy, Vec<usize>), ApiError> {
        let mut levels = Vec::new();
        let mut kept = Vec::new();
        for (i, l) in self.levels.iter().enumerate() {
            if l.is_blank() {
                continue;
            }
            let delay_minutes = l.delay.trim().parse::<u32>().map_err(|_| {
                ApiError::invalid(
                    format!("levels[{i}].delay_minutes"),
                    "must be a whole number of minutes",
                )
            })?;
            let mut targets = Vec::new();
            for raw in &l.users {
                let id = raw.parse::<UserId>().map_err(|_| {
                    ApiError::invalid(format!("levels[{i}].targets"), "is not a user id")
                })?;
                targets.push(Target::User(id));
            }
            for raw in &l.schedules {
                let id = raw.parse::<ScheduleId>().map_err(|_| {
                    ApiError::invalid(format!("levels[{i}].targets"), "is not a schedule id")
                })?;
                targets.push(Target::Schedule(id));
            }
            levels.push(Level {
                delay_minutes,
                targets,
            });
            kept.push(i);
        }
        let repeat = match self.repeat.trim() {
            "" => 0,
            r => r
                .parse::<u32>()
                .map_err(|_| ApiError::invalid("repeat", "must be a whole number"))?,
        };
        Ok((
            CreatePolicy {
                name: self.name.clone(),
                description: self.description.clone(),
                levels,
                repeat,
            },
            kept,
        ))
    }

    /// Applies "Add a level" or "Remove level N"; `Err` with the reason when it cannot.
    pub(super) fn apply(&mut self, action: FormAction) -> Result<(), FormErrors> {
        match action {
            FormAction::Save => {}
            FormAction::AddLevel if self.levels.len() >= LEVELS_MAX => {
                return Err(FormErrors::field(
                    "levels",
                    &format!("a policy has at most {LEVELS_MAX} levels"),
                ));
            }
            FormAction::AddLevel => self.levels.push(LevelDraft::new()),
            FormAction::RemoveLevel(n) if (1..=self.levels.len()).contains(&n) => {
                self.levels.remove(n - 1);
                if self.levels.is_empty() {
                    self.levels.push(LevelDraft::new());
                }
            }
            FormAction::RemoveLevel(_) => {}
        }
        Ok(())
    }
}

/// Every schedule, for the form's schedule pickers.
async fn all_schedules(state: &AppState) -> Result<Vec<ScheduleRecord>, ApiError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_schedules(after, Limit::MAX).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// The API counts levels it was given; the form counts the levels it showed (blank ones are
/// left out of the request): name the form's.
pub(super) fn renumber(e: ApiError, kept: &[usize]) -> ApiError {
    let fix = |f: &str| -> Option<String> {
        let rest = f.strip_prefix("levels[")?;
        let (n, tail) = rest.split_once(']')?;
        let form = *kept.get(n.parse::<usize>().ok()?)?;
        Some(format!("levels[{form}]{tail}"))
    };
    match e {
        ApiError::BadRequest {
            code,
            message,
            field: Some(f),
        } => match fix(&f) {
            Some(new) => ApiError::BadRequest {
                code,
                message: message.replacen(&f, &new, 1),
                field: Some(new),
            },
            None => ApiError::BadRequest {
                code,
                message,
                field: Some(f),
            },
        },
        e => e,
    }
}

/// A person or schedule the form offers.
pub struct Choice {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

pub struct LevelForm {
    pub number: usize,
    pub delay: String,
    pub people: Vec<Choice>,
    pub schedules: Vec<Choice>,
    pub delay_error: Option<String>,
    pub targets_error: Option<String>,
}

/// The policy form, ready for `policy_form.html`.
pub struct PolicyForm {
    pub action: String,
    pub submit: &'static str,
    pub name: String,
    pub description: String,
    pub repeat: String,
    pub levels: Vec<LevelForm>,
    pub errors: FormErrors,
    /// Errors that belong to no control on the form.
    pub top: Vec<String>,
    pub can_add: bool,
}

fn choices<T: std::fmt::Display>(
    known: &[(T, String)],
    picked: &[String],
    missing: impl Fn(&str) -> String,
) -> Vec<Choice> {
    let mut out: Vec<Choice> = known
        .iter()
        .map(|(id, label)| {
            let id = id.to_string();
            Choice {
                selected: picked.contains(&id),
                id,
                label: label.clone(),
            }
        })
        .collect();
    // A target that is no longer offered (deactivated, deleted) stays picked, so that saving
    // says what is wrong with it instead of dropping it silently.
    for p in picked {
        if !out.iter().any(|c| &c.id == p) {
            out.push(Choice {
                id: p.clone(),
                label: missing(p),
                selected: true,
            });
        }
    }
    out
}

pub(super) async fn policy_form(
    state: &AppState,
    draft: &PolicyDraft,
    errors: FormErrors,
    action: String,
    submit: &'static str,
) -> Result<PolicyForm, ApiError> {
    // By name: people look for a name, not for when someone joined.
    let mut users: Vec<(UserId, String)> = all_users(state)
        .await?
        .into_iter()
        .map(|u: User| (u.id, format!("{} ({})", u.name, u.email)))
        .collect();
    users.sort_by_key(|(_, label)| label.to_lowercase());
    let mut schedules: Vec<(ScheduleId, String)> = all_schedules(state)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    schedules.sort_by_key(|(_, name)| name.to_lowercase());
    let names = crate::shared::lists::user_names_or_ids(
        state,
        draft
            .levels
            .iter()
            .flat_map(|l| l.users.iter().filter_map(|u| u.parse().ok()))
            .collect(),
    )
    .await?;
    let mut shown = vec!["name".to_owned(), "description".into(), "repeat".into()];
    let levels: Vec<LevelForm> = draft
        .levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let delay_field = format!("levels[{i}].delay_minutes");
            let targets_field = format!("levels[{i}].targets");
            let level = LevelForm {
                number: i + 1,
                delay: l.delay.clone(),
                people: choices(&users, &l.users, |id| {
                    let name = id
                        .parse::<UserId>()
                        .ok()
                        .and_then(|u| names.get(&u).cloned())
                        .unwrap_or_else(|| id.to_owned());
                    format!("{name} (cannot be paged)")
                }),
                schedules: choices(&schedules, &l.schedules, |id| format!("{id} (deleted)")),
                delay_error: errors.get(&delay_field).map(str::to_owned),
                targets_error: errors.get(&targets_field).map(str::to_owned),
            };
            shown.push(delay_field);
            shown.push(targets_field);
            level
        })
        .collect();
    let shown_refs: Vec<&str> = shown.iter().map(String::as_str).collect();
    Ok(PolicyForm {
        action,
        submit,
        name: draft.name.clone(),
        description: draft.description.clone(),
        repeat: draft.repeat.clone(),
        can_add: levels.len() < LEVELS_MAX,
        levels,
        top: errors
            .others(&shown_refs)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const ADA: &str = "0195b6c8-0000-7000-8000-000000000001";
    const BOB: &str = "0195b6c8-0000-7000-8000-000000000002";
    const NIGHT: &str = "0195b6c8-0000-7000-8000-000000000009";

    #[test]
    fn levels_take_people_and_schedules_and_blank_ones_are_left_out() {
        let (csrf, action, draft) = PolicyDraft::from_pairs(pairs(&[
            ("csrf", "t"),
            ("name", "Primary"),
            ("repeat", "2"),
            ("levels", "4"),
            ("delay1", "15"),
            ("users1", ADA),
            ("users1", BOB),
            ("delay2", ""),
            ("delay3", "30"),
            ("schedules3", NIGHT),
            ("users3", ADA),
        ]));
        assert_eq!((csrf.as_str(), action), ("t", FormAction::Save));
        assert_eq!(draft.levels.len(), 4, "the form showed four");
        let (body, kept) = draft.to_request().unwrap();
        assert_eq!(body.repeat, 2);
        assert_eq!(kept, [0, 2]);
        assert_eq!(body.levels[0].targets.len(), 2);
        assert_eq!(body.levels[1].delay_minutes, 30);
        assert_eq!(
            body.levels[1].targets,
            [
                Target::User(ADA.parse().unwrap()),
                Target::Schedule(NIGHT.parse().unwrap())
            ]
        );
        // The API's "levels[1]" is the form's third level.
        let e = renumber(
            ApiError::invalid("levels[1].targets", "needs at least one target"),
            &kept,
        );
        assert_eq!(
            e.to_string(),
            "levels[2].targets: needs at least one target"
        );
        // A level with people but no delay is named as the form numbers it.
        let (_, _, draft) = PolicyDraft::from_pairs(pairs(&[("name", "P"), ("users2", ADA)]));
        let e = draft.to_request().err().unwrap();
        assert_eq!(
            e.to_string(),
            "levels[1].delay_minutes: must be a whole number of minutes"
        );
    }

    #[test]
    fn levels_are_added_and_removed_keeping_what_was_typed() {
        let (_, action, mut draft) = PolicyDraft::from_pairs(pairs(&[
            ("name", "Primary"),
            ("delay1", "5"),
            ("users1", ADA),
            ("delay2", "10"),
            ("users2", BOB),
            ("action", "add_level"),
        ]));
        assert_eq!(action, FormAction::AddLevel);
        draft.apply(action).unwrap();
        assert_eq!(draft.levels.len(), 3);
        assert_eq!(draft.levels[2], LevelDraft::new());
        assert_eq!(draft.name, "Primary");
        let (_, action, mut draft) = PolicyDraft::from_pairs(pairs(&[
            ("delay1", "5"),
            ("users1", ADA),
            ("delay2", "10"),
            ("users2", BOB),
            ("action", "remove:1"),
        ]));
        assert_eq!(action, FormAction::RemoveLevel(1));
        draft.apply(action).unwrap();
        assert_eq!(draft.levels.len(), 1);
        assert_eq!(draft.levels[0].users, [BOB]);
        // The last level removed leaves an empty one to fill in.
        draft.apply(FormAction::RemoveLevel(1)).unwrap();
        assert_eq!(draft.levels, [LevelDraft::new()]);
        // No more than the domain allows.
        draft.levels = vec![LevelDraft::new(); LEVELS_MAX];
        let e = draft.apply(FormAction::AddLevel).unwrap_err();
        assert!(e.get("levels").is_some());
    }
}
