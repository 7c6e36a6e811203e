//! Components that follow their checks. A component set to follow takes its status from the
//! enabled uptime checks on the services it depends on, each time one of them changes state:
//! all up is operational, some down a partial outage, all down a major outage. Planned
//! maintenance outranks the checks, which are expected to fail during it.
use super::ComponentStatus;
use crate::check::CheckState;

/// The status the checks' states call for; `None` without checks (nothing to follow).
pub fn status_from(states: &[CheckState]) -> Option<ComponentStatus> {
    let down = states.iter().filter(|s| **s == CheckState::Down).count();
    match down {
        _ if states.is_empty() => None,
        0 => Some(ComponentStatus::Operational),
        d if d == states.len() => Some(ComponentStatus::MajorOutage),
        _ => Some(ComponentStatus::PartialOutage),
    }
}

/// Where a following component moves now, if anywhere. A component under maintenance stays so
/// while a maintenance in progress (or verifying) covers it.
pub fn next(
    current: ComponentStatus,
    in_maintenance: bool,
    states: &[CheckState],
) -> Option<ComponentStatus> {
    if in_maintenance && current == ComponentStatus::UnderMaintenance {
        return None;
    }
    status_from(states).filter(|s| *s != current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckState::{Down, Up};
    use ComponentStatus as C;

    #[test]
    fn all_up_some_down_all_down() {
        assert_eq!(status_from(&[]), None);
        assert_eq!(status_from(&[Up]), Some(C::Operational));
        assert_eq!(status_from(&[Up, Up]), Some(C::Operational));
        assert_eq!(status_from(&[Up, Down, Up]), Some(C::PartialOutage));
        assert_eq!(status_from(&[Down]), Some(C::MajorOutage));
        assert_eq!(status_from(&[Down, Down]), Some(C::MajorOutage));
    }

    #[test]
    fn maintenance_wins_and_no_checks_touch_nothing() {
        assert_eq!(next(C::Operational, false, &[Down]), Some(C::MajorOutage));
        assert_eq!(next(C::MajorOutage, false, &[Down]), None, "already there");
        assert_eq!(next(C::DegradedPerformance, false, &[]), None);
        assert_eq!(next(C::UnderMaintenance, true, &[Down]), None);
        assert_eq!(next(C::UnderMaintenance, true, &[Up]), None);
        // Set by hand with no maintenance under way: the checks take it back.
        assert_eq!(
            next(C::UnderMaintenance, false, &[Up]),
            Some(C::Operational)
        );
        // A person moved it during the maintenance: the checks may move it again.
        assert_eq!(next(C::MajorOutage, true, &[Up]), Some(C::Operational));
    }
}
