//! Sentences: framing (parse/encode) and the meaning of their words (§1.3, §1.4).

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::word::{decode_length, decode_text, encode_word};
use crate::{ProtoError, Row};

/// One sentence: the words between two zero-length words, decoded as text.
///
/// Words are kept verbatim; [`Sentence::classify`]-style helpers and
/// [`Reply`]/[`Request`] give them meaning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sentence {
    /// The words in order, first word first.
    pub words: Vec<String>,
}

impl Sentence {
    /// A sentence of these words.
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Sentence { words: words.into_iter().map(Into::into).collect() }
    }

    /// Takes one complete sentence off the front of `buf`.
    ///
    /// * `Ok(None)`: `buf` does not yet hold a whole sentence; nothing was consumed.
    /// * `Ok(Some(s))`: the sentence and its terminating zero-length word were consumed.
    /// * `Err(_)`: the stream is corrupt (reserved control byte); close the connection.
    ///
    /// Empty sentences (a lone zero-length word) are skipped, as the router does.
    pub fn parse(buf: &mut BytesMut) -> Result<Option<Sentence>, ProtoError> {
        Self::parse_with_limit(buf, u64::from(u32::MAX))
    }

    /// Like [`Sentence::parse`], but rejects any word longer than `max_word`
    /// bytes with [`ProtoError::WordTooLong`] before buffering it, so a peer
    /// cannot make the reader buffer gigabytes.
    pub fn parse_with_limit(buf: &mut BytesMut, max_word: u64) -> Result<Option<Sentence>, ProtoError> {
        loop {
            // First pass: find the end of the sentence without consuming anything.
            let mut pos = 0usize;
            let mut spans = Vec::new();
            loop {
                let Some((len, prefix)) = decode_length(&buf[pos..])? else {
                    return Ok(None);
                };
                if len > max_word {
                    return Err(ProtoError::WordTooLong(len));
                }
                let len = usize::try_from(len).map_err(|_| ProtoError::WordTooLong(len))?;
                let start = pos + prefix;
                if len == 0 {
                    pos = start;
                    break;
                }
                let end = start.checked_add(len).ok_or(ProtoError::WordTooLong(len as u64))?;
                if buf.len() < end {
                    return Ok(None);
                }
                spans.push((start, end));
                pos = end;
            }
            let frame = buf.split_to(pos);
            if spans.is_empty() {
                continue;
            }
            let words = spans.iter().map(|&(s, e)| decode_text(&frame[s..e])).collect();
            return Ok(Some(Sentence { words }));
        }
    }

    /// Appends the encoded sentence (words + terminating zero-length word).
    pub fn encode(&self, out: &mut impl BufMut) -> Result<(), ProtoError> {
        encode_sentence(self.words.iter().map(String::as_str), out)
    }

    /// The encoded bytes of this sentence.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProtoError> {
        let mut v = Vec::new();
        self.encode(&mut v)?;
        Ok(v)
    }

    /// The first word, if any.
    pub fn first(&self) -> Option<&str> {
        self.words.first().map(String::as_str)
    }

    /// The value of the `.tag` API attribute, if present.
    pub fn tag(&self) -> Option<&str> {
        self.words.iter().find_map(|w| match Word::classify(w) {
            Word::ApiAttribute { name: "tag", value } => Some(value),
            _ => None,
        })
    }
}

impl fmt::Display for Sentence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.words.join(" "))
    }
}

/// Appends one sentence made of `words` plus the terminating zero-length word.
pub fn encode_sentence<'a, I>(words: I, out: &mut impl BufMut) -> Result<(), ProtoError>
where
    I: IntoIterator<Item = &'a str>,
{
    for w in words {
        encode_word(w.as_bytes(), out)?;
    }
    out.put_u8(0);
    Ok(())
}

