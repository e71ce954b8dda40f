//! The monthly report as one self-contained HTML page (inline CSS and SVG,
//! nothing fetched when it is opened) or as Markdown: pure rendering of
//! figures the `report` command gathered from the other capabilities.

use std::fmt::Write as _;

use polars::prelude::*;
use rust_decimal::Decimal;

use crate::profile::FleetSummary;

/// Everything the page shows.
pub struct Report {
    /// `2026-10`.
    pub period: String,
    pub window: String,
    pub generated: String,
    pub store: String,
    pub fleet: FleetSummary,
    /// Grid intensity (g/kWh) and petrol baseline used for CO2.
    pub co2_basis: String,
    /// Per-station profile, the columns people read.
    pub stations: DataFrame,
    /// Daily energy and hour-of-week load (SVG text).
    pub picture_svg: String,
    /// kind → (critical, warning, info).
    pub anomalies_by_kind: Vec<(String, [u64; 3])>,
    /// station → (critical, warning, info).
    pub anomalies_by_station: Vec<(String, [u64; 3])>,
    /// Revenue per tariff band, or why there is none.
    pub revenue: Result<Vec<Revenue>, String>,
    /// Sessions the bill could not price, by reason.
    pub unbilled: Vec<(String, u64)>,
    /// station, hint, evidence.
    pub hints: Vec<(String, String, String)>,
}

/// One tariff band's revenue.
#[derive(Debug, Clone, PartialEq)]
pub struct Revenue {
    pub tariff: String,
    pub currency: String,
    /// The invoice line label: `energy peak`, `session fee`, ...
    pub band: String,
    pub kwh: Decimal,
    pub net: Decimal,
}

/// Columns of the station table, in order, with their headings.
pub const STATION_COLUMNS: &[(&str, &str)] = &[
    ("station_id", "station"),
    ("site", "site"),
    ("sessions", "sessions"),
    ("kwh", "kWh"),
    ("mean_kwh", "kWh/session"),
    ("utilization", "utilization"),
    ("peak_kw", "peak kW"),
    ("rated_kw", "rated kW"),
    ("idle_share", "idle share"),
    ("faults", "faults"),
    ("days_without_session", "silent days"),
    ("co2_avoided_kg", "CO2 avoided kg"),
    ("hints", "hints"),
];

fn cell(v: AnyValue<'_>, column: &str) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::Float64(f) if column.contains("utilization") || column.contains("share") => {
            format!("{:.1} %", f * 100.0)
        }
        AnyValue::Float64(f) => format!("{f:.1}"),
        AnyValue::Float32(f) => format!("{f:.1}"),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string().trim_matches('"').to_string(),
    }
}

/// The station table as rows of text cells (headings first).
fn station_rows(df: &DataFrame) -> Vec<Vec<String>> {
    let cols: Vec<(&str, &str)> = STATION_COLUMNS
        .iter()
        .copied()
        .filter(|(c, _)| df.column(c).is_ok())
        .collect();
    let mut rows = vec![cols.iter().map(|(_, h)| h.to_string()).collect()];
    for i in 0..df.height() {
        rows.push(
            cols.iter()
                .map(|(c, _)| {
                    df.column(c)
                        .ok()
                        .and_then(|col| col.get(i).ok())
                        .map_or(String::new(), |v| cell(v, c))
                })
                .collect(),
        );
    }
    rows
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(rows: &[Vec<String>], numeric_from: usize) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    if let Some(head) = rows.first() {
        for h in head {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
    }
    out += "</tr></thead>\n<tbody>\n";
    for row in rows.iter().skip(1) {
        out += "<tr>";
        for (i, c) in row.iter().enumerate() {
            let class = if i >= numeric_from {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", esc(c));
        }
        out += "</tr>\n";
    }
    out + "</tbody>\n</table>\n"
}

fn md_table(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
        }
    }
    out
}

fn severity_rows(title: &str, rows: &[(String, [u64; 3])]) -> Vec<Vec<String>> {
    let mut out = vec![vec![
        title.to_string(),
        "critical".into(),
        "warning".into(),
        "info".into(),
    ]];
    for (k, [c, w, i]) in rows {
        out.push(vec![k.clone(), c.to_string(), w.to_string(), i.to_string()]);
    }
    out
}

fn revenue_rows(rows: &[Revenue]) -> Vec<Vec<String>> {
    let mut out = vec![vec![
        "tariff".to_string(),
        "band".into(),
        "kWh".into(),
        "net".into(),
    ]];
    for r in rows {
        out.push(vec![
            r.tariff.clone(),
            r.band.clone(),
            if r.kwh.is_zero() {
                String::new()
            } else {
                r.kwh.round_dp(1).to_string()
            },
            format!("{} {}", r.currency, r.net.round_dp(2)),
        ]);
    }
    out
}

