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
    let mut out = String::with_capacity(16);
    write_money(&mut out, v, minor_units);
    out
}

/// `v` divided by 10^`digits`, by moving its decimal point: the same
/// value as the division, which is a library call (per period of every
/// session for kWh, per invoice for VAT rates). The scale may be larger
/// than the quotient's; every output rounds or normalizes it.
pub fn shift_point(v: Decimal, digits: u32) -> Decimal {
    match v.scale() + digits {
        s if s <= Decimal::MAX_SCALE => Decimal::from_i128_with_scale(v.mantissa(), s),
        _ => v / Decimal::from(10u64.pow(digits)),
    }
}

/// [`money_text`] appended to `out`: columns of hundreds of thousands of
/// amounts reuse one buffer.
pub fn write_money(out: &mut String, v: Decimal, minor_units: u32) {
    // Sums of rounded lines (most amounts written) need no rounding.
    let r = if v.scale() <= minor_units {
        v
    } else {
        round_money(v, minor_units)
    };
    // Zero, in most columns of most invoices (no idle fee, no discount);
    // a negative zero prints its sign, as Decimal does.
    const ZERO: &str = "0.0000000000000000000000000000";
    if r.is_zero() && !r.is_sign_negative() && minor_units <= 28 {
        let digits = if minor_units == 0 { 1 } else { 2 + minor_units };
        out.push_str(&ZERO[..digits as usize]);
        return;
    }
    // The amount in minor units: the mantissa shifted by the decimals it
    // lacks, in integer arithmetic (Decimal's rescale, a library call per
    // amount, was most of the time spent writing a large month's invoices);
    // in 64 bits, the machine's multiplication, when it fits (nearly always).
    let scaled = minor_units
        .checked_sub(r.scale())
        .and_then(|k| {
            let mantissa = r.mantissa().unsigned_abs();
            let narrow = u64::try_from(mantissa)
                .ok()
                .zip(10u64.checked_pow(k))
                .and_then(|(m, p)| m.checked_mul(p));
            match narrow {
                Some(m) => Some(u128::from(m)),
                None => 10u128.checked_pow(k).and_then(|p| mantissa.checked_mul(p)),
            }
        })
        .filter(|m| *m < 1u128 << 96 && minor_units <= 28);
    let Some(m) = scaled else {
        // Too large to carry that many decimals, or more decimals than a
        // decimal has: Decimal prints it as is.
        let mut r = r;
        r.rescale(minor_units);
        out.push_str(&r.to_string());
        return;
    };
    // The digits of the scaled integer with the point put back, built
    // right to left in one buffer and appended at once: what Decimal's
    // Display prints, without its general formatting. At most 29 digits
    // (below 2^96), the point, a leading zero's and the sign.
    let scale = minor_units as usize;
    let mut text = [0u8; 40];
    let mut at = text.len();
    let mut written = 0;
    let mut m = m;
    // Until every digit is out and there is one before the point.
    while m > 0 || written <= scale {
        if written == scale && scale > 0 {
            at -= 1;
            text[at] = b'.';
        }
        // 128-bit division is a library call: only digits beyond 64 bits
        // (no real amount has them) take it, the rest the machine's.
        let digit = match u64::try_from(m) {
            Ok(small) => {
                m = u128::from(small / 10);
                small % 10
            }
            Err(_) => {
                let d = (m % 10) as u64;
                m /= 10;
                d
            }
        };
        at -= 1;
        text[at] = b'0' + digit as u8;
        written += 1;
    }
    if r.is_sign_negative() {
        at -= 1;
        text[at] = b'-';
    }
    // ASCII digits, a point and a sign: always valid UTF-8.
    out.push_str(std::str::from_utf8(&text[at..]).unwrap_or_default());
}

/// `v` as Decimal's Display prints it (all its decimals), appended to
/// `out` without the general formatting (two columns of every invoice).
pub fn write_decimal(out: &mut String, v: Decimal) {
    write_money(out, v, v.scale());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn a_shifted_point_is_the_division() {
        for (v, k) in [
            ("27825.000", 3),
            ("21", 2),
            ("-0.5", 3),
            ("7", 0),
            ("1.0000000000000000000000000001", 3),
        ] {
            let v = Decimal::from_str(v).unwrap();
            let divided = v / Decimal::from(10u64.pow(k));
            assert_eq!(shift_point(v, k), divided, "{v} / 10^{k}");
        }
    }

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

    /// What `money_text` printed before it wrote digits itself.
    fn decimal_text(v: Decimal, m: u32) -> String {
        let mut r = round_money(v, m);
        r.rescale(m);
        r.to_string()
    }

    #[test]
    fn text_is_what_decimal_prints() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let values = [
            d("0"),
            d("-0"),
            d("-0.001"),
            d("-0.004"),
            d("0.005"),
            d("-0.005"),
            d("12.3"),
            d("-12.345"),
            d("1234567.891"),
            d("0.0000001"),
            Decimal::MAX,
            Decimal::MIN,
            d("79228162514264337593543950.335"),
            -Decimal::ZERO,
        ];
        for v in values {
            for m in [0, 1, 2, 3, 4] {
                assert_eq!(money_text(v, m), decimal_text(v, m), "{v} to {m} places");
            }
        }
    }

    proptest::proptest! {
        /// A spread of magnitudes, scales and signs.
        #[test]
        fn any_amount_prints_as_decimal_does(
            mantissa in proptest::prelude::any::<i64>(),
            scale in 0u32..12,
            m in 0u32..5,
        ) {
            let v = Decimal::new(mantissa, scale);
            proptest::prop_assert_eq!(money_text(v, m), decimal_text(v, m));
        }
    }
}
