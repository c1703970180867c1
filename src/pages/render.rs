//! The site's HTML from the model, through minijinja templates: the built-in ones
//! (`templates/`, embedded in the binary) or a user's from `pages.templates`, by file name.
//! Every `.html` template is auto-escaped, so a monitor name or an incident title is text,
//! never markup. Charts are inline SVG built here from numbers only.

use std::fmt::Write as _;
use std::path::Path;

use minijinja::value::{Serde, Value};
use minijinja::{context, Environment};

use super::model::{millis, Series, Site};

/// The built-in templates, by the names a `pages.templates` directory overrides.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("index.html", include_str!("templates/index.html")),
    ("monitor.html", include_str!("templates/monitor.html")),
    ("incidents.html", include_str!("templates/incidents.html")),
    ("bar.html", include_str!("templates/bar.html")),
];
/// The site's one stylesheet (copied as is; overridable as `style.css`).
pub const STYLE: &str = include_str!("templates/style.css");

/// A template that did not load or render: its name and minijinja's words.
#[derive(Debug, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct TemplateError {
    pub name: String,
    pub message: String,
}

fn terr(name: &str) -> impl Fn(minijinja::Error) -> TemplateError + '_ {
    move |e| {
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message.push_str(&format!(": {s}"));
            src = s.source();
        }
        TemplateError { name: name.to_string(), message }
    }
}

/// The templates and the stylesheet, the user's overriding the built-in ones.
pub struct Renderer {
    env: Environment<'static>,
    pub style: String,
}

impl Renderer {
    /// Built-in templates, overridden by files of the same name in `dir`. Other `.html`
    /// files there are loaded too (for `{% include %}`).
    pub fn new(dir: Option<&Path>) -> Result<Renderer, TemplateError> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(terr("syntax"))?,
        );
        // `.html` templates escape (minijinja's default callback); the SVG is marked safe.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        let mut style = STYLE.to_string();
        let mut sources: Vec<(String, String)> =
            TEMPLATES.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
        if let Some(dir) = dir {
            let rd = std::fs::read_dir(dir).map_err(|e| TemplateError {
                name: dir.display().to_string(),
                message: format!("cannot read the templates directory ({e}); check pages.templates"),
            })?;
            let mut names: Vec<String> = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            for name in names {
                if !(name.ends_with(".html") || name == "style.css") {
                    continue;
                }
                let path = dir.join(&name);
                let text = read_bounded(&path).map_err(|e| TemplateError {
                    name: path.display().to_string(),
                    message: format!("cannot read ({e})"),
                })?;
                if name == "style.css" {
                    style = text;
                    continue;
                }
                match sources.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = text,
                    None => sources.push((name, text)),
                }
            }
        }
        for (name, text) in sources {
            let shown = dir.map(|d| d.join(&name).display().to_string()).unwrap_or(name.clone());
            env.add_template_owned(name, text).map_err(terr(&shown))?;
        }
        Ok(Renderer { env, style })
    }

    fn render(&self, name: &str, ctx: Value) -> Result<String, TemplateError> {
        let t = self.env.get_template(name).map_err(terr(name))?;
        t.render(ctx).map_err(terr(name))
    }

    /// The site as the templates see it (`site`), converted once for every page that
    /// shows all of it.
    pub fn site_value(site: &Site) -> Value {
        Value::from(Serde(site))
    }

    /// `index.html`, given [`Renderer::site_value`].
    pub fn index(&self, site: &Value) -> Result<String, TemplateError> {
        self.render("index.html", context! { site => site, root => "" })
    }

    /// `incidents.html`, given [`Renderer::site_value`].
    pub fn incidents(&self, site: &Value) -> Result<String, TemplateError> {
        self.render("incidents.html", context! { site => site, root => "" })
    }

    /// The page of `site.monitors[i]`.
    pub fn monitor(&self, site: &Site, i: usize) -> Result<String, TemplateError> {
        let m = &site.monitors[i];
        let charts: Vec<Value> = m
            .charts
            .iter()
            .map(|s| context! { id => s.id, label => s.label, svg => Value::from_safe_string(chart_svg(s)) })
            .collect();
        // The site without its monitors: each page needs only its own.
        let head = context! {
            title => &site.title, description => &site.description, links => Serde(&site.links),
            overall => Serde(&site.overall), generated => &site.generated, timezone => &site.timezone,
            first_day => &site.first_day, last_day => &site.last_day,
        };
        self.render("monitor.html", context! { site => head, m => Serde(m), charts => charts, root => "../" })
    }
}

/// Templates are small files; a 1 MiB one is a mistake, not a template.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = crate::fsutil::open_read(path)?;
    let mut s = String::new();
    f.take(1 << 20).read_to_string(&mut s)?;
    Ok(s)
}

/// A value's round ceiling for the chart's scale: 1, 2 or 5 times a power of ten.
fn nice_ceiling(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|k| k * p).find(|v| *v >= x).unwrap_or(10.0 * p)
}

