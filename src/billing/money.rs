//! The one rounding rule: each invoice line is rounded half-up (away from
//! zero on a tie) to the currency's minor unit; VAT is computed per rate
//! over an invoice's rounded lines and rounded the same way.

use rust_decimal::{Decimal, RoundingStrategy};

/// Round half-up to `minor_units` decimals.
pub fn round_money(v: Decimal, minor_units: u32) -> Decimal {
    v.round_dp_with_strategy(minor_units, RoundingStrategy::MidpointAwayFromZero)
}

/// Text with exactly `minor_units` decimals (`12.30`, not `12.3`).
pub fn money_text(v: Decimal, minor_units: u32) -> String {
    let mut r = round_money(v, minor_units);
    r.rescale(minor_units);
    r.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn half_up_not_bankers() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(round_money(d("0.735"), 2), d("0.74"));
        assert_eq!(round_money(d("0.745"), 2), d("0.75"));
        assert_eq!(round_money(d("-0.745"), 2), d("-0.75"));
        assert_eq!(round_money(d("12.5"), 0), d("13"));
        assert_eq!(money_text(d("12.3"), 2), "12.30");
        assert_eq!(money_text(d("7"), 0), "7");
    }
}
