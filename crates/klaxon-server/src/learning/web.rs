pub fn router() -> axum::Router<crate::shared::state::AppState> {
    axum::Router::new()
}
