//! Workflows: the routine parts of an incident done for the responders. A trigger, conditions
//! on the incident, and ordered actions taken through the other capabilities' own functions
//! (paging, roles, tasks, updates, runbooks, status pages, webhooks), each run recorded.
//! Nothing reads this folder but `app.rs` and `openapi.rs`.
pub mod api;
pub mod run;
pub mod save;
pub mod web;
