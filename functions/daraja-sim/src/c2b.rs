//! A customer paying a Paybill/Till: validation (if enabled and registered), then confirmation.

use bytes::Bytes;
use chrono::Utc;
use daraja::C2bValidationResponse;
use daraja::wire::C2bNotification;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::MsisdnStyle;
use crate::sim::{Sim, fresh_receipt};
use crate::state::{C2bPayResult, C2bPayStatus};

/// A simulated customer payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bPay {
    pub shortcode: String,
    pub amount_cents: u64,
    /// What the customer typed as the account number (Paybill).
    pub bill_ref: String,
    /// `2547XXXXXXXX`; shown in the payload per [`crate::SimConfig::c2b_msisdn_style`].
    pub msisdn: String,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    /// "Buy Goods" instead of "Pay Bill".
    pub buy_goods: bool,
}

impl C2bPay {
    /// A Paybill payment of whole shillings.
    pub fn paybill(shortcode: &str, amount_kes: u64, bill_ref: &str, msisdn: &str) -> Self {
        C2bPay {
            shortcode: shortcode.into(),
            amount_cents: amount_kes.saturating_mul(100),
            bill_ref: bill_ref.into(),
            msisdn: msisdn.into(),
            first_name: "JOHN".into(),
            middle_name: String::new(),
            last_name: "DOE".into(),
            buy_goods: false,
        }
    }
}

/// `POST /__sim/c2b/pay` body. `amount` is KES as a number or a decimal string (`"5.00"`).
#[derive(Debug, Deserialize)]
pub(crate) struct C2bPayBody {
    shortcode: daraja::wire::NumOrString,
    amount: daraja::wire::NumOrString,
    #[serde(default)]
    bill_ref: String,
    #[serde(default = "default_msisdn")]
    msisdn: String,
    #[serde(default = "default_first")]
    first_name: String,
    #[serde(default)]
    middle_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    buy_goods: bool,
}

fn default_msisdn() -> String {
    "254708374149".into()
}

fn default_first() -> String {
    "JOHN".into()
}

impl C2bPayBody {
    pub(crate) fn into_pay(self) -> Result<C2bPay, String> {
        let amount_cents = daraja::parse_decimal_cents(&self.amount.to_text())
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("invalid amount {:?}", self.amount.to_text()))?;
        let msisdn =
            daraja::normalize_msisdn(&self.msisdn).ok_or_else(|| format!("invalid msisdn {:?}", self.msisdn))?;
        Ok(C2bPay {
            shortcode: self.shortcode.to_text(),
            amount_cents,
            bill_ref: self.bill_ref,
            msisdn,
            first_name: self.first_name,
            middle_name: self.middle_name,
            last_name: self.last_name,
            buy_goods: self.buy_goods,
        })
    }
}

fn show_msisdn(style: MsisdnStyle, msisdn: &str) -> String {
    match style {
        MsisdnStyle::Plain => msisdn.to_owned(),
        MsisdnStyle::Masked if msisdn.is_ascii() && msisdn.len() >= 7 => {
            format!("{} ***** {}", &msisdn[..4], &msisdn[msisdn.len() - 3..])
        }
        MsisdnStyle::Masked => "***".into(),
        MsisdnStyle::Hashed => hex::encode(Sha256::digest(msisdn.as_bytes())),
    }
}

fn to_body(n: &C2bNotification) -> Bytes {
    Bytes::from(serde_json::to_vec(n).unwrap_or_default())
}

