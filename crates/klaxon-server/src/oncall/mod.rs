pub mod ack;
pub mod api;
pub mod channels;
pub mod page_alerts;
pub mod paging;
pub mod schedules;
pub mod web;
