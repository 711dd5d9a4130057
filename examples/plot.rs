//! Draws SVG plots from an experiment's `results.jsonl`:
//! mean test accuracy (± std over seeds) against a numeric x
//! (`transfer_size` or `s`), one line per method.
//!
//! ```text
//! cargo run --release --example plot -- results/mnist-sweep/results.jsonl transfer_size docs/img/mnist-transfer.svg
//! ```

use std::collections::BTreeMap;

use clap::Parser;
use lelp::metrics::mean_std;
use plotters::prelude::*;

type Error = Box<dyn std::error::Error>;

/// Accuracy against a numeric column of an experiment's rows, one line per method.
#[derive(Parser)]
struct Args {
    /// The experiment's results.jsonl.
    input: String,
    /// The x column: transfer_size or s.
    xkey: String,
    /// The SVG to write.
    out: String,
    /// The title (default: "test accuracy vs XKEY").
    title: Option<String>,
}

/// Per method (in first-seen order), per x, the accuracies in percent.
type Series = (Vec<String>, BTreeMap<String, BTreeMap<u64, Vec<f64>>>);

fn main() -> Result<(), Error> {
    let args = Args::parse();
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| format!("test accuracy vs {}", args.xkey));
    let (order, series) = read_series(&args.input, &args.xkey)?;
    draw(&order, &series, &args.xkey, &args.out, &title)?;
    eprintln!("wrote {}", args.out);
    Ok(())
}

fn read_series(input: &str, xkey: &str) -> Result<Series, Error> {
    let text = std::fs::read_to_string(input)?;
    // method -> x -> accuracies
    let mut series: BTreeMap<String, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    let mut order = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let Some(x) = v.get(xkey).and_then(|x| x.as_u64()) else {
            continue;
        };
        let m = v["method"].as_str().unwrap_or("?").to_string();
        if !order.contains(&m) {
            order.push(m.clone());
        }
        series
            .entry(m)
            .or_default()
            .entry(x)
            .or_default()
            .push(100.0 * v["accuracy"].as_f64().unwrap_or(0.0));
    }
    if series.is_empty() {
        return Err(format!("no rows with a numeric '{xkey}' in {input}").into());
    }
    Ok((order, series))
}

fn draw(
    order: &[String],
    series: &BTreeMap<String, BTreeMap<u64, Vec<f64>>>,
    xkey: &str,
    out: &str,
    title: &str,
) -> Result<(), Error> {
    let xs: Vec<u64> = series.values().flat_map(|m| m.keys().copied()).collect();
    let (xmin, xmax) = (*xs.iter().min().unwrap() as f64, *xs.iter().max().unwrap() as f64);
    let log_x = xmax / xmin.max(1.0) > 8.0;
    let fx = |x: f64| if log_x { x.ln() } else { x };
    let mut ymin = f64::INFINITY;
    let mut ymax = f64::NEG_INFINITY;
    for m in series.values() {
        for v in m.values() {
            let (mu, sd) = mean_std(v);
            ymin = ymin.min(mu - sd);
            ymax = ymax.max(mu + sd);
        }
    }
    let pad = (ymax - ymin).max(1.0) * 0.08;
    let root = SVGBackend::new(out, (760, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let span = (fx(xmax) - fx(xmin)).max(1e-9);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(
            (fx(xmin) - 0.05 * span)..(fx(xmax) + 0.05 * span),
            (ymin - pad)..(ymax + pad),
        )?;
    chart
        .configure_mesh()
        .x_desc(if log_x {
            format!("{xkey} (log scale)")
        } else {
            xkey.to_string()
        })
        .y_desc("test accuracy (%)")
        .x_label_formatter(&|v| format!("{:.0}", if log_x { v.exp() } else { *v }))
        .draw()?;
    for (i, name) in order.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64, f64)> = series[name]
            .iter()
            .map(|(&x, v)| {
                let (m, s) = mean_std(v);
                (fx(x as f64), m, s)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|&(x, m, _)| (x, m)),
                color.stroke_width(2),
            ))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&(x, m, _)| Circle::new((x, m), 3, color.filled())))?;
        chart.draw_series(
            pts.iter()
                .map(|&(x, m, s)| PathElement::new(vec![(x, m - s), (x, m + s)], color)),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()?;
    Ok(())
}
