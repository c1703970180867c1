//! Untrusted text is data until one function here renders it for the one medium it is
//! written to. Anything a monitored system sent (bodies, headers, status-page titles, log
//! lines, error messages) and anything from a config passes through the escaper of its
//! medium: console lines and workflow commands, annotations, job-summary and issue Markdown,
//! issue titles, Slack mrkdwn, email and HTML. Every function also bounds its output in
//! characters, cutting between whole characters and whole escapes, never inside either.

/// What a cut string ends in.
pub const ELLIPSIS: char = '…';

/// GitHub's limits for issues: characters of a title and of a body (or comment).
pub const MAX_ISSUE_TITLE: usize = 256;
pub const MAX_ISSUE_BODY: usize = 65_536;

/// Writes the pieces `piece(i, c)` of `s` while they fit in `max` characters; when they do
/// not, cuts at the last whole piece that leaves room for "…" and appends it. Stops reading
/// as soon as the output is over `max`, so a huge input costs little.
fn render(s: &str, max: usize, mut piece: impl FnMut(&[char], usize, &mut String)) -> String {
    if max == 0 {
        return String::new();
    }
    // Every piece is at least one character, so `max + 1` characters decide the cut.
    let chars: Vec<char> = s.chars().take(max.saturating_add(1)).collect();
    let mut out = String::new();
    let mut count = 0usize;
    // Byte length of `out` at the last piece boundary that leaves room for the ellipsis.
    let mut cut = 0usize;
    let mut buf = String::new();
    for i in 0..chars.len() {
        buf.clear();
        piece(&chars, i, &mut buf);
        let n = buf.chars().count();
        if count + n > max {
            out.truncate(cut);
            out.push(ELLIPSIS);
            return out;
        }
        out.push_str(&buf);
        count += n;
        if count < max {
            cut = out.len();
        }
    }
    out
}

/// Cuts `s` to at most `max` characters, ending in "…" when it was longer.
pub fn bound(s: &str, max: usize) -> String {
    if s.len() <= max || s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push(ELLIPSIS);
    }
    out
}

/// Characters that reorder or hide text in a terminal or a browser (bidirectional
/// overrides and isolates, line and paragraph separators).
fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || is_invisible_control(c)
}

/// Text on a console line (the CI log): one line, control characters escaped (`\n`, `\r`,
/// `\t`, `\u{1b}`), and it can never start a workflow command: a leading `::` (after
/// spaces, which the runner skips) becomes `\::`, and `##[` anywhere becomes `##\[`.
pub fn console(s: &str, max: usize) -> String {
    // The runner skips leading white space before it looks for `::`.
    let lead = s.chars().take_while(|c| c.is_whitespace() && !is_unsafe(*c)).count();
    render(s, max, |cs, i, out| {
        let c = cs[i];
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            ':' if i == lead && cs.get(i + 1) == Some(&':') => out.push_str("\\:"),
            '[' if v1_command_at(cs, i) => out.push_str("\\["),
            c => out.push(c),
        }
    })
}

/// The message of a workflow command (`::error title=…::MESSAGE`): GitHub's escaping
/// (`%25`, `%0D`, `%0A`), so the message stays on its line; `##[` becomes `##\[`; other
/// control characters become spaces.
pub fn command_data(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| match cs[i] {
        '%' => out.push_str("%25"),
        '\r' => out.push_str("%0D"),
        '\n' => out.push_str("%0A"),
        '[' if v1_command_at(cs, i) => out.push_str("\\["),
        c if is_unsafe(c) => out.push(' '),
        c => out.push(c),
    })
}

/// Whether `cs[i]` is the `[` of `##[`, the runner's older command syntax, which it looks
/// for anywhere in a line.
fn v1_command_at(cs: &[char], i: usize) -> bool {
    cs[i] == '[' && i >= 2 && cs[i - 1] == '#' && cs[i - 2] == '#'
}

