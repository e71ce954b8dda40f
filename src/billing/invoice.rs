//! Invoices: priced sessions grouped by customer, id tag or station. An
//! invoice's lines are its sessions' rounded lines; VAT is computed once
//! per rate over them (EN 16931 BR-CO-17 style), so the total is exactly
//! the sum of the lines plus the VAT lines.

use std::borrow::Cow;
use std::collections::BTreeMap;

use compact_str::CompactString;
use rayon::prelude::*;
use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::engine::{LineKind, SessionBill};
use super::money::{round_money, shift_point};
use crate::memory::prefetch;

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

/// Sums per VAT rate: a session or invoice has one rate, rarely two, kept
/// inline (a month of a large fleet is hundreds of thousands of them).
type Rates = SmallVec<[(Decimal, Decimal); 1]>;

#[derive(Debug, Clone, PartialEq)]
pub struct Invoice<'t> {
    /// The customer, id tag or station (inline up to 24 bytes, as an id
    /// tag or station id is).
    pub party: CompactString,
    /// The tariff's currency (borrowed, as in [`Charge`]).
    pub currency: &'t str,
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
    pub vat_groups: SmallVec<[VatGroup; 1]>,
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

/// What an invoice needs of one priced session: its party and its rounded
/// line amounts summed by kind and by VAT rate. A month of a large fleet is
/// hundreds of thousands of sessions: keeping this instead of each whole
/// bill (periods, labelled lines, bands) takes a fraction of the memory.
/// Its texts and sums are inline, with nothing behind a pointer: invoices
/// read charges in party order, which is random in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge<'t> {
    pub party: CompactString,
    /// The tariff's currency.
    pub currency: &'t str,
    pub minor_units: u32,
    pub kwh: Decimal,
    /// Rounded line amounts by [`LineKind`] (see `kind_slot`).
    by_kind: [Decimal; 6],
    /// (VAT rate, normalized; sum of the rounded lines at that rate).
    by_rate: Rates,
}

impl<'t> Charge<'t> {
    /// `currency` is the pricing tariff's (the bill's own, borrowed for as
    /// long as the tariff set lives).
    pub fn new(bill: &SessionBill, by: GroupBy, currency: &'t str) -> Charge<'t> {
        Charge::with_party(bill, party(bill, by).into(), currency)
    }

    /// As [`Charge::new`], taking the bill: its party's text is moved
    /// rather than copied (one allocation less per session of a month).
    pub fn of(mut bill: SessionBill, by: GroupBy, currency: &'t str) -> Charge<'t> {
        let moved = match by {
            GroupBy::IdTag => bill.id_tag.take(),
            GroupBy::Customer => bill.customer.take().map(CompactString::from),
            GroupBy::Station => Some(CompactString::from(&*bill.station)),
        };
        // No customer: the party is made from the id tag, as `party` does.
        let party = moved.unwrap_or_else(|| party(&bill, by).into());
        Charge::with_party(&bill, party, currency)
    }

    fn with_party(bill: &SessionBill, party: CompactString, currency: &'t str) -> Charge<'t> {
        let mut by_kind = [Decimal::ZERO; 6];
        let mut by_rate = Rates::new();
        for l in &bill.lines {
            by_kind[kind_slot(&l.kind)] += l.amount;
            add_at_rate(&mut by_rate, l.vat.normalize(), l.amount);
        }
        Charge {
            party,
            currency,
            minor_units: bill.minor_units,
            kwh: bill.energy_kwh,
            by_kind,
            by_rate,
        }
    }

    /// Net: the sum of the session's rounded lines.
    pub fn net(&self) -> Decimal {
        self.by_kind.iter().sum()
    }
}

/// Add `amount` to the sum kept for `rate` (a session or invoice has one
/// or two rates: a list, not a map).
fn add_at_rate(sums: &mut Rates, rate: Decimal, amount: Decimal) {
    match sums.iter_mut().find(|r| r.0 == rate) {
        Some(r) => r.1 += amount,
        None => sums.push((rate, amount)),
    }
}

/// One invoice per party and currency, in party then currency order, from
/// charges in parts (any split: each core's, or one list).
pub fn invoices<'t>(charges: Vec<Vec<Charge<'t>>>) -> Vec<Invoice<'t>> {
    Invoicing::new(charges).all()
}

/// Charges sorted into invoices, each invoice summed when asked for: a
/// month's invoices can be made a block at a time, each block written out
/// and its memory used again for the next (428k invoices of a 10M-session
/// fleet's month are 116 MB, fresh pages written once and read twice).
pub struct Invoicing<'t> {
    /// The charges in parts, as they were priced on each core: joined
    /// into one list, they were copied once more on one core.
    charges: Vec<Vec<Charge<'t>>>,
    /// Each charge as (the first 16 bytes of its party, part, index), in
    /// invoice order.
    order: Vec<(u128, u32, u32)>,
    /// Where each invoice's charges end in `order`.
    ends: Vec<usize>,
}

