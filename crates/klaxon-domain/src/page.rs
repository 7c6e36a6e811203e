//! Pagination: how many items a list answers with.
use crate::Invalid;

/// A page size between 1 and [`Limit::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const DEFAULT: Limit = Limit(50);
    pub const MAX: u32 = 500;

    pub fn parse(n: Option<i64>) -> Result<Self, Invalid> {
        match n {
            None => Ok(Self::DEFAULT),
            Some(n) if (1..=i64::from(Self::MAX)).contains(&n) => Ok(Self(n as u32)),
            Some(_) => Err(Invalid::new(
                "limit",
                format!("must be between 1 and {}", Self::MAX),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(Limit::parse(None).unwrap().get(), 50);
        assert_eq!(Limit::parse(Some(500)).unwrap().get(), 500);
        assert_eq!(Limit::parse(Some(0)).unwrap_err().field, "limit");
        assert!(Limit::parse(Some(501)).is_err());
    }
}
