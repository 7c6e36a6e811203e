//! The store contract for uptime checks, on SQLite and on PostgreSQL.
klaxon_store_tests::contract_tests!(
    checks_are_created_listed_updated_and_deleted,
    check_runs_are_recorded_once_with_tallies_and_changes,
    old_check_results_and_days_are_pruned,
    components_follow_their_checks,
    racing_checks_leave_their_component_in_line,
    availability_changes_start_from_the_state_a_span_is_in,
);
