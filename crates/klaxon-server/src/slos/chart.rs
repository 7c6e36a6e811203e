//! The burn-down chart, drawn on the server as SVG (no script, nothing fetched): the budget's
//! remaining share over the window, with the at-risk and exhausted lines. Colours come from
//! classes (slos.css), so light and dark follow the page; the table beside it has the numbers.
use std::fmt::Write;

use super::view::{PointOut, SloOut};
use crate::shared::time::escape;

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 150.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 130.0;

pub fn burn_down(slo: &SloOut, points: &[PointOut]) -> String {
    let start = slo.window_start.as_second() as f64;
    let span = (slo.window_end.as_second() as f64 - start).max(1.0);
    let shares: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| {
            let x = (p.at.as_second() as f64 - start) / span * WIDTH;
            p.remaining_share.map(|s| (x.clamp(0.0, WIDTH), s))
        })
        .collect();
    // From 100 % down to 0 %, or lower when overspent (at most -100 % drawn).
    let low = shares.iter().map(|(_, s)| *s).fold(0.0, f64::min).max(-1.0);
    let high = shares.iter().map(|(_, s)| *s).fold(1.0, f64::max);
    let y = |share: f64| TOP + (high - share.clamp(low, high)) / (high - low) * (BOTTOM - TOP);
    let title = format!(
        "Error budget left over the window of SLO {}: from 100 % at its start; the table below has the numbers",
        slo.name
    );
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart burn-down" id="burn-down" role="img" aria-labelledby="burn-down-title" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="xMinYMin meet"><title id="burn-down-title">{}</title>"#,
        escape(&title)
    );
    for (share, class, label) in [
        (slo.at_risk, "risk-line", "at risk"),
        (0.0, "zero-line", "0 %"),
    ] {
        let _ = write!(
            s,
            r#"<line class="{class}" x1="0" y1="{y:.1}" x2="{WIDTH}" y2="{y:.1}"/><text class="chart-label" x="{WIDTH}" y="{:.1}" text-anchor="end">{label}</text>"#,
            y(share) - 2.0,
            y = y(share)
        );
    }
    if !shares.is_empty() {
        let line: Vec<String> = shares
            .iter()
            .map(|(x, share)| format!("{x:.1},{:.1}", y(*share)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="budget-line" points="{}"/>"#,
            line.join(" ")
        );
    }
    let _ = write!(
        s,
        r#"<text class="chart-label" x="0" y="{:.1}">window start</text><text class="chart-label" x="{WIDTH}" y="{:.1}" text-anchor="end">end</text>"#,
        HEIGHT - 4.0,
        HEIGHT - 4.0
    );
    s.push_str("</svg>");
    s
}
