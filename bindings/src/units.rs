//! Human amounts, payroll rates, durations and times.
//!
//! Every conversion is exact or fails: [`parse_amount`] never rounds (too many decimals is an
//! error), and [`rate_per_second`] rounds a rate down and reports what the rounding costs per
//! period, so the number the Payroll contract receives never pays more than the user asked for.
//!
//! Payroll rates are token units per second scaled to 18 decimals (`IPayroll.createStream`): one
//! scaled unit is 10⁻¹⁸ of a whole token whatever the token's decimals, and the contract converts
//! scaled units to token units only when paying, rounding down and keeping the remainder.

use std::{fmt, str::FromStr};

use alloy::primitives::U256;
use serde::{Deserialize, Serialize, Serializer};

use crate::tokens::TokenRef;

/// Decimals of a Payroll rate: rates are whole-token amounts per second times 10¹⁸.
pub const RATE_DECIMALS: u8 = 18;

/// Largest token decimals the contracts accept.
pub const MAX_TOKEN_DECIMALS: u8 = 18;

/// Largest rate `createStream` and `adjustRate` accept: `type(uint96).max` scaled units per
/// second.
pub const MAX_RATE: u128 = (1u128 << 96) - 1;

/// Largest timestamp the contracts store (`uint40`).
pub const MAX_TIMESTAMP: u64 = (1u64 << 40) - 1;

/// Why an amount, rate, duration or time could not be read or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    /// Not a plain decimal number.
    #[error("invalid amount {input:?}: {reason}")]
    InvalidAmount {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More significant decimals than the token has: never rounded silently.
    #[error("{input:?} has more decimals than {}'s {decimals}", token.as_deref().unwrap_or("the token"))]
    TooManyDecimals {
        /// The text given.
        input: String,
        /// The token's decimals.
        decimals: u8,
        /// The token's symbol, when known.
        token: Option<String>,
    },
    /// Does not fit 256 bits of token units.
    #[error("amount {input:?} is too large: it exceeds 2^256 - 1 token units")]
    AmountTooLarge {
        /// The text given.
        input: String,
    },
    /// The token's decimals are outside what the contracts accept.
    #[error("tokens with {decimals} decimals are not supported: the contracts take 0 to 18")]
    UnsupportedDecimals {
        /// The token's decimals.
        decimals: u8,
    },
    /// Not `AMOUNT TOKEN/PERIOD`.
    #[error("invalid rate {input:?}: {reason}")]
    InvalidRate {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a known period name.
    #[error(
        "invalid period {input:?}: use second, minute, hour, day, week, month or year (or s, min, h, d, w, mo, y)"
    )]
    InvalidPeriod {
        /// The text given.
        input: String,
    },
    /// Not a known month mode.
    #[error("invalid month length {input:?}: use 30d (30 days) or calendar (365.2425 / 12 days)")]
    InvalidMonthMode {
        /// The text given.
        input: String,
    },
    /// The rate is zero per second once rounded down.
    #[error(
        "a rate of {per_period} per {period} is 0 per second once rounded down to the contract's unit (10^-18 token per second)"
    )]
    RateTooSmall {
        /// The requested amount per period, formatted.
        per_period: String,
        /// The period.
        period: Period,
    },
    /// The rate exceeds the contract's `uint96` cap.
    #[error(
        "a rate of {per_period} per {period} exceeds the contract's maximum of 2^96 - 1 scaled units (about 79.2 billion tokens) per second"
    )]
    RateTooLarge {
        /// The requested amount per period, formatted.
        per_period: String,
        /// The period.
        period: Period,
    },
    /// Not a duration like `3d` or `1d12h`.
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a time like `now`, `+3d`, a unix timestamp or an RFC 3339 date.
    #[error("invalid time {input:?}: {reason}")]
    InvalidTime {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl UnitsError {
    /// Names the token in a [`UnitsError::TooManyDecimals`] error (`… than USDT0's 6`); other
    /// errors are returned unchanged.
    #[must_use]
    pub fn for_token(self, symbol: &str) -> Self {
        match self {
            Self::TooManyDecimals { input, decimals, .. } => {
                Self::TooManyDecimals { input, decimals, token: Some(symbol.to_owned()) }
            }
            other => other,
        }
    }
}

/// Parses a human amount into token units: `"1500.25"` with 18 decimals is
/// `1500250000000000000000`.
///
/// Accepted: digits with at most one `.` (`"1500"`, `"1500.25"`, `"0.5"`, `".5"`, `"5."`),
/// surrounding whitespace ignored. Rejected with a sentence saying why: thousands separators
/// (`"1,500"`), signs, exponents (`"1e18"`), and more significant decimals than the token has
/// (trailing zeros beyond them are fine): an amount is never rounded.
///
/// ```
/// use alloy::primitives::U256;
/// use shiftpay_bindings::units::parse_amount;
///
/// assert_eq!(parse_amount("1500.25", 6)?, U256::from(1_500_250_000u64));
/// assert_eq!(parse_amount("0.000001", 6)?, U256::from(1));
/// assert_eq!(
///     parse_amount("1.0000001", 6).unwrap_err().to_string(),
///     "\"1.0000001\" has more decimals than the token's 6"
/// );
/// assert!(parse_amount("1,500.25", 18).is_err());
/// # Ok::<(), shiftpay_bindings::units::UnitsError>(())
/// ```
pub fn parse_amount(s: &str, decimals: u8) -> Result<U256, UnitsError> {
    let (int, frac) = amount_parts(s)?;
    if frac.len() > usize::from(decimals) {
        return Err(UnitsError::TooManyDecimals { input: s.to_owned(), decimals, token: None });
    }
    let mut digits = String::with_capacity(int.len() + usize::from(decimals));
    digits.push_str(int);
    digits.push_str(frac);
    digits.extend(std::iter::repeat_n('0', usize::from(decimals) - frac.len()));
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10).map_err(|_| UnitsError::AmountTooLarge { input: s.to_owned() })
}

