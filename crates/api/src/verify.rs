//! Verification of incoming webhook deliveries (signatures, timestamps, delivery ids).
//!
//! A verified delivery carries a **replay key** taken only from what the
//! signature covers, so that a replayed delivery cannot start a second run by
//! changing or dropping an unsigned header: Standard Webhooks' `webhook-id`
//! (signed), Stripe's event `id` (in the signed body), and for GitHub and
//! `hmac-sha256` a digest of the verified signature (`sig:<sha256 hex>`),
//! which is the same for the same signed content. The provider's delivery id
//! header is kept as information only.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Header read by [`Scheme::HmacSha256`] when its `header` is empty.
pub(crate) const DEFAULT_HMAC_HEADER: &str = "X-Signature-256";

/// Standard base64 that accepts input with or without `=` padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Signature schemes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body.
    Github,
    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>,...` over `{t}.{body}`.
    Stripe,
    /// Hex HMAC-SHA256 in `header` (empty means [`DEFAULT_HMAC_HEADER`]) of
    /// the body, or of `{timestamp}.{body}` when `timestamp_header` is set.
    HmacSha256 {
        /// Name of the header holding the signature.
        header: String,
        /// Name of the header holding the signed unix timestamp, if any.
        timestamp_header: Option<String>,
    },
    /// No verification at all.
    None,
}

/// What verification established.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Verified {
    /// Provider's id for this delivery, when one was found (information:
    /// for GitHub and `hmac-sha256` it is an unsigned header).
    pub(crate) delivery_id: Option<String>,
    /// What makes a redelivery the same delivery, from signed content only
    /// (for `none`, whatever id the sender gave).
    pub(crate) replay_key: Option<String>,
    /// Signed timestamp in unix seconds, for schemes that sign one.
    pub(crate) timestamp: Option<i64>,
}

/// Why a delivery was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// A required header is absent; holds the header name.
    MissingHeader(String),
    /// A header is present but cannot be parsed; holds a description.
    Malformed(String),
    /// No presented signature matches.
    BadSignature,
    /// The signed timestamp is outside the tolerance (negative age: in the future).
    StaleTimestamp {
        /// `now - timestamp` in seconds.
        age_secs: i64,
    },
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header `{name}`"),
            Self::Malformed(what) => write!(f, "malformed header: {what}"),
            Self::BadSignature => f.write_str("signature does not match"),
            Self::StaleTimestamp { age_secs } => write!(f, "stale timestamp (age {age_secs}s)"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// One delivery as received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery<'a> {
    /// The signing key (the secret's value).
    pub(crate) secret: &'a str,
    /// Request headers.
    pub(crate) headers: &'a HeaderMap,
    /// Raw body, exactly as received.
    pub(crate) body: &'a [u8],
}

/// Verifies a delivery under `scheme`, with `now_unix` and `tolerance_secs` for signed timestamps.
pub(crate) fn verify(
    scheme: &Scheme,
    delivery: &Delivery<'_>,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<Verified, VerifyError> {
    let Delivery { secret, headers, body } = *delivery;
    let key = secret.as_bytes();
    // (matched, delivery id, replay key, signed timestamp)
    let (matched, delivery_id, replay_key, timestamp) = match scheme {
        Scheme::StandardWebhooks => {
            let id = required(headers, "webhook-id")?;
            let ts = required(headers, "webhook-timestamp")?;
            let signatures = required(headers, "webhook-signature")?;
            let timestamp = parse_ts(ts, "webhook-timestamp")?;
            let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
            let key = B64.decode(encoded).unwrap_or_else(|_| key.to_vec());
            let expected = sign(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body])?;
            let presented = signatures
                .split_whitespace()
                .filter_map(|entry| entry.strip_prefix("v1,"))
                .filter_map(|sig| B64.decode(sig).ok());
            let matched = any_match(&expected, presented);
            // the id is signed: it is the replay key
            (matched, Some(id.to_owned()), Some(id.to_owned()), Some(timestamp))
        }
        Scheme::Github => {
            let sig = required(headers, "X-Hub-Signature-256")?;
            let presented = sig.strip_prefix("sha256=").and_then(decode_hex);
            let id = first_header(headers, &["X-GitHub-Delivery"])?;
            let expected = sign(key, &[body])?;
            let matched = any_match(&expected, presented);
            (matched, id, Some(signature_digest(&expected)), None)
        }
        Scheme::Stripe => {
            let header = required(headers, "Stripe-Signature")?;
            let pairs = || {
                let items = header.split(',').filter_map(|item| item.split_once('='));
                items.map(|(k, v)| (k.trim(), v.trim()))
            };
            let no_t = || VerifyError::Malformed("`Stripe-Signature` has no `t=`".into());
            let ts = pairs().find(|(k, _)| *k == "t").ok_or_else(no_t)?.1;
            let timestamp = parse_ts(ts, "Stripe-Signature")?;
            let expected = sign(key, &[ts.as_bytes(), b".", body])?;
            let v1 = pairs().filter(|(k, _)| *k == "v1");
            let matched = any_match(&expected, v1.filter_map(|(_, v)| decode_hex(v)));
            let json = || serde_json::from_slice::<serde_json::Value>(body).ok();
            let id = matched.then(json).flatten();
            let id = id.and_then(|v| Some(v.get("id")?.as_str()?.to_owned()));
            // the event id is in the signed body; without one, the signature
            let replay = id.clone().unwrap_or_else(|| signature_digest(&expected));
            (matched, id, Some(replay), Some(timestamp))
        }
        Scheme::HmacSha256 {
            header,
            timestamp_header,
        } => {
            let name = Some(header.trim()).filter(|name| !name.is_empty());
            let sig = required(headers, name.unwrap_or(DEFAULT_HMAC_HEADER))?;
            let presented = decode_hex(sig.strip_prefix("sha256=").unwrap_or(sig));
            let id = first_header(headers, &["Idempotency-Key", "X-Webhook-Id"])?;
            let (expected, timestamp) = match timestamp_header.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
                Some(ts_name) => {
                    let ts = required(headers, ts_name)?;
                    let timestamp = parse_ts(ts, ts_name)?;
                    (sign(key, &[ts.as_bytes(), b".", body])?, Some(timestamp))
                }
                None => (sign(key, &[body])?, None),
            };
            let matched = any_match(&expected, presented);
            (matched, id, Some(signature_digest(&expected)), timestamp)
        }
        Scheme::None => {
            let names = ["webhook-id", "X-GitHub-Delivery", "Idempotency-Key"];
            let mut ids = names.iter().map(|name| optional(headers, name));
            let delivery_id = ids.find_map(|id| id.ok().flatten()).map(str::to_owned);
            // nothing is signed: the sender's id is all there is
            let replay_key = delivery_id.clone();
            let timestamp = None;
            return Ok(Verified {
                delivery_id,
                replay_key,
                timestamp,
            });
        }
    };
    if !matched {
        return Err(VerifyError::BadSignature);
    }
    if let Some(ts) = timestamp {
        let age_secs = now_unix.saturating_sub(ts);
        if age_secs > tolerance_secs || age_secs < tolerance_secs.saturating_neg() {
            return Err(VerifyError::StaleTimestamp { age_secs });
        }
    }
    let delivery_id = match delivery_id {
        Some(id) => Some(id),
        None => first_header(headers, &["Idempotency-Key"])?,
    };
    Ok(Verified {
        delivery_id,
        replay_key,
        timestamp,
    })
}

/// The replay key of a verified signature: `sig:` and the SHA-256 hex of the
/// expected MAC (the same for the same signed content; the MAC itself is
/// not stored).
fn signature_digest(mac: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = Sha256::digest(mac);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sig:{hex}")
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
fn sign(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, VerifyError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| VerifyError::BadSignature)?;
    parts.iter().for_each(|part| mac.update(part));
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Whether any presented signature equals `expected`, compared in constant time.
fn any_match(expected: &[u8], presented: impl IntoIterator<Item = Vec<u8>>) -> bool {
    let mut found = subtle::Choice::from(0);
    for sig in presented {
        found |= expected.ct_eq(&sig);
    }
    found.into()
}

/// Decodes case-insensitive hex; `None` on odd length or a non-hex digit.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: &u8| char::from(*c).to_digit(16);
    let byte = |pair: &[u8]| match pair {
        [hi, lo] => u8::try_from(digit(hi)? << 4 | digit(lo)?).ok(),
        _ => None,
    };
    text.as_bytes().chunks(2).map(byte).collect()
}

/// Parses a signed unix timestamp taken from header `what`.
fn parse_ts(text: &str, what: &str) -> Result<i64, VerifyError> {
    let err = |_| VerifyError::Malformed(format!("`{what}` timestamp is not an integer"));
    text.parse().map_err(err)
}

/// A header's value as text; `Ok(None)` when absent or empty, `Malformed` when not UTF-8.
fn optional<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, VerifyError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(value.as_bytes())
        .map_err(|_| VerifyError::Malformed(format!("`{name}` is not valid UTF-8")))?;
    Ok(Some(text.trim()).filter(|t| !t.is_empty()))
}

/// A header that must be present and non-empty.
fn required<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, VerifyError> {
    optional(headers, name)?.ok_or_else(|| VerifyError::MissingHeader(name.to_owned()))
}

/// The first of `names` that is present, as an owned string.
fn first_header(headers: &HeaderMap, names: &[&str]) -> Result<Option<String>, VerifyError> {
    for name in names {
        if let Some(value) = optional(headers, name)? {
            return Ok(Some(value.to_owned()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        scheme: &Scheme,
        secret: &str,
        headers: &HeaderMap,
        body: &[u8],
        now_unix: i64,
        tolerance_secs: i64,
    ) -> Result<Verified, VerifyError> {
        verify(scheme, &Delivery { secret, headers, body }, now_unix, tolerance_secs)
    }
    use http::HeaderValue;

    type R = Result<Verified, VerifyError>;
    const SW_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW_TS: i64 = 1614265330;
    const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const GH_KEY: &str = "It's a Secret to Everybody";
    const GH_BODY: &[u8] = b"Hello, World!";
    const GH_SIG: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const ST_KEY: &str = "whsec_scratchtestsecret";
    const ST_TS: i64 = 1700000000;
    const ST_ID: &str = "evt_1NG8Du2eZvKYlo2CUI79vXWy";
    const ST_BODY: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event"}"#;
    /// `printf '%s' "1700000000.$ST_BODY" | openssl dgst -sha256 -hmac whsec_scratchtestsecret`
    const ST_SIG: &str = "15cfb4d11e958c42cd4956037ecef39299527d57530e912af542f5efbf9792ef";
    const TOL: i64 = 300;
    const BAD: R = Err(VerifyError::BadSignature);

    fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            let name = http::HeaderName::from_bytes(k.as_bytes()).expect("name");
            map.append(name, HeaderValue::from_str(v).expect("value"));
        }
        map
    }

    fn ok(id: Option<&str>, replay: Option<&str>, timestamp: Option<i64>) -> R {
        let delivery_id = id.map(String::from);
        let replay_key = replay.map(String::from);
        Ok(Verified {
            delivery_id,
            replay_key,
            timestamp,
        })
    }

    /// The replay key of GitHub's vector (and of any HMAC of `GH_BODY` under `GH_KEY`).
    fn gh_replay() -> String {
        signature_digest(&decode_hex(GH_SIG).expect("hex"))
    }

    fn stale(age_secs: i64) -> R {
        Err(VerifyError::StaleTimestamp { age_secs })
    }

    fn missing(name: &str) -> R {
        Err(VerifyError::MissingHeader(name.into()))
    }

    fn malformed(r: R) -> bool {
        matches!(r, Err(VerifyError::Malformed(_)))
    }

    fn not_utf8() -> HeaderValue {
        HeaderValue::from_bytes(b"\xff").expect("obs-text")
    }

    /// Hex HMAC computed directly with the `hmac` crate, not through the module.
    fn raw_mac(key: &str, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).expect("key");
        mac.update(&parts.concat());
        mac.finalize().into_bytes().to_vec()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn sw_map(sig: &str) -> HeaderMap {
        let ts = SW_TS.to_string();
        let id = ("webhook-id", SW_ID);
        hm(&[id, ("webhook-timestamp", &ts), ("webhook-signature", sig)])
    }

    fn sw(sig: &str, body: &[u8], key: &str, now: i64) -> R {
        check(&Scheme::StandardWebhooks, key, &sw_map(sig), body, now, TOL)
    }

    fn st(header: &str, body: &[u8], key: &str, now: i64) -> R {
        let map = hm(&[("Stripe-Signature", header)]);
        check(&Scheme::Stripe, key, &map, body, now, TOL)
    }

    #[test]
    fn standard_webhooks_published_vector() {
        let want = ok(Some(SW_ID), Some(SW_ID), Some(SW_TS));
        assert_eq!(sw(SW_SIG, SW_BODY, SW_KEY, SW_TS), want);
        let unprefixed = SW_KEY.trim_start_matches("whsec_");
        assert_eq!(sw(SW_SIG, SW_BODY, unprefixed, SW_TS), want);
        let multi = format!("v1,AAAA v2,xyz {SW_SIG}");
        assert_eq!(sw(&multi, SW_BODY, SW_KEY, SW_TS), want);
        // A secret that is not base64 is used as raw bytes.
        let content = [SW_ID.as_bytes(), b".1614265330.", SW_BODY];
        let sig = format!("v1,{}", B64.encode(raw_mac("not base64!", &content)));
        assert_eq!(sw(&sig, SW_BODY, "not base64!", SW_TS), want);
    }

    #[test]
    fn standard_webhooks_rejections() {
        let at = |now| sw(SW_SIG, SW_BODY, SW_KEY, now);
        assert_eq!(at(SW_TS + TOL + 1), stale(TOL + 1));
        assert_eq!(at(SW_TS - TOL - 1), stale(-TOL - 1));
        assert!(at(SW_TS + TOL).is_ok() && at(SW_TS - TOL).is_ok());
        assert_eq!(sw(SW_SIG, b"{}", SW_KEY, SW_TS), BAD);
        let wrong = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(sw(SW_SIG, SW_BODY, wrong, SW_TS), BAD);
        let v2 = SW_SIG.replace("v1,", "v2,");
        for garbage in ["v1,!!not-base64**", "v1,", "v1", "g0hM9SsE", &v2] {
            assert_eq!(sw(garbage, SW_BODY, SW_KEY, SW_TS), BAD, "{garbage}");
        }
        let run = |map: &HeaderMap| check(&Scheme::StandardWebhooks, SW_KEY, map, SW_BODY, SW_TS, TOL);
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut map = sw_map(SW_SIG);
            map.remove(name);
            assert_eq!(run(&map), missing(name));
        }
        let mut map = sw_map(SW_SIG);
        map.insert("webhook-timestamp", HeaderValue::from_static("soon"));
        assert!(malformed(run(&map)));
        let mut map = sw_map(SW_SIG);
        map.insert("webhook-id", not_utf8());
        assert!(malformed(run(&map)));
    }

    #[test]
    fn github_published_vector_ids_and_rejections() {
        let sig = format!("sha256={GH_SIG}");
        let gh = |pairs: &[(&str, &str)], body: &[u8], key: &str| check(&Scheme::Github, key, &hm(pairs), body, 0, TOL);
        let idem = ("Idempotency-Key", "k");
        let delivery = ("X-GitHub-Delivery", "d-1");
        let sig_h = ("X-Hub-Signature-256", sig.as_str());
        let replay = gh_replay();
        let r = Some(replay.as_str());
        let want = ok(Some("d-1"), r, None);
        assert_eq!(gh(&[sig_h, delivery, idem], GH_BODY, GH_KEY), want);
        // the delivery id is not signed: changing or dropping it keeps the replay key
        assert_eq!(gh(&[sig_h, idem], GH_BODY, GH_KEY), ok(Some("k"), r, None));
        assert_eq!(gh(&[sig_h], GH_BODY, GH_KEY), ok(None, r, None));
        let other = ("X-GitHub-Delivery", "d-2");
        assert_eq!(gh(&[sig_h, other], GH_BODY, GH_KEY), ok(Some("d-2"), r, None));
        let upper = format!("sha256={}", GH_SIG.to_uppercase());
        let lower_name = ("x-hub-signature-256", upper.as_str());
        assert_eq!(gh(&[lower_name], GH_BODY, GH_KEY), ok(None, r, None));
        // another signed body is another delivery
        let body2 = b"Hello, again";
        let sig2 = format!("sha256={}", hex(&raw_mac(GH_KEY, &[body2])));
        let second = gh(&[("X-Hub-Signature-256", &sig2)], body2, GH_KEY).expect("valid");
        assert!(second.replay_key.is_some() && second.replay_key != Some(replay.clone()));
        assert!(
            replay.starts_with("sig:") && !replay.contains(GH_SIG),
            "the MAC itself is not the key"
        );
        assert_eq!(gh(&[sig_h], b"Hello, World?", GH_KEY), BAD);
        assert_eq!(gh(&[sig_h], GH_BODY, "wrong"), BAD);
        for garbage in ["sha256=zz", "sha256=abc", "sha256=+f", GH_SIG, "sha1=ab"] {
            let pairs = [("X-Hub-Signature-256", garbage)];
            assert_eq!(gh(&pairs, GH_BODY, GH_KEY), BAD, "{garbage}");
        }
        let none = check(&Scheme::Github, GH_KEY, &HeaderMap::new(), GH_BODY, 0, 0);
        assert_eq!(none, missing("X-Hub-Signature-256"));
    }

    #[test]
    fn stripe_openssl_vector_self_computed_and_rejections() {
        let header = format!("t={ST_TS},v1={ST_SIG}");
        let got = st(&header, ST_BODY, ST_KEY, ST_TS + 10);
        assert_eq!(got, ok(Some(ST_ID), Some(ST_ID), Some(ST_TS)));
        let good = hex(&raw_mac(ST_KEY, &[b"1700000000.", ST_BODY]));
        let zeros = "0".repeat(64);
        let multi = format!("t={ST_TS}, v1={zeros}, v0=abcd, v1={good}");
        let got = st(&multi, ST_BODY, ST_KEY, ST_TS);
        assert_eq!(got, ok(Some(ST_ID), Some(ST_ID), Some(ST_TS)));
        let header = format!("t={ST_TS},v1={good}");
        let at = |now| st(&header, ST_BODY, ST_KEY, now);
        assert_eq!(at(ST_TS + TOL + 1), stale(TOL + 1));
        assert_eq!(at(ST_TS - TOL - 1), stale(-TOL - 1));
        assert!(at(ST_TS + TOL).is_ok() && at(ST_TS - TOL).is_ok());
        assert_eq!(st(&header, br#"{"id":"evt_2"}"#, ST_KEY, ST_TS), BAD);
        assert_eq!(st(&header, ST_BODY, "whsec_other", ST_TS), BAD);
        for garbage in ["v1=zz!", "v1=abc", "v1=", &format!("v0={good}")] {
            let header = format!("t={ST_TS},{garbage}");
            assert_eq!(st(&header, ST_BODY, ST_KEY, ST_TS), BAD, "{garbage}");
        }
        assert!(malformed(st(&format!("v1={good}"), ST_BODY, ST_KEY, ST_TS)));
        assert!(malformed(st("t=later,v1=00", ST_BODY, ST_KEY, ST_TS)));
        let map = HeaderMap::new();
        let none = check(&Scheme::Stripe, ST_KEY, &map, ST_BODY, ST_TS, TOL);
        assert_eq!(none, missing("Stripe-Signature"));
    }

    #[test]
    fn stripe_delivery_id_fallbacks() {
        for body in [&b"not json"[..], b"[1]", br#"{"id":5}"#] {
            let mac = raw_mac(ST_KEY, &[b"1700000000.", body]);
            let replay = signature_digest(&mac);
            let r = Some(replay.as_str());
            let mut map = hm(&[("Stripe-Signature", &format!("t={ST_TS},v1={}", hex(&mac)))]);
            let run = |map: &HeaderMap| check(&Scheme::Stripe, ST_KEY, map, body, ST_TS, TOL);
            assert_eq!(run(&map), ok(None, r, Some(ST_TS)));
            // an unsigned Idempotency-Key is information, not the replay key
            map.insert("Idempotency-Key", HeaderValue::from_static("k"));
            assert_eq!(run(&map), ok(Some("k"), r, Some(ST_TS)));
        }
    }

    #[test]
    fn hmac_sha256_header() {
        let hs = |name: &str, map: &HeaderMap, body: &[u8], key: &str| {
            let header = name.to_owned();
            check(
                &Scheme::HmacSha256 {
                    header,
                    timestamp_header: None,
                },
                key,
                map,
                body,
                0,
                TOL,
            )
        };
        let replay = gh_replay();
        let r = Some(replay.as_str());
        let (upper, prefixed) = (GH_SIG.to_uppercase(), format!("sha256={GH_SIG}"));
        for sig in [GH_SIG, &upper, &prefixed] {
            let map = hm(&[("x-signature-256", sig)]);
            assert_eq!(hs("", &map, GH_BODY, GH_KEY), ok(None, r, None));
        }
        let custom = |map: &HeaderMap, body: &[u8], key: &str| hs("X-Sig", map, body, key);
        let (sig, wid) = (("X-Sig", GH_SIG), ("X-Webhook-Id", "w"));
        let both = hm(&[sig, wid, ("Idempotency-Key", "k")]);
        assert_eq!(custom(&both, GH_BODY, GH_KEY), ok(Some("k"), r, None));
        let map = hm(&[sig, wid]);
        assert_eq!(custom(&map, GH_BODY, GH_KEY), ok(Some("w"), r, None));
        assert_eq!(custom(&map, b"tampered", GH_KEY), BAD);
        assert_eq!(custom(&map, GH_BODY, "wrong"), BAD);
        let empty = HeaderMap::new();
        assert_eq!(custom(&empty, GH_BODY, GH_KEY), missing("X-Sig"));
        let default = hs("", &empty, GH_BODY, GH_KEY);
        assert_eq!(default, missing(DEFAULT_HMAC_HEADER));
        // An invalid header name is simply absent, not a panic.
        assert_eq!(hs("bad name", &map, GH_BODY, GH_KEY), missing("bad name"));
        for garbage in ["zz", "sha256=xyz", "abc", "sha256=sha256=00", "-1"] {
            let map = hm(&[("X-Sig", garbage)]);
            assert_eq!(custom(&map, GH_BODY, GH_KEY), BAD, "{garbage}");
        }
    }

    #[test]
    fn none_scheme_ids() {
        let none = |map: &HeaderMap| check(&Scheme::None, "", map, b"", 0, 0);
        assert_eq!(none(&HeaderMap::new()), ok(None, None, None));
        let (idem, gh) = (("Idempotency-Key", "k"), ("X-GitHub-Delivery", "g"));
        let all = hm(&[idem, gh, ("webhook-id", "w")]);
        assert_eq!(none(&all), ok(Some("w"), Some("w"), None));
        let mut map = hm(&[idem, gh]);
        assert_eq!(none(&map), ok(Some("g"), Some("g"), None));
        map.insert("X-GitHub-Delivery", not_utf8());
        assert_eq!(none(&map), ok(Some("k"), Some("k"), None));
    }

    #[test]
    fn hmac_sha256_with_a_signed_timestamp() {
        let scheme = Scheme::HmacSha256 {
            header: "X-Sig".into(),
            timestamp_header: Some("X-Timestamp".into()),
        };
        let key = "generic-key";
        let body = br#"{"a":1}"#;
        let signed = |ts: &str| hex(&raw_mac(key, &[ts.as_bytes(), b".", body]));
        let at = |ts: &str, sig: &str, now: i64| {
            let map = hm(&[("X-Sig", sig), ("X-Timestamp", ts)]);
            check(&scheme, key, &map, body, now, TOL)
        };
        let t = 1_700_000_000_i64;
        let ts = t.to_string();
        let first = at(&ts, &signed(&ts), t).expect("valid");
        assert_eq!(first.timestamp, Some(t));
        // same timestamp and body: the same delivery; another timestamp: another one
        assert_eq!(
            at(&ts, &signed(&ts), t + 5).expect("valid").replay_key,
            first.replay_key
        );
        let later = (t + 1).to_string();
        let second = at(&later, &signed(&later), t).expect("valid");
        assert_ne!(second.replay_key, first.replay_key);
        // the tolerance both ways, like Standard Webhooks
        assert_eq!(at(&ts, &signed(&ts), t + TOL + 1), stale(TOL + 1));
        assert_eq!(at(&ts, &signed(&ts), t - TOL - 1), stale(-TOL - 1));
        // the timestamp is signed: moving it breaks the signature
        assert_eq!(at(&later, &signed(&ts), t), BAD);
        // the body alone is not what is signed any more
        assert_eq!(at(&ts, &hex(&raw_mac(key, &[body])), t), BAD);
        let map = hm(&[("X-Sig", signed(&ts).as_str())]);
        assert_eq!(check(&scheme, key, &map, body, t, TOL), missing("X-Timestamp"));
        assert!(malformed(at("soon", &signed("soon"), t)));
    }

    #[test]
    fn display_messages() {
        let missing = VerifyError::MissingHeader("a".into()).to_string();
        assert_eq!(missing, "missing header `a`");
        let stale = VerifyError::StaleTimestamp { age_secs: -4 }.to_string();
        assert_eq!(stale, "stale timestamp (age -4s)");
    }
}
