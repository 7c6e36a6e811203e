//! The Klaxon application as a library: the binary and the tests both drive it.
#![forbid(unsafe_code)]

pub mod ack;
pub mod api;
pub mod app;
pub mod calendar;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod heartbeat;
pub mod incidents;
pub mod ingest;
pub mod oncall;
pub mod paging;
pub mod schedules;
pub mod services;
pub mod timeline;
pub mod users;
pub mod web;
mod web_incidents;
mod web_oncall;
mod web_schedules;
mod web_services;
mod web_users;
mod web_webhooks;
pub mod webhooks;

pub use app::{App, AppState};
pub use config::Settings;
