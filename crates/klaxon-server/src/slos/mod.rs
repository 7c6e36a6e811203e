//! Service level objectives: error budgets and burn-rate alerts on services. Admins define
//! SLOs; teams push counts (or, later, Prometheus answers); the `slo.evaluate` job judges
//! every SLO each minute and opens alerts through the normal pipeline.
pub mod api;
pub mod apply;
pub mod availability;
pub mod burns;
mod chart;
pub mod evaluate;
pub mod openslo;
mod openslo_doc;
mod openslo_write;
pub mod prometheus;
pub mod view;
pub mod web;
