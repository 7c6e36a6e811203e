pub mod alert_page;
pub mod api;
pub mod heartbeat;
pub mod ingest;
pub mod maintenance;
pub mod web;