/// What one word means, by its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word<'a> {
    /// `/path/command`.
    Command(&'a str),
    /// `!re`, `!done`, ... (also unknown `!xyz` words, as their text).
    Reply(&'a str),
    /// `=name=value`, split on the first two `=` only.
    Attribute { name: &'a str, value: &'a str },
    /// `.name=value` (in practice only `.tag`).
    ApiAttribute { name: &'a str, value: &'a str },
    /// `?...` (the text after `?`).
    Query(&'a str),
    /// Anything else (e.g. the reason after `!fatal`).
    Other(&'a str),
}

impl<'a> Word<'a> {
    /// Classifies `word`.
    pub fn classify(word: &'a str) -> Word<'a> {
        if let Some(rest) = word.strip_prefix('=') {
            let (name, value) = rest.split_once('=').unwrap_or((rest, ""));
            Word::Attribute { name, value }
        } else if let Some(rest) = word.strip_prefix('.') {
            match rest.split_once('=') {
                Some((name, value)) => Word::ApiAttribute { name, value },
                None => Word::Other(word),
            }
        } else if let Some(rest) = word.strip_prefix('?') {
            Word::Query(rest)
        } else if word.starts_with('/') {
            Word::Command(word)
        } else if word.starts_with('!') {
            Word::Reply(word)
        } else {
            Word::Other(word)
        }
    }
}

/// The five reply words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// `!re`: one data row.
    Re,
    /// `!done`: the last reply of a command.
    Done,
    /// `!trap`: an error; a `!done` follows.
    Trap,
    /// `!fatal`: the router closes the connection.
    Fatal,
    /// `!empty`: no rows (RouterOS 7.18+); a `!done` follows.
    Empty,
}

impl ReplyKind {
    /// Parses `!re`, `!done`, `!trap`, `!fatal`, `!empty`.
    pub fn parse(word: &str) -> Option<ReplyKind> {
        Some(match word {
            "!re" => ReplyKind::Re,
            "!done" => ReplyKind::Done,
            "!trap" => ReplyKind::Trap,
            "!fatal" => ReplyKind::Fatal,
            "!empty" => ReplyKind::Empty,
            _ => return None,
        })
    }

    /// The reply word.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyKind::Re => "!re",
            ReplyKind::Done => "!done",
            ReplyKind::Trap => "!trap",
            ReplyKind::Fatal => "!fatal",
            ReplyKind::Empty => "!empty",
        }
    }
}

/// A router sentence with its meaning pulled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Which reply word it starts with.
    pub kind: ReplyKind,
    /// `.tag` if present.
    pub tag: Option<String>,
    /// `=k=v` attributes, in order.
    pub attributes: Row,
    /// For `!fatal`: the bare-text reason word(s), joined by a space.
    pub fatal_reason: Option<String>,
}

impl Reply {
    /// A reply of `kind` with no attributes.
    pub fn new(kind: ReplyKind) -> Reply {
        Reply { kind, tag: None, attributes: Row::new(), fatal_reason: None }
    }

    /// Sets the tag (builder style).
    pub fn with_tag(mut self, tag: Option<&str>) -> Reply {
        self.tag = tag.map(str::to_owned);
        self
    }

    /// Adds one attribute (builder style).
    pub fn with_attr(mut self, name: &str, value: &str) -> Reply {
        self.attributes.insert(name, value);
        self
    }

    /// `!trap` with `=message=` (and `=category=` when given).
    pub fn trap(category: Option<u8>, message: &str) -> Reply {
        let mut r = Reply::new(ReplyKind::Trap);
        if let Some(c) = category {
            r.attributes.insert("category", &c.to_string());
        }
        r.attributes.insert("message", message);
        r
    }

    /// `!fatal` with its reason.
    pub fn fatal(reason: &str) -> Reply {
        Reply { fatal_reason: Some(reason.to_owned()), ..Reply::new(ReplyKind::Fatal) }
    }

    /// Interprets a sentence received from a router.
    pub fn from_sentence(s: Sentence) -> Result<Reply, ProtoError> {
        let mut words = s.words.into_iter();
        let first = words.next().ok_or(ProtoError::EmptySentence)?;
        let kind = ReplyKind::parse(&first).ok_or(ProtoError::UnknownReply(first))?;
        let mut reply = Reply::new(kind);
        let mut other = Vec::new();
        for w in words {
            match Word::classify(&w) {
                Word::Attribute { name, value } => reply.attributes.insert(name, value),
                Word::ApiAttribute { name: "tag", value } => reply.tag = Some(value.to_owned()),
                Word::ApiAttribute { .. } => {}
                _ => other.push(w),
            }
        }
        if kind == ReplyKind::Fatal {
            reply.fatal_reason = Some(other.join(" "));
        }
        Ok(reply)
    }

    /// The sentence to send for this reply (server side, e.g. a simulator).
    pub fn to_sentence(&self) -> Sentence {
        // A router puts `.tag` right after the reply word (`!re .tag=7 =name=x`).
        let mut words = vec![self.kind.as_str().to_owned()];
        if let Some(t) = &self.tag {
            words.push(format!(".tag={t}"));
        }
        if let Some(reason) = &self.fatal_reason {
            words.push(reason.clone());
        }
        for (k, v) in self.attributes.iter() {
            words.push(format!("={k}={v}"));
        }
        Sentence { words }
    }

    /// `=message=` of a trap.
    pub fn message(&self) -> Option<&str> {
        self.attributes.get("message")
    }

    /// `=category=` of a trap, when numeric.
    pub fn category(&self) -> Option<u8> {
        self.attributes.get("category").and_then(|c| c.parse().ok())
    }

    /// `=ret=` of a `!done`.
    pub fn ret(&self) -> Option<&str> {
        self.attributes.get("ret")
    }
}