/// Checks an amount's syntax and splits it into its integer digits (leading zeros trimmed) and
/// its significant decimals (trailing zeros trimmed).
fn amount_parts(s: &str) -> Result<(&str, &str), UnitsError> {
    let invalid =
        |reason: &str| UnitsError::InvalidAmount { input: s.to_owned(), reason: reason.to_owned() };
    let text = s.trim();
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    if text.starts_with('-') {
        return Err(invalid("amounts cannot be negative"));
    }
    if text.starts_with('+') {
        return Err(invalid("write the number without a sign"));
    }
    if text.contains(',') {
        return Err(invalid("use a dot for decimals and no thousands separators, e.g. 1500.25"));
    }
    if text.contains(['e', 'E']) && text.chars().all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
    {
        return Err(invalid("exponents are not accepted: write every digit"));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.contains('.') {
        return Err(invalid("it has more than one decimal point"));
    }
    if let Some(bad) = int.chars().chain(frac.chars()).find(|c| !c.is_ascii_digit()) {
        return Err(invalid(&format!("{bad:?} is not a digit")));
    }
    if int.is_empty() && frac.is_empty() {
        return Err(invalid("it has no digits"));
    }
    Ok((int.trim_start_matches('0'), frac.trim_end_matches('0')))
}

/// Formats token units as a human amount: the exact value, trailing zeros trimmed, no thousands
/// separators (so [`parse_amount`] reads it back unchanged).
///
/// ```
/// use alloy::primitives::U256;
/// use shiftpay_bindings::units::format_amount;
///
/// assert_eq!(format_amount(U256::from(1_500_250_000u64), 6), "1500.25");
/// assert_eq!(format_amount(U256::from(1), 18), "0.000000000000000001");
/// assert_eq!(format_amount(U256::from(42), 0), "42");
/// ```
pub fn format_amount(value: U256, decimals: u8) -> String {
    let digits = value.to_string();
    let decimals = usize::from(decimals);
    if decimals == 0 {
        return digits;
    }
    let (int, frac) = if digits.len() > decimals {
        let (int, frac) = digits.split_at(digits.len() - decimals);
        (int.to_owned(), frac.to_owned())
    } else {
        ("0".to_owned(), format!("{digits:0>decimals$}"))
    };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { int } else { format!("{int}.{frac}") }
}

/// How long a "month" (and a "year") is when converting a monthly rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonthMode {
    /// A month is 30 days (2,592,000 s) and a year 365 days: what payroll contracts usually
    /// mean. The default.
    #[default]
    #[serde(rename = "30d")]
    Days30,
    /// The average Gregorian month, 365.2425 / 12 days (2,629,746 s), and year, 365.2425 days.
    Calendar,
}

impl MonthMode {
    /// Short name, as [`MonthMode::from_str`] reads it: `30d` or `calendar`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Days30 => "30d",
            Self::Calendar => "calendar",
        }
    }
}

impl fmt::Display for MonthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MonthMode {
    type Err = UnitsError;

    /// `30d` (also `30days`, `30-day`, `days30`) or `calendar`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "30d" | "30days" | "30-day" | "30-days" | "days30" => Ok(Self::Days30),
            "calendar" => Ok(Self::Calendar),
            _ => Err(UnitsError::InvalidMonthMode { input: s.to_owned() }),
        }
    }
}

