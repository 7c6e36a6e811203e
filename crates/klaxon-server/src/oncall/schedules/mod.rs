pub mod api;
pub mod calendar;
pub mod web;
