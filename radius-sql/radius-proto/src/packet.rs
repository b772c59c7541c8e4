//! A small, pure RADIUS packet codec (RFC 2865/2866/5176): bytes in, bytes out, no sockets.
//!
//! Only what Konnekted needs: encode/decode packets with standard and vendor-specific attributes,
//! the request/response authenticators, Message-Authenticator (RFC 3579/5176), User-Password hiding
//! and CHAP-Password. It does not know attribute dictionaries beyond a few constants.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

/// RADIUS packet codes used here.
pub mod code {
    pub const ACCESS_REQUEST: u8 = 1;
    pub const ACCESS_ACCEPT: u8 = 2;
    pub const ACCESS_REJECT: u8 = 3;
    pub const ACCOUNTING_REQUEST: u8 = 4;
    pub const ACCOUNTING_RESPONSE: u8 = 5;
    pub const ACCESS_CHALLENGE: u8 = 11;
    pub const DISCONNECT_REQUEST: u8 = 40;
    pub const DISCONNECT_ACK: u8 = 41;
    pub const DISCONNECT_NAK: u8 = 42;
    pub const COA_REQUEST: u8 = 43;
    pub const COA_ACK: u8 = 44;
    pub const COA_NAK: u8 = 45;
}

/// Standard attribute types (RFC 2865/2866/2869/5176).
pub mod attr {
    pub const USER_NAME: u8 = 1;
    pub const USER_PASSWORD: u8 = 2;
    pub const CHAP_PASSWORD: u8 = 3;
    pub const NAS_IP_ADDRESS: u8 = 4;
    pub const NAS_PORT: u8 = 5;
    pub const SERVICE_TYPE: u8 = 6;
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    pub const REPLY_MESSAGE: u8 = 18;
    pub const CLASS: u8 = 25;
    pub const VENDOR_SPECIFIC: u8 = 26;
    pub const SESSION_TIMEOUT: u8 = 27;
    pub const CALLING_STATION_ID: u8 = 31;
    pub const NAS_IDENTIFIER: u8 = 32;
    pub const ACCT_STATUS_TYPE: u8 = 40;
    pub const ACCT_SESSION_ID: u8 = 44;
    pub const CHAP_CHALLENGE: u8 = 60;
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
    pub const ACCT_INTERIM_INTERVAL: u8 = 85;
    pub const ERROR_CAUSE: u8 = 101;
}

/// Vendor ids and vendor attribute types.
pub mod vendor {
    pub const MIKROTIK: u32 = 14988;
    pub const MIKROTIK_RATE_LIMIT: u8 = 8;
    pub const MIKROTIK_ADDRESS_LIST: u8 = 19;
    pub const MICROSOFT: u32 = 311;
    pub const MS_CHAP_ERROR: u8 = 2;
    pub const MS_CHAP_RESPONSE: u8 = 1;
    pub const MS_CHAP_CHALLENGE: u8 = 11;
    pub const MS_CHAP2_RESPONSE: u8 = 25;
    pub const MS_CHAP2_SUCCESS: u8 = 26;
}

pub const HEADER_LEN: usize = 20;
pub const MAX_PACKET_LEN: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("packet shorter than its header or its Length field ({0} bytes)")]
    Truncated(usize),
    #[error("Length field {0} out of range")]
    BadLength(usize),
    #[error("attribute {typ} has invalid length {len}")]
    BadAttribute { typ: u8, len: usize },
    #[error("attribute value too long ({0} bytes, max 253)")]
    ValueTooLong(usize),
    #[error("packet too long ({0} bytes, max 4096)")]
    PacketTooLong(usize),
}

/// One attribute. Vendor-specific attributes are kept split into (vendor, type, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    Standard { typ: u8, value: Vec<u8> },
    Vendor { vendor_id: u32, typ: u8, value: Vec<u8> },
}

