//! `evmon report`: the month's page as HTML and Markdown, and the HTML page
//! rendered by a real browser (headless Chromium) to check it is not blank
//! and shows its charts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{stderr, Env};

fn sample_store() -> Env {
    let env = Env::new();
    env.ingest(&["examples/data/", "--stations", "examples/stations.toml"]);
    env
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            Command::new("which")
                .arg(name)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        })
}

/// (width, height, RGBA pixels) of a PNG.
fn pixels(path: &Path) -> (u32, u32, Vec<[u8; 4]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let px: Vec<[u8; 4]> = match info.color_type {
        png::ColorType::Rgba => bytes.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect(),
        png::ColorType::Rgb => bytes.chunks(3).map(|c| [c[0], c[1], c[2], 255]).collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width, info.height, px)
}

#[test]
fn the_month_as_html_and_markdown() {
    let env = sample_store();
    let html = env.dir.path().join("report.html");
    let out = env
        .evmon()
        .args([
            "report",
            "--period",
            "2026-10",
            "--tariff",
            "examples/tariff.toml",
            "-o",
        ])
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    for needle in [
        "<h1>EV charging report 2026-10</h1>",
        "Stations</h2>",
        "Anomalies</h2>",
        "Revenue by tariff band</h2>",
        "Environmental impact</h2>",
        "AMS-DEPOT-01",
        "energy peak",
        "auth_rejected",
    ] {
        assert!(page.contains(needle), "no {needle}");
    }
    // Self-contained: the charts are inline SVG and nothing is fetched.
    assert_eq!(page.matches("<svg").count(), 1);
    for needle in ["src=\"http", "href=\"http", "<script", "<link"] {
        assert!(!page.contains(needle), "{needle}");
    }
    // The Markdown version has the same sections and figures.
    let out = env
        .evmon()
        .args([
            "report",
            "--period",
            "2026-10",
            "--tariff",
            "examples/tariff.toml",
            "--format",
            "md",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# EV charging report 2026-10"));
    assert!(md.contains("| sessions | 586 |"), "{}", &md[..600]);
    assert!(md.contains("| depot-2026 | energy peak |"));
    // Without a tariff the revenue section says why it is empty.
    let out = env
        .evmon()
        .args(["report", "--period", "2026-10"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("No tariff given"));
}

#[test]
fn a_browser_renders_the_page_with_its_charts() {
    let Some(browser) = chromium() else {
        // CI installs Chromium and sets EVMON_REQUIRE_CHROMIUM: there the
        // test must run; elsewhere it says why it did not.
        assert!(
            std::env::var_os("EVMON_REQUIRE_CHROMIUM").is_none(),
            "EVMON_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        eprintln!("skipped: no chromium (apt-get install chromium) to render the report");
        return;
    };
    let env = sample_store();
    let html = env.dir.path().join("report.html");
    env.evmon()
        .args(["report", "--period", "2026-10", "-o"])
        .arg(&html)
        .assert()
        .success();
    let shot = env.dir.path().join("shot.png");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            env.dir.path().join("profile").display()
        ))
        .args(["--window-size=1300,1600"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        crate::util::stderr(&out)
    );
    let (w, h, px) = pixels(&shot);
    assert_eq!((w, h), (1300, 1600));
    // Not blank: plenty of ink and of distinct colours.
    let ink = px
        .iter()
        .filter(|p| p[0] < 200 || p[1] < 200 || p[2] < 200)
        .count();
    assert!(
        ink > px.len() / 50,
        "only {ink} of {} pixels have ink",
        px.len()
    );
    let colours: std::collections::HashSet<[u8; 4]> = px.iter().copied().collect();
    assert!(colours.len() > 200, "{} colours", colours.len());
    // The charts are drawn: the heat map's blues and the coloured lines of
    // the daily chart, in the band of the page where the picture sits.
    let band = &px[(300 * w as usize)..(1300 * w as usize)];
    let blue = band
        .iter()
        .filter(|p| p[2] > 150 && p[2] as i32 - p[0] as i32 > 60)
        .count();
    let red = band
        .iter()
        .filter(|p| p[0] > 150 && p[0] as i32 - p[2] as i32 > 80 && p[1] < 120)
        .count();
    assert!(blue > 5_000, "heat map not visible ({blue} blue pixels)");
    assert!(red > 50, "daily lines not visible ({red} red pixels)");
}