/// A property value of a workflow command (`title=VALUE`): [`command_data`], plus `:` and
/// `,`, which would end the value.
pub fn command_property(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| match cs[i] {
        '%' => out.push_str("%25"),
        '\r' => out.push_str("%0D"),
        '\n' => out.push_str("%0A"),
        ':' => out.push_str("%3A"),
        ',' => out.push_str("%2C"),
        '[' if v1_command_at(cs, i) => out.push_str("\\["),
        c if is_unsafe(c) => out.push(' '),
        c => out.push(c),
    })
}

/// A secret for `::add-mask::`, escaped exactly (no length bound, nothing replaced), so
/// the runner masks the very value.
pub fn mask_value(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Inline Markdown text (job summary, issue bodies), safe in a table cell: no link, image,
/// emphasis, code, strikethrough, math or table break can form (`\` `` ` `` `*` `_` `[`
/// `]` `|` `~` `$` are backslash-escaped; an `_` between letters stays, as it cannot
/// emphasise), HTML is entities (`&lt;` `&gt;` `&amp;`), `@name` does not mention anyone
/// (`@\u{200b}name`), and newlines and control characters are spaces.
pub fn markdown(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| {
        let c = cs[i];
        let alnum = |j: Option<usize>| j.and_then(|j| cs.get(j)).is_some_and(|c| c.is_alphanumeric());
        match c {
            c if is_unsafe(c) => out.push(' '),
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '_' if !(alnum(i.checked_sub(1)) && alnum(Some(i + 1))) => out.push_str("\\_"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' if alnum(Some(i + 1)) => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    })
}

/// A Markdown code span of `s`: fenced by more backticks than any run inside, padded when
/// it starts or ends with a backtick, on one line. `in_table`: `|` is written `\|`, which
/// GitHub's tables read as a pipe inside the cell (outside a table it would show the `\`).
fn code_span(s: &str, max: usize, in_table: bool) -> String {
    let body_of = |room: usize| {
        render(s, room, |cs, i, out| match cs[i] {
            c if is_unsafe(c) => out.push(' '),
            '|' if in_table => out.push_str("\\|"),
            c => out.push(c),
        })
    };
    let wrap = |body: String| {
        if body.is_empty() {
            return body;
        }
        let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest + 1);
        let pad = if body.starts_with('`') || body.ends_with('`') { " " } else { "" };
        format!("{fence}{pad}{body}{pad}{fence}")
    };
    // A cut never lengthens a backtick run, so each retry is shorter than the last.
    let mut room = max.saturating_sub(4).max(1);
    loop {
        let out = wrap(body_of(room));
        let n = out.chars().count();
        if n <= max || room == 1 {
            return out;
        }
        room = room.saturating_sub(n - max).max(1);
    }
}

/// A code span (`` `text` ``) for list items and paragraphs; see [`code_span`].
pub fn markdown_code(s: &str, max: usize) -> String {
    code_span(s, max, false)
}

/// A code span inside a Markdown table cell: pipes escaped as tables expect.
pub fn markdown_code_cell(s: &str, max: usize) -> String {
    code_span(s, max, true)
}

/// An issue title: one line, no control characters (they become spaces), at most
/// [`MAX_ISSUE_TITLE`] characters.
pub fn issue_title(s: &str) -> String {
    let flat: String = s.chars().map(|c| if is_unsafe(c) { ' ' } else { c }).collect();
    bound(flat.trim(), MAX_ISSUE_TITLE)
}

/// Slack mrkdwn text: `&`, `<` and `>` as Slack documents (`&amp;` `&lt;` `&gt;`), so no
/// `<!channel>`, `<@U…>` or `<url|text>` can form; control characters other than newline
/// become spaces. An entity is never cut in half.
pub fn slack(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| match cs[i] {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '\n' => out.push('\n'),
        c if is_unsafe(c) => out.push(' '),
        c => out.push(c),
    })
}

/// Plain-text email: control characters other than newline removed (a tab becomes a space).
pub fn email_text(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if is_unsafe(c) => None,
            c => Some(c),
        })
        .collect();
    bound(&clean, max)
}

