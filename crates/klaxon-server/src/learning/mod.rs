//! Learning from incidents: action items (and, alongside, postmortems and insights).
pub mod action_items;
pub mod reminders;
pub mod web;
