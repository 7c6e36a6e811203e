//! Insights: what incidents teach (durations and their trends, alert noise) and what being on
//! call costs people (hours and pages by band). Reads only; drills are left out everywhere.
pub mod api;
mod chart;
mod csv;
pub mod report;
pub mod web;
