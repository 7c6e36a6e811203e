//! Postmortems: the blameless review of a resolved incident, its facts filled in from the
//! incident, reviewed and published.
pub mod api;
pub mod export;
pub mod facts;
pub mod public;
pub mod web;
