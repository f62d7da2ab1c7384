//! The exit codes: the CI contract (SPEC section 1, the README's table). When several
//! apply, the first in this order wins: bad input, runtime error, checks failed, not pushed.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// every check passed (warnings pass unless `--fail-on warn`)
    Ok = 0,
    /// at least one check failed (or warned, with `--fail-on warn`)
    ChecksFailed = 1,
    /// usage, config or contract error: nothing was run
    BadInput = 2,
    /// a data source could not be reached or a query failed: some checks were not evaluated
    Runtime = 3,
    /// the checks ran, but the results could not be pushed (they wait in the outbox)
    NotPushed = 4,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A run's verdict, with the push's: a failed push matters only when nothing else went
    /// wrong.
    pub fn with_push(self, delivered: bool) -> Exit {
        if self == Exit::Ok && !delivered {
            Exit::NotPushed
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_precedence_follow_the_spec() {
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::ChecksFailed,
            Exit::BadInput,
            Exit::Runtime,
            Exit::NotPushed,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
        assert_eq!(Exit::Ok.with_push(false), Exit::NotPushed);
        assert_eq!(Exit::ChecksFailed.with_push(false), Exit::ChecksFailed);
        assert_eq!(Exit::Runtime.with_push(false), Exit::Runtime);
        assert_eq!(Exit::Ok.with_push(true), Exit::Ok);
    }
}
