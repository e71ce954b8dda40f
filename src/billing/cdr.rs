//! OCPI 2.2.1 CDRs for priced sessions: charging periods cut where the
//! price may change (as OCPI requires), the tariff used, and the totals.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::engine::{Phase, SessionBill};
use super::tariff::{to_ocpi_json, Dimension, Tariff};

fn num(d: Decimal) -> Value {
    Value::from_str(&d.round_dp(4).normalize().to_string()).unwrap_or(json!(0))
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An OCPI CDR id: at most 39 characters, from the session uid.
fn cdr_id(uid: &str) -> String {
    let clean: String = uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.len() <= 39 {
        clean
    } else {
        let hash = blake3::hash(uid.as_bytes()).to_hex();
        format!("{}-{}", &clean[..26], &hash[..12])
    }
}

/// The CDR of one priced session.
pub fn cdr(bill: &SessionBill, tariff: &Tariff, now: DateTime<Utc>) -> Value {
    let hour = Decimal::from(3600);
    let periods: Vec<Value> = bill
        .periods
        .iter()
        .map(|p| {
            let mut dims = vec![json!({"type": "ENERGY", "volume": num(p.energy_wh / Decimal::from(1000))})];
            let kind = match p.phase {
                Phase::Charging => "TIME",
                Phase::Parking => "PARKING_TIME",
            };
            dims.push(json!({"type": kind, "volume": num(p.time_s / hour)}));
            json!({"start_date_time": time(p.start), "dimensions": dims, "tariff_id": bill.tariff_id.as_str()})
        })
        .collect();
    let charging_h: Decimal = bill
        .periods
        .iter()
        .filter(|p| p.phase == Phase::Charging)
        .map(|p| p.time_s)
        .sum::<Decimal>()
        / hour;
    let total_h =
        Decimal::from((bill.stop - bill.start).num_milliseconds()) / Decimal::from(3_600_000);
    let cost = |d: Dimension| bill.exact_by_dimension.get(&d).copied();
    let mut out = json!({
        "country_code": "NL",
        "party_id": "EVM",
        "id": cdr_id(&bill.uid),
        "start_date_time": time(bill.start),
        "end_date_time": time(bill.stop),
        "session_id": bill.uid.as_str(),
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EVM",
            "uid": bill.id_tag.as_deref().unwrap_or("unknown"),
            "type": "RFID",
            "contract_id": bill.customer.as_deref().or(bill.id_tag.as_deref()).unwrap_or("unknown"),
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": &*bill.station,
            "country": "NLD",
            "evse_uid": format!("{}-{}", bill.station, bill.connector.unwrap_or(1)),
            "evse_id": format!("{}-{}", bill.station, bill.connector.unwrap_or(1)),
            "connector_id": bill.connector.unwrap_or(1).to_string(),
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": bill.currency.as_str(),
        "tariffs": [to_ocpi_json(tariff)],
        "charging_periods": periods,
        "total_cost": {"excl_vat": num(bill.exact_excl), "incl_vat": num(bill.exact_incl)},
        "total_energy": num(bill.energy_kwh),
        "total_time": num(total_h),
        "total_parking_time": num((total_h - charging_h).max(Decimal::ZERO)),
        "last_updated": time(now),
    });
    for (key, dim) in [
        ("total_energy_cost", Dimension::Energy),
        ("total_time_cost", Dimension::Time),
        ("total_parking_cost", Dimension::Parking),
        ("total_fixed_cost", Dimension::Flat),
    ] {
        if let Some(c) = cost(dim) {
            out[key] = json!({"excl_vat": num(c)});
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_ocpi() {
        assert_eq!(cdr_id("ocpp:CP1/101"), "ocpp-CP1-101");
        let long = cdr_id("ocpp:AMS-CP201-01/c0ffee00-0000-4000-8000-000000000001");
        assert!(long.len() <= 39, "{long}");
    }
}
