//! The Prometheus text exposition format (version 0.0.4), as node_exporter's textfile
//! collector and the Pushgateway read it. Rendered by hand: the model's label sets are
//! dynamic (a monitor's own labels), which a registry of typed metrics does not fit, and
//! the format is three escapes: in label values `\` `"` and newline, in HELP `\` and newline.

use std::fmt::Write;

use super::model::Model;

/// `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes a HELP text: backslash and line feed.
pub fn escape_help(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value as Go's `strconv.ParseFloat` reads it (`+Inf`, `-Inf`, `NaN`).
pub fn value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// The whole model, with `extra` labels first on every series (the file's `shard`; none
/// for the Pushgateway, whose grouping key carries them). Families without series are left out.
pub fn render(model: &Model, extra: &[(String, String)]) -> String {
    let mut out = String::with_capacity(model.series_count() * 96);
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
            let mut labels = extra.iter().chain(&s.labels).peekable();
            if labels.peek().is_some() {
                out.push('{');
                for (i, (k, v)) in labels.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_label_value(v, &mut out);
                    out.push('"');
                }
                out.push('}');
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
    }
}
