//! Charts drawn on the server as SVG, by hand: no chart library, no script, nothing fetched.
//! Colours come from classes (insights.css), so light and dark follow the page. Each chart is
//! `role="img"` with a title naming the table beside it that holds the same numbers.
use std::fmt::Write;

const WIDTH: f64 = 320.0;
const LABEL: f64 = 110.0;
const ROW: f64 = 22.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// One segment of a bar: its value and its class (`seg-0`, `seg-1`, …).
pub struct Bar {
    pub label: String,
    pub parts: Vec<f64>,
    /// The number written after the bar.
    pub text: String,
}

/// Horizontal bars (stacked when a bar has several parts), one row per item.
pub fn bars(id: &str, title: &str, items: &[Bar]) -> String {
    let height = (items.len().max(1) as f64) * ROW + 4.0;
    let max = items
        .iter()
        .map(|b| b.parts.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let room = WIDTH - LABEL - 50.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-title" viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    for (i, b) in items.iter().enumerate() {
        let y = i as f64 * ROW + 2.0;
        let _ = write!(
            s,
            r#"<text class="chart-label" x="0" y="{:.1}">{}</text>"#,
            y + 14.0,
            esc(&short(&b.label, 16))
        );
        let mut x = LABEL;
        for (k, v) in b.parts.iter().enumerate() {
            let w = if max > 0.0 { v / max * room } else { 0.0 };
            if w > 0.0 {
                let _ = write!(
                    s,
                    r#"<rect class="seg-{k}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}"/>"#,
                    ROW - 6.0
                );
            }
            x += w;
        }
        let _ = write!(
            s,
            r#"<text class="chart-value" x="{:.1}" y="{:.1}">{}</text>"#,
            x + 4.0,
            y + 14.0,
            esc(&b.text)
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical columns over time (weeks), with the first and last labels under the axis.
pub fn columns(id: &str, title: &str, items: &[(String, f64)]) -> String {
    let (height, base) = (140.0, 120.0);
    let n = items.len().max(1) as f64;
    let slot = (WIDTH - 10.0) / n;
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-title" viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    let _ = write!(
        s,
        r#"<line class="chart-axis" x1="0" y1="{base}" x2="{WIDTH}" y2="{base}"/>"#
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let h = if max > 0.0 {
            v / max * (base - 16.0)
        } else {
            0.0
        };
        let x = 5.0 + i as f64 * slot + slot * 0.15;
        let w = slot * 0.7;
        let _ = write!(
            s,
            r#"<rect class="seg-0" x="{x:.1}" y="{:.1}" width="{w:.1}" height="{h:.1}"><title>{}: {}</title></rect>"#,
            base - h,
            esc(label),
            v
        );
        if items.len() <= 12 {
            let _ = write!(
                s,
                r#"<text class="chart-value" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + w / 2.0,
                base - h - 3.0,
                v
            );
        }
    }
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let _ = write!(
            s,
            r#"<text class="chart-label" x="0" y="{}">{}</text><text class="chart-label" x="{WIDTH}" y="{}" text-anchor="end">{}</text>"#,
            base + 16.0,
            esc(&first.0),
            base + 16.0,
            esc(&last.0)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale_to_the_largest() {
        let svg = bars(
            "c",
            "Alerts <by> service",
            &[
                Bar {
                    label: "a&b".into(),
                    parts: vec![10.0],
                    text: "10".into(),
                },
                Bar {
                    label: "c".into(),
                    parts: vec![5.0],
                    text: "5".into(),
                },
            ],
        );
        assert!(svg.contains("Alerts &lt;by&gt; service"));
        assert!(svg.contains(">a&amp;b<"));
        assert!(svg.contains(r#"width="160.0""#), "{svg}");
        assert!(svg.contains(r#"width="80.0""#), "{svg}");
        let cols = columns("w", "t", &[("x".into(), 0.0)]);
        assert!(cols.contains("</svg>"));
    }
}
