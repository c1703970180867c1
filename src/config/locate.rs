//! Where each key and value sits in the YAML text. serde's data model has no positions,
//! so a second, event-level pass with yaml-rust2 maps key paths such as
//! `monitors[1].expected_status` to `line:column` for diagnostics.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Positions of keys and values by path.
#[derive(Debug, Default)]
pub struct LocationIndex {
    keys: HashMap<String, Pos>,
    values: HashMap<String, Pos>,
}

impl LocationIndex {
    pub fn build(text: &str) -> Self {
        let mut b = Builder { index: LocationIndex::default(), stack: Vec::new(), done: false };
        let mut parser = Parser::new_from_str(text);
        // A parse error here was already reported by the serde pass; keep what we have.
        let _ = parser.load(&mut b, false);
        b.index
    }

    /// The key's position if the path ends in a mapping key, else the value's.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).or_else(|| self.values.get(path)).copied()
    }

    /// The value's position, falling back to the key's, then to the nearest parent.
    pub fn value(&self, path: &str) -> Option<Pos> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.values.get(&p).or_else(|| self.keys.get(&p)) {
                return Some(*pos);
            }
            p = parent(&p)?;
        }
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → ``.
pub fn parent(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(path[..cut].to_string())
}

pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn join_index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

struct Builder {
    index: LocationIndex,
    stack: Vec<Frame>,
    done: bool,
}

impl Builder {
    fn pos(m: Marker) -> Pos {
        // yaml-rust2 lines are 1-based, columns 0-based.
        Pos { line: m.line(), column: m.col() + 1 }
    }

    /// Called for every node; returns the node's path, or None when it was a mapping key.
    fn node(&mut self, mark: Marker, scalar: Option<&str>) -> Option<String> {
        let pos = Self::pos(mark);
        match self.stack.last_mut() {
            None => {
                self.index.values.entry(String::new()).or_insert(pos);
                Some(String::new())
            }
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    let k = scalar.unwrap_or("?").to_string();
                    self.index.keys.insert(join_key(path, &k), pos);
                    *key = Some(k);
                    None
                }
                Some(k) => {
                    let p = join_key(path, &k);
                    self.index.values.insert(p.clone(), pos);
                    Some(p)
                }
            },
            Some(Frame::Seq { path, next }) => {
                let p = join_index(path, *next);
                *next += 1;
                self.index.values.insert(p.clone(), pos);
                Some(p)
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.done {
            return;
        }
        match ev {
            Event::Scalar(s, ..) => {
                self.node(mark, Some(&s));
            }
            Event::Alias(_) => {
                self.node(mark, None);
            }
            Event::MappingStart(..) => {
                // A mapping used as a key is unusual; give it a placeholder name.
                let path = self.node(mark, None).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.node(mark, None).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::DocumentEnd => self.done = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_lines_and_columns() {
        let text = "monitors:\n  - name: a\n    type: http\n  - name: b\n    expectd_status: 200\n";
        let idx = LocationIndex::build(text);
        assert_eq!(idx.key("monitors[1].expectd_status"), Some(Pos { line: 5, column: 5 }));
        assert_eq!(idx.value("monitors[0].type"), Some(Pos { line: 3, column: 11 }));
        // An absent key falls back to its monitor's position.
        assert_eq!(idx.value("monitors[1].nope").map(|p| p.line), Some(4));
    }
}