/// The period of a human rate (`1500 USDRIF/month`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// One second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds.
    Day,
    /// 7 days.
    Week,
    /// 30 days, or 365.2425 / 12 days with [`MonthMode::Calendar`].
    Month,
    /// 365 days, or 365.2425 days with [`MonthMode::Calendar`].
    Year,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Self; 7] =
        [Self::Second, Self::Minute, Self::Hour, Self::Day, Self::Week, Self::Month, Self::Year];

    /// Length in seconds.
    pub const fn seconds(self, month: MonthMode) -> u64 {
        match (self, month) {
            (Self::Second, _) => 1,
            (Self::Minute, _) => 60,
            (Self::Hour, _) => 3_600,
            (Self::Day, _) => 86_400,
            (Self::Week, _) => 604_800,
            (Self::Month, MonthMode::Days30) => 2_592_000,
            (Self::Month, MonthMode::Calendar) => 2_629_746,
            (Self::Year, MonthMode::Days30) => 31_536_000,
            (Self::Year, MonthMode::Calendar) => 31_556_952,
        }
    }

    /// Singular lowercase name: `month`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// What the period means, for explanations: `30-day month`, `calendar month (30.436875
    /// days)`, `hour`…
    pub const fn describe(self, month: MonthMode) -> &'static str {
        match (self, month) {
            (Self::Month, MonthMode::Days30) => "30-day month",
            (Self::Month, MonthMode::Calendar) => "calendar month (30.436875 days)",
            (Self::Year, MonthMode::Days30) => "365-day year",
            (Self::Year, MonthMode::Calendar) => "calendar year (365.2425 days)",
            _ => self.name(),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Period {
    type Err = UnitsError;

    /// A period name, its plural or abbreviation, any case: `s`/`sec`, `min`, `h`/`hr`, `d`,
    /// `w`/`wk`, `mo`/`mon`, `y`/`yr`. A bare `m` is rejected as ambiguous (minute or month).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let period = match lower.as_str() {
            "s" | "sec" | "secs" | "second" | "seconds" => Self::Second,
            "min" | "mins" | "minute" | "minutes" => Self::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Self::Hour,
            "d" | "day" | "days" => Self::Day,
            "w" | "wk" | "wks" | "week" | "weeks" => Self::Week,
            "mo" | "mon" | "mos" | "month" | "months" => Self::Month,
            "y" | "yr" | "yrs" | "year" | "years" => Self::Year,
            _ => return Err(UnitsError::InvalidPeriod { input: s.to_owned() }),
        };
        Ok(period)
    }
}

fn serialize_decimal<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// A human rate converted to what Payroll takes, with the rounding made visible.
///
/// `per_second_scaled = floor(amount × 10^(18 − decimals) / period_seconds)`, so a stream at this
/// rate pays `per_second_scaled × period_seconds ≤ amount` per period: rounding only ever pays
/// the worker less, by `lost_per_period_scaled` (always less than `period_seconds` scaled units,
/// i.e. under 10⁻¹¹ of a token per 30-day month).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// Rate for the contract: 18-decimal scaled token units per second (fits `uint96`).
    #[serde(serialize_with = "serialize_decimal")]
    pub per_second_scaled: U256,
    /// The requested amount per period, in token units.
    #[serde(serialize_with = "serialize_decimal")]
    pub amount: U256,
    /// The token's decimals.
    pub decimals: u8,
    /// The requested period.
    pub period: Period,
    /// How long a month and a year are.
    pub month: MonthMode,
    /// Length of the period in seconds.
    pub period_seconds: u64,
    /// Whether the conversion is exact (nothing lost to rounding).
    pub exact: bool,
    /// What the rounding costs the worker per period, in scaled units (10⁻¹⁸ token).
    #[serde(serialize_with = "serialize_decimal")]
    pub lost_per_period_scaled: U256,
}

impl Rate {
    /// What the stream pays per period at this rate, in scaled units (10⁻¹⁸ token).
    pub fn paid_per_period_scaled(&self) -> U256 {
        self.per_second_scaled * U256::from(self.period_seconds)
    }

    /// The rate as the contract's `uint128` argument (always fits: it is at most [`MAX_RATE`]).
    pub fn to_contract(&self) -> u128 {
        self.per_second_scaled.to::<u128>()
    }

    /// The conversion in one line, e.g. `1500 USDRIF/month = 578703703703703 per second (scaled
    /// 1e18); pays 1499.999999999998176 USDRIF per 30-day month (0.000000000001824 USDRIF
    /// less, lost to rounding)`.
    pub fn describe(&self, symbol: &str) -> String {
        let requested = format_amount(self.amount, self.decimals);
        let head = format!(
            "{requested} {symbol}/{} = {} per second (scaled 1e18)",
            self.period, self.per_second_scaled
        );
        if self.exact {
            format!("{head}; exact")
        } else {
            format!(
                "{head}; pays {} {symbol} per {} ({} {symbol} less, lost to rounding)",
                format_amount(self.paid_per_period_scaled(), RATE_DECIMALS),
                self.period.describe(self.month),
                format_amount(self.lost_per_period_scaled, RATE_DECIMALS),
            )
        }
    }
}