/// A response-time chart as inline SVG: p95 and p50 lines (broken where there is no
/// data), three grid lines with their values, first/last labels, and a tooltip per point.
pub fn chart_svg(s: &Series) -> String {
    const W: f64 = 900.0;
    const H: f64 = 200.0;
    const L: f64 = 56.0;
    const R: f64 = 8.0;
    const T: f64 = 10.0;
    const B: f64 = 24.0;
    let max = s.points.iter().flat_map(|p| [p.p50, p.p95]).flatten().fold(0f64, f64::max);
    if max <= 0.0 {
        return "<p class=\"nodata\">No response times in this period.</p>".into();
    }
    let top = nice_ceiling(max);
    let n = s.points.len().max(2);
    let x = |i: usize| L + i as f64 * (W - L - R) / (n - 1) as f64;
    let y = |v: f64| T + (1.0 - (v / top).clamp(0.0, 1.0)) * (H - T - B);
    let mut out = String::with_capacity(8 * 1024);
    let p50s: Vec<f64> = s.points.iter().filter_map(|p| p.p50).collect();
    let p95s: Vec<f64> = s.points.iter().filter_map(|p| p.p95).collect();
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"c{id}\"><title id=\"c{id}\">Response time, {label}: typical p50 {p50}, typical p95 {p95}</title>",
        id = s.id,
        label = s.label,
        p50 = median(&p50s).map(millis).unwrap_or_else(|| "no data".into()),
        p95 = median(&p95s).map(millis).unwrap_or_else(|| "no data".into()),
    );
    for k in 0..=2 {
        let v = top * f64::from(k) / 2.0;
        let yy = y(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{L}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/><text class=\"tick\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{t}</text>",
            x2 = W - R,
            tx = L - 6.0,
            ty = yy + 4.0,
            t = millis(v)
        );
    }
    for (class, get) in [("p95", (|p: &super::model::Point| p.p95) as fn(&_) -> _), ("p50", |p| p.p50)] {
        let mut d = String::new();
        let mut pen = false;
        for (i, p) in s.points.iter().enumerate() {
            match get(p) {
                Some(v) => {
                    d.push(if pen { 'L' } else { 'M' });
                    tenths(&mut d, x(i));
                    d.push(' ');
                    tenths(&mut d, y(v));
                    if !pen {
                        // A lone point still shows (a round cap on a zero-length line).
                        d.push_str("h0.01");
                    }
                    pen = true;
                }
                None => pen = false,
            }
        }
        if !d.is_empty() {
            let _ = write!(out, "<path class=\"{class}\" d=\"{d}\"/>");
        }
    }
    let (first, last) = (s.points.first(), s.points.last());
    if let (Some(a), Some(b)) = (first, last) {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{L}\" y=\"{ly}\">{}</text><text class=\"tick\" x=\"{rx}\" y=\"{ly}\" text-anchor=\"end\">{}</text>",
            crate::untrusted::html(&a.label, 40),
            crate::untrusted::html(&b.label, 40),
            ly = H - 6.0,
            rx = W - R,
        );
    }
    out.push_str("</svg>");
    out
}

/// A coordinate with one decimal (`123.4`), as `{:.1}` writes it but without the float
/// formatter: a chart has a few hundred of them and a site a thousand charts.
fn tenths(out: &mut String, v: f64) {
    let t = (v * 10.0).round();
    if !t.is_finite() || t.abs() >= 1e15 {
        let _ = write!(out, "{v:.1}");
        return;
    }
    if t < 0.0 {
        out.push('-');
    }
    let t = t.abs() as u64;
    crate::human::push_digits(out, t / 10);
    out.push('.');
    out.push(char::from(b'0' + (t % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_read_as_the_float_formatter_writes_them() {
        for v in [0.0, 1.0, 12.34, 199.96, 56.0, 843.75, 0.04, -3.26, 899.99] {
            let mut s = String::new();
            tenths(&mut s, v);
            let back: f64 = s.parse().unwrap();
            assert!((back - v).abs() <= 0.05 + 1e-9, "{v} → {s}");
            assert_eq!(s.split('.').nth(1).map(str::len), Some(1), "{s}");
        }
        let mut s = String::new();
        tenths(&mut s, f64::NAN);
        assert_eq!(s, "NaN");
    }
    use crate::pages::model::Point;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(83.0), 100.0);
        assert_eq!(nice_ceiling(101.0), 200.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    #[test]
    fn a_chart_breaks_its_lines_at_gaps() {
        let pt = |p: Option<f64>| Point { label: "x".into(), p50: p, p95: p.map(|v| v * 2.0) };
        let s =
            Series { id: "t", label: "test", points: vec![pt(Some(10.0)), pt(None), pt(Some(20.0)), pt(Some(30.0))] };
        let svg = chart_svg(&s);
        let p50 = svg.split("class=\"p50\" d=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(p50.matches('M').count(), 2, "{p50}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let empty = Series { id: "e", label: "e", points: vec![pt(None); 3] };
        assert!(chart_svg(&empty).contains("No response times"));
    }
}
