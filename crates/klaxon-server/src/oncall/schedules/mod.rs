pub mod api;
pub mod calendar;
pub mod preview;
pub mod web;
mod web_draft;
mod web_form;
