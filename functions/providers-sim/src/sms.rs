//! Africa's Talking SMS: `POST /version1/messaging` and delivery reports; `GET /inbox` shows
//! every message received.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use serde::Serialize;
use serde_json::json;

use crate::form::{self, esc};
use crate::webhook::{self, Outgoing};
use crate::{Sim, json, page, text};

/// One message to one recipient, as the simulator received it.
#[derive(Debug, Clone, Serialize)]
pub struct SmsMessage {
    pub message_id: String,
    pub username: String,
    pub to: String,
    pub from: Option<String>,
    pub message: String,
    pub bulk: bool,
    pub status_code: u16,
    pub status: String,
    pub cost: String,
    pub at: String,
}

/// A delivery report sent (or to be sent) for a message.
#[derive(Debug, Clone, Serialize)]
pub struct SmsReport {
    pub message_id: String,
    pub status: String,
    pub failure_reason: Option<String>,
}

fn status_name(code: u16) -> &'static str {
    match code {
        100 => "Processed",
        101 => "Success",
        102 => "Queued",
        401 => "RiskHold",
        402 => "InvalidSenderId",
        403 => "InvalidPhoneNumber",
        404 => "UnsupportedNumberType",
        405 => "InsufficientBalance",
        406 => "UserInBlacklist",
        407 => "CouldNotRoute",
        409 => "DoNotDisturbRejection",
        500 => "InternalServerError",
        501 => "GatewayError",
        _ => "RejectedByGateway",
    }
}

fn valid_number(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| (9..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// GSM-7 segments: 160 characters, or 153 each when split (non-ASCII counted as UCS-2: 70 / 67).
fn segments(message: &str) -> u32 {
    let n = message.chars().count() as u32;
    let (one, many) = if message.is_ascii() { (160, 153) } else { (70, 67) };
    if n <= one { 1 } else { n.div_ceil(many) }
}

pub(crate) async fn route(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/version1/messaging") => send(sim, req),
        (&Method::GET, "/inbox") => page::html(200, &inbox(sim, req.uri().query())),
        _ => text(404, "not found"),
    }
}

fn send(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let f = form::map(req.body());
    let key = req.headers().get("apikey").and_then(|v| v.to_str().ok()).unwrap_or("");
    let username = f.get("username").cloned().unwrap_or_default();
    let acct = sim.state().config.sms.iter().find(|a| a.username == username && a.api_key == key).cloned();
    let Some(acct) = acct else {
        return text(401, "The supplied authentication is invalid");
    };
    let (Some(to), Some(message)) = (f.get("to").filter(|t| !t.trim().is_empty()), f.get("message")) else {
        return text(400, "Request is missing required form field 'to' or 'message'");
    };
    let from = f.get("from").filter(|s| !s.is_empty()).cloned();
    let bulk = f.get("bulkSMSMode").is_none_or(|v| v == "1");
    let price: f64 = sim.state().config.sms_price.parse().unwrap_or(0.8);
    let mut recipients = Vec::new();
    let mut total = 0.0f64;
    let mut sent = 0usize;
    let mut to_report = Vec::new();
    {
        let mut st = sim.state();
        for number in to.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let code = if !valid_number(number) {
                403
            } else if from.as_ref().is_some_and(|f| !acct.sender_ids.is_empty() && !acct.sender_ids.contains(f)) {
                402
            } else {
                st.config.number_status.get(number).copied().unwrap_or(101)
            };
            let ok = (100..200).contains(&code);
            let cost = if ok { price * f64::from(segments(message)) } else { 0.0 };
            let id = if ok { format!("ATXid_{:x}{}", st.next(), crate::random_id(24)) } else { "None".into() };
            let cost_text = if ok { format!("KES {cost:.4}") } else { "0".into() };
            if ok {
                total += cost;
                sent += 1;
                let failed = st.config.undeliverable.iter().any(|u| u == number);
                to_report.push((id.clone(), number.to_owned(), failed));
            }
            st.messages.push(SmsMessage {
                message_id: id.clone(),
                username: username.clone(),
                to: number.to_owned(),
                from: from.clone(),
                message: message.clone(),
                bulk,
                status_code: code,
                status: status_name(code).into(),
                cost: cost_text.clone(),
                at: chrono::Utc::now().to_rfc3339(),
            });
            recipients.push(json!({"statusCode": code, "number": number, "status": status_name(code),
                                   "cost": cost_text, "messageId": id}));
        }
    }
    sim.notify();
    let delay = Duration::from_millis(sim.state().config.report_delay_ms);
    for (id, number, failed) in to_report {
        let (status, reason) = if failed { ("Failed", Some("DeliveryFailure")) } else { ("Success", None) };
        sim.state().reports.push(SmsReport {
            message_id: id.clone(),
            status: status.into(),
            failure_reason: reason.map(str::to_owned),
        });
        if let Some(url) = &acct.callback_url {
            let mut fields = vec![
                ("id", id.as_str()),
                ("status", status),
                ("phoneNumber", number.as_str()),
                ("networkCode", "63902"),
                ("retryCount", "0"),
            ];
            if let Some(r) = reason {
                fields.push(("failureReason", r));
            }
            webhook::spawn(
                sim,
                Outgoing {
                    kind: "sms_report",
                    about: id.clone(),
                    url: url.clone(),
                    body: Bytes::from(form::encode(&fields)),
                    content_type: "application/x-www-form-urlencoded",
                    sign: Box::new(|_| None),
                    copies: 1,
                    first_delay: delay,
                },
            );
        }
    }
    let count = recipients.len();
    json(
        201,
        &json!({"SMSMessageData": {
            "Message": format!("Sent to {sent}/{count} Total Cost: KES {total:.4}"),
            "Recipients": recipients,
        }}),
    )
}

fn inbox(sim: &Sim, query: Option<&str>) -> String {
    let to = query.map(|q| form::map(q.as_bytes())).and_then(|m| m.get("to").cloned()).unwrap_or_default();
    let st = sim.state();
    let mut rows = String::new();
    for m in st.messages.iter().rev().filter(|m| to.is_empty() || m.to.contains(to.as_str())) {
        let report = st.reports.iter().rev().find(|r| r.message_id == m.message_id);
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=msg>{}</td><td>{} {}</td><td>{}</td></tr>",
            esc(&m.at[..19.min(m.at.len())].replace('T', " ")),
            esc(&m.to),
            esc(m.from.as_deref().unwrap_or("")),
            esc(&m.message),
            esc(&m.status),
            report.map(|r| format!("/ {}", esc(&r.status))).unwrap_or_default(),
            esc(&m.cost),
        ));
    }
    let body = format!(
        "<form><label>To <input name=to value=\"{}\"></label> <button>Filter</button></form>\
         <p>{} message(s), newest first (UTC). Refresh to see new ones.</p>\
         <table><tr><th>at</th><th>to</th><th>from</th><th>message</th><th>status</th><th>cost</th></tr>{rows}</table>",
        esc(&to),
        st.messages.len()
    );
    page::wrap("SMS inbox (Africa's Talking simulator)", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_segments_and_numbers() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments("Asante ✓"), 1);
        assert!(valid_number("+254712345678"));
        assert!(!valid_number("0712345678"));
        assert!(!valid_number("+2547123x5678"));
    }
}
