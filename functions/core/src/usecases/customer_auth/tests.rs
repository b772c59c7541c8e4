use super::*;
use crate::domain::Money;
use crate::domain::plan::{Plan, PlanKind};
use crate::domain::subscriber::Status;
use crate::store::plans;
use crate::store::subscribers::Subscriber;
use crate::testing::{TestDb, run, tenant};
use chrono::TimeZone;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).single().expect("valid")
}

pub(crate) fn keys() -> Keys {
    let settings = Settings {
        public_base_url: "http://x".into(),
        platform_token: crate::secret::Secret::new("p"),
        voucher_secret: crate::secret::Secret::new("platform-secret"),
    };
    Keys::of(&settings, "test").expect("keys")
}

/// A tenant database with one plan and subscribers `ACC1` (0711000001) and `ACC2` (0711000002).
pub(crate) fn seeded() -> TestDb {
    let db = TestDb::tenant();
    let plan = Plan {
        id: "plan-home".into(),
        code: "home".into(),
        name: "Home".into(),
        kind: PlanKind::Pppoe,
        price: Money(150_000),
        period_seconds: 30 * 86_400,
        down_kbps: 5000,
        up_kbps: 2000,
        data_cap_bytes: None,
        max_devices: 1,
        active: true,
    };
    let mut stmts = vec![plans::insert(&plan, "2026-01-01T00:00:00Z")];
    for i in 1..=2 {
        stmts.push(subscribers::insert(&Subscriber {
            id: format!("sub-{i}"),
            account_no: crate::domain::AccountNo::parse(&format!("ACC{i}")).expect("account"),
            name: format!("Customer {i}"),
            phone: Some(Msisdn::parse(&format!("25471100000{i}")).expect("phone")),
            username: crate::domain::Username::parse(&format!("user{i}")).expect("username"),
            password: "pppoe-secret".into(),
            site: None,
            static_ip: None,
            plan_id: "plan-home".into(),
            status: Status::Active,
            expires_at: Some(now() + Duration::days(10)),
            auto_renew: true,
            version: 0,
            created_at: now(),
        }));
    }
    run(db.batch(&stmts)).expect("seed");
    db
}

fn ids(seed: u8) -> IdGen {
    IdGen::new(&crate::Ctx { now: now(), entropy: [seed; 32] })
}

/// The code in the newest SMS to `to`.
pub(crate) fn code_sent_to(db: &TestDb, to: &str) -> String {
    let m = run(sms::list(db, Some(to), None, 1)).expect("outbox");
    let body = &m.first().expect("a message").body;
    body.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .expect("a 6-digit code")
        .to_owned()
}

#[test]
fn otp_is_queued_with_its_challenge_stored_hashed_and_signs_in_once() {
    let db = seeded();
    let k = keys();
    let t = tenant(Default::default());
    let sent = run(send_otp(
        &db,
        &k,
        &t,
        &OtpInput { phone: Some("0711000001".into()), account: None },
        "ip1",
        &mut ids(1),
        now(),
    ))
    .expect("send");
    let code = code_sent_to(&db, "254711000001");
    let stored = run(customer::challenge(&db, &sent.challenge_id)).expect("q").expect("row");
    assert!(!stored.code_hash.contains(&code), "only a hash is kept");
    let tok = run(verify_otp(&db, &k, &sent.challenge_id, &code, "ip1", &mut ids(2), now())).expect("verify");
    let a = verify_access(&k, &tok.access_token, now()).expect("valid access token");
    assert_eq!(a.sub, "sub-1");
    assert!(verify_access(&k, &tok.access_token, now() + Duration::seconds(ACCESS_SECONDS)).is_none(), "expires");
    let again = run(verify_otp(&db, &k, &sent.challenge_id, &code, "ip1", &mut ids(3), now()));
    assert!(matches!(again, Err(AuthError::Refused(_))), "a code signs in once: {again:?}");
}

#[test]
fn otp_wrong_codes_kill_the_challenge_and_expiry_is_five_minutes() {
    let db = seeded();
    let k = keys();
    let t = tenant(Default::default());
    let input = OtpInput { phone: None, account: Some("acc1".into()) };
    let sent = run(send_otp(&db, &k, &t, &input, "ip1", &mut ids(1), now())).expect("send");
    let code = code_sent_to(&db, "254711000001");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..OTP_MAX_ATTEMPTS {
        assert!(run(verify_otp(&db, &k, &sent.challenge_id, wrong, "ip1", &mut ids(2), now())).is_err());
    }
    let r = run(verify_otp(&db, &k, &sent.challenge_id, &code, "ip1", &mut ids(2), now()));
    assert!(matches!(r, Err(AuthError::Refused(_))), "dead after {OTP_MAX_ATTEMPTS} wrong codes: {r:?}");

    let later = now() + Duration::seconds(1000);
    let sent = run(send_otp(&db, &k, &t, &input, "ip2", &mut ids(4), later)).expect("send");
    let code = code_sent_to(&db, "254711000001");
    let late = later + Duration::seconds(OTP_SECONDS);
    let r = run(verify_otp(&db, &k, &sent.challenge_id, &code, "ip2", &mut ids(5), late));
    assert!(matches!(r, Err(AuthError::Refused(_))), "expired: {r:?}");
}