impl<'t> Invoicing<'t> {
    pub fn new(charges: Vec<Vec<Charge<'t>>>) -> Invoicing<'t> {
        // Sorted, then cut into runs: a month of a large fleet has hundreds
        // of thousands of id tags, mostly with one session each, so a map
        // of groups would be one allocation per session.
        fn key<'a>(c: &'a Charge<'_>) -> (&'a str, &'a str) {
            (c.party.as_str(), c.currency)
        }
        let at = |&(_, part, i): &(u128, u32, u32)| &charges[part as usize][i as usize];
        // Each charge is sorted with the first 16 bytes of its party as an
        // integer: most comparisons are decided there, without reading two
        // charges' texts from memory. Sixteen, not eight: RFID uids share
        // their first bytes (NFC tags of one maker all begin `04`), and an
        // id tag is at most 20 characters in OCPP 1.6.
        // Written in place, each part's entries into its own slice of a
        // list sized once: collected from a flat map, the parts' entries
        // were gathered in lists grown as they came, then joined (19-21
        // against 7-8 ms for a 10M fleet's month).
        let mut order = vec![(0u128, 0u32, 0u32); charges.iter().map(Vec::len).sum()];
        let mut slices = Vec::with_capacity(charges.len());
        let mut rest = order.as_mut_slice();
        for list in &charges {
            let (slice, tail) = rest.split_at_mut(list.len());
            slices.push(slice);
            rest = tail;
        }
        slices
            .into_par_iter()
            .zip(charges.par_iter())
            .enumerate()
            .for_each(|(part, (slice, list))| {
                for (i, (entry, c)) in slice.iter_mut().zip(list).enumerate() {
                    *entry = (prefix(&c.party), part as u32, i as u32);
                }
            });
        // Equal keys are one invoice, summed exactly: their order is free.
        order.par_sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(at(a)).cmp(&key(at(b)))));
        let mut ends = Vec::new();
        let mut end = 0;
        for group in order.chunk_by(|a, b| a.0 == b.0 && key(at(a)) == key(at(b))) {
            end += group.len();
            ends.push(end);
        }
        Invoicing {
            charges,
            order,
            ends,
        }
    }

    /// How many invoices there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn charge(&self, &(_, part, i): &(u128, u32, u32)) -> &Charge<'t> {
        &self.charges[part as usize][i as usize]
    }

    /// The charges of invoice `k`, in `order`.
    fn group(&self, k: usize) -> &[(u128, u32, u32)] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.order[start..self.ends[k]]
    }

    /// Invoice `k`, summed from its charges where they lie. Read in party
    /// order, charges are scattered over memory: the first charge of the
    /// invoice a few ahead is fetched while this one is summed, rather
    /// than each waited for in turn (most invoices are a single charge).
    fn invoice(&self, k: usize) -> Invoice<'t> {
        const AHEAD: usize = 8;
        if k + AHEAD < self.len() {
            prefetch(self.charge(&self.group(k + AHEAD)[0]));
        }
        invoice(self.group(k).iter().map(|c| self.charge(c)))
    }

    /// Invoices `range`, in order.
    pub fn block(&self, range: std::ops::Range<usize>) -> Vec<Invoice<'t>> {
        range.map(|k| self.invoice(k)).collect()
    }

    /// Every invoice, in order, summed on every core.
    pub fn all(&self) -> Vec<Invoice<'t>> {
        (0..self.len())
            .into_par_iter()
            .map(|k| self.invoice(k))
            .collect()
    }
}