/// An email header value (the subject): one line, no CR or LF or other control characters.
pub fn email_header(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if is_unsafe(c) { ' ' } else { c }).collect();
    bound(flat.trim(), max)
}

/// HTML text or attribute value: `&`, `<`, `>`, `"` and `'` as entities; control
/// characters other than newline become spaces. An entity is never cut in half.
pub fn html(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| match cs[i] {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        '\n' => out.push('\n'),
        c if is_unsafe(c) => out.push(' '),
        c => out.push(c),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_cuts_between_characters() {
        assert_eq!(bound("café", 4), "café");
        assert_eq!(bound("cafés", 4), "caf…");
        assert_eq!(bound("ééééé", 3), "éé…");
        assert_eq!(bound("", 3), "");
    }

    #[test]
    fn console_lines_cannot_start_workflow_commands() {
        assert_eq!(console("down\n::stop-commands::tok", 100), "down\\n::stop-commands::tok");
        assert_eq!(console("  ::error title=x::y", 100), "  \\::error title=x::y");
        assert_eq!(console("a ##[error]b\r\x1b[31m", 100), "a ##\\[error]b\\r\\u{1b}[31m");
        assert_eq!(console("12345", 3), "12…");
    }

    #[test]
    fn annotation_escaping_follows_github() {
        assert_eq!(command_data("50% down\nnext\r", 100), "50%25 down%0Anext%0D");
        assert_eq!(command_property("a:b,c%", 100), "a%3Ab%2Cc%25");
        // An escape is never cut in half.
        assert_eq!(command_data("%%%", 5), "%25…");
    }

    #[test]
    fn markdown_forms_nothing_live() {
        assert_eq!(markdown("[x](https://e.example)", 100), "\\[x\\](https://e.example)");
        assert_eq!(markdown("![i](u) *b* ~s~ a|b", 100), "!\\[i\\](u) \\*b\\* \\~s\\~ a\\|b");
        assert_eq!(markdown("<img onerror=alert(1)> & more", 100), "&lt;img onerror=alert(1)&gt; &amp; more");
        assert_eq!(markdown("ping @octocat now", 100), "ping @\u{200b}octocat now");
        assert_eq!(markdown("api_health _em_", 100), "api_health \\_em\\_");
        assert_eq!(markdown("a\nb", 100), "a b");
        // `&` is five characters once escaped: it goes whole or not at all.
        assert_eq!(markdown("a&b", 5), "a…");
    }

    #[test]
    fn code_spans_outfence_the_backticks_inside() {
        assert_eq!(markdown_code("api", 50), "`api`");
        assert_eq!(markdown_code("a`b", 50), "``a`b``");
        assert_eq!(markdown_code("`x``", 50), "``` `x`` ```");
        assert_eq!(markdown_code_cell("a|b", 50), "`a\\|b`");
        assert!(markdown_code(&"x".repeat(500), 50).chars().count() <= 50);
    }

    #[test]
    fn titles_slack_email_and_html() {
        assert_eq!(issue_title("🔴 api: down\r\nInjected: \0yes"), "🔴 api: down  Injected:  yes");
        assert_eq!(issue_title(&"x".repeat(1000)).chars().count(), MAX_ISSUE_TITLE);
        assert_eq!(
            slack("<!channel> <@U1> <https://e|x> & co", 100),
            "&lt;!channel&gt; &lt;@U1&gt; &lt;https://e|x&gt; &amp; co"
        );
        assert_eq!(email_text("a\r\nb\x07\tc", 100), "a\nb c");
        assert_eq!(email_header("Subject\r\nBcc: x@example.com", 100), "Subject  Bcc: x@example.com");
        assert_eq!(html("<b onclick='x'>&\"", 100), "&lt;b onclick=&#39;x&#39;&gt;&amp;&quot;");
    }
}
