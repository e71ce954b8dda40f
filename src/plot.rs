//! Profile pictures (SVG, with plotters): daily energy of the busiest
//! stations, and the fleet's hour-of-week load as a heat map.
//!
//! SVG only: it needs no fonts on the machine drawing it (the viewer
//! renders the text), opens in any browser, and converts to PNG with any
//! SVG tool (`rsvg-convert -o plot.png plot.svg`).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use plotters::prelude::*;
use thiserror::Error;

use crate::profile::Profile;

#[derive(Debug, Error)]
pub enum PlotError {
    #[error("{0}: evmon draws SVG; name the file .svg (convert it with `rsvg-convert -o plot.png plot.svg`)")]
    Format(String),
    #[error("cannot draw {path}: {message}")]
    Draw { path: String, message: String },
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Draw the daily energy of the `top` stations with the most energy, and
/// the hour-of-week heat map, into an SVG file.
pub fn draw(profile: &Profile, path: &Path, top: usize, title: &str) -> Result<(), PlotError> {
    let name = path.display().to_string();
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
    {
        return Err(PlotError::Format(name));
    }
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    draw_on(root, profile, top, title, &name)
}

/// Picture size in pixels.
const SIZE: (u32, u32) = (1200, 900);

/// The same picture as `draw`, as SVG text (for pages that embed it).
pub fn render_svg(profile: &Profile, top: usize, title: &str) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw_on(root, profile, top, title, "the report picture")?;
    }
    Ok(svg)
}

fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    profile: &Profile,
    top: usize,
    title: &str,
    name: &str,
) -> Result<(), PlotError> {
    let err = |e: &dyn std::fmt::Display| PlotError::Draw {
        path: name.to_string(),
        message: e.to_string(),
    };
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 24))
        .map_err(|e| err(&e))?;
    let (upper, lower) = root.split_vertically(520);

    // Daily energy per station, the `top` stations by total energy.
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for (s, _, kwh) in &profile.daily {
        *totals.entry(&**s).or_default() += kwh;
    }
    let mut ranked: Vec<(&str, f64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.cmp(b.0))
    });
    let chosen: Vec<&str> = ranked.iter().take(top).map(|r| r.0).collect();
    let days: Vec<NaiveDate> = profile.daily.iter().map(|d| d.1).collect();
    let (first, last) = match (days.iter().min(), days.iter().max()) {
        (Some(a), Some(b)) => (*a, (*b).max(*a + chrono::Duration::days(1))),
        _ => {
            let today = chrono::Utc::now().date_naive();
            (today, today + chrono::Duration::days(1))
        }
    };
    let max_kwh = profile
        .daily
        .iter()
        .filter(|d| chosen.contains(&&*d.0))
        .map(|d| d.2)
        .fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!(
                "Daily energy, top {} stations (kWh, local days)",
                chosen.len()
            ),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0i64..(last - first).num_days(), 0.0..max_kwh * 1.1)
        .map_err(|e| err(&e))?;
    let day_label = |d: &i64| {
        (first + chrono::Duration::days(*d))
            .format("%m-%d")
            .to_string()
    };
    chart
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&day_label)
        .y_desc("kWh")
        .draw()
        .map_err(|e| err(&e))?;
    for (i, station) in chosen.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(i64, f64)> = profile
            .daily
            .iter()
            .filter(|d| &*d.0 == *station)
            .map(|d| ((d.1 - first).num_days(), d.2))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(station.to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(&e))?;

    // Hour-of-week heat map of the mean fleet power.
    let peak = profile
        .heat
        .iter()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut heat = ChartBuilder::on(&lower)
        .caption(
            format!("Mean fleet load by hour of week (kW, local time; darkest = {peak:.1} kW)"),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0u32..24u32, -0.5f64..6.5f64)
        .map_err(|e| err(&e))?;
    heat.configure_mesh()
        .disable_mesh()
        .x_labels(24)
        .y_labels(8)
        .x_desc("hour")
        .y_label_formatter(&|v| {
            // Rows are centred on whole numbers: Monday on top (6).
            let row = v.round();
            if (v - row).abs() > 0.01 || !(0.0..=6.0).contains(&row) {
                return String::new();
            }
            WEEKDAYS[6 - row as usize].to_string()
        })
        .draw()
        .map_err(|e| err(&e))?;
    heat.draw_series(
        (0..7u32)
            .flat_map(|d| (0..24u32).map(move |h| (d, h)))
            .map(|(d, h)| {
                let v = profile.heat[d as usize][h as usize] / peak;
                // White (idle) to deep blue (busiest).
                let shade = RGBColor(
                    (255.0 - 225.0 * v) as u8,
                    (255.0 - 170.0 * v) as u8,
                    (255.0 - 60.0 * v) as u8,
                );
                let y = 6.0 - d as f64;
                Rectangle::new([(h, y - 0.5), (h + 1, y + 0.5)], shade.filled())
            }),
    )
    .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
