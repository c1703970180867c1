//! Value types the config file is written in and the checks read: durations and sizes,
//! secrets, expected status codes, in-run confirmation, severities. A leaf (it imports no other
//! vaktpost module but `human`), so `checks` can use them without importing `config`,
//! which composes the kinds' options into the file format. `config` re-exports them
//! under their old paths (`config::Dur`, `config::duration::…`, `config::Secret`).

pub mod confirm;
pub mod duration;
pub mod glob;
pub mod hint;
pub mod secret;
pub mod severity;
pub mod status;
pub mod vartype;

pub use confirm::{Confirm, CONFIRM_DEFAULT};
pub use duration::{ByteSize, Dur};
pub use glob::globs;
pub use secret::Secret;
pub use severity::Severity;
pub use status::{OneOrMany, StatusItem, StatusSpec};