fn hint_rows(r: &Report) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "station".to_string(),
        "hint".into(),
        "evidence".into(),
    ]];
    rows.extend(
        r.hints
            .iter()
            .map(|(s, h, e)| vec![s.clone(), h.clone(), e.clone()]),
    );
    rows
}

fn summary_rows(r: &Report) -> Vec<Vec<String>> {
    let f = &r.fleet;
    vec![
        vec!["".into(), "".into()],
        vec!["stations that charged".into(), f.stations.to_string()],
        vec!["sessions".into(), f.sessions.to_string()],
        vec!["energy delivered".into(), format!("{:.1} kWh", f.kwh)],
        vec![
            "CO2 of the grid energy".into(),
            format!("{:.1} kg", f.co2_grid_kg),
        ],
        vec![
            "CO2 avoided vs petrol".into(),
            format!("{:.1} kg", f.co2_avoided_kg),
        ],
        vec![
            "findings".into(),
            r.anomalies_by_kind
                .iter()
                .map(|(_, c)| c.iter().sum::<u64>())
                .sum::<u64>()
                .to_string(),
        ],
    ]
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1250px;color:#1d2433;padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:2px solid #d7def0;padding-bottom:.2rem}
.meta{color:#5a6477}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{background:#eef3ff;border-radius:8px;padding:.8rem 1.1rem;min-width:150px}.card b{display:block;font-size:1.4rem;color:#1f4fb4}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}th,td{border-bottom:1px solid #e3e7ef;padding:.3rem .55rem;text-align:left}
th{background:#f4f6fb}td.n{text-align:right;font-variant-numeric:tabular-nums}.chart svg{max-width:100%;height:auto}
.note{color:#5a6477;font-size:.85rem}";

/// The report as one HTML page that needs nothing else to display.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>evmon report {}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n",
        esc(&r.period)
    );
    let _ = write!(
        out,
        "<h1>EV charging report {}</h1>\n<p class=\"meta\">{} · store {} · generated {}</p>\n",
        esc(&r.period),
        esc(&r.window),
        esc(&r.store),
        esc(&r.generated)
    );
    out += "<div class=\"cards\">\n";
    for row in summary_rows(r).iter().skip(1) {
        let _ = writeln!(
            out,
            "<div class=\"card\"><b>{}</b>{}</div>",
            esc(&row[1]),
            esc(&row[0])
        );
    }
    out += "</div>\n";
    out += "<h2>Energy by day and load by hour of week</h2>\n<div class=\"chart\">\n";
    // The SVG is ours (plotters): embedded as is, no script, no fetch.
    let svg = r.picture_svg.trim_start_matches(|c| c != '<').replacen(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "",
        1,
    );
    out += &svg;
    out += "\n</div>\n";
    out += "<h2>Stations</h2>\n";
    out += &html_table(&station_rows(&r.stations), 2);
    if !r.hints.is_empty() {
        out += "<h2>Maintenance hints</h2>\n";
        out += &html_table(&hint_rows(r), 99);
    }
    out += "<h2>Anomalies</h2>\n";
    if r.anomalies_by_kind.is_empty() {
        out += "<p>No findings in the period.</p>\n";
    } else {
        out += &html_table(&severity_rows("kind", &r.anomalies_by_kind), 1);
        out += &html_table(&severity_rows("station", &r.anomalies_by_station), 1);
    }
    out += "<h2>Revenue by tariff band</h2>\n";
    match &r.revenue {
        Ok(rows) => {
            out += &html_table(&revenue_rows(rows), 2);
            if !r.unbilled.is_empty() {
                let list: Vec<String> =
                    r.unbilled.iter().map(|(k, n)| format!("{n} {k}")).collect();
                let _ = writeln!(
                    out,
                    "<p class=\"note\">Not billed: {}.</p>",
                    esc(&list.join(", "))
                );
            }
        }
        Err(why) => {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(why));
        }
    }
    out += "<h2>Environmental impact</h2>\n";
    let _ = writeln!(
        out,
        "<p>{:.1} kWh delivered caused {:.1} kg CO2 at the grid and avoided {:.1} kg net against petrol cars. {}</p>",
        r.fleet.kwh,
        r.fleet.co2_grid_kg,
        r.fleet.co2_avoided_kg,
        esc(&r.co2_basis)
    );
    out += "</body>\n</html>\n";
    out
}

/// The report as Markdown (the picture inline as an SVG data URI).
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# EV charging report {}\n", r.period);
    let _ = writeln!(
        out,
        "{} · store `{}` · generated {}\n",
        r.window, r.store, r.generated
    );
    let mut summary = summary_rows(r);
    summary[0] = vec!["".into(), "".into()];
    out += &md_table(&summary);
    out += "\n## Energy by day and load by hour of week\n\n";
    let _ = writeln!(
        out,
        "![daily energy and hour-of-week load](data:image/svg+xml;utf8,{})\n",
        data_uri_text(&r.picture_svg)
    );
    out += "## Stations\n\n";
    out += &md_table(&station_rows(&r.stations));
    if !r.hints.is_empty() {
        out += "\n## Maintenance hints\n\n";
        out += &md_table(&hint_rows(r));
    }
    out += "\n## Anomalies\n\n";
    if r.anomalies_by_kind.is_empty() {
        out += "No findings in the period.\n";
    } else {
        out += &md_table(&severity_rows("kind", &r.anomalies_by_kind));
        out += "\n";
        out += &md_table(&severity_rows("station", &r.anomalies_by_station));
    }
    out += "\n## Revenue by tariff band\n\n";
    match &r.revenue {
        Ok(rows) => {
            out += &md_table(&revenue_rows(rows));
            if !r.unbilled.is_empty() {
                let list: Vec<String> =
                    r.unbilled.iter().map(|(k, n)| format!("{n} {k}")).collect();
                let _ = writeln!(out, "\nNot billed: {}.", list.join(", "));
            }
        }
        Err(why) => {
            let _ = writeln!(out, "{why}");
        }
    }
    out += "\n## Environmental impact\n\n";
    let _ = writeln!(
        out,
        "{:.1} kWh delivered caused {:.1} kg CO2 at the grid and avoided {:.1} kg net against petrol cars. {}",
        r.fleet.kwh, r.fleet.co2_grid_kg, r.fleet.co2_avoided_kg, r.co2_basis
    );
    out
}

