//! Markdown people wrote (runbooks' text), as HTML safe to put in a page: raw HTML in it is
//! shown as text, and links go only to web, mail or relative addresses.
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// The HTML of `text`, escaped where it must be. Headings drop two levels (`#` is an `<h3>`),
/// so a runbook's text sits under the page's own headings.
pub fn to_html(text: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(text, options).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        // A checklist's boxes as text: a disabled checkbox without a label is no control.
        Event::TaskListMarker(done) => {
            Event::Text(CowStr::Borrowed(if done { "☑ " } else { "☐ " }))
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        }),
        Event::End(pulldown_cmark::TagEnd::Heading(level)) => {
            Event::End(pulldown_cmark::TagEnd::Heading(lower(level)))
        }
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

fn lower(level: pulldown_cmark::HeadingLevel) -> pulldown_cmark::HeadingLevel {
    use pulldown_cmark::HeadingLevel::*;
    match level {
        H1 => H3,
        H2 => H4,
        H3 => H5,
        _ => H6,
    }
}

/// `javascript:` and other schemes become `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s);
    match scheme {
        None => url,
        Some(s) if s.contains('/') || s.contains('?') || s.contains('#') => url,
        Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text_and_bad_links_go_nowhere() {
        let h = to_html(
            "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) [y](https://e.org) [z](/incidents)\n\n- [ ] todo\n- [x] done\n",
        );
        assert!(h.contains("<h3>Title</h3>"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains(r##"href="#""##), "{h}");
        assert!(h.contains(r#"href="https://e.org""#), "{h}");
        assert!(h.contains(r#"href="/incidents""#), "{h}");
        assert!(
            h.contains("☐ todo") && h.contains("☑ done") && !h.contains("<input"),
            "{h}"
        );
    }
}
