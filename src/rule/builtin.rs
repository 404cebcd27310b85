//! The crate's stateless rules as one type, for composites.

use super::{
    AlphaBeta, Deconvnet, Epsilon, Flat, Gamma, Guided, Pass, TrueGradient, WSquare, ZBox,
};

/// The crate's stateless rules, as a [`Composite`](super::Composite) assigns them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Builtin {
    /// [`TrueGradient`].
    Gradient,
    /// [`Pass`].
    Pass,
    /// [`Guided`].
    Guided,
    /// [`Deconvnet`].
    Deconvnet,
    /// [`Epsilon`] (also Zennit's `Norm` at sums and average pools).
    Epsilon(Epsilon),
    /// [`AlphaBeta`] (z⁺ included).
    AlphaBeta(AlphaBeta),
    /// [`Gamma`].
    Gamma(Gamma),
    /// [`ZBox`].
    ZBox(ZBox),
    /// [`Flat`].
    Flat(Flat),
    /// [`WSquare`].
    WSquare(WSquare),
}

macro_rules! builtin_from {
    ($($rule:ident),*) => {$(
        impl From<$rule> for Builtin {
            fn from(rule: $rule) -> Self {
                Builtin::$rule(rule)
            }
        }
    )*};
}
builtin_from!(Epsilon, AlphaBeta, Gamma, ZBox, Flat, WSquare);

impl From<TrueGradient> for Builtin {
    fn from(_: TrueGradient) -> Self {
        Builtin::Gradient
    }
}
impl From<Pass> for Builtin {
    fn from(_: Pass) -> Self {
        Builtin::Pass
    }
}
impl From<Guided> for Builtin {
    fn from(_: Guided) -> Self {
        Builtin::Guided
    }
}
impl From<Deconvnet> for Builtin {
    fn from(_: Deconvnet) -> Self {
        Builtin::Deconvnet
    }
}

/// Runs `$body` with `$r` bound to a fresh value of the rule.
macro_rules! with_rule {
    ($rule:expr, $r:ident => $body:expr) => {
        match $rule {
            Builtin::Gradient => {
                let mut $r = TrueGradient;
                $body
            }
            Builtin::Pass => {
                let mut $r = Pass;
                $body
            }
            Builtin::Guided => {
                let mut $r = Guided;
                $body
            }
            Builtin::Deconvnet => {
                let mut $r = Deconvnet;
                $body
            }
            Builtin::Epsilon(rule) => {
                let mut $r = *rule;
                $body
            }
            Builtin::AlphaBeta(rule) => {
                let mut $r = *rule;
                $body
            }
            Builtin::Gamma(rule) => {
                let mut $r = *rule;
                $body
            }
            Builtin::ZBox(rule) => {
                let mut $r = rule.clone();
                $body
            }
            Builtin::Flat(rule) => {
                let mut $r = *rule;
                $body
            }
            Builtin::WSquare(rule) => {
                let mut $r = *rule;
                $body
            }
        }
    };
}

pub(crate) use with_rule;
