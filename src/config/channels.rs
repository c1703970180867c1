//! The alert channels' config sections: each channel's options type beside what it says
//! about itself ([`ChannelConfig`]: whether it is on, its secrets for redaction, its
//! checks), and the one list of channels ([`channels!`]) that makes `alerts:` and
//! `--channel` from them. Adding a channel's settings is its section here and one line in
//! the list; the sending side is its file in `src/alerts/` and one line in
//! `alerts::channel::configured`.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Deserialize;

use super::model::{d_true, MaintenanceWindow};
use crate::values::{Dur, Secret, Severity};

/// What a channel's settings say about themselves, for the loader and `validate`.
pub trait ChannelConfig {
    /// `enabled:` (a channel without the key is on).
    fn enabled(&self) -> bool;
    /// Every secret in the settings (URLs with tokens, keys, passwords), for redaction.
    /// No default: a channel whose secrets are forgotten would print them.
    fn secrets(&self, out: &mut Secrets);
    /// Checks beyond serde's, on an enabled channel; `at` is `alerts.<name>`. Settings
    /// that are secrets are named in errors, never shown; empty ones are left to the
    /// channel, which says at send time what to set.
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String));
}

macro_rules! channels {
    ($($(#[doc = $doc:literal])* $field:ident: $ty:ty),+ $(,)?) => {
        #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct AlertsConfig {
            $($(#[doc = $doc])* #[serde(default)] pub $field: Option<$ty>,)+
            /// Windows in which alerts are suppressed (checks still run).
            #[serde(default)]
            pub maintenance: Vec<MaintenanceWindow>,
        }

        /// Every channel's name (`alerts.<name>`, `--channel`), in the order of the list.
        pub const CHANNELS: &[&str] = &[$(stringify!($field)),+];

        impl AlertsConfig {
            /// The channels that have a section, by name, whether enabled or not.
            pub fn sections(&self) -> Vec<(&'static str, &dyn ChannelConfig)> {
                let mut out: Vec<(&'static str, &dyn ChannelConfig)> = Vec::new();
                $(if let Some(c) = &self.$field {
                    out.push((stringify!($field), c));
                })+
                out
            }
        }
    };
}

// The one list of channel sections: `alerts.<name>: Options`.
channels! {
    /// GitHub issues: one per alert, opened, updated and closed with it.
    github: GithubAlerts,
    /// A Slack incoming webhook (Block Kit).
    slack: SlackAlerts,
    /// Email over SMTP.
    email: EmailAlerts,
    /// A dead man's switch pinged at the end of every run.
    heartbeat: HeartbeatAlerts,
    /// A generic JSON webhook, optionally signed (`X-Vaktpost-Signature`) and templated.
    webhook: WebhookAlerts,
    /// A Discord channel webhook (embeds coloured by severity).
    discord: DiscordAlerts,
    /// A Microsoft Teams Workflows (Power Automate) webhook, with an Adaptive Card.
    teams: TeamsAlerts,
    /// PagerDuty Events API v2: a `trigger` per opened alert, a `resolve` per resolved one.
    pagerduty: PagerdutyAlerts,
}

/// The secret values a config holds, for redaction; values under 3 characters are dropped.
#[derive(Default)]
pub struct Secrets(pub BTreeSet<String>);

impl Secrets {
    pub fn add(&mut self, x: &Secret) {
        self.add_str(x.expose());
    }

    pub fn add_str(&mut self, x: &str) {
        if x.len() >= 3 {
            self.0.insert(x.to_string());
        }
    }

    /// A webhook URL, and the parts of it that may show up on their own (an echoed path, a
    /// query value): its long path segments and secret-looking parameters.
    pub fn add_url(&mut self, x: &Secret) {
        self.add(x);
        if let Ok(u) = url::Url::parse(x.expose().trim()) {
            for seg in u.path_segments().into_iter().flatten().filter(|p| p.len() >= 20) {
                self.add_str(seg);
            }
        }
        for part in crate::redact::url_secrets(x.expose()) {
            self.add_str(&part);
        }
    }
}

/// A secret setting with something in it.
fn set(s: Option<&Secret>) -> Option<&Secret> {
    s.filter(|u| !u.expose().trim().is_empty())
}

/// An http(s) endpoint setting `at.key`, checked without showing it.
fn endpoint(at: &str, key: &str, u: Option<&Secret>, example: &str, err: &mut dyn FnMut(&str, String)) {
    if let Some(u) = set(u) {
        let setting = format!("{at}.{key}");
        if let Err(e) = super::endpoints::parse_endpoint(u, &setting, example) {
            err(&setting, unprefixed(&e, &setting));
        }
    }
}

/// A channel's error without its leading setting name, which the diagnostic already shows.
pub(super) fn unprefixed(e: &str, setting: &str) -> String {
    e.strip_prefix(setting).map(str::trim_start).unwrap_or(e).to_string()
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// `owner/name`; defaults to `$GITHUB_REPOSITORY`.
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub assignees: Vec<String>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub remind_every: Option<Dur>,
    /// `new` (open a new issue) or `reopen` (reopen the last one).
    #[serde(default)]
    pub reopen: Option<String>,
    /// Keep hostnames and URLs out of issue bodies (public repositories).
    #[serde(default)]
    pub redact_targets: bool,
}

impl ChannelConfig for GithubAlerts {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn secrets(&self, _: &mut Secrets) {}
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        if let Some(r) = self.reopen.as_deref().filter(|r| !matches!(*r, "new" | "reopen")) {
            err(&format!("{at}.reopen"), format!("must be \"new\" or \"reopen\", got {r:?}"));
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Defaults to `$SLACK_WEBHOOK_URL`.
    #[serde(default)]
    pub webhook_url: Option<Secret>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

impl ChannelConfig for SlackAlerts {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn secrets(&self, out: &mut Secrets) {
        if let Some(u) = &self.webhook_url {
            out.add(u);
        }
    }
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        endpoint(at, "webhook_url", self.webhook_url.as_ref(), "https://hooks.slack.com/services/…", err);
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// `smtp://user:pass@host:587` (STARTTLS) or `smtps://…:465`.
    #[serde(default)]
    pub smtp_url: Option<Secret>,
    #[serde(default)]
    pub from: Option<String>,
    /// Defaults to `$ALERT_EMAIL`.
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// PEM file of CA certificates to trust beside the built-in roots, for an SMTP server
    /// whose certificate a private CA signed (or a self-signed one to pin); relative to the
    /// working directory.
    #[serde(default)]
    pub ca_file: Option<String>,
}

impl ChannelConfig for EmailAlerts {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn secrets(&self, out: &mut Secrets) {
        if let Some(u) = &self.smtp_url {
            out.add(u);
        }
    }
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        if let Some(u) = set(self.smtp_url.as_ref()) {
            if let Err(e) = super::endpoints::parse_smtp_url(u) {
                let setting = format!("{at}.smtp_url");
                err(&setting, unprefixed(&e, &setting));
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatAlerts {
    pub url: Secret,
}

impl ChannelConfig for HeartbeatAlerts {
    fn enabled(&self) -> bool {
        true
    }
    fn secrets(&self, out: &mut Secrets) {
        out.add(&self.url);
    }
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        if let Some(u) = set(Some(&self.url)) {
            if let Err(e) = super::endpoints::ping_url(u, true) {
                let setting = format!("{at}.url");
                err(&setting, unprefixed(&e, &setting));
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// The http(s) URL that receives a POST per notice; a secret (it often carries a token).
    pub url: Secret,
    /// Signs each body: `X-Vaktpost-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// A MiniJinja template of the JSON body, over the default body's fields (`events`,
    /// `title`, `run_url`, …); values are inserted as JSON. Default: the documented body.
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

impl ChannelConfig for WebhookAlerts {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn secrets(&self, out: &mut Secrets) {
        out.add_url(&self.url);
        if let Some(k) = &self.secret {
            out.add(k);
        }
    }
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        endpoint(at, "url", Some(&self.url), "https://hooks.example.com/vaktpost", err);
        if let Some(t) = &self.template {
            if let Err(e) = super::template::check(t) {
                err(&format!("{at}.template"), e);
            }
        }
        if self.secret.as_ref().is_some_and(|s| s.expose().is_empty()) {
            err(&format!("{at}.secret"), "is empty; set a shared secret (${WEBHOOK_SECRET}) or remove the key".into());
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscordAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// `https://discord.com/api/webhooks/<id>/<token>`; a secret.
    pub webhook_url: Secret,
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

impl ChannelConfig for DiscordAlerts {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn secrets(&self, out: &mut Secrets) {
        out.add_url(&self.webhook_url);
    }
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        endpoint(at, "webhook_url", Some(&self.webhook_url), "https://discord.com/api/webhooks/<id>/<token>", err);
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamsAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// The URL of a Teams Workflows "When a Teams webhook request is received" trigger; a
    /// secret (its `sig` parameter signs the request).
    pub webhook_url: Secret,
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

impl ChannelConfig for TeamsAlerts {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn secrets(&self, out: &mut Secrets) {
        out.add_url(&self.webhook_url);
    }
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        endpoint(
            at,
            "webhook_url",
            Some(&self.webhook_url),
            "the HTTP POST URL of a Teams Workflows \"When a Teams webhook request is received\" trigger",
            err,
        );
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// The 32-character integration (routing) key of an Events API v2 integration; a secret.
    pub routing_key: Secret,
    /// Default `https://events.pagerduty.com/v2/enqueue` (PagerDuty's public endpoint; the
    /// EU one is `https://events.eu.pagerduty.com/v2/enqueue`).
    #[serde(default)]
    pub events_url: Option<String>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

impl ChannelConfig for PagerdutyAlerts {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn secrets(&self, out: &mut Secrets) {
        out.add(&self.routing_key);
    }
    fn validate(&self, at: &str, err: &mut dyn FnMut(&str, String)) {
        if let Some(e) = &self.events_url {
            endpoint(at, "events_url", Some(&Secret::new(e.clone())), super::endpoints::PAGERDUTY_EVENTS_URL, err);
        }
        let k = self.routing_key.expose().trim();
        // Empty (`${PAGERDUTY_ROUTING_KEY:-}`) is left to the channel, which says what to set.
        let is_key = k.len() == 32 && k.chars().all(|c| c.is_ascii_alphanumeric());
        if !k.is_empty() && !is_key {
            err(
                &format!("{at}.routing_key"),
                "is not a PagerDuty integration key (32 letters and digits); copy the Integration Key of an Events API v2 integration on the service".into(),
            );
        }
    }
}
