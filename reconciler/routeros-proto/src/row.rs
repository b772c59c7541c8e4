//! [`Row`]: the `=k=v` attributes of one sentence.

use std::fmt;

/// Attributes of a sentence (`=k=v` words) in the order they came, one value per name.
///
/// A `print` returns one `Row` per `!re`; `.id` is the item's internal id (`*1A`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Row {
    pairs: Vec<(String, String)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Row {
        Row::default()
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name in place.
    pub fn insert(&mut self, name: &str, value: &str) {
        match self.pairs.iter_mut().find(|(k, _)| k == name) {
            Some(pair) => value.clone_into(&mut pair.1),
            None => self.pairs.push((name.to_owned(), value.to_owned())),
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(k, _)| k == name)?;
        Some(self.pairs.remove(i).1)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (even with an empty value).
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The `.id` attribute.
    pub fn id(&self) -> Option<&str> {
        self.get(".id")
    }

    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Row {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Row {
        let mut row = Row::new();
        for (k, v) in iter {
            row.insert(k.as_ref(), v.as_ref());
        }
        row
    }
}

impl IntoIterator for Row {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_insert_same_name_replaces_in_place() {
        let mut r: Row = [("a", "1"), ("b", "2")].into_iter().collect();
        r.insert("a", "3");
        assert_eq!(r.iter().collect::<Vec<_>>(), [("a", "3"), ("b", "2")]);
        assert_eq!(r.remove("a").as_deref(), Some("3"));
        assert!(!r.contains("a"));
    }
}
