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
