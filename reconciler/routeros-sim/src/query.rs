//! Evaluation of `print` query words (`?name`, `?-name`, `?name=x`, `?<name=x`, `?>name=x`, `?#ops`).
//!
//! Per item, a stack of booleans that is conceptually infinitely deep with `true`;
//! the item matches when no `false` is left on the stack after all words.

use std::cmp::Ordering;

use routeros_proto::Row;

/// A query word that does not parse (the router answers with a trap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadQuery(pub String);

/// Property lookup for query evaluation (implemented by [`Row`]).
pub trait Props {
    /// The value of property `name`.
    fn prop(&self, name: &str) -> Option<&str>;
}

impl Props for Row {
    fn prop(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

/// Whether `item` matches the query words (each without its leading `?`).
pub fn matches<P: Props + ?Sized>(item: &P, queries: &[String]) -> Result<bool, BadQuery> {
    let mut stack: Vec<bool> = Vec::new();
    for q in queries {
        if let Some(ops) = q.strip_prefix('#') {
            apply_ops(&mut stack, ops).map_err(|()| BadQuery(q.clone()))?;
        } else if let Some(rest) = q.strip_prefix('-') {
            stack.push(item.prop(rest).is_none());
        } else if let Some(rest) = q.strip_prefix('<') {
            let (k, v) = rest.split_once('=').ok_or_else(|| BadQuery(q.clone()))?;
            stack.push(item.prop(k).is_some_and(|have| compare(have, v) == Ordering::Less));
        } else if let Some(rest) = q.strip_prefix('>') {
            let (k, v) = rest.split_once('=').ok_or_else(|| BadQuery(q.clone()))?;
            stack.push(item.prop(k).is_some_and(|have| compare(have, v) == Ordering::Greater));
        } else {
            let rest = q.strip_prefix('=').unwrap_or(q);
            match rest.split_once('=') {
                Some((k, v)) => stack.push(item.prop(k) == Some(v)),
                None if rest.is_empty() => return Err(BadQuery(q.clone())),
                None => stack.push(item.prop(rest).is_some()),
            }
        }
    }
    Ok(stack.iter().all(|&b| b))
}

/// Numbers compare as numbers, `*HEX` ids as hex numbers, everything else as text.
fn compare(have: &str, want: &str) -> Ordering {
    if let (Ok(a), Ok(b)) = (have.parse::<i64>(), want.parse::<i64>()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (parse_id(have), parse_id(want)) {
        return a.cmp(&b);
    }
    have.cmp(want)
}

fn parse_id(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix('*')?, 16).ok()
}

fn get(stack: &[bool], index: usize) -> bool {
    // Index 0 is the top; below the bottom the stack is all `true`.
    stack.len().checked_sub(index + 1).map(|i| stack[i]).unwrap_or(true)
}

fn pop(stack: &mut Vec<bool>) -> bool {
    stack.pop().unwrap_or(true)
}

fn apply_ops(stack: &mut Vec<bool>, ops: &str) -> Result<(), ()> {
    let bytes = ops.as_bytes();
    let mut i = 0;
    let mut after_index = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let index: usize = ops[start..i].parse().map_err(|_| ())?;
            let value = get(stack, index);
            if i == bytes.len() {
                // An index at the end of the word replaces the whole stack.
                stack.clear();
                stack.push(value);
                return Ok(());
            }
            stack.push(value);
            after_index = true;
            continue;
        }
        match c {
            b'!' => {
                let v = pop(stack);
                stack.push(!v);
            }
            b'&' => {
                let (a, b) = (pop(stack), pop(stack));
                stack.push(a && b);
            }
            b'|' => {
                let (a, b) = (pop(stack), pop(stack));
                stack.push(a || b);
            }
            b'.' => {
                if !after_index {
                    let top = get(stack, 0);
                    stack.push(top);
                }
            }
            _ => return Err(()),
        }
        after_index = false;
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        pairs.iter().copied().collect()
    }

    fn q(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn query_or_of_two_types_matches_either() {
        let ether = row(&[("type", "ether")]);
        let vlan = row(&[("type", "vlan")]);
        let wlan = row(&[("type", "wlan")]);
        let words = q(&["type=ether", "type=vlan", "#|"]);
        assert_eq!(matches(&ether, &words), Ok(true));
        assert_eq!(matches(&vlan, &words), Ok(true));
        assert_eq!(matches(&wlan, &words), Ok(false));
    }

    #[test]
    fn query_not_equal_negates() {
        let words = q(&["=disabled=true", "#!"]);
        assert_eq!(matches(&row(&[("disabled", "false")]), &words), Ok(true));
        assert_eq!(matches(&row(&[("disabled", "true")]), &words), Ok(false));
    }

    #[test]
    fn query_has_and_lacks_property() {
        let r = row(&[("comment", "x")]);
        assert_eq!(matches(&r, &q(&["comment"])), Ok(true));
        assert_eq!(matches(&r, &q(&["-comment"])), Ok(false));
        assert_eq!(matches(&r, &q(&["-other"])), Ok(true));
    }

    #[test]
    fn query_greater_than_empty_means_non_empty() {
        assert_eq!(matches(&row(&[("comment", "x")]), &q(&[">comment="])), Ok(true));
        assert_eq!(matches(&row(&[("comment", "")]), &q(&[">comment="])), Ok(false));
        assert_eq!(matches(&row(&[("n", "10")]), &q(&["<n=9"])), Ok(false));
        assert_eq!(matches(&row(&[("n", "10")]), &q(&[">n=9"])), Ok(true));
    }

    #[test]
    fn query_and_of_three_matches_only_all() {
        let words = q(&["a=1", "b=2", "c=3", "#&&"]);
        assert_eq!(matches(&row(&[("a", "1"), ("b", "2"), ("c", "3")]), &words), Ok(true));
        assert_eq!(matches(&row(&[("a", "1"), ("b", "2"), ("c", "4")]), &words), Ok(false));
    }

    #[test]
    fn query_index_at_end_replaces_stack() {
        // Stack after the words: [false(a=9), true(b=2)]; "#1" keeps only index 1 (false).
        let r = row(&[("a", "1"), ("b", "2")]);
        assert_eq!(matches(&r, &q(&["a=9", "b=2", "#1"])), Ok(false));
        assert_eq!(matches(&r, &q(&["a=9", "b=2", "#0"])), Ok(true));
    }

    #[test]
    fn query_index_then_op_pushes_copy() {
        // [false, true] -> "#1|" pushes copy of index 1 (false) -> [false, true, false] -> | -> [false, true]
        let r = row(&[("b", "2")]);
        assert_eq!(matches(&r, &q(&["a=9", "b=2", "#1|"])), Ok(false));
        // "#.!" duplicates the top then negates it: [true] -> [true, true] -> [true, false]
        assert_eq!(matches(&r, &q(&["b=2", "#.!"])), Ok(false));
        // "#0.|": index then '.' does nothing, then | ORs the copy with the top.
        assert_eq!(matches(&r, &q(&["b=2", "#0.|"])), Ok(true));
    }

    #[test]
    fn query_bad_op_is_error() {
        assert!(matches(&Row::new(), &q(&["#x"])).is_err());
        assert!(matches(&Row::new(), &q(&["<novalue"])).is_err());
    }
}