/// Converts `amount` token units per `period` into Payroll's rate, rounding down.
///
/// Errors: decimals above 18, a rate that rounds to zero (including a zero amount), and a rate
/// above the contract's `uint96` cap.
///
/// ```
/// use alloy::primitives::U256;
/// use shiftpay_bindings::units::{MonthMode, Period, parse_amount, rate_per_second};
///
/// let rate = rate_per_second(parse_amount("1500", 18)?, 18, Period::Month, MonthMode::Days30)?;
/// assert_eq!(rate.per_second_scaled, U256::from(578_703_703_703_703u64));
/// assert!(!rate.exact);
/// assert_eq!(
///     rate.describe("USDRIF"),
///     "1500 USDRIF/month = 578703703703703 per second (scaled 1e18); pays \
///      1499.999999999998176 USDRIF per 30-day month (0.000000000001824 USDRIF less, \
///      lost to rounding)"
/// );
///
/// // A 6-decimal token: the rate is still 18-decimal scaled.
/// let rate = rate_per_second(parse_amount("36", 6)?, 6, Period::Hour, MonthMode::Days30)?;
/// assert_eq!(rate.per_second_scaled, U256::from(10_000_000_000_000_000u64)); // 0.01 token/s
/// assert!(rate.exact);
/// # Ok::<(), shiftpay_bindings::units::UnitsError>(())
/// ```
pub fn rate_per_second(
    amount: U256,
    decimals: u8,
    period: Period,
    month: MonthMode,
) -> Result<Rate, UnitsError> {
    if decimals > MAX_TOKEN_DECIMALS {
        return Err(UnitsError::UnsupportedDecimals { decimals });
    }
    let per_period = || format_amount(amount, decimals);
    let scale = U256::from(10u64).pow(U256::from(RATE_DECIMALS - decimals));
    let Some(scaled) = amount.checked_mul(scale) else {
        return Err(UnitsError::RateTooLarge { per_period: per_period(), period });
    };
    let period_seconds = period.seconds(month);
    let (per_second, lost) = scaled.div_rem(U256::from(period_seconds));
    if per_second.is_zero() {
        return Err(UnitsError::RateTooSmall { per_period: per_period(), period });
    }
    if per_second > U256::from(MAX_RATE) {
        return Err(UnitsError::RateTooLarge { per_period: per_period(), period });
    }
    Ok(Rate {
        per_second_scaled: per_second,
        amount,
        decimals,
        period,
        month,
        period_seconds,
        exact: lost.is_zero(),
        lost_per_period_scaled: lost,
    })
}

/// Formats a Payroll rate (scaled units per second) as a human rate: the exact amount per period,
/// e.g. `1499.999999999998176 USDRIF/month`.
///
/// A rate is token-independent once scaled, so no decimals are needed; the amount shows up to 18
/// decimals (the contract's precision), even for a 6-decimal token.
///
/// ```
/// use alloy::primitives::U256;
/// use shiftpay_bindings::units::{MonthMode, Period, format_rate};
///
/// let one_per_second = U256::from(10u64.pow(18));
/// assert_eq!(format_rate(one_per_second, "RIF", Period::Hour, MonthMode::Days30), "3600 RIF/hour");
/// ```
pub fn format_rate(
    per_second_scaled: U256,
    symbol: &str,
    period: Period,
    month: MonthMode,
) -> String {
    let per_period = per_second_scaled.saturating_mul(U256::from(period.seconds(month)));
    format!("{} {symbol}/{period}", format_amount(per_period, RATE_DECIMALS))
}

/// A rate as a user writes it: `1500 USDRIF/month`, `0.0004 rbtc/hour`.
///
/// Parsing checks the syntax only; the token is resolved against the chain later
/// ([`crate::tokens::resolve_token`]) and [`RateSpec::to_rate`] then converts with its decimals.
///
/// ```
/// use shiftpay_bindings::{tokens::TokenRef, units::{MonthMode, Period, RateSpec}};
///
/// let spec: RateSpec = "1500 USDRIF/month".parse()?;
/// assert_eq!(spec.amount, "1500");
/// assert_eq!(spec.token, TokenRef::Symbol("USDRIF".into()));
/// assert_eq!(spec.period, Period::Month);
/// let rate = spec.to_rate(18, MonthMode::Days30)?;
/// assert_eq!(rate.to_contract(), 578_703_703_703_703);
/// # Ok::<(), shiftpay_bindings::units::UnitsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSpec {
    /// The amount per period as written (syntax already checked).
    pub amount: String,
    /// The token as written.
    pub token: TokenRef,
    /// The period.
    pub period: Period,
}

impl RateSpec {
    /// Converts with the resolved token's decimals (see [`rate_per_second`]).
    pub fn to_rate(&self, decimals: u8, month: MonthMode) -> Result<Rate, UnitsError> {
        let amount = parse_amount(&self.amount, decimals)?;
        rate_per_second(amount, decimals, self.period, month)
    }
}

impl FromStr for RateSpec {
    type Err = UnitsError;

