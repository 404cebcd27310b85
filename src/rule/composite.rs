//! Composites: which rule goes to which site.

use burn::prelude::*;

use super::builtin::with_rule;
use super::{
    AlphaBeta, Builtin, Deconvnet, Epsilon, Flat, Gamma, Guided, Layer, Pass, RectifyBackend, Rule,
    Site, SiteKind, TrueGradient, ZBox,
};
use crate::model::Activation;
use crate::ops::PoolGeometry;
use crate::Result;

/// The sites an entry of a [`Composite`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Select {
    /// Every site.
    All,
    /// Every activation site.
    Activations,
    /// Every max-pooling site.
    MaxPools,
    /// Every convolution.
    Convolutions,
    /// Every fully connected layer.
    Dense,
    /// Every convolution and fully connected layer.
    Weighted,
    /// Every batch norm.
    BatchNorms,
    /// Every average pooling.
    AvgPools,
    /// Every sum of branches.
    Sums,
    /// The first convolution or fully connected layer of the forward pass
    /// (the input layer, where zB and flat go).
    FirstWeighted,
    /// The last convolution or fully connected layer (usually the
    /// classifier). Known only after a forward pass: [`RuleGradient`](crate::method::RuleGradient)
    /// finds it, a hand-run [`Composed`] needs
    /// [`with_last_weighted`](Composed::with_last_weighted).
    LastWeighted,
    /// The site with this [`Site::index`].
    Index(usize),
    /// The site with this [`Site::name`].
    Name(String),
}

impl Select {
    pub(crate) fn matches(
        &self,
        site: &Site<'_>,
        first_weighted: bool,
        last: Option<usize>,
    ) -> bool {
        match self {
            Select::All => true,
            Select::Activations => matches!(site.kind, SiteKind::Activation(_)),
            Select::MaxPools => matches!(site.kind, SiteKind::MaxPool { .. }),
            Select::Convolutions => site.kind == SiteKind::Convolution,
            Select::Dense => site.kind == SiteKind::Linear,
            Select::Weighted => site.kind.is_weighted(),
            Select::BatchNorms => site.kind == SiteKind::BatchNorm,
            Select::AvgPools => site.kind == SiteKind::AvgPool,
            Select::Sums => site.kind == SiteKind::Add,
            Select::FirstWeighted => first_weighted,
            Select::LastWeighted => last == Some(site.index),
            Select::Index(i) => site.index == *i,
            Select::Name(name) => site.name == Some(name.as_str()),
        }
    }
}

/// Which rule goes to which site (Zennit's composites): a list of
/// ([`Select`], [`Builtin`]) entries, the latest added first; sites no
/// entry selects keep the true gradient. With
/// [`fold_batch_norm`](Composite::fold_batch_norm) (the canonizer LRP needs
/// on networks with batch norm), a batch norm right after a convolution or
/// linear layer is folded into it: the pair's backward is the layer's rule
/// applied to the folded layer (weights scaled per output channel).
///
/// ```
/// use learnprop::rule::{AlphaBeta, Composite, Flat, Select};
///
/// // Zennit's EpsilonPlusFlat, spelled out.
/// let composite = Composite::lrp_base(1e-6)?
///     .with(Select::Convolutions, AlphaBeta::z_plus(1e-6)?)
///     .with(Select::Dense, learnprop::rule::Epsilon::new(1e-6)?)
///     .with(Select::FirstWeighted, Flat::new(1e-6)?);
/// assert_eq!(composite, Composite::epsilon_plus_flat(1e-6, 1e-6)?);
/// # Ok::<(), learnprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Composite {
    entries: Vec<(Select, Builtin)>,
    fold_batch_norm: bool,
}

impl Composite {
    /// No entries: the true gradient everywhere, no folding.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry, taking precedence over every earlier one.
    pub fn with(mut self, select: Select, rule: impl Into<Builtin>) -> Self {
        self.entries.push((select, rule.into()));
        self
    }

    /// Folds each batch norm into the convolution or linear layer right
    /// before it (its input's producer, the site before it in the forward).
    pub fn fold_batch_norm(mut self, fold: bool) -> Self {
        self.fold_batch_norm = fold;
        self
    }

    /// The entries, earliest first.
    pub fn entries(&self) -> &[(Select, Builtin)] {
        &self.entries
    }

