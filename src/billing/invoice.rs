//! Invoices: priced sessions grouped by customer, id tag or station. An
//! invoice's lines are its sessions' rounded lines; VAT is computed once
//! per rate over them (EN 16931 BR-CO-17 style), so the total is exactly
//! the sum of the lines plus the VAT lines.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rayon::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

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
pub fn party(bill: &SessionBill, by: GroupBy) -> Cow<'_, str> {
    match by {
        GroupBy::Customer => match (&bill.customer, &bill.id_tag) {
            (Some(c), _) => Cow::Borrowed(c),
            (None, Some(t)) => Cow::Owned(format!("id tag {t}")),
            (None, None) => Cow::Borrowed(NO_TAG),
        },
        GroupBy::IdTag => Cow::Borrowed(bill.id_tag.as_deref().unwrap_or(NO_TAG)),
        GroupBy::Station => Cow::Borrowed(&bill.station),
    }
}

const NO_TAG: &str = "(no id tag)";

/// One invoice per party and currency, in party then currency order.
pub fn invoices(bills: &[SessionBill], by: GroupBy) -> Vec<Invoice> {
    // Hashed, then sorted once: a month of a large fleet has hundreds of
    // thousands of id tags.
    let mut groups: FxHashMap<(Cow<'_, str>, &str), Vec<&SessionBill>> = FxHashMap::default();
    for b in bills {
        groups
            .entry((party(b, by), b.currency.as_str()))
            .or_default()
            .push(b);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    groups
        .into_par_iter()
        .map(|((party, currency), list)| invoice(party.into_owned(), currency, &list))
        .collect()
}

fn invoice(party: String, currency: &str, list: &[&SessionBill]) -> Invoice {
    let minor_units = list[0].minor_units;
    let mut by_kind = [Decimal::ZERO; 6];
    let mut rates: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    let mut net = Decimal::ZERO;
    for l in list.iter().flat_map(|b| &b.lines) {
        by_kind[kind_slot(&l.kind)] += l.amount;
        *rates.entry(l.vat.normalize()).or_default() += l.amount;
        net += l.amount;
    }
    let vat_groups: Vec<VatGroup> = rates
        .into_iter()
        .map(|(rate, base)| VatGroup {
            rate,
            base,
            vat: round_money(base * rate / Decimal::ONE_HUNDRED, minor_units),
        })
        .collect();
    let vat: Decimal = vat_groups.iter().map(|g| g.vat).sum();
    let [energy, time, idle, fees, discounts, adjustments] = by_kind;
    Invoice {
        party,
        currency: currency.to_string(),
        minor_units,
        sessions: list.len() as u64,
        kwh: list.iter().map(|b| b.energy_kwh).sum(),
        energy,
        time,
        idle,
        fees,
        discounts,
        adjustments,
        net,
        vat_groups,
        vat,
        gross: net + vat,
    }
}

fn kind_slot(kind: &LineKind) -> usize {
    match kind {
        LineKind::Energy => 0,
        LineKind::Time => 1,
        LineKind::Idle => 2,
        LineKind::Fee => 3,
        LineKind::Discount => 4,
        LineKind::Adjustment => 5,
    }
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