    /// `AMOUNT TOKEN/PERIOD`: spaces around `/` and between amount and token are optional
    /// (`1500USDRIF/month` works); the token is a symbol, `native` or an address.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| UnitsError::InvalidRate { input: s.to_owned(), reason };
        let Some((left, period)) = s.rsplit_once('/') else {
            return Err(invalid(
                "write it as AMOUNT TOKEN/PERIOD, e.g. \"1500 USDRIF/month\"".into(),
            ));
        };
        let period: Period = period.parse().map_err(|e: UnitsError| invalid(e.to_string()))?;
        let left = left.trim();
        let split =
            left.find(|c: char| !(c.is_ascii_digit() || ".,+-".contains(c))).unwrap_or(left.len());
        let (amount, token) = left.split_at(split);
        let token = token.trim();
        if amount.is_empty() {
            return Err(invalid("it does not start with an amount".into()));
        }
        if token.is_empty() {
            return Err(invalid("it names no token between the amount and the \"/\"".into()));
        }
        // Check the amount's syntax now (any decimals count is fine until the token is known).
        amount_parts(amount).map_err(|e| invalid(e.to_string()))?;
        let token: TokenRef =
            token.parse().map_err(|e: crate::tokens::TokenError| invalid(e.to_string()))?;
        Ok(Self { amount: amount.to_owned(), token, period })
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.amount, self.token, self.period)
    }
}

/// Parses a duration: one or more `<number><unit>` parts, units `s`, `m` (minutes), `h`, `d`,
/// `w`, optionally separated by spaces: `"3d"`, `"72h"`, `"90m"`, `"45s"`, `"2w"`, `"1d12h"`.
///
/// A bare number is rejected (is `3` seconds or days?), and so are months (their length varies).
///
/// ```
/// use shiftpay_bindings::units::parse_duration;
/// assert_eq!(parse_duration("3d")?, 259_200);
/// assert_eq!(parse_duration("1d12h")?, parse_duration("36h")?);
/// assert!(parse_duration("3").is_err());
/// # Ok::<(), shiftpay_bindings::units::UnitsError>(())
/// ```
pub fn parse_duration(s: &str) -> Result<u64, UnitsError> {
    let invalid = |reason: String| UnitsError::InvalidDuration { input: s.to_owned(), reason };
    let text = s.trim();
    if text.is_empty() {
        return Err(invalid("it is empty".into()));
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid(format!("add a unit, e.g. {text}s, {text}h or {text}d")));
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid(format!("expected a number at {rest:?}")));
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len =
            tail.find(|c: char| c.is_ascii_digit() || c.is_whitespace()).unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds_per_unit = match unit.to_ascii_lowercase().as_str() {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            "" => return Err(invalid(format!("{number} has no unit (s, m, h, d or w)"))),
            other => {
                return Err(invalid(format!(
                    "unknown unit {other:?}: use s, m (minutes), h, d or w (months vary in length: write days)"
                )));
            }
        };
        let part = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(seconds_per_unit))
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| invalid("it is too long".into()))?;
        total = part;
        rest = tail.trim_start();
    }
    Ok(total)
}

/// Formats seconds as a duration [`parse_duration`] reads back: `"3d 12h"`, `"45s"`, `"0s"`.
///
/// ```
/// use shiftpay_bindings::units::format_duration;
/// assert_eq!(format_duration(302_400), "3d 12h");
/// assert_eq!(format_duration(1_209_600), "2w");
/// ```
pub fn format_duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut rest = seconds;
    let mut parts = Vec::new();
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    parts.join(" ")
}

/// Parses a point in time into unix seconds: `now`, `+<duration>` (from `now`), unix seconds
/// (`1764547200`), an RFC 3339 timestamp with its offset (`2026-12-01T00:00:00Z`,
/// `2026-12-01T09:00:00+09:00`) or a date (`2026-12-01`, midnight UTC).
///
/// Times the contracts cannot store (before 1970, after `uint40`) are rejected; a 13-digit number
/// is pointed out as probably milliseconds.
///
/// ```
/// use shiftpay_bindings::units::parse_time;
/// let now = 1_764_547_200; // 2025-12-01T00:00:00Z
/// assert_eq!(parse_time("now", now)?, now);
/// assert_eq!(parse_time("+3d", now)?, now + 259_200);
/// assert_eq!(parse_time("2025-12-01", now)?, now);
/// assert_eq!(parse_time("2025-12-01T01:00:00+01:00", now)?, now);
/// assert!(parse_time("2025-12-01T00:00:00", now).is_err()); // no offset: ambiguous
/// # Ok::<(), shiftpay_bindings::units::UnitsError>(())
/// ```
pub fn parse_time(s: &str, now: u64) -> Result<u64, UnitsError> {
    let invalid = |reason: String| UnitsError::InvalidTime { input: s.to_owned(), reason };
    let text = s.trim();
    let seconds: i64 = if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    } else if let Some(duration) = text.strip_prefix('+') {
        let duration = parse_duration(duration).map_err(|e| invalid(e.to_string()))?;
        return now
            .checked_add(duration)
            .filter(|&t| t <= MAX_TIMESTAMP)
            .ok_or_else(|| invalid("it is beyond the contracts' time range (uint40)".into()));
    } else if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        let value: u64 = text.parse().map_err(|_| invalid("the number is too large".into()))?;
        if value > MAX_TIMESTAMP {
            let hint = if text.len() >= 13 { " (milliseconds? give unix seconds)" } else { "" };
            return Err(invalid(format!("it is beyond the contracts' time range (uint40){hint}")));
        }
        return Ok(value);
    } else if let Ok(date) = text.parse::<jiff::civil::Date>()
        && !text.contains(['T', 't', ' '])
    {
        let midnight = date.to_datetime(jiff::civil::Time::midnight());
        jiff::tz::Offset::UTC
            .to_timestamp(midnight)
            .map_err(|e| invalid(e.to_string()))?
            .as_second()
    } else {
        match text.parse::<jiff::Timestamp>() {
            Ok(timestamp) => timestamp.as_second(),
            Err(error) => {
                let reason = if text.parse::<jiff::civil::DateTime>().is_ok() {
                    format!("it has no UTC offset: add Z for UTC, e.g. {text}Z")
                } else {
                    format!(
                        "use now, +DURATION (e.g. +3d), unix seconds, a date (2026-12-01) or RFC 3339 \
                         (2026-12-01T00:00:00Z) ({error})"
                    )
                };
                return Err(invalid(reason));
            }
        }
    };
    u64::try_from(seconds)
        .ok()
        .filter(|&t| t <= MAX_TIMESTAMP)
        .ok_or_else(|| invalid("it is before 1970 or beyond the contracts' time range".into()))
}

