pub mod api;
pub mod manage;
pub mod web;
