//! Summaries: percentiles of latencies and median/min/max over repeated runs.

use std::time::Duration;

/// The `p`-th percentile (0..=100) of `sorted` by nearest rank; zero for an empty slice.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median, minimum and maximum of repeated measurements of one figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        };
        Spread {
            median,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// A table cell: the spread of `values` (non-finite ones ignored), or "–" when there is none.
pub fn cell(values: &[f64]) -> String {
    let spread = Spread::of(values);
    if spread.median.is_finite() {
        spread.to_string()
    } else {
        "–".to_owned()
    }
}

/// The ratio of two medians with two decimals, or "–" when either is missing or the divisor is
/// zero: no ratio is made up for a side without figures.
pub fn ratio(numerator: &Spread, denominator: &Spread) -> String {
    if numerator.median.is_finite() && denominator.median.is_finite() && denominator.median != 0.0 {
        format!("{:.2}", numerator.median / denominator.median)
    } else {
        "–".to_owned()
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} ({:.1}–{:.1})", self.median, self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn spread_is_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[1.0, 2.0, 3.0, 10.0]).median, 2.5);
    }

    #[test]
    fn cells_and_ratios_say_when_there_is_no_figure() {
        assert_eq!(cell(&[4.0, f64::NAN, 2.0, 9.0]), "4.0 (2.0–9.0)");
        assert_eq!(cell(&[]), "–");
        assert_eq!(cell(&[f64::NAN]), "–");
        let two = Spread::of(&[2.0]);
        assert_eq!(ratio(&Spread::of(&[3.0]), &two), "1.50");
        assert_eq!(ratio(&Spread::of(&[]), &two), "–");
        assert_eq!(ratio(&two, &Spread::of(&[0.0])), "–");
    }
}
