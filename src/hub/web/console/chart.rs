//! The overview's "awards by hour" chart, drawn on the server as SVG: a pure function from
//! hourly counts to rectangles and labels that the template writes out.

use std::collections::BTreeMap;

/// Hours shown at most: the last ones, for a multi-day event.
pub const MAX_HOURS: usize = 36;

#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub series: usize,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub y: f64,
    pub label_x: f64,
    pub label_y: f64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub x: f64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    /// Where the hour labels sit.
    pub x_label_y: f64,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_labels: Vec<Label>,
    pub summary: String,
    /// (first hour, last hour, total, busiest hour's count), for the summary text.
    pub span: Option<(i64, i64, u64, u64)>,
}

/// A "nice" step for about four grid lines up to `max`.
fn nice_step(max: u64) -> u64 {
    let rough = (max as f64 / 4.0).max(1.0);
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * magnitude);
    step.max(1.0) as u64
}

/// Stacked bars, one per hour from the first to the last hour with awards (at most
/// [`MAX_HOURS`], the latest ones), one colour per series. `counts`: (hour start ms,
/// series index, count); `hour_label` names an hour, `bar_title` describes one segment.
pub fn stacked_by_hour(
    counts: &[(i64, usize, u64)],
    hour_ms: i64,
    hour_label: impl Fn(i64) -> String,
    bar_title: impl Fn(i64, usize, u64) -> String,
) -> Chart {
    let (width, height, left, top, bottom) = (720.0, 260.0, 44.0, 12.0, 28.0);
    let mut by_hour: BTreeMap<i64, BTreeMap<usize, u64>> = BTreeMap::new();
    for (hour, series, count) in counts {
        if *count > 0 {
            *by_hour.entry(*hour).or_default().entry(*series).or_default() += count;
        }
    }
    let (Some(&first), Some(&last)) = (by_hour.keys().next(), by_hour.keys().next_back()) else {
        return Chart {
            width,
            height,
            left,
            x_label_y: height - 8.0,
            ..Chart::default()
        };
    };
    let span_hours = usize::try_from((last - first) / hour_ms.max(1)).unwrap_or(0) + 1;
    let shown = span_hours.min(MAX_HOURS);
    let start = last - (shown as i64 - 1) * hour_ms;
    let totals: Vec<u64> = (0..shown)
        .map(|i| {
            by_hour
                .get(&(start + i as i64 * hour_ms))
                .map_or(0, |series| series.values().sum())
        })
        .collect();
    let peak = totals.iter().copied().max().unwrap_or(0).max(1);
    let step = nice_step(peak);
    let top_value = peak.div_ceil(step) * step;
    let plot_height = height - top - bottom;
    let scale = plot_height / top_value as f64;
    let slot = (width - left) / shown as f64;
    let bar_width = (slot * 0.7).clamp(1.0, 56.0);
    let mut bars = Vec::new();
    for i in 0..shown {
        let hour = start + i as i64 * hour_ms;
        let x = left + slot * i as f64 + (slot - bar_width) / 2.0;
        let mut base = height - bottom;
        for (series, count) in by_hour.get(&hour).into_iter().flatten() {
            let h = *count as f64 * scale;
            base -= h;
            bars.push(Bar {
                series: *series,
                x: round(x),
                y: round(base),
                w: round(bar_width),
                h: round(h),
                title: bar_title(hour, *series, *count),
            });
        }
    }
    let y_ticks = (0..=top_value / step)
        .map(|k| {
            let y = round(height - bottom - (k * step) as f64 * scale);
            Tick {
                y,
                label_x: left - 6.0,
                label_y: y + 4.0,
                text: (k * step).to_string(),
            }
        })
        .collect();
    // Label every hour when they fit, else every 2nd, 3rd… hour.
    let every = (shown as f64 * 44.0 / (width - left)).ceil().max(1.0) as usize;
    let x_labels = (0..shown)
        .filter(|i| i % every == 0)
        .map(|i| Label {
            x: round(left + slot * i as f64 + slot / 2.0),
            text: hour_label(start + i as i64 * hour_ms),
        })
        .collect();
    Chart {
        width,
        height,
        left,
        x_label_y: height - 8.0,
        bars,
        y_ticks,
        x_labels,
        summary: String::new(),
        span: Some((start, last, totals.iter().sum(), peak)),
    }
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn bars_stack_per_hour_and_fit_the_plot() {
        let counts = [(10 * H, 0, 3), (10 * H, 1, 1), (12 * H, 0, 8)];
        let chart = stacked_by_hour(&counts, H, |h| format!("{}h", h / H), |_, _, n| n.to_string());
        assert_eq!(chart.bars.len(), 3);
        // Hour 11 has no award: three slots, the middle one empty.
        assert_eq!(
            chart.x_labels.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["10h", "11h", "12h"]
        );
        let bottom = chart.height - 28.0;
        for bar in &chart.bars {
            assert!(bar.y >= 12.0 - 0.1 && bar.y + bar.h <= bottom + 0.1, "{bar:?}");
        }
        // The two segments of hour 10 stack: the second starts where the first ends.
        assert!((chart.bars[1].y + chart.bars[1].h - chart.bars[0].y).abs() < 0.2);
        // The tallest bar (8) is taller than the stack of 4.
        assert!(chart.bars[2].h > chart.bars[0].h + chart.bars[1].h);
        assert_eq!(chart.span, Some((10 * H, 12 * H, 12, 8)));
        assert_eq!(chart.y_ticks.last().map(|t| t.text.as_str()), Some("8"));
    }

    #[test]
    fn long_events_keep_the_latest_hours_and_empty_means_no_bars() {
        let counts: Vec<(i64, usize, u64)> = (0..100).map(|h| (h * H, 0, 1)).collect();
        let chart = stacked_by_hour(&counts, H, |h| (h / H).to_string(), |_, _, _| String::new());
        assert_eq!(chart.bars.len(), MAX_HOURS);
        assert_eq!(chart.span.map(|s| s.0), Some((100 - MAX_HOURS as i64) * H));
        assert!(chart.x_labels.len() < MAX_HOURS);
        let empty = stacked_by_hour(&[], H, |_| String::new(), |_, _, _| String::new());
        assert!(empty.bars.is_empty() && empty.span.is_none());
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(1), 1);
        assert_eq!(nice_step(8), 2);
        assert_eq!(nice_step(37), 10);
        assert_eq!(nice_step(1200), 500);
    }
}
