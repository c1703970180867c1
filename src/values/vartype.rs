//! The type of a rule variable, as CEL sees it: what a check kind declares for each
//! variable it offers (`checks::Kind::VARIABLES`) and what `rules` type-checks against.

/// The type of a variable as CEL sees it (every number is a double, see `rules::to_cel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ty {
    Bool,
    Number,
    Str,
    List(&'static Ty),
    /// A map with string keys, such as `labels` or `records` (from `records.<name>`).
    Map(&'static Ty),
    /// Any JSON value (e.g. `days_to_full`: a number, or `"unknown"`).
    Dyn,
}

impl Ty {
    pub fn name(self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Number => "number".into(),
            Ty::Str => "string".into(),
            Ty::List(t) => format!("list of {}", t.name()),
            Ty::Map(t) => format!("map of {}", t.name()),
            Ty::Dyn => "any".into(),
        }
    }
}

/// Short names for the kinds' variable tables.
pub mod short {
    use super::Ty;
    pub use Ty::{Bool as B, Dyn as D, Number as N, Str as S};
    pub const LIST_S: Ty = Ty::List(&S);
    pub const LIST_D: Ty = Ty::List(&D);
    pub const MAP_S: Ty = Ty::Map(&S);
    pub const MAP_N: Ty = Ty::Map(&N);
}
