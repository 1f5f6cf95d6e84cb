//! Lists of γ and α in a config: written out, or a log range `{ from, to, per_decade }`
//! expanded to values rounded to three significant digits.

use super::{MAX_LIST, Rule};

/// A grid list of numbers, or a log-spaced range `{ from = a, to = b, per_decade = d }`:
/// a, a·r, a·r², … up to b (with r = 10^(1/d)), each rounded to three significant digits.
pub(super) fn values(key: &str, raw: toml::Value) -> Result<Vec<f64>, Rule> {
    use toml::Value;
    let number = |v: &Value| match v {
        Value::Float(x) => Some(*x),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    };
    match raw {
        Value::Array(items) => items
            .iter()
            .map(|v| number(v).ok_or_else(|| Rule(format!("{key} must list numbers (got {})", one_line(v)))))
            .collect(),
        Value::Table(table) => {
            let shape = || {
                Rule(format!(
                    "{key} must be a list of numbers or a range {{ from = …, to = …, per_decade = … }}"
                ))
            };
            if table.len() != 3 {
                return Err(shape());
            }
            let field = |name: &str| table.get(name).and_then(number).ok_or_else(shape);
            let (from, to, per_decade) = (field("from")?, field("to")?, field("per_decade")?);
            log_range(key, from, to, per_decade)
        }
        other => Err(Rule(format!(
            "{key} must be a list of numbers or a range {{ from = …, to = …, per_decade = … }} (got {})",
            one_line(&other)
        ))),
    }
}

/// A TOML value as config text on one line.
fn one_line(value: &toml::Value) -> String {
    value.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values of a log-spaced range; see [`values`].
fn log_range(key: &str, from: f64, to: f64, per_decade: f64) -> Result<Vec<f64>, Rule> {
    if !(from.is_finite() && from > 0.0 && to.is_finite()) {
        return Err(Rule(format!(
            "{key}: a range needs 0 < from and a finite to (got from = {}, to = {})",
            short_number(from),
            short_number(to)
        )));
    }
    if from >= to {
        let (from, to) = (short_number(from), short_number(to));
        return Err(Rule(format!("{key}: a range needs from < to (got from = {from}, to = {to})")));
    }
    if !(per_decade.is_finite() && per_decade > 0.0) {
        return Err(Rule(format!("{key}: per_decade must be > 0 (got {per_decade})")));
    }
    // Steps from `from`, with a little slack so that `to` itself is reached despite rounding.
    // By the difference of logarithms: `to / from` overflows for ranges spanning f64.
    let steps = (to.log10() - from.log10()) * per_decade;
    if steps >= MAX_LIST as f64 {
        let (from, to) = (short_number(from), short_number(to));
        return Err(Rule(format!(
            "{key}: the range from {from} to {to} at {per_decade} per decade has more than {MAX_LIST} values"
        )));
    }
    let steps = (steps + 1e-9).floor() as usize;
    let mut out: Vec<f64> = Vec::with_capacity(steps + 1);
    for i in 0..=steps {
        // 10^(i/d) alone may overflow where from·10^(i/d) does not (from < 1, to near f64's
        // largest): then by the sum of logarithms.
        let exact = Some(from * 10f64.powf(i as f64 / per_decade))
            .filter(|x| x.is_finite())
            .unwrap_or_else(|| 10f64.powf(from.log10() + i as f64 / per_decade));
        if !exact.is_finite() {
            break; // the slack past a `to` at f64's largest value
        }
        // Rounding may not leave f64 either (1.7977e308 rounds up past its largest value).
        let value = Some(round_value(exact)).filter(|v| v.is_finite() && *v > 0.0).unwrap_or(exact);
        if out.last() != Some(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

/// A number's plain form unless its exponent form is at least two characters shorter; both
/// are exact round-trip representations: 0.003 → `0.003`, 0.0001 → `1e-4`, 1.0 → `1`,
/// 1e308 → `1e308`.
pub fn short_number(x: f64) -> String {
    let plain = format!("{x}");
    let exp = format!("{x:e}");
    if exp.len() + 1 < plain.len() { exp } else { plain }
}

/// `x` rounded to three significant digits: the kind of value a config would name.
pub fn round_value(x: f64) -> f64 {
    format!("{x:.2e}").parse().unwrap_or(x)
}
