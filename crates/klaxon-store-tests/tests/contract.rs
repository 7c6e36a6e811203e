//! The store contract, on SQLite and on PostgreSQL.
klaxon_store_tests::contract_tests!(
    users_are_created_found_and_unique,
    users_paginate_by_id,
    bootstrap_happens_once_even_when_raced,
    tokens_authenticate_until_revoked,
    sessions_live_touch_and_end,
    login_failures_count_in_window,
    events_read_back_per_subject_in_order,
    jobs_enqueue_claim_complete,
    jobs_with_expired_leases_are_reclaimed,
    jobs_retry_bury_and_cancel,
    concurrent_claims_never_share_a_job,
    group_commit_batches_and_acknowledges_every_write,
    a_bad_write_does_not_sink_its_batch,
);