/// Percent-encode what a `data:` URI in Markdown cannot hold as is.
fn data_uri_text(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    for c in svg.chars() {
        match c {
            '%' => out += "%25",
            '#' => out += "%23",
            '<' => out += "%3C",
            '>' => out += "%3E",
            '"' => out += "%22",
            '(' => out += "%28",
            ')' => out += "%29",
            ' ' => out += "%20",
            '\n' | '\r' => out += "%0A",
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            period: "2026-10".into(),
            window: "2026-10-01 to 2026-11-01".into(),
            generated: "2026-11-25T00:00:00Z".into(),
            store: "evmon-data".into(),
            fleet: FleetSummary {
                stations: 2,
                sessions: 10,
                kwh: 120.5,
                co2_grid_kg: 25.8,
                co2_avoided_kg: 55.6,
                hours_without_intensity: 0,
            },
            co2_basis: "grid 214 g/kWh".into(),
            stations: df!("station_id" => ["A<1>"], "sessions" => [3u32], "utilization" => [0.25])
                .unwrap(),
            picture_svg:
                "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"5\" height=\"5\"/></svg>"
                    .into(),
            anomalies_by_kind: vec![("faulted".into(), [0, 2, 0])],
            anomalies_by_station: vec![("A<1>".into(), [0, 2, 0])],
            revenue: Ok(vec![Revenue {
                tariff: "t".into(),
                currency: "EUR".into(),
                band: "energy peak".into(),
                kwh: Decimal::new(105, 1),
                net: Decimal::new(441, 2),
            }]),
            unbilled: vec![("never stopped".into(), 1)],
            hints: vec![],
        }
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let page = html(&sample());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<svg"));
        assert!(page.contains("A&lt;1&gt;"));
        assert!(page.contains("25.0 %"));
        assert!(page.contains("EUR 4.41"));
        // Nothing is fetched when the page opens.
        for needle in ["src=\"http", "href=\"http", "<script", "@import", "url("] {
            assert!(!page.contains(needle), "{needle}");
        }
    }

    #[test]
    fn markdown_has_every_section() {
        let md = markdown(&sample());
        for h in [
            "# EV charging report 2026-10",
            "## Stations",
            "## Anomalies",
            "## Revenue by tariff band",
            "## Environmental impact",
        ] {
            assert!(md.contains(h), "{h}");
        }
        assert!(md.contains("data:image/svg+xml;utf8,%3Csvg"));
        assert!(md.contains("| faulted | 0 | 2 | 0 |"));
    }
}
