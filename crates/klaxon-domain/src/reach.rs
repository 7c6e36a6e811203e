//! Who a page can reach: whether an escalation level's targets lead to anyone a page would get
//! to, and why not. Pure: the facts (each person's contact methods and rules, who is on call in
//! each schedule at the instant judged) are read by the caller.
//!
//! A person can be reached when they are active, have a contact method, and have a notification
//! rule for the urgency judged (medium pages as high). A schedule target reaches whoever is on
//! call in it at that instant: a gap reaches nobody. A level is reachable when at least one of
//! its targets is. People who take turns in a schedule but are not on call now are judged too,
//! as a warning for their shifts: they do not make the level unreachable now.
//!
//! A page judges its incident's urgency; warnings judge every urgency ([`plan_reach`]), since
//! a person with rules for high urgency only is paged for nothing when a low-urgency incident
//! comes, and say which urgency a level misses.
use std::collections::HashMap;

use serde::Serialize;

use crate::alert::Urgency;
use crate::escalation::{Level, Plan, Target};
use crate::ids::{ScheduleId, UserId};

/// The urgencies notification rules are for; medium incidents page by the high-urgency rules.
pub const URGENCIES: [Urgency; 2] = [Urgency::High, Urgency::Low];

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
    /// The one urgency it is about (a missing rule for it); absent when it stops pages of
    /// every urgency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<Urgency>,
}

/// Whether one level reaches anyone, and why not (or whom it misses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LevelReach {
    /// The level's number, from 1.
    pub level: u32,
    /// For every urgency judged, at least one of its targets reaches someone now.
    pub reachable: bool,
    /// The urgencies it reaches nobody for now (`high` standing for medium too); empty when
    /// reachable.
    pub unreachable_for: Vec<Urgency>,
    /// Every target that reaches nobody, and schedule members who could not be reached in
    /// their shift; empty when everyone can be reached.
    pub reasons: Vec<Reason>,
}

