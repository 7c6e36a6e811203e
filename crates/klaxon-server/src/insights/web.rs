//! The Insights pages.
use axum::Router;

use crate::shared::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
