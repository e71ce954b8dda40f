//! Invoices: priced sessions grouped by customer, id tag or station. An
//! invoice's lines are its sessions' rounded lines; VAT is computed once
//! per rate over them (EN 16931 BR-CO-17 style), so the total is exactly
//! the sum of the lines plus the VAT lines.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::engine::{LineKind, SessionBill};
use super::money::round_money;

/// How sessions are grouped into invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Customer,
    IdTag,
    Station,
}

/// One VAT rate's share of an invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct VatGroup {
    pub rate: Decimal,
    pub base: Decimal,
    pub vat: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// The customer, id tag or station.
    pub party: String,
    pub currency: String,
    pub minor_units: u32,
    pub sessions: u64,
    pub kwh: Decimal,
    pub energy: Decimal,
    pub time: Decimal,
    pub idle: Decimal,
    pub fees: Decimal,
    pub discounts: Decimal,
    pub adjustments: Decimal,
    pub net: Decimal,
    pub vat_groups: Vec<VatGroup>,
    pub vat: Decimal,
    pub gross: Decimal,
}

/// The party a session is invoiced to.
pub fn party(bill: &SessionBill, by: GroupBy) -> String {
    match by {
        GroupBy::Customer => bill
            .customer
            .clone()
            .or_else(|| bill.id_tag.as_ref().map(|t| format!("id tag {t}")))
            .unwrap_or_else(|| "(no id tag)".into()),
        GroupBy::IdTag => bill.id_tag.clone().unwrap_or_else(|| "(no id tag)".into()),
        GroupBy::Station => bill.station.clone(),
    }
}

/// Group sessions into invoices (one per party and currency).
pub fn invoices(bills: &[SessionBill], by: GroupBy) -> Vec<Invoice> {
    let mut groups: BTreeMap<(String, String), Vec<&SessionBill>> = BTreeMap::new();
    for b in bills {
        groups
            .entry((party(b, by), b.currency.clone()))
            .or_default()
            .push(b);
    }
    groups
        .into_iter()
        .map(|((party, currency), list)| {
            let minor_units = list[0].minor_units;
            let sum = |kind: LineKind| -> Decimal {
                list.iter().map(|b| b.amount_of(kind.clone())).sum()
            };
            let mut rates: BTreeMap<Decimal, Decimal> = BTreeMap::new();
            for b in &list {
                for l in &b.lines {
                    *rates.entry(l.vat.normalize()).or_default() += l.amount;
                }
            }
            let vat_groups: Vec<VatGroup> = rates
                .into_iter()
                .map(|(rate, base)| VatGroup {
                    rate,
                    base,
                    vat: round_money(base * rate / Decimal::ONE_HUNDRED, minor_units),
                })
                .collect();
            let net: Decimal = list.iter().flat_map(|b| &b.lines).map(|l| l.amount).sum();
            let vat: Decimal = vat_groups.iter().map(|g| g.vat).sum();
            Invoice {
                party,
                currency,
                minor_units,
                sessions: list.len() as u64,
                kwh: list.iter().map(|b| b.energy_kwh).sum(),
                energy: sum(LineKind::Energy),
                time: sum(LineKind::Time),
                idle: sum(LineKind::Idle),
                fees: sum(LineKind::Fee),
                discounts: sum(LineKind::Discount),
                adjustments: sum(LineKind::Adjustment),
                net,
                vat_groups,
                vat,
                gross: net + vat,
            }
        })
        .collect()
}

#[cfg(test)]
mod proptests {
    use std::str::FromStr;

    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::super::engine::{price_session, SessionInput};
    use super::super::tariff::parse_toml;
    use super::*;

    const TARIFFS: &str = r#"
[[tariff]]
id = "p"
currency = "EUR"
vat = 21
session_fee = 0.35
min_price = 1.00
max_price = 40.00
[tariff.energy]
price = 0.2975
[[tariff.energy.window]]
name = "peak"
start = "17:00"
end = "21:00"
price = 0.4133
[[tariff.energy.window]]
name = "night"
start = "23:00"
end = "06:30"
price = 0.1917
[tariff.idle]
price = 2.85
grace_minutes = 20
cap = 9.99
[[tariff.discount]]
id_tag = "A*"
percent = 7.5
"#;

    proptest! {
        /// An invoice's net is the sum of its lines, its gross the net plus
        /// its VAT lines, and every amount is whole cents; energy is never
        /// negative and the bands add up to the session's energy.
        #[test]
        fn invoice_total_is_the_sum_of_its_lines(
            sessions in prop::collection::vec((0i64..60 * 24 * 14, 1i64..60 * 30, 0i64..60 * 20, 0u32..120_000, any::<bool>()), 1..25)
        ) {
            let set = parse_toml("p.toml", TARIFFS).unwrap();
            let tariff = &set.tariffs[0];
            let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-10-19T00:00:00Z").unwrap().with_timezone(&Utc);
            let bills: Vec<_> = sessions.iter().enumerate().map(|(i, (start, charge, idle, wh, tag))| {
                let start = t0 + Duration::minutes(*start);
                let charging_end = start + Duration::minutes(*charge);
                let s = SessionInput {
                    uid: format!("s{i}"),
                    station: "S".into(),
                    connector: Some(1),
                    id_tag: Some(if *tag { "A1".into() } else { format!("B{}", i % 3) }),
                    customer: None,
                    start,
                    stop: charging_end + Duration::minutes(*idle),
                    charging_end,
                    energy_wh: Decimal::from(*wh),
                    curve: Vec::new(),
                };
                price_session(&s, tariff, chrono_tz::Europe::Amsterdam)
            }).collect();
            for b in &bills {
                let banded: Decimal = b.kwh_by_band.iter().map(|x| x.1).sum();
                prop_assert!(b.energy_kwh >= Decimal::ZERO);
                prop_assert!((banded - b.energy_kwh).abs() <= Decimal::from_str("0.000001").unwrap());
                for l in &b.lines {
                    prop_assert_eq!(l.amount, l.amount.round_dp(2));
                }
                prop_assert!(b.net() >= Decimal::ONE && b.net() <= Decimal::from(40));
            }
            for inv in invoices(&bills, GroupBy::IdTag) {
                let lines: Decimal = bills.iter().filter(|b| party(b, GroupBy::IdTag) == inv.party).flat_map(|b| &b.lines).map(|l| l.amount).sum();
                prop_assert_eq!(inv.net, lines);
                let vat: Decimal = inv.vat_groups.iter().map(|g| g.vat).sum();
                prop_assert_eq!(inv.gross, inv.net + vat);
                prop_assert_eq!(inv.net, inv.energy + inv.time + inv.idle + inv.fees + inv.discounts + inv.adjustments);
            }
        }
    }
}