impl LevelReach {
    /// Which incidents it reaches nobody for, to follow "reaches nobody": " for low-urgency
    /// incidents" when that is one urgency only, else nothing.
    pub fn scope(&self) -> String {
        match self.unreachable_for.as_slice() {
            [u] => format!(" for {u}-urgency incidents"),
            _ => String::new(),
        }
    }
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

/// What is wrong with reaching this person for some urgency, and which urgency when it is only
/// one (a missing rule for it); `None` when pages of every urgency reach them.
pub fn person_gap(p: Option<&PersonFacts>) -> Option<(Why, Option<Urgency>)> {
    gap_among(p, &URGENCIES)
}

/// [`person_gap`] among `urgencies`. There is at most one problem: all but a missing rule for
/// an urgency are the same for every urgency, and a person missing rules for every urgency has
/// none at all.
fn gap_among(p: Option<&PersonFacts>, urgencies: &[Urgency]) -> Option<(Why, Option<Urgency>)> {
    urgencies.iter().find_map(|&u| {
        person_problem(p, u).map(|why| (why, (why == Why::NoRuleForUrgency).then(|| u.pages_as())))
    })
}

fn rules_for(p: &PersonFacts, urgency: Urgency) -> u32 {
    match urgency.pages_as() {
        Urgency::Low => p.low_rules,
        _ => p.high_rules,
    }
}

/// What is wrong with a person, after their name: "has no contact method", "is deactivated", …
/// `urgency` is the one urgency it is about, if only one.
fn predicate(why: Why, urgency: Option<Urgency>) -> String {
    match why {
        Why::UserMissing => "no longer exists".into(),
        Why::Deactivated => "is deactivated".into(),
        Why::NoContactMethod => "has no contact method".into(),
        Why::NoNotificationRule => "has no notification rule".into(),
        Why::NoRuleForUrgency => match urgency {
            Some(u) => format!("has no {u}-urgency notification rule"),
            None => "has no notification rule for this urgency".into(),
        },
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

/// Judges one level (`number` from 1) for incidents of `urgency`: what a page does.
pub fn level_reach(number: u32, level: &Level, facts: &Facts, urgency: Urgency) -> LevelReach {
    judge(number, level, facts, &[urgency.pages_as()])
}

/// Judges every level of a plan, for every urgency: what the warnings say.
pub fn plan_reach(plan: &Plan, facts: &Facts) -> Vec<LevelReach> {
    plan.levels
        .iter()
        .enumerate()
        .map(|(i, l)| judge(i as u32 + 1, l, facts, &URGENCIES))
        .collect()
}

/// Judges one level for each of `urgencies` (as rules know them: high or low).
fn judge(number: u32, level: &Level, facts: &Facts, urgencies: &[Urgency]) -> LevelReach {
    let mut reached: Vec<Urgency> = Vec::new();
    let mut reasons = Vec::new();
    // A paged person's problem, if any; they reach every urgency it spares.
    let paged = |u: UserId, reached: &mut Vec<Urgency>| {
        let gap = gap_among(facts.people.get(&u), urgencies);
        for &x in urgencies {
            let spared = match gap {
                None => true,
                Some((_, only)) => only.is_some_and(|only| only != x),
            };
            if spared && !reached.contains(&x) {
                reached.push(x);
            }
        }
        gap
    };
    let about = |code: Why, urgency: Option<Urgency>, message: String| Reason {
        code,
        message,
        user_id: None,
        schedule_id: None,
        now: true,
        urgency,
    };
    for target in &level.targets {
        match *target {
            Target::User(u) => {
                if let Some((why, only)) = paged(u, &mut reached) {
                    let message = format!("{} {}", person_name(u, facts), predicate(why, only));
                    reasons.push(Reason {
                        user_id: Some(u),
                        ..about(why, only, message)
                    });
                }
            }
            Target::Schedule(s) => {
                let Some(schedule) = facts.schedules.get(&s) else {
                    let message = format!("{} no longer exists", schedule_name(s, facts));
                    reasons.push(Reason {
                        schedule_id: Some(s),
                        ..about(Why::ScheduleMissing, None, message)
                    });
                    continue;
                };
                match schedule.on_call {
                    None => {
                        let message = format!("nobody is on call in {} now", schedule.name);
                        reasons.push(Reason {
                            schedule_id: Some(s),
                            ..about(Why::NobodyOnCall, None, message)
                        });
                    }
                    Some(u) => {
                        if let Some((why, only)) = paged(u, &mut reached) {
                            let message = format!(
                                "{}, on call in {} now, {}",
                                person_name(u, facts),
                                schedule.name,
                                predicate(why, only)
                            );
                            reasons.push(Reason {
                                user_id: Some(u),
                                schedule_id: Some(s),
                                ..about(why, only, message)
                            });
                        }
                    }
                }
                for &m in schedule
                    .members
                    .iter()
                    .filter(|&&m| Some(m) != schedule.on_call)
                {
                    if let Some((why, only)) = gap_among(facts.people.get(&m), urgencies) {
                        let message = format!(
                            "in {}'s rotation, {} {}",
                            schedule.name,
                            person_name(m, facts),
                            predicate(why, only)
                        );
                        reasons.push(Reason {
                            user_id: Some(m),
                            schedule_id: Some(s),
                            now: false,
                            ..about(why, only, message)
                        });
                    }
                }
            }
        }
    }
    let unreachable_for: Vec<Urgency> = urgencies
        .iter()
        .copied()
        .filter(|u| !reached.contains(u))
        .collect();
    LevelReach {
        level: number,
        reachable: unreachable_for.is_empty(),
        unreachable_for,
        reasons,
    }
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
        // Judged for every urgency: the one it misses, or the problem for them all.
        assert_eq!(
            person_gap(Some(&person(1, "Ada", 1, 1, 0))),
            Some((Why::NoRuleForUrgency, Some(Urgency::Low)))
        );
        assert_eq!(
            person_gap(Some(&person(1, "Ada", 1, 0, 2))),
            Some((Why::NoRuleForUrgency, Some(Urgency::High)))
        );
        assert_eq!(person_gap(Some(&person(1, "Ada", 1, 1, 1))), None);
        assert_eq!(
            person_gap(Some(&person(1, "Ada", 2, 0, 0))),
            Some((Why::NoNotificationRule, None))
        );
        assert_eq!(person_gap(None), Some((Why::UserMissing, None)));
    }

    #[test]
    fn warnings_judge_every_urgency_and_say_which_one_a_level_misses() {
        let f = facts(
            vec![
                person(1, "Ann", 1, 1, 0),
                person(2, "Bob", 1, 0, 1),
                person(3, "Cy", 0, 0, 0),
                person(4, "Di", 1, 1, 1),
            ],
            vec![],
        );
        let judged = |targets: &[u8]| {
            let l = level(targets.iter().map(|&n| Target::User(uid(n))).collect());
            let plan = Plan::new(vec![l], 0).unwrap();
            plan_reach(&plan, &f).remove(0)
        };
        // High-urgency rules only: a low-urgency incident pages nobody.
        let ann = judged(&[1]);
        assert!(!ann.reachable);
        assert_eq!(ann.unreachable_for, [Urgency::Low]);
        assert_eq!(ann.scope(), " for low-urgency incidents");
        assert_eq!(ann.reasons.len(), 1);
        assert_eq!(ann.reasons[0].code, Why::NoRuleForUrgency);
        assert_eq!(
            ann.reasons[0].message,
            "Ann has no low-urgency notification rule"
        );
        assert_eq!(ann.reasons[0].urgency, Some(Urgency::Low));
        assert!(ann.reasons[0].now);
        // And the other way round.
        let bob = judged(&[2]);
        assert_eq!(bob.unreachable_for, [Urgency::High]);
        assert_eq!(bob.scope(), " for high-urgency incidents");
        assert_eq!(
            bob.reasons[0].message,
            "Bob has no high-urgency notification rule"
        );
        // Between them they cover both: reachable, each named for the urgency they miss.
        let both = judged(&[1, 2]);
        assert!(both.reachable && both.unreachable_for.is_empty());
        assert_eq!(both.scope(), "");
        assert_eq!(
            both.reasons.iter().map(|r| r.urgency).collect::<Vec<_>>(),
            [Some(Urgency::Low), Some(Urgency::High)]
        );
        // A problem for every urgency is said once, without one.
        let cy = judged(&[3, 1]);
        assert_eq!(cy.unreachable_for, [Urgency::Low]);
        assert_eq!(
            cy.reasons
                .iter()
                .map(|r| (r.message.as_str(), r.urgency))
                .collect::<Vec<_>>(),
            [
                ("Cy has no contact method", None),
                (
                    "Ann has no low-urgency notification rule",
                    Some(Urgency::Low)
                ),
            ]
        );
        let alone = judged(&[3]);
        assert_eq!(alone.unreachable_for, [Urgency::High, Urgency::Low]);
        assert_eq!(alone.scope(), "");
        assert!(judged(&[4]).reachable);
        let json = serde_json::to_value(&ann).unwrap();
        assert_eq!(json["unreachable_for"], serde_json::json!(["low"]));
        assert_eq!(json["reasons"][0]["urgency"], "low");
        assert!(
            serde_json::to_value(&cy).unwrap()["reasons"][0]
                .get("urgency")
                .is_none()
        );
    }

    #[test]
    fn a_page_judges_its_incidents_urgency() {
        let f = facts(vec![person(1, "Ann", 1, 1, 0)], vec![]);
        let l = level(vec![Target::User(uid(1))]);
        for u in [Urgency::High, Urgency::Medium] {
            let r = level_reach(1, &l, &f, u);
            assert!(r.reachable && r.reasons.is_empty(), "{u}");
        }
        let low = level_reach(1, &l, &f, Urgency::Low);
        assert!(!low.reachable);
        assert_eq!(
            low.reasons[0].message,
            "Ann has no low-urgency notification rule"
        );
    }

    #[test]
    fn a_schedules_on_call_person_and_members_are_judged_for_every_urgency() {
        let f = facts(
            vec![person(1, "Ann", 1, 1, 0), person(2, "Bob", 1, 0, 1)],
            vec![ScheduleFacts {
                id: sid(9),
                name: "Primary".into(),
                on_call: Some(uid(1)),
                members: vec![uid(1), uid(2)],
            }],
        );
        let plan = Plan::new(vec![level(vec![Target::Schedule(sid(9))])], 0).unwrap();
        let r = plan_reach(&plan, &f).remove(0);
        assert_eq!(r.unreachable_for, [Urgency::Low]);
        assert_eq!(
            r.reasons
                .iter()
                .map(|r| (r.message.as_str(), r.now))
                .collect::<Vec<_>>(),
            [
                (
                    "Ann, on call in Primary now, has no low-urgency notification rule",
                    true
                ),
                (
                    "in Primary's rotation, Bob has no high-urgency notification rule",
                    false
                ),
            ]
        );
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
        assert_eq!(low.unreachable_for, [Urgency::Low]);
        assert_eq!(
            low.reasons[0].message,
            "Ada has no low-urgency notification rule"
        );
        assert_eq!(low.reasons[0].urgency, Some(Urgency::Low));
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
        let r = plan_reach(&plan, &f);
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
        assert_eq!(json["unreachable_for"], serde_json::json!(["high", "low"]));
        assert_eq!(json["reasons"][0]["code"], "no_contact_method");
        assert_eq!(json["reasons"][1]["code"], "nobody_on_call");
    }
}
