pub mod api;
pub mod login;
pub mod manage;
pub mod web;
