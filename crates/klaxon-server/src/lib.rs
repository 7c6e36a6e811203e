//! The Klaxon application as a library: the binary and the tests both drive it.
//!
//! One folder per capability (`alerts`, `oncall`, `incidents`, `webhooks`, `people`), each with
//! its faces side by side, over `shared`, which imports no capability. `app` puts them together.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod app;
pub mod automation;
pub mod drills;
mod home;
pub mod incidents;
pub mod insights;
pub mod learning;
pub mod oncall;
pub mod openapi;
pub mod people;
pub mod postmortems;
mod serve;
pub mod shared;
pub mod slos;
pub mod status;
pub mod webhooks;
pub mod workflows;

pub use app::{App, AppState};
pub use shared::config::Settings;
pub use shared::{config, crypto, engine};
