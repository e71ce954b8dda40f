//! Shared text for values repeated across millions of rows (station and
//! charge point ids): each distinct string is allocated once.

use std::sync::Arc;

use rustc_hash::FxHashMap;

/// Hands out one `Arc<str>` per distinct string.
#[derive(Debug, Default)]
pub struct Interner {
    ids: FxHashMap<Box<str>, Arc<str>>,
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.ids.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.ids.insert(s.into(), a.clone());
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_allocation_per_distinct_string() {
        let mut i = Interner::default();
        let (a, b, c) = (i.get("CP1"), i.get("CP1"), i.get("CP2"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
