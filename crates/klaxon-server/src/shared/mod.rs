pub mod api;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod web;