/// What a run's invoices add up to: net, VAT and gross per currency,
/// kWh, sessions and invoices.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Totals<'t> {
    pub by_currency: BTreeMap<&'t str, CurrencyTotals>,
    pub kwh: Decimal,
    pub sessions: u64,
    pub invoices: u64,
}

/// Net, VAT and gross of the invoices in one currency, with its minor
/// units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurrencyTotals {
    pub net: Decimal,
    pub vat: Decimal,
    pub gross: Decimal,
    pub minor_units: u32,
}

impl<'t> Totals<'t> {
    /// The totals of `invoices`, summed on every core (decimal sums are
    /// exact, so the same in any order).
    pub fn of(invoices: &[Invoice<'t>]) -> Totals<'t> {
        invoices
            .par_iter()
            .fold(Totals::default, |mut t, i| {
                t.add(i);
                t
            })
            .reduce(Totals::default, |mut a, b| {
                a.merge(b);
                a
            })
    }

    pub fn add(&mut self, i: &Invoice<'t>) {
        self.add_currency(
            i.currency,
            CurrencyTotals {
                net: i.net,
                vat: i.vat,
                gross: i.gross,
                minor_units: i.minor_units,
            },
        );
        self.kwh += i.kwh;
        self.sessions += i.sessions;
        self.invoices += 1;
    }

    pub fn merge(&mut self, other: Totals<'t>) {
        for (currency, sums) in other.by_currency {
            self.add_currency(currency, sums);
        }
        self.kwh += other.kwh;
        self.sessions += other.sessions;
        self.invoices += other.invoices;
    }

    fn add_currency(&mut self, currency: &'t str, sums: CurrencyTotals) {
        let e = self.by_currency.entry(currency).or_insert(CurrencyTotals {
            net: Decimal::ZERO,
            vat: Decimal::ZERO,
            gross: Decimal::ZERO,
            minor_units: sums.minor_units,
        });
        e.net += sums.net;
        e.vat += sums.vat;
        e.gross += sums.gross;
    }
}

/// The first 16 bytes of a text as a big-endian integer, zero-padded: it
/// orders as the texts do, and equal prefixes leave the texts to decide.
fn prefix(text: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = text.len().min(16);
    bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
}

/// The invoice of one party's charges (at least one).
fn invoice<'a, 't: 'a>(mut list: impl Iterator<Item = &'a Charge<'t>>) -> Invoice<'t> {
    let first = list.next().expect("an invoice has a charge");
    let minor_units = first.minor_units;
    // The first charge's sums as they are (zero plus a decimal is that
    // decimal, to its scale): most invoices of a large month have one
    // charge, and this was a tenth of the time summing them.
    let mut by_kind = first.by_kind;
    let mut rates = first.by_rate.clone();
    let mut sessions = 1u64;
    let mut kwh = first.kwh;
    for c in list {
        sessions += 1;
        kwh += c.kwh;
        for (sum, v) in by_kind.iter_mut().zip(&c.by_kind) {
            *sum += v;
        }
        for (rate, base) in &c.by_rate {
            add_at_rate(&mut rates, *rate, *base);
        }
    }
    rates.sort_by_key(|a| a.0);
    let vat_groups: SmallVec<[VatGroup; 1]> = rates
        .into_iter()
        .map(|(rate, base)| VatGroup {
            rate,
            base,
            vat: round_money(base * shift_point(rate, 2), minor_units),
        })
        .collect();
    let net: Decimal = by_kind.iter().sum();
    let vat: Decimal = vat_groups.iter().map(|g| g.vat).sum();
    let [energy, time, idle, fees, discounts, adjustments] = by_kind;
    Invoice {
        party: first.party.clone(),
        currency: first.currency,
        minor_units,
        sessions,
        kwh,
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
mod tests {
    use super::prefix;

    #[test]
    fn prefixes_order_as_the_texts_do() {
        let texts = [
            "",
            "a",
            "ab",
            "ab\0",
            "ab\0x",
            "abc",
            "abcdefgh",
            "abcdefgh0",
            "abcdefgi",
            "abcdefghijklmnop",
            "abcdefghijklmnop\0",
            "abcdefghijklmnopq",
            "abcdefghijklmnoq",
            "b",
            "é",
            "04A1B2C3D4",
            "04A1B2C3D5",
            "id tag 7",
            "(no id tag)",
        ];
        for a in texts {
            for b in texts {
                let by_prefix = prefix(a).cmp(&prefix(b));
                if by_prefix.is_ne() {
                    assert_eq!(by_prefix, a.cmp(b), "{a:?} {b:?}");
                }
            }
        }
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
                    uid: compact_str::format_compact!("s{i}"),
                    station: "S".into(),
                    connector: Some(1),
                    id_tag: Some(if *tag { "A1".into() } else { compact_str::format_compact!("B{}", i % 3) }),
                    customer: None,
                    start,
                    stop: charging_end + Duration::minutes(*idle),
                    charging_end,
                    energy_wh: Decimal::from(*wh),
                    curve: Vec::new(),
                };
                price_session(s, tariff, chrono_tz::Europe::Amsterdam)
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
            let charges: Vec<Charge<'_>> = bills.iter().map(|b| Charge::new(b, GroupBy::IdTag, &b.currency)).collect();
            for (b, c) in bills.iter().zip(&charges) {
                prop_assert_eq!(c.net(), b.net());
                for by in [GroupBy::IdTag, GroupBy::Customer, GroupBy::Station] {
                    prop_assert_eq!(&Charge::of(b.clone(), by, &b.currency), &Charge::new(b, by, &b.currency));
                }
            }
            // Charges in parts (as each core priced them) make the same
            // invoices as one list.
            let cut = charges.len() / 3;
            let parts = vec![charges[..cut].to_vec(), Vec::new(), charges[cut..].to_vec()];
            let all = invoices(vec![charges.clone()]);
            prop_assert_eq!(invoices(parts), all.clone());
            // Made a block at a time (any cut), the same invoices, and the
            // blocks' totals are the whole list's.
            let invoicing = Invoicing::new(vec![charges.clone()]);
            prop_assert_eq!(invoicing.len(), all.len());
            let cut = all.len() / 2;
            let mut blocks = invoicing.block(0..cut);
            blocks.extend(invoicing.block(cut..all.len()));
            prop_assert_eq!(&blocks, &all);
            let mut totals = Totals::default();
            blocks[..cut].iter().for_each(|i| totals.add(i));
            let mut rest = Totals::default();
            blocks[cut..].iter().for_each(|i| rest.add(i));
            totals.merge(rest);
            let whole = Totals::of(&all);
            prop_assert_eq!(&totals, &whole);
            prop_assert_eq!(whole.invoices as usize, all.len());
            prop_assert_eq!(whole.sessions as usize, bills.len());
            let gross: Decimal = all.iter().map(|i| i.gross).sum();
            prop_assert_eq!(whole.by_currency["EUR"].gross, gross);
            for inv in all {
                let lines: Decimal = bills.iter().filter(|b| party(b, GroupBy::IdTag) == inv.party).flat_map(|b| &b.lines).map(|l| l.amount).sum();
                prop_assert_eq!(inv.net, lines);
                let vat: Decimal = inv.vat_groups.iter().map(|g| g.vat).sum();
                prop_assert_eq!(inv.gross, inv.net + vat);
                prop_assert_eq!(inv.net, inv.energy + inv.time + inv.idle + inv.fees + inv.discounts + inv.adjustments);
            }
        }
    }
}
