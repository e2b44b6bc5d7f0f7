//! Typed values: the five column types ccrsim's tables use.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// 64-bit float.
    Double,
    /// Interned string.
    Symbol,
    /// Milliseconds since the epoch.
    Timestamp,
}

impl ColumnType {
    /// Every type.
    pub const ALL: [ColumnType; 5] = [ColumnType::Int, ColumnType::Long, ColumnType::Double, ColumnType::Symbol, ColumnType::Timestamp];

    /// Whether a column of this type may partition a database (floats may not).
    pub fn can_partition(self) -> bool {
        self != ColumnType::Double
    }

    /// Whether every value of `self` converts to `to` (REPLACE_COLUMN): numbers among numbers,
    /// anything to a symbol, a symbol only to a symbol.
    pub fn converts_to(self, to: ColumnType) -> bool {
        self == to || to == ColumnType::Symbol || (self != ColumnType::Symbol)
    }
}

/// A value; `Null` fits every type. Doubles are stored by their bits so that values can be ordered,
/// hashed and compared exactly (NaN is never produced).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    /// Missing.
    Null,
    /// INT.
    Int(i32),
    /// LONG.
    Long(i64),
    /// DOUBLE, as `f64::to_bits`.
    Double(u64),
    /// SYMBOL.
    Symbol(String),
    /// TIMESTAMP.
    Timestamp(i64),
}

impl Value {
    /// A DOUBLE value.
    pub fn double(v: f64) -> Value {
        assert!(!v.is_nan(), "NaN has no place in a table");
        Value::Double(v.to_bits())
    }

    /// The type of a non-null value.
    pub fn column_type(&self) -> Option<ColumnType> {
        Some(match self {
            Value::Null => return None,
            Value::Int(_) => ColumnType::Int,
            Value::Long(_) => ColumnType::Long,
            Value::Double(_) => ColumnType::Double,
            Value::Symbol(_) => ColumnType::Symbol,
            Value::Timestamp(_) => ColumnType::Timestamp,
        })
    }

    /// True when the value may be stored in a column of type `ty` (a NaN double never may: it has
    /// no order and no equality).
    pub fn fits(&self, ty: ColumnType) -> bool {
        match self {
            Value::Double(bits) if f64::from_bits(*bits).is_nan() => false,
            _ => self.column_type().is_none_or(|t| t == ty),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(f64::from(*v)),
            Value::Long(v) | Value::Timestamp(v) => Some(*v as f64),
            Value::Double(bits) => Some(f64::from_bits(*bits)),
            Value::Null | Value::Symbol(_) => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(i64::from(*v)),
            Value::Long(v) | Value::Timestamp(v) => Some(*v),
            Value::Double(bits) => Some(f64::from_bits(*bits) as i64),
            Value::Null | Value::Symbol(_) => None,
        }
    }

    /// Converts to `to` (callers check [`ColumnType::converts_to`] first). Integers saturate.
    pub fn convert(&self, to: ColumnType) -> Value {
        if matches!(self, Value::Null) {
            return Value::Null;
        }
        match to {
            ColumnType::Int => Value::Int(self.as_i64().map_or(0, |v| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)),
            ColumnType::Long => Value::Long(self.as_i64().unwrap_or(0)),
            ColumnType::Timestamp => Value::Timestamp(self.as_i64().unwrap_or(0)),
            ColumnType::Double => match self.as_f64() {
                Some(v) if v.is_nan() => Value::Null,
                v => Value::double(v.unwrap_or(0.0)),
            },
            ColumnType::Symbol => Value::Symbol(self.to_string()),
        }
    }

    /// Total order used by predicates and range partitions: numbers by value, symbols by text;
    /// `None` across kinds or with `Null`.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::Symbol(a), Value::Symbol(b)) => Some(a.cmp(b)),
            (Value::Symbol(_), _) | (_, Value::Symbol(_)) => None,
            (Value::Double(_), _) | (_, Value::Double(_)) => self.as_f64()?.partial_cmp(&other.as_f64()?),
            _ => Some(self.as_i64()?.cmp(&other.as_i64()?)),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A structural order (for maps and sorting), not the SQL comparison of [`Value::compare`].
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Int(_) => 1,
                Value::Long(_) => 2,
                Value::Double(_) => 3,
                Value::Symbol(_) => 4,
                Value::Timestamp(_) => 5,
            }
        }
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Long(a), Value::Long(b)) | (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Double(a), Value::Double(b)) => f64::from_bits(*a).total_cmp(&f64::from_bits(*b)),
            (Value::Symbol(a), Value::Symbol(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Long(v) | Value::Timestamp(v) => write!(f, "{v}"),
            Value::Double(bits) => write!(f, "{}", f64::from_bits(*bits)),
            Value::Symbol(s) => write!(f, "{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_compare_and_fit() {
        assert_eq!(Value::Long(1 << 40).convert(ColumnType::Int), Value::Int(i32::MAX));
        assert_eq!(Value::double(2.9).convert(ColumnType::Long), Value::Long(2));
        assert_eq!(Value::Int(7).convert(ColumnType::Symbol), Value::Symbol("7".into()));
        assert_eq!(Value::Null.convert(ColumnType::Double), Value::Null);
        assert!(!ColumnType::Symbol.converts_to(ColumnType::Int));
        assert!(ColumnType::Int.converts_to(ColumnType::Double));
        assert_eq!(Value::Int(3).compare(&Value::double(3.5)), Some(Ordering::Less));
        assert_eq!(Value::Int(3).compare(&Value::Symbol("3".into())), None);
        assert!(Value::Null.fits(ColumnType::Symbol) && !Value::Int(1).fits(ColumnType::Long));
    }
}
