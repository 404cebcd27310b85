//! A small seeded random number generator, the same on every platform and
//! version, for everything in the crate that draws random numbers.
//!
//! ```
//! use learnprop::random::Rng;
//!
//! let mut a = Rng::new(7);
//! let mut b = Rng::new(7);
//! assert_eq!(a.next_u64(), b.next_u64());
//! let x = a.uniform();
//! assert!((0.0..1.0).contains(&x));
//! ```

/// SplitMix64 (Steele, Lea & Flood 2014): 64-bit state, passes BigCrush,
/// fully determined by its seed.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    spare_normal: Option<f64>,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare_normal: None,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n`, without modulo bias; `None` for `n = 0`
    /// (the range is empty), without drawing.
    ///
    /// ```
    /// use learnprop::random::Rng;
    /// let mut rng = Rng::new(7);
    /// assert!(rng.below(3).is_some_and(|i| i < 3));
    /// assert_eq!(rng.below(0), None);
    /// ```
    pub fn below(&mut self, n: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let r = self.next_u64();
            if r < zone {
                return Some((r % n) as usize);
            }
        }
    }

    /// Advances the stream by `draws` calls of [`next_u64`](Self::next_u64)
    /// in constant time (the generator's state moves by a fixed step per
    /// draw).
    pub(crate) fn skip(&mut self, draws: u64) {
        self.state = self
            .state
            .wrapping_add(draws.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }

    /// Standard normal, by the Box–Muller transform.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = 1.0 - self.uniform(); // in (0, 1]
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            // i + 1 ≥ 2, so a draw always exists.
            let j = self.below(i + 1).unwrap_or(i);
            items.swap(i, j);
        }
    }

    /// A generator for a sub-task, seeded from this one's stream, so that
    /// sub-tasks are independent of each other's consumption.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}
