pub mod api;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod limits;
pub mod state;
pub mod web;
