//! [`Command`]: a builder for client sentences.

use bytes::BufMut;

use crate::{ProtoError, Sentence, encode_sentence};

/// A client command: path, attributes, `.proplist`, queries and `.tag`.
///
/// Words are emitted in the order: command word, attributes, `=.proplist=`,
/// queries, `.tag` (the same order as the protocol examples).
///
/// ```
/// use routeros_proto::Command;
/// let cmd = Command::new("/ppp/secret/print")
///     .proplist([".id", "name", "profile"])
///     .query_eq("name", "alice")
///     .tag("7");
/// assert_eq!(
///     cmd.to_sentence().words,
///     ["/ppp/secret/print", "=.proplist=.id,name,profile", "?name=alice", ".tag=7"]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    path: String,
    attributes: Vec<(String, String)>,
    proplist: Option<Vec<String>>,
    queries: Vec<String>,
    tag: Option<String>,
}

impl Command {
    /// A command with this command word, e.g. `/ppp/secret/add`.
    pub fn new(path: impl Into<String>) -> Command {
        Command { path: path.into(), attributes: Vec::new(), proplist: None, queries: Vec::new(), tag: None }
    }

    /// `path` joined with `verb`: `Command::on("/ppp/secret", "print")`.
    pub fn on(path: &str, verb: &str) -> Command {
        Command::new(format!("{}/{}", path.trim_end_matches('/'), verb))
    }

    /// Adds `=name=value`.
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Command {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Adds several `=name=value` words.
    pub fn attrs<I, K, V>(mut self, attrs: I) -> Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.attributes.extend(attrs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets `=.proplist=a,b,c` (only returned properties).
    pub fn proplist<I, S>(mut self, props: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.proplist = Some(props.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a raw query word; a leading `?` is added when missing.
    pub fn query(mut self, word: impl Into<String>) -> Command {
        let w: String = word.into();
        self.queries.push(if w.starts_with('?') { w } else { format!("?{w}") });
        self
    }

    /// `?name=value`: pushes "property equals value".
    pub fn query_eq(self, name: &str, value: &str) -> Command {
        self.query(format!("?{name}={value}"))
    }

    /// `?name`: pushes "item has property".
    pub fn query_has(self, name: &str) -> Command {
        self.query(format!("?{name}"))
    }

    /// `?-name`: pushes "item lacks property".
    pub fn query_lacks(self, name: &str) -> Command {
        self.query(format!("?-{name}"))
    }

    /// `?<name=value`.
    pub fn query_lt(self, name: &str, value: &str) -> Command {
        self.query(format!("?<{name}={value}"))
    }

    /// `?>name=value`.
    pub fn query_gt(self, name: &str, value: &str) -> Command {
        self.query(format!("?>{name}={value}"))
    }

    /// `?#ops`: stack operations (`!`, `&`, `|`, `.`, indexes).
    pub fn query_ops(self, ops: &str) -> Command {
        self.query(format!("?#{ops}"))
    }

    /// Sets `.tag=`.
    pub fn tag(mut self, tag: impl Into<String>) -> Command {
        self.tag = Some(tag.into());
        self
    }

    /// The command word.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if set.
    pub fn get_tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The words of this command as a [`Sentence`].
    pub fn to_sentence(&self) -> Sentence {
        let mut words = Vec::with_capacity(self.attributes.len() + self.queries.len() + 3);
        words.push(self.path.clone());
        for (k, v) in &self.attributes {
            words.push(format!("={k}={v}"));
        }
        if let Some(p) = &self.proplist {
            words.push(format!("=.proplist={}", p.join(",")));
        }
        words.extend(self.queries.iter().cloned());
        if let Some(t) = &self.tag {
            words.push(format!(".tag={t}"));
        }
        Sentence { words }
    }

    /// Appends the encoded sentence without building an intermediate [`Sentence`].
    pub fn encode(&self, out: &mut impl BufMut) -> Result<(), ProtoError> {
        let attrs: Vec<String> = self.attributes.iter().map(|(k, v)| format!("={k}={v}")).collect();
        let proplist = self.proplist.as_ref().map(|p| format!("=.proplist={}", p.join(",")));
        let tag = self.tag.as_ref().map(|t| format!(".tag={t}"));
        let words = std::iter::once(self.path.as_str())
            .chain(attrs.iter().map(String::as_str))
            .chain(proplist.as_deref())
            .chain(self.queries.iter().map(String::as_str))
            .chain(tag.as_deref());
        encode_sentence(words, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_encode_matches_sentence_encode() {
        let cmd = Command::on("/ip/firewall/address-list/", "add")
            .attr("list", "suspended")
            .attrs([("address", "10.20.0.15"), ("comment", "acct:1042")])
            .query_has("x")
            .query_lacks("y")
            .query_lt("a", "1")
            .query_gt("b", "2")
            .query_ops("|")
            .tag("9");
        let mut a = Vec::new();
        cmd.encode(&mut a).expect("encode");
        assert_eq!(a, cmd.to_sentence().to_bytes().expect("encode"));
        assert_eq!(
            cmd.to_sentence().words,
            [
                "/ip/firewall/address-list/add",
                "=list=suspended",
                "=address=10.20.0.15",
                "=comment=acct:1042",
                "?x",
                "?-y",
                "?<a=1",
                "?>b=2",
                "?#|",
                ".tag=9"
            ]
        );
    }
}
