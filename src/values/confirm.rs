//! In-run confirmation of a failure (`confirm:` in `defaults` and on a monitor).

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize};

use super::duration::Dur;

/// In-run confirmation of a failure: up to `attempts` re-checks, the first after `pause`,
/// each next one after twice the previous pause. Distinct from `retries`, which repeat a
/// retryable request at once inside one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Confirm {
    /// Re-checks after the first failure; 0 is off.
    pub attempts: u32,
    pub pause: Dur,
}

/// Two re-checks, 3 s and then 6 s after the one before: a failed request or a failure
/// window of up to ~9 s is a blip, not an outage (see the README's "Alert quality").
pub const CONFIRM_DEFAULT: Confirm = Confirm { attempts: 2, pause: Dur::secs(3) };

impl Default for Confirm {
    fn default() -> Self {
        CONFIRM_DEFAULT
    }
}

impl Confirm {
    pub const OFF: Confirm = Confirm { attempts: 0, pause: Dur::secs(0) };
    pub fn is_on(&self) -> bool {
        self.attempts > 0
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmFields {
    /// Re-checks after the first failure (1 to 10; default 2).
    #[serde(default)]
    attempts: Option<u32>,
    /// Pause before the first re-check; each next pause doubles (default 3s, at most 60s).
    #[serde(default)]
    pause: Option<Dur>,
}

/// `true`/`false`, or `{attempts, pause}`.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
pub(crate) enum ConfirmSchema {
    OnOff(bool),
    Settings(ConfirmFields),
}

impl<'de> Deserialize<'de> for Confirm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Confirm;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`false`, `true`, or {attempts: 2, pause: 3s}")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Confirm, E> {
                Ok(if v { CONFIRM_DEFAULT } else { Confirm::OFF })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Confirm, A::Error> {
                let f = ConfirmFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let c = Confirm {
                    attempts: f.attempts.unwrap_or(CONFIRM_DEFAULT.attempts),
                    pause: f.pause.unwrap_or(CONFIRM_DEFAULT.pause),
                };
                if c.attempts > 10 {
                    return Err(de::Error::custom(format!(
                        "confirm.attempts must be between 0 and 10, got {}; 2 re-checks catch blips",
                        c.attempts
                    )));
                }
                if c.pause.get() > std::time::Duration::from_secs(60) {
                    return Err(de::Error::custom(format!(
                        "confirm.pause must be at most 60s, got {}; the run waits for it",
                        crate::human::format_duration(c.pause.get())
                    )));
                }
                Ok(c)
            }
        }
        d.deserialize_any(V)
    }
}
