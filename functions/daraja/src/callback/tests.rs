use super::*;
use crate::wire::StkCallbackEnvelope;
use chrono::TimeZone;
use proptest::prelude::*;

const DOC_SUCCESS: &str = r#"{"Body":{"stkCallback":{
  "MerchantRequestID":"29115-34620561-1",
  "CheckoutRequestID":"ws_CO_191220191020363925",
  "ResultCode":0,
  "ResultDesc":"The service request is processed successfully.",
  "CallbackMetadata":{"Item":[
    {"Name":"Amount","Value":1.00},
    {"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},
    {"Name":"TransactionDate","Value":20191219102115},
    {"Name":"PhoneNumber","Value":254708374149}]}}}}"#;

const DOC_FAILURE: &str = r#"{"Body":{"stkCallback":{"MerchantRequestID":"f1e2-4b95-a71d-b30d3cdbb7a7942864",
 "CheckoutRequestID":"ws_CO_21072024125243250722943992","ResultCode":1032,
 "ResultDesc":"Request cancelled by user"}}}"#;

fn success_with_items(items: &str) -> String {
    format!(
        r#"{{"Body":{{"stkCallback":{{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_1","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{{"Item":[{items}]}}}}}}}}"#
    )
}

fn err(body: &str) -> CallbackError {
    parse_stk_callback(body.as_bytes()).unwrap_err()
}

#[test]
fn stk_callback_doc_success_parses_to_paid() {
    let cb = parse_stk_callback(DOC_SUCCESS.as_bytes()).unwrap();
    assert_eq!(cb.merchant_request_id, "29115-34620561-1");
    assert_eq!(cb.checkout_request_id, "ws_CO_191220191020363925");
    assert_eq!(cb.result_code(), ResultCode::Success);
    let StkOutcome::Paid(p) = cb.outcome else { panic!("not paid") };
    assert_eq!(p.amount_cents, 100);
    assert_eq!(p.receipt, "NLJ7RT61SV");
    assert_eq!(p.phone_number.as_deref(), Some("254708374149"));
    // 10:21:15 in Nairobi is 07:21:15 UTC.
    assert_eq!(p.transaction_date, Some(Utc.with_ymd_and_hms(2019, 12, 19, 7, 21, 15).unwrap()));
}

#[test]
fn stk_callback_doc_failure_parses_to_cancelled() {
    let cb = parse_stk_callback(DOC_FAILURE.as_bytes()).unwrap();
    assert_eq!(cb.outcome, StkOutcome::Failed(ResultCode::CancelledByUser));
    assert_eq!(cb.result_desc, "Request cancelled by user");
}

#[test]
fn stk_callback_items_in_any_order_are_found_by_name() {
    let body = success_with_items(
        r#"{"Name":"PhoneNumber","Value":254708374149},{"Name":"Balance"},{"Name":"MpesaReceiptNumber","Value":"ABC123"},{"Name":"Amount","Value":250}"#,
    );
    let cb = parse_stk_callback(body.as_bytes()).unwrap();
    let StkOutcome::Paid(p) = cb.outcome else { panic!() };
    assert_eq!((p.amount_cents, p.receipt.as_str()), (25_000, "ABC123"));
    assert_eq!(p.transaction_date, None);
}

#[test]
fn stk_callback_amount_decimal_is_exact_cents() {
    for (text, cents) in [("1", 100), ("1.5", 150), ("10.25", 1025), ("99999.99", 9_999_999), ("\"7.00\"", 700)] {
        let body = success_with_items(&format!(
            r#"{{"Name":"Amount","Value":{text}}},{{"Name":"MpesaReceiptNumber","Value":"R1"}}"#
        ));
        let StkOutcome::Paid(p) = parse_stk_callback(body.as_bytes()).unwrap().outcome else { panic!() };
        assert_eq!(p.amount_cents, cents, "{text}");
    }
}

#[test]
fn stk_callback_result_code_as_string_is_accepted() {
    let body = DOC_FAILURE.replace("1032", "\"1037\"");
    let cb = parse_stk_callback(body.as_bytes()).unwrap();
    assert_eq!(cb.result_code(), ResultCode::Unreachable);
}

#[test]
fn stk_callback_unknown_code_is_other() {
    let body = DOC_FAILURE.replace("1032", "4242");
    assert_eq!(parse_stk_callback(body.as_bytes()).unwrap().result_code(), ResultCode::Other("4242".into()));
}