/// Formats unix seconds as an RFC 3339 UTC timestamp: `2026-12-01T00:00:00Z`.
///
/// ```
/// use shiftpay_bindings::units::format_time;
/// assert_eq!(format_time(1_764_547_200), "2025-12-01T00:00:00Z");
/// ```
pub fn format_time(unix_seconds: u64) -> String {
    i64::try_from(unix_seconds)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| format!("@{unix_seconds}"), |t| t.to_string())
}

/// The current time in unix seconds (0 if the clock is before 1970).
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn err(result: Result<impl fmt::Debug, UnitsError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn parses_amounts_exactly() {
        assert_eq!(
            parse_amount("1500", 18).unwrap(),
            U256::from(1500u64) * U256::from(10u64).pow(U256::from(18))
        );
        assert_eq!(parse_amount("1500.25", 2).unwrap(), U256::from(150_025));
        assert_eq!(parse_amount(" 0.5 ", 1).unwrap(), U256::from(5));
        assert_eq!(parse_amount(".5", 1).unwrap(), U256::from(5));
        assert_eq!(parse_amount("5.", 0).unwrap(), U256::from(5));
        assert_eq!(parse_amount("1.10", 1).unwrap(), U256::from(11), "trailing zeros are exact");
        assert_eq!(parse_amount("007", 0).unwrap(), U256::from(7));
        assert_eq!(parse_amount("0", 18).unwrap(), U256::ZERO);
        assert_eq!(parse_amount("0.000", 0).unwrap(), U256::ZERO);
        assert_eq!(parse_amount(&U256::MAX.to_string(), 0).unwrap(), U256::MAX);
    }

    #[test]
    fn amount_errors_name_the_input_and_the_problem() {
        assert_eq!(
            err(parse_amount("1.2.3", 18)),
            "invalid amount \"1.2.3\": it has more than one decimal point"
        );
        assert_eq!(
            err(parse_amount("1,500.25", 18)),
            "invalid amount \"1,500.25\": use a dot for decimals and no thousands separators, e.g. 1500.25"
        );
        assert_eq!(
            err(parse_amount("1.0000001", 6).map_err(|e| e.for_token("USDT0"))),
            "\"1.0000001\" has more decimals than USDT0's 6"
        );
        assert_eq!(err(parse_amount("0.5", 0)), "\"0.5\" has more decimals than the token's 0");
        assert_eq!(
            err(parse_amount("-1", 18)),
            "invalid amount \"-1\": amounts cannot be negative"
        );
        assert_eq!(
            err(parse_amount("1e18", 0)),
            "invalid amount \"1e18\": exponents are not accepted: write every digit"
        );
        assert_eq!(err(parse_amount("12abc", 0)), "invalid amount \"12abc\": 'a' is not a digit");
        assert_eq!(err(parse_amount("", 0)), "invalid amount \"\": it is empty");
        assert_eq!(err(parse_amount(".", 0)), "invalid amount \".\": it has no digits");
        assert!(matches!(parse_amount("1", 78), Err(UnitsError::AmountTooLarge { .. })));
        let too_big = format!("{}0", U256::MAX);
        assert!(matches!(parse_amount(&too_big, 0), Err(UnitsError::AmountTooLarge { .. })));
    }

    #[test]
    fn formats_amounts() {
        assert_eq!(format_amount(U256::ZERO, 18), "0");
        assert_eq!(format_amount(U256::from(1_500_000_000u64), 6), "1500");
        assert_eq!(format_amount(U256::from(123), 3), "0.123");
        assert_eq!(format_amount(U256::from(1230), 3), "1.23");
        assert_eq!(format_amount(U256::from(5), 255).len(), 2 + 255);
    }

    #[test]
    fn periods_and_month_modes() {
        assert_eq!(Period::Month.seconds(MonthMode::Days30), 30 * 86_400);
        assert_eq!(
            Period::Month.seconds(MonthMode::Calendar) * 12,
            Period::Year.seconds(MonthMode::Calendar)
        );
        assert_eq!(Period::Year.seconds(MonthMode::Calendar), 31_556_952); // 365.2425 days
        assert_eq!("Months".parse::<Period>().unwrap(), Period::Month);
        assert_eq!("hr".parse::<Period>().unwrap(), Period::Hour);
        assert!("m".parse::<Period>().is_err(), "minute or month?");
        assert_eq!("calendar".parse::<MonthMode>().unwrap(), MonthMode::Calendar);
        assert_eq!("30D".parse::<MonthMode>().unwrap(), MonthMode::Days30);
        assert_eq!(MonthMode::default(), MonthMode::Days30);
        for period in Period::ALL {
            assert_eq!(period.name().parse::<Period>().unwrap(), period);
        }
    }

    #[test]
    fn converts_rates_and_shows_the_rounding() {
        let rate = RateSpec::from_str("1500 USDRIF/month")
            .unwrap()
            .to_rate(18, MonthMode::Days30)
            .unwrap();
        assert_eq!(rate.per_second_scaled, U256::from(578_703_703_703_703u64));
        assert_eq!(rate.paid_per_period_scaled() + rate.lost_per_period_scaled, rate.amount);
        assert_eq!(
            format_rate(rate.per_second_scaled, "USDRIF", Period::Month, MonthMode::Days30),
            "1499.999999999998176 USDRIF/month"
        );
        let calendar = RateSpec::from_str("1500 USDRIF/month")
            .unwrap()
            .to_rate(18, MonthMode::Calendar)
            .unwrap();
        assert!(calendar.per_second_scaled < rate.per_second_scaled);
        assert!(calendar.describe("USDRIF").contains("per calendar month (30.436875 days)"));

        let exact =
            rate_per_second(U256::from(3_600u64), 0, Period::Hour, MonthMode::Days30).unwrap();
        assert_eq!(exact.per_second_scaled, U256::from(10u64.pow(18)));
        assert_eq!(
            exact.describe("X"),
            "3600 X/hour = 1000000000000000000 per second (scaled 1e18); exact"
        );

        let native = RateSpec::from_str("0.0004 rbtc/hour").unwrap();
        assert_eq!(native.token, TokenRef::Symbol("rbtc".into()));
        assert_eq!(
            native.to_rate(18, MonthMode::Days30).unwrap().per_second_scaled,
            U256::from(111_111_111_111u64)
        );
    }

    #[test]
    fn rate_errors() {
        assert_eq!(
            err(rate_per_second(U256::ZERO, 18, Period::Day, MonthMode::Days30)),
            "a rate of 0 per day is 0 per second once rounded down to the contract's unit (10^-18 token per second)"
        );
        assert!(matches!(
            rate_per_second(U256::from(86_399u64), 18, Period::Day, MonthMode::Days30),
            Err(UnitsError::RateTooSmall { .. })
        ));
        assert!(matches!(
            rate_per_second(
                U256::from(MAX_RATE) + U256::from(1),
                18,
                Period::Second,
                MonthMode::Days30
            ),
            Err(UnitsError::RateTooLarge { .. })
        ));
        assert!(
            rate_per_second(U256::from(MAX_RATE), 18, Period::Second, MonthMode::Days30).is_ok()
        );
        assert!(matches!(
            rate_per_second(U256::MAX, 0, Period::Second, MonthMode::Days30),
            Err(UnitsError::RateTooLarge { .. })
        ));
        assert!(matches!(
            rate_per_second(U256::from(1), 19, Period::Second, MonthMode::Days30),
            Err(UnitsError::UnsupportedDecimals { decimals: 19 })
        ));
        assert_eq!(
            err("1500 USDRIF".parse::<RateSpec>()),
            "invalid rate \"1500 USDRIF\": write it as AMOUNT TOKEN/PERIOD, e.g. \"1500 USDRIF/month\""
        );
        assert!(
            err("1500 USDRIF/fortnight".parse::<RateSpec>())
                .starts_with("invalid rate \"1500 USDRIF/fortnight\": invalid period")
        );
        assert!(err("USDRIF/month".parse::<RateSpec>()).contains("does not start with an amount"));
        assert!(err("1500/month".parse::<RateSpec>()).contains("names no token"));
        assert!(err("1,500 USDRIF/month".parse::<RateSpec>()).contains("thousands separators"));
        let spec: RateSpec = "1.5USDT0 / week".parse().unwrap();
        assert_eq!(spec.to_string(), "1.5 USDT0/week");
        assert_eq!(
            err(spec.to_rate(0, MonthMode::Days30).map_err(|e| e.for_token("USDT0"))),
            "\"1.5\" has more decimals than USDT0's 0"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3d").unwrap(), 3 * 86_400);
        assert_eq!(parse_duration("72h").unwrap(), 72 * 3_600);
        assert_eq!(parse_duration("90m").unwrap(), 5_400);
        assert_eq!(parse_duration("45s").unwrap(), 45);
        assert_eq!(parse_duration("2w").unwrap(), 14 * 86_400);
        assert_eq!(parse_duration("1d12h").unwrap(), 36 * 3_600);
        assert_eq!(parse_duration("1d 12h 30m").unwrap(), 36 * 3_600 + 1_800);
        assert_eq!(parse_duration("0s").unwrap(), 0);
        assert_eq!(
            err(parse_duration("3")),
            "invalid duration \"3\": add a unit, e.g. 3s, 3h or 3d"
        );
        assert!(err(parse_duration("1mo")).contains("unknown unit \"mo\""));
        assert!(err(parse_duration("d")).contains("expected a number"));
        assert!(err(parse_duration("99999999999999999999s")).contains("too long"));
        assert!(parse_duration("").is_err());
        for seconds in [1, 59, 60, 3_599, 86_400, 302_400, 1_209_601] {
            assert_eq!(parse_duration(&format_duration(seconds)).unwrap(), seconds);
        }
    }

    #[test]
    fn times() {
        let now = 1_764_547_200;
        assert_eq!(parse_time("NOW", now).unwrap(), now);
        assert_eq!(parse_time("+1d12h", now).unwrap(), now + 129_600);
        assert_eq!(parse_time("1764547200", 0).unwrap(), now);
        assert_eq!(parse_time("2026-12-01T00:00:00Z", 0).unwrap(), 1_796_083_200);
        assert_eq!(parse_time("2026-12-01", 0).unwrap(), 1_796_083_200);
        assert_eq!(parse_time("2026-12-01T09:00:00+09:00", 0).unwrap(), 1_796_083_200);
        assert_eq!(
            err(parse_time("2026-12-01T00:00:00", 0)),
            "invalid time \"2026-12-01T00:00:00\": it has no UTC offset: add Z for UTC, e.g. 2026-12-01T00:00:00Z"
        );
        assert!(err(parse_time("1796083200000", 0)).contains("milliseconds"));
        assert!(err(parse_time("1969-12-31", 0)).contains("before 1970"));
        assert!(
            err(parse_time("next tuesday", 0))
                .starts_with("invalid time \"next tuesday\": use now")
        );
        assert!(err(parse_time("+3", 0)).contains("add a unit"));
        assert_eq!(format_time(1_796_083_200), "2026-12-01T00:00:00Z");
        assert_eq!(parse_time(&format_time(1_796_083_201), 0).unwrap(), 1_796_083_201);
    }

    /// A canonical human amount with at most `decimals` decimals: no leading zeros, no trailing
    /// fractional zeros, no trailing dot.
    fn canonical_amount() -> impl Strategy<Value = (String, u8)> {
        (0u8..=30).prop_flat_map(|decimals| {
            let frac = if decimals == 0 {
                Just(String::new()).boxed()
            } else {
                proptest::string::string_regex(&format!("([0-9]{{0,{}}}[1-9])?", decimals - 1))
                    .unwrap()
                    .boxed()
            };
            ("(0|[1-9][0-9]{0,40})", frac).prop_map(move |(int, frac)| {
                if frac.is_empty() { (int, decimals) } else { (format!("{int}.{frac}"), decimals) }
            })
        })
    }

    proptest! {
        #[test]
        fn format_parse_round_trip((text, decimals) in canonical_amount()) {
            let value = parse_amount(&text, decimals).unwrap();
            prop_assert_eq!(format_amount(value, decimals), text);
        }

        #[test]
        fn parse_format_round_trip(limbs in any::<[u64; 4]>(), decimals in 0u8..=77) {
            let value = U256::from_limbs(limbs);
            prop_assert_eq!(parse_amount(&format_amount(value, decimals), decimals).unwrap(), value);
        }

        #[test]
        fn rate_conversion_never_overpays(
            amount in any::<u128>(),
            decimals in 0u8..=18,
            period in proptest::sample::select(Period::ALL.to_vec()),
            calendar in any::<bool>(),
        ) {
            let month = if calendar { MonthMode::Calendar } else { MonthMode::Days30 };
            let amount = U256::from(amount);
            let scaled = amount * U256::from(10u64).pow(U256::from(18 - decimals));
            match rate_per_second(amount, decimals, period, month) {
                Ok(rate) => {
                    let paid = rate.per_second_scaled * U256::from(period.seconds(month));
                    prop_assert!(paid <= scaled, "overpays");
                    prop_assert!(scaled - paid < U256::from(period.seconds(month)), "loses a whole scaled unit per second");
                    prop_assert_eq!(paid + rate.lost_per_period_scaled, scaled);
                    prop_assert_eq!(rate.exact, rate.lost_per_period_scaled.is_zero());
                    prop_assert!(rate.to_contract() <= MAX_RATE);
                }
                Err(UnitsError::RateTooSmall { .. }) => prop_assert!(scaled < U256::from(period.seconds(month))),
                Err(UnitsError::RateTooLarge { .. }) => {
                    prop_assert!(scaled / U256::from(period.seconds(month)) > U256::from(MAX_RATE));
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }
}
