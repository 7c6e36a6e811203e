//! Every klaxon integration test in one binary: one link of the application instead of one
//! per file (each linked the whole of it, and a clean CI build ran out of disk). nextest still
//! runs each test in a process of its own. Add a test file here as a module.
#[macro_use]
mod support;

mod action_items_cli;
mod binary;
mod checks_cli;
mod cli_lists;
mod drills_cli;
mod full_disk;
mod incidents_cli;
mod insights_cli;
mod peoples_terms_cli;
mod postmortems_cli;
mod runbooks_cli;
mod runners_cli;
mod schedules_cli;
mod slos_cli;
mod status_pages_cli;
mod webhooks_cli;
mod workflows_cli;
