//! Snapshots of the text and Markdown reports of `repro diff` and `repro check`, rendered from
//! the fixed fixtures (attacker-controlled names and values included), so any change to what
//! users read shows up in review. Text is compared without its ANSI colours.

use super::fixtures::{check_report, comparison, evil_tree};
use super::text::TextOptions;
use super::{check, markdown, text};

fn plain(s: &str) -> String {
    anstream::adapter::strip_str(s).to_string()
}

#[test]
fn diff_text() {
    let c = comparison(Some(evil_tree()));
    insta::assert_snapshot!(plain(&text::diff_report(&c, TextOptions::new(false, false))));
}

#[test]
fn diff_text_brief() {
    let c = comparison(Some(evil_tree()));
    insta::assert_snapshot!(plain(&text::diff_report(&c, TextOptions::new(false, true))));
}

#[test]
fn diff_markdown() {
    insta::assert_snapshot!(markdown::diff_report(&comparison(Some(evil_tree()))));
}

#[test]
fn identical_diff_text() {
    insta::assert_snapshot!(plain(&text::diff_report(
        &comparison(None),
        TextOptions::default()
    )));
}

#[test]
fn check_text() {
    insta::assert_snapshot!(plain(&check::text(
        &check_report(),
        TextOptions::new(false, false)
    )));
}

#[test]
fn check_text_brief() {
    insta::assert_snapshot!(plain(&check::text(
        &check_report(),
        TextOptions::new(false, true)
    )));
}

#[test]
fn check_markdown() {
    insta::assert_snapshot!(check::markdown(&check_report()));
}
