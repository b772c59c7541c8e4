//! Inline SVG charts drawn on the server from the numbers (no script, no library): bars with a
//! labelled axis. Each chart is followed on its page by a table of the same numbers, one click
//! away (`<details>`). Colours are the accent and near-black, which survive a greyscale print.

use maud::{Markup, html};

/// A bar chart of `(label, value)`; negative values hang below the axis. `fmt` labels values.
pub fn bars(title: &str, points: &[(String, i64)], fmt: &dyn Fn(i64) -> String) -> Markup {
    let w = 640i64;
    let h = 220i64;
    let (left, bottom, top) = (8i64, 28i64, 18i64);
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(0);
    let min = points.iter().map(|p| p.1).min().unwrap_or(0).min(0);
    let span = (max - min).max(1);
    let plot_h = h - bottom - top;
    let y = |v: i64| top + (max - v) * plot_h / span;
    let n = points.len().max(1) as i64;
    let slot = (w - left) / n;
    let bar_w = (slot * 7 / 10).max(1);
    let zero = y(0);
    let every = (points.len() / 12).max(1);
    html! {
        svg.chart viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            text x="8" y="12" font-size="11" fill="#1b1b1b" { (fmt(max)) }
            @if min < 0 { text x="8" y=(h - bottom - 2) font-size="11" fill="#1b1b1b" { (fmt(min)) } }
            line x1=(left) x2=(w) y1=(zero) y2=(zero) stroke="#1b1b1b" stroke-width="1" {}
            @for (i, (label, v)) in points.iter().enumerate() {
                @let x = left + i as i64 * slot + (slot - bar_w) / 2;
                @let (y0, hh) = if *v >= 0 { (y(*v), zero - y(*v)) } else { (zero, y(*v) - zero) };
                rect x=(x) y=(y0) width=(bar_w) height=(hh.max(if *v != 0 { 1 } else { 0 })) fill=(if *v >= 0 { "var(--a)" } else { "#505a5f" }) {
                    title { (label) ": " (fmt(*v)) }
                }
                @if i % every == 0 {
                    text x=(x) y=(h - 8) font-size="10" fill="#1b1b1b" { (label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_draw_one_rect_per_point_with_its_value_in_a_title() {
        let pts: Vec<(String, i64)> = vec![("Jan".into(), 100), ("Feb".into(), -50), ("Mar".into(), 0)];
        let s = bars("MRR", &pts, &|v| format!("v{v}")).into_string();
        assert_eq!(s.matches("<rect").count(), 3);
        assert!(s.contains("Jan: v100") && s.contains("Feb: v-50"));
        assert!(s.starts_with("<svg"));
        assert!(!s.contains("<script"));
    }
}
