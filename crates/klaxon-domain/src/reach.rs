//! Who a page can reach: whether an escalation level's targets lead to anyone a page would get
//! to, and why not. Pure: the facts (each person's contact methods and rules, who is on call in
//! each schedule at the instant judged) are read by the caller.
//!
//! A person can be reached when they are active, have a contact method, and have a notification
//! rule for the urgency judged (medium pages as high). A schedule target reaches whoever is on
//! call in it at that instant: a gap reaches nobody. A level is reachable when at least one of
//! its targets is. People who take turns in a schedule but are not on call now are judged too,
//! as a warning for their shifts: they do not make the level unreachable now.
use std::collections::HashMap;

use serde::Serialize;

use crate::alert::Urgency;
use crate::escalation::{Level, Plan, Target};
use crate::ids::{ScheduleId, UserId};

/// What reaching one person depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFacts {
    pub id: UserId,
    pub name: String,
    pub active: bool,
    pub contact_methods: u32,
    /// Notification rules for high-urgency incidents (medium ones page by these too).
    pub high_rules: u32,
    pub low_rules: u32,
}

/// A schedule at the instant judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleFacts {
    pub id: ScheduleId,
    pub name: String,
    /// Who is on call then; `None` for a gap.
    pub on_call: Option<UserId>,
    /// Everyone who takes turns in its layers, each once.
    pub members: Vec<UserId>,
}

/// The facts a judgement needs; a person or schedule missing from them no longer exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub people: HashMap<UserId, PersonFacts>,
    pub schedules: HashMap<ScheduleId, ScheduleFacts>,
}

crate::named_enum! {
    /// Why a target reaches nobody.
    pub enum Why (field = "code", schema = "UnreachableWhy") {
        /// The user no longer exists.
        UserMissing = "user_missing",
        Deactivated = "deactivated",
        NoContactMethod = "no_contact_method",
        NoNotificationRule = "no_notification_rule",
        /// Rules exist, but none for the urgency judged.
        NoRuleForUrgency = "no_rule_for_urgency",
        /// The schedule no longer exists.
        ScheduleMissing = "schedule_missing",
        /// The schedule has a gap: nobody is on call in it now.
        NobodyOnCall = "nobody_on_call",
    }
}

/// One reason a target (or a schedule's member) cannot be reached, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    pub code: Why,
    /// What is wrong, naming the person or schedule: "Bob has no contact method".
    pub message: String,
    /// The person to fix, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The schedule the person was reached through, or that has nobody on call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<ScheduleId>,
    /// True when it stops a page now; false for someone who takes turns in a schedule but is
    /// not on call now (a page during their shift would not reach them).
    pub now: bool,
}

/// Whether one level reaches anyone, and why not (or whom it misses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LevelReach {
    /// The level's number, from 1.
    pub level: u32,
    /// At least one of its targets reaches someone now.
    pub reachable: bool,
    /// Every target that reaches nobody, and schedule members who could not be reached in
    /// their shift; empty when everyone can be reached.
    pub reasons: Vec<Reason>,
}

/// What is wrong with reaching this person for incidents of `urgency`, or `None` when a page
/// reaches them.
pub fn person_problem(p: Option<&PersonFacts>, urgency: Urgency) -> Option<Why> {
    let Some(p) = p else {
        return Some(Why::UserMissing);
    };
    if !p.active {
        Some(Why::Deactivated)
    } else if p.contact_methods == 0 {
        Some(Why::NoContactMethod)
    } else if p.high_rules + p.low_rules == 0 {
        Some(Why::NoNotificationRule)
    } else if rules_for(p, urgency) == 0 {
        Some(Why::NoRuleForUrgency)
    } else {
        None
    }
}

fn rules_for(p: &PersonFacts, urgency: Urgency) -> u32 {
    match urgency.pages_as() {
        Urgency::Low => p.low_rules,
        _ => p.high_rules,
    }
}

/// What is wrong with a person, after their name: "has no contact method", "is deactivated", …
fn predicate(why: Why, urgency: Urgency) -> String {
    let other = match urgency.pages_as() {
        Urgency::Low => "high",
        _ => "low",
    };
    match why {
        Why::UserMissing => "no longer exists".into(),
        Why::Deactivated => "is deactivated".into(),
        Why::NoContactMethod => "has no contact method".into(),
        Why::NoNotificationRule => "has no notification rule".into(),
        Why::NoRuleForUrgency => {
            format!("has notification rules only for {other}-urgency incidents")
        }
        Why::ScheduleMissing | Why::NobodyOnCall => "cannot be reached".into(),
    }
}

fn person_name(id: UserId, facts: &Facts) -> String {
    facts
        .people
        .get(&id)
        .map_or_else(|| format!("user {id}"), |p| p.name.clone())
}

fn schedule_name(id: ScheduleId, facts: &Facts) -> String {
    facts
        .schedules
        .get(&id)
        .map_or_else(|| format!("schedule {id}"), |s| s.name.clone())
}

