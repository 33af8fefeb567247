//! A tiny deterministic random number generator (SplitMix64), so that a run with the same
//! `--seed` draws the same keys, and no dependency is pulled in for it.

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, one add and three mixes per draw.
/// Statistically fine for picking keys; not for anything secret.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded from `seed` and a `stream` number (core, connection), so that
    /// streams with the same seed differ.
    pub fn new(seed: u64, stream: u64) -> Self {
        let state = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
        let mut rng = Self { state };
        // One draw so that small seeds (0, 1, 2) do not start with near-identical outputs.
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)` built from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        let value = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        debug_assert!((0.0..1.0).contains(&value));
        value
    }

    /// A uniform integer in `[0, bound)` (Lemire's multiply-shift; the bias is below 2^-32
    /// for the bounds used here).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "below(0) has no value");
        let value = ((self.next_u64() as u128 * bound as u128) >> 64) as u64;
        debug_assert!(value < bound);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed and stream give the same sequence; another stream gives another.
    #[test]
    fn deterministic_per_seed_and_stream() {
        let mut a = SplitMix64::new(7, 0);
        let mut b = SplitMix64::new(7, 0);
        let mut c = SplitMix64::new(7, 1);
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let second: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let other: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(first, second);
        assert_ne!(first, other);
    }

    /// `below` stays in range and hits every value of a small range.
    #[test]
    fn below_covers_small_range() {
        let mut rng = SplitMix64::new(1, 0);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[rng.below(10) as usize] += 1;
        }
        assert!(seen.iter().all(|&count| count > 800), "{seen:?}");
    }
}
