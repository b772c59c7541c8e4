//! Published exchanges with real RouterOS routers (`tests/vectors/exchanges.txt`, each
//! with its source) replayed against the simulator: it must answer word for word.

use std::time::Duration;

use bytes::BytesMut;
use routeros_proto::{Sentence, encode_sentence};
use routeros_sim::{SimConfig, SimHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VECTORS: &str = include_str!("vectors/exchanges.txt");

#[derive(Debug, Default)]
struct Vector {
    name: String,
    setup: Vec<(String, Vec<(String, String)>)>,
    /// `(sent?, words)` in order.
    steps: Vec<(bool, Vec<String>)>,
}

fn parse() -> Vec<Vector> {
    let mut out: Vec<Vector> = Vec::new();
    for line in VECTORS.lines() {
        // `!fatal` carries its reason as one bare word, spaces and all.
        let words = |rest: &str| match rest.strip_prefix("!fatal ") {
            Some(reason) => vec!["!fatal".to_owned(), reason.to_owned()],
            None => rest.split(' ').map(str::to_owned).collect::<Vec<_>>(),
        };
        if let Some(name) = line.strip_prefix("## ") {
            out.push(Vector { name: name.to_owned(), ..Vector::default() });
        } else if let Some(v) = out.last_mut() {
            if let Some(rest) = line.strip_prefix("setup ") {
                let mut parts = rest.split(' ');
                let path = parts.next().expect("path").to_owned();
                let attrs = parts
                    .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).expect("k=v"))
                    .collect();
                v.setup.push((path, attrs));
            } else if let Some(rest) = line.strip_prefix("> ") {
                v.steps.push((true, words(rest)));
            } else if let Some(rest) = line.strip_prefix("< ") {
                v.steps.push((false, words(rest)));
            }
        }
    }
    out
}

#[tokio::test]
async fn vectors_published_router_exchanges_replay_word_for_word() {
    let vectors = parse();
    assert!(vectors.len() >= 6, "{} vectors", vectors.len());
    for v in vectors {
        let sim = SimHandle::new(SimConfig::new("admin", ""));
        for (path, attrs) in &v.setup {
            let pairs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            sim.add(path, &pairs).unwrap_or_else(|e| panic!("{}: setup {path}: {e}", v.name));
        }
        let (mut io, server) = tokio::io::duplex(1 << 16);
        sim.serve(server);
        let mut buf = BytesMut::new();
        for (sent, words) in &v.steps {
            if *sent {
                let mut bytes = Vec::new();
                encode_sentence(words.iter().map(String::as_str), &mut bytes).expect("encode");
                io.write_all(&bytes).await.expect("write");
                continue;
            }
            let got = loop {
                if let Some(s) = Sentence::parse(&mut buf).expect("framing") {
                    break s.words;
                }
                let n = tokio::time::timeout(Duration::from_secs(5), io.read_buf(&mut buf))
                    .await
                    .unwrap_or_else(|_| panic!("{}: no answer, expected {words:?}", v.name))
                    .expect("read");
                assert!(n > 0, "{}: connection closed, expected {words:?}", v.name);
            };
            assert_eq!(&got, words, "{}", v.name);
        }
    }
}
