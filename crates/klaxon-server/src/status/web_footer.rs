//! The settings form's footer links, without script: a row per link (`footer[i].label`,
//! `footer[i].url`), the saved ones then a few blank rows to add to; a row left blank is
//! dropped. Rows are checked with the API's rule, and every bad box gets its own reason.
use std::collections::BTreeMap;

use klaxon_store::StatusPage;

use super::pages_api::{self, FooterLinkIo, MAX_FOOTER_LINKS};
use super::web::Fields;
use crate::shared::web::{FormErrors, Refused};

/// Blank rows offered after the saved links, up to the most a page holds.
const BLANK_ROWS: usize = 3;
/// Row numbers read from a post: more than the form ever shows, far fewer than a flood.
const MAX_ROWS: usize = 50;

/// One row of the form.
pub struct FooterRow {
    /// Counted from 1, for the legend.
    pub n: usize,
    pub label: String,
    pub url: String,
    pub label_field: String,
    pub url_field: String,
    pub label_id: String,
    pub url_id: String,
}

/// `footer[3].url` → (3, true).
fn row_key(key: &str) -> Option<(usize, bool)> {
    let (i, part) = key.strip_prefix("footer[")?.split_once("].")?;
    let i: usize = i.parse().ok().filter(|i| *i < MAX_ROWS)?;
    match part {
        "label" => Some((i, false)),
        "url" => Some((i, true)),
        _ => None,
    }
}

/// Each row's (label, url) as typed, by row number.
fn rows<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<usize, (&'a str, &'a str)> {
    let mut out: BTreeMap<usize, (&str, &str)> = BTreeMap::new();
    for (k, v) in pairs {
        if let Some((i, is_url)) = row_key(k) {
            let row = out.entry(i).or_default();
            if is_url {
                row.1 = v;
            } else {
                row.0 = v;
            }
        }
    }
    out
}

/// The links the rows give, in order: `None` when the form has no rows (the saved links stay),
/// else every row with anything typed. A refusal names each bad box.
pub(crate) fn footer_links(f: &Fields) -> Result<Option<Vec<FooterLinkIo>>, FormErrors> {
    let rows = rows(f.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if rows.is_empty() {
        return Ok(None);
    }
    let mut links = Vec::new();
    let mut errors: Option<FormErrors> = None;
    for (i, (label, url)) in rows {
        if label.trim().is_empty() && url.trim().is_empty() {
            continue;
        }
        let at = format!("footer[{i}]");
        // Words and address checked apart, so both can be told at once.
        let checks = [
            pages_api::footer_label(&at, label).err(),
            pages_api::footer_url(&at, url).err(),
        ];
        for e in checks.into_iter().flatten() {
            let e = FormErrors::from_error(e).unwrap_or_default();
            errors = Some(match errors {
                Some(all) => all.and(e),
                None => e,
            });
        }
        links.push(FooterLinkIo {
            label: label.to_owned(),
            url: url.to_owned(),
        });
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(Some(links)),
    }
}

fn row(i: usize, label: &str, url: &str) -> FooterRow {
    FooterRow {
        n: i + 1,
        label: label.to_owned(),
        url: url.to_owned(),
        label_field: format!("footer[{i}].label"),
        url_field: format!("footer[{i}].url"),
        label_id: format!("settings-fl{i}-label"),
        url_id: format!("settings-fl{i}-url"),
    }
}

/// The rows to show: as typed when the settings form was refused, else the saved links and
/// blank rows to add.
pub(crate) fn footer_rows(page: &StatusPage, refused: &Refused) -> Vec<FooterRow> {
    if refused.is("settings") {
        let typed = rows(refused.typed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(last) = typed.keys().next_back() {
            return (0..=*last)
                .map(|i| {
                    let (label, url) = typed.get(&i).copied().unwrap_or_default();
                    row(i, label, url)
                })
                .collect();
        }
    }
    let saved = &page.footer_links;
    let total = (saved.len() + BLANK_ROWS).min(MAX_FOOTER_LINKS.max(saved.len()));
    (0..total)
        .map(|i| match saved.get(i) {
            Some(l) => row(i, &l.label, &l.url),
            None => row(i, "", ""),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn rows_become_links_and_blank_rows_go() {
        assert!(footer_links(&fields(&[("name", "x")])).unwrap().is_none());
        let links = footer_links(&fields(&[
            ("footer[0].label", ""),
            ("footer[0].url", " "),
            ("footer[1].label", "Docs"),
            ("footer[1].url", "https://docs.example"),
            ("footer[7].url", "https://x.example"),
            ("footer[7].label", "X"),
            ("footer[99].label", "ignored: past the rows read"),
        ]))
        .unwrap()
        .unwrap();
        let got: Vec<(&str, &str)> = links
            .iter()
            .map(|l| (l.label.as_str(), l.url.as_str()))
            .collect();
        assert_eq!(
            got,
            [("Docs", "https://docs.example"), ("X", "https://x.example")]
        );
        // Every row blank: no links at all (the saved ones are removed).
        let none = footer_links(&fields(&[("footer[0].label", ""), ("footer[0].url", "")]));
        assert!(none.unwrap().unwrap().is_empty());
    }

    #[test]
    fn each_bad_box_has_its_reason() {
        let e = footer_links(&fields(&[
            ("footer[0].label", "Docs"),
            ("footer[0].url", ""),
            ("footer[2].label", ""),
            ("footer[2].url", "docs.example"),
        ]))
        .unwrap_err();
        assert_eq!(e.get("footer[0].url"), Some("Must not be empty."));
        assert_eq!(e.get("footer[0].label"), None);
        assert_eq!(e.get("footer[2].label"), Some("Must not be empty."));
        assert_eq!(
            e.get("footer[2].url"),
            Some("Must be an http:// or https:// link.")
        );
    }
}