/// A client sentence with its meaning pulled out (what a router, or a simulator, receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command word, e.g. `/ppp/secret/print`.
    pub command: String,
    /// `=k=v` attributes, in order (including `.proplist`, which is sent as `=.proplist=`).
    pub attributes: Row,
    /// `.tag` if present and non-empty.
    pub tag: Option<String>,
    /// Query words without their leading `?`, in order.
    pub queries: Vec<String>,
}

impl Request {
    /// Interprets a sentence received from a client.
    pub fn from_sentence(s: &Sentence) -> Result<Request, ProtoError> {
        let mut words = s.words.iter();
        let first = words.next().ok_or(ProtoError::EmptySentence)?;
        if !first.starts_with('/') {
            return Err(ProtoError::NotACommand(first.clone()));
        }
        let mut req = Request { command: first.clone(), attributes: Row::new(), tag: None, queries: Vec::new() };
        for w in words {
            match Word::classify(w) {
                Word::Attribute { name, value } => req.attributes.insert(name, value),
                Word::ApiAttribute { name: "tag", value } if !value.is_empty() => {
                    req.tag = Some(value.to_owned());
                }
                Word::Query(q) => req.queries.push(q.to_owned()),
                _ => {}
            }
        }
        Ok(req)
    }

    /// The `.proplist` attribute split on commas, if given.
    pub fn proplist(&self) -> Option<Vec<&str>> {
        self.attributes.get(".proplist").map(|p| p.split(',').filter(|s| !s.is_empty()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex_bytes(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).expect("hex")
    }

    #[test]
    fn sentence_login_example_encodes_exactly() {
        let s = Sentence::new(["/login", "=name=admin", "=password=secret"]);
        let want = hex_bytes(
            "06 2f 6c 6f 67 69 6e
             0b 3d 6e 61 6d 65 3d 61 64 6d 69 6e
             10 3d 70 61 73 73 77 6f 72 64 3d 73 65 63 72 65 74
             00",
        );
        assert_eq!(s.to_bytes().expect("encode"), want);
        let mut buf = BytesMut::from(&want[..]);
        assert_eq!(Sentence::parse(&mut buf), Ok(Some(s)));
        assert!(buf.is_empty());
    }

    #[test]
    fn sentence_tagged_query_example_encodes_exactly() {
        let s = Sentence::new(["/ppp/secret/print", "=.proplist=.id,name,profile", "?name=alice", ".tag=7"]);
        let want = hex_bytes(
            "11 2f707070 2f736563726574 2f7072696e74
             1b 3d2e70726f706c6973743d2e69642c6e616d652c70726f66696c65
             0b 3f6e616d653d616c696365
             06 2e7461673d37
             00",
        );
        assert_eq!(s.to_bytes().expect("encode"), want);
        let mut buf = BytesMut::from(&want[..]);
        let parsed = Sentence::parse(&mut buf).expect("ok").expect("complete");
        assert_eq!(parsed.tag(), Some("7"));
        let req = Request::from_sentence(&parsed).expect("request");
        assert_eq!(req.command, "/ppp/secret/print");
        assert_eq!(req.proplist(), Some(vec![".id", "name", "profile"]));
        assert_eq!(req.queries, vec!["name=alice"]);
        assert_eq!(req.tag.as_deref(), Some("7"));
    }

    #[test]
    fn sentence_partial_buffer_consumes_nothing() {
        let bytes = Sentence::new(["/ppp/secret/print", "=.proplist=name", ".tag=1"]).to_bytes().expect("encode");
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(Sentence::parse(&mut buf), Ok(None), "cut {cut}");
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn sentence_two_in_buffer_parse_one_at_a_time() {
        let mut buf = BytesMut::new();
        Sentence::new(["!re", "=name=a"]).encode(&mut buf).expect("encode");
        Sentence::new(["!done"]).encode(&mut buf).expect("encode");
        buf.extend_from_slice(&[5, b'!', b'd']);
        assert_eq!(Sentence::parse(&mut buf).expect("ok").expect("s").words, ["!re", "=name=a"]);
        assert_eq!(Sentence::parse(&mut buf).expect("ok").expect("s").words, ["!done"]);
        assert_eq!(Sentence::parse(&mut buf), Ok(None));
        assert_eq!(&buf[..], &[5, b'!', b'd']);
    }

    #[test]
    fn sentence_empty_sentences_are_skipped() {
        let mut buf = BytesMut::from(&[0u8, 0, 5, b'!', b'd', b'o', b'n', b'e', 0][..]);
        assert_eq!(Sentence::parse(&mut buf).expect("ok").expect("s").words, ["!done"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn sentence_reserved_control_byte_is_error() {
        let mut buf = BytesMut::from(&[0xF8u8, 1, 2, 3, 4, 5][..]);
        assert_eq!(Sentence::parse(&mut buf), Err(ProtoError::ReservedControlByte(0xF8)));
    }

    #[test]
    fn sentence_word_over_limit_is_error_before_buffering() {
        let mut buf = BytesMut::from(&[0xE0u8, 0x20, 0, 0][..]);
        assert_eq!(Sentence::parse_with_limit(&mut buf, 1024), Err(ProtoError::WordTooLong(0x20_0000)));
    }

    #[test]
    fn sentence_large_word_round_trips() {
        // 0x4000 bytes: a three-byte prefix.
        let big = "x".repeat(0x4000);
        let s = Sentence::new(["!re".to_owned(), format!("=comment={big}")]);
        let mut buf = BytesMut::from(&s.to_bytes().expect("encode")[..]);
        assert_eq!(Sentence::parse(&mut buf), Ok(Some(s)));
    }

    #[test]
    fn attribute_value_with_equals_splits_on_first_two() {
        assert_eq!(Word::classify("=name=iu=c3Eeg"), Word::Attribute { name: "name", value: "iu=c3Eeg" });
        assert_eq!(Word::classify("=follow="), Word::Attribute { name: "follow", value: "" });
        assert_eq!(Word::classify(".tag=x=y"), Word::ApiAttribute { name: "tag", value: "x=y" });
        assert_eq!(Word::classify("?#|"), Word::Query("#|"));
        assert_eq!(Word::classify("/login"), Word::Command("/login"));
    }

    #[test]
    fn reply_tagged_trap_parses_category_and_message() {
        let s = Sentence::new(["!trap", ".tag=42", "=category=1", "=message=bad"]);
        let r = Reply::from_sentence(s.clone()).expect("reply");
        assert_eq!(r.kind, ReplyKind::Trap);
        assert_eq!(r.tag.as_deref(), Some("42"));
        assert_eq!(r.category(), Some(1));
        assert_eq!(r.message(), Some("bad"));
        assert_eq!(r.to_sentence(), s);
    }

    #[test]
    fn reply_empty_with_tag_is_empty_kind() {
        let r = Reply::from_sentence(Sentence::new(["!empty", ".tag=3"])).expect("reply");
        assert_eq!(r.kind, ReplyKind::Empty);
        assert_eq!(r.tag.as_deref(), Some("3"));
        assert!(r.attributes.is_empty());
    }

    #[test]
    fn reply_fatal_keeps_bare_reason() {
        let r = Reply::from_sentence(Sentence::new(["!fatal", "session terminated on request"])).expect("reply");
        assert_eq!(r.kind, ReplyKind::Fatal);
        assert_eq!(r.fatal_reason.as_deref(), Some("session terminated on request"));
        assert_eq!(r.to_sentence().words, ["!fatal", "session terminated on request"]);
    }

    #[test]
    fn reply_unknown_word_is_error() {
        assert_eq!(Reply::from_sentence(Sentence::new(["!bogus"])), Err(ProtoError::UnknownReply("!bogus".into())));
    }

    #[test]
    fn request_empty_tag_is_no_tag() {
        let req = Request::from_sentence(&Sentence::new(["/quit", ".tag="])).expect("req");
        assert_eq!(req.tag, None);
    }

    fn word_strategy() -> impl Strategy<Value = String> {
        prop_oneof!["[ -~]{1,40}", "\\PC{1,20}", (0usize..300).prop_map(|n| "é".repeat(n + 1)),]
    }

    proptest! {
        #[test]
        fn sentence_any_words_round_trip(words in proptest::collection::vec(word_strategy(), 1..8)) {
            let s = Sentence { words };
            let bytes = s.to_bytes().expect("encode");
            let mut buf = BytesMut::from(&bytes[..]);
            prop_assert_eq!(Sentence::parse(&mut buf), Ok(Some(s)));
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn sentence_split_anywhere_parses_once_complete(
            words in proptest::collection::vec(word_strategy(), 1..6),
            cut in 0usize..1000,
        ) {
            let s = Sentence { words };
            let bytes = s.to_bytes().expect("encode");
            let cut = cut % bytes.len();
            let mut buf = BytesMut::from(&bytes[..cut]);
            prop_assert_eq!(Sentence::parse(&mut buf), Ok(None));
            buf.extend_from_slice(&bytes[cut..]);
            prop_assert_eq!(Sentence::parse(&mut buf), Ok(Some(s)));
        }

        #[test]
        fn reply_attributes_round_trip(
            attrs in proptest::collection::vec(("[a-z.-]{1,10}", "[ -~]{0,20}"), 0..6),
            tag in proptest::option::of("[0-9a-z]{1,6}"),
        ) {
            let mut r = Reply::new(ReplyKind::Re);
            for (k, v) in &attrs { r.attributes.insert(k, v); }
            r.tag = tag;
            let back = Reply::from_sentence(r.to_sentence()).expect("reply");
            prop_assert_eq!(back, r);
        }
    }
}
