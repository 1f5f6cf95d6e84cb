//! The grid: the cartesian product of the config's lists, in a fixed order, and the readable
//! names of its points.

use crate::config::GridSpec;

/// One grid point: the hyperparameters of one training run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    /// Position in the grid's order.
    pub index: usize,
    /// M, the number of hidden units.
    pub hidden: usize,
    /// γ, the step size.
    pub gamma: f64,
    /// α, the gradient's weight in the momentum average (1 = plain gradient descent).
    pub alpha: f64,
    /// The initialisation seed.
    pub seed: u64,
}

impl RunSpec {
    /// A short readable name such as `M64-g0.003-a0.5-s1`; distinct grid points get distinct
    /// names, because numbers are written in their shortest exact form.
    pub fn name(&self) -> String {
        format!("M{}-g{}-a{}-s{}", self.hidden, short_number(self.gamma), short_number(self.alpha), self.seed)
    }
}

/// Expands the grid with M varying slowest, then γ, then α, and the seed fastest: the order
/// of the keys in the config.
pub fn expand(grid: &GridSpec) -> Vec<RunSpec> {
    let mut runs =
        Vec::with_capacity(grid.hidden.len() * grid.gamma.len() * grid.alpha.len() * grid.seed.len());
    for &hidden in &grid.hidden {
        for &gamma in &grid.gamma {
            for &alpha in &grid.alpha {
                for &seed in &grid.seed {
                    runs.push(RunSpec { index: runs.len(), hidden, gamma, alpha, seed });
                }
            }
        }
    }
    runs
}

pub use crate::config::short_number;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_order_and_size() {
        let grid = GridSpec {
            hidden: vec![16, 32],
            gamma: vec![1e-3, 3e-3],
            alpha: vec![1.0, 0.5, 0.1],
            seed: vec![0, 1],
        };
        let runs = expand(&grid);
        assert_eq!(runs.len(), 2 * 2 * 3 * 2);
        let names: Vec<_> = runs.iter().take(7).map(RunSpec::name).collect();
        assert_eq!(
            names,
            [
                "M16-g0.001-a1-s0",
                "M16-g0.001-a1-s1",
                "M16-g0.001-a0.5-s0",
                "M16-g0.001-a0.5-s1",
                "M16-g0.001-a0.1-s0",
                "M16-g0.001-a0.1-s1",
                "M16-g0.003-a1-s0",
            ]
        );
        assert_eq!(runs.last().unwrap().name(), "M32-g0.003-a0.1-s1");
        assert!(runs.iter().enumerate().all(|(i, r)| r.index == i));
    }

    #[test]
    fn numbers_are_short_and_exact() {
        assert_eq!(short_number(0.003), "0.003");
        assert_eq!(short_number(1e-5), "1e-5");
        assert_eq!(short_number(3e-5), "3e-5");
        assert_eq!(short_number(1.0), "1");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(250.0), "250");
        assert_eq!(short_number(1e7), "1e7");
        assert_eq!(short_number(1e-4), "1e-4");
        assert_eq!(short_number(0.03), "0.03");
        assert_ne!(short_number(0.1), short_number(0.1 + 1e-17 * 3.0 + 1e-16));
    }
}