/// Runs one payment to the end and records it.
pub(crate) async fn pay(sim: &Sim, pay: C2bPay) -> C2bPayResult {
    let (trans_id, registration, mut payload, validation_enabled, v_timeout, c_timeout, copies) = {
        let st = sim.state();
        let trans_id = fresh_receipt(&st);
        let payload = C2bNotification {
            transaction_type: if pay.buy_goods { "Buy Goods" } else { "Pay Bill" }.into(),
            trans_id: trans_id.clone(),
            trans_time: daraja::timestamp_eat(Utc::now()),
            trans_amount: daraja::cents_to_decimal(pay.amount_cents),
            business_short_code: pay.shortcode.clone(),
            bill_ref_number: if pay.buy_goods { String::new() } else { pay.bill_ref.clone() },
            invoice_number: String::new(),
            org_account_balance: String::new(),
            third_party_trans_id: String::new(),
            msisdn: show_msisdn(st.config.c2b_msisdn_style, &pay.msisdn),
            first_name: pay.first_name.clone(),
            middle_name: pay.middle_name.clone(),
            last_name: pay.last_name.clone(),
        };
        (
            trans_id,
            st.c2b_registrations.get(&pay.shortcode).cloned(),
            payload,
            st.config.c2b_external_validation,
            st.config.c2b_validation_timeout,
            st.config.callback_timeout,
            (st.config.c2b_confirmation_deliveries, st.config.duplicate_gap),
        )
    };
    let mut result = C2bPayResult {
        trans_id,
        shortcode: pay.shortcode.clone(),
        amount_cents: pay.amount_cents,
        status: C2bPayStatus::Completed,
        validation: None,
        confirmation: None,
        duplicate_confirmations: Vec::new(),
    };

    let known = sim.state().passkey(&pay.shortcode).is_some();
    if !known || pay.amount_cents == 0 {
        result.status =
            C2bPayStatus::Refused { reason: if known { "zero amount" } else { "unknown shortcode" }.into() };
        return record(sim, result);
    }

    let mut proceed = true;
    if let Some(reg) = &registration
        && validation_enabled
        && let Some(url) = &reg.validation_url
    {
        let call = sim.client().post_json(url, to_body(&payload), v_timeout).await;
        let answer =
            call.response_body.as_deref().filter(|_| call.ok()).map(|b| C2bValidationResponse::parse(b.as_bytes()));
        match answer {
            Some(Ok(C2bValidationResponse::Accept { third_party_trans_id })) => {
                payload.third_party_trans_id = third_party_trans_id.unwrap_or_default();
            }
            Some(Ok(C2bValidationResponse::Reject(code))) => {
                proceed = false;
                result.status = C2bPayStatus::Rejected { result_code: code.code().into() };
            }
            // No usable answer: apply the registered ResponseType.
            other => {
                if reg.response_type == "Cancelled" {
                    proceed = false;
                    let reason = match other {
                        Some(Err(e)) => format!("unusable validation answer: {e}"),
                        _ => {
                            call.error.clone().unwrap_or_else(|| format!("validation answered HTTP {:?}", call.status))
                        }
                    };
                    result.status = C2bPayStatus::Cancelled { reason };
                }
            }
        }
        result.validation = Some(call);
    }

    if proceed {
        let balance = {
            let mut st = sim.state();
            let b = st.balances.entry(pay.shortcode.clone()).or_insert(0);
            *b = b.saturating_add(pay.amount_cents);
            *b
        };
        payload.org_account_balance = daraja::cents_to_decimal(balance);
        if let Some(reg) = &registration {
            let (n, gap) = copies;
            for i in 0..n {
                if i > 0 {
                    tokio::time::sleep(gap).await;
                }
                let call = sim.client().post_json(&reg.confirmation_url, to_body(&payload), c_timeout).await;
                if result.confirmation.is_none() {
                    result.confirmation = Some(call);
                } else {
                    result.duplicate_confirmations.push(call);
                }
            }
        }
    }
    record(sim, result)
}

fn record(sim: &Sim, result: C2bPayResult) -> C2bPayResult {
    sim.state().c2b_payments.push(result.clone());
    sim.notify();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_msisdn_styles_match_daraja_forms() {
        assert_eq!(show_msisdn(MsisdnStyle::Plain, "254708374149"), "254708374149");
        assert_eq!(show_msisdn(MsisdnStyle::Masked, "254708374149"), "2547 ***** 149");
        let h = show_msisdn(MsisdnStyle::Hashed, "254708374149");
        assert_eq!(h.len(), 64);
        assert_eq!(daraja::C2bMsisdn::classify(&h), daraja::C2bMsisdn::Hashed(h.clone()));
        assert_eq!(show_msisdn(MsisdnStyle::Masked, "2547€€€€"), "***");
    }
}