/// Judges one level (`number` from 1) for incidents of `urgency`.
pub fn level_reach(number: u32, level: &Level, facts: &Facts, urgency: Urgency) -> LevelReach {
    let mut reachable = false;
    let mut reasons = Vec::new();
    for target in &level.targets {
        match *target {
            Target::User(u) => match person_problem(facts.people.get(&u), urgency) {
                None => reachable = true,
                Some(why) => reasons.push(Reason {
                    code: why,
                    message: format!("{} {}", person_name(u, facts), predicate(why, urgency)),
                    user_id: Some(u),
                    schedule_id: None,
                    now: true,
                }),
            },
            Target::Schedule(s) => {
                let Some(schedule) = facts.schedules.get(&s) else {
                    reasons.push(Reason {
                        code: Why::ScheduleMissing,
                        message: format!("{} no longer exists", schedule_name(s, facts)),
                        user_id: None,
                        schedule_id: Some(s),
                        now: true,
                    });
                    continue;
                };
                match schedule.on_call {
                    None => reasons.push(Reason {
                        code: Why::NobodyOnCall,
                        message: format!("nobody is on call in {} now", schedule.name),
                        user_id: None,
                        schedule_id: Some(s),
                        now: true,
                    }),
                    Some(u) => match person_problem(facts.people.get(&u), urgency) {
                        None => reachable = true,
                        Some(why) => {
                            reasons.push(Reason {
                                code: why,
                                message: format!(
                                    "{}, on call in {} now, {}",
                                    person_name(u, facts),
                                    schedule.name,
                                    predicate(why, urgency)
                                ),
                                user_id: Some(u),
                                schedule_id: Some(s),
                                now: true,
                            });
                        }
                    },
                }
                for &m in schedule
                    .members
                    .iter()
                    .filter(|&&m| Some(m) != schedule.on_call)
                {
                    if let Some(why) = person_problem(facts.people.get(&m), urgency) {
                        reasons.push(Reason {
                            code: why,
                            message: format!(
                                "in {}'s rotation, {} {}",
                                schedule.name,
                                person_name(m, facts),
                                predicate(why, urgency)
                            ),
                            user_id: Some(m),
                            schedule_id: Some(s),
                            now: false,
                        });
                    }
                }
            }
        }
    }
    LevelReach {
        level: number,
        reachable,
        reasons,
    }
}

/// Judges every level of a plan.
pub fn plan_reach(plan: &Plan, facts: &Facts, urgency: Urgency) -> Vec<LevelReach> {
    plan.levels
        .iter()
        .enumerate()
        .map(|(i, l)| level_reach(i as u32 + 1, l, facts, urgency))
        .collect()
}

/// The people and schedules a plan's judgement needs facts about: the users it names, and its
/// schedules. (The schedules' on-call people and members are read with the schedules.)
pub fn plan_subjects(plan: &Plan) -> (Vec<UserId>, Vec<ScheduleId>) {
    let mut users: Vec<UserId> = Vec::new();
    let mut schedules: Vec<ScheduleId> = Vec::new();
    for u in plan.users() {
        if !users.contains(&u) {
            users.push(u);
        }
    }
    for s in plan.schedules() {
        if !schedules.contains(&s) {
            schedules.push(s);
        }
    }
    (users, schedules)
}

