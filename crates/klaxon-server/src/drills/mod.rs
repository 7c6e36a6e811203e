//! Drills: incidents declared for practice, from a scenario (alerts and news on a timeline,
//! with targets) or by hand. A drill's incident is marked ("DRILL: ") wherever it shows, pages
//! real people through their rules, is never shown on a status page and is kept out of every
//! metric; when it ends, its scorecard is kept to compare with the scenario's other drills.
//! Nothing reads this folder but `app.rs` and `openapi.rs`.
pub mod api;
pub mod practice;
pub mod run;
pub mod scenarios;
pub mod web;
pub mod web_scenarios;
