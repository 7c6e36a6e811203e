//! Public status pages as static files, for a second origin (any web server or object store)
//! that stays up when Klaxon does not. The layout is Klaxon's own URLs: `DIR/status/{slug}/`
//! holds `index.html`, `history/index.html`, `incidents/{code}/index.html`, `api/v2/*.json`,
//! the feeds, the badges and `style.css`, so links work unchanged. Private pages are never
//! written, and a page that turns private or goes away is removed.
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use klaxon_store::Visibility;

use super::snapshot::Rendered;

/// Where a document's bytes go under the page's directory: pages people open become
/// `…/index.html`, so `/status/acme/history` finds `history/index.html`.
pub fn file_for(path: &str) -> PathBuf {
    let is_page = path.is_empty() || path == "history" || path.starts_with("incidents/");
    if is_page {
        Path::new(path).join("index.html")
    } else {
        PathBuf::from(path)
    }
}

/// Writes every document of `r` under `dir/status/{slug}/`, each through a temporary file and
/// a rename, so that a server reading the directory never sees half a file. Returns how many
/// files it wrote. Private pages are refused.
pub fn write_page(dir: &Path, r: &Rendered) -> io::Result<usize> {
    if r.page.visibility != Visibility::Public {
        return Err(io::Error::other("a private page is never exported"));
    }
    let root = dir.join("status").join(&r.page.slug);
    let mut written = 0;
    for (path, doc) in &r.docs {
        // Paths come from our own rendering (slugs and codes are [a-z0-9-]), never from input.
        let file = root.join(file_for(path));
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = file.with_extension("klaxon-tmp");
        std::fs::write(&tmp, &doc.body)?;
        std::fs::rename(&tmp, &file)?;
        written += 1;
    }
    Ok(written)
}

/// Removes the directories of pages that are no longer public (deleted, or turned private),
/// and writes an index of the public ones at `dir/status/index.html`.
pub fn tidy(dir: &Path, public: &[(String, String)]) -> io::Result<()> {
    let status = dir.join("status");
    std::fs::create_dir_all(&status)?;
    let keep: HashSet<&str> = public.iter().map(|(slug, _)| slug.as_str()).collect();
    for entry in std::fs::read_dir(&status)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() && !keep.contains(name.as_ref()) {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Status pages</title></head><body><main><h1>Status pages</h1><ul>",
    );
    for (slug, name) in public {
        html.push_str(&format!(
            "<li><a href=\"/status/{slug}/\">{}</a></li>",
            super::feeds::escape(name)
        ));
    }
    html.push_str("</ul></main></body></html>\n");
    let tmp = status.join("index.html.klaxon-tmp");
    std::fs::write(&tmp, html)?;
    std::fs::rename(tmp, status.join("index.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_become_index_files_and_the_rest_keeps_its_name() {
        assert_eq!(file_for(""), PathBuf::from("index.html"));
        assert_eq!(file_for("history"), PathBuf::from("history/index.html"));
        assert_eq!(
            file_for("incidents/abcdefghijkl"),
            PathBuf::from("incidents/abcdefghijkl/index.html")
        );
        assert_eq!(
            file_for("api/v2/summary.json"),
            PathBuf::from("api/v2/summary.json")
        );
        assert_eq!(file_for("history.atom"), PathBuf::from("history.atom"));
    }
}