    /// The rule for `site`.
    ///
    /// `first_weighted` says whether `site` is the first weighted site of the
    /// forward, `last_weighted` is the index of the last one (if known).
    pub fn rule_for(
        &self,
        site: &Site<'_>,
        first_weighted: bool,
        last_weighted: Option<usize>,
    ) -> &Builtin {
        self.entries
            .iter()
            .rev()
            .find(|(select, _)| select.matches(site, first_weighted, last_weighted))
            .map(|(_, rule)| rule)
            .unwrap_or(&Builtin::Gradient)
    }

    /// Zennit's base of every LRP composite: activations pass, sums and
    /// average pools follow the ε rule with `stabilizer` (Zennit's `Norm`),
    /// batch norms pass, and batch norms are folded into their layers
    /// (Zennit's `SequentialMergeBatchNorm` canonizer).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a negative
    /// or non-finite stabiliser.
    pub fn lrp_base(stabilizer: f64) -> Result<Self> {
        let norm = Epsilon::new(stabilizer)?;
        Ok(Self::new()
            .with(Select::Activations, Pass)
            .with(Select::Sums, norm)
            .with(Select::AvgPools, norm)
            .with(Select::BatchNorms, Pass)
            .fold_batch_norm(true))
    }

    /// Zennit's `EpsilonPlus`: z⁺ at convolutions, ε at dense layers.
    ///
    /// # Errors
    /// As the rules' constructors.
    pub fn epsilon_plus(epsilon: f64, stabilizer: f64) -> Result<Self> {
        Ok(Self::lrp_base(stabilizer)?
            .with(Select::Convolutions, AlphaBeta::z_plus(stabilizer)?)
            .with(Select::Dense, Epsilon::new(epsilon)?))
    }

    /// Zennit's `EpsilonAlpha2Beta1`: α2β1 at convolutions, ε at dense
    /// layers.
    ///
    /// # Errors
    /// As the rules' constructors.
    pub fn epsilon_alpha2_beta1(epsilon: f64, stabilizer: f64) -> Result<Self> {
        Ok(Self::lrp_base(stabilizer)?
            .with(Select::Convolutions, AlphaBeta::new(2.0, 1.0, stabilizer)?)
            .with(Select::Dense, Epsilon::new(epsilon)?))
    }

    /// Zennit's `EpsilonPlusFlat`: [`epsilon_plus`](Self::epsilon_plus) with
    /// the flat rule at the first layer.
    ///
    /// # Errors
    /// As the rules' constructors.
    pub fn epsilon_plus_flat(epsilon: f64, stabilizer: f64) -> Result<Self> {
        Ok(Self::epsilon_plus(epsilon, stabilizer)?
            .with(Select::FirstWeighted, Flat::new(stabilizer)?))
    }

    /// Zennit's `EpsilonGammaBox`: zB at the first convolution (inputs in
    /// `[low, high]`, one value or one per channel), γ at the other
    /// convolutions, ε at dense layers.
    ///
    /// # Errors
    /// As the rules' constructors.
    pub fn epsilon_gamma_box(
        low: Vec<f64>,
        high: Vec<f64>,
        epsilon: f64,
        gamma: f64,
        stabilizer: f64,
    ) -> Result<Self> {
        let zbox = ZBox::new(low, high, stabilizer)?;
        Ok(Self::lrp_base(stabilizer)?
            .with(Select::Convolutions, Gamma::new(gamma, stabilizer)?)
            .with(Select::Dense, Epsilon::new(epsilon)?)
            .with(Select::FirstWeighted, zbox))
    }

    /// Captum's `LRP` with its default rules: ε at convolutions, dense
    /// layers, max- and average pools, batch norms and sums; activations
    /// pass; no folding.
    ///
    /// # Errors
    /// As [`Epsilon::new`].
    pub fn epsilon(epsilon: f64) -> Result<Self> {
        let rule = Epsilon::new(epsilon)?;
        Ok(Self::new()
            .with(Select::All, rule)
            .with(Select::Activations, Pass))
    }

    /// Guided backpropagation: the [`Guided`] rule at every activation.
    pub fn guided() -> Self {
        Self::new().with(Select::Activations, Guided)
    }

    /// The deconvnet: the [`Deconvnet`] rule at every activation.
    pub fn deconvnet() -> Self {
        Self::new().with(Select::Activations, Deconvnet)
    }

    /// The rule that runs a forward pass under this composite.
    pub fn rule<B: Backend>(&self) -> Composed<'_, B> {
        Composed {
            composite: self,
            seen_weighted: false,
            last_weighted: None,
            pending: None,
        }
    }
}

