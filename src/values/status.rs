//! Expected HTTP status codes and one-or-many strings, as users write them.

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize};

/// Expected status codes.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusSpec {
    One(StatusItem),
    Many(Vec<StatusItem>),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusItem {
    /// An exact code such as 200.
    Code(u16),
    /// A class such as "2xx" (written as a string).
    #[schemars(with = "String")]
    Class(#[serde(serialize_with = "ser_class")] u16),
}

fn ser_class<S: serde::Serializer>(c: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{c}xx"))
}

impl StatusItem {
    pub fn matches(self, code: u16) -> bool {
        match self {
            StatusItem::Code(c) => c == code,
            StatusItem::Class(c) => code / 100 == c,
        }
    }
}

impl StatusSpec {
    pub fn items(&self) -> Vec<StatusItem> {
        match self {
            StatusSpec::One(i) => vec![*i],
            StatusSpec::Many(v) => v.clone(),
        }
    }
    pub fn matches(&self, code: u16) -> bool {
        self.items().iter().any(|i| i.matches(code))
    }
    pub fn describe(&self) -> String {
        self.items()
            .iter()
            .map(|i| match i {
                StatusItem::Code(c) => c.to_string(),
                StatusItem::Class(c) => format!("{c}xx"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn parse_status_item(s: &str) -> Result<StatusItem, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower.len() == 3 && lower.ends_with("xx") {
        if let Some(d) = lower.chars().next().and_then(|c| c.to_digit(10)) {
            if (1..=5).contains(&d) {
                return Ok(StatusItem::Class(d as u16));
            }
        }
    }
    match t.parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) => Ok(StatusItem::Code(c)),
        _ => Err(format!("invalid status {t:?}; use a code like 200 or a class like \"2xx\"")),
    }
}

impl<'de> Deserialize<'de> for StatusItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = StatusItem;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status code like 200 or a class like \"2xx\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusItem, E> {
                match u16::try_from(v) {
                    Ok(c) if (100..=599).contains(&c) => Ok(StatusItem::Code(c)),
                    _ => Err(E::custom(format!("status code {v} is not between 100 and 599"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusItem, E> {
                Err(E::custom(format!("status code {v} is not between 100 and 599")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusItem, E> {
                parse_status_item(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for StatusSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = StatusSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status code (200), a class (\"2xx\") or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusSpec, E> {
                StatusItem::deserialize(de::value::U64Deserializer::<E>::new(v)).map(StatusSpec::One)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusSpec, E> {
                StatusItem::deserialize(de::value::I64Deserializer::<E>::new(v)).map(StatusSpec::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusSpec, E> {
                parse_status_item(v).map(StatusSpec::One).map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StatusSpec, A::Error> {
                let mut out = Vec::new();
                while let Some(i) = seq.next_element::<StatusItem>()? {
                    out.push(i);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("expected_status list is empty"));
                }
                Ok(StatusSpec::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One string or a list of strings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(|s| s.as_str()).collect(),
        }
    }
}
