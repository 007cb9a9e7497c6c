//! Accuracy against mean latency, as the paper's main figure, as a
//! self-contained SVG (no fonts or scripts needed to read it).

use std::fmt::Write;

use super::sweep::Point;

pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub points: &'a [Point],
}

pub struct Marker<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub point: Point,
}

pub fn svg(title: &str, series: &[Series], markers: &[Marker]) -> String {
    let (w, h, l, r, t, b) = (760.0, 480.0, 70.0, 200.0, 40.0, 55.0);
    let all: Vec<Point> = series.iter().flat_map(|s| s.points.iter().copied()).chain(markers.iter().map(|m| m.point)).collect();
    let (mut x0, mut x1) = (0.0f64, all.iter().map(|p| p.latency_ms).fold(1e-9, f64::max));
    let (mut y0, mut y1) = (all.iter().map(|p| p.accuracy).fold(1.0, f64::min), all.iter().map(|p| p.accuracy).fold(0.0, f64::max));
    x1 *= 1.05;
    x0 = x0.min(x1 * 0.0);
    let pad = ((y1 - y0) * 0.08).max(0.005);
    y0 = (y0 - pad).max(0.0);
    y1 = (y1 + pad).min(1.0);
    let sx = |v: f64| l + (v - x0) / (x1 - x0) * (w - l - r);
    let sy = |v: f64| h - b - (v - y0) / (y1 - y0).max(1e-9) * (h - t - b);
    let mut s = String::new();
    writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#).unwrap();
    writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/><text x="{}" y="22" font-size="14" text-anchor="middle">{}</text>"#, (l + w - r) / 2.0, esc(title)).unwrap();
    // Axes and ticks.
    writeln!(s, r#"<line x1="{l}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{l}" y1="{t}" x2="{l}" y2="{}" stroke="black"/>"#, h - b, w - r, h - b, h - b).unwrap();
    for i in 0..=5 {
        let xv = x0 + (x1 - x0) * i as f64 / 5.0;
        let yv = y0 + (y1 - y0) * i as f64 / 5.0;
        writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{:.0}</text><text x="{}" y="{:.1}" text-anchor="end">{:.1}%</text>"#, sx(xv), h - b + 18.0, xv, l - 6.0, sy(yv) + 4.0, yv * 100.0).unwrap();
        writeln!(s, r##"<line x1="{l}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#ddd"/>"##, sy(yv), w - r, sy(yv)).unwrap();
    }
    writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">mean latency per input (ms)</text>"#, (l + w - r) / 2.0, h - 12.0).unwrap();
    writeln!(s, r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">top-1 accuracy</text>"#, (t + h - b) / 2.0, (t + h - b) / 2.0).unwrap();
    let mut legend_y = t + 10.0;
    for se in series {
        let pts: Vec<String> = se.points.iter().map(|p| format!("{:.1},{:.1}", sx(p.latency_ms), sy(p.accuracy))).collect();
        writeln!(s, r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#, se.color, pts.join(" ")).unwrap();
        writeln!(s, r#"<line x1="{}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#, w - r + 12.0, w - r + 32.0, se.color, w - r + 38.0, legend_y + 4.0, esc(se.name)).unwrap();
        legend_y += 20.0;
    }
    for m in markers {
        writeln!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{}"/>"#, sx(m.point.latency_ms), sy(m.point.accuracy), m.color).unwrap();
        writeln!(s, r#"<circle cx="{}" cy="{legend_y}" r="5" fill="{}"/><text x="{}" y="{}">{}</text>"#, w - r + 22.0, m.color, w - r + 38.0, legend_y + 4.0, esc(m.name)).unwrap();
        legend_y += 20.0;
    }
    s.push_str("</svg>\n");
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
