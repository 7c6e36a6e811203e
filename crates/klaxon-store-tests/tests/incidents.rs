//! The store contract for incident response, on SQLite and on PostgreSQL.
klaxon_store_tests::contract_tests!(
    declared_incidents_keep_their_fields_roles_and_number,
    incident_changes_are_all_or_nothing_with_role_history,
    concurrent_incident_changes_are_serialised,
    timeline_events_are_pinned_per_incident,
    tools_do_not_acknowledge_major_incidents_without_a_commander,
    incident_lists_filter_by_severity_time_text_and_person,
    incident_tasks_are_kept_with_their_incident,
    incidents_relate_and_duplicates_merge,
);