impl Attribute {
    pub fn string(typ: u8, s: &str) -> Self {
        Attribute::Standard { typ, value: s.as_bytes().to_vec() }
    }
    pub fn integer(typ: u8, v: u32) -> Self {
        Attribute::Standard { typ, value: v.to_be_bytes().to_vec() }
    }
    pub fn ipv4(typ: u8, ip: std::net::Ipv4Addr) -> Self {
        Attribute::Standard { typ, value: ip.octets().to_vec() }
    }
    pub fn vendor_string(vendor_id: u32, typ: u8, s: &str) -> Self {
        Attribute::Vendor { vendor_id, typ, value: s.as_bytes().to_vec() }
    }
}

/// A decoded (or to-be-encoded) packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub code: u8,
    pub identifier: u8,
    pub authenticator: [u8; 16],
    pub attributes: Vec<Attribute>,
}

impl Packet {
    pub fn new(code: u8, identifier: u8) -> Self {
        Packet { code, identifier, authenticator: [0; 16], attributes: Vec::new() }
    }

    /// First standard attribute of this type.
    pub fn get(&self, typ: u8) -> Option<&[u8]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Standard { typ: t, value } if *t == typ => Some(value.as_slice()),
            _ => None,
        })
    }

    pub fn get_string(&self, typ: u8) -> Option<String> {
        self.get(typ).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn get_integer(&self, typ: u8) -> Option<u32> {
        self.get(typ).and_then(|v| <[u8; 4]>::try_from(v).ok()).map(u32::from_be_bytes)
    }

    /// First vendor attribute (vendor, type).
    pub fn get_vendor(&self, vendor_id: u32, typ: u8) -> Option<&[u8]> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Vendor { vendor_id: v, typ: t, value } if *v == vendor_id && *t == typ => Some(value.as_slice()),
            _ => None,
        })
    }

    pub fn get_vendor_string(&self, vendor_id: u32, typ: u8) -> Option<String> {
        self.get_vendor(vendor_id, typ).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Encode exactly as is (authenticator taken from `self`).
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(64);
        out.push(self.code);
        out.push(self.identifier);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.authenticator);
        for a in &self.attributes {
            encode_attribute(a, &mut out)?;
        }
        if out.len() > MAX_PACKET_LEN {
            return Err(CodecError::PacketTooLong(out.len()));
        }
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        Ok(out)
    }

    /// Decode one packet. Bytes after the Length field are ignored (RFC 2865 §3).
    pub fn decode(buf: &[u8]) -> Result<Packet, CodecError> {
        if buf.len() < HEADER_LEN {
            return Err(CodecError::Truncated(buf.len()));
        }
        let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&len) {
            return Err(CodecError::BadLength(len));
        }
        if buf.len() < len {
            return Err(CodecError::Truncated(buf.len()));
        }
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&buf[4..20]);
        let mut attributes = Vec::new();
        let mut i = HEADER_LEN;
        while i < len {
            if i + 2 > len {
                return Err(CodecError::BadAttribute { typ: buf[i], len: 1 });
            }
            let typ = buf[i];
            let alen = buf[i + 1] as usize;
            if alen < 2 || i + alen > len {
                return Err(CodecError::BadAttribute { typ, len: alen });
            }
            let value = &buf[i + 2..i + alen];
            if typ == attr::VENDOR_SPECIFIC && value.len() >= 6 {
                decode_vsa(value, &mut attributes)?;
            } else {
                attributes.push(Attribute::Standard { typ, value: value.to_vec() });
            }
            i += alen;
        }
        Ok(Packet { code: buf[0], identifier: buf[1], authenticator, attributes })
    }
}

fn decode_vsa(value: &[u8], out: &mut Vec<Attribute>) -> Result<(), CodecError> {
    let vendor_id = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
    let mut j = 4;
    // Not every vendor uses the RFC 2865 suggested format; fall back to one opaque attribute.
    let mut parsed = Vec::new();
    let mut ok = true;
    while j < value.len() {
        if j + 2 > value.len() {
            ok = false;
            break;
        }
        let vt = value[j];
        let vl = value[j + 1] as usize;
        if vl < 2 || j + vl > value.len() {
            ok = false;
            break;
        }
        parsed.push(Attribute::Vendor { vendor_id, typ: vt, value: value[j + 2..j + vl].to_vec() });
        j += vl;
    }
    if ok {
        out.extend(parsed);
    } else {
        out.push(Attribute::Standard { typ: attr::VENDOR_SPECIFIC, value: value.to_vec() });
    }
    Ok(())
}

