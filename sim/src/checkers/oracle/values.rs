//! The value rules of the oracle, written for it alone: which values a column admits, how a
//! predicate or a RANGE domain orders two values, how REPLACE_COLUMN converts a value, and a total
//! order that makes tables comparable as multisets of rows. None of these calls the model's own
//! versions (`Value::fits`, `Value::compare`, `Value::convert`, `ColumnType::converts_to`, `Ord for
//! Value`): a bug in those must show up as a difference, not be copied into the expectation.

use std::cmp::Ordering;

use ccrsim_model::dfs::{Cmp, ColumnType, Row, Value};

/// Whether a column of type `ty` may hold `value`: NULL fits every column; otherwise only a value of
/// exactly that type, and never a NaN double (it has no order, so no predicate could judge it).
pub(super) fn admits(ty: ColumnType, value: &Value) -> bool {
    match (ty, value) {
        (_, Value::Null) => true,
        (ColumnType::Double, Value::Double(bits)) => !f64::from_bits(*bits).is_nan(),
        (ColumnType::Int, Value::Int(_))
        | (ColumnType::Long, Value::Long(_))
        | (ColumnType::Symbol, Value::Symbol(_))
        | (ColumnType::Timestamp, Value::Timestamp(_)) => true,
        _ => false,
    }
}

