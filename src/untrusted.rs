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
/// `]` `|` `~` `$` are backslash-escaped; an `_` between ASCII letters or digits stays, as
/// it cannot emphasise), HTML is entities (`&lt;` `&gt;` `&amp;`), `@name` does not mention anyone
/// (`@\u{200b}name`), and newlines and control characters are spaces.
pub fn markdown(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| {
        let c = cs[i];
        let word = |j: Option<usize>| j.and_then(|j| cs.get(j)).is_some_and(|c| c.is_ascii_alphanumeric());
        match c {
            c if is_unsafe(c) => out.push(' '),
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // Between two ASCII letters or digits `_` can neither open nor close emphasis
            // (CommonMark's flanking rules), so `api_health` stays as it is.
            '_' if !(word(i.checked_sub(1)) && word(Some(i + 1))) => out.push_str("\\_"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' if cs.get(i + 1).is_some_and(|c| c.is_alphanumeric()) => out.push_str("@\u{200b}"),
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
        // CommonMark drops one space at each end when both ends have one: pad to keep them.
        let spaced = body.starts_with(' ') && body.ends_with(' ') && !body.trim().is_empty();
        let pad = if body.starts_with('`') || body.ends_with('`') || spaced { " " } else { "" };
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

/// Plain text carried in a JSON field (webhook and PagerDuty events, Adaptive Card text
/// runs, which render no markup): control characters other than newline, and those that
/// reorder or hide text, become spaces; at most `max` characters.
pub fn plain(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| match cs[i] {
        '\n' => out.push('\n'),
        c if is_unsafe(c) => out.push(' '),
        c => out.push(c),
    })
}

/// Discord Markdown (message content, embed titles, descriptions and fields): every
/// character Discord's Markdown gives a meaning is backslash-escaped (`\` `` ` `` `*` `_`
/// `~` `|` `[` `]` `(` `)` `<` `>` `#` `-` `:`), so no emphasis, spoiler, code, masked link,
/// heading, quote, list, custom emoji or `<@id>` mention forms; `@everyone` becomes
/// `@\u{200b}everyone` (the payload also sets `allowed_mentions` to nothing); control
/// characters other than newline are spaces. An escape is never cut in half.
pub fn discord(s: &str, max: usize) -> String {
    render(s, max, |cs, i, out| match cs[i] {
        '\n' => out.push('\n'),
        c if is_unsafe(c) => out.push(' '),
        c @ ('\\' | '`' | '*' | '_' | '~' | '|' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '-' | ':') => {
            out.push('\\');
            out.push(c);
        }
        '@' if cs.get(i + 1).is_some_and(|c| c.is_alphanumeric()) => out.push_str("@\u{200b}"),
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
        assert_eq!(plain("a\r\nb\u{202e}c\x07", 100), "a \nb c ");
        assert_eq!(
            discord("**b** <@1> @everyone [x](u) # h", 100),
            "\\*\\*b\\*\\* \\<@\u{200b}1\\> @\u{200b}everyone \\[x\\]\\(u\\) \\# h"
        );
        // An escape goes whole or not at all.
        assert_eq!(discord("a**", 3), "a…");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

        /// Text that leans on what the escapers handle: Markdown, HTML and Slack syntax,
        /// workflow commands, control characters and multi-byte characters.
        fn hostile() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("::".to_string()),
                Just("##[".to_string()),
                Just("\n".to_string()),
                Just("\r".to_string()),
                Just("`".to_string()),
                Just("[x](https://e.example)".to_string()),
                Just("![i](u)".to_string()),
                Just("<img src=x onerror=y>".to_string()),
                Just("<!channel>".to_string()),
                Just("@user".to_string()),
                Just("&amp;".to_string()),
                Just("é".to_string()),
                "[ -~]{0,8}",
                "\\PC{0,4}",
                any::<char>().prop_map(String::from),
            ];
            prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
        }

        /// The events CommonMark (with GitHub's tables) makes of `md`.
        fn events(md: &str) -> Vec<Event<'_>> {
            Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).collect()
        }

        fn is_live(e: &Event<'_>) -> bool {
            matches!(
                e,
                Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::Emphasis | Tag::Strong | Tag::Strikethrough)
                    | Event::Html(_)
                    | Event::InlineHtml(_)
                    | Event::Code(_)
            )
        }

        /// Every `&` starts one of `entities`.
        fn entities_only(s: &str, entities: &[&str]) -> bool {
            s.match_indices('&').all(|(i, _)| entities.iter().any(|e| s[i..].starts_with(e)))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn console_output_is_one_line_that_starts_no_command(s in hostile(), max in 1usize..300) {
                let out = console(&s, max);
                prop_assert!(out.chars().count() <= max);
                prop_assert!(!out.contains(['\n', '\r']), "{:?}", out);
                prop_assert!(!out.trim_start().starts_with("::"), "{:?}", out);
                prop_assert!(!out.contains("##["), "{:?}", out);
                // Also after text of ours on the same line.
                let line = format!("  high  {out}");
                prop_assert!(!line.trim_start().starts_with("::"));
            }

            #[test]
            fn command_text_stays_on_its_line(s in hostile(), max in 1usize..300) {
                let data = command_data(&s, max);
                prop_assert!(data.chars().count() <= max);
                prop_assert!(!data.contains(['\n', '\r']) && !data.contains("##["), "{:?}", data);
                let prop = command_property(&s, max);
                prop_assert!(prop.chars().count() <= max);
                prop_assert!(!prop.contains(['\n', '\r', ':', ',']), "{:?}", prop);
            }

            #[test]
            fn markdown_text_forms_nothing_live_in_a_cell_or_a_list(s in hostile(), max in 1usize..300) {
                let out = markdown(&s, max);
                prop_assert!(out.chars().count() <= max);
                prop_assert!(!out.contains(['<', '>', '\n', '\r']), "{:?}", out);
                prop_assert!(entities_only(&out, &["&lt;", "&gt;", "&amp;"]), "{:?}", out);
                prop_assert!(!out.chars().zip(out.chars().skip(1)).any(|(a, b)| a == '@' && b.is_alphanumeric()), "{:?}", out);
                let table = format!("| a | b |\n|---|---|\n| x | {out} |\n");
                let evs = events(&table);
                prop_assert!(!evs.iter().any(is_live), "{:?} -> {:?}", out, evs);
                let cells = evs.iter().filter(|e| matches!(e, Event::Start(Tag::TableCell))).count();
                prop_assert_eq!(cells, 4, "a pipe broke the row: {:?}", out);
                let list = format!("- `fp` {out}\n");
                prop_assert!(!events(&list).iter().filter(|e| !matches!(e, Event::Code(c) if c.as_ref() == "fp")).any(is_live), "{:?}", out);
            }

            #[test]
            fn code_spans_hold_their_text_whole(s in "[ -~]{1,40}", in_table in any::<bool>()) {
                let out = if in_table { markdown_code_cell(&s, 100) } else { markdown_code(&s, 100) };
                prop_assert!(out.chars().count() <= 100);
                let md = if in_table { format!("| a |\n|---|\n| {out} |\n") } else { format!("x {out}\n") };
                let evs = events(&md);
                let code: Vec<String> = evs.iter().filter_map(|e| match e { Event::Code(c) => Some(c.to_string()), _ => None }).collect();
                prop_assert_eq!(code, vec![s.clone()], "{} -> {:?}", out, evs);
                let live = evs.iter().any(|e| matches!(e, Event::Start(Tag::Link { .. }) | Event::Html(_) | Event::InlineHtml(_)));
                prop_assert!(!live, "{:?}", evs);
                if in_table {
                    prop_assert_eq!(evs.iter().filter(|e| matches!(e, Event::End(TagEnd::TableCell))).count(), 2);
                }
            }

            #[test]
            fn titles_and_headers_have_no_line_breaks(s in hostile(), max in 1usize..300) {
                let t = issue_title(&s);
                prop_assert!(t.chars().count() <= MAX_ISSUE_TITLE);
                prop_assert!(!t.chars().any(|c| c.is_control()), "{:?}", t);
                let h = email_header(&s, max);
                prop_assert!(h.chars().count() <= max);
                prop_assert!(!h.chars().any(|c| c.is_control()), "{:?}", h);
                let body = email_text(&s, max);
                prop_assert!(body.chars().count() <= max);
                prop_assert!(!body.chars().any(|c| c.is_control() && c != '\n'), "{:?}", body);
            }

            #[test]
            fn slack_and_html_have_no_unescaped_specials(s in hostile(), max in 1usize..300) {
                let sl = slack(&s, max);
                prop_assert!(sl.chars().count() <= max);
                prop_assert!(!sl.contains(['<', '>']), "{:?}", sl);
                prop_assert!(entities_only(&sl, &["&lt;", "&gt;", "&amp;"]), "{:?}", sl);
                let h = html(&s, max);
                prop_assert!(h.chars().count() <= max);
                prop_assert!(!h.contains(['<', '>', '"', '\'']), "{:?}", h);
                prop_assert!(entities_only(&h, &["&lt;", "&gt;", "&amp;", "&quot;", "&#39;"]), "{:?}", h);
            }

            #[test]
            fn bound_keeps_a_prefix_within_the_limit(s in "\\PC{0,60}", max in 0usize..80) {
                let out = bound(&s, max);
                prop_assert!(out.chars().count() <= max);
                let kept = out.strip_suffix(ELLIPSIS).unwrap_or(&out);
                prop_assert!(s.starts_with(kept));
            }
        }
    }
}
