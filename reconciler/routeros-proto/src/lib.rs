//! Sans-IO codec for the MikroTik RouterOS binary API (TCP 8728 `api` / 8729 `api-ssl`).
//!
//! **What it is:** pure bytes and values. Word length prefixes in all five forms
//! ([`word`]), sentences ([`Sentence::parse`] / [`encode_sentence`]), the meaning of
//! words ([`Word`], [`Reply`], [`Request`]), a [`Command`] builder, login sentences
//! including the legacy MD5 challenge ([`login`]) and RouterOS value conventions
//! ([`value`]: booleans, durations, rate-limit strings).
//!
//! **What it is not:** no sockets, no tokio, no clocks, no tag bookkeeping. The
//! async driver is `routeros-client`; a router simulator built on this codec is
//! `routeros-sim`.
//!
//! Text: words are bytes on the wire; this crate decodes them as UTF-8 and falls
//! back to Latin-1 per word when they are not valid UTF-8 ([`word::decode_text`]),
//! and always encodes `String`s as UTF-8.
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use routeros_proto::{Command, Reply, ReplyKind, Sentence};
//!
//! // Encode a tagged print.
//! let mut out = BytesMut::new();
//! Command::new("/ppp/secret/print")
//!     .proplist([".id", "name"])
//!     .query_eq("name", "alice")
//!     .tag("7")
//!     .encode(&mut out)
//!     .unwrap();
//!
//! // Decode what a router sends back, possibly in pieces.
//! let mut inbuf = BytesMut::new();
//! let bytes = Sentence::new(["!re", "=.id=*1A", "=name=alice", ".tag=7"]).to_bytes().unwrap();
//! inbuf.extend_from_slice(&bytes[..5]);
//! assert_eq!(Sentence::parse(&mut inbuf).unwrap(), None); // need more bytes
//! inbuf.extend_from_slice(&bytes[5..]);
//! let s = Sentence::parse(&mut inbuf).unwrap().unwrap();
//! let reply = Reply::from_sentence(s).unwrap();
//! assert_eq!(reply.kind, ReplyKind::Re);
//! assert_eq!(reply.tag.as_deref(), Some("7"));
//! assert_eq!(reply.attributes.id(), Some("*1A"));
//! ```

mod command;
mod error;
pub mod login;
mod row;
mod sentence;
pub mod value;
pub mod word;

pub use command::Command;
pub use error::ProtoError;
pub use row::Row;
pub use sentence::{Reply, ReplyKind, Request, Sentence, Word, encode_sentence};
pub use word::encode_word;