fn encode_attribute(a: &Attribute, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match a {
        Attribute::Standard { typ, value } => {
            if value.len() > 253 {
                return Err(CodecError::ValueTooLong(value.len()));
            }
            out.push(*typ);
            out.push((value.len() + 2) as u8);
            out.extend_from_slice(value);
        }
        Attribute::Vendor { vendor_id, typ, value } => {
            if value.len() > 247 {
                return Err(CodecError::ValueTooLong(value.len()));
            }
            out.push(attr::VENDOR_SPECIFIC);
            out.push((value.len() + 8) as u8);
            out.extend_from_slice(&vendor_id.to_be_bytes());
            out.push(*typ);
            out.push((value.len() + 2) as u8);
            out.extend_from_slice(value);
        }
    }
    Ok(())
}

fn md5_parts(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut m = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// Offset of the Message-Authenticator value inside an encoded packet, if present.
fn message_authenticator_offset(buf: &[u8]) -> Option<usize> {
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let mut i = HEADER_LEN;
    while i + 2 <= len {
        let alen = buf[i + 1] as usize;
        if alen < 2 {
            return None;
        }
        if buf[i] == attr::MESSAGE_AUTHENTICATOR && alen == 18 {
            return Some(i + 2);
        }
        i += alen;
    }
    None
}

fn with_message_authenticator(p: &Packet) -> Packet {
    let mut p = p.clone();
    p.attributes.retain(|a| !matches!(a, Attribute::Standard { typ: attr::MESSAGE_AUTHENTICATOR, .. }));
    // RFC 3579 recommends it first; any position is valid.
    p.attributes.insert(0, Attribute::Standard { typ: attr::MESSAGE_AUTHENTICATOR, value: vec![0; 16] });
    p
}

/// Encode a request whose authenticator is computed from the content (Accounting-Request,
/// CoA-Request, Disconnect-Request): MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret).
/// With `message_authenticator`, an HMAC-MD5 Message-Authenticator is computed first over the packet
/// with a zero authenticator (as FreeRADIUS does), then the request authenticator over the result.
pub fn encode_signed_request(
    packet: &Packet,
    secret: &[u8],
    message_authenticator: bool,
) -> Result<Vec<u8>, CodecError> {
    let mut p = if message_authenticator { with_message_authenticator(packet) } else { packet.clone() };
    p.authenticator = [0; 16];
    let mut buf = p.encode()?;
    if message_authenticator && let Some(off) = message_authenticator_offset(&buf) {
        let mac = hmac_md5(secret, &buf);
        buf[off..off + 16].copy_from_slice(&mac);
    }
    let auth = md5_parts(&[&buf, secret]);
    buf[4..20].copy_from_slice(&auth);
    Ok(buf)
}

/// Encode an Access-Request with the given random Request Authenticator. User-Password values must
/// already be hidden with [`hide_user_password`]. Message-Authenticator is added when asked.
pub fn encode_access_request(
    packet: &Packet,
    secret: &[u8],
    message_authenticator: bool,
) -> Result<Vec<u8>, CodecError> {
    let p = if message_authenticator { with_message_authenticator(packet) } else { packet.clone() };
    let mut buf = p.encode()?;
    if message_authenticator && let Some(off) = message_authenticator_offset(&buf) {
        let mac = hmac_md5(secret, &buf);
        buf[off..off + 16].copy_from_slice(&mac);
    }
    Ok(buf)
}

/// Verify a request authenticator computed from the content (what a NAS does with our CoA).
pub fn verify_signed_request(buf: &[u8], secret: &[u8]) -> bool {
    if buf.len() < HEADER_LEN {
        return false;
    }
    let len = (u16::from_be_bytes([buf[2], buf[3]]) as usize).min(buf.len());
    let mut copy = buf[..len].to_vec();
    copy[4..20].fill(0);
    let expect = md5_parts(&[&copy, secret]);
    expect == buf[4..20]
}

/// Encode a response (what a server or NAS sends): Response Authenticator =
/// MD5(Code+ID+Length+RequestAuthenticator+Attributes+Secret).
pub fn encode_response(
    packet: &Packet,
    request_authenticator: &[u8; 16],
    secret: &[u8],
    message_authenticator: bool,
) -> Result<Vec<u8>, CodecError> {
    let mut p = if message_authenticator { with_message_authenticator(packet) } else { packet.clone() };
    p.authenticator = *request_authenticator;
    let mut buf = p.encode()?;
    if message_authenticator && let Some(off) = message_authenticator_offset(&buf) {
        let mac = hmac_md5(secret, &buf);
        buf[off..off + 16].copy_from_slice(&mac);
    }
    let auth = md5_parts(&[&buf, secret]);
    buf[4..20].copy_from_slice(&auth);
    Ok(buf)
}

/// Check a response's authenticator (and Message-Authenticator if present) against our request.
pub fn verify_response(buf: &[u8], request_authenticator: &[u8; 16], secret: &[u8]) -> bool {
    if buf.len() < HEADER_LEN {
        return false;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    if len < HEADER_LEN || len > buf.len() {
        return false;
    }
    let mut copy = buf[..len].to_vec();
    copy[4..20].copy_from_slice(request_authenticator);
    let expect = md5_parts(&[&copy, secret]);
    if expect != buf[4..20] {
        return false;
    }
    if let Some(off) = message_authenticator_offset(&copy) {
        let got: [u8; 16] = copy[off..off + 16].try_into().expect("16 bytes");
        copy[off..off + 16].fill(0);
        if hmac_md5(secret, &copy) != got {
            return false;
        }
    }
    true
}

/// RFC 2865 §5.2 User-Password hiding.
pub fn hide_user_password(password: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Vec<u8> {
    let mut padded = password.to_vec();
    let target = if padded.is_empty() { 16 } else { padded.len().div_ceil(16) * 16 };
    padded.resize(target, 0);
    let mut out = Vec::with_capacity(padded.len());
    let mut prev: Vec<u8> = authenticator.to_vec();
    for chunk in padded.chunks(16) {
        let b = md5_parts(&[secret, &prev]);
        let c: Vec<u8> = chunk.iter().zip(b.iter()).map(|(p, k)| p ^ k).collect();
        out.extend_from_slice(&c);
        prev = c;
    }
    out
}

/// CHAP-Password value: ident + MD5(ident + password + challenge).
pub fn chap_password(ident: u8, password: &[u8], challenge: &[u8]) -> Vec<u8> {
    let h = md5_parts(&[&[ident], password, challenge]);
    let mut v = vec![ident];
    v.extend_from_slice(&h);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn disconnect_request_authenticator_matches_rfc5176_rule() {
        let mut p = Packet::new(code::DISCONNECT_REQUEST, 7);
        p.attributes.push(Attribute::string(attr::USER_NAME, "alice"));
        let buf = encode_signed_request(&p, b"s3cret", false).unwrap();
        // Independently: MD5(code|id|len|zeros|attrs|secret)
        let attrs = [attr::USER_NAME, 7, b'a', b'l', b'i', b'c', b'e'];
        let len = (20 + attrs.len()) as u16;
        let mut h = Md5::new();
        h.update([code::DISCONNECT_REQUEST, 7]);
        h.update(len.to_be_bytes());
        h.update([0u8; 16]);
        h.update(attrs);
        h.update(b"s3cret");
        let expect: [u8; 16] = h.finalize().into();
        assert_eq!(&buf[4..20], &expect);
        assert_eq!(&buf[20..], &attrs);
        assert!(verify_signed_request(&buf, b"s3cret"));
        assert!(!verify_signed_request(&buf, b"other"));
    }

    #[test]
    fn vendor_attribute_encodes_mikrotik_rate_limit() {
        let mut p = Packet::new(code::COA_REQUEST, 1);
        p.attributes.push(Attribute::vendor_string(vendor::MIKROTIK, vendor::MIKROTIK_RATE_LIMIT, "5M/10M"));
        let buf = p.encode().unwrap();
        assert_eq!(&buf[20..], &[26, 14, 0, 0, 0x3a, 0x8c, 8, 8, b'5', b'M', b'/', b'1', b'0', b'M']);
        let back = Packet::decode(&buf).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.get_vendor_string(vendor::MIKROTIK, 8).as_deref(), Some("5M/10M"));
    }

    #[test]
    fn response_with_message_authenticator_verifies() {
        let req_auth = [9u8; 16];
        let mut r = Packet::new(code::COA_NAK, 3);
        r.attributes.push(Attribute::integer(attr::ERROR_CAUSE, 503));
        let buf = encode_response(&r, &req_auth, b"k", true).unwrap();
        assert!(verify_response(&buf, &req_auth, b"k"));
        assert!(!verify_response(&buf, &[8u8; 16], b"k"));
        let mut tampered = buf.clone();
        let n = tampered.len();
        tampered[n - 1] ^= 1;
        assert!(!verify_response(&tampered, &req_auth, b"k"));
    }

    #[test]
    fn signed_request_with_message_authenticator_has_valid_hmac() {
        let mut p = Packet::new(code::COA_REQUEST, 4);
        p.attributes.push(Attribute::string(attr::USER_NAME, "bob"));
        let buf = encode_signed_request(&p, b"sec", true).unwrap();
        assert!(verify_signed_request(&buf, b"sec"));
        let off = message_authenticator_offset(&buf).unwrap();
        let mut z = buf.clone();
        z[4..20].fill(0);
        z[off..off + 16].fill(0);
        assert_eq!(hmac_md5(b"sec", &z), buf[off..off + 16]);
    }

    #[test]
    fn decode_rejects_bad_lengths() {
        assert_eq!(Packet::decode(&[1, 2, 3]), Err(CodecError::Truncated(3)));
        let mut b = vec![1u8, 1, 0, 10];
        b.extend([0; 16]);
        assert_eq!(Packet::decode(&b), Err(CodecError::BadLength(10)));
        let mut b = vec![1u8, 1, 0, 23];
        b.extend([0; 16]);
        b.extend([1, 1, 0]);
        assert!(matches!(Packet::decode(&b), Err(CodecError::BadAttribute { .. })));
    }

    #[test]
    fn user_password_hiding_round_trips() {
        let auth = [3u8; 16];
        let hidden = hide_user_password(b"a-password-longer-than-16", b"secret", &auth);
        assert_eq!(hidden.len(), 32);
        // unhide
        let mut prev = auth.to_vec();
        let mut plain = Vec::new();
        for c in hidden.chunks(16) {
            let b = md5_parts(&[b"secret", &prev]);
            plain.extend(c.iter().zip(b.iter()).map(|(x, k)| x ^ k));
            prev = c.to_vec();
        }
        assert_eq!(&plain[..25], b"a-password-longer-than-16");
        assert!(plain[25..].iter().all(|b| *b == 0));
        assert_eq!(hide_user_password(b"", b"s", &auth).len(), 16);
        assert_eq!(hide_user_password(&[1; 16], b"s", &auth).len(), 16);
    }

    fn arb_attr() -> impl Strategy<Value = Attribute> {
        prop_oneof![
            (1u8..=255, proptest::collection::vec(any::<u8>(), 0..40))
                .prop_filter("not VSA", |(t, _)| *t != attr::VENDOR_SPECIFIC)
                .prop_map(|(typ, value)| Attribute::Standard { typ, value }),
            (any::<u32>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(vendor_id, typ, value)| Attribute::Vendor { vendor_id, typ, value }),
        ]
    }

    proptest! {
        #[test]
        fn packet_encode_decode_round_trips(code in any::<u8>(), id in any::<u8>(),
            auth in any::<[u8; 16]>(), attrs in proptest::collection::vec(arb_attr(), 0..20)) {
            let p = Packet { code, identifier: id, authenticator: auth, attributes: attrs };
            let buf = p.encode().unwrap();
            prop_assert_eq!(Packet::decode(&buf).unwrap(), p);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Packet::decode(&bytes);
        }
    }
}
