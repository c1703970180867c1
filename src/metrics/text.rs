//! The Prometheus text exposition format (version 0.0.4), as node_exporter's textfile
//! collector and the Pushgateway read it. Rendered by hand: the model's label sets are
//! dynamic (a monitor's own labels), which a registry of typed metrics does not fit, and
//! the format is three escapes: in label values `\` `"` and newline, in HELP `\` and newline.

use std::fmt::Write;

use super::model::Model;

/// `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Appends `v` with the bytes `escape` maps replaced, the runs between them copied whole.
fn escape_with(v: &str, out: &mut String, escape: impl Fn(u8) -> Option<&'static str>) {
    let mut start = 0;
    for (i, b) in v.bytes().enumerate() {
        if let Some(e) = escape(b) {
            // An ASCII byte: `i` and `i + 1` are character boundaries.
            out.push_str(&v[start..i]);
            out.push_str(e);
            start = i + 1;
        }
    }
    out.push_str(&v[start..]);
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label_value(v: &str, out: &mut String) {
    escape_with(v, out, |b| match b {
        b'\\' => Some("\\\\"),
        b'"' => Some("\\\""),
        b'\n' => Some("\\n"),
        _ => None,
    })
}

/// Escapes a HELP text: backslash and line feed.
pub fn escape_help(v: &str, out: &mut String) {
    escape_with(v, out, |b| match b {
        b'\\' => Some("\\\\"),
        b'\n' => Some("\\n"),
        _ => None,
    })
}

/// A sample value as Go's `strconv.ParseFloat` reads it (`+Inf`, `-Inf`, `NaN`).
pub fn value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        // Whole numbers (status codes, 0/1, timestamps, counts), as `{v}` writes them,
        // without the float formatter: the digits of the exact integer.
        if v < 0.0 {
            out.push('-');
        }
        crate::human::push_digits(out, v.abs() as u64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends `k="v"` pairs, comma-separated, after `sep` before the first one.
fn pairs<'a>(out: &mut String, mut sep: bool, labels: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    for (k, v) in labels {
        if sep {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(v, out);
        out.push('"');
        sep = true;
    }
    sep
}

/// The whole model, with `extra` labels first on every series (the file's `shard`; none
/// for the Pushgateway, whose grouping key carries them). Families without series are left out.
/// Each label set is escaped once, not once per series.
pub fn render(model: &Model, extra: &[(String, String)]) -> String {
    let mut out = String::with_capacity(model.series_count() * 96);
    // `extra` and each set, escaped: `k="v",k2="v2"` (empty when there are none).
    let mut head = String::new();
    pairs(&mut head, false, extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let sets: Vec<String> = model
        .sets
        .iter()
        .map(|set| {
            let mut s = head.clone();
            pairs(&mut s, !head.is_empty(), set.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            s
        })
        .collect();
    for f in model.families.iter().filter(|f| !f.series.is_empty()) {
        out.push_str("# HELP ");
        out.push_str(f.name);
        out.push(' ');
        escape_help(f.help, &mut out);
        out.push_str("\n# TYPE ");
        out.push_str(f.name);
        out.push_str(" gauge\n");
        for s in &f.series {
            out.push_str(f.name);
            let set = sets.get(s.set as usize).unwrap_or(&head);
            let mark = out.len();
            out.push('{');
            out.push_str(set);
            let any = pairs(&mut out, !set.is_empty(), s.own()) || !set.is_empty();
            if any {
                out.push('}');
            } else {
                out.truncate(mark);
            }
            out.push(' ');
            value(s.value, &mut out);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_exactly_the_three_characters() {
        let mut s = String::new();
        escape_label_value("a\\b\"c\nd\te", &mut s);
        assert_eq!(s, "a\\\\b\\\"c\\nd\te");
        let mut h = String::new();
        escape_help("a\\b\"c\nd", &mut h);
        assert_eq!(h, "a\\\\b\"c\\nd");
    }

    #[test]
    fn values_as_go_parses_them() {
        let v = |x: f64| {
            let mut s = String::new();
            value(x, &mut s);
            s
        };
        assert_eq!(v(1.0), "1");
        assert_eq!(v(0.25), "0.25");
        assert_eq!(v(f64::INFINITY), "+Inf");
        assert_eq!(v(f64::NEG_INFINITY), "-Inf");
        assert_eq!(v(f64::NAN), "NaN");
        assert_eq!(v(1e21), "1000000000000000000000");
        for x in [0.0, -0.0, -1.0, 7.0, 200.0, 1_774_999_000.0, 999_999_999_999_999.0, 1e15, -1e15, 2.5, -1e-7] {
            assert_eq!(v(x), format!("{x}"), "{x}");
        }
    }

    type Labels = Vec<(String, String)>;

    /// A strict reader of the text format's sample lines: (name, labels, value), or why not.
    fn parse_sample(line: &str) -> Result<(String, Labels, String), String> {
        let name_end = line.find(['{', ' ']).ok_or("no name")?;
        let name = line[..name_end].to_string();
        let mut labels = Vec::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            loop {
                let start = chars.peek().map(|c| c.0).ok_or("unterminated labels")?;
                let eq = r[start..].find('=').ok_or("no =")? + start;
                let key = r[start..eq].to_string();
                if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || key.is_empty() {
                    return Err(format!("bad label name {key:?}"));
                }
                while chars.peek().is_some_and(|c| c.0 <= eq) {
                    chars.next();
                }
                if chars.next().map(|c| c.1) != Some('"') {
                    return Err("no opening quote".into());
                }
                let mut v = String::new();
                loop {
                    match chars.next().ok_or("unterminated value")?.1 {
                        '\\' => match chars.next().ok_or("dangling escape")?.1 {
                            '\\' => v.push('\\'),
                            '"' => v.push('"'),
                            'n' => v.push('\n'),
                            c => return Err(format!("bad escape {c:?}")),
                        },
                        '"' => break,
                        '\n' => return Err("raw newline".into()),
                        c => v.push(c),
                    }
                }
                labels.push((key, v));
                match chars.next().ok_or("unterminated labels")? {
                    (_, ',') => continue,
                    (i, '}') => {
                        rest = &r[i + 1..];
                        break;
                    }
                    (_, c) => return Err(format!("unexpected {c:?}")),
                }
            }
        }
        let value = rest.strip_prefix(' ').ok_or("no space before the value")?.to_string();
        Ok((name, labels, value))
    }

    use crate::metrics::model::{label_name, label_value, Family, Model, Series};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Hostile monitor names, label keys and values never break a line: every sample
        /// parses back to exactly what was put in (names sanitised, values bounded).
        #[test]
        fn hostile_labels_round_trip(
            monitor in "\\PC{0,40}|[\\\\\"\n{}=, #]{0,20}",
            key in "\\PC{0,20}|[_0-9.\\-]{0,6}",
            value in any::<String>(),
            v in any::<f64>(),
        ) {
            let labels = vec![
                ("monitor".to_string(), label_value(&monitor)),
                (label_name(&key), label_value(&value)),
            ];
            let mut model = Model::empty(chrono::DateTime::UNIX_EPOCH);
            let set = model.add_set(labels.clone());
            model.families = vec![Family { name: "probe_success", help: "a \\ help\nline", unit: "", series: vec![Series::new(set, v)] }];
            model.common = vec![("shard".into(), "1/2".into())];
            let text = render(&model, &model.common);
            let lines: Vec<&str> = text.lines().collect();
            prop_assert_eq!(lines.len(), 3, "{}", text);
            prop_assert!(lines[0].starts_with("# HELP probe_success ") && !lines[0].contains('\n'));
            let (name, got, val) = parse_sample(lines[2]).map_err(|e| TestCaseError::fail(format!("{e}: {}", lines[2])))?;
            prop_assert_eq!(name, "probe_success");
            let mut want = model.common.clone();
            want.extend(labels);
            prop_assert_eq!(got, want);
            if v.is_nan() { prop_assert_eq!(val, "NaN") } else { prop_assert_eq!(val.parse::<f64>().ok(), Some(v)) }
            prop_assert!(text.len() < 4 * 1024 + 200);
        }
    }
}
