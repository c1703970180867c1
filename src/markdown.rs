//! Plain Markdown (GitHub's flavour, as the job summary and issue bodies use it): the
//! escapers for text in a table cell, a code span or a link, so every renderer of
//! Markdown writes remote text the same way (see [`crate::untrusted`] for why).

use crate::untrusted;

/// The longest text one cell or span shows; the rest is cut with an ellipsis.
const MAX_CELL: usize = 160;

/// Makes text safe inside a markdown table cell (and anywhere inline): no pipes, newlines,
/// raw HTML, links, images, emphasis or mentions; see [`untrusted::markdown`].
pub fn cell(s: &str) -> String {
    untrusted::markdown(s, MAX_CELL)
}

/// A code span for list items and paragraphs (`` `name` ``), however many backticks `s` has.
pub fn code(s: &str) -> String {
    untrusted::markdown_code(s, MAX_CELL)
}

/// A code span inside a table cell.
pub fn code_cell(s: &str) -> String {
    untrusted::markdown_code_cell(s, MAX_CELL)
}

/// A link target that cannot break out of markdown link syntax.
pub fn safe_link(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() < 500
        && !u.chars().any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | '"' | '|' | '[' | ']'))
}
