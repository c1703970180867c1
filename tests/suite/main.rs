//! The integration suite, one test binary: each file here is one area's tests, and the
//! shared fakes and helpers (`support`, `github_fake`, …) are compiled once for all of them.
//! One binary links the dependency graph once instead of once per file, and services
//! started lazily by `support::services` (redis-server, Chroma) are shared by every test
//! that needs them. `tests/hostile.rs` stays its own binary: it bounds the process's peak
//! memory, which other tests in the same process would inflate.

mod alert_receiver;
mod github_branch_fake;
mod github_fake;
mod smtp_sink;
mod support;

mod alert_quality;
mod alerts_email;
mod alerts_github;
mod alerts_heartbeat;
mod alerts_slack;
mod alerts_webhooks;
mod channels_cli;
mod chroma;
mod cli;
mod config_props;
mod dns;
mod docs;
mod documented;
mod domain;
mod github_branch;
mod github_retry;
mod golden;
mod history;
mod http_check;
mod import;
mod layering;
mod log_files;
mod memory_endpoints;
mod metrics;
mod pages;
mod railway;
mod redis;
mod rules;
mod runlog;
mod schemas;
mod ship;
mod ssl;
mod status_page;
mod system;
mod tcp;
mod timing;
mod untrusted;
