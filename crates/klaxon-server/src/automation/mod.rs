//! Acting on incidents: runbooks as versioned code, their runs, the runners that run their
//! commands (and, to come, drills), each with its faces side by side. Workflows, which act
//! on incidents through other capabilities, are a folder of their own.
pub mod runbooks;
pub mod runbooks_api;
pub mod runbooks_web;
pub mod runners;
pub mod runners_api;
pub mod runners_web;
pub mod runs;
pub mod runs_api;
pub mod runs_web;
pub mod secrets;
pub mod secrets_web;
pub mod workflow_runs;