#[test]
fn stk_callback_success_without_metadata_is_rejected() {
    let body = DOC_FAILURE.replace("1032", "0");
    assert_eq!(err(&body), CallbackError::MissingCallbackMetadata);
    let body = DOC_FAILURE.replace("1032", "0").replace(r#""ResultDesc""#, r#""CallbackMetadata":null,"ResultDesc""#);
    assert_eq!(err(&body), CallbackError::MissingCallbackMetadata);
}

#[test]
fn stk_callback_success_without_amount_is_rejected() {
    let body = success_with_items(r#"{"Name":"MpesaReceiptNumber","Value":"R1"}"#);
    assert_eq!(err(&body), CallbackError::MissingItem { name: "Amount" });
    let body = success_with_items(r#"{"Name":"Amount"},{"Name":"MpesaReceiptNumber","Value":"R1"}"#);
    assert_eq!(err(&body), CallbackError::MissingItem { name: "Amount" });
}

#[test]
fn stk_callback_success_without_receipt_is_rejected() {
    let body = success_with_items(r#"{"Name":"Amount","Value":1}"#);
    assert_eq!(err(&body), CallbackError::MissingItem { name: "MpesaReceiptNumber" });
}

#[test]
fn stk_callback_bad_amounts_are_rejected_with_reason() {
    for (text, reason) in [
        ("0", AmountError::Zero),
        ("0.00", AmountError::Zero),
        ("-5", AmountError::Negative),
        ("1.005", AmountError::SubCent),
        ("1e2", AmountError::NotDecimal),
        ("\"abc\"", AmountError::NotDecimal),
        ("\"\"", AmountError::Empty),
    ] {
        let body = success_with_items(&format!(
            r#"{{"Name":"Amount","Value":{text}}},{{"Name":"MpesaReceiptNumber","Value":"R1"}}"#
        ));
        match err(&body) {
            CallbackError::InvalidAmount { reason: r, field, .. } => {
                assert_eq!(r, reason, "{text}");
                assert!(field.contains("Amount"), "{field}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn stk_callback_amount_of_wrong_type_is_rejected() {
    let body = success_with_items(r#"{"Name":"Amount","Value":[1]},{"Name":"MpesaReceiptNumber","Value":"R1"}"#);
    assert!(matches!(err(&body), CallbackError::WrongType { expected: "string or number", found: "array", .. }));
}

#[test]
fn stk_callback_duplicate_item_is_rejected() {
    let body = success_with_items(
        r#"{"Name":"Amount","Value":1},{"Name":"Amount","Value":1000},{"Name":"MpesaReceiptNumber","Value":"R1"}"#,
    );
    assert_eq!(err(&body), CallbackError::DuplicateItem { name: "Amount".into() });
}

#[test]
fn stk_callback_duplicate_key_is_rejected() {
    let body = DOC_FAILURE.replace(r#""ResultCode":1032"#, r#""ResultCode":1032,"ResultCode":0"#);
    assert_eq!(err(&body), CallbackError::DuplicateField { field: "Body.stkCallback.ResultCode".into() });
}

#[test]
fn stk_callback_receipt_of_wrong_shape_is_rejected() {
    let body = success_with_items(r#"{"Name":"Amount","Value":1},{"Name":"MpesaReceiptNumber","Value":12345}"#);
    assert!(matches!(err(&body), CallbackError::WrongType { expected: "string", found: "number", .. }));
    let body = success_with_items(r#"{"Name":"Amount","Value":1},{"Name":"MpesaReceiptNumber","Value":"AB 12"}"#);
    assert!(matches!(err(&body), CallbackError::InvalidValue { .. }));
}

#[test]
fn stk_callback_bad_transaction_date_is_rejected() {
    let body = success_with_items(
        r#"{"Name":"Amount","Value":1},{"Name":"MpesaReceiptNumber","Value":"R1"},{"Name":"TransactionDate","Value":2019121910}"#,
    );
    assert!(matches!(err(&body), CallbackError::InvalidValue { reason: "not YYYYMMDDHHmmss", .. }));
}

#[test]
fn stk_callback_missing_fields_are_named() {
    assert_eq!(err("{}"), CallbackError::MissingField { field: "Body".into() });
    assert_eq!(err(r#"{"Body":{}}"#), CallbackError::MissingField { field: "Body.stkCallback".into() });
    let body = DOC_FAILURE.replace(r#""CheckoutRequestID":"ws_CO_21072024125243250722943992","#, "");
    assert_eq!(err(&body), CallbackError::MissingField { field: "Body.stkCallback.CheckoutRequestID".into() });
    let body = DOC_FAILURE.replace(r#""ResultCode":1032,"#, "");
    assert_eq!(err(&body), CallbackError::MissingField { field: "Body.stkCallback.ResultCode".into() });
    let body = success_with_items(r#"{"Value":1}"#);
    assert_eq!(
        err(&body),
        CallbackError::MissingField { field: "Body.stkCallback.CallbackMetadata.Item[0].Name".into() }
    );
}

#[test]
fn stk_callback_wrong_types_are_named() {
    assert_eq!(err("[]"), CallbackError::WrongType { field: "(body)".into(), expected: "object", found: "array" });
    assert_eq!(
        err(r#"{"Body":"x"}"#),
        CallbackError::WrongType { field: "Body".into(), expected: "object", found: "string" }
    );
    let body = DOC_FAILURE.replace("1032", "true");
    assert_eq!(
        err(&body),
        CallbackError::WrongType { field: "Body.stkCallback.ResultCode".into(), expected: "number", found: "boolean" }
    );
    let body = DOC_FAILURE.replace("1032", "10.5");
    assert!(matches!(err(&body), CallbackError::InvalidValue { reason: "not an integer", .. }));
    let body = DOC_SUCCESS.replace(r#""Item":["#, r#""Item":{"x":["#).replace("]}}}}", "]}}}}}");
    assert!(
        matches!(err(&body), CallbackError::WrongType { expected: "array", found: "object", .. }),
        "{:?}",
        err(&body)
    );
    let body = DOC_FAILURE.replace(r#""f1e2-4b95-a71d-b30d3cdbb7a7942864""#, "12");
    assert!(matches!(err(&body), CallbackError::WrongType { expected: "string", found: "number", .. }));
}

#[test]
fn stk_callback_truncated_body_is_truncated() {
    for cut in [1, 10, DOC_SUCCESS.len() / 2, DOC_SUCCESS.len() - 1] {
        assert_eq!(err(&DOC_SUCCESS[..cut]), CallbackError::Truncated, "cut at {cut}");
    }
}

#[test]
fn stk_callback_garbage_is_not_json() {
    assert!(matches!(err("hello"), CallbackError::NotJson(_)));
    assert!(matches!(err(&format!("{DOC_FAILURE} trailing")), CallbackError::NotJson(_)));
    assert!(matches!(parse_stk_callback(&[0xff, 0xfe]), Err(CallbackError::NotJson(_))));
    assert_eq!(err(""), CallbackError::Empty);
    assert_eq!(err("  \n"), CallbackError::Empty);
}

#[test]
fn stk_callback_oversized_body_is_rejected_unread() {
    let body = vec![b' '; MAX_CALLBACK_BODY + 1];
    assert_eq!(
        parse_stk_callback(&body),
        Err(CallbackError::TooLarge { len: MAX_CALLBACK_BODY + 1, max: MAX_CALLBACK_BODY })
    );
}

#[test]
fn stk_callback_built_envelope_roundtrips() {
    let env = StkCallbackEnvelope::success("m-1", "ws_CO_9", 12_345, "SIMABC1234", "20240101120000", "254708374149");
    let json = serde_json::to_string(&env).unwrap();
    assert!(json.contains(r#""Value":123.45"#), "{json}");
    let cb = parse_stk_callback(json.as_bytes()).unwrap();
    let StkOutcome::Paid(p) = cb.outcome else { panic!() };
    assert_eq!((p.amount_cents, p.receipt.as_str()), (12_345, "SIMABC1234"));
    let env = StkCallbackEnvelope::failure("m-1", "ws_CO_9", 1, "insufficient");
    let cb = parse_stk_callback(serde_json::to_string(&env).unwrap().as_bytes()).unwrap();
    assert_eq!(cb.result_code(), ResultCode::InsufficientBalance);
}

#[test]
fn stk_callback_ack_is_result_code_zero() {
    let resp = stk_callback_ack();
    assert_eq!(resp.status(), 200);
    assert_eq!(&resp.body()[..], br#"{"ResultCode":0,"ResultDesc":"Accepted"}"#);
}

proptest! {
    #[test]
    fn stk_callback_arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_stk_callback(&body);
    }

    #[test]
    fn stk_callback_any_prefix_of_doc_sample_never_panics(cut in 0usize..DOC_SUCCESS.len()) {
        prop_assert!(parse_stk_callback(&DOC_SUCCESS.as_bytes()[..cut]).is_err());
    }

    #[test]
    fn stk_callback_success_amount_roundtrips(cents in 1u64..1_000_000_000, receipt in "[A-Z0-9]{10}") {
        let env = StkCallbackEnvelope::success("m", "ws_CO_1", cents, &receipt, "20240101120000", "254700000001");
        let cb = parse_stk_callback(serde_json::to_string(&env).unwrap().as_bytes()).unwrap();
        prop_assert_eq!(cb.outcome, StkOutcome::Paid(StkPayment {
            amount_cents: cents,
            receipt,
            transaction_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 9, 0, 0).unwrap()),
            phone_number: Some("254700000001".into()),
        }));
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

/// Every leaf (and object) of the doc sample, as JSON pointers.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #[test]
    fn stk_callback_mutated_doc_sample_is_ok_or_explained(which in any::<prop::sample::Index>(), replacement in arb_json(), remove in any::<bool>()) {
        let mut doc: serde_json::Value = serde_json::from_str(DOC_SUCCESS).unwrap();
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let target = which.get(&all).clone();
        if remove {
            let (parent, key) = target.rsplit_once('/').unwrap();
            match doc.pointer_mut(parent).unwrap() {
                serde_json::Value::Object(m) => { m.remove(key); }
                serde_json::Value::Array(a) => { a.remove(key.parse::<usize>().unwrap()); }
                _ => unreachable!(),
            }
        } else {
            *doc.pointer_mut(&target).unwrap() = replacement;
        }
        match parse_stk_callback(doc.to_string().as_bytes()) {
            Ok(cb) => {
                if let StkOutcome::Paid(p) = cb.outcome {
                    prop_assert!(p.amount_cents > 0);
                    prop_assert!(!p.receipt.is_empty());
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