/// How a predicate or a RANGE domain orders two values. Every comparison an operation makes is
/// between values of one column type (rows, filters and boundaries are type-checked), so only
/// same-typed values compare: numbers by value (so DOUBLE -0.0 equals 0.0), symbols by their text.
/// NULL compares with nothing.
pub(super) fn sql_order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Long(x), Value::Long(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => f64::from_bits(*x).partial_cmp(&f64::from_bits(*y)),
        (Value::Symbol(x), Value::Symbol(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Whether `cell <cmp> operand` holds; a NULL cell (or one that does not compare) never matches.
pub(super) fn holds(cell: &Value, cmp: Cmp, operand: &Value) -> bool {
    sql_order(cell, operand).is_some_and(|o| match cmp {
        Cmp::Eq => o.is_eq(),
        Cmp::Lt => o.is_lt(),
        Cmp::Ge => o.is_ge(),
    })
}

/// Whether REPLACE_COLUMN may turn a `from` column into a `to` column: the four number types
/// (INT, LONG, DOUBLE, TIMESTAMP) among themselves, anything into SYMBOL, SYMBOL into nothing else.
pub(super) fn converts(from: ColumnType, to: ColumnType) -> bool {
    to == ColumnType::Symbol || from != ColumnType::Symbol
}

/// REPLACE_COLUMN's conversion of one stored value (the caller checked [`converts`]). NULL stays
/// NULL; into SYMBOL a value becomes its decimal text; between numbers it keeps its value as far as
/// the target can hold it: a double loses its fraction (towards zero) on the way to an integer type,
/// and integers saturate at the target's bounds.
pub(super) fn convert(value: &Value, to: ColumnType) -> Value {
    enum Number {
        Whole(i64),
        Float(f64),
    }
    let number = match value {
        Value::Null => return Value::Null,
        Value::Symbol(_) if to == ColumnType::Symbol => return value.clone(),
        Value::Symbol(_) => return Value::Null, // refused by `converts`, never reached
        Value::Int(v) => Number::Whole(i64::from(*v)),
        Value::Long(v) | Value::Timestamp(v) => Number::Whole(*v),
        Value::Double(bits) => Number::Float(f64::from_bits(*bits)),
    };
    // `as` from f64 to an integer truncates towards zero and saturates: the rule above.
    let whole = |n: &Number| match *n {
        Number::Whole(v) => v,
        Number::Float(f) => f as i64,
    };
    match to {
        ColumnType::Symbol => Value::Symbol(match number {
            Number::Whole(v) => v.to_string(),
            Number::Float(f) => f.to_string(),
        }),
        ColumnType::Double => Value::Double(
            match number {
                Number::Whole(v) => v as f64,
                Number::Float(f) => f,
            }
            .to_bits(),
        ),
        ColumnType::Int => Value::Int(match number {
            Number::Whole(v) => v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            Number::Float(f) => f as i32,
        }),
        ColumnType::Long => Value::Long(whole(&number)),
        ColumnType::Timestamp => Value::Timestamp(whole(&number)),
    }
}

/// A name DolphinDB-style scripts can use unquoted (tables, columns): letters, digits, underscores.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A total order of values, only to put rows into a canonical order: two tables are equal when
/// their sorted rows are. It agrees with `==` (doubles by `total_cmp`, which tells -0.0 from 0.0
/// as `==` on their bits does), so equal multisets always sort into equal vectors.
pub(super) fn canonical_order(a: &Value, b: &Value) -> Ordering {
    let rank = |v: &Value| match v {
        Value::Null => 0,
        Value::Int(_) => 1,
        Value::Long(_) => 2,
        Value::Double(_) => 3,
        Value::Symbol(_) => 4,
        Value::Timestamp(_) => 5,
    };
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Long(x), Value::Long(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Double(x), Value::Double(y)) => f64::from_bits(*x).total_cmp(&f64::from_bits(*y)),
        (Value::Symbol(x), Value::Symbol(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Sorts rows into the canonical order (value by value, then shorter first).
pub(super) fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| a.iter().zip(b).map(|(x, y)| canonical_order(x, y)).find(|o| o.is_ne()).unwrap_or_else(|| a.len().cmp(&b.len())));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> Value {
        Value::Double(v.to_bits())
    }

    #[test]
    fn conversions_keep_values_as_far_as_the_target_holds_them() {
        assert_eq!(convert(&Value::Long(1 << 40), ColumnType::Int), Value::Int(i32::MAX));
        assert_eq!(convert(&Value::Long(-(1 << 40)), ColumnType::Int), Value::Int(i32::MIN));
        assert_eq!(convert(&d(2.9), ColumnType::Long), Value::Long(2));
        assert_eq!(convert(&d(-2.9), ColumnType::Int), Value::Int(-2));
        assert_eq!(convert(&d(1e300), ColumnType::Timestamp), Value::Timestamp(i64::MAX));
        assert_eq!(convert(&Value::Int(7), ColumnType::Symbol), Value::Symbol("7".into()));
        assert_eq!(convert(&d(2.0), ColumnType::Symbol), Value::Symbol("2".into()));
        assert_eq!(convert(&d(2.5), ColumnType::Symbol), Value::Symbol("2.5".into()));
        assert_eq!(convert(&Value::Timestamp(3), ColumnType::Double), d(3.0));
        assert_eq!(convert(&Value::Null, ColumnType::Double), Value::Null);
        assert!(!converts(ColumnType::Symbol, ColumnType::Int) && converts(ColumnType::Int, ColumnType::Double));
    }

    #[test]
    fn predicates_compare_same_typed_values_and_never_match_null() {
        assert!(holds(&d(-0.0), Cmp::Eq, &d(0.0)));
        assert!(holds(&Value::Symbol("a".into()), Cmp::Lt, &Value::Symbol("b".into())));
        assert!(!holds(&Value::Null, Cmp::Lt, &Value::Int(1)) && !holds(&Value::Null, Cmp::Ge, &Value::Int(1)));
        assert!(!holds(&Value::Int(1), Cmp::Eq, &Value::Long(1)));
        assert!(admits(ColumnType::Symbol, &Value::Null) && !admits(ColumnType::Long, &Value::Int(1)));
        assert!(!admits(ColumnType::Double, &d(f64::NAN)));
    }

    #[test]
    fn the_canonical_order_tells_apart_what_equality_does() {
        let mut a = vec![vec![d(0.0)], vec![d(-0.0)], vec![Value::Null], vec![Value::Int(1), Value::Int(2)], vec![Value::Int(1)]];
        let mut b = vec![vec![Value::Int(1)], vec![d(-0.0)], vec![Value::Int(1), Value::Int(2)], vec![Value::Null], vec![d(0.0)]];
        sort_rows(&mut a);
        sort_rows(&mut b);
        assert_eq!(a, b);
        assert_eq!(a[0], vec![Value::Null]);
    }
}