/// Whether `user` is paged through the plan: named in a level, or taking turns in one of its
/// schedules.
pub fn pages_user(plan: &Plan, facts: &Facts, user: UserId) -> bool {
    plan.users().any(|u| u == user)
        || plan.schedules().any(|s| {
            facts
                .schedules
                .get(&s)
                .is_some_and(|s| s.members.contains(&user) || s.on_call == Some(user))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(n: u8) -> UserId {
        UserId(uuid::Uuid::from_bytes([n; 16]))
    }

    fn sid(n: u8) -> ScheduleId {
        ScheduleId(uuid::Uuid::from_bytes([n; 16]))
    }

    fn person(n: u8, name: &str, methods: u32, high: u32, low: u32) -> PersonFacts {
        PersonFacts {
            id: uid(n),
            name: name.into(),
            active: true,
            contact_methods: methods,
            high_rules: high,
            low_rules: low,
        }
    }

    fn facts(people: Vec<PersonFacts>, schedules: Vec<ScheduleFacts>) -> Facts {
        Facts {
            people: people.into_iter().map(|p| (p.id, p)).collect(),
            schedules: schedules.into_iter().map(|s| (s.id, s)).collect(),
        }
    }

    fn level(targets: Vec<Target>) -> Level {
        Level {
            delay_minutes: 5,
            targets,
        }
    }

    #[test]
    fn a_person_needs_to_be_active_with_a_method_and_a_rule_for_the_urgency() {
        let ok = person(1, "Ada", 1, 1, 0);
        assert_eq!(person_problem(Some(&ok), Urgency::High), None);
        assert_eq!(person_problem(Some(&ok), Urgency::Medium), None);
        assert_eq!(
            person_problem(Some(&ok), Urgency::Low),
            Some(Why::NoRuleForUrgency)
        );
        assert_eq!(
            person_problem(Some(&person(1, "Ada", 0, 0, 0)), Urgency::High),
            Some(Why::NoContactMethod)
        );
        assert_eq!(
            person_problem(Some(&person(1, "Ada", 2, 0, 0)), Urgency::High),
            Some(Why::NoNotificationRule)
        );
        let gone = PersonFacts {
            active: false,
            ..ok
        };
        assert_eq!(
            person_problem(Some(&gone), Urgency::High),
            Some(Why::Deactivated)
        );
        assert_eq!(person_problem(None, Urgency::High), Some(Why::UserMissing));
    }

    #[test]
    fn a_level_reaches_someone_if_any_target_does() {
        let f = facts(
            vec![person(1, "Ada", 1, 1, 0), person(2, "Bob", 0, 0, 0)],
            vec![],
        );
        let both = level_reach(
            1,
            &level(vec![Target::User(uid(1)), Target::User(uid(2))]),
            &f,
            Urgency::High,
        );
        assert!(both.reachable);
        assert_eq!(both.reasons.len(), 1, "Bob is still named");
        assert_eq!(both.reasons[0].message, "Bob has no contact method");
        let bob = level_reach(2, &level(vec![Target::User(uid(2))]), &f, Urgency::High);
        assert!(!bob.reachable);
        assert_eq!(bob.level, 2);
        assert_eq!(bob.reasons[0].code, Why::NoContactMethod);
        assert_eq!(bob.reasons[0].user_id, Some(uid(2)));
        let low = level_reach(1, &level(vec![Target::User(uid(1))]), &f, Urgency::Low);
        assert!(!low.reachable);
        assert_eq!(
            low.reasons[0].message,
            "Ada has notification rules only for high-urgency incidents"
        );
    }

    #[test]
    fn a_schedule_reaches_whoever_is_on_call_now() {
        let people = vec![
            person(1, "Ada", 1, 1, 0),
            person(2, "Bob", 1, 0, 0),
            person(3, "Cy", 1, 1, 0),
        ];
        let rota = |on_call| ScheduleFacts {
            id: sid(9),
            name: "Primary".into(),
            on_call,
            members: vec![uid(1), uid(2), uid(3)],
        };
        let l = level(vec![Target::Schedule(sid(9))]);
        // Ada is on call: reachable, and Bob's later shift is a warning that does not block.
        let r = level_reach(
            1,
            &l,
            &facts(people.clone(), vec![rota(Some(uid(1)))]),
            Urgency::High,
        );
        assert!(r.reachable);
        assert_eq!(r.reasons.len(), 1);
        assert!(!r.reasons[0].now);
        assert_eq!(
            r.reasons[0].message,
            "in Primary's rotation, Bob has no notification rule"
        );
        // Bob is on call: nobody is reached now.
        let r = level_reach(
            1,
            &l,
            &facts(people.clone(), vec![rota(Some(uid(2)))]),
            Urgency::High,
        );
        assert!(!r.reachable);
        assert!(r.reasons[0].now);
        assert_eq!(r.reasons[0].schedule_id, Some(sid(9)));
        assert_eq!(
            r.reasons[0].message,
            "Bob, on call in Primary now, has no notification rule"
        );
        // A gap reaches nobody.
        let r = level_reach(
            1,
            &l,
            &facts(people.clone(), vec![rota(None)]),
            Urgency::High,
        );
        assert!(!r.reachable);
        assert_eq!(r.reasons[0].code, Why::NobodyOnCall);
        assert_eq!(r.reasons[0].message, "nobody is on call in Primary now");
        // A schedule that is gone.
        let r = level_reach(1, &l, &facts(people, vec![]), Urgency::High);
        assert!(!r.reachable);
        assert_eq!(r.reasons[0].code, Why::ScheduleMissing);
    }

    #[test]
    fn plans_are_judged_level_by_level() {
        let plan = Plan::new(
            vec![
                level(vec![Target::User(uid(1))]),
                level(vec![Target::User(uid(2)), Target::Schedule(sid(9))]),
            ],
            0,
        )
        .unwrap();
        let f = facts(
            vec![person(1, "Ada", 1, 1, 1), person(2, "Bob", 0, 0, 0)],
            vec![ScheduleFacts {
                id: sid(9),
                name: "Night".into(),
                on_call: None,
                members: vec![uid(1)],
            }],
        );
        let r = plan_reach(&plan, &f, Urgency::High);
        assert_eq!(
            r.iter().map(|l| l.reachable).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(r[1].reasons.len(), 2);
        assert!(pages_user(&plan, &f, uid(1)));
        assert!(pages_user(&plan, &f, uid(2)));
        assert!(!pages_user(&plan, &f, uid(3)));
        let (users, schedules) = plan_subjects(&plan);
        assert_eq!(users, [uid(1), uid(2)]);
        assert_eq!(schedules, [sid(9)]);
        let json = serde_json::to_value(&r[1]).unwrap();
        assert_eq!(json["reachable"], false);
        assert_eq!(json["reasons"][0]["code"], "no_contact_method");
        assert_eq!(json["reasons"][1]["code"], "nobody_on_call");
    }
}
