//! Acting on incidents: runbooks as versioned code, their runs, the runners that run their
//! commands, and workflows (drills to come), each with its faces side by side.
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
pub mod workflows;
pub mod workflows_api;
pub mod workflows_run;
pub mod workflows_web;