#[test]
fn otp_for_an_unknown_phone_answers_the_same_and_sends_nothing() {
    let db = seeded();
    let k = keys();
    let t = tenant(Default::default());
    let input = OtpInput { phone: Some("0799999999".into()), account: None };
    let sent = run(send_otp(&db, &k, &t, &input, "ip1", &mut ids(1), now())).expect("same answer");
    assert_eq!(sent.expires_in, OTP_SECONDS);
    assert!(run(sms::list(&db, None, None, 10)).expect("outbox").is_empty());
    let r = run(verify_otp(&db, &k, &sent.challenge_id, "123456", "ip1", &mut ids(2), now()));
    assert!(matches!(r, Err(AuthError::Refused(_))));
}

#[test]
fn otp_sends_are_throttled_per_phone_and_per_ip() {
    let db = seeded();
    let k = keys();
    let t = tenant(Default::default());
    let to1 = OtpInput { phone: Some("0711000001".into()), account: None };
    for i in 0..OTP_SEND_PHONE.limit {
        run(send_otp(&db, &k, &t, &to1, &format!("ip{i}"), &mut ids(i as u8), now())).expect("send");
    }
    let r = run(send_otp(&db, &k, &t, &to1, "ip-other", &mut ids(9), now()));
    assert!(matches!(r, Err(AuthError::Throttled(_))), "per phone: {r:?}");
    assert_eq!(run(sms::list(&db, None, None, 10)).expect("outbox").len() as i64, OTP_SEND_PHONE.limit);

    let later = now() + Duration::seconds(3600 * 5);
    for i in 0..OTP_SEND_IP.limit {
        let to = OtpInput { phone: Some(format!("07990000{i:02}")), account: None };
        run(send_otp(&db, &k, &t, &to, "ip-same", &mut ids(20 + i as u8), later)).expect("under the IP limit");
    }
    let to = OtpInput { phone: Some("0799000099".into()), account: None };
    let throttled =
        matches!(run(send_otp(&db, &k, &t, &to, "ip-same", &mut ids(99), later)), Err(AuthError::Throttled(_)));
    assert!(throttled, "per IP");
}

#[test]
fn login_needs_a_portal_password_and_is_throttled_per_login() {
    let db = seeded();
    let k = keys();
    let r = run(login(&db, &k, "ACC1", "pppoe-secret", "ip1", &mut ids(1), now()));
    assert!(matches!(r, Err(AuthError::Refused(_))), "the PPPoE secret is not the portal password: {r:?}");
    run(set_password(&db, "sub-1", "none", "a-good-password", &mut ids(2), now())).expect("set");
    let tok = run(login(&db, &k, "acc-1", "a-good-password", "ip1", &mut ids(3), now())).expect("by account");
    assert_eq!(tok.subscriber_id, "sub-1");
    run(login(&db, &k, "user1", "a-good-password", "ip1", &mut ids(4), now())).expect("by PPPoE username");
    for _ in 0..FAIL_LOGIN.limit {
        assert!(run(login(&db, &k, "ACC1", "wrong-password", "ip2", &mut ids(5), now())).is_err());
    }
    let r = run(login(&db, &k, "ACC1", "a-good-password", "ip3", &mut ids(6), now()));
    assert!(matches!(r, Err(AuthError::Throttled(_))), "{r:?}");
}

#[test]
fn refresh_rotates_and_a_reused_token_ends_the_sign_in() {
    let db = seeded();
    let k = keys();
    run(set_password(&db, "sub-2", "none", "a-good-password", &mut ids(1), now())).expect("set");
    let t1 = run(login(&db, &k, "ACC2", "a-good-password", "ip", &mut ids(2), now())).expect("login");
    let stored = run(db.query(&crate::stmt!("SELECT token_hash FROM customer_refresh_tokens"))).expect("q");
    assert!(stored.iter().all(|r| r.text("token_hash").expect("text") != t1.refresh_token), "stored hashed");
    let t2 = run(refresh(&db, &k, &t1.refresh_token, &mut ids(3), now())).expect("rotate");
    assert_ne!(t2.refresh_token, t1.refresh_token);
    let reuse = run(refresh(&db, &k, &t1.refresh_token, &mut ids(4), now()));
    assert!(matches!(reuse, Err(AuthError::Refused(_))));
    let after = run(refresh(&db, &k, &t2.refresh_token, &mut ids(5), now()));
    assert!(matches!(after, Err(AuthError::Refused(_))), "reuse of an old token revoked the family");

    let t3 = run(login(&db, &k, "ACC2", "a-good-password", "ip", &mut ids(6), now())).expect("login");
    let a = verify_access(&k, &t3.access_token, now()).expect("access");
    run(logout(&db, &a.sid, now())).expect("logout");
    assert!(run(refresh(&db, &k, &t3.refresh_token, &mut ids(7), now())).is_err(), "logout revokes");
}

#[test]
fn access_token_of_another_tenant_or_forged_is_refused() {
    let k = keys();
    let other = Keys::of(
        &Settings {
            public_base_url: "http://x".into(),
            platform_token: crate::secret::Secret::new("p"),
            voucher_secret: crate::secret::Secret::new("platform-secret"),
        },
        "other",
    )
    .expect("keys");
    let tok =
        session::sign(&other.access, &Access { sub: "sub-1".into(), sid: "f".into(), exp: now().timestamp() + 60 });
    assert!(verify_access(&k, &tok, now()).is_none());
    assert!(verify_access(&k, "x.y", now()).is_none());
}