/// A weighted layer waiting to see whether a batch norm follows.
#[derive(Debug)]
struct Pending<B: Backend> {
    index: usize,
    kind: SiteKind,
    layer: Layer<B>,
    rule: Builtin,
    dims: Vec<usize>,
    input: Tensor<B, 2>,
}

/// A [`Composite`] running one forward pass: the [`Rule`] that dispatches
/// each site to its entry's rule (from [`Composite::rule`]).
#[derive(Debug)]
pub struct Composed<'c, B: Backend> {
    composite: &'c Composite,
    seen_weighted: bool,
    last_weighted: Option<usize>,
    pending: Option<Pending<B>>,
}

impl<B: Backend> Composed<'_, B> {
    /// The same rule knowing that the last weighted site of the forward is
    /// `index` (what [`Select::LastWeighted`] selects).
    pub fn with_last_weighted(mut self, index: usize) -> Self {
        self.last_weighted = Some(index);
        self
    }
}

impl Composite {
    /// Whether an entry selects [`Select::LastWeighted`].
    pub fn needs_last_weighted(&self) -> bool {
        self.entries
            .iter()
            .any(|(select, _)| *select == Select::LastWeighted)
    }
}

impl<B: RectifyBackend> Composed<'_, B> {
    /// The site's rule; also resets the per-forward state at site 0.
    fn pick(&mut self, site: &Site<'_>) -> Result<Builtin> {
        if self.last_weighted.is_none() && self.composite.needs_last_weighted() {
            return Err(crate::Error::Unsupported(
                "`Select::LastWeighted` needs the site list: run the composite with \
                 `method::RuleGradient`, or give the index with `Composed::with_last_weighted`"
                    .into(),
            ));
        }
        if site.index == 0 {
            self.seen_weighted = false;
        }
        let first = site.kind.is_weighted() && !self.seen_weighted;
        if site.kind.is_weighted() {
            self.seen_weighted = true;
        }
        if site.kind != SiteKind::BatchNorm {
            self.pending = None;
        }
        Ok(self
            .composite
            .rule_for(site, first, self.last_weighted)
            .clone())
    }

    /// The folded layer's rule applied to the pending layer's input, when
    /// `site` is a batch norm right after it.
    fn folded<const D: usize>(
        &mut self,
        site: &Site<'_>,
        norm: &Layer<B>,
    ) -> Option<Result<Tensor<B, D>>> {
        let pending = self.pending.take()?;
        if !self.composite.fold_batch_norm
            || pending.index + 1 != site.index
            || pending.dims.len() != D
        {
            return None;
        }
        let folded = pending.layer.folded_with(norm)?;
        let mut dims = [0usize; D];
        dims.copy_from_slice(&pending.dims);
        let input: Tensor<B, D> = pending.input.reshape(dims);
        let layer_site = Site {
            index: pending.index,
            kind: pending.kind,
            name: None,
            shape: &pending.dims[1..],
        };
        Some(with_rule!(&pending.rule, r => r.layer(&layer_site, &folded, input)))
    }
}

impl<B: RectifyBackend> Rule<B> for Composed<'_, B> {
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let rule = self.pick(site)?;
        with_rule!(&rule, r => r.activation(site, activation, input))
    }

    fn max_pool(
        &mut self,
        site: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        let rule = self.pick(site)?;
        with_rule!(&rule, r => r.max_pool(site, input, geometry))
    }

    fn layer<const D: usize>(
        &mut self,
        site: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let rule = self.pick(site)?;
        if site.kind == SiteKind::BatchNorm {
            if let Some(out) = self.folded::<D>(site, layer) {
                let value = layer.forward(input.detach());
                let out = out?;
                return Ok(value.detach() + (out.clone() - out.detach()));
            }
        }
        if self.composite.fold_batch_norm && site.kind.is_weighted() {
            let dims = input.dims();
            let per_image = dims[1..].iter().product();
            self.pending = Some(Pending {
                index: site.index,
                kind: site.kind,
                layer: layer.clone(),
                rule: rule.clone(),
                dims: dims.to_vec(),
                input: input.clone().reshape([dims[0], per_image]),
            });
        }
        with_rule!(&rule, r => r.layer(site, layer, input))
    }

    fn add<const D: usize>(
        &mut self,
        site: &Site<'_>,
        a: Tensor<B, D>,
        b: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let rule = self.pick(site)?;
        with_rule!(&rule, r => r.add(site, a, b))
    }
}
