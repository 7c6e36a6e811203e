//! The store contract for on-call schedules, on SQLite and on PostgreSQL.
klaxon_store_tests::contract_tests!(
    schedules_are_kept_listed_updated_and_deleted,
    schedules_targeted_by_a_policy_are_kept,
    racing_a_policy_and_a_schedule_deletion_leaves_no_dangling_target,
    schedule_overrides_are_added_listed_by_range_and_removed,
    schedules_are_read_with_the_overrides_around_an_instant,
);
